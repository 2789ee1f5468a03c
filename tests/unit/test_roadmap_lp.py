"""The roadmap LP (planner/lp/periods.py) on hand-built periods whose optimum is worked out here.

Common numbers: a serving job needs one unit per request/s (throughput 1 request/s per unit);
a unit draws 10 kW at PUE 1; electricity and colocation are free unless a test says otherwise,
so the only costs are purchases (less their remaining value) and rentals. Each period lasts
``YEAR`` seconds unless a test says otherwise.
"""

from __future__ import annotations

import dataclasses

import pytest

from planner.errors import InfeasibleError
from planner.lp import (
    CpuServerInput,
    EconomicsInput,
    JobInput,
    PlanningInputs,
    RoleInput,
    ServeDemand,
    SiteInput,
    SystemInput,
    solve_roadmap,
)
from planner.lp.periods import BuildoutInput, PeriodInput, PoolSupplyInput, RoadmapInputs
from planner.units import SECONDS_PER_YEAR

YEAR = SECONDS_PER_YEAR
QUARTER = YEAR / 4
PRICE = 100.0  # USD per unit
UNIT_W = 10_000.0


def serve_job(rate: float, seconds: float) -> JobInput:
    role = RoleInput("serve", rate * seconds, "requests", {"node": 1.0})
    return JobInput("svc", "serve", seconds, (role,),
                    serve=ServeDemand({"*": rate}, latency_bound_s=0.1))


def site(id: str, *, cap_w: float = 1e9, usd_per_mwh: float = 0.0,
         rent: int = 0) -> SiteInput:
    return SiteInput(id, "r1", cap_w, 1.0, usd_per_mwh / 3.6e9, 0.0, {"node": 10_000}, {},
                     {"node": rent} if rent else {})


def block(rate: float, seconds: float, sites: tuple[SiteInput, ...],
          rental_per_year: float | None = None) -> PlanningInputs:
    rental = None if rental_per_year is None else rental_per_year / YEAR
    node = SystemInput("node", 8, 100, UNIT_W, PRICE, rental)
    return PlanningInputs(sites, (), (node,), CpuServerInput(100, 1_000.0, 10_000.0),
                          EconomicsInput(5 * YEAR, 0.0), (serve_job(rate, seconds),))


def pool(site_id: str, n: int, *, lead: int = 0, life: int = 100,
         initial: tuple[int, ...] | None = None, prices: tuple[float, ...] | None = None,
         limit: float = 1000.0, remaining: tuple[float, ...] | None = None) -> PoolSupplyInput:
    """A pool whose orders of period tau serve from tau + lead for ``life`` periods."""
    service = tuple(tuple(tau + lead <= t < tau + lead + life and tau + lead < n
                          for t in range(n)) for tau in range(n))
    price = prices or (PRICE,) * n
    return PoolSupplyInput(site_id, "node", initial or (0,) * n,
                           tuple(p if tau + lead < n else None for tau, p in enumerate(price)),
                           (limit,) * n, service, remaining or (0.0,) * n)


def roadmap(rates: list[float], pools: list[PoolSupplyInput], *, seconds: float = YEAR,
            sites: tuple[SiteInput, ...] | None = None, discount: float = 0.0,
            rental_per_year: float | None = None, caps: dict[str, float] | None = None,
            buildouts: tuple[BuildoutInput, ...] = ()) -> RoadmapInputs:
    sites = sites or (site("a"),)
    periods = tuple(
        PeriodInput(f"P{t}", "", "", seconds, (1 + discount) ** -(t * seconds / YEAR),
                    block(rate, seconds, sites, rental_per_year) if rate > 0 else None,
                    caps or {s.id: s.power_cap_w for s in sites})
        for t, rate in enumerate(rates))
    end = (1 + discount) ** -(len(rates) * seconds / YEAR)
    return RoadmapInputs(periods, tuple(pools), buildouts, {}, end)


def bought(data: dict, site_id: str | None = None) -> dict[str, float]:
    out: dict[str, float] = {}
    for row in data["purchases"]:
        if site_id is None or row["site"] == site_id:
            out[row["period"]] = out.get(row["period"], 0.0) + row["units"]
    return {k: round(v, 6) for k, v in out.items()}


