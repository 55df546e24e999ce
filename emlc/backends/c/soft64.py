"""predict's exact class on targets whose ``double`` is 32-bit, for libraries that sum in float64.

AVR's float sums of a forest can tie where float64 sums do not, or the other way (a 4-tree
forest with leaves 0.666/0.334 ties exactly in float64 only). ``predict`` keeps its fast
paths and adds one step before the class of a row they cannot prove:

1. ``P_sure``: the float sums decide when their lead proves the float64 one. With ``R``
   the exact real sums and ``A = n_c max|x| / D + max|b|`` (``D`` the tree count under
   MEAN, else 1), the float path (each leaf rounded to float, ``N`` adds, one division,
   one base add) and the library's float64 path each stay within
   ``E = gamma(N + 5, u) A`` of ``R`` (Higham, Lemma 3.1; ``u`` = 2^-24 and 2^-53;
   ``N + 5`` roundings covers the leaf, base and division ones). So a float lead
   ``fl(best - second) > 2 (E32 + E64) (1 + 2^-20)`` makes ``best`` the unique float64
   maximum, and a float sum beyond ``c +- (E32 + E64)`` (rounded outwards) is on the
   float64 cutoff's side.
2. ``P_soft``: otherwise the recorded leaf rows are summed again in binary64 integer
   arithmetic (runtime/c/f64.c), in the interpreter's order, and decided on order keys:
   bit for bit the library's float64 sums. Leaf values come from the count table when
   every value is ``count / row total`` (a correctly rounded division rebuilds it), else
   from a table of their float64 bit patterns. Every value is finite (:func:`check_finite`)
   and every division is by a positive integer below 2^16 (a row total, the tree count).

Where size comes first (``Plan.soft_after_fixed``: -Os, fixed-point sums first) predict
skips step 1 and hands P_fast's fixed-point sums to ``P_soft``, which sums in binary64
only the outputs they leave in the running (:func:`_live`).
"""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np

from ...errors import EmlcError
from ...ir.ensemble import Aggregation, Decision, Ensemble, Task
from ...ir.interpret import apply_link, decide
from ...targets import Target
from ..fixed_point import trees_per_output
from . import leaf_records, leaf_tables
from . import numeric as num
from .common import size_of, smallest_int, top_two

if TYPE_CHECKING:
    from .model import Model
    from .plan import Numbers, Plan


def applies(ens: Ensemble, target: Target, nums: Numbers, record_rows: bool, float32_sums: bool) -> bool:
    """Does ``predict`` need the soft float64 step? Classifiers whose library sums float
    leaves in float64 (not votes) on a target without a 64-bit double or one whose double
    is software (:attr:`.Target.double_fpu`), with leaf rows
    recorded (at most 512 trees: f64.c divides by the tree count as a uint16_t), unless the
    build opted out (``float32_sums``). Refuses (:func:`check_finite`) a model whose sums
    could leave the finite range, which f64.c does not handle."""
    used = (
        ens.task is Task.CLASSIFICATION and ens.accum_dtype == "float64"
        and (nums.acc_t == "float" or not target.double_fpu)
        and target.soft_float64 and not float32_sums and record_rows
        and ens.aggregation in (Aggregation.SUM, Aggregation.MEAN) and ens.leaves.dtype.kind == "f"
        and ens.n_trees > 0 and (ens.n_outputs > 1 or cutoff(ens)[0] in ("ge", "le"))
    )
    if used:
        check_finite(ens, target)
    return used


#: every sum the binary64 step forms stays below this: the library's sums then stay finite
#: too (their rounding adds less than a factor 1 + 2^-40), and f64.c needs no infinity
FINITE_BOUND = Fraction(2) ** 1022


def check_finite(ens: Ensemble, target: Target) -> None:
    """Refuse a model whose binary64 sums could overflow, or whose leaves or base score are
    not finite: f64.c assumes finite values (it has no infinity or NaN code). Any partial
    sum is below ``n_c max|leaf| + max|base|``, plus the largest early-exit bound the band
    check adds to one (only finite bounds get a band check: exit_checks.plan)."""
    leaves, base = np.asarray(ens.leaves, dtype=np.float64), np.asarray(ens.base_score, dtype=np.float64)
    fix = (f"{target.name} has no 64-bit double and redoes the library's float64 sums in binary64; "
           "pass --float32-sums to sum in float instead (lossy)")
    if not (np.isfinite(leaves).all() and np.isfinite(base).all()):
        raise EmlcError(f"the model's leaf values or base score are not all finite: {fix}")
    bound = int(trees_per_output(ens).max()) * Fraction(float(np.abs(leaves).max())) + Fraction(float(np.abs(base).max()))
    ee = ens.early_exit
    if ee is not None:
        bounds = np.concatenate([np.ravel(ee.lower), np.ravel(ee.upper)]).astype(np.float64)
        if bounds.size and np.isfinite(bounds).all():
            bound += Fraction(float(np.abs(bounds).max()))
    if bound >= FINITE_BOUND:
        raise EmlcError(f"leaf values up to {float(np.abs(leaves).max()):.3g} could overflow the float64 sums: {fix}")


