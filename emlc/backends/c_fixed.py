"""Integer fast path for a classifier's ``predict``: fixed-point leaf sums decide the
class when the winning margin provably survives every rounding, float sums otherwise.

On targets without an FPU a 10-class forest spends most of its time adding float leaf
rows and dividing by the tree count. ``predict`` only needs the index of the largest
output, so the C code first adds integer leaves ``q = round(x * 2**s)`` and only
when the top two integer sums are close falls back to the exact float path (the same
code ``predict_proba`` runs, from the same recorded leaf rows).

The margin rule and why it never disagrees with the interpreter: :mod:`.fixed_point`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir.ensemble import Ensemble
from ..targets import Target
from .c_common import smallest_int
from .fixed_point import eligible, fixed_point

__all__ = ["FixedPlan", "eligible", "plan"]

#: accumulator C type and its largest value per target word size.
_ACC = {8: ("int16_t", 32767), 16: ("int16_t", 32767)}
_ACC_WIDE = ("int32_t", 2**31 - 1)


@dataclass(frozen=True)
class FixedPlan:
    """Integer leaves ``q = round(x * 2**shift)``; decided when best - second > ``margin``."""

    shift: int
    leaves: np.ndarray  # int64 [rows, width]
    leaf_t: str
    acc_t: str
    init: np.ndarray  # int64 [n_outputs]
    margin: int


def plan(ens: Ensemble, target: Target, byte_leaves: bool = False) -> FixedPlan | None:
    """The fixed-point plan for ``ens`` on ``target``, or None when it cannot help.
    ``byte_leaves``: integer leaves that fit 8 bits (the size-minded table layout: half
    the table for a margin that grows from about 1/1000 to 1/100 of a tree's vote)."""
    acc_t, amax = _ACC.get(target.word_bits, _ACC_WIDE)
    signed = bool((np.asarray(ens.leaves) < 0).any()) or bool((np.asarray(ens.base_score) < 0).any())
    fx = fixed_point(ens, amax, (127 if signed else 255) if byte_leaves else None)
    if fx is None:
        return None
    q = fx.leaves
    return FixedPlan(fx.shift, q, smallest_int(int(q.min()), int(q.max())), acc_t, fx.init, fx.margin)
