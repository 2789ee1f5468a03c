"""Serving deployments: colocated or disaggregated prefill/decode pools at latency targets.

A request brings P input tokens, of which a share h is served from a prefix cache, and asks for
O generated tokens (votes included). Its computed prompt is P_c = (1 − h)·P; the cached prefix is
still attended to, so the computed tokens attend on average to h·P + P_c / 2 tokens.

**Colocated** (one pool): prompts are chunked into decode steps (Sarathi-Serve, arXiv
2403.02310): each sequence brings P_c / O prompt tokens into every step, which cost compute but
no extra weight reads (:class:`planner.perf.serving.PrefillChunk`). The decode step therefore
holds both, and the time-per-output-token limit applies to it.

**Disaggregated** (DeepSeek's inference system, SGLang and vLLM PD disaggregation): a prefill
pool and a decode pool, each with its own best layout; the prompt's KV cache, P·kv bytes, moves
from prefill to decode over the scale-out network (:func:`kv_transfer_s`). The prefill:decode
unit ratio for a request rate is (P_c / prefill rate) : (O / decode rate).

**Latency**: requests arrive as a Poisson process. Each attention replica of the prefill pool
is an M/D/1 queue whose service time is the prefill of one prompt alone
(:mod:`planner.perf.queueing`); a colocated replica admits queued prompts in bulk at each step
boundary, up to the engine's per-step token budget and the room its step-time limit leaves
(:func:`_admitted_per_step`). The pool runs at the largest load at which the TTFT percentile
stays within its limit, which is why latency-bounded throughput falls below offline
throughput. The TPOT limit caps the decode batch at its percentile: a request's TPOT is the
mean of the steps it decodes in, whose prompt work is Poisson — about b prompts arrive during
one request's decode at batch b — so at the q-th percentile its steps carry (1 + z_q/√b) times
the mean prompt share (:class:`planner.perf.serving.PrefillChunk`); throughput is the mean
step's.

**Units and prices**: a colocated pool's unit time is split between the phases in proportion
to their stand-alone times (so its ``prefill`` and ``decode`` units add up to the pool); per
million tokens, like an API, output tokens carry the decode pool's (or phase's) unit time,
uncached input tokens the prefill pool's (or phase's), cached input tokens the time one
accelerator's network link takes to load their KV.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

from planner.catalog.schema import Precision, System
from planner.perf.assumptions import Assumption
from planner.perf.queueing import max_load, max_offered_load, wait_quantile_s
from planner.perf.serving import (
    DecodeCapacity,
    Layout,
    PrefillChunk,
    all_layouts,
    best_prefill_layout,
    decode_capacity,
    pinned_layouts,
    prefill_options,
    reserved_context_scale,
    time_to_first_token_s,
)
from planner.workload.schema import LatencyTarget, ModelSpec, PoolLayout, Serve

__all__ = ["Deployment", "PoolResult", "deploy", "kv_transfer_s"]


@dataclass(frozen=True, slots=True)
class PoolResult:
    """One pool in the JSON contract: its layout, rate per unit and what binds."""

    layout: Layout
    tokens_per_s_per_unit: float
    bound: str
    unit_s_per_request: float

    def to_dict(self, requests_per_s: float) -> dict[str, Any]:
        """``{units, parallelism, tokens_per_s_per_unit, bound}`` for a request rate."""
        lay = self.layout
        return {"units": requests_per_s * self.unit_s_per_request,
                "parallelism": {"tp": lay.tp, "pp": lay.pp, "ep": lay.ep,
                                "dp_attention": lay.dp_attention},
                "tokens_per_s_per_unit": self.tokens_per_s_per_unit, "bound": self.bound}


@dataclass(frozen=True, slots=True)
class Deployment:
    """A colocated or disaggregated deployment at the workload's targets."""

    disaggregated: bool
    decode: DecodeCapacity
    prefill: PoolResult
    decode_pool: PoolResult
    prefill_capacity_per_unit: float
    load: float
    ttft_s: float | None
    ttft_unloaded_s: float
    tpot_s: float
    kv_transfer_s: float
    generated_tokens: float
    input_tokens: float
    computed_prompt_tokens: float

    @property
    def unit_s_per_request(self) -> float:
        """Unit-seconds one request takes in all (both pools, or the one pool)."""
        return self.prefill.unit_s_per_request + self.decode_pool.unit_s_per_request

    @property
    def tokens_per_s_per_unit(self) -> float:
        """Generated tokens/s per unit of the whole deployment at the targets."""
        seconds = self.unit_s_per_request
        return self.generated_tokens / seconds if 0 < seconds < math.inf else 0.0

    @property
    def requests_per_s_per_unit(self) -> float:
        """Requests/s per unit of the whole deployment at the targets."""
        seconds = self.unit_s_per_request
        return 1.0 / seconds if 0 < seconds < math.inf else 0.0

    @property
    def prefill_to_decode_units(self) -> float | None:
        """Prefill units per decode unit (disaggregated), None when colocated."""
        if not self.disaggregated or self.decode_pool.unit_s_per_request <= 0:
            return None
        return self.prefill.unit_s_per_request / self.decode_pool.unit_s_per_request


