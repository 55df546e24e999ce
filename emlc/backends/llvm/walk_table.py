"""Table walk: trees as node records in one constant, walked by one small loop.

Inline code (:mod:`emlc.backends.llvm.codegen`) costs LLVM time per node, so a model
of ~500k nodes takes minutes to compile; here LLVM compiles the same few blocks
whatever the model's size, and the model is data::

    @m_nodes  = [R x i8] c"..."    ; decision nodes only, trees back to back
        record: W thr | i32 fk | i32 left | i32 right   (16 bytes, 24 for double W)
        fk = feature << 3 | op << 1 | default_left; a CAT node's thr holds the i32
        first word of its bitset in @m_cats; a child >= 0 is a record, < 0 is
        ~(leaf-table row)
    @m_roots  = [T x i32]          ; first record of each walked tree, or ~leaf row
    @m_touts  = [T x i32]          ; first output each walked tree adds to
    void m_walk(W *rows, IDX n, ACC *acc, i32 t0, i32 t1)   ; internal
      for t in t0..t1: for r < n: k = roots[t]; while k >= 0: k = test(k) ? left : right
                                   acc[r][touts[t]..] += LEAVES[~k]

``t`` numbers the walked trees (``ModuleWriter`` calls the walk for runs of them, in
tree order, so sums are added in the interpreter's order). Each node's test is the
inline code's: the same rounded threshold (``codegen.split_values``), the same
``fcmp`` predicate per (op, default_left) (``codegen.split_predicate``; the loop
evaluates the predicates the model uses and selects the node's) and the same category
test (``ModuleWriter.category``), so both kernels give the same leaf for every row.
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


def walk_module(w: ModuleWriter, walked: list[int]) -> list[str]:
    """The tables and ``m_walk`` for trees ``walked`` (indices into ``w.ens.trees``)."""
    ens, t, idx, cp = w.ens, w.t, w.layout.idx, w.cp
    trees = [ens.trees[i] for i in walked]
    little = not any(p == "E" for p in w.layout.datalayout.split("-"))
    rec_t = record_type(t.w, little)
    data, roots = records(trees, rec_t, ens.cat_sets.shape[1])
    size = rec_t.itemsize

    def field(name: str) -> str:
        at = fn.op(f"getelementptr inbounds i8, {cp} {rec}, i32 {rec_t.fields[name][1]}")
        return fn.op(f"load {'i32' if name != 'thr' else t.w}, {cp} {at}, align 4")
    touts = np.asarray([int(ens.tree_output[i]) for i in walked], dtype=np.int64)
    glob = f"internal unnamed_addr{w.layout.const_space} constant"
    out = [
        f"@{w.name}_nodes = {glob} {_bytes_literal(data)}, align 8",
        f"@{w.name}_roots = {glob} {array_literal('i32', roots)}, align 4",
        f"@{w.name}_touts = {glob} {array_literal('i32', touts)}, align 4",
        "",
    ]
    fn = FunctionBuilder("s")
    off = fn.op(f"mul i32 %k, {size}")
    rec = fn.op(f"getelementptr inbounds i8, {cp} @{w.name}_nodes, i32 {off}")
    fk = field("fk")
    feature = fn.op(f"lshr i32 {fk}, {_KIND_BITS}")
    fo = fn.op(f"mul i32 {feature}, {w.fs}")
    x = fn.op(f"load {t.w}, ptr {fn.op(f'getelementptr inbounds {t.w}, ptr %row, i32 {fo}')}, align 4")
    kind = fn.op(f"and i32 {fk}, {(1 << _KIND_BITS) - 1}")
    kinds = _kinds(trees)
    numeric = [k for k in kinds if k >> 1 != Op.CAT]
    cats = [k for k in kinds if k >> 1 == Op.CAT]
    conds: list[tuple[int, str, str]] = []  # (kind, value, block it is defined in)
    if numeric:
        if cats:
            is_cat = fn.op(f"icmp uge i32 {kind}, {int(Op.CAT) << 1}")
            fn.do(f"br i1 {is_cat}, label %cat, label %num")
            fn.label("num")
        thr = field("thr")
        c = _select(fn, kind, [(k, fn.op(f"fcmp {split_predicate(k >> 1, bool(k & 1))} {t.w} {x}, {thr}"))
                               for k in numeric])
        conds.append((numeric[0], c, "num" if cats else ""))
        if cats:
            fn.do("br label %test")
    if cats:
        if numeric:
            fn.label("cat")
        first = fn.op(f"load i32, {cp} {rec}, align 4")
        c = _select(fn, kind, [(k, w.category(fn, x, first, bool(k & 1))) for k in cats])
        conds.append((cats[0], c, "cat"))
        if numeric:
            fn.do("br label %test")
    if len(conds) == 2:
        fn.label("test")
        go = fn.op("phi i1 " + ", ".join(f"[{c}, %{b}]" for _, c, b in conds))
        step_end = "test"
    else:  # no decision node at all: every root is a leaf and the loop never steps
        go = conds[0][1] if conds else "false"
        step_end = "step"
    fn.do(f"%next = select i1 {go}, i32 {field('left')}, i32 {field('right')}")
    leaf = "  %leaf = zext i32 %lrow to i64" if idx == "i64" else f"  %leaf = add {idx} %lrow, 0"
    return out + [
        f"define internal void @{w.name}_walk(ptr noalias %X, {idx} %n, ptr noalias %acc, i32 %t0, i32 %t1) nounwind {{",
        "entry:",
        f"  %empty = icmp eq {idx} %n, 0",
        "  br i1 %empty, label %exit, label %tree",
        "tree:",
        "  %t = phi i32 [%t0, %entry], [%tnext, %tdone]",
        f"  %rootp = getelementptr inbounds i32, {cp} @{w.name}_roots, i32 %t",
        f"  %root = load i32, {cp} %rootp, align 4",
        f"  %toutp = getelementptr inbounds i32, {cp} @{w.name}_touts, i32 %t",
        f"  %tout32 = load i32, {cp} %toutp, align 4",
        f"  %tout = zext i32 %tout32 to {idx}" if idx != "i32" else "  %tout = add i32 %tout32, 0",
        "  %rootleaf = icmp slt i32 %root, 0",
        "  br label %rowl",
        "rowl:",
        f"  %r = phi {idx} [0, %tree], [%rnext, %leafb]",
        f"  %roff = mul {idx} %r, {w.rs}",
        f"  %row = getelementptr inbounds {t.w}, ptr %X, {idx} %roff",
        "  br i1 %rootleaf, label %leafb, label %step",
        "step:",
        f"  %k = phi i32 [%root, %rowl], [%next, %{step_end}]",
        *fn.lines,
        "  %more_nodes = icmp sge i32 %next, 0",
        "  br i1 %more_nodes, label %step, label %leafb",
        "leafb:",
        f"  %kl = phi i32 [%root, %rowl], [%next, %{step_end}]",
        "  %lrow = xor i32 %kl, -1",
        leaf,
        *w.accumulate("%tout"),
        f"  %rnext = add nuw {idx} %r, 1",
        f"  %more = icmp ult {idx} %rnext, %n",
        "  br i1 %more, label %rowl, label %tdone",
        "tdone:",
        "  %tnext = add nuw i32 %t, 1",
        "  %moretrees = icmp ult i32 %tnext, %t1",
        "  br i1 %moretrees, label %tree, label %exit",
        "exit:",
        "  ret void",
        "}",
        "",
    ]


def _select(fn: FunctionBuilder, kind: str, conds: list[tuple[int, str]]) -> str:
    """The condition of the node's own kind among ``(kind, condition)`` pairs."""
    c = conds[-1][1]
    for k, ck in conds[:-1]:
        c = fn.op(f"select i1 {fn.op(f'icmp eq i32 {kind}, {k}')}, i1 {ck}, i1 {c}")
    return c
