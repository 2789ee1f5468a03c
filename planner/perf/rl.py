"""Berry-style RL post-training: the work of each role and its throughput on a system.

Roles (docs/performance-model.md, source article section on Berry-style training):

- ``generate``: the generator decodes a tree of samples per problem. With ``samples_per_problem``
  S and ``branching_factor`` b, the tree has depth D = ceil(log_b S); level l holds min(b^l, S)
  nodes, each generating ``tokens_per_sample / D`` tokens, so shared prefixes are generated (and
  their KV cached) once. The prompt is prefilled once per problem.
- ``score``: the outcome reward model (ORM) reads every sample in full (prompt + sample tokens,
  ``passes`` times); the process reward model (PRM) scores every step along the tree, so it reads
  the tree's unique tokens. Both are forward passes (prefill).
- ``verify``: functional verifiers (code sandboxes, math checkers) run on CPU cores:
  samples x ``verified_fraction`` x ``verifier_cpu_seconds`` core-seconds.
- ``update``: PPO-style policy update on the kept samples (``keep_fraction``): per token,
  ``forward_backward_ratio`` r forward passes (policy, reference, reward, value: 2N FLOPs each)
  and one backward pass (4N), i.e. (2r + 4)N FLOPs against pretraining's 6N.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from planner.catalog.schema import Precision, System
from planner.perf.assumptions import Assumption, resolve
from planner.perf.cost import COST_DEFAULTS, unit_cost
from planner.workload.params import count_params, forward_flops_per_token, weights_bytes
from planner.workload.schema import ModelSpec, Posttrain

__all__ = [
    "PosttrainDemand",
    "PosttrainEstimate",
    "RlAssumptions",
    "RoleEstimate",
    "estimate_posttrain",
    "posttrain_assumptions",
    "posttrain_demand",
    "role_estimates",
]

TOKEN_ID_BYTES = 4  # a sample shipped between sites is its token ids (int32) plus metadata
SAMPLE_OVERHEAD_BYTES = 1024  # rewards, log-probs summary, ids: a named, small assumption


@dataclass(frozen=True, slots=True)
class PosttrainDemand:
    """Hardware-independent work of a post-training run."""

    samples: float
    tree_depth: int
    unique_tokens_per_problem: float
    generated_tokens: float
    prefill_tokens: float
    orm_tokens: float
    prm_tokens: float
    verified_samples: float
    verifier_core_seconds: float
    kept_samples: float
    update_tokens: float
    generation_flops: float
    scoring_flops: float
    update_forward_flops: float
    update_backward_flops: float
    weight_sync_bytes_per_update: float
    sample_bytes: float

    @property
    def total_flops(self) -> float:
        """All accelerator FLOPs of the run."""
        return (self.generation_flops + self.scoring_flops + self.update_forward_flops
                + self.update_backward_flops)

    @property
    def forward_backward_flop_ratio(self) -> float:
        """Forward FLOPs (generation, scoring, update forwards) per backward FLOP."""
        forward = self.generation_flops + self.scoring_flops + self.update_forward_flops
        return forward / self.update_backward_flops if self.update_backward_flops else math.inf


def tree_shape(samples: float, branching: float) -> tuple[int, float]:
    """Depth of the sample tree and its node count (segments generated per problem)."""
    if branching <= 1.0 or samples <= 1.0:
        return 1, samples
    depth = max(1, math.ceil(math.log(samples, branching) - 1e-9))
    nodes = sum(min(branching**level, samples) for level in range(1, depth + 1))
    return depth, nodes


def posttrain_demand(spec: Posttrain, models: dict[str, ModelSpec]) -> PosttrainDemand:
    """Tokens, FLOPs, CPU-seconds and bytes of every role, independent of hardware."""
    policy = models[spec.model].architecture
    generator = models[spec.generator.model or spec.model].architecture
    samples = spec.problems * spec.samples_per_problem
    depth, nodes = tree_shape(spec.samples_per_problem, spec.branching_factor)
    unique_per_problem = nodes * spec.tokens_per_sample / depth
    generated = spec.problems * unique_per_problem
    mean_context = spec.prompt_tokens + spec.tokens_per_sample / 2
    orm_tokens = prm_tokens = scoring_flops = 0.0
    if spec.reward_models.orm is not None:
        orm = models[spec.reward_models.orm.model].architecture
        orm_tokens = samples * (spec.prompt_tokens + spec.tokens_per_sample) * \
            spec.reward_models.orm.passes
        scoring_flops += orm_tokens * forward_flops_per_token(orm, mean_context)
    if spec.reward_models.prm is not None:
        prm = models[spec.reward_models.prm.model].architecture
        prm_tokens = generated * spec.reward_models.prm.passes
        scoring_flops += prm_tokens * forward_flops_per_token(prm, mean_context)
    kept = samples * spec.keep_fraction
    update_tokens = kept * (spec.prompt_tokens + spec.tokens_per_sample)
    forward_per_token = forward_flops_per_token(policy, mean_context)
    return PosttrainDemand(
        samples=samples, tree_depth=depth, unique_tokens_per_problem=unique_per_problem,
        generated_tokens=generated, prefill_tokens=spec.problems * spec.prompt_tokens,
        orm_tokens=orm_tokens, prm_tokens=prm_tokens,
        verified_samples=samples * spec.verified_fraction,
        verifier_core_seconds=samples * spec.verified_fraction * spec.verifier_cpu_seconds,
        kept_samples=kept, update_tokens=update_tokens,
        generation_flops=(generated + spec.problems * spec.prompt_tokens)
        * forward_flops_per_token(generator, mean_context),
        scoring_flops=scoring_flops,
        update_forward_flops=update_tokens * spec.forward_backward_ratio * forward_per_token,
        update_backward_flops=update_tokens * 2.0 * forward_per_token,
        weight_sync_bytes_per_update=weights_bytes(policy, _bytes(spec.generator
                                                                   .weights_precision)),
        sample_bytes=(spec.prompt_tokens + spec.tokens_per_sample) * TOKEN_ID_BYTES
        + SAMPLE_OVERHEAD_BYTES,
    )


def _bytes(precision: Precision) -> float:
    from planner.catalog.schema import BYTES_PER_ELEMENT

    return BYTES_PER_ELEMENT[precision]


@dataclass(frozen=True, slots=True)
class RoleEstimate:
    """One role on one system: its work and how fast one unit does it."""

    role: str
    work: float
    work_unit: str
    throughput_per_unit: float  # work units per second per procurable unit
    bound: str
    model: str = ""
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (contract keys: role, work, work_unit, throughput_per_unit, bound)."""
        return {"role": self.role, "work": self.work, "work_unit": self.work_unit,
                "throughput_per_unit": self.throughput_per_unit, "bound": self.bound,
                "model": self.model, **self.detail}