def kv_transfer_s(kv_bytes_per_token: float, prompt_tokens: float, system: System,
                  network_efficiency: float) -> float:
    """Seconds to move a prompt's KV cache from a prefill to a decode rank over one
    accelerator's scale-out link: P·kv / (B_out·eff)."""
    return prompt_tokens * kv_bytes_per_token / (system.scale_out.bandwidth * network_efficiency)


@dataclass(frozen=True, slots=True)
class _Work:
    """Per-request work and the targets, shared by both deployment kinds."""

    prompt: float
    computed: float
    attention_prompt: float
    generated: float
    context: float
    target_step_s: float
    ttft: LatencyTarget | None
    tpot: LatencyTarget | None


def _work(spec: Serve, context: float) -> _Work:
    hit = spec.prefix_cache_hit_fraction
    prompt = float(spec.input_tokens)
    computed = (1.0 - hit) * prompt
    # computed tokens attend to h·P + P_c/2 on average; prefill formulas take a prompt length
    # whose half is that context
    attention_prompt = 2.0 * (hit * prompt + computed / 2.0)
    steps = [1.0 / spec.interactivity] if spec.interactivity else []
    tpot = spec.tpot_target()
    if tpot is not None:
        steps.append(tpot.seconds)
    return _Work(prompt, computed, attention_prompt, float(spec.votes * spec.output_tokens),
                 context, min(steps) if steps else 0.0, spec.ttft_target(), tpot)


def _pins(system_layouts: PoolLayout, model: ModelSpec, system: System
          ) -> tuple[Layout, ...] | None:
    pins = system_layouts
    if all(v is None for v in (pins.tp, pins.pp, pins.ep, pins.dp_attention)):
        return None
    return tuple(pinned_layouts(model.architecture, system, tp=pins.tp, pp=pins.pp, ep=pins.ep,
                                dp_attention=pins.dp_attention))


def _decode(spec: Serve, model: ModelSpec, system: System, precision: Precision,
            assumptions: Mapping[str, Assumption], work: _Work, chunk: PrefillChunk | None,
            layouts: tuple[Layout, ...] | None) -> DecodeCapacity:
    store = spec.shared_prefix_fraction / spec.votes + 1.0 - spec.shared_prefix_fraction
    read = store if spec.prefix_read_once else 1.0
    store *= reserved_context_scale(spec, work.context)
    return decode_capacity(
        model, system, weights_precision=spec.weights_precision, kv_precision=spec.kv_precision,
        compute_precision=precision, context_tokens=work.context, interactivity=None,
        assumptions=assumptions, memory_reserve=spec.memory_reserve,
        enforce_memory=spec.enforce_memory, kv_store_scale=store, kv_read_scale=read,
        chunk=chunk, target_step_s=work.target_step_s, layouts=layouts)


def _single_prompt_s(model: ModelSpec, system: System, layout: Layout, spec: Serve,
                     precision: Precision, assumptions: Mapping[str, Assumption],
                     work: _Work) -> float:
    """Prefill of one request's computed prompt alone on one replica (the queue's service)."""
    if work.computed <= 0:
        return 0.0
    return time_to_first_token_s(model, system, layout, precision=precision,
                                 weights_precision=spec.weights_precision,
                                 prompt_tokens=work.computed, assumptions=assumptions,
                                 kv_precision=spec.kv_precision)


