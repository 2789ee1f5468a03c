"""`planner roadmap`: the command, its JSON contract, the scenario's time keys and their errors.

The LP's optimum on hand-built periods is tested in tests/unit/test_roadmap_lp.py; here the
whole path runs from YAML (performance model included) on a one-site fleet cut from the
default fleet, so that what must be bought is clear.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from pathlib import Path

import pytest
import yaml
from cli_run import run, run_json

from planner.roadmap_inputs import add_months, periods_of
from planner.workload.timeline import ExplicitPeriod, PeriodGrid, PeriodLength

ROOT = Path(__file__).resolve().parents[2]
MIXED = str(ROOT / "workloads/scenario_mixed.yaml")


def one_site_fleet(tmp_path: Path) -> Path:
    """The default fleet's Riyadh site alone: nothing owned, DGX B200 for sale."""
    full = yaml.safe_load((ROOT / "hardware/fleets/default.yaml").read_text())
    site = next(s for s in full["sites"] if s["id"] == "riyadh-expansion")
    fleet = {**full, "id": "riyadh-only", "links": [],
             "sites": [{**site, "purchase_limits": {"dgx-b200": 2000}}],
             "sources": {k: {"tag": "assumption", "note": "a test fleet"}
                         for k in ("economics", "cpu_server", "sites")}}
    path = tmp_path / "fleet.yaml"
    path.write_text(yaml.safe_dump(fleet))
    return path


def roadmap_file(tmp_path: Path, *, lead: str = "0 days", **extra: object) -> str:
    """A four-quarter roadmap: chat demand 0, 0, 200, 400 requests/s on the one-site fleet."""
    one_site_fleet(tmp_path)
    doc: dict[str, object] = {
        "name": "rm-test", "fleet": "fleet.yaml",
        "periods": {"start": "2027-01-01", "count": 4, "length": "quarter"},
        "discount_rate": "10%",
        "workloads": [{"name": "chat", "kind": "serve", "model": "llama-3.1-70b",
                       "input_tokens": 1000, "output_tokens": 1000,
                       "interactivity": "30 tokens/s", "weights_precision": "fp8",
                       "kv_precision": "fp8", "compute_precision": "fp8",
                       "requests_per_second": "50 requests/s"}],
        "schedule": {"chat": {"requests_per_second": {
            "2027-Q1": "0 requests/s", "2027-Q3": "200 requests/s",
            "2027-Q4": "400 requests/s"}}},
        "supply": {"systems": {"dgx-b200": {"lead_time": lead}}},
        **extra}
    path = tmp_path / "roadmap.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return str(path)


def purchases_by_period(data: dict) -> dict[str, float]:
    out: dict[str, float] = {}
    for row in data["purchases"]:
        out[row["period"]] = out.get(row["period"], 0.0) + row["units"]
    return out


def test_json_contract_keys_and_periods(tmp_path: Path) -> None:
    data = run_json("roadmap", roadmap_file(tmp_path))
    for key in ("schema_version", "status", "periods", "npv_usd", "cost_by_period_usd",
                "purchases", "retirements", "rentals", "power_buildout", "placements", "sites",
                "bottlenecks", "assumptions", "solver"):
        assert key in data, key
    assert [p["name"] for p in data["periods"]] == ["2027-Q1", "2027-Q2", "2027-Q3", "2027-Q4"]
    assert data["periods"][1] == {"name": "2027-Q2", "start": "2027-04-01",
                                  "end": "2027-07-01",
                                  "discount_factor": pytest.approx(1.1 ** -(90 / 365.0))}
    assert data["status"] == "optimal"
    assert all(b["period"] for b in data["bottlenecks"])


def test_demand_is_met_by_buying_when_it_appears(tmp_path: Path) -> None:
    data = run_json("roadmap", roadmap_file(tmp_path))
    bought = purchases_by_period(data)
    assert set(bought) == {"2027-Q3", "2027-Q4"}
    # twice the demand needs twice the units: Q4 buys as many again as Q3
    assert bought["2027-Q4"] == pytest.approx(bought["2027-Q3"], rel=1e-6)
    held = {r["period"]: r["units_held"] for r in data["capacity"]}
    assert held["2027-Q4"] == pytest.approx(2 * held["2027-Q3"], rel=1e-6)


def test_a_lead_time_in_the_supply_moves_purchases_one_quarter_earlier(tmp_path: Path) -> None:
    now = purchases_by_period(run_json("roadmap", roadmap_file(tmp_path)))
    later = purchases_by_period(run_json("roadmap", roadmap_file(tmp_path, lead="1 quarter")))
    assert later == pytest.approx({"2027-Q2": now["2027-Q3"], "2027-Q3": now["2027-Q4"]})


def test_integer_buys_whole_units(tmp_path: Path) -> None:
    data = run_json("roadmap", roadmap_file(tmp_path), "--integer")
    assert data["purchases"]
    assert all(r["units"] == round(r["units"]) for r in data["purchases"])
    assert data["solver"]["integer"] is True


def test_budget_per_period_that_cannot_pay_exits_3_naming_it(tmp_path: Path) -> None:
    code, _, err = run("roadmap", roadmap_file(tmp_path, budget_per_period="1M USD"))
    assert code == 3
    assert "budget" in err


