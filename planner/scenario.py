"""Turn a scenario (workloads + fleet + catalog) into the optimizer's planning-inputs table.

This is the one place where the performance model meets the optimizer: for every job, role and
system of the fleet it asks the perf model how much work one unit does per second, and writes
that into plain numbers (:mod:`planner.lp.inputs`). The optimizer never sees a model,
a precision or a roofline.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, assert_never, cast

from planner.catalog.load import Catalog, default_fleet_path, load_catalog, load_fleet
from planner.catalog.schema import Fleet, System
from planner.errors import InputError, Problem
from planner.perf.assumptions import Assumption
from planner.units import Dimension, parse_quantity
from planner.workload.checks import check_regions
from planner.workload.schema import Posttrain, Pretrain, Serve

if TYPE_CHECKING:
    from planner.catalog.schema import Link, Site
    from planner.lp.inputs import (
        CpuServerInput,
        EconomicsInput,
        JobInput,
        LinkInput,
        PlanningInputs,
        SiteInput,
        SystemInput,
    )
    from planner.lp.solution import Solution
    from planner.workload.load import LoadedWorkload, Scenario

# What a workload adds to the planning inputs: its job, the roofline bound of each role on each
# system, the assumptions used and one row per role and system for the report.
JobParts = tuple["JobInput", dict[tuple[str, str], dict[str, str]], list[dict[str, Any]],
                 list[dict[str, Any]]]

__all__ = ["PlanContext", "PlanResult", "build_planning_inputs", "plan"]


@dataclass(frozen=True)
class PlanContext:
    """What the report needs besides the Solution: names, perf bounds and assumptions."""

    scenario: str
    fleet: str
    workloads: tuple[str, ...]
    role_bounds: dict[tuple[str, str], dict[str, str]]
    assumptions: tuple[dict[str, Any], ...]
    notes: tuple[str, ...] = ()
    role_rows: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    systems: tuple[dict[str, Any], ...] = field(default_factory=tuple)


def _systems_in(fleet: Fleet, catalog: Catalog) -> list[System]:
    """Systems the fleet can use anywhere (inventory, purchase or rental), sorted by id."""
    names = {name for site in fleet.sites
             for table in (site.inventory, site.purchase_limits, site.rental_limits)
             for name, count in table.items() if count > 0}
    return [catalog.systems[name] for name in sorted(names)]


def build_planning_inputs(scenario: Scenario, fleet_path: str | os.PathLike[str] | None = None,
                          budget: str | float | None = None,
                          charge_inventory_capex: bool = False,
                          cost_basis: str | None = None, *, fleet: Fleet | None = None,
                          roadmap: bool = False) -> tuple[PlanningInputs, PlanContext]:
    """Planning inputs for the LP plus the context the report needs.

    ``cost_basis`` (own, rent or buy; default own) says how acquired units are charged
    (:class:`planner.lp.inputs.PlanningInputs`). ``fleet``: an already loaded (and possibly
    adjusted) fleet instead of ``fleet_path``. A scenario with periods is a roadmap: only
    ``planner roadmap`` (``roadmap=True``) plans it.
    """
    from planner.lp.inputs import PlanningInputs
    from planner.perf.cost import cost_basis as parse_basis

    if scenario.timeline is not None and not roadmap:
        from planner.yamlio import load_document

        raise InputError(load_document(scenario.file).problem(
            ("periods",), "this scenario is a roadmap over periods",
            f"run 'planner roadmap {scenario.file}' (optimize plans one steady state)"))
    basis = parse_basis(cost_basis)

    catalog = load_catalog()
    if fleet is None:
        fleet = load_fleet(fleet_path or scenario.fleet, catalog)
    unknown = check_regions(scenario.workloads, fleet, str(fleet_path or scenario.fleet or
                                                           default_fleet_path()))
    if unknown:
        raise InputError(unknown)
    systems = _systems_in(fleet, catalog)
    jobs, bounds, assumptions, rows = [], {}, {}, []
    for loaded in scenario.workloads:
        job, job_bounds, job_assumptions, job_rows = _job(loaded, systems)
        jobs.append(job)
        bounds.update(job_bounds)
        assumptions.update({a["name"]: a for a in job_assumptions})
        rows.extend(job_rows)
    inputs = PlanningInputs(
        sites=tuple(_site(site, catalog, basis.value)
                    for site in sorted(fleet.sites, key=lambda s: s.id)),
        links=tuple(_link(link) for link in fleet.links),
        systems=tuple(_system(system) for system in systems),
        cpu_server=_cpu_server(fleet),
        economics=_economics(fleet),
        jobs=tuple(sorted(jobs, key=lambda j: j.id)),
        budget_usd=_budget(budget),
        charge_inventory_capex=charge_inventory_capex,
        cost_basis=basis.value,
    )
    system_rows = tuple({"system": s.id, "accelerators": s.accelerators,
                         "cpu_cores": s.host.cores,
                         "cpu_cores_per_accelerator": s.cpu_cores_per_accelerator,
                         "power_w": s.power} for s in systems)
    context = PlanContext(scenario.name, fleet.id, tuple(w.name for w in scenario.workloads),
                          bounds, tuple(assumptions[k] for k in sorted(assumptions)),
                          role_rows=tuple(rows), systems=system_rows)
    return inputs, context


def _budget(budget: str | float | None) -> float | None:
    if budget is None:
        return None
    if isinstance(budget, int | float):
        return float(budget)
    try:
        return parse_quantity(budget, Dimension.MONEY)
    except ValueError as err:
        raise InputError(Problem("--budget", "", str(err), "for example --budget '2B USD'")) \
            from None


def _site(site: Site, catalog: Catalog, basis: str) -> SiteInput:
    """The site's row; on the rent basis its purchase limits become rental limits for the
    systems with a rental price (here or in the catalog) and nothing can be bought."""
    from planner.lp.inputs import SiteInput

    purchase = {k: p.purchase for k, p in site.prices.items() if p.purchase is not None}
    rental = {k: p.rental for k, p in site.prices.items() if p.rental is not None}
    buy_limits, rent_limits = dict(site.purchase_limits), dict(site.rental_limits)
    cpu_buy = site.cpu_server_purchase_limit
    if basis == "rent":
        for name, limit in buy_limits.items():
            if name in rental or catalog.systems[name].rental is not None:
                rent_limits[name] = max(limit, rent_limits.get(name, 0))
        buy_limits, cpu_buy = {}, 0
    return SiteInput(
        id=site.id, region=site.region, power_cap_w=site.power_capacity, pue=site.pue,
        electricity_usd_per_j=site.electricity_price,
        colocation_usd_per_w_s=site.colocation_price,
        inventory=_positive(site.inventory),
        purchase_limits=_positive(buy_limits),
        rental_limits=_positive(rent_limits),
        cpu_servers=site.cpu_servers, cpu_server_purchase_limit=cpu_buy,
        purchase_usd=purchase, rental_usd_per_s=rental,
        lat=site.location.lat if site.location else None,
        lon=site.location.lon if site.location else None)


def _positive(table: dict[str, int]) -> dict[str, int]:
    """A site's counts without the zero entries ('may buy 0' is no offer at all), sorted."""
    return {name: count for name, count in sorted(table.items()) if count > 0}