def _load(work: _Work, service_s: float, fixed_s: float) -> float:
    """Operating load of the prefill queue: the largest meeting the TTFT limit, else 1."""
    if work.ttft is None:
        return 1.0
    return max_load(work.ttft.seconds, service_s, work.ttft.percentile, fixed_s)


def _ttft(work: _Work, load: float, service_s: float, fixed_s: float) -> float | None:
    """TTFT at the limit's percentile (p99 without a limit) at the operating load."""
    quantile = work.ttft.percentile if work.ttft else 0.99
    wait = wait_quantile_s(min(load, 0.999999), service_s, quantile) if load < 1 else math.inf
    total = fixed_s + service_s + wait
    return total if math.isfinite(total) else None


# Step-time limits tried for the batch (halvings of the TPOT/interactivity limit, or of the
# offline step): a smaller batch shortens the step a queued prompt waits for.
_BATCH_STEPS = 10


def _batch_formation(spec: Serve, model: ModelSpec, system: System, precision: Precision,
                     assumptions: Mapping[str, Assumption], work: _Work,
                     chunk: PrefillChunk | None, layouts: tuple[Layout, ...] | None
                     ) -> tuple[DecodeCapacity, float, float, float]:
    """(decode point, prefill service time, load, prompts admitted per step) of a colocated
    pool.

    A continuously batched server admits a queued prompt at the next step boundary and runs it
    in that step, so a prompt's service is the longer of its own prefill and one step (a
    prompt longer than the step's token budget is prefilled over several steps instead,
    :func:`_admitted_per_step`): a larger batch serves more tokens per step but makes prompts
    wait longer. With a TTFT limit
    the batch is chosen among step-time limits halving from the largest (the TPOT limit, or
    the offline step) for the most tokens/s at the load the TTFT limit allows.
    """
    best = _decode(spec, model, system, precision, assumptions, work, chunk, layouts)
    if best.tokens_per_s_per_unit <= 0:
        return best, 0.0, 0.0, 1.0
    single = _single_prompt_s(model, system, best.layout, spec, precision, assumptions, work)
    if work.ttft is None:
        return best, max(single, best.step_time_s), 1.0, 1.0
    _, prefill_rate = best_prefill_layout(
        model, system, precision=precision, weights_precision=spec.weights_precision,
        kv_precision=spec.kv_precision, prompt_tokens=work.attention_prompt,
        assumptions=assumptions, layouts=(best.layout,), memory_reserve=spec.memory_reserve)
    prefill_rate *= best.layout.units_per_replica
    options = []
    limit = best.step_time_s
    for _ in range(_BATCH_STEPS):
        point = best if limit == best.step_time_s else _decode(
            spec, model, system, precision, assumptions,
            _replace_step(work, limit), chunk, (best.layout,))
        if point.max_batch < 1:
            break
        per_step = _admitted_per_step(work, point, assumptions, prefill_rate)
        # the admitting step, which prefills a whole prompt; a prompt in pieces is prefilled
        # by the n steps that are its queue service
        service = max(single, point.step_time_s) if _prompt_pieces(work, assumptions) == 1 \
            else 0.0
        load = min(_admission_load(work, point, service, per_step),
                   _slot_occupancy(work, point,
                                   _unloaded_ttft_s(work, point, service, per_step)))
        options.append((point.tokens_per_s_per_unit * load, point, service, load, per_step))
        limit /= 2.0
    _, point, service, load, per_step = max(options, key=lambda o: o[0])
    return point, service, load, per_step


def _prompt_pieces(work: _Work, assumptions: Mapping[str, Assumption]) -> int:
    """Steps a prompt's prefill is split over: ⌈P_c / budget⌉ for a prompt longer than the
    engine's per-step token budget (``prefill_batch_tokens``), else 1."""
    budget = assumptions["prefill_batch_tokens"].value
    if work.computed <= budget:
        return 1
    return math.ceil(work.computed / budget)


