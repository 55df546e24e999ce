"""The soft binary64 add and divide (runtime/c/f64.c) against their scalar form
(emlc.backends.c.soft_float64), and that form against numpy's float64, bit for bit."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, strategies as st

from emlc.backends.c import soft_float64 as sf
from emlc.backends.c.model import runtime_source
from emlc.targets import get_target
from tests.e2e.harness import TOOLS, build, execute
from tests.conftest import require_tool

_BITS = st.integers(0, 2**64 - 1)


def _f(bits: int) -> np.float64:
    return np.array(bits, dtype=np.uint64).view(np.float64)[()]


def _bits(x: np.float64) -> int:
    return int(np.array(x, dtype=np.float64).view(np.uint64))


@st.composite
def operand_pairs(draw) -> tuple[int, int]:
    """Pairs that reach every branch: any bits, subnormals, near-equal magnitudes (cancellation,
    ties to even), far-apart exponents, zeros and infinities of either sign."""
    a = draw(st.one_of(_BITS, st.integers(0, 2**52 - 1), st.sampled_from([0, 1 << 63, sf.INF, sf.INF | 1 << 63])))
    kind = draw(st.sampled_from(["any", "near", "tie", "negate", "subnormal"]))
    if kind == "any":
        b = draw(_BITS)
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


def _numpy(a: int, b: int) -> tuple[np.float64, np.float64]:
    with np.errstate(all="ignore"):
        return _f(a) + _f(b), _f(a) / _f(b)


def _same(got: int, want: np.float64) -> bool:
    return bool(np.isnan(want)) and (got & ~sf.SIGN) > sf.INF if np.isnan(want) else got == _bits(want)


@given(operand_pairs())
def test_scalar_form_equals_numpy_float64(pair):
    a, b = pair
    add, div = _numpy(a, b)
    assert _same(sf.add(a, b), add), (hex(a), hex(b))
    assert _same(sf.div(a, b), div), (hex(a), hex(b))


@given(st.integers(0, 2**32 - 1))
def test_from_uint_is_exact(n):
    assert _f(sf.from_uint(n)) == n


def _pairs(n: int, seed: int) -> list[tuple[int, int]]:
    rng = np.random.default_rng(seed)
    special = [(0, 0), (0, 1 << 63), (1 << 63, 1 << 63), (sf.INF, sf.INF | 1 << 63), (sf.INF, 1), (1, sf.INF),
               (_bits(1.0), _bits(2.0**-53)), (_bits(1.0 + 2.0**-52), _bits(2.0**-53)), (1, 1), (1, 1 << 63 | 1),
               (_bits(0.666), _bits(0.334)), (_bits(1.0), _bits(-(1.0 - 2.0**-53))), (_bits(3.0), _bits(7.0)),
               (0x7FEFFFFFFFFFFFFF, 0x7FEFFFFFFFFFFFFF), (_bits(2.0**-1022), _bits(2.0**60)), (sf.NAN, 0)]
    drawn = []
    for k in range(n - len(special)):
        a = int(rng.integers(0, 2**64, dtype=np.uint64))
        b = a ^ int(rng.integers(0, 2**20)) ^ (int(k % 2) << 63) if k % 3 == 0 else int(rng.integers(0, 2**64, dtype=np.uint64))
        if k % 5 == 0:
            b &= ~(0x7FF << 52)  # subnormal
        drawn.append((a, b))
    return special + drawn


def _program(pairs: list[tuple[int, int]], target: str) -> str:
    """Per pair a, b, in hex words: a + b, a / b, the binary64 of a's low word and how a
    compares with b (-1, 0, 1)."""
    flash = get_target(target).flash
    words = ", ".join(f"0x{w:08x}UL" for a, b in pairs for w in (a >> 32, a & 0xFFFFFFFF, b >> 32, b & 0xFFFFFFFF))
    read = "ops[i]" if flash.direct else "pgm_read_dword(&ops[i])"
    include = f"#include <{flash.include}>\n" if flash.include else ""
    return f"""#include <stdint.h>
{include}{runtime_source("f64.c", p="t", P="T")}
void out_char(char c);
void out_done(void);
void run_all(void);
static const {flash.qualifier}uint32_t ops[{4 * len(pairs)}]{flash.attribute} = {{ {words} }};
static void word(T_F64_MEM t_f64_t *x, uint16_t i)
{{
    x->hi = {read};
    x->lo = {read.replace("[i]", "[i + 1u]")};
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
    uint16_t k;
    T_F64_WORK t_f64_t a, b, r;
    for (k = 0; k < {len(pairs)}u; ++k) {{
        word(&a, (uint16_t)(4u * k));
        word(&b, (uint16_t)(4u * k + 2u));
        r = a;
        t_f64_add(&r, &b);
        put(&r);
        r = a;
        t_f64_div(&r, &b);
        put(&r);
        t_f64_from(&r, a.lo);
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
    pairs = _pairs(n, seed=n)
    with tempfile.TemporaryDirectory(prefix="emlc-f64-") as tmp:
        out = execute(target, build(target, _program(pairs, target), Path(tmp)))
    lines = [ln.split() for ln in out.replace("\r", "").splitlines() if ln.strip()]
    assert len(lines) == len(pairs), out[-2000:]
    for (a, b), words in zip(pairs, lines):
        add, div, conv = (int(words[i] + words[i + 1], 16) for i in range(0, 6, 2))
        assert add == sf.add(a, b), (hex(a), hex(b))
        assert div == sf.div(a, b), (hex(a), hex(b))
        assert conv == sf.from_uint(a & 0xFFFFFFFF)
        order = sf.order_key(a) - sf.order_key(b)
        assert int(words[6], 16) == ((order > 0) - (order < 0)) % 2**32, (hex(a), hex(b))
