"""Turn a scenario (workloads + fleet + catalog) into the optimizer's planning-inputs table.

This is the one place where the performance model meets the optimizer: for every job, role and
system of the fleet it asks the perf model how much work one unit does per second, and writes
that into plain numbers (:mod:`planner.lp.inputs`). The optimizer never sees a model,
a precision or a roofline.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, cast

from planner.catalog.load import Catalog, default_fleet_path, load_catalog, load_fleet
from planner.catalog.schema import Fleet, System
from planner.errors import InputError, Problem
from planner.units import Dimension, parse_quantity
from planner.workload.checks import check_regions
from planner.workload.schema import Posttrain, Pretrain, Serve, WorkloadKind

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


def build_planning_inputs(scenario: Any, fleet_path: str | os.PathLike[str] | None = None,
                          budget: str | float | None = None,
                          charge_inventory_capex: bool = False) -> tuple[Any, PlanContext]:
    """Planning inputs for the LP plus the context the report needs."""
    from planner.lp.inputs import PlanningInputs

    catalog = load_catalog()
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
        sites=tuple(_site(site) for site in sorted(fleet.sites, key=lambda s: s.id)),
        links=tuple(_link(link) for link in fleet.links),
        systems=tuple(_system(system) for system in systems),
        cpu_server=_cpu_server(fleet),
        economics=_economics(fleet),
        jobs=tuple(sorted(jobs, key=lambda j: j.id)),
        budget_usd=_budget(budget),
        charge_inventory_capex=charge_inventory_capex,
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


def _site(site: Any) -> Any:
    from planner.lp.inputs import SiteInput

    return SiteInput(
        id=site.id, region=site.region, power_cap_w=site.power_capacity, pue=site.pue,
        electricity_usd_per_j=site.electricity_price,
        colocation_usd_per_w_s=site.colocation_price,
        inventory=_positive(site.inventory),
        purchase_limits=_positive(site.purchase_limits),
        rental_limits=_positive(site.rental_limits),
        cpu_servers=site.cpu_servers, cpu_server_purchase_limit=site.cpu_server_purchase_limit)


def _positive(table: dict[str, int]) -> dict[str, int]:
    """A site's counts without the zero entries ('may buy 0' is no offer at all), sorted."""
    return {name: count for name, count in sorted(table.items()) if count > 0}


def _link(link: Any) -> Any:
    from planner.lp.inputs import LinkInput

    return LinkInput(a=link.a, b=link.b, bandwidth_bytes_per_s=link.bandwidth,
                     latency_s=link.latency, usd_per_byte=link.cost)


def _system(system: System) -> Any:
    from planner.lp.inputs import SystemInput

    return SystemInput(id=system.id, accelerators=system.accelerators,
                       cpu_cores=system.host.cores, power_w=system.power,
                       purchase_usd=system.purchase.price,
                       rental_usd_per_s=system.rental.price if system.rental else None)


def _cpu_server(fleet: Fleet) -> Any:
    from planner.lp.inputs import CpuServerInput

    server = fleet.cpu_server
    return CpuServerInput(cores=server.cores, power_w=server.power,
                          purchase_usd=server.purchase.price)


def _economics(fleet: Fleet) -> Any:
    from planner.lp.inputs import EconomicsInput

    return EconomicsInput(lifetime_s=fleet.economics.lifetime,
                          cost_of_capital=fleet.economics.cost_of_capital)


def _job(loaded: Any, systems: list[System]) -> tuple[Any, dict[tuple[str, str], dict[str, str]],
                                                      list[dict[str, Any]], list[dict[str, Any]]]:
    spec = loaded.spec
    if spec.kind is WorkloadKind.POSTTRAIN:
        return _posttrain_job(loaded.name, spec, dict(loaded.models), systems)
    if spec.kind is WorkloadKind.PRETRAIN:
        return _pretrain_job(loaded, spec, systems)
    return _serve_job(loaded, spec, systems)


