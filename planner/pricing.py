"""Price an estimate on one cost basis (``--cost-basis own|rent|buy``).

The performance modules (``planner.perf.serving``, ``training``, ``rl``) return how many units
a workload needs and for how long; this module turns that into money on the basis the user
asked for (:class:`planner.perf.cost.CostBasis`), so two systems side by side are always priced
the same way. Serving costs are proportional to the unit's price per second, so they are
re-scaled; pretraining and post-training costs are recomputed as units x price x time (plus the
CPU-only servers a post-training run's verifiers need, priced on the same basis).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from planner.perf.assumptions import Assumption
from planner.perf.cost import COST_DEFAULTS, CostBasis, basis_unit_cost, priced_unit_cost

__all__ = ["apply_cost_basis"]

CPU_SERVER = "cpu-server"


def _cost_assumptions(values: Mapping[str, Any]) -> dict[str, Assumption]:
    """The cost assumptions the estimate used (its listing), by name."""
    out = {}
    for item in values.get("assumptions", []):
        name = item.get("name") if isinstance(item, Mapping) else getattr(item, "name", None)
        if name in COST_DEFAULTS:
            value = item["value"] if isinstance(item, Mapping) else item.value
            out[name] = Assumption(name, float(value), "", "")
    return out


def apply_cost_basis(kind: str, values: dict[str, Any], system: Any, basis: CostBasis, *,
                     run_s: float | None = None, cpu_server: Any = None) -> dict[str, Any]:
    """``values`` (an estimate's dict) with every cost figure on ``basis``.

    ``run_s``: how long a serving fleet runs (its duration; the buy basis spreads the purchase
    over it). ``cpu_server``: the fleet's CPU-only server, for a post-training run's verifiers.
    Raises InputError when ``rent`` is asked of a system (or CPU server) without a rental price.
    """
    assumptions = _cost_assumptions(values)
    out = dict(values)
    if kind == "serve":
        price = basis_unit_cost(system, basis, assumptions, run_s=run_s)
        old = float(values.get("unit_usd_per_s") or 0.0)
        per_token = values.get("usd_per_million_tokens")
        if per_token is not None and old > 0:
            out["usd_per_million_tokens"] = float(per_token) * price.usd_per_s / old
        out["unit_usd_per_s"] = price.usd_per_s
    else:
        wall = _finite(values.get("wall_time_s"))
        units = _finite(values.get("units"))
        price = basis_unit_cost(system, basis, assumptions, run_s=wall)
        if wall is not None and units is not None:
            cost = units * price.usd_per_s * wall
            servers = _finite(values.get("cpu_servers_needed")) or 0.0
            if kind == "posttrain" and servers > 0 and cpu_server is not None:
                cost += servers * _cpu_server_rate(cpu_server, basis, assumptions, wall) * wall
            out["cost_usd"] = cost
        out["unit_usd_per_s"] = price.usd_per_s
    out["cost_basis"] = basis.value
    out["cost_basis_note"] = price.basis
    return out


def _cpu_server_rate(server: Any, basis: CostBasis, assumptions: dict[str, Assumption],
                     run_s: float) -> float:
    rental = None if server.rental is None else server.rental.price
    return priced_unit_cost(CPU_SERVER, server.purchase.price, server.power, rental, basis,
                            assumptions, run_s=run_s,
                            fix="the fleet's cpu_server").usd_per_s


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None
