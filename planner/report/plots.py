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
import itertools
import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
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
    "posttrain_role_figures",
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


def _interpolate_log(xs: Sequence[float], ys: Sequence[float], x: float) -> float | None:
    """y at x on a curve drawn on log-log axes (straight segments in log space)."""
    pairs = sorted((float(a), float(b)) for a, b in zip(xs, ys, strict=True) if a > 0 and b > 0)
    for (x0, y0), (x1, y1) in itertools.pairwise(pairs):
        if x0 <= x <= x1:
            if x1 == x0:
                return y0
            t = math.log(x / x0) / math.log(x1 / x0)
            return math.exp(math.log(y0) + t * (math.log(y1) - math.log(y0)))
    return None


def _readable(value: float) -> str:
    """4,969 rather than 4.97e+03; 0.000208 stays as it is (3 significant digits)."""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


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


LABEL_PT = 7.5
"""Smallest font (points) of any label: 10 CSS px at the SVG's natural size."""

# Offsets (points) tried in turn around an anchor, with the alignment that keeps the text
# clear of the anchor: right, left, above, below, then the diagonals, then further out.
_OFFSETS: tuple[tuple[float, float, str, str], ...] = (
    (6, 0, "left", "center"), (-6, 0, "right", "center"), (0, 6, "center", "bottom"),
    (0, -6, "center", "top"), (6, 6, "left", "bottom"), (-6, 6, "right", "bottom"),
    (6, -6, "left", "top"), (-6, -6, "right", "top"), (16, 0, "left", "center"),
    (-16, 0, "right", "center"), (0, 16, "center", "bottom"), (0, -16, "center", "top"),
    (16, 12, "left", "bottom"), (-16, 12, "right", "bottom"), (16, -12, "left", "top"),
    (-16, -12, "right", "top"),
)


class _LabelPlacer:
    """Puts annotations next to their anchors where they overlap no label placed before.

    Each label tries the offsets of :data:`_OFFSETS` in turn and keeps the first whose box
    (measured by the Agg renderer after the layout is fixed) overlaps no earlier label and stays
    inside the figure; when none does, the one with the least overlap. Boxes registered with
    :meth:`block` (e.g. site markers) are avoided too.
    """

    def __init__(self, axes: Any) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        self.axes = axes
        figure = axes.figure
        if not isinstance(figure.canvas, FigureCanvasAgg):
            FigureCanvasAgg(figure)
        figure.draw_without_rendering()  # fix the constrained layout before measuring
        self.renderer = figure.canvas.get_renderer()
        self.bounds = figure.bbox
        self.taken: list[Any] = []

    def block(self, artist: Any) -> None:
        self.taken.append(artist.get_window_extent(self.renderer).padded(1.0))

    def block_arc(self, start: tuple[float, float], end: tuple[float, float],
                  rad: float) -> None:
        """Keep labels off an ``arc3`` arrow: small boxes at 24 points along its curve."""
        from matplotlib.transforms import Bbox

        (x0, y0), (x2, y2) = (self.axes.transData.transform(p) for p in (start, end))
        cx = (x0 + x2) / 2 + rad * (y2 - y0)
        cy = (y0 + y2) / 2 - rad * (x2 - x0)
        for i in range(1, 24):
            t = i / 24
            x = (1 - t) ** 2 * x0 + 2 * (1 - t) * t * cx + t**2 * x2
            y = (1 - t) ** 2 * y0 + 2 * (1 - t) * t * cy + t**2 * y2
            self.taken.append(Bbox.from_extents(x - 2.5, y - 2.5, x + 2.5, y + 2.5))

    def block_marker(self, xy: tuple[float, float], area_pt2: float) -> None:
        """Keep labels off a scatter marker of ``area_pt2`` (matplotlib's ``s``) at ``xy``."""
        from matplotlib.transforms import Bbox

        x, y = self.axes.transData.transform(xy)
        radius = math.sqrt(area_pt2) / 2 * self.axes.figure.dpi / 72 + 2.0
        self.taken.append(Bbox.from_extents(x - radius, y - radius, x + radius, y + radius))

    def place(self, text: str, xy: tuple[float, float], color: str = "#1b1f24",
              fontsize: float = LABEL_PT, offsets: Sequence[tuple[float, float, str, str]]
              = _OFFSETS, xycoords: Any = "data") -> Any:
        best: tuple[float, Any] | None = None
        for dx, dy, ha, va in offsets:
            label = self.axes.annotate(text, xy, xycoords=xycoords, textcoords="offset points",
                                       xytext=(dx, dy), ha=ha, va=va, fontsize=fontsize,
                                       color=color, zorder=5)
            box = label.get_window_extent(self.renderer).padded(1.5)
            overlap = sum(_overlap(box, other) for other in self.taken)
            outside = box.width * box.height - _overlap(box, self.bounds)
            cost = overlap + 4 * max(outside, 0.0)
            if best is None or cost < best[0]:
                if best is not None:
                    best[1].remove()
                best = (cost, label)
            else:
                label.remove()
            if cost <= 0:
                break
        assert best is not None
        self.taken.append(best[1].get_window_extent(self.renderer).padded(1.5))
        return best[1]


