"""Sweeps and bad input: size limits, broken ranges, failed scenarios, resume, dead parents.

Issue 9 found a `range` with ``num: 100000000`` expanded in memory (7.6 GB), ranges with
``start > stop``, ``stop: .inf`` or ``start: .nan`` ending in tracebacks, sweeps whose scenarios
all failed exiting 0, crashed rows retried on every rerun, and the workers of a killed
``--workers 2`` sweep alive for minutes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

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
name: guard-study
workload: serve.yaml
command: estimate
hardware: [dgx-h100, dgx-h200]
parameters:
  - path: votes
    values: {votes}
  - path: output_tokens
    {output_tokens}
"""


@pytest.fixture(autouse=True)
def at_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    monkeypatch.delenv("PLANNER_HARDWARE", raising=False)
    monkeypatch.delenv("PLANNER_MODELS", raising=False)


def _study(tmp_path: Path, votes: str = "[1, 4]",
           output_tokens: str = "range: {start: 500, stop: 1500, step: 500}") -> Path:
    (tmp_path / "serve.yaml").write_text(SERVE, encoding="utf-8")
    path = tmp_path / "study.yaml"
    path.write_text(STUDY.format(votes=votes, output_tokens=output_tokens), encoding="utf-8")
    return path


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def test_a_hundred_million_point_range_is_refused_without_expanding(tmp_path: Path) -> None:
    study = _study(tmp_path, output_tokens="range: {start: 500, stop: 1500, num: 100000000}")
    start = time.perf_counter()
    result = run("sweep", str(study), "-o", str(tmp_path / "out"))
    assert time.perf_counter() - start < 5.0  # the values were never generated
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        f"error: {study}:8:5: parameters[1]: the study expands to 400,000,000 scenarios, more "
        "than the limit of 100,000; use fewer values (a coarser step, a smaller num or fewer "
        "samples), or raise the limit with --max-scenarios N\n")
    assert not (tmp_path / "out").exists()


def test_max_scenarios_sets_the_limit(tmp_path: Path) -> None:
    study = _study(tmp_path)  # 2 systems x 2 votes x 3 lengths = 12 scenarios
    refused = run("sweep", str(study), "-o", str(tmp_path / "a"), "--max-scenarios", "11")
    assert refused.exit_code == 2
    assert "expands to 12 scenarios, more than the limit of 11" in refused.stderr
    allowed = run("sweep", str(study), "-o", str(tmp_path / "b"), "--max-scenarios", "12")
    assert allowed.exit_code == 0, allowed.output


@pytest.mark.parametrize(("spec", "message"), [
    ("range: {start: 1500, stop: 500, step: 500}",
     "start 1500 is above stop 500; a 'step' range counts up (use 'num' for a descending one)"),
    ("range: {start: 500, stop: .inf, step: 500}", "stop: expected a finite number"),
    ("range: {start: .nan, stop: 1500, num: 3}", "start: expected a finite number"),
])
def test_broken_ranges_exit_2_at_their_line(tmp_path: Path, spec: str, message: str) -> None:
    study = _study(tmp_path, output_tokens=spec)
    result = run("sweep", str(study), "-o", str(tmp_path / "out"))
    assert result.exit_code == 2, result.output
    assert f"{study}:9:" in result.stderr
    assert message in result.stderr.replace("Input should be a finite number",
                                            "expected a finite number")
    assert "Traceback" not in result.output


def _records(out: Path) -> list[dict[str, object]]:
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    return list(data["scenarios"])


def test_failed_scenarios_exit_1_with_a_summary_and_are_kept(tmp_path: Path) -> None:
    study = _study(tmp_path, votes="[1, 0]")  # votes=0 is bad input: 6 of 12 scenarios fail
    out = tmp_path / "out"
    first = run("sweep", str(study), "-o", str(out), "--format", "json")
    assert first.exit_code == 1, first.output
    lines = first.stderr.splitlines()
    assert lines[1] == ("error: 6 of 12 scenarios failed (6 InputError); see the error column "
                        "of results.csv")
    assert lines[2].startswith("  dgx-h100 votes=0, output_tokens=500: ")
    assert "votes: expected a whole number of at least 1, got 0" in lines[2]
    assert lines[-1] == ("  failed scenarios are kept; rerun with --retry-failed to run them "
                         "again")
    assert json.loads(first.stdout)["summary"]["failed"] == 6
    again = run("sweep", str(study), "-o", str(out), "--format", "json")
    assert again.exit_code == 1
    assert json.loads(again.stdout)["summary"]["ran"] == 0  # nothing reran
    retried = run("sweep", str(study), "-o", str(out), "--format", "json", "--retry-failed")
    assert retried.exit_code == 1
    assert json.loads(retried.stdout)["summary"]["ran"] == 6  # exactly the failed ones