def test_growth_past_a_sites_power_buys_at_the_second_site_in_the_quarter_it_is_needed() -> None:
    # Site a has cheap power (10 USD/MWh) but room for 10 units (100 kW); site b is dearer
    # (100 USD/MWh) and large. Demand 8, 8, 12, 15 requests/s: buy 8 at a in P0, 2 more at a
    # and 2 at b in P2 (when 12 > 10 first), 3 more at b in P3; a 10 % discount rate makes
    # every purchase as late as it can be.
    sites = (site("a", cap_w=10 * UNIT_W, usd_per_mwh=10.0),
             site("b", usd_per_mwh=100.0))
    ri = roadmap([8, 8, 12, 15], [pool("a", 4), pool("b", 4)], seconds=QUARTER, sites=sites,
                 discount=0.1)
    data = solve_roadmap(ri)
    assert bought(data, "a") == {"P0": 8.0, "P2": 2.0}
    assert bought(data, "b") == {"P2": 2.0, "P3": 3.0}
    power = {(r["period"], r["site"]): r for r in data["sites"]}
    assert power[("P2", "a")]["power_used_w"] == pytest.approx(10 * UNIT_W)
    binding = {(b["period"], b["where"]) for b in data["bottlenecks"] if b["kind"] == "power"}
    assert ("P2", "a") in binding and ("P3", "a") in binding


@pytest.mark.parametrize("lead", [0, 1, 2])
def test_a_lead_time_moves_each_purchase_earlier_by_exactly_that_many_periods(lead: int) -> None:
    # Demand 0, 0, 0, 8, 12 requests/s: with no lead time 8 units are ordered in P3 and 4 in P4
    # (discounting makes a purchase as late as it can be).
    ri = roadmap([0, 0, 0, 8, 12], [pool("a", 5, lead=lead)], discount=0.1)
    data = solve_roadmap(ri)
    assert bought(data) == {f"P{3 - lead}": 8.0, f"P{4 - lead}": 4.0}
    arrivals = {row["period"]: row["arrives"] for row in data["purchases"]}
    assert arrivals == {f"P{3 - lead}": "P3", f"P{4 - lead}": "P4"}


def _wait_or_buy(discount: float) -> dict[str, float]:
    """Two one-year periods, 10 requests/s in both; a unit lives 4 years, so one bought in
    P0 keeps 2/4 of its price at the horizon's end (2 years) and one bought in P1 keeps 3/4.
    The price falls 10 % a year (100 then 90); renting costs 46 USD per unit-year.
    Per unit: buy in P0: 100 - 0.5 x 100 x d_E; rent in P0 and buy in P1: 46 + d_1 x 90 -
    0.75 x 90 x d_E; rent in both: 46 (1 + d_1).
    At 0 % discount: 50, 68.5 and 92: buy now. At 50 % (d_1 = 2/3, d_E = 4/9): 77.78, 76 and
    76.67: wait, renting meanwhile."""
    n = 2
    remaining = (0.5, 0.75)
    ri = roadmap([10, 10], [pool("a", n, life=4, prices=(100.0, 90.0), remaining=remaining)],
                 sites=(site("a", rent=100),), discount=discount, rental_per_year=46.0)
    data = solve_roadmap(ri)
    rented = {r["period"]: r["units"] for r in data["rentals"]}
    npv = data["npv_usd"]
    return {**{f"buy {k}": v for k, v in bought(data).items()},
            **{f"rent {k}": round(v, 6) for k, v in rented.items()}, "npv": round(npv, 6)}


def test_a_falling_price_delays_the_purchase_when_discounting_makes_waiting_cheaper() -> None:
    d1, d_end = 1 / 1.5, 1 / 1.5**2
    assert _wait_or_buy(0.5) == {"rent P0": 10.0, "buy P1": 10.0,
                                 "npv": round(10 * (46 + d1 * 90 - 0.75 * 90 * d_end), 6)}


def test_without_discounting_the_same_price_path_buys_at_once() -> None:
    assert _wait_or_buy(0.0) == {"buy P0": 10.0, "npv": round(10 * (100 - 0.5 * 100), 6)}


def test_an_end_of_life_retirement_is_replaced_in_the_period_it_happens() -> None:
    # 10 units owned, in their life for P0 and P1 only; demand 10 throughout.
    ri = roadmap([10, 10, 10, 10], [pool("a", 4, initial=(10, 10, 0, 0))], discount=0.1)
    data = solve_roadmap(ri)
    assert bought(data) == {"P2": 10.0}
    retired = [(r["period"], r["units"], r["reason"]) for r in data["retirements"]]
    assert retired == [("P2", 10.0, "end_of_life")]
    held = {r["period"]: r["units_held"] for r in data["capacity"]}
    assert held == pytest.approx({"P0": 10.0, "P1": 10.0, "P2": 10.0, "P3": 10.0})


