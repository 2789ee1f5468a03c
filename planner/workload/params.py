"""Parameter counts, KV-cache size and FLOPs per token of a decoder-only transformer.

Pure functions on :class:`~planner.workload.schema.Architecture`. Notation
(docs/performance-model.md): L layers, d hidden size, H query heads, H_kv key/value heads, d_h
head dimension, F dense FFN size, V vocabulary, s context length, p bytes per element.

The layer layout follows the public reference implementations the model files cite (Hugging Face
``config.json`` plus the papers): Llama-style blocks (RMSNorm, q/k/v/o projections, SwiGLU FFN
with gate, up and down matrices, no biases) and DeepSeek-V3 blocks (multi-head latent attention
with low-rank q and kv projections, a mixture of routed and shared SwiGLU experts behind a linear
router, the first few layers dense).
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.workload.schema import Architecture, AttentionKind, Mla, Moe

__all__ = [
    "ExpertSplit",
    "ParamCount",
    "attention_flops_per_token",
    "count_params",
    "decode_attention_flops_per_token",
    "forward_flops_per_token",
    "kv_bytes_per_token",
    "routed_expert_split",
    "weights_bytes",
]

# SwiGLU FFN: gate and up projections (d x F each) and a down projection (F x d)
# (Shazeer 2020, "GLU Variants Improve Transformer"; the Llama and DeepSeek FFNs).
SWIGLU_MATRICES = 3
# Two RMSNorm weight vectors of size d per block: before attention and before the FFN.
NORMS_PER_LAYER = 2


@dataclass(frozen=True, slots=True)
class ParamCount:
    """Parameter counts of one model.

    ``total``: every stored weight. ``active``: weights used for one token (equal to ``total``
    for a dense model; for MoE only the routed experts a token visits plus the shared ones).
    ``embedding``: the input-embedding table (V x d). ``matmul_active``: active weights that take
    part in matrix multiplies, i.e. ``active`` without the input-embedding lookup (the LM head
    is a matmul and counts, also when it is tied to the embedding).
    """

    total: int
    active: int
    embedding: int
    matmul_active: int


def _gqa_attention_params(arch: Architecture) -> int:
    """q (d x H·d_h), k and v (d x H_kv·d_h each), o (H·d_h x d); biases on q, k, v if set.

    Source: Ainslie et al. 2023 (GQA); Llama 3 paper (arXiv 2407.21783) Table 3; Qwen2 adds
    q/k/v biases (Hugging Face ``Qwen2Attention``).
    """
    q_width = arch.heads * arch.head_dim
    kv_width = arch.kv_heads * arch.head_dim
    weights = arch.hidden * q_width + 2 * arch.hidden * kv_width + q_width * arch.hidden
    biases = q_width + 2 * kv_width if arch.qkv_bias else 0
    return weights + biases


def _mla_attention_params(arch: Architecture, mla: Mla) -> int:
    """DeepSeek-V3 multi-head latent attention projections (arXiv 2412.19437 §2.1.1).

    q: down d -> r_q, RMSNorm(r_q), up r_q -> H·(d_nope + d_rope);
    kv: down d -> (r_kv + d_rope) (the rope key is shared by all heads), RMSNorm(r_kv),
    up r_kv -> H·(d_nope + d_v); output H·d_v -> d.
    """
    heads = arch.heads
    q_head = mla.qk_nope_head_dim + mla.qk_rope_head_dim
    q_proj = arch.hidden * mla.q_lora_rank + mla.q_lora_rank + mla.q_lora_rank * heads * q_head
    kv_down = arch.hidden * (mla.kv_lora_rank + mla.qk_rope_head_dim) + mla.kv_lora_rank
    kv_up = mla.kv_lora_rank * heads * (mla.qk_nope_head_dim + mla.v_head_dim)
    out = heads * mla.v_head_dim * arch.hidden
    return q_proj + kv_down + kv_up + out


def _attention_params(arch: Architecture) -> int:
    """Attention weights of one block, by attention kind."""
    match arch.attention:
        case AttentionKind.GQA:
            return _gqa_attention_params(arch)
        case AttentionKind.MLA:
            assert arch.mla is not None  # guaranteed by Architecture's validator
            return _mla_attention_params(arch, arch.mla)


def _swiglu_params(hidden: int, ffn_hidden: int) -> int:
    """A SwiGLU FFN: 3·d·F (gate, up, down)."""
    return SWIGLU_MATRICES * hidden * ffn_hidden


def _moe_ffn_params(arch: Architecture, moe: Moe) -> tuple[int, int]:
    """(total, active) FFN weights of one MoE block (DeepSeek-V3, arXiv 2412.19437 §2.1.2).

    Router: one d-vector per routed expert (E·d). Each expert, routed or shared, is a SwiGLU
    FFN of size F_e. A token visits its k routed experts and every shared expert, and the router.
    """
    expert = _swiglu_params(arch.hidden, moe.expert_ffn_hidden)
    router = moe.experts * arch.hidden
    total = router + (moe.experts + moe.shared_experts) * expert
    active = router + (moe.experts_per_token + moe.shared_experts) * expert
    return total, active


def _ffn_params(arch: Architecture) -> tuple[int, int]:
    """(total, active) FFN weights summed over all blocks: dense leading layers, then MoE."""
    dense = _swiglu_params(arch.hidden, arch.ffn_hidden)
    if arch.moe is None:
        return arch.layers * dense, arch.layers * dense
    dense_layers = min(arch.moe.dense_layers, arch.layers)
    moe_total, moe_active = _moe_ffn_params(arch, arch.moe)
    moe_layers = arch.layers - dense_layers
    return (dense_layers * dense + moe_layers * moe_total,
            dense_layers * dense + moe_layers * moe_active)


def count_params(arch: Architecture) -> ParamCount:
    """Total, per-token active, embedding and matmul-active parameter counts.

    N = V·d (embedding) + V·d (LM head, unless tied) + d (final RMSNorm)
        + L·(attention + 2·d norms) + FFN weights (dense, or MoE routed + shared + router).
    ``extra_params`` (e.g. DeepSeek-V3's multi-token-prediction module) adds to the total only:
    it is not used when generating a token.
    Check: Llama 3.1 405B gives 405,853,388,800, the size of Meta's released checkpoint.
    """
    embedding = arch.vocab * arch.hidden
    head = 0 if arch.tied_embeddings else embedding
    blocks = arch.layers * (_attention_params(arch) + NORMS_PER_LAYER * arch.hidden)
    ffn_total, ffn_active = _ffn_params(arch)
    shared = embedding + head + arch.hidden + blocks
    active = shared + ffn_active
    return ParamCount(
        total=shared + ffn_total + arch.extra_params,
        active=active,
        embedding=embedding,
        matmul_active=active - embedding + (embedding if arch.tied_embeddings else 0),
    )


def kv_bytes_per_token(arch: Architecture, bytes_per_element: float) -> float:
    """KV-cache bytes per token of context, all layers.

    GQA: 2·L·H_kv·d_h·p (a key and a value per KV head; the source article's formula, with
    d_h = hidden/heads). Llama 3.1 405B in BF16: 2·126·8·128·2 = 516,096 B.
    MLA: L·(r_kv + d_rope)·p, the compressed latent plus the shared rope key, which is all
    DeepSeek-V3 caches (arXiv 2412.19437 §2.1.1, eq. 1-5).
    """
    match arch.attention:
        case AttentionKind.GQA:
            return 2.0 * arch.layers * arch.kv_heads * arch.head_dim * bytes_per_element
        case AttentionKind.MLA:
            assert arch.mla is not None
            latent = arch.mla.kv_lora_rank + arch.mla.qk_rope_head_dim
            return float(arch.layers * latent * bytes_per_element)


def attention_flops_per_token(arch: Architecture, context: float) -> float:
    """Attention (SDPA) FLOPs for one new token attending to ``context`` tokens.

    GQA: 4·H·L·d_h·s: a 2·d_h multiply-add per score (QK^T) and per value (AV), per head, per
    layer (the source article's count, section on KV cache and SDPA FLOPs).
    Llama 3.1 405B: 4·128·126·128 = 8,257,536 FLOPs per token of context.
    MLA: 2·H·L·(d_nope + d_rope + d_v)·s: scores over the q/k head dimension, values over d_v.
    """
    match arch.attention:
        case AttentionKind.GQA:
            return 4.0 * arch.heads * arch.layers * arch.head_dim * context
        case AttentionKind.MLA:
            assert arch.mla is not None
            mla = arch.mla
            width = mla.qk_nope_head_dim + mla.qk_rope_head_dim + mla.v_head_dim
            return 2.0 * arch.heads * arch.layers * width * context


def forward_flops_per_token(arch: Architecture, context: float) -> float:
    """Forward FLOPs per token at context ``context``: 2·N_matmul + attention.

    A multiply-add per active matmul weight (Kaplan et al. 2020, arXiv 2001.08361 §2.1) plus
    the SDPA term; the embedding lookup costs no FLOPs. docs/performance-model.md.
    """
    return 2.0 * count_params(arch).matmul_active + attention_flops_per_token(arch, context)


def weights_bytes(arch: Architecture, bytes_per_element: float) -> float:
    """Bytes to hold every weight at ``bytes_per_element`` (total params × p).

    Llama 3.1 405B in FP8: 405.85 GB (the source article rounds to 405 GB).
    """
    return float(count_params(arch).total * bytes_per_element)


@dataclass(frozen=True, slots=True)
class ExpertSplit:
    """How an MoE model's weights divide between routed experts and everything else.

    ``expert_params``: one routed expert of one layer (3·d·F_e). ``moe_layers``: L minus the
    leading dense layers. ``routed_total``: E·moe_layers·expert_params, the weights expert
    parallelism spreads over its ranks. ``routed_active``: k·moe_layers·expert_params, the routed
    weights one token multiplies. Everything else (attention, dense and shared FFNs, router,
    embeddings, head) is ``total − routed_total``; a dense model has no routed part.
    """

    experts: int
    top_k: int
    expert_params: int
    moe_layers: int
    routed_total: int
    routed_active: int


def routed_expert_split(arch: Architecture) -> ExpertSplit:
    """The routed-expert share of the weights (all zero for a dense model)."""
    moe = arch.moe
    if moe is None:
        return ExpertSplit(0, 0, 0, 0, 0, 0)
    expert = _swiglu_params(arch.hidden, moe.expert_ffn_hidden)
    layers = arch.layers - min(moe.dense_layers, arch.layers)
    return ExpertSplit(moe.experts, moe.experts_per_token, expert, layers,
                       moe.experts * layers * expert, moe.experts_per_token * layers * expert)


def decode_attention_flops_per_token(arch: Architecture, context: float) -> float:
    """Attention FLOPs of one decode token over ``context`` cached tokens, as engines run it.

    GQA: as :func:`attention_flops_per_token`. MLA: decode kernels absorb the key and value
    up-projections into the query and output ones (DeepSeek-V2, arXiv 2405.04434 §2.1.3;
    FlashMLA) so attention reads only the cached latent: scores over r_kv + d_rope and values
    over r_kv per head, 2·H·L·(2·r_kv + d_rope)·s. DeepSeek-V3: 2·128·61·1,088 = 16,990,208
    FLOPs per cached token, 3.4 times the non-absorbed form, which reads 57 times more bytes.
    """
    match arch.attention:
        case AttentionKind.GQA:
            return attention_flops_per_token(arch, context)
        case AttentionKind.MLA:
            assert arch.mla is not None
            mla = arch.mla
            width = 2 * mla.kv_lora_rank + mla.qk_rope_head_dim
            return 2.0 * arch.heads * arch.layers * width * context
