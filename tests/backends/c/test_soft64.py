"""predict on targets without a 64-bit double equals float64-summing libraries on exact
float64 ties that float sums break the other way (c/soft64.py), and the opt-out is lossy."""

from __future__ import annotations

import itertools
import re
import subprocess

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from emlc.backends.c import emit_c, size_report, soft64
from emlc.backends.c.model import Model
from emlc.errors import EmlcError
from emlc.ir import Aggregation, Decision, Ensemble, Link, Op, Task, Tree
from emlc.ir.interpret import interpret, interpret_raw
from emlc.targets import get_target
from tests.conftest import require_tool
from tests.e2e.harness import TOOLS, build, run_model
from tests.strategies import class_indices, ensembles, inputs_for

#: class 0's leaf value; 1 - A is class 1's. Four trees voting (1, 1, 0, 0) tie exactly in
#: float64 (scikit-learn's sums) but not in float32, where class 1 wins
A = 0.5094958815215094


def complementary_forest(aggregation: Aggregation = Aggregation.MEAN) -> Ensemble:
    trees = tuple(Tree.build(op=[Op.LE, Op.LEAF, Op.LEAF], feature=[i, -1, -1], threshold=[0.0, 0, 0],
                             left=[1, -1, -1], right=[2, -1, -1], leaf=[-1, 0, 1]) for i in range(4))
    return Ensemble(n_features=4, task=Task.CLASSIFICATION, trees=trees, tree_output=np.zeros(4, np.int32),
                    leaves=np.array([[A, 1 - A], [1 - A, A]]), n_outputs=2, aggregation=aggregation,
                    base_score=np.zeros(2), decision=Decision.ARGMAX, classes=np.arange(2), accum_dtype="float64")


ROWS = np.array(list(itertools.product([-1.0, 1.0], repeat=4)), dtype=np.float32)


@pytest.mark.parametrize("aggregation", [Aggregation.MEAN, Aggregation.SUM])
def test_forest_ties_in_float64_and_not_in_float32(aggregation):
    """The premise: some row ties in float64 only, and there the classes differ."""
    ens = complementary_forest(aggregation)
    raw64, raw32 = interpret_raw(ens, ROWS), interpret_raw(ens.replace(accum_dtype="float32"), ROWS)
    tie = (raw64[:, 0] == raw64[:, 1]) & (raw32[:, 0] != raw32[:, 1])
    assert tie.any()
    assert (interpret(ens, ROWS)[tie] != interpret(ens.replace(accum_dtype="float32"), ROWS)[tie]).any()


@pytest.mark.parametrize("target", ["avr", "mcs51"])
@pytest.mark.parametrize("layout", ["inline", "table"])
@pytest.mark.parametrize("aggregation", [Aggregation.MEAN, Aggregation.SUM])
def test_predict_equals_float64_on_the_tie(target, layout, aggregation):
    """AVR (simavr) and the 8051 (s51): 32-bit double, the binary64 step decides the tie."""
    require_tool(*TOOLS[target])
    ens = complementary_forest(aggregation)
    want = interpret(ens, ROWS)
    np.testing.assert_array_equal(run_model(ens, ROWS, target, layout, name="m").predict, want)
    lossy = run_model(ens, ROWS, target, layout, name="m", float32_sums=True).predict
    assert (lossy != want).any()  # the float sums alone break the tie: the test has teeth


def test_opt_out_keeps_the_note_and_saves_the_code():
    ens = complementary_forest()
    exact, lossy = emit_c(ens, "avr", "m"), emit_c(ens, "avr", "m", float32_sums=True)
    assert "m_soft(" in exact and "binary64" in exact and "near-ties may differ" not in exact
    assert "m_soft(" not in lossy and "near-ties may differ from float64 (--float32-sums)" in lossy
    assert size_report(ens, "avr")["soft_float64_code_bytes_estimate"] == get_target("avr").soft_float64_bytes
    assert size_report(ens, "mcs51")["soft_float64_code_bytes_estimate"] == get_target("mcs51").soft_float64_bytes
    assert size_report(ens, "avr", float32_sums=True)["soft_float64_code_bytes_estimate"] == 0
    assert "m_soft(" not in emit_c(ens, "host", "m")  # a hardware double sums as the library


def _decided(ens: Ensemble, raw32: np.ndarray) -> np.ndarray:
    """What P_sure returns per row of float sums (replayed from its emitted bounds)."""
    code = soft64.sure_function(Model(ens, get_target("avr"), "m"))
    lead = float(code.split("best - second > ")[1].split("f)")[0])
    top = np.sort(raw32, axis=1)
    lead_ok = (top[:, -1] - top[:, -2]).astype(np.float32) > np.float32(lead)
    return np.where(lead_ok, np.argmax(raw32, axis=1), -1)


