"""The fixed-point fast path of predict: its margin rule never disagrees with the interpreter.

The rule is checked in Python over random IR (cheap, many examples) by replaying what
P_fast computes, and the emitted C is run on adversarial near-ties where the float
fallback must decide.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from emlc.backends.c import emit_c
from emlc.backends.c.fixed import FixedPlan, derived, eligible, plan, quick_plan
from emlc.backends.fixed_point import leaf_error, trees_per_output
from emlc.ir import Aggregation, Decision, Ensemble, Link, Op, Task, Tree
from emlc.ir.interpret import apply_link, decide, interpret, interpret_raw, leaf_indices
from emlc.passes.lossy import quantize_leaves
from emlc.targets import get_target
from tests.conftest import require_tool
from tests.e2e.harness import TOOLS, run_model
from tests.strategies import ensembles, inputs_for


def fast_classes(ens: Ensemble, X, target: str, byte_leaves: bool = False) -> np.ndarray:
    """What P_fast returns per row: the class, or -1 when the margin does not prove it."""
    fx = plan(ens, get_target(target), byte_leaves)
    assert fx is not None
    return plan_classes(ens, X, fx)


def plan_classes(ens: Ensemble, X, fx: FixedPlan) -> np.ndarray:
    """What a walk adding plan ``fx``'s sums returns per row: the class, or -1."""
    rows = leaf_indices(ens, X)
    q = np.tile(fx.init, (rows.shape[0], 1))
    w = ens.leaf_width
    for t in range(ens.n_trees):
        o = int(ens.tree_output[t])
        q[:, o : o + w] += fx.leaves[rows[:, t]]
    if fx.acc_t == "uint8_t":
        assert 0 <= q.min() and q.max() <= 255
    else:  # an exact plan compares sums, not differences: the whole signed range
        assert np.abs(q).max() <= 2 ** (15 if fx.acc_t == "int16_t" else 31) // (1 if fx.exact else 2)
    best = np.argmax(q, axis=1)
    top = q[np.arange(len(q)), best]
    others = np.where(np.arange(q.shape[1])[None, :] == best[:, None], np.iinfo(np.int64).min, q)
    return np.where(top - others.max(axis=1) > fx.margin, best, -1)


def _decided_equal(ens: Ensemble, X, target: str, byte_leaves: bool = False, fx: FixedPlan | None = None) -> int:
    raw = interpret_raw(ens, X)
    want = decide(ens, raw, apply_link(ens, raw))
    got = fast_classes(ens, X, target, byte_leaves) if fx is None else plan_classes(ens, X, fx)
    decided = got >= 0
    np.testing.assert_array_equal(got[decided], want[decided])
    return int(decided.sum())


@settings(max_examples=200)
@given(st.data(), st.sampled_from(["avr", "host"]), st.booleans())
def test_margin_rule_agrees_with_interpreter_on_random_ir(data, target, byte_leaves):
    ens = data.draw(ensembles(tasks=(Task.CLASSIFICATION,), integer_leaves=False))
    fx = plan(ens, get_target(target), byte_leaves)
    if fx is None:
        return
    if byte_leaves:
        assert fx.leaf_t in ("uint8_t", "int8_t")
    _decided_equal(ens, data.draw(inputs_for(ens)), target, byte_leaves)


@settings(max_examples=100)
@given(st.data(), st.sampled_from(["avr", "host"]))
def test_margin_counts_the_error_of_leaves_computed_another_way(data, target):
    """Leaves a backend computes itself (leaf records: from counts) may stray from
    round(x 2^s): the derived plan's margin covers their largest error, so decided rows
    still equal the interpreter's; round(x 2^s) itself never needs more than the rule's 1/2."""
    ens = data.draw(ensembles(tasks=(Task.CLASSIFICATION,), integer_leaves=False))
    fx = plan(ens, get_target(target), byte_leaves=True)
    if fx is None:
        return
    same = derived(ens, fx, fx.leaves)
    assert same is not None and same.margin <= fx.margin
    assert leaf_error(ens, fx.scale, fx.leaves) <= 0.5
    off = np.array(data.draw(st.lists(st.integers(-1, 1), min_size=fx.leaves.size, max_size=fx.leaves.size)))
    q = fx.leaves + off.reshape(fx.leaves.shape)
    got = derived(ens, fx, q)
    if got is None:
        return
    x = ens.leaves.astype(np.dtype(ens.accum_dtype)).astype(np.float64)
    delta = leaf_error(ens, fx.scale, q)
    assert delta >= float(np.abs(q - fx.scale * x).max()) * (1 - 1e-12)
    assert got.margin >= 2 * int(trees_per_output(ens).max()) * delta + 1
    _decided_equal(ens, data.draw(inputs_for(ens)), target, fx=got)


