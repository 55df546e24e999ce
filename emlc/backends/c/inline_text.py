"""The inline walk's text, one node at a time: a test's C condition (on keys, or reading the
feature directly: an integer, a float's bits, or the halves of a float32's bits), a leaf's
statements and a tree block's ends. The scalar statement of each form, which the bulk
printer (:mod:`walk_inline_bulk`) prints many at once and is tested against.
"""

from __future__ import annotations

import functools
from typing import Callable, NamedTuple

import numpy as np

from ...ir.ensemble import Op
from . import half_keys
from .common import int_literal
from .features import model_keys
from .fixed import FixedPlan
from .model import Model, Test
from .plan import DirectTest


class _Bits(NamedTuple):
    """A float precision's bits read as a signed integer: ``nan`` is +inf's bits (anything
    above, sign aside, is NaN), ``neg_inf`` the bits of -inf; -NaN lies in (neg_inf, 0)."""

    ctype: str
    sign: int  # 2**(width - 1)
    nan: int
    neg_inf: int


BITS = {
    "float32": _Bits("int32_t", 2**31, 0x7F800000, -(2**31) + 0x7F800000),
    "float64": _Bits("int64_t", 2**63, 0x7FF0000000000000, -(2**63) + 0x7FF0000000000000),
}
_NAN_BITS, _NEG_INF = BITS["float32"].nan, BITS["float32"].neg_inf


def unranked(model: Model, test: Test) -> Test:
    """The same test on the feature's own value: rank <= k is x <= edges[k] (x < edges[k] if strict)."""
    rank = model.ranks[test.feature]
    if rank is None:
        return test
    lo, hi = model.base_range
    if test.k >= rank.edges.size:
        return Test(test.feature, hi, False, test.nan_left)
    if test.k < 0:
        return Test(test.feature, lo - 1, False, test.nan_left)
    op = Op.LT if rank.strict else Op.LE
    return Test(test.feature, model.base_threshold(op, float(rank.edges[test.k])), False, test.nan_left)


@functools.lru_cache(maxsize=1 << 12)
def bits_forms(prefix: str, f: int, precision: str = "float32") -> tuple[str, ...]:
    """The C forms of a test on float feature f's bits, numbered as :func:`direct_condition_fn`
    picks them: 0 not NaN, 1 NaN (no literal), then 2 + (K < 0) * 2 + (NaN goes right),
    each with ``%s`` for its literal (K if K >= 0, else the sign bit's value less K)."""
    b = BITS[precision]
    s = f"{prefix.upper()}_BITS({f})"
    nan, neg_inf = int_literal(b.nan, b.ctype), int_literal(b.neg_inf, b.ctype)
    is_nan = f"({s} & {int_literal(b.sign - 1, b.ctype)}) > {nan}"
    return (
        f"!({is_nan})",
        is_nan,
        f"{s} <= %s || {s} > {nan}",
        f"{s} <= %s && ({s} >= 0 || {s} <= {neg_inf})",
        f"({s} >= %s && {s} < 0) || {s} > {nan}",
        f"{s} >= %s && {s} <= {neg_inf}",
    )


def key_value(k: int) -> np.float32:
    """The float32 whose key (:func:`.numeric.key`) is ``k``: the bits ``k`` for ``k >= 0``,
    else -1 times the bits ``-k``."""
    return np.uint32(k if k >= 0 else (1 << 31) | -k).view(np.float32)


def float_literal(v: np.float32) -> str:
    """A C float literal that reads back as ``v`` exactly (numpy's shortest round trip)."""
    if v == 0 or 1e-4 <= abs(v) < 1e7:
        text = np.format_float_positional(v, unique=True, trim="0")
    else:
        text = np.format_float_scientific(v, unique=True, trim="0")
    return text + "f"


@functools.lru_cache(maxsize=1 << 16)
def float_condition(f: int, k: int, nan_left: bool, lo: int, hi: int) -> str:
    """:attr:`DirectTest.FLOAT`: ``key(x) <= k`` as a float compare, ``x <= t`` with ``t``
    the value of key ``k`` (NaN fails it), or ``!(x > t)`` where NaN goes left; the tests
    no threshold separates (NaN alone one way, as :func:`bits_forms` 0 and 1) compare x
    with itself."""
    x = f"features[{f}]"
    if k >= hi:
        return f"{x} == {x}"
    if k < lo:
        return f"{x} != {x}"
    t = float_literal(key_value(k))
    return f"!({x} > {t})" if nan_left else f"{x} <= {t}"


