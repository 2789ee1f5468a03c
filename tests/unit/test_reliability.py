"""Goodput model: failure rate from the Llama 3 counts, Young/Daly interval, wasted fraction."""

from __future__ import annotations

import math

import pytest

from planner.perf import reliability
from planner.perf.assumptions import Assumption

LLAMA3_PARAMS = 405_853_388_800


def test_failure_rate_from_llama3_counts() -> None:
    # 419 / (16,384 GPUs x 54 days x 24 h) = 419 / 21,233,664 = 1.9733e-5 per GPU-hour,
    # one interruption per 50,677 GPU-hours.
    rate = reliability.DEFAULTS["failures_per_accelerator_hour"].value
    assert rate == pytest.approx(419 / 21_233_664, rel=1e-12)
    assert 1 / rate == pytest.approx(50_677, rel=1e-4)


def test_job_mtbf_of_the_llama3_job() -> None:
    # 16,384 GPUs fail together 419 times in 54 days: every 54 x 86,400 / 419 = 11,135.1 s.
    rate = reliability.DEFAULTS["failures_per_accelerator_hour"].value
    assert reliability.job_mtbf_s(16_384, rate) == pytest.approx(54 * 86_400 / 419, rel=1e-12)
    assert reliability.job_mtbf_s(16_384, 0.0) == math.inf


def test_young_daly_interval_hand_computed() -> None:
    # sqrt(2 x 50 s x 10,000 s) = sqrt(1e6) = 1,000 s.
    assert reliability.young_daly_interval_s(10_000.0, 50.0) == pytest.approx(1_000.0)


def test_wasted_fraction_hand_computed() -> None:
    # delta/tau + (tau/2 + R)/M = 50/1,000 + (500 + 600)/10,000 = 0.05 + 0.11 = 0.16.
    assert reliability.wasted_fraction(10_000.0, 50.0, 600.0, 1_000.0) == pytest.approx(0.16)


def test_waste_is_capped_at_one() -> None:
    # (5,000/2 + 10,000)/1,000 > 1: the job never finishes a segment.
    assert reliability.wasted_fraction(1_000.0, 10.0, 10_000.0, 5_000.0) == 1.0


@pytest.mark.parametrize("factor", [0.5, 0.8, 1.25, 2.0])
def test_young_interval_minimises_waste(factor: float) -> None:
    mtbf, delta, restart = 11_135.0, 2.84, 600.0
    best = reliability.young_daly_interval_s(mtbf, delta)
    at_best = reliability.wasted_fraction(mtbf, delta, restart, best)
    assert at_best < reliability.wasted_fraction(mtbf, delta, restart, best * factor)


def test_checkpoint_time_of_llama3() -> None:
    # 405.85e9 params x 14 B = 5.682 TB over 2 TB/s (Tectonic, sustained) = 2.841 s.
    per_acc = reliability.DEFAULTS["checkpoint_bytes_per_s_per_accelerator"].value
    delta = reliability.checkpoint_time_s(LLAMA3_PARAMS, 16_384, per_acc)
    assert delta == pytest.approx(LLAMA3_PARAMS * 14 / 2e12, rel=1e-12)
    assert delta == pytest.approx(2.841, abs=1e-3)


def test_goodput_of_llama3_job_is_above_ninety_percent() -> None:
    # M = 11,135.1 s, delta = 2.841 s, tau = sqrt(2 x 2.841 x 11,135.1) = 251.5 s;
    # waste = 2.841/251.5 + (125.8 + 600)/11,135.1 = 0.0113 + 0.0652 = 0.0765, goodput 0.9235.
    # The Llama 3 paper reports effective training time above 90%.
    result = reliability.estimate_goodput(LLAMA3_PARAMS, 16_384)
    assert result.mtbf_s == pytest.approx(11_135.1, rel=1e-4)
    assert result.checkpoint_interval_s == pytest.approx(251.5, rel=1e-3)
    assert result.wasted_fraction == pytest.approx(0.0765, abs=5e-4)
    assert 0.90 < result.goodput < 0.93


def test_goodput_falls_with_job_size() -> None:
    small = reliability.estimate_goodput(LLAMA3_PARAMS, 2_048).goodput
    large = reliability.estimate_goodput(LLAMA3_PARAMS, 65_536).goodput
    assert small > large


def test_overrides_change_the_restart_cost() -> None:
    # Restart 0 s: waste = delta/tau + tau/(2M) = 2.841/251.5 + 125.8/11,135.1 = 0.0226.
    fast = {"restart_s": Assumption("restart_s", 0.0, "test")}
    result = reliability.estimate_goodput(LLAMA3_PARAMS, 16_384, fast)
    assert result.wasted_fraction == pytest.approx(0.0226, abs=2e-4)


def test_to_dict_keys_carry_units() -> None:
    keys = reliability.estimate_goodput(8e9, 64).to_dict().keys()
    assert {"mtbf_s", "checkpoint_s", "checkpoint_interval_s", "restart_s", "goodput"} <= keys
