"""The bulk fold (emlc/passes/fold_redundant_splits_bulk.py) gives exactly the trees the
per-tree walk (``fold_tree``, the reference) builds, and :class:`Range`'s rules give the
same answers on arrays, as the bulk fold applies them, as on one node's values.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from emlc.ir import Op, Tree
from emlc.ir.verify import verify
from emlc.passes import PASSES
from emlc.passes.fold_redundant_splits import Range, fold_tree, input_ranges
from emlc.passes.fold_redundant_splits_bulk import _fold_plain
from emlc.passes.merge_subtrees_bulk import merge_plain as _merge_plain
from emlc.passes.trees.forest import Forest
from emlc.passes.trees.hashing import ContentClasses
from tests.passes.test_linear import stumps
from tests.strategies import ensembles

#: bounds and thresholds where the rules turn: equal values, integers and their neighbours, infinities, -0.0.
VALUES = [-np.inf, -3.0, -2.5, -1.0, -0.0, 0.0, 0.5, 1.0, 2.0, 2.5, np.inf, float(np.nextafter(1.0, 2.0))]


@st.composite
def ranges(draw) -> Range:
    lo, hi = sorted(draw(st.lists(st.sampled_from(VALUES), min_size=2, max_size=2)))
    b = st.booleans()
    return Range(lo, draw(b), hi, draw(b), draw(b), draw(b))


@given(cases=st.lists(st.tuples(ranges(), st.sampled_from([int(Op.LE), int(Op.LT), int(Op.CAT)]),
                                st.sampled_from(VALUES), st.booleans()), min_size=1, max_size=30))
def test_range_rules_on_arrays_equal_the_rules_on_one_node(cases) -> None:
    """:meth:`Range.decide` and :meth:`Range.split` elementwise over arrays (the bulk fold) give,
    entry by entry, what they give on one node's Python values (the walk)."""
    columns = [np.array(c) for c in zip(*(r for r, *_ in cases))]
    op, t, dl = (np.array(c) for c in zip(*((o, t, d) for _, o, t, d in cases)))
    many = Range(*columns)
    with np.errstate(invalid="ignore"):
        decided, go_left = many.decide(op, t, dl)
        left, right = many.split(op, t, dl)
    for i, (r, o, ti, di) in enumerate(cases):
        assert (decided[i], go_left[i]) == r.decide(o, ti, di)
        for got, want in zip((left, right), r.split(o, ti, di)):
            assert [repr(float(g[i])) for g in got] == [repr(float(w)) for w in want]


@pytest.mark.parametrize("kwargs", [{}, {"max_features": 1, "max_depth": 7, "categorical": False}])
@given(data=st.data(), int_input=st.booleans())
def test_all_trees_at_once_fold_matches_the_walk(kwargs, data, int_input):
    """Folding every plain tree at once gives the per-tree walk's tree exactly (one-feature
    models and integer inputs decide many splits)."""
    ens = data.draw(ensembles(**kwargs))
    if int_input and not ens.feature_ranks:
        ens = ens.replace(input_type="int8")
    classes, start, forest = ContentClasses.of(ens), input_ranges(ens), Forest(ens)
    for tree, folded, plain in zip(ens.trees, _fold_plain(ens, forest, classes, start).trees(), forest.plain):
        assert (folded is not None) == plain
        if folded is not None:
            assert folded.same_as(fold_tree(classes, start, tree))


def test_fold_finds_decided_and_redundant_splits():
    ens = stumps(4)
    implied = Tree.build(  # x0 <= 1 then x0 <= 2 (always true there)
        op=[Op.LE, Op.LE, Op.LEAF, Op.LEAF, Op.LEAF], feature=[0, 0, -1, -1, -1], threshold=[1, 2, 0, 0, 0],
        left=[1, 2, -1, -1, -1], right=[4, 3, -1, -1, -1], leaf=[-1, -1, 0, 1, 2],
    )
    twins = Tree.build(  # both children are leaves with equal rows (0 and 7 both hold 0.0)
        op=[Op.LE, Op.LEAF, Op.LEAF], feature=[1, -1, -1], threshold=[0, 0, 0],
        left=[1, -1, -1], right=[2, -1, -1], leaf=[-1, 0, 7],
    )
    ens = verify(ens.replace(trees=ens.trees + (implied, twins), tree_output=np.zeros(6, np.int32)))
    classes, start = ContentClasses.of(ens), input_ranges(ens)
    folded = _fold_plain(ens, Forest(ens), classes, start).trees()
    assert [t.n_nodes for t in folded] == [3, 3, 3, 3, 3, 1]
    assert folded[4].leaf.tolist() == [-1, 0, 2]  # the implied split's right leaf (row 1) is gone
    assert all(f.same_as(fold_tree(classes, start, t)) for f, t in zip(folded, ens.trees))
    merged = _merge_plain(ens, Forest(ens), ContentClasses.of(ens)).trees()
    assert [m.n_nodes for m in merged] == [3, 3, 3, 3, 5, 1]


