"""Integer plans in two stages: whole units per (site, system) first, then per placement.

The integer model (``planner.lp.build``, ``integer=True``) gives every placement
(job, role, site, system) a whole count ``whole[j,r,s,h]`` with ``place <= whole``
(``whole_units``) and ``sum whole <= units`` (``capacity``), so that a plan can be built as
printed. Solved in one go, the 2,365 ``whole`` columns of the 50-job bench MILP keep HiGHS at
its time limit (``benchmarks/README.md``, "MILP"). :func:`solve_two_stage` solves it as:

1. **Stage 1**: the same MILP with ``whole`` continuous (units, purchases, rentals, CPU servers
   and every site or system choice stay integer), at the requested gap. It is a relaxation of
   the whole-placement model, so the bound it proves (its optimum, or HiGHS' dual bound when
   the time limit stops it) is a lower bound on that model's optimum.
2. **Stage 2**: the whole-placement MILP restricted to a neighbourhood of stage 1's plan
   (:class:`Neighbourhood`): the 0/1 choices (``CHOICES``) fixed at stage 1's values; each
   placement stage 1 used keeps between the whole units below and above its stage-1 value
   (``floor`` to ``ceil``); a role may also take whole units of any other system at a site
   where stage 1 placed it (``near``); nothing else is placed. Units, purchases and
   rentals stay integers free of stage 1's values, so rounding a placement up may buy or rent
   one more unit. It runs at the requested gap, as does every solve here.
   When that neighbourhood is infeasible (a pool at its purchase limit, say) the ``open`` one
   lets every placement of the fixed choices take any whole count at or above its stage-1
   floor; when that is infeasible too, the whole-placement MILP is solved in one stage
   (``ONE_STAGE``), each solve under the caller's time limit. When stage 2's plan is more
   than ``ONE_STAGE_FROM_GAP`` above stage 1's bound, rounding weighs on the plan (placements
   of a few units each, a small model): the MILP is then also solved in one stage and the
   cheaper plan kept, with the better bound.

The gap reported is ``(final objective - stage 1 bound) / final objective``: what is proved
about the plan against every whole-placement plan, not only against the neighbourhood (where
stage 2 is usually optimal). It is larger than the requested gap whenever rounding placements
costs more than that, which the note states with both objective values.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from planner.errors import SolverError
from planner.lp.build import BuiltLp

__all__ = ["CHOICES", "Neighbourhood", "StageRun", "TwoStage", "applies", "proved_gap", "restrict",
           "solve_two_stage", "stage_one_plan"]

# the 0/1 site and system choices of ``planner.lp.build`` (``_add_variables``)
CHOICES = ("pick", "gen_on", "sys_pick", "site_on", "hub")
ONE_STAGE = "one stage"
# above this proved gap the plan of the two stages is retried in one stage: rounding then
# weighs on the plan, which happens where placements are a few units each, i.e. small models
# (``posttrain_small``: 1,558 USD in two stages, 67 % over the bound, 1,234 USD optimal in one
# stage in 0.5 s; the bench fleets of 10 to 200 jobs end at 0.6-0.7 %, benchmarks/README.md)
ONE_STAGE_FROM_GAP = 0.02
_USED = 1e-6  # a placement below this (units) is unused, as ``extract`` reads it (1e-6)
_WHOLE = 1e-6  # a value within this of a whole number is that number (``extract._count``)


class StageRun(Protocol):
    """What one solver run reports (``planner.lp.solve._Ran``)."""

    @property
    def status(self) -> str: ...

    @property
    def engine(self) -> str: ...

    @property
    def bound(self) -> float | None: ...


class Neighbourhood(StrEnum):
    """Which whole-placement plans stage 2 may choose from (see the module docstring)."""

    NEAR = "near"
    OPEN = "open"


@dataclass(frozen=True, slots=True)
class TwoStage:
    """How the integer plan was found: status (``optimal``, ``time_limit`` if a stage stopped
    at the time limit, ``infeasible``), the engine of the last run, objective values in the
    build's units (``BuiltLp.usd_scale`` USD for cost), the bound proved on the whole-placement
    model, the gap against it, which stage 2 gave the plan and the notes for the report."""

    status: str
    engine: str
    relaxed: float | None
    bound: float | None
    objective: float | None
    mip_gap: float | None
    stage: str
    notes: tuple[str, ...] = ()


Saved = list[tuple[Any, str, float | None, float | None]]


def applies(m: BuiltLp) -> bool:
    """Two stages for a minimising MILP with whole placements (the time objective's lambda pass
    and its cost pass keep the one-stage path: stage 1 would bound lambda, not cost)."""
    import pulp

    return m.integer and bool(m.vars["whole"]) and m.prob.sense == pulp.LpMinimize


@dataclass(frozen=True, slots=True)
class _First:
    """Stage 1's objective and proved bound (build units), and whether it hit the limit."""

    relaxed: float
    bound: float | None
    stopped: bool


