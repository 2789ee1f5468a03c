"""Plain-language findings for a plan: ordered small rules over the Solution's data.

Each rule reads the plan's JSON (placements, flows, bottlenecks, sites, systems) and, when its
condition holds, states what the numbers mean for an infrastructure team: where CPUs run out for
verifiers, which sites generate samples and which only forward them, what is bought, which limit
is worth money. Rules never compute anything the Solution does not already contain beyond sums
and ratios for display.

Binding limits are ranked by economic weight (``value_of_10_percent``: the shadow price times a
tenth of the resource in use); one is stated only when 10 % more of it would be worth at least
:data:`MATERIAL_SHARE` of the objective (0.1 % of the plan's cost), so a limit that binds on a
sliver of a resource never leads the findings. Every figure names its unit.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from planner.units import Dimension, format_quantity

__all__ = ["MATERIAL_SHARE", "plan_findings"]

MATERIAL_SHARE = 1e-3  # a limit is a finding when 10 % more of it is worth >= 0.1 % of the plan


def _q(value: float, dimension: Dimension) -> str:
    return format_quantity(value, dimension)


def _generation_by_site(data: dict[str, Any]) -> dict[str, list[str]]:
    ratios = {s["system"]: s["cpu_cores_per_accelerator"] for s in data.get("systems", [])}
    out: dict[str, list[str]] = defaultdict(list)
    for p in data.get("placements", []):
        if p["role"] == "generate" and p["units"] > 1e-6:
            ratio = ratios.get(p["system"])
            extra = f" ({ratio:g} CPU cores per accelerator)" if ratio is not None else ""
            out[p["site"]].append(f"{p['units']:,.1f} units of {p['system']}{extra}")
    return out


def _sample_traffic(data: dict[str, Any]) -> tuple[dict[str, list[str]], dict[str, float]]:
    """Samples each site sends (to where) and how many bytes it only passes on (forwards)."""
    sent: dict[str, list[str]] = defaultdict(list)
    out_b: dict[str, float] = defaultdict(float)
    in_b: dict[str, float] = defaultdict(float)
    for f in data.get("flows", []):
        if f["kind"] == "samples" and f["bytes"] > 0:
            sent[f["from"]].append(f"{_q(f['bytes'], Dimension.SIZE)} to {f['to']}")
            out_b[f["from"]] += f["bytes"]
            in_b[f["to"]] += f["bytes"]
    forwarded = {s: min(out_b[s], in_b[s]) for s in out_b if in_b.get(s, 0.0) > 0}
    return sent, forwarded


def _cpu_rules(data: dict[str, Any]) -> list[str]:
    lines = []
    generating = _generation_by_site(data)
    sent, forwarded = _sample_traffic(data)
    bought = {p["site"]: p["units"] for p in data.get("purchases", [])
              if p["system"] == "cpu-server" and p["units"] > 1e-6}
    for site in data.get("sites", []):
        name = site["site"]
        full = site["cpu_cores_available"] > 0 and \
            site["cpu_cores_used"] >= 0.999 * site["cpu_cores_available"]
        if not (full or name in sent or name in bought):
            continue
        text = f"{name}: verifier CPU cores "
        text += "are all in use" if full else "are partly used"
        text += (f" ({site['cpu_cores_used']:,.0f} cores busy of "
                 f"{site['cpu_cores_available']:,.0f} on the units switched on")
        on_site = site.get("cpu_cores_on_site")
        if on_site is not None:
            text += f"; {on_site:,.0f} cores on site counting idle inventory"
        text += ")"
        if generating.get(name):
            text += "; generating on " + ", ".join(generating[name])
        if name in sent:
            relay = forwarded.get(name, 0.0)
            if not generating.get(name):
                text += "; generates nothing, forwards samples: " + ", ".join(sent[name])
            elif relay > 0:
                text += (f"; ships samples ({_q(relay, Dimension.SIZE)} of them forwarded "
                         "from other sites): " + ", ".join(sent[name]))
            else:
                text += "; ships its samples for verification: " + ", ".join(sent[name])
        if name in bought:
            text += f"; buys {bought[name]:,.0f} CPU-only servers"
        lines.append(text + ".")
    return lines


def _material(data: dict[str, Any]) -> float:
    """The smallest value of 10 % more of a resource that makes a finding (objective units)."""
    objective = data.get("objective") or {}
    base = data.get("total_cost_usd") if objective.get("name", "cost") == "cost" \
        else objective.get("value")
    return MATERIAL_SHARE * abs(float(base or 0.0))


def _worth(value: float, money: str) -> str:
    return _q(value, Dimension.MONEY) if money == "USD" else f"{value:,.4g} {money}"


def _bottleneck_rules(data: dict[str, Any]) -> list[str]:
    lines = []
    floor = _material(data)
    money = "USD" if (data.get("objective") or {}).get("name", "cost") == "cost" else \
        "x throughput"
    limits = [b for b in data.get("bottlenecks", []) if b["kind"] != "demand"]
    shown = [b for b in limits if float(b.get("value_of_10_percent", 0.0)) >= floor]
    for b in shown[:6]:
        where = f" at {b['where']}" if b["where"] else ""
        lines.append(f"{b['kind']} binds{where}: 10% more would be worth "
                     f"{_worth(float(b.get('value_of_10_percent', 0.0)), money)} over the "
                     "horizon "
                     f"({b['shadow_price']:,.4g} {b['shadow_price_unit']}; "
                     f"{b['constraint']}).")
    hidden = len(limits) - len(shown[:6])
    if hidden > 0:
        lines.append(f"{hidden} more binding limit(s) are in the Bottlenecks table: 10% more of "
                     f"each is worth less than {100 * MATERIAL_SHARE:g}% of the plan "
                     f"({_worth(floor, money)}).")
    return lines


def _purchase_rules(data: dict[str, Any]) -> list[str]:
    return [f"buy {p['units']:,.1f} units of {p['system']} at {p['site']} "
            f"({_q(p.get('capex_usd', p['cost_usd']), Dimension.MONEY)} capital, "
            f"{_q(p['cost_usd'], Dimension.MONEY)} charged to this plan)."
            for p in data.get("purchases", []) if p["units"] > 1e-6]


def plan_findings(data: dict[str, Any]) -> list[str]:
    """What the plan says, in order: CPU balance, purchases, binding limits by weight."""
    lines = [*_cpu_rules(data), *_purchase_rules(data), *_bottleneck_rules(data)]
    if not lines and data.get("status") == "optimal":
        lines.append("no site, link or purchase limit binds: the work itself sets the cost, and "
                     "more capacity would not lower it.")
    return lines
