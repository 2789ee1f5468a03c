"""Golden JSON reports for every bundled workload: estimate on a reference system, optimize, and
the bundled roadmap.

Each case's JSON (`--format json`) is compared with its snapshot in tests/golden/snapshots/,
numbers within a relative 1e-6 (solver timings and file paths ignored). Estimates are compared
whole. A plan is compared on what an optimum fixes uniquely (status, objective, total cost,
the inputs' names, the roles and the assumptions used); placements of a degenerate LP may differ
between solver builds at the same cost, so they are kept in the snapshot for review only.
A change in any compared figure fails here; when intended, regenerate and review the diff:

    PLANNER_UPDATE_GOLDEN=1 pytest tests/golden/test_golden_json.py
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from planner.cli import cli

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"
UPDATE = os.environ.get("PLANNER_UPDATE_GOLDEN") == "1"
IGNORED = {"seconds", "file"}

CASES = {
    "estimate_serve_reasoning_dgx-h100": ["estimate", "workloads/serve_reasoning.yaml",
                                          "--hardware", "dgx-h100"],
    "estimate_serve_reasoning_short_dgx-h100": ["estimate", "workloads/serve_reasoning_short.yaml",
                                                "--hardware", "dgx-h100"],
    "estimate_serve_o1_pro_gb200-nvl72": ["estimate", "workloads/serve_o1_pro.yaml",
                                          "--hardware", "gb200-nvl72"],
    "estimate_pretrain_llama3_405b_dgx-h100": ["estimate", "workloads/pretrain_llama3_405b.yaml",
                                               "--hardware", "dgx-h100"],
    "estimate_o1_posttrain_trn2-rainier": ["estimate", "workloads/o1_posttrain.yaml",
                                           "--hardware", "trn2-rainier"],
    "estimate_o1_posttrain_gb200-nvl72": ["estimate", "workloads/o1_posttrain.yaml",
                                          "--hardware", "gb200-nvl72"],
    "estimate_posttrain_small_dgx-h100": ["estimate", "workloads/posttrain_small.yaml",
                                          "--hardware", "dgx-h100"],
    "optimize_o1_posttrain": ["optimize", "workloads/o1_posttrain.yaml"],
    "optimize_o1_posttrain_integer": ["optimize", "workloads/o1_posttrain.yaml", "--integer"],
    "optimize_posttrain_small": ["optimize", "workloads/posttrain_small.yaml"],
    "optimize_serve_reasoning": ["optimize", "workloads/serve_reasoning.yaml"],
    "optimize_scenario_mixed": ["optimize", "workloads/scenario_mixed.yaml"],
    "roadmap_2027": ["roadmap", "workloads/roadmap_2027.yaml"],
}


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in IGNORED}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _assert_same(actual: Any, expected: Any, path: str = "$") -> None:
    if isinstance(expected, dict):
        assert isinstance(actual, dict), path
        assert sorted(actual) == sorted(expected), f"{path}: keys differ"
        for key in expected:
            _assert_same(actual[key], expected[key], f"{path}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), f"{path}: length"
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            _assert_same(a, e, f"{path}[{i}]")
    elif isinstance(expected, float) and not isinstance(expected, bool):
        assert isinstance(actual, int | float), path
        assert math.isclose(actual, expected, rel_tol=1e-6, abs_tol=1e-9), \
            f"{path}: {actual!r} != {expected!r}"
    else:
        assert actual == expected, f"{path}: {actual!r} != {expected!r}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_report_matches_its_snapshot(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(cli, [*CASES[name], "--format", "json"])
    assert result.exit_code == 0, result.stderr
    actual = _strip(json.loads(result.stdout))
    snapshot = SNAPSHOTS / f"{name}.json"
    if UPDATE:
        SNAPSHOTS.mkdir(exist_ok=True)
        snapshot.write_text(json.dumps(actual, indent=1, sort_keys=True) + "\n")
    assert snapshot.exists(), f"no snapshot; run with PLANNER_UPDATE_GOLDEN=1 to create {name}"
    expected = json.loads(snapshot.read_text())
    if name.startswith("optimize"):
        actual, expected = _unique_part(actual), _unique_part(expected)
    elif name.startswith("roadmap"):
        actual, expected = _unique_roadmap(actual), _unique_roadmap(expected)
    _assert_same(actual, expected)


def _unique_roadmap(road: dict[str, Any]) -> dict[str, Any]:
    """The parts of a roadmap that every optimal solution shares: its NPV, periods, the
    units retired at the end of their life (fixed by the inputs) and the assumptions."""
    return {"status": road["status"], "npv_usd": road["npv_usd"], "periods": road["periods"],
            "scenario": road["scenario"], "fleet": road["fleet"],
            "end_of_life": [r for r in road["retirements"] if r["reason"] == "end_of_life"
                            and r["system"] in ("dgx-a100", "dgx-h100")],
            "assumptions": sorted(a["name"] for a in road["assumptions"])}


def _unique_part(plan: dict[str, Any]) -> dict[str, Any]:
    """The parts of a plan that every optimal solution shares."""
    return {"status": plan["status"], "objective": plan["objective"]["name"],
            "total_cost_usd": plan["total_cost_usd"], "workloads": plan["workloads"],
            "fleet": plan["fleet"], "roles": plan["roles"],
            "assumptions": sorted(a["name"] for a in plan["assumptions"])}
