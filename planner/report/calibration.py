"""Report sections for `planner calibration`."""

from __future__ import annotations

from typing import Any

from planner.report.model import KeyValues, Report, Table

__all__ = ["calibration_report"]


def _num(value: float) -> str:
    return f"{value:,.4g}"


def calibration_report(data: dict[str, Any]) -> Report:
    """One row per published case, then the mean and max error."""
    rows = tuple(
        (c["name"], c["quantity"], f"{_num(c['published'])} {c['unit']}",
         f"{_num(c['predicted'])} {c['unit']}", f"{c['error'] * 100:+.1f}%",
         f"±{c['tolerance'] * 100:.0f}%", "ok" if c["within_tolerance"] else "OUT",
         c["source"])
        for c in data["cases"])
    table = Table("Reference cases", ("case", "quantity", "published", "predicted", "error",
                                      "tolerance", "", "source"), rows, "cases",
                  tuple(data["cases"]))
    summary = KeyValues("Summary", (
        ("cases", str(len(data["cases"]))),
        ("mean absolute error", f"{data['mean_abs_error'] * 100:.1f}%"),
        ("max absolute error", f"{data['max_abs_error'] * 100:.1f}%"),
        ("all within tolerance", "yes" if data["all_within_tolerance"] else "NO"),
    ))
    return Report("Calibration against published measurements", (table, summary), data)