def solve_two_stage(m: BuiltLp, run: Callable[[bool], StageRun]) -> TwoStage:
    """Solve ``m`` (whole placements) in two stages; ``run(near)`` solves ``m`` as its bounds
    and categories stand (``near``: a neighbourhood of stage 2). The plan is left on ``m``'s
    variables; stage 2's bounds stay in place."""
    import pulp

    wholes = list(m.vars["whole"].values())
    saved = _save(wholes)
    for var in wholes:
        var.cat = pulp.LpContinuous
    ran = run(False)
    _restore(saved)
    if ran.status not in ("optimal", "time_limit"):
        return TwoStage(ran.status, ran.engine, None, None, None, None, "stage 1")
    first = _First(_objective(m), ran.bound, ran.status == "time_limit")
    plan = stage_one_plan(m)  # a failed run may overwrite the values on m
    for hood in Neighbourhood:
        undo = restrict(m, plan, hood)
        second = run(True)
        if second.status in ("optimal", "time_limit"):
            out = _result(m, second, first, first.bound, _objective(m), hood.value)
            if out.mip_gap is None or out.mip_gap <= ONE_STAGE_FROM_GAP:
                return out
            return _retry_in_one_stage(m, run, first, out, undo)
        _restore(undo)
    whole = run(False)
    if whole.status not in ("optimal", "time_limit"):
        return TwoStage(whole.status, whole.engine, first.relaxed, first.bound, None, None,
                        ONE_STAGE)
    return _result(m, whole, first, _best(first.bound, whole.bound), _objective(m), ONE_STAGE)


def _retry_in_one_stage(m: BuiltLp, run: Callable[[bool], StageRun], first: _First,
                        staged: TwoStage, undo: Saved) -> TwoStage:
    """Stage 2's plan is more than ``ONE_STAGE_FROM_GAP`` above stage 1's bound: solve the
    whole-placement MILP in one stage (``undo`` lifts stage 2's bounds) and keep the cheaper
    plan, with the better of the two bounds."""
    assert staged.objective is not None
    values = [(var, var.varValue) for var in m.prob.variables()]
    _restore(undo)
    try:
        whole: StageRun | None = run(False)
    except SolverError:  # e.g. no plan within the time limit: stage 2's stands
        whole = None
    found = whole is not None and whole.status in ("optimal", "time_limit")
    best = _best(staged.bound, whole.bound if whole is not None and found else None)
    status = "not solved" if whole is None else whole.status
    if whole is not None and found and _objective(m) < staged.objective:
        out = _result(m, whole, first, best, _objective(m), ONE_STAGE,
                      staged.status == "time_limit")
    else:
        for var, x in values:  # back to stage 2's plan
            var.varValue = x
        out = dataclasses.replace(staged, bound=best, mip_gap=proved_gap(staged.objective, best),
                                  notes=(_note(m, first, best, staged.objective, staged.stage),))
        if whole is not None and whole.status == "time_limit":
            out = dataclasses.replace(out, status="time_limit")
    retry = (f"the plan near the first ({_amount(m, staged.objective)}) was more than "
             f"{100 * ONE_STAGE_FROM_GAP:.0f} % above the first stage's bound, so the "
             f"whole-placement MILP was also solved in one stage ({status}); the cheaper plan "
             "is reported")
    return dataclasses.replace(out, notes=(*out.notes, retry))


