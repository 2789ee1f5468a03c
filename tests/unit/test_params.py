"""Parameter counts, KV bytes and FLOPs per token against published figures and hand arithmetic."""

from __future__ import annotations

from pathlib import Path

import pytest

from planner.schema import validate_document
from planner.workload.params import (
    attention_flops_per_token,
    count_params,
    forward_flops_per_token,
    kv_bytes_per_token,
    weights_bytes,
)
from planner.workload.schema import Architecture, ModelSpec
from planner.yamlio import load_document

MODELS = Path(__file__).resolve().parents[2] / "workloads" / "models"


def arch_of(model_id: str) -> Architecture:
    """The architecture of a bundled model file."""
    doc = load_document(MODELS / (model_id.replace("-", "_") + ".yaml"))
    return validate_document(ModelSpec, doc).architecture


def test_llama_405b_total_is_the_checkpoint_size() -> None:
    # embedding 128,256·16,384 = 2,101,346,304, LM head the same, final norm 16,384;
    # per layer: q 16,384·16,384 + k, v 2·16,384·1,024 + o 16,384·16,384 = 570,425,344,
    # FFN 3·16,384·53,248 = 2,617,245,696, norms 2·16,384 = 32,768 -> 3,187,703,808;
    # 126 layers -> 401,650,679,808; total 401,650,679,808 + 4,202,692,608 + 16,384.
    counts = count_params(arch_of("llama-3.1-405b"))
    assert counts.total == 405_853_388_800
    assert counts.total == pytest.approx(405.85e9, rel=0.005)
    assert counts.active == counts.total  # dense
    assert counts.embedding == 2_101_346_304
    # matmul-active: total minus the embedding lookup (seed_numbers.md: 403.75 B)
    assert counts.matmul_active == 405_853_388_800 - 2_101_346_304 == 403_752_042_496


@pytest.mark.parametrize(("model_id", "published", "exact"), [
    ("llama-3.1-8b", 8.03e9, 8_030_261_248),
    ("llama-3.1-70b", 70.6e9, 70_553_706_496),
    ("llama-2-70b", 69.0e9, 68_976_648_192),
], ids=["8b", "70b", "llama2-70b"])
def test_llama_family_matches_released_checkpoints(model_id: str, published: float,
                                                   exact: int) -> None:
    # 8B: 32·(2·4096·4096 + 2·4096·1024 + 3·4096·14336 + 2·4096) + 2·128,256·4096 + 4096
    #   = 32·218,112,000 + 1,050,673,152 + 4096 = 8,030,261,248
    total = count_params(arch_of(model_id)).total
    assert total == exact
    assert total == pytest.approx(published, rel=0.01)


def test_qwq_32b_counts_qkv_biases() -> None:
    # per layer: q, o 2·5120·5120 + k, v 2·5120·1024 = 62,914,560, biases 5120 + 2·1024 = 7,168,
    # FFN 3·5120·27,648 = 424,673,280, norms 10,240 -> 487,605,248; ·64 = 31,206,735,872;
    # embeddings 2·152,064·5120 = 1,557,135,360; final norm 5120 -> 32,763,876,352
    # (the model card's 32.5B is 0.8% lower).
    counts = count_params(arch_of("qwq-32b"))
    assert counts.total == 32_763_876_352
    assert counts.total == pytest.approx(32.5e9, rel=0.01)


def test_deepseek_v3_total_and_active() -> None:
    # MTP module not counted (extra_params 0), as in the paper's 671B / 37B.
    # MLA per layer: 7168·1536 + 1536 + 1536·128·192 + 7168·576 + 512 + 512·128·256
    #   + 128·128·7168 = 187,107,328.
    # Expert 3·7168·2048 = 44,040,192; router 256·7168 = 1,835,008.
    # Dense layer: 187,107,328 + 14,336 norms + 3·7168·18,432 = 583,483,392 (·3).
    # MoE layer total: 187,107,328 + 14,336 + 1,835,008 + 257·44,040,192 = 11,507,286,016 (·58).
    # MoE layer active: the same with 8 routed + 1 shared experts instead of 257.
    # Embeddings 2·129,280·7168 = 1,853,358,080; final norm 7168.
    # Total = 1,750,450,176 + 667,422,588,928 + 1,853,365,248 = 671,026,404,352 (+0.004%);
    # active = 37,552,282,624 (+1.5% on the published 37B).
    counts = count_params(arch_of("deepseek-v3"))
    dense = 3 * (187_107_328 + 14_336 + 3 * 7168 * 18_432)
    moe_total = 58 * (187_107_328 + 14_336 + 256 * 7168 + 257 * 3 * 7168 * 2048)
    moe_active = 58 * (187_107_328 + 14_336 + 256 * 7168 + 9 * 3 * 7168 * 2048)
    embeddings = 2 * 129_280 * 7168 + 7168
    assert counts.total == dense + moe_total + embeddings
    assert counts.active == dense + moe_active + embeddings
    assert counts.total == pytest.approx(671e9, rel=0.02)
    assert counts.active == pytest.approx(37e9, rel=0.02)
    assert counts.matmul_active == counts.active - 129_280 * 7168


