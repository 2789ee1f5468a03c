"""The planning-inputs table: everything the LP reads, as plain SI numbers.

The optimizer never sees the performance model; ``planner.scenario`` turns catalog, workloads and
perf estimates into these frozen records. Every mapping is stored sorted by key and every tuple
sorted by id, so two equal scenarios build byte-identical LPs.

Conventions (SI units throughout):

- A *unit* is one procurable system (a node, a rack, an instance).
- ``RoleInput.throughput[system]`` is work units per second per unit of that system; a system
  missing from the mapping cannot run the role (the model does not fit, or it was not profiled).
  A role with no throughput at all but ``cpu_core_seconds_per_work > 0`` is a *CPU role*: it runs
  on CPU cores (host cores of accelerator units, or CPU-only servers).
- ``SiteInput.purchase_limits`` / ``rental_limits``: a system missing from the mapping cannot be
  bought (or rented) at that site; write a large number for "no limit" (site power still binds).
  ``inventory`` lists the units already owned there.
- RL coupling: the *generate* role's work is counted in samples (trajectories); the *verify* role
  is a CPU role whose work is the number of verified samples, which must equal
  ``verified_fraction`` x the generate role's work.
- Serving: each role's ``work`` is what the job's total request rate needs over its horizon, so
  the work per request is ``work / (sum of regional rates x horizon)``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Literal

from planner.errors import Problem

__all__ = [
    "ANY_REGION",
    "CostBasisName",
    "CpuServerInput",
    "EconomicsInput",
    "JobInput",
    "JobKind",
    "LinkInput",
    "PlanningInputs",
    "RlCoupling",
    "RoleInput",
    "ServeDemand",
    "SiteInput",
    "SystemInput",
    "check_inputs",
]

JobKind = Literal["pretrain", "posttrain", "serve"]
CostBasisName = Literal["own", "rent", "buy"]
ANY_REGION = "*"
_WHERE = "<planning inputs>"


def _sorted_map(value: Mapping[str, object]) -> dict[str, object]:
    return {key: value[key] for key in sorted(value)}


def _freeze(obj: object, *, maps: tuple[str, ...] = (), by_id: tuple[str, ...] = ()) -> None:
    """Store the named mappings sorted by key and the named tuples sorted by ``id``/``name``."""
    for name in maps:
        object.__setattr__(obj, name, _sorted_map(getattr(obj, name)))
    for name in by_id:
        items = getattr(obj, name)
        object.__setattr__(obj, name, tuple(sorted(items, key=_item_key)))


def _item_key(item: object) -> tuple[str, ...]:
    if isinstance(item, LinkInput):
        return (item.a, item.b)
    return (str(getattr(item, "id", None) or getattr(item, "name", "")),)


@dataclass(frozen=True, slots=True)
class SystemInput:
    """One procurable system: what a unit holds, draws and costs."""

    id: str
    accelerators: int
    cpu_cores: int
    power_w: float
    purchase_usd: float
    rental_usd_per_s: float | None = None


@dataclass(frozen=True, slots=True)
class SiteInput:
    """One datacenter: power, prices, units on hand and what may be bought or rented there.

    ``purchase_usd`` and ``rental_usd_per_s`` override a system's catalog price at this site
    (quotes differ by site and vendor); a system missing from them costs the catalog price.
    """

    id: str
    region: str
    power_cap_w: float
    pue: float
    electricity_usd_per_j: float
    colocation_usd_per_w_s: float = 0.0
    inventory: Mapping[str, int] = field(default_factory=dict)
    purchase_limits: Mapping[str, int] = field(default_factory=dict)
    rental_limits: Mapping[str, int] = field(default_factory=dict)
    cpu_servers: int = 0
    cpu_server_purchase_limit: int = 0
    purchase_usd: Mapping[str, float] = field(default_factory=dict)
    rental_usd_per_s: Mapping[str, float] = field(default_factory=dict)
    lat: float | None = None  # degrees, for drawing only
    lon: float | None = None

    def __post_init__(self) -> None:
        _freeze(self, maps=("inventory", "purchase_limits", "rental_limits", "purchase_usd",
                            "rental_usd_per_s"))


@dataclass(frozen=True, slots=True)
class LinkInput:
    """A network link between two sites; the bandwidth is available in each direction."""

    a: str
    b: str
    bandwidth_bytes_per_s: float
    latency_s: float
    usd_per_byte: float = 0.0


@dataclass(frozen=True, slots=True)
class CpuServerInput:
    """The CPU-only server a site can buy to run verifiers."""

    cores: int
    power_w: float
    purchase_usd: float


@dataclass(frozen=True, slots=True)
class EconomicsInput:
    """How capital becomes a cost per second: depreciation life and cost of capital (per year)."""

    lifetime_s: float
    cost_of_capital: float


@dataclass(frozen=True, slots=True)
class RoleInput:
    """One role of a job (generator, reward model, trainer, verifier, decode...)."""

    name: str
    work: float
    work_unit: str
    throughput: Mapping[str, float] = field(default_factory=dict)
    cpu_core_seconds_per_work: float = 0.0
    bound: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _freeze(self, maps=("throughput", "bound"))

    @property
    def is_cpu(self) -> bool:
        """True for a role that runs on CPU cores only (no accelerator throughput)."""
        return not self.throughput and self.cpu_core_seconds_per_work > 0


@dataclass(frozen=True, slots=True)
class RlCoupling:
    """How the roles of an RL post-training job feed each other across sites.

    ``sample_bytes`` is one sample on the wire; ``verified_fraction`` of generated samples go
    through a CPU verifier; ``keep_fraction`` of generated samples reach the update role;
    ``weight_bytes`` x ``policy_updates`` is the weight traffic to each generating site.
    ``score`` may be None when no reward model runs.
    """

    generate: str
    score: str | None
    verify: str
    update: str
    sample_bytes: float
    verified_fraction: float
    keep_fraction: float
    weight_bytes: float
    policy_updates: float


@dataclass(frozen=True, slots=True)
class ServeDemand:
    """Requests per second by region, each served within a latency bound.

    The region ``"*"`` (:data:`ANY_REGION`) stands for demand without a home region: any site
    may serve it, whatever its latency.
    """

    rate_by_region: Mapping[str, float]
    latency_bound_s: float

    def __post_init__(self) -> None:
        _freeze(self, maps=("rate_by_region",))

    @property
    def total_rate_per_s(self) -> float:
        """Sum of the regional request rates."""
        return sum(self.rate_by_region.values())


@dataclass(frozen=True, slots=True)
class JobInput:
    """A job: its roles, its deadline (horizon) and how it may spread over sites.

    ``systems``: the system types it may use (empty: any that runs it). ``homogeneous``: roles
    that must run on one system type (synchronous data parallelism: every replica steps
    together). ``max_sites``: most sites holding its accelerator units (None: no limit).
    ``sync_bytes``: for a synchronous job allowed to span sites, the bytes each participating
    site sends to the job's hub site (reduced gradients) and receives back (updated weights)
    over the whole job.
    """

    id: str
    kind: JobKind
    horizon_s: float
    roles: tuple[RoleInput, ...]
    single_site: bool = False
    rl: RlCoupling | None = None
    serve: ServeDemand | None = None
    systems: tuple[str, ...] = ()
    homogeneous: tuple[str, ...] = ()
    max_sites: int | None = None
    sync_bytes: float = 0.0

    def __post_init__(self) -> None:
        _freeze(self, by_id=("roles",))
        object.__setattr__(self, "systems", tuple(sorted(self.systems)))
        object.__setattr__(self, "homogeneous", tuple(sorted(self.homogeneous)))

    def role(self, name: str) -> RoleInput:
        """The role with this name (KeyError if absent)."""
        for role in self.roles:
            if role.name == name:
                return role
        raise KeyError(name)


@dataclass(frozen=True, slots=True)
class PlanningInputs:
    """The whole table the LP is built from.

    ``charge_inventory_capex``: by default units already owned cost energy and colocation only
    (their capital is sunk); set it to charge their amortised purchase price as well.
    ``cost_basis``: how acquired units are charged: ``own`` (purchase amortised over the
    horizon with the capital recovery factor), ``buy`` (the whole purchase price charged to
    this plan), ``rent`` (acquisitions are rentals; ``planner.scenario`` turns purchase limits
    into rental limits where a rental price exists).
    """

    sites: tuple[SiteInput, ...]
    links: tuple[LinkInput, ...]
    systems: tuple[SystemInput, ...]
    cpu_server: CpuServerInput
    economics: EconomicsInput
    jobs: tuple[JobInput, ...]
    budget_usd: float | None = None
    charge_inventory_capex: bool = False
    cost_basis: CostBasisName = "own"

    def __post_init__(self) -> None:
        _freeze(self, by_id=("sites", "links", "systems", "jobs"))

    @property
    def horizon_s(self) -> float:
        """Scenario horizon: the longest job horizon (units are held for all of it)."""
        return max((job.horizon_s for job in self.jobs), default=0.0)

    def system(self, system_id: str) -> SystemInput:
        """The system with this id (KeyError if absent)."""
        for system in self.systems:
            if system.id == system_id:
                return system
        raise KeyError(system_id)


# ----------------------------------------------------------------------------------------------
# Consistency checks: every problem at once, each naming the record and field.


def check_inputs(inputs: PlanningInputs) -> list[Problem]:
    """Every inconsistency in the table (unknown ids, bad numbers, broken RL coupling)."""
    problems: list[Problem] = []
    problems += _check_unique("sites", [s.id for s in inputs.sites])
    problems += _check_unique("systems", [s.id for s in inputs.systems])
    problems += _check_unique("jobs", [j.id for j in inputs.jobs])
    problems += _check_numbers(inputs)
    systems = {s.id for s in inputs.systems}
    sites = {s.id for s in inputs.sites}
    for site in inputs.sites:
        problems += _check_site(site, systems)
    for i, link in enumerate(inputs.links):
        problems += _check_link(i, link, sites)
    for job in inputs.jobs:
        problems += _check_job(job, systems)
    return problems


def _problem(path: str, message: str, hint: str = "") -> Problem:
    return Problem(_WHERE, path, message, hint)


def _check_unique(kind: str, ids: list[str]) -> list[Problem]:
    dupes = sorted(i for i, n in Counter(ids).items() if n > 1)
    return [_problem(f"{kind}.{d}", "duplicate id", "give each one a distinct id") for d in dupes]


_SIGNED = frozenset({"lat", "lon"})  # coordinates: negative in the west and the south


def _numbers_of(record: object, path: str) -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = []
    for f in fields(record):  # type: ignore[arg-type]
        value = getattr(record, f.name)
        if isinstance(value, bool) or value is None or f.name in _SIGNED:
            continue
        if isinstance(value, int | float):
            out.append((f"{path}.{f.name}", value))
        elif isinstance(value, Mapping):
            out += [(f"{path}.{f.name}.{k}", v) for k, v in value.items()
                    if isinstance(v, int | float)]
    return out


def _check_numbers(inputs: PlanningInputs) -> list[Problem]:
    """Every number finite and non-negative (a negative price or capacity is a typo)."""
    records: list[tuple[object, str]] = [(inputs.cpu_server, "cpu_server"),
                                         (inputs.economics, "economics")]
    records += [(s, f"sites.{s.id}") for s in inputs.sites]
    records += [(s, f"systems.{s.id}") for s in inputs.systems]
    records += [(lk, f"links.{lk.a}-{lk.b}") for lk in inputs.links]
    for job in inputs.jobs:
        records += [(r, f"jobs.{job.id}.roles.{r.name}") for r in job.roles]
        records += [(x, f"jobs.{job.id}.{n}") for n, x in (("rl", job.rl), ("serve", job.serve))
                    if x is not None]
    problems = [_problem(path, f"{value} is not a finite non-negative number")
                for record, base in records for path, value in _numbers_of(record, base)
                if not (math.isfinite(float(value)) and float(value) >= 0)]  # type: ignore[arg-type]
    if inputs.budget_usd is not None and not inputs.budget_usd >= 0:
        problems.append(_problem("budget_usd", "the budget must be a non-negative amount"))
    return problems


def _check_site(site: SiteInput, systems: set[str]) -> list[Problem]:
    problems = []
    if site.pue < 1.0:
        problems.append(_problem(f"sites.{site.id}.pue", f"PUE {site.pue} is below 1",
                                 "PUE is total facility power / IT power, at least 1"))
    for name in ("inventory", "purchase_limits", "rental_limits", "purchase_usd",
                 "rental_usd_per_s"):
        problems += [_problem(f"sites.{site.id}.{name}.{key}", f"unknown system {key!r}")
                     for key in getattr(site, name) if key not in systems]
    return problems


def _check_link(i: int, link: LinkInput, sites: set[str]) -> list[Problem]:
    problems = [_problem(f"links[{i}].{end}", f"unknown site {name!r}")
                for end, name in (("a", link.a), ("b", link.b)) if name not in sites]
    if link.a == link.b:
        problems.append(_problem(f"links[{i}]", f"link from {link.a!r} to itself"))
    return problems


def _check_job(job: JobInput, systems: set[str]) -> list[Problem]:
    path = f"jobs.{job.id}"
    problems = _check_unique(f"{path}.roles", [r.name for r in job.roles])
    if not job.horizon_s > 0:
        problems.append(_problem(f"{path}.horizon_s", "the horizon must be positive"))
    for role in job.roles:
        problems += [_problem(f"{path}.roles.{role.name}.throughput.{key}",
                              f"unknown system {key!r}")
                     for key in role.throughput if key not in systems]
    names = {r.name for r in job.roles}
    problems += [_problem(f"{path}.homogeneous", f"no role named {name!r} in the job")
                 for name in job.homogeneous if name not in names]
    if job.max_sites is not None and job.max_sites < 1:
        problems.append(_problem(f"{path}.max_sites", "a job needs at least one site"))
    if job.rl is not None:
        problems += _check_rl(job, job.rl)
    problems += _check_serve(job)
    return problems


def _check_rl(job: JobInput, rl: RlCoupling) -> list[Problem]:
    path = f"jobs.{job.id}.rl"
    names = {r.name for r in job.roles}
    wanted = [("generate", rl.generate), ("verify", rl.verify), ("update", rl.update)]
    if rl.score is not None:
        wanted.append(("score", rl.score))
    problems = [_problem(f"{path}.{key}", f"no role named {name!r} in the job")
                for key, name in wanted if name not in names]
    if problems:
        return problems
    problems += [_problem(f"{path}.{key}", f"{value} is not a fraction between 0 and 1")
                 for key, value in (("verified_fraction", rl.verified_fraction),
                                    ("keep_fraction", rl.keep_fraction)) if not 0 <= value <= 1]
    verify, generate = job.role(rl.verify), job.role(rl.generate)
    if not verify.is_cpu:
        problems.append(_problem(f"{path}.verify", f"role {rl.verify!r} must be a CPU role",
                                 "give it cpu_core_seconds_per_work and no throughput"))
    for key, name in [("generate", rl.generate), ("update", rl.update)] + (
            [("score", rl.score)] if rl.score else []):
        if job.role(name).is_cpu:
            problems.append(_problem(f"{path}.{key}", f"role {name!r} must run on accelerators"))
    expected = rl.verified_fraction * generate.work
    if not math.isclose(verify.work, expected, rel_tol=1e-6, abs_tol=1e-9):
        problems.append(_problem(
            f"jobs.{job.id}.roles.{rl.verify}.work",
            f"{verify.work:g} verified samples, but verified_fraction x generated samples "
            f"= {expected:g}", "make the verify role's work match the coupling"))
    return problems


def _check_serve(job: JobInput) -> list[Problem]:
    path = f"jobs.{job.id}"
    if job.kind == "serve" and job.serve is None:
        return [_problem(f"{path}.serve", "a serve job needs a demand (rates by region)")]
    if job.serve is None:
        return []
    problems = [_problem(f"{path}.roles.{r.name}", "serving roles must run on accelerators")
                for r in job.roles if r.is_cpu]
    if job.kind != "serve":
        problems.append(_problem(f"{path}.serve", f"a {job.kind} job cannot have a demand"))
    if job.rl is not None:
        problems.append(_problem(f"{path}.rl", "a serving job cannot have an RL coupling"))
    return problems
