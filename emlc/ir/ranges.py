"""What each tree can add to each output: the bounds exact early exits and fixed-point plans rest on.

An IR query (no rewrite), so the pass that proves an exit and the backends that emit it
(C's fixed-point exits read the same ranges on integer leaf tables) share one statement.
"""

from __future__ import annotations

import numpy as np

from .ensemble import Ensemble, Op


def tree_ranges(ens: Ensemble, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per tree and output, min and max of what the tree can add (0 where it adds nothing).

    ``values`` is any leaf table aligned with ``ens.leaves`` (float values, or the C
    backend's fixed-point integers); the ranges keep its dtype kind.
    """
    dtype = np.int64 if values.dtype.kind in "iu" else np.float64
    lo = np.zeros((ens.n_trees, ens.n_outputs), dtype=dtype)
    hi = np.zeros((ens.n_trees, ens.n_outputs), dtype=dtype)
    # Every tree's leaf rows back to back (each tree has one), reduced per tree at once.
    op, leaf = ens.column("op"), ens.column("leaf")
    is_leaf = op == Op.LEAF
    sizes = ens.node_counts()
    counts = np.add.reduceat(is_leaf, np.cumsum(sizes) - sizes)
    rows = values[leaf[is_leaf]].astype(dtype)
    starts = np.cumsum(counts) - counts
    cols = np.asarray(ens.tree_output, dtype=np.int64)[:, None] + np.arange(ens.leaf_width)
    trees = np.arange(ens.n_trees)[:, None]
    lo[trees, cols] = np.minimum.reduceat(rows, starts, axis=0)
    hi[trees, cols] = np.maximum.reduceat(rows, starts, axis=0)
    return lo, hi
