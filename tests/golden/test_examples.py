"""Every example runs, writes its report, and shows the conclusion its README states."""

from __future__ import annotations

import csv
import importlib.util
import itertools
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from planner.api import load
from planner.study import SweepResult, sweep

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
STUDIES = sorted(p.parent.name for p in EXAMPLES.glob("*/study.yaml"))


@pytest.fixture(autouse=True)
def at_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    monkeypatch.delenv("PLANNER_HARDWARE", raising=False)
    monkeypatch.delenv("PLANNER_MODELS", raising=False)


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SweepResult]:
    """Each example study run once (in-process) into a temporary folder."""
    out = tmp_path_factory.mktemp("examples")
    return {name: sweep(EXAMPLES / name / "study.yaml", out_dir=out / name)
            for name in STUDIES}


def by(result: SweepResult, *paths: str) -> dict[tuple[str, ...], dict[str, Any]]:
    """Records keyed by (option, parameter values...)."""
    return {(r["option"], *(r["parameters"][p] for p in paths)): r for r in result.records}


def metric(record: dict[str, Any], name: str) -> float:
    assert record["status"] == "ok", record["error"]
    return float(record["metrics"][name])


def test_every_example_has_a_readme_with_its_command() -> None:
    folders = sorted(p for p in EXAMPLES.iterdir() if p.is_dir())
    assert [p.name for p in folders] == ["api_report", "moe_serving", "pretrain_sites",
                                         "procurement", "reasoning_serving", "roadmap"]
    for folder in folders:
        readme = (folder / "README.md").read_text()
        if (folder / "study.yaml").is_file():
            assert f"planner sweep examples/{folder.name}/study.yaml" in readme
        else:
            assert f"python examples/{folder.name}/" in readme