def integer_forms(f: int) -> tuple[str]:
    """The C form of a test on integer feature f (``%s``: its literal)."""
    return (f"features[{f}] <= %s",)


_NAN_HI, _NEG_INF_HI = _NAN_BITS >> 16, _NEG_INF >> 16  # upper halves of +inf and -inf


def half_le(h: str, low: str, kh: int | str, kl: int | str) -> tuple[str, str]:
    """(head, tie): C tests that together say ``key <= K`` for a value whose key is its
    bits (non-negative, not NaN), given K's upper half ``kh`` (signed) and lower half
    ``kl`` as numbers or C expressions: the upper halves decide unless they are equal."""
    khs = int_literal(kh, "int16_t") if isinstance(kh, int) else kh
    if kl == 0xFFFF:
        return f"{h} <= {khs}", ""
    tie = f"{low} == 0u" if kl == 0 else f"{low} <= {kl}u" if isinstance(kl, int) else f"{low} <= {kl}"
    return f"{h} < {khs}", f"{h} == {khs} && {tie}"


@functools.lru_cache(maxsize=1 << 16)
def half_condition(macro: str, f: int, k: int, nan_left: bool, lo: int, hi: int) -> str:
    """The key test ``key <= k`` on the halves of the float's bits (``h`` signed upper,
    ``l`` lower): ordered so that ordinary values are decided by two compares of ``h``,
    ``l`` read only when ``h`` equals a bound's upper half."""
    h, low = f"{macro}_HI({f})", f"{macro}_LO({f})"
    lit = functools.partial(int_literal, ctype="int16_t")
    not_neg_nan = f"{h} < {_NEG_INF_HI} || ({h} == {_NEG_INF_HI} && {low} == 0u)"  # for h < 0
    pos_nan = f"({h} >= {_NAN_HI} && ({h} > {_NAN_HI} || {low} != 0u))"  # for h >= 0
    if k >= hi:  # not NaN
        return f"({h} >= 0 && ({h} < {_NAN_HI} || ({h} == {_NAN_HI} && {low} == 0u))) || {not_neg_nan}"
    if k < lo:  # NaN
        return f"{pos_nan} || ({h} < 0 && ({h} > {_NEG_INF_HI} || ({h} == {_NEG_INF_HI} && {low} != 0u)))"
    if k >= 0:  # the bits of [0, k] (and of the negatives, NaN aside)
        head, tie = half_le(h, low, k >> 16, k & 0xFFFF)
        if nan_left:
            return " || ".join([head, *([f"({tie})"] if tie else []), pos_nan])
        left = f"{head} && ({h} >= 0 || {not_neg_nan})"
        return f"({left}) || ({tie})" if tie else left
    # k < 0: the negative floats from start up to -inf (as signed bits)
    start = -(2**31) - k
    sh, sl = start >> 16, start & 0xFFFF
    if sl == 0:
        span = f"{h} >= {lit(sh)}"
    else:
        span = f"({h} > {lit(sh)} || ({h} == {lit(sh)} && {low} >= {sl}u))"
    if nan_left:
        return f"({h} < 0 && {span}) || {pos_nan}"
    return f"{h} < 0 && {span} && ({not_neg_nan})"


