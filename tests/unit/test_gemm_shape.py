"""Tile and wave quantization of GEMMs (planner/perf/gemm_shape.py), hand-computed."""

from __future__ import annotations

import pytest

from planner.perf.gemm_shape import (
    BLACKWELL,
    HOPPER,
    GemmShape,
    gemm_efficiency,
    layer_gemm_efficiency,
    tile_shape_for,
)
from planner.perf.serving import StepModel


def test_two_waves_on_hopper() -> None:
    # M 600, N 8,192: ceil(600/128) · ceil(8,192/256) = 5 · 32 = 160 tiles, 2 waves of 132
    # eff = 600 · 8,192 / (2 · 132 · 128 · 256) = 4,915,200 / 8,650,752
    assert gemm_efficiency(600, 8192, HOPPER) == pytest.approx(0.568182, rel=1e-5)


def test_under_one_wave_splits_k() -> None:
    # M 100, N 8,192: 32 tiles, split 132 // 32 = 4 ways -> 128 of 132 SMs busy;
    # fill 100 / 128 = 0.78125; eff = 0.78125 · 128 / 132
    assert gemm_efficiency(100, 8192, HOPPER) == pytest.approx(0.757576, rel=1e-5)


def test_blackwell_two_sm_tiles() -> None:
    # 256 x 256 tiles on 148 / 2 = 74 slots; M 890, N 8,192: 4 · 32 = 128 tiles, 2 waves
    # eff = 890 · 8,192 / (2 · 74 · 256 · 256) = 7,290,880 / 9,699,328
    assert BLACKWELL.slots == 74
    assert gemm_efficiency(890, 8192, BLACKWELL) == pytest.approx(0.751695, rel=1e-5)


def test_full_tiles_in_whole_waves_are_fully_efficient() -> None:
    # M 4,224 = 33 · 128, N 1,024 = 4 · 256: 132 tiles, exactly one wave
    assert gemm_efficiency(4224, 1024, HOPPER) == pytest.approx(1.0)


def test_layer_efficiency_is_the_work_weighted_harmonic_mean() -> None:
    # M 128: N 8,192 -> 32 tiles split 4 ways, eff 128/132; N 33,792 -> 132 tiles, eff 1
    # work 8,192,000 + 33,792,000 = 41,984,000; time 8,192,000 · 132/128 + 33,792,000
    shapes = ((8192, 1000), (33792, 1000))
    assert layer_gemm_efficiency(128, shapes, HOPPER) == pytest.approx(
        41_984_000 / 42_240_000)


def test_accelerators_by_catalog_name() -> None:
    assert tile_shape_for("H200 SXM 141 GB") is HOPPER
    assert tile_shape_for("B200 (GB200 superchip, 1,200 W)") is BLACKWELL
    assert tile_shape_for("MI300X 192 GB") is None
    assert tile_shape_for("A100 SXM4 80 GB") is None


def test_step_batch_follows_the_staircase() -> None:
    # 1 ms of full-wave matmul per sequence, N 8,192, budget 0.5 s. For 256 < b ≤ 512 the step
    # costs 384 or 512 rows at 96-128 of 132 SMs: 1e-3 · 384 · 132/96 = 0.528 s or
    # 1e-3 · 512 · 132/128 = 0.528 s, over budget; at b = 256 it is 1e-3 · 256 · 132/128 = 0.264 s.
    steps = StepModel(gemm_s_per_seq=1e-3, attention_s_per_seq=0.0, weights_s=0.0,
                      kv_s_per_seq=0.0, comm_s_fixed=0.0, comm_s_per_seq=0.0,
                      gemm_shape=GemmShape(((8192, 8192),), HOPPER))
    assert steps.step_s(512) == pytest.approx(0.528)
    assert steps.step_s(257) == pytest.approx(0.528)
    assert steps.step_s(256) == pytest.approx(0.264)
    assert steps.batch_at(0.5)[0] == 256
    plain = StepModel(1e-3, 0.0, 0.0, 0.0, 0.0, 0.0)
    assert plain.batch_at(0.5)[0] == pytest.approx(500)


def test_a_fraction_of_a_row_counts_as_one_row() -> None:
    # A GEMM has at least one row: 1e-300 tokens used to give efficiency 0 and a division by 0.
    shapes = ((4096, 4096),)
    assert layer_gemm_efficiency(1e-300, shapes, HOPPER) == layer_gemm_efficiency(1.0, shapes,
                                                                                  HOPPER)
    assert layer_gemm_efficiency(1e-300, shapes, HOPPER) > 0