def test_one_period_is_the_optimize_plan_and_cost() -> None:
    plan = run_json("optimize", MIXED)
    road = run_json("roadmap", MIXED)
    assert len(road["periods"]) == 1
    assert road["npv_usd"] == pytest.approx(plan["total_cost_usd"], rel=1e-9)
    key = ("site", "system", "job", "role")
    assert {tuple(p[k] for k in key): p["units"] for p in road["placements"]} == pytest.approx(
        {tuple(p[k] for k in key): p["units"] for p in plan["placements"]})


def test_optimize_refuses_a_roadmap_and_says_what_to_run(tmp_path: Path) -> None:
    code, _, err = run("optimize", roadmap_file(tmp_path))
    assert code == 2
    assert "planner roadmap" in err and "periods" in err


@pytest.mark.parametrize(("change", "expected"), [
    ({"schedule": {"chatt": {"growth_per_quarter": "10%"}}},
     "schedule.chatt: no workload named 'chatt'"),
    ({"schedule": {"chat": {"start": "2027-01-01", "duration": "30 days"}}},
     "chat is a serving workload"),
    ({"supply": {"sites": {"mars": {"power": {"2027-01-01": "10 MW"}}}}},
     "supply.sites.mars: unknown site 'mars'"),
    ({"supply": {"systems": {"dgx-b200": {"price_decline_per_year": "120%"}}}},
     "price_decline_per_year"),
    ({"schedule": {"chat": {"requests_per_second": {"2027-Q2": "10 requests/s"}}}},
     "no request rate for period 2027-Q1"),
    ({"schedule": {"chat": {"requests_per_second": {"2027-Q1": "0 requests/s"}}}},
     "no job runs in any period"),
])
def test_bad_time_keys_exit_2_with_where_and_how(tmp_path: Path, change: dict,
                                                 expected: str) -> None:
    code, _, err = run("roadmap", roadmap_file(tmp_path, **change))
    assert code == 2, err
    assert expected in err
    assert "Traceback" not in err
    assert re.search(r"roadmap\.yaml:\d+", err), err  # the line in the scenario file


def test_time_keys_without_periods_are_an_error(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"workloads": [str(ROOT / "workloads/serve_reasoning.yaml")],
                                    "discount_rate": "5%"}))
    code, _, err = run("roadmap", str(path))
    assert code == 2 and "add 'periods:" in err


@pytest.mark.parametrize(("length", "names"), [
    (PeriodLength.QUARTER, ["2027-Q1", "2027-Q2", "2027-Q3"]),
    (PeriodLength.MONTH, ["2027-01", "2027-02", "2027-03"]),
    (PeriodLength.HALF, ["2027-H1", "2027-H2", "2028-H1"]),
    (PeriodLength.YEAR, ["2027", "2028", "2029"]),
])
def test_period_names_follow_the_calendar(length: PeriodLength, names: list[str]) -> None:
    periods = periods_of(PeriodGrid(start=dt.date(2027, 1, 1), count=3, length=length))
    assert [p.name for p in periods] == names
    assert all(a.end == b.start for a, b in itertools.pairwise(periods))


def test_months_clamp_to_the_month_end_and_explicit_periods_must_not_overlap() -> None:
    assert add_months(dt.date(2027, 1, 31), 1) == dt.date(2027, 2, 28)
    assert periods_of(PeriodGrid(start=dt.date(2027, 2, 15), count=1))[0].name == "2027-02-15"
    from planner.errors import InputError

    with pytest.raises(InputError, match="overlap"):
        periods_of([ExplicitPeriod(name="a", start=dt.date(2027, 1, 1), end=dt.date(2027, 7, 1)),
                    ExplicitPeriod(name="b", start=dt.date(2027, 6, 1),
                                   end=dt.date(2027, 12, 1))])


def test_the_bundled_roadmap_loads_with_its_periods_schedule_and_supply() -> None:
    from planner.workload.load import load_scenario

    scenario = load_scenario(ROOT / "workloads/roadmap_2027.yaml")
    timeline = scenario.timeline
    assert timeline is not None
    assert [p.name for p in periods_of(timeline.periods)][::7] == ["2027-Q1", "2028-Q4"]
    assert {w.name for w in scenario.workloads} == set(timeline.schedule)
    vr = timeline.supply.systems["vr200-nvl144"]
    assert vr.available_from == dt.date(2027, 10, 1)


def test_the_api_returns_the_same_roadmap_as_the_command(tmp_path: Path) -> None:
    import planner

    path = roadmap_file(tmp_path)
    result = planner.roadmap(path, overrides=["discount_rate=0%"])
    data = result.to_dict()
    assert data["discount_rate"] == 0.0
    assert all(p["discount_factor"] == 1.0 for p in data["periods"])
    cli = run_json("roadmap", path, "--set", "discount_rate=0%")
    assert data["npv_usd"] == pytest.approx(cli["npv_usd"], rel=1e-9)
    # without discounting the NPV is the plain sum of the periods' totals
    assert data["npv_usd"] == pytest.approx(sum(r["total"] for r in data["cost_by_period_usd"]))
