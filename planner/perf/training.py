"""Training performance: FLOPs, memory per accelerator, step time, plan search, time and cost.

The model is built bottom-up (DESIGN.md §4) and its few efficiency factors are calibrated
against published runs (``planner.perf.calibrate_training``).

FLOPs per token (PaLM's MFU accounting, Chowdhery et al. 2022, arXiv 2204.02311, App. B; the
common formulas of ``reference/measurements.md``): training is forward + backward = 3 x
forward, with forward = 2·N_matmul + causal attention. A token at position i attends to i
earlier tokens, s/2 on average, so causal attention costs half of the full-context
``attention_flops_per_token(arch, s)`` = 4·L·H·d_h·s; training attention is then
3 · 2·L·H·d_h·s = 6·L·s·d when H·d_h = d. Llama 3.1 405B at s = 8,192: 2.52e12 FLOPs/token.

Step time of one optimizer step, for a plan (t tensor-, c context-, p pipeline-, d data-
parallel ranks, microbatches of b sequences, v interleaved stages per pipeline rank):

    t_mb     = compute + quantisation + exposed TP, CP and EP communication of one microbatch
               on the slowest stage
    pipeline = m · t_mb + bubble(schedule)      (1F1B (p-1)·t_mb; interleaved (p-1)/v·t_mb,
                                                 Narayanan et al. 2021, arXiv 2104.04473, §2.2;
                                                 zero-bubble and DualPipe below)
    step     = pipeline + exposed DP communication + exposed PP sends

Communication overlap is modelled, not fitted (``comm_overlap`` switches it off for stacks that
do not overlap, such as Megatron-LM in 2021):

* TP with sequence parallelism: each layer's all-gathers and reduce-scatters are split into t
  ring steps, each overlapped with the partial GEMM of another chunk (Wang et al. 2023,
  "Overlap communication with dependent computation via decomposition", ASPLOS; Transformer
  Engine's userbuffers, Megatron ``--tp-comm-overlap``). An all-gather starts with the GEMM of
  the local shard, so all its steps hide; a reduce-scatter's last step waits for the last
  partial GEMM, one step in t of half the traffic. The rest is exposed only where it outlasts
  the GEMMs it is paired with: max(c/(2t), c - gemm).
* CP (ring attention, Liu et al. 2023, arXiv 2310.01889; Megatron-Core context parallelism):
  each of the c ranks holds s/c tokens and passes its K and V chunk around the ring while it
  computes attention on the previous one; exposed only where the KV exchange outlasts
  attention: max(0, kv - attention).
* DP (ZeRO-1/2 with Megatron ``--overlap-grad-reduce --overlap-param-gather``): the gradient
  reduce-scatter runs in buckets during the backward pass of the last microbatch, the weight
  all-gather during the forward of the first: exposed max(0, rs - backward) +
  max(0, ag - forward) of one microbatch. Without overlap, all of it. (Interleaved chunks
  could start their buckets earlier, but with that window the model no longer shows the
  published strong-scaling loss of Megatron-Core, 47% -> 42% MFU from 96 to 4,608 H100; the
  one-microbatch window reproduces it.)
* PP point-to-point sends of the activations (b·s/(t·c) tokens of d values) run while the next
  microbatch computes, exposed only where longer.

Compute runs at ``training_matmul`` of the measured GEMM ceiling of the accelerator and format
(:mod:`planner.perf.gemm`) times the FLOP mix's peak (:mod:`planner.perf.precision` gives each
recipe's formats and GEMM efficiency); quantisation kernels of FP8/FP4 recipes move
``quantize_bytes_per_element`` per quantised element over HBM at ``quantize_bandwidth`` of its
peak. The memory-bound kernels of every layer (norms, rotary embedding, residual adds, the
SwiGLU activation: :func:`elementwise_bytes_per_token_layer`) move their bytes over HBM at the
same fraction; their share of a step grows as the hidden size shrinks (bytes ∝ d, GEMM FLOPs
∝ d²) and as the tensor cores get faster against HBM (FP8 on Blackwell most), which is what
makes one ``training_matmul`` hold from 1.7B to 1T parameters and from A100 to GB200
(Megatron-LM Table 1: 137 -> 163 TFLOP/s per A100 with model size). TP collectives use the
scale-up fabric at ``scale_up`` of its one-direction bandwidth while the group fits one domain;
DP collectives the scale-out network at ``scale_out`` unless the DP group fits in one scale-up
domain.

Expert parallelism (MoE models): the routed experts of each MoE layer are spread over ``ep``
ranks taken from the t·d ranks of a stage (Megatron-Core's layout; the dense and attention
parts keep TP and DP). Their weights, gradients and optimizer states are sharded over ep, and
ZeRO shards the optimizer over the t·d/ep expert-data-parallel ranks. Each MoE layer's
dispatch and combine all-to-alls (``comm.ep_bytes_per_token_layer``) run on scale-up when the
EP group fits one domain, else on scale-out. Under DualPipe a fraction ``ep_overlap`` of them
is scheduled against another microbatch's compute (DeepSeek-V3 §3.2.1) and is hidden as far as
that compute lasts, while the communication kernels take a fraction ``ep_comm_sms`` of the SMs
(§3.5.1); under the other schedules dispatch, experts and combine run in sequence. The routed
experts' GEMMs run at the pace of the most loaded rank (``expert_imbalance``) and at the speed
of grouped GEMMs at expert shapes, below that of large dense GEMMs (``grouped_gemm``).

Low-precision training (DeepSeek-V3 §3.3.1; NVIDIA Transformer Engine): only the linear-layer
GEMMs run in FP8 or FP4, the share and efficiency its recipe sets
(:mod:`planner.perf.precision`); attention, the output head and the MoE router stay in BF16.
Compute time sums the two parts at their own peaks.

Pipeline schedules beyond 1F1B and interleaving, named options in ``parallelism.schedule``:
zero-bubble ZB-H1 (Qi et al. 2023, arXiv 2401.10241, §3) splits the backward into input and
weight gradients and fills the bubble with the latter, leaving about a third of 1F1B's,
(p-1)/3·t_mb, at 1F1B's memory; DualPipe (DeepSeek-V3 §3.2.1, Table 2) runs two pipelines in
opposite directions with bubble (p/2 - 1)·(F&B + B - 3W), which with F = W = t_mb/3 and
B = 2·t_mb/3 is (p/2 - 1)·2/3·t_mb, and keeps two copies of the stage's parameters.

DeepSeek-V3's multi-token-prediction module (§2.2) is one more transformer block of the last
stage plus a 2d x d projection and the shared output head: ``mtp_depth`` adds its FLOPs as
layer-equivalents that the pipeline split balances in, as it does the output head
(:func:`stage_flops_per_token`; not to the model FLOPs per token, which stay the main model's).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, assert_never

from planner.catalog.schema import BYTES_PER_ELEMENT, Precision, System
from planner.errors import InfeasibleError, InputError, Problem
from planner.perf import comm, reliability
from planner.perf.assumptions import Assumption, resolve
from planner.perf.cost import COST_DEFAULTS, unit_cost
from planner.perf.gemm import gemm_ceiling
from planner.perf.memo import memoise
from planner.perf.precision import Recipe, recipe
from planner.units import SECONDS_PER_DAY, SECONDS_PER_HOUR
from planner.workload.params import attention_flops_per_token, count_params
from planner.workload.schema import (
    Architecture,
    AttentionKind,
    ModelSpec,
    Parallelism,
    PipelineSchedule,
    Pretrain,
    Recompute,
    TrainingPrecision,
)

__all__ = [
    "DEFAULTS",
    "Memory",
    "MicrobatchTime",
    "Plan",
    "PlanChoice",
    "StepTime",
    "TrainingEstimate",
    "TrainingJob",
    "TrainingThroughput",
    "activation_bytes_per_token_layer",
    "bubble_s",
    "dp_time_s",
    "ep_time_s",
    "estimate_pretrain",
    "fastest_plan",
    "fewest_accelerators",
    "high_precision_flops_per_token",
    "job_goodput",
    "memory_per_accelerator",
    "microbatch_parts",
    "mtp_flops_per_token",
    "quantized_elements_per_token_layer",
    "recipe_peak_flops",
    "recompute_flops_per_token",
    "routed_expert_params",
    "stage_flops_per_token",
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
        "training_matmul", 0.64,
        "fit to the training fit set of planner.perf.calibrate_training (Llama 3 405B on "
        "8,192/16,384 H100, arXiv 2407.21783 Table 4; Megatron-LM Table 1 on A100, arXiv "
        "2104.04473; Megatron-Core r0.8.0 weak scaling on H100; Llama 3 8B/70B on B200, GB200 "
        "and GB300 in FP8, MXFP8 and NVFP4): 0.64 minimises its mean absolute error (scanned "
        "0.60-0.70 by 0.01) with the memory-bound kernels counted apart (elementwise_bytes_"
        "per_token_layer); 0.60 before they were",
        "achieved fraction of the measured GEMM ceiling (planner.perf.gemm: 0.80 of peak on "
        "Hopper, 0.87 on A100, 0.78 on Blackwell in BF16) by a layer's GEMMs and attention"),
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
    "comm_overlap": Assumption(
        "comm_overlap", 1.0,
        "Megatron-Core overlaps TP (--tp-comm-overlap), DP (--overlap-grad-reduce, "
        "--overlap-param-gather) and PP communication with compute (Megatron-LM README, "
        "performance section); Megatron-LM 2021 (arXiv 2104.04473) overlapped none: 0",
        "1: overlap TP, CP, DP and PP communication as the step model describes; 0: none"),
    "quantize_bandwidth": Assumption(
        "quantize_bandwidth", 0.75,
        "an MXFP8 quantisation kernel at 6+ TB/s of B200's 8 TB/s HBM (CuTeDSL quantizer, "
        "'Chasing 6 TB/s: an MXFP8 quantizer on Blackwell', 2026)",
        "achieved fraction of peak HBM bandwidth in memory-bound kernels: FP8/FP4 "
        "quantisation, norms, rotary embedding, residual adds and activations"),
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
    "grad_reduce_bytes": Assumption(
        "grad_reduce_bytes", GRAD_REDUCE_BYTES,
        "Llama 3 (arXiv 2407.21783 §3.3.2) reduce-scatters gradients in FP32 for numerical "
        "stability, as Megatron does by default; Megatron-Bridge's benchmark recipes reduce in "
        "BF16 (grad_reduce_in_fp32 = False): 2",
        "bytes per gradient in the data-parallel reduce-scatter (or all-reduce)"),
    "expert_imbalance": Assumption(
        "expert_imbalance", 1.0,
        "Megatron-Bridge force-balances the experts in its MoE benchmarks; DeepSeek-V3 §2.1.2 "
        "(arXiv 2412.19437) keeps the experts balanced per batch with auxiliary-loss-free "
        "routing: 1.0. Routing that is not balanced runs at the most loaded rank's pace",
        "tokens of the most loaded expert-parallel rank over the mean (multiplies the routed-"
        "expert GEMM time)"),
    "grouped_gemm": Assumption(
        "grouped_gemm", 0.90,
        "DeepGEMM README (github.com/deepseek-ai/DeepGEMM, 2025-02-26, H800): contiguous "
        "grouped GEMMs at DeepSeek-V3's expert shapes (4-8 experts of 4,096-8,192 tokens) run "
        "1,288-1,297 TFLOPS for gate/up (N 4,096, K 7,168) and 1,093-1,099 for down (N 7,168, "
        "K 2,048); FLOP-weighted (2:1) 1,220 TFLOPS against 1,358 for the table's largest dense "
        "shape (4,096 x 7,168 x 16,384) on the same GPU and library: 0.90",
        "speed of the routed experts' grouped GEMMs relative to large dense GEMMs (divides the "
        "routed-expert GEMM time)"),
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


def recipe_peak_flops(total_flops: float, high_flops: float, chosen: Recipe,
                      low_peak_flops: float, bf16_peak_flops: float,
                      format_ratio: float = 1.0) -> float:
    """Peak FLOP/s of a training FLOP mix under a precision recipe (harmonic blend), in units
    of the BF16 GEMM ceiling.

    Of the F - F_high GEMM FLOPs a share f (``low_precision_fraction``) runs at the recipe's
    format peak P times its relative efficiency r (the recipe's scaling overhead times
    ``format_ratio``, the measured GEMM ceiling of the format over that of BF16 on the same
    accelerator, :mod:`planner.perf.gemm`), the rest and ``high_flops`` at the BF16 peak:
    F / (f·(F - F_high) / (P·r) + ((1 - f)·(F - F_high) + F_high) / P_bf16).
    """
    if not chosen.quantized or total_flops <= 0:
        return bf16_peak_flops if chosen.gemm_precision is Precision.BF16 else low_peak_flops
    gemm = total_flops - high_flops
    low = chosen.low_precision_fraction * gemm
    return total_flops / (low / (low_peak_flops * chosen.gemm_efficiency * format_ratio)
                          + (total_flops - low) / bf16_peak_flops)


def quantized_elements_per_token_layer(arch: Architecture) -> float:
    """Elements cast to low precision per token and layer, forward and backward.

    Forward: the inputs of the q/k/v, output, FFN-in and FFN-out GEMMs (d + o + d + F);
    backward: the gradients of their outputs (q + kv + d + 2F + d), each once (the row- and
    column-wise copies are in the recipe's bytes per element). Llama 3 70B:
    (8,192 + 8,192 + 8,192 + 28,672) + (8,192 + 2,048 + 8,192 + 57,344 + 8,192) = 137,216.
    """
    q, kv, out = _attention_widths(arch)
    d, f = arch.hidden, _mean_ffn_width(arch)
    return (d + out + d + f) + (q + kv + d + 2 * f + d)


def mtp_flops_per_token(arch: Architecture, sequence_length: int, depth: int) -> float:
    """Training FLOPs per token of ``depth`` multi-token-prediction modules (DeepSeek-V3 §2.2).

    Each is one transformer block (the mean block's matmul weights plus causal attention), a
    2d x d projection and the shared output head (V·d), at 6 FLOPs per weight.
    """
    if depth <= 0:
        return 0.0
    counts = count_params(arch)
    head = arch.vocab * arch.hidden
    block = (counts.matmul_active - head) / arch.layers
    attention = attention_flops_per_token(arch, sequence_length) / 2.0 / arch.layers
    return depth * (6.0 * (block + 2 * arch.hidden * arch.hidden + head) + 3.0 * attention)


def _routed_flops_share(arch: Architecture, total_flops_per_token: float) -> float:
    """Share of the training FLOPs per token in the routed experts' GEMMs: k experts of
    3·d·F_e weights in each MoE layer, 6 FLOPs per weight (DeepSeek-V3: 6 x 8 x 3 x 7,168 x
    2,048 x 58 = 1.23e11 of ~2.5e11 at 4K)."""
    if arch.moe is None or total_flops_per_token <= 0:
        return 0.0
    moe = arch.moe
    routed = 6.0 * moe.experts_per_token * 3 * arch.hidden * moe.expert_ffn_hidden
    return min(1.0, routed * _moe_layers(arch) / total_flops_per_token)


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


def elementwise_bytes_per_token_layer(arch: Architecture, recompute: Recompute) -> float:
    """HBM bytes the memory-bound (non-GEMM) kernels of one layer move per token.

    The forward pass of a pre-norm block with 16-bit activations (2 B per value, kernels as
    Transformer Engine and Megatron-Core fuse them): two RMSNorms (read and write d each, 2·4d),
    rotary embedding of q and k (read and write, 4·(q + kv/2)), two residual adds (read two,
    write one, 2·6d) and the SwiGLU activation (read gate and up, write one, 6F):
    20d + 4q + 2kv + 6F. Each kernel's backward reads its input and the incoming gradient and
    writes the outgoing gradient, twice the forward's traffic, so a pass over the layer moves
    3x the forward's bytes, and full recomputation runs the forward once more (4x). Llama 3.1
    405B (d = q = 16,384, kv = 2,048, F = 53,248): 3 · 716,800 = 2.1504e6 bytes. Not counted:
    the linear layers' own operand traffic (inside the GEMM ceilings) and attention (FlashAttention
    keeps its scores on chip).
    """
    q, kv, _ = _attention_widths(arch)
    d, f = arch.hidden, _mean_ffn_width(arch)
    forward = 20.0 * d + 4.0 * q + 2.0 * kv + 6.0 * f
    return forward * (4.0 if recompute is Recompute.FULL else 3.0)


def activation_bytes_per_token_layer(arch: Architecture,
                                     linear_input_bytes: float = ACTIVATION_BYTES) -> float:
    """Bytes one layer keeps per token for its backward pass, attention core recomputed.

    Korthikanti et al. 2022 (arXiv 2205.05198) §4.1 count 34·d bytes per token for a GPT layer
    (11d attention, 19d MLP, 4d layer norms, with two dropout masks). The same count for a
    Llama-style block (no dropout, GQA, SwiGLU of width F), 16-bit values:
    norm inputs 2·2d, normalised inputs of the attention and FFN matmuls 2·2d, q, k, v and the
    attention output 2·(q + kv + o), SwiGLU gate and up outputs 2·2F and down-projection input
    2F. A GPT block (kv = 2d, F = 8d/3 for equal weights) gives 32d = 34d less the masks;
    Llama 3.1 405B gives 520,192 B (31.75·d).

    Low-precision recipes keep the linear layers' inputs (the normalised inputs 2d, the
    attention output o and the down-projection input F) in their GEMM format for the wgrad
    GEMM (Transformer Engine saves the cast tensors; DeepSeek-V3 §3.3.3 caches them in FP8):
    ``linear_input_bytes`` each.
    """
    q, kv, out = _attention_widths(arch)
    d, f = arch.hidden, _mean_ffn_width(arch)
    linear_inputs = 2 * d + out + f
    others = 2 * d + q + kv + 2 * f
    return ACTIVATION_BYTES * others + linear_input_bytes * linear_inputs


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
    comm_overlap: float = 1.0
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
    expert_imbalance: float = 1.0
    grouped_gemm: float = 1.0
    routed_flops_share: float = 0.0
    grad_reduce_bytes: float = GRAD_REDUCE_BYTES
    param_gather_bytes: float = WEIGHT_BYTES
    attention_flops_per_token: float = 0.0
    kv_width: int = 0
    quantize_bytes_per_token_layer: float = 0.0
    hbm_bytes_per_s: float = 0.0
    quantize_efficiency: float = 0.75
    mtp_flops_per_token: float = 0.0
    recipe: TrainingPrecision = TrainingPrecision.BF16
    bf16_peak_flops: float = 0.0
    head_flops_per_token: float = 0.0
    elementwise_bytes_per_token_layer: float = 0.0

    @property
    def sustained_peak_flops(self) -> float:
        """Peak of the job's FLOP mix (:func:`recipe_peak_flops`); the declared peak if unset."""
        return self.compute_peak_flops or self.peak_flops

    @classmethod
    def build(cls, model: ModelSpec, system: System, *, sequence_length: int,
              global_batch_tokens: float | None = None, precision: Precision | TrainingPrecision,
              recompute: Recompute, zero_stage: int, assumptions: Mapping[str, Assumption],
              batch_sequences: int | None = None, mtp_depth: int = 0) -> TrainingJob:
        """Derive the job's constants from a model, a system and the assumptions.

        The batch is ``batch_sequences`` when given, else ``global_batch_tokens`` rounded up to
        whole sequences (16M tokens when neither is).
        """
        arch = model.architecture
        values = {name: a.value for name, a in {**DEFAULTS, **assumptions}.items()}
        chosen = recipe(precision)
        peak = _peak_flops(system, chosen.gemm_precision)
        bf16 = system.accelerator.peak_flops.bf16
        name = system.accelerator.name
        ceiling = gemm_ceiling(name, Precision.BF16)
        format_ratio = gemm_ceiling(name, chosen.gemm_precision) / ceiling
        total = (training_flops_per_token(arch, sequence_length)
                 + recompute_flops_per_token(arch, sequence_length, recompute))
        high = high_precision_flops_per_token(arch, sequence_length, recompute)
        moe = arch.moe
        if batch_sequences is None:
            tokens = 16e6 if global_batch_tokens is None else global_batch_tokens
            batch_sequences = max(1, math.ceil(tokens / sequence_length))
        _, kv, _ = _attention_widths(arch)
        return cls(
            layers=arch.layers, hidden=arch.hidden, heads=arch.heads,
            sequence_length=sequence_length,
            batch_sequences=batch_sequences,
            params=float(count_params(arch).total),
            model_flops_per_token=training_flops_per_token(arch, sequence_length),
            recompute_flops_per_token=recompute_flops_per_token(arch, sequence_length,
                                                                recompute),
            activation_bytes_per_token_layer=activation_bytes_per_token_layer(
                arch, BYTES_PER_ELEMENT[chosen.gemm_precision] if chosen.quantized
                else ACTIVATION_BYTES),
            recompute=recompute, zero_stage=zero_stage,
            peak_flops=peak,
            hbm_bytes=system.accelerator.hbm_capacity,
            scale_up_bytes_per_s=comm.unidirectional(system.scale_up.bandwidth),
            scale_up_domain=system.scale_up.domain_size,
            scale_out_bytes_per_s=system.scale_out.bandwidth,
            matmul_efficiency=values["training_matmul"] * ceiling,
            scale_up_efficiency=values["scale_up"],
            scale_out_efficiency=values["scale_out"],
            comm_overlap=values["comm_overlap"],
            compute_peak_flops=recipe_peak_flops(total, high, chosen, peak,
                                                 bf16 if bf16 else peak, format_ratio),
            moe_layers=_moe_layers(arch), experts=moe.experts if moe else 0,
            experts_per_token=moe.experts_per_token if moe else 0,
            node_limit=moe.node_limit if moe else None,
            routed_params=routed_expert_params(arch),
            dispatch_bytes=FP8_DISPATCH_BYTES if chosen.quantized else ACTIVATION_BYTES,
            ep_overlap=values["ep_overlap"], ep_comm_sms=values["ep_comm_sms"],
            expert_imbalance=values["expert_imbalance"], grouped_gemm=values["grouped_gemm"],
            grad_reduce_bytes=values["grad_reduce_bytes"],
            param_gather_bytes=chosen.param_gather_bytes,
            routed_flops_share=_routed_flops_share(arch, total),
            attention_flops_per_token=attention_flops_per_token(arch, sequence_length) / 2.0,
            kv_width=int(kv),
            quantize_bytes_per_token_layer=(chosen.quantize_bytes_per_element
                                            * chosen.low_precision_fraction
                                            * quantized_elements_per_token_layer(arch)),
            hbm_bytes_per_s=system.accelerator.hbm_bandwidth,
            quantize_efficiency=values["quantize_bandwidth"],
            mtp_flops_per_token=mtp_flops_per_token(arch, sequence_length, mtp_depth),
            recipe=chosen.name, bf16_peak_flops=bf16 or peak,
            head_flops_per_token=6.0 * arch.vocab * arch.hidden,
            elementwise_bytes_per_token_layer=elementwise_bytes_per_token_layer(arch, recompute))

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
    """A parallel layout: t·c·p·d accelerators in use, microbatches of b sequences.

    ``cp`` ranks split each sequence (context parallelism); ``ep`` ranks of a stage's t·d share
    each MoE layer's routed experts (1: no expert parallelism, the experts are split by TP like
    the dense layers); ``schedule`` is the pipeline schedule (interleaved when v > 1).
    """

    tp: int
    pp: int
    dp: int
    microbatch: int
    virtual_stages: int = 1
    ep: int = 1
    cp: int = 1
    schedule: PipelineSchedule = PipelineSchedule.ONE_F_ONE_B

    @property
    def accelerators(self) -> int:
        """Accelerators the plan uses."""
        return self.tp * self.cp * self.pp * self.dp

    def to_dict(self) -> dict[str, int | str]:
        """JSON-ready form (contract keys: tp, pp, dp, microbatch, ep; also cp, schedule)."""
        return {"tp": self.tp, "pp": self.pp, "dp": self.dp, "cp": self.cp,
                "microbatch": self.microbatch, "virtual_stages": self.virtual_stages,
                "ep": self.ep, "schedule": self.schedule.value}


