"""Unit tests of the serving model: step pieces, layouts, limits, prefill, cost and contract.

Systems and models are built inline so these tests do not depend on the repository's files.
Llama 3.1 405B figures used in the comments: W = 405,853,388,800 B in FP8; matmul weights
403,752,042,496 (the 128,256 x 16,384 input embedding is a lookup); kv = 516,096 B/token BF16.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from ep_toy import toy_ep

from planner.catalog.schema import Precision, System
from planner.errors import InputError
from planner.perf.assumptions import Assumption
from planner.perf.queueing import (
    erlang_c,
    max_load,
    max_offered_load,
    md1_wait_cdf,
    mean_wait_s,
    simulate_waits,
    wait_quantile_s,
)
from planner.perf.serving import (
    DEFAULTS,
    Bound,
    ContextMode,
    PrefillChunk,
    StepModel,
    attention_precision,
    candidate_layouts,
    compute_efficiency,
    compute_precision_for,
    decode_capacity,
    decode_context_tokens,
    estimate_serving,
    kv_memory_curve,
    kv_replication,
    prefill_tokens_per_s_per_unit,
    reserved_context_scale,
    serving_assumptions,
    time_to_first_token_s,
    vote_cost_multiplier,
)
from planner.perf.serving_moe import (
    EpFactors,
    ep_decode_step,
    ep_memory_batch,
    expected_experts_hit,
    expected_units_hit,
)
from planner.workload.schema import ModelSpec, Serve

GB = 1e9
ARCH_405B = {"layers": 126, "hidden": 16384, "heads": 128, "kv_heads": 8, "head_dim": 128,
             "ffn_hidden": 53248, "vocab": 128256}


def model(**arch: Any) -> ModelSpec:
    """Llama 3.1 405B, or a variant of its architecture."""
    return ModelSpec.model_validate({
        "id": "llama-3.1-405b", "name": "Llama 3.1 405B",
        "architecture": {**ARCH_405B, **arch}, "published": {"total_params": 405853388800},
        "context_length": 131072, "sources": {}})


def system(count: int = 8, domain: int = 8, rental: bool = True, **accel: Any) -> System:
    """A DGX H100-like unit; ``count`` accelerators per unit, ``domain`` per NVLink domain."""
    data: dict[str, Any] = {
        "id": "test-h100", "name": "test", "unit": "node",
        "accelerator": {"name": "H100", "count": count,
                        "peak_flops": {"fp8": "1979 TFLOPS", "bf16": "989 TFLOPS"},
                        "hbm_capacity": "80 GB", "hbm_bandwidth": "3.35 TB/s", "power": "700 W",
                        **accel},
        "scale_up": {"fabric": "NVLink", "domain_size": domain, "bandwidth": "900 GB/s"},
        "scale_out": {"fabric": "IB", "bandwidth": "400 Gb/s"},
        "host": {"cpu": "x86", "sockets": 2, "cores": 112, "memory": "2 TB"},
        "power": "10.2 kW",
        "purchase": {"price": "270k USD", "date": "2023-06", "estimate": True},
        "sources": {}}
    if rental:
        data["rental"] = {"price": "39.33 USD/h", "date": "2024-11", "estimate": False}
    return System.model_validate(data)


def serve(**changes: Any) -> Serve:
    data = {"kind": "serve", "name": "test", "model": "llama-3.1-405b", "input_tokens": 1000,
            "output_tokens": 2000, "interactivity": "20 tokens/s", "requests_per_second": "1 /s"}
    data.update(changes)
    return Serve.model_validate(data)


def assumptions(**values: float) -> dict[str, Assumption]:
    merged = dict(DEFAULTS)
    merged.update({k: Assumption(k, v, "test") for k, v in values.items()})
    return merged


# ---------------------------------------------------------------- small pure functions


@pytest.mark.parametrize(("mode", "expected"), [
    (ContextMode.FINAL, 3000.0),    # 1000 + 2000
    (ContextMode.AVERAGE, 2000.0),  # 1000 + 2000 / 2
    ("average", 2000.0),
], ids=["final", "average", "by-name"])
def test_decode_context_tokens(mode: ContextMode | str, expected: float) -> None:
    assert decode_context_tokens(1000, 2000, mode) == expected


@pytest.mark.parametrize(("votes", "shared", "read_once", "expected"), [
    (5, 0.0, True, 5.0),
    (5, 0.5, True, 3.0),    # 0.5 + 5 · 0.5
    (5, 0.9, True, 1.4),    # 0.9 + 5 · 0.1
    (5, 0.9, False, 5.0),   # the prefix is re-read by every stream
    (1, 0.7, True, 1.0),    # one vote costs one
], ids=["none-shared", "half", "most", "reread", "single"])
def test_vote_cost_multiplier(votes: int, shared: float, read_once: bool,
                              expected: float) -> None:
    assert vote_cost_multiplier(votes, shared, read_once) == pytest.approx(expected)


@pytest.mark.parametrize(("tp", "attention", "expected"), [
    (4, "gqa", 1.0),   # 8 KV heads over 4 ranks: no copies
    (8, "gqa", 1.0),
    (16, "gqa", 2.0),  # 16 ranks, 8 heads: each head on two ranks
    (8, "mla", 8.0),   # the latent is kept whole on every rank
], ids=["gqa-tp4", "gqa-tp8", "gqa-tp16", "mla-tp8"])
def test_kv_replication(tp: int, attention: str, expected: float) -> None:
    arch: dict[str, Any] = {"attention": attention}
    if attention == "mla":
        arch["mla"] = {"q_lora_rank": 1536, "kv_lora_rank": 512, "qk_nope_head_dim": 128,
                       "qk_rope_head_dim": 64, "v_head_dim": 128}
    assert kv_replication(model(**arch).architecture, tp) == expected


def test_compute_precision_falls_back_to_a_mode_the_chip_has() -> None:
    assert compute_precision_for(system(), Precision.FP4) is Precision.FP8
    assert compute_precision_for(system(), Precision.FP8) is Precision.FP8
    assert compute_precision_for(system(peak_flops={"bf16": "312 TFLOPS"}),
                                 Precision.FP8) is Precision.BF16


# ---------------------------------------------------------------- the step model


@pytest.mark.parametrize(("step", "target", "batch", "bound"), [
    # overlapped: compute (0.02 − 0.002) / 1.1e-4 = 163.6; memory (0.02 − 0.002 − 0.01) /
    # 1.1e-4 = 72.7 binds
    (StepModel(1e-4, 0.0, 0.01, 1e-4, 0.002, 1e-5, overlap=True), 0.02, 72.73,
     Bound.MEMORY_BANDWIDTH),
    # serial kernels, no comm: pieces g·b → 150, (g + kv)·b → 100, W + kv·b → 250; at 100,
    # compute 0.02 s > memory 0.015 s
    (StepModel(2e-4, 0.0, 0.005, 1e-4, 0.0, 0.0, overlap=False), 0.03, 100.0, Bound.COMPUTE),
    # the same step overlapped: compute 0.03 / 2e-4 = 150, memory 0.025 / 1e-4 = 250
    (StepModel(2e-4, 0.0, 0.005, 1e-4, 0.0, 0.0, overlap=True), 0.03, 150.0, Bound.COMPUTE),
    # communication: roots 0.02 / 1.1e-4 = 181.8 and 0.019 / 1.01e-4 = 188.1; at 181.8 the
    # all-reduces take 18.2 ms against 1.8 ms of compute
    (StepModel(1e-5, 0.0, 0.001, 1e-6, 0.0, 1e-4, overlap=True), 0.02, 181.82,
     Bound.COMMUNICATION),
], ids=["memory", "serial-compute", "overlapped-compute", "communication"])
def test_step_model_batch_at(step: StepModel, target: float, batch: float, bound: Bound) -> None:
    found, binding = step.batch_at(target)
    assert found == pytest.approx(batch, rel=1e-3)
    assert binding is bound
    assert step.step_s(found) == pytest.approx(target, rel=1e-9)


def test_serial_step_adds_kernel_rooflines() -> None:
    # max(2e-4 · 100, 0.005) + max(0, 1e-4 · 100) = 0.02 + 0.01
    step = StepModel(2e-4, 0.0, 0.005, 1e-4, 0.0, 0.0, overlap=False)
    assert step.step_s(100) == pytest.approx(0.03)


def test_unreachable_target_gives_zero_batch() -> None:
    # weights alone take 0.05 s > 0.02 s
    step = StepModel(1e-4, 0.0, 0.05, 1e-4, 0.0, 0.0)
    assert step.batch_at(0.02)[0] == 0.0


# ---------------------------------------------------------------- layouts


def test_candidate_layouts_on_an_eight_gpu_node() -> None:
    layouts = candidate_layouts(model().architecture, system())
    tp_only = [(lay.tp, lay.units_per_replica) for lay in layouts if lay.pp == 1]
    # 8 GPUs per node hold 8, 4, 2 or 1 replicas of TP1, TP2, TP4, TP8
    assert tp_only == [(1, 1 / 8), (2, 1 / 4), (4, 1 / 2), (8, 1.0)]
    piped = [(lay.tp, lay.pp, lay.units_per_replica) for lay in layouts if lay.pp > 1]
    # pipeline over TP8 nodes: 2..64 stages, one node per stage
    assert piped[0] == (8, 2, 2.0)
    assert piped[-1] == (8, 64, 64.0)


def test_candidate_layouts_in_a_72_gpu_domain() -> None:
    # powers of two up to 64 (heads 128); a rack holds 9 TP8 replicas and one TP64
    layouts = {lay.tp: lay for lay in candidate_layouts(model().architecture,
                                                        system(count=72, domain=72))
               if lay.pp == 1}
    assert sorted(layouts) == [1, 2, 4, 8, 16, 32, 64]
    assert layouts[8].replicas_per_unit == 9
    assert layouts[64].replicas_per_unit == 1


def test_replica_may_span_units_inside_one_domain() -> None:
    # a 4-GPU tray in a 72-GPU NVLink domain: a TP8 replica takes two trays
    layouts = {lay.tp: lay for lay in candidate_layouts(model().architecture,
                                                        system(count=4, domain=72))
               if lay.pp == 1}
    assert layouts[8].units_per_replica == 2.0


def test_tp_must_divide_the_head_count() -> None:
    # 40 heads: TP16 is not a divisor, so the largest tensor-parallel degree is 8
    arch = model(heads=40, kv_heads=8, hidden=5120).architecture
    tps = {lay.tp for lay in candidate_layouts(arch, system(count=72, domain=72))}
    assert max(tps) == 8


# ---------------------------------------------------------------- decode capacity


def _capacity(mdl: ModelSpec, sys_: System, **kw: Any) -> Any:
    args: dict[str, Any] = {"weights_precision": Precision.FP8, "kv_precision": Precision.BF16,
                            "compute_precision": Precision.FP8, "context_tokens": 2000,
                            "interactivity": 20.0, "assumptions": DEFAULTS}
    args.update(kw)
    return decode_capacity(mdl, sys_, **args)


def test_bf16_405b_needs_two_pipeline_stages_on_h100_nodes() -> None:
    # 811.7 GB of BF16 weights > 0.95 · 640 GB = 608 GB, so TP8 x PP2 over two nodes;
    # KV room (0.95 · 1,280e9 − 811.71e9) / (2,000 · 516,096) = 391.7 sequences
    cap = _capacity(model(), system(), weights_precision=Precision.BF16,
                    compute_precision=Precision.BF16)
    assert (cap.layout.tp, cap.layout.pp, cap.group_size) == (8, 2, 16)
    assert cap.layout.units_per_replica == 2.0
    assert cap.max_batch_memory == pytest.approx(391.69, rel=1e-3)


def test_offline_batch_is_the_hbm_limit() -> None:
    # FP8 weights, BF16 KV at 2,000 tokens: (608e9 − 405.85e9) / 1.0322e9 = 195.8 sequences
    cap = _capacity(model(), system(), interactivity=None)
    assert cap.max_batch == 195
    assert cap.max_batch_memory == pytest.approx(195.85, rel=1e-3)
    assert cap.max_batch_slo == float("inf")
    assert cap.fits_memory


def test_communication_term_matches_hand_arithmetic() -> None:
    # per sequence: 2 · 126 all-reduces · 2·7/8 · 16,384 · 2 B / (450e9 B/s · 0.6)
    #   = 14,450,688 B / 2.7e11 B/s = 53.52 µs; fixed: 252 · 10 µs = 2.52 ms
    cap = _capacity(model(), system())
    assert cap.group_size == 8
    assert cap.communication_s == pytest.approx(2.52e-3 + cap.max_batch * 53.521e-6, rel=1e-4)


def test_too_fast_a_target_serves_nothing() -> None:
    # reading 405.85 GB at 18.76 TB/s takes 21.6 ms > 1 ms per token
    cap = _capacity(model(), system(), interactivity=1000.0)
    assert cap.max_batch == 0
    assert cap.tokens_per_s_per_unit == 0.0


def test_pinned_group_size_that_does_not_fit() -> None:
    cap = _capacity(model(), system(), group_size=4)
    assert cap.max_batch == 0
    assert cap.bound == "hbm-capacity"


def test_unknown_group_size_is_an_input_error() -> None:
    with pytest.raises(InputError, match="no layout of 3 accelerators"):
        _capacity(model(), system(), group_size=3)


@pytest.mark.parametrize("rate", [5.0, 10.0, 20.0, 40.0])
def test_faster_users_mean_fewer_tokens_per_unit(rate: float) -> None:
    slower = _capacity(model(), system(), interactivity=rate)
    faster = _capacity(model(), system(), interactivity=rate * 1.5)
    assert faster.tokens_per_s_per_unit <= slower.tokens_per_s_per_unit


# ---------------------------------------------------------------- prefill and TTFT


def test_prefill_rate_matches_hand_arithmetic() -> None:
    # 1,000-token prompt, average context 500: matmuls 2 · 403,752,042,496 = 807.504 GFLOP per
    # token at FP8 (eff_c = 0.695 · 0.914 = 0.63523), attention 8,257,536 · 500 = 4.1288 GFLOP
    # at BF16 (the default BF16 KV cache, eff 0.695); TP8 is the only TP layout that fits:
    # 807.504e9 / (8 · 1,979e12 · 0.63523) + 4.1288e9 / (8 · 989e12 · 0.695)
    #   = 80.293 µs + 0.751 µs = 81.044 µs per token, 12,339.0 tokens/s per node
    # (communication and the tile model switched off)
    rate = prefill_tokens_per_s_per_unit(model(), system(), precision=Precision.FP8,
                                         prompt_tokens=1000,
                                         assumptions=assumptions(tp_comm=0, gemm_tiles=0))
    assert rate == pytest.approx(12339.0, rel=1e-4)


def test_prefill_is_zero_where_the_weights_do_not_fit() -> None:
    rate = prefill_tokens_per_s_per_unit(model(), system(), precision=Precision.FP8,
                                         prompt_tokens=1000, assumptions=DEFAULTS, group_size=2)
    assert rate == 0.0


def test_time_to_first_token_matches_hand_arithmetic() -> None:
    # compute 1,000 · 81.044 µs (the prefill case above: FP8 matmuls, BF16 attention)
    # = 0.081044 s > weights 405.85e9 / (8 · 3.35e12 · 0.7) = 0.02163 s (tile model off)
    layout = candidate_layouts(model().architecture, system())[3]
    ttft = time_to_first_token_s(model(), system(), layout, precision=Precision.FP8,
                                 weights_precision=Precision.FP8, prompt_tokens=1000,
                                 assumptions=assumptions(tp_comm=0, gemm_tiles=0))
    assert layout.tp == 8
    assert ttft == pytest.approx(0.081044, rel=1e-4)


# ---------------------------------------------------------------- the estimate


def test_estimate_contract_keys_and_json() -> None:
    out = estimate_serving(serve(), model(), system()).to_dict()
    for key in ("kv_bytes_per_token", "weights_bytes", "max_batch", "max_batch_slo",
                "max_batch_memory", "fits_memory", "tokens_per_s_per_user",
                "tokens_per_s_per_unit", "ttft_s", "usd_per_million_tokens", "parallelism",
                "bound", "assumptions"):
        assert key in out
    assert set(out["parallelism"]) >= {"tp", "pp", "group_size", "replicas_per_unit"}
    assert {a["name"] for a in out["assumptions"]} >= {"memory_bandwidth", "compute",
                                                         "scale_up", "pue"}
    json.dumps(out, allow_nan=False)


def test_cost_from_rental_price() -> None:
    # 39.33 USD/h = 0.010925 USD/s; USD per million = that / tokens/s · 1e6
    result = estimate_serving(serve(), model(), system())
    assert result.unit_usd_per_s == pytest.approx(39.33 / 3600)
    assert result.usd_per_million_tokens == pytest.approx(
        39.33 / 3600 / result.tokens_per_s_per_unit * 1e6)


def test_cost_from_purchase_when_there_is_no_rental() -> None:
    # 270,000 USD · CRF(10%, 5 y) = 270,000 · 0.263797 / 31,536,000 s = 2.2585e-3 USD/s
    # + energy 10.2 kW · 1.3 · 80 USD/MWh = 10,200 · 1.3 · 80 / 3.6e9 = 2.9467e-4 USD/s
    result = estimate_serving(serve(), model(), system(rental=False))
    assert result.unit_usd_per_s == pytest.approx(2.2585e-3 + 2.9467e-4, rel=1e-4)


def test_nothing_served_has_no_cost_per_token() -> None:
    result = estimate_serving(serve(interactivity="1000 tokens/s"), model(), system())
    assert result.tokens_per_s_per_unit == 0.0
    assert result.to_dict()["usd_per_million_tokens"] is None


def test_colocated_prefill_rides_in_the_decode_step() -> None:
    # chunked prefill: 1,000 prompt tokens over 2,000 output tokens = 0.5 per sequence per step;
    # the step's matmul term grows by that share, the weight reads do not. Tile model off: at
    # this small batch its decode steps (M = 1.5·b) lose more to partial tiles than 1,000-token
    # prompts run alone do, which would hide the effect tested here.
    spec = serve(disaggregated=False, interactivity="0 tokens/s")
    result = estimate_serving(spec, model(), system(), {"gemm_tiles": 0.0})
    alone = decode_capacity(model(), system(), weights_precision=Precision.FP8,
                            kv_precision=Precision.BF16, compute_precision=Precision.FP8,
                            context_tokens=2000, interactivity=None,
                            assumptions=assumptions(gemm_tiles=0),
                            layouts=(result.decode.layout,))
    assert result.deployment.disaggregated is False
    assert result.requests_per_s_per_unit == pytest.approx(result.tokens_per_s_per_unit / 2000)
    assert result.decode.max_batch == alone.max_batch  # same KV per sequence
    assert result.decode.step_time_s > alone.step_time_s
    back_to_back = 2000 / (2000 / alone.tokens_per_s_per_unit
                           + 1000 / result.prefill_tokens_per_s_per_unit)
    assert result.tokens_per_s_per_unit > back_to_back


def test_average_context_is_the_default_and_allows_a_larger_batch() -> None:
    final = estimate_serving(serve(), model(), system(), context_mode="final")
    average = estimate_serving(serve(), model(), system())
    assert average.context_tokens == 2000 and final.context_tokens == 3000
    assert average.context_mode == "average"
    assert average.decode.max_batch > final.decode.max_batch
    pinned = estimate_serving(serve(decode_context="final"), model(), system())
    assert pinned.context_tokens == 3000


def test_overrides_apply_and_unknown_names_are_rejected() -> None:
    table = serving_assumptions(serve(), system(), {"compute": 0.3})
    assert table["compute"].value == 0.3 and table["compute"].source == "override"
    with pytest.raises(InputError, match="did you mean 'compute'"):
        estimate_serving(serve(), model(), system(), {"comptue": 0.3})


def test_workload_efficiency_overrides_the_default() -> None:
    table = serving_assumptions(serve(efficiency={"memory_bandwidth": 0.8}), system())
    assert table["memory_bandwidth"].value == 0.8
    assert "workload test" in table["memory_bandwidth"].source


def test_unsupported_compute_precision_falls_back_to_a_wider_mode() -> None:
    # an H100 has no FP4 tensor mode: FP4 math runs at FP8, and the estimate says so
    result = estimate_serving(serve(compute_precision="fp4"), model(), system())
    assert result.compute_precision == "fp8"
    assert result.tokens_per_s_per_unit == pytest.approx(
        estimate_serving(serve(compute_precision="fp8"), model(), system()).tokens_per_s_per_unit)


def test_decode_capacity_rejects_a_missing_tensor_mode() -> None:
    with pytest.raises(InputError, match="no fp4 tensor mode"):
        _capacity(model(), system(), compute_precision=Precision.FP4)


def test_kv_memory_curve() -> None:
    # 2 sequences · 1,000 tokens · 516,096 B = 1.032192e9 B; with FP8 weights + 405.853e9 B
    points = kv_memory_curve(model(), batch=2, contexts=[1000, 2000],
                             kv_precision=Precision.BF16, weights_precision=Precision.FP8)
    assert points[0].kv_bytes == pytest.approx(1.032192e9)
    assert points[1].kv_bytes == pytest.approx(2.064384e9)
    assert points[0].total_bytes == pytest.approx(405.853388800e9 + 1.032192e9)


# ---------------------------------------------------------------- precision-dependent compute


@pytest.mark.parametrize(("precision", "expected"), [
    (Precision.BF16, 0.695),           # the BF16 reference: compute alone
    (Precision.FP8, 0.695 * 0.914),    # 0.63523
    (Precision.FP4, 0.695 * 0.559),    # 0.388505
    (Precision.TF32, 0.695),           # no relative factor measured: 1
], ids=["bf16", "fp8", "fp4", "tf32"])
def test_compute_efficiency_scales_by_the_precisions_relative_factor(
        precision: Precision, expected: float) -> None:
    assert compute_efficiency(DEFAULTS, precision) == pytest.approx(expected, rel=1e-9)


def test_a_pinned_compute_is_the_fraction_at_the_math_precision() -> None:
    """An overridden compute (the article's 0.5676 of the FP8 peak) is not scaled again, unless
    the relative factor is overridden as well."""
    pinned = serving_assumptions(serve(), system(), {"compute": 0.5676})
    assert compute_efficiency(pinned, Precision.FP8) == pytest.approx(0.5676)
    both = serving_assumptions(serve(), system(),
                               {"compute": 0.5, "compute_fp8_relative": 0.8})
    assert compute_efficiency(both, Precision.FP8) == pytest.approx(0.4)  # 0.5 · 0.8


def test_relative_factor_overridable_from_a_workload_file() -> None:
    table = serving_assumptions(serve(efficiency={"compute_fp4_relative": 0.5}), system())
    assert table["compute_fp4_relative"].value == 0.5
    assert compute_efficiency(table, Precision.FP4) == pytest.approx(0.695 * 0.5)  # 0.3475


def test_fp8_decode_compute_term_uses_the_relative_factor() -> None:
    # compute-bound gemm piece per sequence: 2 · 403,752,042,496 / (8 · 1,979e12 · eff_c);
    # FP8 at 0.914 is 1 / 0.914 = 1.094x slower per sequence than with the factor pinned at 1
    # (an FP8 cache, so the attention math is FP8 too and scales the same)
    kwargs = {"weights_precision": Precision.FP8, "kv_precision": Precision.FP8,
              "compute_precision": Precision.FP8, "context_tokens": 2000, "interactivity": None,
              "group_size": 8}
    plain = decode_capacity(model(), system(), assumptions=DEFAULTS, **kwargs)
    unity = decode_capacity(model(), system(), **kwargs,
                            assumptions=assumptions(compute_fp8_relative=1.0))
    assert plain.compute_s / unity.compute_s == pytest.approx(1 / 0.914, rel=1e-9)


def test_every_report_lists_the_relative_factors() -> None:
    names = {a["name"] for a in estimate_serving(serve(), model(), system()).to_dict()[
        "assumptions"]}
    assert {"compute_fp8_relative", "compute_fp4_relative"} <= names


# ---------------------------------------------------------------- attention precision, KV reserve


def blackwell() -> System:
    """A DGX B200-like unit: FP4 9, FP8 4.5, BF16 2.25 PFLOPS dense, 180 GB, 8 TB/s."""
    return system(name="B200", peak_flops={"fp4": "9 PFLOPS", "fp8": "4.5 PFLOPS",
                                           "bf16": "2.25 PFLOPS"},
                  hbm_capacity="180 GB", hbm_bandwidth="8 TB/s", power="1000 W")


@pytest.mark.parametrize(("kv", "compute", "expected"), [
    (Precision.FP8, Precision.FP4, Precision.FP8),    # FP4 model, FP8 cache: FP8 FMHA
    (Precision.FP4, Precision.FP4, Precision.FP8),    # no FP4 attention kernel
    (Precision.BF16, Precision.FP4, Precision.BF16),  # a BF16 cache gives BF16 attention
    (Precision.FP8, Precision.BF16, Precision.BF16),  # never narrower than the matmuls
], ids=["fp4-fp8kv", "fp4-fp4kv", "fp4-bf16kv", "bf16-fp8kv"])
def test_attention_runs_at_the_kv_caches_precision(kv: Precision, compute: Precision,
                                                   expected: Precision) -> None:
    assert attention_precision(blackwell(), kv, compute) is expected


def test_attention_falls_back_to_the_next_wider_mode() -> None:
    ampere = system(name="A100", peak_flops={"bf16": "312 TFLOPS"})
    assert attention_precision(ampere, Precision.FP8, Precision.BF16) is Precision.BF16


def test_fp4_prefill_attention_is_charged_at_the_fp8_rate() -> None:
    # TP8 405B FP4 on the B200-like unit, 8,000-token prompts (mean context 4,000), FP8 cache,
    # communication and the tile model off. Per token: matmuls 807.504 GFLOP at FP4, eff
    # 0.695 · 0.559 = 0.388505 of 9 PF; attention 8,257,536 · 4,000 = 33.030 GFLOP at FP8,
    # eff 0.695 · 0.914 = 0.63523 of 4.5 PF:
    #   807.504e9 / (8 · 9e15 · 0.388505) + 33.030e9 / (8 · 4.5e15 · 0.63523)
    #   = 28.868 µs + 1.4444 µs = 30.312 µs, 32,990 tokens/s per unit
    # With attention_kv_precision 0 (the article's roofline) the attention runs at the FP4 rate,
    # 33.030e9 / (8 · 9e15 · 0.388505) = 1.181 µs, and all 840.534 GFLOP at that rate.
    rate = prefill_tokens_per_s_per_unit(
        model(), blackwell(), precision=Precision.FP4, prompt_tokens=8000,
        weights_precision=Precision.FP4, kv_precision=Precision.FP8,
        assumptions=assumptions(tp_comm=0, gemm_tiles=0), group_size=8)
    assert rate == pytest.approx(1 / (807.504e9 / (8 * 9e15 * 0.388505)
                                      + 33.030144e9 / (8 * 4.5e15 * 0.695 * 0.914)), rel=1e-6)
    article = prefill_tokens_per_s_per_unit(
        model(), blackwell(), precision=Precision.FP4, prompt_tokens=8000,
        weights_precision=Precision.FP4, kv_precision=Precision.FP8,
        assumptions=assumptions(tp_comm=0, gemm_tiles=0, attention_kv_precision=0),
        group_size=8)
    assert article == pytest.approx(1 / (840.534144e9 / (8 * 9e15 * 0.388505)), rel=1e-6)


def test_prompt_attention_of_a_step_adds_to_the_decode_attention() -> None:
    # Non-overlapped step: max(g·b, W) + max(a·b, kv·b) + p·b. With g = 1 ms, W = 5 ms,
    # a = 0.1 ms, kv = 0.2 ms, p = 0.3 ms per sequence at b = 10:
    # max(10, 5) + max(1, 2) + 3 = 15 ms; the prompt chunks' FMHA no longer hides under the
    # decode attention's KV reads (it would give 10 + max(4, 2) = 14 ms)
    steps = StepModel(gemm_s_per_seq=1e-3, attention_s_per_seq=1e-4, weights_s=5e-3,
                      kv_s_per_seq=2e-4, comm_s_fixed=0.0, comm_s_per_seq=0.0, overlap=False,
                      prefill_attention_s_per_seq=3e-4)
    assert steps.step_s(10) == pytest.approx(15e-3)
    assert steps.compute_s(10) == pytest.approx(14e-3)  # (1 + 0.1 + 0.3) ms · 10
    assert steps.batch_at(15e-3)[0] == pytest.approx(10.0)


@pytest.mark.parametrize(("reserve", "expected"), [
    ("average", 1.0),
    ("final", 1.5),   # (1,000 + 2,000) / (1,000 + 2,000 / 2)
], ids=["average", "final"])
def test_reserved_context_scale(reserve: str, expected: float) -> None:
    spec = serve(kv_reserve=reserve)
    assert reserved_context_scale(spec, 2000.0) == pytest.approx(expected)
    assert reserved_context_scale(spec, 3000.0) == 1.0  # decoding at the final context already


def test_no_evict_reservation_shrinks_the_hbm_batch_by_final_over_mean() -> None:
    # Offline, 405B FP8 on TP8, BF16 cache, 1,000 in / 2,000 out: KV room
    # 0.95 · 640e9 − 405.853e9 = 202.147e9 B; per sequence at the mean 2,000 tokens
    # 1.032192e9 B (average: 195.8 sequences) and at the final 3,000 tokens 1.548288e9 B
    # (final: 130.6 sequences)
    def batch(reserve: str) -> float:
        spec = serve(kv_reserve=reserve, weights_precision="fp8",
                     layout={"decode": {"tp": 8}, "prefill": {"tp": 8}}
                     ).model_copy(update={"interactivity": None})
        result = estimate_serving(spec, model(), system()).to_dict()
        assert result["kv_reserve"] == reserve  # reported with the estimate
        return float(result["max_batch_memory"])

    room = 0.95 * 640e9 - 405_853_388_800
    assert batch("average") == pytest.approx(room / (2000 * 516_096), rel=1e-6)
    assert batch("final") == pytest.approx(room / (3000 * 516_096), rel=1e-6)


def test_engine_batch_limit_caps_the_offline_batch() -> None:
    # 10-token contexts leave HBM room for (0.95 · 640e9 − 405.853e9) / (10 · 516,096) =
    # 39,168 sequences on TP8; the engine decodes at most max_batch_per_replica of them
    # (default 2,048, TensorRT-LLM's max_batch_size), and the bound names the step's regime
    roomy = _capacity(model(), system(), context_tokens=10, interactivity=None,
                      group_size=8, assumptions=assumptions(max_batch_per_replica=1e9))
    assert roomy.max_batch == math.floor((0.95 * 640e9 - 405_853_388_800) / (10 * 516_096))
    capped = _capacity(model(), system(), context_tokens=10, interactivity=None, group_size=8)
    assert capped.max_batch == 2048
    assert capped.bound in ("compute", "memory-bandwidth", "communication")
    small = _capacity(model(), system(), context_tokens=10, interactivity=None, group_size=8,
                      assumptions=assumptions(max_batch_per_replica=100))
    assert small.max_batch == 100


# ---------------------------------------------------------------- MoE, pools, queueing, prices

def test_expected_experts_hit_by_hand() -> None:
    # E·(1 − (1 − k/E)^B), DeepSeek-V3: E 256, k 8
    assert expected_experts_hit(256, 8, 1) == pytest.approx(8.0)
    assert expected_experts_hit(256, 8, 8) == pytest.approx(256 * (1 - (31 / 32) ** 8))  # 57.42
    assert expected_experts_hit(256, 8, 8) == pytest.approx(57.42, abs=0.01)
    assert expected_experts_hit(256, 8, 128) == pytest.approx(251.60, abs=0.01)
    assert expected_experts_hit(256, 8, 0) == 0.0
    # units a token's 8 experts lie on, 4 units: 4·(1 − (3/4)^8) = 3.5995; node limit caps it
    assert expected_units_hit(4, 8, None) == pytest.approx(3.59955, abs=1e-5)
    assert expected_units_hit(18, 8, 4) == 4.0


def test_ep_all_to_all_bytes_on_the_links_they_cross() -> None:
    # 10 tokens per rank, 2 copies each, half the 16 ranks outside the 8-GPU domain:
    # per copy 1000·(1 + 2)·10 layers = 30 kB; out 10·1·30 kB / 1 GB/s = 0.3 ms,
    # in 10·1·30 kB / 10 GB/s = 0.03 ms; the two link kinds move at once, so 0.3 ms
    model, hw, f = toy_ep()
    point = ep_decode_step(model, hw, f, ep=16, tp=1, batch=10, context=0,
                           decode_attention_flops=0.0)
    assert point.communication_s == pytest.approx(3.0e-4)
    inside = ep_decode_step(model, hw, f, ep=8, tp=1, batch=10, context=0,
                            decode_attention_flops=0.0)
    assert inside.communication_s == pytest.approx(10 * 2 * 30e3 / 1e10)


def test_ep_all_to_all_waits_for_the_busiest_rank() -> None:
    # imbalance 1.5: the busiest rank receives and sends 1.5x the mean, 0.3 ms -> 0.45 ms,
    # and its routed matmuls take 1.5x too: 10 tokens · (2 + 1.5·1) GFLOP / 1 PFLOP/s
    model, hw, _ = toy_ep()
    skewed = EpFactors(overlap=0.0, imbalance=1.5, redundancy=0.0, kernel_overlap=False)
    point = ep_decode_step(model, hw, skewed, ep=16, tp=1, batch=10, context=0,
                           decode_attention_flops=0.0)
    assert point.communication_s == pytest.approx(4.5e-4)
    assert point.compute_s == pytest.approx(10 * 3.5e9 / 1e15)


def test_ep_decode_kernels_slow_the_compute_and_memory_part() -> None:
    # kernels at 0.5 of the rooflines double the non-communication part of the step
    model, hw, f = toy_ep()
    full = ep_decode_step(model, hw, f, ep=16, tp=1, batch=10, context=0,
                          decode_attention_flops=0.0)
    half = ep_decode_step(model, hw, EpFactors(0.0, 1.0, 0.0, False, decode_kernels=0.5),
                          ep=16, tp=1, batch=10, context=0, decode_attention_flops=0.0)
    cm = full.step_s - full.communication_s
    assert half.step_s == pytest.approx(2 * cm + full.communication_s)


@pytest.mark.parametrize(("ep", "domain", "overlapped", "cap"), [
    (72, 8, True, 256.0),  # SGLang's 9-node H100 decode: two micro-batches of 128
    (48, 72, False, 128.0),  # GB200 NVL72: inside one NVLink domain, one micro-batch
    (8, 8, False, 128.0),
], ids=["across-units", "nvl72", "one-node"])
def test_two_batch_overlap_only_across_units(ep: int, domain: int, overlapped: bool,
                                             cap: float) -> None:
    from types import SimpleNamespace

    from planner.perf.serving import DEFAULTS, Layout
    from planner.perf.serving_ep import decode_batch_cap, two_batch_overlap

    assert two_batch_overlap(ep, domain) is overlapped
    inp = SimpleNamespace(system=SimpleNamespace(scale_up=SimpleNamespace(domain_size=domain)),
                          eff=lambda name: DEFAULTS[name].value)
    layout = Layout(1, 1, 1.0, ep=ep, dp_attention=ep)
    assert decode_batch_cap(inp, layout) == cap  # type: ignore[arg-type]


def test_ep_weights_read_are_the_experts_hit() -> None:
    # batch 1 per rank on EP16: B = 16 tokens, hit = 1 − (7/8)^16 = 0.8822 of each rank's
    # experts; weights read = 10 GB + 160 GB / 16 · 0.8822 = 18.82 GB at 1 TB/s
    model, hw, f = toy_ep()
    point = ep_decode_step(model, hw, f, ep=16, tp=1, batch=1, context=0,
                           decode_attention_flops=0.0)
    hit = 1 - (7 / 8) ** 16
    assert point.memory_s == pytest.approx((10e9 + 10e9 * hit) / 1e12)
    # HBM: 80 GB − 10 GB − 10 GB of experts = 60 GB for KV; 1000 B/token at 3,000 tokens
    assert ep_memory_batch(model, hw, f, ep=16, tp=1, context=3000, reserve=0.0) == \
        pytest.approx(60e9 / 3e6)


def test_two_batch_overlap_hides_the_shorter_part() -> None:
    model, hw, f = toy_ep()
    serial = ep_decode_step(model, hw, f, ep=16, tp=1, batch=10, context=0,
                            decode_attention_flops=0.0)
    half = ep_decode_step(model, hw, EpFactors(0.5, 1.0, 0.0, False), ep=16, tp=1, batch=10,
                          context=0, decode_attention_flops=0.0)
    cm = serial.step_s - serial.communication_s
    assert half.step_s == pytest.approx(max(cm, serial.communication_s)
                                        + 0.5 * min(cm, serial.communication_s))


def test_queue_closed_form_matches_the_simulation() -> None:
    assert mean_wait_s(0.5, 1.0) == pytest.approx(0.5)  # M/D/1: ρS / (2(1 − ρ))
    # hand-computed tail at ρ = 0.5, S = 1: 0.5·(e^x − 1) = x at x = 1.2564; C = 0.5 /
    # (0.5·e^1.2564 − 1) = 0.6607; p99 = ln(0.6607 / 0.01) / 1.2564 = 3.337 s
    assert wait_quantile_s(0.5, 1.0, 0.99) == pytest.approx(3.337, abs=2e-3)
    for load in (0.3, 0.5, 0.8, 0.9):
        waits = simulate_waits(load, 1.0, 400_000, seed=3)
        assert float(waits.mean()) == pytest.approx(mean_wait_s(load, 1.0), rel=0.05)
        for quantile in (0.9, 0.99):
            simulated = float(np.quantile(waits, quantile))
            assert wait_quantile_s(load, 1.0, quantile) == pytest.approx(simulated, rel=0.06)
    assert wait_quantile_s(0.005, 1.0, 0.99) == 0.0  # fewer than 1% of requests wait
    # Erlang's exact distribution below one service time: P(W <= t) = (1 - rho)·e^(rho·t/S),
    # 0.5·e^0.25 = 0.6420 at rho = 0.5, t = S/2
    assert md1_wait_cdf(0.5, 0.5, 1.0) == pytest.approx(0.5 * math.exp(0.25))
    assert md1_wait_cdf(0.5, 0.0, 1.0) == pytest.approx(0.5)
    # light load: just above rho = 1 - q the p99 wait is short and grows continuously (the
    # exponential tail alone gave 0.43·S at rho = 0.0101 and 0 at 0.0099); simulated 0.087·S
    # at rho = 0.011
    assert wait_quantile_s(0.0101, 1.0, 0.99) < 0.02
    assert wait_quantile_s(0.011, 1.0, 0.99) == pytest.approx(0.087, abs=0.01)
    assert wait_quantile_s(0.011, 1.0, 0.99) == pytest.approx(
        (1.0 / 0.011) * math.log(0.99 / (1.0 - 0.011)))  # solves (1 - rho)·e^(rho·t) = 0.99
    # the exponential form with mean W / ρ (Kingman) is still used for variable service
    kingman = mean_wait_s(0.5, 1.0, 1.0) / 0.5 * math.log(0.5 / 0.01)
    assert wait_quantile_s(0.5, 1.0, 0.99, service_cv2=1.0) == pytest.approx(kingman)


def test_max_load_inverts_the_ttft_percentile() -> None:
    load = max_load(2.0, 0.1, 0.99, fixed_s=0.05)
    assert 0 < load < 1
    assert 0.05 + 0.1 + wait_quantile_s(load, 0.1, 0.99) == pytest.approx(2.0, rel=1e-6)
    assert max_load(0.1, 0.2, 0.99) == 0.0  # even an idle server misses the limit


def _mmc_waits(servers: int, offered: float, requests: int, seed: int) -> np.ndarray:
    """Waits for a slot in an M/M/c queue (unit mean holding time), first come first served."""
    rng = np.random.default_rng(seed)
    arrivals = np.cumsum(rng.exponential(1.0 / offered, size=requests))
    holding = rng.exponential(1.0, size=requests)
    free = np.zeros(servers)  # when each slot next becomes free
    waits = np.empty(requests)
    for i in range(requests):
        slot = int(np.argmin(free))
        start = max(arrivals[i], free[slot])
        waits[i] = start - arrivals[i]
        free[slot] = start + holding[i]
    return waits


def test_erlang_c_matches_closed_forms_and_a_simulation() -> None:
    assert erlang_c(1, 0.6) == pytest.approx(0.6)  # M/M/1: P(wait) = ρ
    assert erlang_c(2, 1.0) == pytest.approx(1.0 / 3.0)  # M/M/2: 2ρ²/(1 + ρ) at ρ = 1/2
    assert erlang_c(12, 10.0) == pytest.approx(0.4494, abs=1e-4)  # Erlang C table
    assert erlang_c(4, 0.0) == 0.0 and erlang_c(4, 4.0) == 1.0
    waits = _mmc_waits(4, 3.0, 60_000, seed=5)[5_000:]
    assert float((waits > 0).mean()) == pytest.approx(erlang_c(4, 3.0), abs=0.03)
    # tail: P(W > t) = C·exp(−(c − a)·t / S)
    assert float((waits > 0.5).mean()) == pytest.approx(erlang_c(4, 3.0) * np.exp(-0.5),
                                                        abs=0.03)


def test_max_offered_load_keeps_the_slot_wait_percentile() -> None:
    occupancy = max_offered_load(64, 10.0, 0.5, 0.99)
    assert 0 < occupancy < 64
    tail = erlang_c(64, occupancy) * np.exp(-(64 - occupancy) * 0.5 / 10.0)
    assert tail == pytest.approx(0.01, rel=1e-3)
    # square-root staffing: a larger batch leaves a smaller share of its slots empty
    assert max_offered_load(8, 10.0, 0.5, 0.99) / 8 < occupancy / 64 \
        < max_offered_load(512, 10.0, 0.5, 0.99) / 512
    assert max_offered_load(0, 10.0, 0.5, 0.99) == 0.0


DEEPSEEK = {"layers": 61, "hidden": 7168, "heads": 128, "kv_heads": 128, "head_dim": 128,
            "ffn_hidden": 18432, "vocab": 129280, "attention": "mla",
            "mla": {"q_lora_rank": 1536, "kv_lora_rank": 512, "qk_nope_head_dim": 128,
                    "qk_rope_head_dim": 64, "v_head_dim": 128},
            "moe": {"experts": 256, "experts_per_token": 8, "shared_experts": 1,
                    "expert_ffn_hidden": 2048, "dense_layers": 3, "node_limit": 4}}


def deepseek() -> ModelSpec:
    return ModelSpec.model_validate({
        "id": "deepseek-v3", "name": "DeepSeek-V3", "architecture": DEEPSEEK,
        "published": {"total_params": 671e9}, "context_length": 131072, "sources": {}})


def moe_serve(**changes: Any) -> Serve:
    return serve(model="deepseek-v3", input_tokens=2000, output_tokens=1000,
                 interactivity="0 tokens/s", **changes)


def test_moe_search_finds_wide_ep_and_honours_pins() -> None:
    result = estimate_serving(moe_serve(disaggregated=True), deepseek(), system())
    decode = result.to_dict()["decode"]["parallelism"]
    assert decode["ep"] > 8 and decode["dp_attention"] == decode["ep"] and decode["tp"] == 1
    pinned = estimate_serving(moe_serve(disaggregated=True,
                                        layout={"decode": {"ep": 144},
                                                "prefill": {"ep": 32}}), deepseek(), system())
    data = pinned.to_dict()
    assert data["decode"]["parallelism"] == {"tp": 1, "pp": 1, "ep": 144, "dp_attention": 144}
    assert data["prefill"]["parallelism"]["ep"] == 32
    with pytest.raises(InputError, match="mixture-of-experts"):
        estimate_serving(serve(layout={"decode": {"ep": 16}}), model(), system())


def test_mla_latent_is_stored_once_per_attention_rank() -> None:
    # EP144: each GPU holds 17.12 GB of non-expert weights and 653.9 GB · 1.125 / 144 of experts;
    # its sequences' latent KV (70,272 B/token in BF16) is not replicated
    result = estimate_serving(moe_serve(disaggregated=True, layout={"decode": {"ep": 144}}),
                              deepseek(), system())
    decode = result.decode
    weights = 17_117_633_536 + 653_908_770_816 * 1.125 / 144
    kv = decode.max_batch * 2500 * 70_272
    assert decode.memory_bytes_per_replica == pytest.approx((weights + kv) * 144, rel=1e-6)


def test_disaggregated_pools_ratio_transfer_and_prices() -> None:
    result = estimate_serving(moe_serve(disaggregated=True), deepseek(), system())
    dep = result.deployment
    assert dep is not None and dep.disaggregated
    data = result.to_dict()
    # prefill units per decode unit = (P / prefill rate) / (O / decode rate)
    ratio = (2000 / data["prefill"]["tokens_per_s_per_unit"]) / \
        (1000 / data["decode"]["tokens_per_s_per_unit"])
    assert data["prefill_to_decode_units"] == pytest.approx(ratio)
    assert data["prefill"]["units"] / data["decode"]["units"] == pytest.approx(ratio)
    # KV moved: 2,000 · 70,272 B over 50 GB/s at ep_network 0.85
    assert data["kv_transfer_s"] == pytest.approx(2000 * 70_272 / (50e9 * 0.85))
    # input and output prices add up to the cost of a request
    per_request = (data["usd_per_million_input_tokens"] * 2000
                   + data["usd_per_million_output_tokens"] * 1000) / 1e6
    assert per_request == pytest.approx(data["unit_usd_per_s"] / data["requests_per_s_per_unit"])


def test_prefix_cache_removes_prefill_compute_and_reports_its_kv() -> None:
    cold = estimate_serving(moe_serve(disaggregated=True), deepseek(), system()).to_dict()
    warm = estimate_serving(moe_serve(disaggregated=True, prefix_cache_hit_fraction=0.5),
                            deepseek(), system()).to_dict()
    # half the prompt computed: input tokens served per prefill unit about double (the cached
    # half is still attended to, so a little less than double)
    gain = warm["prefill"]["tokens_per_s_per_unit"] / cold["prefill"]["tokens_per_s_per_unit"]
    assert 1.7 < gain <= 2.0
    assert warm["prefix_cache_bytes_per_request"] == pytest.approx(0.5 * 2000 * 70_272)
    assert warm["usd_per_million_cached_input_tokens"] < warm["usd_per_million_input_tokens"]
    assert cold["usd_per_million_cached_input_tokens"] is None


def test_latency_limits_hold_and_cost_throughput() -> None:
    # on the same layout (the offline search keeps tensor parallelism where it fits, the
    # latency-bound one may take a deep pipeline whose batch holds more slots)
    pin = {"decode": {"tp": 8, "pp": 1}}
    free = estimate_serving(serve(interactivity="0 tokens/s", layout=pin), model(), system())
    bound = estimate_serving(serve(interactivity="0 tokens/s", ttft={"p99": "1 s"},
                                   tpot={"p90": "60 ms"}, layout=pin), model(), system())
    data = bound.to_dict()
    assert data["ttft_p99_s"] <= 1.0 + 1e-9 and data["tpot_p99_s"] <= 0.06 + 1e-12
    assert bound.tokens_per_s_per_unit < free.tokens_per_s_per_unit
    assert 0 < data["load"] < 1
    assert free.to_dict()["ttft_p99_s"] is None  # no limit: the queue runs full


def test_prompt_share_at_the_tpot_percentile_by_hand() -> None:
    """(1 + z/√b): 2 prompt tokens per sequence per step at b = 64 and z = 2.326 (p99) is
    2·(1 + 2.326/8) = 2.5815 at the percentile; a mean-speed limit (z = 0) keeps the mean."""
    chunk = PrefillChunk(2.0, 5000.0, burst_z=2.326, tpot_limit_s=0.08)
    assert chunk.bursty
    assert chunk.at_percentile(64).tokens_per_step == pytest.approx(2.5815)
    assert not chunk.at_percentile(64).bursty  # the percentile step carries no second burst
    mean = PrefillChunk(2.0, 5000.0)
    assert not mean.bursty and mean.at_percentile(64) is mean


@pytest.mark.parametrize("batch", [16, 64, 256])
def test_prompts_in_a_request_decode_window_match_the_closed_form(batch: int) -> None:
    """Simulated Poisson arrivals: the prompts that arrive while one request decodes number b
    on average at full load (Little's law: λ = b / window), and their 99th percentile over
    requests is b·(1 + 2.326/√b) within 6% (normal approximation of the Poisson count)."""
    rng = np.random.default_rng(7)
    window = 1.0
    arrivals = np.cumsum(rng.exponential(window / batch, size=400_000))
    ends = np.searchsorted(arrivals, arrivals + window, side="right")
    counts = (ends - np.arange(arrivals.size) - 1)[: arrivals.size - 4 * batch]
    assert float(counts.mean()) == pytest.approx(batch, rel=0.02)
    simulated = float(np.quantile(counts, 0.99)) / batch
    assert simulated == pytest.approx(1.0 + 2.326 / np.sqrt(batch), rel=0.06)


def test_a_p99_tpot_limit_costs_more_than_a_p50_one_at_small_batches() -> None:
    """Long prompts and a tight TPOT leave a small colocated batch (25 at p50); at p99 its
    steps must absorb the prompt bursts a request meets, so the batch (and throughput) is
    smaller than at p50, and the reported p99 TPOT, not the mean step, sits at the limit."""
    pin = {"decode": {"tp": 8, "pp": 1}}
    common = {"interactivity": "0 tokens/s", "input_tokens": 8000, "output_tokens": 500,
              "layout": pin, "ttft": {"p99": "20 s"}, "disaggregated": False}
    p50 = estimate_serving(serve(tpot={"p50": "80 ms"}, **common), model(), system())
    p99 = estimate_serving(serve(tpot={"p99": "80 ms"}, **common), model(), system())
    assert p99.tokens_per_s_per_unit < p50.tokens_per_s_per_unit
    data = p99.to_dict()
    assert data["tpot_p99_s"] <= 0.08 + 1e-12
    assert data["tpot_p99_s"] > data["step_time_s"]
    assert p50.to_dict()["tpot_p99_s"] == pytest.approx(p50.to_dict()["step_time_s"])


def test_auto_keeps_the_deployment_with_more_tokens_per_unit() -> None:
    options = [estimate_serving(moe_serve(disaggregated=d, ttft="2 s"), deepseek(), system())
               for d in (False, True)]
    auto = estimate_serving(moe_serve(ttft="2 s"), deepseek(), system())
    assert auto.tokens_per_s_per_unit == pytest.approx(max(o.tokens_per_s_per_unit
                                                           for o in options))


# ---------------------------------------------------------------- the commands of the issue


def _cli(*args: str) -> tuple[int, str, str]:
    from pathlib import Path

    from click.testing import CliRunner

    from planner.cli import cli

    repo = Path(__file__).resolve().parents[2]
    result = CliRunner().invoke(cli, [a.replace("REPO", str(repo)) for a in args])
    return result.exit_code, result.stdout, result.stderr


def test_cli_pins_wide_ep_and_reports_the_pools() -> None:
    code, out, _ = _cli("estimate", "REPO/examples/moe_serving/deepseek_r1.yaml", "--hardware",
                        "hgx-h800", "--set", "layout.decode.ep=144", "--set",
                        "disaggregated=true", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["decode"]["parallelism"] == {"tp": 1, "pp": 1, "ep": 144, "dp_attention": 144}
    for key in ("units", "parallelism", "tokens_per_s_per_unit", "bound"):
        assert key in data["prefill"] and key in data["decode"]
    assert data["disaggregated"] is True
    assert data["ttft_p99_s"] <= 2.0 + 1e-9 and data["tpot_p99_s"] <= 0.05
    assert data["usd_per_million_input_tokens"] > 0 and data["usd_per_million_output_tokens"] > 0
    # the whole deployment's output tokens/s per unit, from its two pools
    units = data["prefill"]["units"] + data["decode"]["units"]
    assert data["tokens_per_s_per_unit"] == pytest.approx(200 * 2000 / units)


@pytest.mark.parametrize(("option", "message"), [
    ("ttft.p50=1 s", "ttft: give exactly one percentile, e.g. {p99: 2 s}"),
    ("layout.decode.ep=100", "pin ep = tp x dp_attention"),
    ("disaggregated=maybe", "expected 'auto'"),
])
def test_cli_rejects_bad_serving_input(option: str, message: str) -> None:
    extra = ("--set", "layout.decode.tp=3") if option.startswith("layout") else ()
    code, out, err = _cli("estimate", "REPO/examples/moe_serving/deepseek_r1.yaml", "--hardware",
                          "hgx-h800", "--set", option, *extra)
    assert code == 2 and out == "" and "Traceback" not in err
    assert message in err


def test_colocated_load_is_capped_by_the_batch_slot_occupancy() -> None:
    # 40 tokens/s per user leaves few slots per replica, each held for 2,000 steps; with a 3 s
    # p99 TTFT the prefill queue alone would allow more, so the Erlang C occupancy a / c sets
    # the load (square-root staffing leaves a small batch's slots emptier): tensor parallelism
    # holds c = 6 slots at a / c about 0.31. An 8-stage pipeline would hold 45 slots at about
    # 0.71, but pipeline stages are taken only when no single-stage layout fits (published
    # MLPerf 405B Server results gain nothing per GPU from more nodes: Cisco's H100 32x serves
    # the same 35.2 tokens/s per GPU as its 16x)
    from planner.perf.queueing import max_offered_load

    spec = serve(disaggregated=False, interactivity="40 tokens/s", ttft={"p99": "3 s"})
    result = estimate_serving(spec, model(), system())
    dep = result.deployment
    assert dep is not None and dep.disaggregated is False
    c = result.decode.max_batch
    holding = 2000 * result.decode.step_time_s
    slack = 3.0 - dep.ttft_unloaded_s
    occupancy = max_offered_load(c, holding, slack, 0.99) / c
    assert result.decode.layout.pp == 1
    assert c == 6 and 0.25 < occupancy < 0.35
    assert dep.load == pytest.approx(occupancy)
    staged = estimate_serving(serve(disaggregated=False, interactivity="40 tokens/s",
                                    ttft={"p99": "3 s"}, layout={"decode": {"pp": 8}}),
                              model(), system())
    assert staged.decode.layout.pp == 8 and staged.decode.max_batch == 45


def test_prompts_admitted_per_step_fit_the_token_budget_and_the_step_limit() -> None:
    # hand-computed: P_c = 1,000 prompt tokens, O = 2,000 generated, a batch of 100 in a 20 ms
    # step carries 100 * 1,000 / 2,000 = 50 prompt tokens; a 40 ms limit leaves 20 ms, which
    # computes 2,000 more at 100,000 prompt tokens/s: budget 2,050, k = 2 (8 with no limit,
    # the engine's 8,192; 1 when the step already fills the limit)
    import dataclasses

    from planner.perf import serving_pools as sp
    from planner.workload.schema import LatencyTarget

    decode = estimate_serving(serve(), model(), system()).decode
    point = dataclasses.replace(decode, max_batch=100, step_time_s=0.020)
    ttft = LatencyTarget.model_validate({"p99": "2 s"})
    work = sp._Work(1000.0, 1000.0, 1000.0, 2000.0, 1500.0, 0.040, ttft, None)
    budget = assumptions()
    assert sp._admitted_per_step(work, point, budget, 100_000.0) == 2.0
    free = sp._replace_step(work, 0.0)
    assert sp._admitted_per_step(free, point, budget, 100_000.0) == 8.0
    tight = sp._replace_step(work, 0.020)
    assert sp._admitted_per_step(tight, point, budget, 100_000.0) == 1.0
    # the full batch's prompt queue load is b / (O * k): 100 / 4,000 leaves the queue nearly
    # idle (share 1); 8,000 / 4,000 = 2 overloads it, and the share kept busy is the M/D/1 load
    # meeting the 2 s p99 (service step / k = 10 ms after a 500 ms prefill) over 2
    assert sp._queue_load(work, point, 2.0) == pytest.approx(0.025)
    assert sp._admission_load(work, point, 0.5, 2.0) == 1.0
    crowded = dataclasses.replace(point, max_batch=8000)
    rho = max_load(2.0, 0.010, 0.99, 0.5)
    assert 0.9 < rho < 1.0
    assert sp._admission_load(work, crowded, 0.5, 2.0) == pytest.approx(rho / 2.0)


def test_prompts_longer_than_the_token_budget_are_prefilled_over_several_steps() -> None:
    # hand-computed: P_c = 10,000 prompt tokens, O = 1,000 generated, budget 4,096: the prompt
    # takes 10,000 / 4,096 = 2.441 steps' budgets (first come first served: the next prompt
    # fills what its last piece leaves). A batch of 10 in a 50 ms step already carries
    # 10 * 10,000 / 1,000 = 100 prompt tokens, so a step with a full budget takes
    # 50 ms + (4,096 - 100) / 100,000 s = 89.96 ms and the queue serves one prompt per
    # 2.441 * 89.96 = 219.6 ms: k = 50 / 219.6 = 0.2277 (the old rule took the whole prompt
    # into one 50 ms step, k = 1, whatever its length)
    import dataclasses

    from planner.perf import serving_pools as sp
    from planner.workload.schema import LatencyTarget

    decode = estimate_serving(serve(), model(), system()).decode
    point = dataclasses.replace(decode, max_batch=10, step_time_s=0.050)
    ttft = LatencyTarget.model_validate({"p99": "6 s"})
    work = sp._Work(10_000.0, 10_000.0, 10_000.0, 1000.0, 10_500.0, 0.175, ttft, None)
    budget = assumptions(prefill_batch_tokens=4096.0)
    assert sp._prompt_pieces(work, budget) == 3
    full_step = 0.050 + (4096.0 - 100.0) / 100_000.0
    k = sp._admitted_per_step(work, point, budget, 100_000.0)
    assert k == pytest.approx(0.050 / (10_000.0 / 4096.0 * full_step))
    assert k == pytest.approx(0.2277, abs=1e-4)
    # the prompt queue's load at the full batch: 10 / (1,000 * 0.2277) = 0.0439
    assert sp._queue_load(work, point, k) == pytest.approx(0.0439, abs=1e-4)
    # a budget that holds the prompt keeps one piece (and the TPOT-capped bulk rule)
    assert sp._prompt_pieces(work, assumptions(prefill_batch_tokens=10_000.0)) == 1


def test_prefill_all_reduce_runs_at_large_message_bus_bandwidth() -> None:
    # hand-computed per prompt token on a TP8 replica of Llama 3.1 405B (16,384 wide, 126
    # layers) with 2-byte activations: 2 * 126 * (2 * 7 / 8) * 16,384 * 2 B = 14,450,688 B over
    # one direction of the 900 GB/s link, 450 GB/s: 32.1 us at prefill_scale_up (1.0) for
    # prefill, 53.5 us at scale_up (0.6) for decode steps
    from planner.perf import serving as sv
    from planner.perf.precision import Precision

    sys8 = system()
    inp = sv._inputs(model(), sys8, Precision.BF16, Precision.BF16, Precision.BF16,
                     assumptions())
    layout = sv.layout_for(model().architecture, sys8, 8)
    per_token = (sv.ALLREDUCES_PER_LAYER * model().architecture.layers * 2 * 7 / 8
                 * model().architecture.hidden * 2.0)
    one_way = sys8.scale_up.bandwidth / 2.0
    assert sv._comm_per_token_s(inp, layout, prefill=True) == pytest.approx(
        per_token / (one_way * 1.0))
    assert per_token == 14_450_688
    assert sv._comm_per_token_s(inp, layout) == pytest.approx(per_token / (one_way * 0.6))
    assert sv._comm_per_token_s(inp, layout, prefill=True) == pytest.approx(32.11e-6, rel=1e-3)
