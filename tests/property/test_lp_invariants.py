"""Invariants every plan must satisfy, and how the optimum moves when the inputs move.

Random fleets of three sites and two systems with links, running a pretraining job (maybe
single-site), an RL post-training job (generate, score, verify on CPUs, update; its own, shorter
horizon) and a serving job with a latency bound. Every solution, in both modes, must respect
power, CPU cores, link capacity (each job's bytes at an even rate over its horizon), inventory,
purchase and rental limits, meet every role's work, and have cost parts that sum to the total.

Monotonicity is checked in integer mode. Its plans are made whole in two stages
(planner/lp/two_stage.py), so a plan is not the optimum but within its proved gap of it
(``solver.mip_gap``): cost x (1 - gap) is a lower bound on the optimum, which is monotone, and
the checks compare those bounds with the other plan's cost. LP mode rounds site choices
heuristically and reports no gap, so it is not checked.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from planner.errors import InfeasibleError
from planner.lp import (
    CpuServerInput,
    EconomicsInput,
    JobInput,
    LinkInput,
    PlanningInputs,
    RlCoupling,
    RoleInput,
    ServeDemand,
    SiteInput,
    Solution,
    SystemInput,
    optimize,
)
from planner.units import SECONDS_PER_YEAR

T = 0.1 * SECONDS_PER_YEAR
USD_PER_MWH = 1.0 / 3.6e9
REL = 1e-6
SETTINGS = settings(max_examples=25, deadline=None, database=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])
SITES = ("s0", "s1", "s2")


@st.composite
def systems(draw: st.DrawFn) -> tuple[SystemInput, ...]:
    rental = draw(st.one_of(st.none(), st.integers(2, 40)))
    return (SystemInput("g", 8, draw(st.sampled_from([0, 32])), 1000.0 * draw(st.integers(5, 15)),
                        1000.0 * draw(st.integers(100, 400)),
                        None if rental is None else rental / 3600.0),
            SystemInput("h", 4, 128, 1000.0 * draw(st.integers(8, 20)),
                        1000.0 * draw(st.integers(150, 600)), None))


@st.composite
def site(draw: st.DrawFn, name: str) -> SiteInput:
    def counts(low: int, high: int) -> dict[str, int]:
        return {h: draw(st.integers(low, high)) for h in ("g", "h")}

    return SiteInput(name, f"r{name[1]}", 1000.0 * draw(st.integers(100, 1000)),
                     draw(st.sampled_from([1.1, 1.3, 1.5])),
                     draw(st.integers(30, 150)) * USD_PER_MWH,
                     draw(st.integers(0, 5)) * 1e-8, counts(0, 5), counts(3, 40), counts(0, 5),
                     draw(st.integers(0, 5)), draw(st.integers(0, 20)))


@st.composite
def links(draw: st.DrawFn) -> tuple[LinkInput, ...]:
    pairs = draw(st.sets(st.sampled_from([("s0", "s1"), ("s1", "s2"), ("s0", "s2")]),
                         min_size=1))
    return tuple(LinkInput(a, b, draw(st.sampled_from([1e5, 1e6, 1e7, 1e9])),
                           draw(st.integers(5, 80)) / 1000.0, draw(st.integers(0, 3)) * 1e-11)
                 for a, b in sorted(pairs))


def _rates(draw: st.DrawFn, low: int, high: int) -> dict[str, float]:
    out = {h: float(draw(st.integers(0, high))) for h in ("g", "h")}
    return {h: max(v, float(low)) for h, v in out.items() if v > 0} or {"h": float(high)}


@st.composite
def rl_job(draw: st.DrawFn) -> JobInput:
    horizon = draw(st.sampled_from([T, T / 2]))
    samples = draw(st.integers(5, 40)) * horizon
    verified = draw(st.sampled_from([0.25, 0.5, 1.0]))
    roles = (RoleInput("generate", samples, "samples", _rates(draw, 1, 5)),
             RoleInput("score", samples, "samples", _rates(draw, 2, 20)),
             RoleInput("verify", verified * samples, "samples", {},
                       draw(st.sampled_from([0.01, 1.0, 5.0]))),
             RoleInput("update", samples, "samples", _rates(draw, 5, 50)))
    coupling = RlCoupling("generate", "score", "verify", "update",
                          draw(st.sampled_from([1e4, 1e5, 1e6])), verified,
                          draw(st.sampled_from([0.1, 0.5])),
                          draw(st.sampled_from([1e9, 1e11])), draw(st.integers(1, 20)))
    return JobInput("rl", "posttrain", horizon, roles, rl=coupling)


@st.composite
def fleets(draw: st.DrawFn) -> PlanningInputs:
    train = JobInput("pt", "pretrain", T, (RoleInput(
        "train", draw(st.integers(1, 30)) * T, "unit-horizons", _rates(draw, 1, 3),
        bound={"g": "compute", "h": "memory"}),), single_site=draw(st.booleans()))
    regions = draw(st.sets(st.sampled_from(["r0", "r1", "r2"]), min_size=1))
    rates = {g: float(draw(st.integers(1, 20))) for g in sorted(regions)}
    serve = JobInput("chat", "serve", T, (RoleInput(
        "decode", sum(rates.values()) * T, "requests", _rates(draw, 1, 4)),),
        serve=ServeDemand(rates, draw(st.sampled_from([0.01, 0.05, 0.2]))))
    return PlanningInputs(
        tuple(draw(site(name)) for name in SITES), draw(links()), draw(systems()),
        CpuServerInput(96, 800.0, 15_000.0),
        EconomicsInput(5 * SECONDS_PER_YEAR, draw(st.sampled_from([0.0, 0.08]))),
        (train, draw(rl_job()), serve), None, draw(st.booleans()))


def solve(inputs: PlanningInputs, **options: object) -> Solution | None:
    """The plan, or None for an infeasible fleet (whose diagnosis must say something)."""
    try:
        return optimize(inputs, **options)  # type: ignore[arg-type]
    except InfeasibleError as err:
        assert err.diagnosis, "an infeasible plan needs a diagnosis"
        return None


def _lower_bound(sol: Solution) -> float:
    """What the plan proves about the integer optimum: cost x (1 - proved gap)."""
    assert sol.solver.mip_gap is not None, "an integer plan reports its gap"
    return sol.total_cost_usd * (1 - sol.solver.mip_gap)


# ------------------------------------------------------------------------------ invariants
def _work_done(inputs: PlanningInputs, sol: Solution) -> dict[tuple[str, str], float]:
    done: dict[tuple[str, str], float] = defaultdict(float)
    jobs = {j.id: j for j in inputs.jobs}
    for p in sol.placements:
        job = jobs[p.job]
        role = job.role(p.role)
        if p.system == "cpu":  # cores busy over the horizon / core-seconds per item
            done[(p.job, p.role)] += p.units * job.horizon_s / role.cpu_core_seconds_per_work
        else:
            done[(p.job, p.role)] += role.throughput[p.system] * job.horizon_s * p.busy_units
    return done


def check_invariants(inputs: PlanningInputs, sol: Solution) -> None:
    d = sol.to_dict()
    for s in d["sites"]:
        assert s["power_used_w"] <= s["power_cap_w"] * (1 + REL) + 1e-6
        assert s["cpu_cores_used"] <= s["cpu_cores_available"] * (1 + REL) + 1e-6
    horizon = {j.id: j.horizon_s for j in inputs.jobs}
    rate: dict[tuple[str, str], float] = defaultdict(float)
    for f in d["flows"]:
        rate[(f["from"], f["to"])] += f["bytes"] / horizon[f["job"]]
    capacity: dict[tuple[str, str], float] = defaultdict(float)
    for link in inputs.links:
        capacity[(link.a, link.b)] += link.bandwidth_bytes_per_s
        capacity[(link.b, link.a)] += link.bandwidth_bytes_per_s
    for arc, used in rate.items():
        assert used <= capacity[arc] * (1 + REL) + 1e-6, arc
    sites = {s.id: s for s in inputs.sites}
    for p in d["purchases"]:
        limit = (sites[p["site"]].cpu_server_purchase_limit if p["system"] == "cpu-server"
                 else sites[p["site"]].purchase_limits.get(p["system"], 0))
        assert p["units"] <= limit + 1e-6
    for p in d["rentals"]:
        assert p["units"] <= sites[p["site"]].rental_limits.get(p["system"], 0) + 1e-6
    for p in d["inventory"]:
        assert p["units_used"] <= p["units_owned"] + 1e-6
    assert all(p["site_units_share"] <= 1 + 1e-9 for p in d["placements"])
    assert all(p["busy_units"] <= p["units"] * (1 + 1e-9) for p in d["placements"])
    done = _work_done(inputs, sol)
    for job in inputs.jobs:
        for role in job.roles:
            assert done[(job.id, role.name)] >= role.work * (1 - REL) - 1e-6, (job.id, role.name)
    assert sum(d["cost_breakdown_usd"].values()) == pytest.approx(d["total_cost_usd"], rel=1e-9)
    assert d["objective"]["value"] == pytest.approx(d["total_cost_usd"], rel=1e-9)
    if inputs.jobs[0].single_site and not any("relaxed" in str(n.value)
                                              for n in sol.assumptions):
        assert len({p.site for p in sol.placements if p.job == "pt"}) == 1


@SETTINGS
@given(fleets(), st.booleans())
def test_every_plan_respects_every_limit(inputs: PlanningInputs, integer: bool) -> None:
    sol = solve(inputs, integer=integer)
    if sol is not None:
        check_invariants(inputs, sol)


# ------------------------------------------------------------------------------ monotonicity
def _more_capacity(inputs: PlanningInputs) -> PlanningInputs:
    sites = tuple(dataclasses.replace(
        s, power_cap_w=2 * s.power_cap_w,
        purchase_limits={h: n + 5 for h, n in s.purchase_limits.items()},
        cpu_server_purchase_limit=s.cpu_server_purchase_limit + 5) for s in inputs.sites)
    links = tuple(dataclasses.replace(lk, bandwidth_bytes_per_s=2 * lk.bandwidth_bytes_per_s)
                  for lk in inputs.links)
    return dataclasses.replace(inputs, sites=sites, links=links)


def _more_demand(inputs: PlanningInputs, factor: float) -> PlanningInputs:
    jobs = []
    for job in inputs.jobs:
        roles = tuple(dataclasses.replace(r, work=r.work * factor) for r in job.roles)
        serve = None if job.serve is None else dataclasses.replace(
            job.serve, rate_by_region={g: v * factor for g, v in job.serve.rate_by_region.items()})
        jobs.append(dataclasses.replace(job, roles=roles, serve=serve))
    return dataclasses.replace(inputs, jobs=tuple(jobs))


def _prices_times(inputs: PlanningInputs, k: float) -> PlanningInputs:
    systems = tuple(dataclasses.replace(
        h, purchase_usd=k * h.purchase_usd,
        rental_usd_per_s=None if h.rental_usd_per_s is None else k * h.rental_usd_per_s)
        for h in inputs.systems)
    sites = tuple(dataclasses.replace(s, electricity_usd_per_j=k * s.electricity_usd_per_j,
                                      colocation_usd_per_w_s=k * s.colocation_usd_per_w_s)
                  for s in inputs.sites)
    links = tuple(dataclasses.replace(lk, usd_per_byte=k * lk.usd_per_byte) for lk in inputs.links)
    server = dataclasses.replace(inputs.cpu_server, purchase_usd=k * inputs.cpu_server.purchase_usd)
    return dataclasses.replace(inputs, systems=systems, sites=sites, links=links,
                               cpu_server=server)


@SETTINGS
@given(fleets())
def test_more_capacity_or_budget_never_costs_more(inputs: PlanningInputs) -> None:
    base = solve(inputs, integer=True)
    assume(base is not None)
    assert base is not None
    bigger = solve(_more_capacity(inputs), integer=True)
    assert bigger is not None, "more capacity made a feasible fleet infeasible"
    # bigger's optimum <= base's optimum <= base's cost
    assert _lower_bound(bigger) <= base.total_cost_usd * (1 + 2 * REL)
    budgeted = solve(dataclasses.replace(inputs, budget_usd=base.total_cost_usd * 1.01),
                     integer=True)
    roomy = solve(dataclasses.replace(inputs, budget_usd=base.total_cost_usd * 2), integer=True)
    assert budgeted is not None and roomy is not None
    assert _lower_bound(roomy) <= budgeted.total_cost_usd * (1 + 2 * REL)


@SETTINGS
@given(fleets())
def test_more_budget_never_slows_the_plan(inputs: PlanningInputs) -> None:
    base = solve(inputs, integer=True)
    assume(base is not None)
    assert base is not None
    tight = solve(dataclasses.replace(inputs, budget_usd=base.total_cost_usd * 1.2),
                  objective="time", integer=True)
    loose = solve(dataclasses.replace(inputs, budget_usd=base.total_cost_usd * 3),
                  objective="time", integer=True)
    assert tight is not None and loose is not None
    assert tight.objective_value >= 1 - 1e-6  # the cost-optimal plan fits the budget
    assert loose.objective_value >= tight.objective_value * (1 - REL)


@SETTINGS
@given(fleets(), st.sampled_from([1.25, 2.0]))
def test_more_demand_never_costs_less(inputs: PlanningInputs, factor: float) -> None:
    base = solve(inputs, integer=True)
    assume(base is not None)
    assert base is not None
    more = solve(_more_demand(inputs, factor), integer=True)
    if more is not None:  # more's cost >= its optimum >= base's optimum
        assert more.total_cost_usd >= _lower_bound(base) * (1 - 2 * REL)


@SETTINGS
@given(fleets())
def test_doubling_every_price_doubles_the_cost_and_keeps_the_plan(inputs: PlanningInputs) -> None:
    base = solve(inputs, integer=True)
    assume(base is not None)
    assert base is not None
    double = solve(_prices_times(inputs, 2.0), integer=True)
    assert double is not None
    assert double.total_cost_usd == pytest.approx(2 * base.total_cost_usd, rel=1e-9)

    def plan(sol: Solution) -> list[tuple[str, str, str, str, float]]:
        return [(p.site, p.system, p.job, p.role, round(p.units, 6)) for p in sol.placements]

    assert plan(double) == plan(base)