@settings(max_examples=200)
@given(st.data())
def test_byte_sums_of_the_first_avr_walk_agree_with_interpreter_on_random_ir(data):
    """AVR's first walk adds unsigned byte sums: they never leave [0, 255] and a class
    they decide is the interpreter's (leaves and base made non-negative, as forests' are)."""
    ens = data.draw(ensembles(tasks=(Task.CLASSIFICATION,), integer_leaves=False))
    if ens.leaves.dtype.kind == "f":
        ens = ens.replace(leaves=np.abs(ens.leaves), base_score=np.abs(np.asarray(ens.base_score)))
    fx = quick_plan(ens, get_target("avr"))
    assert quick_plan(ens, get_target("host")) is None
    if fx is None:
        return
    assert fx.acc_t == "uint8_t" and fx.leaf_t == "uint8_t"
    _decided_equal(ens, data.draw(inputs_for(ens)), "avr", fx=fx)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(st.data())
def test_avr_two_walks_on_random_ir_equal_the_interpreter(data):
    """Random classifiers with non-negative leaves (shared subtrees, NaN, categories, ranks,
    integer inputs as drawn) on simavr: the byte-sum first walk, the 16-bit walk and the
    float sums together predict what the interpreter does on every row, with the library's
    float64 sums: near-ties the float sums cannot prove go to binary64 (c/soft64.py)."""
    require_tool("avr-gcc", "simavr")
    from emlc.ir.interpret import interpret
    from tests.strategies import class_indices

    ens = data.draw(ensembles(tasks=(Task.CLASSIFICATION,), integer_leaves=False))
    ens = ens.replace(leaves=np.abs(ens.leaves), base_score=np.abs(np.asarray(ens.base_score)), accum_dtype="float64")
    assume("m_quick(" in emit_c(ens, "avr", "m", "inline"))
    X = data.draw(inputs_for(ens))
    got = run_model(ens, X, "avr", "inline", name="m").predict
    np.testing.assert_array_equal(got, class_indices(ens, interpret(ens, X)))


@settings(max_examples=200)
@given(st.data(), st.sampled_from(["avr", "host"]), st.sampled_from([8, 4]))
def test_leaves_on_one_grid_are_decided_on_every_row_by_their_integer_sums(data, target, bits):
    """Random classifiers after quantize_leaves (one power-of-two scale, SUM base on the
    grid): the exact plan decides every row, ties included, as the interpreter does."""
    ens = quantize_leaves(data.draw(ensembles(tasks=(Task.CLASSIFICATION,), integer_leaves=False)), bits)
    fx = plan(ens, get_target(target))
    if not eligible(ens) or (ens.aggregation is Aggregation.MEAN and np.any(ens.base_score)):
        assert fx is None or not fx.exact
        return
    assert fx is not None and fx.exact and fx.margin < 0
    X = data.draw(inputs_for(ens))
    assert _decided_equal(ens, X, target, fx=fx) == len(X)


def _grid_ties_forest(aggregation: Aggregation, accum: str) -> Ensemble:
    """Stumps on one feature whose integer sums tie exactly or differ by one step of the
    grid 2^-7 (MEAN: divided by 7 trees), over a uint8 table: the sums alone must decide."""
    n_trees, width = 7, 3
    trees = tuple(Tree.build(op=[Op.LE, Op.LEAF, Op.LEAF], feature=[0, -1, -1], threshold=[float(i) - 3, 0, 0],
                             left=[1, -1, -1], right=[2, -1, -1], leaf=[-1, i % 3, 3 + i % 2]) for i in range(n_trees))
    table = np.array([[100, 100, 3], [101, 100, 100], [0, 1, 0], [37, 37, 36], [36, 37, 37]], dtype=np.uint8)
    base = np.array([0.0078125, 0.0, -0.0078125]) if aggregation is Aggregation.SUM else np.zeros(width)
    return Ensemble(n_features=1, task=Task.CLASSIFICATION, trees=trees, tree_output=np.zeros(n_trees, np.int32),
                    leaves=table, leaf_scale=np.full(width, 2.0**-7), n_outputs=width, aggregation=aggregation,
                    base_score=base, decision=Decision.ARGMAX, classes=np.arange(width), accum_dtype=accum)


