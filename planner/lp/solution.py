"""The optimizer's result: a frozen record whose ``to_dict()`` keys are a documented contract.

``to_dict()`` (schema_version 1) has these keys, every list sorted deterministically:

- ``status``: ``optimal``, or ``time_limit`` for a MILP stopped with a feasible plan.
- ``objective``: ``{name, value, unit}``; for the time objective also
  ``throughput_multiplier`` and ``finish_s`` (job -> seconds to finish; null if never).
- ``cost_basis``: ``own``, ``rent`` or ``buy``: how acquired units are charged
  (``planner.lp.costs``).
- ``total_cost_usd`` and ``cost_breakdown_usd`` (parts that sum to the total: purchase,
  inventory_capex, rental, energy, colocation, cpu_servers, cpu_server_energy, egress): what
  the objective minimised.
- ``marginal_cost_usd``: the total without owned units' capital (sunk), and
  ``full_economic_cost_usd``: the marginal cost plus the amortised capital of every owned unit
  and CPU server the plan switches on. Compare plans on one of the two, never across.
- ``jobs``: ``{job, kind, horizon_s, progress, finish_s, cost_to_completion_usd}``
  (:class:`JobOutcome`): each job's finish time and its cost to completion.
- ``placements``: ``{site, system, job, role, units, busy_units, site_units_share}``:
  ``units`` assigned to the role (whole with ``--integer``), ``busy_units`` the work it does in
  units running flat out, ``site_units_share`` its share of that system's units provisioned at
  the site. CPU roles appear with system ``cpu``, ``units`` = ``busy_units`` = cores busy on
  average over the job's horizon (fractional in both modes: cores are shared by every role
  on a site's hosts and CPU servers) and ``site_units_share`` = share of the site's cores.
  ``utilization`` repeats ``site_units_share`` (its schema-1 name: a share of units, not of
  time).
- ``purchases``: ``{site, system, units, cost_usd, capex_usd}``: bought units (CPU-only servers
  as system ``cpu-server``), their amortised cost in this plan and the purchase outlay.
- ``rentals``: ``{site, system, units, cost_usd}``; ``inventory``: ``{site, system, units_used,
  units_owned}`` (CPU-only servers as ``cpu-server``).
- ``flows``: ``{job, from, to, kind, bytes}`` per directed link, kind samples|kept|weights.
- ``sites``: ``{site, power_used_w, power_cap_w, cpu_cores_used, cpu_cores_available,
  cpu_cores_on_site}``; power is facility power (IT x PUE); cores available are those of the
  units in use, cores on site those of all inventory (used and idle) and CPU servers.
- ``bottlenecks``: ``{constraint, kind, where, shadow_price, shadow_price_unit,
  value_of_10_percent}`` sorted by ``value_of_10_percent`` (shadow price x a tenth of the
  resource in use: what 10 % more would save), largest first; ``roles``: ``{job, role, bound}``.
- ``reduced_costs``: ``{site, system, acquisition, usd_per_unit, unit}`` for every pool the
  plan leaves unused (cost objective): how much cheaper a unit bought (USD per unit of
  purchase price), rented (USD per unit-hour) or switched on (owned: USD per unit over the
  horizon) there would have to be to enter the plan.
- ``assumptions``: ``{name, value, source, note}``; ``solver``: ``{name, status, seconds,
  variables, constraints, mip_gap, method}``: ``mip_gap`` is the relative gap HiGHS proved
  for a MILP's plan (null for an LP, or from CBC), ``method`` the LP method used.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

__all__ = [
    "SCHEMA_VERSION",
    "Bottleneck",
    "Flow",
    "InventoryUse",
    "JobOutcome",
    "LinkUse",
    "Note",
    "Placement",
    "Purchase",
    "ReducedCost",
    "RoleBound",
    "SiteUse",
    "Solution",
    "SolverInfo",
]

SCHEMA_VERSION = 1


@dataclass(frozen=True, slots=True)
class Placement:
    """Units of a system at a site given to one role of one job.

    ``units``: units assigned (whole numbers with ``--integer``); ``busy_units``: the work done,
    in units running flat out (at most ``units``); ``site_units_share``: ``units`` as a share
    of the units of that system provisioned at the site.
    """

    site: str
    system: str
    job: str
    role: str
    units: float
    busy_units: float
    site_units_share: float


@dataclass(frozen=True, slots=True)
class Purchase:
    """Units bought (or rented) at a site; ``cost_usd`` is what this plan is charged."""

    site: str
    system: str
    units: float
    cost_usd: float
    capex_usd: float


@dataclass(frozen=True, slots=True)
class InventoryUse:
    """Owned units switched on at a site, out of those on hand."""

    site: str
    system: str
    units_used: float
    units_owned: float


@dataclass(frozen=True, slots=True)
class Flow:
    """Bytes of one data kind a job sends over one directed link within its horizon."""

    job: str
    source: str
    target: str
    kind: str
    bytes: float

    def to_dict(self) -> dict[str, object]:
        """JSON form with ``from``/``to`` keys."""
        return {"job": self.job, "from": self.source, "to": self.target, "kind": self.kind,
                "bytes": self.bytes}


@dataclass(frozen=True, slots=True)
class JobOutcome:
    """When a job finishes and what it costs to finish it.

    ``progress``: the share of the job's work done within its horizon (1 when it finishes on
    its deadline, the throughput multiplier with the time objective); ``finish_s`` = horizon /
    progress (a serving job runs for its duration); ``cost_to_completion_usd``: the job's
    share of the units' cost held for ``finish_s`` plus its egress for the whole work.
    """

    job: str
    kind: str
    horizon_s: float
    progress: float
    finish_s: float | None
    cost_to_completion_usd: float | None


@dataclass(frozen=True, slots=True)
class SiteUse:
    """Power and CPU cores used at a site against what it has.

    ``cpu_cores_available``: host cores of the units the plan switches on (or buys) plus CPU
    servers in use; ``cpu_cores_on_site``: host cores of every unit owned there, used or idle,
    plus every CPU server on hand and bought.
    """

    site: str
    power_used_w: float
    power_cap_w: float
    cpu_cores_used: float
    cpu_cores_available: float
    cpu_cores_on_site: float = 0.0
    lat: float | None = None
    lon: float | None = None


@dataclass(frozen=True, slots=True)
class LinkUse:
    """A fleet link: its capacity each way and the bytes the plan sends over it (both ways)."""

    a: str
    b: str
    bandwidth_bytes_per_s: float
    latency_s: float
    bytes: float


@dataclass(frozen=True, slots=True)
class Bottleneck:
    """A binding constraint and what one more unit of its resource would be worth."""

    constraint: str
    kind: str
    where: str
    shadow_price: float
    shadow_price_unit: str
    value_of_10_percent: float = 0.0


@dataclass(frozen=True, slots=True)
class ReducedCost:
    """How much cheaper one unit of a system at a site would have to be to enter the plan.

    ``acquisition``: ``buy`` (purchase price, USD per unit), ``rent`` (USD per unit-hour) or
    ``own`` (running an idle owned unit: energy and colocation over the horizon, USD per unit).
    """

    site: str
    system: str
    acquisition: str
    usd_per_unit: float
    unit: str


@dataclass(frozen=True, slots=True)
class RoleBound:
    """What limits a role on the system holding most of its units (from the perf model)."""

    job: str
    role: str
    bound: str


@dataclass(frozen=True, slots=True)
class Note:
    """A named assumption of the plan, with its source."""

    name: str
    value: float | str | bool
    source: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class SolverInfo:
    """Which solver ran, how it ended, how long it took and how big the model was."""

    name: str
    status: str
    seconds: float
    variables: int
    constraints: int
    mip_gap: float | None = None
    method: str | None = None


@dataclass(frozen=True, slots=True)
class Solution:
    """A solved plan; see the module docstring for the ``to_dict`` contract."""

    status: str
    objective: str
    objective_value: float
    objective_unit: str
    total_cost_usd: float
    cost_breakdown_usd: Mapping[str, float]
    placements: tuple[Placement, ...]
    purchases: tuple[Purchase, ...]
    rentals: tuple[Purchase, ...]
    inventory: tuple[InventoryUse, ...]
    flows: tuple[Flow, ...]
    sites: tuple[SiteUse, ...]
    bottlenecks: tuple[Bottleneck, ...]
    roles: tuple[RoleBound, ...]
    assumptions: tuple[Note, ...]
    solver: SolverInfo
    finish_s: Mapping[str, float | None] | None = None
    cost_basis: str = "own"
    marginal_cost_usd: float = 0.0
    full_economic_cost_usd: float = 0.0
    jobs: tuple[JobOutcome, ...] = ()
    reduced_costs: tuple[ReducedCost, ...] = ()
    links: tuple[LinkUse, ...] = ()

    def to_dict(self) -> dict[str, object]:
        """The JSON-ready contract (schema_version 1)."""
        objective: dict[str, object] = {"name": self.objective, "value": self.objective_value,
                                        "unit": self.objective_unit}
        if self.finish_s is not None:
            objective["throughput_multiplier"] = self.objective_value
            objective["finish_s"] = dict(self.finish_s)
        return {
            "schema_version": SCHEMA_VERSION,
            "status": self.status,
            "objective": objective,
            "cost_basis": self.cost_basis,
            "total_cost_usd": self.total_cost_usd,
            "marginal_cost_usd": self.marginal_cost_usd,
            "full_economic_cost_usd": self.full_economic_cost_usd,
            "cost_breakdown_usd": dict(self.cost_breakdown_usd),
            "jobs": [asdict(j) for j in self.jobs],
            "placements": [{**asdict(p), "utilization": p.site_units_share}
                           for p in self.placements],
            "purchases": [asdict(p) for p in self.purchases],
            "rentals": [{k: v for k, v in asdict(p).items() if k != "capex_usd"}
                        for p in self.rentals],
            "inventory": [asdict(p) for p in self.inventory],
            "flows": [f.to_dict() for f in self.flows],
            "sites": [asdict(s) for s in self.sites],
            "links": [asdict(k) for k in self.links],
            "bottlenecks": [asdict(b) for b in self.bottlenecks],
            "reduced_costs": [asdict(r) for r in self.reduced_costs],
            "roles": [asdict(r) for r in self.roles],
            "assumptions": [asdict(n) for n in self.assumptions],
            "solver": asdict(self.solver),
        }
