"""Textual LLVM IR for an ensemble: per-tree code with the rows loop inside each tree.

The emitted module, for a model called ``m`` (``W`` is the compare type, ``ACC`` the
accumulator type, ``RAW`` the raw-margin type, ``IDX`` the pointer-sized integer)::

    void m_tree_i(W *rows, IDX n, ACC *acc)     ; internal, one per tree, either
      branches:  for r < n: row = rows + r * row_stride
            n0: x = row[f * feature_stride]; br (fcmp ole|ule|olt|ult x, T), n_left, n_right
                c = valid(x) & bit(trunc x); br c | (dl & isnan x), ...      ; CAT
            leaf blocks: br done;  done: k = phi leaf-row; acc[r][o+j] += LEAVES[k][j]
      or vector (blocked layouts, small trees): for g < n step LANES:
            per node, the mask of lanes reaching it: left = mask & fcmp(x_f, T),
            right = mask & !fcmp(...); per leaf: leaf-row = select(mask, k, leaf-row);
            acc[o+j][g..g+LANES] += gather(LEAVES, leaf-row + j)
    or, host JIT models above Layout.inline_max_nodes, no tree functions but
    void m_walk(W *rows, IDX n, ACC *acc, i32 t0, i32 t1)  ; trees t0..t1 from tables,
            WALK_LANES rows at once (see walk_table)
    void m_block(W *rows, IDX n, ACC *acc, RAW *raw)   ; init acc, trees in order, finish
    void m_raw_batch(IN *X, i64 n, RAW *raw)           ; blocks of rows, prepared to W
    i32 m_check(ACC *acc, IDX n, i32 *cls, i32 j)      ; early exit only (exit_checks)
    void m_exit_block(W *rows, IDX n, ACC *acc, RAW *raw, i32 *cls)
        ; as block, m_check after each check point's trees; returns once no row is open
    void m_exit_batch(IN *X, i64 n, RAW *raw, i32 *cls) ; early exit, blocked layouts only
    i32|float m_predict(const IN *x, i32 n_features)  ; via exit_block with an early exit
    i32 m_predict_proba|m_predict_values(const IN *x, i32 n_features, float *out, i32 n_out)

Microcontroller objects keep rows as given and every tree branchy. The host JIT uses a
blocked layout: ``raw_batch`` transposes each block of rows to feature-major order and
keeps sums output-major, so a vector tree loads a feature of 16 rows with one load and
never mispredicts a branch; its cost grows with the tree's size instead of its depth,
so trees above ``Layout.vector_max_nodes`` stay branchy.

Exactness: a feature is compared in ``W`` (float when the input type fits a float
exactly), so each threshold ``t`` is rounded towards the side that keeps the test
unchanged for every ``W`` value (down for ``<=``, up for ``<``; :mod:`.splits`); ranks
use the same rule on their edges. Leaves are added with plain ``fadd`` (no fast-math,
so no reassociation or contraction) in tree order, exactly as :mod:`emlc.ir.interpret`;
the vector code and the table walk compare with the same predicates and add the same
values in the same order per lane.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...ir.ensemble import Aggregation, Decision, Ensemble, Link, LinkMath, Op, Task, Tree
from . import exit_checks, walk_table
from .builder import FunctionBuilder, array_literal, constant, hex_float, lanes_const, vector_type
from .splits import round_for, split_predicate, split_values

#: rows handed to the trees at once by the batch entry point (fits L1/L2 with its inputs).
BLOCK_ROWS = 128
#: rows a vector tree evaluates at once (one AVX-512 register of floats; LLVM splits it
#: on narrower hosts); divides BLOCK_ROWS.
LANES = 16
#: host JIT default for ``Layout.vector_max_nodes``: vector code evaluates every node,
#: branches only a path, so big trees keep branches. Measured on random forests (30
#: trees, 20 features, CPU time): 510 nodes a tree 2.4x faster as vectors, 1916 even,
#: 5665 2.5x slower; deep, unbalanced boosted trees favour vectors more.
VECTOR_MAX_NODES = 1023
#: host JIT default for ``Layout.inline_max_nodes``: LLVM spends 0.2-0.3 ms on each
#: inline node, on the walk a second or two whatever the model. One bench_scale.py run
#: (LightGBM, 20 features; compile s incl. load, rows/s CPU time; load average 9 on 2
#: cores), inline vs walked: 100 x 63 leaves (12.5k nodes) 4.6 s 1017k/s vs 0.8 s
#: 276k/s; 300 x 63 (37.5k) 11.4 s 328k/s vs 0.9 s 132k/s; 1000 x 63 (125k) 25.5 s
#: 68k/s vs 1.9 s 35k/s; 1000 x 255 (431k) 97 s, 925 MiB, 14k/s vs 3.5 s, 423 MiB,
#: 39k/s (vector code pays for every node of a big tree, the walk for its depth).
#: Inline pays off while its compile stays near 10 s; beyond, the walk. Big trees favour
#: the walk at any size (100 x 255, 51k nodes: inline 8.7 s 183k/s, walked 1.5 s 340k/s);
#: this limit counts nodes only.
INLINE_MAX_NODES = 50_000
#: rows the table walk moves down a tree at once (divides BLOCK_ROWS): each lane is a
#: chain of dependent gathers, so more lanes keep more loads in flight. Measured on the
#: 300x63 LightGBM model, O2, CPU time: 16 lanes 74k rows/s, 32 94k, 64 99k, 128 96k.
WALK_LANES = 64
#: rows per block of a walked model, at most (the block's features within
#: WALK_BLOCK_BYTES, and never fewer than BLOCK_ROWS): the walk fetches every tree's
#: records once a block, and a big model's records leave the cache between blocks.
#: Measured, 1000x255 LightGBM (6.9 MB of records): 128 rows 18.5k rows/s, 512 35.4k,
#: 1024 39.0k, 2048 38.6k; 300x63 (0.5 MB, stays in L2): 113k, 98k, 108k.
WALK_BLOCK_ROWS = 1024
WALK_BLOCK_BYTES = 512 * 1024

_INT_TYPES = {"int32": "i32", "int16": "i16", "int8": "i8", "uint16": "i16", "uint8": "i8"}


@dataclass(frozen=True)
class Layout:
    """Target facts the emitter needs: triple, data layout, pointer width, table space."""

    triple: str
    datalayout: str
    index_bits: int
    const_space: str = ""  # " addrspace(1)" puts tables in AVR flash
    has_double: bool = True  # False: 64-bit values become float, as the C backend does
    #: distance between one row's features in prepared blocks: 1 keeps rows as given
    #: (microcontrollers); BLOCK_ROWS stores a block feature-major (host JIT), so a node
    #: reads its feature for consecutive rows from one cache line instead of one per row.
    feature_stride: int = 1
    #: on blocked layouts, trees with at most this many nodes and no categorical split
    #: become branch-free vector code (0: every tree keeps branches)
    vector_max_nodes: int = 0
    #: blocked layouts only: a model of more nodes is walked from node tables by one
    #: loop (``walk_table``), so LLVM's time stops growing with it. None: inline code
    inline_max_nodes: int | None = None

    @property
    def idx(self) -> str:
        return f"i{self.index_bits}"

    @property
    def blocked_tables(self) -> bool:
        """Can models on this layout be walked from tables (blocked, with a limit)?"""
        return self.feature_stride != 1 and self.inline_max_nodes is not None


@dataclass(frozen=True)
class Types:
    """LLVM types chosen for one ensemble."""

    w: str  # compare type of prepared features
    inp: str  # storage type of the batch input (the IR's input_type)
    inp_signed: bool
    acc: str  # accumulator: float, double, i32 or i64
    raw: str  # raw margin type: accum_dtype, or double for votes

    @property
    def acc_is_int(self) -> bool:
        return self.acc.startswith("i")


def choose_types(ens: Ensemble, has_double: bool = True) -> Types:
    """Types for ``ens``; without a 64-bit double every double becomes float."""
    t = _types(ens)
    if has_double:
        return t
    f = {"double": "float"}
    return Types(f.get(t.w, t.w), f.get(t.inp, t.inp), t.inp_signed, f.get(t.acc, t.acc), f.get(t.raw, t.raw))


def _types(ens: Ensemble) -> Types:
    it = ens.input_type
    w = "double" if it in ("float64", "int32") else "float"
    inp = {"float32": "float", "float64": "double"}.get(it) or _INT_TYPES[it]
    raw = "float" if ens.accum_dtype == "float32" else "double"
    if ens.aggregation is Aggregation.VOTE:
        return Types(w, inp, not it.startswith("u"), "i32", "double")
    if ens.leaves.dtype.kind in "iu":
        bound = float(np.abs(ens.leaves.astype(np.float64)).max()) * ens.n_trees
        return Types(w, inp, not it.startswith("u"), "i32" if bound < 2**31 else "i64", raw)
    return Types(w, inp, not it.startswith("u"), raw, raw)


def leaf_table(ens: Ensemble, types: Types) -> np.ndarray:
    """The table trees add from: leaves in ACC, or one-hot winners for votes."""
    if ens.aggregation is Aggregation.VOTE:
        values = ens.leaf_values()
        table = np.zeros(values.shape, dtype=np.int64)
        table[np.arange(values.shape[0]), np.argmax(values, axis=1)] = 1
        return table
    if types.acc_is_int:
        return ens.leaves.astype(np.int64)
    return ens.leaves.astype(np.float32 if types.acc == "float" else np.float64)


class ModuleWriter:
    """Writes the whole module for one ensemble and target layout."""

    walk_lanes = WALK_LANES  # for walk_table, which codegen imports

    def __init__(self, ens: Ensemble, layout: Layout, name: str) -> None:
        self.ens = ens
        self.layout = layout
        self.name = name
        self.t = choose_types(ens, layout.has_double)
        self.nf = ens.n_features
        self.nout = ens.n_outputs
        self.ranks = [(f, r) for f, r in enumerate(ens.feature_ranks) if r is not None]
        self.out: list[str] = []
        self.cp = f"ptr{layout.const_space}"  # pointer type of constant tables
        self.fs = layout.feature_stride
        self.blocked = self.fs != 1  # feature-major row blocks, output-major sums
        self.rs = 1 if self.blocked else self.nf  # distance between rows in a block
        self.exits = exit_checks.plan(ens, self.t, layout.has_double)
        self.walk = walks_tables(ens, layout)
        self.declares: set[str] = set()  # intrinsics the code calls (gather's)

    # ---------------------------------------------------------------- module
    def module(self) -> str:
        lay = self.layout
        self.out += [
            f'; emlc model "{self.name}": {self.ens.n_trees} trees, {self.ens.n_nodes} nodes',
            f'target datalayout = "{lay.datalayout}"',
            f'target triple = "{lay.triple}"',
            "",
        ]
        self._globals()
        if self.walk:
            self.out += walk_table.walk_module(self)
        else:
            for i, tree in enumerate(self.ens.trees):
                if self.vectorised(tree):
                    self._vector_tree(i, tree)
                else:
                    self._tree(i, tree)
        self._rank_fn()
        self._prep_fn()
        self._block_fn()
        self._batch_fn()
        if self.exits is not None:
            self.out += exit_checks.check_fn(self, self.exits)
            self._block_fn(exits=True)
            if self.blocked:
                self._batch_fn(exits=True)
        self._c_api()
        self.out += self._intrinsics()
        return "\n".join(self.out) + "\n"

    def _global(self, sym: str, elem: str, values: np.ndarray) -> None:
        self.out.append(
            f"@{self.name}_{sym} = internal unnamed_addr{self.layout.const_space} constant "
            f"{array_literal(elem, values)}, align 4"
        )

    def _globals(self) -> None:
        self.table = leaf_table(self.ens, self.t)
        self._global("leaves", self.t.acc, self.table)
        if self.ens.cat_sets.size and any((t.op == Op.CAT).any() for t in self.ens.trees):
            self._global("cats", "i32", self.ens.cat_sets.view(np.int32))
        for f, rank in self.ranks:
            edges = round_for(rank.edges, self.t.w, up=rank.strict)
            self._global(f"edges{f}", self.t.w, edges)
        if self.exits is not None:
            self._global("exlo", self.exits.check_type, self.exits.lower)
            self._global("exhi", self.exits.check_type, self.exits.upper)
        self.out.append("")

    # ------------------------------------------------------------------ trees
    def _tree(self, i: int, tree: Tree) -> None:
        """Per tree: ``for r < n`` around the tree's branches; the leaf row is a phi."""
        t, idx, fn = self.t, self.layout.idx, FunctionBuilder()
        out = [
            f"define internal void @{self.name}_tree{i}(ptr noalias %X, {idx} %n, ptr noalias %acc) noinline nounwind {{",
            "entry:",
            f"  %empty = icmp eq {idx} %n, 0",
            "  br i1 %empty, label %exit, label %loop",
            "loop:",
            f"  %r = phi {idx} [0, %entry], [%rnext, %done]",
            f"  %roff = mul {idx} %r, {self.rs}",
            f"  %row = getelementptr inbounds {t.w}, ptr %X, {idx} %roff",
            "  br label %n0",
        ]
        value = split_values(tree, t.w)
        phi = []
        for k in range(tree.n_nodes):
            fn.label(f"n{k}")
            op = int(tree.op[k])
            if op == Op.LEAF:
                phi.append(f"[{int(tree.leaf[k])}, %n{k}]")
                fn.do("br label %done")
                continue
            p = fn.op(f"getelementptr inbounds {t.w}, ptr %row, {idx} {int(tree.feature[k]) * self.fs}")
            x = fn.op(f"load {t.w}, ptr {p}, align 4")
            dl = bool(tree.default_left[k])
            if op == Op.CAT:
                c = self.category(fn, x, str(int(tree.cat[k]) * self.ens.cat_sets.shape[1]), dl)
            else:
                c = fn.op(f"fcmp {split_predicate(op, dl)} {t.w} {x}, {hex_float(value[k])}")
            fn.do(f"br i1 {c}, label %n{int(tree.left[k])}, label %n{int(tree.right[k])}")
        out += fn.lines
        out += ["done:", f"  %leaf = phi {idx} {', '.join(phi)}"]
        out += self._accumulate(int(self.ens.tree_output[i]))
        out += [
            f"  %rnext = add nuw {idx} %r, 1",
            f"  %more = icmp ult {idx} %rnext, %n",
            "  br i1 %more, label %loop, label %exit",
            "exit:",
            "  ret void",
            "}",
            "",
        ]
        self.out += out

    def vectorised(self, tree: Tree) -> bool:
        return (self.blocked and tree.n_nodes <= self.layout.vector_max_nodes
                and not (tree.op == Op.CAT).any())

    @staticmethod
    def _vsfx(ty: str) -> str:
        return {"float": "f32", "double": "f64"}.get(ty, ty)

    def _acc_strides(self) -> tuple[int, int]:
        """(distance between outputs, distance between rows) in the accumulator block."""
        return (self.fs, 1) if self.blocked else (1, self.nout)

    def _vector_tree(self, i: int, tree: Tree) -> None:
        """Branch-free: LANES rows at once, every node evaluated, no mispredictions.

        Each node gets the lane mask of rows reaching it (nodes in topological order, so
        DAG nodes OR their parents' masks); a node's test splits its mask between its
        children; each leaf's mask selects its values. Every row reaches exactly one
        leaf, and the sums are the same ``fadd`` in the same tree order as the scalar
        code, so results are bit-identical.
        """
        t, idx, fn, v = self.t, self.layout.idx, FunctionBuilder(), LANES
        vw, vb = f"<{v} x {t.w}>", f"<{v} x i1>"
        value = split_values(tree, t.w)
        xs = {}
        for f in sorted({int(f) for f in tree.feature[tree.op != Op.LEAF]}):
            p = fn.op(f"getelementptr inbounds {t.w}, ptr %xg, {idx} {f * self.fs}")
            xs[f] = fn.op(f"load {vw}, ptr {p}, align 4")
        reach: dict[int, str | None] = {0: None}  # None: every lane
        width = self.ens.leaf_width
        vi = f"<{v} x i32>"
        leaf = "zeroinitializer"
        for k in _topological(tree):
            mask = reach.pop(k)
            op = int(tree.op[k])
            if op == Op.LEAF:
                c = f"splat (i32 {int(tree.leaf[k]) * width})"
                leaf = c if mask is None else fn.op(f"select {vb} {mask}, {vi} {c}, {vi} {leaf}")
                continue
            pred = split_predicate(op, bool(tree.default_left[k]))
            go = fn.op(f"fcmp {pred} {vw} {xs[int(tree.feature[k])]}, splat ({t.w} {hex_float(value[k])})")
            other = fn.op(f"xor {vb} {go}, splat (i1 true)")
            for child, c in ((int(tree.left[k]), go), (int(tree.right[k]), other)):
                part = c if mask is None else fn.op(f"and {vb} {mask}, {c}")
                reach[child] = fn.op(f"or {vb} {reach[child]}, {part}") if child in reach else part
        self.vector_accumulate(fn, leaf, int(self.ens.tree_output[i]))
        self.out += [
            f"define internal void @{self.name}_tree{i}(ptr noalias %X, {idx} %n, ptr noalias %acc) noinline nounwind {{",
            "entry:",
            f"  %empty = icmp eq {idx} %n, 0",
            "  br i1 %empty, label %exit, label %loop",
            "loop:",
            f"  %g = phi {idx} [0, %entry], [%gnext, %loop]",
            f"  %xg = getelementptr inbounds {t.w}, ptr %X, {idx} %g",
            f"  %ag = getelementptr inbounds {t.acc}, ptr %acc, {idx} %g",
            *fn.lines,
            f"  %gnext = add nuw {idx} %g, {v}",
            f"  %more = icmp ult {idx} %gnext, %n",
            "  br i1 %more, label %loop, label %exit",
            "exit:",
            "  ret void",
            "}",
            "",
        ]

    def category(self, fn: FunctionBuilder, x: str, first_word: str, default_left: bool, lanes: int = 1) -> str:
        """``0 <= trunc(x) < 32 * words`` and its bit set in the bitset starting at
        ``cats[first_word]`` (an i32 constant or value); NaN takes the default side.
        With ``lanes`` > 1, the same test on a vector of values and bitset starts."""
        w, words = self.t.w, self.ens.cat_sets.shape[1]
        vw, vb, vi = (vector_type(ty, lanes) for ty in (w, "i1", "i32"))
        lo = fn.op(f"fcmp ogt {vw} {x}, {lanes_const(w, hex_float(-1.0), lanes)}")
        hi = fn.op(f"fcmp olt {vw} {x}, {lanes_const(w, hex_float(32.0 * words), lanes)}")
        valid = fn.op(f"and {vb} {lo}, {hi}")
        safe = fn.op(f"select {vb} {valid}, {vw} {x}, {vw} {lanes_const(w, hex_float(0.0), lanes)}")
        c = fn.op(f"fptosi {vw} {safe} to {vi}")
        word = fn.op(f"lshr {vi} {c}, {lanes_const('i32', 5, lanes)}")
        slot = fn.op(f"add {vi} {word}, {first_word}")
        p = fn.op(f"getelementptr inbounds i32, {self.cp} @{self.name}_cats, {vi} {slot}")
        bits = self.gather(fn, "i32", p, lanes) if lanes > 1 else fn.op(f"load i32, {self.cp} {p}, align 4")
        sh = fn.op(f"and {vi} {c}, {lanes_const('i32', 31, lanes)}")
        b = fn.op(f"lshr {vi} {bits}, {sh}")
        bit = fn.op(f"trunc {vi} {b} to {vb}")
        left = fn.op(f"and {vb} {valid}, {bit}")
        if not default_left:
            return left
        nan = fn.op(f"fcmp uno {vw} {x}, {lanes_const(w, hex_float(0.0), lanes)}")
        return fn.op(f"or {vb} {left}, {nan}")

    def _gather_decl(self, ty: str, lanes: int) -> str:
        vt = f"<{lanes} x {ty}>"
        return f"declare {vt} @llvm.masked.gather.v{lanes}{self._vsfx(ty)}.v{lanes}p0(<{lanes} x ptr>, i32, <{lanes} x i1>, {vt})"

    def gather(self, fn: FunctionBuilder, ty: str, ptrs: str, lanes: int = LANES) -> str:
        """Load ``ty`` from each of ``lanes`` pointers (all lanes)."""
        vt, sig = f"<{lanes} x {ty}>", f"v{lanes}{self._vsfx(ty)}.v{lanes}p0"
        self.declares.add(self._gather_decl(ty, lanes))
        return fn.op(f"call {vt} @llvm.masked.gather.{sig}(<{lanes} x ptr> {ptrs}, "
                     f"i32 4, <{lanes} x i1> splat (i1 true), {vt} poison)")

    def vector_accumulate(self, fn: FunctionBuilder, leaf: str, o: int | str, lanes: int = LANES) -> None:
        """Add the leaf-table rows starting at ``leaf`` (per lane) to lane group ``%ag``'s
        sums from output ``o`` on (a constant, or an ``IDX`` value)."""
        t, idx, v = self.t, self.layout.idx, lanes
        add = "add" if t.acc_is_int else "fadd"
        va, vi = f"<{v} x {t.acc}>", f"<{v} x i32>"
        ofs = fn.op(f"mul {idx} {o}, {self.fs}") if isinstance(o, str) else None
        for j in range(self.ens.leaf_width):
            at = leaf if j == 0 else fn.op(f"add {vi} {leaf}, splat (i32 {j})")
            ptrs = fn.op(f"getelementptr inbounds {t.acc}, ptr @{self.name}_leaves, {vi} {at}")
            val = self.gather(fn, t.acc, ptrs, v)
            at_acc = (o + j) * self.fs if ofs is None else fn.op(f"add {idx} {ofs}, {j * self.fs}")
            p = fn.op(f"getelementptr inbounds {t.acc}, ptr %ag, {idx} {at_acc}")
            a = fn.op(f"load {va}, ptr {p}, align 4")
            fn.do(f"store {va} {fn.op(f'{add} {va} {a}, {val}')}, ptr {p}, align 4")

    def _accumulate(self, o: int) -> list[str]:
        t, idx, w = self.t, self.layout.idx, self.ens.leaf_width
        add = "add" if t.acc_is_int else "fadd"
        cs, ars = self._acc_strides()
        lines = [
            f"  %lbase = mul {idx} %leaf, {w}",
            f"  %abase0 = mul {idx} %r, {ars}",
            f"  %abase = add {idx} %abase0, {o * cs}",
        ]
        for j in range(w):
            lines += [
                f"  %li{j} = add {idx} %lbase, {j}",
                f"  %lp{j} = getelementptr inbounds {t.acc}, {self.cp} @{self.name}_leaves, {idx} %li{j}",
                f"  %lv{j} = load {t.acc}, {self.cp} %lp{j}, align 4",
                f"  %ai{j} = add {idx} %abase, {j * cs}",
                f"  %ap{j} = getelementptr inbounds {t.acc}, ptr %acc, {idx} %ai{j}",
                f"  %av{j} = load {t.acc}, ptr %ap{j}, align 4",
                f"  %as{j} = {add} {t.acc} %av{j}, %lv{j}",
                f"  store {t.acc} %as{j}, ptr %ap{j}, align 4",
            ]
        return lines

    # ------------------------------------------------------------ prepared rows
    def needs_prep(self) -> bool:
        return bool(self.ranks) or self.t.inp != self.t.w or self.fs != 1

    def _rank_fn(self) -> None:
        """``count(edges < x)`` (or ``<=``) by binary search; NaN stays NaN."""
        if not self.ranks:
            return
        w, cp = self.t.w, self.cp
        for strict in sorted({r.strict for _, r in self.ranks}):
            pred = "ole" if strict else "olt"  # edge (pred) x counts
            self.out += [
                f"define internal {w} @{self.name}_rank{int(strict)}({cp} %e, i32 %size, {w} %x) nounwind {{",
                "entry:",
                f"  %nan = fcmp uno {w} %x, 0.0",
                "  br i1 %nan, label %isnan, label %loop",
                "isnan:",
                f"  ret {w} %x",
                "loop:",
                "  %lo = phi i32 [0, %entry], [%lo2, %step]",
                "  %hi = phi i32 [%size, %entry], [%hi2, %step]",
                "  %go = icmp ult i32 %lo, %hi",
                "  br i1 %go, label %step, label %end",
                "step:",
                "  %sum = add i32 %lo, %hi",
                "  %mid = lshr i32 %sum, 1",
                f"  %p = getelementptr inbounds {w}, {cp} %e, i32 %mid",
                f"  %ev = load {w}, {cp} %p, align 4",
                f"  %below = fcmp {pred} {w} %ev, %x",
                "  %mid1 = add i32 %mid, 1",
                "  %lo2 = select i1 %below, i32 %mid1, i32 %lo",
                "  %hi2 = select i1 %below, i32 %hi, i32 %mid",
                "  br label %loop",
                "end:",
                f"  %rank = uitofp i32 %lo to {w}",
                f"  ret {w} %rank",
                "}",
                "",
            ]

    def _prep_fn(self) -> None:
        """Row of input values -> row of ``W``: exact conversion, then ranks."""
        if not self.needs_prep():
            return
        t, fn = self.t, FunctionBuilder()
        ranks = dict(self.ranks)
        for f in range(self.nf):
            p = fn.op(f"getelementptr inbounds {t.inp}, ptr %src, i32 {f}")
            v = fn.op(f"load {t.inp}, ptr {p}, align 4")
            v = self._convert(fn, v, t.inp, t.w)
            if f in ranks:
                size = ranks[f].edges.size
                v = fn.op(
                    f"call {t.w} @{self.name}_rank{int(ranks[f].strict)}({self.cp} "
                    f"@{self.name}_edges{f}, i32 {size}, {t.w} {v})"
                )
            q = fn.op(f"getelementptr inbounds {t.w}, ptr %dst, i32 {f * self.fs}")
            fn.do(f"store {t.w} {v}, ptr {q}, align 4")
        self.out += [f"define internal void @{self.name}_prep(ptr noalias %src, ptr noalias %dst) nounwind {{"]
        self.out += fn.lines + ["  ret void", "}", ""]

    def _convert(self, fn: FunctionBuilder, v: str, src: str, dst: str) -> str:
        if src == dst:
            return v
        if not src.startswith("i"):
            return fn.op(f"{'fpext' if dst == 'double' else 'fptrunc'} {src} {v} to {dst}")
        return fn.op(f"{'s' if self.t.inp_signed else 'u'}itofp {src} {v} to {dst}")

    # ---------------------------------------------------------------- blocks
    def _block_fn(self, exits: bool = False) -> None:
        """Init the accumulators, run every tree in order, turn sums into raw margins.

        ``exits``: ``exit_block``, which also takes ``i32 *cls``: every row starts open
        (-1), ``check`` runs after each check point's trees and the block returns as
        soon as no row is open; raw margins are then written for every row, meaningful
        for the rows still open."""
        t, idx, ens = self.t, self.layout.idx, self.ens
        base = np.broadcast_to(np.asarray(ens.base_score, dtype=np.float64), (self.nout,))
        from_base = ens.aggregation is Aggregation.SUM and not t.acc_is_int
        acc_np = np.float32 if t.acc == "float" else np.float64
        sym, cls = ("exit_block", ", ptr noalias %cls") if exits else ("block", "")
        lines = [
            f"define internal void @{self.name}_{sym}(ptr noalias %rows, {idx} %n, ptr noalias %acc, ptr %raw{cls}) nounwind {{",
            "entry:",
        ]

        def init(fn: FunctionBuilder, j: int, r: str) -> None:
            v = constant(t.acc, acc_np(base[j]) if from_base else 0)
            p = fn.op(f"getelementptr inbounds {t.acc}, ptr %acc, {idx} {self._acc_at(fn, r, j)}")
            fn.do(f"store {t.acc} {v}, ptr {p}, align 4")
            if exits and j == 0:
                fn.do(f"store i32 -1, ptr {fn.op(f'getelementptr inbounds i32, ptr %cls, {idx} {r}')}, align 4")

        lines += self._rows_loop("ini", "entry", init)
        checks = {int(k): j for j, k in enumerate(self.exits.checkpoints)} if exits and self.exits else {}
        at = "inix"
        walked = 0
        for i in range(ens.n_trees):
            j = checks.get(i + 1)
            if not self.walk:
                lines.append(f"  call void @{self.name}_tree{i}(ptr %rows, {idx} %n, ptr %acc)")
            elif j is not None or i + 1 == ens.n_trees:  # the trees since the last call
                lines.append(f"  call void @{self.name}_walk(ptr %rows, {idx} %n, ptr %acc, i32 {walked}, i32 {i + 1})")
                walked = i + 1
            if j is not None:
                at = f"open{j}"
                lines += [
                    f"  %left{j} = call i32 @{self.name}_check(ptr %acc, {idx} %n, ptr %cls, i32 {j})",
                    f"  %none{j} = icmp eq i32 %left{j}, 0",
                    f"  br i1 %none{j}, label %decided, label %{at}",
                    f"{at}:",
                ]
        lines += self._rows_loop("fin", at, lambda fn, j, r: self._finish(fn, j, r, base[j]))
        lines += ["  ret void", *(["decided:", "  ret void"] if checks else []), "}", ""]
        self.out += lines

    def _acc_at(self, fn: FunctionBuilder, r: str, j: int) -> str:
        """Index of row ``r``'s output ``j`` in the accumulator block."""
        cs, ars = self._acc_strides()
        return fn.op(f"add {self.layout.idx} {fn.op(f'mul {self.layout.idx} {r}, {ars}')}, {j * cs}")

    def _rows_loop(self, tag: str, before: str, column) -> list[str]:
        """``for r < %n`` with ``column(fn, j, r)`` unrolled over the outputs."""
        idx = self.layout.idx
        fn = FunctionBuilder(tag)
        for j in range(self.nout):
            column(fn, j, f"%{tag}r")
        return [
            f"  %{tag}e = icmp eq {idx} %n, 0",
            f"  br i1 %{tag}e, label %{tag}x, label %{tag}l",
            f"{tag}l:",
            f"  %{tag}r = phi {idx} [0, %{before}], [%{tag}n, %{tag}l]",
            *fn.lines,
            f"  %{tag}n = add nuw {idx} %{tag}r, 1",
            f"  %{tag}m = icmp ult {idx} %{tag}n, %n",
            f"  br i1 %{tag}m, label %{tag}l, label %{tag}x",
            f"{tag}x:",
        ]

    def _finish(self, fn: FunctionBuilder, j: int, r: str, base: float) -> None:
        """Column ``j``: scale integer sums, divide means, add the base score; store RAW."""
        t, idx, ens = self.t, self.layout.idx, self.ens
        n_trees = max(ens.n_trees, 1)
        p = fn.op(f"getelementptr inbounds {t.acc}, ptr %acc, {idx} {self._acc_at(fn, r, j)}")
        v = fn.op(f"load {t.acc}, ptr {p}, align 4")
        if ens.aggregation is Aggregation.VOTE:
            v = fn.op(f"sitofp {t.acc} {v} to double")
            v = fn.op(f"fdiv double {v}, {hex_float(n_trees)}")
            v = fn.op(f"fadd double {v}, {hex_float(base)}")
        else:
            if t.acc_is_int:
                scale = np.resize(np.ones(ens.leaf_width) if ens.leaf_scale is None
                                  else np.asarray(ens.leaf_scale, dtype=np.float64), self.nout)
                v = fn.op(f"sitofp {t.acc} {v} to double")
                v = fn.op(f"fmul double {v}, {hex_float(scale[j])}")
                if t.raw == "float":
                    v = fn.op(f"fptrunc double {v} to float")
            if ens.aggregation is Aggregation.MEAN:
                v = fn.op(f"fdiv {t.raw} {v}, {hex_float(self._as_raw(n_trees))}")
            if ens.aggregation is Aggregation.MEAN or t.acc_is_int:
                v = fn.op(f"fadd {t.raw} {v}, {hex_float(self._as_raw(base))}")
        at = fn.op(f"add {idx} {fn.op(f'mul {idx} {r}, {self.nout}')}, {j}")
        q = fn.op(f"getelementptr inbounds {t.raw}, ptr %raw, {idx} {at}")
        fn.do(f"store {t.raw} {v}, ptr {q}, align 4")

    def _as_raw(self, v: float) -> float:
        return float(np.float32(v)) if self.t.raw == "float" else float(v)

    # ----------------------------------------------------------------- batch
    def _batch_fn(self, exits: bool = False) -> None:
        """``raw_batch(X, n, raw)``: rows in blocks; each block prepared, then ``block``.

        ``exits``: ``exit_batch(X, n, raw, cls)`` runs ``exit_block`` instead, which
        also writes each row's class index decided at a check point, or -1."""
        t, idx = self.t, self.layout.idx
        b = self.fs if self.blocked else BLOCK_ROWS  # a blocked layout's stride is its block
        prep = self.needs_prep()
        sym, cls = ("exit", ", ptr noalias %cls") if exits else ("raw", "")
        step = self.exit_rows() if exits else b
        lines = [
            f"define void @{self.name}_{sym}_batch(ptr noalias %X, i64 %n64, ptr noalias %raw{cls}) nounwind {{",
            "entry:",
            f"  %n = trunc i64 %n64 to {idx}" if idx != "i64" else "  %n = add i64 %n64, 0",
            f"  %acc = alloca {t.acc}, i32 {b * self.nout}, align 64",
            f"  %buf = alloca {t.w}, i32 {b * self.nf if prep else 1}, align 64",
            *self._zero_blocks(b),
            f"  %empty = icmp eq {idx} %n, 0",
            "  br i1 %empty, label %exit, label %blk",
            "blk:",
            f"  %s = phi {idx} [0, %entry], [%s2, %after]",
            f"  %left = sub {idx} %n, %s",
            f"  %full = icmp ugt {idx} %left, {step}",
            f"  %nb = select i1 %full, {idx} {step}, {idx} %left",
            f"  %xo = mul {idx} %s, {self.nf}",
            f"  %xs = getelementptr inbounds {t.inp}, ptr %X, {idx} %xo",
            f"  %ro = mul {idx} %s, {self.nout}",
            f"  %rs = getelementptr inbounds {t.raw}, ptr %raw, {idx} %ro",
        ]
        if exits:
            lines.append(f"  %cs = getelementptr inbounds i32, ptr %cls, {idx} %s")
        block, extra = ("exit_block", ", ptr %cs") if exits else ("block", "")
        call = f"call void @{self.name}_{block}(ptr {{}}, {idx} %nb, ptr %acc, ptr %rs{extra})"
        if prep:
            lines += [
                "  br label %prep",
                "prep:",
                f"  %r = phi {idx} [0, %blk], [%r2, %prep]",
                f"  %po = mul {idx} %r, {self.nf}",
                f"  %psrc = getelementptr inbounds {t.inp}, ptr %xs, {idx} %po",
                f"  %bo = mul {idx} %r, {self.rs}",
                f"  %pdst = getelementptr inbounds {t.w}, ptr %buf, {idx} %bo",
                f"  call void @{self.name}_prep(ptr %psrc, ptr %pdst)",
                f"  %r2 = add nuw {idx} %r, 1",
                f"  %pm = icmp ult {idx} %r2, %nb",
                "  br i1 %pm, label %prep, label %run",
                "run:",
                "  " + call.format("%buf"),
            ]
        else:
            lines += ["  " + call.format("%xs")]
        lines += [
            "  br label %after",
            "after:",
            f"  %s2 = add nuw {idx} %s, %nb",
            f"  %more = icmp ult {idx} %s2, %n",
            "  br i1 %more, label %blk, label %exit",
            "exit:",
            "  ret void",
            "}",
            "",
        ]
        self.out += lines

    def exit_rows(self) -> int:
        """Rows ``exit_batch`` hands to ``exit_block`` at once, which stops when all are
        decided: one row when every tree branches (skipped trees are saved work), else
        one lane group (a vector tree costs the same for 1 row as for 16), checked on all
        lanes at once. Measured on a 60-tree, 3-class forest needing 33 trees a row
        (confidence 0.5), CPU time: branchy 0.86 M rows/s (1 row) vs 0.52 (16) vs 0.56
        without the exit; vector 2.40 (16, lane check), 1.55 (16, row check), 1.53 (128),
        0.26 (1) vs 2.48 without (bench/bench_jit_exit.py)."""
        if self.walk:  # the table walk works on WALK_LANES rows whatever n is
            return WALK_LANES
        return LANES if any(self.vectorised(t) for t in self.ens.trees) else 1

    def _zero_blocks(self, b: int) -> list[str]:
        """Vector trees read and write whole lane groups, past a short block's last row:
        start those lanes from zeros, not from uninitialised stack."""
        if not self.blocked:
            return []
        acc_bytes = b * self.nout * (4 if self.t.acc in ("float", "i32") else 8)
        w_bytes = b * self.nf * (4 if self.t.w == "float" else 8)
        return [f"  call void @llvm.memset.p0.i64(ptr align 64 %acc, i8 0, i64 {acc_bytes}, i1 false)",
                f"  call void @llvm.memset.p0.i64(ptr align 64 %buf, i8 0, i64 {w_bytes}, i1 false)"]

    # ----------------------------------------------------------------- C API
    def _row(self, fn: FunctionBuilder, exits: bool = False) -> tuple[str, str | None]:
        """Raw margins of the input row ``%x`` in a fresh ``RAW[n_outputs]`` slot, and
        with ``exits`` an ``i32`` slot for the class decided at a check point (or -1)."""
        t, idx = self.t, self.layout.idx
        raw = fn.alloca(f"{t.raw}, i32 {self.nout}, align 8")
        cls = fn.alloca("i32, align 4") if exits else None
        extra = f", ptr {cls}" if exits else ""
        if self.blocked:  # a block of one row, laid out as the batch entry point does
            fn.do(f"call void @{self.name}_{'exit' if exits else 'raw'}_batch(ptr %x, i64 1, ptr {raw}{extra})")
            return raw, cls
        src = "%x"
        if self.needs_prep():
            src = fn.alloca(f"{t.w}, i32 {self.nf * self.fs}, align 8")
            fn.do(f"call void @{self.name}_prep(ptr %x, ptr {src})")
        acc = fn.alloca(f"{t.acc}, i32 {self.nout}, align 8")
        block = "exit_block" if exits else "block"
        fn.do(f"call void @{self.name}_{block}(ptr {src}, {idx} 1, ptr {acc}, ptr {raw}{extra})")
        return raw, cls

    def _values(self, fn: FunctionBuilder, raw_ptr: str) -> tuple[list[str], list[str]]:
        """Load the raw margins and apply the link: (raw values, link values), in the steps
        of the interpreter's rule for ``link_math``, with the C library's exp."""
        r, ens = self.t.raw, self.ens
        raw = []
        for j in range(self.nout):
            p = fn.op(f"getelementptr inbounds {r}, ptr {raw_ptr}, i32 {j}")
            raw.append(fn.op(f"load {r}, ptr {p}, align 4"))
        one = hex_float(1.0)
        params = ens.link_params
        exp = "expf" if r == "float" else "exp"
        xgboost = ens.link_math is LinkMath.XGBOOST
        if ens.link is Link.IDENTITY:
            return raw, raw
        if ens.link is Link.SIGMOID and xgboost:  # common::Sigmoid: min(-x, 88.7f), + 1e-16f
            cap, eps = hex_float(float(np.float32(88.7))), hex_float(float(np.float32(1e-16)))
            vals = []
            for v in raw:
                neg = fn.op(f"fneg float {v}")
                over = fn.op(f"fcmp olt float {cap}, {neg}")
                x = fn.op(f"select i1 {over}, float {cap}, float {neg}")
                e = fn.op(f"call float @expf(float {x})")
                d = fn.op(f"fadd float {e}, {one}")
                d = fn.op(f"fadd float {d}, {eps}")
                vals.append(fn.op(f"fdiv float {one}, {d}"))
            return raw, vals
        if ens.link is Link.SIGMOID:
            alpha = hex_float(self._as_raw(-(params[0] if params else 1.0)))
            vals = []
            for v in raw:
                m = fn.op(f"fmul {r} {alpha}, {v}")
                e = fn.op(f"call {r} @{exp}({r} {m})")
                d = fn.op(f"fadd {r} {one}, {e}")
                vals.append(fn.op(f"fdiv {r} {one}, {d}"))
            return raw, vals
        if ens.link is Link.EXP:
            return raw, [fn.op(f"call {r} @{exp}({r} {v})") for v in raw]
        if ens.link is Link.ISOLATION:
            p0, p1 = hex_float(self._as_raw(params[0])), hex_float(self._as_raw(params[1]))
            vals = []
            for v in raw:
                neg = fn.op(f"fneg {r} {v}")
                q = fn.op(f"fdiv {r} {neg}, {p0}")
                pw = fn.op(f"call {r} @llvm.pow.{self._sfx()}({r} {hex_float(2.0)}, {r} {q})")
                npw = fn.op(f"fneg {r} {pw}")
                vals.append(fn.op(f"fsub {r} {npw}, {p1}"))
            return raw, vals
        # softmax: exp(x - max) over the sum in class order (XGBoost: the sum in double)
        m = raw[0]
        for v in raw[1:]:
            m = fn.op(f"call {r} @llvm.maxnum.{self._sfx()}({r} {m}, {r} {v})")
        exps = []
        for v in raw:
            d = fn.op(f"fsub {r} {v}, {m}")
            exps.append(fn.op(f"call {r} @{exp}({r} {d})"))
        s_t = "double" if xgboost else r
        s = hex_float(0.0)
        for e in exps:
            wide = fn.op(f"fpext float {e} to double") if xgboost else e
            s = fn.op(f"fadd {s_t} {s}, {wide}")
        if xgboost:
            s = fn.op(f"fptrunc double {s} to float")
        return raw, [fn.op(f"fdiv {r} {e}, {s}") for e in exps]

    def _sfx(self) -> str:
        return "f32" if self.t.raw == "float" else "f64"

    def _argmax(self, fn: FunctionBuilder, vals: list[str]) -> str:
        r = self.t.raw
        best, idx = vals[0], "0"
        for j, v in enumerate(vals[1:], start=1):
            gt = fn.op(f"fcmp ogt {r} {v}, {best}")
            best = fn.op(f"select i1 {gt}, {r} {v}, {r} {best}")
            idx = fn.op(f"select i1 {gt}, i32 {j}, i32 {idx}")
        return idx

    def _decide(self, fn: FunctionBuilder, raw: list[str], vals: list[str]) -> str:
        r, d = self.t.raw, self.ens.decision
        one, zero = hex_float(1.0), hex_float(0.0)
        if d is Decision.ARGMAX:
            if len(vals) > 1:
                return self._argmax(fn, vals)
            q = fn.op(f"fsub {r} {one}, {vals[0]}")
            c = fn.op(f"fcmp olt {r} {q}, {vals[0]}")
            return fn.op(f"zext i1 {c} to i32")
        if d is Decision.RAW_ARGMAX:
            if len(raw) > 1:
                return self._argmax(fn, raw)
            c = fn.op(f"fcmp oge {r} {raw[0]}, {zero}")
            return fn.op(f"zext i1 {c} to i32")
        if d is Decision.GT_HALF:
            c = fn.op(f"fcmp ogt {r} {vals[0]}, {hex_float(0.5)}")
            return fn.op(f"zext i1 {c} to i32")
        c = fn.op(f"fcmp oge {r} {vals[0]}, {zero}")  # SIGN
        return fn.op(f"select i1 {c}, i32 1, i32 -1")

    def n_values(self) -> int:
        """Length of ``predict_proba``'s (or ``predict_values``') output."""
        binary = self.ens.task is Task.CLASSIFICATION and self.nout == 1
        return 2 if binary else self.nout

    def _c_api(self) -> None:
        r, nm = self.t.raw, self.name
        regress = self.ens.task not in (Task.CLASSIFICATION, Task.ANOMALY)
        ret = "float" if regress else "i32"
        bad = {Task.CLASSIFICATION: "-1", Task.ANOMALY: "0"}.get(self.ens.task, hex_float(float("nan")))
        fn = FunctionBuilder()
        raw_ptr, cls = self._row(fn, exits=self.exits is not None)
        if cls is not None:  # a class decided at a check point, else the full decision
            c = fn.op(f"load i32, ptr {cls}, align 4")
            fn.do(f"br i1 {fn.op(f'icmp sge i32 {c}, 0')}, label %early, label %full")
            fn.label("early")
            fn.do(f"ret i32 {c}")
            fn.label("full")
        raw, vals = self._values(fn, raw_ptr)
        if regress:
            res = vals[0] if r == "float" else fn.op(f"fptrunc double {vals[0]} to float")
        else:
            res = self._decide(fn, raw, vals)
        self.out += [
            f"define {ret} @{nm}_predict(ptr noalias %x, i32 %nf) nounwind {{",
            "entry:",
            *fn.entry,
            f"  %ok = icmp eq i32 %nf, {self.nf}",
            "  br i1 %ok, label %go, label %bad",
            "bad:",
            f"  ret {ret} {bad}",
            "go:",
            *fn.lines,
            f"  ret {ret} {res}",
            "}",
            "",
        ]
        fname = "predict_proba" if self.ens.task is Task.CLASSIFICATION else "predict_values"
        fn = FunctionBuilder()
        raw_ptr, _ = self._row(fn)
        raw, vals = self._values(fn, raw_ptr)
        if self.n_values() == 2 and self.nout == 1:
            vals = [fn.op(f"fsub {r} {hex_float(1.0)}, {vals[0]}"), vals[0]]
        for j, v in enumerate(vals):
            if r == "double":
                v = fn.op(f"fptrunc double {v} to float")
            p = fn.op(f"getelementptr inbounds float, ptr %out, i32 {j}")
            fn.do(f"store float {v}, ptr {p}, align 4")
        self.out += [
            f"define i32 @{nm}_{fname}(ptr noalias %x, i32 %nf, ptr noalias %out, i32 %no) nounwind {{",
            "entry:",
            *fn.entry,
            f"  %ok = icmp eq i32 %nf, {self.nf}",
            "  br i1 %ok, label %chk, label %badf",
            "badf:",
            "  ret i32 -1",
            "chk:",
            f"  %ok2 = icmp eq i32 %no, {self.n_values()}",
            "  br i1 %ok2, label %go, label %bado",
            "bado:",
            "  ret i32 -2",
            "go:",
            *fn.lines,
            f"  ret i32 {self.n_values()}",
            "}",
            "",
        ]

    def _intrinsics(self) -> list[str]:
        decl = set()
        for ty, sfx in (("float", "f32"), ("double", "f64")):
            decl.add(f"declare {ty} @{'expf' if ty == 'float' else 'exp'}({ty})")
            decl.add(f"declare {ty} @llvm.pow.{sfx}({ty}, {ty})")
            decl.add(f"declare {ty} @llvm.maxnum.{sfx}({ty}, {ty})")
        decl.add("declare void @llvm.memset.p0.i64(ptr, i8, i64, i1)")
        if self.blocked:
            decl.add(self._gather_decl(self.t.acc, LANES))
        return sorted(decl | self.declares)



