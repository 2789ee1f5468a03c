"""Scale an LP's rows and columns so that its numbers sit near 1, exactly, and undo it.

The placement LP mixes quantities of very different sizes: megawatts next to per-unit
throughputs of 10^6 work units per horizon, a few cost coefficients near 10^-8 of the largest
(egress per GB against a rack's purchase price), link capacities of 10^9 GB. HiGHS warns
about such models and its dual simplex slows down several times on them. Rather than pick
units family by family in ``planner.lp.build`` (whose families change as the formulation
grows), the matrix is scaled here, from its numbers alone, when it is handed to the solver.

Scaled model. With row factors :math:`r_i`, column factors :math:`c_j`, an objective factor
:math:`\\rho` and a size factor :math:`\\gamma` for every variable, the solver sees

.. math::  \\min \\rho\\,(c^\\top C) y \\quad \\text{s.t.} \\quad
           \\gamma R\\,l^r \\le (R A C) y \\le \\gamma R\\,u^r,
           \\quad \\gamma C^{-1} l \\le y \\le \\gamma C^{-1} u

with :math:`R = \\mathrm{diag}(r)`, :math:`C = \\mathrm{diag}(c)`, so that
:math:`x = C y / \\gamma`. Its duals map back as :math:`\\pi = R\\pi' / \\rho` (rows) and
:math:`d = d' / (\\rho\\,C)` (columns), row activities as :math:`Ax = (RACy) / (\\gamma R)`:
values and shadow prices are returned in the build's own units.

Choosing the factors (geometric-mean equilibration, after Curtis and Reid's scaling and the
geometric scaling of Gajulapalli and Lasdon, "Computational experience with a safeguarded
geometric scaling", 1990). The matrix is extended by the cost vector as an extra row (its
factor is :math:`\\rho`) and by the finite, nonzero right-hand sides as an extra column (its
factor is :math:`\\gamma`). A few passes alternately set each row's factor, then each column's,
to :math:`1/\\sqrt{\\min|a| \\cdot \\max|a|}` over the row's (column's) scaled entries, so
that its smallest and largest entries sit symmetrically around 1. Every factor is then
rounded to a power of two, so scaling and unscaling are exact in binary floating point: the
scaled model has the same solutions, only its numbers change.

Which columns move (``column_threshold``). By default every one. A solver that scales the
matrix again itself (HiGHS' dual simplex on an LP, ``simplex_scale_strategy``; a MILP keeps
every column scaled, ``planner.lp.highs.scaling_for``) is handed a model in
which a column factor within :math:`2^{12}` of 1 either way is reset to 1, and the rows are
then centred again around the columns that keep theirs (``REPASSES`` row passes), and
:math:`\\gamma` is set to centre the scaled right-hand sides together with the variables'
bounds (which scale as :math:`\\gamma/c_j`, and which columns left at 1 no longer bring
near 1). On
``benchmarks/bench_lp.py``'s 500-job models dual simplex then needs 16.9k instead of 24k
iterations (22.5k instead of 32k on a second fleet; ``benchmarks/README.md``); keeping every
column in its own units was as fast, but let HiGHS stop short of the optimum of a model whose
``ship`` columns (GB over links) have entries down to :math:`7\\cdot 10^{-8}` (the main job
with the time objective and a budget: :math:`\\lambda` 3.1245 instead of 3.1650); those
columns keep their factors (:math:`2^{15}`-:math:`2^{18}`) and HiGHS reaches the optimum.

Integer columns keep their units (:math:`c_j = \\gamma = 1`), so that integrality means the
same thing in both models. Empty rows and columns get factor 1.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

__all__ = ["MatrixLp", "Scaling", "Solution", "equilibrate", "identity", "scale",
           "unscale_solution"]

PASSES = 8  # alternating row/column passes; the ranges stop shrinking after 4-6
REPASSES = 4  # row passes after small column factors are reset to 1
Array = Any  # numpy arrays (numpy's own type parameters add nothing here)


@dataclass(frozen=True)
class MatrixLp:
    """A minimisation LP as arrays, rows in compressed sparse row form.

    ``start`` has one entry per row plus one; the nonzeros of row *i* are
    ``index[start[i]:start[i+1]]`` (column numbers) and ``value[...]``. Infinite bounds are
    ``inf``. ``integer`` marks integer columns.
    """

    cost: Array
    col_lower: Array
    col_upper: Array
    row_lower: Array
    row_upper: Array
    start: Array
    index: Array
    value: Array
    integer: Array

    @property
    def rows(self) -> int:
        """Number of rows."""
        return len(self.row_lower)

    @property
    def cols(self) -> int:
        """Number of columns."""
        return len(self.cost)


@dataclass(frozen=True)
class Scaling:
    """Power-of-two factors: ``row`` (r), ``col`` (c), ``cost`` (rho), ``size`` (gamma)."""

    row: Array
    col: Array
    cost: float
    size: float


def identity(lp: MatrixLp) -> Scaling:
    """Factors that change nothing."""
    return Scaling(np.ones(lp.rows), np.ones(lp.cols), 1.0, 1.0)


def _log_abs(values: Array) -> Array:
    return np.log2(np.abs(values))


def _centre(logs: Array, groups: Array, count: int) -> Array:
    """Per group, minus the midpoint of its smallest and largest log-magnitudes (0 if empty)."""
    low = np.full(count, np.inf)
    high = np.full(count, -np.inf)
    np.minimum.at(low, groups, logs)
    np.maximum.at(high, groups, logs)
    out = np.zeros(count)
    seen = np.isfinite(low) & np.isfinite(high)  # an empty group (e.g. a row of zeros) stays 0
    out[seen] = -(low[seen] + high[seen]) / 2.0
    return out


def equilibrate(lp: MatrixLp, passes: int = PASSES,
                column_threshold: float = 0.0) -> Scaling:
    """Geometric-mean factors, rounded to powers of two (module docstring). A column whose
    factor is within ``2**column_threshold`` of 1 keeps its units (factor 1), and the rows
    are then centred again around the remaining column factors (0: every column scaled)."""
    rows = np.repeat(np.arange(lp.rows), np.diff(lp.start))
    cols = np.asarray(lp.index)
    keep = lp.value != 0
    rows, cols, logs = rows[keep], cols[keep], _log_abs(lp.value[keep])
    # the cost vector is row number ``lp.rows``; right-hand sides are column number ``lp.cols``
    priced = np.flatnonzero(lp.cost)
    rhs_rows, rhs_vals = _rhs(lp)
    integer = np.asarray(lp.integer, dtype=bool)
    ext = _Extended(np.concatenate([rows, np.full(len(priced), lp.rows), rhs_rows]),
                    np.concatenate([cols, priced, np.full(len(rhs_rows), lp.cols)]),
                    np.concatenate([logs, _log_abs(lp.cost[priced]), _log_abs(rhs_vals)]),
                    lp.rows + 1, lp.cols + 1)
    # in a MILP, integer columns and the variables' size (the last column) keep their units
    fixed = np.append(integer, True) if integer.any() else np.zeros(lp.cols + 1, dtype=bool)
    row_log, col_log = ext.passes(np.zeros(ext.n_rows), np.zeros(ext.n_cols), fixed, passes)
    if column_threshold > 0:
        kept: Array = np.round(col_log)
        kept[np.abs(kept) < column_threshold] = 0.0
        kept[-1] = 0.0
        held = np.ones(ext.n_cols, dtype=bool)
        held[-1] = fixed[-1]
        row_log, col_log = ext.passes(np.zeros(ext.n_rows), kept, held, REPASSES)
        if not fixed[-1]:
            col_log[-1] = _size_log(lp, rhs_rows, rhs_vals, row_log, col_log)
    row_f, col_f = np.exp2(np.round(row_log)), np.exp2(np.round(col_log))
    return Scaling(row_f[:-1], col_f[:-1], float(row_f[-1]), float(col_f[-1]))


@dataclass(frozen=True)
class _Extended:
    """The matrix with the cost row and right-hand-side column, as log2 magnitudes."""

    rows: Array
    cols: Array
    logs: Array
    n_rows: int
    n_cols: int

    def passes(self, row_log: Array, col_log: Array, fixed: Array,
               count: int) -> tuple[Array, Array]:
        """Alternate row and column centring ``count`` times; ``fixed`` columns do not move."""
        row_log, col_log = row_log.copy(), col_log.copy()
        for _ in range(count):
            row_log += _centre(self.logs + row_log[self.rows] + col_log[self.cols], self.rows,
                               self.n_rows)
            step = _centre(self.logs + row_log[self.rows] + col_log[self.cols], self.cols,
                           self.n_cols)
            step[fixed] = 0.0
            col_log += step
        return row_log, col_log


def _size_log(lp: MatrixLp, rhs_rows: Array, rhs_vals: Array, row_log: Array,
              col_log: Array) -> float:
    """log2 of the size factor that centres the scaled row bounds and column bounds together
    (a column bound scales as size / column factor, so the passes above cannot see it)."""
    bounds = np.stack([lp.col_lower, lp.col_upper])
    finite = np.isfinite(bounds) & (bounds != 0)
    logs = np.concatenate([_log_abs(rhs_vals) + row_log[rhs_rows],
                           _log_abs(bounds[finite]) - np.broadcast_to(col_log[:-1],
                                                                      bounds.shape)[finite]])
    return float(-(logs.min() + logs.max()) / 2.0) if len(logs) else 0.0


def _rhs(lp: MatrixLp) -> tuple[Array, Array]:
    """(row, value) of every finite nonzero row bound (a range row contributes both)."""
    out_rows, out_vals = [], []
    for bound in (lp.row_lower, lp.row_upper):
        ok = np.flatnonzero(np.isfinite(bound) & (bound != 0))
        out_rows.append(ok)
        out_vals.append(bound[ok])
    rows, vals = np.concatenate(out_rows), np.concatenate(out_vals)
    same = (lp.row_lower == lp.row_upper)[rows]  # an equality row counts once
    first = np.ones(len(rows), dtype=bool)
    first[len(out_rows[0]):] = ~same[len(out_rows[0]):]
    return rows[first], vals[first]


def scale(lp: MatrixLp, s: Scaling) -> MatrixLp:
    """The scaled model the solver sees."""
    rows = np.repeat(np.arange(lp.rows), np.diff(lp.start))
    return replace(
        lp,
        cost=s.cost * lp.cost * s.col,
        col_lower=s.size * lp.col_lower / s.col,
        col_upper=s.size * lp.col_upper / s.col,
        row_lower=s.size * s.row * lp.row_lower,
        row_upper=s.size * s.row * lp.row_upper,
        value=lp.value * s.row[rows] * s.col[lp.index],
    )


@dataclass(frozen=True)
class Solution:
    """Primal and dual values (row activities included) of one LP."""

    col_value: Array
    col_dual: Array
    row_value: Array
    row_dual: Array


def unscale_solution(s: Scaling, scaled: Solution) -> Solution:
    """The scaled model's solution in the original model's units (module docstring)."""
    return Solution(
        col_value=np.asarray(scaled.col_value) * s.col / s.size,
        col_dual=np.asarray(scaled.col_dual) / (s.cost * s.col),
        row_value=np.asarray(scaled.row_value) / (s.size * s.row),
        row_dual=np.asarray(scaled.row_dual) * s.row / s.cost,
    )
