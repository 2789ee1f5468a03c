"""The placement optimizer: planning inputs in, a solved plan (or a diagnosis) out.

Only this package imports PuLP (and, through it, highspy), always inside functions, so that
``import planner`` stays fast. Steps: check the inputs, build the LP (``build``), solve it
(``solve``), read values, costs and duals back (``extract``, ``bottlenecks``); infeasible inputs
get a diagnosis (``diagnose``).
"""

from __future__ import annotations

import os

from planner.errors import InputError, Problem
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
from planner.lp.solve import SolverName, solve_lp

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
]

_OBJECTIVES = ("cost", "time")
_SOLVERS = ("highs", "cbc")


def optimize(inputs: PlanningInputs, *, objective: Objective = "cost", integer: bool = False,
             solver: SolverName = "highs", time_limit_s: float | None = None,
             dump_lp: str | os.PathLike[str] | None = None) -> Solution:
    """Find the cheapest (or fastest, within budget) placement of every job on the fleet.

    Raises ``InputError`` for an inconsistent table, ``InfeasibleError`` (with a diagnosis of
    what is short, where and by how much) and ``SolverError`` for solver failures or time limits
    without a solution. ``dump_lp`` writes the model in LP format before solving.
    """
    _check_options(objective, solver, time_limit_s)
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
    outcome = solve_lp(m, solver=solver, time_limit_s=time_limit_s, dump_lp=dump_lp)
    if outcome.status == "infeasible":
        raise diagnose(inputs, objective=objective, integer=integer, solver=solver,
                       time_limit_s=time_limit_s)
    solution = extract_solution(m, outcome)
    if objective == "time" and solution.objective_value < 1 - SLOWER_TOLERANCE:
        # Not even the deadline is met (within the budget): the cost objective's diagnosis
        # names what is short, as for `--objective cost`.
        raise diagnose(inputs, objective="cost", integer=integer, solver=solver,
                       time_limit_s=time_limit_s)
    return solution


# A time-objective multiplier below 1 by more than this means a job cannot meet its deadline.
SLOWER_TOLERANCE = 1e-6


def _check_options(objective: str, solver: str, time_limit_s: float | None) -> None:
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
    if problems:
        raise InputError(problems)
