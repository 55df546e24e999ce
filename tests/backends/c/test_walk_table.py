"""Table layout records: field widths, leaf and jump records, lazy keys, sparse leaves."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emlc.backends.c import emit_c, leaf_tables, size_report
from emlc.backends.c.model import Model
from emlc.backends.c.plan import Encoding, Layout, TableForcing, make_plan
from emlc.backends.c.walk_table import encode
from emlc.cost import split_key_code
from emlc.errors import EmlcError
from emlc.ir import Decision, Ensemble, FeatureRank, Op, Task, Tree
from emlc.targets import get_target
from tests.backends.c.test_emit import check_agrees, expected, shared_subtree_tree
from tests.conftest import require_tool
from tests.e2e.harness import run_model, run_parallel
from tests.strategies import ensembles, inputs_for


RECORDS = TableForcing(frozenset({Encoding.RECORDS}))


def only(encoding: Encoding, split_top: bool | None = None) -> TableForcing:
    """The table layout held to one encoding (and keys without their top byte forced on or off)."""
    return TableForcing(frozenset({encoding}), split_top)


def _records(ens: Ensemble, target: str = "avr", size_first: bool = True, forcing: TableForcing = TableForcing()):
    tgt = get_target(target)
    plan = replace(make_plan(ens, tgt, Layout.TABLE, pack_tables=size_first), forcing=forcing)
    return encode(Model(ens, tgt, "m", plan))


def _chain(n: int, n_features: int = 3, n_rows: int = 4, side_subtree: bool = True) -> Tree:
    """A left-deep chain of n splits, each with a leaf on the right; the root's right child
    is one more split, so its record lies past the whole chain."""
    op, feat, thr, left, right, leaf = [], [], [], [], [], []

    def add(o, f, t, lf, r, row):
        op.append(o), feat.append(f), thr.append(t), left.append(lf), right.append(r), leaf.append(row)
        return len(op) - 1

    root = add(Op.LE, 0, 0.0, -1, -1, -1)
    prev = root
    for i in range(n):
        node = add(Op.LE, i % n_features, float(i % 7) - 3.0, -1, -1, -1)
        left[prev] = node
        right[node] = add(Op.LEAF, -1, 0.0, -1, -1, i % n_rows)
        prev = node
    left[prev] = add(Op.LEAF, -1, 0.0, -1, -1, n_rows - 1)
    if side_subtree:
        side = add(Op.LE, 1, 0.5, -1, -1, -1)
        left[side] = add(Op.LEAF, -1, 0.0, -1, -1, 0)
        right[side] = add(Op.LEAF, -1, 0.0, -1, -1, n_rows - 1)
        right[root] = side
    else:
        right[root] = add(Op.LEAF, -1, 0.0, -1, -1, 0)
    return Tree.build(op=op, feature=feat, threshold=thr, left=left, right=right, leaf=leaf)


def _regressor(trees, n_features: int, n_rows: int) -> Ensemble:
    return Ensemble(n_features=n_features, task=Task.REGRESSION, trees=tuple(trees),
                    tree_output=np.zeros(len(trees), np.int32),
                    leaves=np.arange(1, n_rows + 1, dtype=np.float64)[:, None] / 8, n_outputs=1,
                    base_score=np.zeros(1))


def _rows(n_features: int, n: int = 60, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = rng.integers(-4, 4, (n, n_features)).astype(np.float64) + rng.choice([0, 0.5], (n, n_features))
    X[rng.random(X.shape) < 0.1] = np.nan
    return X


def test_small_model_takes_three_bytes_per_decision_record():
    """A ranked forest with few thresholds per feature: one byte each for slot+flags,
    threshold index and right offset; right leaves live in the offset byte (leaf and
    jump records; the default encoding is smaller still, below)."""
    ens = _regressor([_chain(20), _chain(30)], n_features=3, n_rows=4)
    _check_three_byte_records(ens)
    smallest = _records(ens)
    assert smallest.bytes < _records(ens, forcing=RECORDS).bytes
    assert size_report(ens, "avr", "table", speed=False)["node_table_bytes"] == smallest.bytes
    # speed levels leave packed records out (their unpacking costs cycles); on AVR they
    # walk half-word records (test_walk_halves), elsewhere these
    fast = _records(ens, "cortex-m0", size_first=False)
    assert fast.word is None and fast.bytes >= smallest.bytes
    assert size_report(ens, "cortex-m0", "table")["node_table_bytes"] == fast.bytes


def _check_three_byte_records(ens):
    rec = _records(ens, forcing=RECORDS)
    assert (rec.kind_t, rec.thr_t, rec.right_t) == ("uint8_t", "uint8_t", "uint8_t")
    assert "rl" in rec.flags
    # thresholds -3..3 (and 0.5) as float32 keys share 22 trailing zero bits: two bytes in the palette
    assert rec.keys is not None and rec.key_shift == 16 and rec.key_t == "int16_t"
    decision = int(sum((t.op != Op.LEAF).sum() for t in ens.trees))
    # the chain's right leaves are in their parents' records: one leaf record per tree end
    assert rec.kind.size <= decision + 3 * ens.n_trees
    rep = size_report(ens, "cortex-m0", "table", forcing=RECORDS)
    assert rep["table_record_bytes"] == 3
    assert rep["node_table_bytes"] == rec.bytes
    assert rep["node_bytes_per_decision_node"] == round(rec.bytes / decision, 2)


def test_small_model_with_shifted_keys_runs_exactly():
    require_tool("gcc")
    ens = _regressor([_chain(20), _chain(30)], n_features=3, n_rows=4)
    assert "(int32_t)((uint32_t)(int32_t)m_keys[" in emit_c(ens, "host", "m", "table")
    X = _rows(3)
    X[:5] = [[-3.0, 3.0, 0.0], [-0.0, -3.0, 2.0], [np.inf, -np.inf, 1.0], [2.9999998, -2.9999998, 1e-45], [-1e-45, 0, 0]]
    check_agrees(ens, X, "table")


def test_wide_offsets_rows_and_features_widen_their_fields():
    require_tool("gcc")
    tree = _chain(300, n_features=3, n_rows=300)
    ens = _regressor([tree], n_features=3, n_rows=300)
    rec = _records(ens)
    assert rec.right_t == "uint16_t"  # the root's right child is > 255 records ahead
    check_agrees(ens, _rows(3), "table")
    wide = _regressor([_chain(300, n_features=300, n_rows=4)], n_features=300, n_rows=4)
    rec = _records(wide)
    assert rec.kind_t == "uint16_t" and rec.n_slots == 300
    check_agrees(wide, _rows(300, n=20), "table")


def test_shared_subtree_is_reached_by_a_jump_record():
    require_tool("gcc")
    # the shared node 3 is placed once
    ens = _regressor([shared_subtree_tree()], n_features=2, n_rows=4)
    X = np.random.default_rng(3).normal(0, 4, (80, 2))
    assert _records(ens, forcing=RECORDS).has_jump
    check_agrees(ens, X, "table", forcing=RECORDS)
    # decision records only: the shared subtree is written out twice
    assert _records(ens).counted
    check_agrees(ens, X, "table")


def test_categorical_split_on_a_ranked_feature_ranks_lazily():
    require_tool("gcc")
    tree = Tree.build(op=[Op.CAT, Op.LE, Op.LEAF, Op.LEAF, Op.LEAF], feature=[0, 0, -1, -1, -1],
                      threshold=[0, 1.0, 0, 0, 0], left=[1, 2, -1, -1, -1], right=[4, 3, -1, -1, -1],
                      leaf=[-1, -1, 0, 1, 2], cat=[0, -1, -1, -1, -1], default_left=[True, False, False, False, False])
    ens = Ensemble(n_features=1, task=Task.CLASSIFICATION, trees=(tree,), tree_output=np.zeros(1, np.int32),
                   leaves=np.eye(3), n_outputs=3, base_score=np.zeros(3), decision=Decision.ARGMAX,
                   classes=np.arange(3), cat_sets=np.array([[0b1011]], dtype=np.uint32),
                   feature_ranks=(FeatureRank(np.array([-1.0, 0.5, 2.0, 3.0])),))
    code = emit_c(ens, "host", "m", "table")
    assert "m_rank(x, 0u, 4u)" in code and "m_prepare" not in code
    X = np.array([[v] for v in (-2.0, -1.0, 0.0, 0.5, 0.7, 2.0, 2.5, 3.0, 9.0, np.nan, -np.inf, np.inf)])
    check_agrees(ens, X, "table")


def test_float_leaves_are_stored_sparse_unless_a_negative_zero_base_forbids_it():
    require_tool("gcc")
    tree = Tree.build(op=[Op.LE, Op.LEAF, Op.LEAF], feature=[0, -1, -1], threshold=[0.0, 0, 0],
                      left=[1, -1, -1], right=[2, -1, -1], leaf=[-1, 0, 1])
    leaves = np.zeros((2, 6))
    leaves[0, 1], leaves[1, 4] = 0.25, -0.0
    ens = Ensemble(n_features=1, task=Task.REGRESSION, trees=(tree,), tree_output=np.zeros(1, np.int32),
                   leaves=leaves, n_outputs=6, base_score=np.array([0.5, 0, 0, 0, 0, 0]))
    assert "m_lval" in emit_c(ens, "host", "m", "table") and "m_leaves" not in emit_c(ens, "host", "m", "table")
    negzero = ens.replace(base_score=np.array([0.5, 0, 0, 0, -0.0, 0]))
    code = emit_c(negzero, "host", "m", "inline")
    assert "m_leaves" in code and "m_lval" not in code
    X = np.array([[-1.0], [1.0], [np.nan]])
    for e in (ens, negzero):
        for layout in ("inline", "table"):
            check_agrees(e, X, layout)
            got = run_model(e, X, "host", layout).values
            np.testing.assert_array_equal(np.signbit(got), np.signbit(expected(e, X)[1]))


def test_many_features_fit_the_8051_stack_only_in_the_table_layout():
    """Inline keys need 4 bytes of stack per feature (P_prepare); the table layout keys a
    feature when a node reads it, so 60 features fit the 8051's internal-RAM stack."""
    ens = _regressor([_chain(10, n_features=60)], n_features=60, n_rows=4)
    with pytest.raises(EmlcError, match=r"bytes of RAM .* try --layout table"):
        emit_c(ens, "mcs51", "m", "inline")
    assert "m_prepare" not in emit_c(ens, "mcs51", "m", "table")
    assert size_report(ens, "mcs51", "table")["ram_bytes_stack_estimate"] < 100


