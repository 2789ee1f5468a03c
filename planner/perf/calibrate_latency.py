"""Published latency-bounded serving results (MLPerf Inference Server and Interactive) and the
model's predictions of them, through ``planner estimate`` on workloads/calibration/offline.yaml.

MLPerf Inference Llama 2 70B, closed division (reference/measurements.md V7): Offline and Server
(Poisson arrivals; p99 TTFT ≤ 2 s and p99 TPOT ≤ 200 ms) on the same systems, so each
submission's Server/Offline ratio is published too: 0.88 (H100, v4.1) to 0.98 (B200, v5.1); the
model gives 0.94-0.97. The Interactive scenario (p99 TTFT ≤ 450 ms, TPOT ≤ 40 ms; 0.32-0.59 of
Offline) is reproduced in part: matmuls pay tile and wave quantization
(:mod:`planner.perf.gemm_shape`), and a colocated replica admits only the prompt tokens its
40 ms step has room for (:mod:`planner.perf.serving_pools`, bulk admission under a step-time
limit). DGX B200 (+23%, model ratio 0.72 against 0.586 published) and the GB200 tray (+3%,
0.55 against 0.575) are cases. AMD MI300X is not (Server 24,594 tokens/s, predicted +50%: its
Offline is not calibrated either, the accelerator's efficiency factors are NVIDIA's). Inputs and
outputs as in :mod:`planner.perf.calibrate_serving` (300 assumed input tokens, 294 output
tokens), colocated serving as the engines run it, FP8 KV cache.

The quantity is Server (or Interactive) output tokens/s per accelerator; the model's figure is
the offline one times the largest load at which its p99 TTFT holds with Poisson arrivals
(:mod:`planner.perf.queueing`; prompts admitted in bulk, up to the engine's per-step token
budget and what the TPOT limit leaves room for), with the decode batch capped by the TPOT
limit. Tolerance 30%, as for the offline cases. Sources:
https://github.com/mlcommons/inference_results_v4.1 and
https://github.com/mlcommons/inference_results_v5.1 (closed, Server and Interactive scenarios).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from planner.perf.assumptions import CalibrationCase

__all__ = ["INTERACTIVE_RUNS", "LATENCY_RUNS", "LIMITS", "TOLERANCE", "LatencyRun", "cases",
           "predicted"]

TOLERANCE = 0.30
_WORKLOAD = "workloads/calibration/offline.yaml"
_REPO = Path(__file__).resolve().parents[2]
_V41 = "https://github.com/mlcommons/inference_results_v4.1 (closed, Llama 2 70B Server)"
_V51 = ("https://github.com/mlcommons/inference_results_v5.1 (closed, Llama 2 70B Server, "
        "Interactive)")
# MLPerf Inference Llama 2 70B latency limits (p99), reference/measurements.md V7.
LIMITS: dict[str, tuple[str, ...]] = {
    "server": ("ttft=2 s", "tpot=200 ms"),
    "interactive": ("ttft=450 ms", "tpot=40 ms"),
}


@dataclass(frozen=True, slots=True)
class LatencyRun:
    """One published latency-bounded throughput and its system's offline figure."""

    name: str
    system: str
    precision: str
    accelerators: int
    offline_tokens_per_s: float
    published_tokens_per_s: float
    scenario: str
    source: str

    @property
    def published_ratio(self) -> float:
        """Published latency-bounded over offline throughput."""
        return self.published_tokens_per_s / self.offline_tokens_per_s

    def sets(self, bounded: bool = True) -> list[str]:
        """The ``--set`` overrides of this case (offline without the limits)."""
        sets = ["model=llama-2-70b", "input_tokens=300", "output_tokens=294",
                f"weights_precision={self.precision}", f"compute_precision={self.precision}",
                "kv_precision=fp8"]
        return sets + list(LIMITS[self.scenario]) if bounded else sets

    def command(self) -> str:
        """The ``planner estimate`` call that reproduces the prediction."""
        flags = " ".join(f"--set '{s}'" if " " in s else f"--set {s}" for s in self.sets())
        return (f"planner estimate {_WORKLOAD} --hardware {self.system} {flags} --format json"
                "  # tokens_per_s_per_unit / accelerators")


LATENCY_RUNS: tuple[LatencyRun, ...] = (
    LatencyRun("MLPerf v4.1 70B DGX H100 Server", "dgx-h100", "fp8", 8, 24525, 21606, "server",
               _V41),
    LatencyRun("MLPerf v4.1 70B DGX H200 Server", "dgx-h200", "fp8", 8, 31303, 29228, "server",
               _V41),
    LatencyRun("MLPerf v4.1 70B B200 (1 GPU, preview) Server", "dgx-b200", "fp4", 1, 11264,
               10756, "server", _V41),
    LatencyRun("MLPerf v5.1 70B DGX B200 Server", "dgx-b200", "fp4", 8, 101527, 99123,
               "server", _V51),
    LatencyRun("MLPerf v5.1 70B GB200 tray Server", "gb200-nvl72", "fp4", 4, 51737, 49360,
               "server", _V51),
    LatencyRun("MLPerf v5.1 70B H200 8x Server (lowest submission)", "dgx-h200", "fp8", 8,
               34302, 33161, "server", _V51),
    LatencyRun("MLPerf v5.1 70B H100 16x Server (Cisco)", "dgx-h100", "fp8", 16, 62352, 61101,
               "server", _V51),
    LatencyRun("MLPerf v5.1 70B DGX B200 Interactive", "dgx-b200", "fp4", 8, 101527, 59545,
               "interactive", _V51),
    LatencyRun("MLPerf v5.1 70B GB200 tray Interactive", "gb200-nvl72", "fp4", 4, 51737, 29746,
               "interactive", _V51),
)

# Latency-bounded results that are NOT calibration cases (over the tolerance): none at present.
# The GB200 tray Interactive result was one (+37%) until colocated replicas admitted prompts in
# bulk within the TPOT limit's room (planner/perf/serving_pools.py); it is now a case.
INTERACTIVE_RUNS: tuple[LatencyRun, ...] = ()


def predicted(run: LatencyRun, bounded: bool = True) -> float:
    """Output tokens/s per accelerator from ``planner.api.estimate`` (the CLI's path)."""
    from planner.api import estimate

    result = estimate(_REPO / _WORKLOAD, run.system, run.sets(bounded)).to_dict()
    accelerators = float(result["accelerators_needed"]) / float(result["units_needed"])
    return float(result["tokens_per_s_per_unit"]) / accelerators


def cases() -> list[CalibrationCase]:
    """Every published latency-bounded throughput with the model's prediction."""
    out = []
    for run in LATENCY_RUNS:
        model = predicted(run)
        ratio = model / predicted(run, bounded=False)
        note = (f"{run.scenario}; published {run.scenario}/offline "
                f"{run.published_ratio:.3f}, model {ratio:.3f}; {run.command()}")
        out.append(CalibrationCase(run.name, f"{run.scenario} output tokens/s per accelerator",
                                   "tokens/s", run.published_tokens_per_s / run.accelerators,
                                   model, TOLERANCE, run.source, note, "latency"))
    return out
