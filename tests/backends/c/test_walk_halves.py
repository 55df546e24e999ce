"""The speed levels' half-word table records on AVR (walk_halves): where they apply, what
they cost next to the cost model's estimate, and that random forests walk them exactly."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emlc.backends.c import emit_c, size_report
from emlc.backends.c.model import Model
from emlc.backends.c.plan import Layout, make_plan
from emlc.backends.c import leaf_records, walk_halves
from emlc.cost import Point, data_bytes
from emlc.targets import get_target
from emlc.backends.c.walk_table import _tests
from emlc.ir import Op, Task, Tree
from emlc.backends.c.common import size_of
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


INTEGER_INPUTS = ("int32", "int16", "uint16", "int8", "uint8")


@settings(max_examples=40)
@given(ens=ensembles(categorical=False, max_features=8, input_types=INTEGER_INPUTS))
def test_integer_records_hold_the_threshold_in_the_feature_width(ens):
    """Integer features walk half-word records too: a decision record is the first field,
    the threshold in the feature's width (16- and 32-bit thresholds sharing the bits above
    their low byte, or an int32's above its low two: those bytes) and the step; the cost
    model never underestimates them. The assembly walk takes all but int32 thresholds kept
    whole (the C step takes those)."""
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
    ks = [test.k for tests, _ in trees for test in tests.values()]
    kept = next((n for n in (1, 2) if n < width and len({k >> 8 * n for k in ks}) == 1), width)
    assert rec.record_bytes == 1 + kept + 1 and not rec.low
    assert (rec.k_high is not None) == (kept < width)
    if rec.k_high is not None:
        assert all(k >> 8 * kept == rec.k_high for k in ks)
    assert ("m_skip(" in code) == (width < 4 or kept < 4) and f"const {ens.input_type}_t *features" in code


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
    """The walk of integer records on simavr (ATmega328P; the C step for int32 thresholds
    kept whole), random forests, alone and behind an inline head (walk_head) of 0-3 levels
    and 0-6 tests below them (some trees' heads deeper than others', some trees without one)."""
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


#: int32 thresholds at and past the type's ends (kept whole: the C step), in one span of
#: the bits above their low byte (0x000000.., 0xFFFFFF.. negative, 0x7FFFFF..) or above
#: their low two bytes (0xFFFE....): the assembly walk, the shared bits as immediates
INT32_CASES = {
    "extremes": [-3e9, -2147483649.0, -2147483648.5, -2147483648.0, -2147483647.5, -1.5, -0.5, 0.0, 0.5,
                 2147483646.0, 2147483646.5, 2147483647.0, 2147483647.5, 3e9],
    "low byte": [0.5, 1.0, 7.5, 127.5, 128.0, 254.5, 255.0],
    "negative byte": [-255.5, -255.0, -128.0, -1.5, -1.0, -0.5],
    "top byte": [2147483392.5, 2147483500.5, 2147483645.5, 2147483646.0],
    "two bytes": [-131071.5, -100000.5, -65793.0, -65537.0, -65536.5],
}


def test_int32_thresholds_at_the_extremes_on_avr_and_host():
    """Every int32 split at and beside its threshold, and at values that share its low
    bytes but not the ones above, in simavr's walk (assembly where the records keep one or
    two bytes, the C step where they keep four), its inline head and the host's C walk."""
    require_tool("gcc", "avr-gcc", "simavr")
    lo, hi = -2**31, 2**31 - 1
    jobs = []
    for name, thresholds in INT32_CASES.items():
        for ts in (thresholds[:7], thresholds[7:]) if len(thresholds) > 7 else (thresholds,):  # simavr wraps long lines
            ens = _probe([(t, op, False) for t in ts for op in (Op.LE, Op.LT)], input_type="int32")
            model = _model(ens)
            rec = walk_halves.encode(model, [_tests(model, tree) for tree in ens.trees])
            assert size_of(rec.k_t) == {"extremes": 4, "two bytes": 2}.get(name, 1), name
            code = emit_c(ens, "atmega328p", "model", "table")
            assert ("model_skip(" in code) == (name != "extremes")
            values = {lo, lo + 1, hi - 1, hi, 0, -1, 1}
            for t in ts:
                for v in (int(np.floor(t)) - 1, int(np.floor(t)), int(np.ceil(t)), int(np.ceil(t)) + 1):
                    values |= {v, v + 256, v - 256, v + 65536, v - 65536, v + (1 << 24), v - (1 << 24)}
            col = np.array(sorted(v for v in values if lo <= v <= hi), dtype=np.int64)
            for part in np.array_split(col, -(-col.size // 24)):
                rows = np.repeat(part[:, None], ens.n_features, axis=1)
                jobs += [(ens, rows, "atmega328p", "table"),
                         (ens, rows, "atmega328p", None, {"point": Point(Layout.TABLE, head=1)})]
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


def _balanced(first_row: int, n_rows: int) -> Tree:
    """A 5-level tree on 4 features (level l splits x[l % 4] at l + 0.5), its 32 leaves
    naming rows first_row, first_row + 1, ... (mod ``n_rows``) left to right."""
    op, feature, threshold, left, right, leaf = [], [], [], [], [], []

    def grow(level: int) -> int:
        at = len(op)
        op.append(Op.LEAF), feature.append(-1), threshold.append(0.0), left.append(-1), right.append(-1)
        leaf.append(-1)
        if level == 5:
            leaf[at] = (first_row + sum(o == Op.LEAF for o in op) - 1) % n_rows
            return at
        op[at], feature[at], threshold[at] = Op.LE, level % 4, level + 0.5
        left[at] = grow(level + 1)
        right[at] = grow(level + 1)
        return at

    grow(0)
    return Tree.build(op=op, feature=feature, threshold=threshold, left=left, right=right, leaf=leaf)


def _record_forest(rows: list[list[int]]):
    """Integer leaf ``rows`` (uint8, three classes) behind as many such trees as they need:
    leaf records of a mask and each nonzero byte."""
    from emlc.ir import Decision, Ensemble

    n_trees = -(-len(rows) // 32)
    return Ensemble(n_features=4, task=Task.CLASSIFICATION,
                    trees=tuple(_balanced(32 * t, len(rows)) for t in range(n_trees)),
                    tree_output=np.zeros(n_trees, np.int32), leaves=np.asarray(rows, np.uint8), n_outputs=3,
                    base_score=np.zeros(3), classes=np.arange(3), decision=Decision.ARGMAX, leaf_scale=np.ones(3))


def _leaf_refs(rec: walk_halves.HalfRecords) -> list[int]:
    """What the leaf records of ``rec``'s stream name, read back record by record."""
    fb, stream = int(rec.fb_t[4:-2]) // 8, rec.stream.tolist()
    decision = rec.record_bytes
    refs, at = [], 0
    while at < len(stream):
        b = sum(stream[at + i] << 8 * i for i in range(fb))
        if b & 2:
            at += decision
        else:
            refs.append((b >> 2) << 8 | stream[at + fb])
            at += fb + 1
    return refs


@pytest.mark.parametrize("longer, fb_t", [(False, "uint8_t"), (True, None)])
def test_the_leaf_field_holds_the_last_record_start_not_the_table_size(longer, fb_t):
    """5,462 leaf rows of 3-byte records (a mask and two counts): the last record starts at
    16,383, whose high bits (63 << 2) fit the one-byte field, though the table holds
    16,386 bytes (the field was sized from those, and the records dropped for the sparse
    tables). One record a byte longer moves the last start to 16,384, which one byte cannot
    name: the records then go (the walk keeps the one-byte field its rows take), never a
    field too narrow. The leaves read back from the stream name their records' starts, and
    the boundary build predicts on simavr as the interpreter does."""
    rows = [[1 + i % 250, 1 + i // 250, 0] for i in range(5462)]
    if longer:
        rows[0][2] = 1
    ens = _record_forest(rows)
    model = _model(ens)
    rec = model.plan.records
    assert (rec is None) == longer
    halves = walk_halves.encode(model, [_tests(model, tree) for tree in ens.trees])
    assert halves.fb_t == "uint8_t"
    refs = [ref for tree in ens.trees for ref, o in zip(leaf_records.leaf_refs(rec, tree), tree.op) if o == Op.LEAF]
    assert _leaf_refs(halves) == refs
    if fb_t is not None:
        assert max(refs) == 16383 and rec.data.size == 16386
        require_tool("avr-gcc", "simavr")
        X = np.array([[5, 0, 3, 0], [0, 0, 0, 0], [5, 5, 5, 5], [1, 2, 3, 4], [4, 1, 0, 5]], dtype=np.float64)
        check_agrees(ens, X, "table", "avr")


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