def _forest_classifier(kind: str):
    from sklearn.datasets import load_digits
    from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier

    import emlc

    X, y = load_digits(return_X_y=True)
    cls = RandomForestClassifier if kind == "rf" else ExtraTreesClassifier
    return emlc.load(cls(n_estimators=4, max_depth=5, random_state=0).fit(X[:500], y[:500])), X[500:560]


def test_forest_leaves_are_stored_as_counts_rebuilt_exactly():
    """scikit-learn forests' leaf fractions become byte counts (value = count / row total);
    the rebuilt values are the same floats, so both sums stay the interpreter's."""
    ens, _ = _forest_classifier("rf")
    for target, typ in (("host", np.float64), ("avr", np.float32)):
        model = Model(ens, get_target(target), "m")
        counts = leaf_tables.rational_leaves(model, "double" if typ is np.float64 else "float")
        assert counts is not None and counts.max() <= 255
        rebuilt = counts.astype(typ) / counts.sum(axis=1, keepdims=True).astype(typ)
        np.testing.assert_array_equal(rebuilt, np.asarray(ens.leaves).astype(typ))
    off = np.asarray(ens.leaves).copy()
    off[0, np.flatnonzero(off[0])[0]] = np.nextafter(off[0, np.flatnonzero(off[0])[0]], 2.0)
    assert leaf_tables.rational_leaves(Model(ens.replace(leaves=off), get_target("host"), "m"), "double") is None
    code = emit_c(ens, "cortex-m0", "m", "table")  # (AVR's table builds take leaf records)
    assert "m_lcount" in code and "m_lval" not in code and "static const uint8_t m_qval" in code
    # the inline float sums read float leaves; the counts serve only the binary64 step there
    assert "m_lcount" not in emit_c(ens, "avr", "m", "inline", float32_sums=True)
    assert "m_lval" in emit_c(ens, "avr", "m", "inline")


