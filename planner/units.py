"""Quantities with units: parse human strings ("3.35 TB/s", "60 USD/MWh") into SI floats, and back.

Every dimensional value in YAML or on the command line passes through :func:`parse_quantity`;
inside the package all values are plain floats in SI base units (bytes, FLOP, seconds, watts,
USD). Decimal prefixes (k, M, G, T, P, E) are powers of 1000; binary prefixes (Ki, Mi, Gi, Ti,
Pi) are powers of 1024. Lower-case ``b``/``bit`` is a bit (1/8 byte); ``B`` is a byte.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "BYTES_PER_BIT",
    "JOULES_PER_KWH",
    "SECONDS_PER_DAY",
    "SECONDS_PER_HOUR",
    "SECONDS_PER_YEAR",
    "Dimension",
    "UnitError",
    "bits_to_bytes",
    "days",
    "format_quantity",
    "hours",
    "parse_dimensionless",
    "parse_quantity",
]

BYTES_PER_BIT = 0.125
SECONDS_PER_MINUTE = 60.0
SECONDS_PER_HOUR = 3600.0
SECONDS_PER_DAY = 86400.0
SECONDS_PER_YEAR = 365.0 * SECONDS_PER_DAY  # calendar year; finance conventions use 365 days
SECONDS_PER_MONTH = SECONDS_PER_YEAR / 12.0
JOULES_PER_KWH = 3.6e6


def bits_to_bytes(bits: float) -> float:
    """Convert a bit count (or bit rate) to bytes (or byte rate)."""
    return bits * BYTES_PER_BIT


def hours(seconds: float) -> float:
    """Seconds to hours."""
    return seconds / SECONDS_PER_HOUR


def days(seconds: float) -> float:
    """Seconds to days."""
    return seconds / SECONDS_PER_DAY


# A dimension is a vector of exponents over the base quantities below.
_BASES = ("byte", "flop", "s", "W", "USD")
_Vec = tuple[int, int, int, int, int]


def _vec(byte: int = 0, flop: int = 0, s: int = 0, w: int = 0, usd: int = 0) -> _Vec:
    return (byte, flop, s, w, usd)


class Dimension(StrEnum):
    """The physical kinds of quantity a field may hold; the value is a human-readable name."""

    COUNT = "count"
    FRACTION = "fraction"
    SIZE = "size"
    BANDWIDTH = "bandwidth"
    FLOPS = "compute"
    FLOP_RATE = "compute rate"
    POWER = "power"
    ENERGY = "energy"
    DURATION = "duration"
    RATE = "rate"
    MONEY = "money"
    MONEY_RATE = "price per time"
    ENERGY_PRICE = "energy price"
    BYTE_PRICE = "price per byte"
    POWER_PRICE = "price per power and time"
    BUILD_PRICE = "price per power"


_DIM_VEC: dict[Dimension, _Vec] = {
    Dimension.COUNT: _vec(),
    Dimension.FRACTION: _vec(),
    Dimension.SIZE: _vec(byte=1),
    Dimension.BANDWIDTH: _vec(byte=1, s=-1),
    Dimension.FLOPS: _vec(flop=1),
    Dimension.FLOP_RATE: _vec(flop=1, s=-1),
    Dimension.POWER: _vec(w=1),
    Dimension.ENERGY: _vec(w=1, s=1),
    Dimension.DURATION: _vec(s=1),
    Dimension.RATE: _vec(s=-1),
    Dimension.MONEY: _vec(usd=1),
    Dimension.MONEY_RATE: _vec(usd=1, s=-1),
    Dimension.ENERGY_PRICE: _vec(usd=1, w=-1, s=-1),
    Dimension.BYTE_PRICE: _vec(usd=1, byte=-1),
    Dimension.POWER_PRICE: _vec(usd=1, w=-1, s=-1),
    Dimension.BUILD_PRICE: _vec(usd=1, w=-1),
}

# The unit a bare number most plausibly meant, for the hint "write it with a unit, e.g. '5 s'":
# the user's own number with the dimension's everyday unit reads as their field, where a fixed
# example ('30 days' for a verifier's CPU seconds) would not.
_BARE_UNIT: dict[Dimension, str] = {
    Dimension.SIZE: "GB", Dimension.BANDWIDTH: "GB/s", Dimension.FLOPS: "FLOP",
    Dimension.FLOP_RATE: "TFLOPS", Dimension.POWER: "kW", Dimension.ENERGY: "MWh",
    Dimension.DURATION: "s", Dimension.RATE: "/s", Dimension.MONEY: "USD",
    Dimension.MONEY_RATE: "USD/h", Dimension.ENERGY_PRICE: "USD/MWh",
    Dimension.BYTE_PRICE: "USD/GB", Dimension.POWER_PRICE: "USD/kW/month",
    Dimension.BUILD_PRICE: "USD/MW",
}


def _with_unit(number: object, expected: Dimension) -> str:
    """"write it with a unit, e.g. '5 s' (or '30 days')": the user's number, then an example."""
    unit = _BARE_UNIT.get(expected)
    if unit is None:
        return f"write it with a unit, e.g. '{_EXAMPLES[expected]}'"
    spaced = "" if unit.startswith("/") else " "
    return f"write it with a unit, e.g. '{number}{spaced}{unit}' or '{_EXAMPLES[expected]}'"


