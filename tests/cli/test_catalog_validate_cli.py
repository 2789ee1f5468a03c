"""The command line for help, `catalog list|show` and `validate`, through click's CliRunner.

The CPU-core ratios checked here are the source article's: DGX H100 has 8 GPUs and 2 x 56-core
Xeon 8480C (112 / 8 = 14 cores per GPU), GB200 NVL72 has 72 GPUs and 36 x 72-core Grace
(2,592 / 72 = 36), the Project Rainier Trainium2 server has 16 chips and 96 host cores
(96 / 16 = 6); see hardware/README.md.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from planner.cli import cli
from planner.errors import InputError

REPO = Path(__file__).resolve().parents[2]

# system -> (accelerators per unit, CPU cores per unit, CPU cores per accelerator)
EXPECTED = {
    "dgx-h100": (8, 112, 14.0),       # 2 x 56 cores / 8 GPUs
    "gb200-nvl72": (72, 2592, 36.0),  # 36 x 72 cores / 72 GPUs
    "trn2-rainier": (16, 96, 6.0),    # 96 cores / 16 chips
}


@pytest.fixture(autouse=True)
def at_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from the repository root with the bundled catalog and models."""
    monkeypatch.chdir(REPO)
    monkeypatch.delenv("PLANNER_HARDWARE", raising=False)
    monkeypatch.delenv("PLANNER_MODELS", raising=False)


def run(*args: str) -> Result:
    """Invoke `planner ARGS...` in-process."""
    return CliRunner().invoke(cli, list(args))


def test_help_lists_every_command_and_shows_an_example() -> None:
    result = run("--help")
    assert result.exit_code == 0
    commands = result.stdout.split("Commands:")[1].split()
    for name in ("calibration", "catalog", "estimate", "optimize", "validate"):
        assert name in commands
    assert "Examples:" in result.stdout
    assert "planner optimize workloads/o1_posttrain.yaml" in result.stdout


def test_subcommand_help_shows_an_example() -> None:
    result = run("validate", "--help")
    assert result.exit_code == 0
    assert "planner validate hardware workloads" in result.stdout


def _table_rows(text: str) -> dict[str, list[str]]:
    """Rows of a rich table (box characters) keyed by their first cell."""
    rows = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.split("│")[1:-1]]
        if cells:
            rows[cells[0]] = cells
    return rows


