"""The Python API: typed results with to_dict(), to_report() and to_frame()."""

from __future__ import annotations

from pathlib import Path

import pytest

import planner

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _at_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


def test_load_returns_the_validated_scenario() -> None:
    scenario = planner.load("workloads/scenario_mixed.yaml", ["o1_posttrain.problems=20M"])
    names = [w.name for w in scenario.workloads]
    assert names == ["o1_posttrain", "serve_reasoning"]
    assert scenario.workloads[0].spec.problems == 20e6


def test_estimate_and_its_frame() -> None:
    pandas = pytest.importorskip("pandas")
    result = planner.estimate("workloads/o1_posttrain.yaml", "gb200-nvl72")
    roles = result.to_frame()
    assert isinstance(roles, pandas.DataFrame)
    assert list(roles["role"]) == ["generate", "score", "verify", "update"]
    # verify: 2,592 Grace cores per rack / 30 core-seconds per sample = 86.4 samples/s
    assert roles.set_index("role").loc["verify", "throughput_per_unit"] == pytest.approx(86.4)
    serve = planner.estimate("workloads/serve_reasoning.yaml", "dgx-h100").to_frame()
    assert len(serve) == 1 and serve.loc[0, "kv_bytes_per_token"] == 516_096


def test_optimize_frame_has_one_row_per_placement() -> None:
    pytest.importorskip("pandas")
    plan = planner.optimize("workloads/o1_posttrain.yaml")
    table = plan.to_frame()
    assert len(table) == len(plan.to_dict()["placements"]) > 0
    assert {"site", "system", "job", "role", "units", "busy_units",
            "site_units_share"} <= set(table.columns)


def test_calibration_frame() -> None:
    pytest.importorskip("pandas")
    report = planner.calibration()
    table = report.to_frame()
    assert len(table) == len(report.cases)
    assert table["within_tolerance"].all()
