"""Prompt work on data-parallel attention replicas in colocated expert-parallel serving
(planner/perf/serving_ep.py, dp_prefill_steps; planner/perf/serving_moe.py, ep_decode_step).

A step of an EP group lasts as long as its busiest attention replica; replicas admit their own
prompts as their sequences finish, so in most steps one replica prefills while the others wait.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
from ep_toy import toy_ep

from planner.perf.serving import DEFAULTS, Layout, PrefillChunk
from planner.perf.serving_ep import dp_prefill_steps
from planner.perf.serving_moe import ep_decode_step


def _inputs(**overrides: float) -> SimpleNamespace:
    values = {name: a.value for name, a in DEFAULTS.items()} | overrides
    return SimpleNamespace(eff=lambda name: values[name])


def _steps(batch: float, per_seq: float, prompt: float, ep: int = 8, **overrides: float
           ) -> tuple[tuple[float, float, float], ...]:
    chunk = PrefillChunk(per_seq, prompt / 2.0, prompt_tokens=prompt)
    steps = dp_prefill_steps(_inputs(**overrides), Layout(1, 1, 1.0, ep=ep, dp_attention=ep),  # type: ignore[arg-type]
                             chunk, batch)
    return tuple((s.probability, s.busiest, s.mean) for s in steps)


def test_one_prompt_per_step_at_most_by_hand() -> None:
    # TensorRT-LLM's H200 DeepSeek-R1 run: 128 sequences per rank, 1,024/2,048 tokens, budget
    # 1,151 (room for one prompt beside 127 decodes). A rank finishes 128/2048 = 0.0625
    # sequences per step and admits as many prompts (Poisson): P(none) = e^-0.0625 = 0.939413;
    # one prompt fits, so X is 0 or 1,024 tokens. Over 8 ranks, P(max = 0) = 0.939413^8.
    steps = _steps(128, 0.5, 1024, prefill_batch_tokens=1151)
    none = math.exp(-0.0625)
    assert len(steps) == 2
    assert steps[0][0] == pytest.approx(none ** 8)
    assert steps[0][1:] == (0.0, 0.0)
    assert steps[1][0] == pytest.approx(1 - none ** 8)
    assert steps[1][1] == pytest.approx(1024 / 128)  # the busiest rank prefills a whole prompt
    # replicas' mean when one prefills: (1024 + 7·E[X]) / 8, scaled to keep 64 tokens per step
    raw = (1024 + 7 * (1 - none) * 1024) / 8
    assert steps[1][2] * 128 == pytest.approx(raw * 64 / ((1 - none ** 8) * raw))


def test_long_prompts_are_prefilled_in_pieces_of_the_room_left() -> None:
    # 8,192-token budget, 128 sequences: 8,065 tokens of room beside 127 decodes, so a
    # 20,000-token prompt goes in pieces. At 100 prompt tokens per sequence per step (12,800 per
    # step, more than the room) every replica prefills every step: balanced, the fluid mean
    assert _steps(128, 100.0, 20000) == ((1.0, 100.0, 100.0),)
    # 10 prompt tokens per sequence per step: a replica is busy 1,280 / 8,065 of the steps
    busy = 1280 / 8065
    steps = _steps(128, 10.0, 20000)
    assert [s[0] for s in steps] == pytest.approx([(1 - busy) ** 8, 1 - (1 - busy) ** 8])
    assert steps[1][1] == pytest.approx(8065 / 128)


def test_fluid_without_replicas_or_with_balanced_admission() -> None:
    assert _steps(128, 0.5, 1024, ep=1) == ((1.0, 0.5, 0.5),)
    assert _steps(128, 0.5, 1024, attention_dp_balance=1.0) == ((1.0, 0.5, 0.5),)


@pytest.mark.parametrize(("batch", "per_seq", "prompt", "budget"), [
    (896, 0.5, 1024, 2048), (384, 0.5, 1024, 1536), (64, 4.0, 5000, 8192),
    (500, 1.0, 1000, 8192), (10, 0.01, 300, 8192), (256, 16.0, 2048, 32768)])
def test_prompt_work_is_conserved(batch: float, per_seq: float, prompt: float,
                                  budget: float) -> None:
    steps = _steps(batch, per_seq, prompt, prefill_batch_tokens=budget)
    assert sum(p for p, _, _ in steps) == pytest.approx(1.0)
    assert sum(p * mean for p, _, mean in steps) == pytest.approx(per_seq)
    assert all(busiest >= mean - 1e-12 for _, busiest, mean in steps)
    assert max(busiest for _, busiest, _ in steps) * batch <= budget - batch + 1 + 1e-9


def test_the_busiest_replica_sets_local_work_and_the_mean_the_experts() -> None:
    model, hw, f = toy_ep()
    # 10 sequences, mean 1 prompt token per sequence, busiest replica 4: dense matmuls and
    # attention of 10·(1 + 4) tokens, routed of 10·(1 + 1):
    # (50·2 GFLOP + 20·1 GFLOP) / 1 PFLOP/s + 10·(1 MFLOP + 4·2 MFLOP) / 1 PFLOP/s
    point = ep_decode_step(model, hw, f, ep=8, tp=1, batch=10, context=0,
                           decode_attention_flops=1e6, prefill_per_seq=1.0,
                           prefill_attention_flops=2e6, busiest_prefill_per_seq=4.0)
    assert point.compute_s == pytest.approx((50 * 2e9 + 20 * 1e9) / 1e15 + 10 * 9e6 / 1e15)
    # its dispatch and combine carry the busiest replica's 50 tokens: 2 copies of 30 kB each
    assert point.communication_s == pytest.approx(50 * 2 * 30e3 / 1e10)
    even = ep_decode_step(model, hw, f, ep=8, tp=1, batch=10, context=0,
                          decode_attention_flops=1e6, prefill_per_seq=1.0,
                          prefill_attention_flops=2e6)
    assert even.compute_s == pytest.approx(20 * 3e9 / 1e15 + 10 * 3e6 / 1e15)


def test_a_step_time_limit_caps_the_piece_a_replica_prefills() -> None:
    # 10 sequences, 2 prompt tokens each per step (20 per replica), 4,000-token prompts; the
    # budget leaves 8,183 tokens of room, the limit's headroom only 200: pieces of 200 tokens,
    # a replica busy 20 / 200 of the steps
    chunk = PrefillChunk(2.0, 2000.0, prompt_tokens=4000.0)
    layout = Layout(1, 1, 1.0, ep=8, dp_attention=8)
    steps = dp_prefill_steps(_inputs(), layout, chunk, 10, room_limit=200.0)  # type: ignore[arg-type]
    assert [s.probability for s in steps] == pytest.approx([0.9 ** 8, 1 - 0.9 ** 8])
    assert steps[1].busiest == pytest.approx(200 / 10)
    # the limit never cuts the room below the prompt work a replica must do per step
    assert dp_prefill_steps(_inputs(), layout, chunk, 10, room_limit=5.0) == (  # type: ignore[arg-type]
        dp_prefill_steps(_inputs(), layout, chunk, 10, room_limit=20.0))


def test_one_pool_holds_its_tpot_by_prefilling_in_pieces() -> None:
    # examples/moe_serving/deepseek_r1.yaml on H800 nodes, one pool: 4,000-token prompts would
    # stall every replica for a whole prompt's prefill if taken at once; in pieces the pool
    # holds the 50 ms p99 TPOT at a useful batch
    from pathlib import Path

    from planner.api import estimate

    workload = Path(__file__).resolve().parents[2] / "examples/moe_serving/deepseek_r1.yaml"
    one = estimate(workload, "hgx-h800", ["disaggregated=false"]).to_dict()
    two = estimate(workload, "hgx-h800", ["disaggregated=true"]).to_dict()
    assert one["tpot_p99_s"] <= 0.050 + 1e-9
    assert one["decode"]["parallelism"]["dp_attention"] > 1
    assert one["max_batch"] >= 16
    assert 1.2 < two["tokens_per_s_per_unit"] / one["tokens_per_s_per_unit"] < 2.5
