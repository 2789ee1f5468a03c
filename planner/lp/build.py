r"""Build the placement LP (or MILP with ``integer=True``) from the planning-inputs table.

Formulation
===========

Sets
----
- :math:`S` sites, :math:`H` systems, :math:`J` jobs, :math:`R_j` roles of job *j*.
  :math:`R^C_j \subseteq R_j` are CPU roles (no accelerator throughput), the rest accelerator
  roles. :math:`Q \subseteq S\times H` pools where units may exist (owned, buyable or rentable).
- :math:`P = \{(j,r,s,h)\}` placements: :math:`\theta_{jrh} > 0` and :math:`(s,h) \in Q`
  (serving roles only at sites inside one of the job's catchments).
- :math:`E` directed arcs: each link gives (a,b) and (b,a), each with the full bandwidth.
- :math:`K_j` data kinds of a job on links: :math:`\{\text{samples}, \text{kept},
  \text{weights}\}` for an RL job spread over sites (:math:`J^F`: not single-site, and the
  fleet has links), :math:`\{\text{weights}, \text{gradients}\}` for a synchronous job
  allowed to span sites (:math:`J^Y \subseteq J^F`, ``sync_bytes`` > 0).
- :math:`H_{jr}` system types a homogeneous role *r* of job *j* may run on (two or more; a
  job's ``systems`` option removes the others from *P*); :math:`J^M` jobs spread over chosen
  sites (``max_sites`` below the number of sites, or :math:`J^Y`).
- :math:`G_j` regions of serving job *j*; catchment :math:`C_{jg} = \{s : \ell(s,g) \le L_j\}`
  with :math:`\ell` the shortest-path latency from *s* to the nearest site of region *g*
  (every site for the region ``*``, demand without a home region).
- Site-choice groups: every role of a single-site job; the update role of a spread RL job.

Parameters (SI units)
---------------------
- :math:`T_j` job horizon (s); :math:`T = \max_j T_j` scenario horizon: units are shared by all
  jobs and held for all of *T* (no time-sharing between jobs of different horizons).
- :math:`W_{jr}` work (role's own unit), :math:`\hat W_{jr} = W_{jr}` (or 1 if zero) its scale;
  :math:`\theta_{jrh}` work units/s per unit; :math:`c_{jr}` CPU core-seconds per work unit.
- System *h*: :math:`P_h` W per unit, :math:`n_h` host cores, price, rental USD/s.
- Site *s*: :math:`\bar P_s` facility power cap (W), :math:`\mathrm{pue}_s`, electricity USD/J,
  colocation USD/(W s), :math:`\mathrm{inv}_{sh}`, purchase and rental limits,
  :math:`\mathrm{cinv}_s` CPU servers on hand, :math:`\mathrm{cbuy}_s` CPU purchase limit.
- CPU server: :math:`n_c` cores, :math:`P_c` W. Link (a,b): :math:`B_{ab}` B/s each way,
  :math:`\epsilon_{ab}` USD/B.
- RL job: :math:`\sigma` bytes/sample, verified fraction :math:`v`, keep fraction :math:`k`,
  weights :math:`\omega` = weight bytes x policy updates; roles g(enerate), c (score), v(erify),
  u(pdate). Serving job: rates :math:`\rho_{jg}` requests/s, :math:`\rho_j = \sum_g\rho_{jg}`.
- Costs per variable over *T*: see ``planner.lp.costs`` (capital recovery factor, energy
  = P x PUE x price x T, colocation = P x price x T, rental = price x T, egress = bytes x USD/B).

Variables (all :math:`\ge 0`)
-----------------------------
- ``place[j,r,s,h]`` units of *h* at *s* busy with role *r*'s work (continuous in both
  modes); ``whole[j,r,s,h]`` (integer mode only, integer): the whole units assigned to it.
- ``cpu_work[j,r,s]`` share of CPU role *r*'s work done at *s* (work / :math:`\hat W`).
- ``units[s,h]`` = ``own`` (inventory switched on) + ``buy`` + ``rent``; ``cpu_on[s]``,
  ``cpu_buy[s]`` CPU servers on hand used / bought. Integer with ``integer=True``.
- ``ship[j,k,a,b]`` GB (1e9 bytes) of kind *k* sent over arc (a,b) within :math:`T_j`.
- ``alloc[j,g,s]`` share of region *g*'s request rate served at *s*.
- ``pick[j,s]`` in [0, 1]: the site chosen for job *j*'s group (binary with ``integer=True``).
- ``gen_on[j,s]`` in [0, 1]: site *s* generates samples for spread RL job *j* (binary
  likewise).
- ``sys_pick[j,r,h]`` in [0, 1]: homogeneous role *r* runs on system type *h*;
  ``site_on[j,s]`` in [0, 1]: job :math:`j \in J^M` holds units at *s*; ``hub[j,s]`` in
  [0, 1]: site *s* averages the gradients of :math:`j \in J^Y` (all binary with
  ``integer=True``, rounded or solved as binaries alone in LP mode, ``planner.lp.solve``).
- ``lambda`` throughput multiplier (time objective only).

Derived: work done :math:`D_{jrs} = \sum_h \theta_{jrh} T_j\,\mathrm{place}_{jrsh}`;
generated samples :math:`\Gamma_{js} = D_{j g s}`.

Objectives
----------
- ``cost`` (minimise): amortised purchases of systems and CPU servers
  (bought; owned inventory too when ``charge_inventory_capex``) + rental + energy and colocation
  of owned, bought and on-hand units and CPU servers + egress :math:`\sum \epsilon\cdot`bytes.
  Inventory already owned costs energy and colocation only: its capital is sunk. Rented units
  pay only their rental price (cloud prices include power and space) but still count against the
  site's power cap. Inside the LP, cost (objective and ``budget`` row) is divided by the largest
  cost coefficient (``usd_scale``): the LP is then bit-for-bit the same when every price is
  multiplied by a power of two (or the currency changes), so the plan cannot change with it.
- ``time`` (maximise :math:`\lambda`): every pretraining and post-training job does
  :math:`\lambda W_{jr}` work within :math:`T_j`, i.e. finishes at
  :math:`F_j = T_j/\lambda` (reported per job as ``finish_s``); serving demand stays as given.
  Lexicographic: once :math:`\lambda^*` is found, ``speed_floor``:
  :math:`\lambda \ge (1 - 10^{-9})\lambda^*` is added and cost is minimised, so the plan is
  the cheapest of the fastest. The LP still prices units held for the horizon *T* (a rate times
  a fixed time keeps it linear); since :math:`\lambda` is then fixed, minimising cost over *T*
  is minimising the cost rate, hence the cost to completion when every job shares one horizon.
  What is reported as the cost of the work is the *cost to completion* of each job
  (``planner.lp.extract``): its share of each pool's cost (its share of the units placed
  there; of CPU servers, its share of the busy cores) held for :math:`F_j` instead of *T*
  (rented units are held, owned and bought ones amortised, over the time they are used;
  energy for the time they run), plus the egress of the whole work
  (:math:`\mathrm{ship}/\lambda`). The same figure with the cost objective uses
  :math:`F_j = T_j/p_j`, :math:`p_j` the least share of the work done over the job's work rows
  (1 when it finishes on its deadline).

Constraints
-----------
``work[j,r]`` (pretrain/post-train roles, except an RL job's score and verify roles which the
coupling implies): :math:`\sum_{s,h}\theta T_j\,\mathrm{place}/\hat W \ge 1` (cost) or
:math:`\ge \lambda` (time); CPU roles: :math:`\sum_s \mathrm{cpu\_work}_{jrs} \ge 1`
(or :math:`\lambda`).

``capacity[s,h]``: :math:`\sum_{j,r}\mathrm{place}_{jrsh} \le \mathrm{units}_{sh}`
(integer mode: :math:`\sum_{j,r}\mathrm{whole}_{jrsh} \le \mathrm{units}_{sh}` with
``whole_units[j,r,s,h]``: :math:`\mathrm{place} \le \mathrm{whole}`, so every placement
is whole units while the work it does, which the RL coupling ties to other roles, may be less
than they could do).

``provision[s,h]``: :math:`\mathrm{units} = \mathrm{own} + \mathrm{buy} + \mathrm{rent}`.

``inventory[s,h]``: own :math:`\le \mathrm{inv}_{sh}`; ``purchase_limit[s,h]``: buy :math:`\le`
limit; ``rental_limit[s,h]``: rent :math:`\le` limit. ``own``, ``buy`` and ``rent`` (and their
rows) exist only where the inventory, purchase limit or rental limit (with a rental price) is
positive.

``cpu_inventory[s]``: cpu_on :math:`\le \mathrm{cinv}_s`; ``cpu_purchase_limit[s]``:
cpu_buy :math:`\le \mathrm{cbuy}_s`.

``site_power[s]`` (MW): :math:`\mathrm{pue}_s(\sum_h P_h\,\mathrm{units}_{sh} +
P_c(\mathrm{cpu\_on}_s + \mathrm{cpu\_buy}_s)) \le \bar P_s`.

``site_cpu[s]`` (thousands of cores): cores needed
:math:`\sum c_{jr}\theta_{jrh}\mathrm{place}_{jrsh} + \sum_{r \in R^C} c_{jr}\hat W_{jr}
\mathrm{cpu\_work}_{jrs}/T_j \le \sum_h n_h\,\mathrm{units}_{sh} + n_c(\mathrm{cpu\_on}_s +
\mathrm{cpu\_buy}_s)`: host cores of every unit there (its CPU:accelerator ratio) minus what
its own roles need, plus CPU-only servers. Core-seconds are spread evenly over each job's horizon.

``link_bw[a,b]`` (GB per scenario horizon): :math:`\sum_{j,k}\mathrm{ship}_{jkab}\,T/T_j \le
B_{ab}T/10^9`: each job's bytes move at an even rate over its own horizon.

``single_site[j]`` (single-site jobs) / ``update_site[j]`` (spread RL jobs):
:math:`\sum_s \mathrm{pick}_{js} = 1`, with ``site_choice[j,s]`` (MW):
:math:`\mathrm{pue}_s\sum_{r \in grp, h} P_h\,\mathrm{place}_{jrsh}
\le M^P_{js}\,\mathrm{pick}_{js}`
and, for CPU roles in the group, ``site_choice_cpu[j,s]`` (thousands of cores):
:math:`\sum c\,\hat W\,\mathrm{cpu\_work}/T_j \le M^C_{js}\,\mathrm{pick}_{js}`.
:math:`M^P = \bar P_s` and :math:`M^C = (\bar P_s/\mathrm{pue}_s)\max(\text{cores per W})` are
exact bounds, so the LP relaxation says "the group uses at most one site's worth of capacity,
counted in fractions of each site's cap". Binary in ``integer`` mode; in LP mode the solver then
rounds (``planner.lp.solve``): it fixes every pick to the site holding most of the group's
power and every ``gen_on`` to whether the site generates, and re-solves.

``serve[j,g]``: :math:`\sum_{s \in C_{jg}} \mathrm{alloc}_{jgs} \ge 1`;
``serve_capacity[j,r,s]``: :math:`D_{jrs}/\hat W_{jr} \ge \sum_g (\rho_{jg}/\rho_j)
\mathrm{alloc}_{jgs}` (each role's work per request is :math:`W_{jr}/(\rho_j T_j)`). Request
and response bytes are not put on links: serving stays within the latency catchment.

RL coupling, for each RL job *j* and site *s* (all in GB of samples unless noted):

- ``score[j,s]`` (share of scoring work): :math:`D_{jcs}/\hat W_{jc} \ge \Gamma_{js}/W_{jg}`:
  scoring runs where samples are generated.
- ``verify_flow[j,s]`` (equality): :math:`v\sigma\Gamma_{js}/10^9 + \mathrm{in} - \mathrm{out}
  = \sigma\hat W_{jv}\mathrm{cpu\_work}_{jvs}/10^9`: generated samples needing verification are
  verified on this site's cores or shipped (possibly over several hops) to a site that does.
- ``kept_flow[j,s]``: :math:`k\sigma(\hat W_{jv}\mathrm{cpu\_work}_{jvs} + (1-v)\Gamma_{js})
  /10^9 + \mathrm{in} - \mathrm{out} \ge k\sigma (W_{jg}/W_{ju}) D_{jus}/10^9`: kept samples
  leave from where they were verified (or generated, if unverified) and reach the update site
  in proportion to the update work done there; surplus is dropped.
- ``generates[j,s]`` (spread jobs only): :math:`\Gamma_{js}/M^g_{js} \le
  \mathrm{gen\_on}_{js}`, with
  :math:`M^g_{js}` the most samples the site's power could generate in :math:`T_j` (and at most
  :math:`W_{jg}` for the cost objective).
- ``weights_flow[j,s]`` (spread jobs only): :math:`\mathrm{in} - \mathrm{out} +
  \omega|S|\,\mathrm{pick}_{js}/10^9 \ge \omega\,\mathrm{gen\_on}_{js}/10^9`: every generating
  site receives the updated weights (:math:`\omega` bytes) from the update site, which may send
  any amount. Exact with binaries; in LP mode ``gen_on`` is the tightest linear relaxation
  (the share of the site's generating capacity used), made exact by the rounding re-solve.

``one_system[j,r]``: :math:`\sum_{h \in H_{jr}} \mathrm{sys\_pick}_{jrh} = 1` and
``system_choice[j,r,h]`` (MW): :math:`\sum_s \mathrm{pue}_s P_h \mathrm{place}_{jrsh} \le
\bar P\,\mathrm{sys\_pick}_{jrh}` (:math:`\bar P` the fleet's power): a synchronous
data-parallel role (pretraining, the RL update; ``homogeneous``) steps together on one system
type.

``site_use[j,s]`` (MW, :math:`j \in J^M`): :math:`\mathrm{pue}_s\sum_{r,h} P_h
\mathrm{place}_{jrsh} \le \bar P_s\,\mathrm{site\_on}_{js}`; ``max_sites[j]``:
:math:`\sum_s \mathrm{site\_on}_{js} \le` ``max_sites``.

Synchronous job spanning sites (:math:`j \in J^Y`), with :math:`\gamma_j` = ``sync_bytes``
(GB): each site holding part of it sends its reduced gradients to one hub and receives the
averaged weights back, :math:`\gamma_j` each way over the job (``planner.scenario``: 2 bytes
per parameter every ``cross_site_sync_every`` steps; hierarchical all-reduce through a hub, or
DiLoCo outer steps). ``one_hub[j]``: :math:`\sum_s \mathrm{hub}_{js} = 1`;
``hub_on_site[j,s]``: :math:`\mathrm{hub}_{js} \le \mathrm{site\_on}_{js}`;
``sync_weights[j,s]``: :math:`\mathrm{in} - \mathrm{out} + \gamma_j|S|\,\mathrm{hub}_{js}
\ge \gamma_j\,\mathrm{site\_on}_{js}` (weights kind); ``sync_gradients[j,s]``:
:math:`\mathrm{out} - \mathrm{in} + \gamma_j|S|\,\mathrm{hub}_{js} \ge
\gamma_j\,\mathrm{site\_on}_{js}` (gradients kind). The bytes move at an even rate over
:math:`T_j` on ``link_bw``, which then limits how far the job may spread. The hub may be a
relay site holding none of the job's units (averaging needs no accelerators); it then counts
as one of its ``max_sites``. As with the RL
weights, they are those of the whole work whatever :math:`\lambda` (time objective).

``budget``: total cost :math:`\le` budget. ``lambda_cap``: :math:`\lambda \le 10^4`
(time objective; keeps instances without time-bound work bounded).

Every row family named here is registered in ``planner.lp.families`` (its reported kind, unit,
elastic penalty and diagnosis wording); ``_row`` refuses an unregistered name, and the
bottleneck report and the diagnosis read the registry, so a new family is one registry entry
plus its rows here (``docs/extending.md``).

Elastic build (``elastic=True``, used only to diagnose infeasibility): ``site_power``,
``site_cpu``, ``purchase_limit`` (``buy`` exists in every pool of a system some role can use,
with limit 0 where none is given), ``link_bw``, ``work``, ``serve`` and ``budget`` get a
penalised slack variable ``slack[row]``; the objective becomes
:math:`\sum \mathrm{penalty}\cdot\mathrm{slack}`, with penalties that make one MW, the power
of one unit, 10^5 CPU cores, 10^6 GB over the horizon and 10^9 USD comparable and unmet demand
10^4 times dearer, so the diagnosis names capacity before demand; buying a system where its
purchase limit is 0 costs 10 times more than raising a limit that exists. Its big-M bounds no longer
depend on site power (``planner.lp.index``), since power itself is relaxed.

Periods (``planner roadmap``)
-----------------------------
A roadmap adds the period set :math:`t = 0..N-1` to this formulation; it is not a second
model. Every variable and row above gains the index *t* (``place[t,j,r,s,h]``,
``site_power[t,s]``, ...) and means the same thing within period *t*, whose horizon is the
period (jobs: the overlap of their window with it; serving: the period's request rates).
``build_lp(inputs_t, link=PeriodLink(...))`` adds period *t*'s rows to the roadmap's one
problem with four changes (:class:`PeriodLink`): ``inventory[t,s,h]`` bounds owned units by the
fleet held, :math:`\mathrm{own}_{tsh} \le \mathrm{held}_{tsh}`, and nothing is bought
inside a period; ``site_power[t,s]`` has the dated cap plus the power built and online;
``work[t,j,r]`` asks for :math:`\mathrm{share}_{tj}` of the work (with
``job_window[j]``: :math:`\sum_t \mathrm{share}_{tj} \ge w_j`); and the objective is the
net present value. The fleet carries over, :math:`\mathrm{held}_t = \mathrm{held}_{t-1} +
\mathrm{arrivals}_t - \mathrm{retirements}_t` (``fleet_balance``), arrivals being orders
placed a lead time earlier and retirements units reaching the end of their life; orders are
paid at purchase and credited back at their remaining value at the horizon's end. The rows and
variables only the roadmap has, and its objective, are in ``planner.lp.periods``; with one
period and no link this module is ``planner optimize``.

Scaling
-------
The rows above keep natural units (MW, thousands of cores, GB, work per job, cost over
``usd_scale``), which still leaves coefficients from 1e-3 to 1e7 and costs down to 1e-8 of the
largest. The solver does not see them as built: at hand-off (``planner.lp.highs``) every row
and column, the cost vector and the right-hand sides get power-of-two factors from a
geometric-mean equilibration of the built matrix (``planner.lp.scaling``), so any constraint
family added here is scaled with the rest. Values and duals are mapped back, so shadow prices
stay in the units of ``Row.unit_size``; integer columns keep their units.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from planner.lp.costs import cpu_server_costs, rental_price, system_costs
from planner.lp.families import GB, KCORES, MUSD, MW, PENALTY_NEW_PURCHASE
from planner.lp.families import family as registered_family
from planner.lp.index import LpIndex, build_index, lp_safe
from planner.lp.inputs import PlanningInputs

__all__ = [
    "GB",
    "KCORES",
    "KINDS",
    "LAMBDA_MAX",
    "MUSD",
    "MW",
    "BuiltLp",
    "Objective",
    "PeriodLink",
    "Row",
    "add_row",
    "build_lp",
]

Objective = Literal["cost", "time"]
LAMBDA_MAX = 1e4
SPEED_TOLERANCE = 1e-9  # speed_floor keeps lambda within this fraction of its optimum
KINDS = ("samples", "kept", "weights")

Key = tuple[str, ...]
Pairs = list[tuple[Any, float]]


@dataclass(frozen=True, slots=True)
class Row:
    """One named constraint: its family, key, sense and the size of one row unit.

    ``unit_size`` is how many natural units (W, cores, B/s, work units, requests/s, USD, units)
    one unit of the row's right-hand side stands for, so that a dual divided by it is per
    natural unit.
    """

    family: str
    key: Key
    sense: str
    unit_size: float
    constraint: Any


@dataclass(frozen=True)
class PeriodLink:
    """What ties one period's block into a roadmap LP (``planner.lp.periods``).

    ``build_lp(inputs, link=...)`` adds the block's variables and rows to ``prob`` (names
    prefixed with the period, so they stay unique in ``names``) and changes four things, all
    else being the one-period formulation above: units owned at a pool are at most ``held``
    (the roadmap's fleet variable) instead of the inventory; a site's power row has its dated
    cap ``power[s][0]`` (W) on the right and the power built up to this period (``power[s][1]``,
    MW pairs) added to it; a pretraining or post-training job's work rows ask for ``share[j]``
    (the share of its work done in this period) instead of 1; and no objective is set.
    """

    period: str
    prob: Any
    names: dict[str, int]
    held: dict[tuple[str, str], Any]
    power: dict[str, tuple[float, Pairs]]
    share: dict[str, Any]


@dataclass
class BuiltLp:
    """The PuLP problem and every handle needed to read a solution back."""

    prob: Any
    index: LpIndex
    objective: Objective
    integer: bool
    elastic: bool
    vars: dict[str, dict[Key, Any]] = field(default_factory=lambda: defaultdict(dict))
    rows: dict[tuple[str, Key], Row] = field(default_factory=dict)
    slacks: dict[tuple[str, Key], tuple[Any, float]] = field(default_factory=dict)
    cost_parts: dict[str, Pairs] = field(default_factory=lambda: defaultdict(list))
    names: dict[str, int] = field(default_factory=dict)
    by_jrs: dict[Key, list[tuple[Key, Any]]] = field(default_factory=dict)
    usd_scale: float = 1.0
    arcs_at: dict[str, tuple[list[tuple[str, str]], list[tuple[str, str]]]] = field(
        default_factory=dict)
    link: PeriodLink | None = None
    blocks: tuple[BuiltLp, ...] = ()  # a roadmap's period blocks (``planner.lp.periods``)

    def by_jrs_all(self, j: str, r: str) -> list[tuple[Key, Any]]:
        """Placements of one role at every site."""
        return [item for s in self.index.sites for item in self.by_jrs.get((j, r, s), [])]

    @property
    def lam(self) -> Any | None:
        """The throughput multiplier variable (time objective), else None."""
        return self.vars["lambda"].get((), None)


def build_lp(inputs: PlanningInputs, *, objective: Objective = "cost", integer: bool = False,
             elastic: bool = False, link: PeriodLink | None = None) -> BuiltLp:
    """Build the LP (MILP when ``integer``) described in this module's docstring; with
    ``link``, one period's block of a roadmap LP (:class:`PeriodLink`)."""
    import pulp

    sense = pulp.LpMaximize if objective == "time" and not elastic else pulp.LpMinimize
    prob = link.prob if link is not None else pulp.LpProblem("placement", sense)
    index = build_index(inputs, elastic=elastic, objective=objective)
    m = BuiltLp(prob, index, objective, integer, elastic, link=link)
    if link is not None:
        m.names = link.names
    _add_variables(m)
    _collect_costs(m)
    m.usd_scale = max((abs(c) for part in m.cost_parts.values() for _, c in part if c),
                      default=1.0)
    for add in (_add_work, _add_capacity, _add_limits, _add_site_power, _add_site_cpu,
                _add_links, _add_site_choice, _add_system_choice, _add_spread, _add_serve,
                _add_rl, _add_budget):
        add(m)
    if link is None:
        _set_objective(m)
    return m


# ----------------------------------------------------------------------------------------------
# Helpers


def _name(m: BuiltLp, family: str, key: Key) -> str:
    """A unique LP-file-safe name such as ``place_job,role,site,system`` (``-`` becomes ``_``)."""
    body = ",".join(key if m.link is None else (m.link.period, *key))
    text = lp_safe(f"{family}_{body}")
    count = m.names.get(text, 0)
    m.names[text] = count + 1
    return text if count == 0 else f"{text}~{count}"


def _var(m: BuiltLp, family: str, key: Key, *, integer: bool = False,
         up: float | None = None) -> Any:
    """Create and register one variable (lower bound 0)."""
    cat = "Integer" if integer and m.integer else "Continuous"
    var = m.prob.add_variable(_name(m, family, key), lowBound=0, upBound=up, cat=cat)
    m.vars[family][key] = var
    return var


def _expr(pairs: Iterable[tuple[Any, float]]) -> Any:
    """An affine expression from (variable, coefficient) pairs, summing repeated variables."""
    import pulp

    coef: dict[Any, float] = {}
    for var, value in pairs:
        coef[var] = coef.get(var, 0.0) + value
    return pulp.LpAffineExpression(coef)


def _row(m: BuiltLp, name: str, key: Key, pairs: Pairs, sense: str, rhs: float,
         unit_size: float, penalty_scale: float = 1.0) -> None:
    """Add one named constraint of a registered family (``planner.lp.families``); in the
    elastic build, a family with a penalty gets a penalised slack (its registered penalty per
    row unit times ``penalty_scale``)."""
    import pulp

    penalty = registered_family(name).penalty
    if m.elastic and penalty is not None and sense != "=":
        slack = _var(m, "slack", (name, *key))
        pairs = [*pairs, (slack, -1.0 if sense == "<=" else 1.0)]
        m.slacks[(name, key)] = (slack, penalty * penalty_scale)
    senses = {"<=": pulp.LpConstraintLE, ">=": pulp.LpConstraintGE, "=": pulp.LpConstraintEQ}
    constraint = pulp.LpConstraint(_expr(pairs), senses[sense], _name(m, name, key), rhs)
    m.prob.addConstraint(constraint)
    m.rows[(name, key)] = Row(name, key, sense, unit_size, constraint)


add_row = _row  # rows of the roadmap's own families (planner.lp.periods)


def _place_groups(m: BuiltLp, by: str) -> dict[Key, list[tuple[Key, Any]]]:
    """Placement variables grouped by (j,r), (s,h) or (j,r,s)."""
    cut = {"jr": slice(0, 2), "sh": slice(2, 4), "jrs": slice(0, 3)}[by]
    out: dict[Key, list[tuple[Key, Any]]] = defaultdict(list)
    for key, var in m.vars["place"].items():
        out[key[cut]].append((key, var))
    return out


def _theta(m: BuiltLp, key: Key) -> float:
    """Work units per second per unit of a placement key (j, r, s, h)."""
    j, r, _, h = key
    return m.index.jobs[j].role(r).throughput[h]


def _done_pairs(m: BuiltLp, j: str, r: str, s: str, scale: float) -> Pairs:
    """Work of role r at site s over the job horizon, times ``scale``: D_jrs * scale."""
    horizon = m.index.jobs[j].horizon_s
    return [(var, _theta(m, key) * horizon * scale) for key, var in m.by_jrs.get((j, r, s), [])]


# ----------------------------------------------------------------------------------------------
# Variables


def _sources(m: BuiltLp, s: str, h: str) -> tuple[str, ...]:
    """Where units of a pool can come from: own (inventory), buy, rent (only where allowed;
    the elastic build may buy anywhere)."""
    site, system = m.index.sites[s], m.index.systems[h]
    out = []
    if site.inventory.get(h, 0) > 0:
        out.append("own")
    if site.purchase_limits.get(h, 0) > 0 or m.elastic:
        out.append("buy")
    if site.rental_limits.get(h, 0) > 0 and rental_price(system, site) is not None:
        out.append("rent")
    return tuple(out)


def _add_variables(m: BuiltLp) -> None:
    """Every variable family of the formulation."""
    ix = m.index
    for s, h in ix.pools:
        for family in ("units", *_sources(m, s, h)):
            _var(m, family, (s, h), integer=True)
    for s in ix.sites:
        _var(m, "cpu_on", (s,), integer=True)
        _var(m, "cpu_buy", (s,), integer=True)
    for place in ix.place_keys:
        _var(m, "place", place)
        if m.integer:
            _var(m, "whole", place, integer=True)
    for work in ix.cpu_keys:
        _var(m, "cpu_work", work)
    for j in ix.flow_jobs:
        for kind in ix.flow_kinds[j]:
            for a, b in ix.arcs:
                _var(m, "ship", (j, kind, a, b))
    for (j, g), sites in ix.catchments.items():
        for s in sites:
            _var(m, "alloc", (j, g, s))
    for j in ix.groups:
        for s in ix.sites:
            _var(m, "pick", (j, s), integer=True, up=1)
    for j, s in ix.gen_bound:
        _var(m, "gen_on", (j, s), integer=True, up=1)
    for (j, r), systems in ix.system_choices.items():
        for h in systems:
            _var(m, "sys_pick", (j, r, h), integer=True, up=1)
    for j in ix.spread_jobs:
        for s in ix.sites:
            _var(m, "site_on", (j, s), integer=True, up=1)
    for j in ix.sync_jobs:
        for s in ix.sites:
            _var(m, "hub", (j, s), integer=True, up=1)
    if m.objective == "time":
        _var(m, "lambda", ())
    _add_lookups(m)


def _add_lookups(m: BuiltLp) -> None:
    """Placements by (job, role, site) and the arcs into and out of each site."""
    m.by_jrs = _place_groups(m, "jrs")
    for s in m.index.sites:
        m.arcs_at[s] = ([arc for arc in m.index.arcs if arc[1] == s],
                        [arc for arc in m.index.arcs if arc[0] == s])


# ----------------------------------------------------------------------------------------------
# Constraint families


def _lambda_pair(m: BuiltLp, j: str) -> tuple[float, Pairs]:
    """Right-hand side and extra pairs of job j's work rows: ``>= 1``, ``- lambda >= 0`` or,
    in a roadmap period, ``- share >= 0``."""
    if m.link is not None and j in m.link.share:
        return 0.0, [(m.link.share[j], -1.0)]
    return (0.0, [(m.lam, -1.0)]) if m.lam is not None else (1.0, [])


def _coupled(m: BuiltLp, j: str, r: str) -> bool:
    """True for an RL job's score and verify roles, whose work the coupling implies."""
    rl = m.index.jobs[j].rl
    return rl is not None and r in (rl.score, rl.verify)


def _add_work(m: BuiltLp) -> None:
    """work[j,r]: each pretrain/post-train role does its (lambda x) work within its horizon."""
    by_jr = _place_groups(m, "jr")
    for job in m.index.jobs.values():
        if job.serve is not None:
            continue
        rhs, lam = _lambda_pair(m, job.id)
        for role in job.roles:
            if _coupled(m, job.id, role.name):
                continue
            scale = m.index.work_scale[(job.id, role.name)]
            if role.is_cpu:
                pairs = [(m.vars["cpu_work"][(job.id, role.name, s)], 1.0) for s in m.index.sites]
            else:
                pairs = [(var, _theta(m, key) * job.horizon_s / scale)
                         for key, var in by_jr.get((job.id, role.name), [])]
            _row(m, "work", (job.id, role.name), pairs + lam, ">=", rhs, scale)


def _add_capacity(m: BuiltLp) -> None:
    """capacity[s,h] and provision[s,h]: placements fit in the units provisioned;
    whole_units[j,r,s,h] (integer mode): each placement within its whole units."""
    by_sh = _place_groups(m, "sh")
    v = m.vars
    for key, var in v["whole"].items():
        _row(m, "whole_units", key, [(v["place"][key], 1.0), (var, -1.0)], "<=", 0.0, 1.0)
    for key in m.index.pools:
        pairs = [(v["whole"].get(k, var), 1.0) for k, var in by_sh.get(key, [])]
        _row(m, "capacity", key, [*pairs, (v["units"][key], -1.0)], "<=", 0.0, 1.0)
        sources = [(v[family][key], -1.0) for family in ("own", "buy", "rent") if key in v[family]]
        _row(m, "provision", key, [(v["units"][key], 1.0), *sources], "=", 0.0, 1.0)


def _purchase_penalty(unit_mw: float, limit: int) -> float:
    """Elastic penalty factor per unit over a purchase limit: a unit's facility MW, ten times that
    where nothing of the system may be bought (opening a new procurement channel is a bigger
    ask than raising a limit), so the diagnosis points at sites that can already buy."""
    return max(unit_mw, 1e-3) * (1.0 if limit > 0 else PENALTY_NEW_PURCHASE)


def _add_limits(m: BuiltLp) -> None:
    """inventory, purchase_limit, rental_limit per pool; cpu_inventory, cpu_purchase_limit."""
    ix, v = m.index, m.vars
    for s, h in ix.pools:
        site, system = ix.sites[s], ix.systems[h]
        limits = (("inventory", "own", site.inventory.get(h, 0), 1.0),
                  ("purchase_limit", "buy", site.purchase_limits.get(h, 0),
                   _purchase_penalty(system.power_w * site.pue / MW,
                                     site.purchase_limits.get(h, 0))),
                  ("rental_limit", "rent", site.rental_limits.get(h, 0), 1.0))
        for name, var, limit, penalty_scale in limits:
            if (s, h) not in v[var]:
                continue
            if name == "inventory" and m.link is not None:  # a roadmap period: the fleet held
                _row(m, name, (s, h), [(v[var][(s, h)], 1.0), (m.link.held[(s, h)], -1.0)],
                     "<=", 0.0, 1.0)
                continue
            _row(m, name, (s, h), [(v[var][(s, h)], 1.0)], "<=", float(limit), 1.0,
                 penalty_scale)
    for s, site in ix.sites.items():
        _row(m, "cpu_inventory", (s,), [(v["cpu_on"][(s,)], 1.0)], "<=",
             float(site.cpu_servers), 1.0)
        _row(m, "cpu_purchase_limit", (s,), [(v["cpu_buy"][(s,)], 1.0)], "<=",
             float(site.cpu_server_purchase_limit), 1.0)


def _add_site_power(m: BuiltLp) -> None:
    """site_power[s]: facility power (IT x PUE) of units and CPU servers within the cap (MW)."""
    ix, v = m.index, m.vars
    pools_at: dict[str, list[str]] = defaultdict(list)
    for s, h in ix.pools:
        pools_at[s].append(h)
    cpu_w = ix.inputs.cpu_server.power_w
    for s, site in ix.sites.items():
        pairs = [(v["units"][(s, h)], site.pue * ix.systems[h].power_w / MW) for h in pools_at[s]]
        pairs += [(v["cpu_on"][(s,)], site.pue * cpu_w / MW),
                  (v["cpu_buy"][(s,)], site.pue * cpu_w / MW)]
        cap_w = site.power_cap_w
        if m.link is not None and s in m.link.power:  # a roadmap period: dated cap + built
            cap_w, built = m.link.power[s]
            pairs += [(var, -c) for var, c in built]
        _row(m, "site_power", (s,), pairs, "<=", cap_w / MW, MW)


def _add_site_cpu(m: BuiltLp) -> None:
    """site_cpu[s]: cores the roles need within host cores plus CPU servers (kcores)."""
    ix, v = m.index, m.vars
    need: dict[str, Pairs] = defaultdict(list)
    for key, var in v["place"].items():
        c = ix.jobs[key[0]].role(key[1]).cpu_core_seconds_per_work
        if c > 0:
            need[key[2]].append((var, c * _theta(m, key) / KCORES))
    for (j, r, s), var in v["cpu_work"].items():
        role, horizon = ix.jobs[j].role(r), ix.jobs[j].horizon_s
        need[s].append((var, role.cpu_core_seconds_per_work * ix.work_scale[(j, r)]
                        / horizon / KCORES))
    have: dict[str, Pairs] = defaultdict(list)
    for s, h in ix.pools:
        have[s].append((v["units"][(s, h)], -ix.systems[h].cpu_cores / KCORES))
    cores = ix.inputs.cpu_server.cores / KCORES
    for s in ix.sites:
        if not need[s]:
            continue
        pairs = need[s] + have[s] + [(v["cpu_on"][(s,)], -cores), (v["cpu_buy"][(s,)], -cores)]
        _row(m, "site_cpu", (s,), pairs, "<=", 0.0, KCORES)


def _add_links(m: BuiltLp) -> None:
    """link_bw[a,b]: every job's bytes at an even rate over its horizon fit the bandwidth."""
    ix = m.index
    if not ix.flow_jobs:
        return
    horizon = ix.horizon_s
    for a, b in ix.arcs:
        pairs = [(m.vars["ship"][(j, k, a, b)], horizon / ix.jobs[j].horizon_s)
                 for j in ix.flow_jobs for k in ix.flow_kinds[j]]
        capacity_gb = ix.graph.edges[(a, b)].bandwidth_bytes_per_s * horizon / GB
        _row(m, "link_bw", (a, b), pairs, "<=", capacity_gb, GB / horizon)


def _add_site_choice(m: BuiltLp) -> None:
    """single_site[j] / update_site[j], site_choice[j,s] and site_choice_cpu[j,s]."""
    ix, v = m.index, m.vars
    by_jrs = m.by_jrs
    for j, roles in ix.groups.items():
        job = ix.jobs[j]
        name = "single_site" if job.single_site else "update_site"
        _row(m, name, (j,), [(v["pick"][(j, s)], 1.0) for s in ix.sites], "=", 1.0, 1.0)
        for s, site in ix.sites.items():
            pick = v["pick"][(j, s)]
            power = [(var, site.pue * ix.systems[key[3]].power_w / MW)
                     for r in roles for key, var in by_jrs.get((j, r, s), [])]
            _row(m, "site_choice", (j, s), [*power, (pick, -ix.choice_power_w[j, s] / MW)],
                 "<=", 0.0, MW)
            cores = [(v["cpu_work"][(j, r, s)], job.role(r).cpu_core_seconds_per_work
                      * ix.work_scale[(j, r)] / job.horizon_s / KCORES)
                     for r in roles if job.role(r).is_cpu]
            if cores:
                _row(m, "site_choice_cpu", (j, s),
                     [*cores, (pick, -ix.choice_cores[j, s] / KCORES)], "<=", 0.0, KCORES)


def _add_system_choice(m: BuiltLp) -> None:
    """one_system[j,r] and system_choice[j,r,h]: a homogeneous role runs on one system type."""
    ix, v = m.index, m.vars
    by_jr = _place_groups(m, "jr")
    for (j, r), systems in ix.system_choices.items():
        _row(m, "one_system", (j, r), [(v["sys_pick"][(j, r, h)], 1.0) for h in systems],
             "=", 1.0, 1.0)
        for h in systems:
            power = [(var, ix.sites[key[2]].pue * ix.systems[h].power_w / MW)
                     for key, var in by_jr.get((j, r), []) if key[3] == h]
            _row(m, "system_choice", (j, r, h),
                 [*power, (v["sys_pick"][(j, r, h)], -ix.fleet_power_w / MW)], "<=", 0.0, MW)


def _add_spread(m: BuiltLp) -> None:
    """site_use[j,s], max_sites[j] and, for synchronous jobs spanning sites, one_hub[j],
    hub_on_site[j,s], sync_weights[j,s] and sync_gradients[j,s] (see the module docstring)."""
    ix, v = m.index, m.vars
    for j in ix.spread_jobs:
        job = ix.jobs[j]
        for s, site in ix.sites.items():
            power = [(var, site.pue * ix.systems[key[3]].power_w / MW)
                     for role in job.roles for key, var in m.by_jrs.get((j, role.name, s), [])]
            _row(m, "site_use", (j, s), [*power, (v["site_on"][(j, s)],
                                                  -ix.choice_cap_w(s) / MW)], "<=", 0.0, MW)
        if job.max_sites is not None and job.max_sites < len(ix.sites):
            _row(m, "max_sites", (j,), [(v["site_on"][(j, s)], 1.0) for s in ix.sites], "<=",
                 float(job.max_sites), 1.0)
    for j in ix.sync_jobs:
        sync_gb = ix.jobs[j].sync_bytes / GB
        _row(m, "one_hub", (j,), [(v["hub"][(j, s)], 1.0) for s in ix.sites], "=", 1.0, 1.0)
        for s in ix.sites:
            hub, on = v["hub"][(j, s)], v["site_on"][(j, s)]
            _row(m, "hub_on_site", (j, s), [(hub, 1.0), (on, -1.0)], "<=", 0.0, 1.0)
            spare = (hub, sync_gb * len(ix.sites))
            _row(m, "sync_weights", (j, s), [*_ship_balance(m, j, "weights", s), spare,
                                             (on, -sync_gb)], ">=", 0.0, GB)
            outward = [(var, -c) for var, c in _ship_balance(m, j, "gradients", s)]
            _row(m, "sync_gradients", (j, s), [*outward, spare, (on, -sync_gb)], ">=", 0.0, GB)


def _add_serve(m: BuiltLp) -> None:
    """serve[j,g] (demand met within the catchment) and serve_capacity[j,r,s]."""
    ix, alloc = m.index, m.vars["alloc"]
    for (j, g), sites in ix.catchments.items():
        rate = ix.jobs[j].serve.rate_by_region[g]  # type: ignore[union-attr]
        if rate <= 0:
            continue
        _row(m, "serve", (j, g), [(alloc[(j, g, s)], 1.0) for s in sites], ">=", 1.0, rate)
    for job in ix.jobs.values():
        if job.serve is None or job.serve.total_rate_per_s <= 0:
            continue
        share = {g: rate / job.serve.total_rate_per_s
                 for g, rate in job.serve.rate_by_region.items()}
        for role in job.roles:
            scale = ix.work_scale[(job.id, role.name)]
            for s in ix.sites:
                demand = [(alloc[(job.id, g, s)], -share[g]) for g in share
                          if (job.id, g, s) in alloc]
                if demand:
                    _row(m, "serve_capacity", (job.id, role.name, s),
                         _done_pairs(m, job.id, role.name, s, 1.0 / scale) + demand,
                         ">=", 0.0, scale)


def _ship_balance(m: BuiltLp, j: str, kind: str, s: str) -> Pairs:
    """Inflow minus outflow of one data kind at a site (GB)."""
    if j not in m.index.flow_jobs:
        return []
    ship = m.vars["ship"]
    arcs_in, arcs_out = m.arcs_at[s]
    return ([(ship[(j, kind, a, b)], 1.0) for a, b in arcs_in]
            + [(ship[(j, kind, a, b)], -1.0) for a, b in arcs_out])


def _add_rl(m: BuiltLp) -> None:
    """score, verify_flow, kept_flow, generates and weights_flow rows of every RL job."""
    for job in m.index.jobs.values():
        if job.rl is None:
            continue
        for s in m.index.sites:
            _add_rl_site(m, job.id, s)


def _add_rl_site(m: BuiltLp, j: str, s: str) -> None:
    """The RL coupling rows of one job at one site (see the module docstring)."""
    ix, v = m.index, m.vars
    job = ix.jobs[j]
    rl = job.rl
    assert rl is not None
    w_gen = job.role(rl.generate).work
    gen = _done_pairs(m, j, rl.generate, s, 1.0)  # samples generated at s
    sample_gb = rl.sample_bytes / GB
    if rl.score is not None and gen:
        _row(m, "score", (j, s), _done_pairs(m, j, rl.score, s, 1.0 / ix.work_scale[(j, rl.score)])
             + [(var, -c / w_gen) for var, c in gen], ">=", 0.0, ix.work_scale[(j, rl.score)])
    verified = [(v["cpu_work"][(j, rl.verify, s)], ix.work_scale[(j, rl.verify)] * sample_gb)]
    _row(m, "verify_flow", (j, s), [(var, c * rl.verified_fraction * sample_gb) for var, c in gen]
         + _ship_balance(m, j, "samples", s) + [(x, -c) for x, c in verified], "=", 0.0, GB)
    kept = [(x, c * rl.keep_fraction) for x, c in verified]
    kept += [(var, c * (1 - rl.verified_fraction) * rl.keep_fraction * sample_gb)
             for var, c in gen]
    ratio = w_gen / ix.work_scale[(j, rl.update)]
    need = _done_pairs(m, j, rl.update, s, -rl.keep_fraction * sample_gb * ratio)
    _row(m, "kept_flow", (j, s), kept + _ship_balance(m, j, "kept", s) + need, ">=", 0.0, GB)
    if (j, s) in ix.gen_bound:
        _row(m, "generates", (j, s), [(var, c / ix.gen_bound[(j, s)]) for var, c in gen]
             + [(v["gen_on"][(j, s)], -1.0)], "<=", 0.0, 1.0)
    if j in ix.flow_jobs:
        weights_gb = rl.weight_bytes * rl.policy_updates / GB
        pairs = [*_ship_balance(m, j, "weights", s), (v["pick"][j, s], weights_gb * len(ix.sites))]
        if (j, s) in ix.gen_bound:
            pairs.append((v["gen_on"][(j, s)], -weights_gb))
        _row(m, "weights_flow", (j, s), pairs, ">=", 0.0, GB)


def _add_budget(m: BuiltLp) -> None:
    """budget: total cost within the budget (in units of ``usd_scale``)."""
    budget = m.index.inputs.budget_usd
    if budget is None:
        return
    pairs = [(var, c / m.usd_scale) for part in m.cost_parts.values() for var, c in part]
    _row(m, "budget", (), pairs, "<=", budget / m.usd_scale, m.usd_scale, m.usd_scale / MUSD)


def _collect_costs(m: BuiltLp) -> None:
    """Fill ``cost_parts``: (variable, USD over the horizon) pairs by cost part."""
    ix, v, parts = m.index, m.vars, m.cost_parts
    econ, horizon = ix.inputs.economics, ix.horizon_s
    for s, h in ix.pools:
        c = system_costs(ix.systems[h], ix.sites[s], econ, horizon, ix.inputs.cost_basis)
        own, buy, rent = (v[f].get((s, h)) for f in ("own", "buy", "rent"))
        for var in (x for x in (own, buy) if x is not None):
            parts["energy"].append((var, c.energy))
            parts["colocation"].append((var, c.colocation))
        if buy is not None:
            parts["purchase"].append((buy, c.capex))
        if own is not None and ix.inputs.charge_inventory_capex:
            parts["inventory_capex"].append((own, c.capex))
        if rent is not None and c.rental is not None:
            parts["rental"].append((rent, c.rental))
    for s, site in ix.sites.items():
        c = cpu_server_costs(ix.inputs.cpu_server, site, econ, horizon, ix.inputs.cost_basis)
        for var in (v["cpu_on"][(s,)], v["cpu_buy"][(s,)]):
            parts["cpu_server_energy"].append((var, c.energy))
            parts["colocation"].append((var, c.colocation))
        parts["cpu_servers"].append((v["cpu_buy"][(s,)], c.capex))
    for (_j, _kind, a, b), var in v["ship"].items():
        parts["egress"].append((var, ix.graph.edges[(a, b)].usd_per_byte * GB))


def choice_fixes(m: BuiltLp) -> list[tuple[Any, float]]:
    """0/1 values rounding the relaxed system and site indicators (LP mode; see
    ``planner.lp.solve``): each homogeneous role's system type to the one holding most of its
    power; each spread job's sites to those it uses (the ``max_sites`` holding most of its
    power); each synchronous job's hub to the site holding most of its power."""
    ix, v = m.index, m.vars
    fixes: list[tuple[Any, float]] = []

    def watts(key: Key, var: Any) -> float:
        return float(var.varValue or 0.0) * ix.systems[key[3]].power_w

    for (j, r), systems in ix.system_choices.items():
        power = {h: sum(watts(k, x) for k, x in m.by_jrs_all(j, r) if k[3] == h)
                 for h in systems}
        best = max(systems, key=lambda h: (power[h], h))
        fixes += [(v["sys_pick"][(j, r, h)], 1.0 if h == best else 0.0) for h in systems]
    for j in ix.spread_jobs:
        job = ix.jobs[j]
        power = {s: sum(watts(k, x) for role in job.roles
                        for k, x in m.by_jrs.get((j, role.name, s), [])) for s in ix.sites}
        used = sorted((s for s in ix.sites if power[s] > 1e-9), key=lambda s: (-power[s], s))
        keep = set(used[: job.max_sites] if job.max_sites else used)
        fixes += [(v["site_on"][(j, s)], 1.0 if s in keep else 0.0) for s in ix.sites]
        if j in ix.sync_jobs:
            hub = used[0] if used else next(iter(ix.sites))
            fixes += [(v["hub"][(j, s)], 1.0 if s == hub else 0.0) for s in ix.sites]
    return fixes


def cost_objective(m: BuiltLp) -> Any:
    """The cost expression of the objective (in units of ``usd_scale``)."""
    return _expr([(var, c / m.usd_scale) for part in m.cost_parts.values() for var, c in part])


def add_speed_floor(m: BuiltLp, floor: float) -> Any:
    """speed_floor: hold lambda at (nearly) its optimum, then minimise cost (time objective)."""
    import pulp

    _row(m, "speed_floor", (), [(m.lam, 1.0)], ">=", floor, 1.0)
    m.prob.sense = pulp.LpMinimize
    m.prob.setObjective(cost_objective(m))
    return m.rows[("speed_floor", ())].constraint


def remove_speed_floor(m: BuiltLp, floor: Any) -> None:
    """Undo :func:`add_speed_floor`: the floor becomes lambda >= 0, lambda is maximised again."""
    import pulp

    floor.constant = 0.0
    m.prob.sense = pulp.LpMaximize
    m.prob.setObjective(_expr([(m.lam, 1.0)]))


def _set_objective(m: BuiltLp) -> None:
    """Cost (in units of ``usd_scale``), throughput multiplier, or the elastic penalty sum."""
    if m.elastic:
        m.prob.setObjective(_expr([(var, p) for var, p in m.slacks.values()]))
    elif m.objective == "time":
        _row(m, "lambda_cap", (), [(m.lam, 1.0)], "<=", LAMBDA_MAX, 1.0)
        m.prob.setObjective(_expr([(m.lam, 1.0)]))
    else:
        m.prob.setObjective(cost_objective(m))
