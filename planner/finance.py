"""Turning a purchase price into a cost per year: the one finance formula the package uses."""

from __future__ import annotations

import math

__all__ = ["capital_recovery_factor"]


def capital_recovery_factor(rate: float, years: float) -> float:
    """Annual payment per dollar of capital repaid over ``years`` at ``rate`` per year.

    The annuity formula r(1+r)^n / ((1+r)^n - 1) (equal to r / (1 - (1+r)^-n)); 1/n when r = 0.
    """
    if years <= 0:
        raise ValueError("the hardware lifetime must be positive")
    if rate == 0:
        return 1.0 / years
    growth = math.pow(1.0 + rate, years)
    return rate * growth / (growth - 1.0)
