"""The C backend: one self-contained C99 header per model.

``emit_c(ens, target, name, layout)`` returns a header that includes only
``<stdint.h>`` (plus the target's flash header), declares everything ``static`` so
several models can live in one program, and exposes::

    int32_t NAME_predict(const float *features, int32_t n_features);   classifiers, anomaly
    float   NAME_predict(const float *features, int32_t n_features);   regressors, rankers
    int32_t NAME_predict_proba(features, n_features, float *out, int32_t n_out);  classifiers
    int32_t NAME_predict_values(features, n_features, float *out, int32_t n_out); the others

Layouts: ``inline`` (nested if/else, fastest) and ``table`` (node tables + one loop,
smallest for big models). See :mod:`emlc.backends.c_model` for the code's shape.
"""

from __future__ import annotations

import numpy as np

from ..errors import EmlcError
from ..ir.ensemble import Ensemble, Op, Task
from ..targets import Target, get_target
from . import c_fixed, c_inline, c_soft64, c_table
from .c_common import check_name, comment, size_of
from .c_model import Model
from ..float_traps import traps_off

LAYOUTS = {"inline": c_inline.walk_body, "table": c_table.walk_body}


def _pick_layout(ens: Ensemble, target: Target, layout: str | None) -> str:
    if layout is None:
        inline_bytes = ens.n_nodes * target.inline_node_bytes // 2
        limit = target.flash_bytes
        return "inline" if limit is None or inline_bytes <= limit // 2 else "table"
    if layout not in LAYOUTS:
        raise EmlcError(f"unknown C layout {layout!r}; use one of: {', '.join(LAYOUTS)}")
    return layout


def _build(ens: Ensemble, target: Target | str, name: str, layout: str | None,
           speed: bool = True, float32_sums: bool = False) -> tuple[Model, str, list[str]]:
    tgt = get_target(target)
    prefix = check_name(name)
    chosen = _pick_layout(ens, tgt, layout)
    model = Model(ens, tgt, prefix, float32_sums)
    model.direct = chosen == "inline" and c_inline.can_test_directly(model)
    model.lazy = chosen == "table"
    if model.lazy and model.fixed is not None:
        model.fixed = c_fixed.plan(ens, tgt, byte_leaves=True)
    model.leaf_sums = model.direct and tgt.leaf_sums_inline and model.fixed is not None
    model.emit_helpers()
    decls, body = LAYOUTS[chosen](model)
    raw = model.raw_function(body)
    if speed and model.leaf_sums and model.exit_plan() is None:  # the plan needs raw_function first
        _add_quick_pass(model, chosen)
    parts = [*model.helpers, *decls, model.prepare_function(), raw]
    if model.soft64:
        parts.append(c_soft64.soft_functions(model))
    if model.quick is not None:
        parts.append(model.quick_function(c_inline.sums_body(model, model.quick)))
    if ens.n_outputs > 1 and (model.classifier or ens.task is Task.ANOMALY):
        parts.append(model.argmax_function())
    if model.needs_exp():
        parts.append(model.exp_function())
    if model.exit_plan() is not None:
        parts.append(model.exit_functions(body))
    parts.append(model.link_function())
    parts.append(model.api_functions())
    code: list[str] = []  # pieces emit_c joins once: big models' walks run to megabytes
    for part in [*model.tables.decls, *parts]:
        if part:
            if code:
                code.append("\n\n")
            if isinstance(part, list):
                code.extend(part)
            else:
                code.append(part)
    return model, chosen, code


def _add_quick_pass(model: Model, layout: str) -> None:
    """Give ``model`` a first walk on byte sums (c_fixed.quick_plan) when the target has
    one and the model with it takes at most half the flash (the share up to which the
    speed levels choose the inline layout), leaving room for the program around it."""
    model.quick = c_fixed.quick_plan(model.ens, model.target)
    limit = model.target.flash_bytes
    if model.quick is not None and limit is not None and _estimate(model, layout)["flash"] > limit // 2:
        model.quick = None


def _input_line(input_type: str, c_type: str) -> str:
    """What the build's ``features`` are and for which values it is exact."""
    if input_type == "float64":
        return "Inputs: double features, compared in float64 exactly as the library compares them."
    if input_type == "float32":
        return "Inputs: float features; exact for every float32 value (a library comparing float64 may differ on values float cannot hold)."
    return f"Inputs: {c_type} features (declared {input_type}): exact for integer values; scale or round fractional values first."


