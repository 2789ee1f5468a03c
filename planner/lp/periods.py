r"""The roadmap LP: the placement LP of ``planner.lp.build`` over periods, tied by the fleet.

Formulation (periods :math:`t = 0..N-1`; every symbol of ``planner.lp.build`` gains the
period index :math:`t` and keeps its meaning there)
===========================================================================================

Each period's block is ``build_lp`` itself on that period's inputs (:class:`PeriodInput`:
the jobs active in it, their request rates, the dated power caps; horizon = the period), joined
to one problem by a :class:`~planner.lp.build.PeriodLink`, so there is one copy of every
constraint family. The link changes four things in the block: owned units are bounded by the
fleet held, :math:`\mathrm{own}_{tsh} \le \mathrm{held}_{tsh}` (``inventory``); a site's power
row gets the power built so far, :math:`\ldots \le \bar P_{ts} + \sum_{\tau + \ell^b_s \le t}
\mathrm{build}_{\tau s}` (``site_power``); a pretraining or post-training job's work rows ask
for :math:`\mathrm{share}_{tj}` of its work instead of all of it (``work``); and the objective
is set here. Inside a block nothing is bought (purchases are decided here); rentals and CPU
servers stay per period, at the block's prices.

Variables added here (all :math:`\ge 0`; integer with ``integer=True`` except MW and shares):

- ``order[t,s,h]`` units of *h* ordered at *s* in period *t*, in service from period
  :math:`t + \ell_h` (the lead time in periods) for as long as their life lasts
  (:math:`A_{\tau t} = 1` when an order of period :math:`\tau` is in service in period *t*).
- ``held[t,s,h]`` units owned at *s* in period *t*.
- ``build[t,s]`` MW of site power ordered in period *t*, available from :math:`t + \ell^b_s`.
- ``share[t,j]`` share of job *j*'s work done in period *t* (jobs with a window).

Rows added here:

- ``fleet_balance[t,s,h]`` (units): :math:`\mathrm{held}_t = \mathrm{held}_{t-1} +
  \mathrm{arrivals}_t - \mathrm{retirements}_t`, arrivals the orders entering service in *t*,
  retirements those (and the initial units, with their purchase dates) reaching the end of
  their life; initial units are constants :math:`I_{tsh}` (``held[-1] = 0``).
- ``order_limit[t,s,h]``: :math:`\mathrm{order}_{tsh} \le` the units that may be bought per
  period (none before the system can be delivered: orders whose arrival precedes its
  ``available_from`` date, or that would arrive after the horizon, do not exist).
- ``buildout_limit[s]`` (MW): :math:`\sum_t \mathrm{build}_{ts} \le` the build-out limit.
- ``job_window[j]``: :math:`\sum_t \mathrm{share}_{tj} \ge w_j`, the share of the job's window
  inside the horizon (1 when it all is); the LP chooses when, within the window, work is done.
- ``period_budget[t]`` (USD, undiscounted spend of the period) and ``budget`` (NPV) when given.

Objective (minimise; in units of ``usd_scale``, the largest coefficient): the net present
value :math:`\sum_t \delta_t (C_t + \sum_{s,h} p_{tsh}\,\mathrm{order}_{tsh} + \sum_s
q_s\,\mathrm{build}_{ts}) - \delta_E\,(\sum \rho_{\tau sh} p_{\tau sh}\,\mathrm{order}_{\tau sh}
+ \sum \rho^b_{\tau s} q_s\,\mathrm{build}_{\tau s})` with :math:`\delta_t = (1 + r)^{-y_t}`
the discount factor at the period's start (:math:`y_t` years after the first period's start),
:math:`\delta_E` at the horizon's end, :math:`C_t` the block's own costs (energy and
colocation of units switched on, rentals, CPU servers, egress: ``planner.lp.costs`` over the
period), :math:`p` the price per unit when ordered (capital is paid at purchase) and
:math:`\rho` the share of the purchase still in its life at the horizon's end (straight-line
remaining value, so the last periods are not biased against buying; PyPSA's multi-period
investment and GenX treat the end of the horizon the same way, by charging only the life used).
Units owned at the start are sunk: they cost energy and colocation when switched on.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from planner.lp.build import MW, BuiltLp, PeriodLink, add_row, build_lp
from planner.lp.index import lp_safe
from planner.lp.inputs import PlanningInputs

__all__ = [
    "BuildoutInput",
    "PeriodInput",
    "PoolSupplyInput",
    "RoadmapInputs",
    "RoadmapLp",
    "build_roadmap_lp",
]

Pairs = list[tuple[Any, float]]


@dataclass(frozen=True, slots=True)
class PeriodInput:
    """One period: its name, dates, length, discount factor and the block's inputs.

    ``inputs`` is ``None`` when no job runs in the period (the fleet still carries over).
    ``power_cap_w`` is each site's dated power before any build-out.
    """

    name: str
    start: str
    end: str
    seconds: float
    discount: float
    inputs: PlanningInputs | None
    power_cap_w: dict[str, float]


@dataclass(frozen=True, slots=True)
class PoolSupplyInput:
    """Units of one system at one site over the periods.

    ``initial[t]``: units owned before the roadmap and still in their life in period *t*.
    ``price_usd[t]``: price of a unit ordered in period *t* (``None``: cannot be ordered then).
    ``limit[t]``: units that may be ordered in period *t*. ``in_service[tau][t]``: an order of
    period ``tau`` is in service in period *t*. ``remaining[tau]``: share of its price still in
    its life at the horizon's end.
    """

    site: str
    system: str
    initial: tuple[int, ...]
    price_usd: tuple[float | None, ...]
    limit: tuple[float, ...]
    in_service: tuple[tuple[bool, ...], ...]
    remaining: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class BuildoutInput:
    """Site power that may be built: USD per W, lead time in periods, limit (W), remaining
    share of its cost at the horizon's end per ordering period."""

    site: str
    usd_per_w: float
    lead_periods: int
    limit_w: float
    remaining: tuple[float, ...]