def microbatches(job: TrainingJob, plan: Plan) -> int:
    """Microbatches per pipeline per step: m = B / (d·b) rounded to the nearest whole number.

    Megatron-LM requires the global batch to be a multiple of d·b; the plan rounds the
    requested batch of B sequences to d·b·m, the nearest such multiple (at least one).
    """
    return _microbatch_count(job.batch_sequences, plan.dp, plan.microbatch)


def _microbatch_count(batch_sequences: int, dp: int, microbatch: int) -> int:
    return max(1, math.floor(batch_sequences / (dp * microbatch) + 0.5))


def stage_layers(job: TrainingJob, pp: int) -> int:
    """Layers on the slowest pipeline stage: ceil(L / p)."""
    return math.ceil(job.layers / pp)


def stage_flops_per_token(job: TrainingJob, pp: int) -> float:
    """Training FLOPs per token of the slowest pipeline stage.

    The pipeline splits whole layers; the output head with its loss (6·V·d FLOPs per token)
    and any MTP modules sit on the last stage as e layer-equivalents, and the split may give
    that stage fewer layers to make up for them (Llama 3, arXiv 2407.21783 §3.3.2: one layer
    less on the first and last stages; Megatron-Core's account-for-embedding/loss split;
    DualPipe pairs the first and last stages on one device). With k layers on the last stage
    the slowest stage does max(ceil((L - k)/(p - 1)), k + e) layers' work, minimised over k;
    one stage does all L + e. Llama 3 70B on PP 4 (e = 6.30e9 / 5.17e9 = 1.22): k = 19 gives
    max(21, 20.22) = 21 layers' work where an even split would do 20.
    """
    per_token = job.model_flops_per_token + job.recompute_flops_per_token
    extra = job.head_flops_per_token + job.mtp_flops_per_token
    layer = (per_token - job.head_flops_per_token) / job.layers
    return layer * _slowest_stage(job.layers, extra / layer, pp)