def _overlap(a: Any, b: Any) -> float:
    width = min(a.x1, b.x1) - max(a.x0, b.x0)
    height = min(a.y1, b.y1) - max(a.y0, b.y0)
    return width * height if width > 0 and height > 0 else 0.0


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
        drawn = [(point, colors.get(point.get("system", ""), "#000000")) for point in points
                 if _draw_role(axes, point, colors.get(point.get("system", ""), "#000000"))]
        axes.set_xscale("log")
        axes.set_yscale("log")
        axes.set_xlabel("arithmetic intensity (FLOP/byte)")
        axes.set_ylabel("FLOP/s per accelerator")
        legend = axes.legend(loc="lower right", fontsize=8)
        placer = _LabelPlacer(axes)
        placer.block(legend)
        for point, color in drawn:
            placer.place(str(point.get("label", "")),
                         (point["intensity_flops_per_byte"], point["flops_per_s"]), color)
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


def _draw_role(axes: Any, point: Mapping[str, Any], color: str) -> bool:
    """The role's dot; its label is placed later, clear of the others. False if not drawn."""
    x, y = point.get("intensity_flops_per_byte"), point.get("flops_per_s")
    if x is None or y is None or not (x > 0 and y > 0):
        return False
    axes.plot([x], [y], marker="o", color=color, linestyle="none")
    return True


def kv_cache_curves(kv_bytes_per_token: float, batches: Sequence[int],
                    context_tokens: Sequence[float]) -> dict[str, list[float]]:
    """KV cache bytes against context for each batch: batch × seq × KV bytes per token.

    The GQA formula of docs/performance-model.md (the source article's memory chart): KV bytes per
    token = 2 · layers · kv_heads · head_dim · bytes per element, times batch and sequence.
    """
    return {f"batch {b}": [b * s * kv_bytes_per_token for s in context_tokens] for b in batches}


@dataclass(frozen=True, slots=True)
class ReplicaKv:
    """A serving replica's memory as an estimate reports it: its HBM, the weights it holds and
    the KV cache its batch stores at the decode context (every attention replica of an
    expert-parallel group together)."""

    capacity_bytes: float
    weights_bytes: float
    kv_bytes: float
    context_tokens: float
    label: str

    @classmethod
    def from_estimate(cls, data: Mapping[str, Any]) -> ReplicaKv:
        """From a serve estimate's JSON; estimates without ``kv_bytes_per_replica`` give batch
        x context x KV bytes per token beside the whole model's weights."""
        capacity = float(data.get("memory_capacity_bytes") or 0.0)
        batch = int(data.get("max_batch") or 0) or 1
        context = float(data.get("context_tokens") or 0.0)
        parallelism = data.get("parallelism") or {}
        replicas = int(parallelism.get("dp_attention") or 1)
        kv = data.get("kv_bytes_per_replica")
        if kv is None or data.get("memory_bytes_per_replica") is None:
            kv = batch * context * float(data["kv_bytes_per_token"])
            weights = float(data.get("weights_bytes") or 0.0)
        else:
            kv = float(kv)
            weights = float(data["memory_bytes_per_replica"]) - kv
        label = (f"batch {batch} x {replicas} attention replicas" if replicas > 1
                 else f"batch {batch}")
        return cls(capacity, weights, kv, context, label)

    def kv_at(self, contexts: Sequence[float]) -> list[float]:
        """The same batch's KV at other context lengths (linear in the context)."""
        if self.context_tokens <= 0:
            return [0.0 for _ in contexts]
        return [self.kv_bytes * s / self.context_tokens for s in contexts]