def _admitted_per_step(work: _Work, point: DecodeCapacity,
                       assumptions: Mapping[str, Assumption], prefill_rate: float) -> float:
    """Queued prompts a colocated replica admits per step, k: the prompt queue's service time
    is step / k.

    A chunked-prefill engine admits as many queued prompts as its per-step token budget holds
    (TensorRT-LLM ``max_num_tokens``, vLLM ``max_num_batched_tokens``, SGLang
    ``chunked_prefill_size``; the ``prefill_batch_tokens`` assumption): k = ⌊budget / P_c⌋. With
    a step-time limit (TPOT or interactivity) the budget is also capped at what keeps that step
    within the limit: the prompt tokens the step already carries at full load (b · P_c / O, in
    its step time) plus what the limit's headroom over the step computes at the replica's
    prefill rate.

    A prompt longer than the budget is prefilled in pieces over several steps, first come first
    served (TensorRT-LLM ``enable_chunked_context`` with the ``first_come_first_served``
    chunking policy: each step's budget goes to the oldest prompt, and what its last piece
    leaves to the next one). A step that prefills takes a full budget of prompt tokens, beyond
    the b · P_c / O its step time already holds, so the queue serves prompts as a fluid at
    budget tokens per (step + max(budget − b · P_c / O, 0) / r): k = step / ((P_c / budget) ·
    (step + max(budget − b · P_c / O, 0) / r)). Taking such a prompt into one step instead would
    count its whole prefill as one step's service and hide the queue that sets these servers'
    TTFT.
    """
    if work.computed <= 0:
        return 1.0
    budget = assumptions["prefill_batch_tokens"].value
    pieces = _prompt_pieces(work, assumptions)
    carried = (point.max_batch * work.computed / work.generated
               if work.generated > 0 else 0.0)
    if pieces > 1:
        if prefill_rate <= 0:
            return 1.0 / pieces
        piece_step = point.step_time_s + max(budget - carried, 0.0) / prefill_rate
        return point.step_time_s / (work.computed / budget * piece_step)
    if work.target_step_s > 0 and prefill_rate > 0 and work.generated > 0:
        headroom = max(work.target_step_s - point.tpot_s, 0.0)
        budget = min(budget, carried + headroom * prefill_rate)
    return max(1.0, float(math.floor(budget / work.computed)))


def _queue_load(work: _Work, point: DecodeCapacity, per_step: float) -> float:
    """Load of a replica's prompt queue when its whole batch is busy: it then takes
    b / (O · step) prompts/s and serves k per step, a load of b / (O · k)."""
    if work.generated <= 0:
        return 0.0
    return point.max_batch / (work.generated * per_step)


def _admission_load(work: _Work, point: DecodeCapacity, admitting_s: float,
                    per_step: float) -> float:
    """Share of a colocated replica's batch kept busy at the TTFT limit (1 without one).

    The prompt queue is an M/D/1 queue served k prompts per step (service step / k,
    :func:`_admitted_per_step`); an admitted prompt then runs one step, its own prefill at
    least, before its first token (``admitting_s``; 0 for a prompt prefilled in pieces, whose
    pieces' steps are the service). The largest queue load ρ* meeting the TTFT percentile
    (:func:`planner.perf.queueing.max_load`) over the full batch's queue load
    (:func:`_queue_load`) is the share.
    """
    step = point.step_time_s
    if work.ttft is None or step <= 0 or point.max_batch < 1 or work.computed <= 0:
        return 1.0
    rho = max_load(work.ttft.seconds, step / per_step, work.ttft.percentile, admitting_s)
    full = _queue_load(work, point, per_step)
    return min(1.0, rho / full) if full > 0 else 1.0


def _unloaded_ttft_s(work: _Work, point: DecodeCapacity, service_s: float,
                     per_step: float) -> float:
    """A colocated request's TTFT with no queue: the admitting step's share (step / k, bulk
    admission) or, without prompt work, a whole step, then its service."""
    admit = point.step_time_s / per_step if work.computed > 0 else point.step_time_s
    return service_s + admit


