"""``dedup_leaves``: one leaf-table row per distinct row content across the ensemble.

Rows are compared bit for bit (so ``-0.0`` and ``0.0`` stay apart), every leaf is
pointed at the surviving copy and rows no leaf uses are dropped; surviving rows
keep the order of their first use in tree order. Lossless: each leaf still adds the
same numbers to the same outputs.
"""

from __future__ import annotations

import numpy as np

from ..ir.ensemble import Ensemble
from .trees.hashing import content_ids, in_rank_order
from .trees.tables import remap_leaves, used_leaves


def dedup_leaves(ens: Ensemble) -> Ensemble:
    """Leaf table reduced to its distinct used rows, in order of first use."""
    canon = content_ids(ens.leaves)
    uses = canon[used_leaves(ens)]
    first = np.full(canon.size, uses.size, dtype=np.int64)
    np.minimum.at(first, uses, np.arange(uses.size))
    used = np.flatnonzero(first < uses.size)
    kept = in_rank_order(first[used], used, uses.size)
    if kept.size == canon.size and (kept == np.arange(kept.size)).all():
        return ens  # every row distinct, used and in order of first use already
    new_of_canon = np.full(ens.leaves.shape[0], -1, dtype=np.int64)
    new_of_canon[kept] = np.arange(kept.size)
    return remap_leaves(ens, new_of_canon[canon], ens.leaves[kept])
