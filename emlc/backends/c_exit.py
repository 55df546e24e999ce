"""Early exit in C: ``predict`` stops at the IR's check points once the class is decided.

Three ways to run the check, chosen per model and target:

* ``ir``: the C sums are the interpreter's (float leaves summed in ``accum_dtype``, which
  the target has, or integer leaves summed exactly), so ``P_exit`` adds the IR's bounds
  in that arithmetic and stops exactly where :func:`emlc.ir.interpret.interpret_early_exit`
  does, with its class, lossy (``confidence`` < 1) or not.
* ``fixed``: float64 sums on a target whose ``double`` is 32-bit, with exact bounds
  (``confidence`` 1) and the fixed-point fast path (:mod:`emlc.backends.c_fixed`). The
  check runs on the integer sums ``Q``: tree ``t`` adds one of its rows' integer values,
  so after ``k`` trees the final ``Q_c`` lies in ``Q_c(k) + [rlo_c, rhi_c]`` exactly (sums
  of the remaining trees' minima and maxima). If ``Q_c(k) + rlo_c > Q_o(k) + rhi_o + M``
  for every ``o != c`` then the final ``Q_c - Q_o > M`` and the fast path would return
  ``c``: the early class is the full predict's, by integer arithmetic alone.
* ``approx``: float64 sums with 32-bit ``double`` and a lossy confidence exit: the IR's
  bounds rounded to float and checked on the float sums. Like every float64 sum on such
  a target, a check that is a near-tie in float64 may decide differently (the header
  notes it).

Models without ``early_exit``, or with bounds that are not finite, evaluate every tree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..ir.ensemble import Op
from .c_common import smallest_int

if TYPE_CHECKING:
    from .c_model import Model


@dataclass(frozen=True)
class ExitPlan:
    mode: str  # "ir", "fixed" or "approx"
    checkpoints: np.ndarray
    lower: np.ndarray  # [n_checks, n_outputs] in bound_t
    upper: np.ndarray
    bound_t: str  # C type of the bounds tables
    check_t: str  # C type the check adds and compares in
    sums: str  # C array the check reads: raw, acc or q
    sums_t: str


def _fixed_bounds(model: "Model", checkpoints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per check point: integer range the remaining trees can add to each fixed-point sum,
    the upper end raised by the fast path's margin."""
    ens, fx = model.ens, model.fixed
    assert fx is not None
    lo = np.zeros((ens.n_trees, ens.n_outputs), dtype=np.int64)
    hi = np.zeros((ens.n_trees, ens.n_outputs), dtype=np.int64)
    w = ens.leaf_width
    for i, t in enumerate(ens.trees):
        rows = fx.leaves[np.unique(t.leaf[t.op == Op.LEAF])]
        o = int(ens.tree_output[i])
        lo[i, o : o + w] = rows.min(axis=0)
        hi[i, o : o + w] = rows.max(axis=0)
    rlo = np.cumsum(lo[::-1], axis=0)[::-1]
    rhi = np.cumsum(hi[::-1], axis=0)[::-1]
    return rlo[checkpoints], rhi[checkpoints] + fx.margin


def plan(model: "Model") -> ExitPlan | None:
    ens, ee = model.ens, model.ens.early_exit
    if ee is None or not model.classifier or ens.n_trees == 0:
        return None
    checkpoints = np.asarray(ee.checkpoints, dtype=np.int64)
    acc_type, target, _, _ = model._sums
    integer = ens.leaves.dtype.kind in "iu"
    exact_floats = not integer and np.dtype(ens.accum_dtype) == np.dtype(model.raw_dtype) and (
        model.acc_t == ("double" if ens.accum_dtype == "float64" else "float"))
    if integer or exact_floats:
        mode, lower, upper = "ir", np.asarray(ee.lower), np.asarray(ee.upper)
    elif ee.confidence == 1 and model.fixed is not None:
        mode = "fixed"
        lower, upper = _fixed_bounds(model, checkpoints)
    else:
        mode, lower, upper = "approx", np.asarray(ee.lower), np.asarray(ee.upper)
    if lower.dtype.kind == "f" and not (np.isfinite(lower).all() and np.isfinite(upper).all()):
        return None
    if mode == "fixed":
        fx = model.fixed
        assert fx is not None
        wide = "int32_t" if fx.acc_t == "int16_t" else "int64_t"
        bt = smallest_int(int(min(lower.min(), upper.min())), int(max(lower.max(), upper.max())))
        return ExitPlan(mode, checkpoints, lower, upper, bt, wide, "q", fx.acc_t)
    if integer:
        bt = smallest_int(int(min(lower.min(), upper.min())), int(max(lower.max(), upper.max())))
        return ExitPlan(mode, checkpoints, lower.astype(np.int64), upper.astype(np.int64), bt, "int64_t", target, acc_type)
    return ExitPlan(mode, checkpoints, lower, upper, model.acc_t, model.acc_t, target, acc_type)


def check_function(model: "Model", plan: ExitPlan, lo: str, hi: str) -> str:
    """P_exit(a, j): the class decided at check point j from the sums a[], else -1."""
    p, n, ct, tables = model.p, model.n_out, plan.check_t, model.tables
    low = f"({ct})a[{{k}}] + ({ct}){tables.read(plan.bound_t, lo, f'(uint16_t)(j * {n}u + {{k}})')}"
    up = f"({ct})a[{{k}}] + ({ct}){tables.read(plan.bound_t, hi, f'(uint16_t)(j * {n}u + {{k}})')}"
    zero = "0" if ct.startswith("int") else model.real(0.0)
    if n == 1:
        body = (
            f"    if ({low.format(k='0')} > {zero}) {{\n        return 1;\n    }}\n"
            f"    if ({up.format(k='0')} < {zero}) {{\n        return 0;\n    }}\n    return -1;"
        )
    else:
        body = (
            f"    uint16_t k, c = 0;\n    {ct} best = {low.format(k='0')}, x;\n"
            f"    for (k = 1; k < {n}u; ++k) {{\n        x = {low.format(k='k')};\n"
            "        if (x > best) {\n            best = x;\n            c = k;\n        }\n    }\n"
            f"    for (k = 0; k < {n}u; ++k) {{\n        if (k != c && !(best > {up.format(k='k')})) {{\n"
            "            return -1;\n        }\n    }\n    return (int32_t)c;"
        )
    return (
        f"/* Early exit ({plan.mode}): the class decided at check point j from the sums a, else -1. */\n"
        f"static inline int32_t {p}_exit(const {plan.sums_t} *a, uint16_t j)\n{{\n{body}\n}}"
    )
