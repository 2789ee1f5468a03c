"""Explain why a scenario is infeasible: what is short, where, and by how much.

Two steps. Cheap checks first, which need no solver: a role no system can run (the model does
not fit anywhere), a role whose systems no site owns, may buy or may rent, a region with no site
inside the serving latency bound. Then an elastic re-solve (``build_lp(elastic=True)``): site
power, site CPU cores, purchase limits, link capacity, demand (work and serving rate) and the
budget each get a penalised slack variable, the solver minimises the penalties, and every slack
left positive becomes one line in human units ("needs 41 MW more power at site X"). Penalties
make capacity shortfalls far cheaper than unmet demand, so the diagnosis names the missing
capacity whenever capacity alone would make the plan feasible.

When samples must cross a link that is too small, the max-flow pre-check of
``planner.topology`` adds whether the network between generating and verifying sites is the
limit at all.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from planner.errors import InfeasibleError
from planner.lp.build import GB, KCORES, MW, BuiltLp, Objective, build_lp
from planner.lp.extract import value
from planner.lp.index import build_index
from planner.lp.inputs import ANY_REGION, PlanningInputs
from planner.lp.solve import SolverName, solve_lp
from planner.topology import network_limit
from planner.units import Dimension, format_quantity

__all__ = ["Shortfall", "diagnose", "precheck"]

_HEADLINE = "the scenario is infeasible"


@dataclass(frozen=True, slots=True)
class Shortfall:
    """One thing that is short: its kind, where, how much (in ``unit``) and the sentence."""

    kind: str
    where: str
    amount: float
    unit: str
    message: str


def precheck(inputs: PlanningInputs) -> list[Shortfall]:
    """Infeasibilities visible without a solver (roles that can run nowhere, empty catchments)."""
    found = _cpu_beyond_fleet(inputs)
    if found:
        return found  # millions of times too few cores: the LP's numerics would fail first
    index = build_index(inputs, elastic=False, objective="cost")
    placed = {(j, r) for j, r, _, _ in index.place_keys}
    for job in inputs.jobs:
        far = [] if job.serve is None else [
            _no_catchment(job.id, g, job.serve.latency_bound_s)
            for g, rate in job.serve.rate_by_region.items()
            if rate > 0 and not index.catchments[(job.id, g)]]
        found += far
        if far:
            continue  # the roles have nowhere to go because of the latency bound
        found += [_unplaceable(inputs, job.id, role.name, sorted(role.throughput))
                  for role in job.roles
                  if not role.is_cpu and (job.id, role.name) not in placed and role.work > 0]
    return found


# Needing this many times every CPU core the fleet could hold is answered before any LP: the
# elastic LP then spans more orders of magnitude than HiGHS solves reliably (o1_posttrain with
# verifier_cpu_seconds=1e6 s is 2,190x short and ended in "no solution, status 0"). Smaller
# shortfalls go to the elastic LP, which says at which site the cores are missing.
CPU_BEYOND_FLEET = 100.0


def _cpu_beyond_fleet(inputs: PlanningInputs) -> list[Shortfall]:
    """CPU cores the jobs need at once, against every core the fleet could ever hold (CPU
    servers on hand and purchasable, host cores of every unit owned, purchasable or rentable)."""
    need = sum(role.work * role.cpu_core_seconds_per_work / job.horizon_s
               for job in inputs.jobs for role in job.roles if role.is_cpu and job.horizon_s > 0)
    cores = {system.id: system.cpu_cores for system in inputs.systems}
    most = sum((site.cpu_servers + site.cpu_server_purchase_limit) * inputs.cpu_server.cores
               for site in inputs.sites)
    most += sum(count * cores.get(name, 0) for site in inputs.sites
                for table in (site.inventory, site.purchase_limits, site.rental_limits)
                for name, count in table.items())
    if most == 0 or need <= CPU_BEYOND_FLEET * most:
        return []
    return [Shortfall("cpu", "fleet", need - most, "cores",
                      f"needs {need - most:,.0f} more CPU cores than the whole fleet can hold: "
                      f"the verifiers need {need:,.0f} at once, the fleet at most {most:,.0f} "
                      "(CPU servers on hand and purchasable, host cores of every system); add "
                      "CPU servers or lower verifier_cpu_seconds")]


def _unplaceable(inputs: PlanningInputs, job: str, role: str, systems: list[str]) -> Shortfall:
    causes = set(next(r.bound for j in inputs.jobs if j.id == job for r in j.roles
                      if r.name == role).values()) if not systems else set()
    if not systems and causes == {"interactivity"}:
        text = (f"job {job} role {role} cannot run on any system: none decodes fast enough "
                "for its interactivity target, even one stream alone; lower interactivity")
    elif not systems and causes == {"memory-capacity"}:
        text = (f"job {job} role {role} cannot run on any system: the model does not fit in "
                "memory on any of them")
    elif not systems:
        text = (f"job {job} role {role} cannot run on any system (no throughput: the model "
                "may not fit in memory, or no batch meets the interactivity target)")
    elif job in {j.id for j in inputs.jobs if j.serve is not None}:
        text = (f"job {job} role {role}: no site within the latency bound has any of "
                f"{', '.join(systems)}")
    else:
        text = (f"job {job} role {role} runs only on {', '.join(systems)}, which no site owns, "
                "may buy or may rent")
    return Shortfall("demand", f"{job}/{role}", 1.0, "share of work", text)


def _no_catchment(job: str, region: str, bound_s: float) -> Shortfall:
    bound = format_quantity(bound_s, Dimension.DURATION)
    return Shortfall("demand", f"{job}/{region}", 1.0, "share of demand",
                     f"job {job}: no site within {bound} of region {region}")


def diagnose(inputs: PlanningInputs, *, objective: Objective = "cost", integer: bool = False,
             solver: SolverName = "highs", time_limit_s: float | None = None) -> InfeasibleError:
    """Build the error to raise for infeasible inputs, with one line per shortfall."""
    found = precheck(inputs)
    if not found:
        found = elastic_shortfalls(inputs, objective=objective, integer=integer, solver=solver,
                                   time_limit_s=time_limit_s)
    if not found:
        return InfeasibleError(f"{_HEADLINE}, but no single shortfall explains it",
                               ["check single-site jobs, inventory and rental limits"])
    return InfeasibleError(f"{_HEADLINE}; these changes together would make it feasible:",
                           [s.message for s in found],
                           details=[asdict(s) for s in found])


def elastic_shortfalls(inputs: PlanningInputs, *, objective: Objective, integer: bool,
                       solver: SolverName, time_limit_s: float | None) -> list[Shortfall]:
    """Solve the elastic LP and turn every positive slack into a Shortfall."""
    m = build_lp(inputs, objective=objective, integer=integer, elastic=True)
    outcome = solve_lp(m, solver=solver, time_limit_s=time_limit_s)
    if outcome.status == "infeasible":
        return []
    found = []
    for (family, key), (slack, _) in sorted(m.slacks.items()):
        amount = value(slack)
        if amount > 1e-6:
            found.append(_describe(m, family, key, amount))
    found += _network_lines(m)
    order = ("power", "purchase-limit", "cpu", "link", "budget", "demand")
    return sorted(found, key=lambda s: (order.index(s.kind), s.where))


def _describe(m: BuiltLp, family: str, key: tuple[str, ...], amount: float) -> Shortfall:
    """One slack in human units (each row's scale is documented in the build module)."""
    ix = m.index
    where = "/".join(key)
    if family == "site_power":
        watts = amount * MW
        cap = format_quantity(ix.sites[key[0]].power_cap_w, Dimension.POWER)
        more = format_quantity(watts, Dimension.POWER)
        return Shortfall("power", where, watts, "W",
                         f"needs {more} more power at site {key[0]} (cap {cap})")
    if family == "site_cpu":
        cores = math.ceil(amount * KCORES - 1e-6)
        return Shortfall("cpu", where, cores, "cores",
                         f"needs {cores:,} more CPU cores at site {key[0]}")
    if family == "purchase_limit":
        return _more_units(m, key, amount)
    if family == "link_bw":
        rate = amount * GB / ix.horizon_s
        have = ix.graph.edges[(key[0], key[1])].bandwidth_bytes_per_s
        return Shortfall("link", f"{key[0]}->{key[1]}", rate, "B/s",
                         f"needs {_gbps(rate)} more on link {key[0]} -> {key[1]} "
                         f"(has {_gbps(have)})")
    if family == "budget":
        usd = amount * m.usd_scale
        return Shortfall("budget", "budget", usd, "USD",
                         f"needs {format_quantity(usd, Dimension.MONEY)} more budget")
    return _unmet(m, family, key, amount)


def _more_units(m: BuiltLp, key: tuple[str, ...], amount: float) -> Shortfall:
    site, system = key
    units = math.ceil(amount - 1e-6)
    limit = m.index.sites[site].purchase_limits.get(system, 0)
    rule = f"purchase limit {limit}" if limit else "none may be bought there"
    return Shortfall("purchase-limit", f"{site}/{system}", units, "units",
                     f"needs {units:,} more {system} units at site {site} ({rule})")


def _unmet(m: BuiltLp, family: str, key: tuple[str, ...], share: float) -> Shortfall:
    ix = m.index
    job = ix.jobs[key[0]]
    if family == "serve":
        assert job.serve is not None
        rate = share * job.serve.rate_by_region[key[1]]
        bound = format_quantity(job.serve.latency_bound_s, Dimension.DURATION)
        if key[1] == ANY_REGION:  # demand without a home region: no latency to blame
            return Shortfall("demand", job.id, rate, "requests/s",
                             f"job {job.id}: {rate:,.4g} requests/s cannot be served: more than "
                             "every site's power, inventory and purchase limits can hold")
        return Shortfall("demand", "/".join(key), rate, "requests/s",
                         f"job {job.id}: {rate:,.4g} requests/s from region {key[1]} cannot be "
                         f"served within {bound}")
    role = job.role(key[1])
    amount = share * role.work
    return Shortfall("demand", "/".join(key), amount, role.work_unit,
                     f"job {job.id} role {role.name}: {share:.1%} of its work "
                     f"({amount:,.4g} {role.work_unit}) cannot be done in its horizon")


def _gbps(bytes_per_s: float) -> str:
    """A byte rate in Gbit/s for people."""
    return f"{bytes_per_s * 8 / 1e9:,.4g} Gbps"


def _network_lines(m: BuiltLp) -> list[Shortfall]:
    """For each job shipping samples over a short link: is the network itself the limit?"""
    out: list[Shortfall] = []
    short = any(fam == "link_bw" and value(s) > 1e-6 for (fam, _), (s, _) in m.slacks.items())
    if not short:
        return out
    for j in m.index.flow_jobs:
        for kind in m.index.flow_kinds[j]:
            line = _network_line(m, j, kind)
            if line is not None:
                out.append(line)
    return out


def _network_line(m: BuiltLp, j: str, kind: str) -> Shortfall | None:
    """Max-flow between the sites that send and receive one data kind vs the rate needed."""
    ix = m.index
    net: dict[str, float] = dict.fromkeys(ix.sites, 0.0)  # GB out minus GB in
    for (jj, k, a, b), var in m.vars["ship"].items():
        if jj == j and k == kind:
            net[a] += value(var)
            net[b] -= value(var)
    sources = sorted(s for s, gb in net.items() if gb > 1e-6)
    sinks = sorted(s for s, gb in net.items() if gb < -1e-6)
    need = sum(net[s] for s in sources) * GB / ix.jobs[j].horizon_s
    check = network_limit(ix.graph, sources, sinks, need)
    if not (sources and sinks and check.limited):
        return None
    return Shortfall(
        "link", f"{j}/{kind}", check.shortfall_bytes_per_s, "B/s",
        f"job {j}: the network is the limit: {kind} need {_gbps(need)} from "
        f"{', '.join(sources)} to {', '.join(sinks)}; the max-flow between them is "
        f"{_gbps(check.max_flow_bytes_per_s)}")