def _link(link: Link) -> LinkInput:
    from planner.lp.inputs import LinkInput

    return LinkInput(a=link.a, b=link.b, bandwidth_bytes_per_s=link.bandwidth,
                     latency_s=link.latency, usd_per_byte=link.cost)


def _system(system: System) -> SystemInput:
    from planner.lp.inputs import SystemInput

    return SystemInput(id=system.id, accelerators=system.accelerators,
                       cpu_cores=system.host.cores, power_w=system.power,
                       purchase_usd=system.purchase.price,
                       rental_usd_per_s=system.rental.price if system.rental else None)


def _cpu_server(fleet: Fleet) -> CpuServerInput:
    from planner.lp.inputs import CpuServerInput

    server = fleet.cpu_server
    return CpuServerInput(cores=server.cores, power_w=server.power,
                          purchase_usd=server.purchase.price)


def _economics(fleet: Fleet) -> EconomicsInput:
    from planner.lp.inputs import EconomicsInput

    return EconomicsInput(lifetime_s=fleet.economics.lifetime,
                          cost_of_capital=fleet.economics.cost_of_capital)


GRADIENT_BYTES_PER_PARAM = 2.0  # BF16 gradients, as planner.perf.training keeps them


def _sync_bytes(loaded: LoadedWorkload, spec: Pretrain) -> float:
    """Bytes each site of a pretraining run spanning sites sends to the hub site over the run
    (and receives back): hierarchical all-reduce through a hub.

    Within a site the gradients are reduced over its fast fabric; across sites each site sends
    its reduced gradients (2 bytes per parameter) to one hub site and receives the averaged
    result, every ``cross_site_sync_every`` optimizer steps of ``global_batch_tokens``. With
    two sites that is what a ring all-reduce moves per site, 2(n-1)/n of the gradients
    (Patarasuk & Yuan, J. Parallel Distrib. Comput. 69(2), 2009); ``cross_site_sync_every``
    of several hundred is DiLoCo's outer step (Douillard et al., arXiv 2311.08105: H = 500).
    """
    if not spec.allow_cross_site:
        return 0.0
    from planner.workload.params import count_params

    params = count_params(loaded.model.architecture).total
    syncs = spec.tokens / spec.global_batch_tokens / spec.cross_site_sync_every
    return params * GRADIENT_BYTES_PER_PARAM * syncs


