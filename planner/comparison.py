"""Compare one workload across systems (estimate) or fleets (optimize), side by side.

Each option is evaluated independently and summarised in one row with the same keys whatever
the workload kind, so rows can be laid side by side, ranked, written to CSV and swept:

- ``units``/``accelerators``: procurable units (nodes, racks) and accelerators needed;
- ``wall_time_s``: how long the work takes (a post-training run is sized to its deadline, a
  serving fleet runs for its ``duration``, pretraining on its fixed device count or deadline);
- ``total_cost_usd`` and ``cost_per_work_usd`` per ``work_unit``: one million answer tokens
  served (serving, votes included), one million samples generated (post-training) or one run
  (pretraining);
- ``bound`` and ``roles`` (what limits each role), ``power_w`` (IT power of the units, before
  PUE), ``cpu_cores_short`` and ``cpu_servers_needed`` (verifier cores the units' hosts lack);
- ``capex_usd``: the purchase price of the units (estimate), what a buyer pays up front to
  finish in ``wall_time_s``; ``total_cost_usd`` amortises it over the hardware's life instead.

``cheapest`` is the lowest total cost; ``fastest`` the shortest wall time, ties broken as
:func:`pick_fastest` says (for serving: the highest tokens/s per user, then the shortest time to
first token; for deadline-sized runs: the fewest accelerators, i.e. the fastest chips).

A roadmap (``planner roadmap`` on a fleet, :func:`summarize_roadmap`) is summarised in a row
with the same keys, ``total_cost_usd`` being its net present value, plus what it buys and
builds when (see :func:`summarize_roadmap`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, assert_never

from planner.errors import InputError, PlannerError, Problem

if TYPE_CHECKING:
    from planner.catalog.load import Catalog
    from planner.catalog.schema import System
    from planner.workload.load import Scenario, WorkloadSpec

__all__ = ["SCHEMA_VERSION", "ComparisonResult", "Option", "compare", "evaluate_option",
           "evaluate_roadmap", "pick_fastest", "summarize_estimate", "summarize_plan",
           "summarize_roadmap", "work_unit"]

SCHEMA_VERSION = 1
PathLike = str | os.PathLike[str]
WORK_UNITS = {"serve": "1M answer tokens", "posttrain": "1M samples", "pretrain": "run",
              "scenario": "scenario", "roadmap": "roadmap"}
TIE_TOLERANCE = 1e-3  # wall times within 0.1% count as equal when ranking "fastest"


@dataclass(frozen=True, slots=True)
class Option:
    """One thing to compare: a catalog system (estimate) or a fleet file (optimize)."""

    name: str
    kind: str  # "hardware" | "fleet"
    target: str  # system id, or fleet path ("" for the scenario's or the default fleet)

    @classmethod
    def hardware(cls, system_id: str) -> Option:
        """A catalog system, evaluated with ``planner estimate``."""
        return cls(system_id, "hardware", system_id)

    @classmethod
    def fleet(cls, path: PathLike) -> Option:
        """A fleet file, evaluated with ``planner optimize``; named after the file stem."""
        return cls(Path(path).stem, "fleet", str(path))


def work_unit(kind: str) -> str:
    """The unit of work a kind is priced in: '1M answer tokens', '1M samples' or 'run'."""
    return WORK_UNITS.get(kind, "scenario")


# ---------------------------------------------------------------------------------------------
# Summaries: one row per option, same keys for every kind


def _spec_facts(spec: WorkloadSpec) -> dict[str, float]:
    """What the summaries need from the workload itself: demand, horizon and ``work``, the
    amount of work in the kind's :func:`work_unit` (for a plan's cost per unit of work)."""
    from planner.workload.schema import Posttrain, Pretrain, Serve

    match spec:
        case Serve():
            total = spec.total_requests_per_s()
            horizon = float(spec.duration)
            return {"requests_per_s": total, "output_tokens": float(spec.output_tokens),
                    "horizon_s": horizon,
                    "work": total * horizon * float(spec.output_tokens) / 1e6}
        case Posttrain():
            return {"horizon_s": float(spec.deadline),
                    "work": float(spec.problems * spec.samples_per_problem) / 1e6}
        case Pretrain():
            return {"horizon_s": float(spec.deadline) if spec.deadline else math.nan,
                    "work": 1.0}
        case _:
            assert_never(spec)


def _base_row(option: Option, kind: str) -> dict[str, Any]:
    return {"option": option.name, "basis": "estimate" if option.kind == "hardware"
            else "optimize", "target": option.target, "status": "ok", "error": None,
            "work_unit": work_unit(kind), "units": None, "units_text": "", "accelerators": None,
            "wall_time_s": None, "total_cost_usd": None, "cost_per_work_usd": None,
            "bound": None, "roles": [], "power_w": None, "capex_usd": None,
            "finish_s": None, "cost_to_completion_usd": None,
            "cpu_cores_needed": None,
            "cpu_cores_short": None, "cpu_servers_needed": None}


def summarize_estimate(option: Option, kind: str, data: Mapping[str, Any], system: System,
                       facts: Mapping[str, float]) -> dict[str, Any]:
    """A comparison row from an estimate's ``to_dict()`` on one system."""
    from planner.workload.schema import WorkloadKind

    row = _base_row(option, kind)
    match WorkloadKind(kind):  # a scenario of several workloads has no estimate
        case WorkloadKind.SERVE:
            row.update(_serve_row(data, facts))
        case WorkloadKind.POSTTRAIN:
            row.update(_posttrain_row(data))
        case WorkloadKind.PRETRAIN:
            row.update(_pretrain_row(data, system))
        case other:
            assert_never(other)
    units = row["units"]
    if units is not None and math.isfinite(units):
        row["accelerators"] = units * system.accelerators
        row["power_w"] = units * system.power  # IT power of the accelerator units, before PUE
        row["capex_usd"] = units * system.purchase.price  # buying the units outright
        row["units_text"] = f"{units:,.4g} × {system.id} ({system.unit})"
    row["bound"] = data.get("bound")
    row["finish_s"] = row["wall_time_s"]
    row["cost_to_completion_usd"] = row["total_cost_usd"]
    row["assumptions"] = list(data.get("assumptions", []))
    row["details"] = _scalars(data)
    return _mark_unusable(row)