@pytest.mark.parametrize("kind", ["rf", "et"])
def test_count_leaves_give_the_interpreters_probabilities_on_host_and_avr(kind):
    require_tool("gcc")
    require_tool("avr-gcc", "simavr")
    ens, X = _forest_classifier(kind)
    check_agrees(ens, X, "table")
    # AVR sums in float (no 64-bit double): the counts must give the very floats the
    # float leaf table of the inline layout gives
    counts, floats = run_parallel([(ens, X, "avr", "table"), (ens, X, "avr", "inline")], workers=2)
    np.testing.assert_array_equal(counts.predict, expected(ens, X)[0])
    np.testing.assert_array_equal(counts.values, floats.values)


def test_trees_sharing_leaf_rows_map_every_leaf_by_its_number():
    """Rows shared between trees (dedup_leaves): when no tree has its rows in order, the
    leaf map is indexed by leaf number itself (no per-tree base), and at -Os with leaf
    records it holds where each leaf's record starts, as a low byte and a high nibble."""
    require_tool("gcc")
    from emlc.passes import optimize

    ens, X = _forest_classifier("rf")
    ens = optimize(ens, level="O2", target="avr").ensemble
    for size_first in (False, True):
        # (AVR's speed levels take leaf records too: the rows are the Cortex-M0's there)
        target = "avr" if size_first else "cortex-m0"
        rec = _records(ens, target, size_first=size_first)
        assert rec.counted and rec.lmap is not None and rec.lbase is None
        assert rec.lmap.size == rec.kind.size + ens.n_trees  # a leaf per record, one more per tree
        plan = make_plan(ens, get_target(target), Layout.TABLE, pack_tables=size_first)
        assert (plan.records is not None) == size_first
        if plan.records is not None:
            assert set(rec.lmap.tolist()) <= set(plan.records.offsets.tolist())
        assert rec.lmap_split == size_first and (255 < rec.lmap.max() < 4096 or not size_first)
        if size_first:  # (the AVR's speed levels walk half-word records: walk_halves)
            code = emit_c(ens, "avr", "m", "table", speed=False)
            assert "m_lrowhi" in code and "m_lbase" not in code and "m_lrow[n]" in code
        check_agrees(ens, X, "table", speed=not size_first)


