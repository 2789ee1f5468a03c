"""Hand a built PuLP problem to HiGHS as one scaled matrix, and read the solution back.

PuLP's own HiGHS interface adds the model one column and one row at a time and passes the
numbers as built; here the problem becomes arrays in one pass (columns in PuLP's order, so
ties between equally good plans break as before), is scaled by :mod:`planner.lp.scaling`,
passed to HiGHS in one call (for dual simplex only the columns far from 1 are scaled,
``SIMPLEX_COLUMN_THRESHOLD``), and the solution is unscaled and written onto the PuLP objects
exactly as PuLP's interface writes it (``varValue``, ``dj``, ``slack``, ``pi``; duals of the
minimised, i.e. for a maximisation negated, objective), so the rest of the package reads it
the same way.

Methods (``Method``): HiGHS' dual simplex, its interior point method with or without
crossover to a vertex, and PDLP (first-order, for very large models; it stops at a relative
tolerance of about 1e-7 and gives no vertex). ``choose_method`` picks one by model size from
the measurements in ``benchmarks/README.md``.

``PLANNER_LP_HANDOFF=pulp`` in the environment sends problems through PuLP's interface
unscaled instead (the previous path), so that ``benchmarks/bench_lp.py --compare`` can time
both in one run.
"""

from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np

from planner.lp.scaling import (
    MatrixLp,
    Scaling,
    Solution,
    equilibrate,
    identity,
    scale,
    unscale_solution,
)

__all__ = ["COLUMN_SCALED", "HANDOFF_ENV", "SIMPLEX_COLUMN_THRESHOLD", "HighsRun", "Method",
           "choose_method", "legacy_handoff", "mip_bound", "scaling_for", "solve"]

HANDOFF_ENV = "PLANNER_LP_HANDOFF"
IPM_FROM_NONZEROS = 1_000_000  # see choose_method
SIMPLEX_SCALE_STRATEGY = 4  # HiGHS option value: its "max value" scaling (benchmarks/README.md)


class Method(StrEnum):
    """How HiGHS solves an LP (a MILP always uses branch and bound over dual simplex)."""

    DUAL_SIMPLEX = "simplex"
    IPM = "ipm"
    IPM_NO_CROSSOVER = "ipm-no-crossover"
    PDLP = "pdlp"


# methods handed a model whose every column is scaled (``scaling.equilibrate``); for dual
# simplex, which scales the matrix again itself, only columns whose factor would exceed
# 2**12 either way are: 30 % fewer iterations at 500 jobs, and the columns of tiny entries
# (``ship``, GB over links: factors 2**15 to 2**18) still scaled, without which HiGHS
# stopped 1.3 % short of the optimum of the main job with the time objective
# (benchmarks/README.md)
COLUMN_SCALED = frozenset({Method.IPM, Method.IPM_NO_CROSSOVER, Method.PDLP})
SIMPLEX_COLUMN_THRESHOLD = 12.0


@dataclass(frozen=True, slots=True)
class HighsRun:
    """How one HiGHS run ended: PuLP status codes, method, achieved MILP gap, size, the
    seconds spent handing the model over (arrays, scaling, passing) and in HiGHS itself, and
    (MILP) the bound HiGHS proved on the objective, in the problem's own units and sense (a
    lower bound when minimising)."""

    status: int
    sol_status: int
    method: Method
    mip_gap: float | None
    nonzeros: int
    handoff_s: float = 0.0
    run_s: float = 0.0
    bound: float | None = None


def legacy_handoff() -> bool:
    """True when the environment asks for PuLP's unscaled interface (benchmarks only)."""
    return os.environ.get(HANDOFF_ENV, "") == "pulp"


def choose_method(nonzeros: int) -> Method:
    """Dual simplex below a million nonzeros, the interior point method (with crossover, so
    the solution is a vertex) from there on; measured on ``benchmarks/bench_lp.py``'s scaled
    models (``benchmarks/README.md``): dual simplex is fastest up to 200 jobs (147k
    nonzeros), the two are within noise at 500 jobs (589k), and at 1,000 jobs (2.3M) dual
    simplex had not finished the first LP after 600 s where the interior point method solved
    both LPs of the run in 697 s. PDLP and IPM without crossover return non-vertex points that
    round to dearer plans, so they are never chosen."""
    return Method.IPM if nonzeros >= IPM_FROM_NONZEROS else Method.DUAL_SIMPLEX