@pytest.mark.parametrize("aggregation", [Aggregation.SUM, Aggregation.MEAN])
@pytest.mark.parametrize("accum", ["float64", "float32"])
def test_grid_ties_are_decided_by_integer_sums_on_host_and_avr(aggregation, accum):
    """Exact ties and one-step leads of a grid table: host C (inline and table), simavr and
    the 8051 (s51) equal the interpreter, and predict has no float fallback."""
    require_tool(*TOOLS["host"], *TOOLS["avr"], *TOOLS["mcs51"])
    ens = _grid_ties_forest(aggregation, accum)
    X = np.arange(-5.0, 5.0, 0.25)[:, None]
    want = interpret(ens, X)
    assert len(set(want.tolist())) > 1
    for target, layout in (("host", "inline"), ("host", "table"), ("avr", "inline"), ("avr", "table"),
                           ("mcs51", "table")):
        fx = plan(ens, get_target(target))
        assert fx is not None and fx.exact
        assert _decided_equal(ens, X, target, fx=fx) == len(X)
        code = emit_c(ens, target, "m", layout)
        assert "m_exact(" not in code and "if (c < 0)" not in code.split("m_predict(")[-1]
        np.testing.assert_array_equal(run_model(ens, X, target, layout, name="m").predict, want, err_msg=f"{target} {layout}")


def test_grid_sums_from_a_base_beyond_16_bits_stay_exact_on_avr():
    """A base score 40,000 grid steps up: the exact plan's sums start there, so AVR's
    sums widen to 32 bits (16-bit ones would wrap) and still equal the interpreter."""
    require_tool("avr-gcc", "simavr")
    ens = _grid_ties_forest(Aggregation.SUM, "float64")
    ens = ens.replace(base_score=ens.base_score + 40000 * 2.0**-7)
    fx = plan(ens, get_target("avr"))
    assert fx is not None and fx.exact and fx.acc_t == "int32_t"
    X = np.arange(-5.0, 5.0, 0.25)[:, None]
    for layout in ("inline", "table"):
        np.testing.assert_array_equal(run_model(ens, X, "avr", layout, name="m").predict, interpret(ens, X))


def _near_tie_forest(accum: str, aggregation: Aggregation, eps_scale: float) -> Ensemble:
    """Trees over one feature whose class-0 and class-1 sums differ by about eps_scale ulps."""
    rng = np.random.default_rng(7)
    n_trees, width = 7, 3
    trees, rows = [], []
    for i in range(n_trees):
        trees.append(Tree.build(op=[Op.LE, Op.LEAF, Op.LEAF], feature=[0, -1, -1], threshold=[float(i) - 3, 0, 0],
                                left=[1, -1, -1], right=[2, -1, -1], leaf=[-1, 2 * i, 2 * i + 1]))
        for _ in range(2):
            a = rng.random()
            rows.append([a, a * (1 + eps_scale * rng.normal() * 2**-52), rng.random() * 0.5])
    return Ensemble(n_features=1, task=Task.CLASSIFICATION, trees=tuple(trees),
                    tree_output=np.zeros(n_trees, np.int32), leaves=np.array(rows), n_outputs=width,
                    aggregation=aggregation, base_score=np.zeros(width), decision=Decision.ARGMAX,
                    classes=np.arange(width), accum_dtype=accum)


@pytest.mark.parametrize("aggregation", [Aggregation.SUM, Aggregation.MEAN])
@pytest.mark.parametrize("accum", ["float64", "float32"])
def test_near_ties_fall_back_and_stay_exact(accum, aggregation):
    """Sums equal up to a few ulps: the fast path must abstain, the C result equal the interpreter."""
    require_tool("gcc")
    X = np.arange(-5.0, 5.0, 0.5)[:, None]
    for eps in (0.0, 1.0, 64.0, 1e9):
        ens = _near_tie_forest(accum, aggregation, eps)
        assert eligible(ens)
        if eps < 1e9:
            assert (fast_classes(ens, X, "host") < 0).all()
        _decided_equal(ens, X, "host")
        got = run_model(ens, X, "host", "inline").predict
        np.testing.assert_array_equal(got, interpret(ens, X))


def test_wide_margins_are_decided_and_code_uses_the_fast_path():
    from sklearn.datasets import load_digits
    from sklearn.ensemble import RandomForestClassifier

    import emlc

    X, y = load_digits(return_X_y=True)
    ens = emlc.load(RandomForestClassifier(n_estimators=6, max_depth=5, random_state=0).fit(X[:600], y[:600]))
    for target in ("avr", "host"):
        assert _decided_equal(ens, X[600:900], target) > 250
        assert _decided_equal(ens, X[600:900], target, byte_leaves=True) > 250
    code = emit_c(ens, "avr", "m", "table")
    assert "m_fast(features, rows)" in code and "int16_t q[10]" in code  # the walk adds as it goes (P_trees)