@dataclass(frozen=True, slots=True)
class RlAssumptions:
    """The assumptions of the serving-side roles (generate, score) and of the update.

    They are kept apart because some names mean different physics on each side: ``scale_up``
    is calibrated on small decode all-reduces for serving and on large gradient and activation
    collectives for training.
    """

    serving: dict[str, Assumption]
    training: dict[str, Assumption]

    def listing(self) -> list[Assumption]:
        """All assumptions once; a name with two different values is shown for each side."""
        merged: dict[str, Assumption] = {}
        for side, table in (("serving", self.serving), ("training", self.training)):
            for name, item in table.items():
                other = self.training if side == "serving" else self.serving
                if name in other and other[name].value != item.value:
                    label = f"{name} ({side})"
                    merged[label] = Assumption(label, item.value, item.source, item.note)
                else:
                    merged[name] = item
        return [merged[k] for k in sorted(merged)]


def posttrain_assumptions(spec: Posttrain, system: System,
                          overrides: dict[str, float] | None = None) -> RlAssumptions:
    """Serving and training defaults, then system, workload and explicit overrides."""
    from planner.perf.serving import DEFAULTS as SERVING_DEFAULTS
    from planner.perf.training import DEFAULTS as TRAINING_DEFAULTS

    sides = []
    for defaults in (SERVING_DEFAULTS, TRAINING_DEFAULTS):
        table = resolve({**defaults, **COST_DEFAULTS}, system.id, system.efficiency,
                        spec.name or "posttrain", spec.efficiency)
        for name, value in (overrides or {}).items():
            note = table[name].note if name in table else ""
            table[name] = Assumption(name, value, "override", note)
        sides.append(table)
    return RlAssumptions(serving=sides[0], training=sides[1])


def _compute_precision(system: System, wanted: Precision) -> Precision:
    if system.accelerator.peak_flops.at(wanted) is not None:
        return wanted
    return Precision.BF16


def role_estimates(spec: Posttrain, models: dict[str, ModelSpec], system: System,
                   assumptions: RlAssumptions,
                   demand: PosttrainDemand | None = None) -> list[RoleEstimate]:
    """Throughput per unit of every role on one system (0 when the role cannot run there)."""
    demand = demand or posttrain_demand(spec, models)
    return [_generate(spec, models, system, assumptions.serving, demand),
            _score(spec, models, system, assumptions.serving, demand),
            _verify(spec, system, demand),
            _update(spec, models, system, assumptions.training, demand)]


