"""Format JSON values for people, using the SI unit suffix in each key (`_s`, `_bytes`, ...)."""

from __future__ import annotations

import math
import re
from typing import Any

from planner.units import Dimension, format_quantity

__all__ = ["LABELS", "format_value", "label", "readable_number"]

_SUFFIXES: tuple[tuple[str, Dimension | str], ...] = (
    ("_usd_per_million_tokens", "usd_per_mtok"),
    ("usd_per_million_tokens", "usd_per_mtok"),
    ("usd_per_million_input_tokens", "usd_per_mtok"),
    ("usd_per_million_cached_input_tokens", "usd_per_mtok"),
    ("usd_per_million_output_tokens", "usd_per_mtok"),
    ("_bytes_per_request", Dimension.SIZE),
    ("_tokens_per_s_per_user", "tok/s"),
    ("tokens_per_s_per_user", "tok/s"),
    ("_tokens_per_s_per_unit", "tok/s"),
    ("_tokens_per_s_per_accelerator", "tok/s"),
    ("tokens_per_s_per_unit", "tok/s"),
    ("tokens_per_s_per_accelerator", "tok/s"),
    ("_tokens_per_s", "tok/s"),
    ("_bytes_per_token", Dimension.SIZE),
    ("flops_per_s", Dimension.FLOP_RATE),
    ("_bytes_per_s", Dimension.BANDWIDTH),
    ("_flops_per_s", Dimension.FLOP_RATE),
    ("_bytes", Dimension.SIZE),
    ("_flops", Dimension.FLOPS),
    ("_usd_per_s", Dimension.MONEY_RATE),
    ("_usd", Dimension.MONEY),
    ("_w", Dimension.POWER),
    ("_per_s", "/s"),
    ("_s", Dimension.DURATION),
    ("_share", Dimension.FRACTION),
    ("_fraction", Dimension.FRACTION),
    ("_utilization", Dimension.FRACTION),
    ("utilization", Dimension.FRACTION),
    ("bytes", Dimension.SIZE),
)


_PER_TAILS = ("_per_accelerator", "_per_unit", "_per_user", "_per_token", "_per_update",
              "_per_replica", "_per_sample")


# Keys whose value is a count of whole things (a batch holds whole sequences): shown rounded
# down, since a fractional batch cannot be formed.
_WHOLE = frozenset({"max_batch", "max_batch_slo", "max_batch_memory", "batch", "microbatches",
                    "microbatch"})

# Rates of a named thing: "requests_per_s" is shown as "45 requests/s", not "45 /s".
_RATE_OF = re.compile(r"^(?P<what>[a-z]+)_per_s(_per_(unit|accelerator|replica|user))?$")

# Labels for people (the unit is in the value, so it is not repeated in the label).
LABELS: dict[str, str] = {
    "kv_bytes_per_token": "KV cache per token",
    "weights_bytes": "weights",
    "max_batch": "batch (sequences per replica)",
    "max_batch_slo": "largest batch at the interactivity target",
    "max_batch_memory": "largest batch in HBM",
    "fits_memory": "fits in memory",
    "tokens_per_s_per_user": "decode speed per user",
    "tokens_per_s_per_unit": "output tokens per unit",
    "tokens_per_s_per_accelerator": "tokens per accelerator",
    "ttft_s": "time to first token",
    "usd_per_million_tokens": "cost per 1M output tokens",
    "context_tokens": "decode context (tokens)",
    "kv_reserve": "KV reserved per sequence (length)",
    "step_time_s": "step time",
    "compute_s": "compute per step",
    "memory_s": "memory traffic per step",
    "communication_s": "communication per step",
    "decode_tokens_per_s_per_unit": "decode tokens per unit",
    "prefill_tokens_per_s_per_unit": "prefill tokens per unit",
    "requests_per_s_per_unit": "requests per unit",
    "requests_per_s": "request rate",
    "vote_cost_multiplier": "cost multiplier of the votes",
    "memory_bytes_per_replica": "memory per replica",
    "kv_bytes_per_replica": "KV cache per replica",
    "memory_capacity_bytes": "HBM per replica",
    "memory_bytes_per_accelerator": "memory per accelerator",
    "unit_usd_per_s": "price per unit",
    "daily_cost_usd": "cost per day",
    "cost_usd": "cost",
    "wall_time_s": "wall time",
    "deadline_s": "deadline",
    "units_needed": "units needed",
    "accelerators_needed": "accelerators needed",
    "flops_per_s_per_accelerator": "FLOP/s per accelerator",
    "effective_flops_per_s_per_accelerator": "effective FLOP/s per accelerator",
    "model_flops_utilization": "model FLOP utilization (MFU)",
    "global_batch_tokens": "global batch (tokens)",
    "total_flops": "total FLOP",
    "generation_flops": "generation FLOP",
    "scoring_flops": "scoring FLOP",
    "update_flops": "policy-update FLOP",
    "pretraining_flops": "pretraining FLOP of the model",
    "posttrain_to_pretrain_flop_ratio": "post-training / pretraining FLOP",
    "forward_backward_flop_ratio": "forward : backward FLOP",
    "generation_time_share": "share of accelerator time generating",
    "weight_sync_bytes_per_update": "weights sent per update",
    "verifier_core_seconds": "verifier CPU core-seconds",
    "cpu_cores_needed": "CPU cores needed",
    "cpu_cores_on_units": "CPU cores on the units",
    "cpu_cores_short": "CPU cores short",
    "cpu_servers_needed": "CPU servers to add",
    "accelerator_hours": "accelerator-hours",
    "generated_tokens": "generated tokens",
}


