"""Report sections for `planner roadmap`: what to buy, build, rent and retire where, per period.

The sections: a headline (net present value, periods, solver), the roadmap per period, site and
system (bought, arriving, retired, rented, units held, power used of available), the cash flow
per period (each cost part, total, discount factor, discounted total; the discounted totals add
up to the net present value), the bottlenecks per period in words, the purchases and power
build-outs, the jobs' work per period, the placements and the assumptions. Every label names its
unit once; the cells carry numbers only.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from planner.report.estimate import assumptions_table
from planner.report.fmt import format_value
from planner.report.model import KeyValues, Report, Table
from planner.units import Dimension, format_quantity

__all__ = ["capacity_rows", "cash_flow_columns", "cost_parts", "roadmap_report",
           "shadow_price_words"]

_EPS = 1e-9
_PARTS = ("purchase", "inventory_capex", "rental", "energy", "colocation", "cpu_servers",
          "cpu_server_energy", "egress", "power_buildout", "remaining_value")
"""The cost parts in the order the cash flow lists them; parts not named here follow."""
_NOT_PARTS = frozenset({"period", "total", "discount_factor", "discounted_total"})
_PART_LABELS = {"cpu_servers": "CPU servers", "cpu_server_energy": "CPU server energy",
                "inventory_capex": "owned capital", "power_buildout": "power build-out",
                "remaining_value": "remaining value (credit)"}
_CASH_COLUMNS_PER_TABLE = 7
"""Period columns per cash-flow table, so that each fits a 100-column terminal."""


# ---------------------------------------------------------------------------------------------
# Numbers for people (the unit is in the label)


def _count(value: float) -> str:
    """Units: '' for none, '12', '12.5', '1,234'."""
    return "" if abs(value) < _EPS else format_value("units", value)


def _usd(value: float) -> str:
    """USD without the unit (the label says USD): '39M', '1.57M', '-88.2M'."""
    return format_quantity(value, Dimension.COUNT, digits=3)


def _mw(watts: float) -> str:
    """Megawatts without the unit: '8.7', '0.86', '150', '1,234'."""
    mw = watts / 1e6
    return f"{mw:,.0f}" if abs(mw) >= 1000 else f"{mw:,.3g}"


def _scale(values: Iterable[float]) -> tuple[float, str]:
    """A divisor and its word for a table of USD amounts: (1e6, 'M USD')."""
    top = max((abs(v) for v in values), default=0.0)
    for divisor, word in ((1e9, "B USD"), (1e6, "M USD"), (1e3, "k USD")):
        if top >= 10 * divisor:
            return divisor, word
    return 1.0, "USD"


# ---------------------------------------------------------------------------------------------
# Reading the result dict


def _span(names: Sequence[str]) -> str:
    """'2027-Q1 to 2028-Q4', or the one period's name."""
    return names[0] if len(names) == 1 else f"{names[0]} to {names[-1]}"


def _period_names(data: dict[str, Any]) -> list[str]:
    return [str(p["name"]) for p in data.get("periods", [])]


