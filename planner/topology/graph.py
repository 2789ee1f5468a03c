"""The site graph: datacenters as nodes, network links as directed edges.

A link between two sites carries its bandwidth in each direction independently (full duplex), so
one input link becomes two directed edges with the same capacity, latency and price. Parallel
links between the same pair are merged: capacities add, latency and price are the lowest.

Paths minimise latency (Dijkstra over link latencies); the capacity of a path is its bottleneck,
the smallest bandwidth along it; the network bound between groups of sites is a max-flow
(Ford-Fulkerson's theorem: the largest flow equals the smallest cut), which is what
:func:`network_limit` compares a required rate against before any LP is solved.

Only this package imports networkx, and lazily, so that ``import planner`` stays fast.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["LinkLike", "NetworkCheck", "SiteGraph", "network_limit"]


class LinkLike(Protocol):
    """What the graph needs to know about one link (capacity is per direction)."""

    @property
    def a(self) -> str: ...

    @property
    def b(self) -> str: ...

    @property
    def bandwidth_bytes_per_s(self) -> float: ...

    @property
    def latency_s(self) -> float: ...

    @property
    def usd_per_byte(self) -> float: ...


@dataclass(frozen=True, slots=True)
class _Edge:
    bandwidth_bytes_per_s: float
    latency_s: float
    usd_per_byte: float


@dataclass(frozen=True)
class SiteGraph:
    """Sites (with their regions) and the directed link edges between them.

    Build it with :meth:`build`; every query is deterministic (ties broken by site id).
    """

    regions: Mapping[str, str]
    edges: Mapping[tuple[str, str], _Edge]
    _graph: Any = field(repr=False, compare=False)
    _latency: Mapping[str, Mapping[str, float]] = field(repr=False, compare=False)

    @classmethod
    def build(cls, regions: Mapping[str, str], links: Iterable[LinkLike]) -> SiteGraph:
        """Make the graph from ``{site: region}`` and undirected links (both ways each).

        Raises ``KeyError`` for a link that names an unknown site; callers validate first.
        """
        import networkx as nx

        edges: dict[tuple[str, str], _Edge] = {}
        for link in links:
            for key in ((link.a, link.b), (link.b, link.a)):
                for site in key:
                    if site not in regions:
                        raise KeyError(site)
                edges[key] = _merge(edges.get(key), link)
        graph = nx.DiGraph()
        graph.add_nodes_from(sorted(regions))
        for (a, b), edge in sorted(edges.items()):
            graph.add_edge(a, b, capacity=edge.bandwidth_bytes_per_s, latency=edge.latency_s)
        lengths = dict(nx.all_pairs_dijkstra_path_length(graph, weight="latency"))
        latency = {a: {b: float(lengths[a][b]) for b in sorted(lengths[a])}
                   for a in sorted(lengths)}
        return cls(dict(sorted(regions.items())), dict(sorted(edges.items())), graph, latency)

    @property
    def sites(self) -> tuple[str, ...]:
        """Site ids, sorted."""
        return tuple(self.regions)

    @property
    def arcs(self) -> tuple[tuple[str, str], ...]:
        """Directed edges (a, b), sorted."""
        return tuple(self.edges)

    def path(self, a: str, b: str) -> tuple[str, ...] | None:
        """The lowest-latency path from ``a`` to ``b`` (both included), or None if cut off."""
        import networkx as nx

        if a == b:
            return (a,)
        try:
            return tuple(nx.dijkstra_path(self._graph, a, b, weight="latency"))
        except nx.NetworkXNoPath:
            return None

    def latency_s(self, a: str, b: str) -> float:
        """Latency of the lowest-latency path in seconds; ``inf`` when no path exists."""
        return 0.0 if a == b else self._latency[a].get(b, math.inf)

    def region_latency_s(self, site: str, region: str) -> float:
        """Latency from a site to the nearest site of a region (0 inside the region)."""
        if self.regions[site] == region:
            return 0.0
        reach = self._latency[site]
        return min((lat for s, lat in reach.items() if self.regions[s] == region),
                   default=math.inf)

    def sites_within(self, region: str, bound_s: float) -> tuple[str, ...]:
        """Sites whose latency to ``region`` is at most ``bound_s`` (the serving catchment)."""
        return tuple(s for s in self.sites if self.region_latency_s(s, region) <= bound_s)

    def bottleneck_bytes_per_s(self, path: Iterable[str]) -> float:
        """Smallest per-direction bandwidth along a path; ``inf`` for a one-site path."""
        return min((self.edges[hop].bandwidth_bytes_per_s for hop in itertools.pairwise(path)),
                   default=math.inf)

    def max_flow_bytes_per_s(self, sources: Iterable[str], sinks: Iterable[str]) -> float:
        """Largest rate (bytes/s) the network can carry from ``sources`` to ``sinks``.

        Max-flow = min-cut over link capacities, with an uncapacitated super-source and
        super-sink. A site in both groups needs no network: the bound is ``inf``.
        """
        import networkx as nx

        src, dst = sorted(set(sources)), sorted(set(sinks))
        if not src or not dst:
            return 0.0
        if set(src) & set(dst):
            return math.inf
        graph = self._graph.copy()
        for s in src:
            graph.add_edge(_SOURCE, s)  # no capacity attribute = unbounded in networkx
        for t in dst:
            graph.add_edge(t, _SINK)
        value, _ = nx.maximum_flow(graph, _SOURCE, _SINK, capacity="capacity")
        return float(value)


_SOURCE = "\x00source"
_SINK = "\x00sink"


def _merge(old: _Edge | None, link: LinkLike) -> _Edge:
    """Combine parallel links: capacities add, latency and price take the best."""
    if old is None:
        return _Edge(link.bandwidth_bytes_per_s, link.latency_s, link.usd_per_byte)
    return _Edge(old.bandwidth_bytes_per_s + link.bandwidth_bytes_per_s,
                 min(old.latency_s, link.latency_s), min(old.usd_per_byte, link.usd_per_byte))


@dataclass(frozen=True, slots=True)
class NetworkCheck:
    """Outcome of the cheap "is the network the limit?" pre-check."""

    required_bytes_per_s: float
    max_flow_bytes_per_s: float
    sources: tuple[str, ...]
    sinks: tuple[str, ...]

    @property
    def limited(self) -> bool:
        """True when the required rate exceeds what any routing could carry."""
        return self.required_bytes_per_s > self.max_flow_bytes_per_s * (1 + 1e-9)

    @property
    def shortfall_bytes_per_s(self) -> float:
        """How much more bandwidth the cut between the groups would need (0 if none)."""
        return max(0.0, self.required_bytes_per_s - self.max_flow_bytes_per_s)


def network_limit(graph: SiteGraph, sources: Iterable[str], sinks: Iterable[str],
                  required_bytes_per_s: float) -> NetworkCheck:
    """Compare a required shipping rate (e.g. generated samples to verifier sites) with max-flow.

    A necessary condition only: if it fails no placement can work; if it passes the LP may still
    find the links too small once several jobs share them.
    """
    src, dst = tuple(sorted(set(sources))), tuple(sorted(set(sinks)))
    bound = graph.max_flow_bytes_per_s(src, dst)
    return NetworkCheck(required_bytes_per_s, bound, src, dst)
