"""Report sections for `planner optimize`: plan, costs, bottlenecks, assumptions."""

from __future__ import annotations

from typing import Any

from planner.report.estimate import assumptions_table
from planner.report.fmt import format_value
from planner.report.model import KeyValues, Report, Table
from planner.units import Dimension, format_quantity

__all__ = ["explain_data", "explain_report", "plan_report"]


def _money(value: float) -> str:
    return format_quantity(value, Dimension.MONEY)


def _table(title: str, key: str, records: list[dict[str, Any]],
           columns: tuple[tuple[str, str], ...]) -> Table:
    rows = tuple(tuple(format_value(field, r.get(field)) for field, _ in columns)
                 for r in records)
    return Table(title, tuple(h for _, h in columns), rows, key, tuple(records))


def _objective(objective: Any) -> str:
    if not isinstance(objective, dict):
        return str(objective)
    text = str(objective.get("name", ""))
    if objective.get("throughput_multiplier") is not None:
        text += (f": finish as early as possible; every training job's work rate is "
                 f"{objective['throughput_multiplier']:.3g} x the rate its deadline needs "
                 "(finish and cost to completion per job below)")
    return text


def _gap(solver: dict[str, Any]) -> str:
    """", gap 0.0031 %" for a MILP whose solver reported the gap it proved, else ""."""
    gap = solver.get("mip_gap")
    return "" if gap is None else f", gap {100 * gap:.2g} %"
def _jobs_table(data: dict[str, Any]) -> Table:
    """Each job's finish (from the start) and its cost to completion."""
    records = list(data.get("jobs", []))
    rows = tuple((j["job"], j["kind"], format_value("horizon_s", j["horizon_s"]),
                  "runs for its duration" if j["kind"] == "serve" else
                  (format_value("finish_s", j["finish_s"]) if j["finish_s"] is not None
                   else "never"),
                  "-" if j["cost_to_completion_usd"] is None
                  else _money(j["cost_to_completion_usd"]))
                 for j in records)
    return Table("Jobs (finish and cost to completion)",
                 ("job", "kind", "deadline or duration", "finishes after",
                  "cost to completion"), rows, "jobs", tuple(records))


def _headline_costs(data: dict[str, Any]) -> list[tuple[str, str]]:
    """The cost the objective minimised, then the marginal (owned capital sunk) and the full
    economic cost (owned capital amortised), each labelled, so they are never compared across."""
    jobs = [j for j in data.get("jobs", []) if j["kind"] != "serve"]
    items = []
    if jobs:
        items.append(("finishes after", ", ".join(
            f"{j['job']} {format_value('finish_s', j['finish_s'])}"
            if j["finish_s"] is not None else f"{j['job']} never" for j in jobs)))
    if data.get("jobs"):
        done = [j["cost_to_completion_usd"] for j in data["jobs"]]
        if all(c is not None for c in done):
            items.append(("cost to completion (all jobs)", _money(sum(done))))
    horizon = next((a["value"] for a in data.get("assumptions", [])
                    if a.get("name") == "scenario_horizon_s"), None)
    held = "total cost (objective)" if horizon is None else \
        f"total cost (objective: units held {format_value('horizon_s', horizon)})"
    items.append((held, _money(data.get("total_cost_usd", 0.0))))
    if data.get("marginal_cost_usd") is not None:
        items.append(("marginal cost (owned capital sunk)", _money(data["marginal_cost_usd"])))
    if data.get("full_economic_cost_usd") is not None:
        items.append(("full economic cost (owned capital amortised)",
                      _money(data["full_economic_cost_usd"])))
    return items


def _summary(data: dict[str, Any]) -> KeyValues:
    solver = data.get("solver", {})
    items = [
        ("scenario", str(data.get("scenario", ""))),
        ("fleet", str(data.get("fleet", ""))),
        ("status", str(data.get("status", ""))),
        ("objective", _objective(data.get("objective", {}))),
        ("cost basis", str(data.get("cost_basis", "own"))),
        *_headline_costs(data),
        ("solver", f"{solver.get('name', '')} {solver.get('status', '')}, "
                   f"{solver.get('variables', 0):,} variables, "
                   f"{solver.get('constraints', 0):,} constraints, "
                   f"{solver.get('seconds', 0.0):.2f} s{_gap(solver)}"),
    ]
    return KeyValues("Plan", tuple(items))


