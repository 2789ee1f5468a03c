"""The Python API: load inputs, estimate one workload on one system, optimize a fleet.

The CLI is a thin layer over these functions; scripts use them directly::

    import planner
    result = planner.estimate("workloads/serve_reasoning.yaml", "dgx-h100")
    print(result.to_dict()["max_batch"])
    plan = planner.optimize("workloads/o1_posttrain.yaml")
    print(plan.to_dict()["total_cost_usd"])
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, assert_never

from planner.errors import InputError, Problem

if TYPE_CHECKING:
    from planner.catalog.schema import System
    from planner.workload.load import LoadedWorkload, Scenario
    from planner.workload.schema import Posttrain, Serve

__all__ = ["CalibrationReport", "EstimateResult", "calibration", "estimate", "load", "optimize"]

SCHEMA_VERSION = 1
PathLike = str | os.PathLike[str]


def load(path: PathLike, overrides: Sequence[str] = ()) -> Scenario:
    """Load a workload or scenario file (with `--set` style overrides) into a Scenario."""
    from planner.workload.load import load_scenario

    return load_scenario(path, list(overrides))


@dataclass(frozen=True)
class EstimateResult:
    """One workload on one system: the calculator view."""

    workload: str
    kind: str
    system: str
    file: str
    values: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """JSON contract: schema_version, workload, kind, system, bound, assumptions, ..."""
        head = {"schema_version": SCHEMA_VERSION, "workload": self.workload, "kind": self.kind,
                "system": self.system, "file": self.file}
        return {**head, **self.values}

    def to_frame(self) -> Any:
        """The roles of a post-training estimate, else one row of figures (needs pandas)."""
        from planner.report.frame import frame

        data = self.to_dict()
        if data.get("roles"):
            return frame({"system": self.system, **role} for role in data["roles"])
        return frame([{k: v for k, v in data.items()
                       if not isinstance(v, list | dict)}])

    def to_report(self, figures: bool = False) -> Any:
        """Report sections for the table, Markdown, CSV and HTML (with plots) formats."""
        from planner.report.estimate import estimate_report

        return estimate_report(self.to_dict(), figures=figures)


def estimate(path: PathLike, hardware: str, overrides: Sequence[str] = (),
             hardware_dir: PathLike | None = None,
             cost_basis: str | None = None) -> EstimateResult:
    """Estimate one workload on one system (no fleet): serve, pretrain or posttrain.

    Every cost is on ``cost_basis`` (own, rent or buy; default own, see
    :mod:`planner.perf.cost`); ``rent`` on a system without a rental price is an InputError.
    A workload that fits nowhere on the system is an InfeasibleError (exit 3) naming why.
    """
    from planner.catalog.load import load_catalog, load_fleet
    from planner.perf.cost import cost_basis as parse_basis
    from planner.pricing import apply_cost_basis
    from planner.shortfall import estimate_shortfall
    from planner.workload.schema import Posttrain, Pretrain, Serve

    basis = parse_basis(cost_basis)

    scenario = load(path, overrides)
    if len(scenario.workloads) != 1:
        raise InputError(Problem(str(path), "workloads",
                                 f"estimate takes one workload; this scenario has "
                                 f"{len(scenario.workloads)}",
                                 "run estimate on one of its workload files"))
    loaded = scenario.workloads[0]
    system = load_catalog(hardware_dir).get(hardware)
    spec = loaded.spec
    values: dict[str, Any]
    match spec:
        case Serve():
            from planner.perf.serving import estimate_serving

            values = estimate_serving(spec, loaded.model, system).to_dict()
            values = apply_cost_basis("serve", values, system, basis, run_s=float(spec.duration))
            values.update(_serving_fleet(spec, values, system.accelerators))
        case Pretrain():
            from planner.perf.training import estimate_pretrain

            values = estimate_pretrain(spec, loaded.model, system).to_dict()
            values = apply_cost_basis("pretrain", values, system, basis)
        case Posttrain():
            values = _estimate_posttrain(loaded, spec, system)
            values = apply_cost_basis("posttrain", values, system, basis,
                                      cpu_server=load_fleet(None, load_catalog()).cpu_server)
        case _:
            assert_never(spec)
    short = estimate_shortfall(spec.kind.value, {"system": system.id, **values}, spec)
    if short is not None:
        raise short
    return EstimateResult(loaded.name, spec.kind.value, system.id, str(path), values)


def _serving_fleet(spec: Serve, values: dict[str, Any], accelerators: int) -> dict[str, Any]:
    """Units of this system the workload's total request rate needs, and what they cost."""
    total = spec.total_requests_per_s()
    units = spec.units_needed(float(values.get("requests_per_s_per_unit") or 0.0))
    usd_per_s = float(values.get("unit_usd_per_s") or 0.0)
    return {"requests_per_s": total, "units_needed": units,
            "accelerators_needed": units * accelerators,
            "daily_cost_usd": units * usd_per_s * 86400.0}