def _best(*bounds: float | None) -> float | None:
    """The highest of the proved lower bounds (None if there is none)."""
    return max((b for b in bounds if b is not None), default=None)


def stage_one_plan(m: BuiltLp) -> dict[Any, float]:
    """The values stage 2 starts from: placements and choices, by variable."""
    families = ("place", *CHOICES)
    return {var: float(var.varValue or 0.0) for family in families
            for var in m.vars[family].values()}


def restrict(m: BuiltLp, plan: dict[Any, float], hood: Neighbourhood) -> Saved:
    """Bound ``m``'s choices and ``whole`` columns to the neighbourhood of stage 1's ``plan``
    (:func:`stage_one_plan`); return how to undo it."""
    choices = [var for family in CHOICES for var in m.vars[family].values()]
    wholes = m.vars["whole"]
    saved = _save([*choices, *wholes.values()])
    for var in choices:
        var.lowBound = var.upBound = float(round(plan[var]))
    place = m.vars["place"]
    used = {key for key, var in place.items() if plan[var] > _USED}
    near = _near(m, used) if hood is Neighbourhood.NEAR else set()
    for key, var in wholes.items():
        x = plan[place[key]]
        low = float(math.floor(x + _WHOLE)) if key in used else 0.0
        up: float | None = float(math.ceil(x - _WHOLE)) if key in used else 0.0
        if hood is Neighbourhood.OPEN or key in near:
            up = None
        var.lowBound, var.upBound = low, up
    return saved


def _near(m: BuiltLp, used: set[tuple[str, ...]]) -> set[tuple[str, ...]]:
    """Unused placements of a role at a site where stage 1 placed it, on any system there
    (keys end in job, role, site, system; a roadmap's start with the period)."""
    sites = {key[:-1] for key in used}
    return {key for key in m.vars["whole"] if key not in used and key[:-1] in sites}


def proved_gap(objective: float, bound: float | None) -> float | None:
    """(objective - bound) / |objective| of a minimisation, 0 when the bound meets it."""
    if bound is None:
        return None
    return max(0.0, objective - bound) / max(abs(objective), 1e-12)


def _result(m: BuiltLp, ran: StageRun, first: _First, bound: float | None, final: float,
            stage: str, stopped: bool = False) -> TwoStage:
    """The outcome of the run ``ran`` that gave the plan, proved against ``bound``."""
    status = "time_limit" if first.stopped or stopped or ran.status == "time_limit" else "optimal"
    return TwoStage(status, ran.engine, first.relaxed, bound, final, proved_gap(final, bound),
                    stage, (_note(m, first, bound, final, stage),))


def _note(m: BuiltLp, first: _First, bound: float | None, final: float, stage: str) -> str:
    """The report's account of the two stages, objective values in USD (cost) or as built."""
    proved = "" if first.bound is None else f", proved bound {_amount(m, first.bound)}"
    gap = proved_gap(final, bound)
    within = ("" if gap is None or bound is None else
              f", within {100 * gap:.2g} % of that bound" if bound == first.bound else
              f", within {100 * gap:.2g} % of the one-stage bound {_amount(m, bound)}")
    how = ("then the whole-placement MILP in one stage" if stage == ONE_STAGE else
           f"then whole units per placement near that plan ({stage} neighbourhood)")
    return (f"integer plan made whole in two stages: units per (site, system) whole first "
            f"(objective {_amount(m, first.relaxed)}{proved}), {how}: objective "
            f"{_amount(m, final)}{within}")


def _amount(m: BuiltLp, objective: float) -> str:
    """An objective value in USD (cost, net present value), or as built (elastic penalties)."""
    return f"{objective:,.0f}" if m.elastic else f"{m.usd_scale * objective:,.0f} USD"


def _objective(m: BuiltLp) -> float:
    import pulp

    return float(pulp.value(m.prob.objective) or 0.0)


def _save(variables: Iterable[Any]) -> Saved:
    return [(var, var.cat, var.lowBound, var.upBound) for var in variables]


def _restore(saved: Saved) -> None:
    for var, cat, low, up in saved:
        var.cat, var.lowBound, var.upBound = cat, low, up
