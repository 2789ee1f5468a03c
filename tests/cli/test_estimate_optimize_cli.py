"""CLI tests for estimate, optimize, calibration: the article via --set, JSON contracts, exits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_run import run, run_json

from planner.errors import SolverError

ROOT = Path(__file__).resolve().parents[2]

# The source article's roofline (reference/seed_numbers.md, candidate A): 8 x H100, FP8 weights,
# BF16 KV, FP8 math (attention included), whole-step max(compute, memory), no communication,
# prompt not counted, no GEMM tile model.
ARTICLE = ["--set", "efficiency.memory_bandwidth=0.773", "--set", "efficiency.compute=0.5676",
           "--set", "efficiency.kernel_overlap=1", "--set", "efficiency.tp_comm=0",
           "--set", "efficiency.gemm_tiles=0", "--set", "efficiency.attention_kv_precision=0",
           "--set", "input_tokens=0", "--set", "memory_reserve=0",
           "--set", "enforce_memory=false", "--set", "decode_context=final"]


@pytest.fixture(autouse=True)
def _at_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)



def test_article_batches_and_the_capacity_warning_reproduce_through_the_cli() -> None:
    long = run_json("estimate", "workloads/serve_reasoning.yaml", "--hardware", "dgx-h100",
                    *ARTICLE)
    short = run_json("estimate", "workloads/serve_reasoning_short.yaml", "--hardware",
                     "dgx-h100", *ARTICLE)
    assert long["kv_bytes_per_token"] == 516_096  # 2 · 126 · 8 · 128 · 2 bytes
    assert long["max_batch_slo"] == pytest.approx(72.0, rel=0.01)
    assert short["max_batch_slo"] == pytest.approx(368.0, rel=0.01)
    assert short["max_batch"] / long["max_batch"] > 5  # 368 / 72 = 5.11
    # 405.85 GB of FP8 weights + 72 · 7,661 · 516,096 B of KV = 690.5 GB > 640 GB
    assert long["fits_memory"] is False
    assert long["memory_bytes_per_replica"] == pytest.approx(690.5e9, rel=0.002)
    assert long["max_batch_memory"] == pytest.approx(59.2, abs=0.1)


def test_estimate_json_contract_for_each_kind() -> None:
    always = {"schema_version", "workload", "kind", "system", "bound", "assumptions"}
    serve = run_json("estimate", "workloads/serve_reasoning.yaml", "--hardware", "dgx-h100")
    assert always | {"kv_bytes_per_token", "weights_bytes", "max_batch", "max_batch_slo",
                     "max_batch_memory", "fits_memory", "tokens_per_s_per_user",
                     "tokens_per_s_per_unit", "ttft_s", "usd_per_million_tokens",
                     "parallelism"} <= set(serve)
    pre = run_json("estimate", "workloads/pretrain_llama3_405b.yaml", "--hardware", "dgx-h100")
    assert always | {"total_flops", "tokens_per_s_per_accelerator", "model_flops_utilization",
                     "wall_time_s", "accelerator_hours", "memory_bytes_per_accelerator",
                     "parallelism", "cost_usd"} <= set(pre)
    assert {"tp", "pp", "dp", "microbatch"} <= set(pre["parallelism"])
    post = run_json("estimate", "workloads/o1_posttrain.yaml", "--hardware", "gb200-nvl72")
    assert always | {"roles", "generated_tokens", "verifier_core_seconds",
                     "forward_backward_flop_ratio", "total_flops", "wall_time_s",
                     "cost_usd"} <= set(post)
    for role in post["roles"]:
        assert {"role", "work", "work_unit", "throughput_per_unit", "bound"} <= set(role)
    assert all({"name", "value", "source"} <= set(a) for a in post["assumptions"])


def test_verifier_role_shows_the_cpu_to_accelerator_ratio() -> None:
    """Trainium2 (6 cores per chip) verifies 3.2 samples/s per 16-chip server at 30 core-s per
    sample (96 / 30); a GB200 rack 86.4 (2,592 / 30): per accelerator 0.2 against 1.2."""
    trn2 = run_json("estimate", "workloads/o1_posttrain.yaml", "--hardware", "trn2-rainier")
    gb200 = run_json("estimate", "workloads/o1_posttrain.yaml", "--hardware", "gb200-nvl72")
    verify = {d["system"]: next(r for r in d["roles"] if r["role"] == "verify")
              for d in (trn2, gb200)}
    assert verify["trn2-rainier"]["throughput_per_unit"] == pytest.approx(96 / 30)
    assert verify["gb200-nvl72"]["throughput_per_unit"] == pytest.approx(2592 / 30)
    assert verify["trn2-rainier"]["cpu_cores_per_accelerator"] == 6
    assert verify["gb200-nvl72"]["cpu_cores_per_accelerator"] == 36


def test_optimize_json_contract_and_cost_parts_sum() -> None:
    plan = run_json("optimize", "workloads/o1_posttrain.yaml")
    assert {"schema_version", "status", "objective", "total_cost_usd", "cost_breakdown_usd",
            "placements", "purchases", "flows", "sites", "bottlenecks", "roles",
            "assumptions", "solver"} <= set(plan)
    assert plan["status"] == "optimal"
    assert sum(plan["cost_breakdown_usd"].values()) == pytest.approx(plan["total_cost_usd"])
    assert {"site", "system", "job", "role", "units"} <= set(plan["placements"][0])
    assert {"constraint", "kind", "where", "shadow_price", "shadow_price_unit"} <= \
        set(plan["bottlenecks"][0])
    assert {"name", "status", "seconds", "variables", "constraints"} <= set(plan["solver"])
    for site in plan["sites"]:
        assert site["power_used_w"] <= site["power_cap_w"] * (1 + 1e-9)
        assert site["cpu_cores_used"] <= site["cpu_cores_available"] * (1 + 1e-9) + 1e-6


def test_main_job_ships_trainium_samples_to_cpu_rich_sites() -> None:
    """The article's trade-off: a Trainium2 site runs out of verifier cores and ships samples."""
    plan = run_json("optimize", "workloads/o1_posttrain.yaml")
    trn2_sites = {p["site"] for p in plan["placements"]
                  if p["system"].startswith("trn2") and p["role"] == "generate"}
    assert trn2_sites
    shipped = [f for f in plan["flows"] if f["kind"] == "samples" and f["from"] in trn2_sites]
    assert shipped and all(f["bytes"] > 0 for f in shipped)
    assert any(b["kind"] == "cpu" and b["where"] in trn2_sites for b in plan["bottlenecks"])


