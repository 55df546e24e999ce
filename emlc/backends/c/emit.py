"""The C backend: one self-contained C99 header per model.

``emit_c(ens, target, name, layout)`` returns a header that includes only
``<stdint.h>`` (plus the target's flash header), declares everything ``static`` so
several models can live in one program, and exposes::

    int32_t NAME_predict(const float *features, int32_t n_features);   classifiers, anomaly
    float   NAME_predict(const float *features, int32_t n_features);   regressors, rankers
    int32_t NAME_predict_proba(features, n_features, float *out, int32_t n_out);  classifiers
    int32_t NAME_predict_values(features, n_features, float *out, int32_t n_out); the others

Layouts: ``inline`` (nested if/else, fastest) and ``table`` (node tables + one loop,
smallest for big models). See :mod:`emlc.backends.c.model` for the code's shape.
"""

from __future__ import annotations

from dataclasses import replace
from typing import NamedTuple

import numpy as np

from ...cost import FlashBudget, Point, code_bytes
from ...errors import EmlcError
from ...float_traps import traps_off
from ...ir.ensemble import Ensemble, LinkMath, Op, Task
from ...targets import Target, get_target
from . import (
    api,
    exit_checks,
    exit_walk,
    features,
    link,
    soft64,
    sums,
    tree_runs,
    walk_inline,
    walk_table,
)
from .common import C_INT, check_name, comment, size_of
from .exit_checks import ExitMode
from .model import Model
from .plan import DirectTest, Layout, Plan, TableForcing
from .points import Choice, choose, code_terms, point_of
from .walk_table import Records

LAYOUTS = {Layout.INLINE: walk_inline.walk_body, Layout.TABLE: walk_table.walk_body}


class Build(NamedTuple):
    """One emitted header's parts: the model it was written from, the code pieces (joined
    once: big models' walks run to megabytes), the table layout's node records and the
    speed/size choice that picked its plan."""

    model: Model
    code: list[str]
    records: Records | None
    choice: Choice


def _build(ens: Ensemble, target: Target | str, name: str, layout: Layout | str | None,
           speed: bool = True, float32_sums: bool = False, budget: FlashBudget = FlashBudget(),
           point: Point | None = None, forcing: TableForcing = TableForcing()) -> Build:
    tgt = get_target(target)
    prefix = check_name(name)
    built: dict[Point, tuple[Model, list[str], Records | None]] = {}

    def measure(plan: Plan) -> int:
        made = built[point_of(plan)] = _emit(ens, tgt, prefix, replace(plan, forcing=forcing))
        return estimate(ens, tgt, plan, made[0].tables.bytes)["flash"]

    choice = choose(ens, tgt, layout, speed, float32_sums, budget, measure, point)
    plan = replace(choice.chosen.plan, forcing=forcing)
    model, code, records = built.get(choice.chosen.point) or _emit(ens, tgt, prefix, plan)
    return Build(model, code, records, choice)


def _emit(ens: Ensemble, tgt: Target, prefix: str, plan: Plan) -> tuple[Model, list[str], Records | None]:
    model = Model(ens, tgt, prefix, plan)
    helpers = features.helpers(model)
    walk = LAYOUTS[plan.layout](model)
    body, records = walk.body, walk.records
    trees = tree_runs.trees_function(model, walk)  # before P_fast and P_classify, which call it
    raw = sums.raw_function(model, body)
    parts = [*helpers, *walk.decls, features.prepare_function(model), features.halves_function(model), trees, raw]
    if model.soft64:
        parts.append(soft64.soft_functions(model))
    exits = model.exit_plan()
    if exits is not None and exits.mode is ExitMode.BAND:
        parts.append(exit_checks.exit64_function(model, exits))
    if model.quick is not None:
        parts.append(sums.quick_function(model, walk_inline.sums_body(model, model.quick)))
    if ens.n_outputs > 1 and (model.classifier or ens.task is Task.ANOMALY):
        parts.append(link.argmax_function(model))
    if model.needs_exp():
        parts.append(link.exp_function(model))
    if model.exit_plan() is not None:
        parts.append(exit_walk.exit_functions(model, body))
    parts.append(link.link_function(model))
    parts.append(api.api_functions(model))
    code: list[str] = []
    for part in [*model.tables.decls, *parts]:
        if part:
            if code:
                code.append("\n\n")
            if isinstance(part, list):
                code.extend(part)
            else:
                code.append(part)
    return model, code, records


def input_line(input_type: str) -> str:
    """What the build's ``features`` are and for which values it is exact (header and --report)."""
    if input_type == "float64":
        return "Inputs: double features, compared in float64 exactly as the library compares them."
    if input_type == "float32":
        return "Inputs: float features; exact for every float32 value (a library comparing float64 may differ on values float cannot hold)."
    return f"Inputs: {C_INT[input_type]} features (declared {input_type}): exact for integer values; scale or round fractional values first."


