"""Integer plans in two stages (planner/lp/two_stage.py): hand-built fleets whose first stage
(whole units per site and system only) places fractions of a unit per job.

Prices as in tests/unit/test_lp.py: a unit costs 5,000 USD of capital over the 0.1-year
horizon (250k USD, 5 years, no interest) plus 10 kW x 876 h x the site's electricity price:
438 USD at 50 USD/MWh (5,438 in all), 876 USD at 100 USD/MWh (5,876 in all). Plans more than
2 % above the first stage's bound are also solved in one stage (``ONE_STAGE_FROM_GAP``).
"""

from __future__ import annotations

from typing import Any

import pytest
from pulp import LpConstraintGE, LpConstraintLE
from test_lp import FLOPS, T, plan, site, system, train_job  # tests/unit/test_lp.py

from planner.lp import optimize
from planner.lp.build import BuiltLp, build_lp
from planner.lp.extract import extract_solution
from planner.lp.inputs import JobInput, PlanningInputs, RoleInput
from planner.lp.solution import Solution
from planner.lp.solve import SolveOutcome, solve_lp
from planner.lp.two_stage import proved_gap

A_UNIT, B_UNIT = 5_438.0, 5_876.0  # USD per unit at site a (50 USD/MWh), site b (100 USD/MWh)
TOL = 1e-6


def two_jobs(units: float = 100.5, *, cap_units: float = 1000,
             single_site: bool = False) -> PlanningInputs:
    """Two jobs of ``units`` units of work each; site a (cheap power, ``cap_units`` units of
    10 kW) and site b (dear power)."""
    sites = (site("a", cap_w=cap_units * 10e3), site("b", usd_per_mwh=100.0))
    jobs = (train_job(units, id="j1", single_site=single_site),
            train_job(units, id="j2", single_site=single_site))
    return plan(sites, jobs)


def big_or_small() -> PlanningInputs:
    """Two single-site jobs of 4 units of work each: site a buys only "big" units (8 units of
    work each, 35,438 USD: 35,000 capital + 438 energy), site b only "small" ones (1 unit of
    work, 5,438 USD). With whole units per site only, both jobs share one big unit at a
    (35,438 < 8 x 5,438 = 43,504); with whole placements each needs its own big unit
    (70,876), and 8 small units at b are cheaper (43,504)."""
    systems = (system("big", price=1_750_000.0), system("small"))
    role = RoleInput("train", 4 * FLOPS * T, "FLOP", {"big": 8 * FLOPS, "small": FLOPS},
                     bound={"big": "compute", "small": "compute"})
    jobs = tuple(JobInput(j, "pretrain", T, (role,), single_site=True) for j in ("j1", "j2"))
    sites = (site("a", buy={"big": 100}), site("b", buy={"small": 100}))
    return plan(sites, jobs, systems=systems)


def solved(inputs: PlanningInputs, *, two_stages: bool = True) -> tuple[BuiltLp, SolveOutcome]:
    m = build_lp(inputs, integer=True)
    return m, solve_lp(m, two_stages=two_stages)


def broken_rows(m: BuiltLp) -> list[str]:
    """Rows of the whole-placement model the plan breaks (none for a buildable plan): every
    row as built, every ``whole`` and ``units`` a whole number, and, spelled out,
    ``place <= whole`` and ``sum whole <= units`` per pool."""
    out = [row.constraint.name for row in m.rows.values() if not _holds(row.constraint)]
    whole = {key: var.varValue or 0.0 for key, var in m.vars["whole"].items()}
    out += [f"whole{key}" for key, x in whole.items() if abs(x - round(x)) > TOL]
    out += [f"place{key}" for key, var in m.vars["place"].items()
            if (var.varValue or 0.0) > whole[key] + TOL]
    for pool, var in m.vars["units"].items():
        units = var.varValue or 0.0
        held = sum(x for key, x in whole.items() if key[2:] == pool)
        if held > units + TOL or abs(units - round(units)) > TOL:
            out.append(f"units{pool}")
    return out


def _holds(constraint: Any) -> bool:
    """The row is met within 1e-6 of its size (PuLP's value includes the constant)."""
    value = constraint.value()
    size = TOL * max(1.0, abs(constraint.constant))
    if constraint.sense == LpConstraintLE:
        return bool(value <= size)
    if constraint.sense == LpConstraintGE:
        return bool(value >= -size)
    return bool(abs(value) <= size)


def whole_placements(sol: Solution) -> bool:
    """Every accelerator placement of the extracted plan is a whole number of units."""
    return all(p.units == round(p.units) for p in sol.placements if p.system != "cpu")


def notes(outcome: SolveOutcome) -> str:
    return " ".join(outcome.notes)


def test_rounding_each_job_up_is_proved_against_the_first_stage_bound() -> None:
    # Stage 1: 201 units at a hold 100.5 + 100.5 units of work: 201 x 5,438 = 1,093,038 USD,
    # its bound. Whole placements: 101 units each, 202 x 5,438 = 1,098,476 USD, also the
    # one-stage optimum; gap (1,098,476 - 1,093,038) / 1,098,476 = 1 / 202, under 2 %.
    m, outcome = solved(two_jobs())
    assert outcome.status == "optimal"
    assert broken_rows(m) == []
    sol = extract_solution(m, outcome)
    assert whole_placements(sol)
    assert sol.total_cost_usd == pytest.approx(202 * A_UNIT, rel=1e-6)
    assert sorted((p.job, p.site, p.units) for p in sol.placements) == [
        ("j1", "a", 101.0), ("j2", "a", 101.0)]
    assert sol.solver.mip_gap == pytest.approx(1 / 202, rel=1e-4)
    assert "two stages" in notes(outcome) and "near neighbourhood" in notes(outcome)
    assert "1,093,038 USD" in notes(outcome) and "1,098,476 USD" in notes(outcome)
    assert "also solved in one stage" not in notes(outcome)
    one_m, one = solved(two_jobs(), two_stages=False)
    assert extract_solution(one_m, one).total_cost_usd == pytest.approx(sol.total_cost_usd)
    assert not one.notes


