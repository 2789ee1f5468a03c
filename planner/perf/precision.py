"""Training precision recipes: which GEMMs run in which format, at what speed, at what cost.

A recipe (``precision:`` of a pretrain workload, :class:`TrainingPrecision`) fixes

* the tensor-core format of the low-precision GEMMs (FP8 or FP4) and the recipe's own GEMM
  efficiency: the fraction of that format's measured GEMM ceiling (:mod:`planner.perf.gemm`,
  plain per-tensor-scaled GEMMs) its scaling scheme keeps (1.0: no loss);
* the fraction of the linear layers that run in low precision, in all three GEMMs of each
  (forward, dgrad, wgrad); attention, the output head and the MoE router always stay in BF16
  (``planner.perf.training.high_precision_flops_per_token``);
* the bytes per parameter of the data-parallel weight all-gather: low-precision recipes gather
  the already-cast weights (Megatron's ``fp8_param_gather`` / ``fp4_param_gather``, on in
  every FP8, MXFP8 and NVFP4 mixed-precision configuration of Megatron-Bridge,
  ``src/megatron/bridge/training/mixed_precision.py``), with their scales; BF16 gathers 2 B;
* the HBM bytes its quantisation kernels move per quantised element: every linear layer's input
  is cast in the forward pass, every output gradient in the backward pass, each as a row-wise
  and a column-wise copy (the wgrad GEMM contracts over tokens, so it needs the transpose),
  reading the BF16 tensor once per pass over it and writing the low-precision copies with their
  scale factors.

Sources of the figures, per recipe:

``fp8-tensorwise`` (Transformer Engine's default delayed or current per-tensor scaling): one FP32
scale per tensor is applied in the GEMM epilogue, so the GEMM is the plain FP8 GEMM whose
ceiling ``planner.perf.gemm`` gives (measured with per-tensor scales: Hopper 0.813 of the FP8 peak
in cuBLASLt against 0.803 of the BF16 peak for BF16; B200 0.763 against 0.776): relative 1.0.
Quantisation with current scaling: an amax pass (read 2 B) and a cast (read 2 B, write 1 B row-
wise and 1 B transposed, Hopper FP8 GEMMs being TN-only): 6 B per element.

``fp8-blockwise`` (DeepSeek-V3 §3.3, arXiv 2412.19437: 1x128 activation and 128x128 weight
tiles, partial sums promoted to FP32 CUDA-core registers every 128 elements): DeepGEMM's launch
figure, 1,350+ FP8 TFLOPS on H800, against the 1,609 TFLOPS plain cuBLASLt FP8 ceiling of
the same silicon: relative 0.84. Quantisation: read 2 B, write two 1-byte copies with one
FP32 scale per 128 values: 2 + 2·(1 + 4/128) = 4.06 B.

``mxfp8`` (OCP microscaling, 1x32 blocks with E8M0 scales, Blackwell only): Blackwell's block-
scaled tensor-core instructions consume the scales in hardware (no DeepSeek-style promotion).
Quantisation: read 2 B, write row- and column-wise copies (the blocks run along different axes,
so one cannot be transposed into the other) with one byte of scale per 32 values,
2 + 2·(1 + 1/32) = 4.06 B. No kernel benchmark comparing block-scaled and per-tensor FP8 GEMMs
on Blackwell was found; the relative efficiency 0.95 is derived from Megatron-Bridge's 25.11
tables, which run Llama 3 8B with identical layouts in FP8 current scaling and in MXFP8 on
B200 (30,624 vs 29,521 tokens/s/GPU, 0.964) and GB200 (31,508 vs 29,789, 0.945): the whole
step is 3.6-5.5% slower with the same quantisation traffic, so its GEMMs about 5%.

``nvfp4`` (NVIDIA, "Pretraining Large Language Models with NVFP4", arXiv 2509.25149): E2M1
values in 16-element blocks with an FP8 E4M3 scale plus one FP32 tensor scale; Blackwell's
block-scaled FP4 tensor cores apply them, and the FP4 ceiling of ``planner.perf.gemm`` is an
NVFP4 measurement (relative 1.0). The recipe keeps a few sensitive linear layers in BF16 - the
final blocks, about 15% of the linear layers in the paper's 12B run - applies 16x16 random
Hadamard transforms to the wgrad inputs and 2D 16x16 scaling to the weights, and rounds
gradients stochastically. Quantisation: an amax pass (read 2 B), the Hadamard-transformed cast
of the wgrad operands (read 2 B more), writes of two half-byte copies with one byte of scale
per 16 values, 2 + 2 + 2·(0.5 + 1/16) = 5.1 B. Megatron-Bridge's benchmark recipes run every
layer in NVFP4 (``bf16_with_nvfp4_mixed``); with all layers at the measured FP4 ceiling the
model would put Llama 3 70B on 64 GB200 at 1.66x its MXFP8 speed where the tables show 1.31x
(4,864 vs 3,712 tokens/s/GPU), so the FP4 GEMMs of a training step (training shapes, the
Hadamard and stochastic-rounding kernels around them) fall short of the MAMF ceiling by about
what the paper's 15% of BF16 layers cost; the 0.85 share stands for both. Known limitation:
no FP4 training-GEMM benchmark separates the two.

``bf16`` / ``fp16``: everything at the 16-bit peak, nothing quantised.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import assert_never

from planner.catalog.schema import Precision
from planner.workload.schema import TrainingPrecision

__all__ = ["ALIASES", "Recipe", "recipe", "resolve_alias"]

# ``fp8`` is Transformer Engine's default per-tensor scaling (the "FP8-CS" rows of NVIDIA's
# Megatron-Bridge performance tables); ``fp4`` is NVFP4, the only FP4 training recipe with a
# published large-scale run.
ALIASES: dict[TrainingPrecision, TrainingPrecision] = {
    TrainingPrecision.FP8: TrainingPrecision.FP8_TENSORWISE,
    TrainingPrecision.FP4: TrainingPrecision.NVFP4,
}


@dataclass(frozen=True, slots=True)
class Recipe:
    """How one training precision recipe runs (see the module docstring for the sources)."""

    name: TrainingPrecision
    gemm_precision: Precision
    gemm_efficiency: float
    low_precision_fraction: float
    quantize_bytes_per_element: float
    param_gather_bytes: float = 2.0

    @property
    def quantized(self) -> bool:
        """True when some GEMMs run below 16 bits."""
        return self.low_precision_fraction > 0.0


def resolve_alias(precision: TrainingPrecision) -> TrainingPrecision:
    """The recipe an alias stands for (``fp8`` -> ``fp8-tensorwise``, ``fp4`` -> ``nvfp4``)."""
    return ALIASES.get(precision, precision)


def recipe(precision: TrainingPrecision | Precision) -> Recipe:
    """The recipe of a training precision; a bare tensor format maps to its default recipe."""
    if isinstance(precision, Precision):
        if precision in (Precision.TF32,):
            return Recipe(TrainingPrecision.BF16, precision, 1.0, 0.0, 0.0)
        precision = TrainingPrecision(precision.value)
    name = resolve_alias(precision)
    match name:
        case TrainingPrecision.BF16 | TrainingPrecision.FP16:
            return Recipe(name, name.tensor_precision, 1.0, 0.0, 0.0)
        case TrainingPrecision.FP8_TENSORWISE:
            return Recipe(name, Precision.FP8, 1.0, 1.0, 6.0, 1.0)
        case TrainingPrecision.FP8_BLOCKWISE:
            return Recipe(name, Precision.FP8, 0.84, 1.0, 2.0 + 2.0 * (1.0 + 4.0 / 128.0),
                          1.0 + 4.0 / (128.0 * 128.0))
        case TrainingPrecision.MXFP8:
            return Recipe(name, Precision.FP8, 0.95, 1.0, 2.0 + 2.0 * (1.0 + 1.0 / 32.0),
                          1.0 + 1.0 / 32.0)
        case TrainingPrecision.NVFP4:
            return Recipe(name, Precision.FP4, 1.0, 0.85,
                          2.0 + 2.0 + 2.0 * (0.5 + 1.0 / 16.0), 0.5 + 1.0 / 16.0)
        case TrainingPrecision.FP8 | TrainingPrecision.FP4:  # pragma: no cover - resolved above
            raise AssertionError(name)
        case _:
            assert_never(name)
