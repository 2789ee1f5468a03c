"""Plots for the roadmap's HTML report: capacity against demand, power per site, cumulative spend.

Drawn like :mod:`planner.report.plots` (matplotlib's object API under the same style, text kept
as text in the SVG): each function takes the roadmap's rows and returns one ``<svg>`` document.
:func:`roadmap_figures` picks the figures a roadmap dict has data for.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from planner.report.plots import (
    FIGSIZE_IN,
    LABEL_PT,
    _color,
    _empty,
    _figure,
    _LabelPlacer,
    _money_scale,
    _svg,
    _ticks,
)

__all__ = ["capacity_plot", "cumulative_spend_plot", "power_plot", "roadmap_figures"]

_INK = "#1b1f24"
_SPARE = ((6, 0, "left", "center"), (-6, 0, "right", "center"), (0, 7, "center", "bottom"),
          (0, -9, "center", "top"))
"""Label offsets (points) tried when the first choice overlaps a label placed before."""


def _period_axis(axes: Any, periods: Sequence[str]) -> None:
    """Periods as categories on x; slanted when there are many."""
    slant = len(periods) > 10
    axes.set_xticks(range(len(periods)), list(periods), rotation=35 if slant else 0,
                    ha="right" if slant else "center")
    axes.set_xlim(-0.6, len(periods) - 0.4)


def _legend_below(axes: Any, entries: int) -> None:
    axes.figure.legend(loc="outside lower center", fontsize=LABEL_PT,
                       ncols=min(max(entries, 1), 4), frameon=False)


def capacity_plot(periods: Sequence[str], capacity: Sequence[Mapping[str, Any]],
                  title: str = "Capacity vs demand: accelerators held and busy") -> str:
    """Stacked bars of the accelerators held per period by system (owned; rented ones hatched
    on top), and a line of the accelerators busy (placed) in each period. ``capacity`` rows
    count rented units in ``accelerators_held``."""
    held: dict[str, list[float]] = defaultdict(lambda: [0.0] * len(periods))
    busy = [0.0] * len(periods)
    rented = [0.0] * len(periods)
    index = {p: i for i, p in enumerate(periods)}
    for row in capacity:
        if (i := index.get(str(row["period"]))) is None:
            continue
        units = float(row.get("units_held", 0.0)) + float(row.get("units_rented", 0.0))
        share = float(row.get("units_rented", 0.0)) / units if units > 0 else 0.0
        accelerators = float(row.get("accelerators_held", 0.0))
        held[str(row["system"])][i] += accelerators * (1.0 - share)
        rented[i] += accelerators * share
        busy[i] += float(row.get("accelerators_busy", 0.0))
    with _figure(title, (FIGSIZE_IN[0], FIGSIZE_IN[1] + 0.4)) as axes:
        systems = [s for s in sorted(held) if any(held[s])]
        if not systems and not any(busy) and not any(rented):
            _empty(axes, "no accelerators held")
            return _svg(axes)
        x = list(range(len(periods)))
        bottom = [0.0] * len(periods)
        for i, system in enumerate(systems):
            axes.bar(x, held[system], bottom=bottom, width=0.6, color=_color(i), label=system)
            bottom = [a + b for a, b in zip(bottom, held[system], strict=True)]
        if any(rented):  # only where some are rented: an empty bar would still draw its edge
            some = [i for i in x if rented[i] > 0]
            axes.bar(some, [rented[i] for i in some], bottom=[bottom[i] for i in some],
                     width=0.6, color="white", edgecolor=_INK, hatch="///", linewidth=0.6,
                     label="rented")
        axes.plot(x, busy, color=_INK, marker="o", markersize=4, linewidth=1.6,
                  label="busy (placed)")
        _period_axis(axes, periods)
        axes.set_ylabel("accelerators")
        top = max([*busy, *(a + b for a, b in zip(bottom, rented, strict=True))])
        axes.set_ylim(0, top * 1.12 or 1.0)
        _ticks(axes.yaxis, log=False)
        axes.grid(True, axis="y", alpha=0.3)
        _legend_below(axes, len(systems) + 1 + any(rented))
        return _svg(axes)


def power_plot(periods: Sequence[str], sites: Sequence[Mapping[str, Any]],
               title: str = "Power per site: used (solid) against its cap (dashed)") -> str:
    """One solid line per site of the power it uses in each period, and a dashed line of the
    same colour for the power available to it (a step: power comes online at a period's
    start)."""
    index = {p: i for i, p in enumerate(periods)}
    used: dict[str, list[float | None]] = defaultdict(lambda: [None] * len(periods))
    cap: dict[str, list[float | None]] = defaultdict(lambda: [None] * len(periods))
    for row in sites:
        if (i := index.get(str(row["period"]))) is not None:
            name = str(row["site"])
            used[name][i] = float(row.get("power_used_w") or 0.0) / 1e6
            if row.get("power_cap_w") is not None:
                cap[name][i] = float(row["power_cap_w"]) / 1e6
    with _figure(title, (FIGSIZE_IN[0], FIGSIZE_IN[1] + 0.4)) as axes:
        if not used:
            _empty(axes, "no sites")
            return _svg(axes)
        x = list(range(len(periods)))
        for i, name in enumerate(sorted(used)):
            axes.plot(x, used[name], color=_color(i), marker="o", markersize=4, linewidth=1.6,
                      label=f"{name} used")
            if any(v is not None for v in cap[name]):  # each period's cap spans the period
                edges = [i - 0.5 for i in x] + [x[-1] + 0.5]
                axes.plot(edges, [*cap[name], cap[name][-1]], color=_color(i),
                          linestyle="--", linewidth=1.2, drawstyle="steps-post",
                          label=f"{name} cap")
        _period_axis(axes, periods)
        axes.set_ylabel("power (MW)")
        axes.set_ylim(bottom=0)
        _ticks(axes.yaxis, log=False)
        axes.grid(True, axis="y", alpha=0.3)
        _legend_below(axes, 2 * len(used))
        return _svg(axes)


def _cumulative(cost_rows: Sequence[Mapping[str, Any]]
                ) -> tuple[list[float], list[float], tuple[float, float] | None]:
    """Spending to date (paid, discounted) without the remaining value, and where the two end
    once it is credited (None when there is none)."""
    credit = [float(r.get("remaining_value", 0.0) or 0.0) for r in cost_rows]
    factor = [float(r.get("discount_factor", 1.0)) for r in cost_rows]
    paid = list(itertools.accumulate(float(r.get("total", 0.0)) - c
                                     for r, c in zip(cost_rows, credit, strict=True)))
    discounted = list(itertools.accumulate(
        float(r.get("discounted_total", 0.0)) - c * f
        for r, c, f in zip(cost_rows, credit, factor, strict=True)))
    if not any(credit):
        return paid, discounted, None
    return paid, discounted, (paid[-1] + sum(credit),
                              discounted[-1] + sum(c * f for c, f in zip(credit, factor,
                                                                         strict=True)))


def _label_points(axes: Any, points: Sequence[tuple[float, float, int]], word: str) -> None:
    """Value labels at (x, y, series) points: of two at one x, the higher above (or, at the
    last x, right and up), the lower below (or right and down)."""
    placer = _LabelPlacer(axes)
    last = max(px for px, _, _ in points)
    for px, py, _ in points:
        placer.block_marker((px, py), 16.0)
    for px, py, k in points:
        higher = py >= max(q for qx, q, _ in points if qx == px)
        if px == last:
            first = (6, 4, "left", "bottom") if higher else (6, -4, "left", "top")
        else:
            first = (0, 7, "center", "bottom") if higher else (0, -9, "center", "top")
        placer.place(f"{py:,.4g} {word}".strip(), (px, py), color=_color(k),
                     offsets=(first, *_SPARE))


def cumulative_spend_plot(cost_rows: Sequence[Mapping[str, Any]],
                          title: str = "Cumulative spend, undiscounted and discounted") -> str:
    """Two lines over the periods: spending to date as paid, and discounted to the first
    period. The remaining value of the equipment still in its life at the horizon's end is a
    credit: a last, dotted step after it ends the discounted line at the net present value."""
    periods = [str(r["period"]) for r in cost_rows]
    with _figure(title) as axes:
        if not periods:
            _empty(axes, "no periods")
            return _svg(axes)
        paid, discounted, ends = _cumulative(cost_rows)
        values = [*paid, *discounted, *(ends or ())]
        scale, word = _money_scale(max(abs(v) for v in values) or 1.0)
        x = list(range(len(periods)))
        names = ("undiscounted", "discounted (ends at the net present value)")
        for k, series in enumerate((paid, discounted)):
            axes.plot(x, [v / scale for v in series], color=_color(k), marker="os"[k],
                      markersize=4, linewidth=1.6, label=names[k])
        points = [(float(x[-1]), series[-1] / scale, k)
                  for k, series in enumerate((paid, discounted))]
        if ends is not None:
            for k, end in enumerate(ends):
                axes.plot([x[-1], x[-1] + 1], [points[k][1], end / scale], color=_color(k),
                          marker="os"[k], markersize=4, linewidth=1.2, linestyle=":")
                points.append((x[-1] + 1.0, end / scale, k))
            axes.plot([], [], color=_INK, linestyle=":",
                      label="last step: less the remaining value at the horizon's end")
            periods.append("")
        _period_axis(axes, periods)
        axes.set_ylabel(f"{word} USD".strip())
        low = min(0.0, *(v / scale for v in values))
        axes.set_ylim(low, max(max(v / scale for v in values) * 1.15, low + 1.0))
        _ticks(axes.yaxis, log=False)
        axes.grid(True, axis="y", alpha=0.3)
        _legend_below(axes, 2 + (ends is not None))
        _label_points(axes, points, word)
        return _svg(axes)


def roadmap_figures(data: Mapping[str, Any]) -> list[str]:
    """The roadmap's figures: capacity vs demand, power per site, cumulative spend."""
    periods = [str(p["name"]) for p in data.get("periods", [])]
    figures = []
    if data.get("capacity"):
        figures.append(capacity_plot(periods, data["capacity"]))
    if data.get("sites"):
        figures.append(power_plot(periods, data["sites"]))
    if data.get("cost_by_period_usd"):
        figures.append(cumulative_spend_plot(data["cost_by_period_usd"]))
    return figures
