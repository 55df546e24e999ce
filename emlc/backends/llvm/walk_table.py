"""Table walk: a model's trees as node records in one constant, walked by one small loop.

Inline code (:mod:`emlc.backends.llvm.codegen`) costs LLVM time per node, so a model
of ~500k nodes takes minutes to compile; here LLVM compiles the same few blocks
whatever the model's size, and the model is data (host JIT, blocked layouts)::

    @m_nodes  = [R x i8] c"..."    ; decision nodes only, trees back to back
        record: W thr | i32 fk | i32 left | i32 right   (16 bytes, 24 for double W)
        fk = feature << 3 | op << 1 | default_left; a CAT node's thr holds the i32
        first word of its bitset in @m_cats; a child >= 0 is a record, < 0 is
        ~(leaf-table row)
    @m_roots  = [T x i32]          ; first record of each tree, or ~leaf row
    @m_touts  = [T x i32]          ; first output each tree adds to
    void m_walk(W *rows, IDX n, ACC *acc, i32 t0, i32 t1)   ; internal
      for t in t0..t1: for g < n step WALK_LANES:     ; a lane per row, all at once
          k = roots[t]; while any lane has k >= 0: k = open ? (test(k) ? left : right) : k
          acc[touts[t]..][g..] += gather(LEAVES, ~k)

``ModuleWriter`` calls the walk for the trees between early-exit check points, in tree
order, so sums are added in the interpreter's order. Each node's test is the inline
code's: the same rounded threshold (``splits.split_values``), the same ``fcmp``
predicate per (op, default_left) (``splits.split_predicate``: the loop evaluates the
predicates the model uses and selects the node's) and the same category test
(``ModuleWriter.category``), so both kernels reach the same leaf for every row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ...ir.ensemble import Op, Tree
from .builder import FunctionBuilder, array_literal
from .splits import split_predicate, split_values

if TYPE_CHECKING:
    from .codegen import ModuleWriter

#: bits of ``fk`` below the feature: op << 1 | default_left
_KIND_BITS = 3


def _kinds(trees: list[Tree]) -> list[int]:
    """The node kinds (op << 1 | default_left) the walked trees use, sorted."""
    found: set[int] = set()
    for t in trees:
        d = t.op != Op.LEAF
        found.update(np.unique((t.op[d].astype(np.int64) << 1) | t.default_left[d]).tolist())
    return sorted(found)


def record_type(w: str, little_endian: bool) -> np.dtype:
    """One node record: threshold in ``w``, then fk, left and right (module docstring)."""
    order = "<" if little_endian else ">"
    wdt, idt = np.dtype(np.float32 if w == "float" else np.float64).newbyteorder(order), np.dtype(order + "i4")
    return np.dtype({"names": ["thr", "fk", "left", "right"], "formats": [wdt, idt, idt, idt],
                     "offsets": [0, wdt.itemsize, wdt.itemsize + 4, wdt.itemsize + 8],
                     "itemsize": 16 if w == "float" else 24})


def records(trees: list[Tree], rec: np.dtype, words: int) -> tuple[bytes, np.ndarray]:
    """(node records, root of each tree) for ``trees``, as the module docstring lays them out."""
    w = "float" if rec["thr"].itemsize == 4 else "double"
    idt, size = rec["fk"], rec.itemsize
    parts, roots, base = [], [], 0
    for t in trees:
        decision = t.op != Op.LEAF
        at = np.cumsum(decision) - 1 + base  # record of each decision node
        ref = np.where(decision, at, ~t.leaf.astype(np.int64))  # what a child points to
        part = np.zeros(int(decision.sum()), dtype=rec)
        op = t.op[decision].astype(np.int64)
        part["thr"] = split_values(t, w)[decision]
        part["fk"] = (t.feature[decision].astype(np.int64) << _KIND_BITS) | (op << 1) | t.default_left[decision]
        part["left"] = ref[t.left[decision]]
        part["right"] = ref[t.right[decision]]
        cat = op == Op.CAT
        if cat.any():  # the bitset's first word, stored over the (unused) threshold
            part["thr"][cat] = 0
            first = (t.cat[decision][cat].astype(np.int64) * words).astype(idt)
            part.view(np.uint8).reshape(-1, size)[cat, :4] = first.view(np.uint8).reshape(-1, 4)
        parts.append(part)
        roots.append(ref[0])
        base += part.size
    # joined as bytes: numpy's concatenate would drop a padded record's padding
    return b"".join(p.tobytes() for p in parts), np.asarray(roots, dtype=np.int64)


def _bytes_literal(data: bytes) -> str:
    """``[n x i8] c"\\XX..."``, every byte hex-escaped (numpy, not a Python loop per byte)."""
    hexed = np.frombuffer(data.hex().upper().encode(), dtype=np.uint8).reshape(-1, 2)
    text = np.empty((hexed.shape[0], 3), dtype=np.uint8)
    text[:, 0] = ord("\\")
    text[:, 1:] = hexed
    return f'[{len(data)} x i8] c"{text.tobytes().decode()}"'


def walk_module(w: ModuleWriter) -> list[str]:
    """The tables and ``m_walk`` for every tree of ``w``'s ensemble.

    The walk moves a group of ``WALK_LANES`` rows down a tree at once, node records and
    features gathered per lane: one row's walk is a chain of dependent loads, and a
    group keeps that many chains in flight. Lanes that reached a leaf keep it until the
    group's last one does; lanes past ``n`` walk the (zeroed or stale) values of the
    block buffer and add to sums nobody reads, as vector trees do.
    """
    if not w.blocked:
        raise ValueError("the table walk needs a blocked layout (feature_stride > 1)")
    ens, t, idx, v = w.ens, w.t, w.layout.idx, w.walk_lanes
    trees = list(ens.trees)
    little = not any(p == "E" for p in w.layout.datalayout.split("-"))
    rec_t = record_type(t.w, little)
    data, roots = records(trees, rec_t, ens.cat_sets.shape[1])
    touts = np.asarray(ens.tree_output, dtype=np.int64)
    glob = f"internal unnamed_addr{w.layout.const_space} constant"
    out = [
        f"@{w.name}_nodes = {glob} {_bytes_literal(data)}, align 8",
        f"@{w.name}_roots = {glob} {array_literal('i32', roots)}, align 4",
        f"@{w.name}_touts = {glob} {array_literal('i32', touts)}, align 4",
        "",
    ]
    vi, vb, vw = f"<{v} x i32>", f"<{v} x i1>", f"<{v} x {t.w}>"
    fn = FunctionBuilder("s")
    safe = fn.op(f"select {vb} %open, {vi} %k, {vi} zeroinitializer")
    recs = fn.op(f"getelementptr inbounds i8, ptr @{w.name}_nodes, {vi} {fn.op(f'mul {vi} {safe}, splat (i32 {rec_t.itemsize})')}")

    def field(name: str, ty: str) -> str:
        at = fn.op(f"getelementptr inbounds i8, <{v} x ptr> {recs}, i32 {rec_t.fields[name][1]}")
        return w.gather(fn, ty, at, v)

    def pair(name: str) -> tuple[str, str]:
        """The i32 field ``name`` and the i32 after it, from one 8-byte gather per lane
        (as many gather instructions as two 4-byte ones, half the elements; measured:
        300x63 model with double thresholds 104-112k -> 122k rows/s, float ones even)."""
        both = field(name, "i64")
        low = fn.op(f"trunc <{v} x i64> {both} to {vi}")
        high = fn.op(f"trunc <{v} x i64> {fn.op(f'lshr <{v} x i64> {both}, splat (i64 32)')} to {vi}")
        return (low, high) if little else (high, low)

    if t.w == "float":  # threshold bits and fk share 8 bytes
        thr_bits, fk = pair("thr")
    else:
        thr_bits, fk = None, field("fk", "i32")
    fo = fn.op(f"mul {vi} {fn.op(f'lshr {vi} {fk}, splat (i32 {_KIND_BITS})')}, splat (i32 {w.fs})")
    iota = "<" + ", ".join(f"i32 {i}" for i in range(v)) + ">"  # lane i reads row g + i
    x = w.gather(fn, t.w, fn.op(f"getelementptr inbounds {t.w}, ptr %xg, {vi} {fn.op(f'add {vi} {fo}, {iota}')}"), v)
    kind = fn.op(f"and {vi} {fk}, splat (i32 {(1 << _KIND_BITS) - 1})")
    conds: list[tuple[int, str]] = []
    kinds = _kinds(trees)
    numeric = [k for k in kinds if k >> 1 != Op.CAT]
    if numeric:
        thr = field("thr", t.w) if thr_bits is None else fn.op(f"bitcast {vi} {thr_bits} to {vw}")
        conds += [(k, fn.op(f"fcmp {split_predicate(k >> 1, bool(k & 1))} {vw} {x}, {thr}")) for k in numeric]
    cats = [k for k in kinds if k >> 1 == Op.CAT]
    if cats:  # a CAT record's threshold field is its bitset's first word; others read word 0
        is_cat = fn.op(f"icmp uge {vi} {kind}, splat (i32 {int(Op.CAT) << 1})")
        first = fn.op(f"select {vb} {is_cat}, {vi} {thr_bits or field('thr', 'i32')}, {vi} zeroinitializer")
        conds += [(k, w.category(fn, x, first, bool(k & 1), v)) for k in cats]
    go = conds[-1][1] if conds else "zeroinitializer"  # no decision node: never stepped
    for k, c in conds[:-1]:
        go = fn.op(f"select {vb} {fn.op(f'icmp eq {vi} {kind}, splat (i32 {k})')}, {vb} {c}, {vb} {go}")
    left, right = pair("left")
    child = fn.op(f"select {vb} {go}, {vi} {left}, {vi} {right}")
    fn.do(f"%next = select {vb} %open, {vi} {child}, {vi} %k")
    acc = FunctionBuilder("a")
    leaf = acc.op(f"xor {vi} %k, splat (i32 -1)")
    if ens.leaf_width > 1:
        leaf = acc.op(f"mul {vi} {leaf}, splat (i32 {ens.leaf_width})")
    w.vector_accumulate(acc, leaf, "%tout", v)
    tree = FunctionBuilder("r")
    for table, name in (("roots", "%root"), ("touts", "%tout32")):
        at = tree.op(f"getelementptr inbounds i32, ptr @{w.name}_{table}, i32 %t")
        tree.do(f"{name} = load i32, ptr {at}, align 4")
    rootv = tree.broadcast("i32", "%root", v)
    return out + [
        f"define internal void @{w.name}_walk(ptr noalias %X, {idx} %n, ptr noalias %acc, i32 %t0, i32 %t1) nounwind {{",
        "entry:",
        f"  %empty = icmp eq {idx} %n, 0",
        "  br i1 %empty, label %exit, label %tree",
        "tree:",
        "  %t = phi i32 [%t0, %entry], [%tnext, %tdone]",
        *tree.lines,
        f"  %tout = zext i32 %tout32 to {idx}" if idx != "i32" else "  %tout = add i32 %tout32, 0",
        "  br label %group",
        "group:",
        f"  %g = phi {idx} [0, %tree], [%gnext, %leaves]",
        f"  %xg = getelementptr inbounds {t.w}, ptr %X, {idx} %g",
        f"  %ag = getelementptr inbounds {t.acc}, ptr %acc, {idx} %g",
        "  br label %step",
        "step:",
        f"  %k = phi {vi} [{rootv}, %group], [%next, %node]",
        f"  %open = icmp sge {vi} %k, zeroinitializer",
        f"  %openbits = bitcast {vb} %open to i{v}",
        f"  %any = icmp ne i{v} %openbits, 0",
        "  br i1 %any, label %node, label %leaves",
        "node:",
        *fn.lines,
        "  br label %step",
        "leaves:",
        *acc.lines,
        f"  %gnext = add nuw {idx} %g, {v}",
        f"  %more = icmp ult {idx} %gnext, %n",
        "  br i1 %more, label %group, label %tdone",
        "tdone:",
        "  %tnext = add nuw i32 %t, 1",
        "  %moretrees = icmp ult i32 %tnext, %t1",
        "  br i1 %moretrees, label %tree, label %exit",
        "exit:",
        "  ret void",
        "}",
        "",
    ]

