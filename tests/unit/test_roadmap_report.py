"""The roadmap report (`planner roadmap`): tables, cash flow, bottlenecks in words, CSV, plots.

All figures come from the hand-made roadmap in ``roadmap_fixture.py``; the expected values are
worked out by hand in the comments.
"""

from __future__ import annotations

import copy
import csv
import io
import itertools
import math
from typing import Any

import pytest
from roadmap_fixture import PARTS, PERIODS, ROADMAP, large_roadmap

from planner.report.model import KeyValues, Report, Table
from planner.report.render import csv_tables, primary_csv, render_report
from planner.report.roadmap import roadmap_report, shadow_price_words


def _table(report: Report, key: str) -> Table:
    return next(s for s in report.sections if isinstance(s, Table) and s.key == key)


def _cash_tables(report: Report) -> list[Table]:
    return [s for s in report.sections if isinstance(s, Table) and s.key == "cash_flow"]


def _rows(table: Table) -> dict[str, tuple[str, ...]]:
    """Cash-flow rows by their label."""
    return {row[0]: row[1:] for row in table.rows}


@pytest.fixture(scope="module")
def report() -> Report:
    return roadmap_report(ROADMAP)


def test_headline_gives_the_npv_periods_and_solver(report: Report) -> None:
    head = report.sections[0]
    assert isinstance(head, KeyValues)
    items = dict(head.items)
    # Totals: Q1 39 + 1.2 + 2.5 + 0.35 + 0.05 + 0.02 + 6 = 49.12M; Q2 72 + 1.57248 + 1.9 + 3.8
    # + 0.03 = 79.30248M; Q3 2.4 + 4.9 + 0.1 + 0.02 + 0.04 - 88.2 = -80.74M. Discounted:
    # 49.12 + 79.30248 x 0.9765 - 80.74 x 0.9535 = 49.12 + 77.43837 - 76.98559 = 49.57278M.
    assert items["net present value"] == "49.57M USD"
    assert items["spend, undiscounted (remaining value credited)"] == "47.68M USD"
    assert items["periods"] == "3: 2027-Q1 to 2027-Q3 (2027-01-01 to 2027-10-01)"
    assert items["discount rate"] == "10% a year"
    assert items["bought"] == "30 gb200-nvl72 for 111M USD"  # 10 + 15 + 5 racks
    assert items["fleet"] == "default"
    assert items["solver"].startswith("highs Optimal, 1.20 s, continuous")
    assert report.title == "Roadmap for roadmap-2027 on fleet default, 2027-Q1 to 2027-Q3"


def test_roadmap_table_per_period_site_and_system(report: Report) -> None:
    table = _table(report, "roadmap")
    assert table.headers == ("period, site", "system", "bought", "arriving", "retired",
                             "rented", "held", "MW used/cap")
    # One row per period x site x system with anything in it (Virginia holds no GB200 in Q1),
    # 11 in all, and a row naming each of the 3 periods.
    assert len(table.records) == 11
    assert [row[0] for row in table.rows if row[0].startswith("2027")] == list(PERIODS)
    q2 = list(table.rows[4:9])  # after Q1: its own row, 2 at Texas, 1 at Virginia
    assert q2 == [
        ("2027-Q2", "", "", "", "", "", "", ""),
        # Texas: 6 MW used of 6 on the site's first row; GB200: 15 bought, the 10 bought in
        # Q1 arrive, 4 rented, 20 + 10 = 30 held.
        ("  texas-gb200", "dgx-h100", "", "", "", "", "16", "6/6"),
        ("", "gb200-nvl72", "15", "10", "", "4", "30", ""),
        # 40 DGX H100 reach end of life: 100 - 40 = 60 held; 5 GB200 bought, none held yet.
        ("  virginia-h100", "dgx-h100", "", "", "40", "", "60", "0.86/2"),
        ("", "gb200-nvl72", "5", "", "", "", "", ""),
    ]
    # Q3: 20 DGX H100 retired early (60 - 20 = 40 held); Virginia's 5 racks arrive.
    assert table.rows[-2:] == (("  virginia-h100", "dgx-h100", "", "", "20 early", "", "40",
                                "1.5/2"),
                               ("", "gb200-nvl72", "", "5", "", "", "5", ""))