def test_a_crashed_scenario_is_reported_and_not_retried_unless_asked(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import planner.study

    real = planner.study.evaluate_option
    calls: list[tuple[str, ...]] = []

    def crash_on_votes_4(workload: str, option: object, overrides: tuple[str, ...],
                         **kwargs: object) -> object:
        calls.append(overrides)
        if "votes=4" in overrides:
            raise ZeroDivisionError("float division by zero")
        return real(workload, option, overrides, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(planner.study, "evaluate_option", crash_on_votes_4)
    study = _study(tmp_path)
    out = tmp_path / "out"
    first = run("sweep", str(study), "-o", str(out))
    assert first.exit_code == 1
    assert "error: 6 of 12 scenarios failed (6 crash: ZeroDivisionError)" in first.stderr
    assert "a crash is a defect of planner: please report it with the study file" in first.stderr
    calls.clear()
    again = run("sweep", str(study), "-o", str(out))
    assert again.exit_code == 1
    assert calls == []  # crashed rows used to be retried on every rerun
    assert sum(1 for r in _records(out) if r["status"] != "ok") == 6


def test_an_unwritable_results_folder_exits_2(tmp_path: Path) -> None:
    study = _study(tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    result = run("sweep", str(study), "-o", str(blocker / "out"))
    assert result.exit_code == 2
    assert f"{blocker} is a file, not a folder" in result.stderr


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        text = (task / "children").read_text() if (task / "children").exists() else ""
        found.update(int(p) for p in text.split())
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_workers_die_with_a_killed_sweep(tmp_path: Path, how: signal.Signals) -> None:
    # 8 x 6 x 2 = 96 scenarios keep two workers busy for several seconds.
    study = _study(tmp_path, votes="[1, 2, 3, 4, 5, 6, 7, 8]",
                   output_tokens="values: [500, 1000, 2000, 4000, 8000, 16000]")
    script = ("import sys, time, planner.comparison as c\n"
              "real = c.evaluate_option\n"
              "def slow(*a, **k):\n    time.sleep(0.2)\n    return real(*a, **k)\n"
              "import planner.study as s\ns.evaluate_option = slow\n"
              "from planner.cli import main\nmain(sys.argv[1:])\n")
    parent = subprocess.Popen([sys.executable, "-c", script, "sweep", str(study), "-o",
                               str(tmp_path / "out"), "--workers", "2", "--no-progress"],
                              cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env={**os.environ, "PYTHONPATH": str(REPO)})
    workers: set[int] = set()
    deadline = time.monotonic() + 60
    while len(workers) < 2 and time.monotonic() < deadline and parent.poll() is None:
        workers = _children(parent.pid)
        time.sleep(0.1)
    assert len(workers) >= 2, "the sweep did not start its workers"
    parent.send_signal(how)
    parent.wait(timeout=30)
    deadline = time.monotonic() + 10
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [w for w in workers if _alive(w)]
    for pid in left:  # do not leave them behind if the test fails
        os.kill(pid, signal.SIGKILL)
    assert left == []


def test_a_study_name_over_255_characters_exits_2(tmp_path: Path) -> None:
    study = _study(tmp_path)
    study.write_text(study.read_text().replace("guard-study", "n" * 300), encoding="utf-8")
    result = run("sweep", str(study))  # the default folder is '<name>-results': ENAMETOOLONG
    assert result.exit_code == 2
    assert result.stderr == (f"error: {study}:1:7: name: a name of 300 characters (at most "
                             "255): it names the results folder; shorten it\n")


def test_a_results_folder_name_the_system_refuses_exits_2(tmp_path: Path) -> None:
    folder = tmp_path / ("n" * 300)
    result = run("sweep", str(_study(tmp_path)), "-o", str(folder))
    assert result.exit_code == 2
    assert result.stderr == (f"error: -o {folder}: cannot write there: File name too long; "
                             "choose a writable file path (its folder is created if missing)\n")
