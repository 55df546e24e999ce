"""Early exit in C: ``predict`` stops at the IR's check points once the class is decided.

Four ways to run the check, chosen per model and target:

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
* ``band``: float64 sums with 32-bit ``double``, a lossy confidence exit and the binary64
  step (:mod:`.soft64`): the IR's float64 check decided on the fixed-point sums where a
  proven band separates it (:func:`band_bounds`), on sums ``FINE`` times finer from the
  recorded leaf rows' residuals inside it (:func:`fine_plan`), and in binary64 on those
  rows inside that band, so it stops where the interpreter does, with its class.
* ``approx``: the same without the binary64 step (``--float32-sums``): the IR's bounds
  scaled onto the fixed-point sums (rounded outwards), or rounded to float and checked on
  the float sums when there is no fixed-point path. Like every float64 sum on such a
  target, a check that is a near-tie in float64 may decide differently (the header notes
  it).

Integer checks (integer leaf tables, ``fixed``, ``band``, ``approx`` on fixed point)
leave out check points that no row can pass (the largest reachable lead is too small;
exact integer reasoning), and when the bounds are the same for every output the check is
one comparison of the lead over the runner-up. Models without ``early_exit``, or with
bounds that are not finite, evaluate every tree.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np

from ...ir.ensemble import Aggregation, Ensemble, Op, Task
from ...ir.ranges import tree_ranges
from . import leaf_tables
from .common import size_of, smallest_int, top_two
from .fixed import FixedPlan
from .soft64 import f64_load, f64_words

if TYPE_CHECKING:
    from .model import Model
    from .plan import Numbers


class ExitMode(Enum):
    """What a check compares: the IR's own sums (exact), fixed-point sums with bounds
    proven for them (exact), fixed-point sums within a proven band of the IR's float64
    check and binary64 inside it (exact), or bounds carried over from the IR's float
    sums (lossy)."""

    IR = "ir"
    FIXED = "fixed"
    BAND = "band"
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
    #: band: per check point, how far (in sums units) the integer check may be from the
    #: IR's float64 one; rows within it go on to finer sums, then binary64 (P_check)
    band: np.ndarray | None = None

    @property
    def uniform(self) -> bool:
        """Integer bounds equal across outputs: the check is best - second > upper - lower."""
        return (
            self.band is None and self.check_t.startswith("int") and self.lower.shape[1] > 1
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


def band_bounds(ens: Ensemble, fx: FixedPlan, checkpoints: np.ndarray, lower: np.ndarray,
                upper: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(T, U, W): the IR's float64 bounds ``lower``/``upper`` (at ``checkpoints``) on the
    fixed-point sums, and per check point the band ``W`` within which the integer check
    cannot tell the float64 one.

    After ``k`` trees the interpreter's sums are ``a`` (float64, from the base under SUM,
    from 0 under MEAN) and C's are ``Q = init + sum q`` with ``q = rint(x S)``. With
    ``T_c = rint(S lower_c) - off_c`` and ``U_o = rint(S upper_o) - off_o`` (``off`` the
    start value under MEAN, which ``a`` leaves out; 0 under SUM),
    ``d = (Q_c + T_c) - (Q_o + U_o)`` differs from ``S ((a_c + lower_c) - (a_o + upper_o))``
    by at most ``2 E + 2 r``: ``E`` bounds ``|Q - off - S a|`` (half a unit per leaf and
    for ``init`` under SUM, the leaves' products ``x S`` rounded in float64, and float64
    summation, Higham Lemma 3.1), ``r`` the rounding of ``T`` and ``U``. The float64
    comparison ``fl(a_c + lower_c) > fl(a_o + upper_o)`` holds when the real difference
    exceeds ``rho = u (|a_c + lower_c| + |a_o + upper_o|)`` and fails below ``-rho``
    (single roundings are monotone). So ``W >= 2 E + 2 r + S rho`` makes ``d > W`` prove
    the pair passes and ``d < -W`` prove it fails."""
    u = 2.0**-53
    acc = np.dtype(ens.accum_dtype)
    x = np.abs(ens.leaves.astype(acc).astype(np.float64))
    xm = float(x.max()) if x.size else 0.0
    bm = float(np.abs(np.asarray(ens.base_score, dtype=np.float64).astype(acc).astype(np.float64)).max())
    mean = ens.aggregation is Aggregation.MEAN
    offset = fx.init if mean else np.zeros(ens.n_outputs, np.int64)
    scale = float(fx.scale)
    lo, hi = lower.astype(np.float64), upper.astype(np.float64)
    t = np.rint(lo * scale).astype(np.int64) - offset
    up = np.rint(hi * scale).astype(np.int64) - offset
    adds = np.zeros((ens.n_trees + 1, ens.n_outputs), np.int64)
    for i, o in enumerate(np.asarray(ens.tree_output, dtype=np.int64).tolist()):
        adds[i + 1] = adds[i]
        adds[i + 1, o : o + ens.leaf_width] += 1
    n = adds[checkpoints].max(axis=1).astype(np.float64)
    leaf = 0.5 + scale * xm * 2 * u  # rint, and x * S rounded in float64
    start = (0.5 + scale * bm * 2 * u) if (bm and not mean) else 0.0
    total = n * xm + bm
    summed = scale * (n + 1) * u / (1 - (n + 1) * u) * total
    e = n * leaf + start + summed
    reach = np.maximum(np.abs(lo), np.abs(hi)).max(axis=1)
    r = 0.5 + scale * reach * 2 * u
    rho = 2 * u * (total + reach)
    band = np.ceil((2 * e + 2 * r + scale * rho) * (1 + 2.0**-20)).astype(np.int64)
    return t, up, band


