"""Mixture-of-experts serving layouts: expert parallelism (EP) with data-parallel attention.

Wide-EP serving (DeepSeek's inference system, SGLang's and vLLM's large-scale EP) spreads the
routed experts of every MoE layer over ``ep`` accelerators, which may span several units over
the scale-out network, and runs attention data-parallel: each of the ``dp_attention = ep / tp``
attention replicas holds the attention, dense and shared-expert weights (split over its ``tp``
ranks) and its own sequences' KV cache. Per accelerator, with b sequences per attention replica,
c prompt tokens chunked in per decode token (colocated serving; 0 in a decode pool), context s,
and B = b·(1 + c)·dp_attention tokens in the whole EP group per step::

    tokens      t        = b·(1 + c) / tp
    gemm_s      = t·(2·N_dense + 2·N_routed·imbalance) / (peak·eff_c)
    attn_s      = b·(A_dec(s) + c·A_pre(s_p)) / tp / (peak_attn·eff_c)
    weights_s   = (W_dense / tp + W_routed·(1 + redundancy) / ep · hit(B)) / (BW·eff_m)
    kv_s        = b·s·kv·replication(tp) / tp / (BW·eff_m)
    comm_s      = max over link kinds of t·copies·d·(a_dispatch + a_combine)·L_moe·imbalance
                  / link bandwidth                                    (scale-out, scale-up)
    cm          = (max(gemm_s, weights_s) + max(attn_s, kv_s)) / ep_decode_kernels
    step_s      = max(cm, comm_s) + (1 − ep_overlap_decode)·min(cm, comm_s)

hit(B) = 1 − (1 − k/E)^B is the chance that an expert is used by at least one of B tokens that
each pick k of E experts (independent, uniform draws: the router's load-balancing target), so the
expected distinct experts a step reads are E·hit(B) (:func:`expected_experts_hit`), not all E
and not only k. Dispatch sends each token's hidden vector to its k experts' ranks in
``a_dispatch`` bytes per element (FP8 in DeepEP when the weights are FP8), combine returns k
vectors in BF16; the share of copies whose rank lies outside the sender's scale-up domain,
1 − D/ep, crosses the scale-out network, the rest NVLink. Prefill's dispatch (DeepEP's "normal"
kernels) sends a token once per remote unit its experts lie on and forwards inside the unit, so
its scale-out copies are the expected remote units hit, capped by node-limited routing; decode's
low-latency kernels send one copy per expert over RDMA.

The all-to-all of a step lasts as long as its busiest rank: every rank waits for the last
combine, and the busiest expert rank receives (dispatch) and sends (combine) ``imbalance`` times
the mean, which is why DeepSeek's expert load balancer minimises "the maximum dispatch receive
load across all GPUs" (https://github.com/deepseek-ai/open-infra-index, Day 6) and SGLang notes
that imbalance makes every rank wait "for the slowest GPU computation or communication"
(https://lmsys.org/blog/2025-05-05-large-scale-ep). Scale-out and scale-up traffic of one
all-to-all move at the same time (DeepEP forwards NVLink traffic while RDMA streams,
https://github.com/deepseek-ai/DeepEP), so the slower link kind sets its time.

Two-batch overlap (two micro-batches, one's all-to-all under the other's compute) is what
DeepSeek and SGLang run when the EP group spans several units; inside one NVLink domain (GB200
NVL72) SGLang disables it (https://lmsys.org/blog/2025-06-16-gb200-part-1), so the overlap
factors apply only to groups wider than the scale-up domain, and so does the second
micro-batch's dispatch buffer (:func:`planner.perf.serving_ep.decode_batch_cap`).

Named factors (:data:`MOE_DEFAULTS`): ``ep_overlap`` and ``ep_overlap_decode`` (overlap of
communication with computation in prefill and in decode), ``ep_decode_kernels`` (fraction of
the rooflines an EP decode step's kernels reach), ``expert_imbalance`` (tokens on the busiest
expert rank over the mean, after expert-parallel load balancing), ``redundant_experts`` (extra
expert replicas per layer, as a fraction of E), ``ep_max_batch_per_rank`` (the dispatch buffer
per micro-batch) and ``ep_network`` (achieved fraction of the scale-out bandwidth in
all-to-all).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from planner.perf.assumptions import Assumption

__all__ = [
    "MOE_DEFAULTS",
    "EpFactors",
    "EpHardware",
    "EpModel",
    "EpPoint",
    "ep_decode_step",
    "ep_memory_batch",
    "ep_prefill_s_per_token",
    "ep_single_prompt_s",
    "expected_experts_hit",
    "expected_units_hit",
    "largest_batch_within",
]

_FIT = ("fitted jointly on planner.perf.calibrate_moe's fit set, SGLang's 96-H100 deployment "
        "(https://lmsys.org/blog/2025-05-05-large-scale-ep)")

MOE_DEFAULTS: dict[str, Assumption] = {
    "ep_overlap": Assumption(
        "ep_overlap", 0.30,
        f"{_FIT}: the prefill EP32 cases at 2K and 4K prompts (mean error 0.4% at 0.30, 2.2% "
        "at 0.25, 3.2% at 0.35); the mechanism is two-batch overlap: DeepSeek's inference-"
        "system overview (https://github.com/deepseek-ai/open-infra-index, 'Day 6') alternates "
        "two prefill micro-batches so one's all-to-all runs under the other's compute; SGLang "
        "measures 27-35% more prefill throughput with it, the model gives 16% at 0.30",
        "prefill: fraction of the shorter of compute time and all-to-all time hidden behind the "
        "longer (0: back to back, 1: perfect two-batch overlap); groups within one scale-up "
        "domain run without it"),
    "ep_overlap_decode": Assumption(
        "ep_overlap_decode", 0.48,
        f"{_FIT}: decode EP72 at 256 sequences per GPU with two-batch overlap, 22,282 output "
        "tokens/s per node (+0.2% at 0.48), together with ep_decode_kernels; SGLang measures "
        "25.5% more decode throughput with two-batch overlap at 256 sequences per GPU, the "
        "model gives 25.9%",
        "decode: fraction of the shorter of compute/memory time and all-to-all time hidden "
        "behind the longer; groups within one scale-up domain run without it"),
    "ep_decode_kernels": Assumption(
        "ep_decode_kernels", 0.70,
        f"{_FIT}: the same decode deployment without two-batch overlap, 22,310 / 1.255 = "
        "17,777 output tokens/s per node at 256 sequences per GPU (SGLang's ablation: "
        "+25.5% with it), which is a plain sum of kernel and all-to-all time (-0.2% at 0.70). "
        "Engine kernels at a few hundred tokens per GPU fall short of the offline-calibrated "
        "rooflines: DeepGEMM's published H800 FP8 table reaches 206-535 TFLOPS at M = 64-128 "
        "(https://github.com/deepseek-ai/DeepGEMM, first release), and SGLang's decode kernel "
        "breakdown finds its MoE kernels 25% slower than DeepSeek's and unfused 'other "
        "kernels' left to optimise",
        "fraction of the compute and HBM rooflines (the calibrated compute and "
        "memory_bandwidth) that the kernels of an expert-parallel decode step reach"),
    "expert_imbalance": Assumption(
        "expert_imbalance", 1.2,
        "assumption: expert-parallel load balancing (DeepSeek EPLB, https://github.com/"
        "deepseek-ai/EPLB) with redundant experts leaves the busiest rank about 20% above the "
        "mean; SGLang reports 1.49x (prefill) and 2.54x (decode) speed-ups from EPLB over no "
        "balancing, so unbalanced routing is far worse. Not fitted",
        "routed-expert tokens on the busiest expert-parallel rank over the mean"),
    "redundant_experts": Assumption(
        "redundant_experts", 0.125,
        "published: DeepSeek's inference-system overview deploys 32 redundant experts per "
        "layer besides the 256 routed ones (prefill: 9 routed experts per GPU on EP32 = 288)",
        "extra routed-expert replicas per MoE layer, as a fraction of E (memory and reads)"),
    "ep_max_batch_per_rank": Assumption(
        "ep_max_batch_per_rank", 128.0,
        "published: DeepEP's low-latency kernels are sized by num_max_dispatch_tokens_per_rank "
        "(128 in its examples and in SGLang's SGLANG_DEEPEP_NUM_MAX_DISPATCH_TOKENS_PER_RANK "
        "default); with two-batch overlap each micro-batch dispatches its own half, so SGLang's "
        "96-H100 decode captures CUDA graphs up to 256 sequences per GPU (--cuda-graph-bs 256 "
        "with --enable-two-batch-overlap, https://github.com/sgl-project/sglang/issues/6017) "
        "and its published decode table runs 256",
        "most sequences one expert-parallel decode rank steps per micro-batch (the dispatch "
        "buffer); two micro-batches under two-batch overlap"),
    "attention_dp_balance": Assumption(
        "attention_dp_balance", 0.0,
        "engine default: TensorRT-LLM assigns requests to attention data-parallel ranks "
        "round-robin and each rank admits its own prompts, so in colocated serving one rank "
        "prefills while the others wait for it at the next all-to-all (54% mean balance "
        "between ranks on 8 GB200 with DeepSeek-V3; its opt-in attention_dp_config "
        "enable_balance starts prompts on every rank together and reaches 88%, "
        "https://github.com/NVIDIA/TensorRT-LLM, docs/source/blogs/tech_blog/"
        "blog10_ADP_Balance_Strategy.md)",
        "colocated expert-parallel serving with data-parallel attention: 0 = each attention "
        "replica starts its own prompts and a step lasts as long as the replica that "
        "prefills (planner.perf.serving_ep.dp_prefill_steps); 1 = replicas start prompts in "
        "the same steps, so every step carries the mean prompt work"),
    "ep_network": Assumption(
        "ep_network", 0.85,
        "published: DeepEP (https://github.com/deepseek-ai/DeepEP) measures 43-58 GB/s of RDMA "
        "bandwidth per H800 GPU in its internode kernels on 400 Gb/s (50 GB/s) CX7 NICs, "
        "0.85-1.0 of the line rate; the lower end is taken",
        "achieved fraction of the scale-out bandwidth in expert-parallel all-to-all"),
}


def expected_experts_hit(experts: int, top_k: int, tokens: float) -> float:
    """Expected distinct experts used by ``tokens`` tokens that each pick ``top_k`` of them.

    One token leaves a given expert unused with probability 1 − k/E; B independent tokens with
    (1 − k/E)^B; by linearity of expectation the distinct experts used are E·(1 − (1 − k/E)^B).
    DeepSeek-V3 (E 256, k 8): 1 token 8, 8 tokens 57.4, 128 tokens 251.6.
    """
    if experts <= 0 or tokens <= 0:
        return 0.0
    miss = 1.0 - min(top_k, experts) / experts
    return experts * (1.0 - math.pow(miss, tokens))


def expected_units_hit(units: int, top_k: int, limit: int | None) -> float:
    """Expected distinct units a token's k experts lie on, experts spread evenly over
    ``units`` units: U·(1 − (1 − 1/U)^k), capped by node-limited routing (``limit``)."""
    if units <= 1:
        return float(units)
    hit = units * (1.0 - math.pow(1.0 - 1.0 / units, top_k))
    return min(hit, float(limit)) if limit else hit


@dataclass(frozen=True, slots=True)
class EpHardware:
    """Achieved per-accelerator rates in SI units (efficiencies applied)."""

    gemm_flops: float
    attention_flops: float
    hbm_bandwidth: float
    hbm_capacity: float
    scale_up_bandwidth: float
    scale_out_bandwidth: float
    domain: int
    message_s: float


@dataclass(frozen=True, slots=True)
class EpModel:
    """What the EP step needs of the model, per token and in bytes."""

    dense_weight_bytes: float
    routed_weight_bytes: float
    dense_flops: float
    routed_flops: float
    experts: int
    top_k: int
    moe_layers: int
    layers: int
    hidden: int
    kv_bytes_per_token: float
    kv_replication_per_rank: float
    dispatch_bytes: float
    combine_bytes: float
    node_limit: int | None


@dataclass(frozen=True, slots=True)
class EpFactors:
    """The named factors of :data:`MOE_DEFAULTS` plus serving.py's kernel rule: ``overlap``
    applies to decode steps, ``prefill_overlap`` to prefill (different mechanisms)."""

    overlap: float
    imbalance: float
    redundancy: float
    kernel_overlap: bool
    prefill_overlap: float | None = None
    decode_kernels: float = 1.0


@dataclass(frozen=True, slots=True)
class EpPoint:
    """One decode step of an EP group: per-accelerator times at a batch."""

    batch: float
    step_s: float
    compute_s: float
    memory_s: float
    communication_s: float

    @property
    def bound(self) -> str:
        """The largest of compute, memory and communication time."""
        terms = {"compute": self.compute_s, "memory-bandwidth": self.memory_s,
                 "communication": self.communication_s}
        return max(terms, key=lambda k: terms[k])


def _combine(cm: float, comm: float, overlap: float) -> float:
    """max(cm, comm) + (1 − overlap)·min(cm, comm): two-batch overlap hides part of the
    shorter of the two."""
    return max(cm, comm) + (1.0 - overlap) * min(cm, comm)


def _a2a_s(model: EpModel, hw: EpHardware, ep: int, tokens: float, out_copies: float,
           in_copies: float, imbalance: float = 1.0) -> float:
    """Dispatch and combine time of ``tokens`` tokens on one accelerator, per step; the
    busiest rank receives (dispatch) and sends (combine) ``imbalance`` times the mean."""
    per_copy = (model.hidden * (model.dispatch_bytes + model.combine_bytes) * model.moe_layers
                * imbalance)
    out_s = tokens * out_copies * per_copy / hw.scale_out_bandwidth if out_copies else 0.0
    in_s = tokens * in_copies * per_copy / hw.scale_up_bandwidth if in_copies else 0.0
    fixed = 2 * model.moe_layers * hw.message_s if ep > 1 else 0.0
    return max(out_s, in_s) + fixed


def _decode_copies(model: EpModel, hw: EpHardware, ep: int) -> tuple[float, float]:
    """(scale-out, scale-up) copies per token: one per expert, by where its rank lies."""
    if ep <= 1:
        return 0.0, 0.0
    local = min(hw.domain, ep) / ep
    return model.top_k * (1.0 - local), model.top_k * local


def _prefill_copies(model: EpModel, hw: EpHardware, ep: int) -> tuple[float, float]:
    """(scale-out, scale-up) copies per token in prefill: one per remote unit hit, then
    forwarded to the experts over the scale-up links."""
    if ep <= 1:
        return 0.0, 0.0
    units = max(1, math.ceil(ep / hw.domain))
    remote = expected_units_hit(units, model.top_k, model.node_limit) * (units - 1) / units
    local = min(hw.domain, ep) / ep
    return remote, model.top_k * local + remote


def _tp_comm_s(model: EpModel, hw: EpHardware, tp: int, tokens: float) -> float:
    """Attention tensor-parallel all-reduces (two per layer, ring), BF16 activations."""
    if tp <= 1:
        return 0.0
    ring = 2.0 * (tp - 1) / tp
    return 2 * model.layers * (ring * tokens * model.hidden * 2.0 / hw.scale_up_bandwidth
                               + hw.message_s)


def ep_decode_step(model: EpModel, hw: EpHardware, f: EpFactors, *, ep: int, tp: int,
                   batch: float, context: float, decode_attention_flops: float,
                   prefill_per_seq: float = 0.0, prefill_attention_flops: float = 0.0,
                   busiest_prefill_per_seq: float | None = None) -> EpPoint:
    """One decode step of ``batch`` sequences per attention replica (module docstring).

    ``prefill_per_seq`` is the mean prompt work per sequence over the group's attention
    replicas, which the routed experts see; ``busiest_prefill_per_seq`` (default: the mean) is
    that of the busiest replica, which sets the replica-local work every rank waits for at the
    next all-to-all: dense and shared matmuls, attention, dispatch and combine of its tokens
    (:func:`planner.perf.serving_ep.dp_prefill_steps`)."""
    replicas = max(1, ep // tp)
    own = prefill_per_seq if busiest_prefill_per_seq is None else busiest_prefill_per_seq
    tokens = batch * (1.0 + prefill_per_seq) / tp
    local = batch * (1.0 + own) / tp
    gemm = (local * model.dense_flops + tokens * model.routed_flops * f.imbalance) \
        / hw.gemm_flops
    attn = (batch * (decode_attention_flops + own * prefill_attention_flops)
            / tp / hw.attention_flops)
    hit = expected_experts_hit(model.experts, model.top_k,
                               batch * (1.0 + prefill_per_seq) * replicas)
    hit_fraction = hit / model.experts if model.experts else 0.0
    weights = (model.dense_weight_bytes / tp + model.routed_weight_bytes * (1.0 + f.redundancy)
               / ep * hit_fraction) / hw.hbm_bandwidth
    kv = batch * context * model.kv_bytes_per_token * model.kv_replication_per_rank / tp \
        / hw.hbm_bandwidth
    cm = max(gemm + attn, weights + kv) if f.kernel_overlap else max(gemm, weights) + max(attn, kv)
    cm /= f.decode_kernels
    out_copies, in_copies = _decode_copies(model, hw, ep)
    comm = (_a2a_s(model, hw, ep, local, out_copies, in_copies, f.imbalance)
            + _tp_comm_s(model, hw, tp, local))
    return EpPoint(batch, _combine(cm, comm, f.overlap), gemm + attn, weights + kv, comm)


def ep_memory_batch(model: EpModel, hw: EpHardware, f: EpFactors, *, ep: int, tp: int,
                    context: float, reserve: float, kv_store_scale: float = 1.0) -> float:
    """Sequences per attention replica whose KV fits beside each accelerator's weights."""
    weights = model.dense_weight_bytes / tp + model.routed_weight_bytes * (1.0 + f.redundancy) / ep
    free = (1.0 - reserve) * hw.hbm_capacity - weights
    per_seq = context * model.kv_bytes_per_token * model.kv_replication_per_rank / tp \
        * kv_store_scale
    if free <= 0:
        return 0.0
    return free / per_seq if per_seq > 0 else math.inf