def _serve_row(data: Mapping[str, Any], facts: Mapping[str, float]) -> dict[str, Any]:
    """Units = demand / requests per unit; cost = units × unit cost × duration.

    A query's cost is unit-seconds per request (1 / requests_per_s_per_unit) times the unit's
    cost per second; the answer-token price divides it by the answer length, so the extra
    samples of self-consistency voting show up in it.
    """
    per_unit = _required(data, "requests_per_s_per_unit") or 0.0
    usd_per_s = _required(data, "unit_usd_per_s") or 0.0
    units = facts["requests_per_s"] / per_unit if per_unit > 0 else math.inf
    per_query = usd_per_s / per_unit if per_unit > 0 else math.inf
    return {"units": units, "wall_time_s": facts["horizon_s"],
            "total_cost_usd": units * usd_per_s * facts["horizon_s"],
            "usd_per_query": per_query,
            "cost_per_work_usd": per_query / facts["output_tokens"] * 1e6,
            "usd_per_million_tokens": data.get("usd_per_million_tokens"),
            "max_batch": data.get("max_batch"),
            "tokens_per_s_per_user": data.get("tokens_per_s_per_user"),
            "ttft_s": data.get("ttft_s"), "fits_memory": data.get("fits_memory"),
            "group_size": (data.get("parallelism") or {}).get("group_size"),
            "roles": [{"role": "decode", "bound": data.get("bound"), "units": units}]}


def _posttrain_row(data: Mapping[str, Any]) -> dict[str, Any]:
    """Units and cost sized to the deadline; cost per million samples generated."""
    cost = _required(data, "cost_usd")
    samples = _required(data, "samples") or 0.0
    return {"units": _required(data, "units"), "wall_time_s": _required(data, "wall_time_s"),
            "total_cost_usd": cost,
            "cost_per_work_usd": cost / samples * 1e6 if samples and cost is not None else None,
            "usd_per_million_samples": cost / samples * 1e6 if samples and cost is not None
            else None,
            "cpu_cores_needed": data.get("cpu_cores_needed"),
            "cpu_cores_short": data.get("cpu_cores_short"),
            "cpu_servers_needed": data.get("cpu_servers_needed"),
            "roles": [{**r, "units": _number(r.get("units_needed"))}
                      for r in data.get("roles", [])]}


