"""Estimates that cannot be met: exit 3 with the cause instead of infinite units and cost.

`planner estimate` on a pretraining run that fits nowhere already raises
:class:`~planner.errors.InfeasibleError` (:mod:`planner.perf.training`); a serving or
post-training estimate used to print infinite units, accelerators and cost and exit 0. This
module reads the finished estimate (the dictionaries of :mod:`planner.perf.serving` and
:mod:`planner.perf.rl`) and names what is short, so that every kind exits 3 the same way.
"""

from __future__ import annotations

import math
from typing import Any

from planner.errors import InfeasibleError
from planner.units import Dimension, format_quantity
from planner.workload.schema import LatencyTarget

__all__ = ["NO_RATE_INTERACTIVITY", "NO_RATE_MEMORY", "NO_RATE_TTFT", "estimate_shortfall",
           "no_rate_bound", "serving_cause"]


def _infinite(value: Any) -> bool:
    try:
        return math.isinf(float(value))
    except (TypeError, ValueError):
        return False


def _tokens_per_s(rate: float) -> str:
    return f"{rate:,.0f} tokens/s" if rate >= 1 else f"{rate:.3g} tokens/s"


def serving_cause(values: dict[str, Any], interactivity: float,
                  ttft: LatencyTarget | None = None) -> str:
    """Why a serving estimate has no throughput: memory, the time-to-first-token limit, or the
    interactivity target."""
    system = values.get("system", "the system")
    model = values.get("model", "the model")
    if ttft is not None and _ttft_unmet(values):
        alone = format_quantity(float(values.get("ttft_s") or math.inf), Dimension.DURATION)
        limit = format_quantity(ttft.seconds, Dimension.DURATION)
        return (f"no request rate meets the {ttft.name} time to first token of {limit} on "
                f"{system}: a prompt takes {alone} to its first token with no queue at all "
                "(one pool prefills a prompt longer than efficiency.prefill_batch_tokens over "
                "several steps); raise ttft, raise efficiency.prefill_batch_tokens, try "
                "disaggregated: true or use a faster system")
    if _prefill_pool_holds_nothing(values):
        prefill = values["prefill"]
        layout = ", ".join(f"{k}={v}" for k, v in (prefill.get("parallelism") or {}).items())
        return (f"the prefill pool's layout ({layout}) cannot hold {model} with one prompt's KV "
                f"cache on {system}; pin a wider layout.prefill (more ep or tp ranks) or leave "
                "it to the layout search")
    if float(values.get("max_batch_memory") or 0.0) < 1.0:
        need = float(values.get("memory_bytes_per_replica") or 0.0)
        have = float(values.get("memory_capacity_bytes") or 0.0)
        return (f"{model} with one request's KV cache does not fit in memory on {system} "
                f"(weights alone {format_quantity(need, Dimension.SIZE)}, HBM "
                f"{format_quantity(have, Dimension.SIZE)} per replica); use a system with more "
                "memory or a lower weights_precision")
    rate = _tokens_per_s(interactivity)
    return (f"no batch of {model} on {system} decodes at {rate} per stream, even alone "
            "(the model fits in memory); lower interactivity or use a faster system")


# What a serving estimate with no throughput is bound by (the LP's diagnosis reads these).
NO_RATE_MEMORY = "memory-capacity"
NO_RATE_INTERACTIVITY = "interactivity"
NO_RATE_TTFT = "ttft"


def _ttft_unmet(values: dict[str, Any]) -> bool:
    """Decoding works but no load meets the TTFT limit (the queue's operating load is 0)."""
    return float(values.get("decode_tokens_per_s_per_unit") or 0.0) > 0.0 \
        and float(values.get("load", 1.0) or 0.0) <= 0.0


def _prefill_pool_holds_nothing(values: dict[str, Any]) -> bool:
    """A disaggregated estimate whose prefill pool (its pinned layout) fits no prompt."""
    prefill = values.get("prefill")
    return bool(values.get("disaggregated")) and isinstance(prefill, dict) \
        and float(prefill.get("tokens_per_s_per_unit") or 0.0) <= 0.0


def no_rate_bound(values: dict[str, Any]) -> str:
    """The bound to record for a system that gets no serving throughput."""
    short_of_memory = _prefill_pool_holds_nothing(values) \
        or float(values.get("max_batch_memory") or 0.0) < 1.0
    if short_of_memory:
        return NO_RATE_MEMORY
    return NO_RATE_TTFT if _ttft_unmet(values) else NO_RATE_INTERACTIVITY


def estimate_shortfall(kind: str, values: dict[str, Any], spec: Any) -> InfeasibleError | None:
    """The error to raise for an estimate that needs infinitely many units, else None."""
    system = values.get("system", "the system")
    if kind == "serve" and _infinite(values.get("units_needed")):
        return InfeasibleError(f"the workload cannot be served on {system}",
                               [serving_cause(values, float(spec.interactivity),
                                              spec.ttft_target())])
    if kind == "posttrain" and _infinite(values.get("units")):
        rate = _tokens_per_s(float(spec.generator.interactivity))
        lines = [f"role {role['role']} ({role.get('model', '?')}) gets no throughput on "
                 f"{system}: not one stream fits in memory at {rate} per stream; use a system "
                 "with more memory, a smaller model or a lower generator.interactivity"
                 if role["role"] == "generate" else
                 f"role {role['role']} ({role.get('model', '?')}) gets no throughput on "
                 f"{system}: it does not fit in memory; use a system with more memory"
                 for role in values.get("roles", [])
                 if _infinite(role.get("units_needed"))]
        return InfeasibleError(f"the workload cannot run on {system}",
                               lines or ["a role needs infinitely many units"])
    return None