def _costs(data: dict[str, Any]) -> Table:
    parts = data.get("cost_breakdown_usd", {})
    total = data.get("total_cost_usd", 0.0) or 0.0
    rows = [(name, _money(value), f"{100 * value / total:.1f}%" if total else "-")
            for name, value in parts.items()]
    rows.append(("total", _money(total), "100%" if total else "-"))
    records = tuple({"part": k, "usd": v} for k, v in parts.items())
    return Table("Cost breakdown", ("part", "cost", "share"), tuple(rows), "cost_breakdown",
                 records)


def _bottlenecks(data: dict[str, Any]) -> Table:
    money = "USD" if (data.get("objective") or {}).get("name", "cost") == "cost" else "x"
    rows = tuple((b["constraint"], b["kind"], b["where"],
                  f"{b['shadow_price']:,.4g} {b['shadow_price_unit']}",
                  _money(b.get("value_of_10_percent", 0.0)) if money == "USD"
                  else f"{b.get('value_of_10_percent', 0.0):,.4g} x")
                 for b in data.get("bottlenecks", []))
    return Table("Bottlenecks (binding constraints by what 10% more would be worth)",
                 ("constraint", "kind", "where", "shadow price", "10% more is worth"), rows,
                 "bottlenecks", tuple(data.get("bottlenecks", [])))


def _reduced_costs(data: dict[str, Any], only: str | None = None) -> Table:
    """Why each unused site x system is unused: how much cheaper it would have to be."""
    records = [r for r in data.get("reduced_costs", []) if _matches(r, only)]
    verb = {"buy": "buying it would need to be", "rent": "renting it would need to be",
            "own": "running an idle owned unit would need to be"}
    rows = tuple((r["site"], r["system"], r["acquisition"],
                  f"{verb.get(r['acquisition'], '')} at least {_money(r['usd_per_unit'])} "
                  f"{r['unit'].removeprefix('USD/').replace('unit', 'per unit', 1)} cheaper"
                  if r["usd_per_unit"] > 1e-9 else
                  "0: at the plan's shadow prices it is as cheap as what the plan uses")
                 for r in records)
    return Table("Unused site x system (reduced costs: how much cheaper to enter the plan)",
                 ("site", "system", "acquisition", "to enter the plan"), rows,
                 "reduced_costs", tuple(records))


def _matches(record: dict[str, Any], only: str | None) -> bool:
    """True when ``record`` is at the site (and system) of ``SITE[/SYSTEM]``."""
    if not only:
        return True
    site, _, system = only.partition("/")
    return record.get("site") == site and (not system or record.get("system") == system)


def _role_table(data: dict[str, Any]) -> Table:
    """Per-unit throughput and roofline bound of each role on each system the plan uses."""
    used = {(p["job"], p["role"], p["system"]) for p in data.get("placements", [])
            if p["units"] > 1e-6}
    records = [r for r in data.get("role_throughputs", [])
               if (r["job"], r["role"], r["system"]) in used
               or (r["role"] == "verify" and any(u[1] == "generate" and u[2] == r["system"]
                                                 for u in used))]
    rows = tuple((r["job"], r["role"], r["system"], f"{r['throughput_per_unit']:,.4g} "
                  f"{r.get('work_unit', '')}/s", r["bound"]) for r in records)
    return Table("Roles on the systems used (performance model: work per unit per second)",
                 ("job", "role", "system", "per unit", "bound"), rows, "roles",
                 tuple(records))