@dataclass(frozen=True)
class RoadmapInputs:
    """Everything the roadmap LP reads, as plain numbers (``planner.roadmap_inputs`` fills it)."""

    periods: tuple[PeriodInput, ...]
    pools: tuple[PoolSupplyInput, ...]
    buildouts: tuple[BuildoutInput, ...]
    windows: dict[str, float]  # job -> share of its window inside the horizon
    end_discount: float
    budget_npv_usd: float | None = None
    budget_per_period_usd: float | None = None


@dataclass
class RoadmapLp:
    """The problem, its period blocks and the handles of the roadmap's own variables."""

    lp: BuiltLp  # the whole problem, as the solver sees it (rows and variables of every block)
    inputs: RoadmapInputs
    blocks: dict[str, BuiltLp]
    order: dict[tuple[int, str, str], Any] = field(default_factory=dict)
    held: dict[tuple[int, str, str], Any] = field(default_factory=dict)
    build: dict[tuple[int, str], Any] = field(default_factory=dict)
    share: dict[tuple[int, str], Any] = field(default_factory=dict)
    # (period index, cost part) -> (variable, undiscounted USD) pairs
    parts: dict[tuple[int, str], Pairs] = field(default_factory=lambda: defaultdict(list))


def build_roadmap_lp(ri: RoadmapInputs, *, integer: bool = False) -> RoadmapLp:
    """Build the roadmap LP described in this module's docstring."""
    import pulp

    prob = pulp.LpProblem("roadmap", pulp.LpMinimize)
    names: dict[str, int] = {}
    variables: dict[str, dict[tuple[str, ...], Any]] = defaultdict(dict)

    def var(family: str, key: tuple[Any, ...], *, whole: bool) -> Any:
        text = lp_safe(f"{family}_{','.join(str(k) for k in key)}")
        names[text] = names.get(text, 0) + 1
        cat = pulp.LpInteger if whole and integer else pulp.LpContinuous
        made = prob.add_variable(text, lowBound=0, cat=cat)
        variables[family][tuple(str(k) for k in key)] = made
        return made

    rm_order: dict[tuple[int, str, str], Any] = {}
    rm_held: dict[tuple[int, str, str], Any] = {}
    for pool in ri.pools:
        for t, period in enumerate(ri.periods):
            rm_held[(t, pool.site, pool.system)] = var(
                "held", (period.name, pool.site, pool.system), whole=True)
            if pool.price_usd[t] is not None and pool.limit[t] > 0:
                rm_order[(t, pool.site, pool.system)] = var(
                    "order", (period.name, pool.site, pool.system), whole=True)
    rm_build = {(t, b.site): var("build", (p.name, b.site), whole=False)
                for b in ri.buildouts for t, p in enumerate(ri.periods)
                if t + b.lead_periods < len(ri.periods)}
    rm_share = {(t, job.id): var("share", (p.name, job.id), whole=False)
                for t, p in enumerate(ri.periods) if p.inputs is not None
                for job in p.inputs.jobs if job.id in ri.windows}

    blocks: dict[str, BuiltLp] = {}
    for t, period in enumerate(ri.periods):
        if period.inputs is None:
            continue
        link = PeriodLink(
            period=period.name, prob=prob, names=names,
            held={(s, h): v for (tt, s, h), v in rm_held.items() if tt == t},
            power={s: (cap, [(rm_build[(tau, b.site)], 1.0) for b in ri.buildouts
                             if b.site == s for tau in range(t - b.lead_periods + 1)
                             if (tau, b.site) in rm_build])
                   for s, cap in period.power_cap_w.items()},
            share={j: v for (tt, j), v in rm_share.items() if tt == t})
        blocks[period.name] = build_lp(period.inputs, integer=integer, link=link)

    whole = _merged(prob, ri, blocks, integer, variables, names)
    rm = RoadmapLp(whole, ri, blocks, rm_order, rm_held, rm_build, rm_share)
    _add_fleet_balance(rm)
    _add_limits(rm)
    _collect_parts(rm)
    _set_objective(rm)
    _add_budgets(rm)
    for block in blocks.values():  # duals of block rows are in the roadmap's objective units
        block.usd_scale = whole.usd_scale
    return rm


