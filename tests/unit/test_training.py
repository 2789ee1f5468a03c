"""Training model: FLOPs, activation and state memory, step time, comm volumes, plan search."""

from __future__ import annotations

import copy
import dataclasses
import math
from typing import Any

import pytest

from planner.catalog.load import load_catalog
from planner.catalog.schema import Precision, System
from planner.errors import InfeasibleError, InputError
from planner.perf import comm
from planner.perf.training import (
    DEFAULTS,
    Plan,
    TrainingJob,
    activation_bytes_per_token_layer,
    bubble_s,
    candidate_plans,
    ep_time_s,
    estimate_pretrain,
    fastest_plan,
    fewest_accelerators,
    high_precision_flops_per_token,
    job_goodput,
    memory_per_accelerator,
    microbatch_time_s,
    recompute_flops_per_token,
    stage_flops_per_token,
    step_time,
    training_flops_per_token,
    training_throughput,
)
from planner.workload.load import load_model
from planner.workload.schema import (
    ModelSpec,
    Parallelism,
    PipelineSchedule,
    Pretrain,
    Recompute,
)

SOURCE = {"url": "https://example.org/spec", "tag": "vendor"}

H100_NODE: dict[str, Any] = {
    "id": "test-h100", "name": "8x H100", "unit": "node",
    "accelerator": {"name": "H100", "count": 8,
                    "peak_flops": {"fp8": "1979 TFLOPS", "bf16": "989 TFLOPS"},
                    "hbm_capacity": "80 GB", "hbm_bandwidth": "3.35 TB/s", "power": "700 W"},
    "scale_up": {"fabric": "NVLink 4", "domain_size": 8, "bandwidth": "900 GB/s"},
    "scale_out": {"fabric": "IB", "bandwidth": "400 Gb/s"},
    "host": {"cpu": "2x Xeon", "sockets": 2, "cores": 112, "memory": "2 TB"},
    "power": "10.2 kW",
    "purchase": {"price": "270k USD", "date": "2023-06", "estimate": True},
    "rental": {"price": "39.33 USD/h", "date": "2024-11", "estimate": False},
    "sources": {"accelerator": SOURCE, "scale_up": SOURCE, "scale_out": SOURCE,
                "host": SOURCE, "power": SOURCE, "purchase": SOURCE, "rental": SOURCE},
}

LLAMA_405B = {"layers": 126, "hidden": 16384, "heads": 128, "kv_heads": 8, "head_dim": 128,
              "ffn_hidden": 53248, "vocab": 128256}
LLAMA_8B = {"layers": 32, "hidden": 4096, "heads": 32, "kv_heads": 8, "head_dim": 128,
            "ffn_hidden": 14336, "vocab": 128256}


def make_system(**changes: Any) -> System:
    data = copy.deepcopy(H100_NODE)
    data.update(changes)
    return System.model_validate(data)


def make_model(arch: dict[str, Any], total: float, name: str = "test-model") -> ModelSpec:
    return ModelSpec.model_validate({"id": name, "name": name, "architecture": arch,
                                     "published": {"total_params": total},
                                     "context_length": 8192,
                                     "sources": {"architecture": SOURCE}})


def make_pretrain(**fields: Any) -> Pretrain:
    base: dict[str, Any] = {"kind": "pretrain", "name": "test", "model": "test-model",
                            "tokens": 1e12, "sequence_length": 8192}
    return Pretrain.model_validate({**base, **fields})


# A job with round numbers so that every quantity can be worked out by hand.
HAND_JOB = TrainingJob(
    layers=32, hidden=4096, heads=32, sequence_length=4096, batch_sequences=256, params=8e9,
    model_flops_per_token=4.8e10, recompute_flops_per_token=0.0,
    activation_bytes_per_token_layer=100_000.0, recompute=Recompute.SELECTIVE, zero_stage=1,
    peak_flops=1e15, hbm_bytes=80e9, scale_up_bytes_per_s=400e9, scale_up_domain=8,
    scale_out_bytes_per_s=50e9, matmul_efficiency=0.5, scale_up_efficiency=0.8,
    scale_out_efficiency=0.8, comm_overlap=1.0)
HAND_PLAN = Plan(tp=2, pp=4, dp=8, microbatch=1)