def test_catalog_list_table_shows_cores_per_accelerator() -> None:
    result = CliRunner().invoke(cli, ["catalog", "list"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    header = next(line for line in result.stdout.splitlines() if "┃" in line)
    titles = [cell.strip() for cell in header.split("┃")[1:-1]]
    rows = _table_rows(result.stdout)
    accel, cores = titles.index("accel"), titles.index("cores/acc")
    for system, (count, _, per_accelerator) in EXPECTED.items():
        assert rows[system][accel] == str(count)
        assert rows[system][cores] == f"{per_accelerator:g}"


def test_catalog_list_json_has_the_ratios_in_si_units() -> None:
    result = run("catalog", "list", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["schema_version"] == 1
    rows = {row["system"]: row for row in report["systems"]}
    for system, (count, cores, per_accelerator) in EXPECTED.items():
        row = rows[system]
        assert (row["accelerators"], row["cpu_cores"]) == (count, cores)
        assert row["cpu_cores_per_accelerator"] == per_accelerator
    # DGX H100: 8 x 989 TFLOPS dense BF16 = 7.912e15 FLOP/s; 8 x 80 GB = 640 GB of HBM.
    assert rows["dgx-h100"]["bf16_flops_per_unit"] == pytest.approx(7.912e15)
    assert rows["dgx-h100"]["hbm_bytes_per_unit"] == pytest.approx(640e9)


def test_catalog_list_csv_has_one_row_per_system() -> None:
    result = run("catalog", "list", "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = {row["system"]: row for row in csv.DictReader(io.StringIO(result.stdout))}
    assert len(rows) == len(list((REPO / "hardware" / "systems").glob("*.yaml")))
    for system, (count, cores, per_accelerator) in EXPECTED.items():
        assert int(rows[system]["accelerators"]) == count
        assert int(rows[system]["cpu_cores"]) == cores
        assert float(rows[system]["cpu_cores_per_accelerator"]) == per_accelerator


def test_catalog_list_markdown_is_a_pipe_table() -> None:
    result = run("catalog", "list", "--format", "markdown")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    titles = [cell.strip() for cell in lines[0].strip("|").split("|")]
    assert titles[:3] == ["system", "unit", "accel"]
    assert set(lines[1].replace("|", "")) == {"-"}
    rows = {cells[0]: cells for cells in
            ([c.strip() for c in line.strip("|").split("|")] for line in lines[2:])}
    cores = titles.index("cores/acc")
    for system, (_, _, per_accelerator) in EXPECTED.items():
        assert rows[system][cores] == f"{per_accelerator:g}"


def test_catalog_show_lists_every_figure_with_its_source() -> None:
    result = run("catalog", "show", "gb200-nvl72")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "NVIDIA GB200 NVL72 (72x B200-class GPU, 36x Grace) (gb200-nvl72), one rack"
    assert "  sources:" in lines
    assert any(line.startswith("    host: [vendor] https://www.nvidia.com/en-us/data-center/"
                               "gb200-nvl72/") for line in lines)
    assert any(line.startswith("    purchase: [analyst] ") for line in lines)
    assert "2592 cores (36 per accelerator)" in result.stdout


def test_catalog_show_json_keeps_sources() -> None:
    result = run("catalog", "show", "trn2-rainier", "--format", "json")
    assert result.exit_code == 0, result.output
    system = json.loads(result.stdout)["system"]
    assert (system["id"], system["accelerator"]["count"], system["host"]["cores"]) == \
        ("trn2-rainier", 16, 96)
    assert "host" in system["sources"]


def test_catalog_show_unknown_system_suggests_the_closest() -> None:
    result = run("catalog", "show", "gb200-nvl27")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "Traceback" not in result.output
    assert result.stderr.startswith("error: ")
    assert result.stderr.rstrip().endswith(
        "unknown system 'gb200-nvl27'; did you mean 'gb200-nvl72'?")


def test_validate_the_bundled_hardware_and_workloads() -> None:
    result = run("validate", "hardware", "workloads")
    assert result.exit_code == 0, result.output
    files = sorted([*Path("hardware").rglob("*.yaml"), *Path("workloads").rglob("*.yaml")])
    lines = result.stdout.splitlines()
    assert lines[-1] == f"{len(files)} file(s) valid"
    assert all(line.startswith("ok  ") for line in lines[:-1])
    assert len(lines) - 1 == len(files)
    assert "ok  hardware/systems/dgx_h100.yaml  (system dgx-h100: 8x H100 SXM5 80 GB per node)" \
        in lines


def test_validate_reports_bad_files_and_still_lists_the_good_ones(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text((REPO / "workloads" / "serve_reasoning.yaml").read_text())
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: serve\nmodel: llama-3.1-405b\nvotes: 0\n")
    result = run("validate", str(good), str(bad))
    assert result.exit_code == 2
    assert result.stdout == f"ok  {good}  (workload good: serve, model llama-3.1-405b)\n"
    errors = result.stderr.splitlines()
    # input_tokens, output_tokens, interactivity, requests_per_second missing, and votes: 0.
    assert len(errors) == 6 and errors[-1] == "5 problems found"
    assert f"error: {bad}:3:8: votes: expected a whole number of at least 1, got 0; " \
        "write a count such as 1 or 8" in errors


def _planner(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the real console entry point in a child process (to see what a user sees)."""
    code = "from planner.cli import main; main()"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          timeout=120, check=False)


def test_debug_shows_a_traceback_and_the_default_does_not(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: serve\nmodel: [unclosed\n")
    plain = _planner("validate", str(bad))
    assert plain.returncode == 2
    assert "Traceback" not in plain.stderr
    assert plain.stderr.startswith(f"error: {bad}:3:1: YAML syntax error: ")
    debug = _planner("--debug", "validate", str(bad))
    assert debug.returncode == 1
    assert "Traceback (most recent call last)" in debug.stderr
    assert "planner.errors.InputError" in debug.stderr


def test_debug_lets_the_error_propagate_in_process(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("")
    with pytest.raises(InputError, match="file is empty"):
        CliRunner().invoke(cli, ["--debug", "validate", str(bad)], catch_exceptions=False)
