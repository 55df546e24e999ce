"""The public API: NAME_predict and NAME_predict_proba / NAME_predict_values, which check
their counts and call the fastest exact path the plan has."""

from __future__ import annotations

from ...ir.ensemble import Task
from . import link, sums
from .model import Model


def api_functions(m: Model) -> str:
    """The public functions, after everything they call."""
    p, nf, t = m.p, m.ens.n_features, m.acc_t
    sig = f"const {m.in_t} *features, int32_t n_features"
    out = []
    if m.classifier or m.ens.task is Task.ANOMALY:
        miss = "0" if m.ens.task is Task.ANOMALY else "-1"
        if m.exit_plan() is not None:
            out.append(
                f"static inline int32_t {p}_predict({sig})\n{{\n"
                f"    if (n_features != {nf}) {{\n        return {miss};\n    }}\n"
                f"    return {p}_classify(features);\n}}"
            )
        elif m.fixed is None and m.soft64:
            out.append(
                f"static inline int32_t {p}_predict({sig})\n{{\n"
                f"    {m.row_t} rows[{m.ens.n_trees}];\n"
                f"    if (n_features != {nf}) {{\n        return {miss};\n    }}\n"
                f"    {p}_rows(features, rows);\n    {sums.exact_class(m)}\n}}"
            )
        elif m.fixed is None:
            out.append(
                f"static inline int32_t {p}_predict({sig})\n{{\n    {t} raw[{m.n_out}];\n"
                f"    if (n_features != {nf}) {{\n        return {miss};\n    }}\n"
                f"    {p}_raw(features, raw);\n    return {link.class_expr(m)};\n}}"
            )
        else:
            if m.quick is not None:
                fast = f"c = {p}_quick(features);\n    if (c < 0) {{\n        c = {p}_rows(features, rows);\n    }}"
            elif m.leaf_sums:
                fast = f"c = {p}_rows(features, rows);"
            else:
                fast = f"{p}_rows(features, rows);\n    c = {p}_fast(rows);"
            out.append(
                f"static inline int32_t {p}_predict({sig})\n{{\n"
                f"    {m.row_t} rows[{m.ens.n_trees}];\n{sums.raw_decl(m)}    int32_t c;\n"
                f"    if (n_features != {nf}) {{\n        return {miss};\n    }}\n"
                f"    {fast}\n"
                f"    if (c < 0) {{\n        {sums.exact_class(m)}\n    }}\n"
                "    return c;\n}"
            )
    if m.classifier:
        if m.n_proba == 2 and m.n_out == 1:
            fill = "    out[0] = (float)(1 - raw[0]);\n    out[1] = (float)raw[0];"
        else:
            fill = f"    for (k = 0; k < {m.n_out}u; ++k) {{\n        out[k] = (float)raw[k];\n    }}"
        fname, count = "predict_proba", m.n_proba
    else:
        fill = f"    for (k = 0; k < {m.n_out}u; ++k) {{\n        out[k] = (float)raw[k];\n    }}"
        fname, count = "predict_values", m.n_out
    decl_k = "    uint16_t k;\n" if "k <" in fill else ""
    out.append(
        f"static inline int32_t {p}_{fname}({sig}, float *out, int32_t n_out)\n{{\n"
        f"    {t} raw[{m.n_out}];\n{decl_k}"
        f"    if (n_features != {nf}) {{\n        return -1;\n    }}\n"
        f"    if (n_out != {count}) {{\n        return -2;\n    }}\n"
        f"    {p}_raw(features, raw);\n    {p}_link(raw);\n{fill}\n    return {count};\n}}"
    )
    if not (m.classifier or m.ens.task is Task.ANOMALY):
        out.append(
            "/* Not-a-number without <math.h>: the result for a wrong feature count. */\n"
            f"static inline float {p}_nan(void)\n{{\n    union {{ uint32_t u; float f; }} b;\n"
            "    b.u = 0x7FC00000UL;\n    return b.f;\n}"
        )
        out.append(
            f"static inline float {p}_predict({sig})\n{{\n    float out[{m.n_out}];\n"
            f"    if ({p}_predict_values(features, n_features, out, {m.n_out}) < 0) {{\n"
            f"        return {p}_nan();\n    }}\n    return out[0];\n}}"
        )
    return "\n\n".join(out)

