"""Workload-kind dispatch is exhaustive (``match`` with ``assert_never``) and fails loudly on a
kind it does not know, and the serving request rate and fleet size come from one place
(``Serve.total_requests_per_s`` / ``Serve.units_needed``)."""

from __future__ import annotations

import math

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
