"""Build one self-contained HTML report through the Python API.

Compares three systems for reasoning serving, estimates o1-pro-style voting on the cheapest,
plans the RL post-training workload on the default fleet, and writes everything (tables and
figures) into one HTML file::

    python examples/api_report/build_report.py report.html
"""

from __future__ import annotations

import sys
from pathlib import Path

from planner import compare
from planner.api import estimate, optimize  # also planner.estimate / planner.optimize
from planner.report.html import html_page
from planner.report.model import KeyValues, Report
from planner.report.plots import estimate_figures, plan_figures

ROOT = Path(__file__).resolve().parents[2]
SERVE = ROOT / "workloads" / "serve_reasoning.yaml"
POSTTRAIN = ROOT / "workloads" / "o1_posttrain.yaml"


def build() -> Report:
    """One Report made of three results: a comparison, an estimate and a fleet plan."""
    comparison = compare(SERVE, hardware=["dgx-h100", "dgx-h200", "gb200-nvl72"])
    best = comparison.cheapest or "dgx-h100"
    votes = estimate(SERVE, best, overrides=["votes=5", "shared_prefix_fraction=0.9"])
    plan = optimize(POSTTRAIN)
    parts = [comparison.to_report(), votes.to_report(), plan.to_report()]
    summary = KeyValues("Summary", (
        ("cheapest system for serving", best),
        ("5 votes, 90% shared: cost per 1M tokens",
         f"{votes.to_dict()['usd_per_million_tokens']:.2f} USD"),
        ("post-training plan: total cost", f"{plan.to_dict()['total_cost_usd']:,.0f} USD")))
    sections = (summary, *(s for part in parts for s in part.sections))
    figures = (*parts[0].figures, *estimate_figures(votes.to_dict()),
               *plan_figures(plan.to_dict()))
    return Report("Reasoning serving and RL post-training: one report", sections, {}, figures)


def main(argv: list[str]) -> int:
    """Write the report to the path given (default: report.html)."""
    out = Path(argv[1]) if len(argv) > 1 else Path("report.html")
    report = build()
    out.write_text(html_page(report), encoding="utf-8")
    print(f"wrote {out}: {len(report.sections)} sections, {len(report.figures)} figures")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
