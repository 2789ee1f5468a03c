"""Reports fit their readers: terminal width, whole words, one tidy CSV per table.

The commands are the ones a user types (issue: "Output people read"); each test fails on the
layout the reports had before (160 columns whatever the terminal, words folded inside cells,
CSV sections separated by '#' lines that pandas cannot read).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from planner.cli import cli

ROOT = Path(__file__).resolve().parents[2]
MAIN_JOB = "workloads/o1_posttrain.yaml"


@pytest.fixture(autouse=True)
def _at_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


def run(*args: str, columns: int | None = None) -> tuple[int, str, str]:
    env = {"COLUMNS": str(columns)} if columns else {}
    result = CliRunner().invoke(cli, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("columns", [80, 100, 132])
def test_main_job_fits_the_terminal_width(columns: int) -> None:
    code, out, err = run("optimize", MAIN_JOB, columns=columns)
    assert code == 0, err
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= columns
    assert not any(line != line.rstrip() for line in lines), "no trailing padding"


def test_words_are_wrapped_between_not_inside() -> None:
    code, out, _ = run("optimize", MAIN_JOB, columns=100)
    assert code == 0
    data = json.loads(run("optimize", MAIN_JOB, "--format", "json")[1])
    used = {(p["job"], p["role"], p["system"]) for p in data["placements"] if p["units"] > 1e-6}
    bounds = {r["bound"] for r in data["role_throughputs"]
              if (r["job"], r["role"], r["system"]) in used}
    assert bounds
    for bound in bounds:  # each role's bound (e.g. memory-bandwidth) whole on one line
        assert re.search(rf"│ {re.escape(bound)} +│", out), bound


def test_assumptions_are_a_count_unless_asked_for() -> None:
    code, short, _ = run("optimize", MAIN_JOB, columns=100)
    assert code == 0
    data = json.loads(run("optimize", MAIN_JOB, "--format", "json")[1])
    count = len(data["assumptions"])
    assert f"Assumptions: {count} named values" in short
    assert "cost_of_capital" not in short
    code, full, _ = run("optimize", MAIN_JOB, "--assumptions", columns=100)
    assert code == 0
    assert "cost_of_capital" in full and "Assumptions: " not in full
    assert len(full.splitlines()) > len(short.splitlines()) + count


def test_csv_folder_has_one_tidy_table_per_file(tmp_path: Path) -> None:
    out = tmp_path / "plan-csv"
    code, _, err = run("optimize", MAIN_JOB, "--format", "csv", "-o", str(out))
    assert code == 0, err
    data = json.loads(run("optimize", MAIN_JOB, "--format", "json")[1])
    for stem in ("placements", "purchases", "flows", "sites", "bottlenecks", "cost_breakdown"):
        frame = pd.read_csv(out / f"{stem}.csv")
        assert not any(str(c).startswith("#") for c in frame.columns), stem
    placements = pd.read_csv(out / "placements.csv")
    assert len(placements) == len(data["placements"])
    assert placements["units"].sum() == pytest.approx(sum(p["units"] for p in data["placements"]))
    costs = pd.read_csv(out / "cost_breakdown.csv")
    assert costs["usd"].sum() == pytest.approx(data["total_cost_usd"], rel=1e-9)
    sites = pd.read_csv(out / "sites.csv")
    assert set(sites["site"]) == {s["site"] for s in data["sites"]}


def test_csv_on_stdout_is_one_table_pandas_reads(tmp_path: Path) -> None:
    code, out, err = run("optimize", MAIN_JOB, "--format", "csv")
    assert code == 0
    assert "-o DIR" in err
    path = tmp_path / "stdout.csv"
    path.write_text(out)
    frame = pd.read_csv(path)
    assert list(frame.columns)[:4] == ["site", "system", "job", "role"]


def test_csv_output_onto_a_file_is_a_clear_error(tmp_path: Path) -> None:
    target = tmp_path / "plan.csv"
    target.write_text("keep me\n")
    code, _, err = run("optimize", MAIN_JOB, "--format", "csv", "-o", str(target))
    assert code == 2
    assert "names a folder" in err and "Traceback" not in err
    assert target.read_text() == "keep me\n"
