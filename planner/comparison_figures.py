"""Plot data of a comparison: the roofline of each role on each system, KV cache against
context, and the interactivity curve, computed by re-running the performance model at each
option's operating point (drawn by :mod:`planner.report.plots`; equations in
docs/performance-model.md).

The ranking and summaries of the options are :mod:`planner.comparison`; this module only adds
the numbers its figures need.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, assert_never

from planner.workload.schema import Posttrain, Pretrain, Serve

if TYPE_CHECKING:
    from planner.catalog.schema import System
    from planner.workload.load import LoadedWorkload

__all__ = ["INTERACTIVITY_GRID", "comparison_figure_data", "decode_intensity",
           "gemm_intensity"]



def comparison_figure_data(loaded: LoadedWorkload, rows: Sequence[Mapping[str, Any]]
                           ) -> dict[str, Any]:
    """Numbers for the comparison's figures (drawn by :mod:`planner.report.plots`)."""
    from planner.catalog.load import load_catalog

    catalog = load_catalog()
    usable = [r for r in rows if r["basis"] == "estimate" and r["status"] == "ok"]
    pairs = [(r, catalog.systems[r["target"]]) for r in usable]
    data: dict[str, Any] = {"roofline": _roofline_data(loaded, pairs)}
    if isinstance(loaded.spec, Serve) and pairs:
        data["kv"] = _kv_data(pairs)
        data["interactivity"] = _interactivity_data(loaded, loaded.spec, pairs)
    return data


def _bytes_per_element(precision: Any) -> float:
    from planner.catalog.schema import BYTES_PER_ELEMENT, Precision

    precision = getattr(precision, "tensor_precision", precision)  # a training recipe
    return BYTES_PER_ELEMENT[Precision(precision)]


def gemm_intensity(tokens: float, hidden: float, bytes_per_element: float) -> float:
    """Arithmetic intensity (FLOP/byte) of a tokens × hidden × hidden matmul.

    2·t·d² FLOPs over p·(t·d + d² + t·d) bytes (read the activations and the weights, write
    the output): the standard GEMM count (Williams et al. 2009, Roofline). Training steps and
    prefill are chains of such matmuls, so this places them on the roofline.
    """
    return 2.0 * tokens * hidden**2 / (bytes_per_element * (2.0 * tokens * hidden + hidden**2))


def decode_intensity(arch: Any, batch: float, context: float, weights_bytes_: float,
                     kv_bytes_per_token_: float) -> float:
    """FLOP/byte of one decode step: b·F(s) / (W + b·s·kv) (docs/performance-model.md)."""
    from planner.workload.params import forward_flops_per_token

    flops = batch * forward_flops_per_token(arch, context)
    return flops / (weights_bytes_ + batch * context * kv_bytes_per_token_)


def _roof(system: System, precision: str) -> dict[str, Any]:
    from planner.catalog.schema import Precision

    peak = system.accelerator.peak_flops.at(Precision(precision)) or \
        system.accelerator.peak_flops.bf16
    return {"name": f"{system.id} ({precision})", "peak_flops_per_s": peak,
            "memory_bandwidth_bytes_per_s": system.accelerator.hbm_bandwidth}


def _roofline_data(loaded: LoadedWorkload, pairs: Sequence[tuple[Mapping[str, Any], System]]
                   ) -> dict[str, Any]:
    """Roofs of the systems and one point per role (FLOP/s per accelerator vs intensity)."""
    systems, points = [], []
    for row, system in pairs:
        precision, role_points = _role_points(loaded, row, system)
        roof = _roof(system, precision)
        systems.append(roof)
        points += [{**p, "system": roof["name"]} for p in role_points]
    return {"systems": systems, "points": points}


def _role_points(loaded: LoadedWorkload, row: Mapping[str, Any], system: System
                 ) -> tuple[str, list[dict[str, Any]]]:
    spec = loaded.spec
    match spec:
        case Serve():
            return _serve_points(loaded, spec, row, system)
        case Posttrain():
            return _posttrain_points(loaded, spec, row, system)
        case Pretrain():
            return _pretrain_points(loaded, spec, row, system)
        case _:
            assert_never(spec)


