"""Workload-kind dispatch is exhaustive (``match`` with ``assert_never``) and fails loudly on a
kind it does not know, and the serving request rate and fleet size come from one place
(``Serve.total_requests_per_s`` / ``Serve.units_needed``)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from planner.api import load
from planner.comparison import Option, summarize_estimate


def test_a_kind_without_an_estimate_is_refused_not_run_as_another() -> None:
    # Before, any kind other than serve and posttrain was summarised as pretraining.
    with pytest.raises(ValueError, match="'scenario' is not a valid WorkloadKind"):
        summarize_estimate(Option.hardware("dgx-h100"), "scenario", {}, None, {})


def test_total_rate_and_units_needed_by_hand() -> None:
    spec = load("workloads/serve_reasoning.yaml",
                ["requests_per_second={us: 30 requests/s, eu: 10 requests/s}"]).workloads[0].spec
    assert spec.kind == "serve"
    assert spec.total_requests_per_s() == 40.0
    assert spec.units_needed(2.5) == 16.0  # 40 / 2.5
    assert math.isinf(spec.units_needed(0.0))
    plain = load("workloads/serve_reasoning.yaml",
                 ["requests_per_second=12 requests/s"]).workloads[0].spec
    assert plain.total_requests_per_s() == 12.0


def test_a_serving_estimate_is_summarised_as_serving(h100_node: dict[str, Any]) -> None:
    # 40 requests/s at 2.5 per unit: 16 units of 8 GPUs; 0.01 USD/s per unit for 1,000 s.
    from planner.catalog.schema import System

    system = System.model_validate(h100_node)
    data = {"requests_per_s_per_unit": 2.5, "unit_usd_per_s": 0.01, "bound": "memory-bandwidth"}
    facts = {"requests_per_s": 40.0, "horizon_s": 1000.0, "output_tokens": 1000.0}
    row = summarize_estimate(Option.hardware("test-h100"), "serve", data, system, facts)
    assert row["units"] == pytest.approx(16.0)
    assert row["accelerators"] == pytest.approx(128.0)
    assert row["total_cost_usd"] == pytest.approx(160.0)
    assert row["power_w"] == pytest.approx(16 * 10_200.0)
    assert row["capex_usd"] == pytest.approx(16 * 270_000.0)
    # 0.01 USD/s / 2.5 requests/s = 0.004 USD per query of 1,000 answer tokens
    assert row["cost_per_work_usd"] == pytest.approx(4.0)


def test_a_renamed_estimate_field_fails_loudly(h100_node: dict[str, Any]) -> None:
    # Before, a missing requests_per_s_per_unit read as 0 and the option became "cannot run
    # here"; now it is an error naming the field.
    from planner.catalog.schema import System

    system = System.model_validate(h100_node)
    facts = {"requests_per_s": 40.0, "horizon_s": 1000.0, "output_tokens": 1000.0}
    with pytest.raises(KeyError, match="requests_per_s_per_unit"):
        summarize_estimate(Option.hardware("test-h100"), "serve",
                           {"requests_per_s_per_units": 2.5, "unit_usd_per_s": 0.01}, system,
                           facts)
