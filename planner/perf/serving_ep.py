"""Expert-parallel layouts inside the serving search: from serving.py's inputs to the EP step.

:mod:`planner.perf.serving_moe` holds the physics in plain numbers; this module fills them from
a model, a system and the named assumptions, and returns the same :class:`DecodeCapacity` the
tensor-parallel layouts give, so the layout search compares both on tokens/s per unit.
"""

from __future__ import annotations

import math

from planner.catalog.schema import BYTES_PER_ELEMENT, Precision
from planner.perf.serving import (
    _EPS,
    Bound,
    DecodeCapacity,
    Layout,
    _Inputs,
    _Limits,
    kv_replication,
)
from planner.perf.serving_moe import (
    EpFactors,
    EpHardware,
    EpModel,
    EpPoint,
    ep_decode_step,
    ep_memory_batch,
    ep_prefill_s_per_token,
    ep_single_prompt_s,
    largest_batch_within,
)
from planner.workload.params import (
    attention_flops_per_token,
    count_params,
    decode_attention_flops_per_token,
    routed_expert_split,
)

__all__ = ["ep_parts", "ep_prefill_tokens_per_s_per_unit", "ep_ttft_s", "evaluate_ep"]

# DeepEP dispatches FP8 activations (1 byte per element plus a scale per 128) when the expert
# GEMMs run in FP8 or FP4, and combines in BF16 (https://github.com/deepseek-ai/DeepEP).
_DISPATCH_BYTES = {Precision.FP8: 1.0 + 4.0 / 128, Precision.FP4: 1.0 + 4.0 / 128}
_COMBINE_BYTES = 2.0


def ep_parts(inp: _Inputs, layout: Layout) -> tuple[EpModel, EpHardware, EpFactors]:
    """The EP step's model, hardware and factor numbers for one layout."""
    arch, system = inp.arch, inp.system
    split = routed_expert_split(arch)
    params = count_params(arch)
    bytes_per_param = inp.weights_bytes / params.total
    routed_bytes = split.routed_total * bytes_per_param
    precision = inp.compute_precision
    model = EpModel(
        dense_weight_bytes=inp.weights_bytes - routed_bytes, routed_weight_bytes=routed_bytes,
        dense_flops=2.0 * (params.matmul_active - split.routed_active),
        routed_flops=2.0 * split.routed_active, experts=split.experts, top_k=split.top_k,
        moe_layers=split.moe_layers, layers=arch.layers, hidden=arch.hidden,
        kv_bytes_per_token=inp.kv_bytes_per_token,
        kv_replication_per_rank=kv_replication(arch, layout.tp),
        dispatch_bytes=_DISPATCH_BYTES.get(precision, BYTES_PER_ELEMENT[Precision.BF16]),
        combine_bytes=_COMBINE_BYTES,
        node_limit=arch.moe.node_limit if arch.moe else None)
    achieved = inp.peak_flops * inp.compute_efficiency
    hardware = EpHardware(
        gemm_flops=achieved, attention_flops=inp.attention_rate,
        hbm_bandwidth=system.accelerator.hbm_bandwidth * inp.eff("memory_bandwidth"),
        hbm_capacity=system.accelerator.hbm_capacity,
        scale_up_bandwidth=system.scale_up.bandwidth / 2.0 * inp.eff("scale_up"),
        scale_out_bandwidth=system.scale_out.bandwidth * inp.eff("ep_network"),
        domain=system.scale_up.domain_size, message_s=inp.eff("collective_latency_s"))
    tbo = two_batch_overlap(layout.ep, system.scale_up.domain_size)
    factors = EpFactors(overlap=inp.eff("ep_overlap_decode") if tbo else 0.0,
                        imbalance=inp.eff("expert_imbalance"),
                        redundancy=inp.eff("redundant_experts"),
                        kernel_overlap=inp.eff("kernel_overlap") >= 0.5,
                        prefill_overlap=inp.eff("ep_overlap") if tbo else 0.0,
                        decode_kernels=inp.eff("ep_decode_kernels"))
    return model, hardware, factors


def two_batch_overlap(ep: int, domain: int) -> bool:
    """Whether an EP group runs two micro-batches to hide its all-to-all: when the group spans
    several scale-up domains, so dispatch and combine cross the scale-out network (DeepSeek's
    and SGLang's H800/H100 deployments); inside one NVLink domain the all-to-all is short and
    SGLang disables it (https://lmsys.org/blog/2025-06-16-gb200-part-1, GB200 NVL72)."""
    return ep > domain


def decode_batch_cap(inp: _Inputs, layout: Layout) -> float:
    """Most sequences an attention replica decodes at once: the dispatch buffer
    (``ep_max_batch_per_rank`` tokens per rank) per micro-batch, two micro-batches under
    two-batch overlap, times its tp ranks."""
    micro_batches = 2 if two_batch_overlap(layout.ep, inp.system.scale_up.domain_size) else 1
    return inp.eff("ep_max_batch_per_rank") * micro_batches * layout.tp