COUNTED = [Encoding.COUNTED, Encoding.PACKED, Encoding.PACKED_GLOBAL]


@pytest.mark.parametrize("encoding", list(Encoding), ids=lambda e: e.value)
@settings(max_examples=20)
@given(data=st.data())
def test_each_encoding_matches_the_interpreter(encoding, data):
    """Random IR (NaN, categories, ranks, DAGs, one-leaf trees) with the table layout held
    to one encoding: predictions and values equal the reference interpreter's."""
    require_tool("gcc")
    ens = data.draw(ensembles())
    X = data.draw(inputs_for(ens))
    check_agrees(ens, X, "table", speed=False, forcing=only(encoding))


@settings(max_examples=20)
@given(data=st.data())
def test_keys_without_their_top_byte_match_the_interpreter(data):
    """Random IR (NaN, categories, ranks, 16- and 32-bit keys) at -Os with every key's top
    byte taken from its slot's runs: predictions and values equal the reference interpreter's."""
    require_tool("gcc")
    ens = data.draw(ensembles())
    X = data.draw(inputs_for(ens))
    check_agrees(ens, X, "table", speed=False, forcing=TableForcing(split_top=True))


def test_top_byte_runs_and_low_columns_give_back_every_key():
    """The split keys' rule: a key is its slot's run's top byte over its low bytes, runs
    start at key 0 of each slot and hold one top byte each; -Os takes the split when it
    saves more than its lookup's code, and never at the speed levels."""
    ens = _boosted(n_trees=40, depth=5)
    rec = _records(ens)
    assert rec.split_top and not _records(ens, size_first=False).split_top
    whole = _records(ens, forcing=TableForcing(split_top=False))
    assert not whole.split_top and rec.bytes + split_key_code(get_target("avr")) < whole.bytes
    starts, tops, slots = rec.top_runs()
    keys, low_bits = rec.stored_keys, 8 * rec.key_bytes
    slot = np.repeat(np.arange(rec.n_slots), np.diff(np.append(rec.kbase, keys.size)))
    run = np.searchsorted(rec.kbase[slots] + starts, np.arange(keys.size), side="right") - 1
    assert (slots[run] == slot).all() and (starts[np.r_[True, slots[1:] != slots[:-1]]] == 0).all()
    np.testing.assert_array_equal(tops[run] << low_bits | keys & ((1 << low_bits) - 1), keys)
    assert starts.size < keys.size // 2


def test_float64_keys_keep_seven_low_bytes_in_three_columns():
    """float64 inputs: 64-bit keys lose their top byte to the runs and keep 4 + 2 + 1 low
    bytes; the host build equals the interpreter on rows with NaN."""
    require_tool("gcc")
    ens = _boosted().replace(input_type="float64")
    X = np.random.default_rng(5).normal(0, 1, (80, 6))
    X[::4, 2] = np.nan
    split = TableForcing(split_top=True)
    rec = _records(ens, "host", forcing=split)
    assert rec.split_top and rec.key_t == "int64_t" and rec.key_bytes == 7
    assert "m_keys4[" in emit_c(ens, "host", "m", "table", speed=False, forcing=split)
    check_agrees(ens, X, "table", speed=False, forcing=split)