def cutoff(ens: Ensemble) -> tuple[str, float]:
    """The single-output decision as ``raw >= c`` ("ge") or ``raw <= c`` ("le") in float64."""

    def pred(r: float) -> bool:
        raw = np.array([[r]], dtype=np.float64)
        with np.errstate(all="ignore"):
            return bool(decide(ens, raw, apply_link(ens, raw))[0] == 1)

    return num.monotone_cutoff(pred, "float64")


def _gamma(k: int, u: float) -> float:
    return k * u / (1.0 - k * u)


def _error(model: Model) -> Fraction:
    """``E32 + E64``: how far each path's sums may be from the exact real sums."""
    ens = model.ens
    d = ens.n_trees if ens.aggregation is Aggregation.MEAN else 1
    xm = float(np.abs(np.asarray(ens.leaves, dtype=np.float64)).max())
    bm = float(np.abs(np.asarray(ens.base_score, dtype=np.float64)).max())
    a = Fraction(int(trees_per_output(ens).max())) * Fraction(xm) / d + Fraction(bm)
    k = ens.n_trees + 5
    return a * (Fraction(_gamma(k, 2.0**-24)) + Fraction(_gamma(k, 2.0**-53))) * (1 + Fraction(1, 2**20))


def _f32_beyond(x: Fraction, up: bool) -> float:
    """The float32 nearest ``x`` strictly on the ``up`` (or down) side of it."""
    v = np.float32(float(x))
    step = np.float32(np.inf if up else -np.inf)
    while (Fraction(float(v)) <= x) if up else (Fraction(float(v)) >= x):
        v = np.nextafter(v, step)
    return float(v)


def sure_function(model: Model) -> str:
    """P_sure(raw): the class when the float sums prove the float64 one, else -1."""
    p, n, r = model.p, model.n_out, model.real
    e = _error(model)
    if n > 1:
        lead = r(_f32_beyond(2 * e, up=True))
        body = ("    uint16_t k, c;\n    float best, second;\n" + top_two("raw", n, "c")
                + f"    return (best - second > {lead}) ? (int32_t)c : -1;")
    else:
        kind, c = cutoff(model.ens)
        hi, lo = r(_f32_beyond(Fraction(c) + e, up=True)), r(_f32_beyond(Fraction(c) - e, up=False))
        hit, miss = _outcomes(model)
        above, below = (hit, miss) if kind == "ge" else (miss, hit)
        body = (f"    if (raw[0] > {hi}) {{\n        return {above};\n    }}\n"
                f"    if (raw[0] < {lo}) {{\n        return {below};\n    }}\n    return -1;")
    return ("/* The class when the float sums' lead proves the float64 sums', else -1. */\n"
            f"static inline int32_t {p}_sure(const float *raw)\n{{\n{body}\n}}")


def _outcomes(model: Model) -> tuple[str, str]:
    return ("1", "-1") if model.ens.decision is Decision.SIGN else ("1", "0")


def _bits(x: float) -> int:
    return int(np.array(x, dtype=np.float64).view(np.uint64))


def f64_words(values) -> np.ndarray:
    """float64 ``values`` as (high, low) uint32 word pairs: how flash tables hold binary64
    values for ``P_f64_t`` (the last axis holds the pair)."""
    bits = np.asarray(values, dtype=np.float64).view(np.uint64)
    return np.stack([bits >> np.uint64(32), bits & np.uint64(0xFFFFFFFF)], axis=-1).astype(np.uint32)


def f64_load(tables, dst: str, table: str, index: str) -> str:
    """C statements loading entry ``index`` of an :func:`f64_words` table into ``dst``."""
    return (f"{dst}.hi = {tables.read('uint32_t', table, f'2u * {index}')};\n"
            f"        {dst}.lo = {tables.read('uint32_t', table, f'2u * {index} + 1u')};")


