"""Calibrated efficiencies must stay under the kernel ceilings measured on a real GPU.

The ceilings come from benchmarks/device/results/h200_2026-11-28.json (PyTorch on one H200): an
end-to-end engine cannot read HBM faster than a bare reduction, or multiply faster than a bare
GEMM, so a calibrated factor above its ceiling would mean the fit absorbed an error elsewhere.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

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
    assert serving.DEFAULTS["compute"].value < fp8
    assert training.DEFAULTS["training_matmul"].value < bf16


def test_small_batch_decode_matmuls_are_bandwidth_bound(h200: dict) -> None:
    """At batch 1-8 the layer's matmuls read weights at the HBM ceiling (time flat in batch)."""
    rows = {r["batch"]: r for r in h200["decode_matmuls"]}
    assert rows[8]["seconds"] == pytest.approx(rows[1]["seconds"], rel=0.05)
    assert rows[512]["seconds"] > 2.5 * rows[1]["seconds"]  # compute-bound by batch 512
