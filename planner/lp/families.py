"""The one registry of LP constraint families: what each row family is and how it is reported.

Every row ``planner.lp.build`` adds names a family registered here (``build._row`` refuses an
unregistered name), and both readers of rows take everything about a family from its entry:
``planner.lp.bottlenecks`` (the reported kind, where, and the shadow price in a unit people
price things in) and ``planner.lp.diagnose`` (the elastic penalty and the sentence for a
positive slack). Adding a family therefore touches this module and ``build.py`` only; the worked
example is in ``docs/extending.md`` and the LP itself in ``docs/lp.md``.

An entry's fields:

- ``kind``: the bottleneck kind it is reported under (``Kind``), or ``None`` for a structural
  row (linking, choice, flow balance) whose dual is not a price anyone pays.
- ``unit``: what one unit of the row's right-hand side is (for people and docs).
- ``display``: the family's name for people.
- ``penalty``: the elastic penalty per row unit (``build_lp(elastic=True)``), or ``None`` when
  the row is never relaxed. ``build`` may multiply it by a per-row factor (a purchase limit's
  unit power, the budget's ``usd_scale``).
- ``price``: ``(m, key, per_natural) -> (value, unit)``, the shadow price per natural unit
  (``dual x objective scale / Row.unit_size``) quoted per MW-day, per core-hour, ...
- ``describe``: ``(m, key, slack) -> Shortfall``, the diagnosis line for a positive slack
  (slack in row units). Required for every family with a penalty.
- ``where``: ``key -> str``, the place a row stands for ("site", "a->b", "job/role").
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING

from planner.lp.inputs import ANY_REGION
from planner.units import (
    SECONDS_PER_DAY,
    SECONDS_PER_HOUR,
    Dimension,
    bits_to_bytes,
    format_quantity,
)

if TYPE_CHECKING:
    from planner.lp.build import BuiltLp

__all__ = [
    "FAMILIES",
    "GB",
    "KCORES",
    "MUSD",
    "MW",
    "Family",
    "Kind",
    "Shortfall",
    "family",
    "gbps_text",
    "register",
    "unregister",
]

GB = 1e9  # bytes per GB: flow variables are in GB
MW = 1e6  # watts per MW: power rows are in MW
KCORES = 1e3  # cores per row unit of CPU rows
MUSD = 1e6  # USD per MUSD, the unit budget shadow prices are quoted in

# Elastic penalties per row unit: one MW, the power of one unit (per MW of it), 10^5 CPU
# cores, 10^6 GB over the horizon and 10^9 USD are comparable; unmet demand is 10^4 times
# dearer, so a diagnosis names missing capacity before unmet demand (docs/lp.md).
PENALTY_POWER_PER_MW = 1.0
PENALTY_DEMAND = 1e4
PENALTY_PURCHASE_PER_UNIT_MW = 1.0
PENALTY_NEW_PURCHASE = 10.0  # factor where nothing of the system may be bought at all
PENALTY_LINK_PER_GB = 1e-6
PENALTY_BUDGET_PER_MUSD = 1e-3
PENALTY_CPU_PER_KCORE = 1e-2

Key = tuple[str, ...]


class Kind(StrEnum):
    """What a reported bottleneck or shortfall limits."""

    POWER = "power"
    CPU = "cpu"
    LINK = "link"
    INVENTORY = "inventory"
    PURCHASE_LIMIT = "purchase-limit"
    BUDGET = "budget"
    DEMAND = "demand"


@dataclass(frozen=True, slots=True)
class Shortfall:
    """One thing that is short: its kind, where, how much (in ``unit``) and the sentence."""

    kind: str
    where: str
    amount: float
    unit: str
    message: str


Price = Callable[["BuiltLp", Key, float], tuple[float, str]]
Describe = Callable[["BuiltLp", Key, float], Shortfall]


def _slash(key: Key) -> str:
    return "/".join(key)


def _arrow(key: Key) -> str:
    return f"{key[0]}->{key[1]}"


@dataclass(frozen=True, slots=True)
class Family:
    """One constraint family (see the module docstring for the fields)."""

    name: str
    kind: Kind | None
    unit: str
    display: str
    penalty: float | None = None
    price: Price | None = None
    describe: Describe | None = None
    where: Callable[[Key], str] = _slash

    def __post_init__(self) -> None:
        if self.penalty is not None and self.describe is None:
            raise ValueError(f"family {self.name}: an elastic penalty needs a describe()")
        if self.kind is not None and self.price is None:
            raise ValueError(f"family {self.name}: a reported kind needs a price()")


_FAMILIES: dict[str, Family] = {}
FAMILIES: Mapping[str, Family] = MappingProxyType(_FAMILIES)


def register(entry: Family) -> Family:
    """Add a family to the registry (a name may be registered once)."""
    if entry.name in _FAMILIES:
        raise ValueError(f"constraint family {entry.name} is already registered")
    _FAMILIES[entry.name] = entry
    return entry


def unregister(name: str) -> None:
    """Remove a family (for tests that register a toy one)."""
    del _FAMILIES[name]


def family(name: str) -> Family:
    """The registered family of that name; a clear error for one that is not registered."""
    try:
        return _FAMILIES[name]
    except KeyError:
        raise KeyError(f"constraint family {name!r} is not registered in "
                       "planner/lp/families.py (docs/extending.md)") from None


# ---- shadow prices per natural unit, quoted in the unit of their kind ----------------------

def _money(m: BuiltLp) -> str:
    return "USD" if m.objective == "cost" else "x"


def _per_mw_day(m: BuiltLp, key: Key, v: float) -> tuple[float, str]:
    return v * MW / (m.index.horizon_s / SECONDS_PER_DAY), f"{_money(m)}/MW-day"


def _per_core_hour(m: BuiltLp, key: Key, v: float) -> tuple[float, str]:
    return v / (m.index.horizon_s / SECONDS_PER_HOUR), f"{_money(m)}/core-hour"


def _per_gbps_day(m: BuiltLp, key: Key, v: float) -> tuple[float, str]:
    gbps = bits_to_bytes(1e9)  # bytes/s in one Gbit/s
    return v * gbps / (m.index.horizon_s / SECONDS_PER_DAY), f"{_money(m)}/Gbps-day"


def _per_musd(m: BuiltLp, key: Key, v: float) -> tuple[float, str]:
    return v * MUSD, f"{_money(m)}/MUSD"


def _per_request_rate(m: BuiltLp, key: Key, v: float) -> tuple[float, str]:
    return v, f"{_money(m)}/(request/s)"


def _per_work_unit(m: BuiltLp, key: Key, v: float) -> tuple[float, str]:
    job, role = key
    return v, f"{_money(m)}/{singular(m.index.jobs[job].role(role).work_unit)}"


def singular(unit: str) -> str:
    """'samples' -> 'sample', 'tokens' -> 'token': a price is per one of them ('USD/sample')."""
    words = unit.split(" ")
    last = words[-1]
    if len(last) > 3 and last.endswith("s") and not last.endswith("ss"):
        words[-1] = last[:-1]
    return " ".join(words)


def _per_unit(m: BuiltLp, key: Key, v: float) -> tuple[float, str]:
    return v, f"{_money(m)}/unit"


def _per_server(m: BuiltLp, key: Key, v: float) -> tuple[float, str]:
    return v, f"{_money(m)}/server"


def _per_mw(m: BuiltLp, key: Key, v: float) -> tuple[float, str]:
    return v * MW, f"{_money(m)}/MW"


# ---- diagnosis lines for positive elastic slacks (slack in row units) ----------------------

def gbps_text(bytes_per_s: float) -> str:
    """A byte rate in Gbit/s for people."""
    return f"{bytes_per_s * 8 / 1e9:,.4g} Gbps"


def _short_power(m: BuiltLp, key: Key, amount: float) -> Shortfall:
    watts = amount * MW
    cap = format_quantity(m.index.sites[key[0]].power_cap_w, Dimension.POWER)
    more = format_quantity(watts, Dimension.POWER)
    return Shortfall(Kind.POWER, _slash(key), watts, "W",
                     f"needs {more} more power at site {key[0]} (cap {cap})")


def _short_cpu(m: BuiltLp, key: Key, amount: float) -> Shortfall:
    cores = math.ceil(amount * KCORES - 1e-6)
    return Shortfall(Kind.CPU, _slash(key), cores, "cores",
                     f"needs {cores:,} more CPU cores at site {key[0]}")


def _short_units(m: BuiltLp, key: Key, amount: float) -> Shortfall:
    site, system = key
    units = math.ceil(amount - 1e-6)
    limit = m.index.sites[site].purchase_limits.get(system, 0)
    rule = f"purchase limit {limit}" if limit else "none may be bought there"
    return Shortfall(Kind.PURCHASE_LIMIT, f"{site}/{system}", units, "units",
                     f"needs {units:,} more {system} units at site {site} ({rule})")


def _short_link(m: BuiltLp, key: Key, amount: float) -> Shortfall:
    rate = amount * GB / m.index.horizon_s
    have = m.index.graph.edges[(key[0], key[1])].bandwidth_bytes_per_s
    return Shortfall(Kind.LINK, _arrow(key), rate, "B/s",
                     f"needs {gbps_text(rate)} more on link {key[0]} -> {key[1]} "
                     f"(has {gbps_text(have)})")


def _short_budget(m: BuiltLp, key: Key, amount: float) -> Shortfall:
    usd = amount * m.usd_scale
    return Shortfall(Kind.BUDGET, "budget", usd, "USD",
                     f"needs {format_quantity(usd, Dimension.MONEY)} more budget")


def _unmet_work(m: BuiltLp, key: Key, share: float) -> Shortfall:
    job = m.index.jobs[key[0]]
    role = job.role(key[1])
    amount = share * role.work
    return Shortfall(Kind.DEMAND, _slash(key), amount, role.work_unit,
                     f"job {job.id} role {role.name}: {share:.1%} of its work "
                     f"({amount:,.4g} {role.work_unit}) cannot be done in its horizon")


def _unmet_serve(m: BuiltLp, key: Key, share: float) -> Shortfall:
    job = m.index.jobs[key[0]]
    assert job.serve is not None
    rate = share * job.serve.rate_by_region[key[1]]
    bound = format_quantity(job.serve.latency_bound_s, Dimension.DURATION)
    if key[1] == ANY_REGION:  # demand without a home region: no latency to blame
        return Shortfall(Kind.DEMAND, job.id, rate, "requests/s",
                         f"job {job.id}: {rate:,.4g} requests/s cannot be served: more than "
                         "every site's power, inventory and purchase limits can hold")
    return Shortfall(Kind.DEMAND, _slash(key), rate, "requests/s",
                     f"job {job.id}: {rate:,.4g} requests/s from region {key[1]} cannot be "
                     f"served within {bound}")


# ---- the registry --------------------------------------------------------------------------

for _entry in (
    # Reported capacities and demands.
    Family("site_power", Kind.POWER, "MW", "site power", PENALTY_POWER_PER_MW, _per_mw_day,
           _short_power),
    # A spread job's share of a site's cap: the same limit once the site is chosen.
    Family("site_use", Kind.POWER, "MW", "site power (spread job)", None, _per_mw_day),
    Family("site_cpu", Kind.CPU, "thousand CPU cores", "site CPU cores", PENALTY_CPU_PER_KCORE,
           _per_core_hour, _short_cpu),
    Family("link_bw", Kind.LINK, "GB over the horizon", "link bandwidth", PENALTY_LINK_PER_GB,
           _per_gbps_day, _short_link, _arrow),
    Family("inventory", Kind.INVENTORY, "units", "units on hand", None, _per_unit),
    Family("cpu_inventory", Kind.INVENTORY, "CPU servers", "CPU servers on hand", None,
           _per_server),
    Family("purchase_limit", Kind.PURCHASE_LIMIT, "units", "purchase limit",
           PENALTY_PURCHASE_PER_UNIT_MW, _per_unit, _short_units),
    Family("rental_limit", Kind.PURCHASE_LIMIT, "units", "rental limit", None, _per_unit),
    Family("cpu_purchase_limit", Kind.PURCHASE_LIMIT, "CPU servers", "CPU server purchase limit",
           None, _per_server),
    Family("budget", Kind.BUDGET, "usd_scale USD", "budget", PENALTY_BUDGET_PER_MUSD, _per_musd,
           _short_budget),
    Family("work", Kind.DEMAND, "share of the role's work", "work in the horizon",
           PENALTY_DEMAND, _per_work_unit, _unmet_work),
    Family("serve", Kind.DEMAND, "share of the region's request rate", "serving rate",
           PENALTY_DEMAND, _per_request_rate, _unmet_serve),
    # Structural rows: linking, choices, flow balances (their duals are not reported).
    Family("whole_units", None, "units", "whole units per placement"),
    Family("capacity", None, "units", "placements within units"),
    Family("provision", None, "units", "units owned, bought or rented"),
    Family("single_site", None, "site picks", "single-site job"),
    Family("update_site", None, "site picks", "update-role site"),
    Family("site_choice", None, "MW", "power at the chosen site"),
    Family("site_choice_cpu", None, "thousand CPU cores", "CPU cores at the chosen site"),
    Family("one_system", None, "system picks", "one system per role"),
    Family("system_choice", None, "units", "units of the chosen system"),
    Family("max_sites", None, "sites", "sites a spread job may use"),
    Family("one_hub", None, "hub picks", "one averaging hub"),
    Family("hub_on_site", None, "hub picks", "hub among the job's sites"),
    Family("sync_weights", None, "GB", "weights to every site"),
    Family("sync_gradients", None, "GB", "gradients to the hub"),
    Family("serve_capacity", None, "requests/s", "serving capacity"),
    Family("score", None, "share of work", "scoring keeps up with generation"),
    Family("verify_flow", None, "GB", "samples to verifiers"),
    Family("kept_flow", None, "GB", "kept samples to the update role"),
    Family("generates", None, "share of work", "generation bound at a site"),
    Family("weights_flow", None, "GB", "weights to generating sites"),
    # The roadmap's own rows (planner/lp/periods.py); keys start with the period's name.
    Family("order_limit", Kind.PURCHASE_LIMIT, "units", "units that may be bought per period",
           None, _per_unit),
    Family("buildout_limit", Kind.POWER, "MW", "site power that may be built", None, _per_mw),
    Family("period_budget", Kind.BUDGET, "usd_scale USD", "spend per period", None, _per_musd),
    Family("fleet_balance", None, "units", "units carried over between periods"),
    Family("job_window", None, "share of the job's work", "work done within the job's window"),
    Family("speed_floor", None, "x", "throughput floor (second pass)"),
    Family("lambda_cap", None, "x", "throughput multiplier cap"),
):
    register(_entry)
