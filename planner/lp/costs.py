"""Per-variable cost coefficients of the LP objective, in USD over the scenario horizon.

Capital is turned into a cost per unit time with the capital recovery factor (an annuity):
``CRF = i (1 + i)^n / ((1 + i)^n - 1)`` per year for cost of capital ``i`` and life ``n`` years
(``1 / n`` when ``i = 0``; Brealey, Myers & Allen, *Principles of Corporate Finance*, annuity
formula). A unit bought for a horizon ``T`` is charged ``price x CRF x T / year``.

On the ``buy`` cost basis a bought unit is charged its whole purchase price instead (cash spent
for this plan alone). A site may quote its own purchase and rental price for a system
(:func:`purchase_price`, :func:`rental_price`); the catalog's price is the default.

Energy is charged at full IT power for the whole horizon, times PUE (facility power = IT power x
PUE, The Green Grid's definition), times the site's electricity price. Colocation is priced per
watt of IT load (the CBRE wholesale convention, USD per kW of critical load per month). Rented
units pay only their rental price: a cloud price includes power and space.
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.finance import capital_recovery_factor as annuity_factor
from planner.lp.inputs import CpuServerInput, EconomicsInput, SiteInput, SystemInput
from planner.units import SECONDS_PER_YEAR

__all__ = ["UnitCosts", "amortised_usd", "capital_recovery_factor", "capital_usd",
           "cpu_server_costs", "purchase_price", "rental_price", "system_costs"]


def capital_recovery_factor(cost_of_capital: float, lifetime_s: float) -> float:
    """Fraction of a purchase price to charge per year so the capital is repaid with interest."""
    return annuity_factor(cost_of_capital, lifetime_s / SECONDS_PER_YEAR)


def amortised_usd(price_usd: float, economics: EconomicsInput, horizon_s: float) -> float:
    """Share of a purchase price charged to a horizon: ``price x CRF x horizon / year``."""
    crf = capital_recovery_factor(economics.cost_of_capital, economics.lifetime_s)
    return price_usd * crf * horizon_s / SECONDS_PER_YEAR


def purchase_price(system: SystemInput, site: SiteInput) -> float:
    """The purchase price of one unit at this site: the site's quote, else the catalog's."""
    return float(site.purchase_usd.get(system.id, system.purchase_usd))


def rental_price(system: SystemInput, site: SiteInput) -> float | None:
    """The rental price (USD/s) of one unit at this site: the site's quote, else the
    catalog's (None when neither exists)."""
    return site.rental_usd_per_s.get(system.id, system.rental_usd_per_s)


def capital_usd(price_usd: float, economics: EconomicsInput, horizon_s: float,
                basis: str) -> float:
    """Capital charged to a plan of ``horizon_s`` for one unit bought at ``price_usd``: the
    whole price on the ``buy`` basis, else the amortised share (:func:`amortised_usd`)."""
    return price_usd if basis == "buy" else amortised_usd(price_usd, economics, horizon_s)


@dataclass(frozen=True, slots=True)
class UnitCosts:
    """USD per unit over the horizon, split by cost part.

    ``capex``: amortised purchase price; ``energy``: P x PUE x price x T; ``colocation``:
    P x colocation price x T; ``rental``: rental price x T.
    """

    capex: float
    energy: float
    colocation: float
    rental: float | None


def system_costs(system: SystemInput, site: SiteInput, economics: EconomicsInput,
                 horizon_s: float, basis: str = "own") -> UnitCosts:
    """Cost parts of one unit of a system at a site, over the horizon, at the site's prices
    (``capex`` per :func:`capital_usd` on the plan's cost basis)."""
    rental = rental_price(system, site)
    return UnitCosts(
        capex=capital_usd(purchase_price(system, site), economics, horizon_s, basis),
        energy=system.power_w * site.pue * site.electricity_usd_per_j * horizon_s,
        colocation=system.power_w * site.colocation_usd_per_w_s * horizon_s,
        rental=None if rental is None else rental * horizon_s,
    )


def cpu_server_costs(server: CpuServerInput, site: SiteInput, economics: EconomicsInput,
                     horizon_s: float, basis: str = "own") -> UnitCosts:
    """Cost parts of one CPU-only server at a site, over the horizon (never rented)."""
    return UnitCosts(
        capex=capital_usd(server.purchase_usd, economics, horizon_s, basis),
        energy=server.power_w * site.pue * site.electricity_usd_per_j * horizon_s,
        colocation=server.power_w * site.colocation_usd_per_w_s * horizon_s,
        rental=None,
    )
