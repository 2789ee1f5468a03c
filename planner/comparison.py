"""Compare one workload across systems (estimate) or fleets (optimize), side by side.

Each option is evaluated independently and summarised in one row with the same keys whatever
the workload kind, so rows can be laid side by side, ranked, written to CSV and swept:

- ``units``/``accelerators``: procurable units (nodes, racks) and accelerators needed;
- ``wall_time_s``: how long the work takes (a post-training run is sized to its deadline, a
  serving fleet runs for its ``duration``, pretraining on its fixed device count or deadline);
- ``total_cost_usd`` and ``cost_per_work_usd`` per ``work_unit``: one million answer tokens
  served (serving, votes included), one million samples generated (post-training) or one run
  (pretraining);
- ``bound`` and ``roles`` (what limits each role), ``power_w`` (IT power of the units, before
  PUE), ``cpu_cores_short`` and ``cpu_servers_needed`` (verifier cores the units' hosts lack);
- ``capex_usd``: the purchase price of the units (estimate), what a buyer pays up front to
  finish in ``wall_time_s``; ``total_cost_usd`` amortises it over the hardware's life instead.

``cheapest`` is the lowest total cost; ``fastest`` the shortest wall time, ties broken as
:func:`pick_fastest` says (for serving: the highest tokens/s per user, then the shortest time to
first token; for deadline-sized runs: the fewest accelerators, i.e. the fastest chips).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, assert_never

from planner.errors import InputError, PlannerError, Problem

if TYPE_CHECKING:
    from planner.workload.load import WorkloadSpec

__all__ = ["SCHEMA_VERSION", "ComparisonResult", "Option", "compare", "evaluate_option",
           "pick_fastest", "summarize_estimate", "summarize_plan", "work_unit"]

SCHEMA_VERSION = 1
PathLike = str | os.PathLike[str]
WORK_UNITS = {"serve": "1M answer tokens", "posttrain": "1M samples", "pretrain": "run",
              "scenario": "scenario"}
TIE_TOLERANCE = 1e-3  # wall times within 0.1% count as equal when ranking "fastest"


@dataclass(frozen=True, slots=True)
class Option:
    """One thing to compare: a catalog system (estimate) or a fleet file (optimize)."""

    name: str
    kind: str  # "hardware" | "fleet"
    target: str  # system id, or fleet path ("" for the scenario's or the default fleet)

    @classmethod
    def hardware(cls, system_id: str) -> Option:
        """A catalog system, evaluated with ``planner estimate``."""
        return cls(system_id, "hardware", system_id)

    @classmethod
    def fleet(cls, path: PathLike) -> Option:
        """A fleet file, evaluated with ``planner optimize``; named after the file stem."""
        return cls(Path(path).stem, "fleet", str(path))


def work_unit(kind: str) -> str:
    """The unit of work a kind is priced in: '1M answer tokens', '1M samples' or 'run'."""
    return WORK_UNITS.get(kind, "scenario")


# ---------------------------------------------------------------------------------------------
# Summaries: one row per option, same keys for every kind


def _spec_facts(spec: WorkloadSpec) -> dict[str, float]:
    """What the summaries need from the workload itself: demand, horizon and ``work``, the
    amount of work in the kind's :func:`work_unit` (for a plan's cost per unit of work)."""
    from planner.workload.schema import Posttrain, Pretrain, Serve

    match spec:
        case Serve():
            total = spec.total_requests_per_s()
            horizon = float(spec.duration)
            return {"requests_per_s": total, "output_tokens": float(spec.output_tokens),
                    "horizon_s": horizon,
                    "work": total * horizon * float(spec.output_tokens) / 1e6}
        case Posttrain():
            return {"horizon_s": float(spec.deadline),
                    "work": float(spec.problems * spec.samples_per_problem) / 1e6}
        case Pretrain():
            return {"horizon_s": float(spec.deadline) if spec.deadline else math.nan,
                    "work": 1.0}
        case _:
            assert_never(spec)


def _base_row(option: Option, kind: str) -> dict[str, Any]:
    return {"option": option.name, "basis": "estimate" if option.kind == "hardware"
            else "optimize", "target": option.target, "status": "ok", "error": None,
            "work_unit": work_unit(kind), "units": None, "units_text": "", "accelerators": None,
            "wall_time_s": None, "total_cost_usd": None, "cost_per_work_usd": None,
            "bound": None, "roles": [], "power_w": None, "capex_usd": None,
            "finish_s": None, "cost_to_completion_usd": None,
            "cpu_cores_needed": None,
            "cpu_cores_short": None, "cpu_servers_needed": None}


def summarize_estimate(option: Option, kind: str, data: Mapping[str, Any], system: Any,
                       facts: Mapping[str, float]) -> dict[str, Any]:
    """A comparison row from an estimate's ``to_dict()`` on one system."""
    from planner.workload.schema import WorkloadKind

    row = _base_row(option, kind)
    match WorkloadKind(kind):  # a scenario of several workloads has no estimate
        case WorkloadKind.SERVE:
            row.update(_serve_row(data, facts))
        case WorkloadKind.POSTTRAIN:
            row.update(_posttrain_row(data))
        case WorkloadKind.PRETRAIN:
            row.update(_pretrain_row(data, system))
        case other:
            assert_never(other)
    units = row["units"]
    if units is not None and math.isfinite(units):
        row["accelerators"] = units * system.accelerators
        row["power_w"] = units * system.power  # IT power of the accelerator units, before PUE
        row["capex_usd"] = units * system.purchase.price  # buying the units outright
        row["units_text"] = f"{units:,.4g} × {system.id} ({system.unit})"
    row["bound"] = data.get("bound")
    row["finish_s"] = row["wall_time_s"]
    row["cost_to_completion_usd"] = row["total_cost_usd"]
    row["assumptions"] = list(data.get("assumptions", []))
    row["details"] = _scalars(data)
    return _mark_unusable(row)


