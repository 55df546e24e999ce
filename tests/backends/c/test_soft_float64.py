"""The soft binary64 add, divide by an integer and compare (runtime/c/f64.c) against their
scalar form (emlc.backends.c.soft_float64), and that form against numpy's float64, bit for
bit, on finite values (the only ones the soft step sees)."""

from __future__ import annotations

import tempfile
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, strategies as st

from emlc.backends.c import soft_float64 as sf
from emlc.backends.c.model import runtime_source
from emlc.targets import get_target
from tests.conftest import require_tool
from tests.e2e.harness import TOOLS, build, execute

#: finite bit patterns: any sign, exponent below 0x7FF
_FINITE = st.builds(lambda s, e, f: s << 63 | e << 52 | f, st.integers(0, 1), st.integers(0, 0x7FE),
                    st.integers(0, 2**52 - 1))
_DIVISOR = st.one_of(st.integers(1, 16), st.integers(1, 2**16 - 1))


def _f(bits: int) -> np.float64:
    return np.array(bits, dtype=np.uint64).view(np.float64)[()]


def _bits(x: np.float64) -> int:
    return int(np.array(x, dtype=np.float64).view(np.uint64))


def _finite_sum(a: int, b: int) -> bool:
    with np.errstate(over="ignore"):
        return bool(np.isfinite(_f(a) + _f(b)))


@st.composite
def addends(draw) -> tuple[int, int]:
    """Pairs that reach every branch of the add: any finite bits, subnormals, near-equal
    magnitudes (cancellation, ties to even), far-apart exponents, zeros of either sign."""
    a = draw(st.one_of(_FINITE, st.integers(0, 2**52 - 1), st.sampled_from([0, 1 << 63])))
    kind = draw(st.sampled_from(["any", "near", "tie", "negate", "subnormal"]))
    if kind == "any":
        b = draw(_FINITE)
    elif kind == "near":
        b = a ^ draw(st.integers(0, 2**12)) ^ (draw(st.integers(0, 1)) << 63)
    elif kind == "tie":  # b is a's exponent minus 53 or 54: half an ulp of a, or just below it
        e = max(((a >> 52) & 0x7FF) - draw(st.sampled_from([53, 54])), 0)
        b = (e << 52) | draw(st.sampled_from([0, 1, 2**52 - 1])) | (draw(st.integers(0, 1)) << 63)
    elif kind == "negate":
        b = a ^ (1 << 63)
    else:
        b = draw(st.integers(0, 2**52 - 1)) | (draw(st.integers(0, 1)) << 63)
    return (a, b) if draw(st.booleans()) else (b, a)


@st.composite
def quotients(draw) -> tuple[int, int]:
    """(a, n) for a / n: any finite a, subnormals (whose quotients by even n can tie
    exactly), and numerators within a few ulp of n times a halfway point, whose quotient
    is then within a few ulp/n of a tie."""
    n = draw(_DIVISOR)
    kind = draw(st.sampled_from(["any", "subnormal", "near tie"]))
    if kind == "any":
        return draw(_FINITE), n
    if kind == "subnormal":
        return draw(st.integers(0, 2**52 - 1)) | (draw(st.integers(0, 1)) << 63), n
    q = draw(st.integers(2**52, 2**53 - 1))
    scale = Fraction(2) ** draw(st.integers(-1100, 900))
    a = _bits(np.float64(float(n * (q + Fraction(1, 2)) * scale)))
    a += draw(st.integers(-3, 3)) if (a & ~sf.SIGN) > 3 else 0
    return a, n


@given(addends())
def test_scalar_add_equals_numpy_float64(pair):
    a, b = pair
    if _finite_sum(a, b):
        assert sf.add(a, b) == _bits(_f(a) + _f(b)), (hex(a), hex(b))


@given(quotients())
def test_scalar_div_equals_numpy_float64(case):
    a, n = case
    assert sf.div(a, n) == _bits(_f(a) / np.float64(n)), (hex(a), n)


@given(st.integers(0, 2**16 - 1), _DIVISOR)
def test_scalar_count_ratio_equals_numpy_float64(c, n):
    assert sf.quotient(0, 1078, c, n) == _bits(np.float64(c) / np.float64(n))


def test_scalar_add_refuses_overflow():
    big = _bits(np.finfo(np.float64).max)
    with pytest.raises(OverflowError):
        sf.add(big, big)


