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
from typing import Any

from planner.errors import InputError, Problem

__all__ = ["CalibrationReport", "EstimateResult", "calibration", "estimate", "load", "optimize"]

SCHEMA_VERSION = 1
PathLike = str | os.PathLike[str]


def load(path: PathLike, overrides: Sequence[str] = ()) -> Any:
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
             hardware_dir: PathLike | None = None) -> EstimateResult:
    """Estimate one workload on one system (no fleet): serve, pretrain or posttrain."""
    from planner.catalog.load import load_catalog
    from planner.workload.schema import WorkloadKind

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
    if spec.kind is WorkloadKind.SERVE:
        from planner.perf.serving import estimate_serving

        values = estimate_serving(spec, loaded.model, system).to_dict()
        values.update(_serving_fleet(spec, values, system.accelerators))
    elif spec.kind is WorkloadKind.PRETRAIN:
        from planner.perf.training import estimate_pretrain

        values = estimate_pretrain(spec, loaded.model, system).to_dict()
    else:
        values = _estimate_posttrain(loaded, system)
    return EstimateResult(loaded.name, spec.kind.value, system.id, str(path), values)


def _serving_fleet(spec: Any, values: dict[str, Any], accelerators: int) -> dict[str, Any]:
    """Units of this system the workload's total request rate needs, and what they cost."""
    rates = spec.requests_per_second
    total = sum(rates.values()) if isinstance(rates, dict) else float(rates)
    per_unit = float(values.get("requests_per_s_per_unit") or 0.0)
    units = total / per_unit if per_unit > 0 else float("inf")
    usd_per_s = float(values.get("unit_usd_per_s") or 0.0)
    return {"requests_per_s": total, "units_needed": units,
            "accelerators_needed": units * accelerators,
            "daily_cost_usd": units * usd_per_s * 86400.0}


def _estimate_posttrain(loaded: Any, system: Any) -> dict[str, Any]:
    from planner.catalog.load import load_catalog, load_fleet
    from planner.finance import capital_recovery_factor
    from planner.perf.rl import estimate_posttrain
    from planner.units import SECONDS_PER_YEAR

    fleet = load_fleet(None, load_catalog())
    server = fleet.cpu_server
    crf = capital_recovery_factor(fleet.economics.cost_of_capital,
                                  fleet.economics.lifetime / SECONDS_PER_YEAR)
    usd_per_s = server.purchase.price * crf / SECONDS_PER_YEAR
    result = estimate_posttrain(loaded.spec, dict(loaded.models), system,
                                cpu_server_cores=server.cores, cpu_server_usd_per_s=usd_per_s)
    values = result.to_dict()
    values["bound"] = result.bound
    values["assumptions"] = [a.to_dict() for a in result.assumptions]
    return values


def optimize(path: PathLike, *, fleet: PathLike | None = None, objective: str = "cost",
             integer: bool = False, solver: str = "highs", time_limit_s: float | None = None,
             budget: str | float | None = None, dump_lp: PathLike | None = None,
             overrides: Sequence[str] = (), charge_inventory_capex: bool = False) -> Any:
    """Place the scenario's workloads on the fleet; returns a Solution (see README JSON keys).

    Owned inventory costs energy and colocation only (its capital is sunk) unless
    ``charge_inventory_capex``, which also charges its amortised purchase price (the
    opportunity cost of hardware that could serve other work).
    """
    from planner.scenario import build_planning_inputs, plan

    scenario = load(path, overrides)
    inputs, context = build_planning_inputs(scenario, fleet_path=fleet, budget=budget,
                                            charge_inventory_capex=charge_inventory_capex)
    return plan(inputs, context, objective=objective, integer=integer, solver=solver,
                time_limit_s=time_limit_s, dump_lp=dump_lp)


@dataclass(frozen=True)
class CalibrationReport:
    """Every published reference case with the model's prediction and error."""

    cases: tuple[Any, ...]
    errors: tuple[str, ...] = field(default_factory=tuple)

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
                "all_within_tolerance": self.all_within_tolerance, "errors": list(self.errors)}

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
        calibrate_serving,
        calibrate_training,
    )

    cases = [*calibrate_serving.cases(), *calibrate_moe.cases(), *calibrate_latency.cases(),
             *calibrate_training.cases(), *calibrate_measured.cases()]
    return CalibrationReport(tuple(cases))
