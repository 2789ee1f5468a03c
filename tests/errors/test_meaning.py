"""The validation of meaning: values that passed the schema and then crashed, hung or lied.

Each row is a command from issue 9's list of defects, run through the real command line on the
bundled workloads. Before the checks of ``planner/workload/checks.py`` and
``planner/catalog/checks.py`` these ended in a ZeroDivisionError, an OSError, an IndexError inside
PuLP, a loop over eight billion TP degrees, or exit 0 with a figure that could not be true. Each
must now exit 2 with the file, the `--set` option or field that is wrong, and the fix.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from planner.cli import cli

REPO = Path(__file__).resolve().parents[2]
POST = "workloads/o1_posttrain.yaml"
PRE = "workloads/pretrain_llama3_405b.yaml"
SERVE = "workloads/serve_reasoning.yaml"
MIXED = "workloads/scenario_mixed.yaml"


@dataclass(frozen=True)
class Row:
    """A command and the line it must print on stderr (exit 2)."""

    name: str
    args: tuple[str, ...]
    stderr: str


def est(name: str, file: str, option: str, stderr: str) -> Row:
    return Row(name, ("estimate", file, "--hardware", "dgx-h100", "--set", option), stderr)


def opt(name: str, file: str, option: str, stderr: str) -> Row:
    return Row(name, ("optimize", file, "--set", option), stderr)


ROWS = [
    est("posttrain_deadline_zero", POST, "deadline=0 s",
        f"error: {POST} (--set deadline=0 s): deadline: 0 is not allowed: it must be at least 60; "
        "give a duration such as '60 days' (at least a minute)"),
    # optimize said "<planning inputs>: jobs.o1_posttrain.horizon_s: the horizon must be positive"
    opt("posttrain_deadline_zero_optimize", POST, "deadline=0 s",
        f"error: {POST} (--set deadline=0 s): deadline: 0 is not allowed: it must be at least 60; "
        "give a duration such as '60 days' (at least a minute)"),
    est("problems_zero", POST, "problems=0",
        f"error: {POST} (--set problems=0): problems: 0 is not allowed: it must be at least 1; "
        "give a problem count such as '10M'"),
    est("samples_zero", POST, "samples_per_problem=0",
        f"error: {POST} (--set samples_per_problem=0): samples_per_problem: 0 is not allowed: "
        "it must be at least 1; give the samples drawn per problem, e.g. 64"),
    est("branching_zero", POST, "branching_factor=0",
        f"error: {POST} (--set branching_factor=0): branching_factor: 0 is not allowed: it must "
        "be at least 1; children per node of the sample tree: 1 for independent samples"),
    est("prm_step_zero", POST, "reward_models.prm.step_tokens=0",
        f"error: {POST} (--set reward_models.prm.step_tokens=0): reward_models.prm.step_tokens: "
        "0 is not allowed: it must be at least 1; a reasoning step is at least one token, "
        "e.g. 512"),
    # Was "<planning inputs>: jobs.o1_posttrain.rl.verify: role 'verify' must be a CPU role",
    # which names nothing the user wrote.
    opt("verifier_zero_seconds", POST, "verifier_cpu_seconds=0 s",
        f"error: {POST} (--set verifier_cpu_seconds=0 s): verifier_cpu_seconds: 0 is not "
        "allowed: it must be above zero; give the CPU core-seconds per verified sample, e.g. "
        "'30 s', or set verified_fraction: 0 for no functional verifier"),
    # A tiny rate crashed PuLP's solution reader; a tiny efficiency overflowed step times.
    opt("tiny_request_rate", SERVE, "requests_per_second=1e-300/s",
        f"error: {SERVE} (--set requests_per_second=1e-300/s): requests_per_second: a total of "
        "1e-300 requests/s is below 1e-06/s (one request in eleven days); give a rate such as "
        "'10/s'"),
    # Found by tests/fuzz: an IndexError inside PuLP's solution reader.
    opt("votes_2e13", MIXED, "serve_reasoning.votes=20816965227010.0",
        f"error: {SERVE} (--set serve_reasoning.votes=20816965227010.0): votes: "
        "2.0817e+13 is too large (at most 10000): no voting scheme draws that many answers; "
        "check the order of magnitude"),
    # Found by the 100,000-case fuzz run: an IndexError inside PuLP's solution reader.
    opt("policy_updates_huge", POST, "policy_updates=2834719959204.0",
        f"error: {POST} (--set policy_updates=2834719959204.0): policy_updates: "
        "2,834,719,959,204 optimiser steps, but 819,200,000 is the most: each step trains on at "
        "least one kept sample (819,200,000 are kept) and at most 1e+09 steps are planned; "
        "lower policy_updates or raise keep_fraction"),
    # Found by the second 100,000-case fuzz run: an IndexError inside PuLP's solution reader.
    opt("orm_passes_huge", POST, "reward_models.orm.passes=1000000000000000000",
        f"error: {POST} (--set reward_models.orm.passes=1000000000000000000): "
        "reward_models.orm.passes: 1e+18 is too large (at most 1000): reward ensembles use a "
        "handful of passes; check the order of magnitude"),
    opt("problems_1e30", POST, "problems=1e30",
        f"error: {POST} (--set problems=1e30): problems: problems x samples_per_problem x "
        "tokens_per_sample = 6.55e+37 generated tokens is too large (at most 1e+24); check the "
        "order of magnitude of the three counts"),
    est("pretrain_tokens_zero", PRE, "tokens=0",
        f"error: {PRE} (--set tokens=0): tokens: 0 is not allowed: it must be above zero; "
        "give the token budget, e.g. '15T'"),
    est("goodput_zero", PRE, "efficiency.goodput=0",
        f"error: {PRE} (--set efficiency.goodput=0): efficiency.goodput: 0 is not allowed: an "
        "efficiency below 0.001 leaves no throughput; use a fraction such as 0.5; omit it for "
        "the calibrated default"),
    est("training_matmul_zero", PRE, "efficiency.training_matmul=0",
        f"error: {PRE} (--set efficiency.training_matmul=0): efficiency.training_matmul: 0 is "
        "not allowed: an efficiency below 0.001 leaves no throughput; use a fraction such as "
        "0.5; omit it for the calibrated default"),
    est("scale_out_zero", PRE, "efficiency.scale_out=0",
        f"error: {PRE} (--set efficiency.scale_out=0): efficiency.scale_out: 0 is not allowed: "
        "an efficiency below 0.001 leaves no throughput; use a fraction such as 0.5; omit it "
        "for the calibrated default"),
    est("accelerators_1e30", PRE, "accelerators=1e30",
        f"error: {PRE} (--set accelerators=1e30): accelerators: 1e+30 is too large for a count "
        "(limit 10^18); check the order of magnitude"),
    est("accelerators_1e9", PRE, "accelerators=1e9",
        f"error: {PRE} (--set accelerators=1e9): accelerators: 1e+09 is too large (at most "
        "1e+07): no planned cluster is that large; check the order of magnitude"),
    est("global_batch_zero", PRE, "global_batch=0",
        f"error: {PRE} (--set global_batch=0): global_batch: 0 is not a whole number of at "
        "least one sequence; write sequences as a bare count (1152) or tokens with a unit "
        "('9.4M tokens')"),
    # Was blamed on memory (exit 3).
    est("layout_needs_more", PRE, "accelerators=512",
        f"error: {PRE} (--set accelerators=512): accelerators: 512 accelerators, but the pinned "
        "layout needs tp x pp x dp = 8 x 16 x 128 = 16,384; set accelerators: 16384, or unpin "
        "the layout to search it again: --set parallelism={}"),
    # Was charged for 20,000 accelerators while 16,384 worked (exit 0).
    est("layout_needs_fewer", PRE, "accelerators=20000",
        f"error: {PRE} (--set accelerators=20000): accelerators: 20,000 accelerators, but the "
        "pinned layout needs tp x pp x dp = 8 x 16 x 128 = 16,384; set accelerators: 16384, or "
        "unpin the layout to search it again: --set parallelism={}"),
    est("tp_not_dividing_heads", PRE, "parallelism.tp=7",
        f"error: {PRE} (--set parallelism.tp=7): parallelism.tp: tensor parallelism 7 does not "
        "divide the 128 attention heads of llama-3.1-405b; use a divisor of 128, e.g. 8"),
    est("ep_on_dense_model", PRE, "parallelism.ep=2",
        f"error: {PRE} (--set parallelism.ep=2): parallelism.ep: expert parallelism 2 on "
        "llama-3.1-405b, a dense model (it has no experts); remove parallelism.ep"),
    est("sequence_over_context", PRE, "sequence_length=1000000",
        f"error: {PRE} (--set sequence_length=1000000): sequence_length: 1,000,000 tokens exceed "
        "the context length of llama-3.1-405b (131,072 tokens); use at most 131072"),
    # Found by tests/fuzz: the message had no line.
    opt("pretrain_without_deadline", PRE, "tokens=1",
        f"error: {PRE}:4:1: deadline: placing a pretraining run needs a deadline; add "
        "'deadline: 90 days' or --set deadline='90 days'"),
    est("serve_input_over_context", SERVE, "input_tokens=10000000",
        f"error: {SERVE} (--set input_tokens=10000000): input_tokens: input_tokens + "
        "output_tokens = 10,007,661 tokens exceed the context length of llama-3.1-405b "
        "(131,072 tokens); shorten the request or use a longer-context model"),
]


@pytest.fixture
def in_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    monkeypatch.delenv("PLANNER_HARDWARE", raising=False)
    monkeypatch.delenv("PLANNER_MODELS", raising=False)


@pytest.mark.usefixtures("in_repo")
@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
def test_values_without_meaning_exit_2_before_any_model_runs(row: Row) -> None:
    result = CliRunner().invoke(cli, list(row.args))
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [row.stderr]


def _hardware_copy(tmp_path: Path, old: str, new: str) -> Path:
    """A copy of the bundled hardware folder with one line of dgx_h100.yaml changed."""
    root = tmp_path / "hardware"
    shutil.copytree(REPO / "hardware", root)
    system = root / "systems" / "dgx_h100.yaml"
    text = system.read_text()
    assert old in text
    system.write_text(text.replace(old, new))
    return root


@pytest.mark.usefixtures("in_repo")
@pytest.mark.parametrize(("old", "new", "message"), [
    ("hbm_capacity: 80 GB", "hbm_capacity: 0 GB",
     "accelerator.hbm_capacity: 0 is not allowed: it must be above zero; give the vendor "
     "figure with its unit"),
    # Passed validation, then looped over eight billion TP degrees in the layout search.
    ("domain_size: 8\n", "domain_size: 8000000000\n",
     "scale_up.domain_size: 8,000,000,000 is too large (at most 100,000 accelerators); "
     "check the order of magnitude"),
])
def test_system_figures_that_divide_or_hang_are_refused(tmp_path: Path, old: str, new: str,
                                                       message: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANNER_HARDWARE", str(_hardware_copy(tmp_path, old, new)))
    result = CliRunner().invoke(cli, ["estimate", PRE, "--hardware", "dgx-h100"])
    assert result.exit_code == 2, result.output
    assert "dgx_h100.yaml:" in result.stderr
    assert message in result.stderr


@pytest.mark.usefixtures("in_repo")
def test_a_model_name_over_255_characters_is_an_unknown_model() -> None:
    name = "a" * 300  # was OSError ENAMETOOLONG while looking for the model file
    result = CliRunner().invoke(cli, ["estimate", SERVE, "--hardware", "dgx-h100",
                                      "--set", f"model={name}"])
    assert result.exit_code == 2
    expected = f"model: unknown model '{name}'; expected one of: deepseek-r1, deepseek-v3,"
    assert expected in result.stderr


@pytest.mark.usefixtures("in_repo")
@pytest.mark.parametrize(("args", "stderr"), [
    (("-o", ""), "error: -o .: cannot write there: the path is empty or the current folder; "
     "choose a writable file path (its folder is created if missing)"),
    (("-o", "README.md/report.txt"), "error: -o README.md/report.txt: cannot write there: "
     "README.md is a file, not a folder; choose a writable file path (its folder is created "
     "if missing)"),
])
def test_unwritable_outputs_exit_2_before_the_run(args: tuple[str, ...], stderr: str) -> None:
    result = CliRunner().invoke(cli, ["estimate", SERVE, "--hardware", "dgx-h100", *args])
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [stderr]


@pytest.mark.usefixtures("in_repo")
def test_an_lp_dump_into_a_missing_folder_exits_2(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "model.lp"
    result = CliRunner().invoke(cli, ["optimize", SERVE, "--dump-lp", str(target)])
    assert result.exit_code == 2, result.output
    assert result.stderr == (f"error: --dump-lp {target}: cannot write there: the folder "
                             f"{target.parent} does not exist; choose a writable file path\n")
    assert not target.parent.exists()


@pytest.mark.usefixtures("in_repo")
def test_a_report_that_cannot_be_renamed_into_place_exits_2(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    # A read-only file system or a permission refused at write time (after the checks).
    import planner.yamlio

    def refuse(path: object, text: str) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(planner.yamlio, "write_atomic", refuse)
    target = tmp_path / "report.json"
    result = CliRunner().invoke(cli, ["estimate", SERVE, "--hardware", "dgx-h100",
                                      "--format", "json", "-o", str(target)])
    assert result.exit_code == 2
    assert result.stderr == (f"error: -o {target}: cannot write there: Permission denied; "
                             "choose a writable file path (its folder is created if missing)\n")
    assert not target.exists()


def test_a_fraction_of_a_prompt_token_is_refused() -> None:
    # Found by the 100,000-case fuzz run: input_tokens=1.0e-300 reached the GEMM shape model
    # and divided by zero (a traceback).
    result = CliRunner().invoke(cli, ["optimize", "workloads/serve_o1_pro.yaml",
                                      "--set", "input_tokens=1.0e-300"])
    assert result.exit_code == 2, result.output
    assert "input_tokens: 1e-300 tokens is less than one token" in result.stderr
