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

from collections.abc import Mapping
from dataclasses import asdict

from planner.errors import InfeasibleError
from planner.lp.build import GB, BuiltLp, Objective, build_lp
from planner.lp.extract import value
from planner.lp.families import Shortfall, family, gbps_text
from planner.lp.index import build_index
from planner.lp.inputs import PlanningInputs
from planner.lp.solve import SolverName, solve_lp
from planner.topology import network_limit
from planner.units import Dimension, format_quantity

__all__ = ["Shortfall", "diagnose", "precheck"]

_HEADLINE = "the scenario is infeasible"


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


# Why a system rates a role at no throughput (planner.shortfall.no_rate_bound), in words.
_CAUSE_WORDS = {"memory-capacity": "does not fit in memory",
                "interactivity": "no batch meets the interactivity target",
                "ttft": "no request rate meets the time to first token limit"}


def _unplaceable(inputs: PlanningInputs, job: str, role: str, systems: list[str]) -> Shortfall:
    bounds: Mapping[str, str] = next(r.bound for j in inputs.jobs if j.id == job
                                  for r in j.roles if r.name == role) if not systems else {}
    causes = set(bounds.values())
    if not systems and causes == {"interactivity"}:
        text = (f"job {job} role {role} cannot run on any system: none decodes fast enough "
                "for its interactivity target, even one stream alone; lower interactivity")
    elif not systems and causes == {"ttft"}:
        text = (f"job {job} role {role} cannot run on any system: none meets its time to "
                "first token limit, even with no queue; raise ttft or "
                "efficiency.prefill_batch_tokens")
    elif not systems and causes == {"memory-capacity"}:
        text = (f"job {job} role {role} cannot run on any system: the model does not fit in "
                "memory on any of them")
    elif not systems and causes and causes <= _CAUSE_WORDS.keys():
        by_cause = "; ".join(
            f"{_CAUSE_WORDS[cause]}: "
            f"{', '.join(sorted(k for k, v in bounds.items() if v == cause))}"
            for cause in sorted(causes))
        text = f"job {job} role {role} cannot run on any system (no throughput; {by_cause})"
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
    for (name, key), (slack, _) in sorted(m.slacks.items()):
        amount = value(slack)
        if amount > 1e-6:
            found.append(_describe(m, name, key, amount))
    found += _network_lines(m)
    order = {kind: i for i, kind in
             enumerate(("power", "purchase-limit", "cpu", "link", "budget", "demand"))}
    return sorted(found, key=lambda s: (order.get(s.kind, len(order)), s.where))


def _describe(m: BuiltLp, name: str, key: tuple[str, ...], amount: float) -> Shortfall:
    """One slack in human units, in the words of its family's entry (planner/lp/families.py)."""
    describe = family(name).describe
    if describe is None:  # registry entries with a penalty always have one
        raise ValueError(f"constraint family {name} has a slack but no describe()")
    return describe(m, key, amount)


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
        f"job {j}: the network is the limit: {kind} need {gbps_text(need)} from "
        f"{', '.join(sources)} to {', '.join(sinks)}; the max-flow between them is "
        f"{gbps_text(check.max_flow_bytes_per_s)}")
