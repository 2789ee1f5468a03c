"""Build and solve synthetic fleets of growing size; print build time, solve time and their ratio.

Not a test. Each fleet has S sites (in S/3 regions, linked in a ring plus chords), H systems
and J jobs: 60 % pretraining (half of them single-site), 25 % RL post-training spread over
sites, 15 % serving with a latency bound. Each job's model fits on a random 70 % of the systems.

    python benchmarks/bench_lp.py                 # the default ladder, LP mode
    python benchmarks/bench_lp.py --largest 100   # stop after 100 jobs
    python benchmarks/bench_lp.py --integer       # MILP (slow beyond the small sizes)
"""

from __future__ import annotations

import argparse
import random
import time

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
)
from planner.lp.build import build_lp
from planner.lp.solve import solve_lp
from planner.units import SECONDS_PER_DAY, SECONDS_PER_YEAR

LADDER = ((10, 5, 3), (50, 10, 5), (200, 20, 8), (500, 30, 10))  # jobs, sites, systems
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


def run(jobs: int, sites: int, systems: int, integer: bool, time_limit_s: float) -> None:
    """Build and solve one size; print one line."""
    inputs = make_fleet(jobs, sites, systems)
    start = time.perf_counter()
    model = build_lp(inputs, integer=integer)
    built = time.perf_counter() - start
    outcome = solve_lp(model, time_limit_s=time_limit_s)
    print(f"{jobs:>5} {sites:>5} {systems:>7} {outcome.variables:>10,} "
          f"{outcome.constraints:>10,} {built:>9.2f} {outcome.seconds:>9.2f} "
          f"{outcome.seconds / built:>7.2f}  {outcome.status}", flush=True)


def main() -> None:
    """Run the ladder of sizes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--largest", type=int, default=500, help="most jobs to try")
    parser.add_argument("--integer", action="store_true", help="solve the MILP")
    parser.add_argument("--time-limit", type=float, default=600.0, help="seconds per solve")
    args = parser.parse_args()
    print(f"{'jobs':>5} {'sites':>5} {'systems':>7} {'variables':>10} {'rows':>10} "
          f"{'build_s':>9} {'solve_s':>9} {'ratio':>7}  status")
    for jobs, sites, systems in LADDER:
        if jobs <= args.largest:
            run(jobs, sites, systems, args.integer, args.time_limit)


if __name__ == "__main__":
    main()
