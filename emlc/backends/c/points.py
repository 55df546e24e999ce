"""The speed/size choice of a C build: the shapes it can take and the one it takes.

Each :class:`~emlc.cost.Point` (layout; for the inline walk a byte-sum first walk, int16
keys behind it, leaf sums in code as 16-bit or byte sums, or the leaf table, and NaN-free
tests behind a guard (:mod:`.nan_guard`); packed table records) is a plan with a flash and
a cycle estimate from the cost model. The speed
levels take the fastest point within the flash budget (``--flash-budget``; by default
half the target's flash), or the smallest when none is within it; -Os takes the smallest.
``--report`` prints every point considered and marks the one taken.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from ...cost import (HEAD_LEVELS, CodeTerms, FlashBudget, Layout, Point, cycles, flash_bytes, half_word_table,
                     head_room)
from ...float_traps import traps_off
from ...ir.ensemble import Ensemble, Op
from ...targets import Target
from . import exit_checks, fixed, half_keys, leaf_add, soft64
from .plan import Plan, make_plan, pick_layout


#: a point whose IR estimate is over the budget by at most this factor is measured with
#: the tables it emits (the IR estimate of leaf tables runs up to a quarter high)
CLOSE_TO_BUDGET = 1.5


@dataclass(frozen=True)
class PointCost:
    point: Point
    plan: Plan
    flash: int
    cycles: int


@dataclass(frozen=True)
class Choice:
    """The points a build considered (distinct plans only) and the one it took."""

    costs: tuple[PointCost, ...]
    chosen: PointCost
    budget: int | None

    def rows(self) -> list[dict]:
        return [{"point": c.point.label() + (f" ({c.plan.head.note()})" if c.point.head_more else ""),
                 "flash_bytes_estimate": c.flash, "cycles_estimate": c.cycles,
                 "within_budget": self.budget is None or c.flash <= self.budget, "chosen": c is self.chosen}
                for c in self.costs]


def candidates(target: Target, layout: Layout | None, speed: bool) -> list[Point]:
    """The points worth a plan, fastest first (digits 10x6 on AVR): the speed levels try
    every walk the target has (32-bit cores: leaf sums in code or the leaf table); -Os the smallest of each layout (the table packed, the
    inline walk as the target writes it, also with NaN-free tests where it has them)."""
    small = target.leaf_sums_inline
    if speed:
        inline = [
            Point(Layout.INLINE, quick=True, leaf_sums=True),
            Point(Layout.INLINE, quick=True, leaf_sums=True, keyed=True),
            Point(Layout.INLINE, leaf_sums=True),
            Point(Layout.INLINE, quick=True, leaf_sums=True, guarded=True),
            Point(Layout.INLINE, leaf_sums=True, guarded=True),
            Point(Layout.INLINE, leaf_sums=True, byte_sums=True),
            Point(Layout.INLINE, leaf_sums=True, byte_sums=True, guarded=True),
            Point(Layout.INLINE),
        ] if small else [Point(Layout.INLINE, leaf_sums=True), Point(Layout.INLINE)] if target.leaf_sums_speed else [
            Point(Layout.INLINE)]
        # records storing their fixed-point values where the target adds records fast, each
        # behind inline heads of every depth
        stored = (True, False) if target.fast_leaf_records else (False,)
        table = [Point(Layout.TABLE, stored=s, head=k) for s in stored for k in range(HEAD_LEVELS, -1, -1)]
    else:
        inline = [Point(Layout.INLINE, leaf_sums=small), Point(Layout.INLINE, leaf_sums=small, guarded=small)]
        table = [Point(Layout.TABLE, packed=True)]
    return [p for p in inline + table if layout is None or p.layout is layout]


def _plan(ens: Ensemble, target: Target, point: Point, float32_sums: bool) -> Plan:
    return make_plan(ens, target, point.layout, float32_sums, quick=point.quick, pack_tables=point.packed,
                     leaf_sums=point.leaf_sums, keyed_rows=point.keyed, byte_sums=point.byte_sums,
                     guarded=point.guarded, stored_records=point.stored, head=point.head, head_more=point.head_more)


def point_of(plan: Plan) -> Point:
    """The point ``plan`` builds: the one asked for, less the parts that do not apply to the
    model (two candidates may then give the same plan)."""
    head = plan.head
    return Point(plan.layout, plan.quick is not None, plan.leaf_sums, plan.pack_tables, plan.keyed_rows, _bytes(plan),
                 plan.guarded, plan.records is not None and plan.records.stored, head.levels if head else 0,
                 head.more if head else 0, plan.float_adds)


def _bytes(plan: Plan) -> bool:
    """Does the walk recording rows add byte sums (the first walk's, ``Point.byte_sums``)?"""
    return plan.leaf_sums and plan.fixed is not None and plan.fixed.acc_t == "uint8_t"


@traps_off
def choose(ens: Ensemble, target: Target, layout: Layout | str | None, speed: bool, float32_sums: bool = False,
           budget: FlashBudget = FlashBudget(), measure: Callable[[Plan], int] | None = None,
           point: Point | None = None) -> Choice:
    """The point a build of ``ens`` takes (see the module docstring); ``layout`` restricts it,
    ``point`` names it (the tests and the benchmark measure each). ``measure``: a plan's
    flash with the tables it emits, asked for points the IR estimate puts just over the budget."""
    forced = None if layout is None else pick_layout(ens, target, layout)
    limit = budget.limit(target)
    costs: list[PointCost] = []
    seen: set[Point] = set()

    def consider(option: Point) -> PointCost | None:
        plan = _plan(ens, target, option, float32_sums)
        actual = point_of(plan)
        if actual in seen:
            return None
        seen.add(actual)
        leaf = None if plan.records is None else int(plan.records.data.size)  # known to the byte
        flash = flash_bytes(ens, target, plan.layout, code_terms(ens, target, plan), packed=plan.pack_tables,
                            leaf_bytes=leaf, exit_bytes=exit_checks.table_bytes(plan.exit))
        if measure is not None and limit is not None and limit < flash <= CLOSE_TO_BUDGET * limit:
            flash = measure(plan)
        cost = PointCost(actual, plan, flash, cycles(ens, target, actual))
        costs.append(cost)
        return cost

    for option in [point] if point is not None else candidates(target, forced, speed):
        if consider(option) is not None and speed and limit is None:
            break  # no budget (the host): the first candidate is the fastest
    if speed and limit is not None and point is None:
        for start in [c for c in costs if c.point.layout is Layout.TABLE and c.flash <= limit]:
            # again while it fits: a faster walk may drop the exact exit's checks and their tables
            while (grown := grown_head(ens, target, start, limit)) and (cost := consider(grown)) and cost.flash <= limit:
                start = cost
    costs.sort(key=lambda c: c.cycles)  # fastest first: table records and heads interleave
    within = [c for c in costs if limit is None or c.flash <= limit]
    if speed and within:
        chosen = min(within, key=lambda c: (c.cycles, c.flash))
    else:
        chosen = min(costs, key=lambda c: (c.flash, c.cycles))
    return Choice(tuple(costs), chosen, limit)


def grown_head(ens: Ensemble, target: Target, start: PointCost, limit: int) -> Point | None:
    """``start``'s point with the flash it leaves under ``limit`` spent on inline head tests
    below its levels, those rows reach most often first (:func:`~emlc.cost.inline_head`;
    every test costs the same code, so they save the most cycles per byte), or None when
    no test fits, none saves cycles by the estimate (a head's first tests pay its call in
    every tree) or the table walk takes no head."""
    if start.point.packed or not half_word_table(ens, target):
        return None
    more = head_room(ens, start.point.head, limit - start.flash)
    grown = replace(start.point, head_more=start.point.head_more + more)
    return grown if more and cycles(ens, target, grown) < start.cycles else None


def code_terms(ens: Ensemble, target: Target, plan: Plan) -> CodeTerms:
    """The code only this plan knows about, for the cost model: leaf sums, the byte-sum
    first walk, the binary64 near-tie step."""
    leaf_adds = _leaf_adds(ens, plan.fixed) if plan.layout is Layout.INLINE and plan.leaf_sums and plan.fixed else 0
    quick = _leaf_adds(ens, plan.quick) if plan.quick is not None else None
    keyed, nan_tests = half_keys.keyed_nodes(ens) if plan.keyed_rows else (0, 0)
    add = 2 if _bytes(plan) else 8
    extra = (soft64.estimated_code_bytes(plan, target) + leaf_add.code_bytes(ens, target, plan)
             + soft_double_bytes(plan, target))
    return CodeTerms(leaf_adds=leaf_adds, leaf_add_bytes=add, quick_adds=quick, extra=extra,
                     keyed_nodes=keyed, keyed_nan_tests=nan_tests, guarded=plan.guarded,
                     head_nodes=plan.head.size if plan.head is not None else 0)


def soft_double_bytes(plan: Plan, target: Target) -> int:
    """libgcc's software double, where predict sums in it (no binary64 integer step)."""
    return target.soft_double_bytes if plan.numbers.acc_t == "double" and not plan.soft64 else 0


def _leaf_adds(ens: Ensemble, fx: fixed.FixedPlan) -> int:
    """How many ``q += v`` statements an inline walk with leaf sums of plan ``fx`` has."""
    return int(sum(np.count_nonzero(fx.leaves[t.leaf[t.op == Op.LEAF]]) for t in ens.trees))