def _serve_points(loaded: LoadedWorkload, spec: Serve, row: Mapping[str, Any], system: System
                  ) -> tuple[str, list[dict[str, Any]]]:
    """Decode at the operating batch: b·F(s) per step over g accelerators and the step time."""
    from planner.workload.params import forward_flops_per_token

    d, arch = row["details"], loaded.model.architecture
    batch, context = float(d.get("max_batch") or 0), float(d.get("context_tokens") or 0)
    group = float(row.get("group_size") or system.accelerators)
    step = float(d.get("step_time_s") or 0.0)
    precision = str(d.get("compute_precision") or spec.weights_precision)
    if batch <= 0 or step <= 0:
        return precision, []
    achieved = batch * forward_flops_per_token(arch, context) / (group * step)
    intensity = decode_intensity(arch, batch, context, float(d["weights_bytes"]),
                                 float(d["kv_bytes_per_token"]))
    return precision, [{"label": f"decode b={batch:,.0f}", "intensity_flops_per_byte":
                        intensity, "flops_per_s": achieved}]


def _posttrain_points(loaded: LoadedWorkload, spec: Posttrain, row: Mapping[str, Any],
                      system: System
                      ) -> tuple[str, list[dict[str, Any]]]:
    """Generate (decode), update (training) and score (prefill) of an RL post-training run,
    each as FLOP/s per accelerator against its arithmetic intensity."""
    roles = {r["role"]: r for r in row.get("roles", [])}
    context = float(spec.prompt_tokens + spec.tokens_per_sample / 2)  # mean over a sample
    per_accel = 1.0 / system.accelerators
    points = [_generate_point(loaded, spec, roles.get("generate", {}), context, per_accel),
              _update_point(loaded, spec, roles.get("update", {}), context, per_accel),
              _score_point(loaded, spec, roles.get("score", {}), context, per_accel)]
    return str(spec.generator.weights_precision), [p for p in points if p is not None]


def _generate_point(loaded: LoadedWorkload, spec: Posttrain, role: Mapping[str, Any],
                    context: float,
                    per_accel: float) -> dict[str, Any] | None:
    """Decode at the role's batch: tokens/s per unit × F(s) FLOPs per token."""
    from planner.workload.params import forward_flops_per_token, kv_bytes_per_token, weights_bytes

    if not (role.get("tokens_per_s_per_unit") and role.get("batch")):
        return None
    arch = loaded.models[spec.generator.model or spec.model].architecture
    w = weights_bytes(arch, _bytes_per_element(spec.generator.weights_precision))
    kv = kv_bytes_per_token(arch, _bytes_per_element(spec.generator.kv_precision))
    return {"label": "generate",
            "intensity_flops_per_byte": decode_intensity(arch, float(role["batch"]), context,
                                                         w, kv),
            "flops_per_s": float(role["tokens_per_s_per_unit"])
            * forward_flops_per_token(arch, context) * per_accel}


def _update_point(loaded: LoadedWorkload, spec: Posttrain, role: Mapping[str, Any],
                  context: float,
                  per_accel: float) -> dict[str, Any] | None:
    """PPO update: r forward passes and one backward (2 forwards' worth) per token,
    (r + 2)·F(s) FLOPs (planner.perf.rl), on training matmuls of one sample."""
    from planner.workload.params import forward_flops_per_token

    if not role.get("update_tokens_per_s_per_unit"):
        return None
    policy = loaded.models[spec.model].architecture
    flops = (spec.forward_backward_ratio + 2.0) * forward_flops_per_token(policy, context)
    sample = float(spec.prompt_tokens + spec.tokens_per_sample)
    return {"label": "update",
            "intensity_flops_per_byte": gemm_intensity(sample, policy.hidden,
                                                       _bytes_per_element(spec.precision)),
            "flops_per_s": float(role["update_tokens_per_s_per_unit"]) * flops * per_accel}


