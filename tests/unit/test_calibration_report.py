"""The `planner calibration` report: one table per quantity, figures formatted for reading."""

from __future__ import annotations

from typing import Any

from planner.report.calibration import calibration_report
from planner.report.model import Table
from planner.report.render import csv_tables


def _case(name: str, quantity: str, unit: str, published: float, predicted: float
          ) -> dict[str, Any]:
    return {"name": name, "quantity": quantity, "unit": unit, "published": published,
            "predicted": predicted, "error": predicted / published - 1.0, "tolerance": 0.3,
            "within_tolerance": True, "source": "https://example.org/" + unit, "note": "",
            "group": ""}


def _report(cases: list[dict[str, Any]]) -> Any:
    return calibration_report({"cases": cases, "mean_abs_error": 0.0, "max_abs_error": 0.0,
                               "all_within_tolerance": True, "errors": [],
                               "known_misses": []})


def test_one_table_per_quantity_with_its_unit_in_the_title() -> None:
    report = _report([
        _case("a", "output tokens/s per accelerator", "tokens/s", 12691.3, 12629.0),
        _case("b", "decode step time", "s", 0.0412, 0.0398),
        _case("c", "output tokens/s per accelerator", "tokens/s", 43.125, 51.75),
    ])
    tables = [s for s in report.sections if isinstance(s, Table)]
    assert [t.title for t in tables] == ["Reference cases: output tokens/s per accelerator",
                                         "Reference cases: decode step time"]
    assert "quantity" not in tables[0].headers
    # thousands separators, no exponent, and the unit left to the title that names it
    assert [row[1:3] for row in tables[0].rows] == [("12,691", "12,629"), ("43.1", "51.8")]
    # a dimensioned unit keeps its SI prefix and symbol
    assert tables[1].rows[0][1] == "41.2 ms"


def test_the_csv_keeps_every_case_in_one_table() -> None:
    report = _report([
        _case("a", "output tokens/s per accelerator", "tokens/s", 1000.0, 1100.0),
        _case("b", "decode step time", "s", 0.04, 0.05),
    ])
    cases_csv = csv_tables(report)["cases"]
    assert cases_csv.splitlines()[0].startswith("name,quantity,unit,published")
    assert len(cases_csv.splitlines()) == 3  # header and both cases


def test_large_counts_use_a_prefix_and_other_units_stay() -> None:
    report = _report([_case("hours", "H100-hours for 15.6T tokens", "GPU-h", 30.84e6, 28.52e6)])
    table = next(s for s in report.sections if isinstance(s, Table))
    assert table.rows[0][1:3] == ("30.84M GPU-h", "28.52M GPU-h")
