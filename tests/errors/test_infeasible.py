"""Infeasibility named right: 30+ scenarios that cannot be met, each exiting 3 with its cause.

Every row runs the real command line on a bundled workload, changed by `--set` options, a budget
or a fleet derived from ``hardware/fleets/default.yaml`` (all power caps at 1 MW, nothing
purchasable, or every link at 1 Mb/s). A row names the kind of shortfall it exercises (power,
CPU, memory, latency, interactivity, budget, links, deadline, no units) and the words that the
diagnosis must contain. Rows marked as issue 9 defects exited 0, 4 or 3 with the wrong cause
before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from planner.cli import cli

REPO = Path(__file__).resolve().parents[2]
POST = "workloads/o1_posttrain.yaml"
SERVE = "workloads/serve_reasoning.yaml"
SHORT = "workloads/serve_reasoning_short.yaml"
PRE = "workloads/pretrain_llama3_405b.yaml"
MIXED = "workloads/scenario_mixed.yaml"

# Derived fleets: (regex, replacement) pairs applied to the default fleet's text.
FLEETS = {
    "low-power": ((r"power_capacity: \d+ MW", "power_capacity: 1 MW"),),
    "no-buy": ((r"purchase_limits: \{[^}]*\}", "purchase_limits: {}"),
               (r"cpu_server_purchase_limit: \d+", "cpu_server_purchase_limit: 0")),
    "thin-links": ((r"bandwidth: [0-9.]+ Tb/s", "bandwidth: 1 Mb/s"),),
}


@dataclass(frozen=True)
class Row:
    """One infeasible scenario: its kind, the arguments and the words of its cause."""

    name: str
    kind: str
    args: tuple[str, ...]
    cause: tuple[str, ...]
    fleet: str | None = None


ROWS = [
    # power
    Row("posttrain_low_power", "power", ("optimize", POST),
        ("MW more power at site texas-gb200 (cap 1 MW)",), "low-power"),
    Row("serve_low_power", "power",
        ("optimize", SERVE, "--set", "requests_per_second=2000/s"),
        ("MW more power at site",), "low-power"),
    Row("mixed_low_power", "power", ("optimize", MIXED),
        ("MW more power at site texas-gb200 (cap 1 MW)",), "low-power"),
    Row("pretrain_low_power", "power", ("optimize", PRE, "--set", "deadline=90 days"),
        ("MW more power at site texas-gb200 (cap 1 MW)",), "low-power"),
    # CPU
    # issue 9: exited 4 ("raise the time limit") with no limit set; CBC blamed the wrong roles
    Row("verifier_cpu_beyond_fleet", "cpu",
        ("optimize", POST, "--set", "verifier_cpu_seconds=1e6 s"),
        ("more CPU cores than the whole fleet can hold", "the verifiers need 7,901,234,568")),
    Row("verifier_cpu_beyond_fleet_cbc", "cpu",
        ("optimize", POST, "--solver", "cbc", "--set", "verifier_cpu_seconds=1e6 s"),
        ("more CPU cores than the whole fleet can hold",)),
    Row("verifier_cpu_at_a_site", "cpu",
        ("optimize", POST, "--set", "verifier_cpu_seconds=2000 s"),
        ("more CPU cores at site",)),  # the cheapest site to add them may change
    # memory
    Row("pretrain_estimate_memory", "memory",
        ("estimate", PRE, "--hardware", "dgx-h100", "--set", "accelerators=8",
         "--set", "parallelism={}"),
        ("does not fit on 8 x H100", "within 80 GB per accelerator")),
    Row("pretrain_estimate_memory_a100", "memory",
        ("estimate", PRE, "--hardware", "dgx-a100", "--set", "accelerators=16",
         "--set", "parallelism={}"),
        ("does not fit on 16 x A100", "within 80 GB per accelerator")),
    Row("pretrain_optimize_memory", "memory",
        ("optimize", PRE, "--set", "accelerators=8", "--set", "parallelism={}",
         "--set", "deadline=30 days"),
        ("role train cannot run on any system: the model does not fit in memory",)),
    # issue 9: posttrain estimates exited 0 with infinite units and cost
    Row("posttrain_estimate_fits_nowhere", "memory",
        ("estimate", POST, "--hardware", "dgx-a100", "--set", "model=llama-3.1-405b",
         "--set", "generator.model=llama-3.1-405b", "--set", "generator.weights_precision=bf16"),
        ("cannot run on dgx-a100", "role generate (llama-3.1-405b) gets no throughput")),
    # latency
    Row("serve_no_site_in_latency_bound", "latency",
        ("optimize", SERVE, "--set", "requests_per_second={middle-east: 10/s}",
         "--set", "latency_bound=1 ms"),
        ("no site within the latency bound has any of",), "no-buy"),
    # interactivity; issue 9: blamed on memory
    Row("serve_interactivity_optimize", "interactivity",
        ("optimize", SERVE, "--set", "interactivity=10000 tokens/s"),
        ("none decodes fast enough for its interactivity target",)),
    # issue 9: serve estimates exited 0 with infinite units and cost
    Row("serve_interactivity_estimate", "interactivity",
        ("estimate", SERVE, "--hardware", "dgx-h100", "--set", "interactivity=10000 tokens/s"),
        ("cannot be served on dgx-h100", "decodes at 10,000 tokens/s per stream")),
    Row("serve_estimate_fits_nowhere", "interactivity",
        ("estimate", SERVE, "--hardware", "dgx-a100", "--set", "weights_precision=bf16"),
        ("cannot be served on dgx-a100", "no batch of llama-3.1-405b")),
    # a pinned prefill layout too narrow for the model was blamed on the decode speed
    Row("serve_pinned_prefill_layout_too_narrow", "memory",
        ("estimate", "workloads/calibration/moe_pool.yaml", "--hardware", "gb200-nvl72",
         "--set", "layout.prefill.ep=2"),
        ("cannot be served on gb200-nvl72",
         "the prefill pool's layout (tp=1, pp=1, ep=2, dp_attention=2) cannot hold deepseek-v3")),
    # an unmeetable TTFT limit was blamed on the decode speed ("decodes at 0 tokens/s")
    Row("serve_ttft_unmeetable_estimate", "latency",
        ("estimate", "workloads/calibration/offline.yaml", "--hardware", "dgx-h200",
         "--set", "model=llama-3.1-405b", "--set", "input_tokens=9400",
         "--set", "weights_precision=fp8", "--set", "compute_precision=fp8",
         "--set", "ttft=100 ms", "--set", "tpot=175 ms"),
        ("cannot be served on dgx-h200", "no request rate meets the p99 time to first token of "
         "100 ms", "with no queue at all")),
    Row("serve_ttft_unmeetable_optimize", "latency",
        ("optimize", SERVE, "--set", "ttft=2 ms"),
        ("cannot run on any system", "no request rate meets the time to first token limit: "
         "dgx-b200, dgx-h100", "no batch meets the interactivity target: dgx-a100")),
    Row("serve_long_input_estimate", "interactivity",
        ("estimate", SERVE, "--hardware", "dgx-a100", "--set", "input_tokens=120000"),
        ("cannot be served on dgx-a100",)),
    Row("generator_interactivity_estimate", "interactivity",
        ("estimate", POST, "--hardware", "dgx-h100",
         "--set", "generator.interactivity=10000 tokens/s"),
        ("role generate (llama-3.1-70b) gets no throughput", "10,000 tokens/s per stream")),
    Row("generator_interactivity_optimize", "interactivity",
        ("optimize", POST, "--set", "generator.interactivity=10000 tokens/s"),
        ("role generate cannot run on any system", "interactivity target")),
    # budget
    Row("posttrain_budget", "budget", ("optimize", POST, "--budget", "1 USD"),
        ("M USD more budget",)),
    # issue 9: exited 0 with "0x faster" and cost 0
    Row("posttrain_budget_time_objective", "budget",
        ("optimize", POST, "--objective", "time", "--budget", "1 USD"),
        ("M USD more budget",)),
    Row("posttrain_budget_integer", "budget",
        ("optimize", POST, "--integer", "--budget", "1 USD"),
        ("M USD more budget",)),  # whole units per job, role, site and system
    Row("serve_budget", "budget", ("optimize", SERVE, "--budget", "1 USD"),
        ("k USD more budget",)),
    Row("mixed_budget", "budget", ("optimize", MIXED, "--budget", "1 USD"),
        ("M USD more budget",)),
    Row("pretrain_budget", "budget",
        ("optimize", PRE, "--budget", "1 USD", "--set", "deadline=90 days"),
        ("M USD more budget",)),
    # links
    Row("posttrain_links_one_hour", "links", ("optimize", POST, "--set", "deadline=1 hour"),
        ("Gbps more on link riyadh-expansion -> finland-eu (has 400 Gbps)",
         "the network is the limit")),
    Row("posttrain_thin_links", "links", ("optimize", POST, "--set", "deadline=5 days"),
        ("Gbps more on link",), "thin-links"),
    Row("mixed_thin_links", "links",
        ("optimize", MIXED, "--set", "o1_posttrain.deadline=5 days"),
        ("Gbps more on link",), "thin-links"),
    # deadline
    Row("posttrain_deadline_three_days", "deadline", ("optimize", POST, "--set", "deadline=3 days"),
        ("more gb200-nvl72 units at site texas-gb200 (purchase limit 100)",
         "MW more power at site texas-gb200")),
    Row("posttrain_deadline_cbc", "deadline",
        ("optimize", POST, "--solver", "cbc", "--set", "deadline=1 hour"),
        ("cannot be done in its horizon",)),
    Row("mixed_deadline", "deadline",
        ("optimize", MIXED, "--set", "o1_posttrain.deadline=1 hour"),
        ("job o1_posttrain role generate: 99.5% of its work",)),
    Row("pretrain_deadline_one_day", "deadline", ("optimize", PRE, "--set", "deadline=1 day"),
        ("more gb300-nvl72 units at site texas-gb200 (purchase limit 50)",)),
    # no units; issue 9: a regionless demand was blamed on the latency of region '*'
    Row("serve_rate_beyond_fleet", "no units",
        ("optimize", SERVE, "--set", "requests_per_second=1e9/s"),
        ("1e+09 requests/s cannot be served: more than every site's power, inventory and "
         "purchase limits can hold",)),
    Row("serve_short_rate_beyond_fleet", "no units",
        ("optimize", SHORT, "--set", "requests_per_second=1e9/s"),
        ("requests/s cannot be served: more than every site's",)),
    Row("serve_no_purchases", "no units",
        ("optimize", SERVE, "--set", "requests_per_second=1e6/s"),
        ("requests/s cannot be served: more than every site's",), "no-buy"),
]


@pytest.fixture
def in_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    monkeypatch.delenv("PLANNER_HARDWARE", raising=False)
    monkeypatch.delenv("PLANNER_MODELS", raising=False)


def _fleet(tmp_path: Path, name: str) -> Path:
    text = (REPO / "hardware" / "fleets" / "default.yaml").read_text()
    for pattern, replacement in FLEETS[name]:
        text, count = re.subn(pattern, replacement, text)
        assert count, pattern
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return path


@pytest.mark.usefixtures("in_repo")
@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
def test_infeasible_scenario_exits_3_naming_its_cause(row: Row, tmp_path: Path) -> None:
    args = list(row.args)
    if row.fleet is not None:
        args += ["--fleet", str(_fleet(tmp_path, row.fleet))]
    result = CliRunner().invoke(cli, args)
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 3, result.output
    assert result.stdout == ""
    assert result.stderr.startswith("infeasible: ")
    for words in row.cause:
        assert words in result.stderr


def test_the_table_covers_every_kind_with_enough_rows() -> None:
    kinds = {row.kind for row in ROWS}
    assert kinds == {"power", "cpu", "memory", "latency", "interactivity", "budget", "links",
                     "deadline", "no units"}
    assert len(ROWS) >= 30
    assert {row.args[0] for row in ROWS} == {"optimize", "estimate"}
    assert len({row.name for row in ROWS}) == len(ROWS)


@pytest.mark.usefixtures("in_repo")
def test_an_unknown_region_is_bad_input_not_infeasible() -> None:
    # issue 9: exited 3 ("no site within 100 ms of region mars")
    result = CliRunner().invoke(cli, ["optimize", SERVE, "--set",
                                      "requests_per_second={mars: 10/s}"])
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: {SERVE} (--set requests_per_second={{mars: 10/s}}): requests_per_second.mars: "
        "unknown region 'mars' (fleet default, hardware/fleets/default.yaml); expected one of: "
        "europe, middle-east, us-central, us-east\n")


@pytest.mark.usefixtures("in_repo")
def test_a_zero_purchase_limit_is_no_offer_not_an_unknown_system(tmp_path: Path) -> None:
    # issue 9: "<planning inputs>: sites.texas-gb200.purchase_limits.hgx-h800: unknown system"
    text = (REPO / "hardware" / "fleets" / "default.yaml").read_text()
    old = "purchase_limits: {gb200-nvl72: 100, gb300-nvl72: 50}"
    assert old in text
    fleet = tmp_path / "zero.yaml"
    fleet.write_text(text.replace(old, old[:-1] + ", hgx-h800: 0}"))
    result = CliRunner().invoke(cli, ["optimize", POST, "--fleet", str(fleet)])
    assert result.exit_code == 0, result.output


@pytest.mark.usefixtures("in_repo")
def test_a_fleet_with_nothing_to_own_or_buy_says_so(tmp_path: Path) -> None:
    # issue 9: "no role named 'generate'" or "may not fit in memory"
    text = (REPO / "hardware" / "fleets" / "default.yaml").read_text()
    for key in ("inventory", "purchase_limits"):
        text = re.sub(rf"^    {key}: \{{[^}}]*\}}", f"    {key}: {{}}", text, flags=re.M)
    fleet = tmp_path / "empty.yaml"
    fleet.write_text(text)
    result = CliRunner().invoke(cli, ["optimize", POST, "--fleet", str(fleet)])
    assert result.exit_code == 2
    assert "sites: no site owns or may buy or rent any system" in result.stderr
    assert f"{fleet}:" in result.stderr