def _generate(spec: Posttrain, models: dict[str, ModelSpec], system: System,
              assumptions: dict[str, Assumption], demand: PosttrainDemand) -> RoleEstimate:
    from planner.perf.serving import decode_capacity, prefill_tokens_per_s_per_unit

    gen_id = spec.generator.model or spec.model
    model = models[gen_id]
    precision = _compute_precision(system, spec.generator.weights_precision)
    capacity = decode_capacity(
        model, system, weights_precision=spec.generator.weights_precision,
        kv_precision=spec.generator.kv_precision, compute_precision=precision,
        context_tokens=spec.prompt_tokens + spec.tokens_per_sample / 2,
        interactivity=spec.generator.interactivity, assumptions=assumptions)
    prefill = prefill_tokens_per_s_per_unit(model, system, precision=precision,
                                            prompt_tokens=spec.prompt_tokens,
                                            assumptions=assumptions)
    tokens_per_sample = demand.generated_tokens / demand.samples
    prompt_per_sample = demand.prefill_tokens / demand.samples
    rate = 0.0
    if capacity.tokens_per_s_per_unit > 0 and prefill > 0:
        rate = 1.0 / (tokens_per_sample / capacity.tokens_per_s_per_unit
                      + prompt_per_sample / prefill)
    return RoleEstimate("generate", demand.samples, "samples", rate, capacity.bound, gen_id,
                        {"tokens_per_s_per_unit": capacity.tokens_per_s_per_unit,
                         "batch": capacity.max_batch, "group_size": capacity.group_size,
                         "unique_tokens_per_sample": tokens_per_sample})


def _score(spec: Posttrain, models: dict[str, ModelSpec], system: System,
           assumptions: dict[str, Assumption], demand: PosttrainDemand) -> RoleEstimate:
    from planner.perf.serving import prefill_tokens_per_s_per_unit

    seconds_per_sample, names = 0.0, []
    context = spec.prompt_tokens + spec.tokens_per_sample
    for rm, tokens in ((spec.reward_models.orm, demand.orm_tokens),
                       (spec.reward_models.prm, demand.prm_tokens)):
        if rm is None:
            continue
        rate = prefill_tokens_per_s_per_unit(models[rm.model], system,
                                             precision=_compute_precision(system, Precision.FP8),
                                             prompt_tokens=context, assumptions=assumptions)
        if rate <= 0:
            return RoleEstimate("score", demand.samples, "samples", 0.0, "hbm-capacity",
                                rm.model)
        seconds_per_sample += tokens / demand.samples / rate
        names.append(rm.model)
    rate = 1.0 / seconds_per_sample if seconds_per_sample else math.inf
    return RoleEstimate("score", demand.samples, "samples", rate, "compute", "+".join(names),
                        {"reward_tokens_per_sample": (demand.orm_tokens + demand.prm_tokens)
                         / demand.samples})


def _verify(spec: Posttrain, system: System, demand: PosttrainDemand) -> RoleEstimate:
    cores = system.host.cores
    rate = cores / spec.verifier_cpu_seconds if spec.verifier_cpu_seconds else math.inf
    return RoleEstimate("verify", demand.verified_samples, "samples", rate, "cpu-cores",
                        "cpu", {"cpu_cores_per_unit": cores,
                                "cpu_cores_per_accelerator": system.cpu_cores_per_accelerator,
                                "cpu_seconds_per_sample": spec.verifier_cpu_seconds})


def _update(spec: Posttrain, models: dict[str, ModelSpec], system: System,
            assumptions: dict[str, Assumption], demand: PosttrainDemand) -> RoleEstimate:
    from planner.perf.training import training_throughput

    model = models[spec.model]
    sequence = int(spec.prompt_tokens + spec.tokens_per_sample)
    accelerators = max(system.accelerators, _update_accelerators_hint(model, system))
    from planner.workload.schema import Recompute

    # Long RL samples may not fit with selective recomputation; fall back to full.
    for recompute in (Recompute.SELECTIVE, Recompute.FULL):
        result = training_throughput(model, system, sequence_length=sequence,
                                     precision=spec.precision, accelerators=accelerators,
                                     assumptions=assumptions, recompute=recompute)
        if result.tokens_per_s_per_unit > 0:
            break
    # Training throughput counts 6N per token; a PPO update costs (2r + 4)N per token.
    per_token_ratio = 6.0 / (2.0 * spec.forward_backward_ratio + 4.0)
    tokens_per_s = result.tokens_per_s_per_unit * per_token_ratio
    kept_tokens = spec.prompt_tokens + spec.tokens_per_sample
    return RoleEstimate("update", demand.kept_samples, "samples", tokens_per_s / kept_tokens,
                        result.bound, spec.model,
                        {"update_tokens_per_s_per_unit": tokens_per_s})