def _estimate_posttrain(loaded: LoadedWorkload, spec: Posttrain, system: System
                        ) -> dict[str, Any]:
    from planner.catalog.load import load_catalog, load_fleet
    from planner.finance import capital_recovery_factor
    from planner.perf.rl import estimate_posttrain
    from planner.units import SECONDS_PER_YEAR

    fleet = load_fleet(None, load_catalog())
    server = fleet.cpu_server
    crf = capital_recovery_factor(fleet.economics.cost_of_capital,
                                  fleet.economics.lifetime / SECONDS_PER_YEAR)
    usd_per_s = server.purchase.price * crf / SECONDS_PER_YEAR
    result = estimate_posttrain(spec, dict(loaded.models), system,
                                cpu_server_cores=server.cores, cpu_server_usd_per_s=usd_per_s)
    values = result.to_dict()
    values["bound"] = result.bound
    values["assumptions"] = [a.to_dict() for a in result.assumptions]
    if spec.accelerators is not None:
        values = _fixed_cluster(values, spec, system, server.cores)
    return values


def _fixed_cluster(values: dict[str, Any], spec: Posttrain, system: System,
                   server_cores: int) -> dict[str, Any]:
    """A post-training run on a fixed cluster of ``spec.accelerators``: how long and how much.

    Every role's throughput is per unit, so the run sized to the deadline (``units``) scales
    linearly: on ``n`` units it takes deadline x units / n, with each role's units in the same
    proportion; the verifiers' cores are then spread over that longer (or shorter) time.
    """
    if spec.accelerators is None:
        return values
    fixed = spec.accelerators / system.accelerators
    sized = float(values.get("units") or 0.0)
    if fixed <= 0 or not sized or sized == float("inf"):
        return values
    wall = spec.deadline * sized / fixed
    out = dict(values)
    out["units"] = fixed
    out["accelerators"] = spec.accelerators
    out["wall_time_s"] = wall
    out["meets_deadline"] = wall <= spec.deadline * (1 + 1e-9)
    out["roles"] = [{**r, "units_needed": float(r.get("units_needed") or 0.0) * fixed / sized}
                    for r in values.get("roles", [])]
    cores = float(values["verifier_core_seconds"]) / wall
    on_units = fixed * system.host.cores
    out["cpu_cores_needed"] = cores
    out["cpu_cores_on_units"] = on_units
    out["cpu_cores_short"] = max(0.0, cores - on_units)
    out["cpu_servers_needed"] = out["cpu_cores_short"] / server_cores
    return out