# --- FLOPs ----------------------------------------------------------------------------------


def test_training_flops_per_token_of_llama_405b() -> None:
    # matmul params = 405,853,388,800 - 128,256 x 16,384 (input embedding) = 403,752,042,496;
    # 6 x that = 2.422512e12; attention 6 x 126 x 128 x 128 x 8,192 = 1.014686e11.
    arch = make_model(LLAMA_405B, 405.85e9).architecture
    expected = 6 * 403_752_042_496 + 6 * 126 * 128 * 128 * 8192
    assert training_flops_per_token(arch, 8192) == pytest.approx(expected, rel=1e-12)
    # measurements.md: 2.43e12 + 0.10e12 = 2.53e12 (rounded from 405B and 16,384 x 126).
    assert training_flops_per_token(arch, 8192) == pytest.approx(2.53e12, rel=0.005)


@pytest.mark.parametrize(("recompute", "expected"), [
    (Recompute.NONE, 0.0),
    # attention core forward only: 2 x 126 x 128 x 128 x 8,192 = 3.3823e10
    (Recompute.SELECTIVE, 2 * 126 * 128 * 128 * 8192),
    # the whole forward: a third of the training FLOPs
    (Recompute.FULL, (2 * 403_752_042_496 + 2 * 126 * 128 * 128 * 8192)),
], ids=["none", "selective", "full"])
def test_recompute_flops(recompute: Recompute, expected: float) -> None:
    arch = make_model(LLAMA_405B, 405.85e9).architecture
    assert recompute_flops_per_token(arch, 8192, recompute) == pytest.approx(expected)


# --- memory ---------------------------------------------------------------------------------


def test_activation_bytes_per_token_layer_of_llama_405b() -> None:
    # 2 bytes x (norm inputs 2d + matmul inputs 2d + q d + k,v 2 x 1,024 + out d + 3 x 53,248)
    # = 2 x (4 x 16,384 + 16,384 + 2,048 + 16,384 + 159,744) = 2 x 260,096 = 520,192.
    arch = make_model(LLAMA_405B, 405.85e9).architecture
    assert activation_bytes_per_token_layer(arch) == 520_192


def test_activation_bytes_of_a_gpt_block_is_korthikanti_without_dropout() -> None:
    # GPT layer (MHA, MLP of 8d² weights as SwiGLU of width 8d/3): Korthikanti's 34·d less the
    # two dropout masks (2·d) = 32·d = 131,072 bytes at d = 4,096.
    arch = make_model({"layers": 2, "hidden": 4096, "heads": 32, "kv_heads": 32,
                       "head_dim": 128, "ffn_hidden": 10923, "vocab": 1000,
                       "tied_embeddings": True}, 0.4e9).architecture
    assert activation_bytes_per_token_layer(arch) == pytest.approx(32 * 4096, rel=1e-4)


@pytest.mark.parametrize(("zero", "weights", "grads", "optimizer"), [
    # 8e9 params x (8 of 32 layers) / TP 2 = 1e9 per accelerator; d = 8.
    (0, 2e9, 2e9, 12e9),
    (1, 2e9, 2e9, 1.5e9),
    (2, 2e9, 0.25e9, 1.5e9),
    # ZeRO-3 shards weights (2e9/8) and holds two gathered layers: 2 x 2 B x 8e9/32/2.
    (3, 0.25e9 + 0.5e9, 0.25e9, 1.5e9),
], ids=["zero0", "zero1", "zero2", "zero3"])
def test_model_states_under_zero(zero: int, weights: float, grads: float,
                                 optimizer: float) -> None:
    job = dataclasses.replace(HAND_JOB, zero_stage=zero)
    memory = memory_per_accelerator(job, HAND_PLAN)
    assert memory.weights_bytes == pytest.approx(weights)
    assert memory.gradients_bytes == pytest.approx(grads)
    assert memory.optimizer_bytes == pytest.approx(optimizer)
    # Unsharded, mixed-precision Adam is 16 bytes per parameter.
    if zero == 0:
        assert memory.weights_bytes + memory.gradients_bytes + memory.optimizer_bytes == 16e9