def _serve_row(data: Mapping[str, Any], facts: Mapping[str, float]) -> dict[str, Any]:
    """Units = demand / requests per unit; cost = units × unit cost × duration.

    A query's cost is unit-seconds per request (1 / requests_per_s_per_unit) times the unit's
    cost per second; the answer-token price divides it by the answer length, so the extra
    samples of self-consistency voting show up in it.
    """
    per_unit = float(data.get("requests_per_s_per_unit") or 0.0)
    usd_per_s = float(data.get("unit_usd_per_s") or 0.0)
    units = facts["requests_per_s"] / per_unit if per_unit > 0 else math.inf
    per_query = usd_per_s / per_unit if per_unit > 0 else math.inf
    return {"units": units, "wall_time_s": facts["horizon_s"],
            "total_cost_usd": units * usd_per_s * facts["horizon_s"],
            "usd_per_query": per_query,
            "cost_per_work_usd": per_query / facts["output_tokens"] * 1e6,
            "usd_per_million_tokens": data.get("usd_per_million_tokens"),
            "max_batch": data.get("max_batch"),
            "tokens_per_s_per_user": data.get("tokens_per_s_per_user"),
            "ttft_s": data.get("ttft_s"), "fits_memory": data.get("fits_memory"),
            "group_size": (data.get("parallelism") or {}).get("group_size"),
            "roles": [{"role": "decode", "bound": data.get("bound"), "units": units}]}


def _posttrain_row(data: Mapping[str, Any]) -> dict[str, Any]:
    """Units and cost sized to the deadline; cost per million samples generated."""
    cost = _number(data.get("cost_usd"))
    samples = float(data.get("samples") or 0.0)
    return {"units": _number(data.get("units")), "wall_time_s": _number(data.get("wall_time_s")),
            "total_cost_usd": cost,
            "cost_per_work_usd": cost / samples * 1e6 if samples and cost is not None else None,
            "usd_per_million_samples": cost / samples * 1e6 if samples and cost is not None
            else None,
            "cpu_cores_needed": data.get("cpu_cores_needed"),
            "cpu_cores_short": data.get("cpu_cores_short"),
            "cpu_servers_needed": data.get("cpu_servers_needed"),
            "roles": [{**r, "units": _number(r.get("units_needed"))}
                      for r in data.get("roles", [])]}


def _pretrain_row(data: Mapping[str, Any], system: Any) -> dict[str, Any]:
    """Units on the run's device count (or the fewest meeting its deadline); cost per run."""
    units = _number(data.get("units"))
    if units is None and data.get("accelerators"):
        units = float(data["accelerators"]) / system.accelerators
    cost = _number(data.get("cost_usd"))
    return {"units": units, "wall_time_s": _number(data.get("wall_time_s")),
            "total_cost_usd": cost, "cost_per_work_usd": cost,
            "model_flops_utilization": data.get("model_flops_utilization"),
            "roles": [{"role": "train", "bound": data.get("bound"), "units": units}]}