@functools.lru_cache(maxsize=1 << 16)
def no_nan_condition(macro: str, f: int, k: int, lo: int, hi: int) -> str:
    """The key test ``key <= k`` on the halves of the float's bits for a value that is
    not NaN (the guard of :mod:`.nan_guard` sends the others elsewhere): ``h`` signed
    upper, ``l`` lower half. For ``k >= 0`` the bits order like the keys and every
    negative float has ``h < 0``; for ``k < 0`` the negative floats with key ``<= k`` are
    those whose bits, unsigned, are at least ``INT32_MIN - k`` (the non-negative ones
    are below ``2^31``). ``l`` is read only when ``h`` equals the bound's upper half."""
    h, low = f"{macro}_HI({f})", f"{macro}_LO({f})"
    if k >= hi:
        return "1"
    if k < lo:
        return "0"
    if k >= 0:
        head, tie = half_le(h, low, k >> 16, k & 0xFFFF)
        return f"{head} || ({tie})" if tie else head
    start = 2**31 - k  # INT32_MIN - k, unsigned
    uh, sh, sl = f"(uint16_t){h}", f"{start >> 16}u", start & 0xFFFF
    if sl == 0:
        return f"{uh} >= {sh}"
    return f"{uh} > {sh} || ({uh} == {sh} && {low} >= {sl}u)"


def direct_condition(model: Model, test: Test) -> str:
    """C expression true when the node sends the row left, reading the feature directly."""
    return direct_condition_fn(model)(test.feature, test.k, test.nan_left)


def direct_condition_fn(model: Model) -> Callable[[int, int, bool], str]:
    """(feature, key threshold, NaN goes left) -> the direct test's C expression, specialised
    once per model (:func:`condition_texts` prints many at once, from the same forms).

    Integers compare as they are, floats in the FPU where the target says so
    (:func:`float_condition`). A float32's bits ``s`` (as int32) order non-negative
    values like their keys, so for a key threshold ``K >= 0`` the test is ``s <= K``
    (+NaN fails it, -NaN passes it); for ``K < 0`` the negative floats with key
    ``<= K`` are the bits in ``[INT32_MIN - K, bits(-inf)]``.
    """
    kind = model.plan.direct_test
    assert kind is not None, "direct tests need a plan with FeatureAccess.DIRECT"
    if kind is DirectTest.HALF_KEYS:
        return _keyed_fn(model)
    return _direct_fn(model.p, model.in_t, model.precision, model.base_range, kind)


def _keyed_fn(model: Model) -> Callable[[int, int, bool], str]:
    """:attr:`DirectTest.HALF_KEYS`: a feature's int16 key where half_keys gives it one
    (and the threshold is a key of non-NaN values), the half-word test elsewhere."""
    keys = model_keys(model)
    half = _direct_fn(model.p, model.in_t, model.precision, model.base_range, DirectTest.HALF)
    lo, hi = model.base_range

    def keyed(f: int, k: int, nan_left: bool) -> str:
        key = keys.get(f)
        if key is None or not lo <= k < hi:
            return half(f, k, nan_left)
        return half_keys.key_condition(key, f, k, nan_left)

    return keyed


@functools.lru_cache(maxsize=16)
def _direct_fn(prefix: str, in_t: str, precision: str | None, base_range: tuple[int, int],
               kind: DirectTest) -> Callable[[int, int, bool], str]:
    lo, hi = base_range
    macro = prefix.upper()
    b = BITS.get(precision or "float32")

    def integer(f: int, k: int, nan_left: bool) -> str:
        return integer_forms(f)[0] % int_literal(k, in_t)

    def half(f: int, k: int, nan_left: bool) -> str:
        return half_condition(macro, f, k, nan_left, lo, hi)

    def fpu(f: int, k: int, nan_left: bool) -> str:
        return float_condition(f, k, nan_left, lo, hi)

    def no_nan(f: int, k: int, nan_left: bool) -> str:
        return no_nan_condition(macro, f, k, lo, hi)

    def bits(f: int, k: int, nan_left: bool) -> str:
        forms = bits_forms(prefix, f, precision)
        if k >= hi:
            return forms[0]
        if k < lo:
            return forms[1]
        if k >= 0:
            return forms[3 - nan_left] % int_literal(k, b.ctype)
        return forms[5 - nan_left] % int_literal(-b.sign - k, b.ctype)

    return {DirectTest.INTEGER: integer, DirectTest.HALF: half, DirectTest.HALF_NO_NAN: no_nan,
            DirectTest.BITS: bits, DirectTest.FLOAT: fpu}[kind]


