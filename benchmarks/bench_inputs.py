"""Time ``build_planning_inputs`` on a scenario of many workloads; a script, not a test.

The scenario cycles through the repository's workload files (each copy renamed, so every job
is distinct to the LP while the perf model sees only a few distinct argument sets), on the
default fleet. Set ``PLANNER_NO_MEMO=1`` to run the perf searches uncached (see
``planner.perf.memo``) and compare within one run with ``--compare``.

    python benchmarks/bench_inputs.py                 # 300 workloads
    python benchmarks/bench_inputs.py --jobs 60 --compare
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
FILES = ("pretrain_llama3_405b.yaml", "posttrain_small.yaml", "o1_posttrain.yaml",
         "serve_reasoning.yaml", "serve_reasoning_short.yaml", "serve_o1_pro.yaml")


def scenario_text(jobs: int) -> str:
    """A scenario of ``jobs`` inline workloads cycling through ``FILES``."""
    docs = [yaml.safe_load((REPO / "workloads" / name).read_text(encoding="utf-8"))
            for name in FILES]
    for doc in docs:
        if doc["kind"] == "pretrain":
            doc.setdefault("deadline", "90 days")  # placing a pretraining run needs one
    items = [{**docs[i % len(docs)], "name": f"job-{i:04d}"} for i in range(jobs)]
    return yaml.safe_dump({"name": f"bench-{jobs}", "workloads": items}, sort_keys=False)


def time_build(path: Path) -> float:
    """Seconds to load the scenario and build its planning inputs, in this process."""
    from planner.scenario import build_planning_inputs
    from planner.workload.load import load_scenario

    start = time.perf_counter()
    build_planning_inputs(load_scenario(path))
    return time.perf_counter() - start


def main() -> None:
    """Print the build time (and, with --compare, the uncached time and the ratio)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--compare", action="store_true",
                        help="also run uncached in a fresh process and print the ratio")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "scenario.yaml"
        path.write_text(scenario_text(args.jobs), encoding="utf-8")
        if os.environ.get("BENCH_INPUTS_CHILD"):
            print(f"{time_build(path):.3f}")
            return
        times = {}
        for label, memo in (("cached", "0"), ("uncached", "1")) if args.compare else (
                ("as configured", os.environ.get("PLANNER_NO_MEMO", "0")),):
            env = {**os.environ, "BENCH_INPUTS_CHILD": "1", "PLANNER_NO_MEMO": memo}
            out = subprocess.run([sys.executable, __file__, "--jobs", str(args.jobs)], env=env,
                                 check=True, capture_output=True, text=True).stdout
            times[label] = float(out.strip())
            print(f"{args.jobs} workloads, {label:>13}: build_planning_inputs "
                  f"{times[label]:.2f} s", flush=True)
        if args.compare:
            print(f"ratio cached / uncached: {times['cached'] / times['uncached']:.3f}")


if __name__ == "__main__":
    main()
