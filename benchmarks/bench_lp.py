"""Build and solve synthetic fleets of growing size; print the time of each stage.

Not a test. Each fleet has S sites (in S/3 regions, linked in a ring plus chords), H systems
and J jobs: 60 % pretraining (half of them single-site), 25 % RL post-training spread over
sites, 15 % serving with a latency bound. Each job's model fits on a random 70 % of the systems.

Stages: build (``build_lp``), hand-off (the model to HiGHS: arrays, scaling, passing it),
solve (HiGHS itself; LP mode may solve twice, rounding site choices), extract (the Solution).

    python benchmarks/bench_lp.py                 # the default ladder, LP mode
    python benchmarks/bench_lp.py --largest 200   # stop after 200 jobs
    python benchmarks/bench_lp.py --compare --smallest 500 --largest 500  # vs the previous path
    python benchmarks/bench_lp.py --integer --compare --smallest 50 --largest 50  # MILP: below
    python benchmarks/bench_lp.py --integer --one-stage --smallest 50 --largest 50 --time-limit 30
    python benchmarks/bench_lp.py --integer --units-only --smallest 50 --largest 50 --time-limit 60

MILP (``--integer``): by default in two stages (``planner.lp.two_stage``). ``--compare`` runs,
alternating, the two-stage solve at ``--mip-gap`` (1e-4), the previous path (PuLP's unscaled
hand-off at a gap of 1e-6 on the model with whole units per (site, system) only, the integer
model before placements were made whole: what an integer plan cost in time then) and the
one-stage solve of the whole-placement model at ``--mip-gap`` (``--one-stage``), and prints
the ratios to the two-stage run.
    python benchmarks/bench_lp.py --methods --largest 200  # dual simplex, IPM, PDLP
    python benchmarks/bench_lp.py --scalings --smallest 500 --largest 500 --seed 1  # first LP
"""

from __future__ import annotations

import argparse
import math
import os
import random
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from planner.errors import SolverError
from planner.lp import (
    CpuServerInput,
    EconomicsInput,
    JobInput,
    LinkInput,
    PlanningInputs,
    RlCoupling,
    RoleInput,
    ServeDemand,
    SiteInput,
    SystemInput,
    highs,
)
from planner.lp.build import build_lp
from planner.lp.extract import extract_solution
from planner.lp.scaling import equilibrate, identity, scale
from planner.lp.solve import MIP_REL_GAP, solve_lp
from planner.units import SECONDS_PER_DAY, SECONDS_PER_YEAR

LADDER = ((10, 5, 3), (50, 10, 5), (200, 20, 8), (500, 30, 10),
          (1000, 50, 12))  # jobs, sites, systems
USD_PER_MWH = 1.0 / 3.6e9


def make_fleet(jobs: int, sites: int, systems: int, seed: int = 0) -> PlanningInputs:
    """A reproducible synthetic fleet of the given size."""
    rng = random.Random(seed)
    system_list = tuple(_system(rng, i) for i in range(systems))
    ids = [h.id for h in system_list]
    site_list = tuple(_site(rng, i, ids) for i in range(sites))
    return PlanningInputs(site_list, _links(rng, sites), system_list,
                          CpuServerInput(128, 900.0, 25_000.0),
                          EconomicsInput(5 * SECONDS_PER_YEAR, 0.08),
                          tuple(_job(rng, i, ids, sites) for i in range(jobs)))


def _system(rng: random.Random, i: int) -> SystemInput:
    accelerators = rng.choice([8, 16, 72])
    return SystemInput(f"sys-{i}", accelerators, accelerators * rng.choice([2, 6, 14]),
                       accelerators * rng.uniform(900, 1700),
                       accelerators * rng.uniform(20_000, 45_000),
                       accelerators * rng.uniform(2, 6) / 3600 if rng.random() < 0.5 else None)


def _site(rng: random.Random, i: int, systems: list[str]) -> SiteInput:
    return SiteInput(
        f"site-{i}", f"region-{i // 3}", rng.uniform(50e6, 400e6), rng.uniform(1.1, 1.5),
        rng.uniform(40, 120) * USD_PER_MWH, rng.uniform(1, 3) * 1e-7,
        {h: rng.randint(0, 50) for h in systems if rng.random() < 0.3},
        {h: rng.randint(100, 2000) for h in systems}, {h: rng.randint(0, 100) for h in systems},
        rng.randint(0, 200), 5000)