def _pretrain_row(data: Mapping[str, Any], system: System) -> dict[str, Any]:
    """Units on the run's device count (or the fewest meeting its deadline); cost per run."""
    units = _number(data.get("units"))
    if units is None and data.get("accelerators"):
        units = float(data["accelerators"]) / system.accelerators
    cost = _required(data, "cost_usd")
    return {"units": units, "wall_time_s": _required(data, "wall_time_s"),
            "total_cost_usd": cost, "cost_per_work_usd": cost,
            "model_flops_utilization": data.get("model_flops_utilization"),
            "roles": [{"role": "train", "bound": data.get("bound"), "units": units}]}


def summarize_plan(option: Option, kind: str, data: Mapping[str, Any], catalog: Catalog,
                   facts: Mapping[str, float]) -> dict[str, Any]:
    """A comparison row from an optimizer Solution's ``to_dict()`` on one fleet.

    Units count accelerator systems only (CPU placements are in cores; CPU servers bought are
    ``cpu_servers_needed``); power is the IT power the plan uses at all sites.
    """
    row = _base_row(option, kind)
    by_system = {s: u for s, u in _units_by_system(data.get("placements", [])).items()
                 if s in catalog.systems}
    row["units"] = sum(by_system.values())
    row["units_text"] = " + ".join(f"{u:,.4g} × {s}" for s, u in by_system.items())
    row["accelerators"] = sum(u * catalog.systems[s].accelerators for s, u in by_system.items())
    row["wall_time_s"] = _plan_finish(data) or facts.get("horizon_s")
    row["finish_s"] = row["wall_time_s"]
    row["cost_to_completion_usd"] = _plan_cost_to_completion(data)
    row["total_cost_usd"] = _number(data.get("total_cost_usd"))
    if (data.get("objective") or {}).get("name") == "time":
        # the LP holds the units for the whole horizon; the work is done at the finish
        row["total_cost_usd"] = row["cost_to_completion_usd"]
    if row["total_cost_usd"] is not None and facts.get("work"):
        row["cost_per_work_usd"] = row["total_cost_usd"] / facts["work"]
    row["cost_breakdown_usd"] = dict(data.get("cost_breakdown_usd") or {})
    sites = data.get("sites", [])
    row["power_w"] = sum(float(s.get("power_used_w") or 0.0) for s in sites)
    row["cpu_cores_needed"] = sum(float(s.get("cpu_cores_used") or 0.0) for s in sites)
    row["cpu_servers_needed"] = sum(float(p.get("units") or 0.0) for p in
                                    data.get("purchases", []) if p.get("system") == "cpu-server")
    row["sites_used"] = ", ".join(sorted({p["site"] for p in data.get("placements", [])
                                          if p.get("system") in by_system
                                          and float(p.get("units") or 0.0) > 0}))
    row["roles"] = _plan_roles(data, set(catalog.systems))
    limits = [b for b in data.get("bottlenecks") or [] if b.get("kind") != "demand"]
    row["bound"] = limits[0].get("constraint") if limits else "none binding"
    row["assumptions"] = list(data.get("assumptions", []))
    row["details"] = {k: v for k, v in data.items() if k in ("status", "fleet", "scenario")}
    return row


