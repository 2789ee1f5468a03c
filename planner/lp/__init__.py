"""The placement optimizer: planning inputs in, a solved plan (or a diagnosis) out.

Only this package imports PuLP (and, through it, highspy), always inside functions, so that
``import planner`` stays fast. Steps: check the inputs, build the LP (``build``), solve it
(``solve``), read values, costs and duals back (``extract``, ``bottlenecks``); infeasible inputs
get a diagnosis (``diagnose``).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from planner.errors import InfeasibleError, InputError, Problem
from planner.lp.build import Objective, build_lp
from planner.lp.diagnose import diagnose, precheck
from planner.lp.extract import extract_solution
from planner.lp.inputs import (
    CpuServerInput,
    EconomicsInput,
    JobInput,
    LinkInput,
    PlanningInputs,
    RlCoupling,
    RoleInput,
    ServeDemand,
    SiteInput,
    SystemInput,
    check_inputs,
)
from planner.lp.solution import Solution
from planner.lp.solve import MIP_REL_GAP, SolverName, solve_lp

if TYPE_CHECKING:  # the roadmap's LP is imported by solve_roadmap, not by every plan
    from planner.lp.periods import RoadmapInputs

__all__ = [
    "CpuServerInput",
    "EconomicsInput",
    "JobInput",
    "LinkInput",
    "PlanningInputs",
    "RlCoupling",
    "RoleInput",
    "ServeDemand",
    "SiteInput",
    "Solution",
    "SystemInput",
    "optimize",
    "solve_roadmap",
]

_OBJECTIVES = ("cost", "time")
_SOLVERS = ("highs", "cbc")


def optimize(inputs: PlanningInputs, *, objective: Objective = "cost", integer: bool = False,
             solver: SolverName = "highs", time_limit_s: float | None = None,
             dump_lp: str | os.PathLike[str] | None = None,
             mip_gap: float = MIP_REL_GAP, one_stage: bool = False) -> Solution:
    """Find the cheapest (or fastest, within budget) placement of every job on the fleet.

    Raises ``InputError`` for an inconsistent table, ``InfeasibleError`` (with a diagnosis of
    what is short, where and by how much) and ``SolverError`` for solver failures or time limits
    without a solution. ``dump_lp`` writes the model in LP format before solving. ``mip_gap``
    is the relative gap at which a MILP stops (``integer``); the gap reached is reported.
    ``one_stage`` solves an integer plan's whole placements in one MILP instead of two stages
    (:mod:`planner.lp.two_stage`): the requested gap is then proved, at a cost in time.
    """
    _check_options(objective, solver, time_limit_s, mip_gap)
    problems = check_inputs(inputs)
    if objective == "time" and all(job.serve is not None for job in inputs.jobs):
        problems.append(Problem("<options>", "objective",
                                "the time objective needs a pretraining or post-training job "
                                "(serving has no finish time)", "use the cost objective"))
    if problems:
        raise InputError(problems)
    if precheck(inputs):
        raise diagnose(inputs, objective=objective, integer=integer, solver=solver,
                       time_limit_s=time_limit_s)
    m = build_lp(inputs, objective=objective, integer=integer)
    outcome = solve_lp(m, solver=solver, time_limit_s=time_limit_s, dump_lp=dump_lp,
                       mip_gap=mip_gap, two_stages=not one_stage)
    if outcome.status == "infeasible":
        raise diagnose(inputs, objective=objective, integer=integer, solver=solver,
                       time_limit_s=time_limit_s)
    solution = extract_solution(m, outcome)
    if objective == "time" and solution.objective_value <= NO_PROGRESS:
        # No job can make any progress (e.g. a budget of 1 USD): there is no finish time to
        # report, so the cost objective's diagnosis names what is short, as for
        # `--objective cost`. A multiplier between 0 and 1 is an answer: the jobs finish after
        # their deadlines, and each job's finish is reported.
        raise diagnose(inputs, objective="cost", integer=integer, solver=solver,
                       time_limit_s=time_limit_s)
    return solution


def solve_roadmap(ri: RoadmapInputs, *, integer: bool = False, solver: SolverName = "highs",
                  time_limit_s: float | None = None, mip_gap: float = MIP_REL_GAP,
                  accelerators: dict[str, int] | None = None,
                  job_kinds: dict[str, str] | None = None) -> dict[str, Any]:
    """Plan capacity over the roadmap's periods at the least net present value
    (``planner.lp.periods``); returns the roadmap's JSON contract less the scenario's names.

    Raises ``InputError`` for an inconsistent period table, ``InfeasibleError`` naming the
    first period whose demand cannot be met even with everything that could be on hand
    (or, when each period alone can be met, the budget or the carry-over between periods).
    """
    from planner.lp.periods import build_roadmap_lp
    from planner.lp.periods_extract import roadmap_solution

    _check_options("cost", solver, time_limit_s, mip_gap)
    if all(period.inputs is None for period in ri.periods):
        raise InputError(Problem("<roadmap>", "schedule", "no job runs in any period: every "
                                 "job's window lies outside the periods and no serving "
                                 "demand is positive",
                                 "move the schedule's windows inside the periods, or add "
                                 "periods"))
    problems = [Problem(f"<period {period.name}>", p.path, p.message, p.hint)
                for period in ri.periods if period.inputs is not None
                for p in check_inputs(period.inputs)]
    if problems:
        raise InputError(problems)
    rm = build_roadmap_lp(ri, integer=integer)
    # one stage: in two (planner.lp.two_stage) the bundled roadmap took a third of the time
    # for a plan 1.1 % dearer, outside its 1 % gap (benchmarks/README.md, "MILP")
    outcome = solve_lp(rm.lp, solver=solver, time_limit_s=time_limit_s, mip_gap=mip_gap,
                       two_stages=False)
    if outcome.status == "infeasible":
        raise _roadmap_infeasible(ri, solver, time_limit_s)
    data = roadmap_solution(rm, outcome, accelerators or {}, job_kinds or {})
    data["solver"] = {"name": outcome.solver, "status": outcome.status,
                      "seconds": outcome.seconds, "variables": outcome.variables,
                      "constraints": outcome.constraints, "integer": integer,
                      "mip_gap": outcome.mip_gap, "method": outcome.method}
    data["notes"] = list(outcome.notes)
    return data


def _roadmap_infeasible(ri: RoadmapInputs, solver: SolverName,
                        time_limit_s: float | None) -> InfeasibleError:
    """Which period cannot be planned: each period's block alone, with every unit that could
    be on hand then owned and every MW that could be built online, is diagnosed in order."""
    for t, period in enumerate(ri.periods):
        if period.inputs is None:
            continue
        try:
            optimize(_most_on_hand(ri, t), solver=solver, time_limit_s=time_limit_s)
        except InfeasibleError as err:
            return InfeasibleError(f"period {period.name}: {err}", err.diagnosis, err.details)
    if ri.budget_npv_usd is not None or ri.budget_per_period_usd is not None:
        import dataclasses

        free = dataclasses.replace(ri, budget_npv_usd=None, budget_per_period_usd=None)
        try:
            data = solve_roadmap(free, solver=solver, time_limit_s=time_limit_s)
        except InfeasibleError:
            pass
        else:
            spend = max(row["total"] - row["remaining_value"]
                        for row in data["cost_by_period_usd"])
            return InfeasibleError(
                "the budget cannot pay for the roadmap: without it the cheapest roadmap costs "
                f"{data['npv_usd']:,.0f} USD (NPV) and spends up to {spend:,.0f} USD in one "
                "period", ["raise --budget or budget_per_period, or lower the demand"])
    return InfeasibleError(
        "no roadmap meets every period: each period alone can be met, but not together "
        "(units carried over, lead times, the job windows or the budget)",
        ["raise the budget, allow purchases earlier (lead times) or widen the job windows"])


def _most_on_hand(ri: RoadmapInputs, t: int) -> PlanningInputs:
    """Period t's inputs with every unit that could be on hand then owned (units of its life
    plus every order that could be in service) and nothing else bought."""
    import dataclasses
    import math

    inputs = ri.periods[t].inputs
    assert inputs is not None
    most: dict[str, dict[str, int]] = {}
    for pool in ri.pools:
        n = pool.initial[t] + sum(pool.limit[tau] for tau in range(len(ri.periods))
                                  if pool.price_usd[tau] is not None and pool.in_service[tau][t])
        if n >= 1:
            most.setdefault(pool.site, {})[pool.system] = math.ceil(n)
    sites = tuple(dataclasses.replace(s, inventory=most.get(s.id, {}), purchase_limits={})
                  for s in inputs.sites)
    return dataclasses.replace(inputs, sites=sites)


# A time-objective multiplier at or below this means no job can make progress at all.
NO_PROGRESS = 1e-9


def _check_options(objective: str, solver: str, time_limit_s: float | None,
                   mip_gap: float = MIP_REL_GAP) -> None:
    """Reject unknown option values with the allowed ones."""
    problems = []
    if objective not in _OBJECTIVES:
        problems.append(Problem("<options>", "objective", f"unknown objective {objective!r}",
                                "use cost or time"))
    if solver not in _SOLVERS:
        problems.append(Problem("<options>", "solver", f"unknown solver {solver!r}",
                                "use highs or cbc"))
    if time_limit_s is not None and not time_limit_s > 0:
        problems.append(Problem("<options>", "time_limit_s", "the time limit must be positive"))
    if not 0 <= mip_gap < 1:
        problems.append(Problem("<options>", "mip_gap", f"the MILP gap {mip_gap!r} must be at "
                                "least 0 and below 1", "use a relative gap such as 1e-4"))
    if problems:
        raise InputError(problems)
