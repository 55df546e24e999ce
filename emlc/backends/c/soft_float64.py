"""IEEE-754 binary64 add and divide by a positive integer on bit patterns, round to nearest even.

Targets whose ``double`` is 32-bit (avr-gcc, SDCC) still owe float64-summing libraries
(scikit-learn forests, GradientBoosting, LightGBM) their exact class on near-ties; the C
runtime ``runtime/c/f64.c`` does it on pairs of 32-bit words (no 64-bit integers: SDCC
4.2 miscompiles them on the 8051). This module is that code's readable scalar form, step
for step on Python integers, and the oracle its tests compare against (numpy's float64
``+`` and ``/`` are in turn this module's oracle).

Only what the sums need: finite values (the emitter refuses models whose sums could
overflow, so there is no infinity or NaN) and division by a positive integer below
2**16 (a leaf's count by its row total, a sum by the tree count). Values are bit
patterns ``sign | exponent (11) | fraction (52)``. Internally a value is ``(sign, e,
sig)`` with ``e >= 1`` the biased exponent (1 for subnormals) and ``sig`` the
significand with its implicit bit, times ``2 ** (e - 1075)``; three guard bits below it
carry round, guard and sticky.
"""

from __future__ import annotations

FRAC = (1 << 52) - 1
HIDDEN = 1 << 52
INF = 0x7FF0000000000000  # the first encoding past the finite values
SIGN = 1 << 63
MASK = (1 << 64) - 1


def _split(x: int) -> tuple[int, int, int]:
    """(sign, e, sig) of a finite value; subnormals get e = 1 and no implicit bit."""
    exp = (x >> 52) & 0x7FF
    return x >> 63, max(exp, 1), (x & FRAC) | (HIDDEN if exp else 0)


def _shift_right_sticky(s: int, n: int) -> int:
    """``s >> n`` with the lowest bit set when any shifted-out bit was."""
    if n >= 63:
        return int(s != 0)
    return (s >> n) | int((s & ((1 << n) - 1)) != 0)


def _round_pack(sign: int, e: int, s: int) -> int:
    """The binary64 nearest ``s * 2 ** (e - 1078)`` (ties to even): ``s < 2**56`` has its
    leading bit at 55 unless e == 1 (subnormal). ``(e - 1) << 52`` plus the rounded
    significand is the encoding, a carry into the exponent included; the result must be
    finite (the callers' sums are)."""
    low = s & 7
    s >>= 3
    if low > 4 or (low == 4 and s & 1):
        s += 1
    bits = ((e - 1) << 52) + s
    if bits >= INF:
        raise OverflowError("binary64 result past the largest finite value")
    return (sign << 63) | bits


def add(a: int, b: int) -> int:
    """``a + b`` as binary64 bit patterns (finite)."""
    if (a & ~SIGN) < (b & ~SIGN):  # a has the larger magnitude
        a, b = b, a
    sa, ea, ma = _split(a)
    sb, eb, mb = _split(b)
    ma <<= 3
    mb = _shift_right_sticky(mb << 3, ea - eb)
    if sa == sb:
        s = ma + mb
        if s >> 56:
            s = _shift_right_sticky(s, 1)
            ea += 1
    else:
        s = ma - mb
        if s == 0:
            return 0  # x - x is +0 when rounding to nearest
        while s < (1 << 55) and ea > 1:
            s <<= 1
            ea -= 1
    return _round_pack(sa, ea, s)


def quotient(sign: int, e: int, s: int, n: int) -> int:
    """The binary64 nearest ``(-1)**sign * s * 2 ** (e - 1078) / n`` for ``s < 2**56`` (a
    significand with three guard bits) and ``0 < n < 2**16``. With ``s`` shifted to lead
    at bit 63 and ``n`` at bit 15, their quotient times ``2**8`` is above ``2**55`` and
    below ``2**57``: 52 fraction bits and at least three to round (the C code divides one
    bit a step). A leaf's ``count / total`` is ``quotient(0, 1078, count, total)``."""
    if s == 0:
        return sign << 63
    k, j = 64 - s.bit_length(), 16 - n.bit_length()
    q, r = divmod(s << (k + 8), n << j)
    q |= int(r != 0)
    e += j - k - 8
    if q >> 56:
        q = _shift_right_sticky(q, 1)
        e += 1
    if e < 1:  # subnormal result: denormalise before the one rounding
        q = _shift_right_sticky(q, 1 - e)
        e = 1
    return _round_pack(sign, e, q)


def div(a: int, n: int) -> int:
    """``a / n`` as binary64 bit patterns, for a finite ``a`` and ``0 < n < 2**16``."""
    sign, e, sig = _split(a)
    return quotient(sign, e, sig << 3, n)


def order_key(x: int) -> int:
    """An integer ordered as the value (-0 and +0 share 0)."""
    return -(x & ~SIGN & MASK) if x >> 63 else x
