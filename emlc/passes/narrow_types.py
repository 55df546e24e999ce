"""``narrow_types``: the smallest threshold and leaf dtypes that keep every result.

Thresholds, in order of preference:

* integers (the smallest integer dtype holding them) when every comparison is on an
  integer-valued feature (integer input or a rank) and every threshold is integral;
* float32 when every compared value is a float32 number (inputs float32, int8,
  uint8, int16 or uint16, or ranks): then for any float32 ``x`` and float64 ``t``,
  ``x <= t`` iff ``x <= down(t)`` and ``x < t`` iff ``x < up(t)``, where ``down(t)``
  is the largest float32 ``<= t`` and ``up(t)`` the smallest float32 ``>= t``
  (``x <= t`` gives ``x <= down(t)`` because ``x`` is itself a float32 ``<= t``;
  the converse because ``down(t) <= t``; ``<`` is the mirror image). Values beyond
  the float32 range round to the largest finite float32 or to infinity, which the
  same argument covers;
* float32 on other inputs only when every threshold already is a float32 value.

Leaves: a float64 table whose values are all float32 numbers becomes float32 and an
integer table the smallest integer dtype holding it; the interpreter widens the
table to the accumulator before adding, so sums are unchanged.

Node index columns stay int32 (the verifier fixes them); :func:`emlc.cost.index_bytes` gives
backends the width each column needs.
"""

from __future__ import annotations

import numpy as np

from ..ir.ensemble import Ensemble, Op, Tree
from .quantize_thresholds import decision_thresholds, smallest_int_dtype, with_threshold_dtype
from .trees.tables import map_nodes

#: inputs whose every value is a float32 number.
FLOAT32_EXACT_INPUTS = ("float32", "int8", "uint8", "int16", "uint16")


def round_down_f32(t: np.ndarray) -> np.ndarray:
    """Largest float32 ``<= t`` elementwise (``-inf`` below the float32 range)."""
    with np.errstate(over="ignore"):
        f = t.astype(np.float32)
    return np.where(f > t, np.nextafter(f, np.float32(-np.inf)), f)


def round_up_f32(t: np.ndarray) -> np.ndarray:
    """Smallest float32 ``>= t`` elementwise (``inf`` above the float32 range)."""
    with np.errstate(over="ignore"):
        f = t.astype(np.float32)
    return np.where(f < t, np.nextafter(f, np.float32(np.inf)), f)


def _ranked(ens: Ensemble) -> np.ndarray:
    return np.array([r is not None for r in ens.feature_ranks] or [False] * ens.n_features)


def _integer_valued(ens: Ensemble) -> bool:
    """Does every ``<=``/``<`` node compare an integer-valued feature?"""
    if not ens.input_type.startswith("float"):
        return True
    ranked = _ranked(ens)
    op, feature = ens.column("op"), ens.column("feature")
    return bool(ranked[feature[(op == Op.LE) | (op == Op.LT)]].all())


def _to_float32(ens: Ensemble, tree: Tree) -> Tree:
    t = tree.threshold.astype(np.float64)
    rounded = np.where(tree.op == Op.LT, round_up_f32(t), round_down_f32(t)).astype(np.float32)
    return tree.replace(threshold=rounded)


def narrow_thresholds(ens: Ensemble) -> Ensemble:
    if _integer_valued(ens):
        dtype = smallest_int_dtype(decision_thresholds(ens))
        if dtype is not None and np.dtype(dtype).itemsize < ens.threshold_dtype.itemsize:
            return map_nodes(ens, lambda t: with_threshold_dtype(t, dtype))
    if ens.threshold_dtype != np.float64:
        return ens
    ranks_f32 = all(r is None or r.edges.size < 2**24 for r in ens.feature_ranks)
    if ens.input_type in FLOAT32_EXACT_INPUTS and ranks_f32:
        return map_nodes(ens, lambda t: _to_float32(ens, t))
    thr = decision_thresholds(ens)
    if np.array_equal(thr.astype(np.float32).astype(np.float64), thr):
        return map_nodes(ens, lambda t: t.replace(threshold=t.threshold.astype(np.float32)))
    return ens


def narrow_leaves(ens: Ensemble) -> Ensemble:
    leaves = ens.leaves
    if leaves.dtype == np.float64:
        f32 = leaves.astype(np.float32)
        if np.array_equal(f32.astype(np.float64), leaves):
            return ens.replace(leaves=f32)
        return ens
    if leaves.dtype.kind in "iu":
        for name in ("int8", "uint8", "int16", "uint16", "int32"):
            info = np.iinfo(name)
            if np.dtype(name).itemsize < leaves.dtype.itemsize and info.min <= leaves.min() and leaves.max() <= info.max:
                return ens.replace(leaves=leaves.astype(name))
    return ens


def narrow_types(ens: Ensemble) -> Ensemble:
    """Thresholds and leaf table in the narrowest dtypes that change no comparison or sum."""
    return narrow_leaves(narrow_thresholds(ens))


