"""Every plot renders to a well-formed SVG whose text labels carry the expected numbers."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from planner.report import plots
from planner.report.html import html_page
from planner.report.model import Report

SVG_NS = "{http://www.w3.org/2000/svg}"


def texts(svg: str) -> list[str]:
    """Every <text> element's content, parsed as XML (so the SVG must be well formed)."""
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG_NS}svg"
    return ["".join(node.itertext()).strip() for node in root.iter(f"{SVG_NS}text")]


def joined(svg: str) -> str:
    return " | ".join(texts(svg))


H100 = {"name": "dgx-h100 (fp8)", "peak_flops_per_s": 1979e12,
        "memory_bandwidth_bytes_per_s": 3.35e12}
GB200 = {"name": "gb200-nvl72 (fp8)", "peak_flops_per_s": 5e15,
         "memory_bandwidth_bytes_per_s": 8e12}


def test_kv_cache_curves_reproduce_the_article_memory_chart() -> None:
    # Llama 3.1 405B, BF16 KV: 2·126·(16384/128·8)·2 = 516,096 B/token (seed_numbers claim 2).
    # Batch 32 × 38,752 tokens × 516,096 B = 6.40e11 B: the 640 GB of 8 × H100 (claim 3).
    curves = plots.kv_cache_curves(516_096, [32], [38_752.0])
    assert curves["batch 32"][0] == pytest.approx(640e9, rel=1e-3)


def test_kv_cache_plot_labels_the_hbm_limits() -> None:
    contexts = [1024.0 * i for i in range(1, 41)]
    svg = plots.kv_cache_plot(contexts, plots.kv_cache_curves(516_096, [32], contexts),
                              {"HBM 8x80 GB": 640e9, "after FP8 weights": 640e9 - 405e9})
    labels = texts(svg)
    # 640e9 B = 640 GB; 640 GB - 405 GB of FP8 weights = 235 GB (the article's figure).
    assert "HBM 8x80 GB: 640 GB" in labels
    assert "after FP8 weights: 235 GB" in labels
    assert "batch 32" in labels and "sequence length (tokens)" in labels


def test_roofline_marks_each_ridge_point_and_role() -> None:
    svg = plots.roofline_plot([H100, GB200], [
        {"label": "decode b=34", "system": H100["name"], "intensity_flops_per_byte": 55.0,
         "flops_per_s": 1.1e14},
        {"label": "update", "system": GB200["name"], "intensity_flops_per_byte": 3000.0,
         "flops_per_s": 2e15}])
    text = joined(svg)
    # Ridge = peak / bandwidth: 1979e12 / 3.35e12 = 590.7 -> 591; 5e15 / 8e12 = 625.
    assert "ridge 591 FLOP/B" in text and "ridge 625 FLOP/B" in text
    assert "decode b=34" in text and "update" in text
    assert "dgx-h100 (fp8) roof" in text


def test_interactivity_plot_marks_target_and_max_batch() -> None:
    svg = plots.interactivity_plot({"dgx-h100": ([1, 8, 72, 256], [60.0, 55.0, 30.0, 12.0])},
                                   30.0, {"dgx-h100": 72.0})
    text = joined(svg)
    assert "target 30 tokens/s/user" in text
    assert "max batch 72" in text
    assert "tokens/s per user" in text


def test_cost_breakdown_stacks_parts_and_labels_the_total() -> None:
    svg = plots.cost_breakdown_plot({"plan": {"capex": 2.1e9, "energy": 3e8, "egress": 1e7,
                                              "credit": -5.0}})
    text = joined(svg)
    # 2.1e9 + 3e8 + 1e7 = 2.41e9 -> "2.41 B" (the negative part is left out).
    assert "2.41 B" in text
    assert "capex" in text and "energy" in text and "credit" not in text


def test_placement_plot_names_sites_placements_and_flows() -> None:
    svg = plots.placement_plot(
        [{"site": "us-east", "power_used_w": 80e6, "power_cap_w": 100e6},
         {"site": "europe", "power_used_w": 0.0, "power_cap_w": 50e6}],
        [{"site": "us-east", "system": "gb200-nvl72", "job": "o1", "role": "generate",
          "units": 120.0},
         {"site": "europe", "system": "cpu", "job": "o1", "role": "verify", "units": 5000.0}],
        [{"from": "us-east", "to": "europe", "kind": "samples", "bytes": 3e14}])
    text = joined(svg)
    assert "us-east" in text and "80 of 100 MW" in text
    assert "o1/generate: 120 × gb200-nvl72" in text
    assert "o1/verify: 5k CPU cores" in text
    assert "samples 300 TB" in text  # 3e14 B = 300 TB


def test_bottleneck_plot_shows_each_shadow_price_with_its_unit() -> None:
    svg = plots.bottleneck_plot([
        {"constraint": "site_power[riyadh]", "kind": "power", "shadow_price": 905.9,
         "shadow_price_unit": "USD/MW-day"},
        {"constraint": "work[o1,train]", "kind": "demand", "shadow_price": 0.0,
         "shadow_price_unit": "USD/tokens"}])
    text = joined(svg)
    assert "site_power[riyadh]" in text and "906" in text
    assert "shadow price (USD/MW-day)" in text  # the unit labels the panel's axis
    assert "work[o1,train]" not in text  # a zero dual is not a bottleneck


