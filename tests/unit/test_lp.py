"""The placement LP on small hand-built fleets whose optimum can be worked out on paper.

Common numbers (unless a test says otherwise): horizon T = 36.5 days = 876 h = 0.1 year; cost of
capital 0 and a 5-year life, so a unit is charged price x 0.1 / 5 = 2 % of its price; a 10 kW
unit at PUE 1 and 50 USD/MWh uses 10 kW x 876 h = 8.76 MWh = 438 USD of energy.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from types import SimpleNamespace

import pytest

from planner.errors import InfeasibleError, InputError, SolverError
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
    SystemInput,
    optimize,
)
from planner.lp.costs import amortised_usd, capital_recovery_factor
from planner.lp.solve import _classify
from planner.units import SECONDS_PER_DAY, SECONDS_PER_YEAR

T = 36.5 * SECONDS_PER_DAY  # 0.1 year
USD_PER_MWH = 1.0 / 3.6e9  # USD per joule for a price of 1 USD/MWh
FLOPS = 1e15  # work units (FLOP) per second per unit, for training roles


# ---------------------------------------------------------------------------------- factories
def system(id: str = "node", *, cores: int = 112, power_w: float = 10_000.0,
           price: float = 250_000.0, rental_usd_per_h: float | None = None) -> SystemInput:
    rental = None if rental_usd_per_h is None else rental_usd_per_h / 3600.0
    return SystemInput(id, 8, cores, power_w, price, rental)


def site(id: str = "a", *, region: str = "r1", cap_w: float = 10e6, pue: float = 1.0,
         usd_per_mwh: float = 50.0, inventory: dict[str, int] | None = None,
         buy: dict[str, int] | None = None, rent: dict[str, int] | None = None,
         cpu_servers: int = 0, cpu_buy: int = 0) -> SiteInput:
    return SiteInput(id, region, cap_w, pue, usd_per_mwh * USD_PER_MWH, 0.0, inventory or {},
                     {"node": 1000} if buy is None else buy, rent or {}, cpu_servers, cpu_buy)


def train_job(units: float, *, id: str = "train", single_site: bool = False,
              systems: tuple[str, ...] = ("node",)) -> JobInput:
    """A pretraining job needing ``units`` units of FLOPS throughput for the whole horizon."""
    role = RoleInput("train", units * FLOPS * T, "FLOP", dict.fromkeys(systems, FLOPS),
                     bound=dict.fromkeys(systems, "compute"))
    return JobInput(id, "pretrain", T, (role,), single_site=single_site)


def plan(sites: tuple[SiteInput, ...], jobs: tuple[JobInput, ...], *,
         systems: tuple[SystemInput, ...] | None = None, links: tuple[LinkInput, ...] = (),
         budget: float | None = None, charge_inventory_capex: bool = False,
         cpu_server: CpuServerInput | None = None) -> PlanningInputs:
    return PlanningInputs(sites, links, systems or (system(),),
                          cpu_server or CpuServerInput(100, 1_000.0, 10_000.0),
                          EconomicsInput(5 * SECONDS_PER_YEAR, 0.0), jobs, budget,
                          charge_inventory_capex)


def rl_job(gen_samples: float, *, verified: float = 0.5, keep: float = 0.25,
           core_s: float = 1.0, weight_bytes: float = 0.0, updates: float = 0.0,
           gen_rate: float = 1.0, systems: tuple[str, ...] = ("node",)) -> JobInput:
    """An RL job: generate (gen_rate samples/s/unit), verify on CPUs, update (10x faster)."""
    roles = (RoleInput("generate", gen_samples, "samples", dict.fromkeys(systems, gen_rate)),
             RoleInput("verify", verified * gen_samples, "samples", {}, core_s),
             RoleInput("update", gen_samples, "samples", dict.fromkeys(systems, 10 * gen_rate)))
    coupling = RlCoupling("generate", None, "verify", "update", 1e5, verified, keep,
                          weight_bytes, updates)
    return JobInput("rl", "posttrain", T, roles, rl=coupling)


def units_by_site(solution_dict: dict, job: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for p in solution_dict["placements"]:
        if p["job"] == job and p["system"] != "cpu":
            out[p["site"]] = out.get(p["site"], 0.0) + p["units"]
    return out


# ---------------------------------------------------------------------------------- economics
def test_capital_recovery_factor_matches_the_annuity_formula() -> None:
    # i = 10 %, n = 5 years: 0.1 x 1.1^5 / (1.1^5 - 1) = 0.1 x 1.61051 / 0.61051 = 0.2637975
    assert capital_recovery_factor(0.1, 5 * SECONDS_PER_YEAR) == pytest.approx(0.2637975, 1e-6)
    # i = 0: straight-line, 1 / 5 per year
    assert capital_recovery_factor(0.0, 5 * SECONDS_PER_YEAR) == pytest.approx(0.2)
    # 250k USD over 0.1 year at i = 0 and 5 years: 250k x 0.2 x 0.1 = 5,000 USD
    assert amortised_usd(250_000.0, EconomicsInput(5 * SECONDS_PER_YEAR, 0.0), T) == \
        pytest.approx(5_000.0)


# ---------------------------------------------------------------------------------- cost
def test_cheapest_plan_buys_what_the_work_needs() -> None:
    # 10 units of work; each bought unit costs 5,000 (capex) + 438 (energy) = 5,438 USD
    sol = optimize(plan((site(),), (train_job(10),))).to_dict()
    assert sol["status"] == "optimal"
    assert sol["total_cost_usd"] == pytest.approx(54_380.0, rel=1e-6)
    assert sol["cost_breakdown_usd"]["purchase"] == pytest.approx(50_000.0, rel=1e-6)
    assert sol["cost_breakdown_usd"]["energy"] == pytest.approx(4_380.0, rel=1e-6)
    assert [(p["site"], p["system"], p["units"]) for p in sol["purchases"]] == \
        [("a", "node", pytest.approx(10.0))]
    assert sol["roles"] == [{"job": "train", "role": "train", "bound": "compute"}]


def test_owned_inventory_costs_only_energy_unless_capex_is_charged() -> None:
    # 4 owned units cost energy only: 4 x 438 + 6 bought x 5,438 = 1,752 + 32,628 = 34,380
    inputs = plan((site(inventory={"node": 4}),), (train_job(10),))
    assert optimize(inputs).total_cost_usd == pytest.approx(34_380.0, rel=1e-6)
    # charged: owned and bought units cost the same, 10 x 5,438 = 54,380, of which
    # 10 x 5,000 = 50,000 is capital (bought or owned: the LP is indifferent)
    charged = plan((site(inventory={"node": 4}),), (train_job(10),),
                   charge_inventory_capex=True)
    sol = optimize(charged)
    assert sol.total_cost_usd == pytest.approx(54_380.0, rel=1e-6)
    capex = sol.cost_breakdown_usd["inventory_capex"] + sol.cost_breakdown_usd["purchase"]
    assert capex == pytest.approx(50_000.0, rel=1e-6)


def test_rental_is_used_up_to_its_limit_when_cheaper() -> None:
    # rent at 5 USD/h: 5 x 876 h = 4,380 USD per unit < 5,438 to buy; 6 may be rented:
    # 6 x 4,380 + 4 x 5,438 = 26,280 + 21,752 = 48,032 USD
    inputs = plan((site(rent={"node": 6}),), (train_job(10),),
                  systems=(system(rental_usd_per_h=5.0),))
    sol = optimize(inputs).to_dict()
    assert sol["total_cost_usd"] == pytest.approx(48_032.0, rel=1e-6)
    assert sol["rentals"] == [{"site": "a", "system": "node", "units": pytest.approx(6.0),
                               "cost_usd": pytest.approx(26_280.0)}]


def test_integer_mode_rounds_units_up() -> None:
    # 9.5 units of work need 10 whole units: 10 x 5,438 = 54,380 USD (LP mode: 9.5 x 5,438)
    inputs = plan((site(),), (train_job(9.5),))
    assert optimize(inputs).total_cost_usd == pytest.approx(51_661.0, rel=1e-6)
    sol = optimize(inputs, integer=True)
    assert sol.total_cost_usd == pytest.approx(54_380.0, rel=1e-6)
    assert [p.units for p in sol.purchases] == [10.0]


def test_cbc_finds_the_same_optimum_as_highs() -> None:
    inputs = plan((site(inventory={"node": 4}),), (train_job(9.5),))
    highs = optimize(inputs, integer=True)
    cbc = optimize(inputs, integer=True, solver="cbc")
    assert cbc.total_cost_usd == pytest.approx(highs.total_cost_usd, rel=1e-6)
    assert cbc.solver.name == "PULP_CBC_CMD"


# ---------------------------------------------------------------------------------- duals
def test_binding_power_cap_is_priced_per_mw_day() -> None:
    # Site a: 40 USD/MWh but only 50 kW (5 units); site b: 100 USD/MWh. One more MW at a moves
    # load from b to a and saves (100 - 40) USD/MWh x 24 h = 1,440 USD per MW-day.
    sites = (site("a", cap_w=50e3, usd_per_mwh=40.0), site("b", usd_per_mwh=100.0))
    sol = optimize(plan(sites, (train_job(10),)))
    power = [b for b in sol.bottlenecks if b.kind == "power"]
    assert [(b.constraint, b.where, b.shadow_price_unit) for b in power] == \
        [("site_power[a]", "a", "USD/MW-day")]
    assert power[0].shadow_price == pytest.approx(1_440.0, rel=1e-6)
    assert sol.sites[0].power_used_w == pytest.approx(50e3)


def test_binding_link_and_cpu_cores_are_priced() -> None:
    # Verifying at "gpu" needs bought CPU servers: (10,000 x 2 % + 43.8 energy) / 100 cores =
    # 2.438 USD per core over T; at "cpu" owned servers cost energy only, 0.438. Each extra B/s
    # on gpu -> cpu moves 1 / 1e5 samples/s, i.e. 1e-5 cores (1 core-s each), saving
    # 2.0 x 1e-5 = 2e-5 USD over T: x 1.25e8 B/s per Gbps / 36.5 days = 68.49 USD/Gbps-day.
    # A core at "gpu": 2.438 USD / 876 h = 0.0027831 USD/core-hour.
    gpu = site("gpu", buy={"node": 100}, cpu_buy=10)
    cpu = site("cpu", region="r2", buy={}, cpu_servers=10)
    link = LinkInput("gpu", "cpu", 1e5, 0.01)
    inputs = plan((gpu, cpu), (rl_job(10 * T),), systems=(system(cores=0),), links=(link,))
    found = {b.constraint: b for b in optimize(inputs).bottlenecks}
    assert found["link_bw[gpu,cpu]"].shadow_price == pytest.approx(2e-5 * 1.25e8 / 36.5)
    assert found["link_bw[gpu,cpu]"].shadow_price_unit == "USD/Gbps-day"
    assert found["site_cpu[gpu]"].shadow_price == pytest.approx(2.438 / 876)
    assert found["site_cpu[gpu]"].shadow_price_unit == "USD/core-hour"


def test_bottlenecks_are_sorted_by_economic_weight() -> None:
    # a (40 USD/MWh) and c (70 USD/MWh) hold 3 units each, b (100 USD/MWh) the rest:
    # (100 - 40) x 24 = 1,440 and (100 - 70) x 24 = 720 USD per MW-day; 10 % more of their
    # 30 kW over 36.5 days is worth 1,440 x 0.03 x 36.5 x 0.1 = 157.68 and 78.84 USD. The work
    # itself weighs most: 10 % more needs one more unit at b, 5,000 + 876 = 5,876 USD.
    sites = (site("a", cap_w=30e3, usd_per_mwh=40.0), site("b", usd_per_mwh=100.0),
             site("c", cap_w=30e3, usd_per_mwh=70.0))
    found = optimize(plan(sites, (train_job(10),))).bottlenecks
    assert [(b.where, b.kind) for b in found] == [("train/train", "demand"), ("a", "power"),
                                                  ("c", "power")]
    assert [b.shadow_price for b in found[1:]] == [pytest.approx(1_440.0),
                                                   pytest.approx(720.0)]
    assert [b.value_of_10_percent for b in found] == [
        pytest.approx(5_876.0), pytest.approx(157.68), pytest.approx(78.84)]


# ---------------------------------------------------------------------------------- time
def test_time_objective_scales_every_job_to_the_power_cap() -> None:
    # 1 MW at PUE 1.25 feeds 1e6 / (10 kW x 1.25) = 80 units; the job needs 40: lambda = 2
    sol = optimize(plan((site(cap_w=1e6, pue=1.25),), (train_job(40),)), objective="time")
    d = sol.to_dict()
    assert d["objective"]["throughput_multiplier"] == pytest.approx(2.0, rel=1e-6)
    assert d["objective"]["finish_s"] == {"train": pytest.approx(T / 2)}


def test_time_objective_picks_the_cheapest_of_the_fastest_plans() -> None:
    # Two systems equally fast and power-hungry; the fastest plan fills the 80 units the power
    # allows (lambda = 2) and, among those, buys the cheaper system: 80 x (2,000 + 547.5)
    systems = (system("cheap", price=100_000.0), system("dear", price=400_000.0))
    sites = (site(cap_w=1e6, pue=1.25, buy={"cheap": 100, "dear": 100}),)
    for integer in (False, True):
        sol = optimize(plan(sites, (train_job(40, systems=("cheap", "dear")),), systems=systems),
                       objective="time", integer=integer)
        assert sol.objective_value == pytest.approx(2.0, rel=1e-6)
        assert [(p.system, p.units) for p in sol.purchases] == [("cheap", pytest.approx(80.0))]
        assert sol.total_cost_usd == pytest.approx(80 * 2_547.5, rel=1e-6)
    serve_only = JobInput("chat", "serve", T, (RoleInput("d", T, "requests", {"node": 1.0}),),
                          serve=ServeDemand({"r1": 1.0}, 0.05))
    with pytest.raises(InputError):
        optimize(plan(sites, (serve_only,)), objective="time")


def test_time_objective_within_budget() -> None:
    # unit cost at PUE 1.25: 5,000 + 438 x 1.25 = 5,547.5; a budget of 60 units = 332,850 USD
    # buys 60 units, lambda = 60 / 40 = 1.5, and one more USD buys 1 / (5,547.5 x 40) of lambda:
    # 1e6 / 221,900 = 4.5065 per MUSD
    inputs = plan((site(cap_w=1e6, pue=1.25),), (train_job(40),), budget=332_850.0)
    sol = optimize(inputs, objective="time")
    assert sol.objective_value == pytest.approx(1.5, rel=1e-6)
    budget = [b for b in sol.bottlenecks if b.kind == "budget"]
    assert budget[0].shadow_price == pytest.approx(1e6 / 221_900.0, rel=1e-6)
    assert budget[0].shadow_price_unit == "x/MUSD"


# ---------------------------------------------------------------------------------- RL
def test_samples_are_shipped_from_a_site_without_cpus_to_a_cpu_rich_one() -> None:
    # 10 units x 1 sample/s x T = 31,536,000 samples at "gpu" (no host cores); half are
    # verified at "cpu": 15,768,000 x 1e5 B = 1.5768e12 B out; a quarter of those are kept and
    # come back: 3.942e11 B. Egress at 0.01 USD/GB: (1.5768e12 + 3.942e11) x 1e-11 = 19.71 USD
    gpu = site("gpu", buy={"node": 100})
    cpu = site("cpu", region="r2", buy={}, cpu_servers=10)
    link = LinkInput("gpu", "cpu", 12.5e9, 0.01, 1e-11)
    inputs = plan((gpu, cpu), (rl_job(10 * T),), systems=(system(cores=0),), links=(link,))
    sol = optimize(inputs).to_dict()
    flows = {(f["from"], f["to"], f["kind"]): f["bytes"] for f in sol["flows"]}
    assert flows == {("gpu", "cpu", "samples"): pytest.approx(1.5768e12, rel=1e-6),
                     ("cpu", "gpu", "kept"): pytest.approx(3.942e11, rel=1e-6)}
    assert sol["cost_breakdown_usd"]["egress"] == pytest.approx(19.71, rel=1e-6)
    verify = [p for p in sol["placements"] if p["role"] == "verify"]
    # 15,768,000 core-seconds over T = 3,153,600 s: 5 cores busy on average
    assert [(p["site"], p["system"], p["units"]) for p in verify] == \
        [("cpu", "cpu", pytest.approx(5.0))]


def test_more_verifier_seconds_buy_cpu_servers() -> None:
    # 10 generating units bring 10 x 16 = 160 host cores; 15,768,000 verifications x c core-s
    # over T need 5c cores: c = 1 fits on the hosts, c = 100 needs 500 cores -> servers.
    def bought(core_s: float) -> float:
        inputs = plan((site(cpu_buy=100),), (rl_job(10 * T, core_s=core_s),),
                      systems=(system(cores=16),))
        sol = optimize(inputs, integer=True)
        return sum(p.units for p in sol.purchases if p.system == "cpu-server")

    assert bought(1.0) == 0
    # 500 cores needed, 11 units x 16 = 176 host cores (10 generate + 1 update): 324 more
    # cores = 4 servers of 100 cores
    assert bought(100.0) == 4


def test_weights_reach_every_generating_site() -> None:
    # Each site feeds 10 units; generation needs 15 and the update 1.5 units, so both sites
    # generate and the one that does not update receives the weights: 1e9 B x 10 updates.
    sites = (site("a", cap_w=100e3), site("b", region="r2", cap_w=100e3))
    link = LinkInput("a", "b", 12.5e9, 0.01, 0.0)
    job = rl_job(15 * T, core_s=1e-3, weight_bytes=1e9, updates=10)
    for integer in (False, True):
        sol = optimize(plan(sites, (job,), links=(link,)), integer=integer).to_dict()
        weights = [(f["from"], f["to"], f["bytes"]) for f in sol["flows"]
                   if f["kind"] == "weights"]
        assert len(weights) == 1 and weights[0][2] == pytest.approx(1e10, rel=1e-6)
        update_site = next(p["site"] for p in sol["placements"] if p["role"] == "update")
        assert weights[0][0] == update_site


# ---------------------------------------------------------------------------------- serving
def test_serving_stays_within_the_latency_bound() -> None:
    # θ = 1 request/s per unit; r1 needs 10 req/s and r2 20 req/s. Sites 30 ms apart.
    decode = RoleInput("decode", 30.0 * T, "requests", {"node": 1.0})
    sites = (site("a", usd_per_mwh=10.0), site("b", region="r2", usd_per_mwh=100.0))
    link = LinkInput("a", "b", 1e9, 0.030)

    def serve(bound_s: float) -> dict[str, float]:
        job = JobInput("chat", "serve", T, (decode,), serve=ServeDemand({"r1": 10.0, "r2": 20.0},
                                                                        bound_s))
        return units_by_site(optimize(plan(sites, (job,), links=(link,))).to_dict(), "chat")

    # 10 ms: each region from its own site; 50 ms: everything from the cheaper site a
    assert serve(0.010) == {"a": pytest.approx(10.0), "b": pytest.approx(20.0)}
    assert serve(0.050) == {"a": pytest.approx(30.0)}
    # demand without a home region ("*") may be served anywhere, so from the cheaper site
    anywhere = JobInput("chat", "serve", T, (decode,), serve=ServeDemand({"*": 30.0}, 0.001))
    assert units_by_site(optimize(plan(sites, (anywhere,))).to_dict(), "chat") == \
        {"a": pytest.approx(30.0)}


# ---------------------------------------------------------------------------------- single site
def test_single_site_job_lands_on_one_site_in_both_modes() -> None:
    # 4 owned units at each site make a split cheapest; the job must still use one site.
    sites = (site("a", inventory={"node": 4}), site("b", region="r2", inventory={"node": 4}))
    inputs = plan(sites, (train_job(8, single_site=True),))
    for integer in (False, True):
        sol = optimize(inputs, integer=integer)
        assert len(units_by_site(sol.to_dict(), "train")) == 1
        # one site: 4 owned x 438 + 4 bought x 5,438 = 1,752 + 21,752 = 23,504 USD
        assert sol.total_cost_usd == pytest.approx(23_504.0, rel=1e-6)


# ---------------------------------------------------------------------------------- infeasible
def test_short_power_names_the_site_and_the_megawatts() -> None:
    # 400 units x 10 kW x 1.25 = 5 MW needed, 1 MW available: 4 MW short at site x
    with pytest.raises(InfeasibleError) as err:
        optimize(plan((site("x", cap_w=1e6, pue=1.25),), (train_job(400),)))
    assert err.value.exit_code == 3
    assert err.value.diagnosis == ["needs 4 MW more power at site x (cap 1 MW)"]


@pytest.mark.parametrize("integer", [False, True], ids=["lp", "integer"])
def test_single_site_job_too_big_for_any_site(integer: bool) -> None:
    # 150 units x 10 kW = 1.5 MW on one site; each site has 1 MW: 500 kW short at one of them
    sites = (site("a", cap_w=1e6), site("b", region="r2", cap_w=1e6))
    with pytest.raises(InfeasibleError) as err:
        optimize(plan(sites, (train_job(150, single_site=True),)), integer=integer)
    assert err.value.diagnosis in (["needs 500 kW more power at site a (cap 1 MW)"],
                                   ["needs 500 kW more power at site b (cap 1 MW)"])


def test_short_purchase_limit_names_the_units() -> None:
    # 5 units needed, 2 may be bought: 3 more
    with pytest.raises(InfeasibleError) as err:
        optimize(plan((site("z", buy={"node": 2}),), (train_job(5),)))
    assert err.value.diagnosis == ["needs 3 more node units at site z (purchase limit 2)"]


def test_short_cpu_cores_are_counted() -> None:
    # 15,768,000 verifications x 10 core-s over T = 50 cores; no host cores, no CPU servers
    job = rl_job(10 * T, core_s=10.0)
    with pytest.raises(InfeasibleError) as err:
        optimize(plan((site("y"),), (job,), systems=(system(cores=0),)))
    assert err.value.diagnosis == ["needs 50 more CPU cores at site y"]


def test_unreachable_region_and_unfit_model_are_named() -> None:
    decode = RoleInput("decode", 10.0 * T, "requests", {"node": 1.0})
    serve = JobInput("chat", "serve", T, (decode,), serve=ServeDemand({"asia": 10.0}, 0.05))
    with pytest.raises(InfeasibleError) as err:
        optimize(plan((site(),), (serve,)))
    assert err.value.diagnosis == ["job chat: no site within 50 ms of region asia"]
    huge = JobInput("big", "pretrain", T, (RoleInput("train", 1e20, "FLOP", {}),))
    with pytest.raises(InfeasibleError) as err:
        optimize(plan((site(),), (huge,)))
    assert "job big role train cannot run on any system" in err.value.diagnosis[0]


def test_short_link_is_named_with_its_bandwidth() -> None:
    # Generation runs only at "gen" (system g), the update only at "train" (system u). A quarter
    # of 10 T samples is kept: 2.5 T x 1e5 B over T = 2.5e5 B/s = 2 Mbps must cross a link of
    # 1e5 B/s = 0.8 Mbps. Short: 2 - 0.8 = 1.2 Mbps = 0.0012 Gbps.
    roles = (RoleInput("generate", 10 * T, "samples", {"g": 1.0}),
             RoleInput("verify", 5 * T, "samples", {}, 1e-3),
             RoleInput("update", 10 * T, "samples", {"u": 10.0}))
    rl = JobInput("rl", "posttrain", T, roles, rl=RlCoupling(
        "generate", None, "verify", "update", 1e5, 0.5, 0.25, 0.0, 0.0))
    sites = (site("gen", buy={"g": 100}), site("train", region="r2", buy={"u": 100}))
    inputs = plan(sites, (rl,), systems=(system("g"), system("u")),
                  links=(LinkInput("gen", "train", 1e5, 0.01),))
    with pytest.raises(InfeasibleError) as err:
        optimize(inputs)
    assert err.value.diagnosis == [
        "needs 0.0012 Gbps more on link gen -> train (has 0.0008 Gbps)",
        "job rl: the network is the limit: kept need 0.002 Gbps from gen to train; the "
        "max-flow between them is 0.0008 Gbps"]


# ---------------------------------------------------------------------------------- contract
def test_to_dict_keys_and_sums(tmp_path: object) -> None:
    sites = (site("a", cap_w=50e3, usd_per_mwh=40.0), site("b", region="r2"))
    inputs = plan(sites, (train_job(10), rl_job(5 * T, weight_bytes=1e9, updates=2)),
                  links=(LinkInput("a", "b", 1e9, 0.01, 1e-11),))
    d = optimize(inputs).to_dict()
    assert list(d) == ["schema_version", "status", "objective", "cost_basis", "total_cost_usd",
                       "marginal_cost_usd", "full_economic_cost_usd", "cost_breakdown_usd",
                       "jobs", "placements", "purchases", "rentals", "inventory",
                       "flows", "sites", "links", "bottlenecks", "reduced_costs", "roles",
                       "assumptions", "solver"]
    assert d["schema_version"] == 1
    (link,) = d["links"]  # the one link, with the bytes the flows put on it (both ways)
    assert (link["a"], link["b"], link["bandwidth_bytes_per_s"]) == ("a", "b", 1e9)
    assert link["bytes"] == pytest.approx(sum(f["bytes"] for f in d["flows"]))
    assert sum(d["cost_breakdown_usd"].values()) == pytest.approx(d["total_cost_usd"])
    assert set(d["placements"][0]) == {"site", "system", "job", "role", "units", "busy_units",
                                       "site_units_share", "utilization"}
    assert set(d["sites"][0]) == {"site", "power_used_w", "power_cap_w", "cpu_cores_used",
                                  "cpu_cores_available", "cpu_cores_on_site", "lat", "lon"}
    assert set(d["solver"]) == {"name", "status", "seconds", "variables", "constraints",
                                "mip_gap", "method"}
    assert d["solver"]["mip_gap"] is None and d["solver"]["method"] == "simplex"  # an LP
    keys = [(p["site"], p["system"], p["job"], p["role"]) for p in d["placements"]]
    assert keys == sorted(keys)
    json.dumps(d, allow_nan=False)


def test_dump_lp_writes_the_named_model(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "model.lp"
    optimize(plan((site(),), (train_job(10),)), dump_lp=path)
    text = path.read_text()
    assert "site_power_a:" in text and "work_train,train:" in text


def test_bad_inputs_raise_input_error_with_every_problem() -> None:
    bad_site = site(inventory={"nod": 2})
    job = JobInput("j", "pretrain", T, (RoleInput("train", 1.0, "FLOP", {"gpu": 1.0}),))
    with pytest.raises(InputError) as err:
        optimize(plan((bad_site,), (job,)))
    paths = [p.path for p in err.value.problems]
    assert paths == ["sites.a.inventory.nod", "jobs.j.roles.train.throughput.gpu"]
    with pytest.raises(InputError):
        optimize(plan((site(),), (train_job(1),)), objective="speed")  # type: ignore[arg-type]


def test_rl_coupling_must_be_consistent() -> None:
    job = rl_job(100.0)
    broken = JobInput(job.id, job.kind, job.horizon_s,
                      tuple(RoleInput(r.name, 1.0, r.work_unit, r.throughput,
                                      r.cpu_core_seconds_per_work) if r.name == "verify" else r
                            for r in job.roles), rl=job.rl)
    with pytest.raises(InputError) as err:
        optimize(plan((site(),), (broken,)))
    assert err.value.problems[0].path == "jobs.rl.roles.verify.work"


def test_solver_statuses_map_to_results_or_errors() -> None:
    def status(code: int, sol: int, integer: bool = False) -> str:
        fake = SimpleNamespace(prob=SimpleNamespace(status=code, sol_status=sol),
                               integer=integer)
        return _classify(fake, "HiGHS")  # type: ignore[arg-type]

    assert status(1, 1) == "optimal"
    assert status(1, 2, integer=True) == "time_limit"
    assert status(-1, -1) == "infeasible"
    for code, sol in ((1, 2), (-2, -2), (0, 0)):
        with pytest.raises(SolverError):
            status(code, sol)


def test_solving_prints_nothing() -> None:
    # HiGHS writes a banner to standard output on its first use in a process unless silenced
    code = ("from planner.lp import *\n"
            "s = SiteInput('a', 'r', 1e6, 1.0, 1e-8, 0.0, {}, {'n': 9})\n"
            "h = SystemInput('n', 8, 64, 1e4, 1e5)\n"
            "j = JobInput('j', 'pretrain', 1e6, (RoleInput('t', 1e6, 'u', {'n': 1.0}),))\n"
            "optimize(PlanningInputs((s,), (), (h,), CpuServerInput(64, 500.0, 1e4),\n"
            "         EconomicsInput(1e8, 0.0), (j,)))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert (out.stdout, out.stderr) == ("", "")


def test_importing_the_optimizer_loads_neither_pulp_nor_networkx() -> None:
    code = ("import sys, planner.lp, planner.topology; "
            "print('pulp' in sys.modules, 'networkx' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["False", "False"]


# ------------------------------------------------------------------- cost basis and site prices
def test_a_site_quote_overrides_the_catalog_purchase_price() -> None:
    # 10 units bought at a site quoting 200k USD instead of the catalog's 250k: capital is
    # 10 x 200k x 2 % = 40k USD, energy 10 x 438 = 4,380 USD.
    quoted = dataclasses.replace(site(buy={"node": 100}), purchase_usd={"node": 200_000.0})
    d = optimize(plan((quoted,), (train_job(10),))).to_dict()
    assert d["cost_breakdown_usd"]["purchase"] == pytest.approx(40_000.0)
    assert d["purchases"][0]["capex_usd"] == pytest.approx(2_000_000.0)
    assert d["total_cost_usd"] == pytest.approx(44_380.0)


def test_a_site_rental_quote_makes_a_system_rentable_there() -> None:
    # No catalog rental price and nothing to buy; the site quotes 10 USD/h, so 10 units are
    # rented at 10 units x 876 h x 10 USD/h = 87,600 USD.
    base = site(buy={}, rent={"node": 100})
    quoted = dataclasses.replace(base, rental_usd_per_s={"node": 10.0 / 3600.0})
    d = optimize(plan((quoted,), (train_job(10),))).to_dict()
    assert d["cost_breakdown_usd"]["rental"] == pytest.approx(87_600.0)
    with pytest.raises(InfeasibleError):
        optimize(plan((base,), (train_job(10),)))  # no price anywhere: nothing to rent


def test_buy_basis_charges_the_whole_price_and_full_economic_cost_adds_owned_capital() -> None:
    # Buy basis: 10 units x 250k = 2.5M USD capital + 4,380 USD energy.
    inputs = plan((site(buy={"node": 100}),), (train_job(10),))
    bought = optimize(dataclasses.replace(inputs, cost_basis="buy")).to_dict()
    assert bought["cost_basis"] == "buy"
    assert bought["total_cost_usd"] == pytest.approx(2_504_380.0)
    # Owned units: the objective (marginal) is energy only, 4,380 USD; the full economic cost
    # adds their amortised capital, 10 x 5,000 = 50,000 USD.
    owned = optimize(plan((site(inventory={"node": 10}, buy={}),), (train_job(10),))).to_dict()
    assert owned["marginal_cost_usd"] == pytest.approx(4_380.0)
    assert owned["full_economic_cost_usd"] == pytest.approx(54_380.0)


# ------------------------------------------------------------------ buildable placements
def test_a_homogeneous_role_runs_on_one_system_type() -> None:
    # p costs 100k (2,000 USD over T) but only 5 may be bought; q costs 250k (5,000 USD).
    # Mixed: 5 p + 5 q = 10,000 + 25,000 + 10 x 438 energy = 39,380 USD. One type: 10 q =
    # 50,000 + 4,380 = 54,380 USD.
    systems = (system("p", price=100_000.0), system("q"))
    sites = (site(buy={"p": 5, "q": 100}),)
    job = train_job(10, systems=("p", "q"))
    mixed = optimize(plan(sites, (job,), systems=systems))
    assert mixed.total_cost_usd == pytest.approx(39_380.0)
    for integer in (False, True):
        one = optimize(plan(sites, (dataclasses.replace(job, homogeneous=("train",)),),
                            systems=systems), integer=integer)
        assert {p.system for p in one.placements} == {"q"}
        assert one.total_cost_usd == pytest.approx(54_380.0)
    only_p = dataclasses.replace(job, systems=("p",))
    with pytest.raises(InfeasibleError):  # 5 units of p cannot do the work of 10
        optimize(plan(sites, (only_p,), systems=systems))


def test_max_sites_limits_the_sites_a_job_holds_units_at() -> None:
    sites = (site("a", buy={"node": 6}), site("b", region="r2", buy={"node": 6}))
    job = train_job(10)
    assert optimize(plan(sites, (dataclasses.replace(job, max_sites=2),))).total_cost_usd == \
        pytest.approx(54_380.0)
    with pytest.raises(InfeasibleError):
        optimize(plan(sites, (dataclasses.replace(job, max_sites=1),)))


def test_a_synchronous_job_spanning_sites_puts_its_gradients_on_the_link() -> None:
    # 10 units needed, 6 per site: the job spans a and b. 1 TB of gradients goes from the
    # site off the hub to the hub and 1 TB of weights back: 2 TB x 0.01 USD/GB = 20 USD.
    sites = (site("a", buy={"node": 6}), site("b", region="r2", buy={"node": 6}))
    job = dataclasses.replace(train_job(10), sync_bytes=1e12)
    fast = (LinkInput("a", "b", 1e9, 0.01, 1e-11),)
    for integer in (False, True):
        sol = optimize(plan(sites, (job,), links=fast), integer=integer)
        kinds = {f.kind: f.bytes for f in sol.flows}
        assert kinds == {"gradients": pytest.approx(1e12), "weights": pytest.approx(1e12)}
        assert sol.cost_breakdown_usd["egress"] == pytest.approx(20.0)
        assert sol.total_cost_usd == pytest.approx(54_400.0)
    # 1 TB over T = 3.15e6 s needs 317 kB/s each way; a 100 kB/s link cannot carry it
    slow = (LinkInput("a", "b", 1e5, 0.01, 1e-11),)
    with pytest.raises(InfeasibleError):
        optimize(plan(sites, (job,), links=slow))


def test_cost_to_completion_holds_units_for_the_finish_time() -> None:
    # 100 units may be bought; the job needs 10 for the horizon, so it runs 10x faster and
    # finishes at T / 10. Own basis: 100 x (5,000 + 438) USD over T, held T / 10: 54,380 USD.
    # Buy basis: the 100 purchases are paid whole (25M USD) plus energy for T / 10 (4,380 USD).
    inputs = plan((site(buy={"node": 100}),), (train_job(10),))
    owned = optimize(inputs, objective="time")
    (job,) = owned.jobs
    assert job.progress == pytest.approx(10.0) and job.finish_s == pytest.approx(T / 10)
    assert job.cost_to_completion_usd == pytest.approx(54_380.0)
    bought = optimize(dataclasses.replace(inputs, cost_basis="buy"), objective="time")
    assert bought.jobs[0].cost_to_completion_usd == pytest.approx(25_004_380.0)
    # the cost objective finishes on the deadline at the plan's cost
    cheapest = optimize(inputs)
    assert cheapest.jobs[0].finish_s == pytest.approx(T)
    assert cheapest.jobs[0].cost_to_completion_usd == pytest.approx(cheapest.total_cost_usd)