def test_arrivals_retirements_and_holdings_balance(report: Report) -> None:
    """units[t] = units[t-1] + arrivals[t] - retirements[t], read back from the table."""
    records = _table(report, "roadmap").records
    held = {(r["period"], r["site"], r["system"]): r for r in records}
    periods = [p["name"] for p in ROADMAP["periods"]]
    for before, now in itertools.pairwise(periods):
        for (period, site, system), r in held.items():
            if period != now:
                continue
            previous = held.get((before, site, system), {"units_held": 0.0})
            assert r["units_held"] == pytest.approx(
                previous["units_held"] + r["arriving_units"] - r["retired_units"])


def _number(cell: str) -> float:
    return float(cell.replace(",", ""))


def test_cash_flow_parts_add_up_to_the_totals_as_printed(report: Report) -> None:
    (table,) = _cash_tables(report)
    assert table.headers == ("part (M USD)", "2027-Q1", "2027-Q2", "2027-Q3", "all periods")
    rows = _rows(table)
    assert rows["purchase"] == ("39.00", "72.00", "0.00", "111.00")
    assert rows["remaining value (credit)"] == ("0.00", "0.00", "-88.20", "-88.20")
    assert rows["CPU server energy"] == ("0.05", "0.00", "0.02", "0.07")
    assert rows["total"] == ("49.12", "79.30", "-80.74", "47.68")
    assert rows["discount factor"] == ("1.0000", "0.9765", "0.9535", "")
    assert rows["discounted total (sum: NPV)"] == ("49.12", "77.44", "-76.99", "49.57")
    parts = [label for label in rows if label not in ("total", "discount factor",
                                                      "discounted total (sum: NPV)")]
    assert len(parts) == len(PARTS)  # every part is non-zero in some period
    for column in range(4):
        printed = sum(_number(rows[p][column]) for p in parts)
        # each printed part is rounded to 0.005M at most: 9 parts and the total
        assert printed == pytest.approx(_number(rows["total"][column]), abs=10 * 0.005)
    for column in range(3):
        assert _number(rows["total"][column]) * _number(rows["discount factor"][column]) == \
            pytest.approx(_number(rows["discounted total (sum: NPV)"][column]), abs=0.01)
    discounted = rows["discounted total (sum: NPV)"]
    npv = sum(_number(c) for c in discounted[:3])
    assert npv == pytest.approx(_number(discounted[3]), abs=0.015)
    assert _number(discounted[3]) == pytest.approx(ROADMAP["npv_usd"] / 1e6, abs=0.005)


def test_cash_flow_leaves_out_parts_that_are_zero_throughout() -> None:
    data = copy.deepcopy(ROADMAP)
    for row in data["cost_by_period_usd"]:
        row["total"] -= row["egress"]
        row["egress"] = 0.0
    rows = _rows(_cash_tables(roadmap_report(data))[0])
    assert "egress" not in rows
    assert "energy" in rows


def _long_roadmap(quarters: int) -> dict[str, Any]:
    """The fixture's cash flow repeated over ``quarters`` periods (10% a year per quarter)."""
    data = copy.deepcopy(ROADMAP)
    names = [f"{2027 + q // 4}-Q{q % 4 + 1}" for q in range(quarters)]
    data["periods"] = [{"name": n, "start": "", "end": ""} for n in names]
    base = ROADMAP["cost_by_period_usd"][1]
    data["cost_by_period_usd"] = [
        {**base, "period": n, "discount_factor": 1.1 ** (-q / 4),
         "discounted_total": base["total"] * 1.1 ** (-q / 4)} for q, n in enumerate(names)]
    data["npv_usd"] = sum(r["discounted_total"] for r in data["cost_by_period_usd"])
    return data


def test_a_long_cash_flow_splits_into_tables_that_fit_100_columns(
        monkeypatch: pytest.MonkeyPatch) -> None:
    report = roadmap_report(_long_roadmap(12))
    tables = _cash_tables(report)
    # 12 periods and the 'all periods' column: 13 columns in two tables of 7 and 6
    assert [len(t.headers) - 1 for t in tables] == [7, 6]
    assert tables[0].headers[1] == "2027-Q1"
    assert tables[1].headers[-2:] == ("2029-Q4", "all periods")
    assert len(tables[0].records) == 12 and tables[1].records == ()
    monkeypatch.setenv("COLUMNS", "100")
    text = render_report(report, "table")
    assert max(len(line) for line in text.splitlines()) <= 100
    assert "Cash flow (M USD) (2 of 2)" in text


