"""The source article's serving numbers, reproduced (reference/seed_numbers.md, claims 1-5, 7).

Configuration ("candidate A"): Llama 3.1 405B on 8x H100 SXM (80 GB, 3.35 TB/s, 1,979 TFLOPS
dense FP8), FP8 weights, BF16 KV cache, FP8 math, final context, prompt not counted, the whole
step overlapped and no communication (``ARTICLE_OVERRIDES``), HBM capacity reported but not
enforced, at 30 tokens/s per user. Tolerances are the ones seed_numbers.md states.

Shared arithmetic for the comments below:
W = 405,853,388,800 B (FP8, one byte per parameter); kv = 2·126·8·128·2 = 516,096 B/token;
T = 1/30 s; node bandwidth 8·3.35e12 = 26.8e12 B/s; node FP8 peak 8·1,979e12 = 15.832e15 FLOP/s;
F(s) = 2·403,752,042,496 + 8,257,536·s FLOPs per token (matmul weights exclude the embedding).
"""

from __future__ import annotations

import pytest

from planner.catalog.schema import Precision, System
from planner.perf.serving import (
    ARTICLE_OVERRIDES,
    ServingEstimate,
    estimate_serving,
    kv_memory_curve,
    max_context_tokens,
    vote_cost_multiplier,
)
from planner.workload.params import attention_flops_per_token
from planner.workload.schema import ModelSpec, Serve

GB = 1e9
LONG, SHORT = 7661, 775  # o1-preview and GPT-4o answer lengths in the article
IDEAL = {**ARTICLE_OVERRIDES, "memory_bandwidth": 1.0, "compute": 1.0}
ARTICLE = {**ARTICLE_OVERRIDES, "memory_bandwidth": 0.773, "compute": 0.5676}

LLAMA_405B = ModelSpec.model_validate({
    "id": "llama-3.1-405b", "name": "Llama 3.1 405B",
    "architecture": {"layers": 126, "hidden": 16384, "heads": 128, "kv_heads": 8,
                     "head_dim": 128, "ffn_hidden": 53248, "vocab": 128256},
    "published": {"total_params": 405853388800}, "context_length": 131072, "sources": {},
})

DGX_H100 = System.model_validate({
    "id": "dgx-h100", "name": "DGX H100", "unit": "node",
    "accelerator": {"name": "H100 SXM", "count": 8,
                    "peak_flops": {"fp8": "1979 TFLOPS", "bf16": "989 TFLOPS"},
                    "hbm_capacity": "80 GB", "hbm_bandwidth": "3.35 TB/s", "power": "700 W"},
    "scale_up": {"fabric": "NVLink 4", "domain_size": 8, "bandwidth": "900 GB/s"},
    "scale_out": {"fabric": "InfiniBand", "bandwidth": "400 Gb/s"},
    "host": {"cpu": "2x Xeon 8480C", "sockets": 2, "cores": 112, "memory": "2 TB"},
    "power": "10.2 kW",
    "purchase": {"price": "270k USD", "date": "2023-06", "estimate": True},
    "rental": {"price": "39.33 USD/h", "date": "2024-11", "estimate": False},
    "sources": {},
})


def estimate(output_tokens: int, overrides: dict[str, float], **spec: object) -> ServingEstimate:
    """The article's serving case at one answer length."""
    data = {"kind": "serve", "name": "article", "model": "llama-3.1-405b", "input_tokens": 0,
            "output_tokens": output_tokens, "interactivity": "30 tokens/s",
            "requests_per_second": "1 /s", "weights_precision": "fp8", "kv_precision": "bf16",
            "compute_precision": "fp8", "memory_reserve": 0.0, "enforce_memory": False,
            "decode_context": "final"}
    data.update(spec)
    return estimate_serving(Serve.model_validate(data), LLAMA_405B, DGX_H100, overrides)


# ---------------------------------------------------------------- claim 2: KV bytes per token


def test_kv_bytes_per_token_bf16_is_exact() -> None:
    # 2 (K and V) · 126 layers · (16384/128 · 8) · 2 bytes = 516,096 B
    assert estimate(LONG, ARTICLE).kv_bytes_per_token == 516_096


def test_one_long_answer_holds_3_954_gb_of_kv() -> None:
    # 7,661 · 516,096 = 3.9538e9 B
    (point,) = kv_memory_curve(LLAMA_405B, batch=1, contexts=[LONG], kv_precision=Precision.BF16)
    assert point.kv_bytes == pytest.approx(3.954 * GB, rel=1e-3)


# ---------------------------------------------------------------- claim 3: memory wall


