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


def _step_table(step: dict[str, Any]) -> Table:
    """A pretraining step per term: exposed and hidden seconds, share of the step."""
    rows = tuple((part["term"], f"{part['exposed_s']:.4g} s", f"{part['hidden_s']:.4g} s",
                  f"{part['share_of_step'] * 100:.1f}%") for part in step["breakdown"])
    return Table("Step breakdown", ("term", "exposed", "hidden behind compute", "share of step"),
                 rows, "step_breakdown", tuple(step["breakdown"]))


def estimate_report(data: dict[str, Any], figures: bool = False) -> Report:
    """Key figures, the role table for post-training, then the assumptions."""
    title = f"{data['workload']} ({data['kind']}) on {data['system']}"
    if data.get("cost_basis"):
        title += f", cost basis {data['cost_basis']}"
    items = tuple((label(k), format_value(k, v)) for k, v in data.items()
                  if k not in _HEAD and not isinstance(v, list)
                  and not (k == "step" and isinstance(v, dict) and "breakdown" in v))
    sections: list[Table | KeyValues] = [KeyValues("Estimate", items)]
    if data.get("roles"):
        keys = ("role", "model", "work", "work_unit", "throughput_per_unit", "bound",
                "units_needed")
        rows = tuple(tuple(format_value(k, r.get(k)) for k in keys) for r in data["roles"])
        headers = ("role", "model", "work", "unit", "per unit per s", "bound", "units needed")
        sections.append(Table("Roles", headers, rows, "roles", tuple(data["roles"])))
    step = data.get("step")
    if isinstance(step, dict) and step.get("breakdown"):
        sections.append(_step_table(step))
    sections.append(assumptions_table(data.get("assumptions", [])))
    plots: tuple[str, ...] = ()
    if figures:
        from planner.report.plots import estimate_figures

        plots = tuple(estimate_figures(data))
        if isinstance(step, dict) and step.get("breakdown"):
            from planner.report.step_plot import step_waterfall

            plots += (step_waterfall(step, f"One training step of {data['workload']}"),)
    return Report(title, tuple(sections), data, plots)