def _merged(prob: Any, ri: RoadmapInputs, blocks: dict[str, BuiltLp], integer: bool,
            variables: dict[str, dict[tuple[str, ...], Any]], names: dict[str, int]) -> BuiltLp:
    """One BuiltLp over the whole problem: every block's variables and rows keyed by
    (period, *key), plus the roadmap's own variables, so the solver and its rounding
    (``planner.lp.solve``) see the roadmap as one LP."""
    first = next(iter(blocks.values()))  # solve_roadmap refuses a roadmap without any job
    whole = BuiltLp(prob, first.index, "cost", integer, False, names=names,
                    blocks=tuple(blocks.values()))
    for name, block in blocks.items():
        for family, table in block.vars.items():
            for key, v in table.items():
                whole.vars[family][(name, *key)] = v
        for (family, key), row in block.rows.items():
            whole.rows[(family, (name, *key))] = row
    for family, table in variables.items():
        whole.vars[family].update(table)
    return whole


def _row(rm: RoadmapLp, family: str, key: tuple[Any, ...], pairs: Pairs, sense: str,
         rhs: float, unit_size: float) -> None:
    """One row of a roadmap family (registered in ``planner.lp.families``)."""
    add_row(rm.lp, family, tuple(str(k) for k in key), pairs, sense, rhs, unit_size)


def _add_fleet_balance(rm: RoadmapLp) -> None:
    """fleet_balance[t,s,h]: held = held before + arrivals - retirements (initial units as
    constants on the right)."""
    ri = rm.inputs
    for pool in ri.pools:
        s, h = pool.site, pool.system
        for t, period in enumerate(ri.periods):
            pairs: Pairs = [(rm.held[(t, s, h)], 1.0)]
            if t > 0:
                pairs.append((rm.held[(t - 1, s, h)], -1.0))
            for tau in range(len(ri.periods)):
                order = rm.order.get((tau, s, h))
                if order is None:
                    continue
                now = pool.in_service[tau][t]
                before = t > 0 and pool.in_service[tau][t - 1]
                if now and not before:
                    pairs.append((order, -1.0))  # arrives
                elif before and not now:
                    pairs.append((order, 1.0))  # reaches the end of its life
            change = pool.initial[t] - (pool.initial[t - 1] if t > 0 else 0)
            _row(rm, "fleet_balance", (period.name, s, h), pairs, "=", float(change), 1.0)


