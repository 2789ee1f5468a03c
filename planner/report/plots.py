"""Plots for the HTML reports: each function takes numbers (or result dicts) and returns SVG.

Every figure is drawn with matplotlib's object API (:class:`matplotlib.figure.Figure`, saved
with the SVG backend), so no global pyplot state or GUI backend is touched and the functions are
pure: numbers in, one ``<svg>`` document out, no file I/O. Text stays text in the SVG
(``svg.fonttype: none``) so that a report is searchable and tests can read the labels; the hash
salt is fixed so the same data gives the same bytes.

The figures are the ones the source article and the planning questions call for: the roofline
of each role on each system, the KV cache against sequence length with the HBM limits (the
article's memory chart), interactivity against batch size at the target, cost breakdowns, the
placement on the site graph, bottleneck shadow prices and sweep curves. :func:`estimate_figures`,
:func:`plan_figures`, :func:`comparison_figures` and :func:`sweep_figures` pick the figures a
result dict has data for.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

__all__ = [
    "bottleneck_plot",
    "comparison_figures",
    "cost_breakdown_plot",
    "estimate_figures",
    "interactivity_plot",
    "kv_cache_curves",
    "kv_cache_plot",
    "placement_plot",
    "plan_figures",
    "roofline_plot",
    "sweep_figures",
    "sweep_plot",
]

PALETTE = ("#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#bf3989", "#0a7a8a",
           "#57606a", "#fb8500", "#6e7781")
FIGSIZE_IN = (7.5, 4.2)
_RC: Any = {"svg.fonttype": "none", "svg.hashsalt": "planner", "font.size": 9.0,
       "axes.titlesize": 11.0, "axes.spines.top": False, "axes.spines.right": False}
GB = 1e9  # decimal gigabyte: the article and vendors quote HBM in GB


# ---------------------------------------------------------------------------------------------
# Figure plumbing


@contextmanager
def _figure(title: str, figsize: tuple[float, float] = FIGSIZE_IN) -> Iterator[Any]:
    """A fresh Figure with one Axes under the fixed style; the caller draws on the Axes."""
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context(_RC):
        figure = Figure(figsize=figsize, layout="constrained")
        axes = figure.add_subplot()
        axes.set_title(title)
        yield axes


def _svg(axes: Any) -> str:
    """The Axes' figure as an inline ``<svg>`` element (no XML prolog, no date)."""
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context(_RC):
        axes.figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def _color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def _finite(values: Sequence[float | None]) -> list[float]:
    return [float(v) for v in values if v is not None and math.isfinite(float(v))]


def _plain_ticks(axes: Any) -> None:
    """Both axes of a log-log plot ticked at 1, 2, 5 × 10^k with short labels."""
    _ticks(axes.xaxis, log=True)
    _ticks(axes.yaxis, log=True)


def _compact(value: float) -> str:
    """12,000 -> '12k', 3e9 -> '3B', 0.5 -> '0.5': short tick labels for any magnitude."""
    for divisor, word in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= divisor:
            return f"{value / divisor:,.4g}{word}"
    return f"{value:,.4g}"


