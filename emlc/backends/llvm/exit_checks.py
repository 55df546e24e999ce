"""Early exit in LLVM: the check that lets ``predict`` stop at the IR's check points.

The emitted check, for a model called ``m`` (``CT`` is the check type: the
accumulator's float type, or ``i64`` for integer leaf sums)::

    i32 m_check(ACC *acc, IDX n, i32 *cls, i32 j)   ; internal; rows still open (cls < 0)
      for r < n with cls[r] < 0:
        low[o] = (CT) acc[r][o] + EXLO[j][o];  up[o] = (CT) acc[r][o] + EXHI[j][o]
        one output:  cls[r] = low[0] > 0 ? 1 : up[0] < 0 ? 0 : -1
        several:     c = first argmax of low; cls[r] = c if low[c] > up[o] for every o != c,
                     else -1
    (vector models: the same on one lane group as <LANES x CT>, masked to r < n)

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

from ...errors import EmlcError
from ...ir.ensemble import Aggregation, Ensemble, Task

from .builder import FunctionBuilder, hex_float, lanes_const, vector_type

if TYPE_CHECKING:  # type names only: codegen imports this module at run time
    from .codegen import ModuleWriter, Types


@dataclass(frozen=True)
class ExitPlan:
    checkpoints: np.ndarray  # trees evaluated before each check
    lower: np.ndarray  # [n_checks, n_outputs], values of the check type
    upper: np.ndarray
    check_type: str  # LLVM type the bounds are added in
    exact: bool  # False: float64 bounds checked on float sums (no 64-bit double)


def plan(ens: Ensemble, types: Types, has_double: bool = True) -> ExitPlan | None:
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


def check_fn(w: ModuleWriter, p: ExitPlan) -> list[str]:
    """``m_check`` (see the module docstring): decides open rows, returns how many stay open.

    Row by row, or, when ``exit_block`` gets one lane group at a time (vector trees,
    ``ModuleWriter.exit_rows``), on all its lanes at once: output-major sums put a lane
    group's values of one output side by side."""
    return _lanes_check(w, p) if w.exit_rows() > 1 else _rows_check(w, p)


def _bounds(w: ModuleWriter, p: ExitPlan, fn: FunctionBuilder) -> list[tuple[str, str]]:
    """Check point ``%j``'s (lower, upper) per output, loaded once."""
    base = fn.op(f"mul i32 %j, {w.nout}")
    out = []
    for o in range(w.nout):
        at = fn.op(f"add i32 {base}, {o}")
        pair = []
        for table in ("exlo", "exhi"):
            b = fn.op(f"getelementptr inbounds {p.check_type}, {w.cp} @{w.name}_{table}, i32 {at}")
            pair.append(fn.op(f"load {p.check_type}, {w.cp} {b}, align 4"))
        out.append((pair[0], pair[1]))
    return out


def _decision(fn: FunctionBuilder, ct: str, lows: list[str], ups: list[str], lanes: int) -> str:
    """Class index decided from ``acc + lower``/``acc + upper``, or -1, per lane."""
    integer = ct.startswith("i")
    cmp = "icmp s" if integer else "fcmp o"

    def k(t: str, c) -> str:
        return lanes_const(t, c, lanes)

    b, i32, tt = vector_type("i1", lanes), vector_type("i32", lanes), vector_type(ct, lanes)
    zero = k(ct, "0" if integer else hex_float(0.0))
    if len(lows) == 1:
        above = fn.op(f"{cmp}gt {tt} {lows[0]}, {zero}")
        below = fn.op(f"{cmp}lt {tt} {ups[0]}, {zero}")
        inner = fn.op(f"select {b} {below}, {i32} {k('i32', 0)}, {i32} {k('i32', -1)}")
        return fn.op(f"select {b} {above}, {i32} {k('i32', 1)}, {i32} {inner}")
    best, c = lows[0], k("i32", 0)  # first maximum: later outputs must be strictly greater
    for o, v in enumerate(lows[1:], start=1):
        gt = fn.op(f"{cmp}gt {tt} {v}, {best}")
        best = fn.op(f"select {b} {gt}, {tt} {v}, {tt} {best}")
        c = fn.op(f"select {b} {gt}, {i32} {k('i32', o)}, {i32} {c}")
    ok = k("i1", "true")
    for o, up in enumerate(ups):
        beats = fn.op(f"{cmp}gt {tt} {best}, {up}")
        is_c = fn.op(f"icmp eq {i32} {c}, {k('i32', o)}")
        ok = fn.op(f"and {b} {ok}, {fn.op(f'or {b} {beats}, {is_c}')}")
    return fn.op(f"select {b} {ok}, {i32} {c}, {i32} {k('i32', -1)}")


