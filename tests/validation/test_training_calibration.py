"""The training model against published runs (planner.perf.calibrate_training).

Fit set (informs ``training_matmul`` and the MXFP8/NVFP4 recipe figures): Llama 3 paper (arXiv
2407.21783) Table 4 and model card; Megatron-LM (arXiv 2104.04473) Table 1; Megatron-Core
r0.8.0 weak scaling; Llama 3 8B and 70B on B200/GB200 in FP8, MXFP8 and NVFP4; Llama 3 8B on
GB300 at the GB200 layouts (the GB300 sustained factor of gemm_ceilings.yaml). Check set
(informs nothing): Megatron-Bridge tables on H100, B200, GB200 and GB300 in FP8, MXFP8 and
NVFP4, the 177B strong-scaling curve, and DeepSeek-V3's pre-training H800-hours (arXiv
2412.19437 Table 1).
"""

from __future__ import annotations

import pytest

from planner.catalog.load import load_catalog
from planner.perf.assumptions import CalibrationCase
from planner.perf.calibrate_training import (
    MEGATRON_TABLE1,
    CaseSet,
    Group,
    case_group,
    case_set,
    cases,
    core_flops_per_iteration,
    deepseek_v3_run,
    megatron_flops_per_iteration,
    megatron_model,
    set_errors,
)
from planner.perf.training_cases import BRIDGE_ROWS, STRONG_SCALING_177B
from planner.workload.load import load_model
from planner.workload.params import count_params

CASES = cases()
BY_NAME = {case.name: case for case in CASES}


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_case_within_tolerance(case: CalibrationCase) -> None:
    assert case.within_tolerance, (
        f"{case.name}: predicted {case.predicted:.4g} vs published {case.published:.4g} "
        f"({case.error:+.1%}, tolerance {case.tolerance:.0%})")


def test_fit_and_check_sets_cover_the_issue() -> None:
    check = [c for c in CASES if case_set(c) is CaseSet.CHECK]
    groups = {case_group(c) for c in check}
    assert {Group.HOPPER_FP8, Group.BLACKWELL_FP8, Group.BLACKWELL_FP4} <= groups
    # at least 15 new published points, two MoE runs, a strong-scaling curve of 4+ points
    assert len(BRIDGE_ROWS) + len(STRONG_SCALING_177B) >= 15
    assert sum("deepseek-v3" in c.name for c in check) >= 2
    assert len(STRONG_SCALING_177B) >= 4
    assert sum(name.startswith("fit:ampere-bf16:megatron-") for name in BY_NAME) == 10


def test_check_set_errors_by_group() -> None:
    # The issue's bar per group of the check set: mean absolute error within 10%, no case
    # beyond 20% (Hopper FP8 7.0% / 13.0%, Blackwell FP8 3.1% / 5.7%, Blackwell FP4 7.0% /
    # 9.5%); the fit set no worse than the 5.6% it stood at before the memory-bound kernels.
    errors = set_errors(CASES)
    for group in ("check hopper-fp8", "check blackwell-fp8", "check blackwell-fp4"):
        _, mean, worst = errors[group]
        assert mean < 0.10, group
        assert worst < 0.20, group
    assert errors["check hopper-bf16"][1] < 0.05
    assert errors["fit"][1] < 0.056


def test_original_cases_no_worse() -> None:
    # The 16 cases the model was first calibrated on (Llama 3 405B paper and card, Megatron-LM
    # Table 1, DeepSeek-V3 H800-hours) stood at 5.5% mean absolute error; now 4.6%.
    original = [c for c in CASES if c.name.startswith(("fit:hopper-bf16:llama3-405b",
                                                       "fit:ampere-bf16:megatron-"))]
    original.append(BY_NAME["check:hopper-fp8:deepseek-v3-h800-gpu-hours"])
    assert len(original) == 16
    assert sum(abs(c.error) for c in original) / len(original) < 0.055


def test_strong_scaling_loss_matches_the_published_curve() -> None:
    # Megatron-Core: MFU 47% on 96 H100 -> 42% on 4,608 at batch 1,152: a 10.6% loss.
    small = BY_NAME["check:hopper-bf16:strong-gpt-177b-h100-96"]
    large = BY_NAME["check:hopper-bf16:strong-gpt-177b-h100-4608"]
    published = 1 - large.published / small.published
    predicted = 1 - large.predicted / small.predicted
    assert published == pytest.approx(0.1064, abs=1e-3)
    assert abs(predicted - published) < 0.05


def test_llama3_scaling_from_8k_to_16k_gpus() -> None:
    # Table 4: 430 -> 400 TFLOPs/GPU, a ratio of 0.930; the model must show the drop.
    ratio = (BY_NAME["fit:hopper-bf16:llama3-405b-h100-16384"].predicted
             / BY_NAME["fit:hopper-bf16:llama3-405b-h100-8192"].predicted)
    assert ratio == pytest.approx(400 / 430, abs=0.02)


def test_megatron_flops_formula_hand_computed() -> None:
    # 1.7B row: 96 x 512 x 2,048 x 24 x 2,304² x (1 + 2,048/13,824 + 51,200/884,736)
    # = 2.41592e9 x 5,308,416 x 1.206018 = 1.28246e16 x 1.206018 = 1.54667e16 FLOPs per
    # iteration; at the published 137 TFLOP/s on 32 GPUs that is a 3.53 s iteration.
    row = MEGATRON_TABLE1[0]
    assert megatron_flops_per_iteration(row) == pytest.approx(1.54667e16, rel=1e-4)


def test_core_flops_formula_hand_computed() -> None:
    # 177B at batch 1,152: 72 x 1,152 x 4,096 x 96 x 12,288² x (1 + 4,096/73,728
    # + 131,072/14,155,776) = 4.9197e18 x 1.064815 = 5.2386e18 FLOPs per iteration.
    flops = core_flops_per_iteration(96, 12288, 1152, 131072, 4096)
    assert flops == pytest.approx(72 * 1152 * 4096 * 96 * 12288**2 * 1.0648148, rel=1e-5)


@pytest.mark.parametrize("row", MEGATRON_TABLE1, ids=[f"{r.billions:g}b" for r in MEGATRON_TABLE1])
def test_megatron_stand_in_models_have_the_published_size(row: object) -> None:
    # The equal-weight SwiGLU stand-in keeps the GPT parameter count within 5% of Table 1
    # (which also counts biases and position embeddings).
    model = megatron_model(row)  # type: ignore[arg-type]
    total = count_params(model.architecture).total
    assert total == pytest.approx(model.published.total_params, rel=0.05)


def test_deepseek_v3_case_uses_the_paper_layout_and_recipe() -> None:
    # Table 1: 2,664K H800-hours; §3.2: PP16, EP64 over 8 nodes, no TP, DualPipe; FP8 with
    # 1x128/128x128 scaling (§3.3); one MTP module (§2.2).
    run = deepseek_v3_run(load_model("deepseek-v3"), load_catalog().get("hgx-h800"))
    assert (run.plan.tp, run.plan.pp, run.plan.dp, run.plan.ep) == (1, 16, 128, 64)
    assert run.plan.schedule.value == "dualpipe"
    # 15,360 sequences / 128 ranks = 120 microbatches of one 4,096-token sequence.
    assert run.step.tokens == 15360 * 4096
    case = BY_NAME["check:hopper-fp8:deepseek-v3-h800-gpu-hours"]
    assert case.published == 2.664e6
    assert abs(case.error) < 0.15  # the issue's bar