@settings(max_examples=200, deadline=None)
@given(st.floats(0.01, 0.99), st.integers(2, 12))
def test_float_lead_never_contradicts_float64(a, n_trees):
    """P_sure's proven lead on random complementary forests: whenever it decides, the
    float64 sums agree (every row of votes)."""
    ens = complementary_forest()
    trees = tuple(Tree.build(op=[Op.LE, Op.LEAF, Op.LEAF], feature=[i, -1, -1], threshold=[0.0, 0, 0],
                             left=[1, -1, -1], right=[2, -1, -1], leaf=[-1, 0, 1]) for i in range(n_trees))
    ens = ens.replace(n_features=n_trees, trees=trees, tree_output=np.zeros(n_trees, np.int32),
                      leaves=np.array([[a, 1 - a], [1 - a, a * 0.999]]))
    X = np.array(list(itertools.product([-1.0, 1.0], repeat=n_trees))[:512], dtype=np.float32)
    raw32 = interpret_raw(ens.replace(accum_dtype="float32"), X)
    got = _decided(ens, raw32)
    sure = got >= 0
    np.testing.assert_array_equal(got[sure], interpret(ens, X)[sure])


def boosted_tie() -> Ensemble:
    """Binary boosting (sigmoid, p > 0.5): three trees whose float64 sum is exactly 0 for
    the row taking every first leaf (class 0) while the float32 sum is positive (class 1)."""
    x, y = 1.5696186573391127, 1.9720920749269704
    values = [x, y, -(x + y)]
    trees = tuple(Tree.build(op=[Op.LE, Op.LEAF, Op.LEAF], feature=[i, -1, -1], threshold=[0.0, 0, 0],
                             left=[1, -1, -1], right=[2, -1, -1], leaf=[-1, 2 * i, 2 * i + 1]) for i in range(3))
    leaves = np.array([[v] for t in values for v in (t, -1.0)])
    return Ensemble(n_features=3, task=Task.CLASSIFICATION, trees=trees, tree_output=np.zeros(3, np.int32),
                    leaves=leaves, n_outputs=1, aggregation=Aggregation.SUM, base_score=np.zeros(1),
                    link=Link.SIGMOID, decision=Decision.ARGMAX, classes=np.arange(2), accum_dtype="float64")


@pytest.mark.parametrize("target", ["avr", "mcs51"])
def test_binary_cutoff_equals_float64_on_the_tie(target):
    """One output: the float sum decides only beyond the cutoff +- its error bound."""
    require_tool(*TOOLS[target])
    ens = boosted_tie()
    X = np.array(list(itertools.product([-1.0, 1.0], repeat=3)), dtype=np.float32)
    want = interpret(ens, X)
    assert want[0] != interpret(ens.replace(accum_dtype="float32"), X)[0]
    np.testing.assert_array_equal(run_model(ens, X, target, name="m").predict, want)
    assert (run_model(ens, X, target, name="m", float32_sums=True).predict != want).any()


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(st.data())
def test_mcs51_random_ir_with_float64_sums_equals_the_interpreter(data):
    """Random classifiers summing in float64 on the 8051 (s51, table layout: SDCC compiles
    it in seconds), leaves sometimes on a 1/2 grid so that rows tie and the binary64 step
    decides. AVR's counterpart is test_fixed's two-walk test."""
    require_tool(*TOOLS["mcs51"])
    ens = data.draw(ensembles(tasks=(Task.CLASSIFICATION,), integer_leaves=False))
    if data.draw(st.booleans()):
        ens = ens.replace(leaves=np.round(np.asarray(ens.leaves, dtype=np.float64) * 2) / 2)
    ens = ens.replace(accum_dtype="float64")
    try:
        code = emit_c(ens, "mcs51", "m", "table")
    except EmlcError:  # does not fit the 8051's RAM or code space
        code = ""
    assume("m_soft(" in code)
    X = data.draw(inputs_for(ens))
    got = run_model(ens, X, "mcs51", "table", name="m").predict
    np.testing.assert_array_equal(got, class_indices(ens, interpret(ens, X)))


#: leaf rows of a 4-class forest hypothesis found: row 2 ties classes 0 and 2 exactly
TIED_ROWS = np.array([[0.2998008, 0.10059761, 0.2001992, 0.39940239], [0.33305648, 0.33305648, 0.08388704, 0.25],
                      [0.28561254, 0.21438746, 0.28561254, 0.21438746], [0.37437811, 0.12562189, 0.49875622, 0.00124378],
                      [0.18206522, 0.27264493, 0.36322464, 0.18206522], [0.16721854, 0.16721854, 0.33278146, 0.33278146],
                      [0.27264493, 0.36322464, 0.0009058, 0.36322464], [0.25, 0.12562189, 0.37437811, 0.25]])