@functools.lru_cache(maxsize=4096)
def _slowest_stage(layers: int, e: float, pp: int) -> float:
    """Layers' work of the slowest stage (:func:`stage_flops_per_token`), remembered: the plan
    search asks it for every plan it times, with a few distinct arguments."""
    if pp <= 1:
        return layers + e
    most = math.ceil(layers / pp)
    return min(max(math.ceil((layers - k) / (pp - 1)), k + e) for k in range(most + 1))


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

    Per layer and microbatch of b·s tokens, divided by t·c (sequence parallelism shards every
    stored tensor, Korthikanti et al. 2022 Table 2; context parallelism splits the sequence):
    selective keeps the full count (:func:`activation_bytes_per_token_layer`); none adds the
    attention scores 5·a·s/c; full keeps only each layer's 2·d-byte input, plus one layer's
    full set while it is recomputed.
    """
    tokens = plan.microbatch * job.sequence_length / (plan.tp * plan.cp)
    per_layer = job.activation_bytes_per_token_layer * tokens
    in_flight = _in_flight(plan.pp, plan.virtual_stages, micro)
    if plan.schedule is PipelineSchedule.DUALPIPE:
        in_flight = min(plan.pp + 1.0, float(micro))  # DeepSeek-V3 Table 2: PP + 1
    layers = first_stage_layers(job, plan.pp) * in_flight
    match job.recompute:
        case Recompute.FULL:
            return layers * ACTIVATION_BYTES * job.hidden * tokens + per_layer
        case Recompute.NONE:
            scores = (SCORE_BYTES_PER_HEAD_TOKEN * job.heads * job.sequence_length / plan.cp
                      * tokens)
            return layers * (per_layer + scores)
        case Recompute.SELECTIVE:
            return layers * per_layer


def _param_shards(job: TrainingJob, plan: Plan) -> tuple[tuple[float, int], ...]:
    """(parameters per accelerator, ZeRO sharding degree) of the dense and the expert parts.

    Dense (all but routed experts): N_dense · ceil(L/p)/L / t, sharded over d·c. Routed experts
    with ep > 1: N_routed / L_moe · min(ceil(L/p), L_moe) / ep, sharded over the t·d/ep
    expert-data-parallel ranks; with ep = 1 they split by TP like the dense part.
    """
    layers = stage_layers(job, plan.pp)
    dense = (job.params - job.routed_params) * layers / job.layers / plan.tp
    replicas = plan.dp * plan.cp  # CP ranks hold the same weights (Megatron's DP x CP group)
    if job.routed_params <= 0:
        return ((dense, replicas),)
    if plan.ep <= 1:
        return ((dense, replicas), (job.routed_params * layers / job.layers / plan.tp, replicas))
    routed = job.routed_params / job.moe_layers * min(layers, job.moe_layers) / plan.ep
    return ((dense, replicas), (routed, max(1, plan.tp * plan.dp // plan.ep)))


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
    if plan.schedule is PipelineSchedule.DUALPIPE:  # DeepSeek-V3 Table 2: 2x parameters
        weights *= 2.0
    return Memory(weights_bytes=weights, gradients_bytes=grads, optimizer_bytes=optimizer,
                  activations_bytes=activation_bytes(job, plan, microbatches(job, plan)))


@dataclass(frozen=True, slots=True)
class StepTime:
    """One optimizer step split into its parts (seconds); ``*_hidden_s`` ran behind compute.

    The step is the sum of the exposed parts; hidden communication is shown, not counted.
    """

    compute_s: float
    tp_communication_s: float
    pipeline_bubble_s: float
    dp_communication_s: float
    microbatches: int
    tokens: float
    ep_communication_s: float = 0.0
    cp_communication_s: float = 0.0
    pp_communication_s: float = 0.0
    quantization_s: float = 0.0
    elementwise_s: float = 0.0
    tp_hidden_s: float = 0.0
    cp_hidden_s: float = 0.0
    dp_hidden_s: float = 0.0
    pp_hidden_s: float = 0.0
    ep_hidden_s: float = 0.0

    @property
    def step_s(self) -> float:
        """Wall time of one step."""
        return (self.compute_s + self.quantization_s + self.elementwise_s
                + self.tp_communication_s
                + self.cp_communication_s + self.pipeline_bubble_s + self.dp_communication_s
                + self.ep_communication_s + self.pp_communication_s)

    @property
    def tokens_per_s(self) -> float:
        """Training tokens per second of the whole job: the batch the plan runs over its step."""
        return self.tokens / self.step_s

    def parts(self) -> tuple[tuple[str, float, float], ...]:
        """(term, exposed seconds, hidden seconds) of every term, in step order."""
        return (("compute", self.compute_s, 0.0),
                ("quantization", self.quantization_s, 0.0),
                ("elementwise", self.elementwise_s, 0.0),
                ("tp-communication", self.tp_communication_s, self.tp_hidden_s),
                ("cp-communication", self.cp_communication_s, self.cp_hidden_s),
                ("ep-communication", self.ep_communication_s, self.ep_hidden_s),
                ("pipeline-bubble", self.pipeline_bubble_s, 0.0),
                ("pp-communication", self.pp_communication_s, self.pp_hidden_s),
                ("dp-communication", self.dp_communication_s, self.dp_hidden_s))

    @property
    def bound(self) -> str:
        """The largest part: compute, or the overhead that costs most."""
        parts = {name: exposed for name, exposed, _ in self.parts()}
        return max(parts, key=lambda name: parts[name])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: the exposed parts, and ``breakdown`` with hidden seconds too."""
        return {"step_s": self.step_s, "compute_s": self.compute_s,
                "quantization_s": self.quantization_s,
                "elementwise_s": self.elementwise_s,
                "tp_communication_s": self.tp_communication_s,
                "cp_communication_s": self.cp_communication_s,
                "pipeline_bubble_s": self.pipeline_bubble_s,
                "pp_communication_s": self.pp_communication_s,
                "dp_communication_s": self.dp_communication_s,
                "ep_communication_s": self.ep_communication_s,
                "microbatches": self.microbatches, "tokens_per_step": self.tokens,
                "breakdown": [{"term": name, "exposed_s": exposed, "hidden_s": hidden,
                               "share_of_step": exposed / self.step_s if self.step_s else 0.0}
                              for name, exposed, hidden in self.parts()]}