def _widen(fn: FunctionBuilder, acc: str, ct: str, a: str, lanes: int) -> str:
    if acc == ct:
        return a
    return fn.op(f"sext {vector_type(acc, lanes)} {a} to {vector_type(ct, lanes)}")


def _rows_check(w: ModuleWriter, p: ExitPlan) -> list[str]:
    idx, ct, acc = w.layout.idx, p.check_type, w.t.acc
    add = "add" if ct.startswith("i") else "fadd"
    bounds, fn = FunctionBuilder("b"), FunctionBuilder("k")
    lows, ups = [], []
    for o, (lo, hi) in enumerate(_bounds(w, p, bounds)):
        q = fn.op(f"getelementptr inbounds {acc}, ptr %acc, {idx} {w._acc_at(fn, '%r', o)}")
        a = _widen(fn, acc, ct, fn.op(f"load {acc}, ptr {q}, align 4"), 1)
        lows.append(fn.op(f"{add} {ct} {a}, {lo}"))
        ups.append(fn.op(f"{add} {ct} {a}, {hi}"))
    res = _decision(fn, ct, lows, ups, 1)
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


def _lanes_check(w: ModuleWriter, p: ExitPlan) -> list[str]:
    """The check on one lane group: rows ``0 <= r < n <= lanes`` of a blocked layout."""
    idx, ct, acc, lanes = w.layout.idx, p.check_type, w.t.acc, w.exit_rows()
    add = "add" if ct.startswith("i") else "fadd"
    fn = FunctionBuilder("k")
    vt, vi, vb = f"<{lanes} x {ct}>", f"<{lanes} x i32>", f"<{lanes} x i1>"

    n32 = fn.op(f"trunc {idx} %n to i32") if idx != "i32" else "%n"
    steps = "<" + ", ".join(f"i32 {i}" for i in range(lanes)) + ">"
    active = fn.op(f"icmp ult {vi} {steps}, {fn.broadcast('i32', n32, lanes)}")
    was = fn.op(f"call {vi} @llvm.masked.load.v{lanes}i32.p0(ptr %cls, i32 4, {vb} {active}, {vi} zeroinitializer)")
    lows, ups = [], []
    for o, (lo, hi) in enumerate(_bounds(w, p, fn)):
        q = fn.op(f"getelementptr inbounds {acc}, ptr %acc, {idx} {o * w.fs}")
        a = _widen(fn, acc, ct, fn.op(f"load <{lanes} x {acc}>, ptr {q}, align 4"), lanes)
        lows.append(fn.op(f"{add} {vt} {a}, {fn.broadcast(ct, lo, lanes)}"))
        ups.append(fn.op(f"{add} {vt} {a}, {fn.broadcast(ct, hi, lanes)}"))
    res = _decision(fn, ct, lows, ups, lanes)
    todo = fn.op(f"icmp slt {vi} {was}, zeroinitializer")
    now = fn.op(f"select {vb} {todo}, {vi} {res}, {vi} {was}")
    fn.do(f"call void @llvm.masked.store.v{lanes}i32.p0({vi} {now}, ptr %cls, i32 4, {vb} {active})")
    still = fn.op(f"and {vb} {active}, {fn.op(f'icmp slt {vi} {now}, zeroinitializer')}")
    bits = fn.op(f"bitcast {vb} {still} to i{lanes}")
    count = fn.op(f"call i{lanes} @llvm.ctpop.i{lanes}(i{lanes} {bits})")
    # the count as i32: lane groups of 16 (vector trees) or 64 (table walk) lanes
    as_i32 = (f"zext i{lanes} {count} to i32" if lanes < 32 else f"trunc i{lanes} {count} to i32" if lanes > 32
              else f"add i32 {count}, 0")
    return [
        f"define internal i32 @{w.name}_check(ptr noalias %acc, {idx} %n, ptr noalias %cls, i32 %j) nounwind {{",
        "entry:",
        *fn.lines,
        f"  %left = {as_i32}",
        "  ret i32 %left",
        "}",
        "",
        f"declare {vi} @llvm.masked.load.v{lanes}i32.p0(ptr, i32, {vb}, {vi})",
        f"declare void @llvm.masked.store.v{lanes}i32.p0({vi}, ptr, i32, {vb})",
        f"declare i{lanes} @llvm.ctpop.i{lanes}(i{lanes})",
        "",
    ]