def tied_leaf_forest(aggregation: Aggregation, n_outputs: int) -> Ensemble:
    """One stump over the first n_outputs columns of TIED_ROWS: x1 > -7.04 reaches the tied row."""
    tree = Tree.build(op=[Op.LE, Op.LEAF, Op.LEAF], feature=[1, -1, -1], threshold=[-7.03735256, 0, 0],
                      left=[1, -1, -1], right=[2, -1, -1], leaf=[-1, 4, 2])
    return Ensemble(n_features=5, task=Task.CLASSIFICATION, trees=(tree,), tree_output=np.zeros(1, np.int32),
                    leaves=TIED_ROWS[:, :n_outputs].copy(), n_outputs=n_outputs, aggregation=aggregation,
                    base_score=np.zeros(n_outputs), decision=Decision.ARGMAX, classes=np.arange(n_outputs),
                    accum_dtype="float64")


TIED_X = np.array([[1.0, 1.25880146, 4.33914089, -8.44482327, 2.0], [1.0, -9.0, 4.33914089, -8.44482327, 2.0]])


@pytest.mark.parametrize(("layout", "aggregation", "n_outputs"), [
    ("table", Aggregation.MEAN, 3), ("table", Aggregation.MEAN, 4), ("table", Aggregation.SUM, 4),
    ("inline", Aggregation.MEAN, 4), ("inline", Aggregation.SUM, 4)])
def test_mcs51_exact_step_fits_the_stack_beside_the_test_program(layout, aggregation, n_outputs):
    """The 8051's stack is its 223 B of internal RAM. With 4 outputs the test program's frame
    reached 136 B (table) or 159 B (inline) when predict entered P_exact, whose frames then
    took 86 B (down to f64_pack) and 63 B (the float tier: P_proven's sums and SDCC's float
    compare): the stack pointer wrapped past 0xFF and s51 stopped, printing nothing. With the
    f64 routines' working words and P_proven's sums static in __xdata, P_exact takes 62 B."""
    require_tool(*TOOLS["mcs51"])
    ens = tied_leaf_forest(aggregation, n_outputs)
    raw = interpret_raw(ens, TIED_X[:1])[0]
    assert raw[0] == raw[2] == raw.max()  # the exact tie: predict reaches the binary64 step
    got = run_model(ens, TIED_X, "mcs51", layout, name="m").predict
    np.testing.assert_array_equal(got, interpret(ens, TIED_X))


@pytest.mark.parametrize("target", ["avr", "mcs51"])
@pytest.mark.parametrize("aggregation", [Aggregation.MEAN, Aggregation.SUM])
def test_os_goes_from_fixed_point_straight_to_binary64(target, aggregation):
    """-Os (packed table): no float tier between the fixed-point sums and binary64 (so no
    float arithmetic in predict), the binary64 step sums only the outputs the fixed-point
    sums leave in the running, and the tie is decided as in float64."""
    require_tool(*TOOLS[target])
    ens = complementary_forest(aggregation)
    code = emit_c(ens, target, "m", "table", speed=False)
    assert "m_proven(" not in code and "live[k]" in code and "m_fast(rows, q)" in code
    assert "m_proven(" in emit_c(ens, target, "m", "table")  # the speed levels keep the float tier
    got = run_model(ens, ROWS, target, "table", name="m", speed=False).predict
    np.testing.assert_array_equal(got, interpret(ens, ROWS))


#: 64-bit double in libgcc's software (Target.double_fpu False), run in qemu
SOFT_DOUBLE = ["cortex-m0", "rv32ec"]