def _links(rng: random.Random, sites: int) -> tuple[LinkInput, ...]:
    pairs = {(i, (i + 1) % sites) for i in range(sites)} | {
        (i, (i + sites // 2) % sites) for i in range(0, sites, 3)}
    return tuple(LinkInput(f"site-{a}", f"site-{b}", rng.choice([12.5e9, 50e9, 100e9]),
                           rng.uniform(0.005, 0.08), 2e-11)
                 for a, b in sorted(pairs) if a != b)


def _fits(rng: random.Random, systems: list[str], rate: float) -> dict[str, float]:
    chosen = [h for h in systems if rng.random() < 0.7] or systems[:1]
    return {h: rate * rng.uniform(0.5, 2.0) for h in chosen}


def _job(rng: random.Random, i: int, systems: list[str], sites: int) -> JobInput:
    horizon = rng.choice([30, 60, 90]) * SECONDS_PER_DAY
    kind = rng.random()
    if kind < 0.6:
        role = RoleInput("train", rng.uniform(50, 500) * horizon, "unit-horizons",
                         _fits(rng, systems, 1.0))
        return JobInput(f"job-{i}", "pretrain", horizon, (role,), single_site=rng.random() < 0.5)
    if kind < 0.85:
        samples = rng.uniform(1e3, 1e4) * horizon
        roles = (RoleInput("generate", samples, "samples", _fits(rng, systems, 20.0)),
                 RoleInput("score", samples, "samples", _fits(rng, systems, 100.0)),
                 RoleInput("verify", 0.5 * samples, "samples", {}, rng.uniform(0.5, 5)),
                 RoleInput("update", samples, "samples", _fits(rng, systems, 500.0)))
        rl = RlCoupling("generate", "score", "verify", "update", 2e5, 0.5, 0.2, 1e12, 100)
        return JobInput(f"job-{i}", "posttrain", horizon, roles, rl=rl)
    rates = {f"region-{g}": rng.uniform(100, 2000) for g in range(max(1, sites // 3))
             if rng.random() < 0.6} or {"region-0": 500.0}
    role = RoleInput("decode", sum(rates.values()) * horizon, "requests",
                     _fits(rng, systems, 20.0))
    return JobInput(f"job-{i}", "serve", horizon, (role,),
                    serve=ServeDemand(rates, rng.choice([0.03, 0.06, 0.1])))


@dataclass
class Timings:
    """Seconds of each stage of one size, and what the solver saw."""

    build_s: float = 0.0
    handoff_s: float = 0.0
    solve_s: float = 0.0
    extract_s: float = 0.0
    total_s: float = 0.0
    cpu_s: float = 0.0  # CPU seconds of the whole run (the load moves it far less than wall)
    solves: int = 0
    nonzeros: int = 0
    objective: float = math.nan
    first_objective: float = math.nan  # of the first solve (the LP before any rounding)
    status: str = ""
    mip_gap: float | None = None
    extra: dict[str, float] = field(default_factory=dict)
    check: list[str] = field(default_factory=list)  # rows of the whole model the plan breaks


@contextmanager
def instrumented(t: Timings, legacy: bool) -> Iterator[None]:
    """Collect hand-off and solver seconds of every solve (either hand-off path)."""
    import pulp

    if legacy:
        original = pulp.HiGHS.buildSolverModel
        call = pulp.HiGHS.callSolver

        def build(self: Any, lp: Any) -> None:
            start = time.perf_counter()
            original(self, lp)
            t.handoff_s += time.perf_counter() - start
            t.nonzeros = max(t.nonzeros, lp.solverModel.getNumNz())

        def run(self: Any, lp: Any) -> None:
            start = time.perf_counter()
            call(self, lp)
            t.solve_s += time.perf_counter() - start
            t.solves += 1
            if t.solves == 1:
                t.first_objective = lp.solverModel.getInfo().objective_function_value

        pulp.HiGHS.buildSolverModel, pulp.HiGHS.callSolver = build, run  # type: ignore
        try:
            yield
        finally:
            pulp.HiGHS.buildSolverModel, pulp.HiGHS.callSolver = original, call  # type: ignore
        return
    solve = highs.solve

    def timed_solve(*args: Any, **kwargs: Any) -> highs.HighsRun:
        out = solve(*args, **kwargs)
        t.handoff_s += out.handoff_s
        t.solve_s += out.run_s
        t.solves += 1
        t.nonzeros = max(t.nonzeros, out.nonzeros)
        if t.solves == 1:
            t.first_objective = pulp.value(args[0].objective)
        return out

    highs.solve = timed_solve  # type: ignore[assignment]
    try:
        yield
    finally:
        highs.solve = solve  # type: ignore[assignment]


def run(jobs: int, sites: int, systems: int, *, integer: bool, time_limit_s: float,
        legacy: bool = False, method: highs.Method | None = None,
        mip_gap: float = MIP_REL_GAP, units_only: bool = False,
        one_stage: bool = False) -> Timings:
    """Build, solve and extract one size (the previous hand-off with ``legacy``; with
    ``units_only`` a MILP keeps whole units per (site, system) only: ``build_lp``'s whole
    units per placement, ``whole[j,r,s,h]``, become continuous, as in its integer model
    before placements were made whole; ``one_stage`` solves a whole-placement MILP in one
    stage instead of two, ``planner.lp.two_stage``)."""
    inputs = make_fleet(jobs, sites, systems)
    t = Timings()
    os.environ[highs.HANDOFF_ENV] = "pulp" if legacy else ""
    begin, cpu = time.perf_counter(), time.process_time()
    model = build_lp(inputs, integer=integer)
    if units_only:
        for var in model.vars.get("whole", {}).values():
            var.cat = "Continuous"
    t.build_s = time.perf_counter() - begin
    with instrumented(t, legacy):
        outcome = solve_lp(model, time_limit_s=time_limit_s, method=method, mip_gap=mip_gap,
                           two_stages=not one_stage)
    start = time.perf_counter()
    solution = extract_solution(model, outcome)
    t.extract_s = time.perf_counter() - start
    t.total_s = time.perf_counter() - begin
    t.cpu_s = time.process_time() - cpu
    t.objective, t.status, t.mip_gap = solution.total_cost_usd, outcome.status, outcome.mip_gap
    t.extra = {"variables": outcome.variables, "rows": outcome.constraints}
    t.check = whole_plan_problems(model) if integer and not units_only else []
    return t


def whole_plan_problems(m: Any) -> list[str]:
    """Rows of the whole-placement model the solved plan breaks (none for a buildable plan):
    every ``whole`` a whole number, ``place <= whole``, per pool ``sum whole <= units``."""
    tol = 1e-6
    value = {key: var.varValue or 0.0 for key, var in m.vars["whole"].items()}
    out = [f"whole{key} = {x}" for key, x in value.items() if abs(x - round(x)) > tol]
    out += [f"place{key} > whole" for key, var in m.vars["place"].items()
            if (var.varValue or 0.0) > value[key] + tol]
    used: dict[Any, float] = {}
    for key, x in value.items():
        used[key[-2:]] = used.get(key[-2:], 0.0) + x
    out += [f"units{pool} < {x}" for pool, x in used.items()
            if x > (m.vars["units"][pool].varValue or 0.0) + tol]
    return out


def highs_warnings(jobs: int, sites: int, systems: int, scaled: bool) -> list[str]:
    """The WARNING lines HiGHS logs when it is handed this size's model (before iterating)."""
    import highspy

    lp, _, _ = highs.to_matrix(build_lp(make_fleet(jobs, sites, systems)).prob)
    factors = highs.scaling_for(lp, highs.Method.DUAL_SIMPLEX) if scaled else identity(lp)
    with tempfile.TemporaryDirectory() as folder:
        log = os.path.join(folder, "highs.log")
        h = highspy.Highs()
        h.setOptionValue("log_to_console", False)
        h.setOptionValue("log_file", log)
        h.setOptionValue("time_limit", 0.0)
        h.passModel(highs._highs_lp(scale(lp, factors)))
        h.run()
        with open(log, encoding="utf-8") as file:
            return [line.strip() for line in file if "WARNING" in line]


def scaling_runs(jobs: int, sites: int, systems: int, seed: int) -> list[str]:
    """The first LP of this size handed to HiGHS' dual simplex unscaled, with rows and only
    the columns beyond 2**12 scaled (the default), with rows alone, and with every column:
    HiGHS CPU seconds, iterations, objective."""
    import highspy

    lp, _, _ = highs.to_matrix(build_lp(make_fleet(jobs, sites, systems, seed)).prob)
    out = []
    for label, factors in (("unscaled", identity(lp)),
                           ("large columns", highs.scaling_for(lp, highs.Method.DUAL_SIMPLEX)),
                           ("rows only", equilibrate(lp, column_threshold=math.inf)),
                           ("all columns", equilibrate(lp))):
        h = highspy.Highs()
        highs._options(h, highs.Method.DUAL_SIMPLEX, None, MIP_REL_GAP)
        h.passModel(highs._highs_lp(scale(lp, factors)))
        cpu = time.process_time()
        h.run()
        cpu = time.process_time() - cpu
        info = h.getInfo()
        objective = info.objective_function_value / (factors.cost * factors.size)
        out.append(f"{jobs:>5} {sites:>5} {systems:>7} {label:>16}  seed {seed}  "
                   f"HiGHS CPU {cpu:7.2f} s  {info.simplex_iteration_count:>7,} iterations  "
                   f"objective {objective:.12g}  {h.getModelStatus().name}")
    return out


HEADER = (f"{'jobs':>5} {'sites':>5} {'systems':>7} {'path':>16} {'variables':>10} {'rows':>8} "
          f"{'nonzeros':>10} {'build_s':>8} {'handoff_s':>9} {'solve_s':>8} {'extract_s':>9} "
          f"{'total_s':>8} {'cpu_s':>8}  {'cost (USD)':>16}  {'first LP obj':>14}  status")


def line(size: tuple[int, int, int], label: str, t: Timings) -> str:
    """One row of the table."""
    gap = "" if t.mip_gap is None else f" gap {100 * t.mip_gap:.2g} %"
    return (f"{size[0]:>5} {size[1]:>5} {size[2]:>7} {label:>16} {t.extra['variables']:>10,.0f} "
            f"{t.extra['rows']:>8,.0f} {t.nonzeros:>10,} {t.build_s:>8.2f} {t.handoff_s:>9.2f} "
            f"{t.solve_s:>8.2f} {t.extract_s:>9.2f} {t.total_s:>8.2f} {t.cpu_s:>8.2f}  "
            f"{t.objective:>16,.0f}  {t.first_objective:>14.8g}  "
            f"{t.status} ({t.solves} solves){gap}"
            + (f" BREAKS {len(t.check)} rows: {t.check[:3]}" if t.check else ""))


def main() -> None:
    """Run the ladder of sizes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--largest", type=int, default=1000, help="most jobs to try")
    parser.add_argument("--smallest", type=int, default=0, help="fewest jobs to try")
    parser.add_argument("--integer", action="store_true", help="solve the MILP")
    parser.add_argument("--time-limit", type=float, default=600.0, help="seconds per solve")
    parser.add_argument("--compare", action="store_true",
                        help="also run the previous path (PuLP's unscaled hand-off, and a MILP "
                             "gap of 1e-6 with --integer) and print the ratio of total times")
    parser.add_argument("--methods", nargs="*", choices=[m.value for m in highs.Method],
                        help="solve each size with these HiGHS LP methods (all if none named)")
    parser.add_argument("--previous-first", action="store_true",
                        help="with --compare, run the previous path first (load drifts)")
    parser.add_argument("--mip-gap", type=float, default=MIP_REL_GAP)
    parser.add_argument("--one-stage", action="store_true",
                        help="with --integer, solve the whole-placement MILP in one stage "
                             "(the path before the two-stage solve)")
    parser.add_argument("--units-only", action="store_true",
                        help="with --integer, whole units per (site, system) only, not per "
                             "placement (the MILP before whole placements; a relaxation)")
    parser.add_argument("--scalings", action="store_true",
                        help="only time the first LP of each size under dual simplex, unscaled "
                             "and scaled three ways")
    parser.add_argument("--seed", type=int, default=0, help="fleet seed (--scalings)")
    parser.add_argument("--warnings", action="store_true",
                        help="only count HiGHS' warnings about each size's model, scaled "
                             "and unscaled")
    args = parser.parse_args()
    for legacy in (False, True):  # imports and first-call costs stay out of the table
        run(10, 5, 3, integer=args.integer, time_limit_s=args.time_limit, legacy=legacy,
            units_only=legacy)
    print(HEADER, flush=True)
    for size in LADDER:
        if not args.smallest <= size[0] <= args.largest:
            continue
        if args.scalings:
            print("\n".join(scaling_runs(*size, args.seed)), flush=True)
            continue
        if args.warnings:
            for scaled in (False, True):
                found = highs_warnings(*size, scaled=scaled)
                print(f"{size[0]:>5} {size[1]:>5} {size[2]:>7} "
                      f"{'scaled' if scaled else 'unscaled':>16}  {len(found)} HiGHS warnings"
                      + "".join(f"\n{'':>24}{w}" for w in found), flush=True)
            continue
        common = {"integer": args.integer, "time_limit_s": args.time_limit,
                  "units_only": args.units_only}
        if args.integer and args.compare:
            compare_integer(size, args)
            continue
        common["one_stage"] = args.one_stage
        if args.methods is not None:
            for method in [highs.Method(m) for m in args.methods] or list(highs.Method):
                print(line(size, method.value, run(*size, **common, method=method)), flush=True)
            continue
        old_gap = 1e-6 if args.integer else 1e-4
        if args.compare and args.previous_first:
            old = run(*size, **common, legacy=True, mip_gap=old_gap)
            print(line(size, "previous", old), flush=True)
        new = run(*size, **common, mip_gap=args.mip_gap)
        label = "units-only" if args.units_only else "one-stage" if args.one_stage else "scaled"
        print(line(size, label if args.integer else "scaled", new), flush=True)
        if args.compare:
            if not args.previous_first:
                old = run(*size, **common, legacy=True, mip_gap=old_gap)
                print(line(size, "previous", old), flush=True)
            print(f"{'':>21} ratio scaled / previous: CPU {new.cpu_s / old.cpu_s:.2f}, "
                  f"total {new.total_s / old.total_s:.2f}, "
                  f"solve {new.solve_s / old.solve_s:.2f}, hand-off "
                  f"{new.handoff_s / old.handoff_s:.2f}", flush=True)


def compare_integer(size: tuple[int, int, int], args: argparse.Namespace) -> None:
    """Two stages at ``--mip-gap``, the previous path (PuLP hand-off, gap 1e-6, whole units
    per (site, system) only) and one stage at ``--mip-gap``, in that order (the previous path
    first with ``--previous-first``), then the ratios of the two-stage run to the others."""
    limit = args.time_limit
    runs = {"two-stage": lambda: run(*size, integer=True, time_limit_s=limit,
                                     mip_gap=args.mip_gap),
            "previous": lambda: run(*size, integer=True, time_limit_s=limit, legacy=True,
                                    mip_gap=1e-6, units_only=True),
            "one-stage": lambda: run(*size, integer=True, time_limit_s=limit,
                                     mip_gap=args.mip_gap, one_stage=True)}
    order = ["previous", "two-stage", "one-stage"] if args.previous_first else list(runs)
    done = {}
    for label in order:
        try:
            done[label] = runs[label]()
        except SolverError as err:  # the one-stage MILP may find no plan within the limit
            print(f"{size[0]:>5} {size[1]:>5} {size[2]:>7} {label:>16}  {err}", flush=True)
            continue
        print(line(size, label, done[label]), flush=True)
    new = done["two-stage"]
    for label in ("previous", "one-stage"):
        if label not in done:
            continue
        old = done[label]
        print(f"{'':>21} ratio two-stage / {label}: CPU {new.cpu_s / old.cpu_s:.2f}, "
              f"total {new.total_s / old.total_s:.2f}, cost "
              f"{new.objective / old.objective:.5f}", flush=True)


if __name__ == "__main__":
    main()