def readable_number(number: float, digits: int, large_digits: int | None = None) -> str:
    """A figure without exponents: 2.79M, 10,660, 476.8 (``digits`` significant below 1,000,
    ``large_digits``, default ``digits``, from a million up); 999.7 at 3 digits is 1,000."""
    if abs(number) >= 1e6:
        return format_quantity(number, Dimension.COUNT, digits=large_digits or digits)
    short = f"{number:,.{digits}g}"
    return f"{number:,.0f}" if abs(number) >= 1000 or "e" in short else short


def format_value(key: str, value: Any) -> str:
    """A human string for a JSON value, with units chosen from the key's suffix."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        number = float(value)
        if not math.isfinite(number):
            return "∞" if number > 0 else ("-∞" if number < 0 else "n/a")
        if key in _WHOLE:
            return f"{math.floor(number + 1e-9):,d}"
        if (rate := _RATE_OF.match(key)) and rate.group("what") not in ("flops", "bytes",
                                                                          "usd", "tokens"):
            return f"{readable_number(number, 3)} {rate.group('what')}/s"
        base = key
        for tail in _PER_TAILS:
            if base.endswith(tail) and "tokens_per_s" not in base:
                base = base[: -len(tail)]
        for suffix, unit in _SUFFIXES:
            if base.endswith(suffix) or base == suffix:
                if isinstance(unit, Dimension):
                    return format_quantity(number, unit)
                if unit == "usd_per_mtok":
                    return f"{readable_number(number, 3)} USD/Mtok"
                return f"{readable_number(number, 4)} {unit}"
        if abs(number) >= 1e6:
            return format_quantity(number, Dimension.COUNT, digits=4)
        if isinstance(value, int) or number.is_integer() or abs(number) >= 1000:
            return f"{number:,.0f}"
        return f"{number:,.4g}"
    if isinstance(value, dict):
        return ", ".join(_pair(str(k), v, key) for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(format_value(key, v) for v in value)
    return str(value)


# Labels of keys inside an object whose meaning depends on the object: a serve estimate's
# prefill pool counts input tokens (planner/perf/serving.py, ServeEstimate.to_dict).
_NESTED_LABELS: dict[tuple[str, str], str] = {
    ("prefill", "tokens_per_s_per_unit"): "input tokens per unit",
}


def _pair(key: str, value: Any, parent: str = "") -> str:
    """'tp=8' for a bare setting; 'weights 6.44 GB' where the value carries the key's unit."""
    if (parent, key) in _NESTED_LABELS:
        return f"{_NESTED_LABELS[parent, key]} {format_value(key, value)}"
    words = label(key)
    if words != key.replace("_", " "):
        return f"{words} {format_value(key, value)}"
    return f"{key}={format_value(key, value)}"


_UNIT_TAILS = ("_bytes_per_s", "_flops_per_s", "_usd_per_s", "_bytes", "_flops", "_usd", "_w",
               "_s")


def label(key: str) -> str:
    """A label for people: the curated one (:data:`LABELS`), else the key in words without
    the unit its value already shows ('idle_power_w' -> 'idle power')."""
    if key in LABELS:
        return LABELS[key]
    words = key
    for tail in _UNIT_TAILS:
        if words.endswith(tail) and len(words) > len(tail):
            words = words[: -len(tail)]
            break
    return words.replace("_", " ")