def kv_cache_plot(context_tokens: Sequence[float], curves: Mapping[str, Sequence[float]],
                  limits: Mapping[str, float], title: str = "KV cache against sequence length",
                  weights_bytes: float = 0.0,
                  operating_point: tuple[float, float] | None = None) -> str:
    """The article's chart: KV cache size against sequence length with the HBM limit lines.

    ``curves`` maps a label (e.g. "batch 32") to KV bytes at each context length; ``limits``
    maps a label (e.g. "HBM 640 GB", "HBM after weights") to a byte level drawn as a line.
    ``weights_bytes`` > 0 adds the weights to each curve as a dashed "weights + KV" line;
    ``operating_point`` (tokens, bytes) marks where the workload runs.
    """
    with _figure(title) as axes:
        if operating_point is not None:
            tokens, size = operating_point
            axes.plot([tokens], [size / GB], marker="D", color="#1b1f24", linestyle="none",
                      markersize=6, zorder=5,
                      label=f"operating point: {tokens:,.0f} tokens, {size / GB:,.0f} GB")
        for i, (name, values) in enumerate(curves.items()):
            axes.plot(context_tokens, [v / GB for v in values], color=_color(i), label=name)
            if weights_bytes > 0:
                axes.plot(context_tokens, [(v + weights_bytes) / GB for v in values],
                          color=_color(i), linestyle="--", linewidth=1.0,
                          label=f"{name} + weights")
        top = max([*limits.values(), 0.0]) / GB
        placed: list[float] = []
        for j, (name, level) in enumerate(sorted(limits.items(), key=lambda kv: -kv[1])):
            axes.axhline(level / GB, color="#57606a", linestyle=(0, (4, 2 + 2 * j)),
                         linewidth=1.2)
            # a label within 6% of the axis of one above it goes below its own line
            crowded = any(abs(level / GB - other) < 0.06 * top * 1.6 for other in placed)
            axes.annotate(f"{name}: {level / GB:,.0f} GB", (0.99, level / GB),
                          xycoords=("axes fraction", "data"), textcoords="offset points",
                          xytext=(0, -11 if crowded else 3), fontsize=8, color="#57606a",
                          ha="right")
            placed.append(level / GB)
        axes.set_xlabel("sequence length (tokens)")
        axes.set_ylabel("memory (GB)")
        axes.set_ylim(0, top * 1.6 if top > 0 else None)  # keep the limits in view
        axes.legend(loc="upper left", fontsize=8)
        return _svg(axes)


