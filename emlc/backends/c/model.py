"""What every C layout shares: feature values, node tests, accumulation and the API.

The emitted header has this shape (``P`` is the model name)::

    P_key / P_rank / P_member ...   runtime helpers from runtime/c/, only those needed
    P_leaves or P_lval, P_base ...  constant tables in flash (float leaves sparse when
                                    that is smaller and exact)
    P_prepare(features, v)          v[f] = integer value of feature f: an order key
                                    for floats (NaN -> P_NAN), the rank for ranked ones
                                    (inline layout when tests cannot read features
                                    directly; the table layout keys a feature per visit)
    P_raw(features, raw)            walks every tree (layout specific), adds leaf rows,
                                    applies MEAN/VOTE/leaf_scale/base_score
    P_fast / P_classify             predict's integer fast path (fixed) and early exit
                                    (exit_checks), when they apply
    P_predict, P_predict_proba / P_predict_values    the public API

All node tests are integer comparisons ``v[f] <= K`` decided exactly at compile time
(:mod:`emlc.backends.c.numeric`), so targets without an FPU never touch float math
on the decision path. Layouts hand each tree's leaf row to a placeholder (:meth:`Model.sink`)
that every function built from the walk fills in its own way (record, add, add and check).
"""

from __future__ import annotations

import math
from fractions import Fraction
from string import Template
from typing import Callable, NamedTuple

import numpy as np

from ...errors import EmlcError
from ...ir.ensemble import Aggregation, Decision, Ensemble, Link, LinkMath, Op, Task
from ...ir.interpret import apply_link, decide
from ...paths import runtime_dir
from ...targets import Target
from . import exit_checks, fixed, soft64
from .exit_checks import ExitPlan
from . import numeric as num
from .common import (C_INT, FlashTables, comment, float_literal, int_literal, int_range, size_of, smallest_int,
                       top_two, top_two_locals)

_CAT, _LEAF = int(Op.CAT), int(Op.LEAF)  # an enum look-up per node shows in the profile of big models


#: marks where a layout's walk hands over a tree's leaf row (filled per function)
_SINK = ("\x01", "\x02", "\x03")


def runtime_source(name: str, **fields: object) -> str:
    """A runtime/c/ snippet with its ${fields} filled in."""
    text = (runtime_dir() / "c" / name).read_text()
    return Template(text).substitute({k: str(v) for k, v in fields.items()})


class Test(NamedTuple):
    """One decision node as the C code sees it: go left when ``v[feature] <= k``
    (``cat`` False) or when the category is in bitset row ``k``; NaN goes to ``nan_left``.
    A named tuple: big models make one per node, and it builds faster than a dataclass."""

    feature: int
    k: int
    cat: bool
    nan_left: bool


