"""``confidence_exit``: stop evaluating trees once the leading class is confident enough.

Starts from the exact early-exit bounds of :mod:`emlc.passes.early_exit` (the
interval the trees not yet evaluated can still add to each output, widened for
float rounding) at every ``batch`` rounds of trees, and shrinks each interval about
its centre to ``threshold`` times its width (recorded as
``EarlyExit.confidence``). A row stops at the first check point where its leading
class beats every other class even if the remaining trees add only that fraction
of their worst case: ``threshold = 1`` is the exact early exit and never changes a
prediction; smaller thresholds stop sooner, as in the batch-wise confidence
early exit of Daghero et al. (arXiv 2205.13838), whose margin test this is with the
margin measured against what the remaining trees can still change.

A VOTE ensemble is first rewritten as the MEAN of its one-hot vote rows (uint8,
scale 1, float64 accumulation), which gives the same votes, shares and classes and
lets the exact bounds count votes. ``reorder_trees`` optionally puts the trees that
most often agree with the full model first, so confident rows stop sooner.

Error bound: none beyond the threshold's meaning; the agreement it costs is
measured on calibration data (:mod:`emlc.budget`).
"""

from __future__ import annotations

import numpy as np

from ...errors import EmlcError
from ...ir.ensemble import Aggregation, EarlyExit, Ensemble
from ...ir.interpret import interpret, leaf_indices
from ..early_exit import early_exit, supports
from ..narrow_types import round_down_f32, round_up_f32
from ..trees.tables import remap_leaves
from .hard_vote import check_forest


def votes_as_mean(ens: Ensemble) -> Ensemble:
    """A VOTE ensemble as the MEAN of one-hot vote rows (identical results); others unchanged."""
    if ens.aggregation is not Aggregation.VOTE:
        return ens
    k = ens.n_outputs
    winners = np.argmax(ens.leaf_values(), axis=1)
    return remap_leaves(ens, winners, np.eye(k, dtype=np.uint8)).replace(
        aggregation=Aggregation.MEAN, leaf_scale=np.ones(k), accum_dtype="float64"
    )


def _check(threshold: float, batch: int) -> None:
    if not (isinstance(threshold, (int, float)) and 0 < threshold <= 1):
        raise EmlcError(
            f"early-exit threshold must be in (0, 1], got {threshold!r} "
            "(1 never changes a prediction; e.g. --early-exit 0.5 stops sooner)"
        )
    if not isinstance(batch, (int, np.integer)) or batch < 1:
        raise EmlcError(f"early-exit batch size must be a positive number of tree rounds, got {batch!r}")


def _shrink(lower: np.ndarray, upper: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Bounds intervals shrunk about their centres, rounded outwards in their own dtype."""
    lo, hi = lower.astype(np.float64), upper.astype(np.float64)
    mid, half = (lo + hi) / 2, (hi - lo) / 2 * threshold
    lo, hi = mid - half, mid + half
    if lower.dtype.kind in "iu":
        return np.floor(lo).astype(lower.dtype), np.ceil(hi).astype(upper.dtype)
    if lower.dtype == np.float32:
        return round_down_f32(lo), round_up_f32(hi)
    return lo, hi


def confidence_exit(ens: Ensemble, threshold: float, batch: int = 1) -> Ensemble:
    """Early-exit check points every ``batch`` rounds with bounds shrunk to ``threshold``."""
    _check(threshold, batch)
    base = votes_as_mean(ens)
    if base.leaf_scale is not None and base.leaves.dtype.kind in "iu" and np.ptp(base.leaf_scale) > 0:
        raise EmlcError(
            "confidence early exit needs one leaf scale for every output; quantize the leaves "
            "with emlc (--leaf-bits 8, one scale for the table) before adding the early exit"
        )
    if not supports(base):
        raise EmlcError(
            "confidence early exit needs a classifier whose class is a monotone function of "
            f"summed or averaged leaves; this {ens.task.value} model ({ens.aggregation.value}, "
            f"{ens.link.value} link) is unsupported: leave out --early-exit"
        )
    exact = early_exit(base).early_exit
    if exact is None:
        return base.replace(early_exit=None)
    step = max(1, base.n_outputs // base.leaf_width) * int(batch)
    keep = exact.checkpoints % step == 0
    if not keep.any():
        return base.replace(early_exit=None)
    lower, upper = exact.lower[keep], exact.upper[keep]
    if threshold < 1:
        lower, upper = _shrink(lower, upper, float(threshold))
    ee = EarlyExit(checkpoints=exact.checkpoints[keep], lower=lower, upper=upper, confidence=float(threshold))
    return base.replace(early_exit=ee)


def reorder_trees(ens: Ensemble, X) -> Ensemble:
    """Forest trees sorted by how often their own class agrees with the full model on ``X``.

    Changes the summation order only (so at most float rounding of the averages);
    the sort is stable, so equally good trees keep their order.
    """
    check_forest(ens, "tree reordering")
    X = np.asarray(X)
    if X.shape[0] == 0:
        return ens
    full = np.asarray(interpret(ens, X))
    classes = np.arange(ens.n_classes) if ens.classes is None else np.asarray(ens.classes)
    per_tree = classes[np.argmax(ens.leaf_values(), axis=1)[leaf_indices(ens, X)]]
    order = np.argsort(-(per_tree == full[:, None]).mean(axis=0), kind="stable")
    return ens.replace(trees=tuple(ens.trees[i] for i in order), early_exit=None)
