"""`planner compare` and `planner sweep` through click's CliRunner: output, files, exit codes."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from planner.cli import cli

REPO = Path(__file__).resolve().parents[2]

STUDY = """\
name: cli-study
workload: serve.yaml
command: estimate
hardware: [dgx-h100, dgx-h200]
parameters:
  - path: votes
    values: [1, 4]
  - path: output_tokens
    range: {start: 500, stop: 1500, step: 500}
"""


@pytest.fixture(autouse=True)
def at_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from the repository root with the bundled catalog and models."""
    monkeypatch.chdir(REPO)
    monkeypatch.delenv("PLANNER_HARDWARE", raising=False)
    monkeypatch.delenv("PLANNER_MODELS", raising=False)


@pytest.fixture
def files(tmp_path: Path, serve_yaml: str) -> Path:
    (tmp_path / "serve.yaml").write_text(serve_yaml, encoding="utf-8")
    (tmp_path / "study.yaml").write_text(STUDY, encoding="utf-8")
    return tmp_path


def run(*args: str) -> Result:
    """Invoke `planner ARGS...` in-process."""
    return CliRunner().invoke(cli, list(args))


def test_compare_json_names_the_cheapest_and_fastest(files: Path) -> None:
    result = run("compare", str(files / "serve.yaml"), "--hardware", "dgx-h100",
                 "--hardware", "dgx-h200", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["schema_version"] == 1 and data["kind"] == "serve"
    options = {o["option"]: o for o in data["options"]}
    assert set(options) == {"dgx-h100", "dgx-h200"}
    assert data["cheapest"] == min(options, key=lambda k: options[k]["total_cost_usd"])
    # both serve the same 30 days; the tie goes to the one serving each user >2% faster
    # (decode batches stop at a GEMM tile step, so the speed above the 30 tokens/s target varies)
    speeds = {k: o["tokens_per_s_per_user"] for k, o in options.items()}
    top = max(speeds, key=lambda k: speeds[k])
    clear = min(speeds.values()) < 0.98 * speeds[top]
    assert data["fastest"] == (top if clear else None)
    for o in options.values():
        for key in ("units", "accelerators", "wall_time_s", "total_cost_usd",
                    "cost_per_work_usd", "bound", "power_w", "roles"):
            assert key in o
        assert o["wall_time_s"] == 30 * 86400  # the serving workload's default duration


def test_compare_table_shows_options_side_by_side(files: Path) -> None:
    result = run("compare", str(files / "serve.yaml"), "--hardware", "dgx-h100",
                 "--hardware", "dgx-h200", "--set", "votes=2")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "cheapest" in out and "overrides" in out and "votes=2" in out
    header = next(line for line in out.splitlines() if "dgx-h100" in line and "dgx-h200" in line)
    assert header.index("dgx-h100") < header.index("dgx-h200")
    assert "cost per 1M answer tokens" in out


def test_compare_csv_has_one_record_per_option(files: Path) -> None:
    result = run("compare", str(files / "serve.yaml"), "--hardware", "dgx-h100",
                 "--hardware", "dgx-h200", "--format", "csv")
    assert result.exit_code == 0, result.output
    assert "#" not in result.stdout  # one plain table: the comparison
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["option"] for r in rows] == ["dgx-h100", "dgx-h200"]
    assert all(float(r["total_cost_usd"]) > 0 for r in rows)


def test_compare_html_embeds_the_figures(files: Path, tmp_path: Path) -> None:
    out = tmp_path / "compare.html"
    result = run("compare", str(files / "serve.yaml"), "--hardware", "dgx-h100",
                 "--format", "html", "-o", str(out))
    assert result.exit_code == 0, result.output
    page = out.read_text()
    # cost per option, KV cache against length, interactivity against batch, roofline
    assert page.count("<svg") == 4
    for label in ("KV cache against sequence length", "Interactivity against batch size",
                  "Roofline of each role on each system", "Total cost per option"):
        assert label in page


def test_compare_on_a_fleet(files: Path) -> None:
    fleet = REPO / "examples" / "pretrain_sites" / "capped_sites.yaml"
    workload = REPO / "examples" / "pretrain_sites" / "pretrain_405b.yaml"
    result = run("compare", str(workload), "--fleet", str(fleet), "--set",
                 "deadline=60 days", "--format", "json")
    assert result.exit_code == 0, result.output
    (option,) = json.loads(result.stdout)["options"]
    assert option["option"] == "capped_sites" and option["basis"] == "optimize"
    assert option["status"] == "ok" and option["total_cost_usd"] > 0
    assert option["wall_time_s"] == 60 * 86400


@pytest.mark.parametrize(("args", "message"), [
    (("--hardware", "dgx-h10"), "unknown system 'dgx-h10'; did you mean 'dgx-h100'?"),
    ((), "nothing to compare"),
    (("--fleet", "no/such/fleet.yaml"), "fleet file not found"),
], ids=["unknown-system", "no-options", "missing-fleet"])
def test_compare_bad_options_exit_2(files: Path, args: tuple[str, ...], message: str) -> None:
    result = run("compare", str(files / "serve.yaml"), *args)
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.output


def test_sweep_writes_results_and_resumes(files: Path, tmp_path: Path) -> None:
    out = tmp_path / "results"
    result = run("sweep", str(files / "study.yaml"), "-o", str(out), "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    # 2 systems × 2 vote counts × 3 lengths (500, 1000, 1500) = 12 scenarios.
    assert data["summary"]["scenarios"] == 12 and data["summary"]["ran"] == 12
    for name in ("results.csv", "results.json", "report.html"):
        assert (out / name).is_file()
    assert f"wrote {out}/results.csv" in result.stderr
    again = run("sweep", str(files / "study.yaml"), "-o", str(out), "--format", "json")
    summary = json.loads(again.stdout)["summary"]
    assert (summary["ran"], summary["skipped"]) == (0, 12)


def test_sweep_csv_prints_every_scenario(files: Path, tmp_path: Path) -> None:
    result = run("sweep", str(files / "study.yaml"), "-o", str(tmp_path / "r"),
                 "--format", "csv", "--workers", "2")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 12
    assert {r["output_tokens"] for r in rows} == {"500", "1000", "1500"}
    assert all(r["status"] == "ok" for r in rows)


def test_sweep_table_summary_and_default_folder(files: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run("sweep", str(files / "study.yaml"), "--progress")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "cli-study-results" / "results.csv").is_file()
    assert "12: 12 ok, 0 failed" in result.stdout
    assert "Best scenarios by cost per work usd" in result.stdout


def test_sweep_bad_study_exits_2_with_the_line(files: Path) -> None:
    (files / "study.yaml").write_text(STUDY.replace("votes", "vots", 1), encoding="utf-8")
    result = run("sweep", str(files / "study.yaml"), "-o", str(files / "out"))
    assert result.exit_code == 2
    assert "study.yaml:6:11: parameters[0].path: --set vots=1 does not load" in result.stderr
    assert "did you mean 'votes'?" in result.stderr


def test_sweep_without_dask_says_how_to_install_it(files: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "dask", None)
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    result = run("sweep", str(files / "study.yaml"), "-o", str(files / "out"),
                 "--scheduler", "tcp://127.0.0.1:8786")
    assert result.exit_code == 2
    assert "Dask is not installed" in result.stderr and "planner[dask]" in result.stderr


@pytest.mark.parametrize("command", ["compare", "sweep"])
def test_help_shows_an_example(command: str) -> None:
    result = run(command, "--help")
    assert result.exit_code == 0
    assert "Examples:" in result.stdout and f"planner {command} " in result.stdout