def _header_comment(model: Model, layout: str) -> str:
    ens, p = model.ens, model.p
    lines = [
        f"emlc-generated model {p}: {ens.task.value}, {ens.n_trees} trees, {ens.n_nodes} nodes,",
        f"{ens.n_features} features, {ens.n_outputs} output(s); target {model.target.name}, layout {layout}.",
        f"Source model name: {comment(ens.name)}",
        "",
    ]
    feat = f"const {model.in_t} *features"
    if model.classifier or ens.task is Task.ANOMALY:
        kind = "class index" if model.classifier else "1 (inlier) or -1 (outlier)"
        err = "-1" if model.classifier else "0"
        lines.append(f"int32_t {p}_predict({feat}, int32_t n_features): {kind}; {err} if n_features != {ens.n_features}.")
    else:
        lines.append(f"float {p}_predict({feat}, int32_t n_features): the prediction; NaN if n_features != {ens.n_features}.")
    fn = "predict_proba" if model.classifier else "predict_values"
    what = "class probabilities" if model.classifier else "output values (anomaly: scores)"
    lines += [
        f"int32_t {p}_{fn}({feat}, int32_t n_features, float *out, int32_t n_out):",
        f"    writes {model.n_proba if model.classifier else model.n_out} {what} to out and returns that count;",
        f"    error codes: -1 wrong n_features (need {ens.n_features}), -2 wrong n_out.",
    ]
    lines.append(_input_line(ens.input_type, model.in_t))
    if model.soft64:
        lines.append("No 64-bit double here: predict decides float64 near-ties with binary64 integer arithmetic")
        lines.append("(exact); predict_proba/predict_values are the float sums.")
    elif ens.accum_dtype == "float64" and model.acc_t == "float":
        lines.append("Note: sums are float here (no 64-bit double); near-ties may differ from float64"
                     + (" (--float32-sums)." if model.float32_sums else "."))
    exit_plan = model.exit_plan()
    if exit_plan is not None:
        lines.append(f"predict stops early at {exit_plan.checkpoints.size} check point(s) "
                     f"(confidence {ens.early_exit.confidence:g}, {exit_plan.mode} check).")
        if exit_plan.mode == "approx":
            lines.append("Note: the early-exit check runs on float sums; float64 near-ties at check points may differ.")
    if ens.classes is not None and model.classifier:
        labels = ", ".join(comment(c) for c in list(ens.classes)[:32])
        lines.append(f"Class labels by index: {labels}{' ...' if ens.n_classes > 32 else ''}")
    if ens.feature_names:
        names = ", ".join(comment(n) for n in ens.feature_names[:64])
        lines.append(f"Features: {names}{' ...' if len(ens.feature_names) > 64 else ''}")
    return "/*\n" + "\n".join((" * " + ln).rstrip() for ln in lines) + "\n */"


@traps_off
def emit_c(ens: Ensemble, target: Target | str = "host", name: str = "model", layout: str | None = None,
           speed: bool = True, float32_sums: bool = False) -> str:
    """One self-contained C99 header for ``ens`` on ``target`` (refuses models that cannot fit).
    ``speed`` (the -O levels but -Os) allows code that is faster but bigger; ``float32_sums``
    (lossy) leaves float64 near-ties to float sums on targets without a 64-bit double."""
    model, chosen, code = _build(ens, target, name, layout, speed, float32_sums)
    check_fit(model, chosen)
    guard = f"EMLC_{name.upper()}_H"
    includes = ["#include <stdint.h>"]
    if model.target.flash.include:
        includes.append(f"#include <{model.target.flash.include}>")
    return "".join([
        f"{_header_comment(model, chosen)}\n#ifndef {guard}\n#define {guard}\n\n",
        "\n".join(includes), "\n\n", *code, f"\n\n#endif /* {guard} */\n",
    ])


