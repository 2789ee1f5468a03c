"""The site graph: lowest-latency paths, bottlenecks, catchments and max-flow bounds.

Test network (bandwidth per direction, latency):

    a --(100 B/s, 10 ms)-- b --(50 B/s, 10 ms)-- c
    a ---------(20 B/s, 50 ms)------------------ c         d (no links)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest

from planner.topology import SiteGraph, network_limit


@dataclass(frozen=True)
class Link:
    a: str
    b: str
    bandwidth_bytes_per_s: float
    latency_s: float
    usd_per_byte: float = 0.0


REGIONS = {"a": "us", "b": "us", "c": "eu", "d": "asia"}
LINKS = (Link("a", "b", 100.0, 0.010), Link("b", "c", 50.0, 0.010), Link("a", "c", 20.0, 0.050))


@pytest.fixture(scope="module")
def graph() -> SiteGraph:
    return SiteGraph.build(REGIONS, LINKS)


@pytest.mark.parametrize(("a", "b", "path", "latency"), [
    ("a", "c", ("a", "b", "c"), 0.020),  # 10 + 10 ms beats the direct 50 ms link
    ("c", "a", ("c", "b", "a"), 0.020),  # links carry both directions
    ("a", "a", ("a",), 0.0),
    ("a", "d", None, math.inf),  # d is cut off
], ids=["two-hops", "reverse", "same-site", "unreachable"])
def test_lowest_latency_path(graph: SiteGraph, a: str, b: str, path: tuple[str, ...] | None,
                             latency: float) -> None:
    assert graph.path(a, b) == path
    assert graph.latency_s(a, b) == pytest.approx(latency)


def test_bottleneck_is_the_narrowest_hop(graph: SiteGraph) -> None:
    # a -> b (100) -> c (50): 50 B/s; a single site has no network bottleneck
    assert graph.bottleneck_bytes_per_s(("a", "b", "c")) == 50.0
    assert graph.bottleneck_bytes_per_s(("a",)) == math.inf


def test_max_flow_is_the_min_cut(graph: SiteGraph) -> None:
    # into c: b -> c (50) + a -> c (20) = 70 B/s; from a alone the cut {a->b, a->c} is 120 but
    # b -> c limits the b path to 50: 50 + 20 = 70
    assert graph.max_flow_bytes_per_s(["a"], ["c"]) == pytest.approx(70.0)
    # a and b together towards c: same cut, 70
    assert graph.max_flow_bytes_per_s(["a", "b"], ["c"]) == pytest.approx(70.0)
    # c to {a, b}: the cut out of c is 50 + 20 = 70
    assert graph.max_flow_bytes_per_s(["c"], ["a", "b"]) == pytest.approx(70.0)
    assert graph.max_flow_bytes_per_s(["a"], ["d"]) == 0.0
    assert graph.max_flow_bytes_per_s(["a"], ["a"]) == math.inf


def test_regions_and_latency_catchments(graph: SiteGraph) -> None:
    # latency to the nearest site of a region; 0 inside it
    assert graph.region_latency_s("a", "us") == 0.0
    assert graph.region_latency_s("c", "us") == pytest.approx(0.010)  # c -> b
    assert graph.region_latency_s("d", "us") == math.inf
    assert graph.sites_within("eu", 0.015) == ("b", "c")
    assert graph.sites_within("eu", 0.025) == ("a", "b", "c")
    assert graph.sites_within("asia", 1.0) == ("d",)


def test_parallel_links_add_capacity_and_keep_the_best_latency() -> None:
    g = SiteGraph.build({"x": "r", "y": "r"}, (Link("x", "y", 10.0, 0.03, 2e-11),
                                               Link("y", "x", 5.0, 0.02, 1e-11)))
    assert g.edges[("x", "y")].bandwidth_bytes_per_s == 15.0
    assert g.latency_s("x", "y") == pytest.approx(0.02)
    assert g.edges[("y", "x")].usd_per_byte == 1e-11
    assert g.arcs == (("x", "y"), ("y", "x"))


def test_link_to_an_unknown_site_is_rejected() -> None:
    with pytest.raises(KeyError):
        SiteGraph.build({"x": "r"}, (Link("x", "nowhere", 1.0, 0.01),))


def test_network_limit_precheck(graph: SiteGraph) -> None:
    # shipping 100 B/s from a to c cannot work: the max-flow is 70, 30 short
    check = network_limit(graph, ["a"], ["c"], 100.0)
    assert check.limited and check.shortfall_bytes_per_s == pytest.approx(30.0)
    assert check.sources == ("a",) and check.sinks == ("c",)
    assert not network_limit(graph, ["a"], ["c"], 70.0).limited
