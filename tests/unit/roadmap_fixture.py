"""A hand-made `planner roadmap` result: 3 quarters x 2 sites x 2 systems.

Built by hand so that the report tests know every figure: each period's cost parts add up to
its total, each discounted total is the total times the period's discount factor, and the net
present value is the sum of the discounted totals. The story:

- 2027-Q1: texas-gb200 holds 20 GB200 NVL72 racks and 16 DGX H100; virginia-h100 holds 100
  DGX H100. Texas buys 10 racks (3.9M USD each, arriving a quarter later) and 4 MW of power
  (1.5M USD per MW, online two quarters later).
- 2027-Q2: the 10 racks arrive; 40 DGX H100 reach end of life in Virginia; Texas rents 4 racks
  (busy with the 30 it holds);
  Texas buys 15 more racks and Virginia 5 (3.6M USD each, arriving in Q3). Texas power binds.
- 2027-Q3: the 20 racks arrive and the 4 MW come online; Virginia retires 20 DGX H100 early;
  the equipment still in its life is worth 88.2M USD at the horizon's end.

Accelerators: 72 per GB200 NVL72 rack, 8 per DGX H100. The rows follow the contract that
``planner roadmap`` writes (``capacity`` per period, site and system; ``notes``).
"""

from __future__ import annotations

import copy
from typing import Any

PERIODS = ("2027-Q1", "2027-Q2", "2027-Q3")

# 1 / 1.10 ** (quarter / 4), rounded to 4 digits: a 10% yearly rate discounted per quarter.
DISCOUNT_FACTORS = (1.0, 0.9765, 0.9535)

PARTS = ("purchase", "rental", "energy", "colocation", "cpu_servers", "cpu_server_energy",
         "egress", "power_buildout", "remaining_value")

# USD per period, in the order of PARTS.
COSTS = (
    (39.0e6, 0.0, 1.2e6, 2.5e6, 0.35e6, 0.05e6, 0.02e6, 6.0e6, 0.0),  # 10 x 3.9M; 4 MW x 1.5M
    (72.0e6, 1_572_480.0, 1.9e6, 3.8e6, 0.0, 0.0, 0.03e6, 0.0, 0.0),  # 20 x 3.6M; 4 x 72 x 2.5
    (0.0, 0.0, 2.4e6, 4.9e6, 0.1e6, 0.02e6, 0.04e6, 0.0, -88.2e6),  # USD/h x 2184 h rented
)


def _cost_row(period: str, factor: float, values: tuple[float, ...]) -> dict[str, Any]:
    row: dict[str, Any] = {"period": period, **dict(zip(PARTS, values, strict=True))}
    row["total"] = sum(values)
    row["discount_factor"] = factor
    row["discounted_total"] = row["total"] * factor
    return row


def _fleet(period: str, site: str, system: str, held: float, busy: float,
           rented: float = 0.0) -> dict[str, Any]:
    """A ``capacity`` row: accelerators held count the rented units too."""
    per_unit = 72 if system == "gb200-nvl72" else 8
    return {"period": period, "site": site, "system": system, "units_held": held,
            "units_on": held, "units_rented": rented, "units_busy": busy,
            "accelerators_held": (held + rented) * per_unit,
            "accelerators_busy": busy * per_unit}


COST_ROWS = [_cost_row(p, f, c) for p, f, c in zip(PERIODS, DISCOUNT_FACTORS, COSTS, strict=True)]