def summarize_plan(option: Option, kind: str, data: Mapping[str, Any], catalog: Any,
                   facts: Mapping[str, float]) -> dict[str, Any]:
    """A comparison row from an optimizer Solution's ``to_dict()`` on one fleet.

    Units count accelerator systems only (CPU placements are in cores; CPU servers bought are
    ``cpu_servers_needed``); power is the IT power the plan uses at all sites.
    """
    row = _base_row(option, kind)
    by_system = {s: u for s, u in _units_by_system(data.get("placements", [])).items()
                 if s in catalog.systems}
    row["units"] = sum(by_system.values())
    row["units_text"] = " + ".join(f"{u:,.4g} × {s}" for s, u in by_system.items())
    row["accelerators"] = sum(u * catalog.systems[s].accelerators for s, u in by_system.items())
    row["wall_time_s"] = _plan_finish(data) or facts.get("horizon_s")
    row["finish_s"] = row["wall_time_s"]
    row["cost_to_completion_usd"] = _plan_cost_to_completion(data)
    row["total_cost_usd"] = _number(data.get("total_cost_usd"))
    if (data.get("objective") or {}).get("name") == "time":
        # the LP holds the units for the whole horizon; the work is done at the finish
        row["total_cost_usd"] = row["cost_to_completion_usd"]
    if row["total_cost_usd"] is not None and facts.get("work"):
        row["cost_per_work_usd"] = row["total_cost_usd"] / facts["work"]
    row["cost_breakdown_usd"] = dict(data.get("cost_breakdown_usd") or {})
    sites = data.get("sites", [])
    row["power_w"] = sum(float(s.get("power_used_w") or 0.0) for s in sites)
    row["cpu_cores_needed"] = sum(float(s.get("cpu_cores_used") or 0.0) for s in sites)
    row["cpu_servers_needed"] = sum(float(p.get("units") or 0.0) for p in
                                    data.get("purchases", []) if p.get("system") == "cpu-server")
    row["sites_used"] = ", ".join(sorted({p["site"] for p in data.get("placements", [])
                                          if p.get("system") in by_system
                                          and float(p.get("units") or 0.0) > 0}))
    row["roles"] = _plan_roles(data, set(catalog.systems))
    limits = [b for b in data.get("bottlenecks") or [] if b.get("kind") != "demand"]
    row["bound"] = limits[0].get("constraint") if limits else "none binding"
    row["assumptions"] = list(data.get("assumptions", []))
    row["details"] = {k: v for k, v in data.items() if k in ("status", "fleet", "scenario")}
    return row


def _plan_finish(data: Mapping[str, Any]) -> float | None:
    """When the plan's last training job finishes (inf if one never does); serving jobs run
    for their duration."""
    jobs = list(data.get("jobs") or [])
    if not jobs:
        return None
    training = [j for j in jobs if j.get("kind") != "serve"] or jobs
    finishes = [_number(j.get("finish_s")) for j in training]
    return math.inf if any(f is None for f in finishes) else max(f for f in finishes if f)


def _plan_cost_to_completion(data: Mapping[str, Any]) -> float | None:
    """Sum of the jobs' costs to completion (None if a job never finishes)."""
    costs = [_number(j.get("cost_to_completion_usd")) for j in data.get("jobs") or []]
    if not costs or any(c is None for c in costs):
        return None
    return sum(c for c in costs if c is not None)


