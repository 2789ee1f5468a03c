"""`planner roadmap`: what to buy, build, rent and retire where, period by period.

A roadmap scenario is a scenario file with ``periods`` (and optionally ``discount_rate``,
``schedule``, ``supply``, ``budget_per_period``: ``planner/workload/timeline.py``). Its inputs
are built by ``planner/roadmap_inputs.py`` and planned by the roadmap LP
(``planner/lp/periods.py``), which is the placement LP of ``planner optimize`` with a period
index. A scenario without periods is one period: the plan and cost are those of
``planner optimize`` (the same LP, solved the same way), written in the roadmap's contract.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from planner.errors import InputError, Problem

__all__ = ["ROADMAP_SCHEMA_VERSION", "RoadmapResult", "run_roadmap"]

ROADMAP_SCHEMA_VERSION = 1
PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class RoadmapResult:
    """A solved roadmap: the JSON contract (README, "planner roadmap") and its reports."""

    data: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """The roadmap's JSON contract."""
        return self.data

    def to_report(self, figures: bool = False) -> Any:
        """Report sections for table, Markdown, CSV and HTML (with plots)."""
        from planner.report.roadmap import roadmap_report

        return roadmap_report(self.data, figures=figures)


def run_roadmap(path: PathLike, *, fleet: PathLike | None = None,
                overrides: tuple[str, ...] | list[str] = (), integer: bool = False,
                budget: str | float | None = None, solver: str = "highs",
                time_limit_s: float | None = None, mip_gap: float = 1e-2,
                objective: str = "cost") -> RoadmapResult:
    """Plan a roadmap scenario (or a plain scenario as one period) at the least NPV."""
    from planner.scenario import _budget
    from planner.workload.load import load_scenario

    if objective != "cost":
        raise InputError(Problem("<options>", "objective",
                                 f"a roadmap minimises its net present value; objective "
                                 f"{objective!r} is not available", "use --objective cost"))
    scenario = load_scenario(path, list(overrides))
    budget_usd = _budget(budget)
    if scenario.timeline is None:
        return _one_period(scenario, fleet, integer, budget, solver, time_limit_s, mip_gap)
    from planner.lp import solve_roadmap
    from planner.roadmap_inputs import prepare_roadmap

    setup = prepare_roadmap(scenario, scenario.timeline,
                            fleet_path=None if fleet is None else os.fspath(fleet),
                            budget_usd=budget_usd)
    data = solve_roadmap(setup.inputs, integer=integer, solver=_solver(solver),
                         time_limit_s=time_limit_s, mip_gap=mip_gap,
                         accelerators=setup.systems, job_kinds=setup.job_kinds)
    return RoadmapResult(_contract(
        data, scenario=scenario.name, fleet=setup.context.fleet, status=data["solver"]["status"],
        discount_rate=scenario.timeline.discount_rate,
        assumptions=[*setup.assumptions, *setup.context.assumptions],
        notes=[*setup.notes, *data.pop("notes", [])]))


def _solver(name: str) -> Any:
    if name not in ("highs", "cbc"):
        raise InputError(Problem("<options>", "solver", f"unknown solver {name!r}",
                                 "use highs or cbc"))
    return name


def _contract(data: dict[str, Any], **head: Any) -> dict[str, Any]:
    """The JSON contract in its documented key order."""
    keys = ("periods", "npv_usd", "cost_by_period_usd", "purchases", "retirements", "rentals",
            "power_buildout", "placements", "capacity", "sites", "bottlenecks", "jobs")
    return {"schema_version": ROADMAP_SCHEMA_VERSION, "kind": "roadmap",
            "scenario": head["scenario"], "fleet": head["fleet"], "status": head["status"],
            "objective": "cost", "discount_rate": head["discount_rate"],
            **{k: data[k] for k in keys}, "assumptions": head["assumptions"],
            "notes": head["notes"], "solver": data["solver"]}


def _one_period(scenario: Any, fleet: PathLike | None, integer: bool,
                budget: str | float | None, solver: str, time_limit_s: float | None,
                mip_gap: float) -> RoadmapResult:
    """A scenario without periods: ``planner optimize``'s plan, as one period."""
    from planner.scenario import build_planning_inputs, plan

    inputs, context = build_planning_inputs(scenario, fleet_path=fleet, budget=budget)
    result = plan(inputs, context, integer=integer, solver=solver, time_limit_s=time_limit_s,
                  mip_gap=mip_gap).to_dict()
    name = "plan"
    parts = dict(result["cost_breakdown_usd"])
    total = float(result["total_cost_usd"])
    data = {
        "periods": [{"name": name, "start": None, "end": None, "discount_factor": 1.0,
                     "seconds": inputs.horizon_s}],
        "npv_usd": total,
        "cost_by_period_usd": [{"period": name, **parts, "total": total, "discount_factor": 1.0,
                                "discounted_total": total}],
        "purchases": [{"period": name, "arrives": name, **row}
                      for row in result.get("purchases", [])],
        "retirements": [],
        "rentals": [{"period": name, **row} for row in result.get("rentals", [])],
        "power_buildout": [],
        "placements": [{"period": name, **{k: row[k] for k in
                                           ("site", "system", "job", "role", "units")}}
                       for row in result["placements"]],
        "capacity": [],
        "sites": [{"period": name, "site": row["site"], "power_used_w": row["power_used_w"],
                   "power_cap_w": row["power_cap_w"]} for row in result["sites"]],
        "bottlenecks": [{"period": name, **row} for row in result["bottlenecks"]],
        "jobs": [{"job": row["job"], "kind": row["kind"], "periods": [name],
                  "work_share_by_period": {name: row.get("progress", 1.0)}}
                 for row in result["jobs"]],
        "solver": result["solver"],
    }
    return RoadmapResult(_contract(data, scenario=scenario.name, fleet=context.fleet,
                                   status=result["status"], discount_rate=0.0,
                                   assumptions=result.get("assumptions", []), notes=[
                                       "no periods: one period, planned as planner optimize "
                                       "plans it (capital amortised over the horizon)"]))
