"""Plain-language findings for a plan: ordered small rules over the Solution's data.

Each rule reads the plan's JSON (placements, flows, bottlenecks, sites, systems) and, when its
condition holds, states what the numbers mean for an infrastructure team: where CPUs run out for
verifiers, where samples cross links, which limit is worth money. Rules never compute anything
the Solution does not already contain beyond sums and ratios for display.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from planner.units import Dimension, format_quantity

__all__ = ["plan_findings"]


def _q(value: float, dimension: Dimension) -> str:
    return format_quantity(value, dimension)


def _generation_by_site(data: dict[str, Any]) -> dict[str, list[str]]:
    ratios = {s["system"]: s["cpu_cores_per_accelerator"] for s in data.get("systems", [])}
    out: dict[str, list[str]] = defaultdict(list)
    for p in data.get("placements", []):
        if p["role"] == "generate" and p["units"] > 1e-6:
            ratio = ratios.get(p["system"])
            extra = f" ({ratio:g} CPU cores per accelerator)" if ratio is not None else ""
            out[p["site"]].append(f"{p['units']:,.1f} {p['system']}{extra}")
    return out


def _cpu_rules(data: dict[str, Any]) -> list[str]:
    lines = []
    generating = _generation_by_site(data)
    shipped: dict[str, list[str]] = defaultdict(list)
    for f in data.get("flows", []):
        if f["kind"] == "samples" and f["bytes"] > 0:
            shipped[f["from"]].append(f"{_q(f['bytes'], Dimension.SIZE)} to {f['to']}")
    bought = {p["site"]: p["units"] for p in data.get("purchases", [])
              if p["system"] == "cpu-server" and p["units"] > 1e-6}
    for site in data.get("sites", []):
        name = site["site"]
        full = site["cpu_cores_available"] > 0 and \
            site["cpu_cores_used"] >= 0.999 * site["cpu_cores_available"]
        if not (full or name in shipped or name in bought):
            continue
        text = f"{name}: verifier CPU cores "
        text += "are all in use" if full else "are partly used"
        text += f" ({site['cpu_cores_used']:,.0f} of {site['cpu_cores_available']:,.0f})"
        if generating.get(name):
            text += "; generating on " + ", ".join(generating[name])
        if name in shipped:
            text += "; ships samples for verification: " + ", ".join(shipped[name])
        if name in bought:
            text += f"; buys {bought[name]:,.0f} CPU-only servers"
        lines.append(text + ".")
    return lines


def _bottleneck_rules(data: dict[str, Any]) -> list[str]:
    lines = []
    for b in data.get("bottlenecks", [])[:6]:
        if b["kind"] == "demand":
            continue
        where = f" at {b['where']}" if b["where"] else ""
        lines.append(f"{b['kind']} binds{where}: each extra unit of it is worth "
                     f"{b['shadow_price']:,.4g} {b['shadow_price_unit']} ({b['constraint']}).")
    return lines


def _purchase_rules(data: dict[str, Any]) -> list[str]:
    return [f"buy {p['units']:,.1f} {p['system']} at {p['site']} "
            f"({_q(p.get('capex_usd', p['cost_usd']), Dimension.MONEY)} capital, "
            f"{_q(p['cost_usd'], Dimension.MONEY)} charged to this plan)."
            for p in data.get("purchases", []) if p["units"] > 1e-6]


def plan_findings(data: dict[str, Any]) -> list[str]:
    """What the plan says, in order: CPU balance, purchases, binding limits."""
    lines = [*_cpu_rules(data), *_purchase_rules(data), *_bottleneck_rules(data)]
    if not lines and data.get("status") == "optimal":
        lines.append("no site, link or purchase limit binds: the work itself sets the cost, and "
                     "more capacity would not lower it.")
    return lines