def test_batch_32_fills_640_gb_near_39k_tokens() -> None:
    # 640e9 / (32 · 516,096) = 38,752 tokens; the article says ~39,000 (±2%)
    tokens = max_context_tokens(LLAMA_405B, batch=32, kv_precision=Precision.BF16,
                                capacity_bytes=640 * GB)
    assert tokens == pytest.approx(38_752, rel=1e-4)
    assert tokens == pytest.approx(39_000, rel=0.02)


def test_235_gb_left_after_fp8_weights() -> None:
    # 640 GB − 405.85 GB = 234.15 GB; the article says 235 GB (±1%)
    left = 640 * GB - estimate(LONG, ARTICLE).weights_bytes
    assert left == pytest.approx(235 * GB, rel=0.01)


def test_free_memory_binds_near_14k_continuous_and_16k_on_the_chart() -> None:
    # 234.15e9 / (32 · 516,096) = 14,178 tokens (seed: 14.2k ±2%); the first power-of-two
    # length over it is 16,384, where 234.15e9 / (16,384 · 516,096) = 27.7 sequences fit, so
    # the largest power-of-two batch is 16 (the article's "max batch 16").
    left = 640 * GB - estimate(LONG, ARTICLE).weights_bytes
    crossing = max_context_tokens(LLAMA_405B, batch=32, kv_precision=Precision.BF16,
                                  capacity_bytes=left)
    assert crossing == pytest.approx(14_200, rel=0.02)
    curve = kv_memory_curve(LLAMA_405B, batch=32, contexts=[2**k for k in range(10, 18)],
                            kv_precision=Precision.BF16)
    first_over = next(p.context_tokens for p in curve if p.kv_bytes > left)
    assert first_over == 16_384
    fits = left / (16_384 * 516_096)
    assert max(2**k for k in range(8) if 2**k <= fits) == 16


# ---------------------------------------------------------------- claim 4: SDPA FLOPs


def test_sdpa_flops_formula() -> None:
    # 4 · 128 heads · 126 layers · 128 head_dim = 8,257,536 FLOPs per context token;
    # at 4,096 tokens 33.82 GFLOP
    arch = LLAMA_405B.architecture
    assert attention_flops_per_token(arch, 1) == 8_257_536
    assert attention_flops_per_token(arch, 4096) == pytest.approx(33.82e9, rel=1e-3)


# ---------------------------------------------------------------- claim 1: max batch at 30 tok/s


@pytest.mark.parametrize(("output_tokens", "expected", "bound"), [
    # memory: (T·26.8e12 − W) / (7,661 · 516,096) = (893.33e9 − 405.85e9) / 3.9538e9 = 123.29
    (LONG, 123.29, "memory-bandwidth"),
    # compute: T·15.832e15 / F(775) = 5.2773e14 / 813.90e9 = 648.40
    (SHORT, 648.40, "compute"),
], ids=["7661-tokens", "775-tokens"])
def test_ideal_roofline_max_batch(output_tokens: int, expected: float, bound: str) -> None:
    result = estimate(output_tokens, IDEAL)
    assert result.decode.max_batch_slo == pytest.approx(expected, rel=0.005)
    assert result.decode.max_batch == int(expected)
    assert result.decode.bound == bound


@pytest.mark.parametrize(("output_tokens", "expected", "bound"), [
    # (T·26.8e12·0.773 − W) / 3.9538e9 = (690.55e9 − 405.85e9) / 3.9538e9 = 72.0
    (LONG, 72, "memory-bandwidth"),
    # T·15.832e15·0.5676 / 813.90e9 = 2.9954e14 / 813.90e9 = 368.0
    (SHORT, 368, "compute"),
], ids=["7661-tokens", "775-tokens"])
def test_article_max_batch_with_its_implied_efficiencies(output_tokens: int, expected: int,
                                                         bound: str) -> None:
    result = estimate(output_tokens, ARTICLE)
    assert result.decode.max_batch_slo == pytest.approx(expected, rel=0.01)
    assert result.decode.max_batch == expected
    assert result.decode.bound == bound
    assert result.decode.tokens_per_s_per_user == pytest.approx(30.0, rel=0.01)


def test_parallelism_is_one_replica_of_eight() -> None:
    # 405.85 GB of FP8 weights fit only in all eight 80 GB GPUs: TP8, one replica per node
    layout = estimate(LONG, ARTICLE).to_dict()["parallelism"]
    assert (layout["tp"], layout["pp"], layout["group_size"]) == (8, 1, 8)
    assert layout["replicas_per_unit"] == 1.0


# ---------------------------------------------------------------- claim 5: cost per token


