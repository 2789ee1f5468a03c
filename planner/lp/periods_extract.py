"""Read a solved roadmap LP (``planner.lp.periods``) back as the roadmap's JSON contract.

Everything is in SI units (W, USD); undiscounted USD per period, the NPV discounted
(``README.md``, "planner roadmap" JSON). A unit count is reported when it exceeds
``_EPS``, so solver noise does not become a purchase.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from planner.lp.bottlenecks import find_bottlenecks
from planner.lp.build import MW
from planner.lp.periods import PoolSupplyInput, RoadmapLp
from planner.lp.solve import SolveOutcome
from planner.units import Dimension, format_quantity

__all__ = ["COST_PARTS", "roadmap_solution"]

_EPS = 1e-6
# Every cost part a period may have, in the order the cash-flow table shows them.
COST_PARTS = ("purchase", "rental", "energy", "colocation", "cpu_servers", "cpu_server_energy",
              "egress", "power_buildout", "remaining_value")
_ROADMAP_FAMILIES = frozenset({"order_limit", "buildout_limit", "period_budget", "budget"})


def _value(var: Any) -> float:
    return float(var.varValue or 0.0)


def _sum(pairs: list[tuple[Any, float]]) -> float:
    return float(sum(c * _value(v) for v, c in pairs))


def roadmap_solution(rm: RoadmapLp, outcome: SolveOutcome, accelerators: dict[str, int],
                     job_kinds: dict[str, str]) -> dict[str, Any]:
    """The solved roadmap as the JSON contract (less the scenario's names and assumptions,
    which ``planner.roadmap_plan`` adds)."""
    ri = rm.inputs
    names = [p.name for p in ri.periods]
    costs = _costs(rm)
    return {
        "periods": [{"name": p.name, "start": p.start, "end": p.end,
                     "discount_factor": p.discount} for p in ri.periods],
        "npv_usd": sum(row["discounted_total"] for row in costs),
        "cost_by_period_usd": costs,
        "purchases": _purchases(rm, names),
        "retirements": _retirements(rm, names),
        "rentals": _rentals(rm),
        "power_buildout": _buildout(rm, names),
        "placements": _placements(rm),
        "capacity": _capacity(rm, accelerators),
        "sites": _sites(rm),
        "bottlenecks": _bottlenecks(rm, outcome),
        "jobs": _jobs(rm, job_kinds),
    }


def _costs(rm: RoadmapLp) -> list[dict[str, Any]]:
    out = []
    for t, period in enumerate(rm.inputs.periods):
        parts = {part: _sum(rm.parts.get((t, part), [])) for part in COST_PARTS}
        total = sum(parts.values())
        out.append({"period": period.name, **parts, "total": total,
                    "discount_factor": period.discount,
                    "discounted_total": total * period.discount})
    return out


def _purchases(rm: RoadmapLp, names: list[str]) -> list[dict[str, Any]]:
    pools = {(p.site, p.system): p for p in rm.inputs.pools}
    out = []
    for (t, s, h), var in sorted(rm.order.items()):
        units = _value(var)
        if units <= _EPS:
            continue
        pool = pools[(s, h)]
        arrive = next(k for k, on in enumerate(pool.in_service[t]) if on) \
            if any(pool.in_service[t]) else t
        price = pool.price_usd[t] or 0.0
        out.append({"period": names[t], "site": s, "system": h, "units": units,
                    "arrives": names[arrive], "cost_usd": units * price})
    return out


def _retirements(rm: RoadmapLp, names: list[str]) -> list[dict[str, Any]]:
    """End-of-life retirements (initial units and orders leaving service), and units retired
    early: owned, in their life, never switched on again before the horizon's end, at a site
    whose power binds in some later period (they were switched off to free power for other
    units; counted in the period they go idle for good). Idle units elsewhere are only idle
    (``capacity``: units held vs switched on)."""
    out = []
    binding = _power_binding(rm)
    for pool in rm.inputs.pools:
        s, h = pool.site, pool.system
        for t in range(1, len(names)):
            units = max(0.0, float(pool.initial[t - 1] - pool.initial[t]))
            units += sum(_value(var) for tau, var in _orders(rm, pool)
                         if pool.in_service[tau][t - 1] and not pool.in_service[tau][t])
            if units > _EPS:
                out.append({"period": names[t], "site": s, "system": h, "units": units,
                            "reason": "end_of_life"})
        idle = [max(0.0, _value(rm.held[(t, s, h)]) - _on(rm, names[t], s, h))
                for t in range(len(names))]
        before = 0.0
        for t in range(len(names) - 1):
            if not any(binding.get((names[k], s), False) for k in range(t, len(names))):
                continue
            for_good = min(idle[t:])
            if for_good - before > _EPS:
                out.append({"period": names[t], "site": s, "system": h,
                            "units": for_good - before, "reason": "early"})
            before = max(before, for_good)
    return sorted(out, key=lambda r: (names.index(r["period"]), r["site"], r["system"]))


def _power_binding(rm: RoadmapLp) -> dict[tuple[str, str], bool]:
    """(period, site) -> the site's power row is at its cap."""
    out = {}
    for name, block in rm.blocks.items():
        for (family, key), row in block.rows.items():
            if family == "site_power":
                slack = row.constraint.slack
                out[(name, key[0])] = slack is not None and abs(slack) <= 1e-6 * max(
                    1.0, abs(row.constraint.constant))
    return out