def tiny(**changes: object) -> Architecture:
    """A small GQA model whose counts are easy to work out by hand."""
    fields: dict[str, object] = {"layers": 2, "hidden": 8, "heads": 4, "kv_heads": 2,
                                 "head_dim": 2, "ffn_hidden": 16, "vocab": 10}
    fields.update(changes)
    return Architecture.model_validate(fields)


def test_tiny_gqa_counts_by_hand() -> None:
    # per layer: q 8·8 + k, v 2·8·4 + o 8·8 = 192; FFN 3·8·16 = 384; norms 16 -> 592; ·2 = 1,184
    # embedding 10·8 = 80, head 80, final norm 8 -> 1,352
    counts = count_params(tiny())
    assert (counts.total, counts.active, counts.embedding, counts.matmul_active) == \
        (1_352, 1_352, 80, 1_272)


def test_tied_embeddings_count_once_but_the_head_still_multiplies() -> None:
    counts = count_params(tiny(tied_embeddings=True))
    assert counts.total == 1_352 - 80
    assert counts.matmul_active == counts.active == 1_272  # the tied table is the LM head


def test_extra_params_add_to_total_only() -> None:
    counts = count_params(tiny(extra_params=1000))
    assert (counts.total, counts.active) == (2_352, 1_352)


def test_tiny_moe_counts_by_hand() -> None:
    # 3 layers, first dense. Dense FFN 3·8·16 = 384. MoE: router 4·8 = 32, expert 3·8·4 = 96,
    # total 32 + (4 + 1)·96 = 512, active 32 + (2 + 1)·96 = 320. Attention + norms 192 + 16.
    # total = 3·208 + 384 + 2·512 + 80 + 80 + 8 = 2,200; active = 3·208 + 384 + 2·320 + 168 = 1,816
    arch = tiny(layers=3, moe={"experts": 4, "experts_per_token": 2, "shared_experts": 1,
                               "expert_ffn_hidden": 4, "dense_layers": 1})
    counts = count_params(arch)
    assert (counts.total, counts.active) == (2_200, 1_816)


@pytest.mark.parametrize(("bytes_per_element", "expected"), [(2.0, 516_096), (1.0, 258_048)],
                         ids=["bf16", "fp8"])
def test_llama_405b_kv_bytes_per_token(bytes_per_element: float, expected: float) -> None:
    # 2 · 126 layers · 8 KV heads · 128 · p
    assert kv_bytes_per_token(arch_of("llama-3.1-405b"), bytes_per_element) == expected


def test_llama_405b_kv_of_one_long_answer() -> None:
    # seed_numbers.md claim 2: 7,661 tokens · 516,096 B = 3.954 GB
    per_token = kv_bytes_per_token(arch_of("llama-3.1-405b"), 2.0)
    assert 7661 * per_token == pytest.approx(3.954e9, rel=1e-3)


def test_deepseek_v3_mla_kv_bytes_per_token() -> None:
    # 61 layers · (512 latent + 64 rope key) · 2 bytes = 70,272 B, 7.3x less than Llama 405B
    assert kv_bytes_per_token(arch_of("deepseek-v3"), 2.0) == 70_272


def test_llama_405b_attention_flops() -> None:
    # 4 · 128 heads · 126 layers · 128 = 8,257,536 per token of context
    arch = arch_of("llama-3.1-405b")
    assert attention_flops_per_token(arch, 1) == 8_257_536
    assert attention_flops_per_token(arch, 4096) == 8_257_536 * 4096  # 33.82 GFLOP


def test_deepseek_v3_attention_flops() -> None:
    # 2 · 128 heads · 61 layers · (128 + 64 + 128) = 4,997,120 per token of context
    assert attention_flops_per_token(arch_of("deepseek-v3"), 1000) == 4_997_120_000


def test_llama_405b_forward_flops_at_4096() -> None:
    # 2 · 403,752,042,496 + 8,257,536 · 4096 = 807,504,084,992 + 33,822,867,456
    # (seed_numbers.md claim 4: dense 807.5 GFLOP, SDPA 4.2% of it at 4,096)
    assert forward_flops_per_token(arch_of("llama-3.1-405b"), 4096) == 841_326_952_448


def test_llama_405b_fp8_weights_bytes() -> None:
    # 405,853,388,800 params · 1 byte = 405.85 GB (the article's "405 GB")
    arch = arch_of("llama-3.1-405b")
    assert weights_bytes(arch, 1.0) == 405_853_388_800
    assert weights_bytes(arch, 2.0) == 2 * 405_853_388_800


def test_llama_405b_pretraining_compute() -> None:
    # 6·N·D = 6 · 405.85e9 · 15.6e12 = 3.799e25, the paper's 3.8e25 FLOPs
    total = count_params(arch_of("llama-3.1-405b")).total
    assert 6 * total * 15.6e12 == pytest.approx(3.8e25, rel=0.01)
