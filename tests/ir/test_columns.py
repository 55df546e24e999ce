"""``Ensemble.column``: every tree's nodes back to back, computed once, never written, never pickled."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
from hypothesis import given

from emlc.ir import Tree
from tests.strategies import ensembles


@given(ensembles())
def test_column_is_the_trees_back_to_back(ens):
    for name in Tree.COLUMNS:
        col = ens.column(name)
        assert col is ens.column(name)  # cached
        assert np.array_equal(col, np.concatenate([getattr(t, name) for t in ens.trees]))
        assert col.dtype == getattr(ens.trees[0], name).dtype
        with pytest.raises(ValueError):
            col[:1] = col[:1]  # read-only: a pass cannot corrupt what the next one reads


@given(ensembles())
def test_copies_and_pickles_leave_the_cache_out(ens):
    ens.column("op")
    for other in (pickle.loads(pickle.dumps(ens)), copy.copy(ens)):
        assert "_columns" not in vars(other)
        assert np.array_equal(other.column("op"), ens.column("op"))
    more = ens.replace(trees=ens.trees + ens.trees[:1])  # other trees: a cache of its own
    assert "_columns" not in vars(more) and more.column("op").size == ens.column("op").size + ens.trees[0].n_nodes
    assert len(pickle.dumps(ens)) == len(pickle.dumps(pickle.loads(pickle.dumps(ens))))


@given(ensembles())
def test_same_trees_share_the_cache(ens):
    op = ens.column("op")
    assert ens.replace(name="other").column("op") is op
    assert ens.replace(trees=tuple(ens.trees)).column("op") is op


@given(ensembles())
def test_trees_cut_from_columns_are_their_cache(ens):
    cols = {c: np.concatenate([getattr(t, c) for t in ens.trees]) for c in Tree.COLUMNS}
    out = ens.with_node_columns(cols, [t.n_nodes for t in ens.trees])
    assert out.same_as(ens)
    for c in Tree.COLUMNS:
        assert np.shares_memory(out.column(c), cols[c]) and not out.column(c).flags.writeable


@given(ensembles())
def test_trees_cut_from_columns_are_verified_by_their_columns(ens):
    """The verifier checks a cut ensemble's layout on its columns, with the per-tree messages."""
    from emlc.errors import IRError
    from emlc.ir.verify import verify

    sizes = [t.n_nodes for t in ens.trees]
    cols = {c: np.concatenate([getattr(t, c) for t in ens.trees]) for c in Tree.COLUMNS}
    cut = ens.with_node_columns(cols, sizes)
    assert cut.cut_from_columns and not ens.replace(trees=tuple(cut.trees)).cut_from_columns
    verify(cut)
    bad = ens.with_node_columns({**cols, "left": cols["left"].astype(np.int64)}, sizes)
    with pytest.raises(IRError) as cut_error:
        verify(bad)
    with pytest.raises(IRError) as tree_error:
        verify(ens.replace(trees=tuple(bad.trees)))
    assert str(cut_error.value) == str(tree_error.value) == "tree 0: column left has dtype int64, expected int32"


@given(ensembles())
def test_node_counts_are_cached_per_tree_sizes(ens):
    counts = ens.node_counts()
    assert counts.tolist() == [t.n_nodes for t in ens.trees] and counts is ens.node_counts()
    assert not counts.flags.writeable and ens.n_nodes == sum(t.n_nodes for t in ens.trees)
    cut = ens.with_node_columns({c: ens.column(c) for c in Tree.COLUMNS}, counts.tolist())
    assert cut.node_counts().tolist() == counts.tolist()