def _score_point(loaded: LoadedWorkload, spec: Posttrain, role: Mapping[str, Any],
                 context: float,
                 per_accel: float) -> dict[str, Any] | None:
    """Reward-model prefill (FP8 weights): samples/s × reward tokens per sample × F(s)."""
    from planner.workload.params import forward_flops_per_token

    if not (role.get("throughput_per_unit") and role.get("reward_tokens_per_sample")
            and spec.reward_models.orm is not None):
        return None
    orm = loaded.models[spec.reward_models.orm.model].architecture
    sample = float(spec.prompt_tokens + spec.tokens_per_sample)
    return {"label": "score", "intensity_flops_per_byte": gemm_intensity(sample, orm.hidden, 1.0),
            "flops_per_s": float(role["throughput_per_unit"])
            * float(role["reward_tokens_per_sample"])
            * forward_flops_per_token(orm, context) * per_accel}


def _pretrain_points(loaded: LoadedWorkload, spec: Pretrain, row: Mapping[str, Any],
                     system: System
                     ) -> tuple[str, list[dict[str, Any]]]:
    """Training matmuls of one microbatch (sequence × microbatch tokens)."""
    d = row["details"]
    achieved = d.get("flops_per_s_per_accelerator")
    if not achieved:
        return str(spec.precision), []
    tokens = float(spec.sequence_length) * float(d.get("microbatch") or 1)
    intensity = gemm_intensity(tokens, loaded.model.architecture.hidden,
                               _bytes_per_element(spec.precision))
    return str(spec.precision), [{"label": "train", "intensity_flops_per_byte": intensity,
                                  "flops_per_s": float(achieved)}]


def _kv_data(pairs: Sequence[tuple[Mapping[str, Any], System]]) -> dict[str, Any]:
    """KV bytes against context at each option's batch, and each option's HBM after weights."""
    from planner.report.plots import ReplicaKv

    longest = max(float(r["details"].get("context_tokens") or 0.0) for r, _ in pairs)
    top = max(32768.0, 1.25 * longest)
    contexts = [top * i / 48 for i in range(1, 49)]
    curves, limits = {}, {}
    for row, system in pairs:
        d = row["details"]
        if int(d.get("max_batch") or 0) <= 0:
            continue
        replica = ReplicaKv.from_estimate(d)
        curves[f"{system.id}: {replica.label}"] = replica.kv_at(contexts)
        limits[f"{system.id} HBM after weights"] = replica.capacity_bytes - replica.weights_bytes
    return {"context_tokens": contexts, "curves": curves, "limits": limits}


INTERACTIVITY_GRID = (2.0, 3.0, 5.0, 7.0, 10.0, 15.0, 20.0, 25.0, 30.0, 40.0, 50.0, 70.0, 100.0,
                      150.0, 200.0, 300.0)


def _interactivity_data(loaded: LoadedWorkload, spec: Serve,
                        pairs: Sequence[tuple[Mapping[str, Any], System]]) -> dict[str, Any]:
    """Batch against tokens/s per user on each system's replica, from the decode roofline.

    For each target on :data:`INTERACTIVITY_GRID` the serving model gives the largest batch
    that meets it (HBM capacity not enforced, so the curve shows the roofline alone); the
    estimate's max batch is marked on each curve.
    """
    from planner.catalog.schema import Precision
    from planner.perf.serving import decode_capacity, serving_assumptions

    model = loaded.model
    curves, marks = {}, {}
    for row, system in pairs:
        d = row["details"]
        assumptions = serving_assumptions(spec, system)
        xs, ys = [], []
        for target in INTERACTIVITY_GRID:
            capacity = decode_capacity(
                model, system, weights_precision=spec.weights_precision,
                kv_precision=spec.kv_precision,
                compute_precision=Precision(d["compute_precision"]),
                context_tokens=float(d["context_tokens"]), interactivity=target,
                assumptions=assumptions, enforce_memory=False,
                group_size=int(row.get("group_size") or 0) or None)
            if capacity.max_batch_slo and capacity.max_batch_slo >= 1:
                xs.append(float(capacity.max_batch_slo))
                ys.append(target)
        curves[system.id] = [xs, ys]
        marks[system.id] = float(d.get("max_batch") or 0.0)
    return {"curves": curves, "target_tokens_per_s": float(spec.interactivity),
            "max_batch": marks}
