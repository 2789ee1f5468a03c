"""planner: hardware-aware capacity planning and cluster design for AI infrastructure.

The public API (imported lazily so that ``import planner`` stays fast)::

    planner.load(path)                       # a workload or scenario, validated
    planner.estimate(path, hardware)         # one workload on one system
    planner.optimize(path, fleet=None, ...)  # place workloads across a fleet (the LP)
    planner.roadmap(path, fleet=None, ...)   # what to buy, build and retire, period by period
    planner.compare(path, hardware=[...])    # side-by-side systems
    planner.sweep(study_path, ...)           # a what-if study over --set parameters
    planner.calibration()                    # the model against published measurements

Each returns a typed result with ``.to_dict()``.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["calibration", "compare", "estimate", "load", "optimize", "roadmap", "sweep"]

_HOMES = {
    "load": "planner.api",
    "estimate": "planner.api",
    "optimize": "planner.api",
    "roadmap": "planner.api",
    "calibration": "planner.api",
    "compare": "planner.comparison",
    "sweep": "planner.study",
}


def __getattr__(name: str) -> Any:
    """Import the API function on first use."""
    if name in _HOMES:
        import importlib

        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'planner' has no attribute {name!r}")