def test_a_full_site_sends_the_rounding_to_the_open_neighbourhood() -> None:
    # Site a holds 201 units (2.01 MW): stage 1 puts both jobs there (1,093,038 USD). Near it
    # each job would need 101 units at a, 202 > 201; the open neighbourhood moves half a unit
    # of one job to b: 201 x 5,438 + 5,876 = 1,098,914 USD, gap 5,876 / 1,098,914.
    m, outcome = solved(two_jobs(cap_units=201))
    assert broken_rows(m) == []
    sol = extract_solution(m, outcome)
    assert whole_placements(sol)
    assert sol.total_cost_usd == pytest.approx(201 * A_UNIT + B_UNIT, rel=1e-6)
    assert sum(p.units for p in sol.placements if p.site == "a") == 201.0
    assert sum(p.units for p in sol.placements if p.site == "b") == 1.0
    assert sol.solver.mip_gap == pytest.approx(B_UNIT / (201 * A_UNIT + B_UNIT), rel=1e-4)
    assert "open neighbourhood" in notes(outcome)
    one_m, one = solved(two_jobs(cap_units=201), two_stages=False)
    assert extract_solution(one_m, one).total_cost_usd == pytest.approx(sol.total_cost_usd)


def test_site_choices_that_cannot_be_made_whole_fall_back_to_one_stage() -> None:
    # Single-site jobs: stage 1 picks a for both (201 units). With the picks fixed neither
    # neighbourhood fits 101 + 101 units at a, so the whole-placement MILP is solved in one
    # stage: one job at a, the other at b, 101 x 5,438 + 101 x 5,876 = 1,142,714 USD, proved
    # optimal.
    m, outcome = solved(two_jobs(cap_units=201, single_site=True))
    assert broken_rows(m) == []
    sol = extract_solution(m, outcome)
    assert whole_placements(sol)
    assert sol.total_cost_usd == pytest.approx(101 * A_UNIT + 101 * B_UNIT, rel=1e-6)
    assert sorted(p.site for p in sol.placements) == ["a", "b"]
    assert sol.solver.mip_gap is not None and sol.solver.mip_gap <= 1e-4
    assert "in one stage" in notes(outcome)


def test_a_plan_far_above_the_bound_is_retried_in_one_stage() -> None:
    # big_or_small: stage 1 picks a for both jobs (one big unit, 35,438 USD); near it, a big
    # unit each, 70,876 USD, 50 % above that bound. Solved again in one stage: 8 small units
    # at b, 43,504 USD, proved optimal.
    m, outcome = solved(big_or_small())
    assert broken_rows(m) == []
    sol = extract_solution(m, outcome)
    assert whole_placements(sol)
    assert sol.total_cost_usd == pytest.approx(8 * A_UNIT, rel=1e-6)
    assert sorted((p.job, p.site, p.system, p.units) for p in sol.placements) == [
        ("j1", "b", "small", 4.0), ("j2", "b", "small", 4.0)]
    assert sol.solver.mip_gap is not None and sol.solver.mip_gap <= 1e-4
    assert "35,438 USD" in notes(outcome) and "70,876 USD" in notes(outcome)
    assert "also solved in one stage" in notes(outcome)


def test_a_retry_that_finds_nothing_cheaper_keeps_the_plan_and_proves_it() -> None:
    # 2.5 + 2.5 units: 6 whole units (32,628 USD) are 1/6 above stage 1's 5 (27,190 USD);
    # the one-stage solve proves 32,628 optimal, so the plan stays and its gap closes.
    m, outcome = solved(two_jobs(2.5))
    assert broken_rows(m) == []
    sol = extract_solution(m, outcome)
    assert whole_placements(sol)
    assert sol.total_cost_usd == pytest.approx(6 * A_UNIT, rel=1e-6)
    assert sol.solver.mip_gap is not None and sol.solver.mip_gap <= 1e-4
    assert "near neighbourhood" in notes(outcome)
    assert "also solved in one stage" in notes(outcome)


def test_cbc_proves_no_bound_so_no_gap_is_reported() -> None:
    # CBC (through PuLP) reports no bound: the plan is the same, its gap unknown.
    highs = optimize(two_jobs(2.5), integer=True)
    cbc = optimize(two_jobs(2.5), integer=True, solver="cbc")
    assert cbc.total_cost_usd == pytest.approx(highs.total_cost_usd, rel=1e-6)
    assert cbc.solver.mip_gap is None


@pytest.mark.parametrize(("objective", "bound", "gap"), [
    (32_628.0, 27_190.0, 5_438.0 / 32_628.0), (100.0, 100.0, 0.0), (100.0, 100.5, 0.0),
    (100.0, None, None)])
def test_proved_gap(objective: float, bound: float | None, gap: Any) -> None:
    assert proved_gap(objective, bound) == (gap if gap is None else pytest.approx(gap))


def test_json_and_report_carry_the_two_stage_note_and_gap() -> None:
    data = optimize(two_jobs(), integer=True).to_dict()
    assert data["solver"]["mip_gap"] == pytest.approx(1 / 202, rel=1e-4)
    texts = [a["value"] for a in data["assumptions"] if a["name"].startswith("solver_note")]
    assert any("made whole in two stages" in str(t) for t in texts)
