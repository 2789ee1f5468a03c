"""Calibration cases measured in this project on one GPU (not published elsewhere).

Whole decode steps of a Llama-3.1-8B-shaped model in BF16 on one NVIDIA H200, written with plain
PyTorch kernels and captured in CUDA graphs (benchmarks/device/gpu_decode.py; results in
benchmarks/device/results/h200_decode_2026-11-28.json, PyTorch 2.11, 2026-11-28). They check the
decode step model directly (step time at a batch and context), not a throughput summary. The
serving defaults are calibrated on engines with paged KV caches (TensorRT-LLM, MLPerf); plain
contiguous SDPA reads a long KV cache faster (0.86-0.87 of peak bandwidth here against the
model's 0.70), so long-context cases come out slow by up to ~25%, short ones fast by ~8%; the
tolerance is 30%, as for the published serving cases, and the errors are left visible.
"""

from __future__ import annotations

from planner.catalog.load import load_catalog
from planner.catalog.schema import Precision
from planner.perf.assumptions import CalibrationCase
from planner.perf.serving import decode_step_s
from planner.workload.load import load_model

__all__ = ["MEASURED_DECODE_STEPS", "cases"]

SOURCE = ("measured in this project: benchmarks/device/gpu_decode.py on one H200, "
          "results/h200_decode_2026-11-28.json")
TOLERANCE = 0.30

# (batch, context tokens, measured step seconds) from the results file above.
MEASURED_DECODE_STEPS: tuple[tuple[int, int, float], ...] = (
    (1, 1024, 0.005264388), (16, 1024, 0.005859521), (64, 1024, 0.007370723),
    (128, 1024, 0.010822301), (256, 1024, 0.015799790), (512, 1024, 0.029469997),
    (16, 4096, 0.007389051), (64, 4096, 0.012840151), (128, 4096, 0.021857045),
    (32, 16384, 0.020243626), (64, 8192, 0.020117021),
)


def cases() -> list[CalibrationCase]:
    """One case per measured (batch, context): predicted vs measured step time."""
    system = load_catalog().systems["dgx-h200"]
    model = load_model("llama-3.1-8b")
    out = []
    for batch, context, measured in MEASURED_DECODE_STEPS:
        predicted = decode_step_s(model, system, batch=batch, context_tokens=context + 1,
                                  group_size=1, weights_precision=Precision.BF16,
                                  kv_precision=Precision.BF16,
                                  compute_precision=Precision.BF16)
        out.append(CalibrationCase(
            f"H200 decode 8B bf16, b{batch} x {context}",
            "decode step time", "s", measured, predicted, TOLERANCE, SOURCE))
    return out