def _cases(n: int, seed: int) -> list[tuple[int, int, int]]:
    """(a, b, d): a + b, a / d, (a's low 16 bits) / d and the order of a and b."""
    rng = np.random.default_rng(seed)
    one, tiny = _bits(1.0), _bits(2.0**-53)
    special = [(0, 0, 1), (0, 1 << 63, 3), (1 << 63, 1 << 63, 2), (one, tiny, 10), (_bits(1.0 + 2.0**-52), tiny, 7),
               (1, 1, 2), (3, 1 << 63 | 1, 2), (5, 3, 4), (_bits(0.666), _bits(0.334), 10),
               (_bits(1.0), _bits(-(1.0 - 2.0**-53)), 65535), (_bits(3.0), _bits(7.0), 3),
               (0x7FEFFFFFFFFFFFFF, 0x7FDFFFFFFFFFFFFF | 1 << 63, 1), (_bits(2.0**-1022), _bits(2.0**60), 9),
               (0x7FEFFFFFFFFFFFFF, 0x7FEFFFFFFFFFFFFF | 1 << 63, 65521)]
    drawn = []
    for k in range(n - len(special)):
        a = int(rng.integers(0, 2**64, dtype=np.uint64)) & ~(1 << 62)  # exponent below 0x400: finite sums
        b = a ^ int(rng.integers(0, 2**20)) ^ (int(k % 2) << 63) if k % 3 == 0 else \
            int(rng.integers(0, 2**64, dtype=np.uint64)) & ~(1 << 62)
        if k % 5 == 0:
            b &= ~(0x7FF << 52)  # subnormal
        drawn.append((a, b, int(rng.integers(1, 2**16 if k % 2 else 17))))
    return special + drawn


def _program(cases: list[tuple[int, int, int]], target: str) -> str:
    """Per case a, b, d, in hex words: a + b, a / d, (a's low 16 bits) / d and how a
    compares with b (-1, 0, 1)."""
    flash = get_target(target).flash
    words = ", ".join(f"0x{w:08x}UL" for a, b, d in cases for w in (a >> 32, a & 0xFFFFFFFF, b >> 32, b & 0xFFFFFFFF, d))
    read = "ops[i]" if flash.direct else "pgm_read_dword(&ops[i])"
    include = f"#include <{flash.include}>\n" if flash.include else ""
    return f"""#include <stdint.h>
{include}{runtime_source("f64.c", p="t", P="T")}
void out_char(char c);
void out_done(void);
void run_all(void);
static const {flash.qualifier}uint32_t ops[{5 * len(cases)}]{flash.attribute} = {{ {words} }};
static uint32_t op(uint16_t i)
{{
    return {read};
}}
static void word(T_F64_MEM t_f64_t *x, uint16_t i)
{{
    x->hi = op(i);
    x->lo = op((uint16_t)(i + 1u));
}}
static void put_word(uint32_t w)
{{
    int8_t s;
    for (s = 28; s >= 0; s -= 4) {{
        out_char("0123456789abcdef"[(uint8_t)(w >> s) & 15u]);
    }}
}}
static void put(const T_F64_MEM t_f64_t *x)
{{
    put_word(x->hi);
    out_char(' ');
    put_word(x->lo);
    out_char(' ');
}}
void run_all(void)
{{
    uint16_t k, d;
    T_F64_WORK t_f64_t a, b, r;
    for (k = 0; k < {len(cases)}u; ++k) {{
        word(&a, (uint16_t)(5u * k));
        word(&b, (uint16_t)(5u * k + 2u));
        d = (uint16_t)op((uint16_t)(5u * k + 4u));
        r = a;
        t_f64_add(&r, &b);
        put(&r);
        r = a;
        t_f64_div(&r, d);
        put(&r);
        r.hi = 0u;
        r.lo = a.lo & 0xFFFFu;
        t_f64_quot(&r, 0u, 1078, d);
        put(&r);
        put_word((uint32_t)(int32_t)t_f64_cmp(&a, &b));
        out_char('\\n');
    }}
    out_done();
}}
"""


@pytest.mark.parametrize("target, n", [("host", 3000), ("avr", 40), ("mcs51", 40)])
def test_c_soft_float64_equals_the_scalar_form(target, n):
    """Compiled strictly for the host, run on simavr and on s51 (bounded sets: the same
    word-pair code on every compiler)."""
    require_tool(*TOOLS[target])
    cases = _cases(n, seed=n)
    with tempfile.TemporaryDirectory(prefix="emlc-f64-") as tmp:
        out = execute(target, build(target, _program(cases, target), Path(tmp)))
    lines = [ln.split() for ln in out.replace("\r", "").splitlines() if ln.strip()]
    assert len(lines) == len(cases), out[-2000:]
    for (a, b, d), words in zip(cases, lines):
        add, div, ratio = (int(words[i] + words[i + 1], 16) for i in range(0, 6, 2))
        assert add == sf.add(a, b), (hex(a), hex(b))
        assert div == sf.div(a, d), (hex(a), d)
        assert ratio == sf.quotient(0, 1078, a & 0xFFFF, d), (hex(a), d)
        order = sf.order_key(a) - sf.order_key(b)
        assert int(words[6], 16) == ((order > 0) - (order < 0)) % 2**32, (hex(a), hex(b))
