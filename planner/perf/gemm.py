"""Measured GEMM ceilings: the fraction of a tensor format's dense peak large matmuls reach.

Vendor peaks are not reachable; the best a perfectly shaped large GEMM reaches is the "maximum
achievable matmul FLOPS" (MAMF) of S. Bekman's ml-engineering benchmarks
(https://github.com/stas00/ml-engineering, ``compute/accelerator/README.md``, MAMF comparison
table, and its H200 -> B200 upgrade guide), measured with ``mamf-finder.py``:

=============  ======  =====================================  ======
accelerator    format  MAMF / theoretical TFLOPS              ratio
=============  ======  =====================================  ======
A100 SXM       BF16    267.9 / 312                            0.859
H100/H200 SXM  BF16    794.5 / 989                            0.803
H100/H200     FP8     1,608.6 / 1,979 (cuBLASLt, see below)  0.813
B200 SXM       BF16    1,745.0 / 2,250                        0.776
B200 SXM       FP8     3,432.5 / 4,500                        0.763
B200 SXM       NVFP4   6,624 / 9,000 (torch 2.14, 2026-10)    0.736
MI300X         BF16    781.9 / 1,300                          0.601
=============  ======  =====================================  ======

Hopper's FP8 figure is a direct cuBLASLt FP8 E4M3 8,192³ GEMM (BF16 output, FP32 accumulate):
1,599-1,630 TFLOPS, mean 1,608.6, over 16 GPUs (cuBLASLt FP8 cross-check report, 2026-05-24,
https://gitea.d-robotics.cc/han.zhao/test_gpu_scripts, ``reports_cublaslt_fp8_crosscheck_
20260524.md``). The same report measures PyTorch's ``_scaled_mm`` path at 1,170-1,180 TFLOPS on
the same GPUs, which is why the MAMF table's FP8 figure for H200 (1,453.4 with torch) is not
used: Transformer Engine calls cuBLASLt directly.

A generation's figures stand for its variants (H800 and GH200 with H100; GB200's and GB300's
Blackwell GPUs with B200) and, where a format was not measured, the nearest measured one of the
same generation does (B200's FP8 for MXFP8). Accelerators with no measurement take the H100
figures, so they behave as the calibrated reference. The training model multiplies these
ceilings by one calibrated ``training_matmul``: the fraction of the ceiling a whole layer's
kernels reach.
"""

from __future__ import annotations

import re

from planner.catalog.schema import Precision

__all__ = ["REFERENCE", "gemm_ceiling", "generation"]

_CEILINGS: dict[str, dict[Precision, float]] = {
    "ampere": {Precision.BF16: 267.9 / 312},
    "hopper": {Precision.BF16: 794.5 / 989, Precision.FP8: 1608.6 / 1979},
    "blackwell": {Precision.BF16: 1745.0 / 2250, Precision.FP8: 3432.5 / 4500,
                  Precision.FP4: 6624 / 9000},
    "cdna3": {Precision.BF16: 781.9 / 1300},
}
REFERENCE = "hopper"

_GENERATIONS = (
    (re.compile(r"\bA100\b"), "ampere"),
    (re.compile(r"\b(GH200|H100|H200|H800|H20)\b"), "hopper"),
    (re.compile(r"\b(GB200|GB300|B200|B300)\b"), "blackwell"),
    (re.compile(r"\bMI300X\b"), "cdna3"),
)


def generation(accelerator_name: str) -> str:
    """The measured generation an accelerator belongs to (the reference when unknown)."""
    for pattern, name in _GENERATIONS:
        if pattern.search(accelerator_name):
            return name
    return REFERENCE


def gemm_ceiling(accelerator_name: str, precision: Precision) -> float:
    """Measured fraction of the dense peak at ``precision`` that large GEMMs reach.

    16-bit formats share the BF16 figure; an unmeasured low-precision format of a measured
    generation takes its BF16 figure (no penalty assumed); unknown accelerators the reference's.
    """
    table = _CEILINGS[generation(accelerator_name)]
    if precision in table:
        return table[precision]
    return table[Precision.BF16]
