"""P_classify (and, when predict and predict_proba share one walk, P_run): the walk with
an early-exit check after the trees of each check point (exit_checks plans them)."""

from __future__ import annotations

from . import exit_checks, leaf_tables, link, sums, tree_runs
from .common import smallest_int
from .model import Model


def exit_functions(m: Model, walk_body: str | list[str]) -> str | list[str]:
    """P_exit (the check) and P_classify (walk, add, check at each check point, decide);
    with :meth:`walk_shared`, the walk is P_run and P_raw calls it without stopping.
    Pieces to join when the walk is in them."""
    plan = m.exit_plan()
    assert plan is not None
    ens, p = m.ens, m.p
    shared = m.walk_shared()
    if m.leaf_sums and plan.sums == "q":  # P_rows walks, adds and checks (leaf_sums_rows)
        return (
            "/* Class of one row; stops at the first early-exit check point that decides it. */\n"
            f"static inline int32_t {p}_classify(const {m.in_t} *features)\n{{\n"
            f"    {m.row_t} rows[{ens.n_trees}];\n{sums.raw_decl(m)}"
            f"    int32_t c = {p}_rows(features, rows, 1);\n"
            f"    if (c < 0) {{\n        {sums.exact_class(m)}\n    }}\n    return c;\n}}"
        )
    check = exit_checks.check_function(m, plan)
    checkpoints = [int(c) for c in plan.checkpoints]
    at_check = sums.check_index(m)
    ct = smallest_int(0, ens.n_trees, signed=False)
    chk_table = None

    def call(j: str, trees: str) -> str:
        """P_exit's call; a band check's (P_check) takes the recorded rows for its finer steps."""
        if plan.band is not None:
            return f"{p}_check({plan.sums}, {j}, rows, {trees})"
        return f"{p}_exit({plan.sums}, {j})"

    def stop(t: str) -> str:
        nonlocal chk_table
        if t.isdigit():
            j = at_check.get(int(t) + 1)
            if j is None:
                return ""
            if shared:
                return (f"\n        if (stop) {{\n            c = {call(f'{j}u', '')};\n"
                        "            if (c >= 0) {\n                return c;\n            }\n        }")
            return (f"\n        c = {call(f'{j}u', f'{int(t) + 1}u')};\n"
                    "        if (c >= 0) {\n            return c;\n        }")
        if chk_table is None:
            chk_table = m.tables.add("exat", ct, [*checkpoints, 0], note="early exit: trees before each check point")
        return (
            f"\n            if ({'stop && ' if shared else ''}{t} + 1u == ({ct}){m.tables.read(ct, chk_table, 'j')}) {{\n"
            f"                c = {call('j', f'(uint8_t)({t} + 1u)')};\n                if (c >= 0) {{\n                    return c;\n                }}\n"
            "                ++j;\n            }"
        )

    target = m.plan.numbers.sums_in
    steps = sums.sum_steps(m)
    sum_head, sum_fin = steps.head, steps.fin

    def off(t: str) -> str:
        return leaf_tables.tree_offset(m, t)

    if plan.sums == "q":
        fx = m.fixed
        assert fx is not None
        sink = lambda t, row: f"rows[{t}] = {row};\n        {p}_qadd(q, {off(t)}, rows[{t}]);{stop(t)}"
        decls = f"    {m.row_t} rows[{ens.n_trees}];\n    {fx.acc_t} q[{m.n_out}];\n{sums.raw_decl(m)}"
        head = sums.qinit_loop(m, fx.acc_t)
        tail = f"    c = {p}_qdecide(q);\n    if (c < 0) {{\n        {sums.exact_class(m)}\n    }}\n    return c;"
    else:
        sink = lambda t, row: f"{p}_add({target}, {off(t)}, {row});{stop(t)}"
        decls = f"    {m.acc_t} raw[{m.n_out}];\n"
        head = "\n".join(sum_head) + "\n"
        tail = "\n".join(sum_fin) + ("\n" if sum_fin else "") + f"    return {link.class_expr(m)};"
    if plan.sums == "q" and tree_runs.applies(m):  # P_fast walks and checks
        assert m.fixed is not None
        fast = tree_runs.fast_function(m, sums.qinit_loop(m, m.fixed.acc_t), _runs(m, checkpoints, call))
        return [
            check, f"\n\n{fast}\n\n/* Class of one row; stops at the first early-exit check point that decides it. */\n"
            f"static inline int32_t {p}_classify(const {m.in_t} *features)\n{{\n"
            f"    {m.row_t} rows[{ens.n_trees}];\n{sums.raw_decl(m)}    int32_t c = {p}_fast(features, rows);\n"
            f"    if (c < 0) {{\n        {sums.exact_class(m)}\n    }}\n    return c;\n}}"
        ]
    body = m.sink_pieces(walk_body, sink)
    j = f"    {ct} j = 0;\n" if chk_table is not None else ""
    prepare = ("    (void)features;\n" if m.direct or m.lazy else
               f"    {m.key_t} v[{ens.n_features}];\n    {p}_prepare(features, v);\n")
    if shared:
        # leaves add to the fixed-point sums all the same (unused here)
        q = sums.sum_locals(m) + "".join(f"    (void)q{k};\n" for k in range(m.n_out)) if m.leaf_sums else ""
        fin = "\n".join(sum_fin) + ("\n" if sum_fin else "")
        return [
            check, "\n\n/* Raw margins of one row; with stop, the class at the first early-exit check\n"
            " * point that decides it (else -1, raw complete). */\n"
            f"static inline int32_t {p}_run(const {m.in_t} *features, {m.acc_t} *raw, uint8_t stop)\n{{\n"
            f"{q}{j}    int32_t c;\n", prepare, head, *body, "\n", fin, "    (void)c;\n    return -1;\n}\n\n"
            "/* Raw margins (before the link) of one row. */\n"
            f"static inline void {p}_raw(const {m.in_t} *features, {m.acc_t} *raw)\n{{\n"
            f"    (void){p}_run(features, raw, 0);\n}}\n\n"
            "/* Class of one row; stops at the first early-exit check point that decides it. */\n"
            f"static inline int32_t {p}_classify(const {m.in_t} *features)\n{{\n"
            f"    {m.acc_t} raw[{m.n_out}];\n    int32_t c = {p}_run(features, raw, 1);\n"
            f"    if (c >= 0) {{\n        return c;\n    }}\n    return {link.class_expr(m)};\n}}"
        ]
    return [
        check, "\n\n/* Class of one row; stops at the first early-exit check point that decides it. */\n"
        f"static inline int32_t {p}_classify(const {m.in_t} *features)\n{{\n{decls}{j}    int32_t c;\n",
        prepare, head, *body, "\n", tail, "\n}",
    ]