def _band_plan(ens: Ensemble, fx: FixedPlan, checkpoints: np.ndarray, lower: np.ndarray,
               upper: np.ndarray) -> ExitPlan | None:
    """The ``band`` check on the sums ``q`` of plan ``fx``, at the check points where some
    row's integer check could pass or fall within the band."""
    t, up, band = band_bounds(ens, fx, checkpoints, lower, upper)
    keep = _can_fire(ens, fx.leaves, fx.init, checkpoints, t + band[:, None] + 1, up)
    if not keep.any():
        return None
    t, up, band, checkpoints = t[keep], up[keep], band[keep], checkpoints[keep]
    span = int(np.abs(np.concatenate([t.ravel(), up.ravel()])).max()) + int(band.max()) + int(
        np.abs(fx.init).max() + np.abs(np.stack(tree_ranges(ens, fx.leaves))).max(axis=0).sum(axis=0).max())
    check_t = "int16_t" if 2 * span < 2**15 else "int32_t" if 2 * span < 2**31 else "int64_t"
    bt = smallest_int(int(min(t.min(), up.min(), 0)), int(max(t.max(), up.max(), 0)))
    return ExitPlan(ExitMode.BAND, checkpoints, t, up, bt, check_t, "q", fx.acc_t, band)


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
         table_layout: bool, banded: bool = True, interval: int = 1) -> ExitPlan | None:
    """How predict stops early, or None when it evaluates every tree: the sums a check
    reads (``nums``' own, or the fixed-point ``fx``) and the bounds it compares them with.
    ``interval``: an exact exit checks only where that many trees divide the check point
    (each bound holds on its own, so any subset stays exact: :func:`emlc.cost.exact_exit_interval`)."""
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
    if exact_floats and acc_t == "double" and soft64_candidate and ee.confidence == 1:
        # a software double (Target.double_fpu): predict sums in fixed point, then binary64;
        # exact checks on double sums would cost libgcc's double in every tree they save
        # (a lossy exit, asked for, keeps the IR's check on the library's sums)
        return None
    if ee.confidence == 1:  # the checks of every kind of sums, spaced out
        spaced = checkpoints % interval == 0
        if not spaced.any():
            return None
        checkpoints, lower, upper = checkpoints[spaced], lower[spaced], upper[spaced]
    if exact_floats:
        return ExitPlan(ExitMode.IR, checkpoints, lower, upper, acc_t, acc_t, target, acc_type)
    if integer:
        mode, table, init, sums, sums_t = ExitMode.IR, ens.leaves.astype(np.int64), np.zeros(ens.n_outputs, np.int64), target, acc_type
        lower, upper = lower.astype(np.int64), upper.astype(np.int64)
    elif fx is not None and ee.confidence < 1 and soft64_candidate and banded:
        return _band_plan(ens, fx, checkpoints, lower, upper)
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