# First stage: ceil((32 + 2)/4) - 1 = 8 layers, p = 4 microbatches in flight (1F1B);
# per layer and microbatch 100,000 B x 4,096 tokens / TP 2 = 2.048e8 B.
@pytest.mark.parametrize(("recompute", "virtual", "expected"), [
    (Recompute.SELECTIVE, 1, 8 * 4 * 2.048e8),
    # interleaved, v = 4: p·(1 + (p-1)/(p·v)) = 4 x (1 + 3/16) = 4.75 in flight
    (Recompute.SELECTIVE, 4, 8 * 4.75 * 2.048e8),
    # full: each layer keeps its 2·d-byte input, 2 x 4,096 x 2,048 = 16,777,216 B, plus one
    # layer's full set while it is recomputed
    (Recompute.FULL, 1, 8 * 4 * 16_777_216 + 2.048e8),
    # none: the attention scores too, 5 x 32 heads x 4,096 x 2,048 = 1,342,177,280 B per layer
    (Recompute.NONE, 1, 8 * 4 * (2.048e8 + 1_342_177_280)),
], ids=["selective", "interleaved", "full", "none"])
def test_activation_memory(recompute: Recompute, virtual: int, expected: float) -> None:
    job = dataclasses.replace(HAND_JOB, recompute=recompute)
    plan = dataclasses.replace(HAND_PLAN, virtual_stages=virtual)
    assert memory_per_accelerator(job, plan).activations_bytes == pytest.approx(expected)


@pytest.mark.parametrize(("dp", "micro", "expected"), [
    (8, 1, 32),    # 256 / 8 = 32 exactly
    (24, 1, 11),   # 256 / 24 = 10.67 -> 11: the batch becomes 264 sequences
    (24, 4, 3),    # 256 / 96 = 2.67 -> 3: 288 sequences
    (48, 4, 1),    # 256 / 192 = 1.33 -> 1: 192 sequences
], ids=["exact", "up", "up-micro", "down"])
def test_batch_rounds_to_the_layout(dp: int, micro: int, expected: int) -> None:
    step = step_time(HAND_JOB, Plan(tp=1, pp=1, dp=dp, microbatch=micro))
    assert step.microbatches == expected
    assert step.tokens == dp * micro * expected * 4096


def test_in_flight_microbatches_are_capped_by_the_batch() -> None:
    # 16 sequences over d = 8 at microbatch 1: m = 2 < p = 4, so only 2 are ever in flight.
    job = dataclasses.replace(HAND_JOB, batch_sequences=16)
    assert memory_per_accelerator(job, HAND_PLAN).activations_bytes == pytest.approx(
        8 * 2 * 2.048e8)


# --- communication volumes ------------------------------------------------------------------


def test_ring_collective_volumes() -> None:
    # all-reduce 2(n-1)/n·S, reduce-scatter and all-gather (n-1)/n·S.
    assert comm.all_reduce_bytes(800.0, 8) == pytest.approx(1400.0)
    assert comm.reduce_scatter_bytes(800.0, 8) == pytest.approx(700.0)
    assert comm.all_gather_bytes(800.0, 8) == pytest.approx(700.0)
    assert comm.all_reduce_bytes(800.0, 1) == 0.0


@pytest.mark.parametrize(("full", "expected"), [
    # 4 all-reduces of 4,096 tokens x 16,384 x 2 B = 134,217,728 B at 2 x 7/8 each.
    (False, 4 * 1.75 * 134_217_728),
    (True, 6 * 1.75 * 134_217_728),
], ids=["selective", "full-recompute"])
def test_tp_bytes_per_layer(full: bool, expected: float) -> None:
    assert comm.tp_bytes_per_layer(4096, 16384, 8, 2.0, full) == pytest.approx(expected)


@pytest.mark.parametrize(("zero", "expected"), [
    (0, 2 * 0.875 * 1e9 * 4),        # all-reduce of FP32 gradients
    (1, 0.875 * 1e9 * (4 + 2)),      # reduce-scatter FP32 gradients + all-gather BF16 weights
    (3, 16 * 0.875 * 1e9 * (4 + 4)),  # per microbatch: two weight gathers + a reduce-scatter
], ids=["zero0", "zero1", "zero3"])
def test_dp_bytes_per_step(zero: int, expected: float) -> None:
    assert comm.dp_bytes_per_step(1e9, 8, zero, 16, 4.0, 2.0) == pytest.approx(expected)


