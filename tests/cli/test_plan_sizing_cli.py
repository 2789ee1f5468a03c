"""The cluster size a placed pretraining run is modelled at is a named assumption of the plan
(planner/scenario.py ``pretrain_sizing``), not a number hidden in the code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from planner.cli import cli
from planner.scenario import PRETRAIN_SIZING_ACCELERATORS

ROOT = Path(__file__).resolve().parents[2]
FILE = "examples/pretrain_sites/pretrain_405b.yaml"  # gives no 'accelerators'
NAME = "pretrain_sizing_accelerators[pretrain_405b]"


@pytest.fixture(autouse=True)
def _at_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


def plan(*args: str) -> dict:
    result = CliRunner().invoke(cli, ["optimize", FILE, *args, "--format", "json"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def sizing(data: dict) -> dict:
    (found,) = [a for a in data["assumptions"] if a["name"] == NAME]
    return found


def test_default_sizing_is_listed_and_is_what_the_plan_used() -> None:
    default = plan()
    assert sizing(default)["value"] == PRETRAIN_SIZING_ACCELERATORS == 8192
    assert sizing(default)["source"].startswith("planner default")
    # The default plan is exactly the plan at an explicit 8,192 accelerators ...
    explicit = plan("--set", "accelerators=8192")
    assert sizing(explicit) | {"source": ""} == sizing(default) | {"source": ""}
    assert sizing(explicit)["source"] == "workload pretrain_405b: accelerators"
    assert explicit["total_cost_usd"] == pytest.approx(default["total_cost_usd"], rel=1e-9)
    # ... and the number matters: the run modelled at 16,384 accelerators costs another amount.
    larger = plan("--set", "accelerators=16384")
    assert sizing(larger)["value"] == 16384
    assert larger["total_cost_usd"] != pytest.approx(default["total_cost_usd"], rel=1e-3)