def scaling_for(lp: MatrixLp, method: Method) -> Scaling:
    """The factors ``solve`` scales ``lp`` by for ``method`` (a MILP: every continuous
    column; with only the large ones the 50-job bench MILP ended a 60 s limit at a gap of
    0.66 % instead of 0.52 %, ``benchmarks/README.md``)."""
    keep_all = method in COLUMN_SCALED or bool(lp.integer.any())
    threshold = 0.0 if keep_all else SIMPLEX_COLUMN_THRESHOLD
    return equilibrate(lp, column_threshold=threshold)


def to_matrix(prob: Any) -> tuple[MatrixLp, list[Any], list[Any]]:
    """The problem as a minimisation MatrixLp, with its variables and constraints in order."""
    import pulp

    variables = prob.variables()
    with warnings.catch_warnings():  # PuLP 3.3 announces PuLP 4's list (pinned below 4)
        warnings.filterwarnings("ignore", "Using LpProblem.constraints as a dict",
                                DeprecationWarning)
        constraints = list(prob.constraints.values())
    position = {var: i for i, var in enumerate(variables)}
    sign = -1.0 if prob.sense == pulp.LpMaximize else 1.0
    cost = np.zeros(len(variables))
    for var, coef in (prob.objective or {}).items():
        cost[position[var]] = sign * coef
    index: list[int] = []
    value: list[float] = []
    start = [0]
    lower, upper = [], []
    for con in constraints:
        for var, coef in con.items():
            if coef != 0:
                index.append(position[var])
                value.append(coef)
        start.append(len(index))
        low, up = con.getLb(), con.getUb()
        lower.append(-np.inf if low is None else low)
        upper.append(np.inf if up is None else up)
    lp = MatrixLp(
        cost=cost,
        col_lower=np.array([-np.inf if v.lowBound is None else v.lowBound for v in variables],
                           dtype=float),
        col_upper=np.array([np.inf if v.upBound is None else v.upBound for v in variables],
                           dtype=float),
        row_lower=np.array(lower, dtype=float), row_upper=np.array(upper, dtype=float),
        start=np.array(start, dtype=np.int64), index=np.array(index, dtype=np.int64),
        value=np.array(value, dtype=float),
        integer=np.array([v.cat == pulp.LpInteger for v in variables], dtype=bool))
    return lp, variables, constraints


def _highs_lp(lp: MatrixLp) -> Any:
    import highspy

    model = highspy.HighsLp()
    model.num_col_, model.num_row_ = lp.cols, lp.rows
    model.col_cost_, model.col_lower_, model.col_upper_ = lp.cost, lp.col_lower, lp.col_upper
    model.row_lower_, model.row_upper_ = lp.row_lower, lp.row_upper
    model.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    model.a_matrix_.num_col_, model.a_matrix_.num_row_ = lp.cols, lp.rows
    model.a_matrix_.start_, model.a_matrix_.index_ = lp.start, lp.index
    model.a_matrix_.value_ = lp.value
    if lp.integer.any():
        model.integrality_ = [highspy.HighsVarType.kInteger if flag
                              else highspy.HighsVarType.kContinuous for flag in lp.integer]
    return model


def _options(highs: Any, method: Method, time_limit_s: float | None, mip_gap: float) -> None:
    highs.setOptionValue("output_flag", False)
    highs.setOptionValue("mip_rel_gap", mip_gap)
    if time_limit_s is not None:
        highs.setOptionValue("time_limit", float(time_limit_s))
    match method:
        case Method.DUAL_SIMPLEX:
            highs.setOptionValue("solver", "simplex")
            # on top of the hand-off's scaling, HiGHS' own scaling to a largest entry of
            # about 1 per row and column: 16k instead of 24k iterations (HiGHS' default
            # strategy) on the 500-job bench LP
            highs.setOptionValue("simplex_scale_strategy", SIMPLEX_SCALE_STRATEGY)
        case Method.IPM:
            highs.setOptionValue("solver", "ipm")
        case Method.IPM_NO_CROSSOVER:
            highs.setOptionValue("solver", "ipm")
            highs.setOptionValue("run_crossover", "off")
        case Method.PDLP:
            highs.setOptionValue("solver", "pdlp")


