"""``cluster_leaves``: the leaf table reduced to ``k`` representative rows (k-means).

The distinct leaf rows in use are clustered with k-means (scikit-learn, fixed seed,
each row weighted by the number of leaf nodes that use it plus, when given, how often
calibration rows reach it, so the leaves that decide real inputs keep their values
best); every leaf then points at its cluster's row: the weighted mean of the cluster's
members, rounded to the 8-bit power-of-two grid of :mod:`.quantize_leaves`
(:func:`~.quantize_leaves.on_grid`). The grid is what makes the clustered model cheap
to run exactly: its integer sums decide ``predict`` with no float sums (on AVR no
float64 step and no float64 table), and its values are bytes. With ``k`` at least the
number of distinct rows the distinct rows themselves are the table, so the pass is
exact. A table of at most 256 rows lets backends store the per-leaf row index in one
byte.

Error bound: every centre lies between the smallest and the largest value its
cluster's members hold in that column (a mean stays inside that interval), and the
grid moves it by at most half a step, ``max |v| / 510`` or less (and a SUM model's base
score by as much); so a value moves by at most its cluster's spread in that column
plus that half step.
"""

from __future__ import annotations

import warnings

import numpy as np

from ...errors import EmlcError
from ...extras import require
from ...ir.ensemble import Ensemble, Op
from ..trees.hashing import content_ids
from ..trees.tables import remap_leaves
from .quantize_leaves import on_grid

#: k-means restarts; small because leaf tables are small and the seed is fixed.
N_INIT = 3
#: bits of the grid cluster centres are rounded to (one byte per value)
CENTRE_BITS = 8


def _distinct_used(ens: Ensemble) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(distinct used rows, use count of each, distinct index of every table row or -1)."""
    canon = content_ids(ens.leaves)
    uses = np.concatenate([canon[t.leaf[t.op == Op.LEAF]] for t in ens.trees])
    rows, counts = np.unique(uses, return_counts=True)
    index = np.full(ens.leaves.shape[0], -1, dtype=np.int64)
    index[rows] = np.arange(rows.size)
    return rows, counts, index[canon]


def distinct_leaf_rows(ens: Ensemble) -> int:
    """Number of distinct leaf rows the trees use: the smallest lossless ``k``."""
    return int(_distinct_used(ens)[0].size)


def cluster_leaves(ens: Ensemble, k: int, weights: np.ndarray | None = None, random_state: int = 0) -> Ensemble:
    """The ensemble with at most ``k`` leaf rows (exact when ``k >= distinct_leaf_rows``).

    ``weights`` (one non-negative number per leaf-table row, e.g. calibration hits)
    adds to each row's weight in the k-means objective.
    """
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise EmlcError(f"the number of leaf clusters must be a positive integer, got {k!r}")
    rows, counts, member = _distinct_used(ens)
    if k >= rows.size:
        return remap_leaves(ens, np.maximum(member, 0), ens.leaves[rows])
    KMeans = require("sklearn.cluster", "leaf clustering (k-means)").KMeans

    values = ens.leaf_values()[rows]
    weight = counts.astype(np.float64)
    if weights is not None:
        np.add.at(weight, member[member >= 0], np.asarray(weights, dtype=np.float64)[member >= 0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        labels = KMeans(n_clusters=int(k), random_state=random_state, n_init=N_INIT).fit(
            values, sample_weight=weight
        ).labels_
    used, labels = np.unique(labels, return_inverse=True)
    mass = np.zeros((used.size, 1))
    np.add.at(mass, labels, weight[:, None])
    total = np.zeros((used.size, ens.leaf_width))
    np.add.at(total, labels, values * weight[:, None])
    lo = np.full_like(total, np.inf)
    hi = np.full_like(total, -np.inf)
    np.minimum.at(lo, labels, values)
    np.maximum.at(hi, labels, values)
    centres = np.clip(total / mass, lo, hi)
    gridded = on_grid(ens, centres, CENTRE_BITS)
    return remap_leaves(gridded, labels[np.maximum(member, 0)], gridded.leaves)


def leaves_per_class(ens: Ensemble, n: int, weights: np.ndarray | None = None) -> Ensemble:
    """``cluster_leaves`` with ``n`` rows per class, the knob the literature tunes."""
    if ens.n_classes == 0:
        raise EmlcError(
            "leaves per class needs a classifier; for a regression model use a total count (--leaf-clusters K)"
        )
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise EmlcError(f"leaves per class must be a positive integer, got {n!r}")
    return cluster_leaves(ens, int(n) * ens.n_classes, weights)


def leaves_per_class_2(ens: Ensemble) -> Ensemble:
    """Registry entry: two leaf rows per class, enough for most published datasets."""
    return leaves_per_class(ens, 2)