def capacity_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Units held (owned), rented and busy per period, site and system (``capacity``)."""
    return list(data.get("capacity") or [])


def _fleet_name(data: dict[str, Any]) -> str:
    return str(data.get("fleet", ""))


def _sum_by(records: Iterable[dict[str, Any]], period_key: str = "period",
            value_key: str = "units") -> dict[tuple[str, str, str], float]:
    out: dict[tuple[str, str, str], float] = defaultdict(float)
    for r in records:
        out[str(r[period_key]), str(r["site"]), str(r["system"])] += float(r.get(value_key, 0.0))
    return out


# ---------------------------------------------------------------------------------------------
# Sections


def _headline(data: dict[str, Any]) -> KeyValues:
    periods = data.get("periods", [])
    names = _period_names(data)
    span = f"{len(names)}: {_span(names)}" if names else "none"
    if names and periods[0].get("start") and periods[-1].get("end"):
        span += f" ({periods[0]['start']} to {periods[-1]['end']})"
    rate = data.get("discount_rate")
    spend = sum(float(r.get("total", 0.0)) for r in data.get("cost_by_period_usd", []))
    items = [
        ("scenario", str(data.get("scenario", ""))),
        ("fleet", _fleet_name(data)),
        ("status", str(data.get("status", ""))),
        ("objective", f"{_objective_name(data.get('objective'))}: net present value of all "
                      "spending"),
        ("periods", span),
        ("discount rate", "-" if rate is None else f"{100 * float(rate):.3g}% a year"),
        ("net present value", format_quantity(float(data.get("npv_usd", 0.0)), Dimension.MONEY,
                                              digits=4)),
        ("spend, undiscounted (remaining value credited)",
         format_quantity(spend, Dimension.MONEY, digits=4)),
        ("bought", _bought(data)),
        ("power built", _built(data)),
        ("solver", _solver(data.get("solver", {}))),
    ]
    return KeyValues("Roadmap", tuple(items))


def _objective_name(objective: Any) -> str:
    """'cost' from 'cost' or from {'name': 'cost', ...}."""
    if isinstance(objective, dict):
        return str(objective.get("name", "cost"))
    return str(objective or "cost")


def _bought(data: dict[str, Any]) -> str:
    units: dict[str, float] = defaultdict(float)
    for p in data.get("purchases", []):
        units[str(p["system"])] += float(p["units"])
    cost = sum(float(p.get("cost_usd", 0.0)) for p in data.get("purchases", []))
    if not units:
        return "nothing"
    listed = ", ".join(f"{format_value('units', n)} {s}" for s, n in sorted(units.items()))
    return f"{listed} for {format_quantity(cost, Dimension.MONEY)}"


def _built(data: dict[str, Any]) -> str:
    rows = data.get("power_buildout", [])
    if not rows:
        return "nothing"
    return ", ".join(f"{r['mw']:,.3g} MW at {r['site']} (bought {r['period']}, online "
                     f"{r.get('online', '-')}, {format_quantity(r['cost_usd'], Dimension.MONEY)})"
                     for r in rows)


def _solver(solver: dict[str, Any]) -> str:
    kind = ("whole units" if solver.get("integer") else
            "continuous (units may be fractional)")
    gap = solver.get("mip_gap")
    gap_text = "" if gap is None else f", gap {100 * float(gap):.2g}%"
    return (f"{solver.get('name', '')} {solver.get('status', '')}, "
            f"{float(solver.get('seconds', 0.0)):.2f} s, {kind}{gap_text}")


def _roadmap_records(data: dict[str, Any]) -> list[dict[str, Any]]:
    """One record per period, site and system with anything held, bought, arriving, retired or
    rented, plus one per site and period with power but no units; power on every record."""
    order = {name: i for i, name in enumerate(_period_names(data))}
    held = _sum_by(capacity_rows(data), value_key="units_held")
    bought = _sum_by(data.get("purchases", []))
    arriving = _sum_by(data.get("purchases", []), period_key="arrives")
    retired = _sum_by(data.get("retirements", []))
    early = _sum_by(r for r in data.get("retirements", []) if r.get("reason") == "early")
    rented = _sum_by(data.get("rentals", []))
    power = {(str(s["period"]), str(s["site"])): s for s in data.get("sites", [])}
    keys = {k for table in (held, bought, arriving, retired, rented) for k, v in table.items()
            if abs(v) > _EPS}
    keys |= {(p, site, "") for p, site in power
             if not any(k[0] == p and k[1] == site for k in keys)}
    records = []
    for key in sorted(keys, key=lambda k: (order.get(k[0], len(order)), k[1], k[2])):
        site_power = power.get((key[0], key[1]), {})
        records.append({"period": key[0], "site": key[1], "system": key[2],
                        "bought_units": bought.get(key, 0.0),
                        "arriving_units": arriving.get(key, 0.0),
                        "retired_units": retired.get(key, 0.0),
                        "retired_early_units": early.get(key, 0.0),
                        "rented_units": rented.get(key, 0.0),
                        "units_held": held.get(key, 0.0),
                        "power_used_w": site_power.get("power_used_w"),
                        "power_cap_w": site_power.get("power_cap_w")})
    return records


def _retired_cell(record: dict[str, Any]) -> str:
    """'40', or '20 early' when some of them retire before their end of life."""
    text = _count(record["retired_units"])
    if record["retired_early_units"] > _EPS:
        text = (f"{text} early" if abs(record["retired_early_units"] - record["retired_units"])
                < _EPS else f"{text}, {_count(record['retired_early_units'])} early")
    return text


def _power_cell(record: dict[str, Any]) -> str:
    used, cap = record["power_used_w"], record["power_cap_w"]
    if used is None and cap is None:
        return ""
    return f"{_mw(used or 0.0)}/{'-' if cap is None else _mw(cap)}"


def _roadmap_table(data: dict[str, Any]) -> Table:
    """Per period and site (one row per system): what changes and what is held. Each period
    opens with a row of its own name; a site's name and its power are shown on its first row."""
    records = _roadmap_records(data)
    rows: list[tuple[str, ...]] = []
    previous: tuple[str, str] = ("", "")
    for r in records:
        if r["period"] != previous[0]:
            rows.append((r["period"], *("" for _ in range(7))))
        first = (r["period"], r["site"]) != previous
        rows.append((f"  {r['site']}" if first else "", r["system"],
                     _count(r["bought_units"]), _count(r["arriving_units"]), _retired_cell(r),
                     _count(r["rented_units"]), _count(r["units_held"]),
                     _power_cell(r) if first else ""))
        previous = (r["period"], r["site"])
    headers = ("period, site", "system", "bought", "arriving", "retired", "rented", "held",
               "MW used/cap")
    return Table("Roadmap per period and site (units of each system; the site's power in MW)",
                 headers, tuple(rows), "roadmap", tuple(records))


