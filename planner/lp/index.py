"""Index sets and bounds of the LP, computed once before any variable exists.

Everything the builder iterates over is here, sorted: which (site, system) pools may hold units,
which (job, role, site, system) placements are possible, serving catchments from the site graph,
the site-choice groups, and the big-M bounds of the indicator constraints (each documented where
it is computed; see ``planner.lp.build`` for the formulation).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from planner.lp.costs import rental_price
from planner.lp.inputs import ANY_REGION, JobInput, PlanningInputs, SiteInput, SystemInput
from planner.topology import SiteGraph

__all__ = ["LpIndex", "build_index", "lp_safe"]

# What an LP-file name may not contain: anything but letters, digits, '_', '.' and ','
# (``\w`` is exactly str.isalnum() plus '_').
_UNSAFE = re.compile(r"[^\w.,]")


def lp_safe(text: str) -> str:
    """``text`` with every character an LP file cannot carry in a name replaced by ``_``."""
    return _UNSAFE.sub("_", text)

PlaceKey = tuple[str, str, str, str]  # job, role, site, system


@dataclass(frozen=True)
class LpIndex:
    """Sorted index sets, lookups and bounds shared by every constraint family."""

    inputs: PlanningInputs
    horizon_s: float
    sites: dict[str, SiteInput]
    systems: dict[str, SystemInput]
    jobs: dict[str, JobInput]
    graph: SiteGraph
    pools: tuple[tuple[str, str], ...]
    place_keys: tuple[PlaceKey, ...]
    cpu_keys: tuple[tuple[str, str, str], ...]
    arcs: tuple[tuple[str, str], ...]
    flow_jobs: tuple[str, ...]
    flow_kinds: dict[str, tuple[str, ...]]
    spread_jobs: tuple[str, ...]
    sync_jobs: tuple[str, ...]
    system_choices: dict[tuple[str, str], tuple[str, ...]]
    fleet_power_w: float
    catchments: dict[tuple[str, str], tuple[str, ...]]
    groups: dict[str, tuple[str, ...]]
    work_scale: dict[tuple[str, str], float]
    choice_power_w: dict[tuple[str, str], float]
    choice_cores: dict[tuple[str, str], float]
    gen_bound: dict[tuple[str, str], float]
    elastic: bool = False

    def choice_cap_w(self, site: str) -> float:
        """M of a per-site indicator row: the site's cap (the diagnosis: all power, scaled)."""
        return self.fleet_power_w if self.elastic else self.sites[site].power_cap_w


def build_index(inputs: PlanningInputs, *, elastic: bool, objective: str) -> LpIndex:
    """Compute every index set and bound for one build of the LP."""
    sites = {s.id: s for s in inputs.sites}
    systems = {h.id: h for h in inputs.systems}
    jobs = {j.id: j for j in inputs.jobs}
    graph = SiteGraph.build({s.id: s.region for s in inputs.sites}, inputs.links)
    catchments = _catchments(inputs, graph)
    pools = _pools(inputs, elastic)
    place_keys = _place_keys(inputs, pools, catchments)
    groups = _groups(inputs)
    big = _elastic_bounds(inputs) if elastic else None
    flows = _flow_jobs(inputs, graph)
    sync = _sync_jobs(inputs, graph)
    index = LpIndex(
        inputs=inputs, horizon_s=inputs.horizon_s, sites=sites, systems=systems, jobs=jobs,
        graph=graph, pools=pools, place_keys=place_keys,
        cpu_keys=tuple((j.id, r.name, s) for j in inputs.jobs for r in j.roles if r.is_cpu
                       for s in sites),
        arcs=graph.arcs, flow_jobs=(*flows, *sync),
        flow_kinds={**dict.fromkeys(flows, ("samples", "kept", "weights")),
                    **dict.fromkeys(sync, ("weights", "gradients"))},
        spread_jobs=tuple(j.id for j in inputs.jobs
                          if not j.single_site and (j.id in sync or (
                              j.max_sites is not None and j.max_sites < len(sites)))),
        sync_jobs=sync, system_choices=_system_choices(inputs, place_keys),
        fleet_power_w=big[0] if big else sum(s.power_cap_w for s in inputs.sites),
        catchments=catchments,
        groups=groups, work_scale={(j.id, r.name): r.work if r.work > 0 else 1.0
                                   for j in inputs.jobs for r in j.roles},
        choice_power_w=_choice_power(inputs, groups, big),
        choice_cores=_choice_cores(inputs, groups, big),
        gen_bound=_gen_bounds(inputs, place_keys, systems, objective, elastic,
                              flows),
        elastic=elastic,
    )
    return index


