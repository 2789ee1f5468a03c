"""Run the solver on a built LP and map its status to a result or a typed error.

- HiGHS (through highspy) is the default; CBC is the fallback when highspy is missing or HiGHS
  fails, and can be asked for directly. Both return duals (``constraint.pi``).
- ``integer=True``: the MILP is solved, then every integer variable is fixed at its value and the
  LP is solved again, so that the bottleneck report has duals. A minimising MILP with whole
  units per placement (``build``: ``whole[j,r,s,h]``) is solved in two stages
  (:mod:`planner.lp.two_stage`): with ``whole`` continuous first (a relaxation: its bound is a
  lower bound of the whole-placement model), then with every placement whole, restricted to a
  neighbourhood of that plan (choices fixed, each placement between the whole units around
  its first-stage value or on another system of the same site), widened and, failing that,
  solved in one stage; a plan more than 2 % above the first stage's bound is also solved in
  one stage (small models, where rounding weighs); a note gives both objective values. At 50
  jobs of ``benchmarks/bench_lp.py`` that takes 0.32-0.35x the CPU time of the previous path
  (PuLP's hand-off at gap 1e-6, units whole per site and system only), where one stage runs
  to its time limit (``benchmarks/README.md``, "MILP"). ``two_stages=False`` keeps the
  one-stage solve; the roadmap uses it (``planner.lp.solve_roadmap``), as does the time
  objective, whose first pass maximises lambda.
- Time objective: once lambda is maximised (and its duals kept for the bottleneck report), the
  cheapest plan at that speed is found (``build.add_speed_floor``), so that cost is not left to
  chance among equally fast plans.
- LP mode with site choices (single-site jobs, RL update sites, generating sites): the relaxed
  solution is rounded (each group to the site holding most of its power, each ``gen_on`` to
  whether the site generates, each homogeneous role to the system type holding most of its
  power, each spread job to the sites it uses; ``build.choice_fixes``) and re-solved; if the
  rounded problem is infeasible (or a job spreads over chosen sites, ``max_sites`` or
  cross-site synchronisation) the choices alone are solved as binaries (the rest stays
  continuous), fixed, and the LP re-solved; if that has no solution the scenario is
  infeasible (a relaxed plan would split a job the way it cannot be built).
- HiGHS gets the problem through :mod:`planner.lp.highs`: one matrix hand-off, scaled to
  numbers near 1 (:mod:`planner.lp.scaling`), values and duals mapped back to the build's
  units; the LP method (dual simplex, interior point, PDLP) is chosen by model size unless
  given.
- MILPs are solved to a relative gap of 1e-4 by default (``MIP_REL_GAP``, ``mip_gap``): at 50
  jobs of ``benchmarks/bench_lp.py`` (units per site and system whole) a gap of 1e-6 took
  26.5 s instead of 6.9 s for a plan 0.005 % cheaper (``benchmarks/README.md``). The gap
  proved is reported (``SolveOutcome.mip_gap``; CBC reports none): HiGHS' own, or, in two
  stages, the plan's objective over the first stage's bound, which is larger than the
  requested gap when making placements whole costs more than that (0.5-0.7 % on the bench
  and the bundled ``o1_posttrain`` scenario).
- A time limit applies to each solve; the stages of a two-stage MILP share one (each gets
  what the earlier ones left, at least a tenth of it: ``STAGE_MIN_SHARE``). An LP stopped by
  it has no usable solution (``SolverError``); a MILP stopped with a feasible point is
  returned with status ``time_limit`` and the gap of that incumbent.

Nothing is printed: HiGHS' one-time start-up banner is written to the process's standard
output by the C++ library even when logging is off, so the first solve silences it at the file
descriptor level.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from planner.errors import SolverError
from planner.lp import highs, two_stage
from planner.lp.build import (
    SPEED_TOLERANCE,
    BuiltLp,
    add_speed_floor,
    choice_fixes,
    remove_speed_floor,
)
from planner.lp.highs import Method

__all__ = ["SolveOutcome", "SolverName", "solve_lp"]

SolverName = Literal["highs", "cbc"]
_TOL = 1e-7
MIP_REL_GAP = 1e-4  # HiGHS' default; see the module docstring
STAGE_MIN_SHARE = 0.1  # the least share of the time limit a stage of a two-stage MILP gets
_banner_silenced = False


@dataclass
class SolveOutcome:
    """What the solver run produced: status, timings, notes and (time objective) kept duals.

    ``duals`` maps each row to (dual, slack) as they were after lambda was maximised, before
    the cost pass overwrote them. Dual signs follow each solver's convention (HiGHS reports
    those of the negated objective when maximising), so readers use magnitudes.
    """

    status: str
    solver: str
    seconds: float
    variables: int
    constraints: int
    has_duals: bool = True
    notes: list[str] = field(default_factory=list)
    duals: dict[tuple[str, tuple[str, ...]], tuple[float, float]] | None = None
    mip_gap: float | None = None
    method: str | None = None


@dataclass(frozen=True, slots=True)
class _Settings:
    """What every solve of one ``solve_lp`` call uses."""

    solver: SolverName
    time_limit_s: float | None
    mip_gap: float = MIP_REL_GAP
    method: Method | None = None


@dataclass(frozen=True, slots=True)
class _Ran:
    """One solver run: classified status, engine name, achieved MILP gap, LP method, and the
    MILP's proved bound in the build's objective units (HiGHS only)."""

    status: str
    engine: str
    mip_gap: float | None = None
    method: str | None = None
    bound: float | None = None


def solve_lp(m: BuiltLp, *, solver: SolverName = "highs", time_limit_s: float | None = None,
             dump_lp: str | os.PathLike[str] | None = None, mip_gap: float = MIP_REL_GAP,
             method: Method | None = None, two_stages: bool = True) -> SolveOutcome:
    """Solve ``m`` in place; variable values and duals are then read from its PuLP objects.

    Returns status ``optimal``, ``time_limit`` (MILP with a feasible point) or ``infeasible``;
    raises :class:`SolverError` for unbounded problems, solver failures and time limits
    without a solution. ``mip_gap`` is the relative gap a MILP stops at; ``method`` the LP
    method of HiGHS (default: chosen by size, ``planner.lp.highs.choose_method``);
    ``two_stages=False`` solves a MILP with whole placements in one stage (the previous path,
    kept for ``benchmarks/bench_lp.py --one-stage``).
    """
    if dump_lp is not None:
        m.prob.writeLP(os.fspath(dump_lp))
    start = time.perf_counter()
    cfg = _Settings(solver, time_limit_s, mip_gap, method)
    notes: tuple[str, ...] = ()
    if two_stages and two_stage.applies(m):
        staged = two_stage.solve_two_stage(
            m, lambda near: _run(m, _left(cfg, start), neighbourhood=near))
        ran, notes = _Ran(staged.status, staged.engine, staged.mip_gap), staged.notes
    else:
        ran = _run(m, cfg)
    outcome = SolveOutcome(ran.status, ran.engine, 0.0, len(m.prob.variables()), len(m.rows),
                           notes=list(notes), mip_gap=ran.mip_gap, method=ran.method)
    if ran.status in ("optimal", "time_limit"):
        if m.integer:
            _finish_integer(m, outcome, cfg)
        else:
            _round_site_choices(m, outcome, cfg)
            if outcome.status != "infeasible" and _lexicographic(m):
                outcome.duals = _snapshot(m)
                _cheapest_at_best_speed(m, outcome, cfg)
    outcome.seconds = time.perf_counter() - start
    return outcome


def _left(cfg: _Settings, start: float) -> _Settings:
    """The settings of one stage of a two-stage MILP: the stages share the time limit, each
    getting what the earlier ones left (at least ``STAGE_MIN_SHARE`` of the limit, so that a
    late stage can still return a plan)."""
    if cfg.time_limit_s is None:
        return cfg
    left = cfg.time_limit_s - (time.perf_counter() - start)
    return replace(cfg, time_limit_s=max(left, STAGE_MIN_SHARE * cfg.time_limit_s))


def _solver(name: SolverName, cfg: _Settings) -> Any:
    import pulp

    limit, gap = cfg.time_limit_s, cfg.mip_gap
    if name == "highs" and pulp.HiGHS(msg=False).available():
        _silence_highs_banner()
        return pulp.HiGHS(msg=False, timeLimit=limit, gapRel=gap)
    coin = pulp.COIN_CMD(msg=False, timeLimit=limit, gapRel=gap)
    if coin.available():
        return coin
    with warnings.catch_warnings():
        # PuLP 3.3 flags its bundled CBC as going away in PuLP 4; it is the CBC we have when no
        # cbc binary is on the PATH (COIN_CMD above).
        warnings.simplefilter("ignore", DeprecationWarning)
        return pulp.PULP_CBC_CMD(msg=False, timeLimit=limit, gapRel=gap)


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


def _run(m: BuiltLp, cfg: _Settings, *, neighbourhood: bool = False) -> _Ran:
    """One solve with fallback to CBC if HiGHS raises; ``neighbourhood``: the second stage of
    a two-stage MILP, which HiGHS solves without its feasibility-jump heuristic (0.6 s of
    about 2.3 s saved at 50 jobs, the same plan; ``benchmarks/README.md``)."""
    import pulp

    engine = _solver(cfg.solver, cfg)
    if engine.name == "HiGHS" and not highs.legacy_handoff():
        try:
            run = highs.solve(m.prob, time_limit_s=cfg.time_limit_s, mip_gap=cfg.mip_gap,
                              method=cfg.method, feasibility_jump=not neighbourhood)
        except (RuntimeError, ValueError):  # a HiGHS failure falls back to CBC, as before
            engine = _solver("cbc", cfg)
            _solve_quietly(m, engine)
            return _Ran(_classify(m, engine.name), engine.name)
        method = None if m.integer else run.method.value
        return _Ran(_classify(m, engine.name), engine.name, run.mip_gap, method, run.bound)
    try:
        _solve_quietly(m, engine)
    except pulp.PulpSolverError as err:
        if engine.name != "HiGHS":
            raise SolverError(f"the CBC solver failed: {err}") from err
        engine = _solver("cbc", cfg)
        _solve_quietly(m, engine)
    gap, bound = _pulp_gap(m, engine.name)
    return _Ran(_classify(m, engine.name), engine.name, gap, bound=bound)


def _pulp_gap(m: BuiltLp, engine: str) -> tuple[float | None, float | None]:
    """The MILP gap and bound PuLP's HiGHS interface left on the problem (CBC reports
    neither)."""
    model = getattr(m.prob, "solverModel", None)
    if not m.integer or engine != "HiGHS" or model is None:
        return None, None
    info = model.getInfo()
    return float(info.mip_gap), highs.mip_bound(m.prob, float(info.mip_dual_bound))


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


Saved = list[tuple[Any, str, float | None, float | None]]


def _fix_integers(m: BuiltLp, integers: list[Any]) -> Saved:
    """Fix integer variables at their rounded values (as continuous); return how to undo it."""
    import pulp

    saved = [(v, v.cat, v.lowBound, v.upBound) for v in integers]
    for var in integers:
        var.cat = pulp.LpContinuous
        var.lowBound = var.upBound = round(var.varValue or 0.0)
    return saved


def _restore(saved: Saved) -> None:
    for var, cat, low, up in saved:
        var.cat, var.lowBound, var.upBound = cat, low, up


def _finish_integer(m: BuiltLp, outcome: SolveOutcome, cfg: _Settings) -> None:
    """Fix the integers and re-solve the LP for duals; for the time objective, then find the
    cheapest plan at the best speed (integers free again) and fix its integers in turn."""
    integers = _integer_vars(m)
    saved = _fix_integers(m, integers)
    if _run(m, cfg).status != "optimal":
        outcome.has_duals = False
        outcome.notes.append("the LP with integers fixed did not solve; no shadow prices")
    if not _lexicographic(m):
        return
    outcome.duals = _snapshot(m)
    _restore(saved)
    if _cheapest_at_best_speed(m, outcome, cfg):
        _fix_integers(m, integers)
        _run(m, cfg)


def _lexicographic(m: BuiltLp) -> bool:
    """The time objective is followed by a cost pass (see ``build.add_speed_floor``)."""
    return m.objective == "time" and not m.elastic and m.lam is not None


def _snapshot(m: BuiltLp) -> dict[tuple[str, tuple[str, ...]], tuple[float, float]]:
    """Duals and slacks of every row, kept before a later solve overwrites them."""
    return {key: (row.constraint.pi or 0.0, row.constraint.slack or 0.0)
            for key, row in m.rows.items()}


def _cheapest_at_best_speed(m: BuiltLp, outcome: SolveOutcome, cfg: _Settings) -> bool:
    """Hold lambda at its optimum and minimise cost; on failure go back to the fast plan."""
    best = m.lam.varValue if m.lam is not None else 0.0
    floor = add_speed_floor(m, (best or 0.0) * (1 - SPEED_TOLERANCE))
    ran = _run(m, cfg)
    if ran.mip_gap is not None:  # the cost pass of a MILP: its gap is the plan's
        outcome.mip_gap = ran.mip_gap
    if ran.status in ("optimal", "time_limit"):
        outcome.notes.append("time objective: the cheapest plan at the best speed is reported")
        return True
    remove_speed_floor(m, floor)
    _run(m, cfg)
    outcome.notes.append("time objective: cost could not be minimised at the best speed; the "
                         "first plan found at that speed is reported")
    return False


def _round_site_choices(m: BuiltLp, outcome: SolveOutcome, cfg: _Settings) -> None:
    """Round the relaxed site choices of LP mode and re-solve (see the module docstring);
    a roadmap LP rounds those of each period's block."""
    fixes = [fix for block in (m.blocks or (m,)) for fix in _site_choice_fixes(block)]
    if all(abs((var.varValue or 0.0) - value) <= _TOL for var, value in fixes):
        return
    saved = [(var, var.lowBound, var.upBound) for var, _ in fixes]
    if not m.vars["site_on"]:  # jobs spread over chosen sites: rounding is too crude
        for var, value in fixes:
            var.lowBound = var.upBound = value
        if _run(m, cfg).status == "optimal":
            outcome.notes.append("LP mode: site choices rounded (single-site jobs, RL update "
                                 "and generating sites) and the LP re-solved")
            return
        for var, low, up in saved:
            var.lowBound, var.upBound = low, up
    if _solve_choices_exactly(m, [var for var, _ in fixes], cfg):
        outcome.notes.append("LP mode: rounding the site and system choices was infeasible; "
                             "the choices were solved exactly (binary) and the LP re-solved")
        return
    outcome.status = "infeasible"  # no plan makes every site and system choice