ROADMAP: dict[str, Any] = {
    "schema_version": 1,
    "kind": "roadmap",
    "scenario": "roadmap-2027",
    "fleet": "default",
    "status": "optimal",
    "objective": "cost",
    "discount_rate": 0.10,
    "periods": [
        {"name": "2027-Q1", "start": "2027-01-01", "end": "2027-04-01", "discount_factor": 1.0},
        {"name": "2027-Q2", "start": "2027-04-01", "end": "2027-07-01",
         "discount_factor": 0.9765},
        {"name": "2027-Q3", "start": "2027-07-01", "end": "2027-10-01",
         "discount_factor": 0.9535},
    ],
    "npv_usd": sum(r["discounted_total"] for r in COST_ROWS),
    "cost_by_period_usd": COST_ROWS,
    "purchases": [
        {"period": "2027-Q1", "site": "texas-gb200", "system": "gb200-nvl72", "units": 10.0,
         "arrives": "2027-Q2", "cost_usd": 39.0e6},
        {"period": "2027-Q2", "site": "texas-gb200", "system": "gb200-nvl72", "units": 15.0,
         "arrives": "2027-Q3", "cost_usd": 54.0e6},
        {"period": "2027-Q2", "site": "virginia-h100", "system": "gb200-nvl72", "units": 5.0,
         "arrives": "2027-Q3", "cost_usd": 18.0e6},
    ],
    "retirements": [
        {"period": "2027-Q2", "site": "virginia-h100", "system": "dgx-h100", "units": 40.0,
         "reason": "end_of_life"},
        {"period": "2027-Q3", "site": "virginia-h100", "system": "dgx-h100", "units": 20.0,
         "reason": "early"},
    ],
    "rentals": [
        {"period": "2027-Q2", "site": "texas-gb200", "system": "gb200-nvl72", "units": 4.0,
         "cost_usd": 1_572_480.0},
    ],
    "power_buildout": [
        {"period": "2027-Q1", "site": "texas-gb200", "mw": 4.0, "online": "2027-Q3",
         "cost_usd": 6.0e6},
    ],
    "placements": [
        {"period": "2027-Q1", "site": "texas-gb200", "system": "gb200-nvl72",
         "job": "serve_reasoning", "role": "serve", "units": 19.5},
        {"period": "2027-Q1", "site": "virginia-h100", "system": "dgx-h100",
         "job": "serve_reasoning", "role": "serve", "units": 90.0},
        {"period": "2027-Q2", "site": "texas-gb200", "system": "gb200-nvl72",
         "job": "pretrain_frontier", "role": "train", "units": 34.0},
        {"period": "2027-Q3", "site": "texas-gb200", "system": "gb200-nvl72",
         "job": "pretrain_frontier", "role": "train", "units": 44.0},
    ],
    "capacity": [
        _fleet("2027-Q1", "texas-gb200", "dgx-h100", 16.0, 16.0),
        _fleet("2027-Q1", "texas-gb200", "gb200-nvl72", 20.0, 19.5),
        _fleet("2027-Q1", "virginia-h100", "dgx-h100", 100.0, 90.0),
        _fleet("2027-Q1", "virginia-h100", "gb200-nvl72", 0.0, 0.0),
        _fleet("2027-Q2", "texas-gb200", "dgx-h100", 16.0, 16.0),
        _fleet("2027-Q2", "texas-gb200", "gb200-nvl72", 30.0, 34.0, rented=4.0),
        _fleet("2027-Q2", "virginia-h100", "dgx-h100", 60.0, 60.0),
        _fleet("2027-Q2", "virginia-h100", "gb200-nvl72", 0.0, 0.0),
        _fleet("2027-Q3", "texas-gb200", "dgx-h100", 16.0, 12.0),
        _fleet("2027-Q3", "texas-gb200", "gb200-nvl72", 45.0, 44.0),
        _fleet("2027-Q3", "virginia-h100", "dgx-h100", 40.0, 38.0),
        _fleet("2027-Q3", "virginia-h100", "gb200-nvl72", 5.0, 5.0),
    ],
    "sites": [
        {"period": "2027-Q1", "site": "texas-gb200", "power_used_w": 3.6e6, "power_cap_w": 6.0e6},
        {"period": "2027-Q1", "site": "virginia-h100", "power_used_w": 1.43e6,
         "power_cap_w": 2.0e6},
        {"period": "2027-Q2", "site": "texas-gb200", "power_used_w": 6.0e6, "power_cap_w": 6.0e6},
        {"period": "2027-Q2", "site": "virginia-h100", "power_used_w": 0.86e6,
         "power_cap_w": 2.0e6},
        {"period": "2027-Q3", "site": "texas-gb200", "power_used_w": 8.7e6,
         "power_cap_w": 10.0e6},
        {"period": "2027-Q3", "site": "virginia-h100", "power_used_w": 1.5e6,
         "power_cap_w": 2.0e6},
    ],
    "bottlenecks": [
        {"period": "2027-Q2", "kind": "power", "where": "texas-gb200", "shadow_price": -2.1e6,
         "unit": "USD/MW", "message": "site_power[texas-gb200,2027-Q2]"},
        {"period": "2027-Q3", "kind": "inventory", "where": "virginia-h100/dgx-h100",
         "shadow_price": -41_000.0, "unit": "USD/unit",
         "message": "inventory[virginia-h100,dgx-h100,2027-Q3]"},
        {"period": "2027-Q3", "kind": "power", "where": "virginia-h100", "shadow_price": 0.0,
         "unit": "USD/MW", "message": "site_power[virginia-h100,2027-Q3]"},
        {"period": "", "kind": "budget", "where": "", "shadow_price": 0.08,
         "unit": "USD/USD", "message": "budget"},
    ],
    "jobs": [
        {"job": "serve_reasoning", "kind": "serve", "periods": list(PERIODS),
         "work_share_by_period": {"2027-Q1": 0.25, "2027-Q2": 0.35, "2027-Q3": 0.40}},
        {"job": "pretrain_frontier", "kind": "pretrain", "periods": ["2027-Q2", "2027-Q3"],
         "work_share_by_period": {"2027-Q2": 0.4, "2027-Q3": 0.6}},
    ],
    "assumptions": [
        {"name": "discount_rate", "value": 0.10, "source": "assumption",
         "note": "yearly, applied per quarter"},
        {"name": "gb200_nvl72_price_decline_per_year", "value": 0.3,
         "source": "assumption", "note": "3.9M USD in 2027-Q1 to 3.6M USD in 2027-Q2"},
    ],
    "notes": ["texas-gb200 power binds in 2027-Q2: 4 MW built in 2027-Q1 come online in "
              "2027-Q3"],
    "solver": {"name": "highs", "status": "Optimal", "seconds": 1.2, "integer": False,
               "mip_gap": None},
}