def _placement_options(spec: Pretrain | Posttrain | Serve, systems: list[System], file: str,
                       synchronous: tuple[str, ...]) -> dict[str, Any]:
    """A job's ``systems``, ``homogeneous`` (its synchronous roles) and ``max_sites``; an
    unknown or unusable system id is an input error naming it."""
    known = {s.id for s in systems}
    unknown = [(i, name) for i, name in enumerate(spec.systems) if name not in known]
    if unknown:
        raise InputError([Problem(str(file), f"systems[{i}]",
                                  f"system {name!r} is not in the fleet",
                                  f"use one of: {', '.join(sorted(known))}")
                          for i, name in unknown])
    return {"systems": tuple(spec.systems),
            "homogeneous": synchronous if spec.homogeneous else (),
            "max_sites": spec.max_sites}


def _job(loaded: LoadedWorkload, systems: list[System]
         ) -> JobParts:
    spec = loaded.spec
    match spec:
        case Posttrain():
            return _posttrain_job(loaded.name, spec, dict(loaded.models), systems, loaded.file)
        case Pretrain():
            return _pretrain_job(loaded, spec, systems)
        case Serve():
            return _serve_job(loaded, spec, systems)
        case _:
            assert_never(spec)


def _posttrain_job(name: str, spec: Posttrain, models: dict[str, Any],
                   systems: list[System], file: str = "") -> JobParts:
    from planner.lp.inputs import JobInput, RlCoupling, RoleInput
    from planner.perf.rl import posttrain_assumptions, posttrain_demand, role_estimates

    demand = posttrain_demand(spec, models)
    per_role: dict[str, dict[str, Any]] = {}
    assumptions: dict[str, Any] = {}
    rows = []
    for system in systems:
        chosen = posttrain_assumptions(spec, system)
        assumptions.update({a.name: a.to_dict() for a in chosen.listing()})
        for role in role_estimates(spec, models, system, chosen, demand):
            entry = per_role.setdefault(role.role, {"work": role.work, "unit": role.work_unit,
                                                    "thr": {}, "bound": {}})
            if role.role != "verify" and role.throughput_per_unit > 0:
                entry["thr"][system.id] = role.throughput_per_unit
            entry["bound"][system.id] = role.bound
            rows.append({"job": name, "system": system.id, **role.to_dict()})
    roles = tuple(
        RoleInput(name=role, work=entry["work"], work_unit=entry["unit"],
                  throughput=dict(sorted(entry["thr"].items())),
                  cpu_core_seconds_per_work=spec.verifier_cpu_seconds if role == "verify" else 0,
                  bound=dict(sorted(entry["bound"].items())))
        for role, entry in per_role.items())
    coupling = RlCoupling(generate="generate", score="score", verify="verify", update="update",
                          sample_bytes=demand.sample_bytes,
                          verified_fraction=spec.verified_fraction,
                          keep_fraction=spec.keep_fraction,
                          weight_bytes=demand.weight_sync_bytes_per_update,
                          policy_updates=spec.policy_updates)
    job = JobInput(id=name, kind="posttrain", horizon_s=spec.deadline, roles=roles,
                   single_site=False, rl=coupling, serve=None, **_placement_options(
                       spec, systems, file or name, ("update",)))
    bounds = {(name, role): entry["bound"] for role, entry in per_role.items()}
    return job, bounds, list(assumptions.values()), rows