def _topological(tree: Tree) -> list[int]:
    """Nodes with every parent before its children (reverse DFS post-order; DAG-safe)."""
    order: list[int] = []
    seen: set[int] = set()
    stack = [(0, False)]
    while stack:
        k, finished = stack.pop()
        if finished:
            order.append(k)
        elif k not in seen:
            seen.add(k)
            stack.append((k, True))
            if tree.op[k] != Op.LEAF:
                stack += [(c, False) for c in (int(tree.right[k]), int(tree.left[k])) if c not in seen]
    return order[::-1]


def walks_tables(ens: Ensemble, layout: Layout) -> bool:
    """Is ``ens`` walked from node tables on ``layout`` (rather than inline code)?"""
    return layout.blocked_tables and ens.n_nodes > layout.inline_max_nodes


def walk_block_rows(ens: Ensemble) -> int:
    """Rows per prepared block when ``ens`` is walked (see ``WALK_BLOCK_ROWS``)."""
    size = 8 if choose_types(ens).w == "double" else 4
    fit = WALK_BLOCK_BYTES // (max(ens.n_features, 1) * size) // BLOCK_ROWS * BLOCK_ROWS
    return max(BLOCK_ROWS, min(WALK_BLOCK_ROWS, fit))


def emit_module(ens: Ensemble, layout: Layout, name: str) -> str:
    """The whole module as LLVM assembly text."""
    return ModuleWriter(ens, layout, name).module()