def test_bottleneck_plot_gives_each_unit_its_own_panel() -> None:
    svg = plots.bottleneck_plot([
        {"constraint": "site_power[riyadh]", "kind": "power", "shadow_price": 905.9,
         "shadow_price_unit": "USD/MW-day"},
        {"constraint": "site_cpu[indiana]", "kind": "cpu", "shadow_price": 7.8e-5,
         "shadow_price_unit": "USD/core-hour"},
        {"constraint": "site_power[texas]", "kind": "power", "shadow_price": 120.0,
         "shadow_price_unit": "USD/MW-day"}])
    text = joined(svg)
    assert text.count("shadow price (USD/MW-day)") == 1
    assert text.count("shadow price (USD/core-hour)") == 1
    assert svg.count('id="axes_') == 2  # two panels, not one log axis mixing units


def test_sweep_plot_draws_one_line_per_series_and_skips_failures() -> None:
    svg = plots.sweep_plot({"dgx-h100": ([30.0, 60.0], [3e9, 2e9]),
                            "gb200-nvl72": ([30.0, 60.0], [None, 1.5e9])},  # type: ignore[list-item]
                           "deadline (days)", "total cost (USD)", "Cost against deadline")
    text = joined(svg)
    assert "Cost against deadline" in text and "deadline (days)" in text
    assert "dgx-h100" in text and "gb200-nvl72" in text
    assert "3B" in text  # compact tick label for 3e9


@pytest.mark.parametrize("svg", [
    plots.sweep_plot({}, "x", "y", "empty"),
    plots.bottleneck_plot([]),
    plots.placement_plot([], []),
    plots.cost_breakdown_plot({"plan": {}}),
], ids=["sweep", "bottlenecks", "placement", "cost"])
def test_empty_inputs_still_give_a_valid_figure(svg: str) -> None:
    assert texts(svg)  # parses, and says something (a title or "no ...")


def test_svg_is_deterministic_and_inline() -> None:
    first = plots.cost_breakdown_plot({"a": {"x": 1.0}})
    assert first == plots.cost_breakdown_plot({"a": {"x": 1.0}})
    assert first.startswith("<svg") and "<?xml" not in first


def test_estimate_figures_for_a_serving_estimate() -> None:
    data = {"system": "dgx-h100", "kv_bytes_per_token": 516_096.0,
            "weights_bytes": 405.85e9, "memory_capacity_bytes": 608e9, "max_batch": 34,
            "context_tokens": 7701.0}
    figures = plots.estimate_figures(data)
    assert len(figures) == 1
    text = joined(figures[0])
    # 608 GB - 405.85 GB = 202.15 GB -> "202 GB".
    assert "HBM after weights: 202 GB" in text and "batch 34" in text


def test_estimate_figures_skip_what_the_dict_lacks() -> None:
    assert plots.estimate_figures({"system": "x", "wall_time_s": 1.0}) == []


def test_plan_figures_cost_placement_and_bottlenecks() -> None:
    data = {"cost_breakdown_usd": {"energy": 7.5e5, "colocation": 2e6},
            "placements": [{"site": "texas", "system": "gb200-nvl72", "job": "j",
                            "role": "r", "units": 10.0}],
            "sites": [{"site": "texas", "power_used_w": 1e6, "power_cap_w": 6e7}],
            "flows": [],
            "bottlenecks": [{"constraint": "site_power[texas]", "kind": "power",
                             "shadow_price": 10.0, "shadow_price_unit": "USD/MW-day"}]}
    figures = plots.plan_figures(data)
    assert len(figures) == 3
    assert "2.75 M" in joined(figures[0])  # 7.5e5 + 2e6 = 2.75e6
    assert "texas" in joined(figures[1])
    assert "site_power[texas]" in joined(figures[2])


def test_comparison_and_sweep_figures_from_result_dicts() -> None:
    comparison = {"options": [
        {"option": "a", "status": "ok", "total_cost_usd": 2e6,
         "roles": [{"role": "generate", "units": 3.0}, {"role": "update", "units": 1.0}]},
        {"option": "b", "status": "error"}],
        "figures": {"roofline": {"systems": [H100], "points": []}}}
    figures = plots.comparison_figures(comparison)
    assert len(figures) == 3  # total cost, units per role, roofline
    assert "2 M" in joined(figures[0]) and "generate" in joined(figures[1])
    sweep = {"plots": [{"title": "T", "x_label": "x", "y_label": "y", "series":
                        {"s": [[1.0, 2.0], [3.0, 4.0]]}, "connect": False}]}
    (figure,) = plots.sweep_figures(sweep)
    assert "T" in texts(figure)


def test_html_page_embeds_figures_without_network() -> None:
    page = html_page(Report("t", (), {}, (plots.cost_breakdown_plot({"a": {"x": 1.0}}),)))
    assert page.count("<svg") == 1
    assert "<script" not in page and "src=" not in page and "<link" not in page
