"""Early exit in LLVM: the check that lets ``predict`` stop at the IR's check points.

The emitted check, for a model called ``m`` (``CT`` is the check type: the
accumulator's float type, or ``i64`` for integer leaf sums)::

    i32 m_check(ACC *acc, IDX n, i32 *cls, i32 j)   ; internal; rows still open (cls < 0)
      for r < n with cls[r] < 0:
        low[o] = (CT) acc[r][o] + EXLO[j][o];  up[o] = (CT) acc[r][o] + EXHI[j][o]
        one output:  cls[r] = low[0] > 0 ? 1 : up[0] < 0 ? 0 : -1
        several:     c = first argmax of low; cls[r] = c if low[c] > up[o] for every o != c,
                     else -1

The sums it reads are the interpreter's own (float leaves summed in ``accum_dtype`` from
the same start, integer leaves summed exactly), and each bound is added in the bounds'
dtype, so rows stop exactly where :func:`emlc.ir.interpret.interpret_early_exit` stops
them, with its class, for exact and lossy (``confidence`` < 1) exits alike. NaN sums
need no special case: the IR's bounds are finite, so ``low[o]`` is NaN only when
``acc[o]`` is, and then ``up[o]`` is NaN as well and no ordered comparison decides,
just as no row stops in the interpreter (whose argmax picks the NaN). The one
approximation: float64 sums on a target without a 64-bit double (AVR) are float sums in
this backend already; there the bounds are rounded to float too, so a near-tie at a
check point may decide differently, as a near-tie of the full sums may.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..errors import EmlcError
from ..ir.ensemble import Aggregation, Ensemble, Task

if TYPE_CHECKING:
    from .llvm_codegen import ModuleWriter, Types


@dataclass(frozen=True)
class ExitPlan:
    checkpoints: np.ndarray  # trees evaluated before each check
    lower: np.ndarray  # [n_checks, n_outputs], values of the check type
    upper: np.ndarray
    check_type: str  # LLVM type the bounds are added in
    exact: bool  # False: float64 bounds checked on float sums (no 64-bit double)


def plan(ens: Ensemble, types: "Types", has_double: bool = True) -> ExitPlan | None:
    """How ``predict`` checks for an early exit, or None when it evaluates every tree."""
    ee = ens.early_exit
    if ee is None or ens.task is not Task.CLASSIFICATION or ee.checkpoints.size == 0:
        return None
    if ens.aggregation is Aggregation.VOTE:
        raise EmlcError(
            "early exit on a VOTE ensemble is not supported by the LLVM backend; add it with "
            "confidence_exit (--early-exit), which first rewrites votes as a mean of one-hot rows"
        )
    checkpoints = np.asarray(ee.checkpoints, dtype=np.int64)
    if types.acc_is_int:
        return ExitPlan(checkpoints, ee.lower.astype(np.int64), ee.upper.astype(np.int64), "i64", True)
    as_float = types.acc == "float"
    dtype = np.float32 if as_float else np.float64
    exact = has_double or ens.accum_dtype == "float32"
    return ExitPlan(checkpoints, ee.lower.astype(dtype), ee.upper.astype(dtype), types.acc, exact)


def check_fn(w: "ModuleWriter", p: ExitPlan) -> list[str]:
    """``m_check`` (see the module docstring): decides open rows, returns how many stay open."""
    from .llvm_codegen import _Fn, hex_float

    idx, n, ct, acc = w.layout.idx, w.nout, p.check_type, w.t.acc
    integer = ct.startswith("i")
    add, cmp = ("add", "icmp s") if integer else ("fadd", "fcmp o")
    zero = "0" if integer else hex_float(0.0)
    bounds, fn = _Fn("b"), _Fn("k")  # check point j's bounds are loaded once, before the rows
    base = bounds.op(f"mul i32 %j, {n}")
    lows, ups = [], []
    for o in range(n):
        at = bounds.op(f"add i32 {base}, {o}")
        q = fn.op(f"getelementptr inbounds {acc}, ptr %acc, {idx} {w._acc_at(fn, '%r', o)}")
        a = fn.op(f"load {acc}, ptr {q}, align 4")
        if acc != ct:
            a = fn.op(f"sext {acc} {a} to {ct}")
        for table, out in (("exlo", lows), ("exhi", ups)):
            b = bounds.op(f"getelementptr inbounds {ct}, {w.cp} @{w.name}_{table}, i32 {at}")
            out.append(fn.op(f"{add} {ct} {a}, {bounds.op(f'load {ct}, {w.cp} {b}, align 4')}"))
    if n == 1:
        above = fn.op(f"{cmp}gt {ct} {lows[0]}, {zero}")
        below = fn.op(f"{cmp}lt {ct} {ups[0]}, {zero}")
        res = fn.op(f"select i1 {above}, i32 1, i32 {fn.op(f'select i1 {below}, i32 0, i32 -1')}")
    else:
        c, best = w._argmax(fn, lows, ct)
        ok = "true"
        for o in range(n):
            beats = fn.op(f"{cmp}gt {ct} {best}, {ups[o]}")
            is_c = fn.op(f"icmp eq i32 {c}, {o}")
            ok = fn.op(f"and i1 {ok}, {fn.op(f'or i1 {beats}, {is_c}')}")
        res = fn.op(f"select i1 {ok}, i32 {c}, i32 -1")
    return [
        f"define internal i32 @{w.name}_check(ptr noalias %acc, {idx} %n, ptr noalias %cls, i32 %j) nounwind {{",
        "entry:",
        f"  %empty = icmp eq {idx} %n, 0",
        "  br i1 %empty, label %exit, label %bounds",
        "bounds:",
        *bounds.lines,
        "  br label %loop",
        "loop:",
        f"  %r = phi {idx} [0, %bounds], [%rnext, %next]",
        "  %open = phi i32 [0, %bounds], [%open2, %next]",
        f"  %cp = getelementptr inbounds i32, ptr %cls, {idx} %r",
        "  %was = load i32, ptr %cp, align 4",
        "  %todo = icmp slt i32 %was, 0",
        "  br i1 %todo, label %check, label %next",
        "check:",
        *fn.lines,
        f"  store i32 {res}, ptr %cp, align 4",
        "  br label %next",
        "next:",
        f"  %now = phi i32 [%was, %loop], [{res}, %check]",
        "  %still = icmp slt i32 %now, 0",
        "  %inc = zext i1 %still to i32",
        "  %open2 = add i32 %open, %inc",
        f"  %rnext = add nuw {idx} %r, 1",
        f"  %more = icmp ult {idx} %rnext, %n",
        "  br i1 %more, label %loop, label %exit",
        "exit:",
        "  %left = phi i32 [0, %entry], [%open2, %next]",
        "  ret i32 %left",
        "}",
        "",
    ]
