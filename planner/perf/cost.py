"""What one unit of a system costs per second of use, for the calculator views.

The fleet optimizer prices sites individually; the single-system views (estimate, compare) need
one figure per unit-hour, and every view prices on one explicit *cost basis*
(:class:`CostBasis`, ``--cost-basis``, default :data:`DEFAULT_COST_BASIS`):

- ``own``: the purchase price turned into a uniform cost per second with the capital recovery
  factor (an annuity over the hardware's life), plus energy at a PUE and electricity price and
  colocation per kW of IT load: the full economic cost of hardware the buyer owns.
- ``rent``: the catalog's rental price (a cloud price includes power and space), only where one
  exists; a system without one raises :class:`~planner.errors.InputError` naming it, never a
  silent switch to another basis.
- ``buy``: the whole purchase price charged to this one run (no resale, no other use), plus
  energy and colocation while it runs: the cash a buyer spends to do only this work.

All defaults are named assumptions listed in every report.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import assert_never

from planner.catalog.schema import System
from planner.errors import InputError, Problem
from planner.finance import capital_recovery_factor
from planner.perf.assumptions import Assumption
from planner.units import SECONDS_PER_YEAR

__all__ = ["COST_DEFAULTS", "DEFAULT_COST_BASIS", "CostBasis", "NoRentalPriceError", "UnitCost",
           "basis_unit_cost", "capital_recovery_factor", "cost_basis", "no_rental_price",
           "priced_unit_cost", "unit_cost"]


class CostBasis(StrEnum):
    """How hardware is priced: owned (amortised), rented, or bought for this work alone."""

    OWN = "own"
    RENT = "rent"
    BUY = "buy"


DEFAULT_COST_BASIS = CostBasis.OWN

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
    "colocation_usd_per_kw_month": Assumption(
        "colocation_usd_per_kw_month", 165.0,
        "CBRE North America Data Center Trends H2 2024: 184.06 USD/kW-month average asking "
        "rate (250-500 kW, primary markets), less ~10% for a multi-MW lease",
        "space, cooling and power delivery per kW of IT load (own and buy bases)"),
}
_HOURS_PER_MONTH = 730.5  # 365.25 x 24 / 12


def cost_basis(value: str | CostBasis | None, where: str = "--cost-basis") -> CostBasis:
    """The basis named by ``value`` (None: the default); an unknown name is an InputError."""
    if value is None:
        return DEFAULT_COST_BASIS
    try:
        return CostBasis(str(value))
    except ValueError:
        raise InputError(Problem(where, "", f"unknown cost basis {value!r}",
                                 "use own, rent or buy")) from None


class NoRentalPriceError(InputError):
    """A system priced on the rent basis has no rental price (``message`` says which)."""

    def __init__(self, system_id: str, problem: Problem) -> None:
        super().__init__(problem)
        self.system_id = system_id
        self.message = f"no rental price for {system_id}"


def no_rental_price(system_id: str, where: str = "--cost-basis",
                    fix: str = "") -> NoRentalPriceError:
    """The error for pricing a system without a rental price on the rent basis."""
    fix = fix or f"{system_id}'s hardware file"
    return NoRentalPriceError(system_id, Problem(where, "rent", f"no rental price for {system_id}",
                              f"use --cost-basis own or buy, or add a 'rental:' price to "
                              f"{fix}"))


@dataclass(frozen=True, slots=True)
class UnitCost:
    """Cost of one unit per second of use, split into capital (or rental) and running costs."""

    capital_usd_per_s: float
    energy_usd_per_s: float
    basis: str
    colocation_usd_per_s: float = 0.0

    @property
    def usd_per_s(self) -> float:
        """Total cost per unit-second."""
        return self.capital_usd_per_s + self.energy_usd_per_s + self.colocation_usd_per_s

    @property
    def usd_per_hour(self) -> float:
        """Total cost per unit-hour."""
        return self.usd_per_s * 3600.0


def _values(assumptions: dict[str, Assumption] | None) -> dict[str, float]:
    values = {name: float(a.value) for name, a in COST_DEFAULTS.items()}
    values.update({name: float(a.value) for name, a in (assumptions or {}).items()
                   if name in COST_DEFAULTS})
    return values


def unit_cost(system: System, assumptions: dict[str, Assumption] | None = None,
              prefer_rental: bool = False) -> UnitCost:
    """Cost per unit-second: amortised purchase (or rental) plus energy at PUE.

    The performance modules' own figure; the views re-price it on the requested basis with
    :func:`basis_unit_cost`.
    """
    values = _values(assumptions)
    energy = system.power * values["pue"] * values["electricity_usd_per_mwh"] / 3.6e9
    if prefer_rental and system.rental is not None:
        return UnitCost(system.rental.price, 0.0, "rental (energy included)")
    crf = capital_recovery_factor(values["cost_of_capital"], values["lifetime_years"])
    capital = system.purchase.price * crf / SECONDS_PER_YEAR
    return UnitCost(capital, energy, "purchase amortised + energy")


def basis_unit_cost(system: System, basis: CostBasis,
                    assumptions: dict[str, Assumption] | None = None, *,
                    run_s: float | None = None) -> UnitCost:
    """Cost per unit-second of a catalog system on one basis (see the module docstring).

    ``run_s`` (the buy basis only): how long the units are used for this work; the whole
    purchase price is spread over it. Raises InputError for ``rent`` on a system without a
    rental price.
    """
    return priced_unit_cost(system.id, system.purchase.price, system.power,
                            None if system.rental is None else system.rental.price, basis,
                            assumptions, run_s=run_s)


def priced_unit_cost(name: str, purchase_usd: float, power_w: float,
                     rental_usd_per_s: float | None, basis: CostBasis,
                     assumptions: dict[str, Assumption] | None = None, *,
                     run_s: float | None = None, fix: str = "") -> UnitCost:
    """:func:`basis_unit_cost` from plain figures (also prices a fleet's CPU-only server);
    ``fix`` names the file to add a missing rental price to."""
    values = _values(assumptions)
    energy = power_w * values["pue"] * values["electricity_usd_per_mwh"] / 3.6e9
    colocation = power_w / 1e3 * values["colocation_usd_per_kw_month"] / (
        _HOURS_PER_MONTH * 3600.0)
    match basis:
        case CostBasis.RENT:
            if rental_usd_per_s is None:
                raise no_rental_price(name, fix=fix)
            return UnitCost(rental_usd_per_s, 0.0, "rent: rental price (power and space "
                            "included)")
        case CostBasis.OWN:
            crf = capital_recovery_factor(values["cost_of_capital"], values["lifetime_years"])
            return UnitCost(purchase_usd * crf / SECONDS_PER_YEAR, energy,
                            "own: purchase amortised (capital recovery factor) + energy + "
                            "colocation", colocation)
        case CostBasis.BUY:
            if run_s is None or not run_s > 0:
                raise ValueError("the buy basis needs the run's duration")
            return UnitCost(purchase_usd / run_s, energy,
                            "buy: whole purchase price charged to this run + energy + "
                            "colocation", colocation)
        case _:
            assert_never(basis)