def _posttrain_job(name: str, spec: Posttrain, models: dict[str, Any],
                   systems: list[System]) -> tuple[Any, Any, Any, Any]:
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
                   single_site=False, rl=coupling, serve=None)
    bounds = {(name, role): entry["bound"] for role, entry in per_role.items()}
    return job, bounds, list(assumptions.values()), rows


def _pretrain_job(loaded: Any, spec: Pretrain, systems: list[System]) -> tuple[Any, Any, Any,
                                                                                 Any]:
    from planner.lp.inputs import JobInput, RoleInput
    from planner.perf.training import DEFAULTS, training_throughput

    if spec.deadline is None:
        message = "placing a pretraining run needs a deadline"
        hint = "add 'deadline: 90 days' or --set deadline='90 days'"
        raise InputError(loaded.doc.problem((*loaded.base, "deadline"), message, hint)
                         if loaded.doc is not None else
                         Problem(loaded.file, "deadline", message, hint))
    from planner.perf.assumptions import resolve

    thr, bound, assumptions, rows = {}, {}, {}, []
    for system in systems:
        chosen = resolve(DEFAULTS, system.id, system.efficiency, loaded.name, spec.efficiency)
        assumptions.update({k: a.to_dict() for k, a in chosen.items()})
        size = spec.accelerators or 8192
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
                   single_site=not spec.allow_cross_site, rl=None, serve=None)
    return job, {(loaded.name, "train"): bound}, list(assumptions.values()), rows


def _serve_job(loaded: Any, spec: Serve, systems: list[System]) -> tuple[Any, Any, Any, Any]:
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
    total = sum(by_region.values())
    role = RoleInput(name="serve", work=total * spec.duration, work_unit="requests",
                     throughput=dict(sorted(thr.items())), cpu_core_seconds_per_work=0.0,
                     bound=dict(sorted(bound.items())))
    job = JobInput(id=loaded.name, kind="serve", horizon_s=spec.duration, roles=(role,),
                   single_site=False, rl=None,
                   serve=ServeDemand(rate_by_region=by_region, latency_bound_s=spec.latency_bound))
    return job, {(loaded.name, "serve"): bound}, list(assumptions.values()), rows


@dataclass(frozen=True)
class PlanResult:
    """A Solution plus the scenario context: what `planner optimize` prints."""

    solution: Any
    context: PlanContext

    def to_dict(self) -> dict[str, Any]:
        """The Solution's JSON contract, with the inputs' names and perf assumptions added."""
        data = dict(self.solution.to_dict())
        data["scenario"] = self.context.scenario
        data["fleet"] = self.context.fleet
        data["workloads"] = list(self.context.workloads)
        data["assumptions"] = [*data.get("assumptions", []), *self.context.assumptions]
        data["role_throughputs"] = list(self.context.role_rows)
        data["systems"] = list(self.context.systems)
        return data

    def to_frame(self) -> Any:
        """One row per placement (site, system, job, role, units, utilization); needs pandas."""
        from planner.report.frame import frame

        return frame(self.to_dict()["placements"])

    def to_report(self, figures: bool = False) -> Any:
        """Report sections for table, Markdown, CSV and HTML (with plots)."""
        from planner.report.plan import plan_report

        return plan_report(self.to_dict(), figures=figures)


def plan(inputs: Any, context: PlanContext, *, objective: str = "cost", integer: bool = False,
         solver: str = "highs", time_limit_s: float | None = None,
         dump_lp: str | os.PathLike[str] | None = None) -> PlanResult:
    """Solve the LP and wrap the Solution with its context."""
    from planner.lp import optimize

    solution = optimize(inputs, objective=cast(Any, objective), integer=integer,
                        solver=cast(Any, solver),
                        time_limit_s=time_limit_s, dump_lp=dump_lp)
    return PlanResult(solution, context)