def table_bytes(plan: ExitPlan | None) -> int | None:
    """Flash the tables of a check without a band take at most (the cost model's; None
    for a band check, whose finer and binary64 tables it estimates from the IR): bounds
    per check point and output, the least lead (:func:`least_lead`) and the check points."""
    if plan is None:
        return 0
    if plan.band is not None:
        return None
    n = len(plan.checkpoints)
    return 2 * plan.lower.size * size_of(plan.bound_t) + n * 8 + (n + 1) * 2


def least_lead(plan: ExitPlan) -> np.ndarray | None:
    """Per check point, the lead of the largest sum over the runner-up that a class needs
    before the check can pass (integer checks only): a[c] - a[o] > upper[o] - lower[c] for
    all o != c, so the lead must exceed the least such gap. A cheap test before the full one."""
    if not plan.check_t.startswith("int") or plan.lower.shape[1] < 2:
        return None
    n = plan.lower.shape[1]
    gaps = plan.upper[:, :, None] - plan.lower[:, None, :]  # [check, o, c]
    gaps = np.where(np.eye(n, dtype=bool)[None], np.iinfo(np.int64).max, gaps)
    need = gaps.reshape(gaps.shape[0], -1).min(axis=1)
    # band: a pair can pass in float64 only when d > -W, so the lead must exceed need - W
    return need if plan.band is None else need - plan.band


def sure_lead(plan: ExitPlan) -> np.ndarray | None:
    """Per check point of a band check, a lead of the largest sum over the runner-up above
    which the check passes for the largest (so the walk stops without calling P_exit):
    then ``d >= lead + min lower - max upper > W`` for every other class, and the largest
    sum is also the largest ``a + lower`` (``upper >= lower`` per output)."""
    if plan.band is None or plan.lower.shape[1] < 2:
        return None
    return plan.upper.max(axis=1) - plan.lower.min(axis=1) + plan.band


