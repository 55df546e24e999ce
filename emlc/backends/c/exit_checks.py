"""Early exit in C: ``predict`` stops at the IR's check points once the class is decided.

Three ways to run the check, chosen per model and target:

* ``ir``: the C sums are the interpreter's (float leaves summed in ``accum_dtype``, which
  the target has, or integer leaves summed exactly), so ``P_exit`` adds the IR's bounds
  in that arithmetic and stops exactly where :func:`emlc.ir.interpret.interpret_early_exit`
  does, with its class, lossy (``confidence`` < 1) or not.
* ``fixed``: float64 sums on a target whose ``double`` is 32-bit, with exact bounds
  (``confidence`` 1) and the fixed-point fast path (:mod:`emlc.backends.c.fixed`). The
  check runs on the integer sums ``Q``: tree ``t`` adds one of its rows' integer values,
  so after ``k`` trees the final ``Q_c`` lies in ``Q_c(k) + [rlo_c, rhi_c]`` exactly (sums
  of the remaining trees' minima and maxima). If ``Q_c(k) + rlo_c > Q_o(k) + rhi_o + M``
  for every ``o != c`` then the final ``Q_c - Q_o > M`` and the fast path would return
  ``c``: the early class is the full predict's, by integer arithmetic alone.
* ``approx``: float64 sums with 32-bit ``double`` and a lossy confidence exit: the IR's
  bounds scaled onto the fixed-point sums (rounded outwards), or rounded to float and
  checked on the float sums when there is no fixed-point path. Like every float64 sum
  on such a target, a check that is a near-tie in float64 may decide differently (the
  header notes it).

Integer checks (integer leaf tables, ``fixed``, ``approx`` on fixed point) leave out
check points that no row can pass (the largest reachable lead is too small; exact
integer reasoning), and when the bounds are the same for every output the check is
one comparison of the lead over the runner-up. Models without ``early_exit``, or with
bounds that are not finite, evaluate every tree.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

import numpy as np

from ...ir.ensemble import Aggregation, Ensemble, Op, Task
from ...ir.ranges import tree_ranges
from .common import smallest_int, top_two
from .fixed import FixedPlan

if TYPE_CHECKING:
    from .model import Model
    from .plan import Numbers


class ExitMode(Enum):
    """What a check compares: the IR's own sums (exact), fixed-point sums with bounds
    proven for them (exact), or bounds carried over from the IR's float sums (lossy)."""

    IR = "ir"
    FIXED = "fixed"
    APPROX = "approx"


@dataclass(frozen=True)
class ExitPlan:
    mode: ExitMode
    checkpoints: np.ndarray  # trees before each check that can ever stop
    lower: np.ndarray  # [n_checks, n_outputs]
    upper: np.ndarray
    bound_t: str  # C type of the bounds tables
    check_t: str  # C type the check adds and compares in
    sums: str  # C array the check reads: raw, acc or q
    sums_t: str

    @property
    def uniform(self) -> bool:
        """Integer bounds equal across outputs: the check is best - second > upper - lower."""
        return (
            self.check_t.startswith("int") and self.lower.shape[1] > 1
            and bool((self.lower == self.lower[:, :1]).all() and (self.upper == self.upper[:, :1]).all())
        )