def summarize_roadmap(option: Option, data: Mapping[str, Any], catalog: Catalog,
                      systems: Sequence[str] = ()) -> dict[str, Any]:
    """A comparison row from a roadmap's ``to_dict()`` (``planner roadmap``) on one fleet.

    ``npv_usd`` (also ``total_cost_usd``, so that rankings and plots of plans apply) and its
    parts discounted (``cost_breakdown_usd``: each part of ``cost_by_period_usd`` times its
    period's discount factor, summed; they add up to the NPV). Purchases count accelerator
    systems only (CPU servers are ``cpu_servers_needed``): ``units``/``accelerators`` are the
    units and accelerators bought over the horizon, ``units_bought_<system>`` and
    ``first_bought_<system>`` (the period of its first order) keep the catalog's system id;
    ``systems`` (those for sale: in the fleet's or the roadmap's purchase limits or price
    paths) have ``units_bought_<system>`` even when none is bought (0, and no first period),
    so that sweeps plot the zeros. ``mw_built`` sums the power build-out,
    ``peak_power_w`` is the largest facility power drawn in one period at all sites together
    (``peak_power_period``), ``units_retired`` and ``rented_units_max`` (the most units rented
    in one period) complete the picture; ``bound`` is the binding limit other than demand with
    the largest value of 10% more, in words.
    """
    row = _base_row(option, "roadmap")
    row["basis"] = "roadmap"
    npv = _number(data.get("npv_usd"))
    row["npv_usd"] = row["total_cost_usd"] = npv
    parts: dict[str, float] = {}
    for period in data.get("cost_by_period_usd") or []:
        factor = float(period.get("discount_factor") or 0.0)
        for key, value in period.items():
            if key not in ("period", "total", "discount_factor", "discounted_total") and \
                    isinstance(value, int | float):
                parts[key] = parts.get(key, 0.0) + float(value) * factor
    row["cost_breakdown_usd"] = parts
    bought: dict[str, float] = {}
    first: dict[str, str] = {}
    order = {p["name"]: i for i, p in enumerate(data.get("periods") or [])}
    for p in sorted(data.get("purchases") or [], key=lambda p: order.get(p["period"], 0)):
        units = float(p.get("units") or 0.0)
        if p["system"] in catalog.systems and units > 0:
            bought[p["system"]] = bought.get(p["system"], 0.0) + units
            first.setdefault(p["system"], str(p["period"]))
    bought = dict(sorted(bought.items()))
    row["units"] = float(sum(bought.values()))
    row["accelerators"] = sum(u * catalog.systems[s].accelerators for s, u in bought.items())
    row["units_text"] = " + ".join(f"{u:,.4g} × {s}" for s, u in bought.items()) or \
        "nothing bought"
    for system_id in sorted({*bought, *(s for s in systems if s in catalog.systems)}):
        row[f"units_bought_{system_id}"] = bought.get(system_id, 0.0)
        row[f"first_bought_{system_id}"] = first.get(system_id)
    row["cpu_servers_needed"] = sum(float(p.get("units") or 0.0) for p in
                                    data.get("purchases") or []
                                    if p.get("system") not in catalog.systems)
    row["mw_built"] = float(sum(float(b.get("mw") or 0.0)
                                for b in data.get("power_buildout") or []))
    power: dict[str, float] = {}
    for site in data.get("sites") or []:
        power[site["period"]] = power.get(site["period"], 0.0) + \
            float(site.get("power_used_w") or 0.0)
    peak = max(power.items(), key=lambda item: item[1], default=(None, None))
    row["peak_power_period"], row["peak_power_w"] = peak
    row["units_retired"] = sum(float(r.get("units") or 0.0)
                               for r in data.get("retirements") or [])
    rented: dict[str, float] = {}
    for r in data.get("rentals") or []:
        rented[r["period"]] = rented.get(r["period"], 0.0) + float(r.get("units") or 0.0)
    row["rented_units_max"] = max(rented.values(), default=0.0)
    row["periods"] = len(order)
    row["sites_used"] = ", ".join(sorted({p["site"] for p in data.get("placements") or []
                                          if p.get("system") in catalog.systems
                                          and float(p.get("units") or 0.0) > 0}))
    limits = [b for b in data.get("bottlenecks") or [] if b.get("kind") != "demand"]
    row["bound"] = str(limits[0].get("message") or limits[0].get("constraint")).split(":")[0] \
        if limits else "none binding"
    row["assumptions"] = list(data.get("assumptions", []))
    row["details"] = {k: v for k, v in data.items() if k in ("status", "fleet", "scenario")}
    return row


def _plan_finish(data: Mapping[str, Any]) -> float | None:
    """When the plan's last training job finishes (inf if one never does); serving jobs run
    for their duration."""
    jobs = list(data.get("jobs") or [])
    if not jobs:
        return None
    training = [j for j in jobs if j.get("kind") != "serve"] or jobs
    finishes = [_number(j.get("finish_s")) for j in training]
    return math.inf if any(f is None for f in finishes) else max(f for f in finishes if f)


def _plan_cost_to_completion(data: Mapping[str, Any]) -> float | None:
    """Sum of the jobs' costs to completion (None if a job never finishes)."""
    costs = [_number(j.get("cost_to_completion_usd")) for j in data.get("jobs") or []]
    if not costs or any(c is None for c in costs):
        return None
    return sum(c for c in costs if c is not None)


