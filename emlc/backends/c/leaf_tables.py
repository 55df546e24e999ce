"""The leaf tables the sums read, each declared once where first read: nonzero entries
row by row (sparse), leaf values as byte counts where a division rebuilds them exactly,
and the first output column of each tree."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np

from ...ir.ensemble import Aggregation, Ensemble
from .common import smallest_int

if TYPE_CHECKING:
    from .model import Model


def count_table(m: Model, counts: np.ndarray) -> tuple[str, str, str]:
    """(count type, table, row-total type) of :meth:`rational_leaves` counts, nonzero entries
    row by row: one table for the float sums and the binary64 ones (soft64)."""
    def make() -> tuple[str, str, str]:
        ct = smallest_int(0, int(counts.max()), signed=False)
        nt = smallest_int(0, int(counts.sum(axis=1).max()), signed=False)
        nz = np.asarray(m.ens.leaves) != 0
        cnt = m.tables.add("lcount", ct, counts[nz], note="leaf values as counts: value = count / row total")
        return ct, cnt, nt

    return m.once("lcount", make)


def sparse_pattern(m: Model) -> tuple[str, str, str, str]:
    """(start type, start table, column type, column table) of the leaf table's nonzero
    entries, row by row: shared by the float sums and the fixed-point fast path."""
    def make() -> tuple[str, str, str, str]:
        nz = np.asarray(m.ens.leaves) != 0
        starts = np.concatenate([[0], np.cumsum(nz.sum(axis=1))])
        st_t = smallest_int(0, int(starts[-1]), signed=False)
        col_t = smallest_int(0, max(m.ens.leaf_width - 1, 0), signed=False)
        start = m.tables.add("lstart", st_t, starts, note="first nonzero entry of each leaf row")
        cols = np.nonzero(nz)[1] if nz.any() else np.zeros(1, dtype=np.int64)
        return st_t, start, col_t, m.tables.add("lcol", col_t, cols, note="output column of each entry")

    return m.once("sparse", make)


def rational_leaves(m: Model, lt: str) -> np.ndarray | None:
    """:func:`rational_counts` of the model's leaves."""
    return rational_counts(m.ens, lt)


def rational_counts(ens: Ensemble, lt: str) -> np.ndarray | None:
    """Integer counts ``c`` [rows, width] with every leaf value exactly ``c / sum(row c)``
    in the C sums' precision (scikit-learn forests: class fractions of a leaf's samples),
    or None. A correctly rounded division then rebuilds each value, so a count table of
    bytes replaces one of floats."""
    leaves = np.asarray(ens.leaves, dtype=np.float64)
    uniq = np.unique(leaves[leaves != 0])
    if uniq.size == 0 or uniq.size > 1 << 16 or (uniq < 0).any():
        return None
    den = {}
    for u in uniq.tolist():
        fr = Fraction(u).limit_denominator(65535)
        if float(fr) != u:
            return None
        den[u] = fr.denominator
    totals = np.array([math.lcm(1, *(den[v] for v in row if v)) for row in leaves.tolist()],
                      dtype=np.int64)
    if totals.max() > 65535:
        return None
    counts = np.rint(leaves * totals[:, None]).astype(np.int64)
    if (counts.sum(axis=1) != totals).any():
        return None
    typ = np.float32 if lt == "float" else np.float64
    rebuilt = counts.astype(typ) / totals[:, None].astype(typ)
    return counts if np.array_equal(rebuilt, leaves.astype(typ)) else None


def zeros_skippable(ens: Ensemble, raw_dtype: str) -> bool:
    """May the sums skip zero leaf entries? Adding +0 changes a float sum only when it is
    -0, which needs a -0 base score to start from (integer sums start at 0 and take the
    base after scaling)."""
    base = np.asarray(ens.base_score, dtype=np.float64).astype(raw_dtype)
    return not (ens.aggregation is Aggregation.SUM and bool(((base == 0) & np.signbit(base)).any()))


def sparse_exact(m: Model, lt: str) -> bool:
    """Store leaves sparsely (zeros skipped)? Only when smaller, and exact
    (:func:`zeros_skippable`)."""
    ens = m.ens
    leaves = np.asarray(ens.leaves)
    if leaves.dtype.kind not in "fiu" or ens.leaf_width < 2 or not zeros_skippable(ens, m.raw_dtype):
        return False
    nnz = int(np.count_nonzero(leaves))
    lsize = m.tables.elem_size(lt)
    sparse = (leaves.shape[0] + 1) * 2 + nnz * (lsize + 1)
    return sparse < leaves.size * lsize


def tree_offset(m: Model, t: str) -> str:
    """C expression of the first output column of tree ``t`` (a flash table if any is nonzero)."""
    def make() -> tuple[str, str]:
        outs = np.asarray(m.ens.tree_output, dtype=np.int64)
        if not outs.any():
            return "", ""
        ot = smallest_int(0, int(outs.max()), signed=False)
        return ot, m.tables.add("out", ot, outs, note="first output column of each tree")

    ot, table = m.once("out", make)  # every tree's sink asks
    return f"(uint16_t){m.tables.read(ot, table, t)}" if table else "0u"

