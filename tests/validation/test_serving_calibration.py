"""The serving model against published throughputs: offline (reference/measurements.md V7, V8,
and the TensorRT-LLM overview's Llama 3.1 8B and Llama 3.3 70B tables as a check set), wide
expert-parallel DeepSeek deployments (planner.perf.calibrate_moe) and MLPerf Server
(planner.perf.calibrate_latency).

Every case must be within its stated tolerance (30%, justified in
``planner.perf.calibrate_serving``); the mean absolute error of the fit set and of the check set
guards against a drift that keeps each case inside its band but worsens the whole fit.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from planner.perf.assumptions import CalibrationCase
from planner.perf.calibrate_serving import (
    FIT_RUNS,
    OFFLINE_MISSES,
    RUNS,
    TOLERANCE,
    cases,
    mean_absolute_error,
    misses,
)
from planner.perf.serving import DEFAULTS


@pytest.fixture(scope="module")
def results() -> list[CalibrationCase]:
    """Every case, computed once (loads the repository's systems and model files)."""
    return cases()


CASE_RUNS = [run for run in RUNS if run.name not in OFFLINE_MISSES]


@pytest.mark.parametrize("index", range(len(CASE_RUNS)), ids=[run.name for run in CASE_RUNS])
def test_case_within_tolerance(results: list[CalibrationCase], index: int) -> None:
    case = results[index]
    assert case.name == CASE_RUNS[index].name
    assert case.tolerance == TOLERANCE
    assert case.predicted > 0
    assert abs(case.error) <= case.tolerance, (
        f"{case.name}: predicted {case.predicted:.0f}, published {case.published:.0f}, "
        f"error {case.error:+.1%}")


def _group(results: list[CalibrationCase], group: str) -> list[CalibrationCase]:
    return [c for c in results if c.group == group]


def test_mean_absolute_error_of_the_fit_and_check_sets(results: list[CalibrationCase]) -> None:
    # fit set 6.3% (worst 20.0%); check set 8.1% (worst 27.4%) with one row reported apart.
    # With a BF16 cache on the TensorRT-LLM rows and pre-quantised FP4 matmuls the fit set was
    # 6.8% and the check set 25% (Llama 3.1 8B 30-40% low)
    fit = _group(results, "offline")
    check = _group(results, "offline-check")
    assert (len(fit), len(check)) == (28, 59)
    assert mean_absolute_error(fit) < 0.07
    assert mean_absolute_error(check) < 0.09


def test_known_offline_misses_are_outside_the_tolerance() -> None:
    """A check-set row kept apart (calibrate_serving.OFFLINE_MISSES) is still missed by more
    than the tolerance; when it comes within it, it belongs in the cases."""
    found = misses()
    assert [c.name for c in found] == list(OFFLINE_MISSES)
    assert all(c.group == "offline-check" and abs(c.error) > c.tolerance for c in found)


def _mean_signed_error(results: list[CalibrationCase], group: str,
                       systems: tuple[str, ...]) -> float:
    chosen = [c for c, run in zip(results, CASE_RUNS, strict=True)
              if run.group == group and run.system in systems]
    return sum(c.error for c in chosen) / len(chosen)


@pytest.mark.parametrize("group", ["offline", "offline-check"])
def test_no_systematic_bias_between_hopper_fp8_and_blackwell_fp4(
        results: list[CalibrationCase], group: str) -> None:
    """Hopper FP8 against Blackwell FP4, mean signed error: fit set +2.4% and +2.9%, check set
    +2.3% and +1.0%. With a BF16 cache and pre-quantised FP4 matmuls the check set's Blackwell
    FP4 70B rows were -15% to -17% and Hopper's 8B rows -30% to -38%; with an FP8 cache alone,
    Blackwell FP4 was +20% on both sets."""
    hopper = _mean_signed_error(results, group, ("dgx-h100", "dgx-h200"))
    blackwell = _mean_signed_error(results, group, ("dgx-b200", "gb200-nvl72"))
    assert abs(hopper) < 0.05
    assert abs(blackwell) < 0.05
    assert abs(hopper - blackwell) < 0.05


def test_relative_factors_are_the_kernel_measurements_not_fits() -> None:
    # FP8: 0.737 / 0.806 on one H200 (1,458 / 1,979 over 797 / 989 TFLOPS) = 0.914
    assert DEFAULTS["compute_fp8_relative"].value == pytest.approx(
        (1457.76 / 1979) / (797.10 / 989), abs=5e-4)
    # FP4 with the activations quantised in the timed call: (3,038.84 / 9,000) /
    # (1,360.14 / 2,250) = 0.3376 / 0.6045 = 0.559 (vLLM PR #20646)
    assert DEFAULTS["compute_fp4_relative"].value == pytest.approx(
        (3038.84 / 9000) / (1360.14 / 2250), abs=5e-4)


def test_fp4_factor_with_quantisation_is_also_the_fit_sets_choice() -> None:
    """Fixed from the kernel table, the default FP4 factor is nonetheless where the fit set's
    error is lowest of the two published columns: 6.3% at 0.559 (the two fused MLPerf runs at
    0.718, their configs' rate) against 11.9% at 0.718 everywhere."""
    quantised = mean_absolute_error(cases(runs=FIT_RUNS))
    pre = {**DEFAULTS, "compute_fp4_relative": dataclasses.replace(
        DEFAULTS["compute_fp4_relative"], value=0.718)}
    prequantised = mean_absolute_error(cases(assumptions=pre, runs=FIT_RUNS))
    assert quantised < prequantised - 0.03


def test_published_figures_match_the_reference() -> None:
    by_name = {run.name: run for run in RUNS}
    # MLPerf v4.1 DGX H100 offline: 24,525 tokens/s over 8 GPUs = 3,065.6 per GPU
    h100 = by_name["MLPerf v4.1 Llama 2 70B DGX H100"]
    assert h100.published_per_accelerator == pytest.approx(3065.6, rel=1e-4)
    # MLPerf v5.1 GB200, one 4-GPU tray: 51,737 / 4 = 12,934 per GPU
    gb200 = by_name["MLPerf v5.1 Llama 2 70B GB200 (4-GPU tray)"]
    assert gb200.published_per_accelerator == pytest.approx(12934.25, rel=1e-4)
    # TensorRT-LLM 405B, H100 TP8, 20000/2000: 345 tokens/s over 8 GPUs
    long = by_name["TRT-LLM 405B dgx-h100 TP8 20000/2000"]
    assert long.published_per_accelerator == pytest.approx(43.125)
    assert (long.input_tokens, long.output_tokens, long.group_size) == (20000, 2000, 8)


def test_fused_runs_take_the_pre_quantised_fp4_rate() -> None:
    """Runs whose published config fuses the NVFP4 activation quantisation
    (``norm_quant_fusion``: NVIDIA's v5.1 Blackwell Offline and Server configs for Llama 2 70B
    and 405B, and 405B Interactive; not the 70B Interactive one) pin the pre-quantised column
    of the kernel table, (3,904.33 / 9,000) / (1,360.14 / 2,250) = 0.718, in their command."""
    from planner.perf.calibrate_latency import LATENCY_RUNS, OUT_OF_TOLERANCE
    from planner.perf.calibrate_serving import FUSED_FP4_RELATIVE, estimate_command

    fused_rate = FUSED_FP4_RELATIVE
    assert fused_rate == pytest.approx((3904.33 / 9000) / (1360.14 / 2250), abs=5e-4)
    pin = f"efficiency.compute_fp4_relative={fused_rate}"
    fused_offline = [run.name for run in RUNS if run.fused_fp4]
    assert fused_offline == ["MLPerf v5.1 Llama 2 70B DGX B200",
                             "MLPerf v5.1 Llama 2 70B GB200 (4-GPU tray)"]
    assert all(pin in estimate_command(run) for run in RUNS if run.fused_fp4)
    assert not any(pin in estimate_command(run) for run in RUNS if not run.fused_fp4)
    latency = [*LATENCY_RUNS, *OUT_OF_TOLERANCE]
    assert {r.name for r in latency if r.fused_fp4} == {
        "MLPerf v5.1 70B DGX B200 Server", "MLPerf v5.1 70B GB200 tray Server",
        "MLPerf v5.1 405B DGX B200 Server", "MLPerf v5.1 405B GB200 NVL72 Server",
        "MLPerf v5.1 405B GB200 tray Server (Nebius)", "MLPerf v5.1 405B DGX B200 Interactive",
        "MLPerf v5.1 405B GB200 NVL72 Interactive", "MLPerf v5.1 405B GB300 NVL72 Server"}
    assert all(r.precision == "fp4" for r in latency if r.fused_fp4)
    assert all(pin in r.command() for r in latency if r.fused_fp4)


def test_case_count_and_sources(results: list[CalibrationCase]) -> None:
    # fit: 4 MLPerf systems + 6 TensorRT-LLM 405B length pairs x 4 systems; check: 10 length
    # pairs x (2 systems for 8B + 4 for 70B), one of them reported apart
    assert len(RUNS) == 28 + 60 and len(FIT_RUNS) == 28
    assert len(results) == 87
    assert all(case.source.startswith("https://") for case in results)


def test_calibrated_factors_are_physically_plausible() -> None:
    assert 0.6 <= DEFAULTS["memory_bandwidth"].value <= 0.85
    assert 0.4 <= DEFAULTS["compute"].value <= 0.7
    assert 0.5 <= DEFAULTS["scale_up"].value <= 1.0


# ---------------------------------------------------------------- wide expert parallelism


@pytest.fixture(scope="module")
def moe_results() -> list[CalibrationCase]:
    """Every wide-EP DeepSeek case, through planner.api.estimate."""
    from planner.perf.calibrate_moe import cases as moe_cases

    return moe_cases()


def test_moe_cases_are_within_tolerance_and_split_fit_from_check(
        moe_results: list[CalibrationCase]) -> None:
    from planner.perf.calibrate_moe import MOE_RUNS

    assert len(moe_results) == len(MOE_RUNS) >= 8
    assert {c.group for c in moe_results} == {"moe-fit", "moe-check"}
    assert all(abs(c.error) <= c.tolerance for c in moe_results)
    assert all(c.note.startswith("planner estimate workloads/calibration/moe_pool.yaml")
               for c in moe_results)


def test_wide_ep_h100_deployment_is_within_25_percent(
        moe_results: list[CalibrationCase]) -> None:
    """SGLang's 96-H100 deployment (fit set): per-node prefill and decode within 25%."""
    by_name = {c.name: c for c in moe_results}
    for name in ("SGLang H100 prefill EP32, 2K prompts", "SGLang H100 prefill EP32, 4K prompts",
                 "SGLang H100 decode EP72, 2K inputs"):
        assert abs(by_name[name].error) < 0.25, (name, by_name[name].error)


def test_published_dispatch_buffers_set_the_gb200_part2_decode_batch() -> None:
    """SGLang's GB200 Part II decode ran 768 (BF16 attention, FP8 MoE) and 1,024 (NVFP4 MoE)
    sequences per rank (its reproduction instructions); pinned through the workload's
    ``efficiency.ep_max_batch_per_rank``, the model's decode batch is that buffer, and with the
    default 128 both cases fall 9-17% short."""
    from planner.perf.calibrate_moe import MOE_RUNS, predicted_per_accelerator

    part2 = [run for run in MOE_RUNS if run.pool == "decode" and "Part I)" not in run.name
             and run.system == "gb200-nvl72"]
    assert {s for run in part2 for s in run.sets if s.startswith("efficiency.")} == {
        "efficiency.ep_max_batch_per_rank=768", "efficiency.ep_max_batch_per_rank=1024"}
    for run in part2:
        pinned = predicted_per_accelerator(run)
        default = predicted_per_accelerator(dataclasses.replace(run, sets=tuple(
            s for s in run.sets if not s.startswith("efficiency."))))
        assert abs(pinned / run.published_per_accelerator - 1) < 0.10, (run.name, pinned)
        assert default / run.published_per_accelerator - 1 < -0.08, (run.name, default)


def test_long_context_decode_batch_matches_the_published_hbm_limit() -> None:
    """SGLang's long-context DeepSeek-R1 (NVFP4, FP8 KV, 128K prompts, 8K outputs, decode on
    DEP8; https://www.lmsys.org/blog/2026-02-19-gb300-longctx): GB300's 288 GB HBM holds 40
    requests per GPU against GB200's 24. The model's HBM-limited decode batch (weights, the
    latent KV at the mean decode context, the reserve) gives 46 and 25."""
    from planner.api import estimate

    workload = Path(__file__).resolve().parents[2] / "workloads/calibration/moe_pool.yaml"
    sets = ["layout.decode.ep=8", "input_tokens=131072", "output_tokens=8192",
            "weights_precision=fp4", "compute_precision=fp4", "kv_precision=fp8"]
    batch = {system: estimate(workload, system, sets).to_dict()["max_batch_memory"]
             for system in ("gb300-nvl72", "gb200-nvl72")}
    assert batch["gb300-nvl72"] == pytest.approx(40, rel=0.2)
    assert batch["gb200-nvl72"] == pytest.approx(24, rel=0.2)
    assert 1.5 < batch["gb300-nvl72"] / batch["gb200-nvl72"] < 2.0


def test_moe_fit_and_check_errors(moe_results: list[CalibrationCase]) -> None:
    fit = [abs(c.error) for c in moe_results if c.group == "moe-fit"]
    check = [abs(c.error) for c in moe_results if c.group == "moe-check"]
    assert sum(fit) / len(fit) < 0.01  # 0.4%
    assert sum(check) / len(check) < 0.12  # 10.2%, see calibrate_moe
    by_name = {c.name: c for c in moe_results}
    # every H100/H800 deployment within the 25% goal, DeepSeek's production pools at
    # the day's load and its first-token limit among them
    for name in ("SGLang H100 prefill EP32, 1K prompts",
                 "DeepSeek profile H800 prefill EP32, 4K prompts",
                 "DeepSeek H800 prefill EP32, 56% cache hits, day load",
                 "DeepSeek H800 decode EP144, 20 tokens/s/user"):
        assert abs(by_name[name].error) < 0.25, (name, by_name[name].error)


def test_production_prefill_runs_below_capacity_to_hold_its_first_token_limit() -> None:
    """DeepSeek's production prefill (a day's mean per node) is what its pool serves at the
    day's Poisson load and a 2 s p99 TTFT; run full, the same pool would serve 47% more."""
    from planner.perf.calibrate_moe import MOE_RUNS, MoeRun, predicted_per_accelerator

    run = next(r for r in MOE_RUNS if "day load" in r.name)
    at_limit = predicted_per_accelerator(run)
    full = MoeRun(run.name, run.system, run.pool, run.published_per_accelerator,
                  tuple(s for s in run.sets if not s.startswith(("ttft", "requests"))),
                  run.source, run.group)
    tighter = MoeRun(run.name, run.system, run.pool, run.published_per_accelerator,
                     tuple("ttft.p99=1.5 s" if s.startswith("ttft") else s for s in run.sets),
                     run.source, run.group)
    assert predicted_per_accelerator(full) > 1.4 * at_limit
    assert predicted_per_accelerator(tighter) < at_limit


def _fit_error(name: str, value: float, runs: list[object],
               extra: dict[str, float] | None = None, published: float | None = None) -> float:
    """Mean |error| of ``runs`` with one serving default (and ``extra`` ones) replaced."""
    from planner.perf.assumptions import Assumption
    from planner.perf.calibrate_moe import MoeRun, predicted_per_accelerator
    from planner.perf.serving import DEFAULTS as SERVING_DEFAULTS

    values = {name: value, **(extra or {})}
    originals = {key: SERVING_DEFAULTS[key] for key in values}
    try:
        for key, number in values.items():
            SERVING_DEFAULTS[key] = Assumption(key, number, "test", "")
        errors = []
        for run in runs:
            assert isinstance(run, MoeRun)
            target = published or run.published_per_accelerator
            errors.append(abs(predicted_per_accelerator(run) / target - 1))
    finally:
        SERVING_DEFAULTS.update(originals)
    return sum(errors) / len(errors)


def test_overlaps_are_the_fit_set_minima() -> None:
    """ep_overlap (prefill) and ep_overlap_decode are the grid minima of their fit cases."""
    from planner.perf.calibrate_moe import MOE_RUNS
    from planner.perf.serving import DEFAULTS as SERVING_DEFAULTS

    for name, pool, best, step in (("ep_overlap", "prefill", 0.30, 0.05),
                                   ("ep_overlap_decode", "decode", 0.48, 0.02)):
        runs: list[object] = [r for r in MOE_RUNS if r.group == "moe-fit" and r.pool == pool]
        errors = [_fit_error(name, best + d, runs) for d in (-step, 0.0, step)]
        assert SERVING_DEFAULTS[name].value == best
        assert errors[1] < errors[0] and errors[1] < errors[2], (name, errors)


def test_decode_kernels_reproduce_the_no_overlap_ablation() -> None:
    """ep_decode_kernels is the grid minimum for SGLang's decode without two-batch overlap:
    22,310 / 1.255 output tokens/s per node (lmsys.org/blog/2025-05-05-large-scale-ep)."""
    from planner.perf.calibrate_moe import MOE_RUNS
    from planner.perf.serving import DEFAULTS as SERVING_DEFAULTS

    runs: list[object] = [r for r in MOE_RUNS if r.group == "moe-fit" and r.pool == "decode"]
    published = 22310 / 1.255 / 8
    best = SERVING_DEFAULTS["ep_decode_kernels"].value
    assert best == 0.70
    errors = [_fit_error("ep_decode_kernels", best + d, runs, {"ep_overlap_decode": 0.0},
                         published) for d in (-0.01, 0.0, 0.01)]
    assert errors[1] < 0.01
    assert errors[1] < errors[0] and errors[1] < errors[2], errors


# ---------------------------------------------------------------- latency-bounded (server)


@pytest.fixture(scope="module")
def latency_results() -> list[CalibrationCase]:
    from planner.perf.calibrate_latency import cases as latency_cases

    return latency_cases()


def test_server_cases_within_tolerance(latency_results: list[CalibrationCase]) -> None:
    assert len(latency_results) >= 15
    assert all(abs(c.error) <= c.tolerance for c in latency_results)
    mean = sum(abs(c.error) for c in latency_results) / len(latency_results)
    worst = max(abs(c.error) for c in latency_results)
    # 8.7% and 26.9% (12 Server cases, 6 Interactive; the worst is 405B Interactive on the DGX
    # B200); without the fused-quantisation rate of NVIDIA's Blackwell configs the Blackwell
    # Server cases were 12-23% low (11.4%); without the TPOT percentile the 405B Interactive
    # cases were +24% (GB200 NVL72) and +32% (H200, then a known miss)
    assert mean < 0.10 and worst < 0.30


def test_interactive_ratio_falls_with_gemm_tile_quantization() -> None:
    """MLPerf Interactive on DGX B200 publishes 0.586 of Offline; without the tile model the
    model gave 0.944 (a 40 ms step holds few tokens but costs no tokens/s in a pure roofline),
    with it 0.722: a step of a few hundred tokens fills fewer, emptier waves, and a small
    batch's slots run emptier (Erlang C occupancy)."""
    from planner.perf.calibrate_latency import LATENCY_RUNS, predicted

    run = next(r for r in LATENCY_RUNS if r.scenario == "interactive")
    ratio = predicted(run) / predicted(run, bounded=False)
    assert 0.70 < ratio < 0.80, ratio


def test_interactive_prefill_budget_is_capped_by_the_tpot_limit() -> None:
    """On the GB200 tray the engine's 8,192-token budget (27 of MLPerf's 300-token prompts a
    step) does not fit a 40 ms Interactive step: the budget is the room the step leaves under
    the limit (a 15 ms TP2 step leaves about 1,600 tokens, 5 prompts). Interactive throughput
    is within 8% of the published figure (+7%; +37% admitting one prompt a step, +62%
    admitting the full budget, when the FP4 factor had no quantisation). Its ratio to the
    model's Offline, 0.71, is above the published 0.575 because that Offline is 13% under
    NVIDIA's tuned submission (the fit set's MLPerf Blackwell rows)."""
    from planner.perf.calibrate_latency import LATENCY_RUNS, predicted

    run = next(r for r in LATENCY_RUNS
               if r.scenario == "interactive" and r.system == "gb200-nvl72"
               and r.model == "llama-2-70b")
    published = run.published_tokens_per_s / run.accelerators
    assert predicted(run) == pytest.approx(published, rel=0.08)


def test_server_throughput_falls_below_offline_inside_the_published_band() -> None:
    """MLPerf Llama 2 70B Server/Offline is 0.88-0.98 in the published results; the model's
    ratio comes from the TTFT queue (prompts admitted in bulk at each step, up to the engine's
    8,192-token budget), the batch it allows and the shape efficiency of that batch's matmuls,
    not from a factor: 0.94-0.97. Admitting one prompt per step gave 0.83-0.94 (Blackwell
    below the band)."""
    from planner.perf.calibrate_latency import LATENCY_RUNS, predicted

    server = [run for run in LATENCY_RUNS
              if run.scenario == "server" and run.model == "llama-2-70b"]
    published = [run.published_ratio for run in server]
    low, high = min(published), max(published)
    assert low >= 0.88 and high <= 0.985
    for run in server[:5]:
        ratio = predicted(run) / predicted(run, bounded=False)
        assert low <= ratio <= high, (run.name, ratio)


def test_405b_server_ratio_inside_the_published_band() -> None:
    """MLPerf v5.1 Llama 3.1 405B (9,400-token mean prompts, p99 TTFT 6 s and TPOT 175 ms):
    Server/Offline is 0.534-0.538 on H200, 0.719 on Cisco's H100 16x, 0.764 on a DGX B200 and
    0.786 on a GB200 NVL72. At the published layouts and per-step token budgets (2,048 on
    Blackwell, 2,560 on H200; H100: neither is published) prompts are prefilled in pieces over
    4-5 steps and the prompt queue sets the load. The Blackwell and H100 ratios (0.71, 0.67,
    0.69) are inside the band, H200's (0.505) is 0.03 below it. Server throughput is within 5%
    on all four, Blackwell at the fused-quantisation FP4 rate its configs give (19-23% low at
    the unfused default). Before pieces (one step took a whole prompt) the B200 gave 0.808,
    above the band."""
    from planner.perf.calibrate_latency import LATENCY_RUNS, predicted

    runs = [r for r in LATENCY_RUNS if r.model == "llama-3.1-405b"
            and r.scenario == "server" and r.accelerators >= 8]
    assert {r.system for r in runs} == {"dgx-b200", "gb200-nvl72", "dgx-h200", "dgx-h100"}
    published = [r.published_ratio for r in runs]
    band = (min(published), max(published))
    assert band == pytest.approx((0.534, 0.786), abs=1e-3)
    for run in runs:
        server = predicted(run)
        assert server == pytest.approx(run.published_tokens_per_s / run.accelerators,
                                       rel=0.075), run.name
        ratio = server / predicted(run, bounded=False)
        if run.system == "dgx-h200":
            assert band[0] - 0.05 <= ratio < band[0], (run.name, ratio)
        else:
            assert band[0] <= ratio <= band[1], (run.name, ratio)


def test_latency_bounded_layout_search_keeps_pipeline_stages_for_models_that_need_them() -> None:
    """Without pins, the layout serving most at the TTFT/TPOT limits is a single-stage one
    whenever one fits (as offline and in prefill): on a DGX H100, 405B FP8 fits at TP8, and
    the search once took 16 pipeline stages over 128 GPUs, whose extra KV room lifted Server
    to 0.89 of Offline (+36% on Cisco's H100 16x, published 0.719)."""
    from planner.api import estimate
    from planner.perf.calibrate_latency import LATENCY_RUNS

    run = next(r for r in LATENCY_RUNS if r.name == "MLPerf v5.1 405B H100 16x Server (Cisco)")
    assert run.layout == ()  # nothing pinned: the search is what is tested
    workload = Path(__file__).resolve().parents[2] / "workloads/calibration/offline.yaml"
    bounded = estimate(workload, run.system, run.sets()).to_dict()
    offline = estimate(workload, run.system, run.sets(bounded=False)).to_dict()
    assert bounded["decode"]["parallelism"]["pp"] == 1
    ratio = bounded["tokens_per_s_per_unit"] / offline["tokens_per_s_per_unit"]
    assert 0.534 <= ratio <= 0.786, ratio
    # a model that fits only in stages still gets them (Llama 3.1 405B in BF16 does not fit
    # in one DGX H100 node's 640 GB)
    staged = estimate(workload, "dgx-h100", [
        f"model={run.model}", "input_tokens=9400", "output_tokens=685",
        "weights_precision=bf16", "compute_precision=bf16", "kv_precision=fp8",
        "ttft=6 s", "tpot=175 ms"]).to_dict()
    assert staged["decode"]["parallelism"]["pp"] > 1


def test_known_misses_are_outside_the_tolerance_and_reported() -> None:
    """The results kept out of the cases (calibrate_latency.OUT_OF_TOLERANCE) are still
    missed by more than the tolerance; when one comes within it, it belongs in the cases.
    `planner calibration` lists them apart with their errors and estimate calls."""
    from planner.perf.calibrate_latency import OUT_OF_TOLERANCE, misses
    from planner.report.calibration import calibration_report

    found = misses()
    assert [c.name for c in found] == [r.name for r in OUT_OF_TOLERANCE]
    assert all(abs(c.error) > c.tolerance for c in found), [(c.name, c.error) for c in found]
    report = calibration_report({"cases": [], "mean_abs_error": 0.0, "max_abs_error": 0.0,
                                 "all_within_tolerance": True, "errors": [],
                                 "known_misses": [c.to_dict() for c in found]})
    table = next(s for s in report.sections if getattr(s, "key", "") == "known_misses")
    assert [row[0] for row in table.rows] == [c.name for c in found]
    assert all(row[4].startswith("planner estimate") for row in table.rows)


def test_every_published_interactive_result_is_a_case_or_a_known_miss() -> None:
    """Llama 2 70B Interactive (DGX B200, GB200 tray) and Llama 3.1 405B Interactive on the
    DGX B200, the GB200 NVL72 and the H200 8x are cases; the DGX B200 405B result was a known
    miss (+44%) before attention ran at the KV cache's precision and prompt attention was
    charged apart; the only known miss is now a Server result (GB300 NVL72)."""
    from planner.perf.calibrate_latency import LATENCY_RUNS, OUT_OF_TOLERANCE

    cases = {(r.model, r.system) for r in LATENCY_RUNS if r.scenario == "interactive"}
    assert cases == {("llama-2-70b", "dgx-b200"), ("llama-2-70b", "gb200-nvl72"),
                     ("llama-3.1-405b", "dgx-b200"), ("llama-3.1-405b", "gb200-nvl72"),
                     ("llama-3.1-405b", "dgx-h200")}
    assert [(r.model, r.system, r.scenario) for r in OUT_OF_TOLERANCE] == [
        ("llama-3.1-405b", "gb300-nvl72", "server")]


def test_listed_commands_reproduce_the_predictions(monkeypatch: pytest.MonkeyPatch) -> None:
    """The `planner estimate` call each case lists gives its prediction (one code path)."""
    import json
    import shlex

    from click.testing import CliRunner

    from planner.cli import cli
    from planner.perf import calibrate_latency, calibrate_moe, calibrate_serving

    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    chosen = [calibrate_serving.cases()[10], calibrate_moe.cases()[2],
              calibrate_latency.cases()[0]]
    for case in chosen:
        command = case.note[case.note.index("planner estimate"):].split("  #")[0]
        pool = case.note.split("  # ")[-1].split(".tokens_per_s_per_unit")[0]
        result = CliRunner().invoke(cli, shlex.split(command)[1:])
        assert result.exit_code == 0, result.stderr
        data = json.loads(result.stdout)
        per_unit = data[pool]["tokens_per_s_per_unit"] if pool in ("prefill", "decode") \
            else data["tokens_per_s_per_unit"]
        accelerators = data["accelerators_needed"] / data["units_needed"]
        assert per_unit / accelerators == pytest.approx(case.predicted, rel=1e-9), case.name