def check_function(model: Model, plan: ExitPlan) -> str:
    """P_exit(a, j): the class decided at check point j from the sums a[], else -1. A band
    check returns -2 within its band; the walk then calls P_check(a, j, rows, trees), which
    runs it, the same check on finer sums (P_exit2) and binary64 (P_exit64) one after
    another, so that their frames never nest (the 8051's stack is 223 B)."""
    p, n, ct, tables = model.p, model.n_out, plan.check_t, model.tables
    band = plan.band is not None
    what = f"/* Early exit ({plan.mode.value} check): the class decided at check point j from the sums a, else -1"
    what += (";\n * -2 within the band, where the sums cannot tell the IR's float64 check. */\n" if band else ". */\n")
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
        return what + head + body + "\n}"
    need = least_lead(plan)
    decl, quick = "", ""
    if need is not None and not (band and model.leaf_sums):  # P_rows tests the lead in registers first
        nt = smallest_int(int(min(need.min(), 0)), int(max(need.max(), 0)))
        tn = tables.add("exneed", nt, need, note="early exit: least lead over the runner-up that can decide")
        decl = f"    {plan.sums_t} best, second;\n"
        quick = top_two("a", n) + (
            f"    if (({ct})best - ({ct})second <= ({ct}){tables.read(nt, tn, 'j')}) {{\n        return -1;\n    }}\n"
        )
    if not band:
        body = (
            f"    uint16_t k, c = 0;\n{decl}    {ct} lead, x;\n{quick}"
            f"    lead = {low.format(k='0')};\n"
            f"    for (k = 1; k < {n}u; ++k) {{\n        x = {low.format(k='k')};\n"
            "        if (x > lead) {\n            lead = x;\n            c = k;\n        }\n    }\n"
            f"    for (k = 0; k < {n}u; ++k) {{\n        if (k != c && !(lead > {up.format(k='k')})) {{\n"
            "            return -1;\n        }\n    }\n    return (int32_t)c;"
        )
        return what + head + body + "\n}"
    wt = smallest_int(0, int(plan.band.max()), signed=False)
    width = tables.add("exband", wt, plan.band, note="early exit: band around the float64 check per check point")
    body = (f"    uint16_t k, c = 0;\n{decl}    {ct} lead, x, w;\n    uint8_t unsure = 0;\n{quick}"
            f"    w = ({ct}){tables.read(wt, width, 'j')};\n"
            + _band_decision(n, ct, low, up, "-2"))
    row_t = model.row_t
    check = (
        f"static int32_t {p}_exit64(const {row_t} *rows, uint8_t trees, uint16_t j);\n\n"
        "/* The early exit at check point j after `trees` trees: the band check on the sums a, then\n"
        " * on sums finer by the recorded rows' residuals, then binary64, each only when the one\n"
        " * before cannot tell. */\n"
        f"static {qual} int32_t {p}_check(const {plan.sums_t} *a, uint16_t j, const {row_t} *rows, uint8_t trees)\n{{\n"
        f"    int32_t c = {p}_exit(a, j);\n    if (c == -2) {{\n        c = {p}_exit2(a, j, rows, trees);\n    }}\n"
        f"    return c == -2 ? {p}_exit64(rows, trees, j) : c;\n}}"
    )
    return fine_function(model, plan) + "\n\n" + what + head + body + "\n}\n\n" + check


def _band_decision(n: int, ct: str, low: str, up: str, undecided: str) -> str:
    """The statements of a band check (``k``, ``c = 0``, ``lead``, ``x``, the band ``w`` and
    ``unsure = 0`` in scope; ``low``/``up`` read ``a + lower`` / ``a + upper`` of output
    ``{k}``): the class when every pair clears the band, -1 when every class has a pair
    below it, else ``undecided``."""
    return (
        f"    lead = {low.format(k='0')};\n"
        f"    for (k = 1; k < {n}u; ++k) {{\n        x = {low.format(k='k')};\n"
        "        if (x > lead) {\n            lead = x;\n            c = k;\n        }\n    }\n"
        "    /* c, the first largest a + lower, is the only class that can pass: x is its lead over\n"
        "     * each other class's a + upper; above w it passes in float64, below -w it fails */\n"
        f"    for (k = 0; k < {n}u; ++k) {{\n        if (k != c) {{\n"
        f"            x = ({ct})(lead - ({up.format(k='k')}));\n"
        "            if (x < -w) {\n                break;\n            }\n"
        "            if (x <= w) {\n                unsure = 1;\n            }\n        }\n    }\n"
        f"    if (k == {n}u) {{\n        return unsure ? {undecided} : (int32_t)c;\n    }}\n"
        "    /* c fails; another class k fails too when its a + lower is below c's a + upper by more than w */\n"
        f"    x = ({ct})(({up.format(k='c')}) - w);\n"
        f"    for (k = 0; k < {n}u; ++k) {{\n        if (k != c && {low.format(k='k')} >= x) {{\n"
        f"            return {undecided};\n        }}\n    }}\n    return -1;"
    )


#: the fine sums' scale over the 16-bit ones: residuals of leaves fit int16 (|r| <= F / 2 + 1)
FINE = 2**14