def evaluate_ep(inp: _Inputs, layout: Layout, lim: _Limits) -> DecodeCapacity:
    """Decode capacity of an expert-parallel layout (per accelerator, then per unit)."""
    model, hw, f = ep_parts(inp, layout)
    chunk = lim.chunk
    prefill_per_seq = chunk.tokens_per_step if chunk else 0.0
    prefill_attention = (attention_flops_per_token(inp.arch, chunk.context_tokens)
                         if chunk else 0.0)
    decode_attention = decode_attention_flops_per_token(inp.arch, lim.context_tokens) \
        * lim.kv_read_scale

    memory_batch = ep_memory_batch(model, hw, f, ep=layout.ep, tp=layout.tp,
                                   context=lim.context_tokens, reserve=lim.memory_reserve,
                                   kv_store_scale=lim.kv_store_scale)
    def step_at_percentile(batch: float) -> EpPoint:
        """The step at the TPOT percentile (planner.perf.serving.PrefillChunk.at_percentile)."""
        share = chunk.at_percentile(batch).tokens_per_step if chunk else 0.0
        return ep_decode_step(model, hw, f, ep=layout.ep, tp=layout.tp, batch=batch,
                              context=lim.context_tokens,
                              decode_attention_flops=decode_attention,
                              prefill_per_seq=share,
                              prefill_attention_flops=prefill_attention)

    def step_at_mean(batch: float) -> EpPoint:
        return ep_decode_step(model, hw, f, ep=layout.ep, tp=layout.tp, batch=batch,
                              context=lim.context_tokens,
                              decode_attention_flops=decode_attention,
                              prefill_per_seq=prefill_per_seq,
                              prefill_attention_flops=prefill_attention)

    bursty = lim.target_step_s > 0 and chunk is not None and chunk.bursty
    slo_batch = (largest_batch_within(step_at_mean, lim.target_step_s, math.inf)
                 if lim.target_step_s > 0 else math.inf)
    if bursty and chunk is not None:
        slo_batch = min(slo_batch, largest_batch_within(step_at_percentile, chunk.tpot_limit_s,
                                                        math.inf))
    cap = decode_batch_cap(inp, layout)
    chosen = min(memory_batch, slo_batch, cap) if lim.enforce_memory else min(slo_batch, cap)
    if not math.isfinite(chosen):
        chosen = memory_batch
    batch = math.floor(chosen + _EPS) if memory_batch >= 1 or not lim.enforce_memory else 0
    point = ep_decode_step(model, hw, f, ep=layout.ep, tp=layout.tp, batch=max(batch, 1),
                           context=lim.context_tokens, decode_attention_flops=decode_attention,
                           prefill_per_seq=prefill_per_seq,
                           prefill_attention_flops=prefill_attention)
    bound = Bound(point.bound)
    if memory_batch < 1:
        bound = Bound.HBM_CAPACITY
    elif memory_batch <= min(cap, slo_batch) and (
            lim.target_step_s > 0 or bound is Bound.MEMORY_BANDWIDTH):
        bound = Bound.HBM_CAPACITY  # HBM sets the batch (cap and SLO: the regime is reported)
    per_accelerator = batch / layout.tp / point.step_s
    per_unit = per_accelerator * inp.system.accelerators
    weights = (model.dense_weight_bytes / layout.tp
               + model.routed_weight_bytes * (1.0 + f.redundancy) / layout.ep)
    kv = batch * lim.context_tokens * model.kv_bytes_per_token \
        * model.kv_replication_per_rank / layout.tp * lim.kv_store_scale
    capacity = (1.0 - lim.memory_reserve) * hw.hbm_capacity
    return DecodeCapacity(
        tokens_per_s_per_unit=per_unit, max_batch=batch, group_size=layout.group_size,
        bound=str(bound), step_time_s=point.step_s, max_batch_slo=slo_batch,
        max_batch_memory=memory_batch,
        tokens_per_s_per_user=1.0 / point.step_s if batch else 0.0, layout=layout,
        fits_memory=batch >= 1 and weights + kv <= capacity,
        memory_bytes_per_replica=(weights + kv) * layout.group_size,
        memory_capacity_bytes=capacity * layout.group_size, compute_s=point.compute_s,
        memory_s=point.memory_s, communication_s=point.communication_s,
        step_time_quantile_s=step_at_percentile(max(batch, 1)).step_s if bursty else 0.0)


def ep_prefill_tokens_per_s_per_unit(inp: _Inputs, layout: Layout, prompt_tokens: float,
                                     reserve: float) -> float:
    """Prompt tokens/s per unit of an EP prefill group (0 when its weights do not fit)."""
    model, hw, f = ep_parts(inp, layout)
    if ep_memory_batch(model, hw, f, ep=layout.ep, tp=layout.tp, context=prompt_tokens,
                       reserve=reserve) < 1:
        return 0.0
    per_token = ep_prefill_s_per_token(
        model, hw, f, ep=layout.ep, tp=layout.tp,
        prefill_attention_flops=attention_flops_per_token(inp.arch, prompt_tokens / 2.0))
    return inp.system.accelerators / per_token


def ep_ttft_s(inp: _Inputs, layout: Layout, prompt_tokens: float) -> float:
    """Prefill time of one prompt alone on one attention replica of an EP group."""
    model, hw, f = ep_parts(inp, layout)
    return ep_single_prompt_s(
        model, hw, f, ep=layout.ep, tp=layout.tp, prompt_tokens=prompt_tokens,
        prefill_attention_flops=attention_flops_per_token(inp.arch, prompt_tokens / 2.0))