def largest_batch_within(step_of: object, target_s: float, upper: float) -> float:
    """Largest batch b ≤ upper with step_of(b).step_s ≤ target_s, by bisection (the step
    grows with b); 0 when even one sequence is too slow."""
    assert callable(step_of)
    if target_s <= 0:
        return upper
    if step_of(1.0).step_s > target_s:
        return 0.0
    if not math.isfinite(upper):
        upper = 1.0
        while step_of(upper).step_s <= target_s and upper < 1e7:
            upper *= 2.0
    elif step_of(upper).step_s <= target_s:
        return upper
    lo, hi = 1.0, upper
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if step_of(mid).step_s <= target_s:
            lo = mid
        else:
            hi = mid
    return lo


def ep_prefill_s_per_token(model: EpModel, hw: EpHardware, f: EpFactors, *, ep: int, tp: int,
                           prefill_attention_flops: float) -> float:
    """Accelerator-seconds per prompt token in an EP prefill group (weights amortised over
    large prefill batches): compute with the busiest expert rank, all-to-all, overlapped."""
    gemm = (model.dense_flops + model.routed_flops * f.imbalance) / hw.gemm_flops
    attn = prefill_attention_flops / hw.attention_flops
    out_copies, in_copies = _prefill_copies(model, hw, ep)
    per_copy = (model.hidden * (model.dispatch_bytes + model.combine_bytes) * model.moe_layers
                * f.imbalance)
    comm = max(out_copies * per_copy / hw.scale_out_bandwidth,
               in_copies * per_copy / hw.scale_up_bandwidth)
    comm += _tp_comm_s(model, hw, tp, 1.0) - (2 * model.layers * hw.message_s if tp > 1 else 0.0)
    overlap = f.overlap if f.prefill_overlap is None else f.prefill_overlap
    return _combine(gemm + attn, comm, overlap)


def ep_single_prompt_s(model: EpModel, hw: EpHardware, f: EpFactors, *, ep: int, tp: int,
                       prompt_tokens: float, prefill_attention_flops: float) -> float:
    """Prefill time of one prompt alone on one attention replica: its tp ranks compute, every
    rank reads the experts the prompt's tokens hit."""
    per_token = ep_prefill_s_per_token(model, hw, f, ep=ep, tp=tp,
                                       prefill_attention_flops=prefill_attention_flops)
    hit = expected_experts_hit(model.experts, model.top_k, prompt_tokens)
    hit_fraction = hit / model.experts if model.experts else 0.0
    weights = (model.dense_weight_bytes / tp + model.routed_weight_bytes * (1.0 + f.redundancy)
               / ep * hit_fraction) / hw.hbm_bandwidth
    fixed = 2 * model.moe_layers * hw.message_s if ep > 1 else 0.0
    return max(prompt_tokens * per_token / tp, weights) + fixed