# --- step time ------------------------------------------------------------------------------


def test_step_time_hand_computed() -> None:
    # m = 256 / (8 x 1) = 32 microbatches; slowest stage 8 of 32 layers.
    # compute per microbatch: 4.8e10 x 4,096 x 8/32 / 2 / (1e15 x 0.5) = 0.049152 s.
    # TP per microbatch: 8 layers x 4 x 2 x 1/2 x 4,096 x 4,096 x 2 B = 1,073,741,824 B
    #   over 400 GB/s x 0.8 = 0.0033554432 s; overlapped in t = 2 ring steps with GEMMs that
    #   last longer, so only the reduce-scatters' last ring step (half the traffic, one step in
    #   two) stays exposed: 0.0033554432 / 4 = 0.0008388608 s.
    # microbatch: 0.049152 + 0.0008388608 = 0.0499908608 s; bubble 3 of them = 0.1499725824 s.
    # DP: 1e9 params x 7/8 x (4 + 2) B = 5.25e9 B over 50 GB/s x 0.8 = 0.13125 s: the
    #   reduce-scatter half behind 2/3 of a microbatch, the all-gather half behind 1/3:
    #   (0.065625 - 0.0333272405) + (0.065625 - 0.0166636203) = 0.0812591392 s exposed.
    # PP sends: 2 x 32 x 4,096 x 4,096 x 2 B / 2 = 1.07e9 B over 40 GB/s = 0.0268 s, hidden.
    step = step_time(HAND_JOB, HAND_PLAN)
    assert step.microbatches == 32
    assert step.compute_s == pytest.approx(32 * 0.049152)
    assert step.tp_communication_s == pytest.approx(32 * 0.0008388608)
    assert step.tp_hidden_s == pytest.approx(32 * 3 * 0.0008388608)
    assert step.pipeline_bubble_s == pytest.approx(0.1499725824)
    assert step.dp_communication_s == pytest.approx(0.0812591392)
    assert step.dp_hidden_s == pytest.approx(0.13125 - 0.0812591392)
    assert step.pp_communication_s == 0.0
    assert step.pp_hidden_s == pytest.approx(0.0268435456)
    # 32 x 0.049152 + 32 x 0.0008388608 + 0.1499725824 + 0.0812591392
    assert step.step_s == pytest.approx(1.8309392672)
    assert step.bound == "compute"


def test_without_overlap_every_collective_is_exposed() -> None:
    # comm_overlap 0 (Megatron-LM 2021): TP 0.0033554432 s per microbatch, DP 0.13125 s.
    job = dataclasses.replace(HAND_JOB, comm_overlap=0.0)
    step = step_time(job, HAND_PLAN)
    assert step.tp_communication_s == pytest.approx(32 * 0.0033554432)
    assert step.dp_communication_s == pytest.approx(0.13125)
    assert step.tp_hidden_s == step.dp_hidden_s == 0.0


@pytest.mark.parametrize("virtual", [1, 2, 4, 8])
def test_bubble_fraction_is_p_minus_one_over_m_v(virtual: int) -> None:
    # Without TP traffic the bubble over the busy time is exactly (p-1)/(m·v) = 3/(32·v).
    schedule = PipelineSchedule.INTERLEAVED if virtual > 1 else PipelineSchedule.ONE_F_ONE_B
    plan = Plan(tp=1, pp=4, dp=8, microbatch=1, virtual_stages=virtual, schedule=schedule)
    step = step_time(HAND_JOB, plan)
    assert step.pipeline_bubble_s / step.compute_s == pytest.approx(3 / (32 * virtual))


@pytest.mark.parametrize(("schedule", "bubbles"), [
    (PipelineSchedule.ONE_F_ONE_B, 7.0), (PipelineSchedule.ZERO_BUBBLE, 7.0 / 3.0),
    (PipelineSchedule.DUALPIPE, (8 / 2 - 1) * 2.0 / 3.0)])
def test_schedule_bubbles(schedule: PipelineSchedule, bubbles: float) -> None:
    # p = 8: 1F1B 7 microbatch times, ZB-H1 a third of that, DualPipe (p/2 - 1)·2/3 = 2.
    assert bubble_s(schedule, 8, 1, 1.0) == pytest.approx(bubbles)


