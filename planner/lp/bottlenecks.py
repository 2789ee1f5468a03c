"""Binding constraints and their shadow prices, in units people price things in.

A shadow price (dual value) is the change of the optimal objective per unit of a constraint's
right-hand side. Reported values are magnitudes (solvers disagree on signs when maximising):
for a capacity (power, cores, link, inventory, purchase limit, budget) what one more unit would
save; for a demand (work, serving rate) what one more unit would cost. Rows are scaled inside
the LP (MW, thousands of cores, GB per horizon, shares of work, cost in units of the largest
cost coefficient); each :class:`~planner.lp.build.Row` carries the size of its unit, so
``dual x objective scale / unit size`` is per natural unit (W, core, B/s, work unit, USD).
Those are then quoted per MW-day, per core-hour, per Gbps-day (per day of the scenario horizon,
i.e. the value of the extra capacity spread evenly over the horizon), per unit of a system, or
per unit of work. With the time objective the values are throughput multiplier (``x``) instead
of USD.

With ``integer=True`` the duals come from the LP re-solved with every integer fixed, so they
price the margin of the chosen integer plan (units and site choices held fixed).

Each bottleneck also carries its economic weight, ``value_of_10_percent``: the shadow price
times a tenth of the resource in use at the optimum (the left-hand side's positive terms: MW
drawn, cores needed, GB shipped, units owned or bought, work done), i.e. the first-order
saving (USD, or ``x`` with the time objective) of 10 % more of it. They are sorted by it, so a
limit that binds on a sliver of a resource never outranks one that sets the plan's cost. A row
that binds with nothing in use (0 <= 0, e.g. cores at a site that has none and needs none) is
not a bottleneck and is left out.
"""

from __future__ import annotations

from types import MappingProxyType

from planner.lp.build import BuiltLp, Row
from planner.lp.families import FAMILIES, family
from planner.lp.solution import Bottleneck
from planner.lp.solve import SolveOutcome

__all__ = ["KIND_OF_FAMILY", "find_bottlenecks", "row_dual"]

# The reported kind of each family, read from the registry (planner/lp/families.py).
KIND_OF_FAMILY = MappingProxyType({name: str(entry.kind) for name, entry in FAMILIES.items()
                                   if entry.kind is not None})
_TOL = 1e-7


def find_bottlenecks(m: BuiltLp, outcome: SolveOutcome,
                     only: frozenset[str] | None = None) -> tuple[Bottleneck, ...]:
    """Every binding constraint of a reported kind with a non-zero shadow price, largest first
    (of the families in ``only`` when given: a roadmap's own rows).

    The kind, place and unit of each row come from its family's entry in
    ``planner.lp.families``; a structural family (no kind) is never reported."""
    if not outcome.has_duals:
        return ()
    scale = m.usd_scale if m.objective == "cost" else 1.0
    found = []
    for (name, key), row in m.rows.items():
        if only is not None and name not in only:
            continue
        entry = family(name)
        pi, slack = row_dual(row, outcome)
        if entry.kind is None or entry.price is None or not _binding(row, slack):
            continue
        pi = abs(pi)
        if pi <= _TOL:  # rows are scaled to O(1) units, so this is solver noise
            continue
        in_use = _in_use(row)
        if in_use <= _TOL:
            continue
        value, unit = entry.price(m, key, pi * scale / row.unit_size)
        found.append(Bottleneck(f"{name}[{','.join(key)}]", str(entry.kind), entry.where(key),
                                value, unit, 0.1 * pi * scale * in_use))
    return tuple(sorted(found, key=lambda b: (-b.value_of_10_percent, b.constraint)))


def _in_use(row: Row) -> float:
    """The resource in use at the optimum, in row units: the positive terms of the row."""
    return float(sum(c * float(var.varValue or 0.0) for var, c in row.constraint.items()
                     if c > 0))


def row_dual(row: Row, outcome: SolveOutcome) -> tuple[float, float]:
    """(dual, slack) of a row: kept from the speed pass (time objective) or the last solve."""
    if outcome.duals is not None:
        return outcome.duals.get((row.family, row.key), (0.0, 1.0))
    return row.constraint.pi or 0.0, row.constraint.slack if row.constraint.slack is not None \
        else 1.0


def _binding(row: Row, slack: float) -> bool:
    """A row is binding when its slack is (numerically) zero."""
    return bool(abs(slack) <= 1e-6 * max(1.0, abs(row.constraint.constant)))
