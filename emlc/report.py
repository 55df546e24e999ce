"""The `--report` / `--report-json` content: what each pass did and what the target pays.

One dict serves both outputs, so the table a person reads and the JSON a tool reads
can never disagree.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from .api import Compiled
from .passes.manager import PassReport, pass_table
from .text_table import aligned

#: printed under the pass table: why its bytes and the size block's differ.
IR_ESTIMATE_NOTE = (
    "IR estimate: the cost model (emlc/cost.py) with tables estimated from the IR, which compares "
    "passes and picks the layout; the size block below is the same model with the tables the C backend emits."
)


def build_report(built: Compiled, written: tuple[str, int] | None = None) -> dict[str, Any]:
    """Per-pass sizes (exact builds), measured cost (lossy builds) and the target's bill.

    ``written`` is the output's path (``-`` for stdout) and size, which the report ends with.
    """
    from .backends.c import input_line, size_report

    target, result, layout = built.target, built.result, built.layout
    report: dict[str, Any] = {
        "level": built.level,
        "target": target.name,
        "layout": layout,
        "input_type": built.ensemble.input_type,
        "inputs": input_line(built.ensemble.input_type),
        "passes": [] if result is None else [asdict(r) for r in result.passes],
        "size": size_report(built.ensemble, target, built.requested_layout, speed=built.level != "Os",
                            float32_sums=built.float32_sums, budget=built.flash_budget),
    }
    if target.flash_bytes is not None:
        report["size"]["flash_limit_bytes"] = target.flash_bytes
    if target.ram_bytes is not None:
        report["size"]["ram_limit_bytes"] = target.ram_bytes
    if built.measured is not None:
        report["calibration"] = asdict(built.measured)
    if built.lossy is not None:
        report["lossy"] = built.lossy.as_dict()
        report["lossy_table"] = built.lossy.table()
    if built.budget is not None:
        report["budget"] = {
            "chosen": built.budget.chosen.label(),
            "max_drop": built.budget.max_drop,
            "objective": built.budget.objective,
            "rows": [r.as_dict() for r in built.budget.rows],
        }
        report["budget_table"] = built.budget.table()
    if built.input_note is not None:
        report["input_note"] = {**asdict(built.input_note), "text": built.input_note.text()}
    if written is not None:
        report["output"] = {"path": written[0], "bytes": written[1]}
    return report


def points_table(points: list[dict[str, Any]], budget: int | None) -> str:
    """The build points the C backend considered, the one taken starred."""
    within = f"within {budget} B" if budget is not None else "within budget"
    rows = [("build point (estimates)", "flash B", "cycles", within, "")]
    rows += [(p["point"], str(p["flash_bytes_estimate"]), str(p["cycles_estimate"]),
              "yes" if p["within_budget"] else "no", "*" if p["chosen"] else "") for p in points]
    return aligned(rows)


def format_report(report: dict[str, Any]) -> str:
    """A plain-text rendering of :func:`build_report`'s dict."""
    out = [f"emlc {report['level']} for {report['target']} ({report['layout']} layout)", report["inputs"]]
    if report["passes"]:
        out += ["", pass_table(PassReport(**p) for p in report["passes"]), IR_ESTIMATE_NOTE]
    size = report["size"]
    limit = size.get("flash_limit_bytes")
    ram_limit = size.get("ram_limit_bytes")
    rows = [
        ("trees", str(size["trees"])),
        ("decision nodes", str(size["decision_nodes"])),
        ("leaves (rows in leaf table)", f"{size['leaves']} ({size['leaf_rows']})"),
        ("model data in flash", f"{size['flash_data_bytes']} B"),
        ("flash (data + code)", f"{size['flash_bytes_estimate']} B" + (f" of {limit} B" if limit else "")),
        ("RAM for model data", f"{size['ram_bytes_model_data']} B"),
        ("RAM estimate (stack)", f"{size['ram_bytes_stack_estimate']} B" + (f" of {ram_limit} B" if ram_limit else "")),
        ("bytes per decision node (all flash)", str(size["bytes_per_decision_node"])),
    ]
    if "node_bytes_per_decision_node" in size:
        rows.append(("node table bytes per decision node", str(size["node_bytes_per_decision_node"])))
    out += ["", aligned([("size (C backend estimate)", "")] + rows)]
    if len(size.get("points", ())) > 1:
        out += ["", points_table(size["points"], size["flash_budget_bytes"])]
    if "calibration" in report:
        m = report["calibration"]
        cal = [("agreement with the source model", f"{100 * m['agreement']:.2f}%")]
        if m.get("accuracy") is not None:
            cal.append(("accuracy on the labels", f"{100 * m['accuracy']:.2f}%"))
        cal.append(("mean trees evaluated", f"{m['mean_trees']:.2f}"))
        out += ["", aligned([("calibration data", "")] + cal)]
    for key in ("lossy_table", "budget_table"):
        if key in report:
            out += ["", report[key]]
    if "output" in report:
        path, size = report["output"]["path"], report["output"]["bytes"]
        out += ["", f"wrote {size} bytes to stdout" if path == "-" else f"wrote {path} (a {size}-byte file)"]
    return "\n".join(out)
