"""Integer fast path for a classifier's ``predict``: fixed-point leaf sums decide the
class when the winning margin provably survives every rounding, float sums otherwise.

On targets without an FPU a 10-class forest spends most of its time adding float leaf
rows and dividing by the tree count. ``predict`` only needs the index of the largest
output, so the C code first adds integer leaves ``q = round(x * 2**s)`` and only
when the top two integer sums are close falls back to the exact float path (the same
code ``predict_proba`` runs, from the same recorded leaf rows).

The margin rule and why it never disagrees with the interpreter: :mod:`.fixed_point`.
Integer tables on one power-of-two grid (the lossy leaf passes') get its exact plan:
the sums decide every row and predict has no float fallback.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...ir.ensemble import Ensemble
from ...targets import Target
from .common import C_INT, smallest_int
from ..fixed_point import FixedPoint, eligible, fixed_point, grid_plan, trees_per_output, with_leaves

__all__ = ["FixedPlan", "derived", "eligible", "plan", "quick_plan"]

#: accumulator C type and its largest value per target word size.
_ACC = {8: ("int16_t", 32767), 16: ("int16_t", 32767)}
_ACC_WIDE = ("int32_t", 2**31 - 1)


@dataclass(frozen=True)
class FixedPlan(FixedPoint):
    """A :class:`FixedPoint` plan with the C types of its leaves and sums."""

    leaf_t: str = "int16_t"
    acc_t: str = "int16_t"


def plan(ens: Ensemble, target: Target, byte_leaves: bool = False) -> FixedPlan | None:
    """The fixed-point plan for ``ens`` on ``target``, or None when it cannot help (an
    integer table on its grid: the exact plan, 32-bit sums when 16 bits are too few).
    ``byte_leaves``: integer leaves that fit 8 bits (the size-minded table layout: half
    the table for a margin that grows from about 1/1000 to 1/100 of a tree's vote)."""
    acc_t, amax = _ACC.get(target.word_bits, _ACC_WIDE)
    signed = bool((np.asarray(ens.leaves) < 0).any()) or bool((np.asarray(ens.base_score) < 0).any())
    fx = fixed_point(ens, amax, (127 if signed else 255) if byte_leaves else None)
    if fx is None and (acc_t, amax) != _ACC_WIDE:  # an integer table's sums may need 32 bits
        acc_t, amax = _ACC_WIDE
        fx = grid_plan(ens, amax)
    if fx is None:
        return None
    q = fx.leaves
    leaf_t = C_INT[str(ens.leaves.dtype)] if fx.exact else smallest_int(int(q.min()), int(q.max()))
    return FixedPlan(fx.scale, q, fx.init, fx.margin, leaf_t, acc_t)


def derived(ens: Ensemble, fx: FixedPlan, leaves: np.ndarray) -> FixedPlan | None:
    """Plan ``fx`` (of :func:`plan`) with the integer ``leaves`` the C code computes itself
    (from leaf counts: :mod:`.leaf_records`), its margin widened for their error; None
    when they do not fit its sums."""
    amax = next(top for t, top in (*_ACC.values(), _ACC_WIDE) if t == fx.acc_t)
    got = with_leaves(ens, fx, leaves, amax)
    if got is None:
        return None
    q = got.leaves
    return FixedPlan(got.scale, q, got.init, got.margin, smallest_int(int(q.min()), int(q.max())), fx.acc_t)


#: the byte pass must decide all but rows whose top two classes are within this share of
#: the largest sum a class can reach. It costs about 2/3 of the 16-bit walk, so it pays
#: while fewer than a third of the rows fall through (digits forests: 10x6 13 of 240 and
#: 3% of rows, 30x6 33 of 210 and 8%, 50x5 53 of 200 and 25%: left out).
QUICK_MARGIN_SHARE = 1 / 5


def quick_plan(ens: Ensemble, target: Target) -> FixedPlan | None:
    """Byte class sums for a first pass on 8-bit targets, or None when they would leave
    too many rows undecided. One register per class instead of two: adds and compares
    take half the instructions and the walk saves half the registers; the rows it cannot
    decide go on to the 16-bit pass (:func:`plan`), which records the leaf rows."""
    if target.word_bits != 8:
        return None
    fx = fixed_point(ens, 255, nonnegative=True)
    if fx is None:
        return None
    q = fx.leaves
    reach = int((fx.init + trees_per_output(ens) * int(q.max())).max())
    if fx.margin > QUICK_MARGIN_SHARE * reach:
        return None
    return FixedPlan(fx.scale, q, fx.init, fx.margin, smallest_int(int(q.min()), int(q.max()), signed=False), "uint8_t")