def _ticks(axis: Any, log: bool) -> None:
    """Short tick labels (20, 500, 3M); on a log axis, ticks at 1, 2 and 5 × 10^k."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    if log:
        axis.set_major_locator(LogLocator(base=10.0, subs=(1.0, 2.0, 5.0)))
        axis.set_minor_formatter(NullFormatter())
    axis.set_major_formatter(FuncFormatter(lambda value, _pos: _compact(value)))


def _empty(axes: Any, message: str) -> None:
    axes.text(0.5, 0.5, message, ha="center", va="center", transform=axes.transAxes)
    axes.set_xticks([])
    axes.set_yticks([])


# ---------------------------------------------------------------------------------------------
# The plots


def roofline_plot(systems: Sequence[Mapping[str, Any]], points: Sequence[Mapping[str, Any]],
                  title: str = "Roofline per accelerator") -> str:
    """Attainable FLOP/s against arithmetic intensity, one roof per system, one dot per role.

    Williams, Waterman and Patterson (CACM 2009): attainable = min(peak, intensity × bandwidth);
    the ridge point peak / bandwidth (FLOP/byte) separates memory-bound from compute-bound work.
    ``systems``: {name, peak_flops_per_s, memory_bandwidth_bytes_per_s} per accelerator;
    ``points``: {label, system, intensity_flops_per_byte, flops_per_s}.
    """
    with _figure(title) as axes:
        intensities = _finite([p.get("intensity_flops_per_byte") for p in points])
        ridges = [s["peak_flops_per_s"] / s["memory_bandwidth_bytes_per_s"] for s in systems]
        low = min([*intensities, *ridges, 1.0]) / 4.0
        high = max([*intensities, *ridges, 1.0]) * 4.0
        colors = {}
        for i, system in enumerate(systems):
            colors[system["name"]] = _color(i)
            _draw_roof(axes, system, low, high, _color(i), i)
        for point in points:
            _draw_role(axes, point, colors.get(point.get("system", ""), "#000000"))
        axes.set_xscale("log")
        axes.set_yscale("log")
        axes.set_xlabel("arithmetic intensity (FLOP/byte)")
        axes.set_ylabel("FLOP/s per accelerator")
        axes.legend(loc="lower right", fontsize=8)
        return _svg(axes)


def _draw_roof(axes: Any, system: Mapping[str, Any], low: float, high: float, color: str,
               index: int) -> None:
    peak, bandwidth = system["peak_flops_per_s"], system["memory_bandwidth_bytes_per_s"]
    ridge = peak / bandwidth
    xs = [low, ridge, high]
    ys = [low * bandwidth, peak, peak]  # min(peak, I × BW), linear on log axes up to the ridge
    axes.plot(xs, ys, color=color, linewidth=1.8,
              label=f"{system['name']} roof, ridge {ridge:,.0f} FLOP/B")
    axes.plot([ridge], [peak], marker="|", color=color, markersize=8 + 2 * index)


def _draw_role(axes: Any, point: Mapping[str, Any], color: str) -> None:
    x, y = point.get("intensity_flops_per_byte"), point.get("flops_per_s")
    if x is None or y is None or not (x > 0 and y > 0):
        return
    axes.plot([x], [y], marker="o", color=color, linestyle="none")
    axes.annotate(str(point.get("label", "")), (x, y), textcoords="offset points",
                  xytext=(5, -10), fontsize=8, color=color)


def kv_cache_curves(kv_bytes_per_token: float, batches: Sequence[int],
                    context_tokens: Sequence[float]) -> dict[str, list[float]]:
    """KV cache bytes against context for each batch: batch × seq × KV bytes per token.

    The GQA formula of DESIGN.md section 4 (the source article's memory chart): KV bytes per
    token = 2 · layers · kv_heads · head_dim · bytes per element, times batch and sequence.
    """
    return {f"batch {b}": [b * s * kv_bytes_per_token for s in context_tokens] for b in batches}


def kv_cache_plot(context_tokens: Sequence[float], curves: Mapping[str, Sequence[float]],
                  limits: Mapping[str, float], title: str = "KV cache against sequence length",
                  weights_bytes: float = 0.0) -> str:
    """The article's chart: KV cache size against sequence length with the HBM limit lines.

    ``curves`` maps a label (e.g. "batch 32") to KV bytes at each context length; ``limits``
    maps a label (e.g. "HBM 640 GB", "HBM after weights") to a byte level drawn as a line.
    ``weights_bytes`` > 0 adds the weights to each curve as a dashed "weights + KV" line.
    """
    with _figure(title) as axes:
        for i, (name, values) in enumerate(curves.items()):
            axes.plot(context_tokens, [v / GB for v in values], color=_color(i), label=name)
            if weights_bytes > 0:
                axes.plot(context_tokens, [(v + weights_bytes) / GB for v in values],
                          color=_color(i), linestyle="--", linewidth=1.0,
                          label=f"{name} + weights")
        for j, (name, level) in enumerate(limits.items()):
            axes.axhline(level / GB, color="#57606a", linestyle=(0, (4, 2 + 2 * j)),
                         linewidth=1.2)
            axes.annotate(f"{name}: {level / GB:,.0f} GB", (0.99, level / GB),
                          xycoords=("axes fraction", "data"), textcoords="offset points",
                          xytext=(0, 3), fontsize=8, color="#57606a", ha="right")
        axes.set_xlabel("sequence length (tokens)")
        axes.set_ylabel("memory (GB)")
        top = max([*limits.values(), 0.0]) / GB
        axes.set_ylim(0, top * 1.6 if top > 0 else None)  # keep the limits in view
        axes.legend(loc="upper left", fontsize=8)
        return _svg(axes)


def interactivity_plot(curves: Mapping[str, tuple[Sequence[float], Sequence[float]]],
                       target_tokens_per_s: float | None = None,
                       max_batch: Mapping[str, float] | None = None,
                       title: str = "Interactivity against batch size") -> str:
    """Tokens/s per user against batch size, one curve of (batches, rates) per case.

    Interactivity = 1 / decode step time (DESIGN.md section 4); the largest batch whose curve
    stays above the target line is the max batch at that target; ``max_batch`` marks the
    operating batch of each case (which HBM capacity may hold below the curve's crossing).
    """
    with _figure(title) as axes:
        for i, (name, (xs, ys)) in enumerate(curves.items()):
            axes.plot(xs, ys, color=_color(i), label=name, marker="o", markersize=2.5)
            if max_batch and max_batch.get(name, 0.0) > 0:
                axes.axvline(max_batch[name], color=_color(i), linestyle=":", linewidth=1.0)
                axes.annotate(f"max batch {max_batch[name]:,.0f}", (max_batch[name], 0.97),
                              xycoords=("data", "axes fraction"), rotation=90, fontsize=7,
                              va="top", ha="right", color=_color(i))
        if target_tokens_per_s:
            axes.axhline(target_tokens_per_s, color="#57606a", linestyle="--", linewidth=1.0)
            axes.annotate(f"target {target_tokens_per_s:g} tokens/s/user",
                          (0.99, target_tokens_per_s), xycoords=("axes fraction", "data"),
                          ha="right", va="bottom", fontsize=8, color="#57606a")
        axes.set_xscale("log")
        axes.set_yscale("log")
        _plain_ticks(axes)
        axes.set_xlabel("batch size (sequences per replica)")
        axes.set_ylabel("tokens/s per user")
        axes.legend(loc="lower left", fontsize=8)
        return _svg(axes)


def cost_breakdown_plot(parts: Mapping[str, Mapping[str, float]],
                        title: str = "Cost breakdown", unit: str = "USD") -> str:
    """Stacked horizontal bars: one bar per option (plan, system), one segment per cost part.

    ``parts`` maps option -> {part: USD}; a single plan is one option. Negative or zero parts
    are left out (they cannot be stacked honestly).
    """
    names = sorted({p for values in parts.values() for p, v in values.items() if v > 0})
    with _figure(title, (FIGSIZE_IN[0], 1.2 + 0.45 * max(len(parts), 2))) as axes:
        if not names:
            _empty(axes, "no costs")
            return _svg(axes)
        options = list(parts)
        left = [0.0] * len(options)
        scale, suffix = _money_scale(max(sum(v.values()) for v in parts.values()))
        for i, name in enumerate(names):
            widths = [max(parts[o].get(name, 0.0), 0.0) / scale for o in options]
            axes.barh(options, widths, left=left, color=_color(i), label=name)
            left = [a + b for a, b in zip(left, widths, strict=True)]
        for y, total in enumerate(left):
            axes.annotate(f"{total:,.3g} {suffix}", (total, y), textcoords="offset points",
                          xytext=(3, -3), fontsize=8)
        axes.set_xlabel(f"{suffix} {unit}".strip())
        axes.invert_yaxis()
        axes.figure.legend(loc="outside lower center", fontsize=7, ncols=min(len(names), 5),
                           frameon=False)
        return _svg(axes)


def _money_scale(top: float) -> tuple[float, str]:
    """A divisor and its word so that bar lengths read as e.g. '2.5 B'."""
    for divisor, word in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if top >= divisor:
            return divisor, word
    return 1.0, ""


def placement_plot(sites: Sequence[Mapping[str, Any]], placements: Sequence[Mapping[str, Any]],
                   flows: Sequence[Mapping[str, Any]] = (),
                   title: str = "Placement on the site graph") -> str:
    """Sites on a circle, sized by power used, labelled with what runs there; flows as arrows.

    ``sites``: {site, power_used_w, power_cap_w}; ``placements``: {site, system, job, role,
    units}; ``flows``: {from, to, kind, bytes}. Arrow width grows with the log of the bytes.
    """
    names = sorted({s["site"] for s in sites} | {p["site"] for p in placements}
                   | {f["from"] for f in flows} | {f["to"] for f in flows})
    with _figure(title, (FIGSIZE_IN[0], 5.2)) as axes:
        if not names:
            _empty(axes, "nothing placed")
            return _svg(axes)
        where = _circle(names)
        _draw_flows(axes, flows, where)
        power = {s["site"]: s for s in sites}
        for name in names:
            _draw_site(axes, name, where[name], power.get(name, {}), placements)
        axes.set_xlim(-1.6, 1.6)
        axes.set_ylim(-1.3, 1.3)
        axes.axis("off")
        return _svg(axes)


def _circle(names: Sequence[str]) -> dict[str, tuple[float, float]]:
    """Evenly spaced points on the unit circle, the first at the top (a stable layout)."""
    count = len(names)
    if count == 1:
        return {names[0]: (0.0, 0.0)}
    return {name: (math.sin(2 * math.pi * i / count), math.cos(2 * math.pi * i / count))
            for i, name in enumerate(names)}


def _draw_flows(axes: Any, flows: Sequence[Mapping[str, Any]],
                where: Mapping[str, tuple[float, float]]) -> None:
    kinds = sorted({str(f.get("kind", "")) for f in flows})
    labels: dict[tuple[str, str], list[tuple[str, Any]]] = {}
    for flow in flows:
        size = float(flow.get("bytes", 0.0))
        if size <= 0 or flow["from"] == flow["to"]:
            continue
        color = _color(kinds.index(str(flow.get("kind", ""))) + 3)
        width = 0.6 + max(0.0, math.log10(size) - 9.0) * 0.5  # 1 GB -> 0.6 pt, 1 PB -> 3.6 pt
        axes.annotate("", where[flow["to"]], xytext=where[flow["from"]],
                      arrowprops={"arrowstyle": "-|>", "color": color, "lw": width,
                                  "shrinkA": 18, "shrinkB": 18,
                                  "connectionstyle": "arc3,rad=0.12"})
        labels.setdefault((flow["from"], flow["to"]), []).append(
            (f"{flow.get('kind', '')} {_size_text(size)}", color))
    for (start, end), texts in labels.items():
        (x1, y1), (x2, y2) = where[start], where[end]
        # matplotlib's arc3 puts the control point at mid + rad·(dy, -dx); the curve passes
        # half-way there, so the label sits on its own arc and two directions do not overlap.
        # Flows of several kinds between the same two sites stack their labels.
        x, y = (x1 + x2) / 2 + 0.06 * (y2 - y1), (y1 + y2) / 2 - 0.06 * (x2 - x1)
        for i, (text, color) in enumerate(texts):
            offset = (i - (len(texts) - 1) / 2) * 9.0
            axes.annotate(text, (x, y), textcoords="offset points", xytext=(0, -offset),
                          fontsize=6.5, color=color, ha="center", va="center")


def _size_text(size_bytes: float) -> str:
    from planner.units import Dimension, format_quantity

    return format_quantity(size_bytes, Dimension.SIZE)


def _draw_site(axes: Any, name: str, xy: tuple[float, float], site: Mapping[str, Any],
               placements: Sequence[Mapping[str, Any]]) -> None:
    used = float(site.get("power_used_w") or 0.0)
    cap = float(site.get("power_cap_w") or 0.0)
    share = used / cap if cap > 0 else 0.0
    axes.scatter([xy[0]], [xy[1]], s=120 + 900 * min(share, 1.0), color="#ddf4ff",
                 edgecolors="#1f6feb", zorder=3)
    lines = [name]
    if cap > 0:
        lines.append(f"{used / 1e6:,.3g} of {cap / 1e6:,.3g} MW")
    for p in placements:
        if p["site"] == name and float(p.get("units", 0.0)) > 0:
            what = "CPU cores" if p.get("system") == "cpu" else f"× {p.get('system', '')}"
            lines.append(f"{p.get('job', '')}/{p.get('role', '')}: "
                         f"{_compact(float(p['units']))} {what}")
    axes.annotate("\n".join(lines[:7]), xy, textcoords="offset points", xytext=(0, -16),
                  ha="center", va="top", fontsize=6.5, zorder=4)


def bottleneck_plot(bottlenecks: Sequence[Mapping[str, Any]],
                    title: str = "Bottlenecks: shadow prices of binding constraints") -> str:
    """Horizontal bars of each binding constraint's shadow price, labelled with its unit.

    A shadow price (dual value) is what one more unit of the resource would save in the
    objective; units differ by kind (USD per MW-day, per core-hour, ...), so bars are on a log
    axis and each carries its unit.
    """
    rows = [b for b in bottlenecks if b.get("shadow_price") and abs(b["shadow_price"]) > 0][:15]
    with _figure(title, (FIGSIZE_IN[0], 1.2 + 0.38 * max(len(rows), 2))) as axes:
        if not rows:
            _empty(axes, "no binding constraint with a shadow price")
            return _svg(axes)
        kinds = sorted({str(b.get("kind", "")) for b in rows})
        labels = [str(b.get("constraint", "")) for b in rows]
        values = [abs(float(b["shadow_price"])) for b in rows]
        colors = [_color(kinds.index(str(b.get("kind", "")))) for b in rows]
        axes.barh(labels, values, color=colors)
        for y, b in enumerate(rows):
            axes.annotate(f"{float(b['shadow_price']):,.3g} {b.get('shadow_price_unit', '')}",
                          (values[y], y), textcoords="offset points", xytext=(3, -3), fontsize=7)
        axes.set_xscale("log")
        axes.set_xlabel("shadow price (absolute value; unit per bar)")
        axes.invert_yaxis()
        return _svg(axes)


def sweep_plot(series: Mapping[str, tuple[Sequence[float], Sequence[float]]], x_label: str,
               y_label: str, title: str, log_x: bool = False, log_y: bool = False,
               connect: bool = True) -> str:
    """Sweep curves: one line per series of (x, y) points sorted by x (failed scenarios are
    simply absent); ``connect=False`` draws points only (random designs, where other
    parameters vary along a series)."""
    with _figure(title) as axes:
        drawn = 0
        for i, (name, (xs, ys)) in enumerate(series.items()):
            pairs = sorted((x, y) for x, y in zip(xs, ys, strict=True)
                           if x is not None and y is not None and math.isfinite(y))
            if not pairs:
                continue
            axes.plot([p[0] for p in pairs], [p[1] for p in pairs], marker="o", markersize=3.5,
                      color=_color(i), label=name, linestyle="-" if connect else "none")
            drawn += 1
        if not drawn:
            _empty(axes, "no successful scenario to plot")
            return _svg(axes)
        axes.set_xlabel(x_label)
        axes.set_ylabel(y_label)
        if log_x:
            axes.set_xscale("log")
        if log_y:
            axes.set_yscale("log")
        _ticks(axes.xaxis, log_x)
        _ticks(axes.yaxis, log_y)
        axes.grid(True, alpha=0.3)
        axes.legend(fontsize=8)
        return _svg(axes)


# ---------------------------------------------------------------------------------------------
# Figure sets for results (pure functions of their ``to_dict()``)


def estimate_figures(data: Mapping[str, Any]) -> list[str]:
    """The figures an estimate dict has data for.

    Serving: the KV cache against sequence length at the operating batch with the HBM and
    HBM-after-weights lines; plus, when the dict carries them, ``interactivity`` curves and a
    ``roofline`` (the data :func:`planner.comparison.comparison_figure_data` produces).
    """
    figures: list[str] = []
    if data.get("kv_bytes_per_token") and data.get("memory_capacity_bytes"):
        figures.append(_estimate_kv_figure(data))
    figures += _shared_figures(data, str(data.get("system", "")))
    return figures


def _shared_figures(data: Mapping[str, Any], where: str) -> list[str]:
    """Interactivity and roofline figures from ``interactivity``/``roofline`` plot data."""
    figures = []
    inter = data.get("interactivity")
    if inter and inter.get("curves"):
        figures.append(interactivity_plot(
            {k: (v[0], v[1]) for k, v in inter["curves"].items()},
            inter.get("target_tokens_per_s"), inter.get("max_batch"),
            title=f"Interactivity against batch size {where}".strip()))
    roof = data.get("roofline")
    if roof and roof.get("systems"):
        figures.append(roofline_plot(roof["systems"], roof.get("points", []),
                                     title="Roofline of each role on each system"))
    return figures


def _estimate_kv_figure(data: Mapping[str, Any]) -> str:
    """KV against context for the estimate's batch, with the HBM and HBM-after-weights lines."""
    capacity = float(data["memory_capacity_bytes"])
    weights = float(data.get("weights_bytes") or 0.0)
    longest = max(float(data.get("context_tokens") or 0.0) * 1.25, 32768.0)
    contexts = [longest * i / 48 for i in range(1, 49)]
    batch = int(data.get("max_batch") or 0) or 1
    curves = kv_cache_curves(float(data["kv_bytes_per_token"]), [batch], contexts)
    limits = {"HBM of a replica": capacity}
    if weights > 0:
        limits["HBM after weights"] = capacity - weights
    return kv_cache_plot(contexts, curves, limits,
                         title=f"KV cache against sequence length on {data.get('system', '')}")


def plan_figures(data: Mapping[str, Any]) -> list[str]:
    """The figures of a plan (Solution dict): cost breakdown, placement, bottlenecks."""
    figures = []
    breakdown = data.get("cost_breakdown_usd") or {}
    if breakdown:
        figures.append(cost_breakdown_plot({"plan": breakdown}, title="Cost breakdown"))
    if data.get("placements") or data.get("sites"):
        figures.append(placement_plot(data.get("sites", []), data.get("placements", []),
                                      data.get("flows", [])))
    if data.get("bottlenecks"):
        figures.append(bottleneck_plot(data["bottlenecks"]))
    return figures


def comparison_figures(data: Mapping[str, Any]) -> list[str]:
    """Cost per option (split into parts when known), units per role, then the plot data of
    :func:`planner.comparison.comparison_figure_data` (roofline, KV, interactivity)."""
    options = [o for o in data.get("options", []) if o.get("status") == "ok"]
    figures: list[str] = []
    if options:
        parts = {o["option"]: (o.get("cost_breakdown_usd")
                               or {"total": o.get("total_cost_usd") or 0.0}) for o in options}
        figures.append(cost_breakdown_plot(parts, title="Total cost per option"))
        roles = {o["option"]: {str(r["role"]): float(r.get("units") or 0.0)
                               for r in o.get("roles", []) if r.get("units") is not None}
                 for o in options}
        if any(len(r) > 1 for r in roles.values()):
            figures.append(cost_breakdown_plot(roles, title="Units needed per role",
                                               unit="units"))
    extra = data.get("figures") or {}
    kv = extra.get("kv")
    if kv and kv.get("curves"):
        figures.append(kv_cache_plot(kv["context_tokens"], kv["curves"], kv["limits"]))
    return figures + _shared_figures(extra, "")


def sweep_figures(data: Mapping[str, Any]) -> list[str]:
    """One sweep curve per plot spec in the sweep dict (see :mod:`planner.study`)."""
    figures = []
    for spec in data.get("plots", []):
        series = {k: (v[0], v[1]) for k, v in spec["series"].items()}
        figures.append(sweep_plot(series, spec["x_label"], spec["y_label"], spec["title"],
                                  spec.get("log_x", False), spec.get("log_y", False),
                                  spec.get("connect", True)))
    return figures