def test_dp_group_inside_the_scale_up_domain_uses_its_bandwidth() -> None:
    # TP 2 x DP 4 = 8 ranks fit one 8-GPU domain: 400 GB/s instead of 50 GB/s.
    inside = step_time(HAND_JOB, Plan(tp=2, pp=4, dp=4, microbatch=1))
    # 1e9 x 3/4 x 6 B = 4.5e9 B over 400e9 x 0.8 = 0.0140625 s, shorter than the microbatch
    # it hides behind: all hidden.
    assert inside.dp_communication_s == 0.0
    assert inside.dp_hidden_s == pytest.approx(0.0140625)


# --- plan search ----------------------------------------------------------------------------


@pytest.mark.parametrize("accelerators", [1, 8, 24, 64, 1000])
def test_candidates_fit_the_device_count(accelerators: int) -> None:
    plans = list(candidate_plans(HAND_JOB, accelerators, Parallelism()))
    assert plans
    for plan in plans:
        assert plan.accelerators <= accelerators
        assert HAND_JOB.scale_up_domain % plan.tp == 0
        assert HAND_JOB.heads % plan.tp == 0
        assert plan.dp * plan.microbatch <= HAND_JOB.batch_sequences


@pytest.mark.parametrize("pins", [
    Parallelism(tp=4), Parallelism(pp=2), Parallelism(dp=16), Parallelism(microbatch=2),
    Parallelism(tp=2, pp=8, dp=4, microbatch=1),
], ids=["tp", "pp", "dp", "microbatch", "all"])
def test_fastest_plan_respects_pins(pins: Parallelism) -> None:
    choice = fastest_plan(HAND_JOB, 128, pins)
    assert choice is not None
    for name in ("tp", "pp", "dp", "microbatch"):
        pinned = getattr(pins, name)
        if pinned is not None:
            assert getattr(choice.plan, name) == pinned
    assert choice.plan.accelerators <= 128


def test_pinned_layout_larger_than_the_count_finds_nothing() -> None:
    assert fastest_plan(HAND_JOB, 64, Parallelism(tp=8, pp=4, dp=4)) is None


def test_fastest_plan_beats_every_fitting_candidate() -> None:
    choice = fastest_plan(HAND_JOB, 64)
    assert choice is not None
    for plan in candidate_plans(HAND_JOB, 64, Parallelism()):
        if memory_per_accelerator(HAND_JOB, plan).total_bytes <= HAND_JOB.hbm_bytes:
            assert choice.step.step_s <= step_time(HAND_JOB, plan).step_s + 1e-12


def test_memory_bound_when_a_faster_plan_does_not_fit() -> None:
    tight = dataclasses.replace(HAND_JOB, hbm_bytes=10e9)
    choice = fastest_plan(tight, 64)
    assert choice is not None
    assert choice.memory.total_bytes <= 10e9
    assert choice.bound == "memory-capacity"


def test_fewest_accelerators_meets_the_deadline_and_one_unit_less_does_not() -> None:
    tokens, deadline = 2e11, 14 * 86400.0
    found = fewest_accelerators(HAND_JOB, tokens, deadline, 8)
    assert found is not None
    units, choice = found

    def wall(count: int) -> float:
        best = fastest_plan(HAND_JOB, count)
        assert best is not None
        return tokens / best.step.tokens_per_s / job_goodput(HAND_JOB.params, count,
                                                              None).goodput

    assert wall(units * 8) <= deadline < wall((units - 1) * 8)
    assert choice.plan.accelerators <= units * 8


# --- the public estimate --------------------------------------------------------------------


def test_estimate_keys_are_the_contract() -> None:
    model = make_model(LLAMA_8B, 8.03e9)
    estimate = estimate_pretrain(make_pretrain(accelerators=64), model, make_system())
    data = estimate.to_dict()
    contract = {"total_flops", "tokens_per_s_per_accelerator", "model_flops_utilization",
                "wall_time_s", "accelerator_hours", "memory_bytes_per_accelerator",
                "parallelism", "cost_usd", "bound", "assumptions"}
    assert contract <= data.keys()
    assert {"tp", "pp", "dp", "microbatch"} <= data["parallelism"].keys()
    assert data["bound"] in {"compute", "tp-communication", "dp-communication",
                             "pipeline-bubble", "memory-capacity"}
    names = {a["name"] for a in data["assumptions"]}
    assert {"training_matmul", "scale_up", "scale_out", "goodput", "pue"} <= names