def optimize(path: PathLike, *, fleet: PathLike | None = None, objective: str = "cost",
             integer: bool = False, solver: str = "highs", time_limit_s: float | None = None,
             budget: str | float | None = None, dump_lp: PathLike | None = None,
             overrides: Sequence[str] = (), charge_inventory_capex: bool = False,
             mip_gap: float = 1e-4, cost_basis: str | None = None,
             one_stage: bool = False) -> Any:
    """Place the scenario's workloads on the fleet; returns a Solution (see README JSON keys).

    ``integer`` plans are solved in two stages (whole units per site and system, then whole
    placements near that plan; planner/lp/two_stage.py) unless ``one_stage``, which proves
    ``mip_gap`` for the whole-placement MILP at a cost in time.

    Owned inventory costs energy and colocation only (its capital is sunk) unless
    ``charge_inventory_capex``, which also charges its amortised purchase price (the
    opportunity cost of hardware that could serve other work). ``cost_basis``: how acquired
    units are charged (own: amortised, buy: whole price, rent: rentals only; default own).
    """
    from planner.scenario import build_planning_inputs, plan

    scenario = load(path, overrides)
    inputs, context = build_planning_inputs(scenario, fleet_path=fleet, budget=budget,
                                            charge_inventory_capex=charge_inventory_capex,
                                            cost_basis=cost_basis)
    return plan(inputs, context, objective=objective, integer=integer, solver=solver,
                time_limit_s=time_limit_s, dump_lp=dump_lp, mip_gap=mip_gap,
                one_stage=one_stage)


def roadmap(path: PathLike, *, fleet: PathLike | None = None, objective: str = "cost",
            integer: bool = False, solver: str = "highs", time_limit_s: float | None = None,
            budget: str | float | None = None, overrides: Sequence[str] = (),
            mip_gap: float = 1e-2) -> Any:
    """Plan capacity period by period at the least net present value: purchases (arriving
    after their lead time), rentals, power build-out, retirements and every job's placement
    per period (``planner/roadmap_plan.py``). A scenario without ``periods`` is one period: the
    plan and cost of :func:`optimize`. Returns a RoadmapResult (``.to_dict()``: README,
    "planner roadmap" JSON). ``budget`` caps the NPV."""
    from planner.roadmap_plan import run_roadmap

    return run_roadmap(path, fleet=fleet, overrides=list(overrides), integer=integer,
                       budget=budget, solver=solver, time_limit_s=time_limit_s,
                       mip_gap=mip_gap, objective=objective)


@dataclass(frozen=True)
class CalibrationReport:
    """Every published reference case with the model's prediction and error."""

    cases: tuple[Any, ...]
    errors: tuple[str, ...] = field(default_factory=tuple)
    known_misses: tuple[Any, ...] = field(default_factory=tuple)

    @property
    def mean_abs_error(self) -> float:
        """Mean absolute relative error over all cases."""
        return sum(abs(c.error) for c in self.cases) / len(self.cases) if self.cases else 0.0

    @property
    def max_abs_error(self) -> float:
        """Largest absolute relative error."""
        return max((abs(c.error) for c in self.cases), default=0.0)

    @property
    def all_within_tolerance(self) -> bool:
        """True when every case is inside its stated tolerance."""
        return all(c.within_tolerance for c in self.cases) and not self.errors

    def to_dict(self) -> dict[str, Any]:
        """JSON form: cases plus summary errors."""
        return {"schema_version": SCHEMA_VERSION, "cases": [c.to_dict() for c in self.cases],
                "mean_abs_error": self.mean_abs_error, "max_abs_error": self.max_abs_error,
                "all_within_tolerance": self.all_within_tolerance, "errors": list(self.errors),
                "known_misses": [c.to_dict() for c in self.known_misses]}

    def to_frame(self) -> Any:
        """One row per reference case (needs pandas)."""
        from planner.report.frame import frame

        return frame(c.to_dict() for c in self.cases)

    def to_report(self, figures: bool = False) -> Any:
        """Report sections (no figures: the cases are a table)."""
        from planner.report.calibration import calibration_report

        return calibration_report(self.to_dict())


def calibration() -> CalibrationReport:
    """Run every calibration case (serving and training) against the bundled catalog."""
    from planner.perf import (
        calibrate_latency,
        calibrate_measured,
        calibrate_moe,
        calibrate_moe_offline,
        calibrate_serving,
        calibrate_training,
    )

    cases = [*calibrate_serving.cases(), *calibrate_moe.cases(),
             *calibrate_moe_offline.cases(), *calibrate_latency.cases(),
             *calibrate_training.cases(), *calibrate_measured.cases()]
    misses = [*calibrate_serving.misses(), *calibrate_moe_offline.misses(),
              *calibrate_latency.misses()]
    return CalibrationReport(tuple(cases), known_misses=tuple(misses))