def soft_functions(model: Model) -> str:
    """f64.c, P_add64 (a leaf row added in binary64), P_soft and P_exact."""
    from .model import runtime_source

    ens, p, tables, n = model.ens, model.p, model.tables, model.n_out
    f64 = f"{p}_f64_t"
    work = f"{p.upper()}_F64_WORK {f64}"  # external RAM on the 8051 (f64.c)
    width = ens.leaf_width
    leaves = np.asarray(ens.leaves, dtype=np.float64)
    counts = leaf_tables.rational_leaves(model, "double")
    sparse = width > 1 and leaf_tables.sparse_exact(model, "double")
    enter = ""
    if model.plan.records is not None:
        ent = leaf_records.row_entries(model, "row")
        head, loop, enter, column, read = ent.head, ent.loop, ent.enter, f"o + {ent.column}", ent.value
    elif sparse:
        st_t, start, col_t, col = leaf_tables.sparse_pattern(model)
        nz = leaves != 0
        head = (f"    {st_t} e, first = {tables.read(st_t, start, 'row')}, end = {tables.read(st_t, start, 'row + 1u')};\n")
        loop, column = "for (e = first; e < end; ++e)", f"o + {tables.read(col_t, col, 'e')}"
    else:
        nz = np.ones_like(leaves, dtype=bool)
        head = f"    {p.upper()}_F64_WORK uint16_t j;\n    {p.upper()}_F64_WORK uint32_t e;\n"
        loop, column = f"for (j = 0, e = (uint32_t)row * {width}u; j < {width}u; ++j, ++e)", "o + j"
    head += f"    {work} v;\n"
    if counts is not None:
        if model.plan.records is None:
            ct, cnt, _ = leaf_tables.count_table(model, counts)
            read = tables.read(ct, cnt, "e")
        head += f"    uint16_t total = 0;\n    {loop} {{\n        {enter}total = (uint16_t)(total + {read});\n    }}\n"
        value = f"v.hi = 0u;\n        v.lo = {read};\n        {p}_f64_quot(&v, 0u, 1078, total); /* count / total */"
    else:
        table = tables.add("l64", "uint32_t", f64_words(leaves[nz]),
                           note="leaf values as float64 bit patterns (high, low word)")
        value = f64_load(tables, "v", table, "e")
    # without the float tier, only the outputs the fixed-point sums leave in the running
    prune = model.plan.soft_after_fixed
    if prune:
        head += "    uint16_t k;\n"
        body = (f"{enter}k = (uint16_t)({column});\n        if (live[k]) {{\n            {value.replace(chr(10), chr(10) + '    ')}\n"
                f"            {p}_f64_add(&s[k], &v);\n        }}")
    else:
        body = f"{enter}{value}\n        {p}_f64_add(&s[(uint16_t)({column})], &v);"
    add = (f"/* Add leaf row `row` in binary64 to the sums from output o on{' (the live ones)' if prune else ''}. */\n"
           f"static void {p}_add64({p.upper()}_F64_MEM {f64} *s, uint16_t o, {model.row_t} row"
           f"{', const uint8_t *live' if prune else ''})\n{{\n{head}"
           f"    {loop} {{\n        {body}\n    }}\n}}")
    base = np.asarray(ens.base_score, dtype=np.float64)
    base_t = None
    if any(_bits(float(b)) for b in base):
        base_t = tables.add("b64", "uint32_t", f64_words(base),
                            note="base score per output as float64 bits (high, low word)")
    mean = ens.aggregation is Aggregation.MEAN

    def base_into(dst: str) -> str:
        return f64_load(tables, dst, base_t, "k")

    tt = smallest_int(0, ens.n_trees, signed=False)
    off = leaf_tables.tree_offset(model, 't')
    lines = [f"    {work} s[{n}]{', d' if n == 1 else ''}{', b' if mean and base_t else ''};", "    uint16_t k;", f"    {tt} t;"]
    if prune:
        lines += _live(model)
    lines += [f"    for (k = 0; k < {n}u; ++k) {{\n        "
              + (base_into("s[k]") if base_t and not mean else "s[k].hi = s[k].lo = 0u;") + "\n    }",
              f"    for (t = 0; t < {ens.n_trees}u; ++t) {{\n        {p}_add64(s, {off}, rows[t]{', live' if prune else ''});\n    }}"]
    if mean:
        fin = f"{p}_f64_div(&s[k], {ens.n_trees}u);"
        if base_t:
            fin += f"\n        {base_into('b')}\n        {p}_f64_add(&s[k], &b);"
        lines.append(f"    for (k = 0; k < {n}u; ++k) {{\n        {fin}\n    }}")
    if n > 1:  # the first largest sum (of the live outputs: none is taken before the first)
        above = f"{p}_f64_cmp(&s[k], &s[best]) > 0"
        best, first, cond = (f"{n}u", 0, f"live[k] && (best == {n}u || {above})") if prune else ("0", 1, above)
        lines.append(f"    {{\n        uint16_t best = {best};\n        for (k = {first}; k < {n}u; ++k) {{\n"
                     f"            if ({cond}) {{\n                best = k;\n            }}\n"
                     "        }\n        return (int32_t)best;\n    }")
    else:
        kind, c = cutoff(model.ens)
        hit, miss = _outcomes(model)
        bits = _bits(c)
        lines.append(f"    d.hi = 0x{bits >> 32:08X}UL; /* the cutoff, {c!r} */\n    d.lo = 0x{bits & 0xFFFFFFFF:08X}UL;")
        lines.append(f"    return ({p}_f64_cmp(&s[0], &d) {'>=' if kind == 'ge' else '<='} 0) ? {hit} : {miss};")
    soft = ("/* The class from the recorded leaf rows summed in binary64, as the library sums them. */\n"
            f"{f'{p.upper()}_F64_FN' if prune else 'static'} int32_t {p}_soft(const {model.row_t} *rows{f', const {model.fixed.acc_t} *q' if prune else ''})\n{{\n"
            + "\n".join(lines) + "\n}")
    parts = [runtime_source("f64.c", p=p, P=p.upper()), add, soft]
    if not prune:
        parts += [sure_function(model),
                  "/* The class when the float sums of the recorded leaf rows prove it, else -1 (the sums\n"
                  " * in external RAM on the 8051: on its stack they and SDCC's float compare overflowed it). */\n"
                  f"static int32_t {p}_proven(const {model.row_t} *rows)\n{{\n    {p.upper()}_F64_WORK float raw[{n}];\n"
                  f"    {p}_sum(rows, raw);\n    return {p}_sure(raw);\n}}",
                  "/* The class from the recorded leaf rows: the float sums when they prove it, else binary64\n"
                  " * (two calls: the float sums' frame is gone before the binary64 one, for the 8051's stack). */\n"
                  f"static int32_t {p}_exact(const {model.row_t} *rows)\n{{\n    int32_t c = {p}_proven(rows);\n"
                  f"    return c >= 0 ? c : {p}_soft(rows);\n}}"]
    else:
        parts.append("/* The class from the recorded leaf rows and their fixed-point sums q, in binary64\n"
                     " * (Plan.soft_after_fixed). */\n"
                     f"static int32_t {p}_exact(const {model.row_t} *rows, const {model.fixed.acc_t} *q)\n{{\n"
                     f"    return {p}_soft(rows, q);\n}}")
    return "\n\n".join(parts)