def test_estimate_arithmetic_is_consistent() -> None:
    model = make_model(LLAMA_8B, 8.03e9)
    estimate = estimate_pretrain(make_pretrain(accelerators=64), model, make_system())
    data = estimate.to_dict()
    # wall = tokens / (tokens per s per accelerator x accelerators) / goodput
    rate = data["tokens_per_s_per_accelerator"] * 64
    assert data["wall_time_s"] == pytest.approx(1e12 / rate / data["goodput"])
    assert data["accelerator_hours"] == pytest.approx(data["wall_time_s"] * 64 / 3600)
    # rental 39.33 USD per node-hour, 8 nodes
    assert data["cost_usd"] == pytest.approx(8 * 39.33 * data["wall_time_s"] / 3600)
    assert data["model_flops_utilization"] == pytest.approx(
        data["flops_per_s_per_accelerator"] / 989e12)
    assert data["memory_bytes_per_accelerator"] <= 80e9


def test_goodput_override_replaces_the_reliability_model() -> None:
    model = make_model(LLAMA_8B, 8.03e9)
    spec = make_pretrain(accelerators=64)
    base = estimate_pretrain(spec, model, make_system())
    half = estimate_pretrain(spec, model, make_system(), {"goodput": 0.5})
    assert half.reliability.goodput == pytest.approx(0.5)
    assert half.wall_time_s == pytest.approx(base.wall_time_s * base.reliability.goodput / 0.5)


def test_system_efficiency_override_slows_compute() -> None:
    model = make_model(LLAMA_8B, 8.03e9)
    spec = make_pretrain(accelerators=64, parallelism={"tp": 1, "pp": 1, "dp": 64,
                                                       "microbatch": 1})
    fast = estimate_pretrain(spec, model, make_system())
    half = DEFAULTS["training_matmul"].value / 2
    slow = estimate_pretrain(spec, model, make_system(efficiency={"training_matmul": half}))
    # Half the matmul efficiency doubles compute; the step is mostly compute.
    assert slow.step.compute_s == pytest.approx(2 * fast.step.compute_s)


def test_deadline_mode_buys_whole_units() -> None:
    model = make_model(LLAMA_8B, 8.03e9)
    estimate = estimate_pretrain(make_pretrain(deadline="10 days"), model, make_system())
    assert estimate.accelerators % 8 == 0
    assert estimate.wall_time_s <= 10 * 86400
    assert estimate.to_dict()["meets_deadline"] is True


def test_model_that_fits_nowhere_is_infeasible() -> None:
    model = make_model(LLAMA_405B, 405.85e9)
    with pytest.raises(InfeasibleError, match="does not fit"):
        estimate_pretrain(make_pretrain(accelerators=8), model, make_system())


def test_precision_the_accelerator_lacks_is_an_input_error() -> None:
    model = make_model(LLAMA_8B, 8.03e9)
    no_fp8 = copy.deepcopy(H100_NODE)
    no_fp8["accelerator"]["peak_flops"] = {"bf16": "312 TFLOPS"}
    with pytest.raises(InputError, match="fp8"):
        estimate_pretrain(make_pretrain(accelerators=8, precision="fp8"), model,
                          System.model_validate(no_fp8))


def test_training_throughput_per_unit() -> None:
    model = make_model(LLAMA_8B, 8.03e9)
    result = training_throughput(model, make_system(), sequence_length=4096,
                                 precision=Precision.BF16, accelerators=16,
                                 assumptions=DEFAULTS)
    plan = result.plan
    assert plan is not None and plan.accelerators <= 16
    # ceil(16e6 / 4,096) = 3,907 sequences requested, rounded to d·b·m: m = round(3,907/(d·b)).
    micro = math.floor(3907 / (plan.dp * plan.microbatch) + 0.5)
    tokens_per_step = plan.dp * plan.microbatch * micro * 4096
    # two 8-GPU units
    assert result.tokens_per_s_per_unit == pytest.approx(tokens_per_step / result.step_time_s / 2)
    flops = training_flops_per_token(model.architecture, 4096)
    assert result.model_flops_per_s_per_unit == pytest.approx(result.tokens_per_s_per_unit
                                                              * flops)


