"""Format JSON values for people, using the SI unit suffix in each key (`_s`, `_bytes`, ...)."""

from __future__ import annotations

import math
from typing import Any

from planner.units import Dimension, format_quantity

__all__ = ["format_value", "label"]

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
        base = key
        for tail in _PER_TAILS:
            if base.endswith(tail) and "tokens_per_s" not in base:
                base = base[: -len(tail)]
        for suffix, unit in _SUFFIXES:
            if base.endswith(suffix) or base == suffix:
                if isinstance(unit, Dimension):
                    return format_quantity(number, unit)
                if unit == "usd_per_mtok":
                    return f"{number:,.3g} USD/Mtok"
                return f"{number:,.4g} {unit}"
        if abs(number) >= 1e6:
            return format_quantity(number, Dimension.COUNT, digits=4)
        if isinstance(value, int) or number.is_integer() or abs(number) >= 1000:
            return f"{number:,.0f}"
        return f"{number:,.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{k}={format_value(k, v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(format_value(key, v) for v in value)
    return str(value)


def label(key: str) -> str:
    """'tokens_per_s_per_user' -> 'tokens per s per user'."""
    return key.replace("_", " ")
