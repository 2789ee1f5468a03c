"""Run the solver on a built LP and map its status to a result or a typed error.

- HiGHS (through highspy) is the default; CBC is the fallback when highspy is missing or HiGHS
  fails, and can be asked for directly. Both return duals (``constraint.pi``).
- ``integer=True``: the MILP is solved, then every integer variable is fixed at its value and the
  LP is solved again, so that the bottleneck report has duals.
- LP mode with site choices (single-site jobs, RL update sites, generating sites): the relaxed
  solution is rounded (each group to the site holding most of its power, each ``gen_on`` to
  whether the site generates) and re-solved; if the rounded problem is infeasible the relaxed
  solution is kept and a note says so.
- MILPs are solved to a relative gap of 1e-6 (``MIP_REL_GAP``).
- A time limit applies to each solve. An LP stopped by it has no usable solution
  (``SolverError``); a MILP stopped with a feasible point is returned with status
  ``time_limit``.

Nothing is printed: HiGHS' one-time start-up banner is written to the process's standard
output by the C++ library even when logging is off, so the first solve silences it at the file
descriptor level.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Literal

from planner.errors import SolverError
from planner.optimize.build import BuiltLp

__all__ = ["SolveOutcome", "SolverName", "solve_lp"]

SolverName = Literal["highs", "cbc"]
_TOL = 1e-7
MIP_REL_GAP = 1e-6  # HiGHS' default (1e-4) could leave 0.01 % of cost on the table
_banner_silenced = False


@dataclass
class SolveOutcome:
    """What the solver run produced: status, timings, values and dual sign convention."""

    status: str
    solver: str
    seconds: float
    variables: int
    constraints: int
    dual_sign: float = 1.0
    has_duals: bool = True
    notes: list[str] = field(default_factory=list)


def solve_lp(m: BuiltLp, *, solver: SolverName = "highs", time_limit_s: float | None = None,
             dump_lp: str | os.PathLike[str] | None = None) -> SolveOutcome:
    """Solve ``m`` in place; variable values and duals are then read from its PuLP objects.

    Returns status ``optimal``, ``time_limit`` (MILP with a feasible point) or ``infeasible``;
    raises :class:`SolverError` for unbounded problems, solver failures and time limits
    without a solution.
    """
    if dump_lp is not None:
        m.prob.writeLP(os.fspath(dump_lp))
    start = time.perf_counter()
    status, name = _run(m, solver, time_limit_s)
    outcome = SolveOutcome(status, name, 0.0, len(m.prob.variables()), len(m.rows))
    if status in ("optimal", "time_limit"):
        if m.integer:
            _fix_integers_for_duals(m, outcome, solver, time_limit_s)
        else:
            _round_site_choices(m, outcome, solver, time_limit_s)
    outcome.dual_sign = -1.0 if (outcome.solver == "HiGHS" and _maximising(m)) else 1.0
    outcome.seconds = time.perf_counter() - start
    return outcome


def _maximising(m: BuiltLp) -> bool:
    """HiGHS reports duals of the negated objective when PuLP maximises."""
    import pulp

    return bool(m.prob.sense == pulp.LpMaximize)


def _solver(name: SolverName, time_limit_s: float | None) -> Any:
    import pulp

    if name == "highs" and pulp.HiGHS(msg=False).available():
        _silence_highs_banner()
        return pulp.HiGHS(msg=False, timeLimit=time_limit_s, gapRel=MIP_REL_GAP)
    coin = pulp.COIN_CMD(msg=False, timeLimit=time_limit_s, gapRel=MIP_REL_GAP)
    if coin.available():
        return coin
    with warnings.catch_warnings():
        # PuLP 3.3 flags its bundled CBC as going away in PuLP 4; it is the CBC we have when no
        # cbc binary is on the PATH (COIN_CMD above).
        warnings.simplefilter("ignore", DeprecationWarning)
        return pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit_s, gapRel=MIP_REL_GAP)


def _silence_highs_banner() -> None:
    """Create the process's first HiGHS object with standard output pointed at /dev/null."""
    global _banner_silenced
    if _banner_silenced:
        return
    import highspy

    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            highspy.Highs()  # type: ignore[no-untyped-call]
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    _banner_silenced = True


def _run(m: BuiltLp, name: SolverName, time_limit_s: float | None) -> tuple[str, str]:
    """One solve with fallback to CBC if HiGHS raises; returns (status, solver name)."""
    import pulp

    engine = _solver(name, time_limit_s)
    try:
        _solve_quietly(m, engine)
    except pulp.PulpSolverError as err:
        if engine.name != "HiGHS":
            raise SolverError(f"the CBC solver failed: {err}") from err
        engine = _solver("cbc", time_limit_s)
        _solve_quietly(m, engine)
    return _classify(m, engine.name), engine.name


