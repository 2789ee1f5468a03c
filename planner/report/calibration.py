"""Report sections for `planner calibration`."""

from __future__ import annotations

from typing import Any

from planner.report.fmt import readable_number
from planner.report.model import KeyValues, Report, Table
from planner.units import Dimension, format_quantity

__all__ = ["calibration_report"]

_UNIT_DIMENSIONS = {"FLOP/s": Dimension.FLOP_RATE, "FLOP": Dimension.FLOPS, "s": Dimension.DURATION}


def _value(value: float, unit: str, quantity: str = "") -> str:
    """A case's figure for people: SI-prefixed with its unit (412 TFLOP/s, 3.2 ms), or a plain
    number with thousands separators (12,691), the unit left to the quantity's label when that
    names it already ("output tokens/s per accelerator")."""
    dimension = _UNIT_DIMENSIONS.get(unit)
    if dimension is not None:
        return format_quantity(value, dimension, digits=4)
    number = readable_number(value, 3, large_digits=4)
    return number if not unit or unit in quantity else f"{number} {unit}"


def _group_rows(cases: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Mean and worst absolute error of each named group of serving cases (offline, MoE fit
    and check sets, latency-bounded), reported apart from the whole."""
    groups: dict[str, list[float]] = {}
    for case in cases:
        if case.get("group"):
            groups.setdefault(str(case["group"]), []).append(abs(float(case["error"])))
    return [(f"{name}: {len(errors)} cases, mean / worst error",
             f"{sum(errors) / len(errors) * 100:.1f}% / {max(errors) * 100:.1f}%")
            for name, errors in groups.items()]


def calibration_report(data: dict[str, Any]) -> Report:
    """One row per published case (sources numbered below), then the mean and max error."""
    sources: dict[str, int] = {}
    by_quantity: dict[str, list[tuple[str, ...]]] = {}
    for case in data["cases"]:
        ref = sources.setdefault(case["source"], len(sources) + 1)
        by_quantity.setdefault(case["quantity"], []).append((
            case["name"], _value(case["published"], case["unit"], case["quantity"]),
            _value(case["predicted"], case["unit"], case["quantity"]),
            f"{case['error'] * 100:+.1f}%", f"±{case['tolerance'] * 100:.0f}%",
            "ok" if case["within_tolerance"] else "OUT", f"[{ref}]"))
    # one table per quantity, its unit in the title; the first carries every case for the CSV
    # (all share the "cases" key, so the CSV is one table of them all)
    headers = ("case", "published", "predicted", "error", "tolerance", "", "source")
    tables = tuple(
        Table(f"Reference cases: {quantity}", headers, tuple(rows), "cases",
              tuple(data["cases"]) if i == 0 else ())
        for i, (quantity, rows) in enumerate(by_quantity.items()))
    if not tables:
        tables = (Table("Reference cases", headers, (), "cases", ()),)
    listing = KeyValues("Sources", tuple((f"[{n}]", text) for text, n in sources.items()))
    sets = _training_sets(data["cases"])
    commands = tuple((case["name"], str(case["note"])[str(case["note"]).index("planner "):])
                     for case in data["cases"] if "planner estimate" in str(case.get("note")))
    rerun = KeyValues("Re-run a case (the estimate call behind its prediction)", commands)
    summary = KeyValues("Summary", (
        ("cases", str(len(data["cases"]))),
        ("mean absolute error", f"{data['mean_abs_error'] * 100:.1f}%"),
        ("max absolute error", f"{data['max_abs_error'] * 100:.1f}%"),
        ("all within tolerance", "yes" if data["all_within_tolerance"] else "NO"),
        *_group_rows(data["cases"]),
    ))
    sections: tuple[Table | KeyValues, ...] = (*tables, listing)
    if commands:
        sections += (rerun,)
    sections += (summary,)
    misses = _known_misses(data.get("known_misses", []))
    if misses is not None:
        sections += (misses,)
    if sets.items:
        sections += (sets,)
    return Report("Calibration against published measurements", sections, data)


def _training_sets(cases: list[dict[str, Any]]) -> KeyValues:
    """Mean and max error of the training fit set, the check set and each check group (case
    names ``fit:<group>:...`` and ``check:<group>:...``, planner.perf.calibrate_training)."""
    buckets: dict[str, list[float]] = {}
    for case in cases:
        parts = case["name"].split(":")
        if len(parts) < 3 or parts[0] not in ("fit", "check"):
            continue
        buckets.setdefault(parts[0], []).append(abs(case["error"]))
        if parts[0] == "check":
            buckets.setdefault(f"check {parts[1]}", []).append(abs(case["error"]))
    return KeyValues("Training fit and check sets", tuple(
        (name, f"{len(errors)} cases, mean {sum(errors) / len(errors) * 100:.1f}%, "
               f"max {max(errors) * 100:.1f}%")
        for name, errors in buckets.items()))


def _known_misses(misses: list[dict[str, Any]]) -> Table | None:
    """Published results the model misses by more than the tolerance: shown with their error
    and the estimate call behind them, not counted in the errors above (their reasons are in
    planner/perf/calibrate_latency.py, ``OUT_OF_TOLERANCE``)."""
    if not misses:
        return None
    rows = tuple((case["name"], _value(case["published"], case["unit"]),
                  _value(case["predicted"], case["unit"]), f"{case['error'] * 100:+.1f}%",
                  str(case["note"])[str(case["note"]).index("planner "):])
                 for case in misses)
    return Table("Known misses (outside tolerance; not counted above)",
                 ("case", "published", "predicted", "error", "estimate call"), rows,
                 "known_misses", tuple(misses))
