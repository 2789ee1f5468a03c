"""Timings of the training plan search; a script, not a test.

Run: python benchmarks/bench_training_search.py

Target: the fastest plan for Llama 3.1 405B on 16,384 H100 in well under one second. The
searches run with their per-process cache off (``PLANNER_NO_MEMO=1``), so that every repeat
times the search itself.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable

from planner.catalog.load import load_catalog
from planner.catalog.schema import Precision
from planner.perf.memo import DISABLE_ENV
from planner.perf.training import (
    DEFAULTS,
    TrainingJob,
    candidate_plans,
    estimate_pretrain,
    fastest_plan,
    fewest_accelerators,
)
from planner.workload.load import load_model
from planner.workload.schema import Parallelism, Pretrain, Recompute

REPEATS = 5


def timed(label: str, action: Callable[[], object]) -> object:
    """Run ``action`` REPEATS times; print the median and worst wall time."""
    times, result = [], None
    for _ in range(REPEATS):
        start = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - start)
    print(f"{label:58s} median {statistics.median(times) * 1e3:8.1f} ms   "
          f"max {max(times) * 1e3:8.1f} ms")
    return result


def main() -> None:
    """Time the searches the CLI and the optimizer rely on."""
    os.environ[DISABLE_ENV] = "1"
    h100 = load_catalog().get("dgx-h100")
    llama = load_model("llama-3.1-405b")
    job = TrainingJob.build(llama, h100, sequence_length=8192, global_batch_tokens=16e6,
                            precision=Precision.BF16, recompute=Recompute.SELECTIVE,
                            zero_stage=1, assumptions=DEFAULTS)
    count = sum(1 for _ in candidate_plans(job, 16_384, Parallelism()))
    print(f"candidate plans on 16,384 GPUs: {count}")
    choice = timed("fastest plan, 405B on 16,384 H100 (free layout)",
                   lambda: fastest_plan(job, 16_384))
    if choice is not None and hasattr(choice, "plan"):
        print(f"  -> {choice.plan}, step {choice.step.step_s:.2f} s, bound {choice.bound}")
    timed("fastest plan, 405B on 16,384 H100 (TP8 PP16 pinned)",
          lambda: fastest_plan(job, 16_384, Parallelism(tp=8, pp=16)))
    found = timed("fewest H100 nodes for 15.6T tokens in 90 days",
                  lambda: fewest_accelerators(job, 15.6e12, 90 * 86400.0, 8))
    print(f"  -> {found[0] if isinstance(found, tuple) else found} nodes")
    spec = Pretrain.model_validate({"kind": "pretrain", "model": llama.id, "tokens": 15.6e12,
                                    "sequence_length": 8192, "accelerators": 16_384})
    timed("estimate_pretrain end to end (16,384 GPUs)",
          lambda: estimate_pretrain(spec, llama, h100))


if __name__ == "__main__":
    main()