def _solve_quietly(m: BuiltLp, engine: Any) -> None:
    """Solve, ignoring PuLP 3.3's deprecation notice for its bundled CBC."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "PULP_CBC_CMD is deprecated", DeprecationWarning)
        m.prob.solve(engine)


def _classify(m: BuiltLp, engine: str) -> str:
    """Map PuLP's (status, solution status) to optimal / time_limit / infeasible, or raise."""
    status, sol = m.prob.status, m.prob.sol_status
    if status == 1 and sol == 1:
        return "optimal"
    if status == 1 and sol == 2:
        if m.integer:
            return "time_limit"
        raise SolverError(f"{engine} stopped (time limit) before the LP was solved; "
                          "raise the time limit")
    if status == -1 or sol == -1:
        return "infeasible"
    if status == -2:
        raise SolverError(f"{engine}: the problem is unbounded (a cost or limit is missing)")
    raise SolverError(f"{engine} found no solution (status {status}, solution status {sol}); "
                      "raise the time limit or try --solver cbc")


def _integer_vars(m: BuiltLp) -> list[Any]:
    import pulp

    return [v for family in m.vars.values() for v in family.values()
            if v.cat == pulp.LpInteger]


def _fix(var: Any, value: float) -> None:
    import pulp

    var.cat = pulp.LpContinuous
    var.lowBound = var.upBound = value


def _fix_integers_for_duals(m: BuiltLp, outcome: SolveOutcome, solver: SolverName,
                            time_limit_s: float | None) -> None:
    """Fix the integer variables at their (rounded) values and re-solve the LP for duals."""
    fixed = [(v, round(v.varValue or 0.0)) for v in _integer_vars(m)]
    for var, value in fixed:
        _fix(var, value)
    status, _ = _run(m, solver, time_limit_s)
    if status != "optimal":
        outcome.has_duals = False
        outcome.notes.append("the LP with integers fixed did not solve; no shadow prices")


def _round_site_choices(m: BuiltLp, outcome: SolveOutcome, solver: SolverName,
                        time_limit_s: float | None) -> None:
    """Round the relaxed site choices of LP mode and re-solve (see the module docstring)."""
    fixes = _site_choice_fixes(m)
    if all(abs((var.varValue or 0.0) - value) <= _TOL for var, value in fixes):
        return
    saved = [(var, var.lowBound, var.upBound) for var, _ in fixes]
    for var, value in fixes:
        var.lowBound = var.upBound = value
    if _run(m, solver, time_limit_s)[0] == "optimal":
        outcome.notes.append("LP mode: site choices rounded (single-site jobs, RL update and "
                             "generating sites) and the LP re-solved")
        return
    for var, low, up in saved:
        var.lowBound, var.upBound = low, up
    _run(m, solver, time_limit_s)
    outcome.notes.append("LP mode: rounding the site choices made the problem infeasible; the "
                         "relaxed solution is reported (jobs may be split over sites); use "
                         "--integer for an exact site choice")


def _site_choice_fixes(m: BuiltLp) -> list[tuple[Any, float]]:
    """0/1 values for pick (largest group power) and gen_on (site generates) variables."""
    fixes: list[tuple[Any, float]] = []
    ix = m.index
    for j, roles in ix.groups.items():
        power = {s: sum((var.varValue or 0.0) * ix.systems[key[3]].power_w
                        for r in roles for key, var in m.by_jrs.get((j, r, s), []))
                 for s in ix.sites}
        cpu = {s: sum(m.vars["cpu_work"][(j, r, s)].varValue or 0.0 for r in roles
                      if (j, r, s) in m.vars["cpu_work"]) for s in ix.sites}
        best = max(ix.sites, key=lambda s: (power[s], cpu[s], -_rank(ix.sites, s)))
        fixes += [(m.vars["pick"][(j, s)], 1.0 if s == best else 0.0) for s in ix.sites]
    for (j, s), var in m.vars["gen_on"].items():
        rl = ix.jobs[j].rl
        assert rl is not None
        share = sum((v.varValue or 0.0) * c for v, c in _gen_pairs(m, j, rl.generate, s))
        fixes.append((var, 1.0 if share > 1e-6 else 0.0))
    return fixes


def _gen_pairs(m: BuiltLp, j: str, role: str, s: str) -> list[tuple[Any, float]]:
    """(place variable, share of the role's work per unit) at one site."""
    job = m.index.jobs[j]
    scale = m.index.work_scale[(j, role)]
    return [(var, job.role(role).throughput[key[3]] * job.horizon_s / scale)
            for key, var in m.by_jrs.get((j, role, s), [])]


def _rank(sites: dict[str, Any], site: str) -> int:
    """Position of a site in id order (ties go to the first id)."""
    return list(sites).index(site)
