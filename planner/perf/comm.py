"""Bytes each accelerator moves in the collectives of distributed training, and their time.

Ring collectives (Patarasuk & Yuan 2009, "Bandwidth optimal all-reduce algorithms for clusters
of workstations"; the algorithm NCCL uses for large messages): over n ranks, a reduce-scatter
or an all-gather of a buffer of S bytes sends (n-1)/n·S bytes out of every rank, and an
all-reduce, being one of each, sends 2·(n-1)/n·S. Each rank sends and receives at once, so the
time is those bytes over the one-direction bandwidth of the rank's link, times an efficiency
that stands for protocol overhead and imperfect overlap of the ring's steps (what nccl-tests
call bus bandwidth over line rate).

Tensor parallelism follows Megatron-LM with sequence parallelism (Korthikanti et al. 2022,
arXiv 2205.05198, §4.2.2): per transformer layer, the forward pass runs two all-gathers and two
reduce-scatters of the layer's activations (s·b·d elements), i.e. two all-reduces' worth, and
the backward pass the same again. Full recomputation replays the forward, and its collectives.
Data parallelism follows ZeRO (Rajbhandari et al. 2020, arXiv 1910.02054, §5-7).

Expert parallelism (GShard, Lepikhin et al. 2020, arXiv 2006.16668; DeepSeek-V3, arXiv
2412.19437 §3.2.2): each MoE layer dispatches every token's hidden vector (d elements) to the
ranks of its k routed experts and combines the expert outputs back, an all-to-all each way; the
backward pass runs both again in reverse. A token is sent once per destination group (GPU, or
node when the group spans nodes and the receiving node forwards over its scale-up fabric, as
DeepSeek does), and not at all to its own group.
"""

from __future__ import annotations

from math import comb

__all__ = [
    "TP_ALL_REDUCES_PER_LAYER",
    "all_gather_bytes",
    "all_reduce_bytes",
    "collective_time_s",
    "cp_bytes_per_layer",
    "dp_bytes_per_step",
    "ep_bytes_per_token_layer",
    "ep_remote_copies",
    "expected_groups_hit",
    "reduce_scatter_bytes",
    "tp_bytes_per_layer",
    "unidirectional",
]

# All-reduce equivalents per layer per microbatch (Korthikanti et al. 2022, §4.2.2, Fig. 5):
# forward g and g-bar in attention and in the MLP (2), their conjugates in the backward pass
# (2), and with full recomputation the forward again (2).
TP_ALL_REDUCES_PER_LAYER = {"forward": 2, "backward": 2}


def reduce_scatter_bytes(buffer_bytes: float, ranks: int) -> float:
    """Bytes each rank sends in a ring reduce-scatter: (n-1)/n · S."""
    if ranks <= 1:
        return 0.0
    return (ranks - 1) / ranks * buffer_bytes


def all_gather_bytes(buffer_bytes: float, ranks: int) -> float:
    """Bytes each rank sends in a ring all-gather of an S-byte result: (n-1)/n · S."""
    return reduce_scatter_bytes(buffer_bytes, ranks)


def all_reduce_bytes(buffer_bytes: float, ranks: int) -> float:
    """Bytes each rank sends in a ring all-reduce: 2·(n-1)/n · S (reduce-scatter + all-gather)."""
    return 2.0 * reduce_scatter_bytes(buffer_bytes, ranks)


def unidirectional(bidirectional_bytes_per_s: float) -> float:
    """One-direction bandwidth of a link quoted bidirectionally (NVLink, NeuronLink): half."""
    return bidirectional_bytes_per_s / 2.0


def collective_time_s(bytes_sent: float, bandwidth_bytes_per_s: float,
                      efficiency: float) -> float:
    """Time to send ``bytes_sent`` over a one-direction link at ``efficiency`` of line rate."""
    if bytes_sent <= 0:
        return 0.0
    return bytes_sent / (bandwidth_bytes_per_s * efficiency)


def tp_bytes_per_layer(tokens: float, hidden: int, tp: int, activation_bytes: float,
                       full_recompute: bool) -> float:
    """Bytes each rank sends for one layer and one microbatch under TP with sequence parallelism.

    Each all-reduce equivalent moves the layer activation (tokens·d elements of
    ``activation_bytes``): 2·(t-1)/t·tokens·d·p. Four per layer (two forward, two backward),
    six with full recomputation (Korthikanti et al. 2022, §4.2.2).
    """
    if tp <= 1:
        return 0.0
    count = TP_ALL_REDUCES_PER_LAYER["forward"] + TP_ALL_REDUCES_PER_LAYER["backward"]
    if full_recompute:
        count += TP_ALL_REDUCES_PER_LAYER["forward"]
    return count * all_reduce_bytes(tokens * hidden * activation_bytes, tp)