class Model:
    """Facts about one ensemble on one target that all layouts need."""

    def __init__(self, ens: Ensemble, target: Target, prefix: str, float32_sums: bool = False):
        self.ens = ens
        self.target = target
        self.p = prefix
        self.tables = FlashTables(prefix, target)
        self.helpers: list[str] = []
        #: the build opted out of exact float64 sums on targets without a 64-bit double (lossy)
        self.float32_sums = float32_sums
        self._count_table: tuple[str, str, str] | None = None
        self._soft64: bool | None = None
        inp = ens.input_type
        if inp == "float64" and not target.has_double:
            raise EmlcError(
                f"this model compares float64 features and {target.name}'s double is {target.double_bits}-bit; "
                "declare float32 inputs (--input float32, exact for every float32 feature value)"
            )
        if inp.startswith("float"):
            self.precision = "float64" if inp == "float64" else "float32"
            self.in_t = "double" if inp == "float64" else "float"
            self.real_in = "double" if self.precision == "float64" else "float"
            self.key_t = "int64_t" if self.precision == "float64" else "int32_t"
            self.nan = True
            limit = num.key_limit(self.precision)
            self.base_range = (-limit, limit)
        else:
            self.precision = None
            self.in_t = C_INT[inp]
            # int32 inputs need room for the "never" threshold INT32_MIN - 1
            self.key_t = "int64_t" if inp == "int32" else "int32_t"
            self.nan = False
            self.base_range = int_range(C_INT[inp])
        self.nan_key = int_range(self.key_t)[0]
        self.ranks = tuple(ens.feature_ranks) or (None,) * ens.n_features
        raw_is_double = ens.aggregation is Aggregation.VOTE or ens.accum_dtype == "float64"
        self.raw_dtype = "float64" if raw_is_double else "float32"
        self.acc_t = "double" if raw_is_double and target.has_double else "float"
        self.n_out = ens.n_outputs
        self.classifier = ens.task is Task.CLASSIFICATION
        self.n_proba = 2 if self.classifier and ens.n_outputs == 1 else ens.n_outputs
        self.row_t = smallest_int(0, ens.leaves.shape[0] - 1, signed=False)
        self._out_table: tuple[str, str] | None = None
        self._sparse: tuple[str, str, str, str] | None = None
        self._qinit: str | None = None
        self._exit: ExitPlan | None | bool = False
        self._check_index: dict[int, int] | None = None
        self._sums: tuple[str, str, list[str], list[str]] = ("", "", [], [])
        #: tests read features directly (no P_prepare); the inline layout sets it when it can
        self.direct = False
        #: the table layout computes a feature's key when a node reads it (no P_prepare)
        self.lazy = False
        #: the table layout's record encoding (walk_table.Records), once emitted
        self.records = None
        #: inline trees are functions whose leaves add fixed-point values to q (walk_inline)
        self.leaf_sums = False
        rows_bytes = ens.n_trees * size_of(self.row_t)
        self.record_rows = ens.n_trees > 0 and rows_bytes <= min(512, (target.ram_bytes or 1 << 20) // 16)
        self.fixed = fixed.plan(ens, target) if self.record_rows else None
        #: byte sums for a first walk that decides most rows without recording any (fixed.quick_plan)
        self.quick: fixed.FixedPlan | None = None

    # ----- feature values and node tests -------------------------------------------
    def value_range(self, f: int) -> tuple[int, int]:
        rank = self.ranks[f]
        return (0, int(rank.edges.size)) if rank is not None else self.base_range

    def base_threshold(self, op: int, t: float) -> int:
        """K for the unranked value: go left iff value <= K (clamped, NaN aside)."""
        lo, hi = self.base_range
        if self.precision is not None:
            return num.float_threshold_key(op, t, self.precision)
        return int(min(max(num.int_threshold(op, t), lo - 1), hi))

    def test(self, tree, i: int) -> Test:
        f = int(tree.feature[i])
        nan_left = bool(tree.default_left[i])
        if tree.op[i] == _CAT:
            return Test(f, int(tree.cat[i]), True, nan_left)
        t = float(tree.threshold[i])
        op = int(tree.op[i])
        if self.ranks[f] is not None:
            lo, hi = self.value_range(f)
            k = int(min(max(num.int_threshold(op, t), lo - 1), hi))
        else:
            k = self.base_threshold(op, t)
        return Test(f, k, False, nan_left)

    def tests(self, tree) -> list[Test | None]:
        """:meth:`test` of every node (None for leaves): the keys of unranked float
        features come from one numpy step, as per-node scalar work dominates big models."""
        op = tree.op.tolist()
        if self.precision is None or not tree.n_nodes:
            return [None if o == _LEAF else self.test(tree, i) for i, o in enumerate(op)]
        keys = num.float_threshold_keys(tree.op, tree.threshold, self.precision).tolist()
        feature, nan_left, ranks = tree.feature.tolist(), tree.default_left.tolist(), self.ranks
        out: list[Test | None] = []
        for i, o in enumerate(op):
            if o == _LEAF:
                out.append(None)
            elif o == _CAT or ranks[feature[i]] is not None:
                out.append(self.test(tree, i))
            else:
                out.append(Test(feature[i], keys[i], False, nan_left[i]))
        return out

    def folded(self, test: Test) -> bool | None:
        """True/False when a numeric test has the same outcome for every value (and NaN)."""
        if test.cat:
            return None
        lo, hi = self.base_range if self.direct or self.lazy else self.value_range(test.feature)
        if test.k >= hi and (test.nan_left or not self.nan):
            return True
        if test.k < lo and (not test.nan_left or not self.nan):
            return False
        return None

    # ----- runtime pieces -----------------------------------------------------------
    def emit_helpers(self) -> None:
        p = self.p
        if self.leaf_sums:
            m = p.upper()
            self.helpers.append(
                "/* The walk stays a function of its own: one copy serves predict and predict_proba,\n"
                " * and its callers' flash reads stay out of its big body. */\n"
                f"#if defined(__GNUC__)\n#define {m}_NOINLINE __attribute__((noinline))\n#else\n"
                f"#define {m}_NOINLINE\n#endif"
            )
        if self.direct:
            if self.precision == "float32" and self.target.half_word_tests:
                m = p.upper()
                byte = "((const unsigned char *)features)[4u * (f) + "
                self.helpers.append(
                    "/* Upper and lower 16 bits of float feature f's bits (little-endian bytes: no\n"
                    " * aliasing); tests compare the upper half and read the lower only on a tie. */\n"
                    f"#define {m}_HI(f) ((int16_t)(((uint16_t){byte}3u] << 8) | {byte}2u]))\n"
                    f"#define {m}_LO(f) ((uint16_t)(((uint16_t){byte}1u] << 8) | {byte}0u]))"
                )
                return
            if self.precision is not None:
                self.helpers.append(
                    f"/* The bits of a {self.real_in} as a signed integer (tests compare them directly). */\n"
                    f"static inline {self.key_t} {p}_bits({self.real_in} x)\n{{\n"
                    f"    union {{ {self.real_in} f; {self.key_t} i; }} b;\n    b.f = x;\n    return b.i;\n}}\n"
                    f"#define {p.upper()}_BITS(f) {p}_bits(features[f])"
                )
            return
        if self.precision is not None:
            wide = self.precision == "float64"
            self.helpers.append(runtime_source(
                "key.c", p=p, real=self.real_in, key_t=self.key_t,
                bits_t="uint64_t" if wide else "uint32_t",
                mag_mask="UINT64_C(0x7FFFFFFFFFFFFFFF)" if wide else "0x7FFFFFFFUL",
                inf_bits="UINT64_C(0x7FF0000000000000)" if wide else "0x7F800000UL",
                sign_shift=63 if wide else 31, nan_key=int_literal(self.nan_key, self.key_t),
            ))
        ranked = [(f, r) for f, r in enumerate(self.ranks) if r is not None]
        if self.lazy:
            ranked = [(f, r) for f, r in ranked if f in self.cat_features()]
        self.rank_calls: list[str] = []
        #: ranked feature -> its [lo, hi) span of P_edges
        self.rank_spans: dict[int, tuple[int, int]] = {}
        if ranked:
            edges, offset = [], 0
            op_of = {False: Op.LE, True: Op.LT}
            for f, r in ranked:
                keys = [self.base_threshold(op_of[bool(r.strict)], float(e)) for e in r.edges]
                edges.extend(keys)
                self.rank_calls.append(f"v[{f}] = {p}_rank(v[{f}], {offset}u, {offset + len(keys)}u);")
                self.rank_spans[f] = (offset, offset + len(keys))
                offset += len(keys)
            if offset > 65535:
                raise EmlcError(f"{offset} rank edges exceed the C backend's 65535; use fewer ranked features")
            if not edges:
                raise EmlcError("feature ranks without edges cannot be emitted; drop the empty rank")
            et = smallest_int(min(edges), max(edges), signed=True)
            table = self.tables.add("edges", et, edges, note="rank edges (keys), per ranked feature")
            read = self.tables.read(et, table, "mid")
            self.helpers.append(runtime_source(
                "rank.c", p=p, key_t=self.key_t, read_edge=f"({self.key_t}){read}",
                nan_check=(
                    f"if (x == {int_literal(self.nan_key, self.key_t)}) {{\n        return x;\n    }}"
                    if self.nan else "/* integer inputs: no NaN */"
                ),
            ))
        if self.ens.cat_sets.shape[0] and self.uses_categories():
            sets = self.ens.cat_sets
            words = sets.shape[1]
            table = self.tables.add("sets", "uint32_t", sets, note="category bitsets")
            n_bits = 32 * words
            self.helpers.append(runtime_source(
                "category.c", p=p, n_bits=int_literal(n_bits, "int32_t"),
                read_word=self.tables.read("uint32_t", table, f"(uint32_t)s * {words}u + (uint32_t)(c >> 5)"),
            ))
            if self.nan and any(self.ranks[f] is None for f in self.cat_features()):
                self.helpers.append(runtime_source(
                    "category_float.c", p=p, real=self.real_in, key_t=self.key_t,
                    n_bits=n_bits,
                    key_minus_one=int_literal(num.key(-1.0, self.precision), self.key_t),
                    key_n_bits=int_literal(num.key(float(n_bits), self.precision), self.key_t),
                ))

    def cat_features(self) -> set[int]:
        out: set[int] = set()
        for t in self.ens.trees:
            out.update(int(f) for f in t.feature[t.op == Op.CAT])
        return out

    def uses_categories(self) -> bool:
        return self.ens.n_trees > 0 and bool((self.ens.column("op") == Op.CAT).any())

    def category_expr(self, f: str, value: str, ranked_or_int: bool) -> str:
        if ranked_or_int:
            return f"(int32_t){value}"
        return f"{self.p}_category(features[{f}], {value})"

    def prepare_function(self) -> str:
        p, nf = self.p, self.ens.n_features
        if self.direct or self.lazy:
            return ""
        conv = f"{p}_key(features[f])" if self.precision is not None else f"({self.key_t})features[f]"
        body = [f"    for (f = 0; f < {nf}; ++f) {{", f"        v[f] = {conv};", "    }"]
        body += [f"    {c}" for c in self.rank_calls]
        ft = smallest_int(0, nf, signed=False)
        return (
            "/* v[f] = integer value of feature f: order key, rank or the integer itself. */\n"
            f"static inline void {p}_prepare(const {self.in_t} *features, {self.key_t} *v)\n{{\n"
            f"    {ft} f;\n" + "\n".join(body) + "\n}"
        )

    # ----- accumulation -------------------------------------------------------------
    def accumulator(self) -> tuple[str, str]:
        """(C type of the running sums, body of P_add(acc, o, row))."""
        ens = self.ens
        width = ens.leaf_width
        if ens.aggregation is Aggregation.VOTE:
            winners = np.argmax(ens.leaf_values(), axis=1)
            wt = smallest_int(0, int(winners.max()), signed=False)
            table = self.tables.add("winner", wt, winners, note="class each leaf row votes for")
            vt = smallest_int(0, ens.n_trees, signed=False)
            return vt, f"    acc[o + {self.tables.read(wt, table, 'row')}] += 1;"
        leaves = ens.leaves
        if leaves.dtype.kind in "iu":
            lt = C_INT[str(leaves.dtype)]
            bound = int(np.abs(leaves.astype(np.int64)).max()) * ens.n_trees
            at = "int32_t" if bound < 2**31 else "int64_t"
        else:
            lt = "float" if leaves.dtype == np.float32 or self.acc_t == "float" else "double"
            at = self.acc_t
        if self.sparse_exact(lt):
            nz = leaves != 0
            st_t, start, col_t, col = self.sparse_pattern()
            counts = self.rational_leaves(lt) if self.lazy else None
            if counts is not None:
                ct, cnt, nt = self.count_table(counts)
                read = self.tables.read(ct, cnt, "e")
                return at, (
                    f"    {st_t} e, first = {self.tables.read(st_t, start, 'row')}, end = {self.tables.read(st_t, start, 'row + 1u')};\n"
                    f"    {nt} n = 0;\n"
                    f"    for (e = first; e < end; ++e) {{\n        n = ({nt})(n + {read});\n    }}\n"
                    f"    for (e = first; e < end; ++e) {{\n"
                    f"        acc[o + {self.tables.read(col_t, col, 'e')}] += ({at}){read} / ({at})n;\n    }}"
                )
            vals = self.tables.add("lval", lt, leaves[nz], note="nonzero leaf values, row by row")
            return at, (
                f"    {st_t} e = {self.tables.read(st_t, start, 'row')}, end = {self.tables.read(st_t, start, 'row + 1u')};\n"
                f"    for (; e < end; ++e) {{\n"
                f"        acc[o + {self.tables.read(col_t, col, 'e')}] += ({at}){self.tables.read(lt, vals, 'e')};\n    }}"
            )
        table = self.tables.add("leaves", lt, leaves, note=f"leaf table, {width} value(s) per row")
        if width == 1:
            return at, f"    acc[o] += ({at}){self.tables.read(lt, table, 'row')};"
        read = self.tables.read(lt, table, f"(uint32_t)row * {width}u + j")
        return at, (
            f"    uint16_t j;\n    for (j = 0; j < {width}u; ++j) {{\n"
            f"        acc[o + j] += ({at}){read};\n    }}"
        )

    def count_table(self, counts: np.ndarray) -> tuple[str, str, str]:
        """(count type, table, row-total type) of :meth:`rational_leaves` counts, nonzero entries
        row by row: one table for the float sums and the binary64 ones (soft64)."""
        if self._count_table is None:
            ct = smallest_int(0, int(counts.max()), signed=False)
            nt = smallest_int(0, int(counts.sum(axis=1).max()), signed=False)
            nz = np.asarray(self.ens.leaves) != 0
            cnt = self.tables.add("lcount", ct, counts[nz], note="leaf values as counts: value = count / row total")
            self._count_table = (ct, cnt, nt)
        return self._count_table

    @property
    def soft64_candidate(self) -> bool:
        """Could predict decide float64 near-ties in binary64 integer arithmetic (soft64)?"""
        if self._soft64 is None:
            self._soft64 = soft64.applies(self)
        return self._soft64

    @property
    def soft64(self) -> bool:
        """Does predict decide float64 near-ties in binary64 (needs P_sum, which a walk
        shared with a float-sum early exit does not have)?"""
        return self.soft64_candidate and not self.walk_shared()

    def raw_decl(self) -> str:
        """The float sums beside recorded rows (P_exact declares its own)."""
        return "" if self.soft64 else f"    {self.acc_t} raw[{self.n_out}];\n"

    def exact_class(self) -> str:
        """Statements deciding the class from the recorded leaf rows (rows, raw in scope):
        they set c, or return P_exact's class. Returned, not stored: SDCC 4.2, inlining
        predict's `c = P_exact(rows); ... return c;` into its caller, gave c's stack slot
        to the next inlined call's locals and read it afterwards (the 8051 printed 0 for
        classes 1 and 2)."""
        if self.soft64:
            return f"return {self.p}_exact(rows);"
        return f"{self.p}_sum(rows, raw);\n        c = {self.class_expr()};"

    def sparse_pattern(self) -> tuple[str, str, str, str]:
        """(start type, start table, column type, column table) of the leaf table's nonzero
        entries, row by row: shared by the float sums and the fixed-point fast path."""
        if self._sparse is None:
            nz = np.asarray(self.ens.leaves) != 0
            starts = np.concatenate([[0], np.cumsum(nz.sum(axis=1))])
            st_t = smallest_int(0, int(starts[-1]), signed=False)
            col_t = smallest_int(0, max(self.ens.leaf_width - 1, 0), signed=False)
            start = self.tables.add("lstart", st_t, starts, note="first nonzero entry of each leaf row")
            cols = np.nonzero(nz)[1] if nz.any() else np.zeros(1, dtype=np.int64)
            self._sparse = (st_t, start, col_t, self.tables.add("lcol", col_t, cols, note="output column of each entry"))
        return self._sparse

    def rational_leaves(self, lt: str) -> np.ndarray | None:
        """Integer counts ``c`` [rows, width] with every leaf value exactly ``c / sum(row c)``
        in the C sums' precision (scikit-learn forests: class fractions of a leaf's samples),
        or None. A correctly rounded division then rebuilds each value, so a count table of
        bytes replaces one of floats."""
        leaves = np.asarray(self.ens.leaves, dtype=np.float64)
        uniq = np.unique(leaves[leaves != 0])
        if uniq.size == 0 or uniq.size > 1 << 16 or (uniq < 0).any():
            return None
        den = {}
        for u in uniq.tolist():
            fr = Fraction(u).limit_denominator(65535)
            if float(fr) != u:
                return None
            den[u] = fr.denominator
        totals = np.array([math.lcm(1, *(den[v] for v in row if v)) for row in leaves.tolist()],
                          dtype=np.int64)
        if totals.max() > 65535:
            return None
        counts = np.rint(leaves * totals[:, None]).astype(np.int64)
        if (counts.sum(axis=1) != totals).any():
            return None
        typ = np.float32 if lt == "float" else np.float64
        rebuilt = counts.astype(typ) / totals[:, None].astype(typ)
        return counts if np.array_equal(rebuilt, leaves.astype(typ)) else None

    def sparse_exact(self, lt: str) -> bool:
        """Store float leaves sparsely (zeros skipped)? Only when smaller, and exact: adding
        +0 changes a sum only when it is -0, which needs a -0 base score to start from."""
        ens = self.ens
        leaves = np.asarray(ens.leaves)
        if leaves.dtype.kind != "f" or ens.leaf_width < 2:
            return False
        base = np.asarray(ens.base_score, dtype=np.float64).astype(self.raw_dtype)
        if ens.aggregation is Aggregation.SUM and bool(((base == 0) & np.signbit(base)).any()):
            return False
        nnz = int(np.count_nonzero(leaves))
        lsize = self.tables.elem_size(lt)
        sparse = (leaves.shape[0] + 1) * 2 + nnz * (lsize + 1)
        return sparse < leaves.size * lsize

    def tree_offset(self, t: str) -> str:
        """C expression of the first output column of tree ``t`` (a flash table if any is nonzero)."""
        if self._out_table is None:  # decided once: every tree's sink asks
            outs = np.asarray(self.ens.tree_output, dtype=np.int64)
            if not outs.any():
                self._out_table = ("", "")
            else:
                ot = smallest_int(0, int(outs.max()), signed=False)
                self._out_table = (ot, self.tables.add("out", ot, outs, note="first output column of each tree"))
        ot, table = self._out_table
        return f"(uint16_t){self.tables.read(ot, table, t)}" if table else "0u"

    def sink(self, t: str, row: str) -> str:
        """Placeholder for the statement taking tree ``t``'s leaf row ``row``; each function
        built from a layout's walk fills it in (:meth:`fill_sinks`)."""
        return f"{_SINK[0]}{t}{_SINK[1]}{row}{_SINK[2]}"

    @staticmethod
    def fill_sinks(body: str | list[str], statement: Callable[[str, str], str]) -> str:
        """``body`` (a string or pieces of one) with every sink placeholder replaced by
        ``statement(t, row)``."""
        return "".join(Model.sink_pieces(body, statement))

    @staticmethod
    def sink_pieces(body: str | list[str], statement: Callable[[str, str], str]) -> list[str]:
        """:meth:`fill_sinks` as pieces to join: big models' bodies run to megabytes, and
        each whole copy of one costs more than all the sinks' statements (a piece without
        a sink passes through as it is)."""
        out: list[str] = []
        append = out.append
        mark, sep, end = _SINK
        for text in [body] if isinstance(body, str) else body:
            start, find = 0, text.find
            at = find(mark)
            while at >= 0:
                mid = find(sep, at)
                stop = find(end, mid)
                append(text[start:at])
                append(statement(text[at + 1:mid], text[mid + 1:stop]))
                start = stop + 1
                at = find(mark, start)
            append(text[start:])
        return out

    def default_sink(self, target: str) -> Callable[[str, str], str]:
        """Recorded for P_sum/P_fast, or added to ``target`` at once."""
        if self.record_rows:
            return lambda t, row: f"rows[{t}] = {row};"
        return lambda t, row: f"{self.p}_add({target}, {self.tree_offset(t)}, {row});"

    def raw_function(self, walk_body: str | list[str]) -> str | list[str]:
        """P_raw (and, recording leaf rows, P_rows + P_sum): walks, sums, raw margins; pieces
        to join when the walk is in P_raw."""
        ens, p, acc_t, n = self.ens, self.p, self.acc_t, self.n_out
        acc_type, add_body = self.accumulator()
        base = np.asarray(ens.base_score, dtype=np.float64).astype(self.raw_dtype)
        base_t = self.acc_t
        float_sum = acc_type == acc_t and ens.aggregation is Aggregation.SUM
        scaled = acc_type != acc_t and ens.aggregation is not Aggregation.VOTE
        # A +0 base adds nothing to a sum that starts at +0 (such a sum is never -0); a
        # scaled integer sum can be -0 (0 times a negative scale), where + 0 makes it +0.
        if not base.any() and not np.signbit(base).any() and not scaled:
            rb, plus_rb = "0", ""
        else:
            rb = self.tables.read(base_t, self.tables.add("base", base_t, base, note="base score per output"), "k")
            plus_rb = f" + {rb}"
        walk = ["    (void)features;"] if self.direct or self.lazy else [f"    {self.key_t} v[{ens.n_features}];", f"    {p}_prepare(features, v);"]
        lines = []
        if acc_type != acc_t:
            lines.append(f"    {acc_type} acc[{n}];")
        lines.append("    uint16_t k;")
        target = "raw" if acc_type == acc_t else "acc"
        init = rb if float_sum else "0"
        lines.append(f"    for (k = 0; k < {n}u; ++k) {{\n        {target}[k] = {init};\n    }}")
        head = list(lines)
        # the output-column table (if any) is declared here, where the sums first read it
        offset = self.tree_offset("t")
        if self.record_rows:
            tt = smallest_int(0, ens.n_trees, signed=False)
            lines.append(
                f"    {{\n        {tt} t;\n        for (t = 0; t < {ens.n_trees}u; ++t) {{\n"
                f"            {p}_add({target}, {offset}, rows[t]);\n        }}\n    }}"
            )
        nt = int_literal(max(ens.n_trees, 1), "int32_t")
        if ens.aggregation is Aggregation.VOTE:
            fin = f"raw[k] = ({acc_t})acc[k] / ({acc_t}){nt}{plus_rb};"
        elif acc_type != acc_t:
            scale = np.ones(ens.leaf_width) if ens.leaf_scale is None else np.asarray(ens.leaf_scale, np.float64)
            st = self.tables.add("scale", "double", scale, note="leaf_scale per leaf column")
            rs = self.tables.read("double", st, f"k % {ens.leaf_width}u")
            fin = f"raw[k] = ({acc_t})((double)acc[k] * {rs});"
            if ens.aggregation is Aggregation.MEAN:
                fin += f"\n        raw[k] = raw[k] / ({acc_t}){nt};"
            fin += f"\n        raw[k] = raw[k] + {rb};"
        elif ens.aggregation is Aggregation.MEAN:
            fin = f"raw[k] = raw[k] / ({acc_t}){nt}{plus_rb};"
        else:
            fin = ""
        fin_lines = [f"    for (k = 0; k < {n}u; ++k) {{\n        {fin}\n    }}"] if fin else []
        self._sums = (acc_type, target, head, fin_lines)
        add = (
            f"/* Add leaf row `row` to the running sums from output o on. */\n"
            f"static inline void {p}_add({acc_type} *acc, uint16_t o, {self.row_t} row)\n{{\n{add_body}\n}}"
        )
        if self.walk_shared():  # P_run (exit_functions) serves predict and predict_proba
            return add
        if not self.record_rows:
            return [
                add, "\n\n/* Raw margins (before the link) of one row. */\n"
                f"static inline void {p}_raw(const {self.in_t} *features, {acc_t} *raw)\n{{\n",
                *(line + "\n" for line in walk + lines),
                *self.sink_pieces(walk_body, self.default_sink(target)),
                *("\n" + line for line in fin_lines), "\n}",
            ]
        lines += fin_lines
        if self.leaf_sums:
            rows_fn, call = self.leaf_sums_rows(walk_body), f"(void){p}_rows(features, rows{self.stop_arg(0)});"
            if self.stop_arg(0):  # P_rows checks, so P_exit comes first
                rows_fn = exit_checks.check_function(self, self.exit_plan()) + "\n\n" + rows_fn
        else:
            rows_fn = "".join([
                "/* The leaf row each tree reaches. */\n"
                f"static inline void {p}_rows(const {self.in_t} *features, {self.row_t} *rows)\n{{\n",
                *(line + "\n" for line in walk), *self.sink_pieces(walk_body, self.default_sink(target)), "\n}",
            ])
            call = f"{p}_rows(features, rows);"
        sum_fn = (
            "/* Raw margins (before the link) from the trees' leaf rows. */\n"
            f"static inline void {p}_sum(const {self.row_t} *rows, {acc_t} *raw)\n{{\n"
            + "\n".join(lines) + "\n}"
        )
        raw_fn = (
            "/* Raw margins (before the link) of one row. */\n"
            f"static inline void {p}_raw(const {self.in_t} *features, {acc_t} *raw)\n{{\n"
            f"    {self.row_t} rows[{ens.n_trees}];\n    {call}\n    {p}_sum(rows, raw);\n}}"
        )
        parts = [add, rows_fn, sum_fn, raw_fn]
        if self.fixed is not None and not self.leaf_sums:
            parts.append(self.fast_function())
        return "\n\n".join(parts)

    def stop_arg(self, value: int) -> str:
        """The stop argument of P_rows when leaf sums carry an early exit."""
        plan = self.exit_plan()
        exits = self.leaf_sums and plan is not None and plan.sums == "q"
        return f", {value}" if exits else ""

    def sum_locals(self, fx: fixed.FixedPlan | None = None) -> str:
        """Declarations of the fixed-point class sums q0, q1, ... of plan ``fx`` (default
        :attr:`fixed`) at their start values."""
        fx = fx or self.fixed
        assert fx is not None
        return f"    {fx.acc_t} " + ", ".join(f"q{k} = {int(v)}" for k, v in enumerate(fx.init.tolist())) + ";\n"

    def leaf_sums_rows(self, walk_body: str) -> str:
        """P_rows with leaf sums: one function walks every tree, each leaf adding its
        fixed-point values to locals q0, q1, ... (kept in registers where the compiler can;
        on AVR a third of the cycles of adds through memory) and recording its row; then
        the class if best - second > margin proves it, else -1."""
        fx = self.fixed
        assert fx is not None
        stop = self.stop_arg(0) != ""
        sink = self.default_sink("q")
        body = self.fill_sinks(walk_body, (lambda t, row: sink(t, row) + self.exit_stop(t)) if stop else sink)
        doc = ("The leaf row each tree reaches; the class when the fixed-point sums prove it\n"
               f" * (best - second > {fx.margin}), else -1"
               + (" (with stop, the class at the first early-exit check point that decides it)" if stop else ""))
        params = f", {self.row_t} *rows" + (", uint8_t stop" if stop else "")
        return self._sums_function("rows", params, fx, body, doc)

    def quick_function(self, walk_body: str) -> str:
        """P_quick: the walk with byte sums (:attr:`quick`) and nothing recorded (the
        volatile reads took digits 10x6 with int16 features from 763 to 705 cycles)."""
        fx = self.quick
        assert fx is not None
        doc = (f"First pass: the class when byte sums prove it (best - second > {fx.margin}), else -1.\n"
               " * One register per class and no leaf rows: most rows end here; P_rows decides the rest"
               + (".\n * Integer features are read through a volatile pointer: each test loads its feature\n"
                  " * where it stands (avr-gcc otherwise hoists the loads and spills them to the stack)"
                  if self.precision is None else ""))
        return self._sums_function("quick", "", fx, walk_body, doc, volatile=self.precision is None)

    def _sums_function(self, name: str, params: str, fx: fixed.FixedPlan, body: str, doc: str,
                       volatile: bool = False) -> str:
        """P_<name>(features<params>): the walk ``body`` adding into locals q0, q1, ... from
        plan ``fx``, then the class if best - second > margin proves it, else -1."""
        p, at = self.p, fx.acc_t
        arg, read = ("row", f"    const volatile {self.in_t} *features = row;\n") if volatile else ("features", "")
        return (
            f"/* {doc}. */\n"
            f"static {p.upper()}_NOINLINE int32_t {p}_{name}(const {self.in_t} *{arg}{params})\n{{\n"
            + read + self.sum_locals(fx) + f"    {at} best, second;\n    int32_t c;\n    (void)features;\n"
            + body + "\n" + top_two_locals(self.n_out, index="c")
            + f"    if (({at})(best - second) <= {fx.margin}) {{\n        return -1;\n    }}\n    return c;\n}}"
        )

    def check_index(self) -> dict[int, int]:
        """Trees evaluated at each early-exit check point -> its index (a check per tree)."""
        if self._check_index is None:
            plan = self.exit_plan()
            assert plan is not None
            self._check_index = {int(c): j for j, c in enumerate(plan.checkpoints.tolist())}
        return self._check_index

    def exit_stop(self, t: str) -> str:
        """The check after tree ``t`` in P_rows with leaf sums (guarded by its stop flag)."""
        plan = self.exit_plan()
        assert plan is not None and t.isdigit()
        j = self.check_index().get(int(t) + 1)
        if j is None:
            return ""
        n, ct = self.n_out, plan.check_t
        sums = ", ".join(f"q{k}" for k in range(n))
        call = (f"{{\n            {plan.sums_t} a[{n}] = {{{sums}}};\n            c = {self.p}_exit(a, {j}u);\n"
                "            if (c >= 0) {\n                return c;\n            }\n        }")
        need = exit_checks.least_lead(plan)
        if need is None:
            return f"\n        if (stop) {call}"
        # the lead of the sums is checked in registers first: most check points end there
        return (f"\n        if (stop) {{\n{top_two_locals(n, '            ')}"
                f"            if (({ct})best - ({ct})second > ({ct}){int(need[j])}) {call}\n        }}")

    def fast_function(self) -> str:
        """P_qadd, P_qdecide and P_fast: the class from integer leaf sums, or -1 when the
        margin is too thin (fixed)."""
        ens, p, fx, n = self.ens, self.p, self.fixed, self.n_out
        assert fx is not None
        kt, at = smallest_int(0, n, signed=False), fx.acc_t
        decide = (
            f"/* Class from fixed-point sums when best - second > {fx.margin} proves it; else -1\n"
            " * (one pass: c is the first largest sum, second the largest of the others). */\n"
            f"static inline int32_t {p}_qdecide(const {at} *q)\n{{\n    {kt} k, c;\n    {at} best, second;\n"
            + top_two("q", n, "c")
            + f"    if (({at})(best - second) <= {fx.margin}) {{\n        return -1;\n    }}\n    return (int32_t)c;\n}}"
        )
        nz = np.asarray(ens.leaves) != 0
        st_t, ts, ct, tc = self.sparse_pattern()
        if nz.any():
            tv = self.tables.add("qval", fx.leaf_t, fx.leaves[nz], note=f"nonzero leaf values * 2^{fx.shift}")
            add = (
                f"    {st_t} e = {self.tables.read(st_t, ts, 'row')}, end = {self.tables.read(st_t, ts, 'row + 1u')};\n"
                f"    for (; e < end; ++e) {{\n        uint16_t k = (uint16_t)(o + {self.tables.read(ct, tc, 'e')});\n"
                f"        q[k] = ({fx.acc_t})(q[k] + {self.tables.read(fx.leaf_t, tv, 'e')});\n    }}"
            )
        else:
            add = "    (void)q;\n    (void)o;\n    (void)row;"
        tt = smallest_int(0, ens.n_trees, signed=False)
        return (
            "/* Add leaf row `row`, fixed point, to the integer sums from output o on. */\n"
            f"static inline void {p}_qadd({fx.acc_t} *q, uint16_t o, {self.row_t} row)\n{{\n{add}\n}}\n\n"
            f"{decide}\n\n"
            "/* Class from the fixed-point sums of the recorded leaf rows, or -1 (P_qdecide). */\n"
            f"static inline int32_t {p}_fast(const {self.row_t} *rows)\n{{\n"
            f"    {fx.acc_t} q[{n}];\n    {tt} t;\n"
            f"{self.qinit_loop()}"
            f"    for (t = 0; t < {ens.n_trees}u; ++t) {{\n        {p}_qadd(q, {self.tree_offset('t')}, rows[t]);\n    }}\n"
            f"    return {p}_qdecide(q);\n}}"
        )

    def qinit_loop(self) -> str:
        fx = self.fixed
        assert fx is not None
        if fx.init.any():
            if self._qinit is None:
                self._qinit = self.tables.add("qinit", fx.acc_t, fx.init, note=f"base score * 2^{fx.shift}, rounded")
            init = self.tables.read(fx.acc_t, self._qinit, "k")
        else:
            init = "0"
        return f"    {{\n        uint16_t k;\n        for (k = 0; k < {self.n_out}u; ++k) {{\n            q[k] = {init};\n        }}\n    }}\n"

    # ----- early exit ---------------------------------------------------------------
    def exit_plan(self) -> ExitPlan | None:
        """How predict stops early (exit_checks), or None when it evaluates every tree."""
        if self._exit is False:
            self._exit = exit_checks.plan(self)
        return self._exit

    def walk_shared(self) -> bool:
        """Do predict and predict_proba share one walk, P_run(features, raw, stop)? Yes when
        the early-exit check reads float or integer sums built during the walk: the walk is
        then emitted once (half the code of big models) and only P_classify stops early."""
        plan = self.exit_plan()
        return plan is not None and plan.sums != "q"

    def exit_functions(self, walk_body: str | list[str]) -> str | list[str]:
        """P_exit (the check) and P_classify (walk, add, check at each check point, decide);
        with :meth:`walk_shared`, the walk is P_run and P_raw calls it without stopping.
        Pieces to join when the walk is in them."""
        plan = self.exit_plan()
        assert plan is not None
        ens, p = self.ens, self.p
        shared = self.walk_shared()
        if self.leaf_sums and plan.sums == "q":  # P_rows walks, adds and checks (leaf_sums_rows)
            return (
                "/* Class of one row; stops at the first early-exit check point that decides it. */\n"
                f"static inline int32_t {p}_classify(const {self.in_t} *features)\n{{\n"
                f"    {self.row_t} rows[{ens.n_trees}];\n{self.raw_decl()}"
                f"    int32_t c = {p}_rows(features, rows, 1);\n"
                f"    if (c < 0) {{\n        {self.exact_class()}\n    }}\n    return c;\n}}"
            )
        check = exit_checks.check_function(self, plan)
        checkpoints = [int(c) for c in plan.checkpoints]
        at_check = self.check_index()
        ct = smallest_int(0, ens.n_trees, signed=False)
        chk_table = None

        def stop(t: str) -> str:
            nonlocal chk_table
            if t.isdigit():
                j = at_check.get(int(t) + 1)
                if j is None:
                    return ""
                if shared:
                    return (f"\n        if (stop) {{\n            c = {p}_exit({plan.sums}, {j}u);\n"
                            "            if (c >= 0) {\n                return c;\n            }\n        }")
                return f"\n        c = {p}_exit({plan.sums}, {j}u);\n        if (c >= 0) {{\n            return c;\n        }}"
            if chk_table is None:
                chk_table = self.tables.add("exat", ct, [*checkpoints, 0], note="early exit: trees before each check point")
            return (
                f"\n            if ({'stop && ' if shared else ''}{t} + 1u == ({ct}){self.tables.read(ct, chk_table, 'j')}) {{\n"
                f"                c = {p}_exit({plan.sums}, j);\n                if (c >= 0) {{\n                    return c;\n                }}\n"
                "                ++j;\n            }"
            )

        acc_type, target, sum_head, sum_fin = self._sums
        off = self.tree_offset
        if plan.sums == "q":
            fx = self.fixed
            assert fx is not None
            sink = lambda t, row: f"rows[{t}] = {row};\n        {p}_qadd(q, {off(t)}, rows[{t}]);{stop(t)}"  # noqa: E731
            decls = f"    {self.row_t} rows[{ens.n_trees}];\n    {fx.acc_t} q[{self.n_out}];\n{self.raw_decl()}"
            head = self.qinit_loop()
            tail = f"    c = {p}_qdecide(q);\n    if (c < 0) {{\n        {self.exact_class()}\n    }}\n    return c;"
        else:
            sink = lambda t, row: f"{p}_add({target}, {off(t)}, {row});{stop(t)}"  # noqa: E731
            decls = f"    {self.acc_t} raw[{self.n_out}];\n"
            head = "\n".join(sum_head) + "\n"
            tail = "\n".join(sum_fin) + ("\n" if sum_fin else "") + f"    return {self.class_expr()};"
        body = self.sink_pieces(walk_body, sink)
        j = f"    {ct} j = 0;\n" if chk_table is not None else ""
        prepare = ("    (void)features;\n" if self.direct or self.lazy else
                   f"    {self.key_t} v[{ens.n_features}];\n    {p}_prepare(features, v);\n")
        if shared:
            # leaves add to the fixed-point sums all the same (unused here)
            q = self.sum_locals() + "".join(f"    (void)q{k};\n" for k in range(self.n_out)) if self.leaf_sums else ""
            fin = "\n".join(sum_fin) + ("\n" if sum_fin else "")
            return [
                check, "\n\n/* Raw margins of one row; with stop, the class at the first early-exit check\n"
                " * point that decides it (else -1, raw complete). */\n"
                f"static inline int32_t {p}_run(const {self.in_t} *features, {self.acc_t} *raw, uint8_t stop)\n{{\n"
                f"{q}{j}    int32_t c;\n", prepare, head, *body, "\n", fin, "    (void)c;\n    return -1;\n}\n\n"
                "/* Raw margins (before the link) of one row. */\n"
                f"static inline void {p}_raw(const {self.in_t} *features, {self.acc_t} *raw)\n{{\n"
                f"    (void){p}_run(features, raw, 0);\n}}\n\n"
                "/* Class of one row; stops at the first early-exit check point that decides it. */\n"
                f"static inline int32_t {p}_classify(const {self.in_t} *features)\n{{\n"
                f"    {self.acc_t} raw[{self.n_out}];\n    int32_t c = {p}_run(features, raw, 1);\n"
                f"    if (c >= 0) {{\n        return c;\n    }}\n    return {self.class_expr()};\n}}"
            ]
        return [
            check, "\n\n/* Class of one row; stops at the first early-exit check point that decides it. */\n"
            f"static inline int32_t {p}_classify(const {self.in_t} *features)\n{{\n{decls}{j}    int32_t c;\n",
            prepare, head, *body, "\n", tail, "\n}",
        ]

    # ----- decisions and links ------------------------------------------------------
    def class_expr(self) -> str:
        """C expression of the class index (or +-1) from raw[]; exact w.r.t. the interpreter."""
        ens = self.ens
        if ens.n_outputs > 1:
            return f"{self.p}_argmax(raw)"

        def pred(r: float) -> bool:
            raw = np.array([[r]], dtype=self.raw_dtype)
            with np.errstate(all="ignore"):
                return bool(decide(ens, raw, apply_link(ens, raw))[0] == 1)

        kind, c = num.monotone_cutoff(pred, self.raw_dtype)
        hit, miss = ("1", "-1") if ens.decision is Decision.SIGN else ("1", "0")
        if kind in ("always", "never"):
            return hit if kind == "always" else miss
        prec = "float64" if self.acc_t == "double" else "float32"
        if kind == "ge":
            c = num.round_up(c, prec)
            cond = f"raw[0] > {self.real(num.round_down(np.finfo(prec).max, prec))}" if math.isinf(c) else f"raw[0] >= {self.real(c)}"
        else:
            c = num.round_down(c, prec)
            cond = f"raw[0] < {self.real(-np.finfo(prec).max)}" if math.isinf(c) else f"raw[0] <= {self.real(c)}"
        return f"({cond}) ? {hit} : {miss}"

    def real(self, x: float) -> str:
        return float_literal(x, self.acc_t)

    def argmax_function(self) -> str:
        return (
            "/* Index of the first largest raw margin (ties go to the lower class). */\n"
            f"static inline int32_t {self.p}_argmax(const {self.acc_t} *raw)\n{{\n"
            "    uint16_t k, best = 0;\n"
            f"    for (k = 1; k < {self.n_out}u; ++k) {{\n"
            "        if (raw[k] > raw[best]) {\n            best = k;\n        }\n    }\n"
            "    return (int32_t)best;\n}"
        )

    def needs_exp(self) -> bool:
        return self.ens.link in (Link.SIGMOID, Link.SOFTMAX, Link.EXP, Link.ISOLATION)

    @property
    def libm_exp(self) -> bool:
        """Does the link call the C library's exp (``<math.h>``, link with ``-lm``)? On the
        host, where it is the exp LightGBM, XGBoost and SciPy call; microcontrollers get
        emlc's own exp instead (their libm differs anyway, and none is needed)."""
        return self.needs_exp() and self.target.libm_exp

    def exp_name(self) -> str:
        """The C function computing e^x in the link's type."""
        if not self.libm_exp:
            return f"{self.p}_exp"
        return "expf" if self.link_t == "float" else "exp"

    @property
    def link_t(self) -> str:
        """The link's C type: XGBoost's steps are float32, the others the raw margins' type."""
        return "float" if self.ens.link_math is LinkMath.XGBOOST else self.acc_t

    def exp_function(self) -> str:
        """emlc's exp for targets without the C library's (empty when the link calls libm)."""
        if self.libm_exp:
            return ""
        double = self.link_t == "double"

        def r(x: float) -> str:
            return float_literal(x, self.link_t)

        return runtime_source(
            "exp.c", p=self.p, real=self.link_t,
            max_arg=r(709.78 if double else 88.72), min_arg=r(-745.2 if double else -103.98),
            huge=r(1e300 if double else 1e30), zero=r(0.0), half=r(0.5), one=r(1.0), two=r(2.0),
            log2e=r(1.4426950408889634), ln2_hi=r(0.693145751953125), ln2_lo=r(1.4286068203094173e-06),
            terms=13 if double else 8,
        )

    def link_function(self) -> str:
        """P_link: raw margins to outputs in place, the steps of the interpreter's apply_link
        for ``link_math`` (bit-identical where exp is the library's: the host)."""
        ens, p, t, n, exp = self.ens, self.p, self.acc_t, self.n_out, self.exp_name()
        params = ens.link_params

        def r(x: float) -> str:
            return float_literal(x, self.link_t)

        loop = f"    uint16_t k;\n    for (k = 0; k < {n}u; ++k) {{\n"
        xgboost = ens.link_math is LinkMath.XGBOOST
        body: str
        if ens.link is Link.IDENTITY:
            body = "    (void)raw;"
        elif ens.link is Link.SIGMOID and xgboost:  # common::Sigmoid
            body = (f"    uint16_t k;\n    float x;\n    for (k = 0; k < {n}u; ++k) {{\n"
                    f"        x = -raw[k];\n        x = {r(88.7)} < x ? {r(88.7)} : x;\n"
                    f"        raw[k] = {r(1.0)} / ({exp}(x) + {r(1.0)} + {r(1e-16)});\n    }}")
        elif ens.link is Link.SIGMOID:
            alpha = np.array(params[0] if params else 1.0, dtype=self.raw_dtype)
            body = f"{loop}        raw[k] = {r(1.0)} / ({r(1.0)} + {exp}(-{r(float(alpha))} * raw[k]));\n    }}"
        elif ens.link is Link.EXP:
            body = f"{loop}        raw[k] = {exp}(raw[k]);\n    }}"
        elif ens.link is Link.SOFTMAX:
            s_t = "double" if xgboost else t  # XGBoost sums float32 exps in double
            body = (f"    uint16_t k;\n    {t} m = raw[0];\n    {s_t} s = {float_literal(0.0, s_t)};\n"
                    f"    for (k = 1; k < {n}u; ++k) {{\n        m = raw[k] > m ? raw[k] : m;\n    }}\n"
                    f"    for (k = 0; k < {n}u; ++k) {{\n        raw[k] = {exp}(raw[k] - m);\n        s += raw[k];\n    }}\n"
                    f"    for (k = 0; k < {n}u; ++k) {{\n        raw[k] = raw[k] / ({t})s;\n    }}")
        else:  # ISOLATION: -2^(-raw / p0) - p1
            body = (f"{loop}        raw[k] = -{exp}(-raw[k] / {r(params[0])} * {r(math.log(2.0))}) - {r(params[1])};\n    }}")
        return (f"/* Outputs from raw margins ({comment(ens.link.value)} link, {ens.link_math.value} steps), in place. */\n"
                f"static inline void {p}_link({t} *raw)\n{{\n{body}\n}}")

    def api_functions(self) -> str:
        p, nf, t = self.p, self.ens.n_features, self.acc_t
        sig = f"const {self.in_t} *features, int32_t n_features"
        out = []
        if self.classifier or self.ens.task is Task.ANOMALY:
            miss = "0" if self.ens.task is Task.ANOMALY else "-1"
            if self.exit_plan() is not None:
                out.append(
                    f"static inline int32_t {p}_predict({sig})\n{{\n"
                    f"    if (n_features != {nf}) {{\n        return {miss};\n    }}\n"
                    f"    return {p}_classify(features);\n}}"
                )
            elif self.fixed is None and self.soft64:
                out.append(
                    f"static inline int32_t {p}_predict({sig})\n{{\n"
                    f"    {self.row_t} rows[{self.ens.n_trees}];\n"
                    f"    if (n_features != {nf}) {{\n        return {miss};\n    }}\n"
                    f"    {p}_rows(features, rows);\n    {self.exact_class()}\n}}"
                )
            elif self.fixed is None:
                out.append(
                    f"static inline int32_t {p}_predict({sig})\n{{\n    {t} raw[{self.n_out}];\n"
                    f"    if (n_features != {nf}) {{\n        return {miss};\n    }}\n"
                    f"    {p}_raw(features, raw);\n    return {self.class_expr()};\n}}"
                )
            else:
                if self.quick is not None:
                    fast = f"c = {p}_quick(features);\n    if (c < 0) {{\n        c = {p}_rows(features, rows);\n    }}"
                elif self.leaf_sums:
                    fast = f"c = {p}_rows(features, rows);"
                else:
                    fast = f"{p}_rows(features, rows);\n    c = {p}_fast(rows);"
                out.append(
                    f"static inline int32_t {p}_predict({sig})\n{{\n"
                    f"    {self.row_t} rows[{self.ens.n_trees}];\n{self.raw_decl()}    int32_t c;\n"
                    f"    if (n_features != {nf}) {{\n        return {miss};\n    }}\n"
                    f"    {fast}\n"
                    f"    if (c < 0) {{\n        {self.exact_class()}\n    }}\n"
                    "    return c;\n}"
                )
        if self.classifier:
            if self.n_proba == 2 and self.n_out == 1:
                fill = "    out[0] = (float)(1 - raw[0]);\n    out[1] = (float)raw[0];"
            else:
                fill = f"    for (k = 0; k < {self.n_out}u; ++k) {{\n        out[k] = (float)raw[k];\n    }}"
            fname, count = "predict_proba", self.n_proba
        else:
            fill = f"    for (k = 0; k < {self.n_out}u; ++k) {{\n        out[k] = (float)raw[k];\n    }}"
            fname, count = "predict_values", self.n_out
        decl_k = "    uint16_t k;\n" if "k <" in fill else ""
        out.append(
            f"static inline int32_t {p}_{fname}({sig}, float *out, int32_t n_out)\n{{\n"
            f"    {t} raw[{self.n_out}];\n{decl_k}"
            f"    if (n_features != {nf}) {{\n        return -1;\n    }}\n"
            f"    if (n_out != {count}) {{\n        return -2;\n    }}\n"
            f"    {p}_raw(features, raw);\n    {p}_link(raw);\n{fill}\n    return {count};\n}}"
        )
        if not (self.classifier or self.ens.task is Task.ANOMALY):
            out.append(
                "/* Not-a-number without <math.h>: the result for a wrong feature count. */\n"
                f"static inline float {p}_nan(void)\n{{\n    union {{ uint32_t u; float f; }} b;\n"
                "    b.u = 0x7FC00000UL;\n    return b.f;\n}"
            )
            out.append(
                f"static inline float {p}_predict({sig})\n{{\n    float out[{self.n_out}];\n"
                f"    if ({p}_predict_values(features, n_features, out, {self.n_out}) < 0) {{\n"
                f"        return {p}_nan();\n    }}\n    return out[0];\n}}"
            )
        return "\n\n".join(out)