@pytest.mark.parametrize("target", SOFT_DOUBLE)
@pytest.mark.parametrize("layout", ["inline", "table"])
@pytest.mark.parametrize("speed", [True, False])
@pytest.mark.parametrize("aggregation", [Aggregation.MEAN, Aggregation.SUM])
def test_software_double_goes_from_fixed_point_to_binary64(target, layout, speed, aggregation):
    """Where double is libgcc's software, predict takes the fixed-point sums and then the
    binary64 integer step at every level (no float or double tier), and decides the tie
    as float64 does."""
    require_tool(*TOOLS[target])
    ens = complementary_forest(aggregation)
    code = emit_c(ens, target, "m", layout, speed=speed)
    assert "m_proven(" not in code and "m_soft(" in code and "live[k]" in code
    assert "double is software here" in code and "predict_proba/predict_values sum in double" in code
    got = run_model(ens, ROWS, target, layout, name="m", speed=speed).predict
    np.testing.assert_array_equal(got, interpret(ens, ROWS))


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(st.data())
def test_rv32ec_random_ir_with_float64_sums_equals_the_interpreter(data):
    """Random classifiers summing in float64 (signed leaves on a 1/2 grid half the time: rows
    tie), built at the speed levels in either layout for the CH32V003 in qemu: fixed-point
    sums, then binary64 on the live outputs, predict what the interpreter does."""
    require_tool(*TOOLS["rv32ec"])
    ens = data.draw(ensembles(tasks=(Task.CLASSIFICATION,), integer_leaves=False))
    if data.draw(st.booleans()):
        ens = ens.replace(leaves=np.round(np.asarray(ens.leaves, dtype=np.float64) * 2) / 2 - 1)
    ens = ens.replace(accum_dtype="float64")
    layout = data.draw(st.sampled_from(["inline", "table"]))
    assume("live[k]" in emit_c(ens, "rv32ec", "m", layout))
    X = data.draw(inputs_for(ens))
    got = run_model(ens, X, "rv32ec", layout, name="m").predict
    np.testing.assert_array_equal(got, class_indices(ens, interpret(ens, X)))


#: libgcc's double routines (Arm EABI and generic names)
_SOFT_DOUBLE_SYMBOL = re.compile(r"__(aeabi_(dadd|dsub|ddiv|dmul|dcmp\w*|cdcmp\w*|ui2d|i2d)|(add|sub|div|mul)df3|floatunsidf)\b")


@pytest.mark.parametrize("target", SOFT_DOUBLE)
def test_predict_links_no_software_double(target, tmp_path):
    """A firmware calling only predict links none of libgcc's double arithmetic (on RV32EC,
    5.4 KB of a 16 KB CH32V003); with the lossy opt-out it does (the test has teeth)."""
    require_tool(*TOOLS[target])
    tgt = get_target(target)
    ens = complementary_forest()
    main = ('#include "m.h"\nvoid out_char(char c);\nvoid out_done(void);\nvoid run_all(void)\n{\n'
            '    static const float x[4] = {1.0f, -1.0f, 1.0f, -1.0f};\n'
            '    out_char((char)(48 + m_predict(x, 4)));\n}\n')

    def symbols(**options) -> str:
        work = tmp_path / str(len(options))
        work.mkdir()
        (work / "m.h").write_text(emit_c(ens, target, "m", "table", speed=False, **options))
        exe = build(target, main, work)
        nm = tgt.compiler.replace("gcc", "nm")
        return subprocess.run([nm, str(exe)], capture_output=True, text=True, check=True).stdout

    assert not _SOFT_DOUBLE_SYMBOL.search(symbols())
    assert _SOFT_DOUBLE_SYMBOL.search(symbols(float32_sums=True))


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(st.data())
def test_avr_os_random_ir_with_float64_sums_equals_the_interpreter(data):
    """Random classifiers summing in float64, signed leaves on a 1/2 grid half the time (rows
    tie, sums go negative: an output the fixed-point sums rule out keeps a sum of 0 that
    would beat the live ones), built at -Os for simavr: the fixed-point sums, then binary64
    on the live outputs, predict what the interpreter does."""
    require_tool(*TOOLS["avr"])
    ens = data.draw(ensembles(tasks=(Task.CLASSIFICATION,), integer_leaves=False))
    if data.draw(st.booleans()):
        ens = ens.replace(leaves=np.round(np.asarray(ens.leaves, dtype=np.float64) * 2) / 2 - 1)
    ens = ens.replace(accum_dtype="float64")
    assume("live[k]" in emit_c(ens, "avr", "m", "table", speed=False))
    X = data.draw(inputs_for(ens))
    got = run_model(ens, X, "avr", "table", name="m", speed=False).predict
    np.testing.assert_array_equal(got, class_indices(ens, interpret(ens, X)))


@pytest.mark.parametrize("leaf, match", [(np.inf, "not all finite"), (np.nan, "not all finite"),
                                         (2.0**1020, "could overflow")])
def test_sums_that_could_leave_the_finite_range_are_refused(leaf, match):
    """f64.c has no infinity or NaN: a leaf that is not finite (the IR verifier refuses it
    too, emit_c is also called without it), or leaves whose sums could overflow (four trees
    of 2^1020 reach 2^1022) get a one-line error naming --float32-sums; 2^1019 passes."""
    with pytest.raises(EmlcError, match=f"{match}.*--float32-sums"):
        emit_c(complementary_forest().replace(leaves=np.array([[leaf, 1 - A], [1 - A, A]])), "avr", "m")
    soft64.check_finite(complementary_forest().replace(leaves=np.array([[2.0**1019, 1.0], [1.0, A]])),
                        get_target("avr"))
