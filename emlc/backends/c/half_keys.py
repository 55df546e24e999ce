"""16-bit keys for the walk that records leaf rows on AVR (P_rows behind P_quick).

A float32 test on AVR compares the upper 16 bits of the feature and needs its lower half,
its sign and NaN's two bit ranges besides, about 60 bytes per node. When every threshold
``K`` of a feature (as a 32-bit order key: go left iff ``key(x) <= K``) is a multiple of
2^16, ``key(x) <= K`` is exactly ``ceil(key(x) / 2^16) <= K / 2^16``; when every one ends
in 0xFFFF, it is ``floor(key(x) / 2^16) <= K >> 16``. Such a feature gets an int16 key
computed once per row (``P_halves``) and its nodes compare it: about 20 bytes each. NaN
takes INT16_MIN or INT16_MAX, whichever side most of the feature's nodes send it, and the
other nodes test for it. Integer-valued data has such thresholds (scikit-learn's ``x.5``
midpoints up to 127.5, XGBoost's ``x < t`` of integers up to 256); other features keep the
float test.

A walk reads each feature about once, so computing the keys costs more cycles than their
tests save (digits 10x6: about 2,700 against a few hundred): only P_rows, which P_quick
leaves for few rows (1 of 30), uses them, as a build point the flash budget can take
(:class:`emlc.cost.Point` ``keyed``: 27% less flash, 10% more cycles there).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...ir.ensemble import Ensemble, Op
from . import numeric as num
from .common import int_literal

_HALF = 1 << 16


@dataclass(frozen=True)
class HalfKey:
    """How feature ``f``'s int16 key rounds (down where its thresholds end in 0xFFFF) and
    where NaN goes (INT16_MAX when most of its nodes send NaN right, else INT16_MIN)."""

    down: bool
    nan_high: bool


def node_keys(ens: Ensemble) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(feature, 32-bit key threshold K, NaN goes left) of every numeric split of ``ens``,
    trees back to back; ranked features' K are their edges' keys (out-of-range ranks
    give K outside the keys of non-NaN values: such nodes are folded, not keyed)."""
    op = ens.column("op")
    numeric = (op == Op.LE) | (op == Op.LT)
    f = ens.column("feature")[numeric].astype(np.int64)
    t = np.asarray(ens.column("threshold")[numeric], dtype=np.float64)
    o = op[numeric]
    k = num.float_threshold_keys(o, t, "float32").astype(np.int64)
    limit = num.key_limit("float32")
    for g, rank in enumerate(ens.feature_ranks or ()):
        on = f == g
        if rank is None or not on.any():
            continue
        edge_op = np.full(rank.edges.size, Op.LT if rank.strict else Op.LE)
        edges = num.float_threshold_keys(edge_op, rank.edges, "float32").astype(np.int64)
        r = np.array([num.int_threshold(op, x) for op, x in zip(o[on].tolist(), t[on].tolist())], dtype=np.float64)
        r = np.clip(np.nan_to_num(r, nan=-1.0, posinf=rank.edges.size, neginf=-1.0), -1, rank.edges.size)
        r = r.astype(np.int64)
        inside = (r >= 0) & (r < rank.edges.size)
        k[on] = np.where(inside, edges[np.clip(r, 0, max(rank.edges.size - 1, 0))],
                         np.where(r < 0, -limit - 1, limit))
    return f, k, ens.column("default_left")[numeric].astype(bool)


def half_keys(ens: Ensemble) -> dict[int, HalfKey]:
    """Feature -> its :class:`HalfKey`, for the float32 features whose thresholds (those
    inside the keys of non-NaN values) all sit on one rounding's 16-bit boundary."""
    f, k, nan_left = node_keys(ens)
    limit = num.key_limit("float32")
    inside = (k >= -limit) & (k < limit)
    f, low, nan_left = f[inside], k[inside] % _HALF, nan_left[inside]
    out: dict[int, HalfKey] = {}
    for g in np.unique(f).tolist():
        on = f == g
        lows = np.unique(low[on])
        if lows.size == 1 and int(lows[0]) in (0, _HALF - 1):
            out[g] = HalfKey(down=int(lows[0]) == _HALF - 1, nan_high=2 * int(nan_left[on].sum()) < int(on.sum()))
    return out


def keyed_nodes(ens: Ensemble) -> tuple[int, int]:
    """(splits comparing a 16-bit key, those of them that also test for NaN): what the
    cost model counts for P_rows."""
    keys = half_keys(ens)
    f, k, nan_left = node_keys(ens)
    limit = num.key_limit("float32")
    keyed = np.isin(f, list(keys)) & (k >= -limit) & (k < limit)
    high = np.array([keys[g].nan_high if g in keys else False for g in f.tolist()], dtype=bool)
    return int(keyed.sum()), int((keyed & (high == nan_left)).sum())


def condition(key: HalfKey, f: int, k: int) -> tuple[str, str]:
    """(test, NaN test) texts of ``key(x) <= k`` on feature ``f``'s int16 key ``hk[f]``
    (``k`` inside the keys of non-NaN values): the test alone sends NaN to the key's side,
    with ``... || hk[f] == INT16_MAX`` left and ``hk[f] != INT16_MIN && ...`` right."""
    q = f"hk[{f}]"
    test = f"{q} <= {int_literal(k >> 16, 'int16_t')}"
    return test, (f"{test} || {q} == INT16_MAX" if key.nan_high else f"{q} != INT16_MIN && {test}")


def key_condition(key: HalfKey, f: int, k: int, nan_left: bool) -> str:
    """C condition sending a row left at a node ``key(x) <= k`` with NaN to ``nan_left``."""
    test, other = condition(key, f, k)
    return other if nan_left == key.nan_high else test
