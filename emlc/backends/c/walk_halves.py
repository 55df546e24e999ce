"""The speed levels' table walk on cores with half-word tests (8-bit AVR), for float32
features and integer features of 8, 16 or 32 bits.

Each tree is a run of bytes in flash, in preorder, walked by one pointer::

    decision  b = 4f + 2 | flag, k, step, [kl (uint16)]
    leaf      b = row >> 8 << 2, row & 0xFF   (with leaf records, "row" is where its record starts)

(b is one byte while 4f fits one, else two.) A node's left child is the next record, its
right child ``step`` bytes past the step field. b >> 2 is the feature: a float's top byte
is at offset 4f + 3 = b | 1 of the row, an int16's at 2f + 1 = b >> 1, a byte's at f =
b >> 2, so no slot table is needed.

float32 features: ``k`` (int16) and ``kl`` (uint16) are the upper and lower halves of the
node's key threshold K (go left when key(x) <= K). ``kl`` is stored only when some
threshold needs it (digits forests' x.5 thresholds have none). A non-negative float below
2^127 (top byte under 0x7F) has the key of its bits, so the test compares its upper 16
bits with ``k`` and reads the lower half only on a tie
(:func:`~emlc.backends.c.inline_text.half_le`, the rule of the inline walk's half-word
tests). Every other value (negative, huge, infinite, NaN of either sign) takes the slow
step: its order key (``runtime/c/key.c``) against K, NaN by the flag.

float32 records' flag: NaN goes left. Integer features (``--input int32|int16|uint16|int8|uint8``)
have no NaN: their flag says the left child is a leaf, whose record the right child
follows, so the record has no step. ``k`` is the threshold K in the feature's own type (go
left when x <= K; the splits every value of the type takes one way are folded before, so K
fits; 16- and 32-bit thresholds that all share the bits above their low byte store that
byte, int32 ones sharing those above their low two bytes those two), one compare with no
sign, NaN or tie case. An int32 is at 4f, its top byte at 4f + 3 as a float's.

With avr-gcc the nodes a compare decides are walked by a few lines of assembly
(``runtime/c/walk_halves_avr.c``: about 25-30 cycles a float node, 25 an 8- or 16-bit
integer one, where the slot and key-palette records of :mod:`walk_table` take over 100);
the C step (``walk_halves_float.c``, ``walk_halves_int.c``) takes every other record, and
every record of int32 thresholds kept whole. digits -O2 on the ATmega328P, ``--input
int32``: 10x6 3,746 cycles, 20x5 6,468, 30x6 10,529, where the slot records took 7,372,
12,363 and 17,498.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ...cost import HALF_THRESHOLD_BYTES, half_first_bytes, half_kept, half_word_table
from ...ir.ensemble import Op
from . import leaf_records
from .common import C_INT, int_literal, int_range, size_of
from .inline_text import half_le
from .model import Model, Walk, runtime_source

#: the top byte of the floats the fast step decides: non-negative, below 2^127
FAST_TOP = 0x7F


def _asm(*lines: str) -> str:
    """Lines of the assembly walk as C string literals (``runtime/c/walk_halves_avr.c``)."""
    return "\n        ".join(f'"{line}\\n\\t"' for line in lines)


@dataclass(frozen=True)
class _Compare:
    """How a decision record tests its feature, per input type: the threshold field's C
    type, the C step, and the assembly walk's parts (``runtime/c/walk_halves_avr.c``):
    x from b (pointing at the value's top byte), the lines reading the value and the
    threshold (``test``), those deciding once the step is read (``left``: to 1b, on to
    the right child's step at 2: or after them, the C step at 3f), the exits (3: the
    C step, r past b)."""

    k_t: str
    step: str
    setup: tuple[str, ...]
    offset: tuple[str, ...]
    test: tuple[str, ...]
    left: tuple[str, ...]
    exits: tuple[str, ...] = ("3:",)
    decides: str = "(one compare decides each)"
    stops: str = ""
    cycles: str = "About 25 cycles a node."


#: float32 (the left step past kl when records carry it, by ``HalfRecords.low``): the
#: upper bytes decide unless the value is negative, 2^127 or more, or they tie, then the
#: next bytes unless those tie too (h == kh: the C step)
_FLOAT = {low: _Compare(
    "int16_t", "walk_halves_float.c", (), ("ori %[b], 1",),
    ("ld %[hh], %a[x]", f"cpi %[hh], 0x{FAST_TOP:02X}", "brsh 3f", "lpm %[kl], Z+", "lpm %[kh], Z+"),
    ("cp %[hh], %[kh]", f"brlt {'7f' if low else '1b'}", "brne 2f", "ld %[hl], -%a[x]", "cp %[hl], %[kl]",
     f"brlo {'7f' if low else '1b'}", "brne 2f", "sbiw %A[r], 3", "rjmp 3f",
     *(("7:", "adiw %A[r], 2", "rjmp 1b") if low else ()), "2:"),
    ("3:",),
    f"whose upper halves decide (top byte under 0x{FAST_TOP:02X}, h != kh)", ", a tie, any other value",
    "About 25 cycles a node to the left, 30 to the right, where avr-gcc 5's code for the same C\n"
    " * takes about 45.") for low in (False, True)}


def _integer(input_type: str, high: int | None, kept: int) -> _Compare | None:
    """An integer feature against its threshold k (k >= x: left); ``high``: the bits above
    the ``kept`` bytes of k every threshold shares, which the records leave out. The flag
    (carry of the first shift) sends a record without a step to its own copy of the
    test at 5:, which steps past the left leaf's two bytes on the right. None (the C step
    takes every record) for int32 thresholds kept whole."""
    if size_of(C_INT[input_type]) == 4:
        return None if high is None else _int32(high, kept)
    wide = size_of(C_INT[input_type]) == 2
    left = "brsh 1b" if input_type.startswith("u") else "brge 1b"
    shift = () if wide else ("lsr %[b]",)  # a byte feature's offset is b >> 2, a 16-bit one's top byte b >> 1
    test = (("ld %[hh], %a[x]", "ld %[hl], -%a[x]", "lpm %[kl], Z+", *(("lpm %[kh], Z+",) if high is None else ()),
             "cp %[kl], %[hl]", "cpc %[kh], %[hh]") if wide else ("ld %[hl], %a[x]", "lpm %[kl], Z+", "cp %[kl], %[hl]"))
    return _Compare(
        C_INT[input_type], "walk_halves_int.c", () if high is None else (f"ldi %[kh], {high & 0xFF}",),
        ("lsr %[b]", "brcs 5f", *shift), test, (left,),
        ("5:", *shift, "add %A[x], %[b]", "adc %B[x], __zero_reg__", *test, left, "adiw %A[r], 2", "rjmp 1b", "3:"))


def _int32(high: int, kept: int) -> _Compare:
    """An int32 feature x against K, its ``kept`` low bytes in the record and ``high`` the
    bits above them: x - K by a subtract chain, the shared bytes as immediates (sbci), x's
    bytes in hl, hh, b and kh (free once b has placed x at the value's top byte, 4f + 3);
    x <= K goes left."""
    c = [(high << 8 * kept) >> 8 * i & 0xFF for i in range(4)]
    shift = ("lsl %[b]", "ori %[b], 1")  # b >> 1 is 2f + 1: the top byte 4f + 3
    loads = ("ld %[kh], %a[x]", "ld %[b], -%a[x]", "ld %[hh], -%a[x]", "ld %[hl], -%a[x]", "lpm %[kl], Z+")
    chain = ("cp %[hl], %[kl]", f"sbci %[hh], {c[1]}") if kept == 1 else ("lpm %[s], Z+", "cp %[hl], %[kl]",
                                                                           "cpc %[hh], %[s]")
    test = (*loads, *chain, f"sbci %[b], {c[2]}", f"sbci %[kh], {c[3]}")
    left = ("brlt 1b", "breq 1b")
    return _Compare(
        "int32_t", "walk_halves_int.c", (), ("lsr %[b]", "brcs 5f", *shift), test, left,
        ("5:", *shift, "add %A[x], %[b]", "adc %B[x], __zero_reg__", *test, *left, "adiw %A[r], 2", "rjmp 1b", "3:"),
        cycles="About 33 cycles a node.")


@dataclass(frozen=True)
class HalfRecords:
    """All trees as one byte stream (see the module docstring) and each tree's first byte."""

    stream: np.ndarray
    roots: np.ndarray
    fb_t: str  # the first field b: 4f + 2 | NaN goes left, or a leaf's row >> 8 << 2
    k_t: str  # the threshold field k
    k_high: int | None  # the bits above k every integer threshold shares, when k holds the low bytes (half_kept)
    integer: str | None  # integer records: the feature type (flag: no step before a left leaf)
    step_t: str
    low: bool  # decision records carry kl
    n_decisions: int
    n_leaves: int

    @property
    def n_records(self) -> int:
        return self.n_decisions + self.n_leaves

    @property
    def record_bytes(self) -> int:
        """Bytes of a decision record."""
        return size_of(self.fb_t) + size_of(self.k_t) + size_of(self.step_t) + 2 * self.low

    @property
    def bytes(self) -> int:
        return int(self.stream.size + 2 * self.roots.size)


def applies(model: Model) -> bool:
    """Does the build walk half-word records? The speed levels' table layout where the cost
    model counts them (:func:`emlc.cost.half_word_table`)."""
    return not model.plan.pack_tables and half_word_table(model.ens, model.target)


def _le(value: int, size: int) -> list[int]:
    return [(value >> (8 * i)) & 0xFF for i in range(size)]


def _bound(model: Model, k: int) -> int:
    """The key threshold K a record stores for test threshold ``k``: float32 features past
    the keys of non-NaN values on either side, a bound whose lower half is zero does as
    well; integer features' thresholds as they are (folding left those in the type)."""
    if model.precision is None:
        return k
    lo, hi = model.base_range
    return min(max(k, lo - (1 << 16)), hi)


def encode(model: Model, trees) -> HalfRecords:
    """The byte stream of ``trees`` (walk_table._tests of each), with the narrowest step
    that holds every right child's distance (where :func:`applies`, one does)."""
    low = model.precision is not None and any(
        _bound(model, test.k) & 0xFFFF for tests, _ in trees for test in tests.values())
    fb = half_first_bytes(model.ens.n_features, leaf_records.largest_ref(model.plan.records, model.ens))
    assert fb is not None
    if model.precision is not None:
        k_t, high = "int16_t", None
    else:
        kept, high = half_kept(np.array([t.k for tests, _ in trees for t in tests.values()]), model.ens.input_type)
        k_t = C_INT[model.ens.input_type] if high is None else f"uint{8 * kept}_t"
    assert size_of(k_t) <= HALF_THRESHOLD_BYTES[model.ens.input_type]
    fb_t = f"uint{8 * fb}_t"
    out = (_stream(model, trees, low, fb_t, k_t, high, "uint8_t")
           or _stream(model, trees, low, fb_t, k_t, high, "uint16_t"))
    assert out is not None, "the cost model's half_word_table admitted a model the records cannot hold"
    return out


def _stream(model: Model, trees, low: bool, fb_t: str, k_t: str, high: int | None,
            step_t: str) -> HalfRecords | None:
    fbs, ks, ss = size_of(fb_t), size_of(k_t), size_of(step_t)
    shift = 16 if model.precision is not None else 0  # float32 records hold K's upper half
    k_lo, k_hi = int_range(k_t) if high is None else (high << 8 * ks, (high + 1 << 8 * ks) - 1)
    smax = (1 << (8 * ss)) - 1
    data: list[int] = []
    roots: list[int] = []
    decisions = leaves = 0
    leaf_op = int(Op.LEAF)
    for tree, (tests, goto) in zip(model.ens.trees, trees):
        is_leaf = (tree.op == leaf_op).tolist()
        leaf, go = leaf_records.leaf_refs(model.plan.records, tree), goto.tolist()
        go_left, go_right = goto[tree.left].tolist(), goto[tree.right].tolist()
        roots.append(len(data))
        # ("node", node) writes a subtree; ("right", node, at) fills the step field at byte `at`
        stack: list[tuple] = [("node", go[0])]
        while stack:
            item = stack.pop()
            node = item[1]
            if item[0] == "right":
                at = item[2]
                step = len(data) - at - ss
                if step > smax:
                    return None
                data[at:at + ss] = _le(step, ss)
                stack.append(("node", go_right[node]))
                continue
            if is_leaf[node]:
                row = leaf[node]
                data += _le((row >> 8) << 2, fbs) + [row & 0xFF]
                leaves += 1
                continue
            test = tests[node]
            k = _bound(model, test.k)
            assert k_lo <= k >> shift <= k_hi, "a split every value takes one way was not folded"
            decisions += 1
            # the flag: NaN goes left (float32), or no step before the left leaf (integers)
            flag = test.nan_left if shift else is_leaf[go_left[node]]
            data += _le(4 * test.feature + 2 | int(flag), fbs) + _le(k >> shift, ks)
            if not shift and flag:
                stack += [("node", go_right[node]), ("node", go_left[node])]
                continue
            at = len(data)
            data += [0] * ss + (_le(k, 2) if low else [])
            stack += [("right", node, at), ("node", go_left[node])]
    return HalfRecords(np.array(data, dtype=np.int64), np.array(roots, dtype=np.int64), fb_t, k_t, high,
                       None if shift else model.ens.input_type, step_t, low, decisions, leaves)


def _find(p: str, rec: HalfRecords, row_t: str, skip: bool) -> str:
    """P_walk's lines setting b, the first byte of the next record the C step takes, and
    returning a leaf's row: after the assembly (``skip``, which stops past a leaf's b) or
    at r."""
    indent = "        "

    def leaf(low: str) -> str:
        return (f"{indent}if (!(b & 2u)) {{\n{indent}    return ({row_t})((({row_t})(b >> 2) << 8) | {low});\n"
                f"{indent}}}")

    fb_bits = 8 * size_of(rec.fb_t)
    peek = f"{indent}b = {p}_peek{fb_bits}(r);\n" + leaf(f"{p}_peek8(r + {size_of(rec.fb_t)}u)")
    if not skip:
        return peek
    return (f"#if defined({p.upper()}_SKIP)\n{indent}b = {p}_skip(&r, features);\n" + leaf(f"{p}_next8(&r)")
            + f"\n#else\n{peek}\n#endif")


def cursor(model: Model) -> str | None:
    """The walk's :attr:`~.model.Walk.cursor`: where inline heads run (the plan's head
    levels), the first tree's (each head hands on the next one's)."""
    return f"{model.p}_head_first()" if model.plan.head is not None else None


def walk_body(model: Model, rec: HalfRecords, tree_loop, entry: Callable[[str, str], str] | None = None) -> Walk:
    """The walk over ``rec``; ``tree_loop(walk, cursor)`` wraps one tree's walk in the loop
    over trees. ``entry(nodes, root)``: P_head(&go, features), which starts the walk of the
    tree at cursor go past its top levels (:mod:`walk_head`; ``root`` reads tree t's first
    byte in ``nodes``)."""
    p, tables = model.p, model.tables
    flag, what = ("NaN goes left", "kh") if model.precision is not None else ("left child is a leaf", "threshold")
    nodes = tables.add("nodes", "uint8_t", rec.stream, per_line=16,
                       note=f"per tree, in preorder: decision records (4f + 2 | {flag}, {what}, bytes from "
                            "here to the right child" + (", kl" if rec.low else " unless the left child is a leaf"
                                                         if model.precision is None else "") +
                            "), leaf records (row >> 8 << 2, row & 0xFF)")
    roots = tables.add("root", "uint16_t", rec.roots, note=f"first byte of each tree in {nodes}")
    ptr_t = f"const {model.target.flash.qualifier}uint8_t *"
    compare = (_FLOAT[rec.low] if model.precision is not None
               else _integer(model.ens.input_type, rec.k_high, size_of(rec.k_t)))
    skip = ""
    if compare is not None and rec.fb_t == "uint8_t" and rec.step_t == "uint8_t" and model.target.compiler == "avr-gcc":
        skip = runtime_source("walk_halves_avr.c", p=p, P=p.upper(), ptr_t=ptr_t, in_t=model.in_t,
                              start=_asm(*compare.setup, "1:"), offset=_asm(*compare.offset),
                              test=_asm(*compare.test), left=_asm(*compare.left), exits=_asm(*compare.exits),
                              decides=compare.decides, stops=compare.stops, cycles=compare.cycles)
    fb_bits, step_bits = 8 * size_of(rec.fb_t), 8 * size_of(rec.step_t)
    fields = dict(p=p, P=p.upper(), ptr_t=ptr_t, in_t=model.in_t, fb_t=rec.fb_t, step_t=rec.step_t,
                  read_fb=f"{p}_next{fb_bits}(&r)", read_step=f"{p}_next{step_bits}(&r)")
    step_call = f"r = {p}_step(r, features);"
    if model.precision is not None:
        kl = f"{p}_peek16(r)" if rec.low else "0u"
        head, tie = half_le("h", "(uint16_t)(((uint16_t)v[-2] << 8) | v[-3])", "kh", kl if rec.low else 0)
        step = runtime_source(compare.step, **fields, kl=kl, fast=f"{head} || ({tie})" if tie else head,
                              fast_top=f"0x{FAST_TOP:02X}u", left="r + 2" if rec.low else "r",
                              nan_key=int_literal(model.nan_key, model.key_t))
    else:
        ks = size_of(rec.k_t)
        read_k = f"{p}_next{8 * ks}(&r)"
        if rec.k_high is not None and size_of(model.in_t) == 2:
            read_k = f"({rec.k_high & 0xFF}u << 8 | {read_k})"
        elif rec.k_high is not None:  # int32: K = high 2^(8 kept) + k, in range
            read_k = f"((int32_t){rec.k_high} * {1 << 8 * ks}L + (int32_t){read_k})"
        step = runtime_source("walk_halves_int.c", **fields, read_k=read_k, leaf_bytes=size_of(rec.fb_t) + 1)
        if ks == 4:
            step = runtime_source("walk_halves_next32.c", p=p, ptr_t=ptr_t) + "\n" + step
        step_call = f"#if !defined({p.upper()}_SKIP)\n        {step_call}\n#endif"  # the assembly decides them all
    decl = runtime_source(
        "walk_halves.c", p=p, row_t=model.row_t, ptr_t=ptr_t, in_t=model.in_t, fb_t=rec.fb_t,
        peek8=tables.read("uint8_t", "r", "0"), fast_skip=skip, step=step, step_call=step_call,
        find=_find(p, rec, model.row_t, bool(skip)),
    )
    if entry is None:
        row = f"{p}_walk({nodes} + {tables.read('uint16_t', roots, 't')}, features)"
        return Walk([decl], tree_loop(row), rec, row)
    row, go = f"{p}_walk({p}_head(&go, features), features)", cursor(model)
    assert go is not None
    return Walk([decl, entry(nodes, roots)], tree_loop(row, go), rec, row, go)
