"""tree_ranges: per tree and output, the least and most a tree can add (the exit bounds' base)."""

from __future__ import annotations

import numpy as np
from hypothesis import given

from emlc.ir import Op
from emlc.ir.ranges import tree_ranges
from tests.strategies import ensembles


@given(ensembles())
def test_tree_ranges_are_each_trees_leaf_rows_min_and_max(ens):
    lo, hi = tree_ranges(ens, ens.leaves)
    for t, tree in enumerate(ens.trees):
        rows = ens.leaves[tree.leaf[tree.op == Op.LEAF]].astype(np.float64)
        cols = int(ens.tree_output[t]) + np.arange(ens.leaf_width)
        expect_lo = np.zeros(ens.n_outputs)
        expect_hi = np.zeros(ens.n_outputs)
        expect_lo[cols], expect_hi[cols] = rows.min(axis=0), rows.max(axis=0)
        np.testing.assert_array_equal(lo[t], expect_lo)
        np.testing.assert_array_equal(hi[t], expect_hi)


def test_integer_tables_keep_integer_ranges():
    from tests.passes.test_golden import stump_forest

    ens = stump_forest()
    lo, hi = tree_ranges(ens, (ens.leaves * 10).astype(np.int16))
    assert lo.dtype == np.int64 and hi.dtype == np.int64
    assert lo[:, 0].tolist() == [0, 4, 4] and hi[:, 0].tolist() == [10, 6, 6]