def _live(model: Model) -> list[str]:
    """P_soft's statements marking in live[] the outputs that can still be the float64
    maximum: those whose fixed-point sum q[] (P_fast's) is within the margin of the
    largest. fixed_point's proof is pairwise: Q_c - Q_o > M makes output c's float64 sum
    exceed o's, so an output further than M below the largest sum is not the maximum (nor
    tied with it), and P_soft sums the others only (digits 10x6: 2 or 3 of 10)."""
    n, fx = model.n_out, model.fixed
    assert fx is not None and not fx.exact
    at = fx.acc_t
    return [f"    {model.p.upper()}_F64_WORK uint8_t live[{n}];\n    {at} top;",
            f"    for (k = 1, top = q[0]; k < {n}u; ++k) {{\n        if (q[k] > top) {{\n            top = q[k];\n        }}\n    }}",
            f"    for (k = 0; k < {n}u; ++k) {{\n        live[k] = ({at})(top - q[k]) <= {fx.margin};\n    }}"]


def estimated_code_bytes(plan: Plan, target: Target) -> int:
    """Flash of the soft step for the size estimate (0 when predict does not use it): the
    speed levels' table builds over leaf records link a smaller one (its rows come from
    the records, no leaf-sum walk to redo) where the target measured it."""
    if not plan.soft64:
        return 0
    over_records = target.soft_float64_record_bytes
    if over_records is not None and plan.records is not None and not plan.pack_tables:
        return over_records
    return target.soft_float64_bytes


def estimated_stack_bytes(plan: Plan, target: Target, n_out: int) -> int:
    """Stack the soft step adds to predict's: its frames down to the deepest f64.c call
    (avr-gcc -fstack-usage and s51's stack pointer: about 90 B), the sums and the live
    flags (Plan.soft_after_fixed), which on the 8051 live in external RAM instead (f64.c's
    P_F64_WORK), and P_fast's sums that predict then keeps."""
    if not plan.soft64:
        return 0
    after = plan.soft_after_fixed
    handed = n_out * size_of(plan.fixed.acc_t) if after and plan.fixed is not None else 0
    return 90 + handed + (0 if target.compiler == "sdcc" else (8 + after) * n_out)