@given(data=st.data())
def test_fold_of_dags_matches_the_walk(data):
    """DAGs (here made by merging) are folded through their expansion unless the walk would
    reuse a subtree it built in the same context; either way the result is the walk's."""
    ens = data.draw(ensembles(max_features=2, categorical=False))
    dags = PASSES["merge_subtrees"](ens)
    classes, start = ContentClasses.of(dags), input_ranges(dags)
    out = PASSES["fold_redundant_splits"](dags)
    assert all(a.same_as(fold_tree(classes, start, t)) for a, t in zip(out.trees, dags.trees))


def test_fold_leaves_memo_hits_to_the_walk():
    """A categorical split on an integer feature passes the same ranges to both children, so
    the walk meets the shared node 3 twice in one context and builds it once (a DAG)."""
    ens = stumps(2).replace(input_type="int8", cat_sets=np.array([[5]], dtype=np.uint32))
    shared = Tree.build(
        op=[Op.CAT, Op.LE, Op.CAT, Op.LE, Op.LEAF, Op.LEAF, Op.LEAF, Op.LEAF], feature=[0, 1, 0, 2, -1, -1, -1, -1],
        threshold=[0, 1000, 0, 0, 0, 0, 0, 0], left=[1, 3, 3, 5, -1, -1, -1, -1], right=[2, 4, 7, 6, -1, -1, -1, -1],
        leaf=[-1, -1, -1, -1, 0, 1, 2, 3], cat=[0, -1, 0, -1, -1, -1, -1, -1],
    )
    ens = verify(ens.replace(trees=ens.trees + (shared,), tree_output=np.zeros(3, np.int32)))
    classes, start = ContentClasses.of(ens), input_ranges(ens)
    expected = fold_tree(classes, start, shared)
    assert expected.n_nodes == 6  # x1 <= 1000 always holds on int8; node 3's copy is shared
    out = PASSES["fold_redundant_splits"](ens)
    assert out.trees[2].same_as(expected)
    assert all(a.same_as(fold_tree(classes, start, t)) for a, t in zip(out.trees, ens.trees))


def test_fold_with_colliding_hashes_falls_back_to_the_walk(monkeypatch):
    """A collapse claimed by equal hashes is checked subtree against subtree before it is trusted."""
    from emlc.passes import fold_redundant_splits_bulk as fold

    ens = stumps(2)
    siblings = Tree.build(  # x0 <= 1, then x1 <= 2 or x1 <= 3 over the same leaves: different subtrees
        op=[Op.LE, Op.LE, Op.LEAF, Op.LEAF, Op.LE, Op.LEAF, Op.LEAF], feature=[0, 1, -1, -1, 1, -1, -1],
        threshold=[1, 2, 0, 0, 3, 0, 0], left=[1, 2, -1, -1, 5, -1, -1], right=[4, 3, -1, -1, 6, -1, -1],
        leaf=[-1, -1, 0, 1, -1, 0, 1],
    )
    ens = verify(ens.replace(trees=ens.trees + (siblings,), tree_output=np.zeros(3, np.int32)))
    classes, start = ContentClasses.of(ens), input_ranges(ens)
    expected = [fold_tree(classes, start, t) for t in ens.trees]
    assert expected[-1].n_nodes == 7
    monkeypatch.setattr(fold, "mix", lambda h, x: h & np.uint64(0))  # every split hashes to 0
    assert _fold_plain(ens, Forest(ens), classes, start).trees() == [None] * 3
    out = PASSES["fold_redundant_splits"](ens)
    assert all(a.same_as(e) for a, e in zip(out.trees, expected))


