"""Timings of the calculator view and of the main job; a script, not a test.

Run: python benchmarks/bench_estimate.py  (from the repository root)

Targets (issues 3 and 4): one estimate under 20 ms in-process once inputs are loaded; the main
job (`planner optimize workloads/o1_posttrain.yaml`), cold, from command start to printed report,
under 2 s (issue 13: under 1 s, and ``planner --help`` under 0.15 s). The in-process estimates
run with the perf-search caches off (``PLANNER_NO_MEMO=1``), so that they time the model, not
a cache hit; the cold processes run as users get them.
"""

from __future__ import annotations

import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from planner.catalog.load import load_catalog
from planner.perf.memo import DISABLE_ENV
from planner.perf.queueing import erlang_c
from planner.perf.rl import estimate_posttrain
from planner.perf.serving import estimate_serving
from planner.perf.training import estimate_pretrain
from planner.workload.load import load_scenario
from planner.workload.schema import LatencyTarget

ROOT = Path(__file__).resolve().parents[1]
REPEATS = 20


def timed(label: str, action: Callable[[], object], repeats: int = REPEATS) -> None:
    """Print the min, median and max wall time of ``action`` over ``repeats`` runs."""
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    print(f"{label:<58} min {min(samples) * 1e3:8.1f} ms   median "
          f"{statistics.median(samples) * 1e3:8.1f} ms   max {max(samples) * 1e3:8.1f} ms")


def main() -> None:
    """Time each estimate in-process, then the CLI main job in fresh processes."""
    os.environ[DISABLE_ENV] = "1"
    catalog = load_catalog(ROOT / "hardware")
    loaded = {name: load_scenario(ROOT / "workloads" / f"{name}.yaml").workloads[0]
              for name in ("serve_reasoning", "pretrain_llama3_405b", "o1_posttrain")}
    h100, gb200 = catalog.systems["dgx-h100"], catalog.systems["gb200-nvl72"]
    serve, pre, post = (loaded[n] for n in ("serve_reasoning", "pretrain_llama3_405b",
                                           "o1_posttrain"))
    timed("estimate serve (405B, 7,661 tokens) on dgx-h100",
          lambda: estimate_serving(serve.spec, serve.model, h100))
    timed("estimate serve (405B, 7,661 tokens) on gb200-nvl72",
          lambda: estimate_serving(serve.spec, serve.model, gb200))
    timed("estimate pretrain (405B, 16,384 GPUs) on dgx-h100",
          lambda: estimate_pretrain(pre.spec, pre.model, h100))
    timed("estimate posttrain (o1, 4 roles) on gb200-nvl72",
          lambda: estimate_posttrain(post.spec, dict(post.models), gb200))
    mi300x = catalog.systems["mi300x-8"]
    short = serve.spec.model_copy(update={"input_tokens": 100,
                                          "ttft": LatencyTarget.model_validate({"p99": "6 s"})})
    timed("estimate serve at p99 TTFT 6 s (405B, 100-token prompts) on mi300x-8",
          lambda: estimate_serving(short, serve.model, mi300x), repeats=3)
    _erlang_c_against_the_previous_sum()
    env = {k: v for k, v in os.environ.items() if k != DISABLE_ENV}
    planner = str(Path(sys.executable).with_name("planner"))
    for label, args in (("main job, cold process: planner optimize o1_posttrain",
                         ["optimize", "workloads/o1_posttrain.yaml"]),
                        ("cold process: planner --help", ["--help"])):
        timed(label, lambda args=args: subprocess.run([planner, *args], cwd=ROOT, env=env,
                                                      check=True, capture_output=True),
              repeats=7)


def _previous_erlang_c(servers: int, offered: float) -> float:
    """Erlang C as it was before: every Poisson term, summed with np.logaddexp.reduce."""
    k = np.arange(servers + 1, dtype=np.float64)
    log_factorial = np.concatenate(([0.0], np.cumsum(np.log(k[1:]))))
    log_terms = k * math.log(offered) - log_factorial
    blocking = float(np.exp(log_terms[-1] - np.logaddexp.reduce(log_terms)))
    return servers * blocking / (servers - offered * (1.0 - blocking))


def _erlang_c_against_the_previous_sum() -> None:
    """The batch-slot queue's Erlang C at a large decode batch (the 100-token MI300X case
    holds tens of thousands of sequences): the current sum (terms within 40 standard
    deviations of the mode, factorials reused) against the previous one, same inputs, same
    run."""
    servers = 40_000
    loads = [float(servers * f) for f in np.linspace(0.5, 0.99, 50)]
    def every_load(formula: Callable[[int, float], float]) -> Callable[[], object]:
        return lambda: [formula(servers, a) for a in loads]

    timed("Erlang C, 50 loads at c = 40,000: current", every_load(erlang_c), repeats=5)
    timed("Erlang C, 50 loads at c = 40,000: previous sum", every_load(_previous_erlang_c),
          repeats=5)
    worst = max(abs(erlang_c(servers, a) - _previous_erlang_c(servers, a)) for a in loads)
    print(f"largest difference between the two: {worst:.2e}")


if __name__ == "__main__":
    main()
