"""``early_exit``: exact early-exit check points for classifiers.

At every round of trees (``n_outputs // leaf_width`` trees, one per class for
one-tree-per-class boosting, else one tree) the pass records bounds that let a
predict stop once the trees not yet evaluated cannot change the class (semantics in
:class:`emlc.ir.EarlyExit`). Trees are never reordered, so results of the full
evaluation are unchanged; the pass only adds the annotation.

Why the bounds are safe. Let ``acc`` be the accumulator after ``k`` trees and
``F(acc_final)`` the margin the decision reads. Each remaining tree adds one of its
reachable leaf values, so the exact remaining sum per output lies in
``[rmin, rmax]`` (sums of per-tree minima and maxima). Float accumulation of the
remaining ``n - k`` trees errs by at most ``(n - k) * u * M`` (unit roundoff ``u`` of
the accumulator, ``M`` a bound on every partial sum's magnitude); the post-processing
(integer scaling, MEAN's division, adding the base score) by a few ``u`` relative to
its operands. The bounds widen ``rmin``/``rmax`` by twice those errors, then
translate "the final margin of class ``c`` exceeds every other one" (several
outputs) or "the margin is on one side of the cut" (one output: 0 for raw and
sigmoid margins, 0.5 for identity probabilities) into additions on ``acc``. For
softmax and sigmoid links the margin must also exceed ``256 u`` (divided by the
sigmoid slope), far above what rounding in ``exp`` and the division can undo, so
no tie appears after the link. The check's own additions are single roundings,
which are monotone and cannot turn ``a <= b`` into ``fl(a) > fl(b)``.

Supported: classifiers with SUM or MEAN aggregation whose decision is monotone in
the margins (raw argmax; argmax or > 0.5 of identity, sigmoid with positive slope or
softmax); integer leaf tables need one positive scale for every output. Other
models are returned unchanged.
"""

from __future__ import annotations

import numpy as np

from ..ir.ensemble import Aggregation, Decision, EarlyExit, Ensemble, Link, Task
from ..ir.ranges import tree_ranges
from .narrow_types import round_down_f32, round_up_f32

_U = {"float32": 2.0**-24, "float64": 2.0**-53}


def _cut(ens: Ensemble, u: float) -> tuple[float, float] | None:
    """(cut z, margin delta) on the final margin, or None when the decision is unsupported."""
    multi = ens.n_outputs > 1
    if ens.decision is Decision.RAW_ARGMAX:
        return 0.0, 0.0
    if ens.decision not in (Decision.ARGMAX, Decision.GT_HALF):
        return None
    if ens.link is Link.IDENTITY:
        return (0.0 if multi else 0.5), 0.0
    if ens.link is Link.SOFTMAX and multi:
        return 0.0, 256 * u
    if ens.link is Link.SIGMOID and not multi:
        alpha = ens.link_params[0] if ens.link_params else 1.0
        return (0.0, 256 * u / alpha) if alpha > 0 else None
    return None


def _scale(ens: Ensemble) -> float | None:
    """The one positive factor from accumulator units to margin units, if there is one."""
    if ens.leaves.dtype.kind == "f" or ens.leaf_scale is None:
        return 1.0
    s = np.resize(np.asarray(ens.leaf_scale, dtype=np.float64), ens.n_outputs)
    return float(s[0]) if s[0] > 0 and (s == s[0]).all() else None


def supports(ens: Ensemble) -> bool:
    u = _U[ens.accum_dtype]
    return (
        ens.task is Task.CLASSIFICATION
        and ens.aggregation in (Aggregation.SUM, Aggregation.MEAN)
        and _cut(ens, u) is not None
        and _scale(ens) is not None
    )


def early_exit(ens: Ensemble) -> Ensemble:
    """Exact early-exit check points after every round of trees (unsupported models unchanged)."""
    if not supports(ens):
        return ens
    step = max(1, ens.n_outputs // ens.leaf_width)
    checkpoints = np.arange(step, ens.n_trees, step, dtype=np.int32)
    if checkpoints.size == 0:
        return ens.replace(early_exit=None)
    n = ens.n_trees
    u = _U[ens.accum_dtype]
    u64 = _U["float64"]
    z, delta = _cut(ens, u)
    s = _scale(ens)
    integer = ens.leaves.dtype.kind in "iu"
    values = ens.leaves.astype(np.int64 if integer else ens.accum_dtype).astype(np.float64)
    base = ens.base_score.astype(ens.accum_dtype).astype(np.float64)
    base_in_acc = ens.aggregation is Aggregation.SUM and not integer
    b_post = np.zeros_like(base) if base_in_acc else base
    nd = float(n) if ens.aggregation is Aggregation.MEAN else 1.0
    lo, hi = tree_ranges(ens, values)
    magnitude = np.abs(base if base_in_acc else 0.0) + np.maximum(np.abs(lo), np.abs(hi)).sum(axis=0)
    rmin = np.cumsum(lo[::-1], axis=0)[::-1][checkpoints]
    rmax = np.cumsum(hi[::-1], axis=0)[::-1][checkpoints]
    remaining = (n - checkpoints).astype(np.float64)[:, None]
    acc_err = 0.0 if integer else 2 * remaining * u * magnitude
    post_err = 0.0 if base_in_acc else 12 * u * (magnitude * s / nd + np.abs(b_post))
    k = nd / s
    host_err = 16 * u64 * (n * magnitude + k * (np.abs(b_post) + post_err + abs(z) + delta))
    lower = rmin - acc_err + k * (b_post - post_err) - host_err
    upper = rmax + acc_err + k * (b_post + post_err) + host_err
    if ens.n_outputs == 1:
        lower, upper = lower - k * (z + delta), upper - k * (z - delta)
    else:
        upper = upper + k * delta
    if integer:
        lower, upper = np.floor(lower).astype(np.int64), np.ceil(upper).astype(np.int64)
    elif ens.accum_dtype == "float32":
        lower, upper = round_down_f32(lower), round_up_f32(upper)
    return ens.replace(early_exit=EarlyExit(checkpoints=checkpoints, lower=lower, upper=upper))
