"""``quantize_leaves``: leaf values as 8- or 4-bit integers times a per-column scale.

Every leaf value ``v`` of column ``j`` becomes ``q = round(v / s_j)`` with
``s_j = max |v_.j| / qmax`` (one scale per output column, or one for the whole table
with ``per_column=False``), stored in a uint8 table when no value is negative
(``qmax`` 255 for 8 bits, 15 for 4) and in an int8 table otherwise (``qmax`` 127 or 7;
a 4-bit table uses -7..7 of the int8 range -8..7). The IR adds integer tables
exactly in int64 and scales at the end, so the only error is the rounding here.

Error bound: ``|q * s_j - v| <= s_j / 2`` for every leaf value (up to one float64
rounding of the product), so a SUM of ``n`` trees moves each raw output by at most
``n * s_j / 2`` and a MEAN by at most ``s_j / 2``. An all-zero column gets scale 1 and
no error.
"""

from __future__ import annotations

import numpy as np

from ...errors import EmlcError
from ...ir.ensemble import Ensemble

BITS = (8, 4)


def leaf_qmax(bits: int, unsigned: bool) -> int:
    """Largest stored magnitude for a table of ``bits``-bit leaves."""
    return (1 << bits) - 1 if unsigned else (1 << (bits - 1)) - 1


def quantize_leaves(ens: Ensemble, bits: int = 8, per_column: bool = True) -> Ensemble:
    """The ensemble with an int8/uint8 leaf table and ``leaf_scale`` (error <= scale / 2)."""
    if bits not in BITS:
        raise EmlcError(f"leaf bits must be 8 or 4, got {bits!r} (use --leaf-bits 8 or --leaf-bits 4)")
    values = ens.leaf_values()
    unsigned = bool((values >= 0).all())
    qmax = leaf_qmax(bits, unsigned)
    peak = np.abs(values).max(axis=0)
    if not per_column:
        peak = np.full_like(peak, peak.max())
    scale = np.where(peak > 0, peak / qmax, 1.0)
    q = np.clip(np.rint(values / scale), 0 if unsigned else -qmax, qmax)
    return ens.replace(leaves=q.astype(np.uint8 if unsigned else np.int8), leaf_scale=scale)


def quantize_leaves_8(ens: Ensemble) -> Ensemble:
    """Registry entry: 8-bit leaves, one scale per column."""
    return quantize_leaves(ens, 8)


def quantize_leaves_4(ens: Ensemble) -> Ensemble:
    """Registry entry: 4-bit leaves, one scale per column."""
    return quantize_leaves(ens, 4)
