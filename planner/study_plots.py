"""Plot series of a sweep: which curves a study draws and the (x, y) lines of each.

The study's schema, expansion, executors and I/O are :mod:`planner.study`; this module turns a
finished :class:`~planner.study.SweepResult` into the curves :mod:`planner.report.plots`
draws. Parameters a plot does not show are held at their first value, and the caption says so.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from planner.comparison import work_unit
from planner.study import MAX_SERIES, PlotSpec, _yaml_text

if TYPE_CHECKING:
    from planner.study import SweepResult

__all__ = ["default_plots", "primary_metric", "series"]


def primary_metric(kind: str, command: str) -> str:
    """The metric a sweep plots by default: cost per unit of work, the plan's total cost, or a
    roadmap's net present value."""
    if command == "roadmap":
        return "npv_usd"
    return "total_cost_usd" if command == "optimize" or kind == "scenario" else \
        "cost_per_work_usd"


def default_plots(parameters: Sequence[Mapping[str, Any]], kind: str,
                   command: str) -> list[PlotSpec]:
    """One curve per numeric parameter, split by option and by the other grid parameters; a
    roadmap study also draws the accelerators it buys against each parameter."""
    metrics = [primary_metric(kind, command)]
    if command == "roadmap":
        metrics.append("accelerators")
    numeric = [p for p in parameters if p["numeric"]]
    specs = []
    for y in metrics:
        for p in numeric:
            others = [q["path"] for q in parameters
                      if q["path"] != p["path"] and not q["random"]]
            specs.append(PlotSpec(x=p["path"], y=y, group=others))
    return specs


_METRIC_LABELS = {"cost_per_work_usd": "USD per {work}", "total_cost_usd": "total cost (USD)",
                  "npv_usd": "net present value (USD)", "mw_built": "power built (MW)",
                  "peak_power_w": "peak facility power (W)",
                  "usd_per_query": "USD per query", "wall_time_s": "wall time (s)",
                  "units": "units needed", "accelerators": "accelerators needed",
                  "capex_usd": "purchase price of the units (USD)",
                  "power_w": "IT power (W)", "usd_per_million_tokens":
                  "USD per 1M generated tokens", "max_batch": "max batch per replica"}


def series(spec: PlotSpec, result: SweepResult) -> dict[str, Any]:
    """Group the successful records into lines of (x, y) for one plot."""
    y = spec.y or primary_metric(result.kind, result.command)
    groups = [g for g in spec.group if g != spec.x]
    records = [r for r in result.records if r["status"] == "ok"]
    fixed = _fixed_values(spec, groups, result)
    records = [r for r in records if all(r["parameters"].get(k) == v for k, v in fixed.items())]
    held = _held_values(records, groups)
    fixed.update(held)
    lines: dict[str, tuple[list[float], list[float]]] = {}
    order: dict[str, tuple[Any, ...]] = {}
    for r in records:
        if any(r["parameters"].get(g) != v for g, v in held.items()):
            continue
        x, value = r["x"].get(spec.x), _as_float(r["metrics"].get(y))
        if x is None or value is None:
            continue
        label = ", ".join([r["option"], *(f"{g}={r['parameters'].get(g)}" for g in groups
                                          if g not in held)])
        order.setdefault(label, (r["option"], *(_order_key(r, g) for g in groups
                                                   if g not in held)))
        xs, ys = lines.setdefault(label, ([], []))
        xs.append(x)
        ys.append(value)
    meta = next((p for p in result.parameters if p["path"] == spec.x), {})
    title = spec.title or f"{_metric_label(y, result.kind)} against {spec.x}"
    chosen = {k: v for k, v in fixed.items() if k in spec.where}
    first = {k: v for k, v in fixed.items() if k not in spec.where}
    caption = "; ".join(part for part in (
        "shown at " + ", ".join(f"{k}={v}" for k, v in chosen.items()) if chosen else "",
        "not plotted, held at their first value: "
        + ", ".join(f"{k}={v}" for k, v in first.items()) if first else "") if part)
    return {"title": title, "caption": caption, "x": spec.x, "y": y,
            "x_label": meta.get("label") or spec.x,
            "y_label": _metric_label(y, result.kind), "log_x": spec.log_x,
            "log_y": spec.log_y, "connect": not any(p["random"] for p in result.parameters
                                                    if p["path"] != spec.x),
            "series": {k: [v[0], v[1]] for k, v in sorted(lines.items(),
                                                          key=lambda item: order[item[0]])}}


def _order_key(record: Mapping[str, Any], path: str) -> tuple[int, float, str]:
    """Lines in the order of their parameters' values: numbers by size (5% before 15%),
    then text."""
    x = (record.get("x") or {}).get(path)
    text = str(record["parameters"].get(path))
    return (0, float(x), text) if x is not None else (1, 0.0, text)


def _fixed_values(spec: PlotSpec, groups: Sequence[str], result: SweepResult) -> dict[str, str]:
    """``where`` values, plus the first value of every other grid parameter."""
    fixed = {path: _yaml_text(value) for path, value in spec.where.items()}
    for p in result.parameters:
        if not p["random"] and p["values"] and p["path"] not in (spec.x, *groups, *fixed):
            fixed[p["path"]] = p["values"][0]
    return fixed


def _held_values(records: Sequence[Mapping[str, Any]], groups: Sequence[str]) -> dict[str, Any]:
    """Group parameters held at their first value when splitting by all of them would draw
    more than :data:`MAX_SERIES` lines."""
    options = {r["option"] for r in records}
    combos = {tuple(r["parameters"].get(g) for g in groups) for r in records}
    if len(options) * len(combos) <= MAX_SERIES or not records:
        return {}
    return {g: records[0]["parameters"].get(g) for g in groups}


def _metric_label(metric: str, kind: str) -> str:
    if kind == "roadmap" and metric in ("units", "accelerators"):
        return f"{metric} bought"
    if metric.startswith("units_bought_"):
        return f"{metric.removeprefix('units_bought_')} units bought"
    return _METRIC_LABELS.get(metric, metric.replace("_", " ")).format(work=work_unit(kind))


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
