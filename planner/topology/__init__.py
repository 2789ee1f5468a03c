"""The site graph: paths, latencies, bottleneck bandwidth and max-flow bounds between sites."""

from planner.topology.graph import LinkLike, NetworkCheck, SiteGraph, network_limit

__all__ = ["LinkLike", "NetworkCheck", "SiteGraph", "network_limit"]