def cp_bytes_per_layer(tokens: float, kv_width: int, cp: int, activation_bytes: float,
                       full_recompute: bool) -> float:
    """Bytes each rank sends for one layer and one microbatch under ring context parallelism.

    Ring attention (Liu et al. 2023, arXiv 2310.01889; Megatron-Core's ``cp_comm_type: p2p``):
    each of the c ranks holds tokens/c tokens and passes its K and V blocks (``kv_width``
    values per token) to its neighbour c - 1 times in the forward pass. The backward pass sends
    K and V round again and their gradients back (2x the forward), full recomputation the
    forward again: (c-1)/c · tokens · kv · p per pass, 3 passes (4 with full recomputation).
    Llama 3 70B (kv = 2 x 8 x 128), one 8,192-token sequence, c = 2: 3 x 4,096 x 2,048 x 2 B
    = 50.3 MB per layer.
    """
    if cp <= 1:
        return 0.0
    passes = 4 if full_recompute else 3
    return passes * (cp - 1) / cp * tokens * kv_width * activation_bytes


def dp_bytes_per_step(params: float, dp: int, zero_stage: int, microbatches: int,
                      grad_bytes: float, weight_bytes: float) -> float:
    """Bytes each data-parallel rank sends per optimizer step for its ``params`` parameters.

    ZeRO-0 (plain data parallelism): all-reduce the gradients, 2·(n-1)/n·P·g.
    ZeRO-1/2: reduce-scatter the gradients and all-gather the updated weights,
    (n-1)/n·P·(g + w): the same volume as an all-reduce when g = w (ZeRO paper §7.2.1).
    ZeRO-3: weights are all-gathered before the forward and again before the backward of every
    microbatch, and gradients reduce-scattered after each: m·(n-1)/n·P·(g + 2w) (§7.2.2,
    1.5x the ZeRO-1 volume per microbatch).
    """
    if dp <= 1:
        return 0.0
    share = reduce_scatter_bytes(params, dp)
    if zero_stage == 0:
        return 2.0 * share * grad_bytes
    if zero_stage in (1, 2):
        return share * (grad_bytes + weight_bytes)
    return microbatches * share * (grad_bytes + 2.0 * weight_bytes)


def expected_groups_hit(experts: int, per_token: int, groups: int) -> float:
    """Expected distinct groups holding a token's ``per_token`` experts, chosen uniformly.

    Experts are spread evenly, E/G per group; a group is missed with probability
    C(E - E/G, k) / C(E, k) (sampling without replacement), so G·(1 - that) groups are hit.
    DeepSeek-V3 (E = 256, k = 8) over 8 nodes: 8 · (1 - 0.3382) = 5.29 nodes.
    """
    if groups <= 1:
        return 1.0
    outside = experts - experts // groups
    missed = comb(outside, per_token) / comb(experts, per_token)
    return groups * (1.0 - missed)


def ep_remote_copies(experts: int, per_token: int, groups: int,
                     node_limit: int | None = None) -> float:
    """Copies of a token's hidden vector sent to other groups in one dispatch.

    Groups hit, capped by node-limited routing (DeepSeek-V3 §2.1.2: at most M = 4 nodes), of
    which a fraction (G-1)/G is not the token's own group (by symmetry). DeepSeek-V3 over 8
    nodes: min(5.29, 4) · 7/8 = 3.5 copies over InfiniBand.
    """
    if groups <= 1:
        return 0.0
    hit = expected_groups_hit(experts, per_token, groups)
    if node_limit is not None:
        hit = min(hit, float(node_limit))
    return hit * (groups - 1) / groups


def ep_bytes_per_token_layer(hidden: int, copies: float, dispatch_bytes: float,
                             combine_bytes: float, passes: int) -> float:
    """Bytes a rank sends per token it owns and per MoE layer: copies·d·(dispatch + combine)
    per pass; a pass is the forward or the backward (or a recomputed forward).

    The backward sends the output gradient the dispatch way and the input gradient the combine
    way, in the same formats (DeepSeek-V3 §3.3.3: FP8 dispatch with one FP32 scale per 128
    values, BF16 combine, also for the backward).
    """
    return passes * copies * hidden * (dispatch_bytes + combine_bytes)