@pytest.mark.parametrize("kw", [
    dict(decision=Decision.GT_HALF, n_outputs=1),
    dict(aggregation=Aggregation.VOTE),
    dict(link=Link.SOFTMAX),
])
def test_ineligible_models_keep_the_float_decision(kw):
    ens = _near_tie_forest("float64", Aggregation.SUM, 1e9)
    if kw.get("n_outputs") == 1:
        ens = ens.replace(n_outputs=1, leaves=ens.leaves[:, :1], base_score=np.zeros(1), link=Link.SIGMOID, **{
            "decision": Decision.GT_HALF})
    else:
        ens = ens.replace(**kw)
    assert not eligible(ens) and "_fast(" not in emit_c(ens, "host", "m")


def test_avr_near_ties_match_interpreter():
    """On simavr (float32 fallback, int16 sums) near-ties and clear wins both equal the interpreter."""
    require_tool("avr-gcc", "simavr")
    X = np.arange(-5.0, 5.0, 0.5)[:, None]
    ens = _near_tie_forest("float32", Aggregation.MEAN, 1e9)
    got = run_model(ens, X, "avr", "table").predict
    np.testing.assert_array_equal(got, interpret(ens, X))


@pytest.mark.parametrize("input_type", ["float32", "int16", "uint8", "int32"])
def test_avr_inline_trees_add_fixed_point_leaves_and_match_sklearn(input_type):
    """AVR inline: a first walk adds byte class sums and decides most rows; the rest go
    to a second walk adding 16-bit sums and recording leaf rows, and its near-ties to the
    float sums (no leaf-table loop in either walk). predict on simavr equals
    scikit-learn on every row, and the rows reach each of the three deciders."""
    require_tool("avr-gcc", "simavr")
    from sklearn.datasets import load_digits
    from sklearn.ensemble import RandomForestClassifier

    import emlc

    X, y = load_digits(return_X_y=True)
    clf = RandomForestClassifier(n_estimators=6, max_depth=5, random_state=0).fit(X[:600], y[:600])
    ens = emlc.load(clf).replace(input_type=input_type)
    code = emit_c(ens, "avr", "m", "inline")
    assert "static M_NOINLINE int32_t m_rows(const" in code and "static M_NOINLINE int32_t m_quick(const" in code
    assert "q3 += " in code and "m_qadd" not in code
    assert ("const volatile " in code) == (input_type != "float32")  # integer features: loads stay in place
    rows = X[600:680]
    rows = np.concatenate([rows, X[680:][fast_classes(ens, X[680:], "avr") < 0][:4]])  # near-ties: float decides
    quick = plan_classes(ens, rows, quick_plan(ens, get_target("avr")))
    second = fast_classes(ens, rows, "avr")
    assert (quick >= 0).sum() > len(rows) // 2 and ((quick < 0) & (second >= 0)).any() and (second < 0).any()
    got = run_model(ens, rows, "avr", "inline").predict
    np.testing.assert_array_equal(np.asarray(ens.classes)[got], clf.predict(rows))


def test_first_walk_only_at_speed_levels_and_where_it_fits():
    """-Os (speed=False) keeps the single walk; so does a target of which the model would
    take more than half the flash with it, and a model whose predict stops early (checks
    read P_rows' sums)."""
    from sklearn.datasets import load_digits
    from sklearn.ensemble import RandomForestClassifier

    import emlc
    from emlc.backends.c import size_report

    X, y = load_digits(return_X_y=True)
    ens = emlc.load(RandomForestClassifier(n_estimators=3, max_depth=4, random_state=0).fit(X, y))
    assert "m_quick(" in emit_c(ens, "avr", "m", "inline")
    assert "m_quick(" not in emit_c(ens, "avr", "m", "inline", speed=False)
    assert "m_quick(" not in emlc.compile(ens, target="avr", level="Os", layout="inline", name="m").code
    fast, small = (size_report(ens, "avr", "inline", speed=s)["flash_bytes_estimate"] for s in (True, False))
    assert fast > small
    big = emlc.load(RandomForestClassifier(n_estimators=6, max_depth=5, random_state=0).fit(X, y))
    need = size_report(big, "avr", "inline")["flash_bytes_estimate"]
    assert need > 32 * 1024 > size_report(big, "atmega328p", "inline", speed=False)["flash_bytes_estimate"]
    assert "m_quick(" in emit_c(big, "avr", "m", "inline") and "m_quick(" not in emit_c(big, "atmega328p", "m", "inline")
    from emlc.passes.lossy.confidence_exit import confidence_exit

    assert "m_quick(" not in emit_c(confidence_exit(ens, 0.5), "avr", "m", "inline")