def _pools(inputs: PlanningInputs, elastic: bool) -> tuple[tuple[str, str], ...]:
    """(site, system) pairs that may hold units: owned, buyable or rentable there.

    In the elastic (diagnosis) build every system some role can use is allowed everywhere, so
    that a missing purchase right shows up as a purchase-limit shortfall.
    """
    usable = {h for j in inputs.jobs for r in j.roles for h in r.throughput}
    out = []
    for site in inputs.sites:
        for system in inputs.systems:
            rentable = (site.rental_limits.get(system.id, 0) > 0
                        and rental_price(system, site) is not None)
            held = (site.inventory.get(system.id, 0) > 0
                    or site.purchase_limits.get(system.id, 0) > 0 or rentable)
            if held or (elastic and system.id in usable):
                out.append((site.id, system.id))
    return tuple(out)


def _place_keys(inputs: PlanningInputs, pools: tuple[tuple[str, str], ...],
                catchments: dict[tuple[str, str], tuple[str, ...]]) -> tuple[PlaceKey, ...]:
    """Placements worth a variable: the system runs the role and the pool exists.

    A serving role is placed only at sites inside at least one of its job's catchments.
    """
    by_site: dict[str, list[str]] = defaultdict(list)
    for site, system in pools:
        by_site[site].append(system)
    keys = []
    for job in inputs.jobs:
        allowed = (None if job.serve is None else
                   {s for (j, _), sites in catchments.items() if j == job.id for s in sites})
        for role in job.roles:
            for site in sorted(by_site):
                if allowed is not None and site not in allowed:
                    continue
                keys += [(job.id, role.name, site, h) for h in by_site[site]
                         if role.throughput.get(h, 0.0) > 0
                         and (not job.systems or h in job.systems)]
    return tuple(keys)


def _catchments(inputs: PlanningInputs,
                graph: SiteGraph) -> dict[tuple[str, str], tuple[str, ...]]:
    """For each serving job and region: the sites within the latency bound (shortest path).

    The region ``*`` (``ANY_REGION``) is demand with no home: every site may serve it.
    """
    out = {}
    for job in inputs.jobs:
        if job.serve is None:
            continue
        for region in job.serve.rate_by_region:
            out[(job.id, region)] = (graph.sites if region == ANY_REGION else
                                     graph.sites_within(region, job.serve.latency_bound_s))
    return out


def _groups(inputs: PlanningInputs) -> dict[str, tuple[str, ...]]:
    """Roles that must share one site: all roles of a single-site job, or an RL update role."""
    out = {}
    for job in inputs.jobs:
        if job.single_site:
            out[job.id] = tuple(r.name for r in job.roles)
        elif job.rl is not None:
            out[job.id] = (job.rl.update,)
    return out


def _sync_jobs(inputs: PlanningInputs, graph: SiteGraph) -> tuple[str, ...]:
    """Synchronous jobs allowed to span sites, whose gradients and weights travel on links."""
    if not graph.arcs:
        return ()
    return tuple(j.id for j in inputs.jobs if j.sync_bytes > 0 and not j.single_site
                 and j.rl is None)


def _system_choices(inputs: PlanningInputs, place_keys: tuple[PlaceKey, ...]
                    ) -> dict[tuple[str, str], tuple[str, ...]]:
    """(job, homogeneous role) -> the system types it could run on, where there are two or
    more (with one there is nothing to choose)."""
    wanted = {(j.id, r) for j in inputs.jobs for r in j.homogeneous}
    found: dict[tuple[str, str], set[str]] = defaultdict(set)
    for j, r, _, h in place_keys:
        if (j, r) in wanted:
            found[(j, r)].add(h)
    return {key: tuple(sorted(hs)) for key, hs in sorted(found.items()) if len(hs) > 1}


