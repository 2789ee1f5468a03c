"""Turn a roadmap scenario (workloads + periods + schedule + supply) into the roadmap LP's inputs.

The performance model runs once, as for ``planner optimize`` (``planner/scenario.py``); this
module then writes, per period, the block the LP plans (jobs active in it with their share of
work, request rates of that period, dated power) and, per site and system, the supply over
time (units owned and their end of life, order prices, limits, lead times, remaining value).
The LP itself is in ``planner/lp/periods.py``; the schema of the time keys in
``planner/workload/timeline.py``.

Conventions (each listed in the roadmap's assumptions):

- A unit is in service in a period when its life covers the whole period; an order of period
  *t* is in service from period *t* + lead time (in periods, rounded up).
- Prices: the catalog (or site) price is the price at the roadmap's start unless the supply
  gives a dated price; ``price_decline_per_year`` compounds from the latest dated price.
- A job's window that reaches past the horizon asks for the share of its work that falls inside.
- CPU-only servers stay per period (bought ones are charged their amortised price per period).
"""

from __future__ import annotations

import calendar as cal
import dataclasses
import datetime as dt
import itertools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from planner.errors import InputError, Problem
from planner.units import SECONDS_PER_DAY, SECONDS_PER_YEAR
from planner.workload.timeline import ExplicitPeriod, PeriodGrid, PeriodLength, Timeline

if TYPE_CHECKING:
    from planner.catalog.schema import Fleet
    from planner.lp.inputs import JobInput, PlanningInputs, SiteInput
    from planner.lp.periods import BuildoutInput, PoolSupplyInput, RoadmapInputs
    from planner.scenario import PlanContext
    from planner.workload.load import Scenario

__all__ = ["Period", "RoadmapSetup", "add_months", "periods_of", "prepare_roadmap",
           "roadmap_inputs"]

_DAYS_PER_YEAR = SECONDS_PER_YEAR / SECONDS_PER_DAY
ROADMAP = "<roadmap>"  # the file of a problem found here, until it is placed in the scenario


