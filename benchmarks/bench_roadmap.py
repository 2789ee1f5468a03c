"""Time the roadmap (``planner roadmap``): the bundled 8-quarter scenario and a synthetic one.

Not a test. Two measurements, each the min and median of ``--repeat`` runs:

- the bundled ``workloads/roadmap_2027.yaml`` end to end, as ``planner roadmap`` runs it
  (loading, the performance model, the build, the solve and the report's data), in-process;
- a synthetic roadmap of J jobs x S sites x H systems x P quarterly periods built on
  ``benchmarks/bench_lp.py``'s fleets: serving demand growing 10 % a quarter, each training job
  in a window of its own horizon starting in a random quarter, DGX-like units with a one-quarter
  lead time, a 10 % price decline per year and owned units that reach the end of their life.
  Stages: inputs (``planner.roadmap_inputs.roadmap_inputs``), build, solve, extract.

    python benchmarks/bench_roadmap.py                        # both, 3 runs each
    python benchmarks/bench_roadmap.py --jobs 50 --sites 10 --systems 6 --periods 12
    python benchmarks/bench_roadmap.py --integer --periods 8  # whole units
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import time
from pathlib import Path

from planner.units import SECONDS_PER_DAY

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_lp import make_fleet  # the synthetic fleets of the LP benchmark

ROOT = Path(__file__).resolve().parents[1]


def synthetic_timeline(base: object, periods: int, seed: int = 0) -> object:
    """A quarterly timeline for a synthetic fleet (validated fields built directly)."""
    from planner.workload.timeline import (
        JobSchedule,
        PeriodGrid,
        PeriodLength,
        Supply,
        SystemSupply,
        Timeline,
    )

    rng = random.Random(seed)
    start = dt.date(2027, 1, 1)
    schedule = {}
    for job in base.jobs:  # type: ignore[attr-defined]
        if job.serve is not None:
            schedule[job.id] = JobSchedule.model_construct(growth_per_quarter=0.10,
                                                           requests_per_second=None,
                                                           start=None, deadline=None,
                                                           duration=None, every=None)
        else:
            begin = start + dt.timedelta(days=91 * rng.randrange(periods))
            schedule[job.id] = JobSchedule.model_construct(
                start=begin, duration=job.horizon_s, deadline=None, every=None,
                requests_per_second=None, growth_per_quarter=None)
    systems = {h.id: SystemSupply.model_construct(  # type: ignore[attr-defined]
        available_from=None, price={}, price_decline_per_year=0.10,
        lead_time=91 * SECONDS_PER_DAY, lifetime=None) for h in base.systems}  # type: ignore[attr-defined]
    inventory = {s.id: dict.fromkeys(s.inventory, dt.date(2023, 1, 1))  # type: ignore[attr-defined]
                 for s in base.sites}  # type: ignore[attr-defined]
    supply = Supply.model_construct(sites={}, systems=systems, inventory=inventory,
                                    purchase_limits={})
    return Timeline.model_construct(
        periods=PeriodGrid.model_construct(start=start, count=periods,
                                           length=PeriodLength.QUARTER),
        discount_rate=0.08, schedule=schedule, supply=supply, budget_per_period=None)


def synthetic(jobs: int, sites: int, systems: int, periods: int, integer: bool) -> dict[str, float]:
    """Seconds of each stage of one synthetic roadmap."""
    from planner.lp.periods import build_roadmap_lp
    from planner.lp.periods_extract import roadmap_solution
    from planner.lp.solve import solve_lp
    from planner.roadmap_inputs import roadmap_inputs
    from planner.units import SECONDS_PER_YEAR

    base = make_fleet(jobs, sites, systems)
    begin = time.perf_counter()
    ri, kinds, _ = roadmap_inputs(base, synthetic_timeline(base, periods),  # type: ignore[arg-type]
                                  5 * SECONDS_PER_YEAR)
    inputs_s = time.perf_counter() - begin
    rm = build_roadmap_lp(ri, integer=integer)
    build_s = time.perf_counter() - begin - inputs_s
    outcome = solve_lp(rm.lp, time_limit_s=600)
    solve_s = time.perf_counter() - begin - inputs_s - build_s
    data = roadmap_solution(rm, outcome, {h.id: h.accelerators for h in base.systems}, kinds)
    total = time.perf_counter() - begin
    return {"inputs_s": inputs_s, "build_s": build_s, "solve_s": solve_s,
            "extract_s": total - inputs_s - build_s - solve_s, "total_s": total,
            "variables": outcome.variables, "rows": outcome.constraints,
            "npv_usd": data["npv_usd"], "status": 1.0 if outcome.status == "optimal" else 0.0}


def bundled(integer: bool) -> float:
    """Seconds of ``planner roadmap workloads/roadmap_2027.yaml`` in-process."""
    from planner.roadmap import run_roadmap

    begin = time.perf_counter()
    run_roadmap(ROOT / "workloads/roadmap_2027.yaml", integer=integer).to_dict()
    return time.perf_counter() - begin


def main() -> None:
    """Print the bundled roadmap's time and the synthetic roadmap's stages."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--sites", type=int, default=10)
    parser.add_argument("--systems", type=int, default=6)
    parser.add_argument("--periods", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--integer", action="store_true")
    parser.add_argument("--skip-bundled", action="store_true")
    args = parser.parse_args()
    if not args.skip_bundled:
        bundled(args.integer)  # imports and first-call caches stay out of the figures
        times = [bundled(args.integer) for _ in range(args.repeat)]
        print(f"bundled roadmap_2027.yaml (8 quarters): min {min(times):.2f} s, "
              f"median {statistics.median(times):.2f} s over {len(times)} runs")
    runs = [synthetic(args.jobs, args.sites, args.systems, args.periods, args.integer)
            for _ in range(args.repeat)]
    size = (f"{args.jobs} jobs x {args.sites} sites x {args.systems} systems x "
            f"{args.periods} periods")
    first = runs[0]
    print(f"synthetic {size}: {first['variables']:,.0f} variables, {first['rows']:,.0f} rows, "
          f"NPV {first['npv_usd']:,.0f} USD, optimal {all(r['status'] for r in runs)}")
    for stage in ("inputs_s", "build_s", "solve_s", "extract_s", "total_s"):
        values = [r[stage] for r in runs]
        print(f"  {stage:<10} min {min(values):8.2f}  median {statistics.median(values):8.2f}")


if __name__ == "__main__":
    main()
