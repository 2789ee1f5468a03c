"""The validation of meaning: every workload field within its domain before any model runs.

The schemas (:mod:`planner.workload.schema`) check types, units and signs. This module checks
what a value means for the model it names: counts that divide by zero when they are 0, lengths
beyond the model's context window, a pinned parallel layout that cannot run the model, efficiency
factors of 0, and counts so large that no plan could be computed. Each problem names the file,
line and YAML field (or the `--set` option that wrote it), so that the performance models in
:mod:`planner.perf` never see a value they cannot use.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, assert_never

from planner import limits
from planner.catalog.checks import check_efficiency
from planner.catalog.schema import Fleet
from planner.errors import Problem
from planner.schema import did_you_mean
from planner.workload.schema import ModelSpec, Posttrain, Pretrain, Serve
from planner.yamlio import Document, PathKey, format_path

__all__ = ["MAX_WORK", "check_regions", "check_workload"]

# The most tokens one workload may ask to process: 10^24 is some 10^11 times the largest
# published pretraining corpus (15.6T tokens, Llama 3.1); larger counts only overflow the
# solver's numerics (problems=1e30 ended in an IndexError inside PuLP's solution reader).
MAX_WORK = 1e24
# The shortest deadline or serving duration: a minute. Shorter horizons plan nothing real and,
# at 1e-300 s, turned the LP's coefficients into overflows.
MIN_HORIZON_S = 60.0
# The smallest total request rate: one request in about eleven days (1e-300/s crashed PuLP's
# solution reader).
MIN_RATE = 1e-6
# Most optimiser steps of one post-training run: a step a second for 30 years. More weight
# syncs than that (2.8e12 was tried) overflow the LP's numbers.
MAX_POLICY_UPDATES = 1e9
# Most reward-model passes per sample or step; ensembles use a handful. 1e18 passes overflowed
# the LP (an IndexError inside PuLP's solution reader, found by the 100,000-case fuzz run).
MAX_PASSES = 1000.0
# Most answers drawn per query (self-consistency votes); o1 pro style voting uses tens.
MAX_VOTES = 10_000


@dataclass
class _Checker:
    """Collects problems located in one document under one base path."""

    doc: Document
    base: PathKey
    problems: list[Problem] = field(default_factory=list)

    def fail(self, path: PathKey, message: str, hint: str = "") -> None:
        self.problems.append(self.doc.problem((*self.base, *path), message, hint))

    def at_least(self, path: PathKey, value: float | None, low: float, hint: str) -> None:
        """``value`` must be ``>= low`` (a count of at least one, a positive duration)."""
        if value is not None and not value >= low:
            wanted = "positive" if low == 0 else f"at least {low:g}"
            self.fail(path, f"{value:g} is not allowed: it must be {wanted}", hint)

    def positive(self, path: PathKey, value: float | None, hint: str) -> None:
        if value is not None and not value > 0:
            self.fail(path, f"{value:g} is not allowed: it must be above zero", hint)

    def at_most(self, path: PathKey, value: float | None, high: float, why: str) -> None:
        if value is not None and value > high:
            self.fail(path, f"{value:g} is too large (at most {high:g}): {why}",
                      "check the order of magnitude")


def check_workload(doc: Document, base: PathKey, spec: Pretrain | Posttrain | Serve,
                   models: Mapping[str, ModelSpec]) -> list[Problem]:
    """Every problem of meaning in one validated workload whose models are resolved."""
    check = _Checker(doc, base)
    check.problems += check_efficiency(doc, (*base, "efficiency"), spec.efficiency)
    model = models.get(spec.model)
    match spec:
        case Pretrain():
            _pretrain(check, spec, model)
        case Posttrain():
            _posttrain(check, spec, models)
        case Serve():
            _serve(check, spec, model)
        case _:
            assert_never(spec)
    return check.problems


def _pretrain(check: _Checker, spec: Pretrain, model: ModelSpec | None) -> None:
    before = len(check.problems)  # the layout count is checked only when all else is sound
    check.positive(("tokens",), spec.tokens, "give the token budget, e.g. '15T'")
    check.at_most(("tokens",), spec.tokens, MAX_WORK, "no training run is that large")
    check.at_least(("deadline",), spec.deadline, MIN_HORIZON_S,
                   "give a duration such as '90 days' (at least a minute)")
    check.at_least(("global_batch_tokens",), spec.global_batch_tokens, spec.sequence_length,
                   "a global batch holds at least one sequence (sequence_length tokens)")
    check.at_most(("accelerators",), spec.accelerators, limits.MAX_ACCELERATORS,
                  "no planned cluster is that large")
    if model is None:
        return
    arch = model.architecture
    if spec.sequence_length > model.context_length:
        check.fail(("sequence_length",), f"{spec.sequence_length:,} tokens exceed the context "
                   f"length of {model.id} ({model.context_length:,} tokens)",
                   f"use at most {model.context_length}")
    layout = spec.parallelism
    if layout.tp is not None and arch.heads % layout.tp:
        check.fail(("parallelism", "tp"), f"tensor parallelism {layout.tp} does not divide the "
                   f"{arch.heads} attention heads of {model.id}",
                   f"use a divisor of {arch.heads}, e.g. {_divisor_near(arch.heads, layout.tp)}")
    if layout.pp is not None and layout.pp > arch.layers:
        check.fail(("parallelism", "pp"), f"{layout.pp} pipeline stages for {arch.layers} "
                   "layers", f"use at most {arch.layers}")
    if layout.ep is not None and arch.moe is None and layout.ep > 1:
        check.fail(("parallelism", "ep"), f"expert parallelism {layout.ep} on {model.id}, a "
                   "dense model (it has no experts)", "remove parallelism.ep")
    if layout.ep is not None and arch.moe is not None and arch.moe.experts % layout.ep:
        check.fail(("parallelism", "ep"), f"expert parallelism {layout.ep} does not divide "
                   f"the {arch.moe.experts} experts of {model.id}",
                   f"use a divisor of {arch.moe.experts}")
    pinned = [layout.tp, layout.pp, layout.dp]
    if spec.accelerators is not None and len(check.problems) == before and \
            all(degree is not None for degree in pinned):
        names = ["tp", "cp", "pp", "dp"] if layout.cp is not None else ["tp", "pp", "dp"]
        degrees = [getattr(layout, name) for name in names]
        need = math.prod(degrees)
        if need != spec.accelerators:
            check.fail(("accelerators",), f"{spec.accelerators:,} accelerators, but the pinned "
                       f"layout needs {' x '.join(names)} = "
                       f"{' x '.join(str(d) for d in degrees)} = {need:,}",
                       f"set accelerators: {need}, or unpin the layout to search it again: "
                       "--set parallelism={}")


def _divisor_near(number: int, wanted: int) -> int:
    """The divisor of ``number`` closest to ``wanted`` (the smaller one on a tie)."""
    return min((d for d in range(1, number + 1) if number % d == 0),
               key=lambda d: (abs(d - wanted), d))


def _posttrain(check: _Checker, spec: Posttrain, models: Mapping[str, ModelSpec]) -> None:
    check.at_least(("deadline",), spec.deadline, MIN_HORIZON_S,
                   "give a duration such as '60 days' (at least a minute)")
    check.at_least(("problems",), spec.problems, 1, "give a problem count such as '10M'")
    check.at_least(("samples_per_problem",), spec.samples_per_problem, 1,
                   "give the samples drawn per problem, e.g. 64")
    check.at_least(("branching_factor",), spec.branching_factor, 1,
                   "children per node of the sample tree: 1 for independent samples")
    check.at_least(("tokens_per_sample",), spec.tokens_per_sample, 1,
                   "give the generated tokens per sample, e.g. '16k'")
    generated = spec.problems * spec.samples_per_problem * spec.tokens_per_sample
    if generated > MAX_WORK:
        check.fail(("problems",), f"problems x samples_per_problem x tokens_per_sample = "
                   f"{generated:.3g} generated tokens is too large (at most {MAX_WORK:g})",
                   "check the order of magnitude of the three counts")
    kept = spec.problems * spec.samples_per_problem * spec.keep_fraction
    counts_fine = spec.problems >= 1 and spec.samples_per_problem >= 1 and generated <= MAX_WORK
    if counts_fine and spec.policy_updates > min(kept, MAX_POLICY_UPDATES):
        check.fail(("policy_updates",), f"{spec.policy_updates:,} optimiser steps, but "
                   f"{min(kept, MAX_POLICY_UPDATES):,.0f} is the most: each step trains on at "
                   f"least one kept sample ({kept:,.0f} are kept) and at most "
                   f"{MAX_POLICY_UPDATES:g} steps are planned",
                   "lower policy_updates or raise keep_fraction")
    prm = spec.reward_models.prm
    if prm is not None:
        check.at_least(("reward_models", "prm", "step_tokens"), prm.step_tokens, 1,
                       "a reasoning step is at least one token, e.g. 512")
        check.positive(("reward_models", "prm", "passes"), prm.passes, "use 1")
        check.at_most(("reward_models", "prm", "passes"), prm.passes, MAX_PASSES,
                      "reward ensembles use a handful of passes")
    orm = spec.reward_models.orm
    if orm is not None:
        check.positive(("reward_models", "orm", "passes"), orm.passes, "use 1")
        check.at_most(("reward_models", "orm", "passes"), orm.passes, MAX_PASSES,
                      "reward ensembles use a handful of passes")
    generator = models.get(spec.generator.model or spec.model)
    context = spec.prompt_tokens + spec.tokens_per_sample
    if generator is not None and context > generator.context_length:
        check.fail(("tokens_per_sample",), f"prompt_tokens + tokens_per_sample = {context:,.0f} "
                   f"tokens exceed the context length of {generator.id} "
                   f"({generator.context_length:,} tokens)",
                   "shorten the samples or use a longer-context model")
    check.positive(("generator", "interactivity"), spec.generator.interactivity,
                   "give the decode speed per stream, e.g. '20 tokens/s'")
    if spec.verified_fraction > 0:  # the verify role runs on CPU cores: 0 s leaves it nowhere
        check.positive(("verifier_cpu_seconds",), spec.verifier_cpu_seconds,
                       "give the CPU core-seconds per verified sample, e.g. '30 s', or set "
                       "verified_fraction: 0 for no functional verifier")


def _serve(check: _Checker, spec: Serve, model: ModelSpec | None) -> None:
    check.at_least(("output_tokens",), spec.output_tokens, 1,
                   "a request generates at least one token")
    if 0 < spec.input_tokens < 1:  # 0 is allowed (no prompt); 1e-300 is no token count
        check.fail(("input_tokens",), f"{spec.input_tokens:g} tokens is less than one token",
                   "give 0 (no prompt) or a whole number of tokens, e.g. 1000")
    if spec.interactivity < 0:  # 0 means no decode-speed target: offline, or 'tpot' alone
        check.positive(("interactivity",), spec.interactivity,
                       "give the decode speed per user, e.g. '30 tokens/s' (0: no target)")
    check.at_least(("duration",), spec.duration, MIN_HORIZON_S,
                   "give a duration such as '30 days' (at least a minute)")
    check.at_most(("votes",), spec.votes, MAX_VOTES, "no voting scheme draws that many answers")
    check.positive(("latency_bound",), spec.latency_bound, "give a bound such as '100 ms'")
    rates = spec.requests_per_second
    by_region = rates if isinstance(rates, dict) else {"": rates}
    total = sum(by_region.values())
    if not total >= MIN_RATE:
        check.fail(("requests_per_second",), f"a total of {total:g} requests/s is below "
                   f"{MIN_RATE:g}/s (one request in eleven days)",
                   "give a rate such as '10/s'")
    work = total * spec.duration * (spec.input_tokens + spec.output_tokens * spec.votes)
    if work > MAX_WORK and spec.votes <= MAX_VOTES:
        check.fail(("requests_per_second",), f"{total:g} requests/s for the duration is "
                   f"{work:.3g} tokens (at most {MAX_WORK:g})", "check the order of magnitude")
    if model is None:
        return
    context = spec.input_tokens + spec.output_tokens
    if context > model.context_length:
        check.fail(("input_tokens",), f"input_tokens + output_tokens = {context:,.0f} tokens "
                   f"exceed the context length of {model.id} ({model.context_length:,} tokens)",
                   "shorten the request or use a longer-context model")



def check_regions(workloads: Sequence[Any], fleet: Fleet, fleet_file: str) -> list[Problem]:
    """Every region a serving workload names is the region of some site of the fleet.

    An unknown region used to reach the LP and exit 3 ("no site within 100 ms of region
    mars"); it is a typo or the wrong fleet, so it is bad input (exit 2), located at the key.
    """
    regions = sorted({site.region for site in fleet.sites})
    problems = []
    for loaded in workloads:
        rates = getattr(loaded.spec, "requests_per_second", None)
        if not isinstance(rates, dict):
            continue
        for region in rates:
            if region in regions:
                continue
            message = f"unknown region {region!r} (fleet {fleet.id}, {fleet_file})"
            hint = did_you_mean(region, regions)
            path = (*loaded.base, "requests_per_second", region)
            problems.append(loaded.doc.problem(path, message, hint, key=True)
                            if loaded.doc is not None else
                            Problem(loaded.file, format_path(path), message, hint))
    return problems