def interactivity_plot(curves: Mapping[str, tuple[Sequence[float], Sequence[float]]],
                       target_tokens_per_s: float | None = None,
                       max_batch: Mapping[str, float] | None = None,
                       title: str = "Interactivity against batch size") -> str:
    """Tokens/s per user against batch size, one curve of (batches, rates) per case.

    Interactivity = 1 / decode step time (docs/performance-model.md); the largest batch whose curve
    stays above the target line is the max batch at that target; ``max_batch`` marks the
    operating batch of each case (which HBM capacity may hold below the curve's crossing).
    """
    with _figure(title) as axes:
        for i, (name, (xs, ys)) in enumerate(curves.items()):
            axes.plot(xs, ys, color=_color(i), label=name, marker="o", markersize=2.5)
            if max_batch and max_batch.get(name, 0.0) > 0:
                axes.axvline(max_batch[name], color=_color(i), linestyle=":", linewidth=1.0)
                rate = _interpolate_log(xs, ys, max_batch[name])
                if rate is not None:
                    axes.plot([max_batch[name]], [rate], marker="D", markersize=6,
                              color=_color(i), linestyle="none", zorder=5,
                              label=f"{name}: operating point, batch {max_batch[name]:,.0f} "
                                    f"at {rate:,.3g} tokens/s per user")
                axes.annotate(f"max batch {max_batch[name]:,.0f}", (max_batch[name], 0.97),
                              xycoords=("data", "axes fraction"), rotation=90, fontsize=LABEL_PT,
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
        axes.figure.legend(loc="outside lower center", fontsize=LABEL_PT, ncols=min(len(names), 5),
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
                   title: str = "Placement on the site graph",
                   links: Sequence[Mapping[str, Any]] = ()) -> str:
    """Sites (sized by power used) with the flows between them, and every placement listed.

    ``sites``: {site, power_used_w, power_cap_w, optionally lat and lon in degrees};
    ``placements``: {site, system, job, role, units}; ``flows``: {from, to, kind, bytes};
    ``links``: {a, b, bandwidth_bytes_per_s} drawn as grey lines under the flows.
    Sites with coordinates are drawn where they are (equirectangular, longitude scaled by the
    cosine of the mean latitude); otherwise on a circle, said in the panel's title. Arrow width
    grows with the log of the bytes; labels are placed clear of each other
    (:class:`_LabelPlacer`). The right-hand panel lists every placement of every site.
    """
    import matplotlib
    from matplotlib.figure import Figure

    names = sorted({s["site"] for s in sites} | {p["site"] for p in placements}
                   | {f["from"] for f in flows} | {f["to"] for f in flows}
                   | {k["a"] for k in links} | {k["b"] for k in links})
    listing = _placement_lines(names, placements)
    height = max(4.6, 0.9 + 0.17 * len(listing))
    with matplotlib.rc_context(_RC):
        figure = Figure(figsize=(10.0, height), layout="constrained")
        grid = figure.add_gridspec(1, 2, width_ratios=(3, 2))
        axes = figure.add_subplot(grid[0, 0])
        side = figure.add_subplot(grid[0, 1])
        figure.suptitle(title, fontsize=11.0)
        side.axis("off")
        axes.axis("off")
        if not names:
            _empty(axes, "nothing placed")
            return _svg(axes)
        where, geographic = _site_layout(names, sites)
        axes.set_title("sites at their coordinates" if geographic
                       else "sites on a circle (no coordinates in the fleet)", fontsize=8.5)
        xs = [xy[0] for xy in where.values()]
        ys = [xy[1] for xy in where.values()]
        pad_x = max(0.25 * (max(xs) - min(xs)), 0.5)
        pad_y = max(0.25 * (max(ys) - min(ys)), 0.5)
        axes.set_xlim(min(xs) - pad_x, max(xs) + pad_x)
        axes.set_ylim(min(ys) - pad_y, max(ys) + pad_y)
        power = {s["site"]: s for s in sites}
        for link in links:
            (x1, y1), (x2, y2) = where[link["a"]], where[link["b"]]
            axes.plot([x1, x2], [y1, y2], color="#afb8c1", linewidth=1.0, linestyle="--",
                      zorder=1)
        areas = [_draw_site(axes, where[name], power.get(name, {})) for name in names]
        arrows = _draw_flows(axes, flows, where)
        placer = _LabelPlacer(axes)
        for name, area in zip(names, areas, strict=True):
            placer.block_marker(where[name], area)
        for flow in flows:
            if float(flow.get("bytes", 0.0)) > 0 and flow["from"] != flow["to"]:
                placer.block_arc(where[flow["from"]], where[flow["to"]], _ARC_RAD)
        for name in names:
            site = power.get(name, {})
            cap = float(site.get("power_cap_w") or 0.0)
            used = float(site.get("power_used_w") or 0.0)
            text = name + (f"\n{used / 1e6:,.3g} of {cap / 1e6:,.3g} MW" if cap > 0 else "")
            placer.place(text, where[name])
        for (x, y), text, color in arrows:
            placer.place(text, (x, y), color, offsets=_OFFSETS[:4] + _OFFSETS[8:12])
        if links:
            side.text(0.0, 0.0, "dashed grey: the fleet's links; arrows: data the plan moves",
                      transform=side.transAxes, fontsize=LABEL_PT, color="#57606a",
                      va="bottom")
        _draw_listing(side, listing)
        return _svg(axes)


def _site_layout(names: Sequence[str], sites: Sequence[Mapping[str, Any]]
                 ) -> tuple[dict[str, tuple[float, float]], bool]:
    """Positions by latitude and longitude when every site has them, else on a circle."""
    located = {s["site"]: (float(s["lon"]), float(s["lat"])) for s in sites
               if s.get("lat") is not None and s.get("lon") is not None}
    if names and all(n in located for n in names):
        mean_lat = sum(located[n][1] for n in names) / len(names)
        scale = math.cos(math.radians(mean_lat))
        return {n: (located[n][0] * scale, located[n][1]) for n in names}, True
    return _circle(names), False


def _placement_lines(names: Sequence[str], placements: Sequence[Mapping[str, Any]]
                     ) -> list[tuple[str, bool]]:
    """(text, is_heading) lines: each site, then what runs there, one placement a line."""
    lines: list[tuple[str, bool]] = []
    for name in names:
        here = [p for p in placements if p["site"] == name and float(p.get("units", 0.0)) > 0]
        if not here:
            continue
        lines.append((name, True))
        for p in sorted(here, key=lambda p: (str(p.get("job")), str(p.get("role")),
                                              str(p.get("system")))):
            units = float(p["units"])
            what = "CPU cores" if p.get("system") == "cpu" else f"× {p.get('system', '')}"
            lines.append((f"{p.get('job', '')}/{p.get('role', '')}: {_compact(units)} {what}",
                          False))
    return lines or [("nothing placed", False)]


def _draw_listing(side: Any, lines: Sequence[tuple[str, bool]]) -> None:
    """The lines from the top of the panel down, 11.5 points apart."""
    from matplotlib.transforms import offset_copy

    side.set_title("what runs where (units)", fontsize=8.5, loc="left")
    for i, (text, heading) in enumerate(lines):
        where = offset_copy(side.transAxes, fig=side.figure, x=0.0 if heading else 10.0,
                            y=-11.5 * (i + 1) - (4.0 if heading and i else 0.0), units="points")
        side.text(0.0, 1.0, text, transform=where, fontsize=LABEL_PT, va="center",
                  fontweight="bold" if heading else "normal")


def _circle(names: Sequence[str]) -> dict[str, tuple[float, float]]:
    """Evenly spaced points on the unit circle, the first at the top (a stable layout)."""
    count = len(names)
    if count == 1:
        return {names[0]: (0.0, 0.0)}
    return {name: (math.sin(2 * math.pi * i / count), math.cos(2 * math.pi * i / count))
            for i, name in enumerate(names)}


_ARC_RAD = 0.12


def _draw_flows(axes: Any, flows: Sequence[Mapping[str, Any]],
                where: Mapping[str, tuple[float, float]]
                ) -> list[tuple[tuple[float, float], str, str]]:
    """Arrows for the flows; returns (anchor, text, colour) of each pair's labels to place.

    matplotlib's arc3 puts the control point at mid + rad·(dy, -dx); the curve passes half-way
    there, so a label anchored there sits on its own arc and two directions do not share one.
    Flows of several kinds between the same two sites share one label, a line per kind.
    """
    kinds = sorted({str(f.get("kind", "")) for f in flows})
    labels: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for flow in flows:
        size = float(flow.get("bytes", 0.0))
        if size <= 0 or flow["from"] == flow["to"]:
            continue
        color = _color(kinds.index(str(flow.get("kind", ""))) + 3)
        width = 0.6 + max(0.0, math.log10(size) - 9.0) * 0.5  # 1 GB -> 0.6 pt, 1 PB -> 3.6 pt
        axes.annotate("", where[flow["to"]], xytext=where[flow["from"]],
                      arrowprops={"arrowstyle": "-|>", "color": color, "lw": width,
                                  "shrinkA": 9, "shrinkB": 9,
                                  "connectionstyle": f"arc3,rad={_ARC_RAD}"})
        labels.setdefault((flow["from"], flow["to"]), []).append(
            (f"{flow.get('kind', '')} {_size_text(size)}", color))
    out = []
    for (start, end), texts in labels.items():
        (x1, y1), (x2, y2) = where[start], where[end]
        anchor = ((x1 + x2) / 2 + _ARC_RAD / 2 * (y2 - y1),
                  (y1 + y2) / 2 - _ARC_RAD / 2 * (x2 - x1))
        out.append((anchor, "\n".join(t for t, _ in texts), texts[0][1]))
    return out


def _size_text(size_bytes: float) -> str:
    from planner.units import Dimension, format_quantity

    return format_quantity(size_bytes, Dimension.SIZE)


def _draw_site(axes: Any, xy: tuple[float, float], site: Mapping[str, Any]) -> float:
    """The site's marker, its area (points², returned) growing with the power cap in use."""
    used = float(site.get("power_used_w") or 0.0)
    cap = float(site.get("power_cap_w") or 0.0)
    area = 60 + 500 * min(used / cap if cap > 0 else 0.0, 1.0)
    axes.scatter([xy[0]], [xy[1]], s=area, color="#ddf4ff", edgecolors="#1f6feb", zorder=3)
    return area


def bottleneck_plot(bottlenecks: Sequence[Mapping[str, Any]],
                    title: str = "Bottlenecks: shadow prices of binding constraints") -> str:
    """Horizontal bars of each binding constraint's shadow price, one panel per unit.

    A shadow price (dual value) is what one more unit of the resource would save in the
    objective; units differ by kind (USD per MW-day, per core-hour, per unit, ...), and prices
    in different units cannot share an axis, so each unit gets its own panel with its own
    linear axis labelled with that unit. At most 15 constraints, the largest first per unit.
    """
    import matplotlib
    from matplotlib.figure import Figure

    rows = [b for b in bottlenecks if b.get("shadow_price") and abs(b["shadow_price"]) > 0][:15]
    units = list(dict.fromkeys(str(b.get("shadow_price_unit", "")) for b in rows))
    heights = [1.0 + 0.3 * sum(str(b.get("shadow_price_unit", "")) == u for b in rows)
               for u in units] or [2.0]
    with matplotlib.rc_context(_RC):
        figure = Figure(figsize=(FIGSIZE_IN[0], 0.5 + sum(heights)), layout="constrained")
        figure.suptitle(title, fontsize=11.0)
        if not rows:
            axes = figure.add_subplot()
            _empty(axes, "no binding constraint with a shadow price")
            return _svg(axes)
        panels = figure.subplots(len(units), 1, height_ratios=heights, squeeze=False)[:, 0]
        for i, (axes, unit) in enumerate(zip(panels, units, strict=True)):
            mine = sorted((b for b in rows if str(b.get("shadow_price_unit", "")) == unit),
                          key=lambda b: -abs(float(b["shadow_price"])))
            values = [abs(float(b["shadow_price"])) for b in mine]
            axes.barh([str(b.get("constraint", "")) for b in mine], values, color=_color(i))
            for y, b in enumerate(mine):
                axes.annotate(_readable(float(b["shadow_price"])), (values[y], y),
                              textcoords="offset points", xytext=(3, 0), va="center",
                              fontsize=LABEL_PT)
            axes.set_xlim(0, max(values) * 1.25)
            axes.set_xlabel(f"shadow price ({unit})" if unit else "shadow price")
            _ticks(axes.xaxis, log=False)
            axes.invert_yaxis()
        return _svg(panels[0])


def sweep_plot(series: Mapping[str, tuple[Sequence[float], Sequence[float]]], x_label: str,
               y_label: str, title: str, log_x: bool = False, log_y: bool = False,
               connect: bool = True, caption: str = "") -> str:
    """Sweep curves: one line per series of (x, y) points sorted by x (failed scenarios are
    simply absent); ``connect=False`` draws points only (random designs, where other
    parameters vary along a series). ``caption`` (e.g. the parameters held at their first
    value) is printed under the plot, wrapped to its width."""
    with _figure(title) as axes:
        if caption:
            import textwrap

            axes.figure.text(0.01, 0.005, textwrap.fill(caption, 120), fontsize=LABEL_PT,
                             color="#57606a", ha="left", va="bottom")
            axes.figure.get_layout_engine().set(rect=(0, 0.07 * (1 + len(caption) // 120), 1,
                                                      1 - 0.07 * (1 + len(caption) // 120)))
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
    ``roofline`` (the data :func:`planner.comparison_figures.comparison_figure_data` produces).
    """
    figures: list[str] = []
    if data.get("kv_bytes_per_token") and data.get("memory_capacity_bytes"):
        figures.append(_estimate_kv_figure(data))
    if data.get("kind") == "posttrain" and data.get("roles"):
        figures += posttrain_role_figures(data)
    figures += _shared_figures(data, str(data.get("system", "")))
    return figures


_ROLE_FLOPS = {"generate": "generation_flops", "score": "scoring_flops", "update": "update_flops"}


def posttrain_role_figures(data: Mapping[str, Any]) -> list[str]:
    """Post-training on one system: each role's throughput per unit, and its share of the
    units (accelerator time) beside its share of the FLOP.

    ``data`` is a posttrain estimate dict: ``roles`` with ``role``, ``throughput_per_unit``,
    ``work_unit`` and ``units_needed``; ``generation_flops``, ``scoring_flops``,
    ``update_flops`` (the verifier runs on CPU cores and does no accelerator FLOP).
    """
    import matplotlib
    from matplotlib.figure import Figure

    system = str(data.get("system", ""))
    roles = [r for r in data.get("roles", []) if r.get("throughput_per_unit")]
    figures = []
    with _figure(f"Work per unit per second, by role, on {system}",
                 (FIGSIZE_IN[0], 1.2 + 0.45 * max(len(roles), 2))) as axes:
        names = [str(r["role"]) for r in roles]
        values = [float(r["throughput_per_unit"]) for r in roles]
        axes.barh(names, values, color=[_color(i) for i in range(len(roles))])
        axes.set_xscale("log")
        for y, r in enumerate(roles):
            axes.annotate(f"{_readable(values[y])} {r.get('work_unit', '')}/s per unit",
                          (values[y], y), textcoords="offset points", xytext=(3, 0),
                          va="center", fontsize=LABEL_PT)
        axes.set_xlim(min(values) / 2, max(values) * 20)
        axes.set_xlabel("throughput per unit (work/s, log scale; unit of work per bar)")
        axes.invert_yaxis()
        figures.append(_svg(axes))
    on_units = [r for r in roles if r.get("units_needed")]
    total_units = sum(float(r["units_needed"]) for r in on_units)
    flops = {r["role"]: float(data.get(_ROLE_FLOPS.get(str(r["role"]), ""), 0.0) or 0.0)
             for r in on_units}
    total_flops = sum(flops.values())
    if total_units > 0:
        with matplotlib.rc_context(_RC):
            figure = Figure(figsize=(FIGSIZE_IN[0], 1.6 + 0.5 * len(on_units)),
                            layout="constrained")
            axes = figure.add_subplot()
            axes.set_title(f"Share of each role on {system}: units (time) and FLOP")
            names = [str(r["role"]) for r in on_units]
            ys = list(range(len(names)))
            time_share = [100 * float(r["units_needed"]) / total_units for r in on_units]
            flop_share = [100 * flops[r["role"]] / total_flops if total_flops else 0.0
                          for r in on_units]
            axes.barh([y - 0.2 for y in ys], time_share, height=0.4, color=_color(0),
                      label="share of units (accelerator time)")
            axes.barh([y + 0.2 for y in ys], flop_share, height=0.4, color=_color(2),
                      label="share of accelerator FLOP")
            for y, (a, b) in enumerate(zip(time_share, flop_share, strict=True)):
                axes.annotate(f"{a:.0f}%", (a, y - 0.2), textcoords="offset points",
                              xytext=(3, 0), va="center", fontsize=LABEL_PT)
                axes.annotate(f"{b:.0f}%", (b, y + 0.2), textcoords="offset points",
                              xytext=(3, 0), va="center", fontsize=LABEL_PT)
            axes.set_yticks(ys, names)
            axes.set_xlim(0, 115)
            axes.set_xlabel("share (%)")
            axes.invert_yaxis()
            axes.legend(loc="lower right", fontsize=8)
            figures.append(_svg(axes))
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
    replica = ReplicaKv.from_estimate(data)
    longest = max(replica.context_tokens * 1.25, 32768.0)
    contexts = [longest * i / 48 for i in range(49)]  # from 0, through the operating point
    curves = {replica.label: replica.kv_at(contexts)}
    limits = {"HBM of a replica": replica.capacity_bytes}
    if replica.weights_bytes > 0:
        limits["HBM after weights"] = replica.capacity_bytes - replica.weights_bytes
    point = ((replica.context_tokens, replica.kv_bytes) if replica.context_tokens > 0
             else None)
    return kv_cache_plot(contexts, curves, limits,
                         title=f"KV cache against sequence length on {data.get('system', '')}",
                         operating_point=point)


def plan_figures(data: Mapping[str, Any]) -> list[str]:
    """The figures of a plan (Solution dict): cost breakdown, placement, bottlenecks."""
    figures = []
    breakdown = data.get("cost_breakdown_usd") or {}
    if breakdown:
        figures.append(cost_breakdown_plot({"plan": breakdown}, title="Cost breakdown"))
    if data.get("placements") or data.get("sites"):
        figures.append(placement_plot(data.get("sites", []), data.get("placements", []),
                                      data.get("flows", []), links=data.get("links", [])))
    if data.get("bottlenecks"):
        figures.append(bottleneck_plot(data["bottlenecks"]))
    return figures


def comparison_figures(data: Mapping[str, Any]) -> list[str]:
    """Cost per option (split into parts when known), units per role, then the plot data of
    :func:`planner.comparison_figures.comparison_figure_data` (roofline, KV, interactivity)."""
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
                                  spec.get("connect", True), spec.get("caption", "")))
    return figures
