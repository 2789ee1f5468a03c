"""Published offline throughput of a mixture-of-experts model served colocated with data-parallel
attention, and the model's predictions of it: an out-of-sample check, used for no factor.

Source: TensorRT-LLM's performance overview at commit 00f37686 (the same table as
:mod:`planner.perf.calibrate_serving`'s check set), https://github.com/NVIDIA/TensorRT-LLM/blob/
00f37686aa854010d68bcbd0f4ab000221541ca6/docs/source/performance/perf-overview.md, "Qwen3-235B-
A22B": total output tokens/s of 8 GPUs at ten input/output lengths, B200 with NVFP4 weights and
H200/H100 with FP8, all requests queued at once. Its MoE command runs ``trtllm-bench --tp 8 --ep
8`` with ``enable_attention_dp``: attention data-parallel over the 8 GPUs (8 replicas of one
rank), experts on EP8, prefill and decode colocated, FP8 KV cache (the NVIDIA checkpoints).

The overview leaves each run's batch limit and per-step token budget to ``trtllm-bench``, which
derives both from the model, the GPUs' memory and the lengths (tensorrt_llm/bench/build/
tuning.py in the same repository, ``calc_engine_setting`` and ``finetune_setting``): the KV cache
for requests of I + O tokens in 95% of the memory the weights leave (2·layers·max(tp, KV
heads)·head_dim bytes per token in FP8; Qwen3-235B: 94 layers, 4 KV heads of 128, tp 8) caps
the requests at min(that, 4,096), rounded up to 32, 128 or 256; the budget is that many times
(1 + I/O) tokens, at most 32,768 and at least 2,048, rounded up to 256, 512 or 1,024. Each row
below carries the two numbers this gives (GPU memory as the catalog's 180, 141 and 80 GB), set
per case as ``efficiency.ep_max_batch_per_rank`` and ``efficiency.prefill_batch_tokens``; with
attention DP both apply to each rank (TensorRT-LLM's DeepSeek-R1 guide: "Max batch size in
each rank").

The prompt work of these runs falls unevenly on the attention replicas, and a step waits for
the one that prefills (planner.perf.serving_ep.dp_prefill_steps): with the replicas balanced
(``efficiency.attention_dp_balance=1``) the same rows are +52% on average. What is left: the
B200 rows with short prompts and long answers are 37-88% high (decode-bound steps of NVFP4
experts), the H100 row with 5,000-token prompts 37% low.
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.catalog.schema import Precision
from planner.perf.assumptions import CalibrationCase
from planner.perf.calibrate_moe import Pool, per_accelerator

__all__ = ["MISSES", "ROWS", "TOLERANCE", "WORKLOAD", "MoeOverviewRow", "cases", "misses"]

TOLERANCE = 0.50  # as for the other MoE cases (planner.perf.calibrate_moe)
WORKLOAD = "workloads/calibration/offline.yaml"
GROUP = "moe-offline-check"
_SOURCE = ("https://github.com/NVIDIA/TensorRT-LLM/blob/00f37686aa854010d68bcbd0f4ab000221541ca6/"
           "docs/source/performance/perf-overview.md (Qwen3-235B-A22B table; batch limit and "
           "token budget from trtllm-bench's tensorrt_llm/bench/build/tuning.py)")
_GPUS = 8


@dataclass(frozen=True, slots=True)
class MoeOverviewRow:
    """One published row: total output tokens/s of 8 GPUs and trtllm-bench's settings for it."""

    input_tokens: int
    output_tokens: int
    system: str
    precision: Precision
    published_tokens_per_s: float
    batch_per_rank: int  # trtllm-bench max_batch_size
    token_budget: int  # trtllm-bench max_num_tokens

    @property
    def name(self) -> str:
        return (f"TRT-LLM Qwen3-235B {self.system} DP8+EP8 "
                f"{self.input_tokens}/{self.output_tokens}")

    def sets(self) -> tuple[str, ...]:
        """The ``--set`` overrides that turn the offline workload file into this case."""
        precision = self.precision.value
        return ("model=qwen3-235b-a22b", f"input_tokens={self.input_tokens}",
                f"output_tokens={self.output_tokens}", f"weights_precision={precision}",
                f"compute_precision={precision}", "kv_precision=fp8", "kv_reserve=final",
                "layout.decode.ep=8", "layout.decode.dp_attention=8",
                f"efficiency.ep_max_batch_per_rank={self.batch_per_rank}",
                f"efficiency.prefill_batch_tokens={self.token_budget}")

    def command(self) -> str:
        flags = " ".join(f"--set {item}" for item in self.sets())
        return (f"planner estimate {WORKLOAD} --hardware {self.system} {flags} "
                f"--format json  # {Pool.COLOCATED.json_key} / accelerators")


