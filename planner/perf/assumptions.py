"""Named assumptions: every efficiency factor and default the performance model uses.

An :class:`Assumption` carries its value, where it came from (a published measurement, named
in its source and gathered in ``docs/performance-model.md``, or an explicit override) and a
one-line note. Every estimate lists the
assumptions it used, so a reader can see, and change, each knob.

Defaults live next to the formulas that use them (``serving.DEFAULTS``, ``training.DEFAULTS``);
:func:`resolve` layers them: calibrated default < system override < workload override.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from planner.catalog.schema import Efficiency

__all__ = ["EFFICIENCY_NAMES", "Assumption", "resolve"]

EFFICIENCY_NAMES = tuple(Efficiency.model_fields)


@dataclass(frozen=True, slots=True)
class Assumption:
    """One named number the model relies on, with its provenance."""

    name: str
    value: float
    source: str
    note: str = ""

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {"name": self.name, "value": self.value, "source": self.source,
                "note": self.note}


def resolve(defaults: Mapping[str, Assumption], system_id: str, system: Efficiency,
            workload_name: str, workload: Efficiency) -> dict[str, Assumption]:
    """Calibrated defaults overridden by the system file, then by the workload file."""
    result = dict(defaults)
    for origin, label in ((system, f"system {system_id}"), (workload, f"workload {workload_name}")):
        for name in EFFICIENCY_NAMES:
            value = getattr(origin, name)
            if value is not None and name in result:
                result[name] = Assumption(name, value, f"override in {label}",
                                          result[name].note)
    return result


@dataclass(frozen=True, slots=True)
class CalibrationCase:
    """A published measurement and the model's prediction of it.

    ``error`` is (predicted - published) / published; the case passes when its absolute value
    is within ``tolerance``. ``source`` names the publication (URL or paper and table).
    """

    name: str
    quantity: str
    unit: str
    published: float
    predicted: float
    tolerance: float
    source: str
    note: str = ""
    group: str = ""

    @property
    def error(self) -> float:
        """Relative error of the prediction."""
        return (self.predicted - self.published) / self.published

    @property
    def within_tolerance(self) -> bool:
        """True when the prediction is within the stated tolerance."""
        return abs(self.error) <= self.tolerance

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {"name": self.name, "quantity": self.quantity, "unit": self.unit,
                "published": self.published, "predicted": self.predicted,
                "error": self.error, "tolerance": self.tolerance,
                "within_tolerance": self.within_tolerance, "source": self.source,
                "note": self.note, "group": self.group}
