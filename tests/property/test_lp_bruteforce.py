"""The integer LP against brute force on tiny random fleets: same feasibility, same optimal cost.

Instances: one job with one or two roles (maybe single-site), two sites, two systems; each pool
(site, system) may own, buy and rent a few units. Brute force enumerates the whole number of
units of every pool, prices each count by taking the cheapest sources first (owned, bought,
rented), checks site power and whether the roles' work fits (exactly: every unit goes whole to
one role), and keeps the cheapest feasible plan.
"""

from __future__ import annotations

import itertools
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.errors import InfeasibleError
from planner.lp import (
    CpuServerInput,
    EconomicsInput,
    JobInput,
    PlanningInputs,
    RoleInput,
    SiteInput,
    SystemInput,
    optimize,
)
from planner.lp.costs import system_costs
from planner.units import SECONDS_PER_YEAR

T = 0.1 * SECONDS_PER_YEAR
USD_PER_MWH = 1.0 / 3.6e9
SETTINGS = settings(max_examples=150, deadline=None, database=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


@st.composite
def systems(draw: st.DrawFn) -> tuple[SystemInput, ...]:
    out = []
    for name in ("p", "q"):
        rental = draw(st.one_of(st.none(), st.integers(1, 30)))
        out.append(SystemInput(name, 8, 64, 1000.0 * draw(st.integers(1, 3)),
                               1000.0 * draw(st.integers(1, 20)),
                               None if rental is None else rental / 3600.0))
    return tuple(out)


@st.composite
def sites(draw: st.DrawFn) -> tuple[SiteInput, ...]:
    def counts(high: int) -> dict[str, int]:
        return {h: draw(st.integers(0, high)) for h in ("p", "q")}

    out = []
    for name in ("a", "b"):
        out.append(SiteInput(
            name, f"r-{name}", 1000.0 * draw(st.integers(2, 16)),
            draw(st.sampled_from([1.0, 1.25, 1.5])),
            draw(st.integers(20, 120)) * USD_PER_MWH,
            draw(st.integers(0, 3)) * 1e-6,
            counts(2), counts(4), counts(2)))
    return tuple(out)


@st.composite
def instances(draw: st.DrawFn) -> PlanningInputs:
    roles = []
    for name in ("r1", "r2")[: draw(st.integers(1, 2))]:
        throughput = {h: float(t) for h in ("p", "q") if (t := draw(st.integers(0, 3))) > 0}
        roles.append(RoleInput(name, draw(st.integers(1, 6)) * T, "work", throughput))
    job = JobInput("j", "pretrain", T, tuple(roles), single_site=draw(st.booleans()))
    economics = EconomicsInput(5 * SECONDS_PER_YEAR, draw(st.sampled_from([0.0, 0.05, 0.1])))
    return PlanningInputs(draw(sites()), (), draw(systems()), CpuServerInput(64, 500.0, 5000.0),
                          economics, (job,), None, draw(st.booleans()))


def _unit_costs(inputs: PlanningInputs, site: SiteInput, system: SystemInput) -> list[float]:
    """Cost of each unit a pool can hold, cheapest first (owned, bought, rented)."""
    c = system_costs(system, site, inputs.economics, T)
    owned = c.energy + c.colocation + (c.capex if inputs.charge_inventory_capex else 0.0)
    costs = [owned] * site.inventory.get(system.id, 0)
    costs += [c.capex + c.energy + c.colocation] * site.purchase_limits.get(system.id, 0)
    if c.rental is not None:
        costs += [c.rental] * site.rental_limits.get(system.id, 0)
    return sorted(costs)


def _work_fits(job: JobInput, pools: dict[tuple[str, str], int]) -> bool:
    """Exact check that whole units of the pools, each given to one role (placements are
    whole units per role, site and system), can do every role's work."""
    need = [Fraction(round(r.work / T)) for r in job.roles]  # work in unit-horizons
    rates = [{p: Fraction(int(r.throughput.get(p[1], 0))) for p in pools} for r in job.roles]
    if len(need) == 1:
        return sum(rates[0][p] * n for p, n in pools.items()) >= need[0]
    used = [p for p, n in pools.items() if n > 0]
    for split in itertools.product(*(range(pools[p] + 1) for p in used)):
        first = sum(rates[0][p] * a for p, a in zip(used, split, strict=True))
        second = sum(rates[1][p] * (pools[p] - a) for p, a in zip(used, split, strict=True))
        if first >= need[0] and second >= need[1]:
            return True
    return False


def _power_fits(inputs: PlanningInputs, pools: dict[tuple[str, str], int]) -> bool:
    for site in inputs.sites:
        watts = sum(Fraction(inputs.system(h).power_w) * n for (s, h), n in pools.items()
                    if s == site.id)
        if watts * Fraction(site.pue) > Fraction(site.power_cap_w):
            return False
    return True


def brute_force(inputs: PlanningInputs) -> float | None:
    """Cheapest feasible whole-unit plan, or None if there is none."""
    job = inputs.jobs[0]
    keys = [(s.id, h.id) for s in inputs.sites for h in inputs.systems]
    prices = {k: _unit_costs(inputs, inputs.sites[i // 2], inputs.systems[i % 2])
              for i, k in enumerate(keys)}
    best = None
    for counts in itertools.product(*(range(len(prices[k]) + 1) for k in keys)):
        pools = dict(zip(keys, counts, strict=True))
        cost = sum(sum(prices[k][:n]) for k, n in pools.items())
        if best is not None and cost >= best:
            continue
        if not _power_fits(inputs, pools):
            continue
        groups = ([{k: n for k, n in pools.items() if k[0] == s.id} for s in inputs.sites]
                  if job.single_site else [pools])
        if any(_work_fits(job, g) for g in groups):
            best = cost
    return best


@SETTINGS
@given(instances())
def test_integer_lp_matches_brute_force(inputs: PlanningInputs) -> None:
    expected = brute_force(inputs)
    try:
        solution = optimize(inputs, integer=True)
    except InfeasibleError as err:
        assert expected is None, f"brute force found a plan costing {expected}"
        assert err.diagnosis
        return
    assert expected is not None, "the LP found a plan brute force says cannot exist"
    assert solution.total_cost_usd == pytest.approx(expected, rel=1e-6, abs=1e-6)
