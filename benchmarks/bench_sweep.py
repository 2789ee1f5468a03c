"""Sweep throughput: 1,000 scenarios of the default post-training workload, 1 vs N workers.

Prints the wall time of the whole study (expansion, runs, result files and the HTML report),
the mean time one scenario takes inside a worker, the per-scenario overhead of the executor
(wall time × workers / scenarios − mean scenario time) and the speed-up from 1 to N workers.
Targets (issue 5): under 2 minutes on 2 cores, at least 1.7× from 1 to 2 workers.
``--uncached`` first runs the 1-worker sweep with the perf searches uncached
(``PLANNER_NO_MEMO=1``, see ``planner.perf.memo``), prints the ratio to the cached run and
checks that both wrote the same results.csv (every column but the timings).

    python benchmarks/bench_sweep.py                 # 1,000 scenarios, 1 and 2 workers
    python benchmarks/bench_sweep.py --scenarios 200 --workers 4 --dask
    python benchmarks/bench_sweep.py --uncached      # also time the uncached path
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import tempfile
import time
from pathlib import Path

from planner.perf.memo import DISABLE_ENV
from planner.study import RESULTS_CSV, SweepResult, sweep

REPO = Path(__file__).resolve().parents[1]
WORKLOAD = REPO / "workloads" / "o1_posttrain.yaml"


def study_text(scenarios: int) -> str:
    """A grid of about ``scenarios`` points: deadline × problems × verifier seconds."""
    side = max(1, round(scenarios ** (1 / 3)))
    last = max(1, math.ceil(scenarios / side**2))
    return f"""\
name: bench
workload: {WORKLOAD}
command: estimate
hardware: [gb200-nvl72]
parameters:
  - path: deadline
    range: {{start: 30, stop: 180, num: {side}}}
    unit: days
  - path: problems
    range: {{start: 1, stop: 20, num: {side}}}
    unit: M
  - path: verifier_cpu_seconds
    range: {{start: 5, stop: 120, num: {last}}}
    unit: s
"""


def _burn(count: int) -> float:
    """Pure-Python work (dict and list churn) timed in one process."""
    start = time.perf_counter()
    table: dict[str, list[int]] = {}
    for i in range(count):
        table[str(i)] = [i] * 10
        if len(table) > 50_000:
            table.clear()
    return time.perf_counter() - start


def machine_ceiling(workers: int, count: int = 600_000) -> float:
    """Speed-up this machine gives plain Python work from 1 to ``workers`` processes: the
    ceiling for the sweep's speed-up (shared or throttled cores show here first)."""
    import multiprocessing

    one = min(_burn(count) for _ in range(3))
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        pool.map(_burn, [1000] * workers)  # start the workers first
        many = math.inf
        for _ in range(3):
            start = time.perf_counter()
            pool.map(_burn, [count] * workers)
            many = min(many, time.perf_counter() - start)
    return workers * one / many


def timed(study: Path, out: Path, workers: int, scheduler: str | None = None
          ) -> tuple[float, SweepResult]:
    """Wall time of one whole sweep (files and report included) and its result."""
    start = time.perf_counter()
    result = sweep(study, out_dir=out, workers=workers, scheduler=scheduler)
    return time.perf_counter() - start, result


def report(label: str, wall_s: float, result: SweepResult, workers: int) -> None:
    """One line: scenarios, wall time, time per scenario in a worker, overhead per scenario."""
    summary = result.summary()
    count = summary["scenarios"]
    mean = summary["mean_scenario_s"] or 0.0
    overhead = wall_s * workers / count - mean
    print(f"{label:<22} {count:>6,} scenarios  {wall_s:7.2f} s wall  "
          f"{1e3 * mean:6.1f} ms/scenario in a worker  {1e3 * overhead:6.2f} ms overhead each  "
          f"({summary['ok']:,} ok, {summary['failed']:,} failed)")


def main() -> None:
    """Run the study in-process, then on worker processes, then resume it; print timings."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--dask", action="store_true", help="also run on a Dask LocalCluster")
    parser.add_argument("--uncached", action="store_true",
                        help="also run 1 worker with the perf-search caches off")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs; workload {WORKLOAD.relative_to(REPO)}")
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        study = root / "study.yaml"
        study.write_text(study_text(args.scenarios), encoding="utf-8")
        uncached_s = run_uncached(study, root / "uncached") if args.uncached else None
        serial_s, serial = timed(study, root / "one", 1)
        report("1 worker (in-process)", serial_s, serial, 1)
        if uncached_s is not None:
            same = figures(root / "uncached") == figures(root / "one")
            print(f"cached / uncached, 1 worker: {serial_s / uncached_s:.3f} "
                  f"(results.csv {'identical' if same else 'DIFFERS'})")
        parallel_s, parallel = timed(study, root / "many", args.workers)
        report(f"{args.workers} worker processes", parallel_s, parallel, args.workers)
        ceiling = machine_ceiling(args.workers)
        print(f"speed-up 1 -> {args.workers} workers: {serial_s / parallel_s:.2f}x "
              f"(plain Python work on this machine: {ceiling:.2f}x)")
        resume_s, _ = timed(study, root / "many", args.workers)
        print(f"re-run (every scenario already done): {resume_s:.2f} s")
        if args.dask:
            run_dask(study, root / "dask", args.workers)


def figures(out: Path) -> list[dict[str, str]]:
    """The rows of a sweep's results.csv without the ``seconds`` column (a timing)."""
    with (out / RESULTS_CSV).open(encoding="utf-8", newline="") as file:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(file)]


def run_uncached(study: Path, out: Path) -> float:
    """Wall time of the 1-worker sweep with every perf-search cache off."""
    os.environ[DISABLE_ENV] = "1"
    try:
        wall_s, result = timed(study, out, 1)
    finally:
        del os.environ[DISABLE_ENV]
    report("1 worker, uncached", wall_s, result, 1)
    return wall_s


def run_dask(study: Path, out: Path, workers: int) -> None:
    """The same study on a local Dask cluster of ``workers`` single-threaded processes."""
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=workers, threads_per_worker=1,
                      dashboard_address=None) as cluster:
        wall_s, result = timed(study, out, workers, cluster.scheduler_address)
    report(f"Dask, {workers} workers", wall_s, result, workers)


if __name__ == "__main__":
    main()
