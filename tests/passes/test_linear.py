"""Passes do per-ensemble work once, not once per tree, and keep deep trees off the call stack.

Compile time on big models used to grow with trees x leaf rows because every tree
re-sorted the whole leaf table; these tests pin the structure that keeps it linear
(timings themselves live in bench/bench_scale.py).
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from emlc.ir import Ensemble, Op, Task, Tree, interpret
from emlc.ir.verify import verify
from emlc.passes import PASSES, merge_subtrees_bulk
from emlc.passes.merge_subtrees import _merge_tree
from emlc.passes.merge_subtrees_bulk import merge_plain as _merge_plain
from emlc.passes.trees import dags, hashing, walk
from emlc.passes.trees.forest import Forest
from emlc.passes.trees.hashing import ContentClasses
from tests.fuzz.test_deep_trees import chain, rows
from tests.strategies import ensembles


def stump(i: int) -> Tree:
    return Tree.build(
        op=[Op.LE, Op.LEAF, Op.LEAF], feature=[i % 3, -1, -1], threshold=[0.5 * i, 0, 0],
        left=[1, -1, -1], right=[2, -1, -1], leaf=[-1, 2 * i, 2 * i + 1],
    )


def stumps(n_trees: int) -> Ensemble:
    """``n_trees`` stumps, each with its own two leaf rows (the table grows with the trees)."""
    return verify(Ensemble(
        n_features=3, task=Task.REGRESSION, trees=tuple(stump(i) for i in range(n_trees)),
        tree_output=np.zeros(n_trees, np.int32), leaves=np.arange(2.0 * n_trees)[:, None] % 7,
        n_outputs=1,
    ))


@pytest.mark.parametrize("name", ["fold_redundant_splits", "merge_subtrees"])
def test_leaf_table_classified_once_per_pass(name, monkeypatch):
    calls = []
    real = hashing.content_ids
    monkeypatch.setattr(hashing, "content_ids", lambda table: calls.append(table.shape) or real(table))
    ens = stumps(40)
    out = PASSES[name](ens)
    assert calls == [ens.leaves.shape, ens.cat_sets.shape]
    X = np.random.default_rng(0).uniform(-1, 25, size=(50, 3))
    np.testing.assert_array_equal(interpret(out, X), interpret(ens, X))


@pytest.mark.parametrize("name", ["fold_redundant_splits", "quantize_thresholds", "merge_subtrees"])
def test_deep_trees_leave_the_recursion_limit_alone(name):
    ens = chain().replace(input_type="int16")  # integer inputs: quantize_thresholds folds too
    limit = sys.getrecursionlimit()
    out = PASSES[name](ens)
    assert sys.getrecursionlimit() == limit
    X = rows()
    X[np.isnan(X)] = 0
    np.testing.assert_array_equal(interpret(out, X), interpret(ens, X))


@given(data=st.data())
def test_all_trees_at_once_merge_matches_the_walk(data):
    """Hash-consing every plain tree at once gives the per-tree walk's DAG exactly."""
    ens = data.draw(ensembles())
    classes = ContentClasses.of(ens)
    forest = Forest(ens)
    for tree, merged, plain in zip(ens.trees, _merge_plain(ens, forest, classes).trees(), forest.plain):
        assert (merged is not None) == plain
        if merged is not None:
            assert merged.same_as(_merge_tree(classes, tree))


def test_merge_with_colliding_hashes_falls_back_to_the_walk(monkeypatch):
    """Hashes stand for classes only after an exact check; a collision hands the trees to the walk."""
    ens = stumps(6)
    twins = Tree.build(
        op=[Op.LE, Op.LE, Op.LEAF, Op.LEAF, Op.LE, Op.LEAF, Op.LEAF], feature=[0, 1, -1, -1, 1, -1, -1],
        threshold=[1, 2, 0, 0, 2, 0, 0], left=[1, 2, -1, -1, 5, -1, -1], right=[4, 3, -1, -1, 6, -1, -1],
        leaf=[-1, -1, 0, 1, -1, 7, 8],  # rows 7 and 8 hold 0.0 and 1.0, as rows 0 and 1 do
    )
    ens = verify(ens.replace(trees=ens.trees + (twins,), tree_output=np.zeros(7, np.int32)))
    classes = ContentClasses.of(ens)
    expected = [_merge_tree(classes, t) for t in ens.trees]
    assert expected[-1].n_nodes == 3  # the root's two equal subtrees collapse into one
    assert all(m.same_as(e) for m, e in zip(_merge_plain(ens, Forest(ens), classes).trees(), expected))
    monkeypatch.setattr(merge_subtrees_bulk, "mix", lambda h, x: h & np.uint64(0))  # every class hashes to 0
    assert _merge_plain(ens, Forest(ens), classes).trees() == [None] * 7
    out = PASSES["merge_subtrees"](ens)
    assert all(m.same_as(e) for m, e in zip(out.trees, expected))


@given(data=st.data())
def test_all_trees_at_once_preorder_matches_the_walk(data):
    """Preorder numbers of every tree at once (DAGs through their expansion) are the walk's."""
    ens = data.draw(ensembles())
    number, found = dags.preorder_numbers(ens)
    start = 0
    for tree, ok in zip(ens.trees, found):
        if ok:
            order = walk.preorder(tree)
            assert number[start + np.array(order)].tolist() == list(range(tree.n_nodes))
        start += tree.n_nodes


@pytest.mark.parametrize("dtype,width", [("float64", 1), ("float32", 2), ("uint8", 3), ("int16", 2), ("float64", 3)])
def test_content_ids_compare_rows_bit_for_bit(dtype, width):
    """Rows read as one integer (up to 8 bytes) or as raw bytes: first equal row, -0.0 apart from 0.0."""
    rng = np.random.default_rng(width)
    table = rng.integers(0, 3, size=(200, width)).astype(dtype)
    if table.dtype.kind == "f":
        table[rng.random(table.shape) < 0.2] = -0.0
    ids = hashing.content_ids(table)
    bits = [row.tobytes() for row in table]
    first = {}
    expected = [first.setdefault(b, i) for i, b in enumerate(bits)]
    assert ids.tolist() == expected


@given(data=st.data())
def test_preorder_of_dags_matches_the_walk(data):
    """DAGs (made by merging) are renumbered through their expansion: each node at its first visit."""
    ens = data.draw(ensembles())
    dags = PASSES["merge_subtrees"](ens)
    out = PASSES["preorder_layout"](dags)
    assert all(a.same_as(walk.renumber(t, walk.preorder(t))) for a, t in zip(out.trees, dags.trees))


def test_content_ids_of_wide_rows_survive_hash_collisions(monkeypatch):
    table = np.array([[1.0, 2.0], [3.0, 4.0], [1.0, 2.0], [3.0, 4.0], [-0.0, 0.0], [0.0, 0.0]])
    assert hashing.content_ids(table).tolist() == [0, 1, 0, 1, 4, 5]
    monkeypatch.setattr(hashing, "mix", lambda h, x: h & np.uint64(0))  # every row hashes alike
    assert hashing.content_ids(table.copy()).tolist() == [0, 1, 0, 1, 4, 5]  # a new table: classified anew