# The cluster size a placed pretraining run's per-unit throughput is evaluated at when the
# workload names none (the 8,192-GPU row of the Llama 3 paper's Table 4, arXiv:2407.21783):
# the data-parallel, pipeline and communication terms of planner.perf.training depend on it,
# and the LP then scales units linearly around it.
PRETRAIN_SIZING_ACCELERATORS = 8192


def pretrain_sizing(spec: Pretrain, workload: str) -> Assumption:
    """The named assumption for the cluster size a pretraining job is modelled at.

    The workload's ``accelerators`` when given; else :data:`PRETRAIN_SIZING_ACCELERATORS`,
    listed in the plan's assumptions so that a reader sees it and can change it
    (``--set accelerators=N``). See docs/performance-model.md.
    """
    note = ("accelerators at which a placed pretraining run's per-unit throughput is "
            "evaluated (parallel layout, pipeline bubble, collectives); set 'accelerators' in "
            "the workload to model its own size")
    if spec.accelerators:
        return Assumption(f"pretrain_sizing_accelerators[{workload}]",
                          float(spec.accelerators), f"workload {workload}: accelerators", note)
    return Assumption(f"pretrain_sizing_accelerators[{workload}]",
                      float(PRETRAIN_SIZING_ACCELERATORS),
                      "planner default: the 8,192-GPU Llama 3 405B configuration (TP 8, PP 16, "
                      "DP 64; arXiv:2407.21783 Table 4), not derived from the plan",
                      note)


def _pretrain_job(loaded: LoadedWorkload, spec: Pretrain, systems: list[System]
                  ) -> JobParts:
    from planner.lp.inputs import JobInput, RoleInput
    from planner.perf.training import DEFAULTS, training_throughput

    if spec.deadline is None:
        message = "placing a pretraining run needs a deadline"
        hint = "add 'deadline: 90 days' or --set deadline='90 days'"
        raise InputError(loaded.doc.problem((*loaded.base, "deadline"), message, hint)
                         if loaded.doc is not None else
                         Problem(loaded.file, "deadline", message, hint))
    from planner.perf.assumptions import resolve

    sizing = pretrain_sizing(spec, loaded.name)
    size = int(sizing.value)
    thr, bound, rows = {}, {}, []
    assumptions = {sizing.name: sizing.to_dict()}
    for system in systems:
        chosen = resolve(DEFAULTS, system.id, system.efficiency, loaded.name, spec.efficiency)
        assumptions.update({k: a.to_dict() for k, a in chosen.items()})
        result = training_throughput(loaded.model, system, sequence_length=spec.sequence_length,
                                     precision=spec.precision, accelerators=size,
                                     assumptions=chosen,
                                     global_batch_tokens=spec.global_batch_tokens,
                                     recompute=spec.recompute, zero_stage=spec.zero_stage)
        if result.tokens_per_s_per_unit > 0:
            thr[system.id] = result.tokens_per_s_per_unit
        bound[system.id] = result.bound
        rows.append({"job": loaded.name, "system": system.id, "role": "train",
                     "throughput_per_unit": result.tokens_per_s_per_unit, "bound": result.bound,
                     "work_unit": "tokens", "work": spec.tokens})
    role = RoleInput(name="train", work=spec.tokens, work_unit="tokens",
                     throughput=dict(sorted(thr.items())), cpu_core_seconds_per_work=0.0,
                     bound=dict(sorted(bound.items())))
    job = JobInput(id=loaded.name, kind="pretrain", horizon_s=spec.deadline, roles=(role,),
                   single_site=not spec.allow_cross_site, rl=None, serve=None,
                   sync_bytes=_sync_bytes(loaded, spec),
                   **_placement_options(spec, systems, loaded.file, ("train",)))
    return job, {(loaded.name, "train"): bound}, list(assumptions.values()), rows


