"""``quantize_thresholds``: integer thresholds for integer inputs.

With an integer ``input_type`` every compared value is an integer ``x``, so
``x <= t`` is ``x <= floor(t)`` and ``x < t`` is ``x <= ceil(t) - 1``. The pass
rewrites every comparison on an unranked feature into that ``<=`` form, folds the
splits whose threshold now lies outside the input type's range (they always go one
way, and integer inputs are never NaN) with :func:`fold_redundant_splits`, and stores the
thresholds in the smallest integer dtype holding them all. A no-op for float inputs
(see ``rank_features``). Lossless by the two identities above.
"""

from __future__ import annotations

import numpy as np

from ..ir.ensemble import Ensemble, Op, Tree
from .fold_redundant_splits import fold_redundant_splits
from .trees.tables import map_nodes

#: integer threshold dtypes, smallest first.
INT_THRESHOLD_DTYPES = ("int8", "uint8", "int16", "uint16", "int32")


def smallest_int_dtype(values: np.ndarray) -> str | None:
    """The first of :data:`INT_THRESHOLD_DTYPES` holding every (integral) value, else None."""
    if values.size and not (np.isfinite(values).all() and (values == np.round(values)).all()):
        return None
    lo, hi = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
    for name in INT_THRESHOLD_DTYPES:
        info = np.iinfo(name)
        if info.min <= lo and hi <= info.max:
            return name
    return None


def decision_thresholds(ens: Ensemble) -> np.ndarray:
    """Thresholds of every ``<=``/``<`` node in the ensemble, as float64."""
    op, threshold = ens.column("op"), ens.column("threshold")
    return threshold[(op == Op.LE) | (op == Op.LT)].astype(np.float64)


def integer_thresholds(op: np.ndarray, t: np.ndarray) -> np.ndarray:
    """K per node with ``x <= K`` equal to its ``<=``/``<`` test for every integer ``x``."""
    with np.errstate(invalid="ignore"):
        return np.where(op == Op.LT, np.ceil(t) - 1.0, np.floor(t))


def _integer_form(ens: Ensemble, tree: Tree) -> Tree:
    ranked = np.array([r is not None for r in ens.feature_ranks] or [False] * ens.n_features)
    t = tree.threshold.astype(np.float64)
    cmp = ((tree.op == Op.LE) | (tree.op == Op.LT)) & ~ranked[np.maximum(tree.feature, 0)]
    new = integer_thresholds(tree.op, t)
    return tree.replace(
        op=np.where(cmp, np.uint8(Op.LE), tree.op).astype(np.uint8),
        threshold=np.where(cmp, new, t),
    )


def quantize_thresholds(ens: Ensemble) -> Ensemble:
    """On integer inputs: ``<=`` with integer thresholds in the smallest integer dtype."""
    if ens.input_type.startswith("float"):
        return ens
    ens = map_nodes(ens, lambda t: _integer_form(ens, t))
    ens = fold_redundant_splits(ens)
    dtype = smallest_int_dtype(decision_thresholds(ens))
    if dtype is None:
        return ens
    return map_nodes(ens, lambda t: with_threshold_dtype(t, dtype))


def with_threshold_dtype(tree: Tree, dtype: str) -> Tree:
    """Thresholds cast to ``dtype`` (exact for the callers' values); 0 on non-comparison nodes."""
    cmp = (tree.op == Op.LE) | (tree.op == Op.LT)
    return tree.replace(threshold=np.where(cmp, tree.threshold, 0).astype(dtype))