def cost_parts(data: dict[str, Any]) -> list[str]:
    """The cost parts the periods have: the known ones in their order, then any others."""
    found = dict.fromkeys(k for r in data.get("cost_by_period_usd", []) for k, v in r.items()
                          if k not in _NOT_PARTS and isinstance(v, int | float))
    return [p for p in _PARTS if p in found] + [p for p in found if p not in _PARTS]


def cash_flow_columns(data: dict[str, Any]) -> list[tuple[str, dict[str, float]]]:
    """(column name, {row: USD or factor}) per period, then 'all periods' (the discount factor
    of that column is absent; its discounted total is the net present value)."""
    parts = cost_parts(data)
    columns = []
    for r in data.get("cost_by_period_usd", []):
        values = {part: float(r.get(part, 0.0) or 0.0) for part in parts}
        values |= {"total": float(r.get("total", 0.0)),
                   "discount_factor": float(r.get("discount_factor", 1.0)),
                   "discounted_total": float(r.get("discounted_total", 0.0))}
        columns.append((str(r["period"]), values))
    every = {key: math.fsum(v[key] for _, v in columns) for key in (*parts, "total")}
    every["discounted_total"] = float(data.get("npv_usd",
                                               math.fsum(v["discounted_total"]
                                                         for _, v in columns)))
    columns.append(("all periods", every))
    return columns


def _cash_flow_tables(data: dict[str, Any]) -> list[Table]:
    """The cash flow as a statement: one row per cost part, one column per period (several
    tables when the periods do not fit 100 columns); the last column adds up all periods."""
    columns = cash_flow_columns(data)
    parts = [p for p in cost_parts(data) if any(abs(v[p]) > _EPS for _, v in columns)]
    divisor, word = _scale(v[k] for _, v in columns for k in (*parts, "total"))
    chunks = _chunks(columns, _CASH_COLUMNS_PER_TABLE)
    tables = []
    for i, chunk in enumerate(chunks):
        rows = [(_PART_LABELS.get(p, p.replace("_", " ")),
                 *(f"{v[p] / divisor:,.2f}" for _, v in chunk)) for p in parts]
        rows.append(("total", *(f"{v['total'] / divisor:,.2f}" for _, v in chunk)))
        rows.append(("discount factor", *(f"{v['discount_factor']:.4f}"
                                          if "discount_factor" in v else "" for _, v in chunk)))
        rows.append(("discounted total (sum: NPV)", *(f"{v['discounted_total'] / divisor:,.2f}"
                                           for _, v in chunk)))
        suffix = f" ({i + 1} of {len(chunks)})" if len(chunks) > 1 else ""
        title = f"Cash flow ({word}){suffix}"
        tables.append(Table(title, (f"part ({word})", *(name for name, _ in chunk)),
                            tuple(rows), "cash_flow",
                            tuple(data.get("cost_by_period_usd", [])) if i == 0 else ()))
    return tables


def _chunks(columns: Sequence[Any], size: int) -> list[list[Any]]:
    """``columns`` in balanced groups of at most ``size``."""
    count = max(1, math.ceil(len(columns) / size))
    step = math.ceil(len(columns) / count)
    return [list(columns[i:i + step]) for i in range(0, len(columns), step)] or [[]]


def shadow_price_words(price: float, unit: str) -> str:
    """'2.1M USD per MW' for (-2.1e6, 'USD/MW'); a price per W is shown per MW."""
    value = abs(price)
    money, _, per = unit.partition("/")
    if money != "USD" or not per:
        return f"{value:,.4g} {unit}".strip()
    if per == "W":
        value, per = value * 1e6, "MW"
    return f"{format_quantity(value, Dimension.MONEY)} per {per}"


def _bottleneck_words(b: dict[str, Any]) -> str:
    """'power at texas-gb200 binds in 2027-Q3: 2.1M USD per MW'."""
    when = f"in {b['period']}" if b.get("period") else "over all periods"
    price = shadow_price_words(float(b["shadow_price"]),
                               str(b.get("unit") or b.get("shadow_price_unit", "")))
    where = f" at {b['where']}" if b.get("where") else ""
    return f"{str(b['kind']).replace('_', ' ')}{where} binds {when}: {price}"


BOTTLENECKS_PER_PERIOD = 4  # rows per period in the table; CSV and JSON keep every one