def _units_by_system(placements: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    totals: dict[str, float] = {}
    for p in placements:
        totals[p["system"]] = totals.get(p["system"], 0.0) + float(p.get("units") or 0.0)
    return dict(sorted(totals.items()))


def _plan_roles(data: Mapping[str, Any], systems: set[str]) -> list[dict[str, Any]]:
    """Accelerator units per role from the placements, with the bound the Solution reports.

    Roles are named ``job/role`` when the plan has several jobs, else by the role alone (as
    in an estimate); CPU roles (placed in cores, not units) show their bound only.
    """
    jobs = {p.get("job") for p in data.get("placements", [])} | \
        {r.get("job") for r in data.get("roles", [])}
    name = (lambda job, role: f"{job}/{role}") if len(jobs) > 1 else (lambda _job, role: role)
    units: dict[str, float] = {}
    for p in data.get("placements", []):
        if p.get("system") in systems:
            key = name(p.get("job"), p.get("role"))
            units[key] = units.get(key, 0.0) + float(p.get("units") or 0.0)
    bounds = {name(r.get("job"), r.get("role")): r.get("bound") for r in data.get("roles", [])}
    return [{"role": key, "bound": _bound_text(bounds.get(key)), "units": units.get(key)}
            for key in sorted(set(units) | set(bounds))]


def _bound_text(bound: Any) -> Any:
    if isinstance(bound, Mapping):
        return ", ".join(f"{k}: {v}" for k, v in sorted(bound.items()))
    return bound


def _number(value: Any) -> float | None:
    """A float from a JSON value ("inf" strings included), None when absent."""
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _scalars(data: Mapping[str, Any]) -> dict[str, Any]:
    """The flat numeric, text and boolean fields of a result (for sweep columns)."""
    return {k: v for k, v in data.items()
            if isinstance(v, int | float | str | bool) and k not in ("file", "schema_version")}


def _mark_unusable(row: dict[str, Any]) -> dict[str, Any]:
    """An option that cannot do the work (infinite units or cost) is an error row."""
    cost, units = row.get("total_cost_usd"), row.get("units")
    if (cost is not None and not math.isfinite(cost)) or (units is not None
                                                         and not math.isfinite(units)):
        row["status"] = "error"
        row["error"] = f"cannot run here (bound: {row.get('bound')})"
    return row


# ---------------------------------------------------------------------------------------------
# Evaluating options


def evaluate_option(path: PathLike, option: Option, overrides: Sequence[str] = (), *,
                    objective: str = "cost", integer: bool = False, solver: str = "highs",
                    time_limit_s: float | None = None,
                    cost_basis: str | None = None) -> dict[str, Any]:
    """Run estimate (a system) or optimize (a fleet) for one option; return its summary row.

    Raises the PlannerError of the failing step; :func:`compare` records it in the row.
    """
    from planner import api
    from planner.catalog.load import load_catalog
    from planner.perf.cost import cost_basis as parse_basis

    basis = parse_basis(cost_basis).value
    scenario = api.load(path, overrides)
    kind = _scenario_kind(scenario)
    facts = _spec_facts(scenario.workloads[0].spec) if kind != "scenario" else {}
    catalog = load_catalog()
    if option.kind == "hardware":
        data = api.estimate(path, option.target, overrides=overrides,
                            cost_basis=basis).to_dict()
        row = summarize_estimate(option, kind, data, catalog.get(option.target), facts)
    else:
        plan = api.optimize(path, fleet=option.target or None, objective=objective,
                            integer=integer, solver=solver, time_limit_s=time_limit_s,
                            overrides=overrides, cost_basis=basis)
        row = summarize_plan(option, kind, plan.to_dict(), catalog, facts)
    row["cost_basis"] = basis
    return row


def _scenario_kind(scenario: Any) -> str:
    if len(scenario.workloads) == 1:
        return str(scenario.workloads[0].spec.kind)
    return "scenario"


def error_row(option: Option, kind: str, err: BaseException) -> dict[str, Any]:
    """The row of an option whose evaluation failed: status 'error' and the message; an
    option that has no price on the requested basis is 'n/a' (``no rental price for X``)."""
    from planner.perf.cost import NoRentalPriceError

    row = _base_row(option, kind)
    row["status"] = "n/a" if isinstance(err, NoRentalPriceError) else "error"
    row["error"] = (err.message if isinstance(err, NoRentalPriceError)
                    else str(err).strip() or type(err).__name__)
    row["error_kind"] = type(err).__name__
    return row


def pick_fastest(rows: Sequence[Mapping[str, Any]], kind: str) -> Mapping[str, Any] | None:
    """The option that finishes first, or None when nothing sets one option apart.

    Wall times within 0.1% tie. Serving fleets all run for the same duration and meet the same
    interactivity target, so among tied options within 2% of the best tokens/s per user the
    one that answers sooner (time to first token, 0.1% apart) is the fastest. Deadline-sized
    runs that all finish on their deadline tie: none is declared the fastest (the fewer
    accelerators a faster chip needs is a cost matter, shown in the table).
    """
    if len(rows) < 2:
        return None
    walls = [_wall(r) for r in rows]
    best = min(walls)
    tied = [r for r, w in zip(rows, walls, strict=True) if _same(w, best)]
    if len(tied) == 1:
        return tied[0]
    if kind != "serve":
        return None
    top = max(float(r.get("tokens_per_s_per_user") or 0.0) for r in tied)
    tied = [r for r in tied if float(r.get("tokens_per_s_per_user") or 0.0) >= 0.98 * top]
    ttft = sorted(tied, key=lambda r: float(r.get("ttft_s") or math.inf))
    first = ttft[0]
    if len(ttft) > 1 and _same(float(ttft[1].get("ttft_s") or math.inf),
                               float(first.get("ttft_s") or math.inf)):
        return None
    return first


def _same(a: float, b: float) -> bool:
    """Equal within :data:`TIE_TOLERANCE` (two infinities are equal)."""
    return a == b or (math.isfinite(a) and math.isfinite(b)
                      and abs(a - b) <= TIE_TOLERANCE * max(abs(a), abs(b)))


def _wall(row: Mapping[str, Any]) -> float:
    wall = row.get("wall_time_s")
    return math.inf if wall is None or math.isnan(float(wall)) else float(wall)


# ---------------------------------------------------------------------------------------------
# The result


@dataclass(frozen=True)
class ComparisonResult:
    """Several options for one workload, each summarised by :func:`summarize_estimate`."""

    workload: str
    kind: str
    file: str
    options: tuple[dict[str, Any], ...]
    overrides: tuple[str, ...] = ()
    figures_data: dict[str, Any] = field(default_factory=dict)
    cost_basis: str = "own"
    objective: str = "cost"

    def ok(self) -> list[dict[str, Any]]:
        """The options that could do the work."""
        return [o for o in self.options if o["status"] == "ok"]

    @property
    def cheapest(self) -> str | None:
        """The option with the lowest total cost."""
        ok = [o for o in self.ok() if o.get("total_cost_usd") is not None]
        return min(ok, key=lambda o: o["total_cost_usd"])["option"] if ok else None

    @property
    def fastest(self) -> str | None:
        """The option that finishes first (see :func:`pick_fastest` for ties)."""
        row = pick_fastest(self.ok(), self.kind)
        return None if row is None else str(row["option"])

    @property
    def ranking(self) -> list[str]:
        """Usable options in order: by finish time with the time objective (then cost), by
        total cost with the cost objective (then finish time)."""
        def cost(o: Mapping[str, Any]) -> float:
            value = o.get("total_cost_usd")
            return math.inf if value is None else float(value)

        def key(o: Mapping[str, Any]) -> tuple[float, float]:
            return (_wall(o), cost(o)) if self.objective == "time" else (cost(o), _wall(o))

        return [str(o["option"]) for o in sorted(self.ok(), key=key)]

    def to_frame(self) -> Any:
        """One row per option (needs pandas)."""
        from planner.report.frame import frame

        return frame(self.options)

    def to_dict(self) -> dict[str, Any]:
        """JSON contract: schema_version, workload, kind, file, work_unit, options, cheapest,
        fastest, overrides, figures (plot data)."""
        return {"schema_version": SCHEMA_VERSION, "workload": self.workload, "kind": self.kind,
                "file": self.file, "work_unit": work_unit(self.kind),
                "cost_basis": self.cost_basis, "objective": self.objective,
                "overrides": list(self.overrides), "cheapest": self.cheapest,
                "fastest": self.fastest, "ranking": self.ranking,
                "options": [dict(o) for o in self.options],
                "figures": self.figures_data}

    def to_report(self, figures: bool = True) -> Any:
        """Side-by-side table, the cheapest and fastest lines, roles, assumptions and (when
        ``figures``) the plots for HTML."""
        from planner.report.compare import comparison_report

        return comparison_report(self.to_dict(), figures=figures)


def compare(path: PathLike, hardware: Sequence[str] = (), overrides: Sequence[str] = (), *,
            fleets: Sequence[PathLike] = (), objective: str = "cost", integer: bool = False,
            solver: str = "highs", time_limit_s: float | None = None,
            figures: bool = True, cost_basis: str | None = None) -> ComparisonResult:
    """Compare one workload on several systems (estimate) and/or fleets (optimize).

    The workload and the option names are checked first (bad input raises InputError); a
    failure while evaluating one option is recorded in its row and the others still run.
    """
    from planner import api
    from planner.perf.cost import cost_basis as parse_basis

    basis = parse_basis(cost_basis)
    options = _options(hardware, fleets)
    scenario = api.load(path, overrides)
    kind = _scenario_kind(scenario)
    rows = []
    for option in options:
        try:
            rows.append(evaluate_option(path, option, overrides, objective=objective,
                                        integer=integer, solver=solver,
                                        time_limit_s=time_limit_s, cost_basis=basis.value))
        except PlannerError as err:
            rows.append(error_row(option, kind, err))
    data: dict[str, Any] = {}
    if figures and kind != "scenario":
        data = comparison_figure_data(scenario.workloads[0], rows)
    return ComparisonResult(scenario.name, kind, str(path), tuple(rows), tuple(overrides), data,
                            cost_basis=basis.value, objective=objective)


def _options(hardware: Sequence[str], fleets: Sequence[PathLike]) -> list[Option]:
    """Options in the order given; unknown systems and missing fleet files are input errors."""
    from planner.catalog.load import load_catalog

    if not hardware and not fleets:
        raise InputError(Problem("compare", "options", "nothing to compare",
                                 "give --hardware NAME (repeatable) and/or --fleet FILE"))
    catalog = load_catalog()
    problems = [Problem("--hardware", name, f"unknown system {name!r}",
                        _did_you_mean(name, catalog.systems))
                for name in hardware if name not in catalog.systems]
    problems += [Problem(str(f), "--fleet", "fleet file not found", "check the path")
                 for f in fleets if not Path(f).is_file()]
    if problems:
        raise InputError(problems)
    return [*(Option.hardware(h) for h in dict.fromkeys(hardware)),
            *(Option.fleet(f) for f in dict.fromkeys(str(f) for f in fleets))]


def _did_you_mean(name: str, choices: Mapping[str, Any]) -> str:
    from planner.schema import did_you_mean

    return did_you_mean(name, choices)


# ---------------------------------------------------------------------------------------------
# Plot data: the roofline of each role on each system, KV against context, interactivity


def comparison_figure_data(loaded: Any, rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Numbers for the comparison's figures (drawn by :mod:`planner.report.plots`)."""
    from planner.catalog.load import load_catalog

    catalog = load_catalog()
    usable = [r for r in rows if r["basis"] == "estimate" and r["status"] == "ok"]
    pairs = [(r, catalog.systems[r["target"]]) for r in usable]
    data: dict[str, Any] = {"roofline": _roofline_data(loaded, pairs)}
    if str(loaded.spec.kind) == "serve" and pairs:
        data["kv"] = _kv_data(pairs)
        data["interactivity"] = _interactivity_data(loaded, pairs)
    return data


def _bytes_per_element(precision: Any) -> float:
    from planner.catalog.schema import BYTES_PER_ELEMENT, Precision

    precision = getattr(precision, "tensor_precision", precision)  # a training recipe
    return BYTES_PER_ELEMENT[Precision(precision)]


def gemm_intensity(tokens: float, hidden: float, bytes_per_element: float) -> float:
    """Arithmetic intensity (FLOP/byte) of a tokens × hidden × hidden matmul.

    2·t·d² FLOPs over p·(t·d + d² + t·d) bytes (read the activations and the weights, write
    the output): the standard GEMM count (Williams et al. 2009, Roofline). Training steps and
    prefill are chains of such matmuls, so this places them on the roofline.
    """
    return 2.0 * tokens * hidden**2 / (bytes_per_element * (2.0 * tokens * hidden + hidden**2))


def decode_intensity(arch: Any, batch: float, context: float, weights_bytes_: float,
                     kv_bytes_per_token_: float) -> float:
    """FLOP/byte of one decode step: b·F(s) / (W + b·s·kv) (docs/performance-model.md)."""
    from planner.workload.params import forward_flops_per_token

    flops = batch * forward_flops_per_token(arch, context)
    return flops / (weights_bytes_ + batch * context * kv_bytes_per_token_)


def _roof(system: Any, precision: str) -> dict[str, Any]:
    from planner.catalog.schema import Precision

    peak = system.accelerator.peak_flops.at(Precision(precision)) or \
        system.accelerator.peak_flops.bf16
    return {"name": f"{system.id} ({precision})", "peak_flops_per_s": peak,
            "memory_bandwidth_bytes_per_s": system.accelerator.hbm_bandwidth}


def _roofline_data(loaded: Any, pairs: Sequence[tuple[Mapping[str, Any], Any]]
                   ) -> dict[str, Any]:
    """Roofs of the systems and one point per role (FLOP/s per accelerator vs intensity)."""
    systems, points = [], []
    for row, system in pairs:
        precision, role_points = _role_points(loaded, row, system)
        roof = _roof(system, precision)
        systems.append(roof)
        points += [{**p, "system": roof["name"]} for p in role_points]
    return {"systems": systems, "points": points}


def _role_points(loaded: Any, row: Mapping[str, Any], system: Any
                 ) -> tuple[str, list[dict[str, Any]]]:
    from planner.workload.schema import WorkloadKind

    match loaded.spec.kind:
        case WorkloadKind.SERVE:
            return _serve_points(loaded, row, system)
        case WorkloadKind.POSTTRAIN:
            return _posttrain_points(loaded, row, system)
        case WorkloadKind.PRETRAIN:
            return _pretrain_points(loaded, row, system)
        case other:
            assert_never(other)


def _serve_points(loaded: Any, row: Mapping[str, Any], system: Any
                  ) -> tuple[str, list[dict[str, Any]]]:
    """Decode at the operating batch: b·F(s) per step over g accelerators and the step time."""
    from planner.workload.params import forward_flops_per_token

    d, spec, arch = row["details"], loaded.spec, loaded.model.architecture
    batch, context = float(d.get("max_batch") or 0), float(d.get("context_tokens") or 0)
    group = float(row.get("group_size") or system.accelerators)
    step = float(d.get("step_time_s") or 0.0)
    precision = str(d.get("compute_precision") or spec.weights_precision)
    if batch <= 0 or step <= 0:
        return precision, []
    achieved = batch * forward_flops_per_token(arch, context) / (group * step)
    intensity = decode_intensity(arch, batch, context, float(d["weights_bytes"]),
                                 float(d["kv_bytes_per_token"]))
    return precision, [{"label": f"decode b={batch:,.0f}", "intensity_flops_per_byte":
                        intensity, "flops_per_s": achieved}]


def _posttrain_points(loaded: Any, row: Mapping[str, Any], system: Any
                      ) -> tuple[str, list[dict[str, Any]]]:
    """Generate (decode), update (training) and score (prefill) of an RL post-training run,
    each as FLOP/s per accelerator against its arithmetic intensity."""
    spec = loaded.spec
    roles = {r["role"]: r for r in row.get("roles", [])}
    context = float(spec.prompt_tokens + spec.tokens_per_sample / 2)  # mean over a sample
    per_accel = 1.0 / system.accelerators
    points = [_generate_point(loaded, roles.get("generate", {}), context, per_accel),
              _update_point(loaded, roles.get("update", {}), context, per_accel),
              _score_point(loaded, roles.get("score", {}), context, per_accel)]
    return str(spec.generator.weights_precision), [p for p in points if p is not None]


def _generate_point(loaded: Any, role: Mapping[str, Any], context: float,
                    per_accel: float) -> dict[str, Any] | None:
    """Decode at the role's batch: tokens/s per unit × F(s) FLOPs per token."""
    from planner.workload.params import forward_flops_per_token, kv_bytes_per_token, weights_bytes

    if not (role.get("tokens_per_s_per_unit") and role.get("batch")):
        return None
    spec = loaded.spec
    arch = loaded.models[spec.generator.model or spec.model].architecture
    w = weights_bytes(arch, _bytes_per_element(spec.generator.weights_precision))
    kv = kv_bytes_per_token(arch, _bytes_per_element(spec.generator.kv_precision))
    return {"label": "generate",
            "intensity_flops_per_byte": decode_intensity(arch, float(role["batch"]), context,
                                                         w, kv),
            "flops_per_s": float(role["tokens_per_s_per_unit"])
            * forward_flops_per_token(arch, context) * per_accel}


def _update_point(loaded: Any, role: Mapping[str, Any], context: float,
                  per_accel: float) -> dict[str, Any] | None:
    """PPO update: r forward passes and one backward (2 forwards' worth) per token,
    (r + 2)·F(s) FLOPs (planner.perf.rl), on training matmuls of one sample."""
    from planner.workload.params import forward_flops_per_token

    if not role.get("update_tokens_per_s_per_unit"):
        return None
    spec = loaded.spec
    policy = loaded.models[spec.model].architecture
    flops = (spec.forward_backward_ratio + 2.0) * forward_flops_per_token(policy, context)
    sample = float(spec.prompt_tokens + spec.tokens_per_sample)
    return {"label": "update",
            "intensity_flops_per_byte": gemm_intensity(sample, policy.hidden,
                                                       _bytes_per_element(spec.precision)),
            "flops_per_s": float(role["update_tokens_per_s_per_unit"]) * flops * per_accel}


def _score_point(loaded: Any, role: Mapping[str, Any], context: float,
                 per_accel: float) -> dict[str, Any] | None:
    """Reward-model prefill (FP8 weights): samples/s × reward tokens per sample × F(s)."""
    from planner.workload.params import forward_flops_per_token

    spec = loaded.spec
    if not (role.get("throughput_per_unit") and role.get("reward_tokens_per_sample")
            and spec.reward_models.orm is not None):
        return None
    orm = loaded.models[spec.reward_models.orm.model].architecture
    sample = float(spec.prompt_tokens + spec.tokens_per_sample)
    return {"label": "score", "intensity_flops_per_byte": gemm_intensity(sample, orm.hidden, 1.0),
            "flops_per_s": float(role["throughput_per_unit"])
            * float(role["reward_tokens_per_sample"])
            * forward_flops_per_token(orm, context) * per_accel}


def _pretrain_points(loaded: Any, row: Mapping[str, Any], system: Any
                     ) -> tuple[str, list[dict[str, Any]]]:
    """Training matmuls of one microbatch (sequence × microbatch tokens)."""
    d, spec = row["details"], loaded.spec
    achieved = d.get("flops_per_s_per_accelerator")
    if not achieved:
        return str(spec.precision), []
    tokens = float(spec.sequence_length) * float(d.get("microbatch") or 1)
    intensity = gemm_intensity(tokens, loaded.model.architecture.hidden,
                               _bytes_per_element(spec.precision))
    return str(spec.precision), [{"label": "train", "intensity_flops_per_byte": intensity,
                                  "flops_per_s": float(achieved)}]


def _kv_data(pairs: Sequence[tuple[Mapping[str, Any], Any]]) -> dict[str, Any]:
    """KV bytes against context at each option's batch, and each option's HBM after weights."""
    longest = max(float(r["details"].get("context_tokens") or 0.0) for r, _ in pairs)
    top = max(32768.0, 1.25 * longest)
    contexts = [top * i / 48 for i in range(1, 49)]
    curves, limits = {}, {}
    for row, system in pairs:
        d = row["details"]
        batch = int(d.get("max_batch") or 0)
        if batch <= 0:
            continue
        per_token = float(d["kv_bytes_per_token"])
        curves[f"{system.id}: batch {batch}"] = [batch * s * per_token for s in contexts]
        capacity = float(d.get("memory_capacity_bytes") or 0.0)
        limits[f"{system.id} HBM after weights"] = capacity - float(d["weights_bytes"])
    return {"context_tokens": contexts, "curves": curves, "limits": limits}


INTERACTIVITY_GRID = (2.0, 3.0, 5.0, 7.0, 10.0, 15.0, 20.0, 25.0, 30.0, 40.0, 50.0, 70.0, 100.0,
                      150.0, 200.0, 300.0)


def _interactivity_data(loaded: Any, pairs: Sequence[tuple[Mapping[str, Any], Any]]
                        ) -> dict[str, Any]:
    """Batch against tokens/s per user on each system's replica, from the decode roofline.

    For each target on :data:`INTERACTIVITY_GRID` the serving model gives the largest batch
    that meets it (HBM capacity not enforced, so the curve shows the roofline alone); the
    estimate's max batch is marked on each curve.
    """
    from planner.catalog.schema import Precision
    from planner.perf.serving import decode_capacity, serving_assumptions

    spec, model = loaded.spec, loaded.model
    curves, marks = {}, {}
    for row, system in pairs:
        d = row["details"]
        assumptions = serving_assumptions(spec, system)
        xs, ys = [], []
        for target in INTERACTIVITY_GRID:
            capacity = decode_capacity(
                model, system, weights_precision=spec.weights_precision,
                kv_precision=spec.kv_precision,
                compute_precision=Precision(d["compute_precision"]),
                context_tokens=float(d["context_tokens"]), interactivity=target,
                assumptions=assumptions, enforce_memory=False,
                group_size=int(row.get("group_size") or 0) or None)
            if capacity.max_batch_slo and capacity.max_batch_slo >= 1:
                xs.append(float(capacity.max_batch_slo))
                ys.append(target)
        curves[system.id] = [xs, ys]
        marks[system.id] = float(d.get("max_batch") or 0.0)
    return {"curves": curves, "target_tokens_per_s": float(spec.interactivity),
            "max_batch": marks}