def _units_by_system(placements: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    totals: dict[str, float] = {}
    for p in placements:
        totals[p["system"]] = totals.get(p["system"], 0.0) + float(p.get("units") or 0.0)
    return dict(sorted(totals.items()))


def _plan_roles(data: Mapping[str, Any], systems: set[str]) -> list[dict[str, Any]]:
    """Accelerator units per role from the placements, with the bound the Solution reports.

    Roles are named ``job/role`` when the plan has several jobs, else by the role alone (as
    in an estimate); CPU roles (placed in cores, not units) show their bound only.
    """
    jobs = {p.get("job") for p in data.get("placements", [])} | \
        {r.get("job") for r in data.get("roles", [])}
    name = (lambda job, role: f"{job}/{role}") if len(jobs) > 1 else (lambda _job, role: role)
    units: dict[str, float] = {}
    for p in data.get("placements", []):
        if p.get("system") in systems:
            key = name(p.get("job"), p.get("role"))
            units[key] = units.get(key, 0.0) + float(p.get("units") or 0.0)
    bounds = {name(r.get("job"), r.get("role")): r.get("bound") for r in data.get("roles", [])}
    return [{"role": key, "bound": _bound_text(bounds.get(key)), "units": units.get(key)}
            for key in sorted(set(units) | set(bounds))]


def _bound_text(bound: Any) -> Any:
    if isinstance(bound, Mapping):
        return ", ".join(f"{k}: {v}" for k, v in sorted(bound.items()))
    return bound


def _number(value: Any) -> float | None:
    """A float from a JSON value ("inf" strings included), None when absent."""
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _required(data: Mapping[str, Any], key: str) -> float | None:
    """A number every estimate of the kind reports (None where it has no value). A missing
    key is a KeyError naming it, so a renamed field fails loudly instead of reading as zero
    and turning the option into "cannot run here"."""
    if key not in data:
        raise KeyError(f"the estimate result has no {key!r}; comparison.py reads it")
    return _number(data[key])


def _scalars(data: Mapping[str, Any]) -> dict[str, Any]:
    """The flat numeric, text and boolean fields of a result (for sweep columns)."""
    return {k: v for k, v in data.items()
            if isinstance(v, int | float | str | bool) and k not in ("file", "schema_version")}


def _mark_unusable(row: dict[str, Any]) -> dict[str, Any]:
    """An option that cannot do the work (infinite units or cost) is an error row."""
    cost, units = row.get("total_cost_usd"), row.get("units")
    if (cost is not None and not math.isfinite(cost)) or (units is not None
                                                         and not math.isfinite(units)):
        row["status"] = "error"
        row["error"] = f"cannot run here (bound: {row.get('bound')})"
    return row


# ---------------------------------------------------------------------------------------------
# Evaluating options


def evaluate_option(path: PathLike, option: Option, overrides: Sequence[str] = (), *,
                    objective: str = "cost", integer: bool = False, solver: str = "highs",
                    time_limit_s: float | None = None,
                    cost_basis: str | None = None) -> dict[str, Any]:
    """Run estimate (a system) or optimize (a fleet) for one option; return its summary row.

    Raises the PlannerError of the failing step; :func:`compare` records it in the row.
    """
    from planner import api
    from planner.catalog.load import load_catalog
    from planner.perf.cost import cost_basis as parse_basis

    basis = parse_basis(cost_basis).value
    scenario = api.load(path, overrides)
    kind = _scenario_kind(scenario)
    facts = _spec_facts(scenario.workloads[0].spec) if kind != "scenario" else {}
    catalog = load_catalog()
    if option.kind == "hardware":
        data = api.estimate(path, option.target, overrides=overrides,
                            cost_basis=basis).to_dict()
        row = summarize_estimate(option, kind, data, catalog.get(option.target), facts)
    else:
        plan = api.optimize(path, fleet=option.target or None, objective=objective,
                            integer=integer, solver=solver, time_limit_s=time_limit_s,
                            overrides=overrides, cost_basis=basis)
        row = summarize_plan(option, kind, plan.to_dict(), catalog, facts)
    row["cost_basis"] = basis
    return row


def evaluate_roadmap(path: PathLike, option: Option, overrides: Sequence[str] = (), *,
                     integer: bool = False, solver: str = "highs",
                     time_limit_s: float | None = None,
                     budget: str | float | None = None) -> dict[str, Any]:
    """Run ``planner roadmap`` on one fleet option; return its summary row
    (:func:`summarize_roadmap`). Raises the PlannerError of the failing step."""
    from planner import api
    from planner.catalog.load import load_catalog, load_fleet

    result = api.roadmap(path, fleet=option.target or None, integer=integer, solver=solver,
                         time_limit_s=time_limit_s, budget=budget, overrides=overrides)
    catalog = load_catalog()
    scenario = api.load(path, overrides)
    fleet = load_fleet(option.target or scenario.fleet, catalog)
    for_sale = [s for site in fleet.sites for s in site.purchase_limits]
    if scenario.timeline is not None:
        supply = scenario.timeline.supply
        for_sale += [*supply.systems, *(s for limits in supply.purchase_limits.values()
                                        for s in limits)]
    return summarize_roadmap(option, result.to_dict(), catalog, for_sale)


def _scenario_kind(scenario: Scenario) -> str:
    if len(scenario.workloads) == 1:
        return str(scenario.workloads[0].spec.kind)
    return "scenario"


def error_row(option: Option, kind: str, err: BaseException) -> dict[str, Any]:
    """The row of an option whose evaluation failed: status 'error' and the message; an
    option that has no price on the requested basis is 'n/a' (``no rental price for X``)."""
    from planner.perf.cost import NoRentalPriceError

    row = _base_row(option, kind)
    row["status"] = "n/a" if isinstance(err, NoRentalPriceError) else "error"
    row["error"] = (err.message if isinstance(err, NoRentalPriceError)
                    else str(err).strip() or type(err).__name__)
    row["error_kind"] = type(err).__name__
    return row


def pick_fastest(rows: Sequence[Mapping[str, Any]], kind: str) -> Mapping[str, Any] | None:
    """The option that finishes first, or None when nothing sets one option apart.

    Wall times within 0.1% tie. Serving fleets all run for the same duration and meet the same
    interactivity target, so among tied options within 2% of the best tokens/s per user the
    one that answers sooner (time to first token, 0.1% apart) is the fastest. Deadline-sized
    runs that all finish on their deadline tie: none is declared the fastest (the fewer
    accelerators a faster chip needs is a cost matter, shown in the table).
    """
    if len(rows) < 2:
        return None
    walls = [_wall(r) for r in rows]
    best = min(walls)
    tied = [r for r, w in zip(rows, walls, strict=True) if _same(w, best)]
    if len(tied) == 1:
        return tied[0]
    if kind != "serve":
        return None
    top = max(float(r.get("tokens_per_s_per_user") or 0.0) for r in tied)
    tied = [r for r in tied if float(r.get("tokens_per_s_per_user") or 0.0) >= 0.98 * top]
    ttft = sorted(tied, key=lambda r: float(r.get("ttft_s") or math.inf))
    first = ttft[0]
    if len(ttft) > 1 and _same(float(ttft[1].get("ttft_s") or math.inf),
                               float(first.get("ttft_s") or math.inf)):
        return None
    return first


def _same(a: float, b: float) -> bool:
    """Equal within :data:`TIE_TOLERANCE` (two infinities are equal)."""
    return a == b or (math.isfinite(a) and math.isfinite(b)
                      and abs(a - b) <= TIE_TOLERANCE * max(abs(a), abs(b)))


def _wall(row: Mapping[str, Any]) -> float:
    wall = row.get("wall_time_s")
    return math.inf if wall is None or math.isnan(float(wall)) else float(wall)


# ---------------------------------------------------------------------------------------------
# The result


@dataclass(frozen=True)
class ComparisonResult:
    """Several options for one workload, each summarised by :func:`summarize_estimate`."""

    workload: str
    kind: str
    file: str
    options: tuple[dict[str, Any], ...]
    overrides: tuple[str, ...] = ()
    figures_data: dict[str, Any] = field(default_factory=dict)
    cost_basis: str = "own"
    objective: str = "cost"

    def ok(self) -> list[dict[str, Any]]:
        """The options that could do the work."""
        return [o for o in self.options if o["status"] == "ok"]

    @property
    def cheapest(self) -> str | None:
        """The option with the lowest total cost."""
        ok = [o for o in self.ok() if o.get("total_cost_usd") is not None]
        return min(ok, key=lambda o: o["total_cost_usd"])["option"] if ok else None

    @property
    def fastest(self) -> str | None:
        """The option that finishes first (see :func:`pick_fastest` for ties)."""
        row = pick_fastest(self.ok(), self.kind)
        return None if row is None else str(row["option"])

    @property
    def ranking(self) -> list[str]:
        """Usable options in order: by finish time with the time objective (then cost), by
        total cost with the cost objective (then finish time)."""
        def cost(o: Mapping[str, Any]) -> float:
            value = o.get("total_cost_usd")
            return math.inf if value is None else float(value)

        def key(o: Mapping[str, Any]) -> tuple[float, float]:
            return (_wall(o), cost(o)) if self.objective == "time" else (cost(o), _wall(o))

        return [str(o["option"]) for o in sorted(self.ok(), key=key)]

    def to_frame(self) -> Any:
        """One row per option (needs pandas)."""
        from planner.report.frame import frame

        return frame(self.options)

    def to_dict(self) -> dict[str, Any]:
        """JSON contract: schema_version, workload, kind, file, work_unit, options, cheapest,
        fastest, overrides, figures (plot data)."""
        return {"schema_version": SCHEMA_VERSION, "workload": self.workload, "kind": self.kind,
                "file": self.file, "work_unit": work_unit(self.kind),
                "cost_basis": self.cost_basis, "objective": self.objective,
                "overrides": list(self.overrides), "cheapest": self.cheapest,
                "fastest": self.fastest, "ranking": self.ranking,
                "options": [dict(o) for o in self.options],
                "figures": self.figures_data}

    def to_report(self, figures: bool = True) -> Any:
        """Side-by-side table, the cheapest and fastest lines, roles, assumptions and (when
        ``figures``) the plots for HTML."""
        from planner.report.compare import comparison_report

        return comparison_report(self.to_dict(), figures=figures)


def compare(path: PathLike, hardware: Sequence[str] = (), overrides: Sequence[str] = (), *,
            fleets: Sequence[PathLike] = (), objective: str = "cost", integer: bool = False,
            solver: str = "highs", time_limit_s: float | None = None,
            figures: bool = True, cost_basis: str | None = None) -> ComparisonResult:
    """Compare one workload on several systems (estimate) and/or fleets (optimize).

    The workload and the option names are checked first (bad input raises InputError); a
    failure while evaluating one option is recorded in its row and the others still run.
    """
    from planner import api
    from planner.perf.cost import cost_basis as parse_basis

    basis = parse_basis(cost_basis)
    options = _options(hardware, fleets)
    scenario = api.load(path, overrides)
    kind = _scenario_kind(scenario)
    rows = []
    for option in options:
        try:
            rows.append(evaluate_option(path, option, overrides, objective=objective,
                                        integer=integer, solver=solver,
                                        time_limit_s=time_limit_s, cost_basis=basis.value))
        except PlannerError as err:
            rows.append(error_row(option, kind, err))
    data: dict[str, Any] = {}
    if figures and kind != "scenario":
        from planner.comparison_figures import comparison_figure_data

        data = comparison_figure_data(scenario.workloads[0], rows)
    return ComparisonResult(scenario.name, kind, str(path), tuple(rows), tuple(overrides), data,
                            cost_basis=basis.value, objective=objective)


def _options(hardware: Sequence[str], fleets: Sequence[PathLike]) -> list[Option]:
    """Options in the order given; unknown systems and missing fleet files are input errors."""
    from planner.catalog.load import load_catalog

    if not hardware and not fleets:
        raise InputError(Problem("compare", "options", "nothing to compare",
                                 "give --hardware NAME (repeatable) and/or --fleet FILE"))
    catalog = load_catalog()
    problems = [Problem("--hardware", name, f"unknown system {name!r}",
                        _did_you_mean(name, catalog.systems))
                for name in hardware if name not in catalog.systems]
    problems += [Problem(str(f), "--fleet", "fleet file not found", "check the path")
                 for f in fleets if not Path(f).is_file()]
    if problems:
        raise InputError(problems)
    return [*(Option.hardware(h) for h in dict.fromkeys(hardware)),
            *(Option.fleet(f) for f in dict.fromkeys(str(f) for f in fleets))]


def _did_you_mean(name: str, choices: Mapping[str, Any]) -> str:
    from planner.schema import did_you_mean

    return did_you_mean(name, choices)