def _slot_occupancy(work: _Work, decode: DecodeCapacity, unloaded_s: float) -> float:
    """Mean share of a replica's batch slots in use at the TTFT limit (1 without one).

    A request holds one of the c = max_batch slots for its whole decode (generated · step);
    with Poisson arrivals it finds them all taken with the Erlang C probability, and the wait
    for a slot must fit in the TTFT slack left after its unloaded TTFT
    (:func:`_unloaded_ttft_s`, :func:`planner.perf.queueing.max_offered_load`). Arrivals are
    then capped at a / holding, i.e. the load at most a / c; the step time is kept at the
    full batch's (conservative: a smaller batch in the same GEMM waves takes as long,
    planner/perf/gemm_shape.py).
    """
    slots = decode.max_batch
    if work.ttft is None or slots < 1:
        return 1.0
    holding = work.generated * decode.step_time_s
    slack = work.ttft.seconds - unloaded_s
    return max_offered_load(slots, holding, slack, work.ttft.percentile) / slots


def _burst_z(work: _Work) -> float:
    """Standard-normal quantile of the TPOT limit's percentile when that limit sets the step
    (:class:`planner.perf.serving.PrefillChunk`); 0 for a mean-speed (interactivity) limit."""
    tpot = work.tpot
    if tpot is None or tpot.seconds > work.target_step_s or tpot.percentile <= 0.5:
        return 0.0
    return NormalDist().inv_cdf(tpot.percentile)


def _replace_step(work: _Work, step_s: float) -> _Work:
    return _Work(work.prompt, work.computed, work.attention_prompt, work.generated,
                 work.context, step_s, work.ttft, work.tpot)


def colocated(spec: Serve, model: ModelSpec, system: System, precision: Precision,
              assumptions: Mapping[str, Assumption], work: _Work) -> Deployment:
    """One pool: decode steps that carry chunked prefill, queued at the TTFT limit; the load is
    also capped by the batch slots' Erlang C occupancy (:func:`_slot_occupancy`)."""
    layouts = _pins(spec.layout.decode, model, system)
    burst_z = _burst_z(work)
    chunk = (PrefillChunk(work.computed / work.generated, work.attention_prompt / 2.0, burst_z,
                          work.target_step_s if burst_z > 0 else 0.0, work.computed)
             if work.computed > 0 and work.generated > 0 else None)
    if work.ttft is None:
        decode, service, load, per_step = _batch_formation(
            spec, model, system, precision, assumptions, work, chunk, layouts)
    else:  # the layout that serves most at the TTFT limit (single-stage if one fits), not the
        # fastest offline
        candidates = layouts or tuple(all_layouts(model.architecture, system))
        formed = [_batch_formation(spec, model, system, precision, assumptions, work, chunk,
                                   (layout,)) for layout in candidates]
        fitting = [f for f in formed if f[0].max_batch_memory >= 1] or formed
        # pipeline stages only when no single-stage layout fits, as everywhere else
        # (planner.perf.serving._choose, prefill_options)
        fitting = [f for f in fitting if f[0].layout.pp == 1] or fitting
        decode, service, load, per_step = max(
            fitting, key=lambda f: f[0].tokens_per_s_per_unit * f[2])
        load = min(load, _slot_occupancy(
            work, decode, _unloaded_ttft_s(work, decode, service, per_step)))
    if work.ttft is not None and work.computed > 0 and decode.step_time_s > 0:
        # bulk admission: wait in the k-per-step queue, then the admitting step (service)
        admit_s = decode.step_time_s / per_step
        ttft = _ttft(work, load * _queue_load(work, decode, per_step), admit_s, service)
        unloaded = _unloaded_ttft_s(work, decode, service, per_step)
    else:
        ttft, unloaded = _ttft(work, load, service, decode.step_time_s), service
    alone = _decode(spec, model, system, precision, assumptions, work, None, (decode.layout,))
    rate = decode.tokens_per_s_per_unit * load
    unit_s = work.generated / rate if rate > 0 else math.inf
    _, prefill_only = best_prefill_layout(
        model, system, precision=precision, weights_precision=spec.weights_precision,
        kv_precision=spec.kv_precision, prompt_tokens=work.attention_prompt,
        assumptions=assumptions, layouts=(decode.layout,), memory_reserve=spec.memory_reserve)
    t_prefill = work.computed / prefill_only if prefill_only > 0 else 0.0
    t_decode = (work.generated / alone.tokens_per_s_per_unit
                if alone.tokens_per_s_per_unit > 0 else math.inf)
    share = t_prefill / (t_prefill + t_decode) if math.isfinite(t_decode) else 0.0
    prefill_unit_s = share * unit_s if math.isfinite(unit_s) else math.inf
    input_rate = work.prompt / unit_s if math.isfinite(unit_s) and unit_s > 0 else 0.0
    prefill = PoolResult(decode.layout, input_rate, decode.bound, prefill_unit_s)
    pool = PoolResult(decode.layout, rate, decode.bound, unit_s - prefill_unit_s
                      if math.isfinite(unit_s) else math.inf)
    return Deployment(
        disaggregated=False, decode=decode, prefill=prefill, decode_pool=pool,
        prefill_capacity_per_unit=prefill_only, load=load,
        ttft_s=ttft, ttft_unloaded_s=unloaded,
        tpot_s=decode.tpot_s, kv_transfer_s=0.0, generated_tokens=work.generated,
        input_tokens=work.prompt, computed_prompt_tokens=work.computed)


