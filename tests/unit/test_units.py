"""The unit parser: prefixes, bits vs bytes, rates, money, durations, counts, wrong dimensions."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.units import Dimension, UnitError, format_quantity, parse_quantity

D = Dimension

CASES = [
    # sizes: decimal and binary prefixes, bits vs bytes
    ("80 GB", D.SIZE, 80e9),
    ("80GB", D.SIZE, 80e9),
    ("96 GiB", D.SIZE, 96 * 2**30),
    ("1 KiB", D.SIZE, 1024),
    ("2 MiB", D.SIZE, 2 * 2**20),
    ("1 TiB", D.SIZE, 2**40),
    ("1 PiB", D.SIZE, 2**50),
    ("1 kB", D.SIZE, 1e3),
    ("1 MB", D.SIZE, 1e6),
    ("2 TB", D.SIZE, 2e12),
    ("1 PB", D.SIZE, 1e15),
    ("8 Gb", D.SIZE, 1e9),  # 8 gigabits = 1 GB
    ("8 bit", D.SIZE, 1),
    ("512 bytes", D.SIZE, 512),
    # bandwidths
    ("3.35 TB/s", D.BANDWIDTH, 3.35e12),
    ("400 Gb/s", D.BANDWIDTH, 50e9),
    ("400 Gbps", D.BANDWIDTH, 50e9),
    ("1.6 Tb/s", D.BANDWIDTH, 200e9),
    ("900 GB/s", D.BANDWIDTH, 900e9),
    ("1 GiB/s", D.BANDWIDTH, 2**30),
    # compute
    ("989 TFLOPS", D.FLOP_RATE, 989e12),
    ("1,979 TFLOPS", D.FLOP_RATE, 1979e12),
    ("2.5 PFLOPS", D.FLOP_RATE, 2.5e15),
    ("2.5 PFLOP/s", D.FLOP_RATE, 2.5e15),
    ("3.8e25 FLOP", D.FLOPS, 3.8e25),
    ("20 EFLOP", D.FLOPS, 2e19),
    # power and energy prices
    ("700 W", D.POWER, 700),
    ("10.2 kW", D.POWER, 10_200),
    ("132 kW", D.POWER, 132_000),
    ("1 GW", D.POWER, 1e9),
    ("300 MW", D.POWER, 300e6),
    ("60 USD/MWh", D.ENERGY_PRICE, 60 / 3.6e9),
    ("0.08 USD/kWh", D.ENERGY_PRICE, 0.08 / 3.6e6),
    ("1 MWh", D.ENERGY, 3.6e9),
    ("150 USD/kW/month", D.POWER_PRICE, 150 / (1e3 * 365 * 86400 / 12)),
    # money
    ("270k USD", D.MONEY, 270e3),
    ("3.1M USD", D.MONEY, 3.1e6),
    ("1.5B USD", D.MONEY, 1.5e9),
    ("$3.1M", D.MONEY, 3.1e6),
    ("$40,000", D.MONEY, 40e3),
    ("98.32 USD/h", D.MONEY_RATE, 98.32 / 3600),
    ("2 USD per hour", D.MONEY_RATE, 2 / 3600),
    ("0.02 USD/GB", D.BYTE_PRICE, 0.02e-9),
    # durations
    ("250 ms", D.DURATION, 0.25),
    ("30 s", D.DURATION, 30),
    ("2 h", D.DURATION, 7200),
    ("60 days", D.DURATION, 60 * 86400),
    ("5 years", D.DURATION, 5 * 365 * 86400),
    ("1 week", D.DURATION, 7 * 86400),
    # rates and counts
    ("30 tokens/s", D.RATE, 30),
    ("100 requests/s", D.RATE, 100),
    ("10M", D.COUNT, 10e6),
    ("10M problems", D.COUNT, 10e6),
    ("15.6T tokens", D.COUNT, 15.6e12),
    ("405B", D.COUNT, 405e9),
    ("16k", D.COUNT, 16e3),
    (1024, D.COUNT, 1024),
    ("7,661", D.COUNT, 7661),
    # fractions
    ("90%", D.FRACTION, 0.9),
    (0.773, D.FRACTION, 0.773),
]


@pytest.mark.parametrize(("text", "dimension", "expected"), CASES, ids=[str(c[0]) for c in CASES])
def test_parse_quantity(text: object, dimension: Dimension, expected: float) -> None:
    assert parse_quantity(text, dimension) == pytest.approx(expected, rel=1e-12)


BAD = [
    ("3.35 TB", D.BANDWIDTH, "'3.35 TB' is a size; expected a bandwidth"),
    ("80 GB/s", D.SIZE, "'80 GB/s' is a bandwidth; expected a size"),
    ("10 kW", D.MONEY, "'10 kW' is a power; expected a money"),
    (80, D.SIZE, "80 has no unit; expected a size"),
    ("80", D.SIZE, "'80' has no unit; expected a size"),
    ("5 furlongs", D.DURATION, "unknown unit 'furlongs'"),
    ("fast", D.DURATION, "'fast' does not start with a number"),
    (True, D.COUNT, "got a boolean"),
    ("inf GB", D.SIZE, "does not start with a number"),
    ("1e400 GB", D.SIZE, "not a finite number"),
    ("50%", D.SIZE, "is a percentage"),
    ([1, 2], D.SIZE, "got list"),
]


@pytest.mark.parametrize(("value", "dimension", "message"), BAD, ids=[str(b[0]) for b in BAD])
def test_bad_quantities(value: object, dimension: Dimension, message: str) -> None:
    with pytest.raises(UnitError) as info:
        parse_quantity(value, dimension)
    assert message in info.value.message


def test_bare_number_hint_shows_an_example() -> None:
    with pytest.raises(UnitError) as info:
        parse_quantity(3.35, D.BANDWIDTH)
    # the user's own number with the everyday unit, then the usual example
    assert info.value.hint == "write it with a unit, e.g. '3.35 GB/s' or '3.35 TB/s'"
    with pytest.raises(UnitError) as info:
        parse_quantity(5, D.DURATION)  # e.g. verifier_cpu_seconds: 5
    assert info.value.hint == "write it with a unit, e.g. '5 s' or '30 days'"


@pytest.mark.parametrize(
    ("value", "dimension", "text"),
    [
        (3.35e12, D.BANDWIDTH, "3.35 TB/s"),
        (989e12, D.FLOP_RATE, "989 TFLOPS"),
        (270e3, D.MONEY, "270k USD"),
        (3.1e6, D.MONEY, "3.1M USD"),
        (10.2e3, D.POWER, "10.2 kW"),
        (60 * 86400, D.DURATION, "60 days"),
        (0.25, D.DURATION, "250 ms"),
        (10e6, D.COUNT, "10M"),
        (60 / 3.6e9, D.ENERGY_PRICE, "60 USD/MWh"),
        (0.9, D.FRACTION, "90.0%"),
    ],
)
def test_format_quantity(value: float, dimension: Dimension, text: str) -> None:
    assert format_quantity(value, dimension) == text


ROUND_TRIP_DIMENSIONS = [D.SIZE, D.BANDWIDTH, D.FLOP_RATE, D.POWER, D.MONEY, D.DURATION,
                         D.COUNT, D.ENERGY_PRICE, D.MONEY_RATE]


@settings(derandomize=True, max_examples=300, database=None)
@given(
    mantissa=st.floats(min_value=1.0, max_value=999.0, allow_nan=False),
    exponent=st.integers(min_value=-3, max_value=6),
    dimension=st.sampled_from(ROUND_TRIP_DIMENSIONS),
)
def test_format_then_parse_round_trips(mantissa: float, exponent: int,
                                       dimension: Dimension) -> None:
    """Formatting to 6 significant digits and parsing back returns the value within 1e-5."""
    value = mantissa * 10.0 ** (3 * exponent)
    if dimension is D.COUNT and value < 1:
        value = mantissa
    text = format_quantity(value, dimension, digits=6)
    assert math.isclose(parse_quantity(text, dimension), value, rel_tol=1e-5)
