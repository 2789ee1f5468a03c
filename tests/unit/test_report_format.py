"""Report formatting: units chosen from JSON key suffixes, and the plan findings rules."""

from __future__ import annotations

import pytest

from planner.report.findings import plan_findings
from planner.report.fmt import format_value


@pytest.mark.parametrize(
    ("key", "value", "text"),
    [
        ("kv_bytes_per_token", 516_096.0, "516 kB"),
        ("weights_bytes", 405.85e9, "406 GB"),
        ("ttft_s", 0.0263, "26.3 ms"),
        ("wall_time_s", 60 * 86400.0, "60 days"),
        ("total_flops", 3.94e25, "3.94e+25 FLOP"),
        ("flops_per_s_per_accelerator", 379e12, "379 TFLOPS"),
        ("unit_usd_per_s", 39.33 / 3600, "39.3 USD/h"),
        ("cost_usd", 9.74e6, "9.74M USD"),
        ("power_used_w", 27.1e6, "27.1 MW"),
        ("requests_per_s_per_unit", 0.06349, "0.0635 requests/s"),
        ("max_batch_slo", 34.59, "34"),
        ("tokens_per_s_per_user", 30.04, "30.04 tok/s"),
        ("usd_per_million_tokens", 4.49, "4.49 USD/Mtok"),
        ("generation_time_share", 0.71, "71.0%"),
        ("utilization", 1.0, "100.0%"),
        ("site_units_share", 0.25, "25.0%"),
        ("bytes", 20.4e12, "20.4 TB"),
        ("samples", 40.96e9, "40.96B"),
        ("max_batch", 72, "72"),
        ("fits_memory", False, "no"),
        ("pretraining_flops", None, "-"),
        ("units", float("inf"), "∞"),
    ],
)
def test_format_value_uses_the_key_suffix(key: str, value: object, text: str) -> None:
    assert format_value(key, value) == text


PLAN = {
    "status": "optimal",
    "systems": [{"system": "trn2-rainier", "cpu_cores_per_accelerator": 6.0}],
    "placements": [{"site": "indiana", "system": "trn2-rainier", "job": "rl", "role": "generate",
                    "units": 100.0}],
    "flows": [{"from": "indiana", "to": "texas", "kind": "samples", "bytes": 2e13}],
    "purchases": [{"site": "riyadh", "system": "cpu-server", "units": 12.0,
                   "cost_usd": 5e4, "capex_usd": 4.2e5}],
    "sites": [{"site": "indiana", "cpu_cores_used": 9600.0, "cpu_cores_available": 9600.0},
              {"site": "texas", "cpu_cores_used": 10.0, "cpu_cores_available": 5e5}],
    "bottlenecks": [{"constraint": "site_cpu[indiana]", "kind": "cpu", "where": "indiana",
                     "shadow_price": 0.002, "shadow_price_unit": "USD/core-hour"},
                    {"constraint": "work[rl,generate]", "kind": "demand", "where": "rl/generate",
                     "shadow_price": 1e-4, "shadow_price_unit": "USD/samples"}],
}


def test_a_prefill_pool_counts_input_tokens_and_a_decode_pool_output_tokens() -> None:
    pool = {"units": 0.5, "tokens_per_s_per_unit": 64_000.0}
    assert format_value("prefill", pool) == "units=0.5, input tokens per unit 64,000 tok/s"
    assert format_value("decode", pool) == "units=0.5, output tokens per unit 64,000 tok/s"


def test_rates_and_prices_read_without_exponents() -> None:
    # 1.066e+04 tok/s and 1.62e+03 requests/s read as 10,660 and 1,620; millions take a prefix
    assert format_value("tokens_per_s_per_unit", 10_660.4) == "10,660 tok/s"
    assert format_value("requests_per_s_per_unit", 1620.2) == "1,620 requests/s"
    assert format_value("tokens_per_s_per_unit", 2_790_000.0) == "2.79M tok/s"
    assert format_value("tokens_per_s_per_unit", 476.83) == "476.8 tok/s"


def test_findings_name_the_cpu_short_site_its_shipping_and_purchases() -> None:
    lines = plan_findings(PLAN)
    assert lines[0] == ("indiana: verifier CPU cores are all in use (9,600 cores busy of 9,600 "
                        "on the units switched on); generating on 100.0 units of trn2-rainier "
                        "(6 CPU cores per accelerator); ships its samples for verification: "
                        "20 TB to texas.")
    assert any(line.startswith("buy 12.0 units of cpu-server at riyadh (420k USD capital")
               for line in lines)
    assert any(line.startswith("cpu binds at indiana") for line in lines)
    assert not any("work[rl,generate]" in line for line in lines)  # demand rows are not advice


def test_findings_say_when_nothing_binds() -> None:
    quiet = {"status": "optimal", "sites": [], "placements": [], "flows": [], "purchases": [],
             "bottlenecks": []}
    assert plan_findings(quiet) == [
        "no site, link or purchase limit binds: the work itself sets the cost, and more "
        "capacity would not lower it."]


def test_a_rate_that_rounds_up_to_a_thousand_has_no_exponent() -> None:
    # 999.7 at three significant digits is "1e+03" in Python's g format
    assert format_value("requests_per_s", 999.7) == "1,000 requests/s"
    assert format_value("requests_per_s", 12.34) == "12.3 requests/s"
