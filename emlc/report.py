"""The `--report` / `--report-json` content: what each pass did and what the target pays.

One dict serves both outputs, so the table a person reads and the JSON a tool reads
can never disagree.
"""

from __future__ import annotations

from typing import Any

from .passes import OptimizeResult
from .targets import Target


def build_report(result: OptimizeResult, target: Target, layout: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    from .backends.c import size_report

    report: dict[str, Any] = {
        "level": result.level,
        "target": target.name,
        "layout": layout,
        "passes": [
            {
                "name": r.name,
                "nodes": list(r.nodes),
                "leaves": list(r.leaves),
                "leaf_rows": list(r.leaf_rows),
                "bytes": list(r.bytes),
            }
            for r in result.passes
        ],
        "size": size_report(result.ensemble, target, layout),
    }
    if target.flash_bytes is not None:
        report["size"]["flash_limit_bytes"] = target.flash_bytes
    if target.ram_bytes is not None:
        report["size"]["ram_limit_bytes"] = target.ram_bytes
    report.update(extra or {})
    return report


def _table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()
        for r in rows
    )


def format_report(report: dict[str, Any]) -> str:
    """A plain-text rendering of :func:`build_report`'s dict."""
    out = [f"emlc {report['level']} for {report['target']} ({report['layout']} layout)"]
    if report["passes"]:
        rows = [("pass", "nodes", "leaves", "leaf rows", "bytes")]
        for p in report["passes"]:
            rows.append((p["name"], *(f"{a} -> {b}" for a, b in (p["nodes"], p["leaves"], p["leaf_rows"], p["bytes"]))))
        out += ["", _table(rows)]
    size = report["size"]
    limit = size.get("flash_limit_bytes")
    ram_limit = size.get("ram_limit_bytes")
    rows = [
        ("trees", str(size["trees"])),
        ("decision nodes", str(size["decision_nodes"])),
        ("leaves (rows in leaf table)", f"{size['leaves']} ({size['leaf_rows']})"),
        ("model data in flash", f"{size['flash_data_bytes']} B"),
        ("flash estimate (data + code)", f"{size['flash_bytes_estimate']} B" + (f" of {limit} B" if limit else "")),
        ("RAM for model data", f"{size['ram_bytes_model_data']} B"),
        ("RAM estimate (stack)", f"{size['ram_bytes_stack_estimate']} B" + (f" of {ram_limit} B" if ram_limit else "")),
        ("bytes per decision node", str(size["bytes_per_decision_node"])),
    ]
    out += ["", _table([("size", "")] + rows)]
    for key in ("lossy", "budget"):
        if key in report and isinstance(report[key], str):
            out += ["", report[key]]
    return "\n".join(out)