def test_terminal_table_fits_100_columns(monkeypatch: pytest.MonkeyPatch,
                                         report: Report) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    text = render_report(report, "table")
    assert max(len(line) for line in text.splitlines()) <= 100
    assert "virginia-h100" in text and "8.7/10" in text and "20 early" in text


def test_long_names_and_many_periods_fit_100_columns_unfolded(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    text = render_report(roadmap_report(large_roadmap(12)), "table")
    assert max(len(line) for line in text.splitlines()) <= 100
    # the longest site and system names and the power cells stay on one line
    assert "│   riyadh-expansion │ dgx-h100         │" in text
    assert "│ trn2-ultraserver │" in text and "30/70 │" in text


def test_bottlenecks_in_words_by_period(report: Report) -> None:
    table = _table(report, "bottlenecks")
    assert [row[:2] for row in table.rows] == [
        ("all", "budget binds over all periods: 0.08 USD per USD"),
        ("2027-Q2", "power at texas-gb200 binds in 2027-Q2: 2.1M USD per MW"),
        ("2027-Q3", "inventory at virginia-h100/dgx-h100 binds in 2027-Q3: 41k USD per unit"),
    ]  # the zero-priced power limit at Virginia is left out
    assert table.rows[1][2] == "site_power[texas-gb200,2027-Q2]"


@pytest.mark.parametrize(("price", "unit", "words"), [
    (-2.1e6, "USD/MW", "2.1M USD per MW"),
    (3.5, "USD/W", "3.5M USD per MW"),  # 3.5 USD/W x 1e6 W/MW
    (41_000.0, "USD/unit", "41k USD per unit"),
    (0.25, "x/unit", "0.25 x/unit"),
])
def test_shadow_price_words(price: float, unit: str, words: str) -> None:
    assert shadow_price_words(price, unit) == words


def test_purchases_and_power_buildout(report: Report) -> None:
    purchases = _table(report, "purchases")
    assert purchases.headers == ("bought in", "site", "system", "units", "arrives in",
                                 "cost (USD)")
    assert purchases.rows[0] == ("2027-Q1", "texas-gb200", "gb200-nvl72", "10", "2027-Q2",
                                 "39M")
    build = _table(report, "power_buildout")
    assert build.rows == (("2027-Q1", "texas-gb200", "4", "2027-Q3", "6M"),)


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_csv_tables_carry_raw_si_values(report: Report) -> None:
    tables = csv_tables(report)
    assert primary_csv(report)[0] == "roadmap"
    roadmap = _csv(tables["roadmap"])
    assert list(roadmap[0]) == ["period", "site", "system", "bought_units", "arriving_units",
                                "retired_units", "retired_early_units", "rented_units",
                                "units_held", "power_used_w", "power_cap_w"]
    q2 = next(r for r in roadmap if (r["period"], r["site"], r["system"]) ==
              ("2027-Q2", "texas-gb200", "gb200-nvl72"))
    assert float(q2["power_used_w"]) == 6.0e6 and float(q2["units_held"]) == 30.0
    cash = _csv(tables["cash_flow"])
    assert list(cash[0]) == ["period", *PARTS, "total", "discount_factor", "discounted_total"]
    for row in cash:  # the parts add up to each period's total, in USD
        assert math.fsum(float(row[p]) for p in PARTS) == pytest.approx(float(row["total"]))
    assert math.fsum(float(r["discounted_total"]) for r in cash) == \
        pytest.approx(ROADMAP["npv_usd"])
    assert {"bottlenecks", "purchases", "power_buildout", "jobs", "placements_by_period",
            "assumptions", "summary"} <= set(tables)


def test_objective_as_planner_optimize_writes_it(report: Report) -> None:
    data = copy.deepcopy(ROADMAP)
    data["objective"] = {"name": "cost"}
    head = roadmap_report(data).sections[0]
    assert isinstance(head, KeyValues)
    assert dict(head.items)["objective"] == "cost: net present value of all spending"


def test_notes_follow_the_headline(report: Report) -> None:
    notes = report.sections[1]
    assert isinstance(notes, KeyValues) and notes.title == "Notes"
    assert notes.items == (("1.", ROADMAP["notes"][0]),)


def test_one_period_roadmap_with_the_cost_parts_of_optimize() -> None:
    """``planner roadmap`` on a scenario without periods: one period named 'plan', no dates,
    no capacity rows, optimize's cost parts (owned capital among them)."""
    data = {"periods": [{"name": "plan", "start": None, "end": None, "discount_factor": 1.0}],
            "discount_rate": 0.0, "npv_usd": 10.0e6, "capacity": [],
            "cost_by_period_usd": [{"period": "plan", "purchase": 0.0,
                                    "inventory_capex": 4.0e6, "energy": 2.0e6,
                                    "colocation": 4.0e6, "total": 10.0e6,
                                    "discount_factor": 1.0, "discounted_total": 10.0e6}],
            "sites": [{"period": "plan", "site": "texas-gb200", "power_used_w": 2e6,
                       "power_cap_w": 40e6}]}
    report = roadmap_report(data, figures=True)
    head = report.sections[0]
    assert isinstance(head, KeyValues)
    assert dict(head.items)["periods"] == "1: plan"
    assert report.title.endswith(", plan")
    assert dict(head.items)["discount rate"] == "0% a year"
    assert _rows(_cash_tables(report)[0])["owned capital"] == ("4.00", "4.00")
    assert "purchase" not in _rows(_cash_tables(report)[0])  # zero throughout
    assert _table(report, "roadmap").rows == (("plan", "", "", "", "", "", "", ""),
                                              ("  texas-gb200", "", "", "", "", "",
                                               "", "2/40"))
    assert len(report.figures) == 2  # no capacity plot without capacity rows


def test_markdown_has_every_section_as_a_table(report: Report) -> None:
    text = render_report(report, "markdown")
    assert text.startswith("# Roadmap for roadmap-2027")
    assert "- **net present value**: 49.57M USD" in text
    assert "| part (M USD) | 2027-Q1 | 2027-Q2 | 2027-Q3 | all periods |" in text
    assert "| total | 49.12 | 79.30 | -80.74 | 47.68 |" in text
    assert "|  | gb200-nvl72 | 15 | 10 |  | 4 | 30 |  |" in text
    for title in ("## Cash flow (M USD)", "## Bottlenecks per period", "## Purchases",
                  "## Power build-out", "## Jobs", "## Placements per period", "## Assumptions"):
        assert title in text


def test_html_has_the_three_plots() -> None:
    report = roadmap_report(ROADMAP, figures=True)
    assert len(report.figures) == 3
    capacity, power, spend = report.figures
    for label in ("accelerators", "busy (placed)", "gb200-nvl72", "dgx-h100", "rented"):
        assert label in capacity
    for label in ("power (MW)", "texas-gb200 used", "texas-gb200 cap", "virginia-h100 cap"):
        assert label in power
    # cumulative spend before the remaining value: 49.12 + 79.30 + 7.46 = 135.9M paid and
    # 49.12 + 77.44 + 7.46 x 0.9535 = 133.7M discounted; after the 88.2M credit (84.1M
    # discounted) it ends at 47.68M undiscounted and 49.57M discounted (the NPV)
    for label in ("135.9 M", "133.7 M", "47.68 M", "49.57 M", "less the remaining value"):
        assert label in spend
    page = render_report(report, "html")
    assert page.count("<svg") == 3 and "<table>" in page
    assert "power at texas-gb200 binds in 2027-Q2: 2.1M USD per MW" in page


def test_no_plots_without_data() -> None:
    data = {"periods": [], "cost_by_period_usd": [], "npv_usd": 0.0}
    report = roadmap_report(data, figures=True)
    assert report.figures == ()
    assert render_report(report, "table")  # renders an empty roadmap without failing


def test_plots_of_degenerate_roadmaps_draw_without_warnings() -> None:
    from planner.report.roadmap_plots import capacity_plot, cumulative_spend_plot, power_plot

    zero = cumulative_spend_plot([{"period": "2027-Q1", "total": 0.0,
                                   "discounted_total": 0.0}])
    assert zero.startswith("<svg") and "remaining value" not in zero  # no credit, no step
    assert "no accelerators held" in capacity_plot(["2027-Q1"], [])
    assert "no sites" in power_plot(["2027-Q1"], [])
    no_cap = power_plot(["2027-Q1"], [{"period": "2027-Q1", "site": "a", "power_used_w": 1e6,
                                       "power_cap_w": None}])
    assert "a used" in no_cap and "a cap" not in no_cap