def test_training_throughput_is_zero_when_nothing_fits() -> None:
    model = make_model(LLAMA_405B, 405.85e9)
    result = training_throughput(model, make_system(), sequence_length=8192,
                                 precision=Precision.BF16, accelerators=8, assumptions=DEFAULTS)
    assert result.tokens_per_s_per_unit == 0.0
    assert result.bound == "memory-capacity"


# --- MoE: expert-parallel all-to-all, EP memory sharding, FP8 FLOP split --------------------


def _deepseek() -> ModelSpec:
    return load_model("deepseek-v3")


def _deepseek_job(precision: Precision = Precision.FP8) -> TrainingJob:
    h800 = load_catalog().get("hgx-h800")
    return TrainingJob.build(_deepseek(), h800, sequence_length=4096,
                             global_batch_tokens=15360 * 4096, precision=precision,
                             recompute=Recompute.SELECTIVE, zero_stage=1, assumptions={})


def test_groups_hit_by_eight_of_256_experts_over_8_nodes() -> None:
    # A node is missed when all 8 experts fall among the other 224:
    # C(224, 8) / C(256, 8) = prod_{i<8} (224 - i) / (256 - i) = 0.33817; hit 8 x 0.66183.
    missed = math.prod((224 - i) / (256 - i) for i in range(8))
    assert missed == pytest.approx(0.33817, abs=1e-5)
    assert comm.expected_groups_hit(256, 8, 8) == pytest.approx(8 * (1 - missed))
    assert comm.expected_groups_hit(256, 8, 1) == 1.0


@pytest.mark.parametrize(("limit", "expected"), [
    # node-limited to 4 of 8 nodes, own node 1/8 of the time: 4 x 7/8 = 3.5 copies
    (4, 3.5),
    # unlimited: 5.2947 nodes hit x 7/8 = 4.6328
    (None, 4.63282),
], ids=["node-limit-4", "unlimited"])
def test_remote_copies_of_a_token(limit: int | None, expected: float) -> None:
    assert comm.ep_remote_copies(256, 8, 8, limit) == pytest.approx(expected, rel=1e-5)
    assert comm.ep_remote_copies(256, 8, 1, limit) == 0.0


def test_all_to_all_bytes_per_token_per_moe_layer_of_deepseek_v3() -> None:
    # Per MoE layer and token: 3.5 remote nodes x 7,168 x (FP8 dispatch 1 + 4/128 scale bytes
    # + BF16 combine 2) = 25,088 x 3.03125 = 76,048 B per pass; forward + backward = 152,096 B.
    assert comm.ep_bytes_per_token_layer(7168, 3.5, 1 + 4 / 128, 2, 2) == pytest.approx(152_096)


def test_all_to_all_time_of_deepseek_v3_on_h800() -> None:
    # PP16: ceil(61/16) = 4 MoE layers per stage; one 4,096-token microbatch per rank (TP 1):
    # 4 x 152,096 x 4,096 = 2.4919e9 B over InfiniBand at 50 GB/s x 0.8 = 0.0623 s.
    job = _deepseek_job()
    plan = Plan(tp=1, pp=16, dp=128, microbatch=1, ep=64)
    assert ep_time_s(job, plan) == pytest.approx(4 * 152_096 * 4096 / (50e9 * 0.8))
    # No expert parallelism, no all-to-all.
    assert ep_time_s(job, dataclasses.replace(plan, ep=1)) == 0.0
    # The paper (§3.2.1) calls the cross-node EP compute:communication ratio about 1:1; here
    # the all-to-all is 0.70 of the compute it overlaps (the SM share given up included: 0.6).
    dualpipe = dataclasses.replace(plan, schedule=PipelineSchedule.DUALPIPE)
    compute, _, exposed = microbatch_time_s(job, dualpipe)
    assert 0.5 < ep_time_s(job, plan) / compute < 1.0
    assert exposed == 0.0  # DualPipe's claimed overlap hides it (ep_overlap = 1)
    # 1F1B runs dispatch, experts and combine in sequence: all of it is exposed.
    assert microbatch_time_s(job, plan)[2] == pytest.approx(ep_time_s(job, plan))


