"""CLI tests for plans an infrastructure team can act on: one cost basis, a time objective that
means time, buildable placements and findings that are true (each with the command that used
to mislead)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_run import run, run_json

from planner.catalog.load import load_catalog
from planner.units import SECONDS_PER_YEAR

ROOT = Path(__file__).resolve().parents[2]
SERVE = "workloads/serve_reasoning.yaml"
MAIN = "workloads/o1_posttrain.yaml"


@pytest.fixture(autouse=True)
def _at_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)



def owned_usd_per_s(system_id: str) -> float:
    """Hand-computed own basis: price x CRF(10 %, 5 y) / year + energy at PUE 1.3 and
    80 USD/MWh + colocation at 165 USD/kW-month (730.5 h)."""
    system = load_catalog().systems[system_id]
    crf = 0.1 * 1.1**5 / (1.1**5 - 1)  # 0.26380
    energy = system.power * 1.3 * 80.0 / 3.6e9
    colocation = system.power / 1e3 * 165.0 / (730.5 * 3600.0)
    return system.purchase.price * crf / SECONDS_PER_YEAR + energy + colocation


# ------------------------------------------------------------------------ 1. one cost basis
def test_compare_prices_both_columns_on_the_same_basis() -> None:
    # Before: dgx-h100 at its rental rate (10.7 USD/Mtok), gb200-nvl72 amortised (0.563).
    data = run_json("compare", SERVE, "--hardware", "dgx-h100", "--hardware", "gb200-nvl72",
                    "--cost-basis", "own")
    assert data["cost_basis"] == "own"
    for option in data["options"]:
        assert option["status"] == "ok"
        assert option["details"]["cost_basis"] == "own"
        assert option["details"]["unit_usd_per_s"] == pytest.approx(
            owned_usd_per_s(option["target"]), rel=1e-9)
    h100, gb200 = data["options"]
    # the cost per token is the unit price over the unit's token rate on both columns
    ratio = (h100["details"]["unit_usd_per_s"] / h100["details"]["tokens_per_s_per_unit"]) / \
        (gb200["details"]["unit_usd_per_s"] / gb200["details"]["tokens_per_s_per_unit"])
    assert h100["usd_per_million_tokens"] / gb200["usd_per_million_tokens"] == \
        pytest.approx(ratio, rel=1e-9)


def test_default_basis_is_own_everywhere_and_named_in_headers() -> None:
    estimate = run_json("estimate", SERVE, "--hardware", "dgx-h100")
    assert estimate["cost_basis"] == "own"
    plan = run_json("optimize", MAIN)
    assert plan["cost_basis"] == "own"
    compare = run_json("compare", SERVE, "--hardware", "dgx-h100")
    assert compare["cost_basis"] == "own"
    for args in (("estimate", SERVE, "--hardware", "dgx-h100"), ("optimize", MAIN),
                 ("compare", SERVE, "--hardware", "dgx-h100")):
        code, out, _ = run(*args)
        assert code == 0 and "cost basis own" in out.splitlines()[0]


def test_rent_without_a_rental_price_is_an_error_or_na_never_a_switch() -> None:
    code, _, err = run("estimate", SERVE, "--hardware", "gb200-nvl72", "--cost-basis", "rent")
    assert code == 2 and "no rental price for gb200-nvl72" in err
    data = run_json("compare", SERVE, "--hardware", "dgx-h100", "--hardware", "gb200-nvl72",
                    "--cost-basis", "rent")
    h100, gb200 = data["options"]
    assert gb200["status"] == "n/a" and gb200["error"] == "no rental price for gb200-nvl72"
    assert gb200["total_cost_usd"] is None
    assert h100["details"]["cost_basis"] == "rent"
    # the rental price, 39.33 USD/h for 8 x H100 (AWS Capacity Blocks), power included
    assert h100["details"]["unit_usd_per_s"] == pytest.approx(
        load_catalog().systems["dgx-h100"].rental.price)  # type: ignore[union-attr]
    # optimize on the rent basis acquires by renting only, systems with a rental price only
    # (a 20-day deadline needs more than the owned units, so something must be rented)
    plan = run_json("optimize", MAIN, "--cost-basis", "rent", "--set", "deadline=20 days")
    assert plan["cost_basis"] == "rent" and plan["purchases"] == [] and plan["rentals"]
    systems = load_catalog().systems
    for r in plan["rentals"]:
        rental = systems[r["system"]].rental
        assert rental is not None
        assert r["cost_usd"] == pytest.approx(r["units"] * rental.price * 20 * 86400)


def test_optimize_headline_shows_marginal_and_full_economic_cost() -> None:
    plan = run_json("optimize", MAIN)
    assert plan["marginal_cost_usd"] == pytest.approx(plan["total_cost_usd"])
    # the main job runs on owned units: their amortised capital is what the full cost adds
    assert plan["full_economic_cost_usd"] > 2 * plan["marginal_cost_usd"]
    code, out, _ = run("optimize", MAIN)
    assert code == 0
    assert "marginal cost (owned capital sunk)" in out
    assert "full economic cost (owned capital amortised)" in out


# ------------------------------------------------------------ 2. a time objective that means time
def small_fleets(tmp_path: Path) -> tuple[str, str]:
    """Two one-site fleets cut from the default fleet (Virginia; Finland), no links."""
    import yaml

    full = yaml.safe_load((ROOT / "hardware/fleets/default.yaml").read_text())
    paths = []
    for name, site in (("fleet-a", "virginia-h100"), ("fleet-b", "finland-eu")):
        fleet = {**full, "id": name, "links": [],
                 "sites": [s for s in full["sites"] if s["id"] == site],
                 "sources": {k: {"tag": "assumption", "note": "a test fleet"}
                             for k in ("economics", "cpu_server", "sites")}}
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(fleet))
        paths.append(str(path))
    return paths[0], paths[1]


def test_time_objective_reports_each_jobs_finish_and_cost_to_completion() -> None:
    plan = run_json("optimize", MAIN, "--objective", "time")
    (job,) = plan["jobs"]
    lam = plan["objective"]["throughput_multiplier"]
    assert job["finish_s"] == pytest.approx(60 * 86400 / lam)  # 60-day deadline / lambda
    assert job["finish_s"] < 10 * 86400  # about 8.6 days, not 60
    # cost to completion: the units held for the finish time, not for 60 days
    held = plan["total_cost_usd"] - plan["cost_breakdown_usd"]["egress"]
    assert job["cost_to_completion_usd"] == pytest.approx(
        held * job["finish_s"] / (60 * 86400) + plan["cost_breakdown_usd"]["egress"] / lam,
        rel=1e-6)
    code, out, _ = run("optimize", MAIN, "--objective", "time")
    assert code == 0 and "faster than its deadline" not in out
    assert "finishes after" in out and "cost to completion" in out
    # cost objective: the job finishes on its deadline and costs what the plan charges
    cost = run_json("optimize", MAIN)
    assert cost["jobs"][0]["finish_s"] == pytest.approx(60 * 86400)
    assert cost["jobs"][0]["cost_to_completion_usd"] == pytest.approx(cost["total_cost_usd"])


def test_compare_fleets_by_time_ranks_by_finish_and_prices_the_whole_work(
        tmp_path: Path) -> None:
    a, b = small_fleets(tmp_path)
    data = run_json("compare", MAIN, "--fleet", a, "--fleet", b, "--objective", "time")
    rows = {o["option"]: o for o in data["options"]}
    for o in rows.values():
        assert o["wall_time_s"] > 60 * 86400  # one site cannot meet the 60-day deadline
        assert o["wall_time_s"] == o["finish_s"]
        assert o["total_cost_usd"] == pytest.approx(o["cost_to_completion_usd"])
    assert data["ranking"] == sorted(rows, key=lambda n: rows[n]["wall_time_s"])
    assert data["fastest"] == data["ranking"][0]
    code, out, _ = run("compare", MAIN, "--fleet", a, "--fleet", b, "--objective", "time")
    assert code == 0 and "ranked by finish time" in out and "wall time 60 days" not in out


def test_fastest_is_declared_only_when_an_option_differs() -> None:
    # deadline-sized post-training runs all finish on the 60-day deadline: none is "fastest"
    data = run_json("compare", MAIN, "--hardware", "dgx-h100", "--hardware", "gb200-nvl72")
    assert {o["wall_time_s"] for o in data["options"]} == {60 * 86400}
    assert data["fastest"] is None


# ------------------------------------------------------------------- 3. buildable placements
def test_integer_plans_whole_units_per_job_role_site_and_system() -> None:
    # Before: only per-site totals were whole (0.017 of a trn2-ultraserver served requests).
    plan = run_json("optimize", "workloads/scenario_mixed.yaml", "--integer")
    accelerated = [p for p in plan["placements"] if p["system"] != "cpu"]
    assert accelerated
    for p in accelerated:
        assert p["units"] == round(p["units"]) >= 1, p
        assert p["busy_units"] <= p["units"] + 1e-9
    mode = next(a for a in plan["assumptions"] if a["name"] == "mode")
    assert "units per placement (job, role, site, system)" in mode["note"]
    assert "CPU-role placements" in mode["note"]  # what stays fractional, and why


PRETRAIN = "workloads/pretrain_llama3_405b.yaml"
CROSS = ("--set", "allow_cross_site=true", "--set", "deadline=20 days")


def test_synchronous_pretraining_across_sites_puts_its_gradients_on_the_links() -> None:
    # Before: one 405B run split over Riyadh, Texas and Virginia, GB200 and H100 at once, and
    # no byte on any link. Every-step gradient exchange (810 GB per step, ~975k steps in 20
    # days) needs ~3.7 Tb/s per site, more than any link: no plan spans sites, and no one
    # site has the units, so the run is infeasible as asked.
    code, out, err = run("optimize", PRETRAIN, *CROSS)
    assert code == 3 and "infeasible" in err and not out
    # DiLoCo-style outer steps every 500 steps: each site off the hub sends its gradients
    # (params x 2 bytes x 15.6T / 16M / 500 outer steps) to the hub and gets weights back.
    plan = run_json("optimize", PRETRAIN, *CROSS, "--set", "cross_site_sync_every=500")
    train = [p for p in plan["placements"] if p["role"] == "train"]
    assert len({p["system"] for p in train}) == 1  # homogeneous: one system type
    sites = {p["site"] for p in train}
    assert len(sites) >= 2
    from planner.workload.load import load_scenario
    from planner.workload.params import count_params

    loaded = load_scenario(PRETRAIN).workloads[0]
    batch = loaded.spec.global_batch_tokens  # 16M tokens, rounded to whole 8,192-token sequences
    per_site = count_params(loaded.model.architecture).total * 2.0 * 15.6e12 / batch / 500
    every = {f["from"] for f in plan["flows"]} | {f["to"] for f in plan["flows"]}
    sent = {s: sum(f["bytes"] for f in plan["flows"] if f["kind"] == "gradients"
                   and f["from"] == s) - sum(f["bytes"] for f in plan["flows"]
                                             if f["kind"] == "gradients" and f["to"] == s)
            for s in every | sites}
    hub = min(sent, key=lambda s: sent[s])  # the hub (where gradients are averaged) receives
    for s in sites - {hub}:
        assert sent[s] == pytest.approx(per_site, rel=1e-6)
    assert plan["cost_breakdown_usd"]["egress"] > 0


def test_rl_update_runs_on_one_system_type_with_the_time_objective() -> None:
    # Before: one policy update ran on 500 MI355X nodes and 39 GB200 racks together.
    plan = run_json("optimize", MAIN, "--objective", "time", "--budget", "50M USD")
    update = [p for p in plan["placements"] if p["role"] == "update"]
    assert len({p["system"] for p in update}) == 1 and len({p["site"] for p in update}) == 1


def test_per_job_systems_and_max_sites_are_honoured() -> None:
    allowed = {"dgx-h100", "gb200-nvl72", "dgx-b200"}
    plan = run_json("optimize", MAIN, "--set", f"systems=[{', '.join(sorted(allowed))}]",
                    "--set", "max_sites=2")
    accelerated = [p for p in plan["placements"] if p["system"] != "cpu"]
    assert {p["system"] for p in accelerated} <= allowed
    assert len({p["site"] for p in accelerated}) <= 2
    code, _, err = run("optimize", MAIN, "--set", "systems=[dgx-h10]")
    assert code == 2 and "systems[0]: system 'dgx-h10' is not in the fleet" in err
    assert "dgx-h100" in err


# ----------------------------------------------------------------- fixed-cluster post-training
def test_posttrain_on_a_fixed_cluster_says_how_long_and_how_much() -> None:
    sized = run_json("estimate", MAIN, "--hardware", "gb200-nvl72")
    fixed = run_json("estimate", MAIN, "--hardware", "gb200-nvl72", "--set",
                     "accelerators=7200")  # 100 racks of 72
    assert fixed["units"] == 100 and fixed["accelerators"] == 7200
    # throughput is per unit: 100 racks take deadline x sized units / 100
    assert fixed["wall_time_s"] == pytest.approx(60 * 86400 * sized["units"] / 100)
    assert fixed["meets_deadline"] is False
    # own basis: units x unit price x time is the same work at any cluster size
    assert fixed["cost_usd"] == pytest.approx(sized["cost_usd"], rel=1e-9)


# ------------------------------------------------------------------------ 4. true findings
def test_cpu_cores_on_site_count_all_inventory_used_and_idle() -> None:
    # Before: "CPU cores available" at Indiana was 4,267, the cores of the few units switched
    # on, with 2,000 idle Trainium2 servers on site.
    plan = run_json("optimize", MAIN)
    systems = load_catalog().systems
    indiana = next(s for s in plan["sites"] if s["site"] == "indiana-trn2")
    on_site = (2000 * systems["trn2-rainier"].host.cores
               + 64 * systems["trn2-ultraserver"].host.cores + 20 * 192)  # + 20 CPU servers
    assert indiana["cpu_cores_on_site"] == pytest.approx(on_site)
    assert indiana["cpu_cores_available"] < on_site
    code, out, _ = run("optimize", MAIN)
    assert code == 0 and "CPU cores on site (all inventory)" in out
    assert f"{on_site:,.0f} cores on site counting idle inventory" in out


def test_findings_rank_limits_by_economic_weight_above_a_stated_threshold() -> None:
    # Before: site_cpu[indiana-trn2] at 7.8e-05 USD/core-hour was the first finding.
    plan = run_json("optimize", MAIN)
    weights = [b["value_of_10_percent"] for b in plan["bottlenecks"]]
    assert weights == sorted(weights, reverse=True)
    cpu = next(b for b in plan["bottlenecks"] if b["constraint"] == "site_cpu[indiana-trn2]")
    assert cpu["value_of_10_percent"] < 1e-3 * plan["total_cost_usd"]
    code, out, _ = run("optimize", MAIN)
    findings = out.split("Findings")[1].split("Jobs (")[0]
    assert code == 0 and "site_cpu[indiana-trn2]" not in findings
    assert "less than 0.1% of the plan" in findings
    for b in plan["bottlenecks"]:  # a row binding with nothing in use (0 <= 0) is no limit
        if b["kind"] == "cpu":
            site = next(s for s in plan["sites"] if s["site"] == b["where"])
            assert site["cpu_cores_used"] > 0


def test_every_unused_pool_has_a_reduced_cost_and_explain_shows_it() -> None:
    plan = run_json("optimize", MAIN)
    used = {(p["site"], p["system"]) for p in plan["placements"]}
    costs = {(r["site"], r["system"], r["acquisition"]): r for r in plan["reduced_costs"]}
    assert ("riyadh-expansion", "gb300-nvl72", "buy") in costs
    assert all((s, h) not in used for s, h, _ in costs)
    assert all(r["usd_per_unit"] >= 0 for r in costs.values())
    gb300 = costs[("riyadh-expansion", "gb300-nvl72", "buy")]
    assert gb300["usd_per_unit"] > 0 and gb300["unit"] == "USD/unit"
    code, out, _ = run("optimize", MAIN, "--explain", "riyadh-expansion/gb300-nvl72")
    assert code == 0 and "not used by this plan" in out and "buying it would need" in out
    part = run_json("optimize", MAIN, "--explain", "riyadh-expansion")
    assert {r["site"] for r in part["reduced_costs"]} == {"riyadh-expansion"}
    code, _, err = run("optimize", MAIN, "--explain", "riyadh")
    assert code == 2 and "no site 'riyadh'" in err and "riyadh-expansion" in err


def test_placements_name_their_units() -> None:
    code, out, _ = run("optimize", MAIN)
    assert code == 0 and "share of the site's units" in out and "utilization" not in out


def test_sweep_prices_every_scenario_on_the_requested_basis(tmp_path: Path) -> None:
    (tmp_path / "serve.yaml").write_text(
        "kind: serve\nmodel: llama-3.1-8b\ninput_tokens: 100\noutput_tokens: 1000\n"
        "interactivity: 30 tokens/s\nrequests_per_second: 10 requests/s\n")
    (tmp_path / "study.yaml").write_text(
        "name: basis\nworkload: serve.yaml\ncommand: estimate\n"
        "hardware: [dgx-h100, gb200-nvl72]\nparameters:\n  - path: votes\n    values: [1, 2]\n")
    out = tmp_path / "out"
    code, _, err = run("sweep", str(tmp_path / "study.yaml"), "-o", str(out),
                       "--cost-basis", "rent", "--format", "csv")
    assert code == 0, err
    records = json.loads((out / "results.json").read_text())["scenarios"]
    status = {r["option"]: r["status"] for r in records}
    assert status == {"dgx-h100": "ok", "gb200-nvl72": "n/a"}
    assert all(r["error"] == "no rental price for gb200-nvl72" for r in records
               if r["option"] == "gb200-nvl72")
    code, table, _ = run("sweep", str(tmp_path / "study.yaml"), "-o", str(out),
                         "--cost-basis", "rent")  # resumes: every scenario is recorded
    assert code == 0 and "cost basis rent" in table.splitlines()[0]


def test_a_site_that_only_forwards_samples_is_not_said_to_ship_them() -> None:
    # Before, at 90 s of verification per sample: "finland-eu: ... ships samples for
    # verification: 546 TB to riyadh-expansion", though Finland generates none.
    code, out, _ = run("optimize", MAIN, "--set", "verifier_cpu_seconds=90s")
    assert code == 0
    findings = " ".join(out.split("Findings")[1].split("Jobs (")[0].split())
    for relay in ("finland-eu", "virginia-h100"):
        line = findings.split(f"{relay}: ")[1].split(". ")[0]
        assert "generates nothing, forwards samples" in line
        assert "ships" not in line
