"""The public API: NAME_predict and NAME_predict_proba / NAME_predict_values, which check
their counts and call the fastest exact path the plan has."""

from __future__ import annotations

from ...ir.ensemble import Task
from . import link, sums, tree_runs
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
                fast = f"c = {p}_rows(features, rows{', q' if m.plan.soft_after_fixed else ''});"
            elif tree_runs.applies(m):
                fast = f"c = {p}_fast(features, rows);"
            elif m.plan.soft_after_fixed:
                fast = f"{p}_rows(features, rows);\n    c = {p}_fast(rows, q);"
            else:
                fast = f"{p}_rows(features, rows);\n    c = {p}_fast(rows);"
            exact = m.fixed.exact  # the integer sums decide every row: no float sums in predict
            sums_decl = f"    {m.fixed.acc_t} q[{m.n_out}];\n" if m.plan.soft_after_fixed else ""
            out.append(
                f"static inline int32_t {p}_predict({sig})\n{{\n"
                f"    {m.row_t} rows[{m.ens.n_trees}];\n{sums_decl}{'' if exact else sums.raw_decl(m)}    int32_t c;\n"
                f"    if (n_features != {nf}) {{\n        return {miss};\n    }}\n"
                f"    {fast}\n"
                + ("" if exact else f"    if (c < 0) {{\n        {sums.exact_class(m)}\n    }}\n")
                + "    return c;\n}"
            )
    out.append(outputs_function(m, "float"))
    if m.acc_t == "double":  # the library's float64 outputs, bit for bit where its exp is libm's
        out.append(outputs_function(m, "double"))
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


def outputs_name(m: Model, out_t: str) -> str:
    """NAME_predict_proba (classifiers) or NAME_predict_values, with ``_f64`` for double out."""
    return f"{m.p}_{'predict_proba' if m.classifier else 'predict_values'}" + ("_f64" if out_t == "double" else "")


def outputs_function(m: Model, out_t: str) -> str:
    """The function writing the linked outputs to ``out_t *out`` (binary classifiers: 1 - p
    and p, computed in the raw margins' type), returning their count or an error code."""
    p, nf = m.p, m.ens.n_features
    count = m.n_proba if m.classifier else m.n_out
    if m.classifier and m.n_proba == 2 and m.n_out == 1:
        fill = f"    out[0] = ({out_t})(1 - raw[0]);\n    out[1] = ({out_t})raw[0];"
    else:
        fill = f"    for (k = 0; k < {m.n_out}u; ++k) {{\n        out[k] = ({out_t})raw[k];\n    }}"
    decl_k = "    uint16_t k;\n" if "k <" in fill else ""
    return (
        f"static inline int32_t {outputs_name(m, out_t)}(const {m.in_t} *features, int32_t n_features, "
        f"{out_t} *out, int32_t n_out)\n{{\n"
        f"    {m.acc_t} raw[{m.n_out}];\n{decl_k}"
        f"    if (n_features != {nf}) {{\n        return -1;\n    }}\n"
        f"    if (n_out != {count}) {{\n        return -2;\n    }}\n"
        f"    {p}_raw(features, raw);\n    {p}_link(raw);\n{fill}\n    return {count};\n}}"
    )