def test_verifier_seconds_move_the_cpu_balance() -> None:
    """Cheap verifiers need no shipping; expensive ones make the plan buy CPU servers."""
    cheap = run_json("optimize", "workloads/o1_posttrain.yaml",
                     "--set", "verifier_cpu_seconds=5 s")
    heavy = run_json("optimize", "workloads/o1_posttrain.yaml",
                     "--set", "verifier_cpu_seconds=90 s")
    assert not [f for f in cheap["flows"] if f["kind"] == "samples"]
    assert any(p["system"] == "cpu-server" and p["units"] > 0 for p in heavy["purchases"])
    assert heavy["total_cost_usd"] > cheap["total_cost_usd"]


def test_optimize_table_shows_findings_and_bottlenecks() -> None:
    code, out, _ = run("optimize", "workloads/o1_posttrain.yaml")
    assert code == 0
    out = " ".join(out.split())  # the terminal layout wraps long lines
    for text in ("Findings", "Cost breakdown", "Placements", "Bottlenecks", "Assumptions",
                 "site_cpu[indiana-trn2]", "ships its samples for verification"):
        assert text in out


def test_optimize_exit_codes(monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = run("optimize", "workloads/o1_posttrain.yaml", "--set", "deadline=1 day")
    assert code == 3 and "infeasible" in err and "needs" in err and "Traceback" not in err
    code, _, err = run("optimize", "workloads/o1_posttrain.yaml", "--set", "deadline=1 kW")
    assert code == 2 and "deadline" in err
    code, _, err = run("optimize", "workloads/nope.yaml")
    assert code == 2 and "file not found" in err

    def fail(*_args: object, **_kwargs: object) -> None:
        raise SolverError("HiGHS stopped at its time limit without a feasible solution")

    monkeypatch.setattr("planner.lp.optimize", fail)
    code, _, err = run("optimize", "workloads/o1_posttrain.yaml")
    assert code == 4 and "time limit" in err


def test_optimize_writes_reports_atomically(tmp_path: Path) -> None:
    for fmt in ("json", "markdown", "csv", "html"):
        out = tmp_path / f"plan.{fmt}"
        code, _, err = run("optimize", "workloads/o1_posttrain.yaml", "--format", fmt,
                           "-o", str(out))
        assert code == 0, err
        assert out.stat().st_size > 1000
    assert "<svg" in (tmp_path / "plan.html").read_text()
    assert json.loads((tmp_path / "plan.json").read_text())["schema_version"] == 1


def test_calibration_lists_every_case_within_tolerance() -> None:
    code, out, _ = run("calibration", "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["all_within_tolerance"] is True
    assert len(data["cases"]) >= 40
    assert 0 < data["mean_abs_error"] < 0.15


def test_validate_accepts_study_files_and_reports_their_mistakes(tmp_path: Path) -> None:
    code, out, _ = run("validate", "examples")
    assert code == 0 and "study procurement" in out
    bad = tmp_path / "study.yaml"
    bad.write_text((ROOT / "examples" / "procurement" / "study.yaml").read_text()
                   .replace("command: estimate", "comand: estimate")
                   .replace("../../workloads", str(ROOT / "workloads")))
    code, _, err = run("validate", str(bad))
    assert code == 2 and "comand" in err and "did you mean 'command'" in err


def test_charging_inventory_capex_never_lowers_the_cost() -> None:
    """Owned hardware is free of capital by default (sunk); charging it can only add cost."""
    sunk = run_json("optimize", "workloads/o1_posttrain.yaml")
    charged = run_json("optimize", "workloads/o1_posttrain.yaml", "--charge-inventory-capex")
    assert sunk["cost_breakdown_usd"]["inventory_capex"] == 0
    assert charged["total_cost_usd"] > sunk["total_cost_usd"]
    assert any(a["name"] == "charge_inventory_capex" and a["value"] is True
               for a in charged["assumptions"])


def test_the_step_token_budget_decides_what_binds_a_long_prompt_server() -> None:
    """Llama 3.1 405B FP4 on a DGX B200 (TP4) at MLPerf's Server limits (p99 TTFT 6 s, TPOT
    175 ms), 9,400-token prompts. At the 2,048-token budget NVIDIA's submission runs, a prompt
    is prefilled over about 4.6 steps' budgets and the prompt queue reaches the TTFT limit
    (published p99 TTFT 5.1 s, Server/Offline 0.764); at the engine default of 8,192 the queue
    stays shorter (TTFT p99 3.8 s, under the limit) and the batch slots bind instead, at 10%
    more tokens/s."""
    base = ["estimate", "workloads/calibration/offline.yaml", "--hardware", "dgx-b200",
            "--set", "model=llama-3.1-405b", "--set", "input_tokens=9400",
            "--set", "output_tokens=685", "--set", "weights_precision=fp4",
            "--set", "compute_precision=fp4", "--set", "kv_precision=fp8",
            "--set", "layout.decode.tp=4", "--set", "layout.decode.pp=1"]
    limits = ["--set", "ttft=6 s", "--set", "tpot=175 ms"]
    offline = run_json(*base)
    published = run_json(*base, *limits, "--set", "efficiency.prefill_batch_tokens=2048")
    default = run_json(*base, *limits)
    assert published["ttft_p99_s"] == pytest.approx(6.0, abs=0.01)
    assert default["ttft_p99_s"] < 5.0
    ratio = published["tokens_per_s_per_unit"] / offline["tokens_per_s_per_unit"]
    assert 0.534 <= ratio <= 0.786  # the published 405B Server/Offline band
    assert default["tokens_per_s_per_unit"] > 1.08 * published["tokens_per_s_per_unit"]
    assert published["tpot_p99_s"] <= 0.175 + 1e-9
