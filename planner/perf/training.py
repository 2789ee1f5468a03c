"""Training performance: FLOPs, memory per accelerator, step time, plan search, time and cost.

The model is built bottom-up (DESIGN.md §4) and its few efficiency factors are calibrated
against published runs (``planner.perf.calibrate_training``).

FLOPs per token (PaLM's MFU accounting, Chowdhery et al. 2022, arXiv 2204.02311, App. B; the
common formulas of ``reference/measurements.md``): training is forward + backward = 3 x
forward, with forward = 2·N_matmul + causal attention. A token at position i attends to i
earlier tokens, s/2 on average, so causal attention costs half of the full-context
``attention_flops_per_token(arch, s)`` = 4·L·H·d_h·s; training attention is then
3 · 2·L·H·d_h·s = 6·L·s·d when H·d_h = d. Llama 3.1 405B at s = 8,192: 2.52e12 FLOPs/token.

Step time of one optimizer step, for a plan (t tensor-, p pipeline-, d data-parallel ranks,
microbatches of b sequences, v interleaved stages per pipeline rank):

    t_mb     = compute of one microbatch on the slowest stage + its exposed TP collectives
    pipeline = (m + (p-1)/v) · t_mb            (1F1B, interleaved when v > 1: Narayanan et al.
                                                2021, arXiv 2104.04473, §2.2; bubble (p-1)/(m·v))
    step     = pipeline + (1 - overlap) · t_DP  (gradient reduce-scatter / all-gather, ZeRO)

Compute runs at ``training_matmul`` of the dense peak; TP collectives are exposed (Megatron
does not overlap them) on the scale-up fabric at ``scale_up`` of its one-direction bandwidth;
DP collectives use the scale-out network at ``scale_out`` unless the DP group fits in one
scale-up domain. Pipeline point-to-point sends are assumed hidden behind compute (Megatron
overlaps them); context parallelism is not modelled.

Expert parallelism (MoE models): the routed experts of each MoE layer are spread over ``ep``
ranks taken from the t·d ranks of a stage (Megatron-Core's layout; the dense and attention
parts keep TP and DP). Their weights, gradients and optimizer states are sharded over ep, and
ZeRO shards the optimizer over the t·d/ep expert-data-parallel ranks. Each MoE layer's
dispatch and combine all-to-alls (``comm.ep_bytes_per_token_layer``) run on scale-up when the
EP group fits one domain, else on scale-out; a fraction ``ep_overlap`` of them is scheduled
against compute (DualPipe, DeepSeek-V3 §3.2.1) and is hidden as far as compute lasts, while the
communication kernels take a fraction ``ep_comm_sms`` of the SMs from compute (§3.5.1).

FP8 training (DeepSeek-V3 §3.3.1; NVIDIA Transformer Engine): only the linear-layer GEMMs run
in FP8, at ``fp8_matmul`` of the BF16 GEMMs' efficiency (fine-grained scaling and FP32
promotion, §3.3.2); attention, the output head and the MoE router stay in BF16. Compute time
sums the two parts at their own peaks.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from planner.catalog.schema import BYTES_PER_ELEMENT, Precision, System
from planner.errors import InfeasibleError, InputError, Problem
from planner.perf import comm, reliability
from planner.perf.assumptions import Assumption, resolve
from planner.perf.cost import COST_DEFAULTS, unit_cost
from planner.perf.memo import memoise
from planner.units import SECONDS_PER_DAY, SECONDS_PER_HOUR
from planner.workload.params import attention_flops_per_token, count_params
from planner.workload.schema import (
    Architecture,
    AttentionKind,
    ModelSpec,
    Parallelism,
    Pretrain,
    Recompute,
)

__all__ = [
    "DEFAULTS",
    "Memory",
    "Plan",
    "PlanChoice",
    "StepTime",
    "TrainingEstimate",
    "TrainingJob",
    "TrainingThroughput",
    "activation_bytes_per_token_layer",
    "ep_time_s",
    "estimate_pretrain",
    "fastest_plan",
    "fewest_accelerators",
    "high_precision_flops_per_token",
    "job_goodput",
    "memory_per_accelerator",
    "mixed_peak_flops",
    "recompute_flops_per_token",
    "routed_expert_params",
    "step_time",
    "training_flops_per_token",
    "training_throughput",
]

# Mixed-precision Adam (ZeRO paper, Rajbhandari et al. 2020, arXiv 1910.02054, §3.1): 16 bytes
# per parameter before sharding: 16-bit weights and gradients, FP32 master weights and moments.
WEIGHT_BYTES = 2.0
GRAD_BYTES = 2.0
OPTIMIZER_BYTES = 12.0
# Gradients are reduce-scattered in FP32 across data-parallel ranks for numerical stability
# (Llama 3 paper, arXiv 2407.21783, §3.3.2, "numerical stability"); weights gathered in BF16.
GRAD_REDUCE_BYTES = 4.0
# Activations (stored and sent between TP ranks) are 16-bit, also in FP8 training, where only
# the matmul inputs are cast (NVIDIA Transformer Engine).
ACTIVATION_BYTES = 2.0
# DeepSeek-V3 (arXiv 2412.19437 §3.3.3): MoE dispatch in FP8 with one FP32 scale per 1x128
# tile (1 + 4/128 bytes per element); combine kept in BF16, forward and backward.
FP8_DISPATCH_BYTES = 1.0 + 4.0 / 128.0
COMBINE_BYTES = 2.0
# Korthikanti et al. 2022 (arXiv 2205.05198) eq. 1: 5·a·s bytes per token per layer for the
# attention scores kept by an unfused attention (softmax output, dropout mask and output).
SCORE_BYTES_PER_HEAD_TOKEN = 5.0

# Parameters of Llama 3.1 405B (released checkpoint), for the goodput value shown in DEFAULTS.
LLAMA3_405B_PARAMS = 405_853_388_800

_GOODPUT_SOURCE = "computed per job by planner.perf.reliability unless overridden"

DEFAULTS: dict[str, Assumption] = {
    "training_matmul": Assumption(
        "training_matmul", 0.53,
        "fit to Llama 3 405B on 8,192 and 16,384 H100 (arXiv 2407.21783 Table 4) and the ten "
        "Megatron-LM Table 1 runs on A100 (arXiv 2104.04473): 0.53 minimises their mean "
        "absolute error (scanned in steps of 0.01)",
        "achieved fraction of dense peak over all of a layer's kernels, not only the GEMMs"),
    "scale_up": Assumption(
        "scale_up", 0.80,
        "nccl-tests all-reduce bus bandwidth 230-250 GB/s on 8x A100 NVLink 3 vs 300 GB/s "
        "line rate (docs.alayanew.com NCCL-tests guide, 2026)",
        "fraction of one-direction scale-up bandwidth that TP collectives reach"),
    "scale_out": Assumption(
        "scale_out", 0.80,
        "same ratio as scale_up; Llama 3 8,192 -> 16,384 GPU drop (arXiv 2407.21783 Table 4)"
        " is matched within 1%",
        "fraction of per-accelerator scale-out bandwidth that DP collectives reach"),
    "dp_overlap": Assumption(
        "dp_overlap", 0.5,
        "assumption: gradient reduce-scatter overlaps the last microbatches' backward, "
        "weight all-gather the first forward (Llama 3 FSDP, arXiv 2407.21783 §3.3.2); "
        "Megatron-LM 2021 did not overlap",
        "fraction of data-parallel communication hidden behind compute"),
    "fp8_matmul": Assumption(
        "fp8_matmul", 0.85,
        "assumption: DeepSeek-V3 §3.3.2 (arXiv 2412.19437) promotes FP8 partial sums to FP32 "
        "CUDA-core registers every 128 elements and applies 1x128/128x128 scales, which costs "
        "tensor-core issue rate; DeepGEMM's launch figure, 1,350+ FP8 TFLOPS on Hopper "
        "(0.68 of 1,979), against ~0.8 of peak for large BF16 GEMMs",
        "efficiency of FP8 GEMMs relative to BF16 GEMMs (times training_matmul)"),
    "ep_overlap": Assumption(
        "ep_overlap", 1.0,
        "DeepSeek-V3 §3.2.1 (arXiv 2412.19437): DualPipe overlaps the forward and backward "
        "chunks' all-to-all with compute, 'near-zero all-to-all communication overhead'; the "
        "paper's claim is taken as given, not measured",
        "fraction of expert-parallel all-to-all scheduled against compute (hidden while "
        "compute lasts)"),
    "ep_comm_sms": Assumption(
        "ep_comm_sms", round(20 / 132, 3),
        "DeepSeek-V3 §3.2.2 and §3.5.1 (arXiv 2412.19437): 20 of the H800's 132 SMs run the "
        "all-to-all kernels, 'which will limit the computational throughput'",
        "fraction of compute lost to communication kernels while the all-to-all overlaps"),
    "goodput": Assumption(
        "goodput", round(reliability.estimate_goodput(LLAMA3_405B_PARAMS,
                                                      reliability.LLAMA3_ACCELERATORS).goodput, 3),
        _GOODPUT_SOURCE,
        "value shown for Llama 3 405B on 16,384 H100; set it to override the reliability model"),
    **reliability.DEFAULTS,
}


# ---------------------------------------------------------------------------------------------
# FLOPs and activation bytes of one model (hardware-independent)


def training_flops_per_token(arch: Architecture, sequence_length: int) -> float:
    """Model FLOPs per trained token: 3 · (2·N_matmul + causal attention forward).

    Causal attention forward = ``attention_flops_per_token(arch, s)`` / 2 = 2·L·H·d_h·s (a
    token attends to s/2 earlier tokens on average), so the total is 6·N_matmul + 6·L·H·d_h·s,
    the measurements.md formula 6·N + 6·L·s·d. Llama 3.1 405B at s = 8,192:
    6 · 403.75e9 + 6 · 126 · 8,192 · 16,384 = 2.4225e12 + 1.015e11 = 2.524e12.
    """
    matmul = count_params(arch).matmul_active
    causal_attention = attention_flops_per_token(arch, sequence_length) / 2.0
    return 3.0 * (2.0 * matmul + causal_attention)


def recompute_flops_per_token(arch: Architecture, sequence_length: int,
                              recompute: Recompute) -> float:
    """Extra FLOPs per token spent recomputing activations (hardware FLOPs minus model FLOPs).

    Full: the forward pass again (2·N_matmul + causal attention), making hardware FLOPs 4/3 of
    model FLOPs (Narayanan et al. 2021's accounting). Selective: the attention core only
    (Korthikanti et al. 2022 §5; what FlashAttention's backward does anyway). None: nothing.
    """
    causal_attention = attention_flops_per_token(arch, sequence_length) / 2.0
    match recompute:
        case Recompute.FULL:
            return 2.0 * count_params(arch).matmul_active + causal_attention
        case Recompute.SELECTIVE:
            return causal_attention
        case Recompute.NONE:
            return 0.0


def high_precision_flops_per_token(arch: Architecture, sequence_length: int,
                                   recompute: Recompute) -> float:
    """Training FLOPs per token (model + recompute) that stay in BF16 in FP8 training.

    DeepSeek-V3 §3.3.1 (arXiv 2412.19437) keeps the embedding, the output head, the MoE gating
    and the attention operators in BF16/FP32 and runs the linear layers' GEMMs in FP8. Here:
    causal attention 3·A (plus A again when recomputed), the head V·d and the router
    E·d per MoE layer at 6 FLOPs per weight (8 with full recomputation). DeepSeek-V3 at 4,096
    without recomputation:
    3 · 1.0234e10 + 6 · (0.9267e9 + 58 · 256 · 7,168) = 3.07e10 + 6.20e9 = 3.689e10 (15% of all).
    """
    attention = attention_flops_per_token(arch, sequence_length) / 2.0
    weights = float(arch.vocab * arch.hidden)
    if arch.moe is not None:
        weights += _moe_layers(arch) * arch.moe.experts * arch.hidden
    per_weight = 8.0 if recompute is Recompute.FULL else 6.0
    recomputed = 0.0 if recompute is Recompute.NONE else attention
    return 3.0 * attention + recomputed + per_weight * weights


def _moe_layers(arch: Architecture) -> int:
    """Layers with a mixture-of-experts FFN (all but the leading dense ones)."""
    if arch.moe is None:
        return 0
    return arch.layers - min(arch.moe.dense_layers, arch.layers)


def routed_expert_params(arch: Architecture) -> float:
    """Weights of the routed experts, all layers: the part expert parallelism shards.

    (E routed experts) x 3·d·F_e x MoE layers; DeepSeek-V3: 256 · 3 · 7,168 · 2,048 · 58
    = 6.539e11 of its 671B.
    """
    if arch.moe is None:
        return 0.0
    expert = 3.0 * arch.hidden * arch.moe.expert_ffn_hidden
    return float(_moe_layers(arch) * arch.moe.experts * expert)


def mixed_peak_flops(total_flops: float, high_flops: float, precision: Precision,
                     peak_flops: float, bf16_peak_flops: float, fp8_matmul: float) -> float:
    """Peak FLOP/s of a training FLOP mix: the harmonic blend of its parts' peaks.

    Below 16 bits only the GEMMs run at the declared peak, at ``fp8_matmul`` of it; the
    ``high_flops`` run at the BF16 peak: F / (F_low / (P·r) + F_high / P_bf16). At 16 bits and
    above everything runs at the declared peak.
    """
    if BYTES_PER_ELEMENT[precision] >= 2.0 or total_flops <= 0:
        return peak_flops
    low = total_flops - high_flops
    return total_flops / (low / (peak_flops * fp8_matmul) + high_flops / bf16_peak_flops)


def _attention_widths(arch: Architecture) -> tuple[float, float, float]:
    """Per-token widths of (q, k + v, attention output) in elements."""
    if arch.attention is AttentionKind.MLA and arch.mla is not None:
        mla = arch.mla
        qk = arch.heads * (mla.qk_nope_head_dim + mla.qk_rope_head_dim)
        return qk, qk + arch.heads * mla.v_head_dim, arch.heads * mla.v_head_dim
    return (arch.heads * arch.head_dim, 2 * arch.kv_heads * arch.head_dim,
            arch.heads * arch.head_dim)


def _mean_ffn_width(arch: Architecture) -> float:
    """Mean over layers of the SwiGLU width a token passes through (active experts for MoE)."""
    if arch.moe is None:
        return float(arch.ffn_hidden)
    moe = arch.moe
    dense = min(moe.dense_layers, arch.layers)
    routed = (moe.experts_per_token + moe.shared_experts) * moe.expert_ffn_hidden
    return (dense * arch.ffn_hidden + (arch.layers - dense) * routed) / arch.layers


def activation_bytes_per_token_layer(arch: Architecture) -> float:
    """Bytes one layer keeps per token for its backward pass, attention core recomputed.

    Korthikanti et al. 2022 (arXiv 2205.05198) §4.1 count 34·d bytes per token for a GPT layer
    (11d attention, 19d MLP, 4d layer norms, with two dropout masks). The same count for a
    Llama-style block (no dropout, GQA, SwiGLU of width F), 16-bit values:
    norm inputs 2·2d, normalised inputs of the attention and FFN matmuls 2·2d, q, k, v and the
    attention output 2·(q + kv + o), SwiGLU gate and up outputs 2·2F and down-projection input
    2F. A GPT block (kv = 2d, F = 8d/3 for equal weights) gives 32d = 34d less the masks;
    Llama 3.1 405B gives 520,192 B (31.75·d).
    """
    q, kv, out = _attention_widths(arch)
    d, f = arch.hidden, _mean_ffn_width(arch)
    elements = 2 * d + 2 * d + q + kv + out + 3 * f
    return ACTIVATION_BYTES * elements


# ---------------------------------------------------------------------------------------------
# The job: everything about model, workload and hardware the step-time formulas need


@dataclass(frozen=True, slots=True)
class TrainingJob:
    """Numbers that fix a training job on one kind of accelerator (SI units)."""

    layers: int
    hidden: int
    heads: int
    sequence_length: int
    batch_sequences: int
    params: float
    model_flops_per_token: float
    recompute_flops_per_token: float
    activation_bytes_per_token_layer: float
    recompute: Recompute
    zero_stage: int
    peak_flops: float
    hbm_bytes: float
    scale_up_bytes_per_s: float
    scale_up_domain: int
    scale_out_bytes_per_s: float
    matmul_efficiency: float
    scale_up_efficiency: float
    scale_out_efficiency: float
    dp_overlap: float
    compute_peak_flops: float = 0.0
    moe_layers: int = 0
    experts: int = 0
    experts_per_token: int = 0
    node_limit: int | None = None
    routed_params: float = 0.0
    dispatch_bytes: float = ACTIVATION_BYTES
    combine_bytes: float = COMBINE_BYTES
    ep_overlap: float = 1.0
    ep_comm_sms: float = 0.0

    @property
    def sustained_peak_flops(self) -> float:
        """Peak of the job's FLOP mix (:func:`mixed_peak_flops`); the declared peak if unset."""
        return self.compute_peak_flops or self.peak_flops

    @classmethod
    def build(cls, model: ModelSpec, system: System, *, sequence_length: int,
              global_batch_tokens: float, precision: Precision, recompute: Recompute,
              zero_stage: int, assumptions: Mapping[str, Assumption]) -> TrainingJob:
        """Derive the job's constants from a model, a system and the assumptions."""
        arch = model.architecture
        values = {name: a.value for name, a in {**DEFAULTS, **assumptions}.items()}
        peak = _peak_flops(system, precision)
        total = (training_flops_per_token(arch, sequence_length)
                 + recompute_flops_per_token(arch, sequence_length, recompute))
        high = high_precision_flops_per_token(arch, sequence_length, recompute)
        moe = arch.moe
        return cls(
            layers=arch.layers, hidden=arch.hidden, heads=arch.heads,
            sequence_length=sequence_length,
            batch_sequences=max(1, math.ceil(global_batch_tokens / sequence_length)),
            params=float(count_params(arch).total),
            model_flops_per_token=training_flops_per_token(arch, sequence_length),
            recompute_flops_per_token=recompute_flops_per_token(arch, sequence_length,
                                                                recompute),
            activation_bytes_per_token_layer=activation_bytes_per_token_layer(arch),
            recompute=recompute, zero_stage=zero_stage,
            peak_flops=peak,
            hbm_bytes=system.accelerator.hbm_capacity,
            scale_up_bytes_per_s=comm.unidirectional(system.scale_up.bandwidth),
            scale_up_domain=system.scale_up.domain_size,
            scale_out_bytes_per_s=system.scale_out.bandwidth,
            matmul_efficiency=values["training_matmul"],
            scale_up_efficiency=values["scale_up"],
            scale_out_efficiency=values["scale_out"],
            dp_overlap=values["dp_overlap"],
            compute_peak_flops=mixed_peak_flops(total, high, precision, peak,
                                                system.accelerator.peak_flops.bf16,
                                                values["fp8_matmul"]),
            moe_layers=_moe_layers(arch), experts=moe.experts if moe else 0,
            experts_per_token=moe.experts_per_token if moe else 0,
            node_limit=moe.node_limit if moe else None,
            routed_params=routed_expert_params(arch),
            dispatch_bytes=(FP8_DISPATCH_BYTES if BYTES_PER_ELEMENT[precision] < 2.0
                            else ACTIVATION_BYTES),
            ep_overlap=values["ep_overlap"], ep_comm_sms=values["ep_comm_sms"])

    @property
    def tokens_per_step(self) -> float:
        """Tokens in the requested global batch (a plan rounds it; see :func:`microbatches`)."""
        return float(self.batch_sequences * self.sequence_length)


def _peak_flops(system: System, precision: Precision) -> float:
    """Dense peak FLOP/s per accelerator at ``precision``; an InputError when it has none."""
    peak = system.accelerator.peak_flops.at(precision)
    if peak is None:
        raise InputError(Problem(system.id, f"accelerator.peak_flops.{precision.value}",
                                 f"{system.accelerator.name} has no {precision.value} "
                                 "tensor mode", "train in bf16"))
    return peak


# ---------------------------------------------------------------------------------------------
# A plan and what it costs in memory and time


@dataclass(frozen=True, slots=True)
class Plan:
    """A parallel layout: t·p·d accelerators in use, microbatches of b sequences.

    ``ep`` ranks of a stage's t·d share each MoE layer's routed experts (1: no expert
    parallelism, the experts are split by TP like the dense layers).
    """

    tp: int
    pp: int
    dp: int
    microbatch: int
    virtual_stages: int = 1
    ep: int = 1

    @property
    def accelerators(self) -> int:
        """Accelerators the plan uses."""
        return self.tp * self.pp * self.dp

    def to_dict(self) -> dict[str, int]:
        """JSON-ready form (contract keys: tp, pp, dp, microbatch, ep)."""
        return {"tp": self.tp, "pp": self.pp, "dp": self.dp, "microbatch": self.microbatch,
                "virtual_stages": self.virtual_stages, "ep": self.ep}


def microbatches(job: TrainingJob, plan: Plan) -> int:
    """Microbatches per pipeline per step: m = B / (d·b) rounded to the nearest whole number.

    Megatron-LM requires the global batch to be a multiple of d·b; the plan rounds the
    requested batch of B sequences to d·b·m, the nearest such multiple (at least one).
    """
    return max(1, math.floor(job.batch_sequences / (plan.dp * plan.microbatch) + 0.5))


def stage_layers(job: TrainingJob, pp: int) -> int:
    """Layers on the slowest pipeline stage: ceil(L / p)."""
    return math.ceil(job.layers / pp)


def first_stage_layers(job: TrainingJob, pp: int) -> int:
    """Transformer layers on the first stage, which holds the most in-flight activations.

    Llama 3 (arXiv 2407.21783 §3.3.2) balances memory by giving the first stage the embedding
    in place of one layer: ceil((L + 2)/p) - 1 layers when p > 1.
    """
    if pp == 1:
        return job.layers
    return max(1, math.ceil((job.layers + 2) / pp) - 1)


@dataclass(frozen=True, slots=True)
class Memory:
    """Bytes per accelerator on the first pipeline stage."""

    weights_bytes: float
    gradients_bytes: float
    optimizer_bytes: float
    activations_bytes: float

    @property
    def total_bytes(self) -> float:
        """Everything the accelerator holds."""
        return (self.weights_bytes + self.gradients_bytes + self.optimizer_bytes
                + self.activations_bytes)

    def to_dict(self) -> dict[str, float]:
        """JSON-ready form."""
        return {"weights_bytes": self.weights_bytes, "gradients_bytes": self.gradients_bytes,
                "optimizer_bytes": self.optimizer_bytes,
                "activations_bytes": self.activations_bytes, "total_bytes": self.total_bytes}


def _in_flight(pp: int, virtual: int, micro: int) -> float:
    """Microbatches whose activations the first stage holds (Korthikanti et al. 2022 §4.2.3).

    1F1B: p (capped by m). Interleaved with v chunks: p·(1 + (p-1)/(p·v)), i.e. the
    (p-1)·2 + (v-1)·p warm-up chunk-microbatches plus one, each holding 1/v of the stage.
    """
    if virtual <= 1:
        return float(min(pp, micro))
    return min(pp * (1.0 + (pp - 1) / (pp * virtual)), float(micro))


def activation_bytes(job: TrainingJob, plan: Plan, micro: int) -> float:
    """Activation bytes on the first stage under the job's recomputation.

    Per layer and microbatch of b·s tokens, divided by t (sequence parallelism shards every
    stored tensor, Korthikanti et al. 2022 Table 2): selective keeps the full count
    (:func:`activation_bytes_per_token_layer`); none adds the attention scores 5·a·s; full keeps
    only each layer's 2·d-byte input, plus one layer's full set while it is recomputed.
    """
    tokens = plan.microbatch * job.sequence_length / plan.tp
    per_layer = job.activation_bytes_per_token_layer * tokens
    layers = first_stage_layers(job, plan.pp) * _in_flight(plan.pp, plan.virtual_stages, micro)
    match job.recompute:
        case Recompute.FULL:
            return layers * ACTIVATION_BYTES * job.hidden * tokens + per_layer
        case Recompute.NONE:
            scores = SCORE_BYTES_PER_HEAD_TOKEN * job.heads * job.sequence_length * tokens
            return layers * (per_layer + scores)
        case Recompute.SELECTIVE:
            return layers * per_layer


def _param_shards(job: TrainingJob, plan: Plan) -> tuple[tuple[float, int], ...]:
    """(parameters per accelerator, ZeRO sharding degree) of the dense and the expert parts.

    Dense (all but routed experts): N_dense · ceil(L/p)/L / t, sharded over d. Routed experts
    with ep > 1: N_routed / L_moe · min(ceil(L/p), L_moe) / ep, sharded over the t·d/ep
    expert-data-parallel ranks; with ep = 1 they split by TP like the dense part.
    """
    layers = stage_layers(job, plan.pp)
    dense = (job.params - job.routed_params) * layers / job.layers / plan.tp
    if job.routed_params <= 0:
        return ((dense, plan.dp),)
    if plan.ep <= 1:
        return ((dense, plan.dp), (job.routed_params * layers / job.layers / plan.tp, plan.dp))
    routed = job.routed_params / job.moe_layers * min(layers, job.moe_layers) / plan.ep
    return ((dense, plan.dp), (routed, max(1, plan.tp * plan.dp // plan.ep)))


def memory_per_accelerator(job: TrainingJob, plan: Plan) -> Memory:
    """Weights, gradients and optimizer states (16 B/param, sharded by ZeRO) and activations.

    Parameters per accelerator: N · ceil(L/p)/L / t, routed experts / ep (see
    :func:`_param_shards`). ZeRO stage 1 shards the optimizer states over the data-parallel
    ranks, stage 2 the gradients too, stage 3 the weights too (Rajbhandari et al. 2020 §5);
    ZeRO-3 then also holds two gathered layers.
    """
    zero = job.zero_stage
    weights = grads = optimizer = 0.0
    for params, d in _param_shards(job, plan):
        weights += params * WEIGHT_BYTES / (d if zero >= 3 else 1)
        grads += params * GRAD_BYTES / (d if zero >= 2 else 1)
        optimizer += params * OPTIMIZER_BYTES / (d if zero >= 1 else 1)
    if zero >= 3:
        weights += 2.0 * WEIGHT_BYTES * job.params / job.layers / plan.tp
    return Memory(weights_bytes=weights, gradients_bytes=grads, optimizer_bytes=optimizer,
                  activations_bytes=activation_bytes(job, plan, microbatches(job, plan)))


@dataclass(frozen=True, slots=True)
class StepTime:
    """One optimizer step split into its parts (seconds)."""

    compute_s: float
    tp_communication_s: float
    pipeline_bubble_s: float
    dp_communication_s: float
    microbatches: int
    tokens: float
    ep_communication_s: float = 0.0

    @property
    def step_s(self) -> float:
        """Wall time of one step."""
        return (self.compute_s + self.tp_communication_s + self.pipeline_bubble_s
                + self.dp_communication_s + self.ep_communication_s)

    @property
    def tokens_per_s(self) -> float:
        """Training tokens per second of the whole job: the batch the plan runs over its step."""
        return self.tokens / self.step_s

    @property
    def bound(self) -> str:
        """The largest part: compute, or the overhead that costs most."""
        parts = {"compute": self.compute_s, "tp-communication": self.tp_communication_s,
                 "pipeline-bubble": self.pipeline_bubble_s,
                 "dp-communication": self.dp_communication_s,
                 "ep-communication": self.ep_communication_s}
        return max(parts, key=lambda name: parts[name])

    def to_dict(self) -> dict[str, float]:
        """JSON-ready form."""
        return {"step_s": self.step_s, "compute_s": self.compute_s,
                "tp_communication_s": self.tp_communication_s,
                "pipeline_bubble_s": self.pipeline_bubble_s,
                "dp_communication_s": self.dp_communication_s,
                "ep_communication_s": self.ep_communication_s,
                "microbatches": self.microbatches, "tokens_per_step": self.tokens}


def _tp_bandwidth(job: TrainingJob, tp: int) -> tuple[float, float]:
    """(bandwidth, efficiency) of a TP group: scale-up inside one domain, else scale-out."""
    if tp <= job.scale_up_domain:
        return job.scale_up_bytes_per_s, job.scale_up_efficiency
    return job.scale_out_bytes_per_s, job.scale_out_efficiency


def _dp_bandwidth(job: TrainingJob, plan: Plan) -> tuple[float, float]:
    """(bandwidth, efficiency) of a DP group: ranks are ordered TP, then DP, then PP (Megatron's
    default), so the group stays in one scale-up domain when t·d fits in it."""
    if plan.tp * plan.dp <= job.scale_up_domain:
        return job.scale_up_bytes_per_s, job.scale_up_efficiency
    return job.scale_out_bytes_per_s, job.scale_out_efficiency


def ep_time_s(job: TrainingJob, plan: Plan) -> float:
    """All-to-all time of one microbatch on the slowest stage (before any overlap).

    Each rank owns b·s/t tokens; min(ceil(L/p), L_moe) MoE layers each send
    :func:`comm.ep_bytes_per_token_layer` per token. Ranks are ordered TP then DP, so an EP
    group of ep ranks spans ceil(ep/D) scale-up domains of D: inside one domain the copies go to
    other GPUs over scale-up; across domains to other nodes over scale-out, where the receiving
    node forwards over scale-up (DeepSeek-V3 §3.2.2; NVLink is ~3.2x faster and hidden).
    """
    if plan.ep <= 1 or job.moe_layers == 0:
        return 0.0
    inside = plan.ep <= job.scale_up_domain
    groups = plan.ep if inside else plan.ep // job.scale_up_domain
    copies = comm.ep_remote_copies(job.experts, job.experts_per_token, groups,
                                   None if inside else job.node_limit)
    passes = 3 if job.recompute is Recompute.FULL else 2
    per_token = comm.ep_bytes_per_token_layer(job.hidden, copies, job.dispatch_bytes,
                                              job.combine_bytes, passes)
    layers = min(stage_layers(job, plan.pp), job.moe_layers)
    sent = layers * per_token * plan.microbatch * job.sequence_length / plan.tp
    if inside:
        return comm.collective_time_s(sent, job.scale_up_bytes_per_s, job.scale_up_efficiency)
    return comm.collective_time_s(sent, job.scale_out_bytes_per_s, job.scale_out_efficiency)


def microbatch_time_s(job: TrainingJob, plan: Plan) -> tuple[float, float, float]:
    """(compute, exposed TP communication, exposed EP all-to-all) of one microbatch on the
    slowest stage.

    Compute: (model + recompute FLOPs per token) · b·s tokens · ceil(L/p)/L / t, at
    ``training_matmul`` of the FLOP mix's peak (:func:`mixed_peak_flops`); with an overlapped
    all-to-all, over 1 - ``ep_comm_sms`` of the SMs. TP: ceil(L/p) layers of
    :func:`comm.tp_bytes_per_layer`. EP: of the all-to-all time a, the unscheduled part
    (1 - o)·a is exposed, and the scheduled part o·a only beyond the compute it hides behind:
    max((1 - o)·a, a - compute).
    """
    tokens = plan.microbatch * job.sequence_length
    layers = stage_layers(job, plan.pp)
    flops = ((job.model_flops_per_token + job.recompute_flops_per_token) * tokens
             * layers / job.layers / plan.tp)
    compute = flops / (job.sustained_peak_flops * job.matmul_efficiency)
    a2a = ep_time_s(job, plan)
    if a2a > 0 and job.ep_overlap > 0:
        compute /= 1.0 - job.ep_comm_sms
    exposed = max((1.0 - job.ep_overlap) * a2a, a2a - compute, 0.0)
    sent = layers * comm.tp_bytes_per_layer(tokens, job.hidden, plan.tp, ACTIVATION_BYTES,
                                            job.recompute is Recompute.FULL)
    return compute, comm.collective_time_s(sent, *_tp_bandwidth(job, plan.tp)), exposed


def dp_time_s(job: TrainingJob, plan: Plan, micro: int) -> float:
    """Exposed data-parallel time per step: (1 - overlap) · bytes / (bandwidth · efficiency).

    The dense part reduces over d ranks, the expert part (ep > 1) over its t·d/ep ranks
    (:func:`_param_shards`); both on the DP group's fabric, one after the other.
    """
    sent = sum(comm.dp_bytes_per_step(params, ranks, job.zero_stage, micro, GRAD_REDUCE_BYTES,
                                      WEIGHT_BYTES)
               for params, ranks in _param_shards(job, plan))
    return (1.0 - job.dp_overlap) * comm.collective_time_s(sent, *_dp_bandwidth(job, plan))


def step_time(job: TrainingJob, plan: Plan) -> StepTime:
    """Step time of a plan: m microbatches plus the bubble (p-1)/v, then exposed DP traffic.

    Interleaved 1F1B (Narayanan et al. 2021 §2.2.2): the bubble is (p-1)/v microbatch times.
    """
    micro = microbatches(job, plan)
    compute, tp, ep = microbatch_time_s(job, plan)
    bubble = (plan.pp - 1) / plan.virtual_stages * (compute + tp + ep)
    tokens = float(plan.dp * plan.microbatch * micro * job.sequence_length)
    return StepTime(compute_s=micro * compute, tp_communication_s=micro * tp,
                    pipeline_bubble_s=bubble, dp_communication_s=dp_time_s(job, plan, micro),
                    microbatches=micro, tokens=tokens, ep_communication_s=micro * ep)


# ---------------------------------------------------------------------------------------------
# Plan search


@dataclass(frozen=True, slots=True)
class PlanChoice:
    """The chosen plan with its step time and memory, and whether memory forced it."""

    plan: Plan
    step: StepTime
    memory: Memory
    memory_bound: bool

    @property
    def bound(self) -> str:
        """What limits the step: memory capacity when it excluded a faster plan."""
        return "memory-capacity" if self.memory_bound else self.step.bound


def _tp_options(job: TrainingJob, pins: Parallelism, accelerators: int) -> list[int]:
    """TP degrees: divisors of the head count inside (and dividing) the scale-up domain."""
    if pins.tp is not None:
        return [pins.tp]
    return [t for t in range(1, job.scale_up_domain + 1)
            if job.scale_up_domain % t == 0 and job.heads % t == 0 and t <= accelerators]


def _pp_options(job: TrainingJob, pins: Parallelism, limit: int) -> list[int]:
    """PP degrees: the smallest p for each distinct ceil(L/p) (a larger p with the same slowest
    stage only adds bubble), up to ``limit``."""
    if pins.pp is not None:
        return [pins.pp]
    options = sorted({math.ceil(job.layers / c) for c in range(1, job.layers + 1)})
    return [p for p in options if p <= limit]


def _microbatch_options(job: TrainingJob, pins: Parallelism, dp: int) -> list[int]:
    """Microbatch sizes: powers of two up to the sequences each data-parallel rank gets."""
    if pins.microbatch is not None:
        return [pins.microbatch]
    per_rank = max(1, job.batch_sequences // dp)
    return [2**k for k in range(per_rank.bit_length()) if 2**k <= per_rank]


def _ep_options(job: TrainingJob, pins: Parallelism, ranks: int) -> list[int]:
    """EP degrees for MoE models: powers of two dividing both the expert count and the t·d
    ranks of a stage (1 for dense models or when none divides)."""
    if job.experts == 0:
        return [1]
    if pins.ep is not None:
        return [pins.ep] if ranks % pins.ep == 0 and job.experts % pins.ep == 0 else []
    return [2**k for k in range(ranks.bit_length())
            if ranks % 2**k == 0 and job.experts % 2**k == 0]


def _virtual_options(job: TrainingJob, pp: int) -> list[int]:
    """1F1B (v = 1) and the deepest interleaving, floor(L/p) chunks per rank: among v >= 2 it
    has both the smallest bubble and the least memory (Korthikanti et al. 2022 §4.2.3)."""
    deepest = job.layers // pp if pp > 1 else 1
    return [1, deepest] if deepest >= 2 else [1]


def candidate_plans(job: TrainingJob, accelerators: int, pins: Parallelism) -> Iterator[Plan]:
    """Every plan the search considers on at most ``accelerators`` accelerators.

    d is the most data-parallel ranks that fit (floor(n / (t·p)), at most one sequence each),
    unless pinned; a pinned layout that needs more than ``accelerators`` yields nothing.
    """
    for tp in _tp_options(job, pins, accelerators):
        for pp in _pp_options(job, pins, accelerators // tp):
            most = min(accelerators // (tp * pp), job.batch_sequences)
            dp = pins.dp if pins.dp is not None else most
            if dp < 1 or tp * pp * dp > accelerators:
                continue
            for micro in _microbatch_options(job, pins, dp):
                for virtual in _virtual_options(job, pp):
                    for ep in _ep_options(job, pins, tp * dp):
                        yield Plan(tp, pp, dp, micro, virtual, ep)


@memoise()
def fastest_plan(job: TrainingJob, accelerators: int,
                 pins: Parallelism | None = None) -> PlanChoice | None:
    """The plan with the most tokens per second that fits HBM on ``accelerators``, or None.

    Plans are compared per token, as each rounds the batch a little differently.
    ``memory_bound`` is set when a plan over 1% faster exists that does not fit in memory.
    """
    best: tuple[float, Plan, StepTime, Memory] | None = None
    fastest_any = math.inf
    for plan in candidate_plans(job, accelerators, pins or Parallelism()):
        step = step_time(job, plan)
        per_token = step.step_s / step.tokens
        fastest_any = min(fastest_any, per_token)
        if best is not None and per_token >= best[0]:
            continue
        memory = memory_per_accelerator(job, plan)
        if memory.total_bytes <= job.hbm_bytes:
            best = (per_token, plan, step, memory)
    if best is None:
        return None
    return PlanChoice(best[1], best[2], best[3], fastest_any < best[0] * 0.99)


def fewest_accelerators(job: TrainingJob, tokens: float, deadline_s: float, unit_size: int,
                        pins: Parallelism | None = None,
                        assumptions: Mapping[str, Assumption] | None = None,
                        max_units: int = 1 << 20) -> tuple[int, PlanChoice] | None:
    """Fewest whole units whose fastest plan trains ``tokens`` within ``deadline_s``.

    Wall time = tokens / (tokens per second of the fastest plan) / goodput. More accelerators
    allow more data-parallel ranks and fewer microbatches each, so the wall time falls with n
    almost monotonically (the rounding of the batch to d·b·m and the slow fall of goodput
    with n are the exceptions); a doubling search then bisection finds the threshold.
    """
    def wall(units: int) -> tuple[float, PlanChoice | None]:
        choice = fastest_plan(job, units * unit_size, pins)
        if choice is None:
            return math.inf, None
        good = job_goodput(job.params, units * unit_size, assumptions).goodput
        return (tokens / choice.step.tokens_per_s / good if good > 0 else math.inf), choice

    low = max(1, math.floor(tokens * job.model_flops_per_token / (
        deadline_s * job.sustained_peak_flops * job.matmul_efficiency) / unit_size))
    high = low
    while wall(high)[0] > deadline_s:
        if high >= max_units:
            return None
        low, high = high, min(max_units, high * 2)
    while low < high:
        middle = (low + high) // 2
        if wall(middle)[0] <= deadline_s:
            high = middle
        else:
            low = middle + 1
    choice = wall(high)[1]
    return None if choice is None else (high, choice)


def job_goodput(params: float, accelerators: int,
             assumptions: Mapping[str, Assumption] | None) -> reliability.Goodput:
    """Goodput of a job on ``accelerators``: the reliability model, or the fixed ``goodput``
    assumption when a system, workload or caller overrides it."""
    values = {**DEFAULTS, **(assumptions or {})}
    result = reliability.estimate_goodput(params, accelerators, values)
    override = values["goodput"]
    if override.source != _GOODPUT_SOURCE:
        return replace(result, wasted_fraction=1.0 - override.value)
    return result


# ---------------------------------------------------------------------------------------------
# Public results


@dataclass(frozen=True, slots=True)
class TrainingThroughput:
    """Steady-state training speed of one model on a number of accelerators of one system."""

    tokens_per_s_per_unit: float
    model_flops_per_s_per_unit: float
    plan: Plan | None
    bound: str
    step_time_s: float
    memory_bytes_per_accelerator: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"tokens_per_s_per_unit": self.tokens_per_s_per_unit,
                "model_flops_per_s_per_unit": self.model_flops_per_s_per_unit,
                "parallelism": self.plan.to_dict() if self.plan else None,
                "bound": self.bound, "step_time_s": self.step_time_s,
                "memory_bytes_per_accelerator": self.memory_bytes_per_accelerator}


def training_throughput(model: ModelSpec, system: System, *, sequence_length: int,
                        precision: Precision, accelerators: int,
                        assumptions: Mapping[str, Assumption],
                        global_batch_tokens: float = 16e6,
                        recompute: Recompute = Recompute.SELECTIVE,
                        zero_stage: int = 1) -> TrainingThroughput:
    """Training tokens per second per procurable unit on ``accelerators`` (steady state).

    A token here costs the full training FLOPs (6·N + attention); callers with another cost
    per token (an RL update) rescale. No goodput is applied. When no plan fits in memory the
    rate is 0 and the bound "memory-capacity".
    """
    job = TrainingJob.build(model, system, sequence_length=sequence_length,
                            global_batch_tokens=global_batch_tokens, precision=precision,
                            recompute=recompute, zero_stage=zero_stage, assumptions=assumptions)
    choice = fastest_plan(job, accelerators)
    if choice is None:
        return TrainingThroughput(0.0, 0.0, None, "memory-capacity", math.inf, math.inf)
    units = accelerators / system.accelerators
    tokens_per_s = choice.step.tokens_per_s / units
    return TrainingThroughput(tokens_per_s, tokens_per_s * job.model_flops_per_token,
                              choice.plan, choice.bound, choice.step.step_s,
                              choice.memory.total_bytes)


@dataclass(frozen=True, slots=True)
class TrainingEstimate:
    """A pretraining run on one system: plan, speed, time, reliability and cost."""

    model: str
    system: str
    tokens: float
    total_flops: float
    accelerators: int
    units: int
    plan: Plan
    step: StepTime
    memory: Memory
    bound: str
    peak_flops_per_accelerator: float
    reliability: reliability.Goodput
    cost_usd: float
    cost_basis: str
    deadline_s: float | None
    assumptions: tuple[Assumption, ...] = field(default=())

    @property
    def flops_per_s_per_accelerator(self) -> float:
        """Steady-state model FLOP/s per allocated accelerator (no recomputation, no failures)."""
        rate = self.step.tokens_per_s / self.accelerators
        return rate * self.total_flops / self.tokens

    @property
    def wall_time_s(self) -> float:
        """Time to train every token: steps · step time / goodput."""
        return self.tokens / self.step.tokens_per_s / self.reliability.goodput

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; the keys listed in the module contract are stable."""
        per_acc = self.flops_per_s_per_accelerator
        return {
            "model": self.model, "system": self.system, "tokens": self.tokens,
            "total_flops": self.total_flops,
            "tokens_per_s_per_accelerator": self.step.tokens_per_s / self.accelerators,
            "global_batch_tokens": self.step.tokens,
            "model_flops_utilization": per_acc / self.peak_flops_per_accelerator,
            "flops_per_s_per_accelerator": per_acc,
            "effective_flops_per_s_per_accelerator": per_acc * self.reliability.goodput,
            "wall_time_s": self.wall_time_s,
            "accelerator_hours": self.wall_time_s * self.accelerators / SECONDS_PER_HOUR,
            "accelerators": self.accelerators, "units": self.units,
            "accelerators_used": self.plan.accelerators,
            "memory_bytes_per_accelerator": self.memory.total_bytes,
            "memory": self.memory.to_dict(), "parallelism": self.plan.to_dict(),
            "step": self.step.to_dict(), "step_time_s": self.step.step_s,
            "bound": self.bound, "goodput": self.reliability.goodput,
            "reliability": self.reliability.to_dict(),
            "cost_usd": self.cost_usd, "cost_basis": self.cost_basis,
            "deadline_s": self.deadline_s,
            "meets_deadline": None if self.deadline_s is None
            else self.wall_time_s <= self.deadline_s,
            "assumptions": [a.to_dict() for a in self.assumptions],
        }


def pretrain_assumptions(spec: Pretrain, system: System,
                         overrides: Mapping[str, float] | None = None) -> dict[str, Assumption]:
    """Training and cost defaults < system file < workload file < explicit overrides."""
    merged = resolve({**DEFAULTS, **COST_DEFAULTS}, system.id, system.efficiency,
                     spec.name or "pretrain", spec.efficiency)
    for name, value in (overrides or {}).items():
        note = merged[name].note if name in merged else ""
        merged[name] = Assumption(name, value, "override", note)
    return merged


def estimate_pretrain(spec: Pretrain, model: ModelSpec, system: System,
                      overrides: dict[str, float] | None = None) -> TrainingEstimate:
    """Plan, time and cost of a pretraining run: on ``spec.accelerators`` when given (the
    fastest plan), else on the fewest whole units that meet ``spec.deadline``.

    Cost: units · (rental price per unit-second if the system has one, else amortised purchase
    plus energy; ``planner.perf.cost``) · wall time.
    """
    assumptions = pretrain_assumptions(spec, system, overrides)
    job = TrainingJob.build(model, system, sequence_length=spec.sequence_length,
                            global_batch_tokens=spec.global_batch_tokens,
                            precision=spec.precision, recompute=spec.recompute,
                            zero_stage=spec.zero_stage, assumptions=assumptions)
    accelerators, choice = _size_job(job, spec, system, assumptions)
    good = job_goodput(job.params, accelerators, assumptions)
    units = math.ceil(accelerators / system.accelerators)
    price = unit_cost(system, assumptions, prefer_rental=True)
    wall = spec.tokens / choice.step.tokens_per_s / good.goodput
    listed = {**assumptions, "goodput": _goodput_assumption(assumptions, good)}
    return TrainingEstimate(
        model=model.id, system=system.id, tokens=spec.tokens,
        total_flops=spec.tokens * job.model_flops_per_token, accelerators=accelerators,
        units=units, plan=choice.plan, step=choice.step, memory=choice.memory,
        bound=choice.bound, peak_flops_per_accelerator=job.peak_flops,
        reliability=good,
        cost_usd=units * price.usd_per_s * wall, cost_basis=price.basis,
        deadline_s=spec.deadline, assumptions=tuple(listed[name] for name in sorted(listed)))


def _goodput_assumption(assumptions: Mapping[str, Assumption],
                        good: reliability.Goodput) -> Assumption:
    """The goodput actually used, named as an assumption for the report."""
    given = assumptions["goodput"]
    if given.source != _GOODPUT_SOURCE:
        return given
    note = (f"job MTBF {good.mtbf_s / SECONDS_PER_HOUR:.2f} h, checkpoint "
            f"{good.checkpoint_s:.1f} s every {good.checkpoint_interval_s:.0f} s, restart "
            f"{good.restart_s:.0f} s")
    return Assumption("goodput", good.goodput, "reliability model (Young/Daly interval)", note)


def _size_job(job: TrainingJob, spec: Pretrain, system: System,
              assumptions: Mapping[str, Assumption]) -> tuple[int, PlanChoice]:
    """(accelerators, plan): the fixed count's fastest plan, or the deadline's fewest units."""
    if spec.accelerators is not None:
        choice = fastest_plan(job, spec.accelerators, spec.parallelism)
        if choice is None:
            raise _no_fit(spec, system, spec.accelerators)
        return spec.accelerators, choice
    assert spec.deadline is not None  # Pretrain's validator requires one of the two
    found = fewest_accelerators(job, spec.tokens, spec.deadline, system.accelerators,
                                spec.parallelism, assumptions)
    if found is None:
        days = spec.deadline / SECONDS_PER_DAY
        raise InfeasibleError(f"no number of {system.id} units trains {spec.model} within "
                              "the deadline", [f"deadline {days:.1f} days; relax it or pin "
                                               "fewer parallelism fields"])
    return found[0] * system.accelerators, found[1]


def _no_fit(spec: Pretrain, system: System, accelerators: int) -> InfeasibleError:
    """The error for a model that fits on no plan of the given size."""
    pins = {k: v for k, v in spec.parallelism.model_dump().items() if v is not None}
    return InfeasibleError(
        f"{spec.model} does not fit on {accelerators} x {system.accelerator.name}",
        [f"no plan{' with ' + str(pins) if pins else ''} keeps weights, gradients, optimizer "
         "states and activations within "
         f"{system.accelerator.hbm_capacity / 1e9:.0f} GB per accelerator",
         "add accelerators, use recompute: full, raise zero_stage, or unpin parallelism"])
