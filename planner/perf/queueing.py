"""Request queueing for serving latency targets: Poisson arrivals, waiting-time percentiles.

Requests arrive as a Poisson process; a prefill server (one attention replica) serves them one
prompt at a time. That is an M/G/1 queue with load ρ = λ·E[S]. Its mean wait is the
Pollaczek-Khinchine formula (Kleinrock 1975, Queueing Systems vol. 1, §5.6)::

    W = ρ·E[S]·(1 + c²) / (2·(1 − ρ))            c² = Var[S] / E[S]²  (0 for equal prompts)

A request waits at all with probability ρ. Prompts of one length make the queue M/D/1, whose
wait has the exponential tail P(wait > t) ≈ C·exp(−θ·t) (Cramér-Lundberg; Asmussen 2003,
Applied Probability and Queues, XIII.5): θ·S is the positive root x of ρ·(e^x − 1) = x and
C = (1 − ρ) / (ρ·e^x − 1), so the q-quantile is ln(C / (1 − q)) / θ — within 1.5% of the
simulated p90 and p99 from ρ = 0.5 to 0.95 (5% at 0.3). Quantiles within five service times
come from Erlang's exact distribution instead (:func:`md1_wait_cdf`): the tail's C overstates
short waits, which at light load made the p99 jump from 0 to 0.43·S as ρ crossed 1 − q.
With variable service (c² > 0) the wait, given that it waits, is taken as exponential with
mean W / ρ (exact for M/M/1, the heavy-traffic approximation for M/G/1, Kingman 1962)::

    t_q = (W / ρ)·ln(ρ / (1 − q))   when ρ > 1 − q, else 0,

which overstates the M/D/1 quantile by about 25% at ρ = 0.3 and 5% at ρ = 0.7.

:func:`simulate_waits` runs the same queue (Lindley's recursion, vectorised with numpy) and the
unit tests check the closed form against it. :func:`max_load` inverts the closed form: the
largest load at which fixed + service + t_q stays within a latency limit, which is what makes
latency-bounded ("server") throughput fall below offline throughput.

**Batch slots.** A continuously batched replica holds at most c sequences (the batch its TPOT
limit and HBM allow); a request holds a slot for its whole decode. With Poisson arrivals that
is an M/G/c queue; taking the M/M/c (Erlang C) form, a request finds every slot taken with
probability C(c, a) at offered load a = λ·S (Erlang 1917; Kleinrock 1975 §3.5), computed from
Erlang B, the Poisson(a) probability of c over that of at most c (in logs, vectorised), and
C = c·B / (c − a·(1 − B)), and
waits longer than t with probability C(c, a)·exp(−(c − a)·t / S). :func:`max_offered_load`
is the largest a with that probability at most 1 − q: the mean occupancy a replica can run
at. It grows as c − β·√c (square-root staffing, Halfin and Whitt 1981), so a small batch
leaves a larger share of its slots empty. The colocated pool caps its load at a / c
(planner/perf/serving_pools.py, ``_slot_occupancy``); it costs tokens/s now that a smaller
batch runs its matmuls in emptier GEMM waves (planner/perf/gemm_shape.py).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import numpy.typing as npt

__all__ = ["erlang_c", "max_load", "max_offered_load", "md1_wait_cdf", "mean_wait_s",
           "simulate_waits", "wait_quantile_s"]

_MAX_LOAD = 0.999


def mean_wait_s(load: float, service_s: float, service_cv2: float = 0.0) -> float:
    """Pollaczek-Khinchine mean wait in queue of an M/G/1 server (inf at load ≥ 1)."""
    if load <= 0:
        return 0.0
    if load >= 1:
        return math.inf
    return load * service_s * (1.0 + service_cv2) / (2.0 * (1.0 - load))


def wait_quantile_s(load: float, service_s: float, quantile: float,
                    service_cv2: float = 0.0) -> float:
    """q-quantile of the wait in queue (module docstring), 0 when fewer than 1 − q wait."""
    if load <= 1.0 - quantile or load <= 0:
        return 0.0
    if load >= 1:
        return math.inf
    if service_cv2 == 0 and service_s > 0:
        return _md1_wait_quantile_s(load, service_s, quantile)
    return mean_wait_s(load, service_s, service_cv2) / load * math.log(load / (1.0 - quantile))


def _md1_decay(load: float) -> float:
    """x = θ·S > 0 with load·(e^x − 1) = x: the decay rate of an M/D/1 wait's tail times the
    service time (the positive root; f(x) = load·(e^x − 1) − x is negative just above 0)."""
    lo, hi = 0.0, 1.0
    while load * math.expm1(hi) - hi <= 0:
        lo, hi = hi, 2.0 * hi
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        if load * math.expm1(mid) - mid <= 0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


# Waits up to this many service times use Erlang's exact M/D/1 distribution; its alternating
# sum stays well conditioned there (terms below e^(2·5)), and beyond it the exponential tail
# is within 1.5% of the simulated quantiles.
_EXACT_SERVICES = 5


def md1_wait_cdf(load: float, wait_s: float, service_s: float) -> float:
    """P(W ≤ t) of an M/D/1 queue, exact (Erlang 1909; Kleinrock 1975 §5.6, problem 5.7)::

        P(W ≤ t) = (1 − ρ)·Σ_{k=0}^{⌊t/S⌋} (ρ·(k − t/S))^k / k! · e^(−ρ·(k − t/S))

    Used for t ≤ 5·S (:data:`_EXACT_SERVICES`); 1 − ρ at t = 0, (1 − ρ)·e^(ρt/S) below one
    service time."""
    tau = wait_s / service_s
    total = sum((load * (k - tau)) ** k / math.factorial(k) * math.exp(-load * (k - tau))
                for k in range(math.floor(tau) + 1))
    return (1.0 - load) * total


def _md1_wait_quantile_s(load: float, service_s: float, quantile: float) -> float:
    """q-quantile of an M/D/1 wait: exact (:func:`md1_wait_cdf`, bisection) when it lies
    within five service times, else from the exponential tail P(W > t) ≈ C·e^(−θt) (module
    docstring; θ from :func:`_md1_decay`, C = (1 − ρ) / (ρ·e^(θS) − 1)). The tail's C
    overstates P(W > t) near t = 0 (C = 0.18 against the exact ρ = 0.01 at ρ = 0.01), so at
    light load the exponential form alone put the p99 wait at 0.43·S just above ρ = 1 − q and
    at 0 just below it; checked against the simulation in tests/unit/test_serving.py."""
    limit = _EXACT_SERVICES * service_s
    if md1_wait_cdf(load, limit, service_s) >= quantile:
        lo, hi = 0.0, limit
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            if md1_wait_cdf(load, mid, service_s) >= quantile:
                hi = mid
            else:
                lo = mid
        return hi
    x = _md1_decay(load)
    scale = (1.0 - load) / (load * math.exp(x) - 1.0)
    if scale <= 1.0 - quantile:
        return 0.0
    return math.log(scale / (1.0 - quantile)) * service_s / x


def max_load(limit_s: float, service_s: float, quantile: float, fixed_s: float = 0.0,
             service_cv2: float = 0.0) -> float:
    """Largest load ρ < 1 with fixed + service + wait quantile ≤ limit (0 if even an idle
    server misses it); the quantile grows with ρ, so bisection finds it."""
    if fixed_s + service_s > limit_s:
        return 0.0
    lo, hi = 0.0, _MAX_LOAD
    if fixed_s + service_s + wait_quantile_s(hi, service_s, quantile, service_cv2) <= limit_s:
        return hi
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if fixed_s + service_s + wait_quantile_s(mid, service_s, quantile,
                                                 service_cv2) <= limit_s:
            lo = mid
        else:
            hi = mid
    return lo


def simulate_waits(load: float, service_s: float, requests: int,
                   seed: int = 0) -> npt.NDArray[np.float64]:
    """Waits in queue of ``requests`` Poisson arrivals at a deterministic server (M/D/1).

    Lindley: W_n = max(0, W_{n−1} + S − A_n), i.e. W_n = U_n − min(0, U_1..U_n) with
    U_n = Σ_{k≤n}(S − A_k): a cumulative sum and a running minimum, no Python loop.
    """
    rng = np.random.default_rng(seed)
    gaps = rng.exponential(service_s / load, size=requests)
    steps = np.empty(requests)
    steps[0] = 0.0
    steps[1:] = service_s - gaps[1:]
    walk = np.cumsum(steps)
    return walk - np.minimum(np.minimum.accumulate(walk), 0.0)


def erlang_c(servers: int, offered: float) -> float:
    """Probability that an arrival waits in an M/M/c queue (1 at offered load a ≥ c)."""
    if offered <= 0:
        return 0.0
    if offered >= servers:
        return 1.0
    k, log_factorial = _log_factorials(servers)
    # Poisson(a) up to the factor e^−a; terms more than 40 standard deviations below the mode
    # are under e^−800 of it and do not count
    start = max(0, int(offered - 40.0 * math.sqrt(offered)) - 10)
    log_terms = k[start:] * math.log(offered) - log_factorial[start:]
    top = float(log_terms.max())
    log_sum = top + math.log(float(np.exp(log_terms - top).sum()))
    blocking = math.exp(float(log_terms[-1]) - log_sum)
    return servers * blocking / (servers - offered * (1.0 - blocking))


@functools.lru_cache(maxsize=64)
def _log_factorials(servers: int) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """0..c and ln k! for them (the bisections of :func:`max_offered_load` reuse one c)."""
    k = np.arange(servers + 1, dtype=np.float64)
    log_factorial = np.concatenate(([0.0], np.cumsum(np.log(k[1:]))))
    k.setflags(write=False)
    log_factorial.setflags(write=False)
    return k, log_factorial


def max_offered_load(servers: int, holding_s: float, slack_s: float, quantile: float) -> float:
    """Largest offered load a < c (mean busy slots) at which P(wait for a slot > slack) stays
    at most 1 − q (module docstring); bisection, as the tail grows with a."""
    if servers < 1 or holding_s <= 0:
        return 0.0

    def tail(offered: float) -> float:
        return erlang_c(servers, offered) * math.exp(
            -(servers - offered) * max(slack_s, 0.0) / holding_s)

    lo, hi = 0.0, float(servers)
    for _ in range(50):
        mid = 0.5 * (lo + hi)
        if tail(mid) <= 1.0 - quantile:
            lo = mid
        else:
            hi = mid
    return lo