def solve(prob: Any, *, time_limit_s: float | None, mip_gap: float,
          method: Method | None = None, scaled: bool = True,
          feasibility_jump: bool = True) -> HighsRun:
    """Solve ``prob`` with HiGHS (scaled unless told otherwise); write its solution back.
    ``feasibility_jump=False`` turns off HiGHS' feasibility-jump heuristic for a MILP (the
    second stage of ``planner.lp.two_stage``, benchmarks/README.md)."""
    import highspy

    start = time.perf_counter()
    lp, variables, constraints = to_matrix(prob)
    chosen = method or choose_method(len(lp.value))
    factors = scaling_for(lp, chosen) if scaled else identity(lp)
    highs = highspy.Highs()  # type: ignore[no-untyped-call]
    _options(highs, chosen, time_limit_s, mip_gap)
    if not feasibility_jump:
        highs.setOptionValue("mip_heuristic_run_feasibility_jump", False)
    highs.passModel(_highs_lp(scale(lp, factors)))
    ran = time.perf_counter()
    highs.run()
    done = time.perf_counter()
    raw = highs.getSolution()
    result = unscale_solution(factors, Solution(np.array(raw.col_value), np.array(raw.col_dual),
                                                np.array(raw.row_value), np.array(raw.row_dual)))
    _write_back(variables, constraints, result)
    info = highs.getInfo()
    status, sol_status = _status(highs.getModelStatus(), info.objective_function_value)
    integer = bool(lp.integer.any())
    gap = float(info.mip_gap) if integer and sol_status in (1, 2) else None
    bound = _bound(prob, factors, float(info.mip_dual_bound)) if integer else None
    prob.assignStatus(status, sol_status)
    return HighsRun(status, sol_status, chosen, gap, len(lp.value), ran - start, done - ran,
                    bound)


def mip_bound(prob: Any, minimised_bound: float) -> float | None:
    """A MILP's proved bound in ``prob``'s own sense (HiGHS minimises the negated objective of
    a maximisation); None when HiGHS proved none (an infinite bound)."""
    import pulp

    if not np.isfinite(minimised_bound):
        return None
    return -minimised_bound if prob.sense == pulp.LpMaximize else minimised_bound


def _bound(prob: Any, factors: Scaling, scaled: float) -> float | None:
    """HiGHS' dual bound of the scaled model in the build's units (``scaling``: the solver's
    objective is the build's times ``cost * size``)."""
    return mip_bound(prob, scaled / (factors.cost * factors.size))


def _write_back(variables: list[Any], constraints: list[Any], sol: Solution) -> None:
    """Values, reduced costs, slacks and duals onto the PuLP objects (PuLP's conventions)."""
    import pulp

    if len(sol.col_value) != len(variables):  # no solution at all
        return
    for var, x, d in zip(variables, sol.col_value.tolist(), sol.col_dual.tolist(), strict=True):
        var.varValue, var.dj = x, d
    rows = zip(constraints, sol.row_value.tolist(), sol.row_dual.tolist(), strict=True)
    for con, activity, dual in rows:
        slack = con.constant + activity
        con.slack = -slack if con.sense == pulp.LpConstraintLE else slack
        con.pi = dual


def _status(model_status: Any, objective: float) -> tuple[int, int]:
    """PuLP's (status, solution status) for a HiGHS model status, as PuLP maps them."""
    import highspy
    import pulp

    s = highspy.HighsModelStatus
    if model_status == s.kOptimal:
        return pulp.LpStatusOptimal, pulp.LpSolutionOptimal
    if model_status in (s.kInfeasible, s.kUnboundedOrInfeasible):
        return pulp.LpStatusInfeasible, pulp.LpSolutionInfeasible
    if model_status == s.kUnbounded:
        return pulp.LpStatusUnbounded, pulp.LpSolutionUnbounded
    stopped = (s.kTimeLimit, s.kIterationLimit, s.kInterrupt, s.kObjectiveBound,
               s.kObjectiveTarget)
    if model_status in stopped and np.isfinite(objective):
        return pulp.LpStatusOptimal, pulp.LpSolutionIntegerFeasible
    return pulp.LpStatusNotSolved, pulp.LpSolutionNoSolutionFound
