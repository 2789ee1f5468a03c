"""Expert-parallel layouts inside the serving search: from serving.py's inputs to the EP step.

:mod:`planner.perf.serving_moe` holds the physics in plain numbers; this module fills them from
a model, a system and the named assumptions, and returns the same :class:`DecodeCapacity` the
tensor-parallel layouts give, so the layout search compares both on tokens/s per unit.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from planner.catalog.schema import BYTES_PER_ELEMENT, Precision
from planner.perf.serving import (
    _EPS,
    Bound,
    DecodeCapacity,
    Layout,
    PrefillChunk,
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

__all__ = ["DpPrefillStep", "dp_prefill_steps", "ep_parts", "ep_prefill_tokens_per_s_per_unit",
           "ep_ttft_s", "evaluate_ep"]

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


@dataclass(frozen=True, slots=True)
class DpPrefillStep:
    """One kind of step of a colocated EP group with data-parallel attention: with
    ``probability``, its busiest attention replica prefills ``busiest`` prompt tokens per
    sequence of its batch and the replicas ``mean`` on average."""

    probability: float
    busiest: float
    mean: float


def dp_prefill_steps(inp: _Inputs, layout: Layout, chunk: PrefillChunk, batch: float,
                     room_limit: float = math.inf) -> tuple[DpPrefillStep, ...]:
    """How a colocated EP group's prompt work falls on its attention replicas, step by step.

    Every attention replica admits its own prompts as its sequences finish (requests are
    assigned to replicas round-robin, TensorRT-LLM's default), while the replicas step together:
    each MoE layer's dispatch and combine wait for every rank, so a step lasts as long as its
    busiest replica ("the iteration time is dominated by the slowest rank", TensorRT-LLM's
    attention-DP balance study, https://github.com/NVIDIA/TensorRT-LLM, docs/source/blogs/
    tech_blog/blog10_ADP_Balance_Strategy.md: 54% mean balance between ranks with round-robin
    assignment on 8 GB200, DeepSeek-V3).

    A replica of b sequences finishes λ = b·c / P_c of them per step (c prompt tokens per output
    token, P_c computed tokens per prompt) and admits as many prompts, a Poisson number K per
    step, independent between replicas. A step takes at most R = budget − b + 1 prompt tokens
    beside the decode tokens of its other b − 1 sequences (``prefill_batch_tokens``, the
    engine's per-step token budget; TensorRT-LLM's max_num_tokens counts the decode tokens too:
    its H200 DeepSeek-R1 run sets 1,151 = 1,024 + 127 for 128 sequences of 1,024-token
    prompts), or the whole budget when that is no more than b, so a replica prefills
    X = min(K·P_c, R) tokens; a prompt longer than R is prefilled in pieces of R, in a share
    λ·P_c / R of the steps. Under a step-time limit R is also capped at ``room_limit``, the
    prompt tokens a replica's step can add within the limit (:func:`evaluate_ep`).

    Over N replicas the busiest holds max X: the kinds of step returned are its values v, with
    P(max = v) = F(v)^N − F(v⁻)^N, and the replicas' mean there is (v + (N − 1)·E[X | X ≤ v])
    / N, scaled so that the mean over all steps is λ·P_c. With ``attention_dp_balance`` = 1
    the replicas start prompts in the same steps (TensorRT-LLM's attention_dp_config
    enable_balance) and every step carries the mean.
    """
    per_seq = chunk.tokens_per_step
    fluid = (DpPrefillStep(1.0, per_seq, per_seq),)
    replicas = max(1, layout.ep // layout.tp)
    prompt = chunk.prompt_tokens
    if (replicas <= 1 or batch <= 0 or per_seq <= 0 or prompt <= 0
            or inp.eff("attention_dp_balance") >= 0.5):
        return fluid
    needed = batch * per_seq  # prompt tokens per step per replica, λ·P_c
    budget = inp.eff("prefill_batch_tokens")
    room = min(budget - batch + 1.0 if budget > batch else budget, max(room_limit, needed))
    if prompt > room or needed >= room:
        busy = needed / room
        if busy >= 1.0:
            return fluid
        values, probabilities = [0.0, room], [1.0 - busy, busy]
    else:
        values, probabilities = _admitted_tokens(needed / prompt, prompt, room)
    steps = []
    below = 0.0  # F(v⁻)
    weighted = 0.0  # sum of p·v over values ≤ v
    for value, probability in zip(values, probabilities, strict=True):
        cdf = below + probability
        weighted += probability * value
        share = cdf ** replicas - below ** replicas
        if share > 0:
            rest = weighted / cdf if cdf > 0 else 0.0
            steps.append((share, value, (value + (replicas - 1) * rest) / replicas))
        below = cdf
    steps = _merged(steps, _MAX_STEP_KINDS)
    total = sum(share * mean for share, _, mean in steps)
    scale = needed / total if total > 0 else 0.0
    return tuple(DpPrefillStep(share, value / batch, mean * scale / batch)
                 for share, value, mean in steps)


# Kinds of step the mean step is taken over: adjacent values of the busiest replica's prompt
# tokens are merged beyond this many (the step grows almost linearly between them)
_MAX_STEP_KINDS = 12


def _admitted_tokens(rate: float, prompt: float, room: float
                     ) -> tuple[list[float], list[float]]:
    """Values of min(K·P_c, R) and their probabilities for K ~ Poisson(rate), over the K
    within 10 standard deviations of the mean (the rest of the mass goes to the ends)."""
    whole = math.floor(room / prompt)
    spread = 10.0 * math.sqrt(rate) + 2.0
    low = max(0, math.floor(rate - spread))
    high = min(whole, math.ceil(rate + spread))
    values, probabilities = [], []
    for k in range(low, high + 1):
        values.append(min(k * prompt, room))
        probabilities.append(math.exp(-rate + k * math.log(rate) - math.lgamma(k + 1)))
    tail = max(0.0, 1.0 - sum(probabilities))
    if high == whole and values[-1] < room:
        values.append(room)
        probabilities.append(tail)
    else:
        probabilities[-1] += tail
    return values, probabilities


def _merged(steps: list[tuple[float, float, float]], most: int
            ) -> list[tuple[float, float, float]]:
    """At most ``most`` (share, busiest, mean) kinds: negligible ones dropped, adjacent ones
    merged into their share-weighted means."""
    kept = [s for s in steps if s[0] > 1e-12]
    if len(kept) <= most:
        return kept
    size = math.ceil(len(kept) / most)
    merged = []
    for start in range(0, len(kept), size):
        group = kept[start:start + size]
        share = sum(g[0] for g in group)
        merged.append((share, sum(g[0] * g[1] for g in group) / share,
                       sum(g[0] * g[2] for g in group) / share))
    return merged


def evaluate_ep(inp: _Inputs, layout: Layout, lim: _Limits) -> DecodeCapacity:
    """Decode capacity of an expert-parallel layout (per accelerator, then per unit)."""
    model, hw, f = ep_parts(inp, layout)
    chunk = lim.chunk
    prefill_attention = (attention_flops_per_token(inp.arch, chunk.context_tokens)
                         if chunk else 0.0)
    decode_attention = decode_attention_flops_per_token(inp.arch, lim.context_tokens) \
        * lim.kv_read_scale

    memory_batch = ep_memory_batch(model, hw, f, ep=layout.ep, tp=layout.tp,
                                   context=lim.context_tokens, reserve=lim.memory_reserve,
                                   kv_store_scale=lim.kv_store_scale)

    def room_within_target(at: Callable[[float, float], EpPoint]) -> float:
        """Prompt tokens the busiest replica's step can take within the step-time limit: as
        a colocated engine caps its per-step budget to hold TPOT (the same rule as
        planner.perf.serving_pools._admitted_per_step), the chunk is what the limit's
        headroom over a decode-only step computes; unlimited without a limit."""
        if lim.target_step_s <= 0:
            return math.inf
        decode_only = at(0.0, 0.0)
        probe = 1000.0  # prompt tokens; the step grows linearly with them
        slope = (at(0.0, probe / max(decode_only.batch, 1.0)).step_s - decode_only.step_s) / probe
        if slope <= 0:
            return math.inf
        return max(lim.target_step_s - decode_only.step_s, 0.0) / slope

    def step(batch: float, work: PrefillChunk | None) -> EpPoint:
        """The mean step at ``batch``: steps where a replica prefills, mixed with decode-only
        ones (:func:`dp_prefill_steps`)."""
        def at(mean: float, busiest: float) -> EpPoint:
            return ep_decode_step(model, hw, f, ep=layout.ep, tp=layout.tp, batch=batch,
                                  context=lim.context_tokens,
                                  decode_attention_flops=decode_attention,
                                  prefill_per_seq=mean,
                                  prefill_attention_flops=prefill_attention,
                                  busiest_prefill_per_seq=busiest)
        if work is None:
            return at(0.0, 0.0)
        kinds = dp_prefill_steps(inp, layout, work, batch, room_within_target(at))
        if len(kinds) == 1:
            return at(kinds[0].mean, kinds[0].busiest)
        return _mean_step([(k.probability, at(k.mean, k.busiest)) for k in kinds])

    def step_at_percentile(batch: float) -> EpPoint:
        """The step at the TPOT percentile (planner.perf.serving.PrefillChunk.at_percentile)."""
        return step(batch, chunk.at_percentile(batch) if chunk else None)

    def step_at_mean(batch: float) -> EpPoint:
        return step(batch, chunk)

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
    point = step_at_mean(max(batch, 1))
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
        step_time_quantile_s=step_at_percentile(max(batch, 1)).step_s if bursty else 0.0,
        kv_bytes_per_replica=kv * layout.group_size)


def _mean_step(kinds: list[tuple[float, EpPoint]]) -> EpPoint:
    """The probability-weighted mean of several kinds of step (of one batch)."""
    total = sum(p for p, _ in kinds)
    return EpPoint(kinds[0][1].batch,
                   sum(p * k.step_s for p, k in kinds) / total,
                   sum(p * k.compute_s for p, k in kinds) / total,
                   sum(p * k.memory_s for p, k in kinds) / total,
                   sum(p * k.communication_s for p, k in kinds) / total)


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
