"""The training model against published runs (planner.perf.calibrate_training).

Sources and tolerances: Llama 3 paper (arXiv 2407.21783) Table 4, 10%; Llama 3.1 model card,
3% on 6·N·D FLOPs and 10% on GPU-hours; Megatron-LM (arXiv 2104.04473) Table 1, 15%;
DeepSeek-V3 (arXiv 2412.19437) Table 1 pre-training H800-hours, 30%.
"""

from __future__ import annotations

import pytest

from planner.catalog.load import load_catalog
from planner.perf.assumptions import CalibrationCase
from planner.perf.calibrate_training import (
    MEGATRON_TABLE1,
    cases,
    deepseek_v3_run,
    mean_absolute_error,
    megatron_flops_per_iteration,
    megatron_model,
)
from planner.workload.load import load_model
from planner.workload.params import count_params

CASES = cases()


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_case_within_tolerance(case: CalibrationCase) -> None:
    assert case.within_tolerance, (
        f"{case.name}: predicted {case.predicted:.4g} vs published {case.published:.4g} "
        f"({case.error:+.1%}, tolerance {case.tolerance:.0%})")


def test_every_source_is_covered() -> None:
    names = {case.name for case in CASES}
    assert {"llama3-405b-h100-8192", "llama3-405b-h100-16384", "llama3-405b-flops-6nd",
            "llama3-405b-gpu-hours"} <= names
    assert sum(name.startswith("megatron-") for name in names) == len(MEGATRON_TABLE1) == 10
    assert "deepseek-v3-h800-gpu-hours" in names


def test_mean_absolute_error_is_small() -> None:
    # Reported, not tuned to zero: about 5.5% with the default factors (4.1% without the
    # DeepSeek-V3 case, whose -26% is the largest).
    assert mean_absolute_error(CASES) < 0.06


def test_llama3_scaling_from_8k_to_16k_gpus() -> None:
    # Table 4: 430 -> 400 TFLOPs/GPU, a ratio of 0.930; the model must show the drop.
    by_name = {case.name: case for case in CASES}
    ratio = (by_name["llama3-405b-h100-16384"].predicted
             / by_name["llama3-405b-h100-8192"].predicted)
    assert ratio == pytest.approx(400 / 430, abs=0.02)


def test_megatron_flops_formula_hand_computed() -> None:
    # 1.7B row: 96 x 512 x 2,048 x 24 x 2,304² x (1 + 2,048/13,824 + 51,200/884,736)
    # = 2.41592e9 x 5,308,416 x 1.206018 = 1.28246e16 x 1.206018 = 1.54667e16 FLOPs per
    # iteration; at the published 137 TFLOP/s on 32 GPUs that is a 3.53 s iteration.
    row = MEGATRON_TABLE1[0]
    assert megatron_flops_per_iteration(row) == pytest.approx(1.54667e16, rel=1e-4)


@pytest.mark.parametrize("row", MEGATRON_TABLE1, ids=[f"{r.billions:g}b" for r in MEGATRON_TABLE1])
def test_megatron_stand_in_models_have_the_published_size(row: object) -> None:
    # The equal-weight SwiGLU stand-in keeps the GPT parameter count within 5% of Table 1
    # (which also counts biases and position embeddings).
    model = megatron_model(row)  # type: ignore[arg-type]
    total = count_params(model.architecture).total
    assert total == pytest.approx(model.published.total_params, rel=0.05)


def test_deepseek_v3_case_uses_the_paper_layout_and_fp8() -> None:
    # Table 1: 2,664K H800-hours; §3.2: PP16, EP64 over 8 nodes, no TP; 2,048 / 16 = 128 DP.
    run = deepseek_v3_run(load_model("deepseek-v3"), load_catalog().get("hgx-h800"))
    assert (run.plan.tp, run.plan.pp, run.plan.dp, run.plan.ep) == (1, 16, 128, 64)
    # 15,360 sequences / 128 ranks = 120 microbatches of one 4,096-token sequence.
    assert run.step.tokens == 15360 * 4096
    case = {c.name: c for c in CASES}["deepseek-v3-h800-gpu-hours"]
    assert case.published == 2.664e6
    # Stated honestly: the physics leaves the model optimistic (about -26%), not fitted to 0.
    assert -0.30 < case.error < 0.0