def _add_limits(rm: RoadmapLp) -> None:
    """order_limit[t,s,h], buildout_limit[s] and job_window[j]."""
    ri = rm.inputs
    for pool in ri.pools:
        for t, period in enumerate(ri.periods):
            order = rm.order.get((t, pool.site, pool.system))
            if order is not None:
                _row(rm, "order_limit", (period.name, pool.site, pool.system),
                     [(order, 1.0)], "<=", pool.limit[t], 1.0)
    for b in ri.buildouts:
        pairs = [(v, 1.0) for (t, s), v in rm.build.items() if s == b.site]
        if pairs:
            _row(rm, "buildout_limit", (b.site,), pairs, "<=", b.limit_w / MW, MW)
    for job, need in ri.windows.items():
        pairs = [(v, 1.0) for (t, j), v in rm.share.items() if j == job]
        _row(rm, "job_window", (job,), pairs, ">=", need, 1.0)


def _collect_parts(rm: RoadmapLp) -> None:
    """Undiscounted USD per period and cost part: each block's own costs, purchases at their
    price, power build-out, and (last period) the remaining value credited back."""
    ri = rm.inputs
    last = len(ri.periods) - 1
    index = {p.name: t for t, p in enumerate(ri.periods)}
    for name, block in rm.blocks.items():
        for part, pairs in block.cost_parts.items():
            rm.parts[(index[name], part)].extend(pairs)
    # the remaining value, discounted to the horizon's end, as a part of the last period
    back = ri.end_discount / ri.periods[last].discount
    for pool in ri.pools:
        for t, _ in enumerate(ri.periods):
            order = rm.order.get((t, pool.site, pool.system))
            price = pool.price_usd[t]
            if order is None or price is None:
                continue
            rm.parts[(t, "purchase")].append((order, price))
            if pool.remaining[t] > 0:
                rm.parts[(last, "remaining_value")].append(
                    (order, -price * pool.remaining[t] * back))
    for b in ri.buildouts:
        for (t, s), v in rm.build.items():
            if s != b.site:
                continue
            rm.parts[(t, "power_buildout")].append((v, b.usd_per_w * MW))
            if b.remaining[t] > 0:
                rm.parts[(last, "remaining_value")].append(
                    (v, -b.usd_per_w * MW * b.remaining[t] * back))


def _discounted(rm: RoadmapLp) -> Pairs:
    """(variable, discounted USD) of every cost part of every period."""
    return [(v, c * rm.inputs.periods[t].discount) for (t, _), pairs in rm.parts.items()
            for v, c in pairs]


def _set_objective(rm: RoadmapLp) -> None:
    """Minimise the NPV (in units of the largest coefficient, ``usd_scale``)."""
    import pulp

    pairs = _discounted(rm)
    rm.lp.usd_scale = max((abs(c) for _, c in pairs if c), default=1.0)
    coef: dict[Any, float] = {}
    for v, c in pairs:
        coef[v] = coef.get(v, 0.0) + c / rm.lp.usd_scale
    rm.lp.prob.setObjective(pulp.LpAffineExpression(coef))


def _add_budgets(rm: RoadmapLp) -> None:
    """budget (NPV) and period_budget[t] (undiscounted spend of a period)."""
    ri, scale = rm.inputs, rm.lp.usd_scale
    if ri.budget_npv_usd is not None:
        _row(rm, "budget", (), [(v, c / scale) for v, c in _discounted(rm)], "<=",
             ri.budget_npv_usd / scale, scale)
    if ri.budget_per_period_usd is not None:
        for t, period in enumerate(ri.periods):
            pairs = [(v, c / scale) for (tt, part), ps in rm.parts.items()
                     if tt == t and part != "remaining_value" for v, c in ps]
            if pairs:
                _row(rm, "period_budget", (period.name,), pairs, "<=",
                     ri.budget_per_period_usd / scale, scale)