def fine_plan(ens: Ensemble, fx: FixedPlan) -> FixedPlan:
    """The fixed-point plan ``FINE`` times finer than ``fx`` (a power-of-two scale, so each
    leaf ``rint(x S F)`` is exact): ``F a + R``, with ``R`` the sums of the residuals
    ``rint(x S F) - F q`` (and the base's), are its sums, so a check's band shrinks by ``F``
    for a table of int16 residuals."""
    scale = fx.scale * FINE
    x = ens.leaves.astype(np.dtype(ens.accum_dtype)).astype(np.float64)
    d = ens.n_trees if ens.aggregation is Aggregation.MEAN else 1
    base = np.asarray(ens.base_score, dtype=np.float64).astype(ens.accum_dtype).astype(np.float64)
    init = np.array([round(Fraction(float(v)) * d * Fraction(scale)) for v in base.tolist()], dtype=np.int64)
    return FixedPlan(scale, np.rint(x * scale).astype(np.int64), init, 0, "int16_t", "int32_t")


def fine_function(model: Model, plan: ExitPlan) -> str:
    """P_exit2(a, j, rows, trees): the band check again on the sums ``FINE`` times finer
    (:func:`fine_plan`: the 16-bit sums a and the first ``trees`` recorded rows' residuals),
    -2 within its band, where binary64 decides (P_exit64: about a million AVR cycles, a
    division per leaf value, against some thousand here)."""
    ens, p, n, tables, fx = model.ens, model.p, model.n_out, model.tables, model.fixed
    assert fx is not None and ens.early_exit is not None
    ee = ens.early_exit
    fine = fine_plan(ens, fx)
    at = np.searchsorted(np.asarray(ee.checkpoints), plan.checkpoints)
    t, up, band = band_bounds(ens, fine, plan.checkpoints, np.asarray(ee.lower)[at], np.asarray(ee.upper)[at])
    nz = np.asarray(ens.leaves) != 0
    res = (fine.leaves - FINE * fx.leaves.astype(np.int64))[nz]
    st_t, start, col_t, col = leaf_tables.sparse_pattern(model)
    rt = smallest_int(int(min(res.min(initial=0), 0)), int(max(res.max(initial=0), 0)))
    rtab = tables.add("exres", rt, res if res.size else [0],
                      note=f"early exit: leaf residuals at {FINE} times the fixed-point scale")
    bt = smallest_int(int(min(t.min(), up.min(), 0)), int(max(t.max(), up.max(), 0)))
    lo = tables.add("ex2lo", bt, t, note="early exit: lower bounds on the fine sums")
    hi = tables.add("ex2hi", bt, up, note="early exit: upper bounds on the fine sums")
    wt = smallest_int(0, int(band.max()), signed=False)
    wb = tables.add("ex2band", wt, band, note="early exit: band of the fine check per check point")
    span = 2 * (int(np.abs(np.concatenate([t.ravel(), up.ravel()])).max()) + int(band.max())
                + FINE * 2**15 + int(np.abs(fine.init).max()))
    ct = "int32_t" if span < 2**31 else "int64_t"
    low = f"s[{{k}}] + ({ct}){tables.read(bt, lo, f'(uint16_t)(j * {n}u + {{k}})')}"
    upr = f"s[{{k}}] + ({ct}){tables.read(bt, hi, f'(uint16_t)(j * {n}u + {{k}})')}"
    corr = fine.init - FINE * fx.init
    first = "0"
    if corr.any():
        cbt = smallest_int(int(corr.min()), int(corr.max()))
        first = f"({ct}){tables.read(cbt, tables.add('ex2b', cbt, corr, note='early exit: base residual per output'), 'k')}"
    return (
        f"/* The band check on sums {FINE} times finer: the 16-bit sums a plus the residuals of the\n"
        " * first `trees` recorded rows; the class, -1, or -2 within its band (binary64 decides). */\n"
        f"static {p.upper()}_NOINLINE int32_t {p}_exit2(const {fx.acc_t} *a, uint16_t j, const {model.row_t} *rows, uint8_t trees)\n{{\n"
        f"    {ct} s[{n}], lead, x, w;\n    uint16_t k, c = 0, o;\n    uint8_t t, unsure = 0;\n    {st_t} e, end;\n"
        f"    for (k = 0; k < {n}u; ++k) {{\n        s[k] = ({ct})a[k] * {FINE} + {first};\n    }}\n"
        f"    for (t = 0; t < trees; ++t) {{\n        o = {leaf_tables.tree_offset(model, 't')};\n"
        f"        e = {tables.read(st_t, start, 'rows[t]')};\n        end = {tables.read(st_t, start, 'rows[t] + 1u')};\n"
        f"        for (; e < end; ++e) {{\n            s[o + {tables.read(col_t, col, 'e')}] += {tables.read(rt, rtab, 'e')};\n"
        "        }\n    }\n"
        f"    w = ({ct}){tables.read(wt, wb, 'j')};\n"
        + _band_decision(n, ct, low, upr, "-2") + "\n}"
    )


