"""From raw margins to answers: the class decision (a cutoff exact w.r.t. the interpreter,
or argmax), e^x (the C library's on the host, emlc's own on devices) and P_link, which
follows the library's float steps (``LinkMath``)."""

from __future__ import annotations

import math

import numpy as np

from ...ir.ensemble import Decision, Link, LinkMath
from ...ir.interpret import apply_link, decide
from . import numeric as num
from .common import comment, float_literal
from .model import Model, runtime_source


def class_expr(m: Model) -> str:
    """C expression of the class index (or +-1) from raw[]; exact w.r.t. the interpreter."""
    ens = m.ens
    if ens.n_outputs > 1:
        return f"{m.p}_argmax(raw)"

    def pred(r: float) -> bool:
        raw = np.array([[r]], dtype=m.raw_dtype)
        with np.errstate(all="ignore"):
            return bool(decide(ens, raw, apply_link(ens, raw))[0] == 1)

    kind, c = num.monotone_cutoff(pred, m.raw_dtype)
    hit, miss = ("1", "-1") if ens.decision is Decision.SIGN else ("1", "0")
    if kind in ("always", "never"):
        return hit if kind == "always" else miss
    prec = "float64" if m.acc_t == "double" else "float32"
    if kind == "ge":
        c = num.round_up(c, prec)
        cond = f"raw[0] > {m.real(num.round_down(np.finfo(prec).max, prec))}" if math.isinf(c) else f"raw[0] >= {m.real(c)}"
    else:
        c = num.round_down(c, prec)
        cond = f"raw[0] < {m.real(-np.finfo(prec).max)}" if math.isinf(c) else f"raw[0] <= {m.real(c)}"
    return f"({cond}) ? {hit} : {miss}"


def argmax_function(m: Model) -> str:
    return (
        "/* Index of the first largest raw margin (ties go to the lower class). */\n"
        f"static inline int32_t {m.p}_argmax(const {m.acc_t} *raw)\n{{\n"
        "    uint16_t k, best = 0;\n"
        f"    for (k = 1; k < {m.n_out}u; ++k) {{\n"
        "        if (raw[k] > raw[best]) {\n            best = k;\n        }\n    }\n"
        "    return (int32_t)best;\n}"
    )


def libm_exp(m: Model) -> bool:
    """Does the link call the C library's exp (``<math.h>``, link with ``-lm``)? On the
    host, where it is the exp LightGBM, XGBoost and SciPy call; microcontrollers get
    emlc's own exp instead (their libm differs anyway, and none is needed)."""
    return m.needs_exp() and m.target.libm_exp


def exp_name(m: Model) -> str:
    """The C function computing e^x in the link's type."""
    if not libm_exp(m):
        return f"{m.p}_exp"
    return "expf" if link_t(m) == "float" else "exp"


def link_t(m: Model) -> str:
    """The link's C type: XGBoost's steps are float32, the others the raw margins' type."""
    return "float" if m.ens.link_math is LinkMath.XGBOOST else m.acc_t


def exp_function(m: Model) -> str:
    """emlc's exp for targets without the C library's (empty when the link calls libm)."""
    if libm_exp(m):
        return ""
    double = link_t(m) == "double"

    def r(x: float) -> str:
        return float_literal(x, link_t(m))

    return runtime_source(
        "exp.c", p=m.p, real=link_t(m),
        max_arg=r(709.78 if double else 88.72), min_arg=r(-745.2 if double else -103.98),
        huge=r(1e300 if double else 1e30), zero=r(0.0), half=r(0.5), one=r(1.0), two=r(2.0),
        log2e=r(1.4426950408889634), ln2_hi=r(0.693145751953125), ln2_lo=r(1.4286068203094173e-06),
        terms=13 if double else 8,
    )


def link_function(m: Model) -> str:
    """P_link: raw margins to outputs in place, the steps of the interpreter's apply_link
    for ``link_math`` (bit-identical where exp is the library's: the host)."""
    ens, p, t, n, exp = m.ens, m.p, m.acc_t, m.n_out, exp_name(m)
    params = ens.link_params

    def r(x: float) -> str:
        return float_literal(x, link_t(m))

    loop = f"    uint16_t k;\n    for (k = 0; k < {n}u; ++k) {{\n"
    xgboost = ens.link_math is LinkMath.XGBOOST
    body: str
    if ens.link is Link.IDENTITY:
        body = "    (void)raw;"
    elif ens.link is Link.SIGMOID and xgboost:  # common::Sigmoid
        body = (f"    uint16_t k;\n    float x;\n    for (k = 0; k < {n}u; ++k) {{\n"
                f"        x = -raw[k];\n        x = {r(88.7)} < x ? {r(88.7)} : x;\n"
                f"        raw[k] = {r(1.0)} / ({exp}(x) + {r(1.0)} + {r(1e-16)});\n    }}")
    elif ens.link is Link.SIGMOID:
        alpha = np.array(params[0] if params else 1.0, dtype=m.raw_dtype)
        body = f"{loop}        raw[k] = {r(1.0)} / ({r(1.0)} + {exp}(-{r(float(alpha))} * raw[k]));\n    }}"
    elif ens.link is Link.EXP:
        body = f"{loop}        raw[k] = {exp}(raw[k]);\n    }}"
    elif ens.link is Link.SOFTMAX:
        s_t = "double" if xgboost else t  # XGBoost sums float32 exps in double
        body = (f"    uint16_t k;\n    {t} m = raw[0];\n    {s_t} s = {float_literal(0.0, s_t)};\n"
                f"    for (k = 1; k < {n}u; ++k) {{\n        m = raw[k] > m ? raw[k] : m;\n    }}\n"
                f"    for (k = 0; k < {n}u; ++k) {{\n        raw[k] = {exp}(raw[k] - m);\n        s += raw[k];\n    }}\n"
                f"    for (k = 0; k < {n}u; ++k) {{\n        raw[k] = raw[k] / ({t})s;\n    }}")
    else:  # ISOLATION: -2^(-raw / p0) - p1
        body = (f"{loop}        raw[k] = -{exp}(-raw[k] / {r(params[0])} * {r(math.log(2.0))}) - {r(params[1])};\n    }}")
    return (f"/* Outputs from raw margins ({comment(ens.link.value)} link, {ens.link_math.value} steps), in place. */\n"
            f"static inline void {p}_link({t} *raw)\n{{\n{body}\n}}")