def _orders(rm: RoadmapLp, pool: PoolSupplyInput) -> list[tuple[int, Any]]:
    return [(t, var) for (t, s, h), var in rm.order.items()
            if s == pool.site and h == pool.system]


def _block_var(rm: RoadmapLp, period: str, family: str, key: tuple[str, ...]) -> float:
    block = rm.blocks.get(period)
    if block is None:
        return 0.0
    var = block.vars[family].get(key)
    return _value(var) if var is not None else 0.0


def _on(rm: RoadmapLp, period: str, s: str, h: str) -> float:
    """Owned units switched on in a period."""
    return _block_var(rm, period, "own", (s, h))


def _rentals(rm: RoadmapLp) -> list[dict[str, Any]]:
    out = []
    for name, block in rm.blocks.items():
        costs = dict(block.cost_parts.get("rental", []))
        for (s, h), var in sorted(block.vars["rent"].items()):
            units = _value(var)
            if units > _EPS:
                out.append({"period": name, "site": s, "system": h, "units": units,
                            "cost_usd": units * costs.get(var, 0.0)})
    return out


def _buildout(rm: RoadmapLp, names: list[str]) -> list[dict[str, Any]]:
    lead = {b.site: b for b in rm.inputs.buildouts}
    out = []
    for (t, s), var in sorted(rm.build.items()):
        mw = _value(var)
        if mw > _EPS:
            b = lead[s]
            out.append({"period": names[t], "site": s, "mw": mw,
                        "online": names[min(t + b.lead_periods, len(names) - 1)],
                        "cost_usd": mw * MW * b.usd_per_w})
    return out


def _placements(rm: RoadmapLp) -> list[dict[str, Any]]:
    out = []
    for name, block in rm.blocks.items():
        source = block.vars["whole"] if block.integer else block.vars["place"]
        for (j, r, s, h), var in sorted(source.items()):
            units = _value(var)
            if units > _EPS:
                out.append({"period": name, "site": s, "system": h, "job": j, "role": r,
                            "units": units})
    return out