def _header_comment(model: Model) -> str:
    ens, p = model.ens, model.p
    lines = [
        f"Generated by emlc: {ens.task.value} ensemble of {ens.n_trees} trees ({ens.n_nodes - ens.n_leaves} decision nodes, "
        f"{ens.n_leaves} leaves),",
        f"{ens.n_features} features, {ens.n_outputs} output(s); target {model.target.name}, layout {model.plan.layout.value}; "
        f"functions prefixed {p}_.",
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
    if model.acc_t == "double":
        lines.append(f"int32_t {p}_{fn}_f64(..., double *out, int32_t n_out): the same in double, as the library returns them.")
    lines.append(input_line(ens.input_type))
    if model.plan.guarded:
        lines.append("Rows where a feature the trees read is NaN, infinite or at least 2^127 in magnitude take a")
        lines.append("slower exact path (the table walk): the inline tests assume none is NaN.")
    lines += _link_note(model)
    if model.plan.direct_test is DirectTest.FLOAT:
        lines.append("Float tests run in the FPU: exact while it keeps subnormals (FPSCR.FZ clear, as at reset).")
    if model.soft64 and model.acc_t == "double":
        lines.append("double is software here: predict decides float64 near-ties with binary64 integer arithmetic")
        lines.append("(exact, without libgcc's double); predict_proba/predict_values sum in double.")
    elif model.soft64:
        lines.append("No 64-bit double here: predict decides float64 near-ties with binary64 integer arithmetic")
        lines.append("(exact); predict_proba/predict_values are the float sums.")
        if model.target.compiler == "sdcc":
            lines.append("Its binary64 working values are static in __xdata (the 8051's stack is too small):")
            lines.append("predict is not reentrant (not from an interrupt and the main loop at once).")
    elif ens.accum_dtype == "float64" and model.acc_t == "float":
        lines.append("Note: sums are float here (no 64-bit double); near-ties may differ from float64"
                     + (" (--float32-sums)." if model.float32_sums else "."))
    exit_plan = model.exit_plan()
    if exit_plan is not None:
        lines.append(f"predict stops early at {exit_plan.checkpoints.size} check point(s) "
                     f"(confidence {ens.early_exit.confidence:g}, {exit_plan.mode.value} check).")
        if exit_plan.mode is ExitMode.APPROX:
            lines.append("Note: the early-exit check runs on float sums; float64 near-ties at check points may differ.")
    if ens.classes is not None and model.classifier:
        labels = ", ".join(comment(c) for c in list(ens.classes)[:32])
        lines.append(f"Class labels by index: {labels}{' ...' if ens.n_classes > 32 else ''}")
    if ens.feature_names:
        names = ", ".join(comment(n) for n in ens.feature_names[:64])
        lines.append(f"Features: {names}{' ...' if len(ens.feature_names) > 64 else ''}")
    return "/*\n" + "\n".join((" * " + ln).rstrip() for ln in lines) + "\n */"


class Header(NamedTuple):
    """An emitted header and the speed/size choice that shaped it."""

    code: str
    choice: Choice


@traps_off
def header(ens: Ensemble, target: Target | str = "host", name: str = "model", layout: Layout | str | None = None,
           speed: bool = True, float32_sums: bool = False, budget: FlashBudget = FlashBudget(),
           point: Point | None = None, forcing: TableForcing = TableForcing()) -> Header:
    """:func:`emit_c`'s header with the build points it chose from."""
    model, code, _, choice = _build(ens, target, name, layout, speed, float32_sums, budget, point, forcing)
    check_fit(model)
    guard = f"EMLC_{name.upper()}_H"
    includes = ["#include <stdint.h>"]
    if model.target.flash.include:
        includes.append(f"#include <{model.target.flash.include}>")
    if link.libm_exp(model):
        includes.append("#include <math.h>")
    text = "".join([
        f"{_header_comment(model)}\n#ifndef {guard}\n#define {guard}\n\n",
        "\n".join(includes), "\n\n", *code, f"\n\n#endif /* {guard} */\n",
    ])
    return Header(text, choice)


def emit_c(ens: Ensemble, target: Target | str = "host", name: str = "model", layout: Layout | str | None = None,
           speed: bool = True, float32_sums: bool = False, budget: FlashBudget = FlashBudget(),
           point: Point | None = None, forcing: TableForcing = TableForcing()) -> str:
    """One self-contained C99 header for ``ens`` on ``target`` (refuses models that cannot fit).
    ``speed`` (the -O levels but -Os) takes the fastest build within ``budget``, -Os the
    smallest, or ``point`` when given (:mod:`.points`); ``float32_sums`` (lossy) leaves
    float64 near-ties to float sums on targets without a 64-bit double; ``forcing`` holds
    the table layout's encoding choices fixed (the tests check each)."""
    return header(ens, target, name, layout, speed, float32_sums, budget, point, forcing).code


def _link_note(model: Model) -> list[str]:
    """What the link's exp promises: the library's bits only where it is the library's exp."""
    if not model.needs_exp():
        return []
    if not link.libm_exp(model):
        return ["Note: the link uses emlc's own exp (no libm), a few ulp from the library's;",
                "    probabilities and values are close to the library's, not bit-identical."]
    if model.ens.link_math is LinkMath.NUMPY:
        return ["Note: the link calls the C library's exp (link with -lm); the library uses numpy's",
                "    exp, which can differ from it in the last bit."]
    narrowed = " (through the _f64 function; the float one rounds them)" if model.acc_t == "double" else ""
    whose = {LinkMath.LIBM: "LightGBM's and SciPy's", LinkMath.XGBOOST: "XGBoost's"}[model.ens.link_math]
    return [f"Note: the link follows {whose} steps with the C library's exp (link with -lm):",
            f"    on the machine the library runs on, its outputs are bit-identical{narrowed}."]


def estimate(ens: Ensemble, tgt: Target, plan: Plan, data: int) -> dict[str, int]:
    """Flash (``data`` bytes of tables plus the cost model's code) and stack of a build of ``plan``."""
    code = code_bytes(ens, tgt, plan.layout, code_terms(ens, tgt, plan), plan.pack_tables)
    nums = plan.numbers
    key_size = 8 if nums.key_t == "int64_t" else 4
    acc_size = 8 if nums.acc_t == "double" else 4
    stack = (ens.n_features * key_size if plan.keyed else 0) + 3 * ens.n_outputs * acc_size + 32
    stack += 2 * ens.n_features if plan.keyed_rows else 0
    if plan.record_rows:
        stack += ens.n_trees * size_of(nums.row_t) + (2 * ens.n_outputs if plan.fixed else 0)
    stack += soft64.estimated_stack_bytes(plan, tgt, ens.n_outputs)
    return {"flash": data + code, "ram": stack, "code": code, "data": data}


def check_fit(model: Model) -> None:
    tgt, layout = model.target, model.plan.layout
    est = estimate(model.ens, tgt, model.plan, model.tables.bytes)
    if tgt.flash_bytes is not None and est["flash"] > tgt.flash_bytes:
        hint = "--layout table, " if layout is Layout.INLINE else ""
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
            + ("try --layout table (it keeps no per-feature values), " if layout is Layout.INLINE and not model.direct else "")
            + ("try lossy --float32-sums (the exact float64 near-tie step needs stack), " if model.soft64 else "")
            + "reduce the number of features or outputs, or pick a larger target"
        )