def _fixed_bounds(ens: Ensemble, fx: FixedPlan, checkpoints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per check point: integer range the remaining trees can add to each fixed-point sum,
    the upper end raised by the fast path's margin."""
    lo, hi = tree_ranges(ens, fx.leaves)
    rlo = np.cumsum(lo[::-1], axis=0)[::-1]
    rhi = np.cumsum(hi[::-1], axis=0)[::-1]
    return rlo[checkpoints], rhi[checkpoints] + fx.margin


def _fixed_from_ir(ens: Ensemble, fx: FixedPlan, lower: np.ndarray, upper: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The IR's (lossy) bounds on float sums as bounds on the fixed-point sums ``q``:
    ``q`` is about ``2**shift`` times the float sum, plus the scaled base under MEAN."""
    offset = fx.init if ens.aggregation is Aggregation.MEAN else 0
    lo = np.floor(np.ldexp(lower.astype(np.float64), fx.shift)).astype(np.int64) + offset
    hi = np.ceil(np.ldexp(upper.astype(np.float64), fx.shift)).astype(np.int64) + offset
    return lo, hi


def _can_fire(ens: Ensemble, table: np.ndarray, init: np.ndarray, checkpoints: np.ndarray,
              lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Which integer checks some row could pass: a class whose largest reachable sum plus its
    lower bound beats every other class's smallest sum plus its upper bound."""
    lo, hi = tree_ranges(ens, table)
    smin = init + np.concatenate([np.zeros((1, ens.n_outputs), np.int64), np.cumsum(lo, axis=0)])[checkpoints]
    smax = init + np.concatenate([np.zeros((1, ens.n_outputs), np.int64), np.cumsum(hi, axis=0)])[checkpoints]
    best = smax + lower  # [checks, outputs]
    worst = smin + upper
    if ens.n_outputs == 1:
        return (best[:, 0] > 0) | (smin[:, 0] + upper[:, 0] < 0)
    beats = best[:, :, None] > worst[:, None, :]  # [checks, c, o]
    beats |= np.eye(ens.n_outputs, dtype=bool)[None]
    return beats.all(axis=2).any(axis=1)


#: cost of one node visit in units of one output's share of a check (integer sums, 8-bit
#: cores: an inline node and one output of P_exit take about as long; a table node 3x)
_INLINE_NODE_COST, _TABLE_NODE_COST = 1.0, 3.0


def _pays_off(ens: Ensemble, leaf_sums: bool, table_layout: bool, checkpoints: np.ndarray) -> np.ndarray:
    """Checks worth their cost: the nodes the remaining trees would visit (log2 of their
    leaf counts) must outweigh twice the check's work (two passes over the outputs), so
    a check that fires half the time saves what it costs (digits forest on AVR: the
    inline layout's last checks never paid, the table layout's do). None in a walk with
    leaf sums (AVR inline): a check stores the sums it holds in registers and calls out,
    and predict was slower with exact exits on every digits forest measured (10-50
    trees, depth 5-6: 20x5 2,665 vs 1,954 cycles with the byte-sum first walk instead,
    50x5 7,685 vs 5,213 with neither)."""
    if leaf_sums:
        return np.zeros(len(checkpoints), dtype=bool)
    depth = np.array([np.log2(max(int((t.op == Op.LEAF).sum()), 1)) for t in ens.trees])
    remaining = np.concatenate([np.cumsum(depth[::-1])[::-1], [0.0]])[checkpoints]
    node = _TABLE_NODE_COST if table_layout else _INLINE_NODE_COST
    return remaining * node > 2 * 2 * ens.n_outputs


def plan(ens: Ensemble, nums: Numbers, fx: FixedPlan | None, soft64_candidate: bool, leaf_sums: bool,
         table_layout: bool) -> ExitPlan | None:
    """How predict stops early, or None when it evaluates every tree: the sums a check
    reads (``nums``' own, or the fixed-point ``fx``) and the bounds it compares them with."""
    ee = ens.early_exit
    if ee is None or ens.task is not Task.CLASSIFICATION or ens.n_trees == 0:
        return None
    checkpoints = np.asarray(ee.checkpoints, dtype=np.int64)
    acc_type, target, acc_t = nums.sums_t, nums.sums_in, nums.acc_t
    integer = ens.leaves.dtype.kind in "iu"
    exact_floats = not integer and np.dtype(ens.accum_dtype) == np.dtype(nums.raw_dtype) and (
        acc_t == ("double" if ens.accum_dtype == "float64" else "float"))
    lower, upper = np.asarray(ee.lower), np.asarray(ee.upper)
    if not (np.isfinite(lower).all() and np.isfinite(upper).all()):
        return None
    if exact_floats:
        return ExitPlan(ExitMode.IR, checkpoints, lower, upper, acc_t, acc_t, target, acc_type)
    if integer:
        mode, table, init, sums, sums_t = ExitMode.IR, ens.leaves.astype(np.int64), np.zeros(ens.n_outputs, np.int64), target, acc_type
        lower, upper = lower.astype(np.int64), upper.astype(np.int64)
    elif fx is not None:
        mode, table, init, sums, sums_t = (ExitMode.FIXED if ee.confidence == 1 else ExitMode.APPROX), fx.leaves, fx.init, "q", fx.acc_t
        lower, upper = _fixed_bounds(ens, fx, checkpoints) if ee.confidence == 1 else _fixed_from_ir(ens, fx, lower, upper)
    elif ee.confidence == 1 and soft64_candidate:
        return None  # float sums cannot stop exactly; predict's float64 step decides (soft64)
    else:
        return ExitPlan(ExitMode.APPROX, checkpoints, lower, upper, acc_t, acc_t, target, acc_type)
    keep = _can_fire(ens, table, init, checkpoints, lower, upper)
    if ee.confidence == 1:  # a lossy exit was asked for: it fires far more often
        keep &= _pays_off(ens, leaf_sums, table_layout, checkpoints)
    if not keep.any():
        return None
    lower, upper, checkpoints = lower[keep], upper[keep], checkpoints[keep]
    span = int(np.abs(np.concatenate([lower.ravel(), upper.ravel()])).max()) + int(
        np.abs(init).max() + np.maximum(np.abs(tree_ranges(ens, table)[0]), np.abs(tree_ranges(ens, table)[1])).sum(axis=0).max())
    check_t = "int32_t" if 2 * span < 2**31 else "int64_t"
    bt = smallest_int(int(min(lower.min(), upper.min(), 0)), int(max(lower.max(), upper.max(), 0)))
    return ExitPlan(mode, checkpoints, lower, upper, bt, check_t, sums, sums_t)


def least_lead(plan: ExitPlan) -> np.ndarray | None:
    """Per check point, the lead of the largest sum over the runner-up that a class needs
    before the check can pass (integer checks only): a[c] - a[o] > upper[o] - lower[c] for
    all o != c, so the lead must exceed the least such gap. A cheap test before the full one."""
    if not plan.check_t.startswith("int") or plan.lower.shape[1] < 2:
        return None
    n = plan.lower.shape[1]
    gaps = plan.upper[:, :, None] - plan.lower[:, None, :]  # [check, o, c]
    gaps = np.where(np.eye(n, dtype=bool)[None], np.iinfo(np.int64).max, gaps)
    return gaps.reshape(gaps.shape[0], -1).min(axis=1)


def check_function(model: Model, plan: ExitPlan) -> str:
    """P_exit(a, j): the class decided at check point j from the sums a[], else -1."""
    p, n, ct, tables = model.p, model.n_out, plan.check_t, model.tables
    what = f"/* Early exit ({plan.mode.value} check): the class decided at check point j from the sums a, else -1. */\n"
    qual = f"{p.upper()}_NOINLINE" if model.leaf_sums else "inline"  # called from P_rows (see its note)
    head = f"static {qual} int32_t {p}_exit(const {plan.sums_t} *a, uint16_t j)\n{{\n"
    if plan.uniform:
        gap = tables.add("exgap", plan.bound_t, plan.upper[:, 0] - plan.lower[:, 0],
                         note="early exit: lead the best class needs per check point")
        body = (
            f"    uint16_t k, c = 0;\n    {ct} need = ({ct}){tables.read(plan.bound_t, gap, 'j')};\n"
            f"    for (k = 1; k < {n}u; ++k) {{\n        if (a[k] > a[c]) {{\n            c = k;\n        }}\n    }}\n"
            f"    for (k = 0; k < {n}u; ++k) {{\n        if (k != c && ({ct})a[c] - ({ct})a[k] <= need) {{\n"
            "            return -1;\n        }\n    }\n    return (int32_t)c;"
        )
        return what + head + body + "\n}"
    lo = tables.add("exlo", plan.bound_t, plan.lower, note="early exit: lower bounds per check point and output")
    hi = tables.add("exhi", plan.bound_t, plan.upper, note="early exit: upper bounds per check point and output")
    low = f"({ct})a[{{k}}] + ({ct}){tables.read(plan.bound_t, lo, f'(uint16_t)(j * {n}u + {{k}})')}"
    up = f"({ct})a[{{k}}] + ({ct}){tables.read(plan.bound_t, hi, f'(uint16_t)(j * {n}u + {{k}})')}"
    zero = "0" if ct.startswith("int") else model.real(0.0)
    if n == 1:
        body = (
            f"    if ({low.format(k='0')} > {zero}) {{\n        return 1;\n    }}\n"
            f"    if ({up.format(k='0')} < {zero}) {{\n        return 0;\n    }}\n    return -1;"
        )
    else:
        need = least_lead(plan)
        decl, quick = "", ""
        if need is not None:
            nt = smallest_int(int(min(need.min(), 0)), int(max(need.max(), 0)))
            tn = tables.add("exneed", nt, need, note="early exit: least lead over the runner-up that can decide")
            decl = f"    {plan.sums_t} best, second;\n"
            quick = top_two("a", n) + (
                f"    if (({ct})best - ({ct})second <= ({ct}){tables.read(nt, tn, 'j')}) {{\n        return -1;\n    }}\n"
            )
        body = (
            f"    uint16_t k, c = 0;\n{decl}    {ct} lead, x;\n{quick}    lead = {low.format(k='0')};\n"
            f"    for (k = 1; k < {n}u; ++k) {{\n        x = {low.format(k='k')};\n"
            "        if (x > lead) {\n            lead = x;\n            c = k;\n        }\n    }\n"
            f"    for (k = 0; k < {n}u; ++k) {{\n        if (k != c && !(lead > {up.format(k='k')})) {{\n"
            "            return -1;\n        }\n    }\n    return (int32_t)c;"
        )
    return what + head + body + "\n}"