def plan_report(data: dict[str, Any], figures: bool = False) -> Report:
    """The plan as sections: summary, costs, placements, purchases, flows, sites, bottlenecks."""
    from planner.report.findings import plan_findings

    findings = plan_findings(data)
    sections: list[Table | KeyValues] = [
        _summary(data),
        KeyValues("Findings", tuple((f"{n}.", line) for n, line in enumerate(findings, 1))),
        _jobs_table(data),
        _costs(data),
        _table("Placements", "placements", data.get("placements", []),
               (("site", "site"), ("system", "system"), ("job", "job"), ("role", "role"),
                ("units", "units (cores for cpu)"), ("busy_units", "busy units"),
                ("site_units_share", "share of the site's units"))),
        _table("Purchases", "purchases", data.get("purchases", []),
               (("site", "site"), ("system", "system"), ("units", "units"),
                ("cost_usd", "cost"))),
        _table("Flows between sites", "flows", data.get("flows", []),
               (("from", "from"), ("to", "to"), ("kind", "kind"), ("bytes", "bytes"))),
        _table("Sites", "sites", data.get("sites", []),
               (("site", "site"), ("power_used_w", "power used"), ("power_cap_w", "power cap"),
                ("cpu_cores_used", "CPU cores busy"),
                ("cpu_cores_available", "CPU cores of units in use"),
                ("cpu_cores_on_site", "CPU cores on site (all inventory)"))),
        _bottlenecks(data),
        _reduced_costs(data),
        _role_table(data),
        assumptions_table(list(data.get("assumptions", []))),
    ]
    title = (f"Plan for {data.get('scenario', '')} on fleet {data.get('fleet', '')}, "
             f"cost basis {data.get('cost_basis', 'own')}")
    plots: tuple[str, ...] = ()
    if figures:
        from planner.report.plots import plan_figures

        plots = tuple(plan_figures(data))
    return Report(title, tuple(sections), data, plots)


def explain_data(data: dict[str, Any], only: str) -> dict[str, Any]:
    """The part of a plan about one site (``SITE``) or one site x system (``SITE/SYSTEM``):
    its placements, purchases, rentals, site row, binding limits there and reduced costs."""
    site, _, system = only.partition("/")
    at_site = [b for b in data.get("bottlenecks", [])
               if b["where"] == site or b["where"].startswith(f"{site}/")
               or b["where"].startswith(f"{site}->") or b["where"].endswith(f"->{site}")]
    if system:
        at_site = [b for b in at_site if "/" not in b["where"] or b["where"] == only]
    return {"explain": only, "cost_basis": data.get("cost_basis"),
            "scenario": data.get("scenario"), "fleet": data.get("fleet"),
            "placements": [p for p in data.get("placements", []) if _matches(p, only)],
            "purchases": [p for p in data.get("purchases", []) if _matches(p, only)],
            "rentals": [p for p in data.get("rentals", []) if _matches(p, only)],
            "sites": [s for s in data.get("sites", []) if s["site"] == site],
            "bottlenecks": at_site,
            "reduced_costs": [r for r in data.get("reduced_costs", []) if _matches(r, only)],
            "objective": data.get("objective")}


def explain_report(data: dict[str, Any], only: str) -> Report:
    """``planner optimize --explain SITE[/SYSTEM]``: why the plan uses (or not) one site."""
    part = explain_data(data, only)
    used = [p for p in part["placements"] if p["units"] > 1e-6]
    verdict = ("used: " + ", ".join(f"{p['units']:,.4g} {p['system']} for "
                                    f"{p['job']}/{p['role']}" for p in used)
               if used else "not used by this plan (see the reduced costs)")
    sections: list[Table | KeyValues] = [
        KeyValues(f"Explain {only}", (("plan", f"{data.get('scenario', '')} on fleet "
                                               f"{data.get('fleet', '')}"),
                                      ("cost basis", str(data.get("cost_basis", "own"))),
                                      ("verdict", verdict))),
        _table("Sites", "sites", part["sites"],
               (("site", "site"), ("power_used_w", "power used"), ("power_cap_w", "power cap"),
                ("cpu_cores_used", "CPU cores busy"),
                ("cpu_cores_on_site", "CPU cores on site (all inventory)"))),
        _bottlenecks(part),
        _reduced_costs(data, only),
    ]
    return Report(f"Explain {only}: {data.get('scenario', '')} on fleet {data.get('fleet', '')}",
                  tuple(sections), part, ())
