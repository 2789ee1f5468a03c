"""Report sections for `planner estimate` (serve, pretrain, posttrain)."""

from __future__ import annotations

from typing import Any

from planner.report.fmt import format_value, label
from planner.report.model import KeyValues, Report, Table

__all__ = ["assumptions_table", "estimate_report"]

_HEAD = ("schema_version", "workload", "kind", "system", "file", "assumptions", "roles")


def assumptions_table(assumptions: list[dict[str, Any]]) -> Table:
    """The named assumptions with their values and sources."""
    rows = tuple((a["name"], format_value(a["name"], a["value"]), a.get("source", ""))
                 for a in assumptions)
    return Table("Assumptions", ("name", "value", "source"), rows, "assumptions",
                 tuple(assumptions))


def estimate_report(data: dict[str, Any], figures: bool = False) -> Report:
    """Key figures, the role table for post-training, then the assumptions."""
    title = f"{data['workload']} ({data['kind']}) on {data['system']}"
    if data.get("cost_basis"):
        title += f", cost basis {data['cost_basis']}"
    items = tuple((label(k), format_value(k, v)) for k, v in data.items()
                  if k not in _HEAD and not isinstance(v, list))
    sections: list[Table | KeyValues] = [KeyValues("Estimate", items)]
    if data.get("roles"):
        keys = ("role", "model", "work", "work_unit", "throughput_per_unit", "bound",
                "units_needed")
        rows = tuple(tuple(format_value(k, r.get(k)) for k in keys) for r in data["roles"])
        headers = ("role", "model", "work", "unit", "per unit per s", "bound", "units needed")
        sections.append(Table("Roles", headers, rows, "roles", tuple(data["roles"])))
    sections.append(assumptions_table(data.get("assumptions", [])))
    plots: tuple[str, ...] = ()
    if figures:
        from planner.report.plots import estimate_figures

        plots = tuple(estimate_figures(data))
    return Report(title, tuple(sections), data, plots)
