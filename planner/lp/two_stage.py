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
   (``ONE_STAGE``), each solve under the caller's time limit.

The gap reported is ``(final objective - stage 1 bound) / final objective``: what is proved
about the plan against every whole-placement plan, not only against the neighbourhood (where
stage 2 is usually optimal). It is larger than the requested gap whenever rounding placements
costs more than that, which the note states with both objective values.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from planner.lp.build import BuiltLp

__all__ = ["CHOICES", "Neighbourhood", "StageRun", "TwoStage", "applies", "proved_gap", "restrict",
           "solve_two_stage", "stage_one_plan"]

# the 0/1 site and system choices of ``planner.lp.build`` (``_add_variables``)
CHOICES = ("pick", "gen_on", "sys_pick", "site_on", "hub")
ONE_STAGE = "one stage"
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


def solve_two_stage(m: BuiltLp, run: Callable[[], StageRun]) -> TwoStage:
    """Solve ``m`` (whole placements) in two stages; ``run`` solves ``m`` as its bounds and
    categories stand. The plan is left on ``m``'s variables; stage 2's bounds stay in place."""
    import pulp

    wholes = list(m.vars["whole"].values())
    saved = _save(wholes)
    for var in wholes:
        var.cat = pulp.LpContinuous
    first = run()
    _restore(saved)
    if first.status not in ("optimal", "time_limit"):
        return TwoStage(first.status, first.engine, None, None, None, None, "stage 1")
    relaxed, bound = _objective(m), first.bound
    stopped = first.status == "time_limit"
    plan = stage_one_plan(m)  # a failed run may overwrite the values on m
    for hood in Neighbourhood:
        undo = restrict(m, plan, hood)
        second = run()
        if second.status in ("optimal", "time_limit"):
            final = _objective(m)
            stopped = stopped or second.status == "time_limit"
            return _result(m, second, relaxed, bound, final, hood.value, stopped)
        _restore(undo)
    whole = run()
    if whole.status not in ("optimal", "time_limit"):
        return TwoStage(whole.status, whole.engine, relaxed, bound, None, None, ONE_STAGE)
    best = max((b for b in (bound, whole.bound) if b is not None), default=None)
    return _result(m, whole, relaxed, best, _objective(m), ONE_STAGE,
                   stopped or whole.status == "time_limit")


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


def _result(m: BuiltLp, ran: StageRun, relaxed: float, bound: float | None, final: float,
            stage: str, stopped: bool) -> TwoStage:
    gap = proved_gap(final, bound)
    return TwoStage("time_limit" if stopped else "optimal", ran.engine, relaxed, bound, final,
                    gap, stage, (_note(m, relaxed, bound, final, gap, stage),))


def _note(m: BuiltLp, relaxed: float, bound: float | None, final: float, gap: float | None,
          stage: str) -> str:
    """The report's account of the two stages, objective values in USD (cost) or as built."""
    scale, unit = (m.usd_scale, " USD") if not m.elastic else (1.0, "")
    proved = "" if bound is None else f", proved bound {scale * bound:,.0f}{unit}"
    within = "" if gap is None else f", within {100 * gap:.2g} % of that bound"
    how = ("then the whole-placement MILP in one stage (no whole-placement plan near the "
           "first)" if stage == ONE_STAGE else
           f"then whole units per placement near that plan ({stage} neighbourhood)")
    return (f"integer plan made whole in two stages: units per (site, system) whole first "
            f"(objective {scale * relaxed:,.0f}{unit}{proved}), {how}: objective "
            f"{scale * final:,.0f}{unit}{within}")


def _objective(m: BuiltLp) -> float:
    import pulp

    return float(pulp.value(m.prob.objective) or 0.0)


def _save(variables: Iterable[Any]) -> Saved:
    return [(var, var.cat, var.lowBound, var.upBound) for var in variables]


def _restore(saved: Saved) -> None:
    for var, cat, low, up in saved:
        var.cat, var.lowBound, var.upBound = cat, low, up
