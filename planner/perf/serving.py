"""Serving (inference) performance: decode roofline, batch limits, prefill, votes and cost.

Notation (DESIGN.md section 4): N_mm matmul weights per token, L layers, d hidden size, H heads,
d_h head dimension, s context tokens, b batch (sequences decoded together), W weight bytes,
kv KV-cache bytes per token, a bytes per activation element.

A **replica** is g = tp·pp accelerators holding one copy of the weights: tensor parallel (tp, a
power of two dividing H) inside the scale-up domain, pipeline parallel (pp) across domains only
when the model does not fit in one. One decode step gives each of the b sequences a new token::

    gemm_s    = b·2·N_mm / (g·peak·eff_c)        weights_s = pp·W / (g·BW·eff_m)
    attn_s    = b·4·H·L·d_h·s / (g·peak·eff_c)   kv_s      = b·s·kv / (g·BW·eff_m)
    comm_s    = 2L·[2(tp−1)/tp · b·d·a / (pp·B_up·eff_up) + t_msg] + pipeline hops
    step_s    = max(gemm_s, weights_s) + max(attn_s, kv_s) + comm_s        (kernel_overlap 0)
    step_s    = max(gemm_s + attn_s, weights_s + kv_s) + comm_s            (kernel_overlap 1)

Each kernel runs at its own roofline (Williams et al. 2009, "Roofline", CACM 52(4)); by default
matmul and attention kernels run one after another, as an engine executes a layer; the source
article (reference/seed_numbers.md) overlaps the whole step instead (``kernel_overlap = 1``).
Communication is never overlapped: tensor-parallel all-reduces sit on the critical path between
layers (two per layer, Shoeybi et al. 2019, Megatron-LM, arXiv 1909.08053 §3); the article
ignores it (``tp_comm = 0``). With pp stages, pp micro-batches are in flight and each stage
reads its weights once per micro-batch, hence pp·W (DESIGN.md's W / g is the pp = 1 case).
Interactivity is 1 / step_s tokens/s per user; throughput is b / step_s per replica.

Prefill is compute-bound: a prompt of P tokens costs P·2·N_mm + 2·H·L·d_h·P² FLOPs (causal
attention, half the full P×P score matrix). Prefill and decode share a replica's time.

eff_c depends on the precision the math runs at: eff_c = compute · relative[precision], where
``relative`` is the measured dense-GEMM fraction of peak at that precision over the BF16 one
(1 for BF16, FP16 and TF32; ``compute_fp8_relative``, ``compute_fp4_relative``). Low-precision
GEMMs pay for scaling and dequantisation and run less mature kernels, so they reach a smaller
fraction of their (larger) peak. A ``compute`` pinned by an override (system, workload or
``--set``) is taken as the end-to-end fraction at the precision the math runs at, as the source
article's 0.5676 of the FP8 peak is, so the default relative factors do not apply on top of it;
a relative factor that is itself overridden always applies.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from planner.catalog.schema import BYTES_PER_ELEMENT, Precision, System
from planner.errors import InputError, Problem
from planner.perf.assumptions import Assumption, resolve
from planner.perf.cost import COST_DEFAULTS, unit_cost
from planner.perf.gemm_shape import GemmShape, dense_gemm_shapes, tile_shape_for
from planner.perf.memo import memoise
from planner.perf.serving_moe import MOE_DEFAULTS
from planner.schema import did_you_mean
from planner.workload.params import (
    attention_flops_per_token,
    decode_attention_flops_per_token,
    forward_flops_per_token,
    kv_bytes_per_token,
    weights_bytes,
)
from planner.workload.schema import Architecture, AttentionKind, ModelSpec, Serve

if TYPE_CHECKING:
    from planner.perf.serving_pools import Deployment

__all__ = [
    "ARTICLE_OVERRIDES",
    "DEFAULTS",
    "RELATIVE_COMPUTE",
    "Bound",
    "ContextMode",
    "DecodeCapacity",
    "Layout",
    "MemoryPoint",
    "ServingEstimate",
    "StepModel",
    "attention_precision",
    "candidate_layouts",
    "compute_efficiency",
    "compute_precision_for",
    "decode_capacity",
    "decode_context_tokens",
    "decode_step_s",
    "estimate_serving",
    "kv_memory_curve",
    "kv_replication",
    "layout_for",
    "max_context_tokens",
    "prefill_tokens_per_s_per_unit",
    "reserved_context_scale",
    "serving_assumptions",
    "time_to_first_token_s",
    "vote_cost_multiplier",
]

_CAL = ("calibrated jointly with compute and scale_up on the 28 offline fit cases of "
        "planner.perf.calibrate_serving: MLPerf Inference Llama 2 70B Offline (v4.1 H100/H200, "
        "v5.1 B200/GB200) and TensorRT-LLM Llama 3.1 405B throughput tables "
        "(reference/measurements.md V7, V8), with the per-precision relative factors fixed at "
        "their kernel measurements; mean absolute error 6.3% (worst 20%) on the fit set and "
        "8.1% on the 59-case check set (TensorRT-LLM Llama 3.1 8B and Llama 3.3 70B tables)")

DEFAULTS: dict[str, Assumption] = {
    "memory_bandwidth": Assumption(
        "memory_bandwidth", 0.70,
        f"{_CAL}; set by the long-context rows (20000/2000 ISL/OSL), which are bound by HBM "
        "capacity and bandwidth",
        "achieved fraction of peak HBM bandwidth in decode (MBU); published decode kernels "
        "reach 0.6-0.85"),
    "compute": Assumption(
        "compute", 0.695,
        f"{_CAL}; set by the short-context rows, compute-bound at the large offline batches",
        "achieved fraction of the dense tensor peak in matmuls, decode and prefill (MFU), at "
        "BF16 kernel maturity: FP8 and FP4 math multiply it by their relative factors"),
    "scale_up": Assumption(
        "scale_up", 0.60,
        f"{_CAL}; set by the H100/H200 TP8 rows, where the all-reduce of 2·L activations per "
        "token is a large share of the step",
        "achieved fraction of one-direction scale-up bandwidth in ring all-reduce; NCCL reaches "
        "0.6-0.9 on NVLink for large messages"),
    "prefill_scale_up": Assumption(
        "prefill_scale_up", 1.0,
        "nccl-tests all_reduce_perf bus bandwidth at large sizes: 460-480 GB/s on 8x H100 SXM "
        "NVLink against 450 GB/s one-direction line rate (docs.alayanew.com NCCL-tests guide, "
        "2026, the source of the training model's scale_up); a prefill step's all-reduce "
        "carries thousands of tokens (tens to hundreds of MB), a decode step's a few hundred",
        "achieved fraction of one-direction scale-up bandwidth in the tensor-parallel "
        "all-reduces of prefill (prefill pools, a prompt's own prefill, a colocated replica's "
        "prompt queue)"),
    "collective_latency_s": Assumption(
        "collective_latency_s", 10e-6,
        "assumption: order of magnitude of a small-message all-reduce on an NVLink domain "
        "(nccl-tests); not calibrated, negligible at the large offline batches",
        "fixed time per all-reduce or pipeline hop, in seconds"),
    "activation_bytes": Assumption(
        "activation_bytes", 2.0,
        "assumption: activations exchanged in 16-bit (BF16) even with FP8 or FP4 weights, as in "
        "TensorRT-LLM's default all-reduce",
        "bytes per activation element in tensor-parallel all-reduce and pipeline hops"),
    "kernel_overlap": Assumption(
        "kernel_overlap", 0.0,
        "model switch: 0 runs matmul and attention kernels one after another, each at its own "
        "roofline, as engines execute a layer (calibration error 11.9% against 16.7% for 1); 1 "
        "overlaps all compute with all memory traffic, the source article's whole-step roofline "
        "(reference/seed_numbers.md, claim 1)",
        "1 = whole-step max(compute, memory); 0 = per-kernel rooflines added"),
    "attention_kv_precision": Assumption(
        "attention_kv_precision", 1.0,
        "model switch: attention kernels multiply K and V as the cache stores them, so an FP8 "
        "cache gives FP8 attention and a BF16 cache BF16 attention, and no engine runs FP4 "
        "attention (TensorRT-LLM's FP8 context FMHA, use_fp8_context_fmha, needs an FP8 KV "
        "cache and is what the MLPerf Inference v5.1 NVIDIA FP4 configs set; FlashMLA runs BF16 "
        "or FP8); 0 runs attention at the matmul precision, the source article's roofline "
        "(reference/seed_numbers.md, claim 4)",
        "1 = attention math at the KV cache's precision (FP8 for an FP8 or FP4 cache, else "
        "BF16); 0 = at the matmul precision"),
    "gemm_tiles": Assumption(
        "gemm_tiles", 1.0,
        "model switch: tile and wave quantization of each matmul (planner/perf/gemm_shape.py: "
        "CUTLASS Hopper 128x256 and Blackwell two-SM 256x256 tiles; 132 and 148 SMs, NVIDIA "
        "specifications); no tile model for A100, AMD or Trainium (efficiency 1)",
        "1 = matmul time divided by the shape efficiency of the step's M x N GEMMs on a "
        "tensor-parallel shard; 0 = every matmul runs at full waves"),
    "gemm_shape_untiled": Assumption(
        "gemm_shape_untiled", 0.878,
        "the two fits of compute on the offline set: 0.61 without the tile model over 0.695 "
        "with it (planner.perf.calibrate_serving), i.e. the mean shape efficiency the tile "
        "model finds in the offline fit set's steps; keeps every path without a tile model "
        "(MoE and MLA models, A100, AMD, Trainium) at its calibrated matmul rate",
        "shape efficiency of matmuls where no tile model applies, with gemm_tiles on"),
    "prefill_batch_tokens": Assumption(
        "prefill_batch_tokens", 8192.0,
        "engine default: TensorRT-LLM max_num_tokens and vLLM max_num_batched_tokens, 8,192 "
        "tokens per step",
        "prompt tokens batched into one prefill step at full load (the GEMM rows of prefill "
        "throughput; a lone prompt's time to first token uses its own length)"),
    "max_batch_per_replica": Assumption(
        "max_batch_per_replica", 2048.0,
        "engine default: TensorRT-LLM's max_batch_size, 2,048 sequences (LLM API); vLLM's "
        "max_num_seqs and SGLang's max_running_requests set the same limit (trtllm-bench "
        "raises it to the KV room, at most 4,096)",
        "most sequences one replica decodes at once, whatever room HBM leaves (tensor and "
        "pipeline layouts; expert-parallel ones have ep_max_batch_per_rank)"),
    "compute_fp8_relative": Assumption(
        "compute_fp8_relative", 0.914,
        "measured in this project: one H200, PyTorch 2.11, 8192^3 GEMM; FP8 (torch._scaled_mm) "
        "1,458 TFLOPS = 0.737 of 1,979, BF16 797 TFLOPS = 0.806 of 989; 0.737 / 0.806 = 0.914 "
        "(benchmarks/device/results/h200_2026-11-28.json)",
        "FP8 GEMM fraction of the FP8 peak over the BF16 GEMM fraction of the BF16 peak; "
        "multiplies compute when the math runs in FP8"),
    "compute_fp4_relative": Assumption(
        "compute_fp4_relative", 0.559,
        "published: vLLM PR #20646 (https://github.com/vllm-project/vllm/pull/20646), "
        "bench_nvfp4_gemm.py on Blackwell (B200: its BF16 reaches 1.42 PFLOPS, above any Hopper "
        "peak; the CUTLASS NVFP4 kernel is SM100-only), N=6144 K=4096, M=16384, with the "
        "activations quantised to NVFP4 in the timed call, as an engine must before every FP4 "
        "GEMM: NVFP4 3,039 TFLOPS = 0.338 of 9 PFLOPS, BF16 1,360 TFLOPS = 0.605 of 2.25 "
        "PFLOPS; 0.338 / 0.605 = 0.559 (the PR's table before its tuning). An engine that "
        "fuses the quantisation into the kernels before each GEMM (TensorRT-LLM's "
        "norm_quant_fusion and use_fused_mlp, as NVIDIA's MLPerf Inference v5.1 Blackwell "
        "configs set them) reaches the table's pre-quantised column, 3,904 TFLOPS: 0.718",
        "FP4 (NVFP4) GEMM fraction of the FP4 peak, activation quantisation included, over the "
        "BF16 GEMM fraction of the BF16 peak; multiplies compute when the math runs in FP4"),
    "tp_comm": Assumption(
        "tp_comm", 1.0,
        "model switch: 1 includes tensor- and pipeline-parallel communication; 0 drops it, as "
        "the source article does (reference/seed_numbers.md, claim 1)",
        "multiplier on the communication term of every step"),
}

DEFAULTS.update(MOE_DEFAULTS)

# The source article's roofline (reference/seed_numbers.md, candidate A): the whole step
# overlapped and no communication; combine with memory_bandwidth 0.773 and compute 0.5676. The
# article's efficiency is an end-to-end fraction of the FP8 peak, so no FP8 relative factor, and
# its roofline has no tile model.
ARTICLE_OVERRIDES: dict[str, float] = {"kernel_overlap": 1.0, "tp_comm": 0.0,
                                       "compute_fp8_relative": 1.0, "gemm_tiles": 0.0,
                                       "attention_kv_precision": 0.0}

# Which assumption scales ``compute`` at each precision (absent: 1, the BF16 reference).
RELATIVE_COMPUTE: dict[Precision, str] = {Precision.FP8: "compute_fp8_relative",
                                          Precision.FP4: "compute_fp4_relative"}

# All-reduces per transformer layer under Megatron tensor parallelism: one after attention,
# one after the MLP (Shoeybi et al. 2019, arXiv 1909.08053 §3).
ALLREDUCES_PER_LAYER = 2
MAX_PIPELINE_STAGES = 64
_EPS = 1e-9


class ContextMode(StrEnum):
    """Which sequence length the KV term of a decode step uses.

    ``final``: input + output tokens, the longest context a sequence reaches; conservative, and
    what the source article uses. ``average``: input + output / 2, the mean context over a
    generation, which is what a continuously batched server holds on average.
    """

    FINAL = "final"
    AVERAGE = "average"


class Bound(StrEnum):
    """What limits the batch (and so the throughput) at the operating point."""

    MEMORY_BANDWIDTH = "memory-bandwidth"
    COMPUTE = "compute"
    HBM_CAPACITY = "hbm-capacity"
    COMMUNICATION = "communication"


def decode_context_tokens(input_tokens: float, output_tokens: float,
                          mode: ContextMode | str = ContextMode.FINAL) -> float:
    """Sequence length for the KV term: final (input + output) or average (input + output/2)."""
    if ContextMode(mode) is ContextMode.FINAL:
        return input_tokens + output_tokens
    return input_tokens + output_tokens / 2.0


def reserved_context_scale(spec: Serve, context_tokens: float) -> float:
    """KV stored per decoding sequence over the KV it reads, from the workload's
    ``kv_reserve``: 1 when the server holds what the sequences have generated so far
    (``average``: engines that preempt or evict when the cache fills, vLLM, SGLang and
    TensorRT-LLM's MAX_UTILIZATION), (P + O) / context when it reserves every admitted
    request's final length (``final``: TensorRT-LLM's default capacity policy,
    GUARANTEED_NO_EVICT, ``SchedulerConfig`` in tensorrt_llm/llmapi/llm_args.py); never below
    1, as a decode step at the final context already stores it."""
    if ContextMode(spec.kv_reserve) is ContextMode.AVERAGE or context_tokens <= 0:
        return 1.0
    final = decode_context_tokens(spec.input_tokens, spec.output_tokens, ContextMode.FINAL)
    return max(1.0, final / context_tokens)


def vote_cost_multiplier(votes: int, shared_fraction: float, prefix_read_once: bool) -> float:
    """Cost of n self-consistency samples relative to one, in the bandwidth-bound regime.

    Each of the n streams has a fraction f of its tokens in a prefix shared by all n. KV bytes
    read per step for the group are proportional to f + n(1 − f) when attention reads the shared
    prefix once (prefix-aware kernels), n otherwise (reference/seed_numbers.md, claim 7).
    """
    if prefix_read_once:
        return shared_fraction + votes * (1.0 - shared_fraction)
    return float(votes)


# --------------------------------------------------------------------------- layouts


@dataclass(frozen=True, slots=True)
class Layout:
    """How one replica is laid out: tensor and pipeline degrees, and its share of a unit.

    An expert-parallel layout (MoE models, :mod:`planner.perf.serving_moe`) has ``ep`` > 1: its
    replica is the EP group of ep = tp·dp_attention accelerators, each attention replica holding
    its own sequences; tensor/pipeline layouts have ep = dp_attention = 1 (a TP layout shards
    every expert over its tp ranks).
    """

    tp: int
    pp: int
    units_per_replica: float
    ep: int = 1
    dp_attention: int = 1

    @property
    def group_size(self) -> int:
        """Accelerators per replica, g = tp·pp·dp_attention."""
        return self.tp * self.pp * self.dp_attention

    @property
    def expert_parallel(self) -> bool:
        """True for a wide-EP layout with data-parallel attention."""
        return self.ep > 1

    @property
    def replicas_per_unit(self) -> float:
        """Replicas one unit holds (below 1 when a replica spans several units)."""
        return 1.0 / self.units_per_replica

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"tp": self.tp, "pp": self.pp, "ep": self.ep, "dp_attention": self.dp_attention,
                "group_size": self.group_size, "replicas_per_unit": self.replicas_per_unit,
                "units_per_replica": self.units_per_replica}


def _powers_of_two(limit: int) -> list[int]:
    return [2**i for i in range(int(math.log2(limit)) + 1)] if limit >= 1 else []


def _layout(tp: int, pp: int, per_unit: int) -> Layout:
    """A replica of tp·pp accelerators; a unit holds floor(per_unit / g) of them if g fits."""
    group = tp * pp
    if group <= per_unit:
        return Layout(tp, pp, 1.0 / (per_unit // group))
    return Layout(tp, pp, group / per_unit)


def candidate_layouts(arch: Architecture, system: System) -> list[Layout]:
    """Tensor-parallel layouts (powers of two dividing H, within the scale-up domain), then
    pipeline-parallel ones over the largest of them (used only when nothing smaller fits)."""
    domain = system.scale_up.domain_size
    tps = [t for t in _powers_of_two(min(domain, arch.heads)) if arch.heads % t == 0]
    per_unit = system.accelerators
    layouts = [_layout(tp, 1, per_unit) for tp in tps]
    pps = [p for p in _powers_of_two(min(MAX_PIPELINE_STAGES, arch.layers)) if p > 1]
    return layouts + [_layout(tps[-1], pp, per_unit) for pp in pps]


# Units an expert-parallel group may span (EP degree = units x accelerators per unit, or a
# share of one unit): DeepSeek runs EP32 prefill and EP144 decode on 8-GPU nodes, SGLang EP32
# and EP72, SGLang on GB200 NVL72 EP48.
EP_UNIT_COUNTS = (1, 2, 3, 4, 6, 8, 9, 12, 16, 18, 24, 32)


def ep_layout(system: System, ep: int, tp: int = 1) -> Layout:
    """An expert-parallel group of ``ep`` accelerators with data-parallel attention of ``tp``
    ranks each (ep / tp attention replicas)."""
    per_unit = system.accelerators
    units = ep / per_unit if ep >= per_unit else 1.0 / (per_unit // ep)
    return Layout(tp, 1, units, ep=ep, dp_attention=max(1, ep // tp))


def ep_layouts(arch: Architecture, system: System) -> list[Layout]:
    """Expert-parallel candidates of an MoE model (none for a dense one): DP attention (tp 1)
    over EP groups of whole units, up to the routed-expert count."""
    if arch.moe is None:
        return []
    per_unit = system.accelerators
    degrees = sorted({n * per_unit for n in EP_UNIT_COUNTS} | {per_unit // 2, per_unit // 4})
    return [ep_layout(system, ep) for ep in degrees if 2 <= ep <= 2 * arch.moe.experts]


def pinned_layouts(arch: Architecture, system: System, *, tp: int | None = None,
                   pp: int | None = None, ep: int | None = None,
                   dp_attention: int | None = None) -> list[Layout]:
    """Candidates matching the pinned degrees (``layout: {decode: {ep: 144}}``); an EP pin
    makes the EP layout itself even if it is not among the searched degrees."""
    if ep is not None and ep > 1:
        if arch.moe is None:
            raise InputError(Problem("layout", "ep", f"ep {ep} needs a mixture-of-experts model",
                                     "remove the ep pin for a dense model"))
        ranks = tp or (ep // dp_attention if dp_attention else 1)
        if ep % ranks or (dp_attention and dp_attention * ranks != ep):
            raise InputError(Problem("layout", "ep", f"ep {ep} is not tp x dp_attention",
                                     "pin ep = tp x dp_attention"))
        return [ep_layout(system, ep, ranks)]
    wanted = [lay for lay in candidate_layouts(arch, system) + ep_layouts(arch, system)
              if (tp is None or lay.tp == tp) and (pp is None or lay.pp == pp)
              and (dp_attention is None or lay.dp_attention == dp_attention)
              and (ep is None or lay.ep == ep)]
    if not wanted:
        raise InputError(Problem("layout", "tp", f"no layout with tp={tp} pp={pp} for this "
                                 "model and system", "use a power of two dividing the heads, "
                                 "within the scale-up domain"))
    return wanted


def layout_for(arch: Architecture, system: System, group_size: int) -> Layout:
    """The layout of a pinned group size: tp up to the largest allowed degree, pp beyond."""
    top = candidate_layouts(arch, system)[0]
    for layout in candidate_layouts(arch, system) + ep_layouts(arch, system):
        if layout.pp == 1 and not layout.expert_parallel:
            top = layout
        if layout.group_size == group_size:
            return layout
    raise InputError(Problem("parallelism", "group_size",
                             f"no layout of {group_size} accelerators for this model and system",
                             f"use a power of two, tp up to {top.tp} and pp beyond"))


def kv_replication(arch: Architecture, tp: int) -> float:
    """Copies of each cached token across the tp ranks of a replica.

    GQA: each rank needs at least one whole KV head, so with tp > H_kv every head is stored
    tp / H_kv times. MLA: the compressed latent is shared by all heads, so every rank keeps all of
    it (tp copies; the reason servers pair MLA with data-parallel attention, which is not modelled).
    """
    if arch.attention is AttentionKind.MLA:
        return float(tp)
    return max(1.0, tp / arch.kv_heads)


# --------------------------------------------------------------------------- decode step


def _assumption(assumptions: Mapping[str, Assumption], name: str) -> Assumption:
    return assumptions.get(name) or DEFAULTS.get(name) or COST_DEFAULTS[name]


def _value(assumptions: Mapping[str, Assumption], name: str) -> float:
    return _assumption(assumptions, name).value


def _ring_factor(tp: int) -> float:
    """Bytes each rank sends per byte all-reduced in a ring: 2(n − 1)/n (Patarasuk and Yuan
    2009, J. Parallel Distrib. Comput. 69(2); NCCL's bus-bandwidth convention)."""
    return 2.0 * (tp - 1) / tp


@dataclass(frozen=True, slots=True)
class StepModel:
    """A decode step as linear pieces in the batch b (seconds).

    Terms: dense matmuls (compute g_c·b, weight reads W_s) and attention (compute a_c·b, KV
    reads kv_s·b), plus communication c_0 + c_1·b, never overlapped. With ``overlap`` (the
    source article's whole-step roofline) everything but communication overlaps::

        step(b) = max((g_c + a_c)·b, W_s + kv_s·b) + c_0 + c_1·b

    Without it, matmul and attention kernels run one after another, each at its own roofline
    (how an inference engine executes a layer)::

        step(b) = max(g_c·b, W_s) + max(a_c·b, kv_s·b) + p_c·b + c_0 + c_1·b

    p_c is the attention of the prompt tokens a colocated step carries (chunked prefill): a
    separate, compute-bound kernel (TensorRT-LLM runs context FMHA for the prompt chunks and
    the generation kernel for the decoding sequences; vLLM and SGLang likewise split a mixed
    batch's attention by phase), so it adds to the step instead of hiding under the decode
    attention's KV reads.
    """

    gemm_s_per_seq: float
    attention_s_per_seq: float
    weights_s: float
    kv_s_per_seq: float
    comm_s_fixed: float
    comm_s_per_seq: float
    overlap: bool = True
    gemm_shape: GemmShape | None = None
    prefill_attention_s_per_seq: float = 0.0

    def _gemm_s_per_seq(self, batch: float) -> float:
        """Matmul seconds per sequence at a batch: g_c / shape efficiency of the step's M."""
        if self.gemm_shape is None:
            return self.gemm_s_per_seq
        return self.gemm_s_per_seq / self.gemm_shape.efficiency(batch)

    def compute_s(self, batch: float) -> float:
        """Matmul and attention arithmetic time of a step."""
        return (self._gemm_s_per_seq(batch) + self.attention_s_per_seq
                + self.prefill_attention_s_per_seq) * batch

    def memory_s(self, batch: float) -> float:
        """HBM time of a step: weights plus the batch's KV cache."""
        return self.weights_s + self.kv_s_per_seq * batch

    def comm_s(self, batch: float) -> float:
        """Communication time of a step (not overlapped)."""
        return self.comm_s_fixed + self.comm_s_per_seq * batch

    def branches(self, batch: float | None = None) -> list[tuple[float, float]]:
        """(fixed, per-sequence) seconds of each linear piece; the step is their maximum.

        max(a, b) + max(c, d) = max(a + c, a + d, b + c, b + d), so both forms are a maximum
        of linear functions of b. With a ``gemm_shape`` the matmul slope is taken at ``batch``
        (none: the full-wave slope g_c).
        """
        g = self.gemm_s_per_seq if batch is None else self._gemm_s_per_seq(batch)
        a, w, kv = self.attention_s_per_seq, self.weights_s, self.kv_s_per_seq
        p = self.prefill_attention_s_per_seq
        if self.overlap:
            return [(0.0, g + a + p), (w, kv)]
        return [(0.0, g + a + p), (0.0, g + kv + p), (w, a + p), (w, kv + p)]

    def step_s(self, batch: float) -> float:
        """Step time: the largest piece plus communication."""
        return max(f + s * batch for f, s in self.branches(batch)) + self.comm_s(batch)

    def bound_at(self, batch: float) -> Bound:
        """The largest of compute, memory and communication time at a batch."""
        terms = {Bound.COMPUTE: self.compute_s(batch), Bound.MEMORY_BANDWIDTH:
                 self.memory_s(batch), Bound.COMMUNICATION: self.comm_s(batch)}
        return max(terms, key=lambda k: terms[k])

    def batch_at(self, step_s: float) -> tuple[float, Bound]:
        """Largest continuous batch with step(b) ≤ step_s, and what binds there.

        max_i(f_i + s_i·b) + c_0 + c_1·b ≤ T holds iff every piece does; each is linear in b,
        so the limit is the smallest of closed-form roots. With a ``gemm_shape`` the step is
        a staircase that never falls as b grows (more tokens never take fewer waves), so the
        full-wave root bounds the batch from above and a bisection on whole sequences finds it.
        """
        roots = [_root(step_s - self.comm_s_fixed - f, s + self.comm_s_per_seq)
                 for f, s in self.branches()]
        batch = max(0.0, min(roots))
        if self.gemm_shape is not None and math.isfinite(batch) and self.step_s(batch) > step_s:
            low, high = 0, math.floor(batch)
            while low < high:
                mid = (low + high + 1) // 2
                if self.step_s(mid) <= step_s:
                    low = mid
                else:
                    high = mid - 1
            batch = float(low)
        return batch, self.bound_at(max(batch, 1.0))


def _root(budget_s: float, slope_s: float) -> float:
    """b with slope·b = budget (inf when the slope is zero and the budget is not negative)."""
    if slope_s <= 0:
        return math.inf if budget_s >= 0 else 0.0
    return budget_s / slope_s


@dataclass(frozen=True, slots=True)
class _Inputs:
    """What a decode or prefill evaluation needs, in SI units."""

    arch: Architecture
    system: System
    weights_bytes: float
    kv_bytes_per_token: float
    peak_flops: float
    assumptions: Mapping[str, Assumption]
    compute_efficiency: float
    attention_rate: float  # achieved attention FLOP/s per accelerator (attention_precision)
    kv_precision: Precision = Precision.BF16
    compute_precision: Precision = Precision.BF16

    def eff(self, name: str) -> float:
        """A named assumption's value."""
        return _value(self.assumptions, name)


def _comm_per_token_s(inp: _Inputs, layout: Layout, prefill: bool = False) -> float:
    """Seconds per token per step at one stage: tensor-parallel all-reduces plus pipeline hops.

    All-reduce: 2L·ring·d·a / (pp·B_up·eff_up), B_up = scale-up bandwidth in one direction (half
    the bidirectional figure systems quote); eff_up is ``scale_up`` for decode steps and
    ``prefill_scale_up`` for prefill, whose all-reduces carry thousands of tokens each (bus
    bandwidth of large messages). Hop: each micro-batch crosses pp − 1 stage boundaries over
    the scale-out network, each rank sending its 1/tp share of the activations.
    """
    arch, act = inp.arch, inp.eff("activation_bytes")
    up_bw = (inp.system.scale_up.bandwidth / 2.0
             * inp.eff("prefill_scale_up" if prefill else "scale_up"))
    ring = (ALLREDUCES_PER_LAYER * arch.layers * _ring_factor(layout.tp) * arch.hidden * act
            / (layout.pp * up_bw))
    hop = 0.0
    if layout.pp > 1:
        hop = ((layout.pp - 1) / layout.pp * arch.hidden * act
               / (layout.tp * inp.system.scale_out.bandwidth))
    return inp.eff("tp_comm") * (ring + hop)


def _comm_fixed_s(inp: _Inputs, layout: Layout) -> float:
    """Latency per step: one per all-reduce (2L when tp > 1) and one per pipeline hop."""
    messages = (ALLREDUCES_PER_LAYER * inp.arch.layers if layout.tp > 1 else 0) + layout.pp - 1
    return inp.eff("tp_comm") * messages * inp.eff("collective_latency_s")


def _gemm_shape(inp: _Inputs, layout: Layout,
                chunk: PrefillChunk | None = None) -> GemmShape | None:
    """Tile model of a step's dense matmuls on one tensor-parallel shard, if there is one."""
    if inp.eff("gemm_tiles") < 0.5:
        return None
    tile = tile_shape_for(inp.system.accelerator.name)
    shapes = dense_gemm_shapes(inp.arch, layout.tp)
    if tile is None or shapes is None:
        return None
    extra = chunk.tokens_per_step if chunk else 0.0
    return GemmShape(shapes, tile, (1.0 + extra) / layout.pp)


def _step_model(inp: _Inputs, layout: Layout, context_tokens: float,
                kv_read_scale: float = 1.0, chunk: PrefillChunk | None = None) -> StepModel:
    """The decode step of a replica at a context length, as a :class:`StepModel`.

    ``kv_read_scale`` multiplies the KV bytes read per sequence (self-consistency groups whose
    shared prefix is read once read f/n + 1 − f of a stream's KV per stream). ``chunk`` adds
    colocated chunked prefill: each sequence brings ``tokens_per_step`` prompt tokens into
    every step (its computed prompt spread over its output tokens), which cost matmul and
    attention FLOPs and all-reduce traffic but no extra weight reads: prompts ride in the
    spare compute of a bandwidth-bound step (Agrawal et al. 2024, Sarathi-Serve,
    arXiv 2403.02310).
    """
    g = layout.group_size
    bandwidth = g * inp.system.accelerator.hbm_bandwidth * inp.eff("memory_bandwidth")
    kv_read = (context_tokens * inp.kv_bytes_per_token * kv_replication(inp.arch, layout.tp)
               * kv_read_scale)
    flops = g * inp.peak_flops * inp.compute_efficiency
    attention_flops = g * inp.attention_rate
    gemm = forward_flops_per_token(inp.arch, 0.0) / flops
    comm = _comm_per_token_s(inp, layout)
    extra = chunk.tokens_per_step if chunk else 0.0
    prefill_attention = (attention_flops_per_token(inp.arch, chunk.context_tokens)
                         / attention_flops if chunk else 0.0)
    return StepModel(
        gemm_s_per_seq=gemm * (1.0 + extra),
        attention_s_per_seq=(decode_attention_flops_per_token(inp.arch, context_tokens)
                             / attention_flops),
        prefill_attention_s_per_seq=extra * prefill_attention,
        weights_s=layout.pp * inp.weights_bytes / bandwidth,
        kv_s_per_seq=kv_read / bandwidth,
        comm_s_fixed=_comm_fixed_s(inp, layout),
        comm_s_per_seq=comm * (1.0 + extra),
        overlap=inp.eff("kernel_overlap") >= 0.5,
        gemm_shape=_gemm_shape(inp, layout, chunk),
    )


# --------------------------------------------------------------------------- capacity


@dataclass(frozen=True, slots=True)
class DecodeCapacity:
    """Decode throughput of one system at an interactivity target (or offline, with none)."""

    tokens_per_s_per_unit: float
    max_batch: int
    group_size: int
    bound: str
    step_time_s: float
    max_batch_slo: float
    max_batch_memory: float
    tokens_per_s_per_user: float
    layout: Layout
    fits_memory: bool
    memory_bytes_per_replica: float
    memory_capacity_bytes: float
    compute_s: float
    memory_s: float
    communication_s: float
    step_time_quantile_s: float = 0.0  # the step at the TPOT percentile (0: the mean step)
    kv_bytes_per_replica: float = 0.0  # KV cache the replica's batch stores (in the memory)

    @property
    def tpot_s(self) -> float:
        """Time per output token at the TPOT limit's percentile (the mean step without one)."""
        return self.step_time_quantile_s or self.step_time_s

    @property
    def tokens_per_s_per_replica(self) -> float:
        """Decode tokens/s of one replica."""
        return self.tokens_per_s_per_unit * self.layout.units_per_replica


@dataclass(frozen=True, slots=True)
class PrefillChunk:
    """Prompt work chunked into decode steps (colocated serving): prompt tokens per sequence
    per step, the mean context they attend to, and the TPOT limit with the standard-normal
    quantile z of its percentile (z = 0: a mean-speed limit, or none).

    A request's TPOT is the mean of the steps it decodes in (MLPerf LoadGen: (latency − TTFT)
    / (tokens − 1), then its percentile over requests). While it decodes (O steps of τ) prompts
    arrive at λ = b / (O·τ) at full load (Little's law), b of them on average; their number is
    Poisson, so the prompt work in its steps is b ± √b prompts of equal length. At the q-th
    percentile of requests it is (1 + z_q/√b) times the mean (normal approximation of the
    Poisson count): :meth:`at_percentile`. Small batches see the largest bursts.
    """

    tokens_per_step: float
    context_tokens: float
    burst_z: float = 0.0
    tpot_limit_s: float = 0.0
    prompt_tokens: float = 0.0  # computed tokens of one prompt (planner.perf.serving_ep)

    def at_percentile(self, batch: float) -> PrefillChunk:
        """The prompt tokens per sequence per step a request meets at the TPOT percentile."""
        if self.burst_z <= 0 or batch <= 0:
            return self
        return replace(self, tokens_per_step=self.tokens_per_step
                       * (1.0 + self.burst_z / math.sqrt(batch)), burst_z=0.0,
                       tpot_limit_s=0.0)

    @property
    def bursty(self) -> bool:
        """Whether a TPOT percentile applies to the steps that carry this prompt work."""
        return self.burst_z > 0 and self.tpot_limit_s > 0


@dataclass(frozen=True, slots=True)
class _Limits:
    """Per-replica capacity inputs for a decode evaluation."""

    context_tokens: float
    target_step_s: float  # 0: offline, no interactivity target
    memory_reserve: float
    enforce_memory: bool
    kv_store_scale: float
    kv_read_scale: float
    chunk: PrefillChunk | None = None


def _memory_batch(inp: _Inputs, layout: Layout, lim: _Limits) -> tuple[float, float, float]:
    """(max batch by HBM capacity, capacity bytes, KV bytes stored per sequence).

    weights + b·s·kv·replication·store_scale ≤ (1 − reserve)·g·HBM; the reserve covers
    activations, workspace and fragmentation (DESIGN.md section 4).
    """
    capacity = (1.0 - lim.memory_reserve) * layout.group_size * inp.system.accelerator.hbm_capacity
    per_seq = (lim.context_tokens * inp.kv_bytes_per_token * kv_replication(inp.arch, layout.tp)
               * lim.kv_store_scale)
    batch = _root(capacity - inp.weights_bytes, per_seq) if capacity >= inp.weights_bytes else 0.0
    return batch, capacity, per_seq


def _operating_batch(steps: StepModel, memory_batch: float,
                     lim: _Limits) -> tuple[float, float, Bound]:
    """(SLO batch, chosen continuous batch, bound) for one layout.

    Offline (no target) the batch is the HBM limit, and the bound names what limits throughput
    there: compute (or communication) when those terms dominate the step, else HBM capacity
    (a larger memory would allow a larger, more efficient batch).
    """
    if lim.target_step_s > 0:
        slo_batch, bound = steps.batch_at(lim.target_step_s)
    else:
        slo_batch = math.inf
        regime = steps.bound_at(max(memory_batch, 1.0))
        bound = Bound.HBM_CAPACITY if regime is Bound.MEMORY_BANDWIDTH else regime
    if memory_batch <= 0:  # the weights alone do not fit
        return slo_batch, 0.0, Bound.HBM_CAPACITY
    if lim.enforce_memory and memory_batch < slo_batch:
        return slo_batch, memory_batch, (Bound.HBM_CAPACITY if math.isfinite(slo_batch)
                                         else bound)
    return slo_batch, slo_batch, bound


def _evaluate(inp: _Inputs, layout: Layout, lim: _Limits) -> DecodeCapacity:
    """Decode capacity of one layout."""
    if layout.expert_parallel:
        from planner.perf.serving_ep import evaluate_ep

        return evaluate_ep(inp, layout, lim)
    steps = _step_model(inp, layout, lim.context_tokens, lim.kv_read_scale, lim.chunk)
    memory_batch, capacity, kv_per_seq = _memory_batch(inp, layout, lim)
    slo_batch, chosen, bound = _operating_batch(steps, memory_batch, lim)
    cap = inp.eff("max_batch_per_replica")
    if chosen > cap and memory_batch > 0:  # the engine's batch limit binds, not HBM
        chosen = cap
        bound = steps.bound_at(cap)
    quantile_step = _quantile_step(inp, layout, lim)
    if quantile_step is not None and lim.chunk is not None and math.isfinite(slo_batch):
        slo_batch = float(_largest_batch(quantile_step, lim.chunk.tpot_limit_s, slo_batch))
        chosen = min(chosen, slo_batch)
    batch = math.floor(chosen + _EPS) if math.isfinite(chosen) else 0
    probe = max(batch, 1)
    step = steps.step_s(probe)
    per_replica = batch / step
    used = inp.weights_bytes + batch * kv_per_seq
    return DecodeCapacity(
        tokens_per_s_per_unit=per_replica / layout.units_per_replica, max_batch=batch,
        group_size=layout.group_size, bound=str(bound), step_time_s=step,
        max_batch_slo=slo_batch, max_batch_memory=memory_batch,
        tokens_per_s_per_user=1.0 / step if batch else 0.0, layout=layout,
        fits_memory=batch >= 1 and used <= capacity, memory_bytes_per_replica=used,
        memory_capacity_bytes=capacity, compute_s=steps.compute_s(probe),
        memory_s=steps.memory_s(probe), communication_s=steps.comm_s(probe),
        step_time_quantile_s=quantile_step(probe) if quantile_step else 0.0,
        kv_bytes_per_replica=batch * kv_per_seq)


def _quantile_step(inp: _Inputs, layout: Layout, lim: _Limits
                   ) -> Callable[[float], float] | None:
    """Step time at the TPOT percentile as a function of the batch (None without a TPOT
    percentile or chunked prompts): the step with its prompt share at that percentile
    (:meth:`PrefillChunk.at_percentile`). It is held to the TPOT limit the chunk carries, not
    to ``lim.target_step_s``, which may be a shorter step tried for the batch
    (planner/perf/serving_pools.py, ``_batch_formation``)."""
    chunk = lim.chunk
    if lim.target_step_s <= 0 or chunk is None or not chunk.bursty:
        return None

    def step(batch: float) -> float:
        return _step_model(inp, layout, lim.context_tokens, lim.kv_read_scale,
                           chunk.at_percentile(batch)).step_s(batch)

    return step


def _largest_batch(step_of: Callable[[float], float], limit_s: float, upper: float) -> int:
    """Largest whole batch b ≤ upper with step_of(b) ≤ limit (0 if one sequence misses it);
    the percentile step grows with b (its prompt share b + z·√b does), so bisection finds it."""
    low, high = 0, math.floor(upper + _EPS)
    while low < high:
        mid = (low + high + 1) // 2
        if step_of(mid) <= limit_s:
            low = mid
        else:
            high = mid - 1
    return low


def _best(options: list[DecodeCapacity]) -> DecodeCapacity:
    """Most tokens/s per unit; ties go to the smaller replica."""
    return max(options, key=lambda c: (c.tokens_per_s_per_unit, -c.group_size))


def _choose(inp: _Inputs, lim: _Limits, group_size: int | None,
            layouts: list[Layout] | None = None) -> DecodeCapacity:
    """Evaluate the candidate layouts and keep the best that fits; pipeline only if needed.

    ``layouts`` restricts the search (pinned degrees); by default tensor/pipeline layouts and,
    for an MoE model, expert-parallel ones."""
    if group_size is not None:
        return _evaluate(inp, layout_for(inp.arch, inp.system, group_size), lim)
    if layouts is None:
        layouts = candidate_layouts(inp.arch, inp.system) + ep_layouts(inp.arch, inp.system)
    results = [_evaluate(inp, layout, lim) for layout in layouts]
    fitting_tp = [r for r in results if r.layout.pp == 1 and r.max_batch_memory >= 1]
    fitting_pp = [r for r in results if r.layout.pp > 1 and r.max_batch_memory >= 1]
    return _best(fitting_tp or fitting_pp or results[-1:])


def compute_precision_for(system: System, wanted: Precision) -> Precision:
    """``wanted`` if the accelerator has that tensor mode, else the next wider one it has."""
    order = [Precision.FP4, Precision.FP8, Precision.BF16]
    start = order.index(wanted) if wanted in order else len(order) - 1
    for precision in [wanted, *order[start:]]:
        if system.accelerator.peak_flops.at(precision) is not None:
            return precision
    return Precision.BF16


def _overridden(assumption: Assumption) -> bool:
    """True for a value set by a system, workload or ``--set`` override (see ``resolve``)."""
    return assumption.source.startswith("override")


def compute_efficiency(assumptions: Mapping[str, Assumption], precision: Precision) -> float:
    """Achieved fraction of the dense peak at ``precision``: eff_c = compute · relative.

    ``relative`` is the measured GEMM fraction at that precision over the BF16 one (module
    docstring). An overridden ``compute`` is already the fraction at the math precision, so the
    default relative factor is dropped unless the relative factor is overridden too.
    """
    compute = _assumption(assumptions, "compute")
    name = RELATIVE_COMPUTE.get(precision)
    if name is None:
        return compute.value
    relative = _assumption(assumptions, name)
    if _overridden(compute) and not _overridden(relative):
        return compute.value
    return compute.value * relative.value


def _peak(system: System, precision: Precision) -> float:
    peak = system.accelerator.peak_flops.at(precision)
    if peak is None:
        raise InputError(Problem(system.id, "accelerator.peak_flops",
                                 f"{system.accelerator.name} has no {precision} tensor mode",
                                 "choose another compute_precision"))
    return peak


def attention_precision(system: System, kv_precision: Precision,
                        compute_precision: Precision) -> Precision:
    """The tensor mode attention math runs at: the KV cache's, since the kernels multiply K and
    V as stored, at FP8 for an FP8 or FP4 cache and BF16 otherwise, and never narrower than the
    matmuls' (an FP4 model keeps FP8 attention: TensorRT-LLM runs FP8 context FMHA,
    ``use_fp8_context_fmha``, with an FP8 cache, as the MLPerf Inference v5.1 NVIDIA configs
    for Llama 3.1 8B/405B set it, and has no FP4 attention kernel; FlashMLA likewise runs BF16
    or, with an FP8 cache, FP8, https://lmsys.org/blog/2025-09-25-gb200-part-2). The mode is
    the accelerator's next wider one when it lacks this one (an A100 runs BF16)."""
    wanted = Precision.FP8 if kv_precision in (Precision.FP8, Precision.FP4) \
        else Precision.BF16
    order = [Precision.FP4, Precision.FP8, Precision.BF16]
    if compute_precision in order and order.index(compute_precision) > order.index(wanted):
        wanted = compute_precision
    return compute_precision_for(system, wanted)


def _inputs(model: ModelSpec, system: System, weights_precision: Precision,
            kv_precision: Precision, compute_precision: Precision,
            assumptions: Mapping[str, Assumption]) -> _Inputs:
    arch = model.architecture
    base = compute_efficiency(assumptions, compute_precision)
    efficiency = base
    tiled = (tile_shape_for(system.accelerator.name) is not None
             and dense_gemm_shapes(arch, 1) is not None)
    if _value(assumptions, "gemm_tiles") >= 0.5 and not tiled:
        efficiency *= _value(assumptions, "gemm_shape_untiled")
    attention = (attention_precision(system, kv_precision, compute_precision)
                 if _value(assumptions, "attention_kv_precision") >= 0.5 else compute_precision)
    attention_rate = (_peak(system, attention) * compute_efficiency(assumptions, attention)
                      * efficiency / base)
    return _Inputs(arch, system, weights_bytes(arch, BYTES_PER_ELEMENT[weights_precision]),
                   kv_bytes_per_token(arch, BYTES_PER_ELEMENT[kv_precision]),
                   _peak(system, compute_precision), assumptions, efficiency, attention_rate,
                   kv_precision, compute_precision)


def decode_step_s(model: ModelSpec, system: System, *, batch: float, context_tokens: float,
                  group_size: int, weights_precision: Precision, kv_precision: Precision,
                  compute_precision: Precision,
                  assumptions: Mapping[str, Assumption] | None = None) -> float:
    """Seconds of one decode step of ``batch`` sequences at ``context_tokens`` on a replica of
    ``group_size`` accelerators: the quantity a step-time measurement checks directly."""
    inp = _inputs(model, system, weights_precision, kv_precision, compute_precision,
                  dict(assumptions or DEFAULTS))
    layout = layout_for(model.architecture, system, group_size)
    return _step_model(inp, layout, context_tokens).step_s(batch)


@memoise()
def decode_capacity(model: ModelSpec, system: System, *, weights_precision: Precision,
                    kv_precision: Precision, compute_precision: Precision,
                    context_tokens: float, interactivity: float | None,
                    assumptions: Mapping[str, Assumption], memory_reserve: float = 0.05,
                    enforce_memory: bool = True, group_size: int | None = None,
                    kv_store_scale: float = 1.0, kv_read_scale: float = 1.0,
                    chunk: PrefillChunk | None = None, target_step_s: float | None = None,
                    layouts: tuple[Layout, ...] | None = None) -> DecodeCapacity:
    """Decode tokens/s per unit at an interactivity target (tokens/s per user).

    The replica size is chosen to maximise tokens/s per unit among layouts that fit (or pinned
    with ``group_size``). ``interactivity`` None or 0 means offline: the largest batch that
    fits in HBM. With ``enforce_memory`` False the HBM limit is reported (``fits_memory``) but
    does not cap the batch, as in the source article's roofline. ``target_step_s``, when
    given, is the step-time limit instead of 1 / interactivity (the tighter of the mean speed
    and the time-per-output-token limit); ``chunk`` adds colocated chunked prefill.
    """
    inp = _inputs(model, system, weights_precision, kv_precision, compute_precision, assumptions)
    target = 1.0 / interactivity if interactivity else 0.0
    if target_step_s is not None:
        target = target_step_s
    lim = _Limits(context_tokens, target, memory_reserve, enforce_memory, kv_store_scale,
                  kv_read_scale, chunk)
    return _choose(inp, lim, group_size, list(layouts) if layouts is not None else None)


# --------------------------------------------------------------------------- prefill


def _prefill_flops_per_token(arch: Architecture, prompt_tokens: float) -> float:
    """Average forward FLOPs per prompt token: 2·N_mm + attention at context P/2 (causal:
    token i attends to i tokens, so the prompt costs 2·N_mm·P + 2·H·L·d_h·P² in all)."""
    return forward_flops_per_token(arch, prompt_tokens / 2.0)


def _prefill_gemm_flops_per_token(inp: _Inputs, layout: Layout, prompt_tokens: float,
                                  rows: float) -> float:
    """Prefill FLOPs per prompt token at the matmul rate: the matmul share divided by the shape
    efficiency of GEMMs of ``rows`` tokens (planner/perf/gemm_shape.py), the attention share
    scaled from the attention rate to the matmul rate (:func:`attention_precision`)."""
    matmul = forward_flops_per_token(inp.arch, 0.0)
    attention = (_prefill_flops_per_token(inp.arch, prompt_tokens) - matmul) \
        * inp.peak_flops * inp.compute_efficiency / inp.attention_rate
    shape = _gemm_shape(inp, layout)
    if shape is None:
        return matmul + attention
    return matmul / shape.efficiency(rows) + attention


def _prefill_s_per_token(inp: _Inputs, layout: Layout, prompt_tokens: float) -> float:
    """Replica-seconds per prompt token with many prompts in flight (weights amortised)."""
    rows = max(prompt_tokens, inp.eff("prefill_batch_tokens"))
    compute = (_prefill_gemm_flops_per_token(inp, layout, prompt_tokens, rows)
               / (layout.group_size * inp.peak_flops * inp.compute_efficiency))
    return compute + _comm_per_token_s(inp, layout, prefill=True)


def _fits(inp: _Inputs, layout: Layout, tokens: float, reserve: float) -> bool:
    if layout.expert_parallel:
        from planner.perf.serving_ep import ep_parts
        from planner.perf.serving_moe import ep_memory_batch

        model, hw, f = ep_parts(inp, layout)
        return ep_memory_batch(model, hw, f, ep=layout.ep, tp=layout.tp, context=tokens,
                               reserve=reserve) >= 1.0
    lim = _Limits(tokens, 0.0, reserve, True, 1.0, 1.0)
    return _memory_batch(inp, layout, lim)[0] >= 1.0


def _prefill_rate(inp: _Inputs, layout: Layout, prompt_tokens: float, reserve: float) -> float:
    """Prompt tokens/s per unit of one layout (0 when it does not fit)."""
    if layout.expert_parallel:
        from planner.perf.serving_ep import ep_prefill_tokens_per_s_per_unit

        return ep_prefill_tokens_per_s_per_unit(inp, layout, prompt_tokens, reserve)
    if not _fits(inp, layout, prompt_tokens, reserve):
        return 0.0
    return 1.0 / (_prefill_s_per_token(inp, layout, prompt_tokens) * layout.units_per_replica)


def best_prefill_layout(model: ModelSpec, system: System, *, precision: Precision,
                        weights_precision: Precision, kv_precision: Precision,
                        prompt_tokens: float, assumptions: Mapping[str, Assumption],
                        layouts: tuple[Layout, ...] | None = None,
                        memory_reserve: float = 0.05) -> tuple[Layout, float]:
    """The layout with the most prompt tokens/s per unit, and that rate (tensor-parallel and,
    for MoE models, expert-parallel candidates, or the pinned ``layouts``)."""
    fitting = prefill_options(model, system, precision=precision,
                              weights_precision=weights_precision, kv_precision=kv_precision,
                              prompt_tokens=prompt_tokens, assumptions=assumptions,
                              layouts=layouts, memory_reserve=memory_reserve)
    return max(fitting, key=lambda item: (item[1], -item[0].group_size))


def prefill_options(model: ModelSpec, system: System, *, precision: Precision,
                    weights_precision: Precision, kv_precision: Precision,
                    prompt_tokens: float, assumptions: Mapping[str, Assumption],
                    layouts: tuple[Layout, ...] | None = None,
                    memory_reserve: float = 0.05) -> list[tuple[Layout, float]]:
    """Every candidate prefill layout that fits with its prompt tokens/s per unit (pipeline
    layouts only when nothing else fits; the last candidate, at rate 0, when none does)."""
    inp = _inputs(model, system, weights_precision, kv_precision, precision, assumptions)
    options = list(layouts) if layouts is not None else all_layouts(inp.arch, system)
    rated = [(lay, _prefill_rate(inp, lay, prompt_tokens, memory_reserve)) for lay in options]
    return [item for item in rated if item[1] > 0 and item[0].pp == 1] or \
        [item for item in rated if item[1] > 0] or rated[-1:]


def all_layouts(arch: Architecture, system: System) -> list[Layout]:
    """Tensor/pipeline candidates and, for an MoE model, the expert-parallel ones."""
    return candidate_layouts(arch, system) + ep_layouts(arch, system)


def prefill_tokens_per_s_per_unit(model: ModelSpec, system: System, *, precision: Precision,
                                  prompt_tokens: float, assumptions: Mapping[str, Assumption],
                                  weights_precision: Precision | None = None,
                                  kv_precision: Precision = Precision.BF16,
                                  group_size: int | None = None,
                                  memory_reserve: float = 0.05) -> float:
    """Prompt tokens/s per unit for prefill (compute-bound), 0 when the model does not fit.

    Per token: (2·N_mm + 4·H·L·d_h·P/2) / (g·peak·eff_c) plus the tensor-parallel all-reduce of
    its activations. Weights default to the compute precision. Without a pinned ``group_size``
    the best fitting layout is used (the smallest tensor-parallel degree, least communication).
    """
    inp = _inputs(model, system, weights_precision or precision, kv_precision, precision,
                  assumptions)
    if group_size is not None:
        layouts = [layout_for(inp.arch, system, group_size)]
    else:
        layouts = [lay for lay in candidate_layouts(inp.arch, system)
                   if _fits(inp, lay, prompt_tokens, memory_reserve)]
        layouts = [lay for lay in layouts if lay.pp == 1] or layouts
    rates = [_prefill_rate(inp, lay, prompt_tokens, memory_reserve) for lay in layouts]
    return max(rates, default=0.0)


def time_to_first_token_s(model: ModelSpec, system: System, layout: Layout, *,
                          precision: Precision, weights_precision: Precision,
                          prompt_tokens: float, assumptions: Mapping[str, Assumption],
                          kv_precision: Precision = Precision.BF16) -> float:
    """Prefill time of one request alone on a replica (no queueing).

    Pipeline stages run one after another for a single request, so only tp accelerators work
    at a time: max(P·F_pre / (tp·peak·eff_c), W / (tp·BW·eff_m)) + all-reduces + hops. The KV
    cache's precision sets the attention math's (:func:`attention_precision`).
    """
    inp = _inputs(model, system, weights_precision, kv_precision, precision, assumptions)
    if layout.expert_parallel:
        from planner.perf.serving_ep import ep_ttft_s

        return ep_ttft_s(inp, layout, prompt_tokens)
    compute = (prompt_tokens * _prefill_gemm_flops_per_token(inp, layout, prompt_tokens,
                                                             prompt_tokens)
               / (layout.tp * inp.peak_flops * inp.compute_efficiency))
    memory = inp.weights_bytes / (layout.tp * system.accelerator.hbm_bandwidth
                                  * inp.eff("memory_bandwidth"))
    comm = (prompt_tokens * _comm_per_token_s(inp, layout, prefill=True) * layout.pp
            + _comm_fixed_s(inp, layout))
    return max(compute, memory) + comm


# --------------------------------------------------------------------------- memory curve


@dataclass(frozen=True, slots=True)
class MemoryPoint:
    """KV-cache size of a batch at one sequence length (and with the weights, if given)."""

    context_tokens: float
    kv_bytes: float
    total_bytes: float


def kv_memory_curve(model: ModelSpec, *, batch: int, contexts: Iterable[float],
                    kv_precision: Precision,
                    weights_precision: Precision | None = None) -> list[MemoryPoint]:
    """KV bytes against sequence length for a batch: b·s·kv (the source article's chart).

    ``total_bytes`` adds the weights when ``weights_precision`` is given (else equals kv).
    """
    arch = model.architecture
    per_token = kv_bytes_per_token(arch, BYTES_PER_ELEMENT[kv_precision])
    weights = 0.0 if weights_precision is None else weights_bytes(
        arch, BYTES_PER_ELEMENT[weights_precision])
    return [MemoryPoint(s, batch * s * per_token, weights + batch * s * per_token)
            for s in contexts]


def max_context_tokens(model: ModelSpec, *, batch: int, kv_precision: Precision,
                       capacity_bytes: float) -> float:
    """Sequence length at which a batch's KV cache fills ``capacity_bytes`` (continuous)."""
    per_token = kv_bytes_per_token(model.architecture, BYTES_PER_ELEMENT[kv_precision])
    return capacity_bytes / (batch * per_token)


# --------------------------------------------------------------------------- the estimate


@dataclass(frozen=True, slots=True)
class ServingEstimate:
    """A serving workload on one system: batch, rates, latency, cost and what binds.

    ``deployment`` is the colocated or disaggregated deployment at the workload's targets
    (:mod:`planner.perf.serving_pools`); ``decode`` is its decode pool's capacity.
    """

    model: str
    system: str
    workload: str
    context_mode: str
    context_tokens: float
    compute_precision: str
    kv_bytes_per_token: float
    weights_bytes: float
    decode: DecodeCapacity
    prefill_tokens_per_s_per_unit: float
    tokens_per_s_per_unit: float
    requests_per_s_per_unit: float
    ttft_s: float
    vote_cost_multiplier: float
    unit_usd_per_s: float
    cost_basis: str
    assumptions: list[Assumption] = field(default_factory=list)
    deployment: Deployment | None = None
    requests_per_s: float = 0.0
    usd_per_million_cached_input_tokens: float | None = None
    prefix_cache_bytes_per_request: float = 0.0
    kv_reserve: str = "average"

    @property
    def usd_per_million_tokens(self) -> float | None:
        """Cost per million generated tokens, or None when nothing can be served."""
        if self.tokens_per_s_per_unit <= 0:
            return None
        return self.unit_usd_per_s / self.tokens_per_s_per_unit * 1e6

    @property
    def usd_per_million_output_tokens(self) -> float | None:
        """Cost per million generated tokens of the decode pool's (or phase's) unit time."""
        dep = self.deployment
        if dep is None or dep.generated_tokens <= 0:
            return None
        seconds = dep.decode_pool.unit_s_per_request
        if not math.isfinite(seconds) or seconds <= 0:
            return None
        return self.unit_usd_per_s * seconds / dep.generated_tokens * 1e6

    @property
    def usd_per_million_input_tokens(self) -> float | None:
        """Cost per million uncached input tokens (the prefill pool's or phase's unit time)."""
        dep = self.deployment
        if dep is None or dep.computed_prompt_tokens <= 0:
            return None
        seconds = dep.prefill.unit_s_per_request
        if not math.isfinite(seconds):
            return None
        return self.unit_usd_per_s * seconds / dep.computed_prompt_tokens * 1e6

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; the keys of DESIGN.md's serving contract come first."""
        d = self.decode
        dep = self.deployment
        out = {
            "kv_bytes_per_token": self.kv_bytes_per_token, "weights_bytes": self.weights_bytes,
            "max_batch": d.max_batch, "max_batch_slo": _finite(d.max_batch_slo),
            "max_batch_memory": d.max_batch_memory, "fits_memory": d.fits_memory,
            "tokens_per_s_per_user": d.tokens_per_s_per_user,
            "tokens_per_s_per_unit": self.tokens_per_s_per_unit, "ttft_s": self.ttft_s,
            "usd_per_million_tokens": self.usd_per_million_tokens,
            "parallelism": d.layout.to_dict(), "bound": d.bound,
            "assumptions": [a.to_dict() for a in self.assumptions],
            "model": self.model, "system": self.system, "workload": self.workload,
            "context_mode": self.context_mode, "context_tokens": self.context_tokens,
            "kv_reserve": self.kv_reserve,
            "compute_precision": self.compute_precision, "step_time_s": d.step_time_s,
            "compute_s": d.compute_s, "memory_s": d.memory_s,
            "communication_s": d.communication_s,
            "decode_tokens_per_s_per_unit": d.tokens_per_s_per_unit,
            "prefill_tokens_per_s_per_unit": self.prefill_tokens_per_s_per_unit,
            "requests_per_s_per_unit": self.requests_per_s_per_unit,
            "vote_cost_multiplier": self.vote_cost_multiplier,
            "memory_bytes_per_replica": d.memory_bytes_per_replica,
            "kv_bytes_per_replica": d.kv_bytes_per_replica,
            "memory_capacity_bytes": d.memory_capacity_bytes,
            "unit_usd_per_s": self.unit_usd_per_s, "cost_basis": self.cost_basis,
        }
        if dep is not None:
            out.update({
                "disaggregated": dep.disaggregated,
                "prefill": dep.prefill.to_dict(self.requests_per_s),
                "decode": dep.decode_pool.to_dict(self.requests_per_s),
                "prefill_to_decode_units": dep.prefill_to_decode_units,
                "ttft_p99_s": dep.ttft_s, "tpot_p99_s": dep.tpot_s,
                "load": dep.load, "kv_transfer_s": dep.kv_transfer_s,
                "usd_per_million_input_tokens": self.usd_per_million_input_tokens,
                "usd_per_million_cached_input_tokens": self.usd_per_million_cached_input_tokens,
                "usd_per_million_output_tokens": self.usd_per_million_output_tokens,
                "prefix_cache_bytes_per_request": self.prefix_cache_bytes_per_request,
            })
        return out


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def serving_assumptions(spec: Serve, system: System,
                        overrides: Mapping[str, float] | None = None) -> dict[str, Assumption]:
    """Calibrated defaults and cost defaults, then system, workload and explicit overrides."""
    result = resolve({**DEFAULTS, **COST_DEFAULTS}, system.id, system.efficiency,
                     spec.name or "serve", spec.efficiency)
    for name, value in (overrides or {}).items():
        if name not in result:
            raise InputError(Problem("--set", name, f"unknown assumption {name!r}",
                                     did_you_mean(name, result)))
        result[name] = Assumption(name, float(value), "override", result[name].note)
    return result


def _served_rate(decode_tps: float, prefill_tps: float, output_tokens: float,
                 prompt_tokens: float) -> tuple[float, float]:
    """(output tokens/s, requests/s) per unit when prefill and decode share its time.

    Unit-seconds per request = output / decode rate + prompt / prefill rate (no overlap:
    conservative where chunked prefill could hide prompts in the spare compute of a
    bandwidth-bound decode).
    """
    if decode_tps <= 0 or (prompt_tokens > 0 and prefill_tps <= 0):
        return 0.0, 0.0
    seconds = output_tokens / decode_tps + (prompt_tokens / prefill_tps if prompt_tokens else 0.0)
    return output_tokens / seconds, 1.0 / seconds


def _vote_scales(spec: Serve) -> tuple[float, float]:
    """(KV stored, KV read) per stream relative to an unshared stream: f/n + 1 − f; reads stay
    at 1 when the kernel re-reads the shared prefix for every stream."""
    store = spec.shared_prefix_fraction / spec.votes + 1.0 - spec.shared_prefix_fraction
    return store, store if spec.prefix_read_once else 1.0


def _decode_for(spec: Serve, model: ModelSpec, system: System, precision: Precision,
                context_tokens: float, assumptions: Mapping[str, Assumption],
                group_size: int | None) -> DecodeCapacity:
    """Decode capacity of a serving workload, with its votes' KV scales."""
    store, read = _vote_scales(spec)
    store *= reserved_context_scale(spec, context_tokens)
    return decode_capacity(
        model, system, weights_precision=spec.weights_precision, kv_precision=spec.kv_precision,
        compute_precision=precision, context_tokens=context_tokens,
        interactivity=spec.interactivity, assumptions=assumptions,
        memory_reserve=spec.memory_reserve, enforce_memory=spec.enforce_memory,
        group_size=group_size, kv_store_scale=store, kv_read_scale=read)


def estimate_serving(spec: Serve, model: ModelSpec, system: System,
                     overrides: Mapping[str, float] | None = None, *,
                     context_mode: ContextMode | str | None = None,
                     group_size: int | None = None) -> ServingEstimate:
    """Estimate a serving workload on one system (the ``planner estimate`` view).

    The deployment (:func:`planner.perf.serving_pools.deploy`): colocated with chunked prefill,
    or disaggregated prefill and decode pools (``disaggregated: auto`` keeps the one with more
    tokens/s per unit), each pool on its best tensor/pipeline or expert-parallel layout, decode
    at the interactivity and TPOT limits, prefill queued at the TTFT limit for Poisson arrivals;
    self-consistency votes; cost per million generated tokens from the unit's rental price or
    amortised purchase plus energy (:func:`planner.perf.cost.unit_cost`) and per million input,
    cached input and output tokens. The compute precision is the workload's (default: the
    weights' precision), or the next wider tensor mode the accelerator has (FP8 weights on an
    A100 run with BF16 math); the one used is reported as ``compute_precision``.

    Decode runs at the mean context a continuously batched server holds, input + output / 2
    (:class:`ContextMode`): sequences are admitted and retired continuously, so at any step
    their lengths are spread evenly between P and P + O; ``decode_context: final`` in the
    workload (or ``context_mode``) uses P + O, the source article's rule. ``group_size`` pins
    the decode and prefill replica size (as ``layout: {decode: {tp: ...}}`` does).
    """
    from planner.perf.serving_pools import deploy

    if group_size is not None:
        layout = layout_for(model.architecture, system, group_size)
        pin = {"tp": layout.tp, "pp": layout.pp, "ep": layout.ep,
               "dp_attention": layout.dp_attention}
        spec = spec.model_copy(update={"layout": spec.layout.model_copy(update={
            "decode": spec.layout.decode.model_copy(update=pin),
            "prefill": spec.layout.prefill.model_copy(update=pin)})})
    assumptions = serving_assumptions(spec, system, overrides)
    precision = compute_precision_for(system, spec.compute_precision or spec.weights_precision)
    context_mode = ContextMode(context_mode or spec.decode_context)
    context = decode_context_tokens(spec.input_tokens, spec.output_tokens, context_mode)
    arch = model.architecture
    kv_per_token = kv_bytes_per_token(arch, BYTES_PER_ELEMENT[spec.kv_precision])
    dep = deploy(spec, model, system, precision, assumptions, context, kv_per_token)
    decode = dep.decode
    cost = unit_cost(system, assumptions, prefer_rental=True)
    cached_s = kv_per_token / (system.scale_out.bandwidth * assumptions["ep_network"].value)
    cached = (cost.usd_per_s / system.accelerators * cached_s * 1e6
              if spec.prefix_cache_hit_fraction > 0 else None)
    rates = spec.requests_per_second
    total = sum(rates.values()) if isinstance(rates, dict) else float(rates)
    return ServingEstimate(
        model=model.id, system=system.id, workload=spec.name,
        context_mode=str(ContextMode(context_mode)), context_tokens=context,
        compute_precision=str(precision), kv_bytes_per_token=kv_per_token,
        weights_bytes=weights_bytes(arch, BYTES_PER_ELEMENT[spec.weights_precision]),
        decode=decode, prefill_tokens_per_s_per_unit=dep.prefill_capacity_per_unit,
        tokens_per_s_per_unit=dep.tokens_per_s_per_unit,
        requests_per_s_per_unit=dep.requests_per_s_per_unit, ttft_s=dep.ttft_unloaded_s,
        vote_cost_multiplier=vote_cost_multiplier(spec.votes, spec.shared_prefix_fraction,
                                                  spec.prefix_read_once),
        unit_usd_per_s=cost.usd_per_s, cost_basis=cost.basis,
        assumptions=[assumptions[k] for k in sorted(assumptions)], deployment=dep,
        requests_per_s=total, usd_per_million_cached_input_tokens=cached,
        prefix_cache_bytes_per_request=spec.prefix_cache_hit_fraction * spec.input_tokens
        * kv_per_token, kv_reserve=spec.kv_reserve)
