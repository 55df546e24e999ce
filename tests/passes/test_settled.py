"""Passes rebuild only the trees they change: settled trees come back as the same objects.

A tree is settled when it is plain, numbered in preorder and normalised (what every
rebuild returns); fold, merge and the preorder layout keep such a tree when they have
nothing to do in it and rebuild the others together. Either way each tree must be
exactly what the per-tree walk makes of it.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from emlc.ir import Ensemble, Op, Tree
from emlc.ir.verify import verify
from emlc.passes import PASSES
from emlc.passes.fold_redundant_splits import fold_tree, input_ranges
from emlc.passes.merge_subtrees import _merge_tree
from emlc.passes.trees import forest
from emlc.passes.trees.hashing import ContentClasses, content_ids
from emlc.passes.trees.walk import preorder, renumber
from tests.passes.test_linear import stumps
from tests.strategies import ensembles


def shuffled(tree: Tree, rng: np.random.Generator) -> Tree:
    """The same tree with its nodes other than the root in a random order."""
    order = np.concatenate([[0], 1 + rng.permutation(tree.n_nodes - 1)])
    return renumber(tree, order.tolist())


def mixed(ens: Ensemble, seed: int) -> Ensemble:
    """``ens`` with about half its trees shuffled out of preorder."""
    rng = np.random.default_rng(seed)
    return ens.replace(trees=tuple(shuffled(t, rng) if rng.random() < 0.5 else t for t in ens.trees))


@given(data=st.data(), seed=st.integers(0, 2**32 - 1), int_input=st.booleans())
def test_fold_rebuilds_some_trees_as_the_walk_does(data, seed, int_input):
    ens = data.draw(ensembles())
    if int_input and not ens.feature_ranks:
        ens = ens.replace(input_type="int8")
    ens = verify(mixed(ens, seed))
    classes, start = ContentClasses.of(ens), input_ranges(ens)
    out = PASSES["fold_redundant_splits"](ens)
    assert all(a.same_as(fold_tree(classes, start, t)) for a, t in zip(out.trees, ens.trees))


@given(data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_merge_rebuilds_some_trees_as_the_walk_does(data, seed):
    ens = verify(mixed(data.draw(ensembles()), seed))
    classes = ContentClasses.of(ens)
    out = PASSES["merge_subtrees"](ens)
    assert all(a.same_as(_merge_tree(classes, t)) for a, t in zip(out.trees, ens.trees))


@given(data=st.data(), seed=st.integers(0, 2**32 - 1), merge=st.booleans())
def test_preorder_renumbers_plain_trees_and_dags_as_the_walk_does(data, seed, merge):
    ens = data.draw(ensembles())
    if merge:
        ens = PASSES["merge_subtrees"](ens)  # DAGs, then out of preorder
    ens = verify(mixed(ens, seed))
    out = PASSES["preorder_layout"](ens)
    for a, t in zip(out.trees, ens.trees):
        order = preorder(t)
        assert a.same_as(renumber(t, order))
        if order == list(range(t.n_nodes)):
            assert a is t


def test_settled_trees_with_nothing_to_do_are_kept():
    ens = stumps(5)
    for name in ("preorder_layout", "fold_redundant_splits", "merge_subtrees", "preorder_layout"):
        assert PASSES[name](ens) is ens
    implied = Tree.build(  # x0 <= 1 then x0 <= 2 (always true there): folds
        op=[Op.LE, Op.LE, Op.LEAF, Op.LEAF, Op.LEAF], feature=[0, 0, -1, -1, -1], threshold=[1, 2, 0, 0, 0],
        left=[1, 2, -1, -1, -1], right=[4, 3, -1, -1, -1], leaf=[-1, -1, 0, 1, 2],
    )
    twins = Tree.build(  # equal leaf rows 0 and 7 (both 0.0): merges
        op=[Op.LE, Op.LE, Op.LEAF, Op.LEAF, Op.LEAF], feature=[1, 0, -1, -1, -1], threshold=[0, 5, 0, 0, 0],
        left=[1, 2, -1, -1, -1], right=[4, 3, -1, -1, -1], leaf=[-1, -1, 0, 3, 7],
    )
    loose = stumps(1).trees[0].replace(threshold=np.array([0.5, -0.0, 0.0]))  # a leaf's threshold bits
    ens = verify(ens.replace(trees=ens.trees + (implied, twins, loose), tree_output=np.zeros(8, np.int32)))
    for name, changed in (("fold_redundant_splits", {5, 7}), ("merge_subtrees", {6, 7})):
        out = PASSES[name](ens)
        assert {i for i, (a, b) in enumerate(zip(out.trees, ens.trees)) if a is not b} == changed
    assert PASSES["fold_redundant_splits"](ens).trees[5].n_nodes == 3
    assert PASSES["merge_subtrees"](ens).trees[6].n_nodes == 4
    assert PASSES["merge_subtrees"](ens).trees[7].threshold.tolist() == [0.5, 0.0, 0.0]


def test_settled_needs_preorder_and_normalised_leaves():
    ens = stumps(3)
    t = ens.trees[0]
    swapped = renumber(t, [0, 2, 1])
    dl = t.replace(default_left=np.array([False, True, False]))
    feature = t.replace(feature=np.array([0, 2, -1], dtype=np.int32))
    ens = ens.replace(trees=(swapped, dl, feature, t))
    ens = ens.replace(tree_output=np.zeros(4, np.int32))
    assert forest.settled(forest.Forest(ens), ens).tolist() == [False, False, False, True]


@given(data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_trees_marked_in_preorder_are(data, seed):
    """Every pass's trees that say they are in preorder are (the layout skips them)."""
    ens = data.draw(ensembles())
    if data.draw(st.booleans()):
        ens = ens.replace(input_type="int8") if not ens.feature_ranks else ens
    ens = verify(mixed(ens, seed))
    for name in ("prune_dead", "fold_redundant_splits", "quantize_thresholds", "rank_features",
                 "merge_subtrees", "dedup_leaves", "narrow_types", "preorder_layout"):
        ens = verify(PASSES[name](ens))
        for t in ens.trees:
            if t.in_preorder:
                assert preorder(t) == list(range(t.n_nodes)), name
        marked = [i for i, t in enumerate(ens.trees) if forest.marked_settled(t)]
        if marked:  # the marks agree with the check on unmarked copies
            fresh = ens.replace(trees=tuple(Tree(**{c: getattr(t, c) for c in Tree.COLUMNS}) for t in ens.trees))
            assert forest.settled(forest.Forest(fresh), fresh)[marked].all(), name
    assert all(t.in_preorder for t in ens.trees)


def test_content_ids_are_remembered_for_the_same_table_only():
    table = np.array([[1.0], [2.0], [1.0]])
    ids = content_ids(table)
    assert ids.tolist() == [0, 1, 0] and content_ids(table) is ids
    assert not ids.flags.writeable
    other = table.copy()
    other[2, 0] = 3.0
    assert content_ids(other).tolist() == [0, 1, 2]
