"""Determinism and resume still hold after the input checks: same inputs, same bytes.

Issue 9 measured outputs to be byte-for-byte deterministic and interrupted sweeps to resume
correctly, and asked to keep both. Reports are compared byte for byte; sweep results are
compared without the per-scenario ``seconds`` column, and plans without the solver's
``seconds``: both are wall-clock timings.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from planner.cli import cli

REPO = Path(__file__).resolve().parents[2]

SERVE = """\
kind: serve
model: llama-3.1-8b
input_tokens: 100
output_tokens: 1000
interactivity: 30 tokens/s
requests_per_second: 10 requests/s
"""

STUDY = """\
name: determinism
workload: serve.yaml
command: estimate
hardware: [dgx-h100, dgx-h200]
parameters:
  - path: votes
    values: [1, 4, 0]
  - path: output_tokens
    random: {low: 500, high: 4000, scale: log}
    integer: true
samples: 3
seed: 7
"""


@pytest.fixture(autouse=True)
def at_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    monkeypatch.delenv("PLANNER_HARDWARE", raising=False)
    monkeypatch.delenv("PLANNER_MODELS", raising=False)


@pytest.mark.parametrize("args", [
    ("estimate", "workloads/serve_reasoning.yaml", "--hardware", "dgx-h100", "--format", "json"),
    ("estimate", "workloads/o1_posttrain.yaml", "--hardware", "gb200-nvl72", "--format", "csv"),
    ("optimize", "workloads/o1_posttrain.yaml", "--format", "json"),
    ("optimize", "workloads/scenario_mixed.yaml", "--format", "json"),
], ids=["estimate-serve", "estimate-posttrain", "optimize", "optimize-scenario"])
def test_reports_are_the_same_bytes_every_run(args: tuple[str, ...], tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    assert CliRunner().invoke(cli, [*args, "-o", str(first)]).exit_code == 0
    assert CliRunner().invoke(cli, [*args, "-o", str(second)]).exit_code == 0
    if first.is_dir():  # --format csv writes a folder: one file per table
        names = sorted(p.name for p in first.iterdir())
        assert names == sorted(p.name for p in second.iterdir()) and names
        for name in names:
            assert (first / name).read_bytes() == (second / name).read_bytes(), name
        return
    assert _untimed(first.read_bytes()) == _untimed(second.read_bytes())


def _untimed(raw: bytes) -> bytes:
    """The bytes without the solver's wall-clock time (``"seconds": ...`` in plan JSON)."""
    return re.sub(rb'"seconds": [0-9.e+-]+', b'"seconds": T', raw)


def _table(out: Path) -> list[dict[str, str]]:
    rows = list(csv.DictReader(io.StringIO((out / "results.csv").read_text(encoding="utf-8"))))
    for row in rows:
        del row["seconds"]
    return rows


def _study(tmp_path: Path) -> Path:
    (tmp_path / "serve.yaml").write_text(SERVE, encoding="utf-8")
    path = tmp_path / "study.yaml"
    path.write_text(STUDY, encoding="utf-8")
    return path


def test_a_sweep_gives_the_same_table_on_one_or_two_workers(tmp_path: Path) -> None:
    study = _study(tmp_path)
    one = CliRunner().invoke(cli, ["sweep", str(study), "-o", str(tmp_path / "one")])
    two = CliRunner().invoke(cli, ["sweep", str(study), "-o", str(tmp_path / "two"),
                                   "--workers", "2"])
    assert one.exit_code == two.exit_code == 1  # votes=0 fails: 6 of 18 scenarios
    assert _table(tmp_path / "one") == _table(tmp_path / "two")
    assert len(_table(tmp_path / "one")) == 18


def test_an_interrupted_sweep_resumes_to_the_same_table(tmp_path: Path) -> None:
    study = _study(tmp_path)
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    CliRunner().invoke(cli, ["sweep", str(study), "-o", str(whole)])
    CliRunner().invoke(cli, ["sweep", str(study), "-o", str(cut)])
    saved = json.loads((cut / "results.json").read_text(encoding="utf-8"))
    saved["scenarios"] = saved["scenarios"][:7]  # as if stopped after seven scenarios
    (cut / "results.json").write_text(json.dumps(saved), encoding="utf-8")
    resumed = CliRunner().invoke(cli, ["sweep", str(study), "-o", str(cut), "--format", "json"])
    assert json.loads(resumed.stdout)["summary"]["ran"] == 11
    assert _table(cut) == _table(whole)