def disaggregated(spec: Serve, model: ModelSpec, system: System, precision: Precision,
                  assumptions: Mapping[str, Assumption], work: _Work,
                  kv_bytes_per_token: float) -> Deployment:
    """Separate prefill and decode pools, the prompt's KV moved between them."""
    decode = _decode(spec, model, system, precision, assumptions, work, None,
                     _pins(spec.layout.decode, model, system))
    transfer = kv_transfer_s(kv_bytes_per_token, work.prompt, system,
                             assumptions["ep_network"].value)
    fixed = transfer + decode.step_time_s
    options = []
    for layout, capacity in prefill_options(
            model, system, precision=precision, weights_precision=spec.weights_precision,
            kv_precision=spec.kv_precision, prompt_tokens=work.attention_prompt,
            assumptions=assumptions, layouts=_pins(spec.layout.prefill, model, system),
            memory_reserve=spec.memory_reserve):
        service = _single_prompt_s(model, system, layout, spec, precision, assumptions, work)
        load = _load(work, service, fixed) if capacity > 0 else 0.0
        options.append((capacity * load, -layout.group_size, layout, capacity, service, load))
    _, _, layout, capacity, service, load = max(options, key=lambda o: (o[0], o[1]))
    served = capacity * load
    prefill_unit_s = work.computed / served if served > 0 else (0.0 if work.computed <= 0
                                                                 else math.inf)
    decode_rate = decode.tokens_per_s_per_unit
    decode_unit_s = work.generated / decode_rate if decode_rate > 0 else math.inf
    input_rate = served / (1.0 - spec.prefix_cache_hit_fraction) if served > 0 else 0.0
    bound = "compute" if capacity > 0 else "hbm-capacity"
    return Deployment(
        disaggregated=True, decode=decode,
        prefill=PoolResult(layout, input_rate, bound, prefill_unit_s),
        decode_pool=PoolResult(decode.layout, decode_rate, decode.bound, decode_unit_s),
        prefill_capacity_per_unit=capacity, load=load, ttft_s=_ttft(work, load, service, fixed),
        ttft_unloaded_s=service + fixed, tpot_s=decode.step_time_s, kv_transfer_s=transfer,
        generated_tokens=work.generated, input_tokens=work.prompt,
        computed_prompt_tokens=work.computed)


def deploy(spec: Serve, model: ModelSpec, system: System, precision: Precision,
           assumptions: Mapping[str, Assumption], context: float,
           kv_bytes_per_token: float) -> Deployment:
    """The workload's deployment: colocated, disaggregated, or (auto) the one with more
    generated tokens/s per unit at the targets, i.e. the cheaper per token."""
    work = _work(spec, context)
    options = []
    if spec.disaggregated in (False, "auto"):
        options.append(colocated(spec, model, system, precision, assumptions, work))
    if spec.disaggregated in (True, "auto"):
        options.append(disaggregated(spec, model, system, precision, assumptions, work,
                                     kv_bytes_per_token))
    return max(options, key=lambda d: (d.tokens_per_s_per_unit, not d.disaggregated))