def test_long_answers_cost_more_than_5x_per_token() -> None:
    # 368.0 / 72.0 = 5.11 (±3%) at the same interactivity; per-token cost ∝ 1 / batch
    long, short = estimate(LONG, ARTICLE), estimate(SHORT, ARTICLE)
    ratio = short.decode.max_batch_slo / long.decode.max_batch_slo
    assert ratio == pytest.approx(5.11, rel=0.03)
    assert ratio > 5
    cost_ratio = long.usd_per_million_tokens / short.usd_per_million_tokens
    assert cost_ratio == pytest.approx(5.11, rel=0.03)


def test_ideal_roofline_cost_ratio() -> None:
    # 648.40 / 123.29 = 5.26 (±2%)
    ratio = estimate(SHORT, IDEAL).decode.max_batch_slo / estimate(LONG, IDEAL).decode.max_batch_slo
    assert ratio == pytest.approx(5.26, rel=0.02)


def test_throughput_per_node_at_30_tokens_per_user() -> None:
    # 72 · 30 = 2,160 tokens/s per node at 7,661 tokens; 368 · 30 = 11,040 at 775
    assert estimate(LONG, ARTICLE).tokens_per_s_per_unit == pytest.approx(2160, rel=0.01)
    assert estimate(SHORT, ARTICLE).tokens_per_s_per_unit == pytest.approx(11040, rel=0.01)


# ---------------------------------------------------------------- capacity warning


def test_article_point_does_not_fit_in_hbm() -> None:
    # W + 72 · 7,661 · 516,096 = 405.85e9 + 284.68e9 = 690.53e9 B > 640e9 B
    result = estimate(LONG, ARTICLE)
    assert result.decode.memory_bytes_per_replica == pytest.approx(690.5 * GB, rel=1e-3)
    assert result.decode.memory_capacity_bytes == pytest.approx(640 * GB)
    assert not result.decode.fits_memory


def test_enforcing_capacity_caps_the_batch_at_59() -> None:
    # (640e9 − 405.85e9) / 3.9538e9 = 59.2 sequences fit
    result = estimate(LONG, ARTICLE, enforce_memory=True)
    assert result.decode.max_batch_memory == pytest.approx(59.22, rel=1e-3)
    assert result.decode.max_batch == 59
    assert result.decode.bound == "hbm-capacity"
    assert result.decode.fits_memory


# ---------------------------------------------------------------- claim 7: self-consistency


@pytest.mark.parametrize(("shared", "read_once", "multiplier", "stored_gb"), [
    # f + n(1 − f) with n = 5; stored per query = 3.954 GB · (f + 5(1 − f))
    (0.0, True, 5.00, 19.77),
    (0.5, True, 3.00, 11.86),
    (0.9, True, 1.40, 5.54),
    (0.5, False, 5.00, 11.86),
], ids=["f0", "f0.5", "f0.9", "f0.5-reread"])
def test_vote_multiplier_table(shared: float, read_once: bool, multiplier: float,
                               stored_gb: float) -> None:
    assert vote_cost_multiplier(5, shared, read_once) == pytest.approx(multiplier, rel=0.01)
    result = estimate(LONG, ARTICLE, votes=5, shared_prefix_fraction=shared,
                      prefix_read_once=read_once)
    d = result.decode
    kv_per_stream = (d.memory_bytes_per_replica - result.weights_bytes) / d.max_batch
    assert 5 * kv_per_stream == pytest.approx(stored_gb * GB, rel=0.01)


@pytest.mark.parametrize(("shared", "read_once", "expected"), [
    # memory-bound: streams = 72.0 / (f/5 + 1 − f), queries = streams / 5, so the cost per
    # query grows by exactly f + 5(1 − f): 72 / (120 / 5) = 3.00; 72 / (257.2 / 5) = 1.40
    (0.5, True, 3.00),
    (0.9, True, 1.40),
    # re-read prefix: reads stay at one stream each, 72 streams = 14.4 queries: 5.00
    (0.5, False, 5.00),
    # f = 0.99 would allow 346 streams by bandwidth, but compute caps them at
    # T·8.99e15 / F(7,661) = 2.9954e14 / 870.76e9 = 344: 72 / (344 / 5) = 1.047
    (0.99, True, 1.047),
], ids=["f0.5", "f0.9", "f0.5-reread", "f0.99-compute"])
def test_votes_cost_per_query_in_the_bandwidth_bound_regime(shared: float, read_once: bool,
                                                             expected: float) -> None:
    single = estimate(LONG, ARTICLE)
    voted = estimate(LONG, ARTICLE, votes=5, shared_prefix_fraction=shared,
                     prefix_read_once=read_once)
    ratio = single.requests_per_s_per_unit / voted.requests_per_s_per_unit
    assert ratio == pytest.approx(expected, rel=0.01)