def _estimate(model: Model, layout: str) -> dict[str, int]:
    ens, tgt = model.ens, model.target
    inner = ens.n_nodes - ens.n_leaves
    data = model.tables.bytes
    node = tgt.inline_bytes_per_node(ens.input_type)
    # fixed code (API, decide, float fallback; the table layout's loop); 8-bit cores without
    # an FPU link soft-float add, divide and compare and read tables byte by byte: with
    # predict_proba, 2.4-3.3 KB of a digits forest or boosting model on AVR
    soft = tgt.word_bits == 8 and not tgt.has_fpu
    code = 600 + (1400 if soft else 0)
    code += (inner * node + ens.n_leaves * 6) if layout == "inline" else (1300 if soft else 200)
    if model.needs_exp():  # the link's e^x: soft-float multiply and divide besides
        code += 500 if soft else 100
    if layout == "inline" and model.leaf_sums and model.fixed is not None:
        code += 4 * _leaf_adds(ens, model.fixed)
    code += c_soft64.estimated_code_bytes(model)
    if model.quick is not None:  # a second inline walk, adding bytes and recording no rows
        code += inner * (node - 12) + ens.n_leaves * 4 + 2 * _leaf_adds(ens, model.quick)
    key_size = 8 if model.key_t == "int64_t" else 4
    acc_size = 8 if model.acc_t == "double" else 4
    stack = (0 if model.direct or model.lazy else ens.n_features * key_size) + 3 * ens.n_outputs * acc_size + 32
    if model.record_rows:
        stack += ens.n_trees * size_of(model.row_t) + (2 * ens.n_outputs if model.fixed else 0)
    return {"flash": data + code, "ram": stack, "code": code, "data": data}


def _leaf_adds(ens: Ensemble, fx: c_fixed.FixedPlan) -> int:
    """How many ``q += v`` statements an inline walk with leaf sums of plan ``fx`` has."""
    return int(sum(np.count_nonzero(fx.leaves[t.leaf[t.op == Op.LEAF]]) for t in ens.trees))


def check_fit(model: Model, layout: str) -> None:
    tgt = model.target
    est = _estimate(model, layout)
    if tgt.flash_bytes is not None and est["flash"] > tgt.flash_bytes:
        hint = "--layout table, " if layout == "inline" else ""
        raise EmlcError(
            f"model does not fit: it needs about {est['flash']} bytes of flash ({est['data']} data + "
            f"{est['code']} code) but {tgt.name} has {tgt.flash_bytes}; try {hint}-Os, lossy "
            + ("--float32-sums (drops the exact float64 near-tie step), " if model.soft64 else "")
            + "--leaves-per-class 2 or --leaf-bits 8 (with --calibration to measure the cost), "
            "fewer or shallower trees, or a larger target"
        )
    if tgt.ram_bytes is not None and est["ram"] > tgt.ram_bytes:
        raise EmlcError(
            f"model does not fit: it needs about {est['ram']} bytes of RAM (stack for {model.ens.n_features} features "
            f"and {model.ens.n_outputs} outputs) but {tgt.name} has {tgt.ram_bytes}; "
            + ("try --layout table (it keeps no per-feature values), " if layout == "inline" and not model.direct else "")
            + "reduce the number of features or outputs, or pick a larger target"
        )


@traps_off
def size_report(ens: Ensemble, target: Target | str = "host", layout: str | None = None, speed: bool = True,
                float32_sums: bool = False) -> dict:
    """Sizes the CLI prints for --report: nodes, leaves and estimated bytes on the target."""
    model, chosen, _ = _build(ens, target, "model", layout, speed, float32_sums)
    est = _estimate(model, chosen)
    inner = ens.n_nodes - ens.n_leaves
    records = model.records
    table = {}
    if records is not None:
        table = {
            "table_records": int(records.kind.size),
            "table_record_bytes": size_of(records.kind_t) + size_of(records.thr_t) + size_of(records.right_t),
            "node_table_bytes": records.bytes,
            "node_bytes_per_decision_node": round(records.bytes / max(inner, 1), 2),
        }
    return {
        "target": model.target.name,
        "layout": chosen,
        "trees": ens.n_trees,
        "decision_nodes": inner,
        "leaves": ens.n_leaves,
        "leaf_rows": int(ens.leaves.shape[0]),
        "flash_data_bytes": est["data"],
        "flash_code_bytes_estimate": est["code"],
        "flash_bytes_estimate": est["flash"],
        "ram_bytes_model_data": 0,
        "ram_bytes_stack_estimate": est["ram"],
        "bytes_per_decision_node": round((est["flash"]) / max(inner, 1), 2),
        "categorical_nodes": int(sum(int((t.op == Op.CAT).sum()) for t in ens.trees)),
        "ranked_features": int(sum(r is not None for r in ens.feature_ranks)),
        "uses_double": model.acc_t == "double" or model.key_t == "int64_t",
        "soft_float64_code_bytes_estimate": c_soft64.estimated_code_bytes(model),
        "leaf_dtype": str(np.asarray(ens.leaves).dtype),
        **table,
    }