_B200, _H200, _H100 = "dgx-b200", "dgx-h200", "dgx-h100"
_FP4, _FP8 = Precision.FP4, Precision.FP8
ROWS: tuple[MoeOverviewRow, ...] = (
    MoeOverviewRow(128, 128, _B200, _FP4, 63362, 4096, 8192),
    MoeOverviewRow(128, 128, _H200, _FP8, 30429, 4096, 8192),
    MoeOverviewRow(128, 2048, _B200, _FP4, 66057, 3072, 3328),
    MoeOverviewRow(128, 2048, _H200, _FP8, 42821, 2048, 2304),
    MoeOverviewRow(128, 2048, _H100, _FP8, 19658, 1024, 2048),
    MoeOverviewRow(128, 4096, _B200, _FP4, 39496, 1792, 2048),
    MoeOverviewRow(128, 4096, _H200, _FP8, 26852, 1280, 2048),
    MoeOverviewRow(128, 4096, _H100, _FP8, 12447, 512, 2048),
    MoeOverviewRow(500, 2000, _B200, _FP4, 57117, 2816, 3328),
    MoeOverviewRow(500, 2000, _H200, _FP8, 28026, 1792, 2304),
    MoeOverviewRow(500, 2000, _H100, _FP8, 18351, 896, 2048),
    MoeOverviewRow(1000, 1000, _B200, _FP4, 42391, 3328, 6656),
    MoeOverviewRow(1000, 1000, _H200, _FP8, 23789, 2304, 4608),
    MoeOverviewRow(1000, 1000, _H100, _FP8, 14898, 1024, 2048),
    MoeOverviewRow(1000, 2000, _B200, _FP4, 34105, 2304, 3328),
    MoeOverviewRow(1000, 2000, _H200, _FP8, 22061, 1536, 2304),
    MoeOverviewRow(1000, 2000, _H100, _FP8, 15136, 768, 2048),
    MoeOverviewRow(2048, 128, _B200, _FP4, 7329, 3072, 32768),
    MoeOverviewRow(2048, 128, _H200, _FP8, 3331, 2048, 32768),
    MoeOverviewRow(2048, 2048, _B200, _FP4, 26854, 1792, 3328),
    MoeOverviewRow(2048, 2048, _H200, _FP8, 16672, 1280, 2304),
    MoeOverviewRow(2048, 2048, _H100, _FP8, 9924, 512, 2048),
    MoeOverviewRow(5000, 500, _B200, _FP4, 8190, 1280, 13312),
    MoeOverviewRow(5000, 500, _H200, _FP8, 3623, 896, 9216),
    MoeOverviewRow(5000, 500, _H100, _FP8, 3225, 384, 4096),
    MoeOverviewRow(20000, 2000, _B200, _FP4, 4453, 384, 3328),
    MoeOverviewRow(20000, 2000, _H200, _FP8, 1876, 224, 2304),
)
# Rows the model misses by more than the tolerance, reported apart (module docstring)
MISSES: tuple[str, ...] = ("TRT-LLM Qwen3-235B dgx-b200 DP8+EP8 128/4096",)


def predicted_per_accelerator(row: MoeOverviewRow, extra: tuple[str, ...] = ()) -> float:
    """Output tokens/s per accelerator from ``planner.api.estimate`` (the CLI's path), with
    ``extra`` overrides after the row's own."""
    return per_accelerator(WORKLOAD, row.system, (*row.sets(), *extra), Pool.COLOCATED)


def _case(row: MoeOverviewRow) -> CalibrationCase:
    return CalibrationCase(row.name, Pool.COLOCATED.quantity, "tokens/s",
                           row.published_tokens_per_s / _GPUS, predicted_per_accelerator(row),
                           TOLERANCE, _SOURCE, row.command(), GROUP)


def cases() -> list[CalibrationCase]:
    """Every row but the :data:`MISSES`, with the model's prediction."""
    return [_case(row) for row in ROWS if row.name not in MISSES]


def misses() -> list[CalibrationCase]:
    """The rows in :data:`MISSES`, computed as the cases are and reported apart from them."""
    return [_case(row) for row in ROWS if row.name in MISSES]