def condition(model: Model, test: Test) -> str:
    """C expression true when the node sends the row left (the test is not folded)."""
    p = model.p
    if model.direct:
        return direct_condition(model, test)
    v = f"v[{test.feature}]"
    nan = int_literal(model.nan_key, model.key_t)
    if test.cat:
        plain = model.ranks[test.feature] is not None or not model.nan
        member = f"{p}_member({model.category_expr(str(test.feature), v, plain)}, {test.k}u)"
        if not model.nan:
            return member
        return f"{v} == {nan} || {member}" if test.nan_left else f"{v} != {nan} && {member}"
    lo, hi = model.value_range(test.feature)
    if test.k >= hi:
        return f"{v} != {nan}"  # always left unless NaN, which goes right
    if test.k < lo:
        return f"{v} == {nan}"
    cmp = f"{v} <= {int_literal(test.k, model.key_t)}"
    if model.nan and not test.nan_left:
        return f"{v} != {nan} && {cmp}"
    return cmp


def length_pad(model: Model) -> tuple[list[str], str]:
    """(declaration, leaf statement) that keep avr-gcc 5's code size estimate above the truth.

    avr-gcc 5 sizes a conditional branch to a label exactly 64 words ahead as one word
    (``brXX``) but prints the two-word ``brXX .+2`` + ``rjmp`` (its ``branch`` length
    attribute counts from the next insn, ``avr_jump_mode`` from the branch itself). Each
    such branch puts the following code 2 bytes further than GCC believes, so in big walks
    an ``rjmp`` GCC sized just within its 4 KB reach lands a few bytes past it and the link
    fails (``relocation truncated to fit: R_AVR_13_PCREL``; 5 of 32 digits forests of
    100-160 KB). GCC sizes an asm statement as its
    longest instruction (4 bytes on AVR); an assembler comment emits nothing, so one per
    leaf makes every long jump's estimate exceed its real distance by far more than those
    branches add (those 32 all link; digits 10x6: 14% less flash, 2 more cycles of 1,247).
    Other compilers get an empty statement."""
    if model.target.compiler != "avr-gcc":
        return [], ""
    m = model.p.upper()
    decl = (
        "/* Leaves carry an asm statement holding only a comment: no code, but avr-gcc 5 counts\n"
        " * 4 bytes for it, enough to cover the forward branches it sizes one word short, which\n"
        " * otherwise push a long rjmp out of reach (the link fails: relocation truncated to fit). */\n"
        f"#if defined(__GNUC__) && defined(__AVR__) && !defined(__clang__)\n#define {m}_LEN_PAD __asm__ (\";\")\n"
        f"#else\n#define {m}_LEN_PAD (void)0\n#endif"
    )
    return [decl], f"{m}_LEN_PAD;"


def leaf_sum_lines(model: Model, fx: FixedPlan, index: int, row: int, pad: str) -> list[str]:
    """``qC += v`` for the nonzero fixed-point values (plan ``fx``) of leaf row ``row``
    (tree ``index``): the class sums are plain locals, which the compiler can keep in
    registers."""
    o = int(model.ens.tree_output[index])
    out = []
    for c in np.flatnonzero(fx.leaves[row]).tolist():
        v = int(fx.leaves[row, c])
        out.append(f"{pad}q{o + c} {'+' if v > 0 else '-'}= {abs(v)};")
    return out


def leaf_lines(model: Model, sums: FixedPlan | None, rows: bool, mark: str, index: int, row: int,
                pad: str) -> list[str]:
    """A leaf's statements in tree ``index``: its values of plan ``sums`` added (if any),
    with ``rows`` its leaf row set, then the length pad ``mark`` (if any)."""
    lines = leaf_sum_lines(model, sums, index, row, pad) if sums is not None else []
    if rows:
        lines.append(f"{pad}row = {row};")
    if mark:
        lines.append(pad + mark)
    return lines


def block_ends(model: Model, rows: bool) -> tuple[Callable[[int], str], Callable[[int], str]]:
    """Opening and closing text of tree ``t``'s block: with ``rows``, a local leaf row
    handed to the sink at the end."""
    if not rows:
        return (lambda t: f"    {{   /* tree {t} */\n"), (lambda t: "\n    }")
    return ((lambda t: f"    {{   /* tree {t} */\n        {model.row_t} row;\n"),
            (lambda t: f"\n        {model.sink(str(t), 'row')}\n    }}"))