def _update_accelerators_hint(model: ModelSpec, system: System) -> int:
    """A trainer with 4x the HBM that the policy and its Adam states (16 B/param) need."""
    params = count_params(model.architecture).total
    need = 4 * 16 * params / system.accelerator.hbm_capacity
    units = max(1, math.ceil(need / system.accelerators))
    return units * system.accelerators


@dataclass(frozen=True, slots=True)
class PosttrainEstimate:
    """The calculator view of a post-training run on one system, sized to its deadline."""

    workload: str
    system: str
    demand: PosttrainDemand
    roles: tuple[RoleEstimate, ...]
    units_by_role: dict[str, float]
    accelerator_units: float
    cpu_cores_needed: float
    cpu_cores_on_units: float
    cpu_servers_needed: float
    wall_time_s: float
    cost_usd: float
    generation_time_share: float
    pretraining_flops: float | None
    bound: str
    assumptions: tuple[Assumption, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; the keys named in the README are a contract."""
        d = self.demand
        return {
            "roles": [{**r.to_dict(), "units_needed": self.units_by_role.get(r.role, 0.0)}
                      for r in self.roles],
            "generated_tokens": d.generated_tokens,
            "samples": d.samples,
            "verifier_core_seconds": d.verifier_core_seconds,
            "forward_backward_flop_ratio": d.forward_backward_flop_ratio,
            "total_flops": d.total_flops,
            "generation_flops": d.generation_flops,
            "scoring_flops": d.scoring_flops,
            "update_flops": d.update_forward_flops + d.update_backward_flops,
            "pretraining_flops": self.pretraining_flops,
            "posttrain_to_pretrain_flop_ratio": (d.total_flops / self.pretraining_flops
                                                 if self.pretraining_flops else None),
            "generation_time_share": self.generation_time_share,
            "weight_sync_bytes_per_update": d.weight_sync_bytes_per_update,
            "units": self.accelerator_units,
            "cpu_cores_needed": self.cpu_cores_needed,
            "cpu_cores_on_units": self.cpu_cores_on_units,
            "cpu_cores_short": max(0.0, self.cpu_cores_needed - self.cpu_cores_on_units),
            "cpu_servers_needed": self.cpu_servers_needed,
            "wall_time_s": self.wall_time_s,
            "cost_usd": self.cost_usd,
        }


def estimate_posttrain(spec: Posttrain, models: dict[str, ModelSpec], system: System,
                       overrides: dict[str, float] | None = None,
                       cpu_server_cores: int = 192,
                       cpu_server_usd_per_s: float = 0.0) -> PosttrainEstimate:
    """Size the run on one system to finish by its deadline; report roles, CPUs, FLOPs, cost."""
    assumptions = posttrain_assumptions(spec, system, overrides)
    demand = posttrain_demand(spec, models)
    roles = role_estimates(spec, models, system, assumptions, demand)
    deadline = spec.deadline
    units = {r.role: (r.work / (r.throughput_per_unit * deadline) if r.throughput_per_unit
                      else math.inf) for r in roles if r.role != "verify"}
    accel_units = sum(units.values())
    cores_needed = demand.verifier_core_seconds / deadline
    cores_on_units = accel_units * system.host.cores
    servers = max(0.0, cores_needed - cores_on_units) / cpu_server_cores
    cost = unit_cost(system, assumptions.serving).usd_per_s * accel_units * deadline
    cost += servers * cpu_server_usd_per_s * deadline
    gen_share = units["generate"] / accel_units if accel_units else 0.0
    slowest = max(units, key=lambda r: units[r])
    bound = "cpu-cores" if servers > 0 else next(r.bound for r in roles if r.role == slowest)
    pretrain = _pretraining_flops(models[spec.model])
    return PosttrainEstimate(
        spec.name, system.id, demand, tuple(roles), units, accel_units, cores_needed,
        cores_on_units, servers, deadline, cost, gen_share, pretrain, bound,
        tuple(assumptions.listing()))


def _pretraining_flops(model: ModelSpec) -> float | None:
    tokens = model.published.pretraining_tokens
    if tokens is None:
        return None
    return 6.0 * count_params(model.architecture).active * tokens