@traps_off
def size_report(ens: Ensemble, target: Target | str = "host", layout: Layout | str | None = None, speed: bool = True,
                float32_sums: bool = False, budget: FlashBudget = FlashBudget(), point: Point | None = None,
                forcing: TableForcing = TableForcing()) -> dict:
    """Sizes the CLI prints for --report: nodes, leaves, estimated bytes on the target and
    the build points considered (``point``, ``forcing``: of that build, as :func:`emit_c`)."""
    model, _, records, choice = _build(ens, target, "model", layout, speed, float32_sums, budget, point, forcing)
    est = estimate(ens, model.target, model.plan, model.tables.bytes)
    inner = ens.n_nodes - ens.n_leaves
    table = {}
    if records is not None:
        table = {
            "table_records": records.n_records,
            "table_record_bytes": records.record_bytes,
            "node_table_bytes": records.bytes,
            "node_bytes_per_decision_node": round(records.bytes / max(inner, 1), 2),
        }
    return {
        "target": model.target.name,
        "layout": model.plan.layout.value,
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
        "soft_float64_code_bytes_estimate": soft64.estimated_code_bytes(model.plan, model.target),
        "leaf_dtype": str(np.asarray(ens.leaves).dtype),
        **table,
        "flash_budget_bytes": choice.budget,
        "points": choice.rows(),
    }


def flash_estimate(ens: Ensemble, target: Target | str, layout: Layout | str, level: str = "O2") -> int:
    """Flash bytes of ``ens``'s header on ``target`` at -O ``level`` (the tables it writes
    plus the cost model's code): what lossy passes report, through
    :data:`passes.lossy.apply.Sizer`."""
    return int(size_report(ens, target, layout, speed=level != "Os")["flash_bytes_estimate"])
