"""Trees cut from whole-ensemble node columns are views of them, with the columns as the cache."""

from __future__ import annotations

import numpy as np
from hypothesis import given

from emlc.ir import Tree
from emlc.ir.verify import verify
from tests.strategies import ensembles


@given(ensembles())
def test_cut_trees_are_views_of_the_columns(ens):
    cols = {c: ens.column(c).copy() for c in Tree.COLUMNS}
    sizes = ens.node_counts().tolist()
    trees = Tree.cut(cols, sizes)
    assert all(a.same_as(b) for a, b in zip(trees, ens.trees))
    assert all(np.shares_memory(t.op, cols["op"]) for t in trees)
    out = ens.with_node_columns(cols, sizes, tuple(trees))
    assert out.trees == tuple(trees) and out.cut_from_columns
    assert np.array_equal(out.column("threshold"), cols["threshold"])
    verify(out)
