"""``quantize_leaves``: leaf values as 8- or 4-bit integers on one power-of-two grid.

Every leaf value ``v`` becomes ``q = round(v / s)`` with one scale ``s = 2**e`` for the
whole table, the smallest power of two with ``max |v| / s <= qmax``; the table is uint8
when no value is negative (``qmax`` 255 for 8 bits, 15 for 4) and int8 otherwise
(``qmax`` 127 or 7; a 4-bit table uses -7..7 of the int8 range -8..7). A SUM model's
base score is rounded to the same grid. The IR adds integer tables exactly in int64 and
scales at the end, so the only error is the rounding here; and because the grid is a
power of two shared by every column, the integer sums order exactly as the outputs do:
backends decide ``predict`` from them alone, with no float sums and no float64 step
(:func:`emlc.backends.fixed_point.grid_plan`). :mod:`.cluster_leaves` puts its centres on
the same grid (:func:`on_grid`), so both passes make tables that cost less than exact ones.

Error bound: ``|q * s - v| <= s / 2 < max |v| / qmax`` for every leaf value (and the base
of a SUM model), so a SUM of ``n`` trees moves each raw output by at most
``(n + 1) * s / 2`` and a MEAN by at most ``s / 2``. An all-zero table gets scale 1 and
no error.
"""

from __future__ import annotations

import math

import numpy as np

from ...errors import EmlcError
from ...ir.ensemble import Aggregation, Ensemble

BITS = (8, 4)


def leaf_qmax(bits: int, unsigned: bool) -> int:
    """Largest stored magnitude for a table of ``bits``-bit leaves."""
    return (1 << bits) - 1 if unsigned else (1 << (bits - 1)) - 1


def on_grid(ens: Ensemble, values: np.ndarray, bits: int) -> Ensemble:
    """``ens`` with leaf table ``values`` (float64, one row per table row) rounded to the
    ``bits``-bit power-of-two grid, its SUM base score with it."""
    unsigned = bool((values >= 0).all())
    qmax = leaf_qmax(bits, unsigned)
    peak = float(np.abs(values).max()) if values.size else 0.0
    scale = math.ldexp(1.0, math.ceil(math.log2(peak / qmax))) if peak > 0 else 1.0
    q = np.clip(np.rint(values / scale), 0 if unsigned else -qmax, qmax)
    base = np.asarray(ens.base_score, dtype=np.float64)
    if ens.aggregation is Aggregation.SUM:
        base = np.rint(base / scale) * scale
    return ens.replace(leaves=q.astype(np.uint8 if unsigned else np.int8),
                       leaf_scale=np.full(ens.leaf_width, scale), base_score=base)


def quantize_leaves(ens: Ensemble, bits: int = 8) -> Ensemble:
    """The ensemble with an int8/uint8 leaf table and one power-of-two ``leaf_scale``
    (error <= scale / 2)."""
    if bits not in BITS:
        raise EmlcError(f"leaf bits must be 8 or 4, got {bits!r} (use --leaf-bits 8 or --leaf-bits 4)")
    return on_grid(ens, ens.leaf_values(), bits)


def quantize_leaves_8(ens: Ensemble) -> Ensemble:
    """Registry entry: 8-bit leaves."""
    return quantize_leaves(ens, 8)


def quantize_leaves_4(ens: Ensemble) -> Ensemble:
    """Registry entry: 4-bit leaves."""
    return quantize_leaves(ens, 4)