@pytest.mark.parametrize("name", STUDIES)
def test_study_writes_tidy_results_and_a_report(results: dict[str, SweepResult],
                                                name: str) -> None:
    result = results[name]
    folder = Path(result.out_dir or "")
    with (folder / "results.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["id"] for r in rows] == [r["id"] for r in result.records]
    page = (folder / "report.html").read_text()
    assert page.count("<svg") == len(result.plots)  # each study names its plots
    assert sum(r["status"] == "ok" for r in result.records) >= len(result.records) // 2


def test_procurement_cost_against_deadline(results: dict[str, SweepResult]) -> None:
    result = results["procurement"]
    records = by(result, "deadline", "verifier_cpu_seconds")
    for system in ("gb200-nvl72", "trn2-rainier"):
        base = records[(system, "30 days", "10 s")]
        for days in (60, 90, 120, 150, 180):
            other = records[(system, f"{days} days", "10 s")]
            # The work is fixed, so units (and the capital to buy them) scale as 1 / deadline:
            # capex(30 days) × 30 = capex(d) × d.
            assert metric(other, "capex_usd") * days == pytest.approx(
                metric(base, "capex_usd") * 30, rel=1e-6)
            # Amortised cost = unit-time × price: independent of the deadline.
            assert metric(other, "total_cost_usd") == pytest.approx(
                metric(base, "total_cost_usd"), rel=1e-6)


def test_procurement_verifier_cores_favour_cpu_rich_systems(
        results: dict[str, SweepResult]) -> None:
    records = by(results["procurement"], "deadline", "verifier_cpu_seconds")
    spec = load(REPO / "workloads" / "o1_posttrain.yaml").workloads[0].spec
    # Verifier cores busy = problems × samples × verified fraction × 120 core-s / 60 days
    # (10M × 4,096 × 1.0 × 120 / 5.184e6 s = 948,148 cores for the bundled workload).
    cores = spec.problems * spec.samples_per_problem * spec.verified_fraction * 120 / 5.184e6
    assert metric(records[("gb200-nvl72", "60 days", "120 s")], "cpu_cores_needed") == \
        pytest.approx(cores)
    # GB200 hosts 36 cores per GPU, Trainium2 servers 6 per chip: Trainium2 runs short of
    # verifier cores sooner and needs more CPU-only servers.
    trn2 = metric(records[("trn2-rainier", "60 days", "120 s")], "cpu_servers_needed")
    gb200 = metric(records[("gb200-nvl72", "60 days", "120 s")], "cpu_servers_needed")
    assert trn2 > gb200 > 0
    for system in ("gb200-nvl72", "trn2-rainier"):
        servers = [metric(records[(system, "60 days", s)], "cpu_servers_needed")
                   for s in ("10 s", "30 s", "120 s")]
        assert servers == sorted(servers)


def test_reasoning_serving_votes_and_length(results: dict[str, SweepResult]) -> None:
    records = by(results["reasoning_serving"], "votes", "output_tokens",
                 "shared_prefix_fraction")
    for system in ("dgx-h100", "gb200-nvl72"):
        def cost(votes: int, tokens: int, shared: str, system: str = system) -> float:
            return metric(records[(system, str(votes), str(tokens), shared)], "usd_per_query")

        # No shared prefix: 8 answers cost 8× one, less the shared 40-token prompt's prefill.
        assert 7.5 < cost(8, 7661, "0") / cost(1, 7661, "0") <= 8.0
        # 90% of each stream shared and read once: far less than 8×.
        assert cost(8, 7661, "0.9") / cost(1, 7661, "0.9") < 0.6 * 8
        # Longer answers shrink the batch, so cost grows faster than the length
        # (32,000 / 775 = 41.3×).
        assert cost(1, 32000, "0") / cost(1, 775, "0") > 32000 / 775
        batch = [metric(records[(system, "1", str(t), "0")], "max_batch")
                 for t in (775, 32000)]
        assert batch[0] > batch[1]


def test_pretrain_sites_under_power_caps(results: dict[str, SweepResult]) -> None:
    records = by(results["pretrain_sites"], "deadline", "allow_cross_site")
    fleet = "capped_sites"
    for days in (20, 30):  # no single site has the power for this run
        single = records[(fleet, f"{days} days", "false")]
        assert single["status"] == "error" and "infeasible" in single["error"]
        assert "MW more power" in single["error"]
    for days in (20, 30, 45, 60, 90):
        spread = records[(fleet, f"{days} days", "true")]
        assert spread["status"] == "ok"
        single = records[(fleet, f"{days} days", "false")]
        if single["status"] == "ok":  # more freedom never costs more
            assert metric(spread, "total_cost_usd") <= metric(single, "total_cost_usd") * 1.0001
            assert single["metrics"]["sites_used"] == "riyadh-expansion"  # cheapest power
    assert "," in records[(fleet, "20 days", "true")]["metrics"]["sites_used"]


def test_every_failure_says_why(results: dict[str, SweepResult]) -> None:
    failures: dict[str, list[str]] = defaultdict(list)
    for name, result in results.items():
        for r in result.records:
            if r["status"] != "ok":
                failures[name].append(r["error"])
    assert all(message for messages in failures.values() for message in messages)


def test_moe_serving_disaggregation_and_prefix_cache(results: dict[str, SweepResult]) -> None:
    """examples/moe_serving/README.md: wide EP on H800, disaggregation pays on 8-GPU nodes,
    a prefix cache cuts the input cost and the prefill share."""
    records = by(results["moe_serving"], "disaggregated", "prefix_cache_hit_fraction")
    for system in ("hgx-h800", "dgx-h100"):
        one_pool = metric(records[(system, "false", "0")], "tokens_per_s_per_unit")
        two_pools = metric(records[(system, "true", "0")], "tokens_per_s_per_unit")
        # 1.2-1.5x: one pool admits a few prompts a step into its decode group (the room its
        # 50 ms step leaves), separate pools prefill at full rate
        assert two_pools > 1.2 * one_pool
    rack = [metric(records[("gb200-nvl72", d, "0")], "tokens_per_s_per_unit")
            for d in ("false", "true")]
    # 47% on the rack: its all-to-all stays on NVLink, but one pool's steps still wait for the
    # attention replica that prefills (planner.perf.serving_ep.dp_prefill_steps)
    assert 0.2 < rack[1] / rack[0] - 1 < 0.8
    for system in ("hgx-h800", "dgx-h100", "gb200-nvl72"):
        cold, warm = records[(system, "true", "0")], records[(system, "true", "0.5")]
        # a request's prompt costs its uncached half at the (slightly higher: longer attention)
        # uncached price, plus the cached half at the cache price: well under the cold cost
        warm_prompt = 0.5 * metric(warm, "usd_per_million_input_tokens") + \
            0.5 * metric(warm, "usd_per_million_cached_input_tokens")
        assert warm_prompt < 0.7 * metric(cold, "usd_per_million_input_tokens")
        assert metric(warm, "prefill_to_decode_units") < metric(cold, "prefill_to_decode_units")
        assert metric(warm, "ttft_p99_s") <= 2.0 + 1e-9
        assert metric(warm, "tpot_p99_s") <= 0.05 + 1e-9
    assert metric(records[("hgx-h800", "true", "0.5")], "group_size") >= 64  # EP across nodes


def test_roadmap_growth_and_the_new_generations_price(results: dict[str, SweepResult]) -> None:
    """examples/roadmap/README.md: growth drives the NPV; the Vera Rubin price decides whether
    (and how many) racks are bought, never earlier than its first delivery allows."""
    growth, price = "schedule.serve_reasoning.growth_per_quarter", \
        "supply.systems.vr200-nvl144.price"
    records = by(results["roadmap"], growth, price)
    rates, prices = ("5%", "15%", "30%"), ("6.24M USD", "7.8M USD", "9.36M USD")
    vr = "units_bought_vr200-nvl144"

    def m(g: str, p: str, name: str) -> float:
        return metric(records[("default-fleet", g, p)], name)

    for p in prices:  # more demand never costs less, and buys no fewer accelerators
        npv = [m(g, p, "npv_usd") for g in rates]
        assert npv == sorted(npv) and npv[-1] > 2 * npv[0]
        bought = [m(g, p, "accelerators") for g in rates]
        assert bought == sorted(bought)
    for g in rates:
        # raising one system's price never lowers the least NPV (an LP's optimum is monotone
        # in its costs), and never buys more of that system
        npv = [m(g, p, "npv_usd") for p in prices]
        assert all(a <= b * (1 + 1e-9) for a, b in itertools.pairwise(npv))
        racks = [m(g, p, vr) for p in prices]
        assert racks == sorted(racks, reverse=True) and racks[-1] == 0.0
    # 5% a quarter fits on owned units: nothing bought, the price does not matter
    assert {m("5%", p, "units") for p in prices} == {0.0}
    assert len({round(m("5%", p, "npv_usd")) for p in prices}) == 1
    # the first order is never earlier than 2 quarters (the lead time) before the first
    # delivery on 2027-10-01; faster growth orders no later
    order = {name: i for i, name in enumerate(["2027-Q1", "2027-Q2", "2027-Q3", "2027-Q4",
                                                "2028-Q1", "2028-Q2", "2028-Q3", "2028-Q4"])}
    for p in prices[:2]:
        first = [records[("default-fleet", g, p)]["metrics"]["first_bought_vr200-nvl144"]
                 for g in ("15%", "30%")]
        assert all(order[f] >= order["2027-Q2"] for f in first)
        assert order[first[1]] <= order[first[0]]
    # Texas's second phase and Riyadh's 150 MW carry even 30% a quarter: nothing is built
    assert {m(g, p, "mw_built") for g in rates for p in prices} == {0.0}


def test_api_report_script(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location(
        "build_report", EXAMPLES / "api_report" / "build_report.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "report.html"
    assert module.main(["build_report.py", str(out)]) == 0
    page = out.read_text()
    assert page.count("<svg") >= 6  # comparison, KV cache, interactivity, roofline, plan figures
    for title in ("Summary", "Side by side", "Placement on the site graph"):
        assert title in page
