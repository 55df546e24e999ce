"""IEEE-754 binary64 add and divide on integer bit patterns, round to nearest even.

Targets whose ``double`` is 32-bit (avr-gcc, SDCC) still owe float64-summing libraries
(scikit-learn forests, GradientBoosting, LightGBM) their exact class on near-ties; the C
runtime ``runtime/c/f64.c`` does it on pairs of 32-bit words (no 64-bit integers: SDCC
4.2 miscompiles them on the 8051). This module is that code's readable scalar form, step
for step on Python integers, and the oracle its tests compare against (numpy's float64
``+`` and ``/`` are in turn this module's oracle).

Values are bit patterns ``sign | exponent (11) | fraction (52)``. Internally a finite
value is ``(sign, e, sig)`` with ``e >= 1`` the biased exponent (1 for subnormals) and
``sig`` the significand with its implicit bit, times ``2 ** (e - 1075)``; three guard
bits below it carry round, guard and sticky.
"""

from __future__ import annotations

FRAC = (1 << 52) - 1
HIDDEN = 1 << 52
INF = 0x7FF0000000000000
NAN = 0x7FF8000000000000  # the quiet NaN this code returns for invalid operations
SIGN = 1 << 63
MASK = (1 << 64) - 1


def _split(x: int) -> tuple[int, int, int]:
    """(sign, e, sig) of a finite value; subnormals get e = 1 and no implicit bit."""
    exp = (x >> 52) & 0x7FF
    return x >> 63, max(exp, 1), (x & FRAC) | (HIDDEN if exp else 0)


def _is_nan(x: int) -> bool:
    return (x & ~SIGN & MASK) > INF


def _shift_right_sticky(s: int, n: int) -> int:
    """``s >> n`` with the lowest bit set when any shifted-out bit was."""
    if n >= 63:
        return int(s != 0)
    return (s >> n) | int((s & ((1 << n) - 1)) != 0)


def _round_pack(sign: int, e: int, s: int) -> int:
    """The binary64 nearest ``s * 2 ** (e - 1078)`` (ties to even): ``s < 2**56`` has its
    leading bit at 55 unless e == 1 (subnormal). ``(e - 1) << 52`` plus the rounded
    significand is the encoding, a carry into the exponent included; past the largest
    finite value it is infinity."""
    low = s & 7
    s >>= 3
    if low > 4 or (low == 4 and s & 1):
        s += 1
    bits = ((e - 1) << 52) + s
    return (sign << 63) | min(bits, INF)


def add(a: int, b: int) -> int:
    """``a + b`` as binary64 bit patterns."""
    if _is_nan(a) or _is_nan(b):
        return NAN
    if (a & ~SIGN) == INF or (b & ~SIGN) == INF:
        if (a & ~SIGN) == INF and (b & ~SIGN) == INF and a != b:
            return NAN
        return a if (a & ~SIGN) == INF else b
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


def div(a: int, b: int) -> int:
    """``a / b`` as binary64 bit patterns (restoring division, one quotient bit a step)."""
    sign = (a ^ b) >> 63
    ma_, mb_ = a & ~SIGN & MASK, b & ~SIGN & MASK
    if _is_nan(a) or _is_nan(b) or (ma_ == INF and mb_ == INF) or (ma_ == 0 and mb_ == 0):
        return NAN
    if ma_ == INF or mb_ == 0:
        return (sign << 63) | INF
    if ma_ == 0 or mb_ == INF:
        return sign << 63
    _, ea, ma = _split(a)
    _, eb, mb = _split(b)
    while ma < HIDDEN:
        ma <<= 1
        ea -= 1
    while mb < HIDDEN:
        mb <<= 1
        eb -= 1
    e = ea - eb + 1023
    if ma < mb:
        ma <<= 1
        e -= 1
    q = 0
    for _ in range(56):  # quotient bits 55..0: the leading one, 52 more and three guard bits
        q <<= 1
        if ma >= mb:
            ma -= mb
            q |= 1
        ma <<= 1
    q |= int(ma != 0)
    if e < 1:  # subnormal result: denormalise before the one rounding
        q = _shift_right_sticky(q, 1 - e)
        e = 1
    return _round_pack(sign, e, q)


def from_uint(n: int) -> int:
    """The binary64 of a non-negative integer below 2**53 (exact)."""
    if n == 0:
        return 0
    e = 1075
    while n < HIDDEN:
        n <<= 1
        e -= 1
    return ((e - 1) << 52) + n


def order_key(x: int) -> int:
    """An integer ordered as the value (-0 and +0 share 0; NaN not expected)."""
    return -(x & ~SIGN & MASK) if x >> 63 else x