def test_power_built_with_a_lead_time_comes_online_when_needed() -> None:
    # Site a: 50 kW (5 units), more power at 1 USD/W with a one-period lead time; site b has
    # no room. Demand 5 then 8: 30 kW are ordered in P0 and online in P1.
    build = BuildoutInput("a", 1.0, 1, 1e6, (0.0, 0.0))
    sites = (site("a", cap_w=5 * UNIT_W),)
    ri = roadmap([5, 8], [pool("a", 2)], sites=sites, buildouts=(build,))
    data = solve_roadmap(ri)
    built = [(r["period"], round(r["mw"], 9), r["online"]) for r in data["power_buildout"]]
    assert built == [("P0", 0.03, "P1")]
    caps = {(r["period"], r["site"]): r["power_cap_w"] for r in data["sites"]}
    assert caps[("P1", "a")] == pytest.approx(8 * UNIT_W)
    assert data["cost_by_period_usd"][0]["power_buildout"] == pytest.approx(30_000.0)


def test_cost_parts_sum_to_each_period_and_the_npv_is_the_discounted_sum() -> None:
    ri = roadmap([8, 8, 12, 15], [pool("a", 4, remaining=(0.5, 0.6, 0.7, 0.8))],
                 seconds=QUARTER, sites=(site("a", usd_per_mwh=50.0),), discount=0.1)
    data = solve_roadmap(ri)
    total = 0.0
    for row in data["cost_by_period_usd"]:
        parts = sum(v for k, v in row.items()
                    if k not in ("period", "total", "discount_factor", "discounted_total"))
        assert parts == pytest.approx(row["total"])
        total += row["total"] * row["discount_factor"]
    assert data["npv_usd"] == pytest.approx(total)
    # energy: 8 units x 10 kW x a quarter at 50 USD/MWh, undiscounted in P0
    assert data["cost_by_period_usd"][0]["energy"] == pytest.approx(
        8 * 10 * QUARTER / 3600 * 50 / 1000)


def test_a_period_no_purchase_can_reach_names_that_period() -> None:
    # Orders take two periods to arrive: the demand of P1 cannot be met.
    ri = roadmap([0, 5, 5], [pool("a", 3, lead=2)])
    with pytest.raises(InfeasibleError, match="period P1"):
        solve_roadmap(ri)


def test_whole_units_with_integer() -> None:
    ri = roadmap([7.5, 7.5], [pool("a", 2)])
    data = solve_roadmap(ri, integer=True)
    assert bought(data) == {"P0": 8.0}


def test_old_units_are_retired_early_to_free_power_for_newer_ones() -> None:
    # One site of 100 kW holding 10 old units (10 kW, 1 request/s each, owned). A new unit draws
    # the same 10 kW but serves 4 requests/s. Demand 10 then 40 requests/s: P1 needs 10 new
    # units, i.e. all the site's power, so the old units are switched off for good (an early
    # retirement in P1) although their life runs on.
    old = SystemInput("old", 8, 100, UNIT_W, PRICE)
    new = SystemInput("new", 8, 100, UNIT_W, 4 * PRICE)
    a = SiteInput("a", "r1", 10 * UNIT_W, 1.0, 0.0, 0.0, {"old": 10, "new": 10_000}, {}, {})

    def period(rate: float) -> PlanningInputs:
        role = RoleInput("serve", rate * YEAR, "requests", {"old": 1.0, "new": 4.0})
        job = JobInput("svc", "serve", YEAR, (role,),
                       serve=ServeDemand({"*": rate}, latency_bound_s=0.1))
        return PlanningInputs((a,), (), (old, new), CpuServerInput(100, 1_000.0, 10_000.0),
                              EconomicsInput(5 * YEAR, 0.0), (job,))

    periods = tuple(PeriodInput(f"P{t}", "", "", YEAR, 1.1 ** -t, period(rate),
                                {"a": 10 * UNIT_W})
                    for t, rate in enumerate([10.0, 40.0, 40.0]))
    keep = PoolSupplyInput("a", "old", (10, 10, 10), (None,) * 3, (0.0,) * 3,
                           ((False,) * 3,) * 3, (0.0,) * 3)
    pools = (keep, dataclasses.replace(pool("a", 3), system="new"))
    data = solve_roadmap(RoadmapInputs(periods, pools, (), {}, 1.1 ** -3))
    assert bought(data) == {"P1": 10.0}
    early = [(r["period"], r["system"], r["units"]) for r in data["retirements"]
             if r["reason"] == "early"]
    assert early == [("P1", "old", 10.0)]