def _flow_jobs(inputs: PlanningInputs, graph: SiteGraph) -> tuple[str, ...]:
    """RL jobs spread over sites, whose samples, kept samples and weights travel on links."""
    if not graph.arcs:
        return ()
    return tuple(j.id for j in inputs.jobs if j.rl is not None and not j.single_site)


def _elastic_bounds(inputs: PlanningInputs) -> tuple[float, float]:
    """Big-M values valid even when the diagnosis adds power and cores without limit.

    Ten times (all site power + the power every job needs on its least efficient system), and
    the same for cores; loose, but the diagnosis build keeps the binaries, so M only has to be
    large enough.
    """
    pue = max((s.pue for s in inputs.sites), default=1.0)
    power = sum(s.power_cap_w for s in inputs.sites)
    cores = 0.0
    for job in inputs.jobs:
        for role in job.roles:
            rate = role.work / job.horizon_s
            power += max((rate / thr * inputs.system(h).power_w * pue
                          for h, thr in role.throughput.items() if thr > 0), default=0.0)
            cores += role.cpu_core_seconds_per_work * rate
    per_w = _max_cores_per_w(inputs)
    return 10.0 * power, 10.0 * (cores + power * per_w)


def _max_cores_per_w(inputs: PlanningInputs) -> float:
    """Most CPU cores any unit or CPU server brings per watt it draws."""
    ratios = [h.cpu_cores / h.power_w for h in inputs.systems if h.power_w > 0]
    if inputs.cpu_server.power_w > 0:
        ratios.append(inputs.cpu_server.cores / inputs.cpu_server.power_w)
    return max(ratios, default=0.0)


def _choice_power(inputs: PlanningInputs, groups: dict[str, tuple[str, ...]],
                  big: tuple[float, float] | None) -> dict[tuple[str, str], float]:
    """M for site_choice[j,s]: the group's facility power at s can never exceed the site cap."""
    return {(j, s.id): (big[0] if big else s.power_cap_w) for j in groups for s in inputs.sites}


def _choice_cores(inputs: PlanningInputs, groups: dict[str, tuple[str, ...]],
                  big: tuple[float, float] | None) -> dict[tuple[str, str], float]:
    """M for site_choice_cpu[j,s]: most cores the site's power could feed (cap / PUE x cores/W)."""
    per_w = _max_cores_per_w(inputs)
    return {(j, s.id): (big[1] if big else s.power_cap_w / s.pue * per_w)
            for j in groups for s in inputs.sites}


def _gen_bounds(inputs: PlanningInputs, place_keys: tuple[PlaceKey, ...],
                systems: dict[str, SystemInput], objective: str, elastic: bool,
                flow_jobs: tuple[str, ...]) -> dict[tuple[str, str], float]:
    """M^g[j,s] for generates[j,s] (spread RL jobs): most samples site s can generate in T_j.

    The site's IT power (cap / PUE) spent on the system with the most samples per watt, over the
    horizon; in the cost objective also at most the job's total (a cheapest plan never generates
    more than needed). The tighter M is, the closer the LP relaxation of the "site generates"
    indicator is to the integer one. The diagnosis build uses 10 x the job's total instead.
    """
    jobs = {job.id: job for job in inputs.jobs}
    best: dict[tuple[str, str], float] = defaultdict(float)
    for j, r, s, h in place_keys:
        rl = jobs[j].rl
        if j not in flow_jobs or rl is None or r != rl.generate or systems[h].power_w <= 0:
            continue
        per_w = jobs[j].role(r).throughput[h] / systems[h].power_w
        best[(j, s)] = max(best[(j, s)], per_w)
    sites = {s.id: s for s in inputs.sites}
    out = {}
    for (j, s), per_w in sorted(best.items()):
        job = jobs[j]
        total = job.role(job.rl.generate).work if job.rl else 0.0
        bound = sites[s].power_cap_w / sites[s].pue * per_w * job.horizon_s
        if elastic or bound <= 0:
            bound = 10.0 * total  # a site without power generates nothing anyway
        elif objective == "cost":
            bound = min(bound, total)
        out[(j, s)] = bound if bound > 0 else 1.0
    return out
