"""Read a solved LP back into a :class:`~planner.lp.solution.Solution`.

Values below ``1e-9`` (relative to their scale) are solver noise and read as zero; in integer
mode the integer families are rounded to whole numbers.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from planner.lp.bottlenecks import find_bottlenecks
from planner.lp.build import GB, LAMBDA_MAX, BuiltLp
from planner.lp.costs import (
    amortised_usd,
    capital_recovery_factor,
    capital_usd,
    cpu_server_costs,
    purchase_price,
    rental_price,
    system_costs,
)
from planner.lp.solution import (
    Flow,
    InventoryUse,
    JobOutcome,
    LinkUse,
    Note,
    Placement,
    Purchase,
    ReducedCost,
    RoleBound,
    SiteUse,
    Solution,
    SolverInfo,
)
from planner.lp.solve import SolveOutcome

__all__ = ["CPU_SERVER", "extract_solution"]

CPU_SERVER = "cpu-server"
_EPS = 1e-9
_PARTS = ("purchase", "inventory_capex", "rental", "energy", "colocation", "cpu_servers",
          "cpu_server_energy", "egress")


def value(var: Any) -> float:
    """A variable's value with solver noise removed (None, i.e. unused, reads as 0)."""
    x = float(var.varValue or 0.0)
    return 0.0 if abs(x) < _EPS else x


def _count(var: Any) -> float:
    """An integer-family value: whole when it is within 1e-6 of a whole number."""
    x = value(var)
    return float(round(x)) if abs(x - round(x)) < 1e-6 else x


def extract_solution(m: BuiltLp, outcome: SolveOutcome) -> Solution:
    """Assemble the Solution from the solved model (values, costs, duals, notes)."""
    breakdown = {part: sum((c * value(v) for v, c in m.cost_parts.get(part, [])), 0.0)
                 for part in _PARTS}
    total = sum(breakdown.values())
    marginal = total - breakdown["inventory_capex"]
    objective_value = value(m.lam) if m.lam is not None else total
    finish = None
    if m.lam is not None:
        lam = value(m.lam)
        finish = {j.id: (j.horizon_s / lam if lam > 0 else None)
                  for j in m.index.jobs.values() if j.serve is None}
    return Solution(
        status=outcome.status, objective=m.objective, objective_value=objective_value,
        objective_unit="USD" if m.objective == "cost" else "x", total_cost_usd=total,
        cost_breakdown_usd=breakdown, placements=_placements(m), purchases=_purchases(m),
        rentals=_rentals(m), inventory=_inventory(m), flows=_flows(m), sites=_sites(m),
        bottlenecks=find_bottlenecks(m, outcome), roles=_roles(m),
        assumptions=_assumptions(m, outcome),
        solver=SolverInfo(outcome.solver, outcome.status, outcome.seconds, outcome.variables,
                          outcome.constraints, outcome.mip_gap, outcome.method),
        finish_s=finish, cost_basis=m.index.inputs.cost_basis, marginal_cost_usd=marginal,
        full_economic_cost_usd=marginal + _owned_capital(m), jobs=_jobs(m),
        reduced_costs=_reduced_costs(m, outcome), links=_links(m),
    )


def _links(m: BuiltLp) -> tuple[LinkUse, ...]:
    """Every fleet link with the bytes the plan's flows put on it (both directions)."""
    flows = _flows(m)
    out = []
    for link in m.index.inputs.links:
        ends = {link.a, link.b}
        sent = sum(f.bytes for f in flows if {f.source, f.target} == ends)
        out.append(LinkUse(link.a, link.b, link.bandwidth_bytes_per_s, link.latency_s, sent))
    return tuple(out)


def _progress(m: BuiltLp) -> dict[str, float]:
    """Share of each pretrain/post-train job's work done within its horizon: the least over
    its work rows (1 on the deadline; the throughput multiplier with the time objective)."""
    out: dict[str, float] = {}
    for (family, key), row in m.rows.items():
        if family != "work":
            continue
        done = sum(value(var) * c for var, c in row.constraint.items() if var is not m.lam)
        out[key[0]] = min(out.get(key[0], done), done)
    return out


