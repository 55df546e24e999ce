"""The speed levels' half-word table records on AVR (walk_halves): where they apply, what
they cost next to the cost model's estimate, and that random forests walk them exactly."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from emlc.backends.c import emit_c, size_report
from emlc.backends.c.model import Model
from emlc.backends.c.plan import Layout, make_plan
from emlc.backends.c import walk_halves
from emlc.cost import Point, data_bytes
from emlc.targets import get_target
from emlc.backends.c.walk_table import _tests
from emlc.ir import Op, Task
from tests.backends.c.test_emit import _probe, check_agrees, expected
from tests.e2e.harness import build, execute, parse, program, run_model, run_parallel
from tests.conftest import require_tool
from tests.strategies import ensembles, inputs_for


def _model(ens, target: str = "avr", packed: bool = False) -> Model:
    tgt = get_target(target)
    return Model(ens, tgt, "m", make_plan(ens, tgt, Layout.TABLE, pack_tables=packed))


@settings(max_examples=40)
@given(ens=ensembles(categorical=False, integer_inputs=False, max_features=8))
def test_records_apply_at_speed_on_avr_and_cost_no_more_than_estimated(ens):
    """float32 forests on AVR at the speed levels walk half-word records, whose bytes the
    cost model never underestimates (it is exact without folded splits); -Os keeps the
    packed records, other targets the slot records."""
    assert walk_halves.applies(_model(ens))
    assert not walk_halves.applies(_model(ens, packed=True)) and not walk_halves.applies(_model(ens, "cortex-m0"))
    report = size_report(ens, "avr", "table")
    # the tables both layouts share, less the rank edges, which the records hold as thresholds
    shared = data_bytes(ens, get_target("avr"), Layout.INLINE) - sum(
        4 * r.edges.size for r in ens.feature_ranks if r is not None)
    assert report["node_table_bytes"] <= data_bytes(ens, get_target("avr"), Layout.TABLE) - shared
    code = emit_c(ens, "avr", "m", "table")
    assert "m_nodes" in code and "m_nodes" not in emit_c(ens, "avr", "m", "table", speed=False)


@settings(max_examples=15)
@given(data=st.data())
def test_random_forests_walk_exactly_on_avr(data):
    """Random float32 forests (shared subtrees, ``<`` and ``<=``, ranked features,
    thresholds off the float32 grid) and rows of special values on simavr."""
    require_tool("avr-gcc", "simavr")
    ens = data.draw(ensembles(categorical=False, integer_inputs=False, max_trees=4, max_depth=5))
    X = data.draw(inputs_for(ens, max_rows=20))
    assert "m_nodes" in emit_c(ens, "avr", "m", "table")
    check_agrees(ens, X, "table", "avr")


def test_kl_is_left_out_when_every_lower_half_is_zero():
    """x.5 thresholds (digits): 4-byte decision records; x.1 needs the lower half: 6."""
    from tests.backends.c.test_walk_table import _chain, _regressor

    ens = _regressor([_chain(10)], n_features=3, n_rows=4)
    halves = size_report(ens, "avr", "table")
    assert halves["table_record_bytes"] == 4
    tree = ens.trees[0]
    tenths = ens.replace(trees=(tree.replace(threshold=np.where(tree.op != 0, tree.threshold + 0.1, 0.0)),))
    assert size_report(tenths, "avr", "table")["table_record_bytes"] == 6


INTEGER_INPUTS = ("int16", "uint16", "int8", "uint8")


@settings(max_examples=40)
@given(ens=ensembles(categorical=False, max_features=8, input_types=INTEGER_INPUTS))
def test_integer_records_hold_the_threshold_in_the_feature_width(ens):
    """8- and 16-bit integer features walk half-word records too: a decision record is the
    first field, the threshold in the feature's width (16-bit thresholds sharing one high
    byte: their low byte) and the step; the cost model never underestimates them."""
    model = _model(ens)
    assert walk_halves.applies(model)
    report = size_report(ens, "avr", "table")
    # the tables both layouts share, less the rank edges, which the records hold as thresholds
    shared = data_bytes(ens, get_target("avr"), Layout.INLINE) - sum(
        4 * r.edges.size for r in ens.feature_ranks if r is not None)
    assert report["node_table_bytes"] <= data_bytes(ens, get_target("avr"), Layout.TABLE) - shared
    code = emit_c(ens, "avr", "m", "table")
    if "m_nodes" not in code:  # every split folded: each tree is its leaf row
        return
    trees = [_tests(model, tree) for tree in ens.trees]
    rec = walk_halves.encode(model, trees)
    width = np.dtype(ens.input_type).itemsize
    assert rec.record_bytes == 1 + (1 if rec.k_high is not None else width) + 1 and not rec.low
    highs = {test.k >> 8 for tests, _ in trees for test in tests.values()}
    assert (rec.k_high is not None) == (width == 2 and len(highs) == 1)
    assert "m_skip(" in code and f"const {ens.input_type}_t *features" in code


def _host_halves(ens, X):
    """Predictions of the table walk's C form on the host: a host target with half-word
    tests (no assembly off AVR), built and run natively."""
    tgt = dataclasses.replace(get_target("host"), half_word_tests=True)
    header = emit_c(ens, tgt, "model", "table")
    assert "model_skip(" not in header
    with tempfile.TemporaryDirectory() as tmp:
        exe = build("host", program(ens, header, X, "host"), Path(tmp))
        return parse(ens, execute("host", exe), X.shape[0])


@settings(max_examples=25)
@given(data=st.data())
def test_c_form_walks_exactly_on_the_host(data):
    """The readable C steps (runtime/c/walk_halves_int.c and walk_halves_float.c) equal the
    interpreter on random integer and float32 forests: thresholds at the type's extremes,
    fractional and out of range, rows on and beside them."""
    require_tool("gcc")
    ens = data.draw(ensembles(categorical=False, max_trees=4, max_depth=5,
                              input_types=(*INTEGER_INPUTS, "float32")))
    X = data.draw(inputs_for(ens, max_rows=20))
    got = _host_halves(ens, X)
    pred, values = expected(ens, X)
    if ens.task in (Task.CLASSIFICATION, Task.ANOMALY):
        np.testing.assert_array_equal(got.predict, pred)
    np.testing.assert_allclose(got.values, values.astype(np.float32), rtol=2e-6, atol=1e-7)


@settings(max_examples=10)
@given(data=st.data())
def test_integer_forests_walk_exactly_on_avr(data):
    """The assembly walk of integer records on simavr (ATmega328P), random forests, alone
    and behind an inline head (walk_head) of 0-3 levels and 0-6 tests below them (some
    trees' heads deeper than others', some trees without one)."""
    require_tool("avr-gcc", "simavr")
    ens = data.draw(ensembles(categorical=False, max_trees=4, max_depth=5, input_types=INTEGER_INPUTS))
    X = data.draw(inputs_for(ens, max_rows=20))
    head, more = data.draw(st.integers(0, 3)), data.draw(st.integers(0, 6))
    point = Point(Layout.TABLE, head=head, head_more=more or int(not head))
    jobs = [(ens, X, "atmega328p", "table"), (ens, X, "atmega328p", None, {"point": point})]
    pred, values = expected(ens, X)
    for got in run_parallel(jobs, workers=2):
        if ens.task in (Task.CLASSIFICATION, Task.ANOMALY):
            np.testing.assert_array_equal(got.predict, pred)
        np.testing.assert_allclose(got.values, values.astype(np.float32), rtol=2e-6, atol=1e-7)


def _int16_probe(thresholds: list[float]):
    return _probe([(t, op, False) for t in thresholds for op in (Op.LE, Op.LT)], input_type="int16")


#: int16 thresholds at and past the type's ends, fractional, and in one high byte's span
#: (records then hold the low byte: 0x00.., 0xFF.. (negative) and 0x7F..)
INT16_CASES = {
    "extremes": [-40000.0, -32769.0, -32768.5, -32768.0, -32767.5, -1.5, -0.5, 0.0, 0.5, 32766.0, 32766.5,
                 32767.0, 32767.5, 40000.0],
    "low byte": [0.5, 1.0, 7.5, 127.5, 128.0, 254.5, 255.0],
    "negative byte": [-255.5, -255.0, -128.0, -1.5, -1.0, -0.5],
    "top byte": [32512.5, 32600.5, 32765.5, 32766.0],
}


def test_int16_thresholds_at_the_extremes_on_avr_and_host():
    """Every int16 split at and beside its threshold (x <= t: floor(t); x < t: ceil(t) - 1;
    out-of-range thresholds fold to one side), with the records' one-byte thresholds where
    they share a high byte, in simavr's assembly walk, its inline head and the host's C walk."""
    require_tool("gcc", "avr-gcc", "simavr")
    jobs = []
    for name, thresholds in INT16_CASES.items():
        for ts in (thresholds[:7], thresholds[7:]) if len(thresholds) > 7 else (thresholds,):  # simavr wraps long lines
            ens = _int16_probe(ts)
            model = _model(ens)
            rec = walk_halves.encode(model, [_tests(model, tree) for tree in ens.trees])
            assert (rec.k_high is not None) == (name != "extremes"), name
            values = {-32768, -32767, 32766, 32767, 0, -1, 1}
            values |= {v for t in ts for v in (int(np.floor(t)) - 1, int(np.floor(t)), int(np.ceil(t)), int(np.ceil(t)) + 1)}
            col = np.array(sorted(v for v in values if -32768 <= v <= 32767), dtype=np.int64)
            rows = np.repeat(col[:, None], ens.n_features, axis=1)
            assert "model_head(&go, features)" in emit_c(ens, "atmega328p", "model", point=Point(Layout.TABLE, head=1))
            jobs += [(ens, rows, "atmega328p", "table"), (ens, rows, "atmega328p", None, {"point": Point(Layout.TABLE, head=1)})]
    for (ens, X, *_), got in zip(jobs, run_parallel(jobs, workers=2)):
        want = expected(ens, X)[1].astype(np.float32)
        np.testing.assert_array_equal(got.values, want)
        np.testing.assert_array_equal(_host_halves(ens, X).values, want)


def test_int16_forests_with_two_byte_fields_walk_in_c():
    """70 int16 features (two-byte first fields) and unbounded depth (left subtrees past
    255 bytes: two-byte steps) leave the assembly out: the C step walks every record, on
    simavr and the host, as scikit-learn predicts."""
    require_tool("gcc", "avr-gcc", "simavr")
    from sklearn.ensemble import RandomForestClassifier

    import emlc

    rng = np.random.default_rng(3)
    X = rng.integers(-300, 300, size=(400, 70)).astype(np.float64)
    y = (X[:, 0] - X[:, 66] + X[:, 3] // 2 > 0).astype(int) ^ (X[:, 5] > 200)
    for n_features in (70, 8):
        clf = RandomForestClassifier(n_estimators=2, random_state=0).fit(X[:, :n_features], y)
        ens = emlc.compile(emlc.load(clf).replace(input_type="int16"), target="avr", level="O2",
                           layout="table", emit_as="ir").ensemble
        model = _model(ens)
        rec = walk_halves.encode(model, [_tests(model, tree) for tree in ens.trees])
        assert (rec.fb_t, rec.step_t) == (("uint16_t", "uint8_t") if n_features == 70 else ("uint8_t", "uint16_t"))
        assert "model_skip(" not in emit_c(ens, "avr", "model", "table")
        rows = X[:40, :n_features]
        want = clf.predict(rows)
        np.testing.assert_array_equal(np.asarray(clf.classes_)[run_model(ens, rows, "avr", "table").predict], want)
        np.testing.assert_array_equal(np.asarray(clf.classes_)[_host_halves(ens, rows).predict], want)


@settings(max_examples=8)
@given(data=st.data())
def test_float_records_decide_on_upper_bytes_as_the_rule_does_on_avr(data):
    """The assembly walk decides a float record on the value's top byte, then on its next
    byte, and leaves a tie of both to the C step: rows whose values are the forest's
    thresholds with one bit flipped (in the top byte, the next, or the lower half, where
    the records tie) or none, on simavr (ATmega328P), alone and behind a 2-level inline
    head, against the interpreter."""
    require_tool("avr-gcc", "simavr")
    ens = data.draw(ensembles(categorical=False, integer_inputs=False, max_trees=3, max_depth=5))
    thresholds = np.concatenate([t.threshold[t.op != Op.LEAF] for t in ens.trees]).astype(np.float32)
    if not thresholds.size:
        thresholds = np.zeros(1, dtype=np.float32)
    rows = data.draw(st.integers(1, 16))
    picks = data.draw(st.lists(st.tuples(st.integers(0, thresholds.size - 1), st.integers(-1, 31)),
                               min_size=rows * ens.n_features, max_size=rows * ens.n_features))
    bits = np.array([thresholds[i].view(np.uint32) ^ (np.uint32(1 << b) if b >= 0 else np.uint32(0))
                     for i, b in picks], dtype=np.uint32)
    with np.errstate(invalid="ignore"):  # NaN among the flips
        X = bits.view(np.float32).astype(np.float64).reshape(rows, ens.n_features)
    jobs = [(ens, X, "atmega328p", "table"), (ens, X, "atmega328p", None, {"point": Point(Layout.TABLE, head=2)})]
    pred, values = expected(ens, X)
    for got in run_parallel(jobs, workers=2):
        if ens.task in (Task.CLASSIFICATION, Task.ANOMALY):
            np.testing.assert_array_equal(got.predict, pred)
        np.testing.assert_allclose(got.values, values.astype(np.float32), rtol=2e-6, atol=1e-7)