_EXAMPLES: dict[Dimension, str] = {
    Dimension.COUNT: "10M",
    Dimension.FRACTION: "0.5",
    Dimension.SIZE: "80 GB",
    Dimension.BANDWIDTH: "3.35 TB/s",
    Dimension.FLOPS: "3.8e25 FLOP",
    Dimension.FLOP_RATE: "989 TFLOPS",
    Dimension.POWER: "10.2 kW",
    Dimension.ENERGY: "1 MWh",
    Dimension.DURATION: "30 days",
    Dimension.RATE: "30 tokens/s",
    Dimension.MONEY: "270k USD",
    Dimension.MONEY_RATE: "98.32 USD/h",
    Dimension.ENERGY_PRICE: "60 USD/MWh",
    Dimension.BYTE_PRICE: "0.02 USD/GB",
    Dimension.POWER_PRICE: "150 USD/kW/month",
    Dimension.BUILD_PRICE: "11M USD/MW",
}


@dataclass(frozen=True, slots=True)
class _Unit:
    scale: float
    vec: _Vec
    prefixable: bool


# Base unit symbols (without prefix). Nouns such as "tokens" are dimensionless labels.
_UNITS: dict[str, _Unit] = {
    "B": _Unit(1.0, _vec(byte=1), True),
    "byte": _Unit(1.0, _vec(byte=1), False),
    "bytes": _Unit(1.0, _vec(byte=1), False),
    "b": _Unit(BYTES_PER_BIT, _vec(byte=1), True),
    "bit": _Unit(BYTES_PER_BIT, _vec(byte=1), True),
    "bits": _Unit(BYTES_PER_BIT, _vec(byte=1), True),
    "bps": _Unit(BYTES_PER_BIT, _vec(byte=1, s=-1), True),
    "FLOP": _Unit(1.0, _vec(flop=1), True),
    "FLOPs": _Unit(1.0, _vec(flop=1), True),
    "flop": _Unit(1.0, _vec(flop=1), False),
    "FLOPS": _Unit(1.0, _vec(flop=1, s=-1), True),
    "W": _Unit(1.0, _vec(w=1), True),
    "Wh": _Unit(SECONDS_PER_HOUR, _vec(w=1, s=1), True),
    "J": _Unit(1.0, _vec(w=1, s=1), True),
    "USD": _Unit(1.0, _vec(usd=1), False),
    "$": _Unit(1.0, _vec(usd=1), False),
    "s": _Unit(1.0, _vec(s=1), False),
    "sec": _Unit(1.0, _vec(s=1), False),
    "second": _Unit(1.0, _vec(s=1), False),
    "seconds": _Unit(1.0, _vec(s=1), False),
    "ms": _Unit(1e-3, _vec(s=1), False),
    "us": _Unit(1e-6, _vec(s=1), False),
    "µs": _Unit(1e-6, _vec(s=1), False),
    "ns": _Unit(1e-9, _vec(s=1), False),
    "min": _Unit(SECONDS_PER_MINUTE, _vec(s=1), False),
    "minute": _Unit(SECONDS_PER_MINUTE, _vec(s=1), False),
    "minutes": _Unit(SECONDS_PER_MINUTE, _vec(s=1), False),
    "h": _Unit(SECONDS_PER_HOUR, _vec(s=1), False),
    "hr": _Unit(SECONDS_PER_HOUR, _vec(s=1), False),
    "hour": _Unit(SECONDS_PER_HOUR, _vec(s=1), False),
    "hours": _Unit(SECONDS_PER_HOUR, _vec(s=1), False),
    "day": _Unit(SECONDS_PER_DAY, _vec(s=1), False),
    "days": _Unit(SECONDS_PER_DAY, _vec(s=1), False),
    "d": _Unit(SECONDS_PER_DAY, _vec(s=1), False),
    "week": _Unit(7 * SECONDS_PER_DAY, _vec(s=1), False),
    "weeks": _Unit(7 * SECONDS_PER_DAY, _vec(s=1), False),
    "month": _Unit(SECONDS_PER_MONTH, _vec(s=1), False),
    "months": _Unit(SECONDS_PER_MONTH, _vec(s=1), False),
    "quarter": _Unit(3 * SECONDS_PER_MONTH, _vec(s=1), False),
    "quarters": _Unit(3 * SECONDS_PER_MONTH, _vec(s=1), False),
    "year": _Unit(SECONDS_PER_YEAR, _vec(s=1), False),
    "years": _Unit(SECONDS_PER_YEAR, _vec(s=1), False),
    "yr": _Unit(SECONDS_PER_YEAR, _vec(s=1), False),
}
_NOUNS = frozenset(
    {
        "token", "tokens", "tok", "problem", "problems", "sample", "samples", "request",
        "requests", "req", "query", "queries", "step", "steps", "param", "params", "parameters",
        "unit", "units", "core", "cores", "sequence", "sequences", "user", "users", "GPU",
        "GPUs", "chip", "chips", "accelerator", "accelerators", "trajectory", "trajectories",
    }
)  # fmt: skip
_DECIMAL = {"k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18}
_BINARY = {"Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40, "Pi": 2.0**50}
# Multipliers written right after a number ("10M problems", "270k USD", "1.5B USD").
_MULTIPLIERS = {"k": 1e3, "K": 1e3, "M": 1e6, "B": 1e9, "G": 1e9, "T": 1e12, "P": 1e15}

_NUMBER = re.compile(r"^\s*([+-]?(?:\d[\d,_]*)?\.?\d+(?:[eE][+-]?\d+)?)\s*(.*?)\s*$")


class UnitError(ValueError):
    """A quantity string that cannot be read, or has the wrong dimension."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def _lookup_symbol(symbol: str) -> _Unit:
    if symbol in _UNITS:
        return _UNITS[symbol]
    if symbol in _NOUNS:
        return _Unit(1.0, _vec(), False)
    for table in (_BINARY, _DECIMAL):
        for prefix, factor in table.items():
            if symbol.startswith(prefix) and len(symbol) > len(prefix):
                base = _UNITS.get(symbol[len(prefix) :])
                if base is not None and base.prefixable:
                    return _Unit(factor * base.scale, base.vec, False)
    raise UnitError(f"unknown unit {symbol!r}")


def _product(term: str) -> tuple[float, _Vec]:
    """A product of unit symbols joined by '-', '*', '·' or spaces ("kW-month", "GPU hour")."""
    scale, vec = 1.0, _vec()
    for symbol in re.split(r"[-*·\s]+", term.strip()):
        if not symbol:
            continue
        unit = _lookup_symbol(symbol)
        scale *= unit.scale
        vec = tuple(a + b for a, b in zip(vec, unit.vec, strict=True))  # type: ignore[assignment]
    return scale, vec


def _unit_expression(text: str) -> tuple[float, _Vec]:
    """Parse 'A/B/C' (or 'A per B') into a scale factor and a dimension vector."""
    text = re.sub(r"\s+per\s+", "/", text)
    parts = text.split("/")
    scale, vec = _product(parts[0])
    for part in parts[1:]:
        if not part.strip():
            raise UnitError(f"empty denominator in unit {text!r}")
        s2, v2 = _product(part)
        scale /= s2
        vec = tuple(a - b for a, b in zip(vec, v2, strict=True))  # type: ignore[assignment]
    return scale, vec


def _describe(vec: _Vec) -> str:
    for dim, v in _DIM_VEC.items():
        if v == vec and dim is not Dimension.FRACTION:
            return f"a {dim.value}" if dim is not Dimension.COUNT else "a plain number"
    parts = [f"{b}^{e}" if e != 1 else b for b, e in zip(_BASES, vec, strict=True) if e]
    return "a quantity in " + "·".join(parts)


def _split_number(text: str) -> tuple[float, str]:
    match = _NUMBER.match(text)
    if not match:
        raise UnitError(f"{text!r} does not start with a number")
    number = float(match.group(1).replace(",", "").replace("_", ""))
    return number, match.group(2)


def _apply_multiplier(number: float, rest: str, expected: Dimension) -> tuple[float, str]:
    """Handle '10M problems', '270k USD', '405B' (count): a bare multiplier after the number."""
    head, _, tail = rest.partition(" ")
    if head in _MULTIPLIERS and (tail.strip() or _DIM_VEC[expected] == _vec()):
        return number * _MULTIPLIERS[head], tail.strip()
    if head and head[0] in _MULTIPLIERS and head[1:] in ("USD",):
        return number * _MULTIPLIERS[head[0]], head[1:] + (" " + tail if tail else "")
    return number, rest


def parse_quantity(value: object, expected: Dimension) -> float:
    """Parse a YAML or command-line value into an SI float of the expected dimension.

    Dimensional fields need an explicit unit: a bare number is rejected with a hint.
    Counts accept SI multipliers ("10M", "15.6T tokens"); fractions accept "90%".
    """
    if isinstance(value, bool):
        raise UnitError(f"expected {_describe(_DIM_VEC[expected])}, got a boolean ({value})")
    if isinstance(value, int | float):
        number = float(value)
        if _DIM_VEC[expected] != _vec():
            raise UnitError(
                f"{value} has no unit; expected a {expected.value}",
                _with_unit(value, expected),
            )
        return _check_finite(number, str(value))
    if not isinstance(value, str):
        raise UnitError(
            f"expected a {expected.value} such as '{_EXAMPLES[expected]}', "
            f"got {type(value).__name__}"
        )
    text = value.strip()
    if text.startswith("$"):
        text = text[1:].strip() + " USD"
    number, rest = _split_number(text)
    number, rest = _apply_multiplier(number, rest, expected)
    if rest == "%":
        if expected not in (Dimension.FRACTION, Dimension.COUNT):
            raise UnitError(f"{value!r} is a percentage; expected a {expected.value}")
        return _check_finite(number / 100.0, value)
    if not rest:
        if _DIM_VEC[expected] != _vec():
            raise UnitError(
                f"{value!r} has no unit; expected a {expected.value}",
                _with_unit(text, expected),
            )
        return _check_finite(number, value)
    try:
        scale, vec = _unit_expression(rest)
    except UnitError as err:
        raise UnitError(
            f"{value!r}: {err.message}", f"expected a {expected.value} such as "
            f"'{_EXAMPLES[expected]}'"
        ) from None
    if vec != _DIM_VEC[expected]:
        raise UnitError(
            f"{value!r} is {_describe(vec)}; expected a {expected.value}",
            f"for example '{_EXAMPLES[expected]}'",
        )
    return _check_finite(number * scale, value)


def parse_dimensionless(value: object) -> float:
    """Parse a count or fraction ("10M", "0.9", "90%")."""
    return parse_quantity(value, Dimension.COUNT)


def _check_finite(number: float, original: str) -> float:
    if not math.isfinite(number):
        raise UnitError(f"{original!r} is not a finite number", "use a finite value")
    return number


# ----------------------------------------------------------------------------------------------
# Formatting for reports
_FORMAT_UNITS: dict[Dimension, tuple[str, float]] = {
    Dimension.SIZE: ("B", 1.0),
    Dimension.BANDWIDTH: ("B/s", 1.0),
    Dimension.FLOPS: ("FLOP", 1.0),
    Dimension.FLOP_RATE: ("FLOPS", 1.0),
    Dimension.POWER: ("W", 1.0),
    Dimension.ENERGY: ("Wh", SECONDS_PER_HOUR),
    Dimension.MONEY: ("USD", 1.0),
    Dimension.RATE: ("/s", 1.0),
    Dimension.COUNT: ("", 1.0),
    Dimension.MONEY_RATE: ("USD/h", 1.0 / SECONDS_PER_HOUR),
    Dimension.ENERGY_PRICE: ("USD/MWh", 1.0 / (JOULES_PER_KWH * 1000.0)),
    Dimension.BYTE_PRICE: ("USD/GB", 1e-9),
    Dimension.POWER_PRICE: ("USD/kW/month", 1.0 / (1e3 * SECONDS_PER_MONTH)),
    Dimension.BUILD_PRICE: ("USD/MW", 1e-6),
}
_PREFIX_STEPS = (("E", 1e18), ("P", 1e15), ("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3))
_MONEY_STEPS = (("T", 1e12), ("B", 1e9), ("M", 1e6), ("k", 1e3))


def _significant(x: float, digits: int) -> str:
    if x == 0:
        return "0"
    text = f"{x:.{digits}g}"
    if "e" in text:
        return text
    return text


def format_quantity(value: float, dimension: Dimension, digits: int = 3) -> str:
    """Render an SI float for people: 3.35e12 B/s -> '3.35 TB/s'; 2.7e5 USD -> '270k USD'."""
    if not math.isfinite(value):
        return str(value)
    if dimension is Dimension.FRACTION:
        return f"{value * 100:.{max(digits - 2, 0)}f}%"
    if dimension is Dimension.DURATION:
        return _format_duration(value, digits)
    symbol, per = _FORMAT_UNITS[dimension]
    scaled = value / per
    if dimension in (Dimension.MONEY_RATE, Dimension.ENERGY_PRICE, Dimension.BYTE_PRICE,
                     Dimension.POWER_PRICE):
        return f"{_significant(scaled, digits)} {symbol}"
    if dimension is Dimension.FLOPS and abs(scaled) >= 1e21:
        return f"{scaled:.{digits}g} FLOP"
    steps = _MONEY_STEPS if dimension in (Dimension.MONEY, Dimension.COUNT) else _PREFIX_STEPS
    for prefix, factor in steps:
        if abs(scaled) >= factor:
            body = _significant(scaled / factor, digits)
            if dimension is Dimension.MONEY:
                return f"{body}{prefix} USD"
            if dimension is Dimension.COUNT:
                return f"{body}{prefix}"
            return f"{body} {prefix}{symbol}"
    body = _significant(scaled, digits)
    return f"{body} {symbol}".rstrip() if symbol else body


def _format_duration(seconds: float, digits: int) -> str:
    magnitude = abs(seconds)
    for name, size in (("years", SECONDS_PER_YEAR), ("days", SECONDS_PER_DAY),
                       ("h", SECONDS_PER_HOUR), ("min", SECONDS_PER_MINUTE), ("s", 1.0)):
        if magnitude >= size:
            return f"{_significant(seconds / size, digits)} {name}"
    if magnitude >= 1e-3:
        return f"{_significant(seconds * 1e3, digits)} ms"
    return f"{_significant(seconds * 1e6, digits)} us"