def exit64_function(model: Model, plan: ExitPlan) -> str:
    """P_exit64(rows, trees, j): the IR's float64 check at check point j computed as the
    interpreter does, on the first ``trees`` recorded leaf rows summed in binary64 (the
    band check's rows it cannot tell)."""
    ens, p, n, tables = model.ens, model.p, model.n_out, model.tables
    ee = ens.early_exit
    assert ee is not None
    at = np.searchsorted(np.asarray(ee.checkpoints), plan.checkpoints)

    lo = tables.add("ex64lo", "uint32_t", f64_words(np.asarray(ee.lower)[at]),
                    note="early exit: float64 lower bounds per check point and output (high, low word)")
    hi = tables.add("ex64hi", "uint32_t", f64_words(np.asarray(ee.upper)[at]),
                    note="early exit: float64 upper bounds per check point and output (high, low word)")
    work, f64 = f"{p.upper()}_F64_WORK", f"{p}_f64_t"

    def load(dst: str, table: str) -> str:
        return f64_load(tables, dst, table, f"(uint16_t)(j * {n}u + k)")

    base = np.asarray(ens.base_score, dtype=np.float64)
    start = "s[k].hi = s[k].lo = 0u;"
    if ens.aggregation is Aggregation.SUM and (base.any() or np.signbit(base).any()):
        bt = tables.add("ex64b", "uint32_t", f64_words(base), note="base score per output as float64 bits (high, low word)")
        start = f64_load(tables, "s[k]", bt, "k")
    return (
        "/* The IR's early-exit check at check point j as the interpreter computes it: the first\n"
        " * `trees` recorded leaf rows summed in binary64, the bounds added, compared; the class or -1. */\n"
        f"static {p.upper()}_NOINLINE int32_t {p}_exit64(const {model.row_t} *rows, uint8_t trees, uint16_t j)\n{{\n"
        f"    {work} {f64} s[{n}], low, best, b;\n    uint16_t k, c = 0;\n    uint8_t t;\n"
        f"    for (k = 0; k < {n}u; ++k) {{\n        {start}\n    }}\n"
        f"    for (t = 0; t < trees; ++t) {{\n        {p}_add64(s, {leaf_tables.tree_offset(model, 't')}, rows[t]);\n    }}\n"
        f"    for (k = 0; k < {n}u; ++k) {{\n        low.hi = s[k].hi;\n        low.lo = s[k].lo;\n"
        f"        {load('b', lo)}\n        {p}_f64_add(&low, &b);\n"
        f"        if (k == 0u || {p}_f64_cmp(&low, &best) > 0) {{\n"
        "            best.hi = low.hi;\n            best.lo = low.lo;\n            c = k;\n        }\n    }\n"
        f"    for (k = 0; k < {n}u; ++k) {{\n        if (k != c) {{\n            {load('b', hi).replace(chr(10) + '        ', chr(10) + '            ')}\n"
        f"            {p}_f64_add(&s[k], &b);\n"
        f"            if ({p}_f64_cmp(&best, &s[k]) <= 0) {{\n                return -1;\n            }}\n        }}\n    }}\n"
        "    return (int32_t)c;\n}"
    )
