"""What one unit of a system costs per second of use, for the calculator views.

The fleet optimizer prices sites individually; the single-system views (estimate, compare) need
one figure per unit-hour. It is the rental price when the catalog has one and ``prefer_rental``
is set, else the purchase price turned into a uniform cost per second with the capital
recovery factor, plus energy at a default PUE and electricity price. All defaults are named
assumptions listed in every report.
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.catalog.schema import System
from planner.finance import capital_recovery_factor
from planner.perf.assumptions import Assumption
from planner.units import SECONDS_PER_YEAR

__all__ = ["COST_DEFAULTS", "UnitCost", "capital_recovery_factor", "unit_cost"]

COST_DEFAULTS: dict[str, Assumption] = {
    "lifetime_years": Assumption(
        "lifetime_years", 5.0,
        "hyperscaler server depreciation lives of 5-6 years (Microsoft, Alphabet, Amazon 10-K "
        "filings; Amazon back to 5 years for part of its fleet in 2025)",
        "depreciation life of bought hardware"),
    "cost_of_capital": Assumption(
        "cost_of_capital", 0.10,
        "CoreWeave 10-Q (30 Jun 2025): 7-15% effective rates on GPU-backed debt",
        "annual rate used to amortise purchases"),
    "pue": Assumption("pue", 1.3, "Uptime Institute survey 1.56 (2024); new AI halls ~1.1-1.3",
                      "power usage effectiveness for the single-system views"),
    "electricity_usd_per_mwh": Assumption(
        "electricity_usd_per_mwh", 80.0, "EIA 2023-2024 US industrial prices, 59-90 USD/MWh",
        "electricity price for the single-system views"),
}


@dataclass(frozen=True, slots=True)
class UnitCost:
    """Cost of one unit per second of use, split into capital (or rental) and energy."""

    capital_usd_per_s: float
    energy_usd_per_s: float
    basis: str

    @property
    def usd_per_s(self) -> float:
        """Total cost per unit-second."""
        return self.capital_usd_per_s + self.energy_usd_per_s

    @property
    def usd_per_hour(self) -> float:
        """Total cost per unit-hour."""
        return self.usd_per_s * 3600.0


def unit_cost(system: System, assumptions: dict[str, Assumption] | None = None,
              prefer_rental: bool = False) -> UnitCost:
    """Cost per unit-second: amortised purchase (or rental) plus energy at PUE."""
    values = {name: a.value for name, a in COST_DEFAULTS.items()}
    values.update({name: a.value for name, a in (assumptions or {}).items()
                   if name in COST_DEFAULTS})
    energy = system.power * values["pue"] * values["electricity_usd_per_mwh"] / 3.6e9
    if prefer_rental and system.rental is not None:
        return UnitCost(system.rental.price, 0.0, "rental (energy included)")
    crf = capital_recovery_factor(values["cost_of_capital"], values["lifetime_years"])
    capital = system.purchase.price * crf / SECONDS_PER_YEAR
    return UnitCost(capital, energy, "purchase amortised + energy")