def _solve_choices_exactly(m: BuiltLp, choices: list[Any], cfg: _Settings) -> bool:
    """Solve with only the 0/1 choice variables integer, fix them and re-solve the LP (for
    duals); False (bounds restored) when that has no solution either."""
    import pulp

    for var in choices:
        var.cat = pulp.LpInteger
    found = _run(m, cfg).status in ("optimal", "time_limit")
    values = [(var, float(round(var.varValue or 0.0))) for var in choices]
    for var in choices:
        var.cat = pulp.LpContinuous
    if not found:
        return False
    saved = [(var, var.lowBound, var.upBound) for var in choices]
    for var, value in values:
        var.lowBound = var.upBound = value
    if _run(m, cfg).status == "optimal":
        return True
    for var, low, up in saved:
        var.lowBound, var.upBound = low, up
    return False


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
    return fixes + choice_fixes(m)


def _gen_pairs(m: BuiltLp, j: str, role: str, s: str) -> list[tuple[Any, float]]:
    """(place variable, share of the role's work per unit) at one site."""
    job = m.index.jobs[j]
    scale = m.index.work_scale[(j, role)]
    return [(var, job.role(role).throughput[key[3]] * job.horizon_s / scale)
            for key, var in m.by_jrs.get((j, role, s), [])]


def _rank(sites: dict[str, Any], site: str) -> int:
    """Position of a site in id order (ties go to the first id)."""
    return list(sites).index(site)