def _serve_job(loaded: LoadedWorkload, spec: Serve, systems: list[System]
               ) -> JobParts:
    from planner.lp.inputs import JobInput, RoleInput, ServeDemand
    from planner.perf.serving import estimate_serving
    from planner.shortfall import no_rate_bound

    thr, bound, assumptions, rows = {}, {}, {}, []
    for system in systems:
        result = estimate_serving(spec, loaded.model, system).to_dict()
        assumptions.update({a["name"]: a for a in result["assumptions"]})
        rate = result.get("requests_per_s_per_unit", 0.0) if result.get("fits_memory", True) \
            else 0.0
        if rate > 0:
            thr[system.id] = rate
        bound[system.id] = result["bound"] if rate > 0 else no_rate_bound(result)
        rows.append({"job": loaded.name, "system": system.id, "role": "serve",
                     "throughput_per_unit": rate, "bound": result["bound"],
                     "work_unit": "requests/s"})
    rates = spec.requests_per_second
    by_region = dict(sorted(rates.items())) if isinstance(rates, dict) else {"*": rates}
    total = spec.total_requests_per_s()
    role = RoleInput(name="serve", work=total * spec.duration, work_unit="requests",
                     throughput=dict(sorted(thr.items())), cpu_core_seconds_per_work=0.0,
                     bound=dict(sorted(bound.items())))
    job = JobInput(id=loaded.name, kind="serve", horizon_s=spec.duration, roles=(role,),
                   single_site=False, rl=None,
                   serve=ServeDemand(rate_by_region=by_region, latency_bound_s=spec.latency_bound),
                   **_placement_options(spec, systems, loaded.file, ()))
    return job, {(loaded.name, "serve"): bound}, list(assumptions.values()), rows


@dataclass(frozen=True)
class PlanResult:
    """A Solution plus the scenario context: what `planner optimize` prints."""

    solution: Solution
    context: PlanContext

    def to_dict(self) -> dict[str, Any]:
        """The Solution's JSON contract, with the inputs' names and perf assumptions added."""
        data: dict[str, Any] = dict(self.solution.to_dict())
        data["scenario"] = self.context.scenario
        data["fleet"] = self.context.fleet
        data["workloads"] = list(self.context.workloads)
        data["assumptions"] = [*data.get("assumptions", []), *self.context.assumptions]
        data["role_throughputs"] = list(self.context.role_rows)
        data["systems"] = list(self.context.systems)
        return data

    def to_frame(self) -> Any:
        """One row per placement (site, system, job, role, units, busy_units,
        site_units_share); needs pandas."""
        from planner.report.frame import frame

        return frame(self.to_dict()["placements"])

    def to_report(self, figures: bool = False) -> Any:
        """Report sections for table, Markdown, CSV and HTML (with plots)."""
        from planner.report.plan import plan_report

        return plan_report(self.to_dict(), figures=figures)


def plan(inputs: PlanningInputs, context: PlanContext, *, objective: str = "cost",
         integer: bool = False, solver: str = "highs", time_limit_s: float | None = None,
         dump_lp: str | os.PathLike[str] | None = None, mip_gap: float = 1e-4,
         one_stage: bool = False) -> PlanResult:
    """Solve the LP and wrap the Solution with its context."""
    from planner.lp import optimize

    solution = optimize(inputs, objective=cast(Any, objective), integer=integer,
                        solver=cast(Any, solver),
                        time_limit_s=time_limit_s, dump_lp=dump_lp, mip_gap=mip_gap,
                        one_stage=one_stage)
    return PlanResult(solution, context)
