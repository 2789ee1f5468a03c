"""The training step as a waterfall: where the seconds of one optimizer step go.

One row per term of ``step.breakdown`` (``planner.perf.training.StepTime.to_dict``): the exposed
seconds as a solid bar starting where the previous term ended, so the bars add up to the step;
communication that ran behind compute as a hatched bar on the same row, not advancing the total;
a last row for the whole step. Terms with neither exposed nor hidden time are left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from planner.report.plots import _color, _figure, _svg

__all__ = ["step_waterfall", "waterfall_rows"]


def waterfall_rows(breakdown: Sequence[Mapping[str, Any]]
                   ) -> list[tuple[str, float, float, float]]:
    """(term, start, exposed, hidden) per drawn row, the start being the exposed seconds of the
    rows above it; terms with no time at all are dropped."""
    rows = []
    start = 0.0
    for part in breakdown:
        exposed, hidden = float(part["exposed_s"]), float(part["hidden_s"])
        if exposed <= 0 and hidden <= 0:
            continue
        rows.append((str(part["term"]), start, exposed, hidden))
        start += exposed
    return rows


def step_waterfall(step: Mapping[str, Any], title: str = "One training step") -> str:
    """SVG waterfall of a step dict with a ``breakdown`` list (see the module docstring)."""
    rows = waterfall_rows(step.get("breakdown", []))
    total = float(step.get("step_s", sum(r[2] for r in rows)))
    height = 1.2 + 0.38 * (len(rows) + 1)
    with _figure(title, figsize=(7.5, height)) as axes:
        labels = [row[0] for row in rows] + ["step"]
        right = total
        for i, (_, start, exposed, hidden) in enumerate(rows):
            axes.barh(i, exposed, left=start, color=_color(i), height=0.6)
            if hidden > 0:
                axes.barh(i, hidden, left=start + exposed, color="none", edgecolor=_color(i),
                          hatch="///", height=0.6)
            text = f" {exposed:.3g} s" + (f" + {hidden:.3g} s hidden" if hidden > 0 else "")
            axes.text(start + exposed + hidden, i, text, va="center", fontsize=8)
            right = max(right, start + exposed + hidden)
        axes.barh(len(rows), total, left=0.0, color="#57606a", height=0.6)
        axes.text(total, len(rows), f" {total:.3g} s", va="center", fontsize=8)
        axes.set_xlim(0.0, right * 1.3)
        axes.set_yticks(range(len(labels)), labels)
        axes.invert_yaxis()
        axes.set_xlabel("seconds (solid: on the critical path; hatched: behind compute)")
        return _svg(axes)
