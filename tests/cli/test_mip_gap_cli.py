"""optimize --integer --mip-gap: the stopping gap, and the gap reached in the report and JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from planner.cli import cli

ROOT = Path(__file__).resolve().parents[2]
MAIN = "workloads/o1_posttrain.yaml"


@pytest.fixture(autouse=True)
def _at_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


def plan(*args: str) -> dict:
    result = CliRunner().invoke(cli, ["optimize", MAIN, *args, "--format", "json"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_default_gap_is_proved_and_reported() -> None:
    # integer plans are made whole in two stages (planner/lp/two_stage.py): the gap is the
    # plan's cost over the bound of the first stage (whole units per site and system only),
    # which rounding each placement to whole units moves away from
    d = plan("--integer")
    assert d["status"] == "optimal"
    assert 0.0 <= d["solver"]["mip_gap"] <= 0.01
    notes = [a["value"] for a in d["assumptions"] if a["name"].startswith("solver_note")]
    assert any("made whole in two stages" in str(n) for n in notes)


def test_each_gap_bounds_the_other_plan() -> None:
    # cost x (1 - gap) is a proved lower bound on every whole-placement plan, so on the other
    exact, default = plan("--integer", "--mip-gap", "0"), plan("--integer")
    for a, b in ((exact, default), (default, exact)):
        bound = a["total_cost_usd"] * (1 - a["solver"]["mip_gap"])
        assert bound <= b["total_cost_usd"] * (1 + 1e-9)


def test_lp_mode_has_no_gap() -> None:
    assert plan()["solver"]["mip_gap"] is None


def test_gap_shows_in_the_plan_report() -> None:
    result = CliRunner().invoke(cli, ["optimize", MAIN, "--integer"])
    assert result.exit_code == 0
    assert ", gap " in result.stdout and " %" in result.stdout


@pytest.mark.parametrize("gap", ["1", "-0.1", "x"])
def test_bad_gap_exits_2(gap: str) -> None:
    result = CliRunner().invoke(cli, ["optimize", MAIN, "--integer", "--mip-gap", gap])
    assert result.exit_code == 2
    assert "--mip-gap" in result.stderr