def _runs(m: Model, checkpoints: list[int], call) -> str:
    """P_fast's walk through P_trees and checks (``call(j, trees)``): around the one check
    point (:func:`.tree_runs.single_check`), or in one place, the trees up to each check
    point (a table of them, then the forest's end) and the check at each."""
    n = m.ens.n_trees
    assert checkpoints and checkpoints[-1] < n
    check = "c = {};\n{}if (c >= 0) {{\n{}    return c;\n{}}}\n"
    if tree_runs.single_check(m):
        k = checkpoints[0]
        return (f"    {tree_runs.run(m, '0u', f'{k}u')}\n    " + check.format(call("0u", f"{k}u"), *["    "] * 3)
                + f"    {tree_runs.run(m, f'{k}u', f'{n}u')}\n")
    ct = smallest_int(0, n, signed=False)
    at = m.tables.add("exat", ct, [*checkpoints, n], note="early exit: trees before each check point, then all")
    pad = " " * 12
    return (
        f"    {{\n        {ct} t = 0, j, end;\n"
        "        for (j = 0;; ++j) {\n"
        f"{pad}end = {m.tables.read(ct, at, 'j')};\n"
        f"{pad}{tree_runs.run(m, 't', 'end')}\n"
        f"{pad}if (end == {n}u) {{\n{pad}    break;\n{pad}}}\n{pad}t = end;\n"
        + pad + check.format(call("j", "end"), pad, pad, pad) + "        }\n    }\n"
    )