@dataclass(frozen=True, slots=True)
class Period:
    """One planning period: a name and its dates (``end`` excluded)."""

    name: str
    start: dt.date
    end: dt.date

    @property
    def seconds(self) -> float:
        """Length of the period in seconds."""
        return (self.end - self.start).days * SECONDS_PER_DAY


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later (clamped to the month's last day)."""
    total = day.month - 1 + months
    year, month = day.year + total // 12, total % 12 + 1
    return dt.date(year, month, min(day.day, cal.monthrange(year, month)[1]))


def _grid_name(start: dt.date, length: PeriodLength) -> str:
    """2027-Q1, 2027-H2, 2027-03 or 2027 when the period starts on its calendar boundary,
    else its start date."""
    if start.day != 1:
        return start.isoformat()
    match length:
        case PeriodLength.MONTH:
            return f"{start.year}-{start.month:02d}"
        case PeriodLength.QUARTER if start.month % 3 == 1:
            return f"{start.year}-Q{start.month // 3 + 1}"
        case PeriodLength.HALF if start.month in (1, 7):
            return f"{start.year}-H{1 if start.month == 1 else 2}"
        case PeriodLength.YEAR if start.month == 1:
            return str(start.year)
        case _:
            return start.isoformat()


def periods_of(spec: PeriodGrid | list[ExplicitPeriod]) -> tuple[Period, ...]:
    """The periods of a grid or an explicit list (in order; names unique, no overlaps)."""
    if isinstance(spec, PeriodGrid):
        months = spec.length.months
        return tuple(Period(_grid_name(add_months(spec.start, i * months), spec.length),
                            add_months(spec.start, i * months),
                            add_months(spec.start, (i + 1) * months))
                     for i in range(spec.count))
    listed = tuple(Period(p.name, p.start, p.end) for p in sorted(spec, key=lambda p: p.start))
    for before, after in itertools.pairwise(listed):
        if after.start < before.end:
            raise InputError(Problem(ROADMAP, "periods",
                                     f"periods {before.name} and {after.name} overlap",
                                     "each period must end before the next starts"))
    if len({p.name for p in listed}) != len(listed):
        raise InputError(Problem(ROADMAP, "periods", "two periods share a name",
                                 "give each period its own name"))
    return listed


def _years(a: dt.date, b: dt.date) -> float:
    return (b - a).days / _DAYS_PER_YEAR


def _periods_needed(seconds: float, period_s: float) -> int:
    """A lead time in whole periods, rounded up."""
    return max(0, math.ceil(seconds / period_s - 1e-9)) if seconds > 0 else 0


@dataclass(frozen=True)
class RoadmapSetup:
    """What the roadmap command needs: the LP's inputs, the periods, the perf context and the
    assumptions the conversion made."""

    inputs: RoadmapInputs
    periods: tuple[Period, ...]
    context: PlanContext
    systems: dict[str, int]  # accelerators per unit
    job_kinds: dict[str, str]
    assumptions: tuple[dict[str, Any], ...]
    notes: tuple[str, ...]


def prepare_roadmap(scenario: Scenario, timeline: Timeline, *,
                    fleet_path: str | None = None, budget_usd: float | None = None
                    ) -> RoadmapSetup:
    """Build the roadmap LP's inputs from a loaded roadmap scenario (see the module docstring)."""
    from planner.catalog.load import load_catalog, load_fleet
    from planner.scenario import build_planning_inputs

    catalog = load_catalog()
    fleet = load_fleet(fleet_path or scenario.fleet, catalog)
    try:
        _check_supply(timeline, fleet, set(catalog.systems))
    except InputError as err:
        raise _located(err, scenario.file) from None
    fleet = _with_roadmap_limits(fleet, timeline)
    base, context = build_planning_inputs(_with_windows(scenario, timeline), fleet=fleet,
                                          roadmap=True)
    try:
        inputs, job_kinds, notes = roadmap_inputs(base, timeline, fleet.economics.lifetime,
                                                  budget_usd=budget_usd)
        if all(period.inputs is None for period in inputs.periods):
            raise InputError(Problem(ROADMAP, "schedule", "no job runs in any period: every "
                                     "job's window lies outside the periods and no serving "
                                     "demand is positive", "move the windows inside the "
                                     "periods, or add periods"))
    except InputError as err:
        raise _located(err, scenario.file) from None
    return RoadmapSetup(
        inputs=inputs, periods=periods_of(timeline.periods), context=context,
        systems={h.id: h.accelerators for h in base.systems}, job_kinds=job_kinds,
        assumptions=tuple(_assumptions(timeline, fleet)), notes=tuple(notes))


def _located(err: InputError, file: str) -> InputError:
    """The roadmap's problems (file ``ROADMAP``) placed at their line in the scenario file."""
    from planner.yamlio import load_document

    doc = load_document(file)
    return InputError([doc.problem(tuple(p.path.split(".")), p.message, p.hint)
                       if p.file == ROADMAP else p for p in err.problems])


def roadmap_inputs(base: PlanningInputs, timeline: Timeline, lifetime_s: float, *,
                   budget_usd: float | None = None
                   ) -> tuple[RoadmapInputs, dict[str, str], list[str]]:
    """The roadmap LP's inputs from one-period planning inputs (every job at its workload's
    rate and deadline) and the timeline; ``lifetime_s`` is the life of systems the supply
    gives none for. Returns the inputs, each job's kind and notes for the reader."""
    from planner.lp.periods import RoadmapInputs

    periods = periods_of(timeline.periods)
    first, horizon_end = periods[0].start, periods[-1].end
    rate = timeline.discount_rate
    notes: list[str] = []
    windows, instances = _job_windows(base, timeline, periods, notes)
    pools = _pools(base, lifetime_s, timeline, periods)
    builds = _buildouts(timeline, periods)
    blocks = []
    for t, period in enumerate(periods):
        block = _block_inputs(base, timeline, periods, t, instances, pools, builds)
        caps = {s.id: _dated_power(s.id, s.power_cap_w, timeline, period.start)
                for s in base.sites}
        blocks.append(_period_input(period, first, rate, block, caps))
    inputs = RoadmapInputs(
        periods=tuple(blocks), pools=tuple(pools), buildouts=tuple(builds),
        windows=windows, end_discount=(1.0 + rate) ** -_years(first, horizon_end),
        budget_npv_usd=budget_usd, budget_per_period_usd=timeline.budget_per_period)
    kinds: dict[str, str] = {**{j.id: j.kind for j in base.jobs},
                             **{i.id: i.kind for ins in instances.values() for i, _ in ins}}
    return inputs, kinds, notes


def _period_input(period: Period, first: dt.date, rate: float,
                  block: PlanningInputs | None, caps: dict[str, float]) -> Any:
    from planner.lp.periods import PeriodInput

    return PeriodInput(name=period.name, start=period.start.isoformat(),
                       end=period.end.isoformat(), seconds=period.seconds,
                       discount=(1.0 + rate) ** -_years(first, period.start), inputs=block,
                       power_cap_w=caps)


# ---- checks and the fleet's purchase rights ------------------------------------------------

def _check_supply(timeline: Timeline, fleet: Fleet, systems: set[str]) -> None:
    """Every site and system the supply names exists (one error lists them all)."""
    sites = {s.id for s in fleet.sites}
    supply = timeline.supply
    problems = [Problem(ROADMAP, f"supply.{part}.{name}", f"unknown site {name!r}",
                        "use a site of the fleet: " + ", ".join(sorted(sites)))
                for part, table in (("sites", supply.sites), ("inventory", supply.inventory),
                                    ("purchase_limits", supply.purchase_limits))
                for name in table if name not in sites]
    problems += [Problem(ROADMAP, f"supply.systems.{name}", f"unknown system {name!r}",
                         "use a system of the catalog (planner catalog list)")
                 for name in supply.systems if name not in systems]
    problems += [Problem(ROADMAP, f"supply.{part}.{site}.{name}", f"unknown system {name!r}",
                         "use a system of the catalog (planner catalog list)")
                 for part, table in (("inventory", supply.inventory),
                                     ("purchase_limits", supply.purchase_limits))
                 for site, entries in table.items() for name in entries
                 if name not in systems]
    if problems:
        raise InputError(problems)


def _with_windows(scenario: Scenario, timeline: Timeline) -> Scenario:
    """The scenario with each scheduled job's deadline set to its window's length (a
    pretraining workload may leave its deadline to the roadmap's schedule)."""
    workloads = []
    for loaded in scenario.workloads:
        entry = timeline.schedule.get(loaded.name)
        seconds = None
        if entry is not None and entry.window_start is not None and entry.deadline is not None:
            seconds = (entry.deadline - entry.window_start).days * SECONDS_PER_DAY
        elif entry is not None and entry.duration is not None:
            seconds = entry.duration
        if seconds is not None and hasattr(loaded.spec, "deadline"):
            spec = loaded.spec.model_copy(update={"deadline": seconds})
            loaded = dataclasses.replace(loaded, spec=spec)
        workloads.append(loaded)
    return dataclasses.replace(scenario, workloads=tuple(workloads))


def _with_roadmap_limits(fleet: Fleet, timeline: Timeline) -> Fleet:
    """The fleet with the roadmap's per-period purchase limits merged into its sites."""
    extra = timeline.supply.purchase_limits
    if not extra:
        return fleet
    sites = [site.model_copy(update={"purchase_limits": {**site.purchase_limits,
                                                         **extra.get(site.id, {})}})
             for site in fleet.sites]
    return fleet.model_copy(update={"sites": sites})


# ---- jobs over time ------------------------------------------------------------------------

Instances = dict[str, list[tuple["JobInput", tuple[dt.date, dt.date]]]]


def _job_windows(base: PlanningInputs, timeline: Timeline, periods: tuple[Period, ...],
                 notes: list[str]) -> tuple[dict[str, float], Instances]:
    """Each training or post-training job's instances (one, or one per repeat) with their
    windows, and the share of each window inside the horizon."""
    first, end = periods[0].start, periods[-1].end
    windows: dict[str, float] = {}
    instances: Instances = {}
    for job in base.jobs:
        if job.serve is not None:
            continue
        entry = timeline.schedule.get(job.id)
        start = entry.window_start if entry is not None and entry.window_start else first
        if entry is not None and entry.deadline is not None:
            length_days = (entry.deadline - start).days
        elif entry is not None and entry.duration is not None:
            length_days = max(1, round(entry.duration / SECONDS_PER_DAY))
        else:
            length_days = max(1, round(job.horizon_s / SECONDS_PER_DAY))
        starts = [start]
        if entry is not None and entry.every is not None:
            starts = []
            k = 0
            while (nxt := add_months(start, k * entry.every.months)) < end:
                starts.append(nxt)
                k += 1
        made = []
        for begin in starts:
            finish = begin + dt.timedelta(days=length_days)
            inside = max(0, (min(finish, end) - max(begin, first)).days)
            if inside <= 0:
                notes.append(f"{job.id}: its window {begin} to {finish} lies outside the "
                             "roadmap's periods; it is not planned")
                continue
            job_id = job.id if len(starts) == 1 else f"{job.id}@{_name_at(periods, begin)}"
            made.append((dataclasses.replace(job, id=job_id), (begin, finish)))
            windows[job_id] = inside / length_days
            if inside < length_days:
                notes.append(f"{job_id}: {inside / length_days:.0%} of its window lies inside "
                             "the roadmap; that share of its work is planned")
        instances[job.id] = made
    return windows, instances


def _name_at(periods: tuple[Period, ...], day: dt.date) -> str:
    """The name of the period holding a date (else the date)."""
    return next((p.name for p in periods if p.start <= day < p.end), day.isoformat())


def _serve_factor(job: JobInput, timeline: Timeline, periods: tuple[Period, ...],
                  t: int) -> float:
    """The serving job's request rate in period t as a multiple of the workload's own rate."""
    assert job.serve is not None
    entry = timeline.schedule.get(job.id)
    if entry is None or not entry.is_demand:
        return 1.0
    base = job.serve.total_rate_per_s
    if entry.requests_per_second is None:
        quarters = _years(periods[0].start, periods[t].start) * 4.0
        first = entry.start_rate / base if entry.start_rate is not None and base > 0 else 1.0
        return float(first * (1.0 + (entry.growth_per_quarter or 0.0)) ** quarters)
    given = entry.requests_per_second or {}
    known = [name for name in (p.name for p in periods[: t + 1]) if name in given]
    if not known:
        raise InputError(Problem(ROADMAP, f"schedule.{job.id}.requests_per_second",
                                 f"no request rate for period {periods[t].name} or before",
                                 f"start with the first period: {periods[0].name}: ..."))
    return given[known[-1]] / base if base > 0 else 0.0


def _block_jobs(base: PlanningInputs, timeline: Timeline, periods: tuple[Period, ...], t: int,
                instances: Instances) -> list[JobInput]:
    """The jobs of period t: serving jobs at the period's rate over the period; every job
    instance whose window overlaps the period, over the overlap."""
    from planner.lp.inputs import ServeDemand

    period = periods[t]
    jobs: list[JobInput] = []
    for job in base.jobs:
        if job.serve is not None:
            factor = _serve_factor(job, timeline, periods, t)
            if factor <= 0:
                continue
            stretch = factor * period.seconds / job.horizon_s
            rates = {g: r * factor for g, r in job.serve.rate_by_region.items()}
            jobs.append(dataclasses.replace(
                job, horizon_s=period.seconds,
                serve=ServeDemand(rate_by_region=rates,
                                  latency_bound_s=job.serve.latency_bound_s),
                roles=tuple(dataclasses.replace(r, work=r.work * stretch) for r in job.roles)))
            continue
        for instance, (begin, finish) in instances.get(job.id, []):
            overlap = (min(finish, period.end) - max(begin, period.start)).days
            if overlap <= 0:
                continue
            fraction = overlap / max(1, (finish - begin).days)
            rl = instance.rl
            jobs.append(dataclasses.replace(
                instance, horizon_s=overlap * SECONDS_PER_DAY,
                sync_bytes=instance.sync_bytes * fraction,
                rl=None if rl is None else dataclasses.replace(
                    rl, policy_updates=rl.policy_updates * fraction)))
    return jobs


# ---- supply over time ----------------------------------------------------------------------

def _dated_power(site: str, default_w: float, timeline: Timeline, day: dt.date) -> float:
    """The site's power in effect on ``day``: the latest dated value on or before it, else
    the fleet's."""
    supply = timeline.supply.sites.get(site)
    if supply is None:
        return default_w
    dated = [d for d in supply.power if d <= day]
    return supply.power[max(dated)] if dated else default_w


def _price_at(timeline: Timeline, system: str, catalog_usd: float, first: dt.date,
              day: dt.date) -> float:
    """A unit's price on ``day``: the latest dated price (else the catalog's at the roadmap's
    start), compounded down by the yearly decline since that date."""
    supply = timeline.supply.systems.get(system)
    if supply is None:
        return catalog_usd
    if isinstance(supply.price, float | int):
        anchor_day = supply.available_from or first
        return float(supply.price * (1.0 - supply.price_decline_per_year)
                     ** _years(anchor_day, day))
    dated = sorted(supply.price)
    known = [d for d in dated if d <= day]
    anchor, price = (known[-1], supply.price[known[-1]]) if known else \
        ((dated[0], supply.price[dated[0]]) if dated else (first, catalog_usd))
    return float(price * (1.0 - supply.price_decline_per_year) ** _years(anchor, day))


def _pools(base: PlanningInputs, life_default: float, timeline: Timeline,
           periods: tuple[Period, ...]) -> list[PoolSupplyInput]:
    """Supply of every (site, system) that owns units or may buy them."""
    from planner.lp.costs import purchase_price
    from planner.lp.periods import PoolSupplyInput

    first, end = periods[0].start, periods[-1].end
    mean_s = sum(p.seconds for p in periods) / len(periods)
    out = []
    for site in base.sites:
        for system in base.systems:
            owned = site.inventory.get(system.id, 0)
            limit = site.purchase_limits.get(system.id, 0)
            if owned <= 0 and limit <= 0:
                continue
            supply = timeline.supply.systems.get(system.id)
            life_s = supply.lifetime if supply is not None and supply.lifetime else life_default
            life = dt.timedelta(days=life_s / SECONDS_PER_DAY)
            lead = _periods_needed(supply.lead_time if supply else 0.0, mean_s)
            ready = supply.available_from if supply is not None else None
            bought = timeline.supply.inventory.get(site.id, {}).get(system.id, first)
            initial = tuple(owned if bought + life >= p.end else 0 for p in periods)
            prices: list[float | None] = []
            service: list[tuple[bool, ...]] = []
            remaining: list[float] = []
            scale = purchase_price(system, site) / system.purchase_usd \
                if system.purchase_usd > 0 else 1.0  # a site's own quote, on the same path
            for tau, period in enumerate(periods):
                arrive = tau + lead
                ok = limit > 0 and arrive < len(periods) and (
                    ready is None or periods[arrive].start >= ready)
                prices.append(_price_at(timeline, system.id, system.purchase_usd, first,
                                        period.start) * scale if ok else None)
                online = periods[arrive].start if arrive < len(periods) else end
                service.append(tuple(ok and t >= arrive and online + life >= p.end
                                     for t, p in enumerate(periods)))
                left = (online + life - end).days / max(1, life.days)
                remaining.append(min(1.0, max(0.0, left)) if ok else 0.0)
            out.append(PoolSupplyInput(site.id, system.id, initial, tuple(prices),
                                       tuple(float(limit) for _ in periods), tuple(service),
                                       tuple(remaining)))
    return out


def _buildouts(timeline: Timeline, periods: tuple[Period, ...]) -> list[BuildoutInput]:
    """Power that may be built at each site, with its lead time and remaining value."""
    from planner.lp.periods import BuildoutInput

    end = periods[-1].end
    mean_s = sum(p.seconds for p in periods) / len(periods)
    out = []
    for site, supply in sorted(timeline.supply.sites.items()):
        b = supply.buildout
        if b is None or b.limit <= 0:
            continue
        lead = _periods_needed(b.lead_time, mean_s)
        life_days = max(1.0, b.lifetime / SECONDS_PER_DAY)
        remaining = []
        for tau in range(len(periods)):
            online = periods[tau + lead].start if tau + lead < len(periods) else end
            left = ((online - end).days + life_days) / life_days
            remaining.append(min(1.0, max(0.0, left)))
        out.append(BuildoutInput(site, b.price, lead, b.limit, tuple(remaining)))
    return out


def _block_inputs(base: PlanningInputs, timeline: Timeline, periods: tuple[Period, ...],
                  t: int, instances: Instances, pools: list[PoolSupplyInput],
                  builds: list[BuildoutInput]) -> PlanningInputs | None:
    """Period t's planning inputs (None when no job runs in it)."""
    jobs = _block_jobs(base, timeline, periods, t, instances)
    if not jobs:
        return None
    bound: dict[tuple[str, str], int] = {}
    for pool in pools:
        most = pool.initial[t] + sum(pool.limit[tau] for tau in range(len(periods))
                                     if pool.price_usd[tau] is not None
                                     and pool.in_service[tau][t])
        if most >= 1:
            bound[(pool.site, pool.system)] = math.ceil(most)
    extra = {b.site: b.limit_w for b in builds}
    sites = tuple(_block_site(site, bound, timeline, periods[t].start, extra.get(site.id, 0.0))
                  for site in base.sites)
    return dataclasses.replace(base, sites=sites, jobs=tuple(jobs), budget_usd=None,
                               charge_inventory_capex=False, cost_basis="own")


def _block_site(site: SiteInput, bound: dict[tuple[str, str], int], timeline: Timeline,
                day: dt.date, buildable_w: float) -> SiteInput:
    """A site in one period: units it could hold (the LP bounds them by the fleet), nothing
    bought inside the period, and power up to what could be built (the period's own power
    row has the dated cap plus what was built)."""
    held = {h: n for (s, h), n in bound.items() if s == site.id}
    return dataclasses.replace(
        site, inventory=held, purchase_limits={},
        power_cap_w=_dated_power(site.id, site.power_cap_w, timeline, day) + buildable_w)


def _assumptions(timeline: Timeline, fleet: Fleet) -> list[dict[str, Any]]:
    """The conventions the roadmap adds, named so a reader sees them."""
    rows = [
        ("roadmap_discount_rate", timeline.discount_rate, "scenario: discount_rate",
         "per year; each period's cost is discounted from its start"),
        ("roadmap_capital", "at purchase", "planner default",
         "units are paid when ordered; the straight-line remaining value of units still in "
         "their life at the horizon's end is credited back"),
        ("roadmap_in_service", "whole periods", "planner default",
         "a unit serves in a period when its life covers all of it; lead times are rounded "
         "up to whole periods"),
        ("roadmap_default_lifetime_years", fleet.economics.lifetime / SECONDS_PER_YEAR,
         "fleet: economics.lifetime", "life of systems the supply gives none for"),
        ("roadmap_cpu_servers", "per period", "planner default",
         "CPU-only servers are used or bought per period at their amortised price"),
    ]
    return [{"name": n, "value": v, "source": s, "note": note} for n, v, s, note in rows]
