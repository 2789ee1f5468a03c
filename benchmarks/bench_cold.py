"""Cold-process start: the main job and ``planner --help``, this checkout against another.

Wall time on a shared machine swings with the load, so each run also records the CPU time the
child process used (user + system, from ``getrusage``), which the load barely moves. Runs
alternate between the two code trees so that both see the same load.

    python benchmarks/bench_cold.py                       # this checkout only
    python benchmarks/bench_cold.py --against /path/to/other/checkout --runs 7

``--against`` puts another checkout of the repository first on ``PYTHONPATH`` (e.g. an
earlier commit unpacked with ``git archive``), so the same interpreter and packages run it.

"Cold" means a new process, as an installed package starts: the children may write and read
bytecode caches (``PYTHONDONTWRITEBYTECODE`` is dropped from their environment), and one
untimed round runs first so that both trees start from compiled modules.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASES = (
    ("main job", ["optimize", "workloads/o1_posttrain.yaml"]),
    ("main json", ["optimize", "workloads/o1_posttrain.yaml", "--format", "json"]),
    ("estimate", ["estimate", "workloads/o1_posttrain.yaml", "--hardware", "gb200-nvl72"]),
    ("--help", ["--help"]),
)


def once(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall s, CPU s) of one ``planner`` process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([str(Path(sys.executable).with_name("planner")), *args], cwd=ROOT, env=env,
                   check=True, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    """Alternate the trees, print min and median wall and CPU seconds, and the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--against", type=Path, help="another checkout to compare with")
    parser.add_argument("--case", action="append", choices=[label for label, _ in CASES],
                        help="time only this case (repeatable; default: all)")
    args = parser.parse_args()
    cases = [(label, argv) for label, argv in CASES if not args.case or label in args.case]
    base = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    # both trees on PYTHONPATH, so both are found the same way (not one through the
    # editable install's finder)
    trees = {"this": {**base, "PYTHONPATH": str(ROOT)}}
    if args.against:
        trees["other"] = {**base, "PYTHONPATH": str(args.against.resolve())}
    for env in trees.values():  # untimed: compile both trees' modules to bytecode
        for _, argv in cases:
            once(argv, env)
    samples: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for _ in range(args.runs):
        for tree, env in trees.items():
            for label, argv in cases:
                samples.setdefault((tree, label), []).append(once(argv, env))
    for (tree, label), runs in samples.items():
        wall, cpu = [w for w, _ in runs], [c for _, c in runs]
        print(f"{tree:>5} {label:<9} wall min {min(wall):6.3f} s median "
              f"{statistics.median(wall):6.3f} s   CPU min {min(cpu):6.3f} s median "
              f"{statistics.median(cpu):6.3f} s")
    if args.against:
        for label, _ in cases:
            this, other = samples[("this", label)], samples[("other", label)]
            cpu = min(c for _, c in this) / min(c for _, c in other)
            wall = min(w for w, _ in this) / min(w for w, _ in other)
            median = (statistics.median(c for _, c in this)
                      / statistics.median(c for _, c in other))
            print(f"{label}: this / other, min CPU {cpu:.2f}, median CPU {median:.2f}, "
                  f"min wall {wall:.2f}")


if __name__ == "__main__":
    main()
