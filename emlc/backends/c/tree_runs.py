"""P_trees: the speed levels' table walk over a run of trees that adds each tree's leaf
record to the fixed-point sums as soon as its walk ends (and records the row, which the
exact step reads on the rare rows the sums leave undecided).

Walking every tree into rows[] and then adding the rows in a second loop (P_rows, then
P_fast) read each row back and kept both loops' pointers alive in predict's caller, whose
frame avr-gcc 5.4 reaches with spills; one loop in a function of its own keeps the walk's
and the add's values in registers (ATmega328P, digits -O2 on simavr, 4-level heads: 10x6
3,140 -> 2,824 cycles, 15,084 -> 15,006 B; 20x5 with its exact exit, 2 levels: 5,926 ->
5,193, 15,646 -> 15,544 B). P_fast runs all trees in one call, or with an early exit the
trees up to each check point, then the check.
"""

from __future__ import annotations

from . import leaf_add, leaf_tables, walk_halves
from .common import smallest_int
from .model import Model, Walk
from .plan import Layout


def applies(m: Model) -> bool:
    """Does the build run its trees through P_trees? The half-word table walk adding leaf
    records in assembly (:func:`.leaf_add.applies`) to sums that may leave a row to the
    exact step, where nothing else walks during the sums (no leaf sums in code, no
    byte-sum first walk, no walk shared with float sums)."""
    fx = m.fixed
    return (m.plan.layout is Layout.TABLE and walk_halves.applies(m) and leaf_add.applies(m.target, m.plan)
            and fx is not None and not fx.exact and not m.leaf_sums and m.quick is None and not m.walk_shared())


def trees_function(m: Model, walk: Walk) -> str:
    """P_qadd and P_trees(features, q, rows, [go,] t, end) where it applies (else nothing),
    from the layout's ``walk`` (its :attr:`~.model.Walk.row`; with a cursor, P_trees takes
    and moves on the caller's)."""
    if not applies(m):
        return ""
    row = walk.row
    assert row is not None and m.fixed is not None and walk.cursor == walk_halves.cursor(m)
    tt = smallest_int(0, m.ens.n_trees, signed=False)
    qual = f"{m.p.upper()}_NOINLINE" if single_check(m) else "inline"  # P_fast calls it once, else twice
    at, go, back = ("uint16_t *at, ", "    uint16_t go = *at;\n", "    *at = go;\n") if walk.cursor else ("", "", "")
    return (
        f"{leaf_add.qadd_function(m)}\n\n"
        "/* Walk trees t to end - 1: record each one's leaf row and add its record to the\n"
        " * fixed-point sums q at once. */\n"
        f"static {qual} void {m.p}_trees(const {m.in_t} *features, {m.fixed.acc_t} *q, "
        f"{m.row_t} *rows, {at}{tt} t, {tt} end)\n{{\n{go}"
        f"    for (; t < end; ++t) {{\n        {m.row_t} row = {row};\n        rows[t] = row;\n"
        f"        {m.p}_qadd(q, {leaf_tables.tree_offset(m, 't')}, row);\n    }}\n{back}}}"
    )


def run(m: Model, start: str, end: str) -> str:
    """The statement calling P_trees for trees ``start`` to ``end`` - 1 in P_fast."""
    return f"{m.p}_trees(features, q, rows, {'&go, ' if walk_halves.cursor(m) else ''}{start}, {end});"


def single_check(m: Model) -> bool:
    """Does P_fast check once (an early exit with one check point)? It then calls P_trees
    twice, out of line, around a check whose tables it reads at a constant index (digits
    20x5 on the ATmega328P: 36 cycles less than a loop over one check point)."""
    plan = m.exit_plan()
    return plan is not None and plan.checkpoints.size == 1


def fast_function(m: Model, init: str, runs: str | None = None) -> str:
    """P_fast(features, rows), out of line (its frame, not predict's caller's, holds the
    sums): the sums from ``init`` (zeros stored one by one: digits 10x6 on the ATmega328P
    42 cycles less than the loop, for 24 bytes), the trees as ``runs`` says (it may return
    an early exit's class; default every tree at once), then the class or -1 (P_qdecide)."""
    fx = m.fixed
    assert fx is not None
    if not fx.init.any() and m.n_out <= 16:
        init = "    " + " = ".join(f"q[{k}]" for k in range(m.n_out)) + " = 0;\n"
    go = walk_halves.cursor(m)
    return (
        "/* Walk the trees, recording their leaf rows; the class from the fixed-point sums, or -1\n"
        " * (P_qdecide). */\n"
        f"static {m.p.upper()}_NOINLINE int32_t {m.p}_fast(const {m.in_t} *features, {m.row_t} *rows)\n{{\n"
        f"    {fx.acc_t} q[{m.n_out}];\n" + (f"    uint16_t go = {go};\n" if go else "")
        + ("    int32_t c;\n" if m.exit_plan() is not None else "")
        + f"{init}{runs if runs is not None else '    ' + run(m, '0u', f'{m.ens.n_trees}u') + chr(10)}"
        f"    return {m.p}_qdecide(q);\n}}"
    )