def test_exposed_all_to_all_without_overlap() -> None:
    job = dataclasses.replace(_deepseek_job(), ep_overlap=0.0)
    plan = Plan(tp=1, pp=16, dp=128, microbatch=1, ep=64, schedule=PipelineSchedule.DUALPIPE)
    compute, _, exposed = microbatch_time_s(job, plan)
    assert exposed == pytest.approx(ep_time_s(job, plan))
    # and no SM share is lost when nothing overlaps: compute is the plain FP8-mix time, the
    # routed experts' share at grouped-GEMM speed
    flops = stage_flops_per_token(job, 16) * 4096
    grouped = 1 + (1 / job.grouped_gemm - 1) * job.routed_flops_share
    assert compute == pytest.approx(flops / (job.sustained_peak_flops * job.matmul_efficiency)
                                    * grouped)


def test_routed_experts_are_sharded_over_ep() -> None:
    # Routed experts: 256 x 3 x 7,168 x 2,048 x 58 layers = 653,908,770,816 parameters;
    # the rest of the 671,026,404,352: 17,117,633,536.
    job = _deepseek_job()
    assert job.routed_params == 653_908_770_816
    memory = memory_per_accelerator(job, Plan(tp=1, pp=16, dp=128, microbatch=1, ep=64))
    # 4 layers per stage: dense 17.1176e9 x 4/61 = 1.12247e9; experts 653.909e9 / 58 x 4 / 64
    # = 7.04643e8. Weights 2 B each; optimizer 12 B over 128 (dense) and 128/64 = 2 (experts).
    dense = 17_117_633_536 * 4 / 61
    experts = 653_908_770_816 / 58 * 4 / 64
    assert memory.weights_bytes == pytest.approx(2 * (dense + experts))
    assert memory.gradients_bytes == pytest.approx(2 * (dense + experts))
    assert memory.optimizer_bytes == pytest.approx(12 * (dense / 128 + experts / 2))
    # Without EP the experts split like the dense part (TP 1): 64x the expert weights.
    flat = memory_per_accelerator(job, Plan(tp=1, pp=16, dp=128, microbatch=1, ep=1))
    assert flat.weights_bytes == pytest.approx(2 * 671_026_404_352 * 4 / 61)


def test_ep_options_divide_experts_and_stage_ranks() -> None:
    job = _deepseek_job()
    plans = list(candidate_plans(job, 2048, Parallelism(tp=1, pp=16, microbatch=1)))
    assert {p.ep for p in plans} == {1, 2, 4, 8, 16, 32, 64, 128}  # 256 experts, 128 ranks
    assert {p.ep for p in candidate_plans(HAND_JOB, 64, Parallelism(tp=2, pp=4))} == {1}
    pinned = candidate_plans(job, 2048, Parallelism(tp=1, pp=16, microbatch=1, ep=64))
    assert {p.ep for p in pinned} == {64}


def test_fp8_keeps_attention_head_and_router_in_bf16() -> None:
    # Causal attention A = 128 heads x 61 x (128 + 64 + 128) x 4,096 = 1.02341e10 per pass;
    # head 129,280 x 7,168 = 926,679,040; router 58 x 256 x 7,168 = 106,430,464.
    # No recompute: 3 A + 6 x 1,033,109,504 = 3.07023e10 + 6.19866e9 = 3.69010e10.
    arch = _deepseek().architecture
    attention = 128 * 61 * 320 * 4096
    weights = 129_280 * 7168 + 58 * 256 * 7168
    assert high_precision_flops_per_token(arch, 4096, Recompute.NONE) == pytest.approx(
        3 * attention + 6 * weights)
    # Selective recompute replays the attention core (in BF16 too).
    assert high_precision_flops_per_token(arch, 4096, Recompute.SELECTIVE) == pytest.approx(
        4 * attention + 6 * weights)


def test_fp8_training_is_faster_than_bf16_but_not_twice() -> None:
    fp8, bf16 = _deepseek_job(Precision.FP8), _deepseek_job(Precision.BF16)
    assert bf16.sustained_peak_flops == 989e12
    assert 1.3 < fp8.sustained_peak_flops / bf16.sustained_peak_flops < 2.0
    assert fp8.dispatch_bytes == 1 + 4 / 128 and bf16.dispatch_bytes == 2.0
