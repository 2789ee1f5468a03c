"""Calibrated efficiencies must stay under the kernel ceilings measured on a real GPU.

The ceilings come from benchmarks/device/results/h200_2026-11-28.json (PyTorch on one H200): an
end-to-end engine cannot read HBM faster than a bare reduction, or multiply faster than a bare
GEMM, so a calibrated factor above its ceiling would mean the fit absorbed an error elsewhere.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from planner.catalog.schema import Precision
from planner.perf import serving, training

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "device" / "results"


@pytest.fixture(scope="module")
def h200() -> dict[str, object]:
    return json.loads((RESULTS / "h200_2026-11-28.json").read_text())


def _fraction(value: float, peak: float) -> float:
    return value / peak


def test_memory_bandwidth_factor_is_under_the_hbm_read_ceiling(h200: dict) -> None:
    ceiling = _fraction(h200["hbm_read"]["bytes_per_s"], h200["peak_bandwidth_bytes_per_s"])
    assert 0.85 < ceiling <= 1.0  # the measurement itself is sane: 4.31 / 4.8 TB/s = 0.90
    assert serving.DEFAULTS["memory_bandwidth"].value < ceiling


def test_compute_factors_are_under_the_gemm_ceilings(h200: dict) -> None:
    bf16 = _fraction(h200["gemm"]["bf16_flops_per_s"], h200["peak_bf16_flops_per_s"])
    fp8 = _fraction(h200["gemm"]["fp8_flops_per_s"], h200["peak_fp8_flops_per_s"])
    assert 0.6 < fp8 < bf16 < 1.0  # 0.74 and 0.81 measured
    assert training.DEFAULTS["training_matmul"].value < bf16


@pytest.mark.parametrize(("precision", "peak_key", "gemm_key"), [
    (Precision.BF16, "peak_bf16_flops_per_s", "bf16_flops_per_s"),
    (Precision.FP8, "peak_fp8_flops_per_s", "fp8_flops_per_s"),
], ids=["bf16", "fp8"])
def test_effective_serving_compute_is_under_that_precisions_gemm_ceiling(
        h200: dict, precision: Precision, peak_key: str, gemm_key: str) -> None:
    """BF16: compute 0.61 < 0.806; FP8: 0.61 · 0.914 = 0.558 < 0.737 (FP4 has no ceiling
    measured in this project)."""
    ceiling = _fraction(h200["gemm"][gemm_key], h200[peak_key])
    effective = serving.compute_efficiency(serving.DEFAULTS, precision)
    assert effective < ceiling


def test_fp8_relative_factor_is_the_measured_ratio(h200: dict) -> None:
    # (1,457.8 / 1,979) / (797.1 / 989) = 0.7366 / 0.8060 = 0.914
    ratio = (_fraction(h200["gemm"]["fp8_flops_per_s"], h200["peak_fp8_flops_per_s"])
             / _fraction(h200["gemm"]["bf16_flops_per_s"], h200["peak_bf16_flops_per_s"]))
    assert serving.DEFAULTS["compute_fp8_relative"].value == pytest.approx(ratio, abs=5e-4)


def test_small_batch_decode_matmuls_are_bandwidth_bound(h200: dict) -> None:
    """At batch 1-8 the layer's matmuls read weights at the HBM ceiling (time flat in batch)."""
    rows = {r["batch"]: r for r in h200["decode_matmuls"]}
    assert rows[8]["seconds"] == pytest.approx(rows[1]["seconds"], rel=0.05)
    assert rows[512]["seconds"] > 2.5 * rows[1]["seconds"]  # compute-bound by batch 512


def test_measured_decode_steps_are_within_tolerance_and_bracket_the_model() -> None:
    """The model is within 30% of every measured H200 decode step; it is slower than plain
    contiguous SDPA on long KV caches (paged engines calibrate it) and faster at batch 1."""
    from planner.perf.calibrate_measured import cases

    measured = cases()
    assert len(measured) == 11
    assert all(c.within_tolerance for c in measured)
    by_name = {c.name: c for c in measured}
    assert by_name["H200 decode 8B bf16, b1 x 1024"].error < 0
    assert by_name["H200 decode 8B bf16, b64 x 8192"].error > 0
