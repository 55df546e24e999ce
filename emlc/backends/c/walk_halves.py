"""The speed levels' table walk on cores with half-word float tests (8-bit AVR).

Each tree is a run of bytes in flash, in preorder, walked by one pointer::

    decision  b = 4f + 2 | NaN goes left, kh (int16), step, [kl (uint16)]
    leaf      b = row >> 8 << 2, row & 0xFF   (with leaf records, "row" is where its record starts)

(b is one byte while 4f fits one, else two.) ``kh`` and ``kl`` are the upper and lower
halves of the node's key threshold K (go left when key(x) <= K). A node's left child is
the next record, its right child ``step`` bytes past the step field. ``kl`` is stored
only when some threshold needs it (digits forests' x.5 thresholds have none). ``4f + 3``
is the offset of feature f's top byte, so b | 1 finds it without a slot table.

A non-negative float below 2^127 (top byte under 0x7F) has the key of its bits, so the
test compares its upper 16 bits with ``kh`` and reads the lower half only on a tie
(:func:`~emlc.backends.c.inline_text.half_le`, the rule of the inline walk's half-word
tests). Every other value (negative, huge, infinite, NaN of either sign) takes the slow
step: its order key (``runtime/c/key.c``) against K, NaN by the flag. With avr-gcc the
nodes whose upper halves decide are walked by a few lines of assembly
(``runtime/c/walk_halves_avr.c``, about 33 cycles a node where the slot and key-palette
records of :mod:`walk_table` take over 100); the C step takes every other record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ...cost import half_first_bytes, half_word_table
from ...ir.ensemble import Op
from . import leaf_records
from .common import int_literal, size_of
from .inline_text import half_le
from .model import Model, Walk, runtime_source

#: the assembly walk's left step (h < kh): the next record, past kl if records have one
_AVR_LEFT = {False: '"brlt 1b\\n\\t"',
             True: '"brge 2f\\n\\t"\n        "adiw %A[r], 2\\n\\t"\n        "rjmp 1b\\n"\n        "2:\\n\\t"'}
#: the top byte of the floats the fast step decides: non-negative, below 2^127
FAST_TOP = 0x7F


@dataclass(frozen=True)
class HalfRecords:
    """All trees as one byte stream (see the module docstring) and each tree's first byte."""

    stream: np.ndarray
    roots: np.ndarray
    fb_t: str  # the first field b: 4f + 2 | NaN goes left, or a leaf's row >> 8 << 2
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
        return size_of(self.fb_t) + 2 + size_of(self.step_t) + 2 * self.low

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
    """The key threshold K a record stores for test threshold ``k``: past the keys of
    non-NaN values on either side, a bound whose lower half is zero does as well."""
    lo, hi = model.base_range
    return min(max(k, lo - (1 << 16)), hi)


def encode(model: Model, trees) -> HalfRecords:
    """The byte stream of ``trees`` (walk_table._tests of each), with the narrowest step
    that holds every right child's distance (where :func:`applies`, one does)."""
    low = any(_bound(model, test.k) & 0xFFFF for tests, _ in trees for test in tests.values())
    rec = model.plan.records
    fb = half_first_bytes(model.ens.n_features, int(model.ens.leaves.shape[0] if rec is None else rec.data.size))
    assert fb is not None
    out = _stream(model, trees, low, f"uint{8 * fb}_t", "uint8_t") or _stream(model, trees, low, f"uint{8 * fb}_t", "uint16_t")
    assert out is not None, "the cost model's half_word_table admitted a model the records cannot hold"
    return out


def _stream(model: Model, trees, low: bool, fb_t: str, step_t: str) -> HalfRecords | None:
    fbs, ss = size_of(fb_t), size_of(step_t)
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
            data += _le(4 * test.feature + 2 | int(test.nan_left), fbs) + _le(k >> 16, 2)
            at = len(data)
            data += [0] * ss + (_le(k, 2) if low else [])
            decisions += 1
            stack.append(("right", node, at))
            stack.append(("node", go_left[node]))
    return HalfRecords(np.array(data, dtype=np.int64), np.array(roots, dtype=np.int64), fb_t, step_t, low,
                       decisions, leaves)


def walk_body(model: Model, rec: HalfRecords, tree_loop, entry: Callable[[str, str], str] | None = None) -> Walk:
    """The walk over ``rec``; ``tree_loop(walk)`` wraps one tree's walk in the loop over trees.
    ``entry(nodes, root)``: P_head(t, features), which starts tree t's walk past its top
    levels (:mod:`walk_head`; ``root`` reads tree t's first byte in ``nodes``)."""
    p, tables = model.p, model.tables
    nodes = tables.add("nodes", "uint8_t", rec.stream, per_line=16,
                       note="per tree, in preorder: decision records (4f + 2 | NaN goes left, kh, bytes from "
                            "here to the right child" + (", kl" if rec.low else "") + "), leaf records "
                            "(row >> 8 << 2, row & 0xFF)")
    roots = tables.add("root", "uint16_t", rec.roots, note=f"first byte of each tree in {nodes}")
    ptr_t = f"const {model.target.flash.qualifier}uint8_t *"
    kl = f"{p}_peek16(r)" if rec.low else "0u"
    head, tie = half_le("h", "(uint16_t)(((uint16_t)v[-2] << 8) | v[-3])", "kh", kl if rec.low else 0)
    skip = ""
    if rec.fb_t == "uint8_t" and rec.step_t == "uint8_t" and model.target.compiler == "avr-gcc":
        skip = runtime_source("walk_halves_avr.c", p=p, P=p.upper(), ptr_t=ptr_t, fast_top=f"0x{FAST_TOP:02X}",
                              left=_AVR_LEFT[rec.low])
    fb_bits, step_bits = 8 * size_of(rec.fb_t), 8 * size_of(rec.step_t)
    decl = runtime_source(
        "walk_halves.c", p=p, P=p.upper(), row_t=model.row_t, ptr_t=ptr_t, fb_t=rec.fb_t, step_t=rec.step_t,
        peek8=tables.read("uint8_t", "r", "0"), read_fb=f"{p}_next{fb_bits}(&r)", peek_fb=f"{p}_peek{fb_bits}(r)",
        fb_bytes=size_of(rec.fb_t), read_step=f"{p}_next{step_bits}(&r)", kl=kl,
        fast=f"{head} || ({tie})" if tie else head, fast_top=f"0x{FAST_TOP:02X}u", left="r + 2" if rec.low else "r",
        nan_key=int_literal(model.nan_key, model.key_t), fast_skip=skip,
        skip=f"#if defined({p.upper()}_SKIP)\n        {p}_skip(&r, features);\n#endif" if skip else "",
    )
    if entry is None:
        return Walk([decl], tree_loop(f"{p}_walk({nodes} + {tables.read('uint16_t', roots, 't')}, features)"), rec)
    return Walk([decl, entry(nodes, roots)], tree_loop(f"{p}_walk({p}_head(t, features), features)"), rec)