def _boosted(seed: int = 0, n_trees: int = 12, depth: int = 4, one_leaf: int = -1):
    """Random full-ish trees of float thresholds, NaN to either side, one leaf row per leaf."""
    rng = np.random.default_rng(seed)
    trees, rows = [], 0
    for t in range(n_trees):
        op, feat, thr, left, right, leaf, dl = [], [], [], [], [], [], []

        def grow(d):
            nonlocal rows
            i = len(op)
            op.append(Op.LEAF), feat.append(-1), thr.append(0.0), left.append(-1), right.append(-1)
            leaf.append(-1), dl.append(False)
            if d == depth or (d > 1 and rng.random() < 0.25) or t == one_leaf:
                leaf[i] = rows
                rows += 1
                return i
            op[i], feat[i], thr[i], dl[i] = Op.LT, int(rng.integers(0, 6)), float(np.float32(rng.normal())), bool(rng.random() < 0.5)
            left[i] = grow(d + 1)
            right[i] = grow(d + 1)
            return i

        grow(0)
        trees.append(Tree.build(op=op, feature=feat, threshold=thr, left=left, right=right, leaf=leaf, default_left=dl))
    # distinct eighths: float sums (AVR) are exact, so a wrong leaf shows
    leaves = (rng.permutation(rows) + 1.0)[:, None] / 8
    return Ensemble(n_features=6, task=Task.REGRESSION, trees=tuple(trees), tree_output=np.zeros(n_trees, np.int32),
                    leaves=leaves, n_outputs=1, base_score=np.zeros(1))


@pytest.mark.parametrize("encoding", COUNTED, ids=lambda e: e.value)
def test_boosted_trees_take_decision_records_only(encoding):
    """Boosted trees (a leaf row per leaf, in preorder): the counted encodings need no
    leaf records and no leaf-row map; packed ones one word per decision node. A tree
    that is one leaf takes one record, and then each tree its first leaf row."""
    require_tool("gcc")
    for one_leaf in (-1, 3):
        ens = _boosted(one_leaf=one_leaf)
        rec = _records(ens, forcing=only(encoding))
        decision = int(sum((t.op != Op.LEAF).sum() for t in ens.trees))
        # its right leaf is never reached: rows stay in order, from a first row per tree
        assert rec.counted and rec.lmap is None and (rec.lbase is None) == (one_leaf < 0)
        assert rec.kind.size == decision + (one_leaf >= 0)
        assert (rec.word is not None) == (encoding is not Encoding.COUNTED)
        X = np.random.default_rng(5).normal(0, 1, (80, 6)).astype(np.float32)
        X[np.random.default_rng(6).random(X.shape) < 0.15] = np.nan
        inner = [(int(f), np.float32(v)) for t in ens.trees for f, v in zip(t.feature, t.threshold) if f >= 0]
        for i in range(40):  # rows on a threshold and just above one
            f, v = inner[i % len(inner)]
            X[i, f] = v if i < 20 else np.nextafter(v, np.float32(np.inf))
        for split in (False, True):
            forcing = only(encoding, split)
            assert _records(ens, forcing=forcing).split_top == split
            check_agrees(ens, X, "table", speed=False, forcing=forcing)
            check_agrees(ens, X, "table", "avr", speed=False, forcing=forcing)


@pytest.mark.parametrize("target", ["cortex-m0", "rv32ec", "mcs51"])
def test_counted_and_packed_records_run_on_devices(target):
    """-Os builds of each counted encoding (one-leaf tree, NaN rows) on the devices'
    compilers and simulators, with the strict flags."""
    from tests.e2e.harness import TOOLS

    require_tool(*TOOLS[target])
    small = target == "mcs51"  # SDCC compiles slowly
    ens = _boosted(n_trees=4 if small else 12, depth=3 if small else 4, one_leaf=2)
    X = np.random.default_rng(5).normal(0, 1, (12 if small else 40, 6)).astype(np.float32)
    X[::3, 1] = np.nan
    for encoding in COUNTED:
        for split in (False, True):
            check_agrees(ens, X, "table", target, speed=False, forcing=only(encoding, split))


def test_shared_subtrees_that_would_multiply_keep_leaf_records():
    """A DAG whose nodes both lead to the next one has 2^depth paths: written out as
    decision records it would explode, so the encoder keeps leaf and jump records."""
    require_tool("gcc")
    depth = 24
    op = [Op.LE] * depth + [Op.LEAF, Op.LEAF]
    left = [i + 1 for i in range(depth)] + [-1, -1]
    right = [i + 1 for i in range(depth - 1)] + [depth + 1, -1, -1]
    tree = Tree.build(op=op, feature=[i % 3 for i in range(depth)] + [-1, -1],
                      threshold=[float(i % 5) - 2 for i in range(depth)] + [0.0, 0.0],
                      left=left, right=right, leaf=[-1] * depth + [0, 1])
    ens = _regressor([tree], n_features=3, n_rows=2)
    rec = _records(ens)
    assert not rec.counted and rec.has_jump
    check_agrees(ens, _rows(3), "table")