def _pool_cost(m: BuiltLp, *, held: bool) -> dict[tuple[str, ...], float]:
    """Cost of each (site, system) pool and each site's CPU servers (key ``(site,)``):
    ``held``, the parts that grow with the time the units are held (over the scenario
    horizon), else the purchases charged whole on the buy basis, which do not."""
    owner: dict[Any, tuple[str, ...]] = {}
    for family in ("units", "own", "buy", "rent"):
        for key, var in m.vars[family].items():
            owner[var] = key
    for family in ("cpu_on", "cpu_buy"):
        for key, var in m.vars[family].items():
            owner[var] = key
    whole = {"purchase", "cpu_servers"} if m.index.inputs.cost_basis == "buy" else set()
    cost: dict[tuple[str, ...], float] = defaultdict(float)
    for part, pairs in m.cost_parts.items():
        if part == "egress" or (part in whole) == held:
            continue
        for var, c in pairs:
            if var in owner:
                cost[owner[var]] += c * value(var)
    return cost


def _jobs(m: BuiltLp) -> tuple[JobOutcome, ...]:
    """Finish time and cost to completion of every job.

    A job's share of a pool's cost is its share of the units placed there (CPU servers: its
    share of the cores CPU roles keep busy at the site); held for the scenario horizon *T*,
    it is scaled to the job's finish time (on the buy basis the purchase price is charged
    whole, whatever the time). Egress moves the bytes of the work done within the horizon, so
    it is divided by the job's progress.
    """
    ix = m.index
    pool, bought = _pool_cost(m, held=True), _pool_cost(m, held=False)
    placed: dict[tuple[str, ...], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for (j, _, s, h), var in m.vars["place"].items():
        placed[(s, h)][j] += value(var)
    for (j, _, s), busy in _cpu_role_cores(m).items():
        placed[(s,)][j] += busy
    held: dict[str, float] = defaultdict(float)
    fixed: dict[str, float] = defaultdict(float)
    for key, shares in placed.items():
        total = sum(shares.values())
        for j, x in shares.items():
            if total > 0:
                held[j] += pool.get(key, 0.0) * x / total
                fixed[j] += bought.get(key, 0.0) * x / total
    egress: dict[str, float] = defaultdict(float)
    for (j, _k, a, b), var in m.vars["ship"].items():
        egress[j] += value(var) * ix.graph.edges[(a, b)].usd_per_byte * GB
    progress = _progress(m)
    out = []
    for job in ix.jobs.values():
        p = 1.0 if job.serve is not None else progress.get(job.id, 0.0)
        finish = job.horizon_s / p if p > _EPS else None
        cost = None if finish is None else (held[job.id] * finish / ix.horizon_s
                                            + fixed[job.id] + egress[job.id] / p)
        out.append(JobOutcome(job.id, job.kind, job.horizon_s, p, finish, cost))
    return tuple(out)


def _owned_capital(m: BuiltLp) -> float:
    """Amortised capital of the owned units (and CPU servers) the plan switches on."""
    ix = m.index
    econ, horizon = ix.inputs.economics, ix.horizon_s
    total = sum(value(var) * amortised_usd(purchase_price(ix.systems[h], ix.sites[s]), econ,
                                           horizon)
                for (s, h), var in m.vars["own"].items())
    server = amortised_usd(ix.inputs.cpu_server.purchase_usd, econ, horizon)
    return total + sum(value(var) * server for var in m.vars["cpu_on"].values())


def _placements(m: BuiltLp) -> tuple[Placement, ...]:
    out = []
    units, whole = m.vars["units"], m.vars["whole"]
    for key, var in m.vars["place"].items():
        j, r, s, h = key
        busy = value(var)
        x = _count(whole[key]) if key in whole else busy
        if x > 1e-6:
            out.append(Placement(s, h, j, r, x, busy, x / max(_count(units[(s, h)]), x)))
    cores = _cores_available(m)
    for (j, r, s), busy in _cpu_role_cores(m).items():
        if busy > 1e-6:
            out.append(Placement(s, "cpu", j, r, busy, busy, busy / max(cores[s], busy)))
    return tuple(sorted(out, key=lambda p: (p.site, p.system, p.job, p.role)))


def _cpu_role_cores(m: BuiltLp) -> dict[tuple[str, str, str], float]:
    """Average cores busy per CPU role and site: c x work / horizon."""
    ix = m.index
    out = {}
    for (j, r, s), var in m.vars["cpu_work"].items():
        role = ix.jobs[j].role(r)
        out[(j, r, s)] = (role.cpu_core_seconds_per_work * ix.work_scale[(j, r)] * value(var)
                          / ix.jobs[j].horizon_s)
    return out


def _cores_available(m: BuiltLp) -> dict[str, float]:
    ix, v = m.index, m.vars
    cores: dict[str, float] = defaultdict(float)
    for (s, h), var in v["units"].items():
        cores[s] += ix.systems[h].cpu_cores * _count(var)
    for s in ix.sites:
        cores[s] += ix.inputs.cpu_server.cores * (_count(v["cpu_on"][(s,)])
                                                  + _count(v["cpu_buy"][(s,)]))
    return cores


def _cores_used(m: BuiltLp) -> dict[str, float]:
    ix = m.index
    used: dict[str, float] = defaultdict(float)
    for key, var in m.vars["place"].items():
        j, r, s, h = key
        role = ix.jobs[j].role(r)
        used[s] += role.cpu_core_seconds_per_work * role.throughput[h] * value(var)
    for (_, _, s), busy in _cpu_role_cores(m).items():
        used[s] += busy
    return used


def _purchases(m: BuiltLp) -> tuple[Purchase, ...]:
    ix, out = m.index, []
    econ, horizon = ix.inputs.economics, ix.horizon_s
    for (s, h), var in m.vars["buy"].items():
        n = _count(var)
        if n > 0:
            c = system_costs(ix.systems[h], ix.sites[s], econ, horizon, ix.inputs.cost_basis)
            out.append(Purchase(s, h, n, n * c.capex,
                                n * purchase_price(ix.systems[h], ix.sites[s])))
    server = ix.inputs.cpu_server
    for (s,), var in m.vars["cpu_buy"].items():
        n = _count(var)
        if n > 0:
            c = cpu_server_costs(server, ix.sites[s], econ, horizon, ix.inputs.cost_basis)
            out.append(Purchase(s, CPU_SERVER, n, n * c.capex, n * server.purchase_usd))
    return tuple(sorted(out, key=lambda p: (p.site, p.system)))


def _rentals(m: BuiltLp) -> tuple[Purchase, ...]:
    ix, out = m.index, []
    for (s, h), var in m.vars["rent"].items():
        n = _count(var)
        price = rental_price(ix.systems[h], ix.sites[s])
        if n > 0 and price is not None:
            out.append(Purchase(s, h, n, n * price * ix.horizon_s, 0.0))
    return tuple(sorted(out, key=lambda p: (p.site, p.system)))


def _inventory(m: BuiltLp) -> tuple[InventoryUse, ...]:
    ix, out = m.index, []
    for (s, h), var in m.vars["own"].items():
        owned = ix.sites[s].inventory.get(h, 0)
        if owned > 0:
            out.append(InventoryUse(s, h, _count(var), float(owned)))
    for (s,), var in m.vars["cpu_on"].items():
        owned = ix.sites[s].cpu_servers
        if owned > 0:
            out.append(InventoryUse(s, CPU_SERVER, _count(var), float(owned)))
    return tuple(sorted(out, key=lambda p: (p.site, p.system)))


def _flows(m: BuiltLp) -> tuple[Flow, ...]:
    out = []
    for (j, kind, a, b), var in m.vars["ship"].items():
        gb = value(var)
        if gb > 1e-6:
            out.append(Flow(j, a, b, kind, gb * GB))
    return tuple(sorted(out, key=lambda f: (f.job, f.kind, f.source, f.target)))


def _sites(m: BuiltLp) -> tuple[SiteUse, ...]:
    ix, v = m.index, m.vars
    it_w: dict[str, float] = defaultdict(float)
    for (s, h), var in v["units"].items():
        it_w[s] += ix.systems[h].power_w * _count(var)
    cpu_w = ix.inputs.cpu_server.power_w
    used, cores = _cores_used(m), _cores_available(m)
    out = []
    for s, site in ix.sites.items():
        it_w[s] += cpu_w * (_count(v["cpu_on"][(s,)]) + _count(v["cpu_buy"][(s,)]))
        out.append(SiteUse(s, it_w[s] * site.pue, site.power_cap_w, used[s], cores[s],
                           _cores_on_site(m, s), site.lat, site.lon))
    return tuple(out)


def _cores_on_site(m: BuiltLp, s: str) -> float:
    """Host cores of every unit at the site (owned, used or idle, plus bought and rented)
    and of every CPU server on hand or bought."""
    ix, v = m.index, m.vars
    site = ix.sites[s]
    cores: float = sum(ix.systems[h].cpu_cores * n for h, n in site.inventory.items()
                if h in ix.systems)
    for family in ("buy", "rent"):
        cores += sum(ix.systems[h].cpu_cores * _count(var)
                     for (ss, h), var in v[family].items() if ss == s)
    servers = site.cpu_servers + _count(v["cpu_buy"][(s,)])
    return float(cores + ix.inputs.cpu_server.cores * servers)


def _unit_worth(m: BuiltLp, outcome: SolveOutcome) -> dict[tuple[str, str], float]:
    """Most one unit of a pool is worth to the plan, in USD over the horizon: the best value
    of the work it could do for one role, at the work rows' shadow prices (an upper bound:
    the power and cores it would draw are worth something too)."""
    from planner.lp.bottlenecks import row_dual

    ix = m.index
    out: dict[tuple[str, str], float] = {}
    for (j, r, s, h) in m.vars["place"]:
        row = m.rows.get(("work", (j, r)))
        if row is None:
            continue
        pi = abs(row_dual(row, outcome)[0]) * m.usd_scale
        job = ix.jobs[j]
        per_unit = job.role(r).throughput[h] * job.horizon_s / ix.work_scale[(j, r)] * pi
        out[(s, h)] = max(out.get((s, h), 0.0), per_unit)
    return out


def _reduced_costs(m: BuiltLp, outcome: SolveOutcome) -> tuple[ReducedCost, ...]:
    """For every unused pool: how much cheaper a unit would have to be to enter the plan.

    The larger of the unused ``buy``/``rent``/``own`` variable's reduced cost and the unit's
    cost less the most its work is worth at the work rows' shadow prices
    (:func:`_unit_worth`; the reduced cost alone is 0 for a variable the solver keeps basic
    at zero in a degenerate optimum), both USD over the horizon per unit and both lower bounds
    on the cut needed; turned into the purchase price (divided by the share of the price the
    plan charges: CRF x horizon / year, or all of it on the buy basis), the rental price per
    hour, or the running cost of an idle owned unit. Cost objective only (with the time
    objective the LP prices throughput, not money).
    """
    if m.objective != "cost" or not outcome.has_duals:
        return ()
    ix, v = m.index, m.vars
    econ, horizon = ix.inputs.economics, ix.horizon_s
    worth = _unit_worth(m, outcome)
    out = []
    for family in ("buy", "rent", "own"):
        for (s, h), var in v[family].items():
            if value(v["units"][(s, h)]) > 1e-9 or var.dj is None:
                continue
            c = system_costs(ix.systems[h], ix.sites[s], econ, horizon, ix.inputs.cost_basis)
            cost = {"buy": c.capex + c.energy + c.colocation, "rent": c.rental or 0.0,
                    "own": c.energy + c.colocation + (c.capex if ix.inputs.charge_inventory_capex
                                                      else 0.0)}[family]
            gap = max(0.0, float(var.dj) * m.usd_scale, cost - worth.get((s, h), cost))
            if family == "buy":
                share = capital_usd(1.0, econ, horizon, ix.inputs.cost_basis)
                out.append(ReducedCost(s, h, family, gap / share, "USD/unit"))
            elif family == "rent":
                out.append(ReducedCost(s, h, family, gap / (horizon / 3600.0),
                                       "USD/unit-hour"))
            else:
                out.append(ReducedCost(s, h, family, gap, "USD/unit over the horizon"))
    return tuple(sorted(out, key=lambda r: (r.site, r.system, r.acquisition)))


def _roles(m: BuiltLp) -> tuple[RoleBound, ...]:
    """Bound of each role on the system holding most of its units (ties: system id)."""
    units: dict[tuple[str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for (j, r, _, h), var in m.vars["place"].items():
        units[(j, r)][h] += value(var)
    out = []
    for job in m.index.jobs.values():
        for role in job.roles:
            if role.is_cpu:
                out.append(RoleBound(job.id, role.name, "cpu"))
                continue
            held = {h: u for h, u in units[(job.id, role.name)].items() if u > 1e-6}
            top = min(held, key=lambda h: (-held[h], h)) if held else None
            out.append(RoleBound(job.id, role.name, role.bound.get(top, "") if top else ""))
    return tuple(sorted(out, key=lambda b: (b.job, b.role)))


def _assumptions(m: BuiltLp, outcome: SolveOutcome) -> tuple[Note, ...]:
    ix = m.index
    econ = ix.inputs.economics
    notes = [
        Note("scenario_horizon_s", ix.horizon_s, "longest job horizon",
             "units are shared by all jobs and held for the whole scenario horizon"),
        Note("capital_recovery_factor_per_year",
             capital_recovery_factor(econ.cost_of_capital, econ.lifetime_s),
             "annuity formula i(1+i)^n/((1+i)^n-1)",
             "purchases are charged price x CRF x horizon / year"),
        Note("charge_inventory_capex", ix.inputs.charge_inventory_capex, "planning inputs",
             "owned inventory costs energy and colocation only unless this is true"),
        Note("energy_at_full_power", True, "planner.lp.costs",
             "provisioned units draw full IT power x PUE for the whole horizon; rented units "
             "pay their rental price only"),
        Note("mode", "integer" if m.integer else "lp", "optimize(integer=...)",
             "LP mode: units are fractional" if not m.integer else
             "whole numbers: units per placement (job, role, site, system), units, purchases, "
             "rentals, CPU servers and site choices. Fractional by design: busy_units (work "
             "done, in units running flat out) and CPU-role placements, which are cores busy "
             "on average (cores are pooled per site over host cores and CPU servers)"),
    ]
    if m.objective == "time":
        notes.append(Note("time_objective", "max common throughput multiplier",
                          "planner.lp.build",
                          "every training job's work rate is scaled by the same factor; its "
                          "finish time is horizon / factor; costs stay those of the horizon"))
        if m.lam is not None and value(m.lam) >= LAMBDA_MAX * (1 - 1e-6):
            notes.append(Note("throughput_multiplier_cap", LAMBDA_MAX, "planner.lp.build",
                              "the multiplier reached its cap: the fleet and budget allow far "
                              "more than the jobs need; set a budget to make it meaningful"))
    notes += [Note(f"solver_note_{i + 1}", text, outcome.solver) for i, text in
              enumerate(outcome.notes)]
    return tuple(notes)