def large_roadmap(quarters: int = 12) -> dict[str, Any]:
    """A made-up roadmap at the size of the bundled one and beyond: ``quarters`` periods, the
    default fleet's 5 sites and 4 systems (long names), purchases, retirements, rentals and two
    binding power limits; for layout checks (terminal width, plots, browser), not for figures."""
    names = [f"{2027 + q // 4}-Q{q % 4 + 1}" for q in range(quarters)]
    sites = ("indiana-trn2", "texas-gb200", "virginia-h100", "finland-eu", "riyadh-expansion")
    systems = {"dgx-h100": 8, "gb200-nvl72": 72, "trn2-ultraserver": 64, "vr200-nvl144": 144}
    data = copy.deepcopy(ROADMAP)
    data["periods"] = [{"name": n, "start": "", "end": ""} for n in names]
    data["capacity"] = [
        _fleet_of(n, s, system, per_unit, (i + 1) * (j + 1) * 10.0 + q * 7 * (j - 1))
        for q, n in enumerate(names) for i, s in enumerate(sites)
        for j, (system, per_unit) in enumerate(systems.items()) if (i + j) % 3]
    data["purchases"] = [
        {"period": n, "site": s, "system": system, "units": 12.5,
         "arrives": names[min(q + 1, quarters - 1)], "cost_usd": 12.5 * 3.1e6}
        for q, n in enumerate(names) for i, s in enumerate(sites)
        for j, system in enumerate(systems) if (i + j + q) % 5 == 0]
    data["retirements"] = [
        {"period": n, "site": s, "system": system, "units": 8.0,
         "reason": "early" if q % 2 else "end_of_life"}
        for q, n in enumerate(names) for i, s in enumerate(sites)
        for j, system in enumerate(systems) if (i * j + q) % 7 == 3]
    data["rentals"] = [
        {"period": n, "site": s, "system": system, "units": 4.0, "cost_usd": 1.5e6}
        for q, n in enumerate(names) for i, s in enumerate(sites)
        for j, system in enumerate(systems) if (i + 2 * j + q) % 9 == 0]
    data["sites"] = [
        {"period": n, "site": s, "power_used_w": (10 + 3 * q + 5 * i) * 1e6,
         "power_cap_w": (30 + 10 * i + (40 if q >= 4 and i == 1 else 0)) * 1e6}
        for q, n in enumerate(names) for i, s in enumerate(sites)]
    data["bottlenecks"] = [
        {"period": names[q], "kind": "power", "where": "texas-gb200",
         "shadow_price": -2.1e6 * (q + 1), "unit": "USD/MW",
         "message": f"site_power[texas-gb200,{names[q]}]"} for q in (2, 5)]
    data["cost_by_period_usd"] = [
        _cost_row(n, 1.1 ** (-q / 4),
                  (300e6 / (q + 1), 5e6, 20e6 + q * 3e6, 30e6 + q * 4e6, 1e6, 0.1e6, 0.2e6,
                   60e6 if q == 1 else 0.0, -900e6 if q == quarters - 1 else 0.0))
        for q, n in enumerate(names)]
    data["npv_usd"] = sum(r["discounted_total"] for r in data["cost_by_period_usd"])
    return data


def _fleet_of(period: str, site: str, system: str, per_unit: int,
              held: float) -> dict[str, Any]:
    return {"period": period, "site": site, "system": system, "units_held": held,
            "units_on": held, "units_rented": 0.0, "units_busy": 0.9 * held,
            "accelerators_held": held * per_unit,
            "accelerators_busy": 0.9 * held * per_unit}
