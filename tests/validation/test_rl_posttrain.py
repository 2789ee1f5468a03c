"""RL post-training: the demand arithmetic by hand, and the shares published RL systems report.

Published references (reference/measurements.md V11): rollout generation takes ~70% (Alibaba
RollPacker traces), ~80% (OpenRLHF) and >90% (long-CoT reasoning RL, APRIL) of RL step time; a
measured Qwen3-235B setup ran 64 trainer H200 against 192 generator H200 (1:3, SemiAnalysis). The
source article: post-training FLOPs can exceed pretraining's, and the forward:backward ratio is
far above pretraining's (forward FLOPs are half of backward FLOPs there, 2N vs 4N per token).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from planner.catalog.load import load_catalog
from planner.perf.rl import estimate_posttrain, posttrain_demand, tree_shape
from planner.workload.load import load_scenario

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def o1() -> object:
    return load_scenario(ROOT / "workloads" / "o1_posttrain.yaml").workloads[0]


def test_tree_of_samples() -> None:
    # 4,096 leaves of a 4-ary tree: depth 6, 4 + 16 + 64 + 256 + 1,024 + 4,096 = 5,460 nodes
    assert tree_shape(4096, 4) == (6, 5460)
    assert tree_shape(8, 1) == (1, 8)  # independent samples share nothing


def test_demand_arithmetic(o1: object) -> None:
    demand = posttrain_demand(o1.spec, dict(o1.models))
    assert demand.samples == 10e6 * 4096
    # each node generates 16,000 / 6 tokens: 10M x 5,460 x 2,666.67 = 1.456e14 unique tokens
    assert demand.generated_tokens == pytest.approx(10e6 * 5460 * 16000 / 6)
    assert demand.verifier_core_seconds == pytest.approx(4.096e10 * 30)  # 1.2288e12 core-s
    assert demand.kept_samples == pytest.approx(4.096e10 * 0.02)
    assert demand.update_tokens == pytest.approx(4.096e10 * 0.02 * 16_400)
    # r = 4 forward passes (2N each) per backward pass (4N): 8N : 4N on the update alone
    assert demand.update_forward_flops / demand.update_backward_flops == pytest.approx(2.0)
    assert demand.forward_backward_flop_ratio > 5  # far above pretraining's 0.5


@pytest.mark.parametrize("system", ["dgx-h100", "dgx-h200", "gb200-nvl72", "trn2-rainier"])
def test_generation_dominates_like_published_rl_systems(o1: object, system: str) -> None:
    result = estimate_posttrain(o1.spec, dict(o1.models), load_catalog().systems[system])
    assert 0.6 <= result.generation_time_share <= 0.95  # published 70-90%+
    trainer_share = result.units_by_role["update"] / result.units_by_role["generate"]
    assert 0.15 <= trainer_share <= 0.5  # published 64:192 = 0.33 on H200
    assert result.pretraining_flops is not None
    assert result.demand.total_flops > result.pretraining_flops  # the article's claim