def _group_bandwidth(job: TrainingJob, span: int) -> tuple[float, float]:
    """(bandwidth, efficiency) of a group spanning ``span`` consecutive ranks: scale-up inside
    one domain, else scale-out (ranks are ordered TP, CP, DP, then PP: Megatron's default)."""
    if span <= job.scale_up_domain:
        return job.scale_up_bytes_per_s, job.scale_up_efficiency
    return job.scale_out_bytes_per_s, job.scale_out_efficiency


def _tp_bandwidth(job: TrainingJob, tp: int) -> tuple[float, float]:
    """(bandwidth, efficiency) of a TP group."""
    return _group_bandwidth(job, tp)


def _dp_bandwidth(job: TrainingJob, plan: Plan) -> tuple[float, float]:
    """(bandwidth, efficiency) of a DP group: in one scale-up domain when t·c·d fits in it."""
    return _group_bandwidth(job, plan.tp * plan.cp * plan.dp)


def _pp_bandwidth(job: TrainingJob, plan: Plan) -> tuple[float, float]:
    """(bandwidth, efficiency) between pipeline stages: neighbours t·c·d ranks apart."""
    return _group_bandwidth(job, 2 * plan.tp * plan.cp * plan.dp)


def ep_time_s(job: TrainingJob, plan: Plan) -> float:
    """All-to-all time of one microbatch on the slowest stage (before any overlap).

    Each rank owns b·s/(t·c) tokens; min(ceil(L/p), L_moe) MoE layers each send
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
    sent = layers * per_token * plan.microbatch * job.sequence_length / (plan.tp * plan.cp)
    if inside:
        return comm.collective_time_s(sent, job.scale_up_bytes_per_s, job.scale_up_efficiency)
    return comm.collective_time_s(sent, job.scale_out_bytes_per_s, job.scale_out_efficiency)


@dataclass(frozen=True, slots=True)
class MicrobatchTime:
    """One microbatch on the slowest stage: compute and each communication, exposed and total."""

    compute_s: float
    quantization_s: float
    tp_s: float
    tp_exposed_s: float
    cp_s: float
    cp_exposed_s: float
    ep_s: float
    ep_exposed_s: float
    elementwise_s: float = 0.0

    @property
    def total_s(self) -> float:
        """Wall time of the microbatch: compute, quantisation, memory-bound kernels and exposed
        communication."""
        return (self.compute_s + self.quantization_s + self.elementwise_s + self.tp_exposed_s
                + self.cp_exposed_s + self.ep_exposed_s)


def microbatch_parts(job: TrainingJob, plan: Plan) -> MicrobatchTime:
    """Compute and communication of one microbatch on the slowest stage.

    Compute: the slowest stage's FLOPs per token (:func:`stage_flops_per_token`) · b·s
    tokens / (t·c), at ``training_matmul`` of the GEMM ceiling of the FLOP mix's peak, the
    routed experts' share slowed by ``expert_imbalance`` / ``grouped_gemm``; with an overlapped
    all-to-all (DualPipe), over 1 - ``ep_comm_sms`` of the SMs. Quantisation: the recipe's
    bytes per token and layer over HBM at ``quantize_bandwidth``; memory-bound kernels
    (:func:`elementwise_bytes_per_token_layer`) likewise. TP: ceil(L/p) layers of
    :func:`comm.tp_bytes_per_layer` over b·s/c tokens, exposed max(c/(2t), c - GEMMs) with
    overlap. CP: the ring's KV traffic
    (:func:`comm.cp_bytes_per_layer`), exposed beyond the attention it runs behind. EP: of the
    all-to-all time a, max((1 - o)·a, a - compute) is exposed under DualPipe (o =
    ``ep_overlap``), all of it under the other schedules.
    """
    tokens = plan.microbatch * job.sequence_length
    layers = stage_layers(job, plan.pp)
    ranks = plan.tp * plan.cp
    flops = stage_flops_per_token(job, plan.pp) * tokens / ranks
    rate = job.sustained_peak_flops * job.matmul_efficiency
    routed_slowdown = job.expert_imbalance / job.grouped_gemm - 1.0
    compute = flops / rate * (1.0 + routed_slowdown * job.routed_flops_share)
    passes = 3.0 if job.recompute is Recompute.NONE else 4.0  # recomputed forward core
    attention = (passes * job.attention_flops_per_token * tokens * layers / job.layers / ranks
                 / ((job.bf16_peak_flops or job.peak_flops) * job.matmul_efficiency))
    a2a = ep_time_s(job, plan)
    # Only DualPipe pairs one microbatch's forward with another's backward so that each
    # all-to-all has independent compute to hide behind (DeepSeek-V3 §3.2.1); 1F1B and its
    # interleaved form run dispatch -> experts -> combine in sequence.
    overlap = job.ep_overlap if plan.schedule is PipelineSchedule.DUALPIPE else 0.0
    if a2a > 0 and overlap > 0:
        compute /= 1.0 - job.ep_comm_sms
    ep_exposed = max((1.0 - overlap) * a2a, a2a - compute, 0.0)
    quantization = (job.quantize_bytes_per_token_layer * tokens * layers / ranks
                    / (job.hbm_bytes_per_s * job.quantize_efficiency)
                    if job.hbm_bytes_per_s > 0 else 0.0)
    elementwise = (job.elementwise_bytes_per_token_layer * tokens * layers / ranks
                   / (job.hbm_bytes_per_s * job.quantize_efficiency)
                   if job.hbm_bytes_per_s > 0 else 0.0)
    sent = layers * comm.tp_bytes_per_layer(tokens / plan.cp, job.hidden, plan.tp,
                                            ACTIVATION_BYTES, job.recompute is Recompute.FULL)
    tp = comm.collective_time_s(sent, *_tp_bandwidth(job, plan.tp))
    gemm = max(compute - attention, 0.0)
    # all-gathers start on the local shard, so only the last step of each reduce-scatter (half
    # the traffic, one ring step in t) waits: max(c / (2t), c - GEMMs)
    tp_exposed = (max(tp / (2 * plan.tp), tp - gemm) if job.comm_overlap >= 0.5 and plan.tp > 1
                  else tp)
    kv = layers * comm.cp_bytes_per_layer(tokens, job.kv_width, plan.cp, ACTIVATION_BYTES,
                                          job.recompute is Recompute.FULL) / plan.tp
    cp = comm.collective_time_s(kv, *_group_bandwidth(job, plan.tp * plan.cp))
    cp_exposed = max(cp - attention, 0.0) if job.comm_overlap >= 0.5 else cp
    return MicrobatchTime(compute, quantization, tp, tp_exposed, cp, cp_exposed, a2a,
                          ep_exposed, elementwise)


def microbatch_time_s(job: TrainingJob, plan: Plan) -> tuple[float, float, float]:
    """(compute, exposed TP communication, exposed EP all-to-all) of one microbatch on the
    slowest stage (:func:`microbatch_parts`)."""
    parts = microbatch_parts(job, plan)
    return parts.compute_s, parts.tp_exposed_s, parts.ep_exposed_s


def dp_time_s(job: TrainingJob, plan: Plan, micro: int) -> float:
    """Data-parallel communication time per step, before overlap.

    The dense part reduces over the d·c ranks that hold the same weights, the expert part
    (ep > 1) over its t·d/ep ranks (:func:`_param_shards`); both on the DP group's fabric, one
    after the other.
    """
    sent = sum(comm.dp_bytes_per_step(params, ranks, job.zero_stage, micro,
                                      job.grad_reduce_bytes, job.param_gather_bytes)
               for params, ranks in _param_shards(job, plan))
    return comm.collective_time_s(sent, *_dp_bandwidth(job, plan))


def bubble_s(schedule: PipelineSchedule, pp: int, virtual: int, microbatch_s: float) -> float:
    """Pipeline bubble of one step (see the module docstring for each schedule's source)."""
    if pp <= 1:
        return 0.0
    match schedule:
        case PipelineSchedule.ONE_F_ONE_B:
            return (pp - 1) * microbatch_s
        case PipelineSchedule.INTERLEAVED:
            return (pp - 1) / max(1, virtual) * microbatch_s
        case PipelineSchedule.ZERO_BUBBLE:
            return (pp - 1) / 3.0 * microbatch_s
        case PipelineSchedule.DUALPIPE:
            return max(pp / 2.0 - 1.0, 0.0) * 2.0 / 3.0 * microbatch_s
        case _:
            assert_never(schedule)


def step_time(job: TrainingJob, plan: Plan) -> StepTime:
    """Step time of a plan: m microbatches plus the schedule's bubble, then exposed DP and PP
    communication (module docstring)."""
    micro = microbatches(job, plan)
    mb = microbatch_parts(job, plan)
    t_mb = mb.total_s
    bubble = bubble_s(plan.schedule, plan.pp, plan.virtual_stages, t_mb)
    dp = dp_time_s(job, plan, micro)
    overlap = job.comm_overlap >= 0.5
    if overlap and job.zero_stage < 3:
        # reduce-scatter behind the last microbatch's backward (2/3 of a microbatch), all-gather
        # behind the first forward (1/3); ZeRO-0's all-reduce, all of it behind the backward
        window = 1.0
        half = dp / 2.0
        if job.zero_stage == 0:
            dp_exposed = max(dp - 2.0 / 3.0 * t_mb * window, 0.0)
        else:
            dp_exposed = (max(half - 2.0 / 3.0 * t_mb * window, 0.0)
                          + max(half - t_mb / 3.0 * window, 0.0))
    elif overlap:
        dp_exposed = max(dp - micro * t_mb, 0.0)  # ZeRO-3 gathers layer by layer
    else:
        dp_exposed = dp
    pp_sent = 0.0
    if plan.pp > 1:
        boundary = plan.microbatch * job.sequence_length * job.hidden * ACTIVATION_BYTES / (
            plan.tp * plan.cp)
        pp_sent = 2.0 * micro * plan.virtual_stages * boundary  # forward and backward
    pp = comm.collective_time_s(pp_sent, *_pp_bandwidth(job, plan))
    pp_exposed = max(pp - micro * t_mb, 0.0) if overlap else pp
    tokens = float(plan.dp * plan.microbatch * micro * job.sequence_length)
    return StepTime(compute_s=micro * mb.compute_s,
                    tp_communication_s=micro * mb.tp_exposed_s,
                    pipeline_bubble_s=bubble, dp_communication_s=dp_exposed,
                    microbatches=micro, tokens=tokens,
                    ep_communication_s=micro * mb.ep_exposed_s,
                    cp_communication_s=micro * mb.cp_exposed_s, pp_communication_s=pp_exposed,
                    quantization_s=micro * mb.quantization_s,
                    elementwise_s=micro * mb.elementwise_s,
                    tp_hidden_s=micro * (mb.tp_s - mb.tp_exposed_s),
                    cp_hidden_s=micro * (mb.cp_s - mb.cp_exposed_s),
                    dp_hidden_s=dp - dp_exposed, pp_hidden_s=pp - pp_exposed,
                    ep_hidden_s=micro * (mb.ep_s - mb.ep_exposed_s))


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


def _schedule_options(job: TrainingJob, pins: Parallelism,
                      pp: int) -> list[tuple[PipelineSchedule, int]]:
    """(schedule, v) pairs: a pinned schedule, else 1F1B (v = 1) and the deepest interleaving,
    floor(L/p) chunks per rank: among v >= 2 it has both the smallest bubble and the least
    memory (Korthikanti et al. 2022 §4.2.3). Zero-bubble and DualPipe are pinned only."""
    deepest = job.layers // pp if pp > 1 else 1
    if pins.virtual_stages is not None:
        deepest = min(pins.virtual_stages, max(deepest, 1))
    schedule = pins.schedule
    if schedule is None and pins.virtual_stages is not None:
        schedule = (PipelineSchedule.INTERLEAVED if pins.virtual_stages > 1
                    else PipelineSchedule.ONE_F_ONE_B)
    match schedule:
        case None:
            options = [(PipelineSchedule.ONE_F_ONE_B, 1)]
            if deepest >= 2:
                options.append((PipelineSchedule.INTERLEAVED, deepest))
            return options
        case PipelineSchedule.INTERLEAVED:
            return [(schedule, deepest)] if deepest >= 2 else [(PipelineSchedule.ONE_F_ONE_B, 1)]
        case PipelineSchedule.ONE_F_ONE_B | PipelineSchedule.ZERO_BUBBLE | \
                PipelineSchedule.DUALPIPE:
            return [(schedule, 1)]
        case _:
            assert_never(schedule)


# Context parallelism is searched while every rank keeps at least this many tokens of a
# sequence: shorter chunks leave attention too short to hide the KV ring behind (Megatron-
# Bridge's published recipes use CP 2 from 8,192-token sequences up).
MIN_CP_CHUNK_TOKENS = 4096


def _cp_options(job: TrainingJob, pins: Parallelism) -> list[int]:
    """CP degrees: a pinned one, else 1 and the powers of two that keep
    ``MIN_CP_CHUNK_TOKENS`` per rank."""
    if pins.cp is not None:
        return [pins.cp]
    return [1] + [2**k for k in range(1, 7)
                  if job.sequence_length // 2**k >= MIN_CP_CHUNK_TOKENS]


def candidate_plans(job: TrainingJob, accelerators: int, pins: Parallelism) -> Iterator[Plan]:
    """Every plan the search considers on at most ``accelerators`` accelerators.

    d is the most data-parallel ranks that fit (floor(n / (t·c·p)), at most one sequence
    each), unless pinned; a pinned layout that needs more than ``accelerators`` yields nothing.
    """
    for layout in _layouts(job, accelerators, pins):
        yield Plan(*layout)


_Layout = tuple[int, int, int, int, int, int, int, PipelineSchedule]
"""A plan's fields in :class:`Plan`'s order (tp, pp, dp, microbatch, virtual_stages, ep, cp,
schedule): the search ranks thousands of candidates and makes a Plan only of those it visits."""


def _layouts(job: TrainingJob, accelerators: int, pins: Parallelism) -> Iterator[_Layout]:
    """The candidates of :func:`candidate_plans`, as field tuples, in the same order."""
    for tp in _tp_options(job, pins, accelerators):
        for cp in _cp_options(job, pins):
            for pp in _pp_options(job, pins, accelerators // (tp * cp)):
                most = min(accelerators // (tp * cp * pp), job.batch_sequences)
                dp = pins.dp if pins.dp is not None else most
                if dp < 1 or tp * cp * pp * dp > accelerators:
                    continue
                schedules = _schedule_options(job, pins, pp)
                eps = _ep_options(job, pins, tp * dp)
                for micro in _microbatch_options(job, pins, dp):
                    for schedule, virtual in schedules:
                        for ep in eps:
                            yield tp, pp, dp, micro, virtual, ep, cp, schedule


def _by_compute_bound(job: TrainingJob, layouts: list[_Layout]) -> list[tuple[float, _Layout]]:
    """Layouts with a lower bound on their seconds per token, fastest bound first.

    Compute alone on the slowest stage (:func:`stage_flops_per_token`) over the t·c·d ranks
    of a stage at the sustained rate, times (m + bubble)/m of the schedule;
    quantisation and communication only add to it. Searching in this order lets the search
    stop at the first plan whose bound exceeds the best fitting plan.
    """
    rate = job.sustained_peak_flops * job.matmul_efficiency
    stage = {pp: stage_flops_per_token(job, pp) for pp in {layout[1] for layout in layouts}}
    bubble = {key: bubble_s(key[0], key[1], key[2], 1.0)
              for key in {(layout[7], layout[1], layout[4]) for layout in layouts}}
    count = {key: _microbatch_count(job.batch_sequences, key[0], key[1])
             for key in {(layout[2], layout[3]) for layout in layouts}}
    ranked = [(stage[layout[1]] / (layout[0] * layout[6] * layout[2] * rate)
               * (1.0 + bubble[(layout[7], layout[1], layout[4])]
                  / count[(layout[2], layout[3])]), layout)
              for layout in layouts]
    ranked.sort(key=lambda pair: pair[0])
    return ranked


@memoise()
def fastest_plan(job: TrainingJob, accelerators: int,
                 pins: Parallelism | None = None) -> PlanChoice | None:
    """The plan with the most tokens per second that fits HBM on ``accelerators``, or None.

    Plans are compared per token, as each rounds the batch a little differently.
    ``memory_bound`` is set when a plan over 1% faster exists that does not fit in memory.
    Context parallelism is searched when it can help: when no plan without it fits, when
    memory bounds the best one, or when the batch leaves over a tenth of the accelerators idle.
    """
    pins = pins or Parallelism()
    if pins.cp is not None or len(_cp_options(job, pins)) == 1:
        return _search(job, accelerators, pins)
    plain = _search(job, accelerators, pins.model_copy(update={"cp": 1}))
    if (plain is not None and not plain.memory_bound
            and plain.plan.accelerators >= 0.9 * accelerators):
        return plain
    best = plain
    for cp in _cp_options(job, pins)[1:]:
        found = _search(job, accelerators, pins.model_copy(update={"cp": cp}))
        if found is not None and (best is None or _per_token(found) < _per_token(best)):
            best = found
    return best


def _per_token(choice: PlanChoice) -> float:
    return choice.step.step_s / choice.step.tokens


def _search(job: TrainingJob, accelerators: int, pins: Parallelism) -> PlanChoice | None:
    """The fastest fitting plan among the candidates of ``pins`` (see :func:`fastest_plan`).

    Plans are visited by their compute bound; memory is checked before the step time, and the
    plans that do not fit are timed afterwards, only until one is found over 1% faster than
    the best that fits (which sets ``memory_bound``) or their bound rules it out.
    """
    best: tuple[float, Plan, StepTime, Memory] | None = None
    too_big: list[tuple[float, Plan]] = []
    for bound, layout in _by_compute_bound(job, list(_layouts(job, accelerators, pins))):
        if best is not None and bound >= best[0]:
            break  # every later plan is slower than the best that fits (and than 0.99 of it)
        plan = Plan(*layout)
        memory = memory_per_accelerator(job, plan)
        if memory.total_bytes > job.hbm_bytes:
            too_big.append((bound, plan))
            continue
        step = step_time(job, plan)
        per_token = step.step_s / step.tokens
        if best is None or per_token < best[0]:
            best = (per_token, plan, step, memory)
    if best is None:
        return None
    memory_bound = False
    for bound, plan in too_big:
        if bound >= best[0] * 0.99:
            break
        step = step_time(job, plan)
        if step.step_s / step.tokens < best[0] * 0.99:
            memory_bound = True
            break
    return PlanChoice(best[1], best[2], best[3], memory_bound)


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
                        precision: Precision | TrainingPrecision, accelerators: int,
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
                            batch_sequences=spec.batch_sequences,
                            precision=spec.precision, recompute=spec.recompute,
                            zero_stage=spec.zero_stage, assumptions=assumptions,
                            mtp_depth=spec.mtp_depth)
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
        pins = spec.parallelism
        needed = math.prod(v for v in (pins.tp, pins.cp, pins.pp, pins.dp) if v is not None)
        if needed > spec.accelerators:
            raise InfeasibleError(
                f"the pinned layout needs {needed:,} accelerators, more than the "
                f"{spec.accelerators:,} given",
                ["unpin it to search the layout again: --set parallelism={}",
                 "or pin fields whose product fits (tp x cp x pp x dp)"])
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
