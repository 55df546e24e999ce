"""Exact float reasoning done at compile time so the emitted C needs no FPU tricks.

Comparisons of a float feature ``x`` with a float64 threshold ``t`` become
comparisons of integer *keys*: ``key`` maps a float's bit pattern to an integer
with the same order (-0 and +0 share key 0), so ``x <= t`` is exactly
``key(x) <= key(round_down(t))`` in the feature's precision and ``x < t`` is
``key(x) <= key(round_up(t)) - 1``. Infinite thresholds need no special case.
"""

from __future__ import annotations

import math
import struct

import numpy as np

from ...ir.ensemble import Op

_LE = int(Op.LE)  # enum look-ups per node show in big models' profiles

#: bit layout per float precision: (numpy type, sign bit, largest finite+inf key)
_FMT = {
    "float32": (np.float32, 31, 0x7F800000),
    "float64": (np.float64, 63, 0x7FF0000000000000),
}


def key_limit(precision: str) -> int:
    """Key of +inf; keys of non-NaN values lie in [-limit, limit]."""
    return _FMT[precision][2]


def key(value: float, precision: str) -> int:
    """Order-preserving integer key of ``value`` rounded to nothing (it must be representable)."""
    typ, sign, _ = _FMT[precision]
    bits = int(np.array(value, dtype=typ).view(np.uint32 if sign == 31 else np.uint64))
    mag = bits & ((1 << sign) - 1)
    return -mag if bits >> sign else mag


def round_down(t: float, precision: str) -> float:
    """Largest value of the precision that is <= t."""
    typ = _FMT[precision][0]
    f = typ(t)
    if float(f) > t:
        f = np.nextafter(f, typ(-np.inf))
    return float(f)


def round_up(t: float, precision: str) -> float:
    typ = _FMT[precision][0]
    f = typ(t)
    if float(f) < t:
        f = np.nextafter(f, typ(np.inf))
    return float(f)


def float_threshold_key(op: int, t: float, precision: str) -> int:
    """K such that, for non-NaN x of the precision, go-left is ``key(x) <= K``."""
    if op == _LE:
        return key(round_down(t, precision), precision)
    return key(round_up(t, precision), precision) - 1


def float_threshold_keys(op: np.ndarray, t: np.ndarray, precision: str) -> np.ndarray:
    """:func:`float_threshold_key` of many nodes in one numpy step (big models' trees)."""
    typ, sign, _ = _FMT[precision]
    t = np.asarray(t, dtype=np.float64)
    le = np.asarray(op) == _LE
    with np.errstate(over="ignore", invalid="ignore"):
        f = t.astype(typ)
        wide = f.astype(np.float64)
        down = np.where(wide > t, np.nextafter(f, typ(-np.inf)), f)
        up = np.where(wide < t, np.nextafter(f, typ(np.inf)), f)
    ut = np.uint32 if sign == 31 else np.uint64
    bits = np.where(le, down, up).astype(typ).view(ut)
    mag = (bits & ut((1 << sign) - 1)).astype(np.int64)
    k = np.where((bits >> ut(sign)) != 0, -mag, mag)
    return np.where(le, k, k - 1)


def int_threshold(op: int, t: float) -> float:
    """K such that, for integer x, go-left is ``x <= K`` (may be +-inf for infinite t)."""
    if op == _LE:
        return math.floor(t) if math.isfinite(t) else t
    return math.ceil(t) - 1 if math.isfinite(t) else t


def order_key(value: float, dtype: str) -> int:
    """A bijective order key (-0 just below +0) used to search the floats of a dtype."""
    typ, sign, _ = _FMT[dtype]
    bits = int(np.array(value, dtype=typ).view(np.uint32 if sign == 31 else np.uint64))
    mag = bits & ((1 << sign) - 1)
    return -mag - 1 if bits >> sign else mag


def from_order_key(k: int, dtype: str) -> float:
    typ, sign, _ = _FMT[dtype]
    bits = (-(k + 1)) | (1 << sign) if k < 0 else k
    if sign == 31:
        return float(np.array(bits, dtype=np.uint32).view(np.float32))
    return struct.unpack("<d", struct.pack("<Q", bits))[0]


def monotone_cutoff(pred, dtype: str) -> tuple[str, float]:
    """Describe a monotone predicate over the floats of ``dtype`` as one comparison.

    Returns ``("ge", c)`` (true exactly for x >= c), ``("le", c)``, ``("always", 0)`` or
    ``("never", 0)``. NaN is not considered. Binary search over order keys, so the
    result agrees bit-for-bit with the predicate, whatever rounding it contains.
    """
    lo, hi = order_key(-np.inf, dtype), order_key(np.inf, dtype)
    p_lo, p_hi = pred(from_order_key(lo, dtype)), pred(from_order_key(hi, dtype))
    if p_lo == p_hi:
        return ("always" if p_lo else "never"), 0.0
    want = p_hi  # increasing: find the first true; decreasing: the first false
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if pred(from_order_key(mid, dtype)) == want:
            hi = mid
        else:
            lo = mid
    if p_hi:
        return "ge", from_order_key(hi, dtype)
    return "le", from_order_key(lo, dtype)
