"""Summing leaf rows: P_add, P_rows / P_sum / P_raw (walk, then float sums, MEAN/VOTE,
leaf_scale, base score), and predict's integer fast paths over fixed-point plans (P_fast,
P_rows with leaf sums, the byte-sum first walk P_quick)."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from ...ir.ensemble import Aggregation
from . import exit_checks, fixed, leaf_add, leaf_records, leaf_tables, link, tree_runs
from .common import C_INT, first_max_locals, int_literal, smallest_int, top_two, top_two_locals, word_type
from .model import Model


def accumulator(m: Model) -> tuple[str, str]:
    """(C type of the running sums, body of P_add(acc, o, row))."""
    ens = m.ens
    width = ens.leaf_width
    at = m.plan.numbers.sums_t
    if ens.aggregation is Aggregation.VOTE:
        winners = np.argmax(ens.leaf_values(), axis=1)
        wt = smallest_int(0, int(winners.max()), signed=False)
        table = m.tables.add("winner", wt, winners, note="class each leaf row votes for")
        return at, f"    acc[o + {m.tables.read(wt, table, 'row')}] += 1;"
    leaves = ens.leaves
    if leaves.dtype.kind in "iu":
        lt = C_INT[str(leaves.dtype)]
    else:
        lt = "float" if leaves.dtype == np.float32 or m.acc_t == "float" else "double"
    if m.plan.records is not None:
        ent = leaf_records.row_entries(m, "row")
        if not m.plan.records.counts:
            return at, f"{ent.head}    {ent.loop} {{\n        {ent.enter}acc[o + {ent.column}] += ({at}){ent.value};\n    }}"
        nt = smallest_int(0, 255 * width, signed=False)
        return at, (
            f"{ent.head}    {nt} n = 0;\n"
            f"    {ent.loop} {{\n        {ent.enter}n = ({nt})(n + {ent.value});\n    }}\n"
            f"    {ent.loop} {{\n        {ent.enter}acc[o + {ent.column}] += ({at}){ent.value} / ({at})n;\n    }}"
        )
    if leaf_tables.sparse_exact(m, lt):
        nz = leaves != 0
        st_t, start, col_t, col = leaf_tables.sparse_pattern(m)
        counts = leaf_tables.rational_leaves(m, lt) if m.lazy and leaves.dtype.kind == "f" else None
        if counts is not None:
            ct, cnt, nt = leaf_tables.count_table(m, counts)
            read = m.tables.read(ct, cnt, "e")
            return at, (
                f"    {st_t} e, first = {m.tables.read(st_t, start, 'row')}, end = {m.tables.read(st_t, start, 'row + 1u')};\n"
                f"    {nt} n = 0;\n"
                f"    for (e = first; e < end; ++e) {{\n        n = ({nt})(n + {read});\n    }}\n"
                f"    for (e = first; e < end; ++e) {{\n"
                f"        acc[o + {m.tables.read(col_t, col, 'e')}] += ({at}){read} / ({at})n;\n    }}"
            )
        vals = m.tables.add("lval", lt, leaves[nz], note="nonzero leaf values, row by row")
        return at, (
            f"    {st_t} e = {m.tables.read(st_t, start, 'row')}, end = {m.tables.read(st_t, start, 'row + 1u')};\n"
            f"    for (; e < end; ++e) {{\n"
            f"        acc[o + {m.tables.read(col_t, col, 'e')}] += ({at}){m.tables.read(lt, vals, 'e')};\n    }}"
        )
    table = m.tables.add("leaves", lt, leaves, note=f"leaf table, {width} value(s) per row")
    if width == 1:
        return at, f"    acc[o] += ({at}){m.tables.read(lt, table, 'row')};"
    read = m.tables.read(lt, table, f"(uint32_t)row * {width}u + j")
    return at, (
        f"    uint16_t j;\n    for (j = 0; j < {width}u; ++j) {{\n"
        f"        acc[o + j] += ({at}){read};\n    }}"
    )


def raw_decl(m: Model) -> str:
    """The float sums beside recorded rows (P_exact declares its own)."""
    return "" if m.soft64 else f"    {m.acc_t} raw[{m.n_out}];\n"


def exact_class(m: Model) -> str:
    """Statements deciding the class from the recorded leaf rows (rows, raw in scope):
    they set c, or return P_exact's class. Returned, not stored: SDCC 4.2, inlining
    predict's `c = P_exact(rows); ... return c;` into its caller, gave c's stack slot
    to the next inlined call's locals and read it afterwards (the 8051 printed 0 for
    classes 1 and 2)."""
    if m.soft64:
        return f"return {m.p}_exact(rows{', q' if m.plan.soft_after_fixed else ''});"
    return f"{m.p}_sum(rows, raw);\n        c = {link.class_expr(m)};"


def default_sink(m: Model, target: str) -> Callable[[str, str], str]:
    """Recorded for P_sum/P_fast, or added to ``target`` at once."""
    if m.record_rows:
        return lambda t, row: f"rows[{t}] = {row};"
    return lambda t, row: f"{m.p}_add({target}, {leaf_tables.tree_offset(m, t)}, {row});"


class SumSteps(NamedTuple):
    """The statements every function that sums leaf rows shares (P_sum, P_raw, P_run,
    P_classify): P_add's body, the sums' declarations and start (``head``), adding the
    recorded rows (``add_rows``), and the finish (``fin``: MEAN, VOTE, leaf_scale, base)."""

    add_body: str
    head: list[str]
    add_rows: list[str]
    fin: list[str]


def sum_steps(m: Model) -> SumSteps:
    """:class:`SumSteps` of ``m``, built once (their tables are declared in this order)."""
    return m.once("sum steps", lambda: _sum_steps(m))


def _sum_steps(m: Model) -> SumSteps:
    ens, p, acc_t, n = m.ens, m.p, m.acc_t, m.n_out
    acc_type, add_body = accumulator(m)
    target = m.plan.numbers.sums_in
    base = np.asarray(ens.base_score, dtype=np.float64).astype(m.raw_dtype)
    base_t = m.acc_t
    float_sum = acc_type == acc_t and ens.aggregation is Aggregation.SUM
    scaled = acc_type != acc_t and ens.aggregation is not Aggregation.VOTE
    # A +0 base adds nothing to a sum that starts at +0 (such a sum is never -0); a
    # scaled integer sum can be -0 (0 times a negative scale), where + 0 makes it +0.
    if not base.any() and not np.signbit(base).any() and not scaled:
        rb, plus_rb = "0", ""
    else:
        rb = m.tables.read(base_t, m.tables.add("base", base_t, base, note="base score per output"), "k")
        plus_rb = f" + {rb}"
    head = []
    if acc_type != acc_t:
        head.append(f"    {acc_type} acc[{n}];")
    head.append("    uint16_t k;")
    init = rb if float_sum else "0"
    head.append(f"    for (k = 0; k < {n}u; ++k) {{\n        {target}[k] = {init};\n    }}")
    # the output-column table (if any) is declared here, where the sums first read it
    offset = leaf_tables.tree_offset(m, "t")
    add_rows = []
    if m.record_rows:
        tt = smallest_int(0, ens.n_trees, signed=False)
        add_rows.append(
            f"    {{\n        {tt} t;\n        for (t = 0; t < {ens.n_trees}u; ++t) {{\n"
            f"            {p}_add({target}, {offset}, rows[t]);\n        }}\n    }}"
        )
    nt = int_literal(max(ens.n_trees, 1), "int32_t")
    if ens.aggregation is Aggregation.VOTE:
        fin = f"raw[k] = ({acc_t})acc[k] / ({acc_t}){nt}{plus_rb};"
    elif acc_type != acc_t:
        scale = np.ones(ens.leaf_width) if ens.leaf_scale is None else np.asarray(ens.leaf_scale, np.float64)
        st = m.tables.add("scale", "double", scale, note="leaf_scale per leaf column")
        rs = m.tables.read("double", st, f"k % {ens.leaf_width}u")
        fin = f"raw[k] = ({acc_t})((double)acc[k] * {rs});"
        if ens.aggregation is Aggregation.MEAN:
            fin += f"\n        raw[k] = raw[k] / ({acc_t}){nt};"
        fin += f"\n        raw[k] = raw[k] + {rb};"
    elif ens.aggregation is Aggregation.MEAN:
        fin = f"raw[k] = raw[k] / ({acc_t}){nt}{plus_rb};"
    else:
        fin = ""
    fin_lines = [f"    for (k = 0; k < {n}u; ++k) {{\n        {fin}\n    }}"] if fin else []
    return SumSteps(add_body, head, add_rows, fin_lines)


def raw_function(m: Model, walk_body: str | list[str]) -> str | list[str]:
    """P_raw (and, recording leaf rows, P_rows + P_sum): walks, sums, raw margins; pieces
    to join when the walk is in P_raw."""
    ens, p, acc_t = m.ens, m.p, m.acc_t
    steps = sum_steps(m)
    acc_type, target = m.plan.numbers.sums_t, m.plan.numbers.sums_in
    walk = ["    (void)features;"] if m.direct or m.lazy else [f"    {m.key_t} v[{ens.n_features}];", f"    {p}_prepare(features, v);"]
    lines = steps.head + steps.add_rows
    fin_lines = steps.fin
    add_body = steps.add_body
    add = (
        f"/* Add leaf row `row` to the running sums from output o on. */\n"
        f"static inline void {p}_add({acc_type} *acc, uint16_t o, {m.row_t} row)\n{{\n{add_body}\n}}"
    )
    if m.walk_shared():  # P_run (exit_functions) serves predict and predict_proba
        return add
    if not m.record_rows:
        return [
            add, "\n\n/* Raw margins (before the link) of one row. */\n"
            f"static inline void {p}_raw(const {m.in_t} *features, {acc_t} *raw)\n{{\n",
            *(line + "\n" for line in walk + lines),
            *m.sink_pieces(walk_body, default_sink(m, target)),
            *("\n" + line for line in fin_lines), "\n}",
        ]
    lines += fin_lines
    if m.leaf_sums:
        rows_fn = leaf_sums_rows(m, walk_body)
        call = f"(void){p}_rows(features, rows{stop_arg(m, 0)}{', q' if m.plan.soft_after_fixed else ''});"
        if stop_arg(m, 0):  # P_rows checks, so P_exit comes first
            rows_fn = exit_checks.check_function(m, m.exit_plan()) + "\n\n" + rows_fn
    else:
        rows_fn = "".join([
            "/* The leaf row each tree reaches. */\n"
            f"static inline void {p}_rows(const {m.in_t} *features, {m.row_t} *rows)\n{{\n",
            *(line + "\n" for line in walk), *m.sink_pieces(walk_body, default_sink(m, target)), "\n}",
        ])
        call = f"{p}_rows(features, rows);"
    # P_rows with leaf sums hands its sums out for the binary64 step (unused here)
    q_decl = f"    {m.fixed.acc_t} q[{m.n_out}];\n" if m.leaf_sums and m.plan.soft_after_fixed else ""
    sum_fn = (
        "/* Raw margins (before the link) from the trees' leaf rows. */\n"
        f"static inline void {p}_sum(const {m.row_t} *rows, {acc_t} *raw)\n{{\n"
        + "\n".join(lines) + "\n}"
    )
    raw_fn = (
        "/* Raw margins (before the link) of one row. */\n"
        f"static inline void {p}_raw(const {m.in_t} *features, {acc_t} *raw)\n{{\n"
        f"    {m.row_t} rows[{ens.n_trees}];\n{q_decl}    {call}\n    {p}_sum(rows, raw);\n}}"
    )
    parts = [add, rows_fn, sum_fn, raw_fn]
    if m.fixed is not None and not m.leaf_sums:
        parts.append(fast_function(m))
    return "\n\n".join(parts)


def stop_arg(m: Model, value: int) -> str:
    """The stop argument of P_rows when leaf sums carry an early exit."""
    plan = m.exit_plan()
    exits = m.leaf_sums and plan is not None and plan.sums == "q"
    return f", {value}" if exits else ""


def sum_locals(m: Model, fx: fixed.FixedPlan | None = None) -> str:
    """Declarations of the fixed-point class sums q0, q1, ... of plan ``fx`` (default
    :attr:`fixed`) at their start values."""
    fx = fx or m.fixed
    assert fx is not None
    return f"    {fx.acc_t} " + ", ".join(f"q{k} = {int(v)}" for k, v in enumerate(fx.init.tolist())) + ";\n"


def leaf_sums_rows(m: Model, walk_body: str) -> str:
    """P_rows with leaf sums: one function walks every tree, each leaf adding its
    fixed-point values to locals q0, q1, ... (kept in registers where the compiler can;
    on AVR a third of the cycles of adds through memory) and recording its row; then
    the class if best - second > margin proves it, else -1."""
    fx = m.fixed
    assert fx is not None
    stop = stop_arg(m, 0) != ""
    sink = default_sink(m, "q")
    body = m.fill_sinks(walk_body, (lambda t, row: sink(t, row) + exit_stop(m, t)) if stop else sink)
    doc = ("The leaf row each tree reaches; the class when the fixed-point sums prove it\n"
           f" * (best - second > {fx.margin}), else -1"
           + (" (with stop, the class at the first early-exit check point that decides it)" if stop else ""))
    handed = m.plan.soft_after_fixed  # the binary64 step reads the sums of the rows it decides
    if handed:
        doc += " (its sums in q)"
    params = f", {m.row_t} *rows" + (", uint8_t stop" if stop else "") + (f", {fx.acc_t} *q" if handed else "")
    head = ""
    if m.plan.keyed_rows:
        head = f"    int16_t hk[{m.ens.n_features}];\n    {m.p}_halves(features, hk);\n"
    return _sums_function(m, "rows", params, fx, body, doc, head=head, hand=handed)


def quick_function(m: Model, walk_body: str) -> str:
    """P_quick: the walk with byte sums (:attr:`quick`) and nothing recorded (the
    volatile reads took digits 10x6 with int16 features from 763 to 705 cycles)."""
    fx = m.quick
    assert fx is not None
    doc = (f"First pass: the class when byte sums prove it (best - second > {fx.margin}), else -1.\n"
           " * One register per class and no leaf rows: most rows end here; P_rows decides the rest"
           + (".\n * Integer features are read through a volatile pointer: each test loads its feature\n"
              " * where it stands (avr-gcc otherwise hoists the loads and spills them to the stack)"
              if m.precision is None else ""))
    return _sums_function(m, "quick", "", fx, walk_body, doc, volatile=m.precision is None)


def _sums_function(m: Model, name: str, params: str, fx: fixed.FixedPlan, body: str, doc: str,
                   volatile: bool = False, head: str = "", hand: bool = False) -> str:
    """P_<name>(features<params>): the walk ``body`` adding into locals q0, q1, ... from
    plan ``fx``, then the class if best - second > margin proves it, else -1 (``head``:
    statements before the walk; ``hand``: the sums are stored to q[] first, on every row:
    stored only for the -1, gcc may prove they never are (a forest of constant trees) and
    warn that the caller reads q[] uninitialized)."""
    p, at = m.p, fx.acc_t
    arg, read = ("row", f"    const volatile {m.in_t} *features = row;\n") if volatile else ("features", "")
    if fx.exact:
        decls, decide = f"    {at} best;\n", first_max_locals(m.n_out, "c")
    else:
        decls = f"    {at} best, second;\n"
        decide = (top_two_locals(m.n_out, index="c")
                  + f"    if (({at})(best - second) <= {fx.margin}) {{\n        return -1;\n    }}\n")
    return (
        f"/* {doc}. */\n"
        f"static {p.upper()}_NOINLINE int32_t {p}_{name}(const {m.in_t} *{arg}{params})\n{{\n"
        + read + sum_locals(m, fx) + decls + "    int32_t c;\n" + head + "    (void)features;\n"
        + body + "\n" + "".join(f"    q[{k}] = q{k};\n" for k in range(m.n_out) if hand) + decide
        + "    return c;\n}"
    )


def check_index(m: Model) -> dict[int, int]:
    """Trees evaluated at each early-exit check point -> its index (a check per tree)."""
    def make() -> dict[int, int]:
        plan = m.exit_plan()
        assert plan is not None
        return {int(c): j for j, c in enumerate(plan.checkpoints.tolist())}

    return m.once("check index", make)


def exit_stop(m: Model, t: str) -> str:
    """The check after tree ``t`` in P_rows with leaf sums (guarded by its stop flag)."""
    plan = m.exit_plan()
    assert plan is not None and t.isdigit()
    j = check_index(m).get(int(t) + 1)
    if j is None:
        return ""
    n, ct = m.n_out, plan.check_t
    sums = ", ".join(f"q{k}" for k in range(n))
    # a band check's finer steps read the recorded rows
    call = f"{m.p}_check(a, {j}u, rows, {int(t) + 1}u)" if plan.band is not None else f"{m.p}_exit(a, {j}u)"
    check = (f"{{\n            {plan.sums_t} a[{n}] = {{{sums}}};\n            c = {call};\n"
             "            if (c >= 0) {\n                return c;\n            }\n        }")
    need = exit_checks.least_lead(plan)
    if need is None or int(need[j]) < 0:
        return f"\n        if (stop) {check}"
    # the lead of the sums is checked in registers first: most check points end there
    sure = exit_checks.sure_lead(plan)
    lead = f"({ct})best - ({ct})second"
    stop = (f"            if ({lead} > ({ct}){int(sure[j])}) {{\n                return c;\n            }}\n"
            if sure is not None else "")
    return (f"\n        if (stop) {{\n{top_two_locals(n, '            ', 'c' if stop else None)}{stop}"
            f"            if ({lead} > ({ct}){int(need[j])}) {check}\n        }}")


def fast_function(m: Model) -> str:
    """P_qadd, P_qdecide and P_fast: the class from integer leaf sums, or -1 when the
    margin is too thin (fixed). An exact plan (an integer table on its grid) adds the
    table's own values with P_add and always decides."""
    ens, p, fx, n = m.ens, m.p, m.fixed, m.n_out
    assert fx is not None
    at = m.plan.numbers.sums_t if fx.exact else fx.acc_t
    kt = word_type(m.target, smallest_int(0, n, signed=False))
    if fx.exact:
        decide = (
            "/* Class from the integer sums: the first largest (they order as the outputs do). */\n"
            f"static inline int32_t {p}_qdecide(const {at} *q)\n{{\n    {kt} k, c = 0;\n"
            f"    for (k = 1; k < {n}u; ++k) {{\n        if (q[k] > q[c]) {{\n            c = k;\n        }}\n    }}\n"
            "    return (int32_t)c;\n}"
        )
    else:
        decide = (
            f"/* Class from fixed-point sums when best - second > {fx.margin} proves it; else -1\n"
            " * (one pass: c is the first largest sum, second the largest of the others). */\n"
            f"static inline int32_t {p}_qdecide(const {at} *q)\n{{\n    {kt} k, c;\n    {at} best, second;\n"
            + top_two("q", n, "c")
            + f"    if (({at})(best - second) <= {fx.margin}) {{\n        return -1;\n    }}\n    return (int32_t)c;\n}}"
        )
    tt = word_type(m.target, smallest_int(0, ens.n_trees, signed=False))
    handed = m.plan.soft_after_fixed  # the caller keeps q[] for the binary64 step
    if tree_runs.applies(m):  # the walk adds as it goes (P_trees, with P_qadd), P_fast runs it
        assert not handed
        if m.exit_plan() is not None:  # P_fast runs the trees between the checks (exit_walk)
            return decide
        return f"{decide}\n\n{tree_runs.fast_function(m, qinit_loop(m, at))}"
    fast = (
        "/* Class from the fixed-point sums of the recorded leaf rows"
        + ("" if fx.exact else ", or -1 (P_qdecide)") + (" (in q)" if handed else "") + ". */\n"
        f"static inline int32_t {p}_fast(const {m.row_t} *rows{f', {at} *q' if handed else ''})\n{{\n"
        + ("" if handed else f"    {at} q[{n}];\n") + f"    {tt} t;\n"
        f"{qinit_loop(m, at)}"
        f"    for (t = 0; t < {ens.n_trees}u; ++t) {{\n        {p}_{'add' if fx.exact else 'qadd'}(q, {leaf_tables.tree_offset(m, 't')}, rows[t]);\n    }}\n"
        f"    return {p}_qdecide(q);\n}}"
    )
    if fx.exact:
        return f"{decide}\n\n{fast}"
    nz = np.asarray(ens.leaves) != 0
    if m.plan.records is not None:
        return f"{leaf_add.qadd_function(m)}\n\n{decide}\n\n{fast}"
    if nz.any():
        st_t, ts, ct, tc = leaf_tables.sparse_pattern(m)
        tv = m.tables.add("qval", fx.leaf_t, fx.leaves[nz], note=f"nonzero leaf values * 2^{fx.shift}")
        et, kt = word_type(m.target, st_t), word_type(m.target, "uint16_t")
        add = (
            f"    {et} e = {m.tables.read(st_t, ts, 'row')}, end = {m.tables.read(st_t, ts, 'row + 1u')};\n"
            f"    for (; e < end; ++e) {{\n        {kt} k = ({kt})(o + {m.tables.read(ct, tc, 'e')});\n"
            f"        q[k] = ({fx.acc_t})(q[k] + {m.tables.read(fx.leaf_t, tv, 'e')});\n    }}"
        )
    else:
        add = "    (void)q;\n    (void)o;\n    (void)row;"
    return (
        "/* Add leaf row `row`, fixed point, to the integer sums from output o on. */\n"
        f"static inline void {p}_qadd({fx.acc_t} *q, uint16_t o, {m.row_t} row)\n{{\n{add}\n}}\n\n"
        f"{decide}\n\n{fast}"
    )


#: 32-bit cores start at most this many sums with one store each: gcc turns the loop into
#: a memset call (picolibc's, RV32EC: 163 instructions for 10 int32 sums)
UNROLLED_QINIT = 16


def qinit_loop(m: Model, at: str) -> str:
    """Statements starting the ``at`` sums q[] at the fixed plan's start values."""
    fx = m.fixed
    assert fx is not None
    table = None
    if fx.init.any():
        table = m.once("qinit", lambda: m.tables.add("qinit", at, fx.init,
                                                     note=f"base score * 2^{fx.shift}, rounded"))
    if m.target.word_bits == 32 and m.n_out <= UNROLLED_QINIT:
        return "".join(f"    q[{k}] = {'0' if table is None else m.tables.read(at, table, str(k))};\n"
                       for k in range(m.n_out))
    init = "0" if table is None else m.tables.read(at, table, "k")
    return f"    {{\n        uint16_t k;\n        for (k = 0; k < {m.n_out}u; ++k) {{\n            q[k] = {init};\n        }}\n    }}\n"

