"""CLI tests for pretraining estimates: global_batch, re-searching a layout, the step breakdown."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_run import run, run_json

ROOT = Path(__file__).resolve().parents[2]
LLAMA = ["estimate", "workloads/pretrain_llama3_405b.yaml", "--hardware", "dgx-h100"]


@pytest.fixture(autouse=True)
def _at_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)



def test_global_batch_as_sequences_and_as_tokens() -> None:
    # 1,152 sequences over DP 128 is 9 microbatches of one 8,192-token sequence.
    sequences = run_json(*LLAMA, "--set", "global_batch=1152")
    assert sequences["step"]["microbatches"] == 9
    assert sequences["global_batch_tokens"] == 1152 * 8192
    # 9.4M tokens is 1,148 sequences, which the layout rounds to 9 x 128 = 1,152.
    tokens = run_json(*LLAMA, "--set", "global_batch=9.4M tokens")
    assert tokens["step"]["microbatches"] == 9
    # the default file's 16M tokens: 1,954 sequences -> 15 microbatches per pipeline
    assert run_json(*LLAMA)["step"]["microbatches"] == 15


def test_a_smaller_batch_raises_the_bubble_share() -> None:
    small = run_json(*LLAMA, "--set", "global_batch=512")
    large = run_json(*LLAMA)
    share = {d["step"]["microbatches"]: d["step"]["pipeline_bubble_s"] / d["step"]["step_s"]
             for d in (small, large)}
    assert share[4] > share[15]


def test_bad_global_batch_is_an_input_error() -> None:
    code, _, err = run(*LLAMA, "--set", "global_batch=1.5")
    assert code == 2
    assert "global_batch" in err and "9.4M tokens" in err


def test_changed_accelerators_with_cleared_parallelism_searches_again() -> None:
    code, _, err = run(*LLAMA, "--set", "accelerators=4096")
    assert code == 2 and "--set parallelism={}" in err and "= 16,384" in err
    found = run_json(*LLAMA, "--set", "accelerators=4096", "--set", "parallelism={}")
    plan = found["parallelism"]
    assert plan["tp"] * plan["cp"] * plan["pp"] * plan["dp"] <= 4096
    assert found["accelerators"] == 4096


def test_step_breakdown_shows_hidden_and_exposed_seconds() -> None:
    step = run_json(*LLAMA)["step"]
    parts = {part["term"]: part for part in step["breakdown"]}
    assert set(parts) >= {"compute", "tp-communication", "dp-communication", "pipeline-bubble"}
    assert sum(part["exposed_s"] for part in parts.values()) == pytest.approx(step["step_s"])
    # TP8 with sequence parallelism: most of its collectives run behind the GEMMs
    assert parts["tp-communication"]["hidden_s"] > parts["tp-communication"]["exposed_s"] > 0
    assert sum(part["share_of_step"] for part in parts.values()) == pytest.approx(1.0)


def test_html_report_draws_the_step_waterfall() -> None:
    code, out, _ = run(*LLAMA, "--format", "html")
    assert code == 0
    assert "One training step of pretrain_llama3_405b" in out
    assert "hidden" in out and "pipeline-bubble" in out


def test_precision_recipes_and_aliases() -> None:
    fp8 = run_json(*LLAMA, "--set", "precision=fp8")
    tensorwise = run_json(*LLAMA, "--set", "precision=fp8-tensorwise")
    blockwise = run_json(*LLAMA, "--set", "precision=fp8-blockwise")
    assert fp8["step_time_s"] == tensorwise["step_time_s"]  # fp8 is an alias
    assert blockwise["step_time_s"] > tensorwise["step_time_s"]
    code, _, err = run(*LLAMA, "--set", "precision=nvfp4")
    assert code == 2 and "fp4" in err  # H100 has no FP4 tensor mode