def _capacity(rm: RoadmapLp, accelerators: dict[str, int]) -> list[dict[str, Any]]:
    """Per period, site and system: units held (owned), switched on, rented and busy."""
    out = []
    for t, period in enumerate(rm.inputs.periods):
        block = rm.blocks.get(period.name)
        busy: dict[tuple[str, str], float] = defaultdict(float)
        if block is not None:
            for (_j, _r, s, h), var in block.vars["place"].items():
                busy[(s, h)] += _value(var)
        keys = {(s, h) for (tt, s, h) in rm.held if tt == t}
        if block is not None:
            keys |= {(k[0], k[1]) for k in block.vars["rent"]}
        for s, h in sorted(keys):
            held = _value(rm.held[(t, s, h)]) if (t, s, h) in rm.held else 0.0
            rented = _block_var(rm, period.name, "rent", (s, h))
            if max(held, rented, busy[(s, h)]) <= _EPS:
                continue
            acc = accelerators.get(h, 0)
            out.append({"period": period.name, "site": s, "system": h, "units_held": held,
                        "units_on": _on(rm, period.name, s, h), "units_rented": rented,
                        "units_busy": busy[(s, h)],
                        "accelerators_held": (held + rented) * acc,
                        "accelerators_busy": busy[(s, h)] * acc})
    return out


def _sites(rm: RoadmapLp) -> list[dict[str, Any]]:
    """Facility power drawn (units switched on or rented, CPU servers) against the cap of
    each period (dated power plus what was built and is online)."""
    out = []
    for period in rm.inputs.periods:
        block = rm.blocks.get(period.name)
        for s, cap in sorted(period.power_cap_w.items()):
            used, built = 0.0, 0.0
            if block is not None:
                row = block.rows.get(("site_power", (s,)))
                if row is not None:
                    for var, c in row.constraint.items():
                        if c > 0:
                            used += c * _value(var) * MW
                        else:
                            built -= c * _value(var) * MW
            out.append({"period": period.name, "site": s, "power_used_w": used,
                        "power_cap_w": cap + built})
    return out


def _bottlenecks(rm: RoadmapLp, outcome: SolveOutcome) -> list[dict[str, Any]]:
    """Binding limits with their shadow prices (NPV USD per natural unit), per period."""
    out = []
    for name, block in rm.blocks.items():
        for b in find_bottlenecks(block, outcome):
            out.append(_bottleneck_row(name, b))
    for b in find_bottlenecks(rm.lp, outcome, only=_ROADMAP_FAMILIES):
        period = b.constraint.split("[", 1)[1].split(",", 1)[0].rstrip("]") \
            if not b.constraint.startswith(("buildout_limit", "budget")) else ""
        out.append(_bottleneck_row(period, b))
    return sorted(out, key=lambda r: -r["value_of_10_percent"])


def _bottleneck_row(period: str, b: Any) -> dict[str, Any]:
    price = _price_text(b.shadow_price, b.shadow_price_unit)
    when = f" in {period}" if period else ""
    return {"period": period, "constraint": b.constraint, "kind": b.kind, "where": b.where,
            "shadow_price": b.shadow_price, "unit": b.shadow_price_unit,
            "value_of_10_percent": b.value_of_10_percent,
            "message": f"{b.kind} at {b.where} binds{when}: {price}"}


def _price_text(value: float, unit: str) -> str:
    if unit.startswith("USD/"):
        return f"{format_quantity(value, Dimension.MONEY)} per {unit[4:]}"
    return f"{value:,.4g} {unit}"


def _jobs(rm: RoadmapLp, job_kinds: dict[str, str]) -> list[dict[str, Any]]:
    """Each job: the periods it runs in and the share of its work done in each."""
    shares: dict[str, dict[str, float]] = defaultdict(dict)
    for (t, j), var in rm.share.items():
        shares[j][rm.inputs.periods[t].name] = _value(var)
    for name, block in rm.blocks.items():
        for job in block.index.jobs.values():
            if job.serve is not None:
                shares[job.id][name] = 1.0
    return [{"job": j, "kind": job_kinds.get(j, ""),
             "periods": [p for p, v in by.items() if v > _EPS],
             "work_share_by_period": by} for j, by in sorted(shares.items())]