def _bottlenecks(data: dict[str, Any]) -> Table:
    """Binding limits with a shadow price, in words: limits over all periods (a budget) first,
    then by period the few that weigh most (``value_of_10_percent``: what 10 % more of the
    resource would save); the CSV records keep every one."""
    order = {name: i for i, name in enumerate(_period_names(data))}
    records = sorted((b for b in data.get("bottlenecks", [])
                      if abs(float(b.get("shadow_price") or 0.0)) > _EPS),
                     key=lambda b: (order.get(b.get("period") or "", -1),
                                    -abs(float(b.get("value_of_10_percent") or 0.0)),
                                    str(b["kind"]), -abs(float(b["shadow_price"]))))
    shown: list[dict[str, Any]] = []
    for b in records:
        same = sum(1 for s in shown if s.get("period") == b.get("period"))
        if not b.get("period") or same < BOTTLENECKS_PER_PERIOD:
            shown.append(b)
    rows = tuple((b.get("period") or "all", _bottleneck_words(b),
                  str(b.get("constraint") or b.get("message", ""))) for b in shown)
    more = len(records) - len(shown)
    title = "Bottlenecks per period (shadow price: what one more unit of the limit saves)"
    if more:
        title += (f"; the {BOTTLENECKS_PER_PERIOD} worth most per period, {more} more in "
                  "--format json or csv")
    return Table(title, ("period", "binding limit and its shadow price", "constraint"), rows,
                 "bottlenecks", tuple(records))


def _notes(data: dict[str, Any]) -> list[KeyValues]:
    notes = [str(n) for n in data.get("notes", []) or []]
    return [KeyValues("Notes", tuple((f"{n}.", text) for n, text in enumerate(notes, 1)))] \
        if notes else []


def _purchases(data: dict[str, Any]) -> Table:
    records = data.get("purchases", [])
    rows = tuple((p["period"], p["site"], p["system"], _count(p["units"]) or "0",
                  str(p.get("arrives", "")), _usd(float(p.get("cost_usd", 0.0))))
                 for p in records)
    return Table("Purchases (bought in one period, arriving after the lead time)",
                 ("bought in", "site", "system", "units", "arrives in", "cost (USD)"), rows,
                 "purchases", tuple(records))


def _power_buildout(data: dict[str, Any]) -> Table:
    records = data.get("power_buildout", [])
    rows = tuple((r["period"], r["site"], f"{float(r['mw']):,.3g}", str(r.get("online", "")),
                  _usd(float(r.get("cost_usd", 0.0)))) for r in records)
    return Table("Power build-out", ("bought in", "site", "power (MW)", "online from",
                                     "cost (USD)"), rows, "power_buildout", tuple(records))


def _jobs(data: dict[str, Any]) -> Table:
    records = data.get("jobs", [])
    rows = tuple((j["job"], j["kind"], ", ".join(
        f"{p} {100 * float(s):.0f}%" for p, s in j.get("work_share_by_period", {}).items()))
        for j in records)
    return Table("Jobs: share of the work done per period",
                 ("job", "kind", "work per period (%)"), rows, "jobs", tuple(records))


def _placements(data: dict[str, Any]) -> Table:
    order = {name: i for i, name in enumerate(_period_names(data))}
    records = sorted((p for p in data.get("placements", []) if float(p["units"]) > 1e-6),
                     key=lambda p: (order.get(p["period"], len(order)), p["site"],
                                    p["system"], p["job"], p["role"]))
    rows = tuple((p["period"], p["site"], p["system"], p["job"], p["role"], _count(p["units"]))
                 for p in records)
    return Table("Placements per period", ("period", "site", "system", "job", "role",
                                           "units"), rows, "placements_by_period",
                 tuple(records))


def roadmap_report(data: dict[str, Any], figures: bool = False) -> Report:
    """The roadmap as sections: headline, roadmap, cash flow, bottlenecks, purchases, power
    build-out, jobs, placements, assumptions; with ``figures``, the SVG plots for HTML."""
    sections: list[Table | KeyValues] = [
        _headline(data),
        *_notes(data),
        _roadmap_table(data),
        *_cash_flow_tables(data),
        _bottlenecks(data),
        _purchases(data),
        _power_buildout(data),
        _jobs(data),
        _placements(data),
        assumptions_table(list(data.get("assumptions", []))),
    ]
    names = _period_names(data)
    title = (f"Roadmap for {data.get('scenario', '')} on fleet {_fleet_name(data)}, "
             f"{_span(names) if names else 'no periods'}")
    plots: tuple[str, ...] = ()
    if figures:
        from planner.report.roadmap_plots import roadmap_figures

        plots = tuple(roadmap_figures(data))
    return Report(title, tuple(sections), data, plots)
