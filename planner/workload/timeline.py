"""Schema of a roadmap scenario's time keys: periods, schedule, supply over time, budget.

A scenario file (``workloads/scenario_mixed.yaml``) lists workloads that share a fleet; a roadmap
scenario (``workloads/roadmap_2027.yaml``) adds the keys below, read by ``planner roadmap``
(``planner/roadmap_plan.py``). Dates are ISO dates (``2027-01-01``); every other number carries its
unit, as everywhere in the inputs.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import Field, model_validator

from planner.schema import (
    BuildPrice,
    Duration,
    Fraction,
    Money,
    PositiveInt,
    Power,
    Rate,
    StrictModel,
)

__all__ = [
    "Buildout",
    "ExplicitPeriod",
    "JobSchedule",
    "PeriodGrid",
    "PeriodLength",
    "SiteSupply",
    "Supply",
    "SystemSupply",
    "Timeline",
]

MAX_PERIODS = 120  # ten years of months: a roadmap, not a simulation


class PeriodLength(StrEnum):
    """How long each period of a regular grid is."""

    MONTH = "month"
    QUARTER = "quarter"
    HALF = "half"
    YEAR = "year"

    @property
    def months(self) -> int:
        """Calendar months in one period."""
        return {"month": 1, "quarter": 3, "half": 6, "year": 12}[self.value]


class PeriodGrid(StrictModel):
    """``periods: {start: 2027-01-01, count: 8, length: quarter}``."""

    start: dt.date
    count: PositiveInt = Field(description="number of periods (at most 120)")
    length: PeriodLength = PeriodLength.QUARTER

    @model_validator(mode="after")
    def _few_enough(self) -> PeriodGrid:
        if self.count > MAX_PERIODS:
            raise ValueError(f"at most {MAX_PERIODS} periods; use a longer length")
        return self


class ExplicitPeriod(StrictModel):
    """One period of an explicit list: ``{name: FY27-H1, start: 2027-01-01, end: 2027-07-01}``."""

    name: str = Field(min_length=1, max_length=64)
    start: dt.date
    end: dt.date

    @model_validator(mode="after")
    def _ordered(self) -> ExplicitPeriod:
        if self.end <= self.start:
            raise ValueError(f"period {self.name!r} ends ({self.end}) before it starts "
                             f"({self.start})")
        return self


class JobSchedule(StrictModel):
    """When a workload runs, or how its demand changes, over the roadmap.

    Training and post-training: a window (``start`` and ``deadline``, or ``start`` and
    ``duration``), repeated ``every`` period length when given. Serving: the request rate per
    period, as totals by period name (``requests_per_second: {2027-Q1: 40 requests/s}``, split
    over regions in the workload's proportions; a period not named keeps the previous value)
    or as growth per quarter (``{start: 40 requests/s, growth_per_quarter: 15%}``; without
    ``start``, from the workload's own rate).
    """

    start: dt.date | Rate | None = Field(
        default=None, description="a date (a job's window) or, for serving, the request rate "
                                  "of the first period")
    deadline: dt.date | None = None
    duration: Duration | None = None
    every: PeriodLength | None = None
    requests_per_second: dict[str, Rate] | None = None
    growth_per_quarter: Fraction | None = None

    @property
    def window_start(self) -> dt.date | None:
        """The start date of a training or post-training window."""
        return self.start if isinstance(self.start, dt.date) else None

    @property
    def start_rate(self) -> float | None:
        """A serving workload's request rate in the first period (requests/s)."""
        return None if isinstance(self.start, dt.date) or self.start is None else self.start

    @model_validator(mode="after")
    def _consistent(self) -> JobSchedule:
        if self.deadline is not None and self.duration is not None:
            raise ValueError("give 'deadline' or 'duration', not both")
        start = self.window_start
        if self.start_rate is not None and (self.deadline is not None or self.duration
                                            is not None or self.every is not None
                                            or self.requests_per_second is not None):
            raise ValueError("a request rate as 'start' goes with 'growth_per_quarter' only")
        if (self.deadline is not None or self.duration is not None) and start is None:
            raise ValueError("a 'deadline' or 'duration' needs a 'start' date")
        if start is not None and self.deadline is not None and self.deadline <= start:
            raise ValueError(f"deadline {self.deadline} is not after start {start}")
        if self.duration is not None and self.duration <= 0:
            raise ValueError("'duration' must be positive")
        if self.every is not None and start is None:
            raise ValueError("'every' repeats a window: it needs 'start'")
        if self.requests_per_second is not None and self.growth_per_quarter is not None:
            raise ValueError("give 'requests_per_second' or 'growth_per_quarter', not both")
        return self

    @property
    def is_demand(self) -> bool:
        """True when the entry shapes a serving workload's demand."""
        return (self.requests_per_second is not None or self.growth_per_quarter is not None
                or self.start_rate is not None)


class Buildout(StrictModel):
    """Power that can be built at a site: price per MW, lead time, most MW, asset life."""

    price: BuildPrice
    lead_time: Duration = 0.0
    limit: Power
    lifetime: Duration = Field(default=20 * 365 * 86400.0,
                               description="book life of the electrical and cooling plant")


class SiteSupply(StrictModel):
    """A site's power by date and its optional build-out."""

    power: dict[dt.date, Power] = Field(default_factory=dict)
    buildout: Buildout | None = None


class SystemSupply(StrictModel):
    """A system's availability, price path, delivery lead time and life.

    ``available_from`` is the first date a unit can be in service (its first delivery); an
    order is placed ``lead_time`` earlier.
    """

    available_from: dt.date | None = None
    price: Money | dict[dt.date, Money] = Field(
        default_factory=dict, description="price per unit: one amount (at available_from, else "
                                          "at the roadmap's start) or amounts by date")
    price_decline_per_year: Fraction = 0.0
    lead_time: Duration = 0.0
    lifetime: Duration | None = None

    @model_validator(mode="after")
    def _decline(self) -> SystemSupply:
        if not 0.0 <= self.price_decline_per_year < 1.0:
            raise ValueError("price_decline_per_year must be at least 0% and below 100%")
        return self


class Supply(StrictModel):
    """What changes on the supply side over the roadmap."""

    sites: dict[str, SiteSupply] = Field(default_factory=dict)
    systems: dict[str, SystemSupply] = Field(default_factory=dict)
    inventory: dict[str, dict[str, dt.date]] = Field(
        default_factory=dict, description="purchase date of the units owned at each site")
    purchase_limits: dict[str, dict[str, int]] = Field(
        default_factory=dict, description="units that may be bought per period")


class Timeline(StrictModel):
    """The roadmap keys of a scenario file, all optional but ``periods`` (see the module
    docstring); a scenario without them is one period."""

    periods: PeriodGrid | list[ExplicitPeriod]
    discount_rate: Fraction = 0.0
    schedule: dict[str, JobSchedule] = Field(default_factory=dict)
    supply: Supply = Field(default_factory=Supply)
    budget_per_period: Money | None = None
