"""Plan findings on hand-made plan data: forwarding is not generating, units are named."""

from __future__ import annotations

from planner.report.findings import plan_findings

TB = 1e12


def plan(flows: list[dict[str, object]]) -> dict[str, object]:
    """Site a generates and ships samples through b (which generates nothing) to c."""
    site = {"power_used_w": 1.0, "power_cap_w": 2.0, "cpu_cores_used": 10.0,
            "cpu_cores_available": 10.0, "cpu_cores_on_site": 50.0}
    return {"status": "optimal", "total_cost_usd": 1e6, "objective": {"name": "cost"},
            "systems": [{"system": "n", "cpu_cores_per_accelerator": 4.0}],
            "placements": [{"site": "a", "system": "n", "job": "j", "role": "generate",
                            "units": 3.0}],
            "sites": [{**site, "site": s} for s in ("a", "b", "c")],
            "flows": flows, "purchases": [], "bottlenecks": []}


def test_a_site_that_only_forwards_samples_is_not_said_to_ship_its_own() -> None:
    lines = plan_findings(plan([
        {"job": "j", "from": "a", "to": "b", "kind": "samples", "bytes": 10 * TB},
        {"job": "j", "from": "b", "to": "c", "kind": "samples", "bytes": 10 * TB}]))
    a = next(line for line in lines if line.startswith("a:"))
    b = next(line for line in lines if line.startswith("b:"))
    assert "ships its samples for verification: 10 TB to b" in a
    assert "generating on 3.0 units of n" in a
    assert "generates nothing, forwards samples: 10 TB to c" in b
    assert "ships its samples" not in b


def test_a_generating_relay_says_how_much_it_forwards() -> None:
    lines = plan_findings(plan([
        {"job": "j", "from": "c", "to": "a", "kind": "samples", "bytes": 4 * TB},
        {"job": "j", "from": "a", "to": "b", "kind": "samples", "bytes": 10 * TB}]))
    a = next(line for line in lines if line.startswith("a:"))
    assert "4 TB of them forwarded from other sites" in a


def test_small_limits_are_left_to_the_table_with_the_threshold_stated() -> None:
    data = plan([])
    data["bottlenecks"] = [
        {"constraint": "site_power[a]", "kind": "power", "where": "a", "shadow_price": 5.0,
         "shadow_price_unit": "USD/MW-day", "value_of_10_percent": 50_000.0},
        {"constraint": "site_cpu[b]", "kind": "cpu", "where": "b", "shadow_price": 7.8e-5,
         "shadow_price_unit": "USD/core-hour", "value_of_10_percent": 48.0}]
    lines = plan_findings(data)
    assert any("power binds at a: 10% more would be worth 50k USD" in line for line in lines)
    assert not any("site_cpu[b]" in line for line in lines)
    assert any("1 more binding limit(s)" in line and "0.1% of the plan (1k USD)" in line
               for line in lines)
