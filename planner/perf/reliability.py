"""Goodput of a long training job: time lost to failures, checkpoints and restarts.

A job on n accelerators fails, on average, every M = 1 / (n · λ) seconds, where λ is the
failure rate per accelerator-second (failures are independent and the job stops at the first).
It writes a checkpoint (taking δ seconds of paused training) every τ seconds of work; after a
failure it spends R seconds restarting and redoes, on average, half an interval of work.

Wasted fraction of wall time, to first order in δ/τ and τ/M (Young 1974, "A first order
approximation to the optimum checkpoint interval", CACM 17(9); Daly 2006, FGCS 22(3)):

    waste = δ/τ + (τ/2 + R)/M,        goodput = 1 - waste,

minimised at Young's interval τ* = sqrt(2·δ·M), where waste = sqrt(2δ/M) + R/M.

Defaults (each a named :class:`~planner.perf.assumptions.Assumption`):

* λ from the Llama 3 405B run's 54-day snapshot (arXiv 2407.21783, Table 5): 419 unexpected
  interruptions on 16,384 H100 over 54 days, i.e. 419 / (16,384 · 54 · 24) = 1.97e-5 per
  GPU-hour, one per 50,700 GPU-hours (counts, not the paper's printed percentages).
* Checkpoint write time: the checkpoint (BF16 weights plus FP32 master weights and two Adam
  moments, 14 bytes per parameter) over the storage write bandwidth. Llama 3's Tectonic storage
  sustains 2 TB/s for 16,384 GPUs (arXiv 2407.21783 §3.3.1), 122 MB/s per GPU; we assume storage
  is sized in proportion to the cluster.
* Restart time R = 10 minutes: detection of the failure (hang watchdog), rescheduling on spare
  nodes, communicator set-up and checkpoint reload at ~10k-GPU scale. No published Llama 3
  figure; it is an assumption, checked against the paper's statement that effective training
  time exceeded 90% (this model gives 92.4% for the 16,384-GPU job).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from planner.perf.assumptions import Assumption
from planner.units import SECONDS_PER_DAY, SECONDS_PER_HOUR

__all__ = [
    "CHECKPOINT_BYTES_PER_PARAM",
    "DEFAULTS",
    "LLAMA3_ACCELERATORS",
    "LLAMA3_INTERRUPTIONS",
    "LLAMA3_SNAPSHOT_S",
    "Goodput",
    "checkpoint_time_s",
    "estimate_goodput",
    "job_mtbf_s",
    "wasted_fraction",
    "young_daly_interval_s",
]

# Llama 3 405B pretraining, 54-day snapshot (arXiv 2407.21783, §3.3.4 and Table 5).
LLAMA3_INTERRUPTIONS = 419
LLAMA3_ACCELERATORS = 16_384
LLAMA3_SNAPSHOT_S = 54 * SECONDS_PER_DAY
LLAMA3_STORAGE_BYTES_PER_S = 2e12  # Tectonic, sustained (arXiv 2407.21783 §3.3.1)

# Checkpoint contents under mixed-precision Adam: BF16 weights (2) + FP32 master weights (4)
# + FP32 first and second moments (4 + 4); gradients are not saved.
CHECKPOINT_BYTES_PER_PARAM = 14.0

_FAILURES_PER_ACCELERATOR_HOUR = LLAMA3_INTERRUPTIONS / (
    LLAMA3_ACCELERATORS * LLAMA3_SNAPSHOT_S / SECONDS_PER_HOUR)

DEFAULTS: dict[str, Assumption] = {
    "failures_per_accelerator_hour": Assumption(
        "failures_per_accelerator_hour", _FAILURES_PER_ACCELERATOR_HOUR,
        "Llama 3 (arXiv 2407.21783) Table 5: 419 unexpected interruptions, 16,384 H100, 54 days",
        "one job interruption per ~50,700 accelerator-hours"),
    "checkpoint_bytes_per_s_per_accelerator": Assumption(
        "checkpoint_bytes_per_s_per_accelerator",
        LLAMA3_STORAGE_BYTES_PER_S / LLAMA3_ACCELERATORS,
        "Llama 3 (arXiv 2407.21783) §3.3.1: Tectonic sustains 2 TB/s for 16,384 GPUs",
        "storage write bandwidth per accelerator; storage assumed sized with the cluster"),
    "restart_s": Assumption(
        "restart_s", 600.0,
        "assumption: detection, rescheduling, communicator set-up and checkpoint reload",
        "gives 92.4% goodput for Llama 3's 16,384-GPU job; the paper reports > 90%"),
}


def job_mtbf_s(accelerators: int, failures_per_accelerator_hour: float) -> float:
    """Mean time between job interruptions: M = 1 / (n · λ), with λ per accelerator-second.

    Llama 3 check: 16,384 GPUs at 1/50,700 per GPU-hour give M = 3.09 h (the paper: one
    interruption every ~3 hours).
    """
    rate_per_s = accelerators * failures_per_accelerator_hour / SECONDS_PER_HOUR
    return math.inf if rate_per_s <= 0 else 1.0 / rate_per_s


def checkpoint_time_s(params: float, accelerators: int, bytes_per_s_per_accelerator: float,
                      bytes_per_param: float = CHECKPOINT_BYTES_PER_PARAM) -> float:
    """Pause to write one checkpoint: δ = N · bytes_per_param / (n · per-accelerator bandwidth).

    The checkpoint is written in parallel by every rank (each its shard), so the cluster's
    storage bandwidth is the limit.
    """
    return params * bytes_per_param / (accelerators * bytes_per_s_per_accelerator)


def young_daly_interval_s(mtbf_s: float, checkpoint_s: float) -> float:
    """Optimal work between checkpoints, τ* = sqrt(2·δ·M) (Young 1974; Daly 2006 first order)."""
    return math.sqrt(2.0 * checkpoint_s * mtbf_s)


def wasted_fraction(mtbf_s: float, checkpoint_s: float, restart_s: float,
                    interval_s: float) -> float:
    """Fraction of wall time not spent on useful work: δ/τ + (τ/2 + R)/M, capped at 1.

    δ/τ: pauses to checkpoint; τ/2: work redone after a failure, on average half an interval;
    R: restart. First order in δ/τ and τ/M (Young 1974; Daly 2006).
    """
    if math.isinf(mtbf_s):
        return checkpoint_s / interval_s if interval_s > 0 else 0.0
    waste = checkpoint_s / interval_s + (interval_s / 2.0 + restart_s) / mtbf_s
    return min(1.0, waste)


@dataclass(frozen=True, slots=True)
class Goodput:
    """Reliability figures of one job."""

    mtbf_s: float
    checkpoint_s: float
    checkpoint_interval_s: float
    restart_s: float
    wasted_fraction: float

    @property
    def goodput(self) -> float:
        """Fraction of wall time spent on useful training: 1 - waste."""
        return 1.0 - self.wasted_fraction

    def to_dict(self) -> dict[str, float]:
        """JSON-ready form with SI suffixes."""
        return {"mtbf_s": self.mtbf_s, "checkpoint_s": self.checkpoint_s,
                "checkpoint_interval_s": self.checkpoint_interval_s,
                "restart_s": self.restart_s, "wasted_fraction": self.wasted_fraction,
                "goodput": self.goodput}


def estimate_goodput(params: float, accelerators: int,
                     assumptions: Mapping[str, Assumption] | None = None) -> Goodput:
    """Goodput of a job of ``params`` parameters on ``accelerators``, at Young's interval."""
    values = {**DEFAULTS, **(assumptions or {})}
    mtbf = job_mtbf_s(accelerators, values["failures_per_accelerator_hour"].value)
    delta = checkpoint_time_s(params, accelerators,
                              values["checkpoint_bytes_per_s_per_accelerator"].value)
    interval = young_daly_interval_s(mtbf, delta) if math.isfinite(mtbf) else math.inf
    restart = values["restart_s"].value
    waste = 0.0 if math.isinf(interval) else wasted_fraction(mtbf, delta, restart, interval)
    return Goodput(mtbf, delta, interval, restart, waste)
