"""Schemas of model architectures and workloads (pretrain, posttrain, serve) and scenarios.

A workload file has a top-level ``kind`` that selects its schema (a discriminated union). A
scenario file lists several workloads (paths or inline mappings) that share one fleet.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from planner.catalog.schema import ID_PATTERN, Efficiency, Precision, Source
from planner.schema import (
    Count,
    Duration,
    Fraction,
    Money,
    PositiveInt,
    Rate,
    StrictModel,
)
from planner.units import Dimension, UnitError, parse_quantity
from planner.workload.timeline import ExplicitPeriod, JobSchedule, PeriodGrid, Supply, Timeline


class AttentionKind(StrEnum):
    """Attention variants with different KV-cache rules."""

    GQA = "gqa"  # grouped-query (MHA and MQA are special cases)
    MLA = "mla"  # multi-head latent attention (DeepSeek-V2/V3)


class Mla(StrictModel):
    """Multi-head latent attention dimensions (DeepSeek-V3 config names)."""

    q_lora_rank: PositiveInt
    kv_lora_rank: PositiveInt
    qk_nope_head_dim: PositiveInt
    qk_rope_head_dim: PositiveInt
    v_head_dim: PositiveInt


class Moe(StrictModel):
    """Mixture-of-experts feed-forward layers."""

    experts: PositiveInt = Field(description="routed experts per MoE layer")
    experts_per_token: PositiveInt
    shared_experts: Annotated[int, Field(ge=0)] = 0
    expert_ffn_hidden: PositiveInt
    dense_layers: Annotated[int, Field(ge=0)] = Field(
        0, description="leading layers that use a dense FFN of size ffn_hidden")
    node_limit: PositiveInt | None = Field(
        None, description="node-limited routing: a token's routed experts lie on at most this "
        "many expert-parallel nodes (DeepSeek-V3: 4)")


class Architecture(StrictModel):
    """Decoder-only transformer shape."""

    layers: PositiveInt
    hidden: PositiveInt
    heads: PositiveInt
    kv_heads: PositiveInt
    head_dim: PositiveInt
    ffn_hidden: PositiveInt = Field(description="dense SwiGLU intermediate size")
    vocab: PositiveInt
    tied_embeddings: bool = False
    qkv_bias: bool = Field(False, description="q, k and v projections carry biases (Qwen2)")
    attention: AttentionKind = AttentionKind.GQA
    mla: Mla | None = None
    moe: Moe | None = None
    extra_params: Annotated[int, Field(ge=0)] = Field(
        0, description="parameters outside the standard blocks (e.g. MTP modules), if counted")

    @model_validator(mode="after")
    def _mla_needs_dims(self) -> Architecture:
        if self.attention is AttentionKind.MLA and self.mla is None:
            raise ValueError("attention: mla needs an 'mla:' block with its dimensions")
        if self.kv_heads > self.heads:
            raise ValueError("kv_heads cannot exceed heads")
        return self


class Published(StrictModel):
    """Published totals that the derived parameter count is checked against."""

    total_params: Count
    active_params: Count | None = None
    pretraining_tokens: Count | None = Field(
        None, description="tokens the model was pretrained on, to compare post-training FLOPs")


class ModelSpec(StrictModel):
    """A model architecture file under workloads/models/."""

    id: str = Field(pattern=ID_PATTERN)
    name: str
    architecture: Architecture
    published: Published
    context_length: PositiveInt
    sources: dict[str, Source]


class WorkloadKind(StrEnum):
    """The three workload families."""

    PRETRAIN = "pretrain"
    POSTTRAIN = "posttrain"
    SERVE = "serve"


class Recompute(StrEnum):
    """Activation recomputation during training."""

    NONE = "none"
    SELECTIVE = "selective"
    FULL = "full"


class TrainingPrecision(StrEnum):
    """A training precision recipe: which GEMMs run in which format with which scaling.

    ``fp8`` and ``fp4`` are aliases: ``fp8`` is per-tensor scaled FP8 (Transformer Engine's
    default), ``fp4`` is NVFP4 (see ``planner.perf.precision``).
    """

    BF16 = "bf16"
    FP16 = "fp16"
    FP8 = "fp8"
    FP4 = "fp4"
    FP8_TENSORWISE = "fp8-tensorwise"
    FP8_BLOCKWISE = "fp8-blockwise"
    MXFP8 = "mxfp8"
    NVFP4 = "nvfp4"

    @property
    def tensor_precision(self) -> Precision:
        """The tensor-core format the recipe's low-precision GEMMs run in."""
        match self:
            case TrainingPrecision.BF16:
                return Precision.BF16
            case TrainingPrecision.FP16:
                return Precision.FP16
            case (TrainingPrecision.FP8 | TrainingPrecision.FP8_TENSORWISE
                  | TrainingPrecision.FP8_BLOCKWISE | TrainingPrecision.MXFP8):
                return Precision.FP8
            case TrainingPrecision.FP4 | TrainingPrecision.NVFP4:
                return Precision.FP4
        raise AssertionError(self)  # pragma: no cover - the match is exhaustive


class PipelineSchedule(StrEnum):
    """Pipeline-parallel schedules (bubble formulas in ``planner.perf.training``)."""

    ONE_F_ONE_B = "1f1b"  # PipeDream-Flush / Megatron 1F1B (Narayanan et al. 2021 §2.2.1)
    INTERLEAVED = "interleaved"  # v model chunks per rank (§2.2.2)
    ZERO_BUBBLE = "zero-bubble"  # ZB-H1, Qi et al. 2023 (arXiv 2401.10241)
    DUALPIPE = "dualpipe"  # DeepSeek-V3 §3.2.1 (arXiv 2412.19437)


class BatchUnit(StrEnum):
    """What a global batch size counts."""

    SEQUENCES = "sequences"
    TOKENS = "tokens"


@dataclass(frozen=True, slots=True)
class GlobalBatch:
    """Sequences or tokens per optimiser step."""

    value: float
    unit: BatchUnit

    def sequences(self, sequence_length: int) -> int:
        """Whole sequences per step (tokens are rounded up to whole sequences)."""
        if self.unit is BatchUnit.SEQUENCES:
            return max(1, round(self.value))
        return max(1, -(-int(self.value) // sequence_length))

    def __str__(self) -> str:
        return f"{self.value:g} {self.unit.value}"


_BATCH = re.compile(r"^\s*(?P<number>.+?)\s*(?P<unit>tokens?|sequences?|seqs?)?\s*$")


def _global_batch(value: object) -> GlobalBatch:
    """A bare count is sequences (``1152``); with a unit, tokens or sequences (``9.4M tokens``)."""
    if isinstance(value, GlobalBatch):
        return value
    hint = "write sequences as a bare count (1152) or tokens with a unit ('9.4M tokens')"
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise PydanticCustomError("unit", "{message}",
                                  {"message": f"expected a batch size, got {value!r}",
                                   "hint": hint})
    unit, number_text = BatchUnit.SEQUENCES, value
    if isinstance(value, str):
        match = _BATCH.match(value)
        assert match is not None  # the pattern matches any string
        number_text = match["number"]
        if (match["unit"] or "s").startswith("t"):
            unit = BatchUnit.TOKENS
    try:
        number = parse_quantity(number_text, Dimension.COUNT)
    except UnitError as err:
        raise PydanticCustomError("unit", "{message}",
                                  {"message": err.message, "hint": hint}) from None
    if number < 1 or (unit is BatchUnit.SEQUENCES and not float(number).is_integer()):
        raise PydanticCustomError("unit", "{message}",
                                  {"message": f"{value!r} is not a whole number of at least "
                                   f"one {unit.value[:-1]}", "hint": hint})
    return GlobalBatch(float(number), unit)


BatchSize = Annotated[GlobalBatch, BeforeValidator(_global_batch)]


class Parallelism(StrictModel):
    """A pinned training layout; unset fields are searched."""

    tp: PositiveInt | None = None
    pp: PositiveInt | None = None
    dp: PositiveInt | None = None
    cp: PositiveInt | None = Field(
        None, description="context-parallel degree: ranks that split each sequence")
    microbatch: PositiveInt | None = None
    ep: PositiveInt | None = Field(None, description="expert-parallel degree (MoE models)")
    virtual_stages: PositiveInt | None = Field(
        None, description="model chunks per pipeline rank (interleaved schedule)")
    schedule: PipelineSchedule | None = Field(
        None, description="pipeline schedule; unset: 1F1B or interleaved, whichever is faster")


class _Workload(StrictModel):
    name: str = Field("", description="defaults to the file name")
    description: str = ""
    model: str
    efficiency: Efficiency = Efficiency()
    # placement options for `planner optimize`
    max_sites: PositiveInt | None = Field(
        None, description="most sites holding the job's accelerator units (optimize)")
    systems: list[str] = Field(
        default_factory=list, description="system types the job may use (optimize; empty: any)")
    homogeneous: bool = Field(
        True, description="synchronous roles (pretraining, the RL update) on one system type")


class Pretrain(_Workload):
    """A pretraining run: a token budget on a fixed device count or within a deadline."""

    kind: Literal[WorkloadKind.PRETRAIN]
    tokens: Count
    sequence_length: PositiveInt
    precision: TrainingPrecision = TrainingPrecision.BF16
    accelerators: PositiveInt | None = None
    deadline: Duration | None = None
    global_batch: BatchSize = Field(
        GlobalBatch(16e6, BatchUnit.TOKENS),
        description="sequences (a bare count) or tokens (with a unit) per optimiser step")
    parallelism: Parallelism = Parallelism()
    recompute: Recompute = Recompute.SELECTIVE
    zero_stage: Annotated[int, Field(ge=0, le=3)] = 1
    mtp_depth: Annotated[int, Field(ge=0, le=8)] = Field(
        0, description="multi-token-prediction modules trained with the model (DeepSeek-V3: 1)")
    allow_cross_site: bool = False
    cross_site_sync_every: PositiveInt = Field(
        1, description="optimizer steps between cross-site gradient exchanges (1: every step, "
        "hierarchical all-reduce; e.g. 500: DiLoCo outer steps)")

    @model_validator(mode="before")
    @classmethod
    def _legacy_batch_tokens(cls, data: Any) -> Any:
        """``global_batch_tokens: 16M`` (the former field) reads as ``global_batch: 16M tokens``."""
        if isinstance(data, dict) and "global_batch_tokens" in data:
            data = dict(data)
            tokens = data.pop("global_batch_tokens")
            if "global_batch" in data:
                raise ValueError("give 'global_batch' only ('global_batch_tokens' is its "
                                 "former name)")
            data["global_batch"] = f"{tokens} tokens" if not isinstance(tokens, str) \
                else (tokens if "token" in tokens else f"{tokens} tokens")
        return data

    @model_validator(mode="after")
    def _size_or_deadline(self) -> Pretrain:
        if self.accelerators is None and self.deadline is None:
            raise ValueError("give either 'accelerators' (a fixed count) or 'deadline'")
        return self

    @property
    def batch_sequences(self) -> int:
        """Sequences per optimiser step."""
        return self.global_batch.sequences(self.sequence_length)

    @property
    def global_batch_tokens(self) -> float:
        """Tokens per optimiser step (whole sequences)."""
        return float(self.batch_sequences * self.sequence_length)


class LatencyTarget(StrictModel):
    """A latency limit at one percentile, e.g. ``{p99: 2 s}``."""

    p50: Duration | None = None
    p90: Duration | None = None
    p99: Duration | None = None

    @model_validator(mode="after")
    def _one_percentile(self) -> LatencyTarget:
        given = [name for name in ("p50", "p90", "p99") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one percentile, e.g. {p99: 2 s}")
        return self

    @property
    def percentile(self) -> float:
        """The percentile as a fraction (0.5, 0.9 or 0.99)."""
        return {"p50": 0.5, "p90": 0.9, "p99": 0.99}[self.name]

    @property
    def name(self) -> str:
        """``p50``, ``p90`` or ``p99``."""
        return next(n for n in ("p50", "p90", "p99") if getattr(self, n) is not None)

    @property
    def seconds(self) -> float:
        """The limit in seconds."""
        value = getattr(self, self.name)
        assert value is not None
        return float(value)


class PoolLayout(StrictModel):
    """Pinned parallel degrees of one serving pool (prefill or decode); unset ones are searched."""

    tp: PositiveInt | None = Field(None, description="tensor-parallel degree")
    pp: PositiveInt | None = Field(None, description="pipeline-parallel degree")
    ep: PositiveInt | None = Field(
        None, description="expert-parallel degree: accelerators the routed experts are spread "
        "over (MoE models; may span several units over the scale-out network)")
    dp_attention: PositiveInt | None = Field(
        None, description="data-parallel attention replicas inside one expert-parallel group")


class ServeLayout(StrictModel):
    """Pinned layouts of the prefill and decode pools."""

    prefill: PoolLayout = PoolLayout()
    decode: PoolLayout = PoolLayout()


def _below_one(value: float) -> float:
    """A prefix-cache hit fraction: every prompt computes at least its newest tokens."""
    if value >= 1.0:
        raise PydanticCustomError(
            "unit", "{message}",
            {"message": f"expected a fraction below 1, got {value:g}",
             "hint": "the newest tokens of a prompt are never cached; write e.g. 0.9"})
    return value


class Serve(_Workload):
    """A reasoning-model serving fleet at an interactivity target."""

    kind: Literal[WorkloadKind.SERVE]
    input_tokens: Count
    output_tokens: Count
    interactivity: Rate = Field(description="decode tokens/s per user (stream)")
    weights_precision: Precision = Precision.FP8
    kv_precision: Precision = Precision.BF16
    compute_precision: Precision | None = None
    requests_per_second: Rate | dict[str, Rate] = Field(
        description="total, or per region (region names from the fleet's sites)")
    votes: PositiveInt = 1
    shared_prefix_fraction: Fraction = 0.0
    prefix_read_once: bool = True
    latency_bound: Duration = 0.1
    duration: Duration = 30 * 86400.0
    memory_reserve: Fraction = 0.05
    enforce_memory: bool = True
    ttft: LatencyTarget | None = Field(
        None, description="time-to-first-token limit; a plain duration is a p99 limit")
    tpot: LatencyTarget | None = Field(
        None, description="time-per-output-token limit; a plain duration is a p99 limit")
    prefix_cache_hit_fraction: Annotated[Fraction, AfterValidator(_below_one)] = Field(
        0.0, description="share of input tokens served from a prefix cache (no prefill compute); "
        "below 1: the newest tokens of a prompt are always computed")
    disaggregated: bool | Literal["auto"] = Field(
        "auto", description="separate prefill and decode pools; auto picks the cheaper")
    layout: ServeLayout = ServeLayout()
    decode_context: Literal["average", "final"] = Field(
        "average", description="KV length of a decode step: the mean a continuously batched "
        "server holds (input + output/2), or the final length (input + output), the source "
        "article's")
    kv_reserve: Literal["average", "final"] = Field(
        "average", description="KV held in HBM per decoding sequence: the mean length "
        "(engines that preempt when the cache fills: vLLM, SGLang, TensorRT-LLM "
        "MAX_UTILIZATION) or the final length reserved at admission (TensorRT-LLM's default "
        "GUARANTEED_NO_EVICT)")

    @model_validator(mode="before")
    @classmethod
    def _plain_limits_are_p99(cls, data: object) -> object:
        """``ttft: 2 s`` means ``ttft: {p99: 2 s}`` (likewise ``tpot``)."""
        if isinstance(data, dict):
            for name in ("ttft", "tpot"):
                value = data.get(name)
                if value is not None and not isinstance(value, dict | LatencyTarget):
                    data = {**data, name: {"p99": value}}
        return data

    def ttft_target(self) -> LatencyTarget | None:
        """The time-to-first-token limit with its percentile."""
        return self.ttft

    def tpot_target(self) -> LatencyTarget | None:
        """The time-per-output-token limit with its percentile."""
        return self.tpot

    def total_requests_per_s(self) -> float:
        """The request rate of every region together."""
        rates = self.requests_per_second
        return float(sum(rates.values())) if isinstance(rates, dict) else float(rates)

    def units_needed(self, requests_per_s_per_unit: float) -> float:
        """Units of a system that serve the total request rate, each serving
        ``requests_per_s_per_unit`` (infinite where a unit serves none)."""
        if requests_per_s_per_unit <= 0:
            return math.inf
        return self.total_requests_per_s() / requests_per_s_per_unit


class RewardModel(StrictModel):
    """A reward model scored as prefill (forward only)."""

    model: str
    passes: Count = 1.0


class ProcessRewardModel(RewardModel):
    """A PRM scores each reasoning step (every `step_tokens` generated tokens)."""

    step_tokens: Count


class RewardModels(StrictModel):
    """Outcome reward model (per sample) and process reward model (per step)."""

    orm: RewardModel | None = None
    prm: ProcessRewardModel | None = None


class Generator(StrictModel):
    """How samples are generated (decode)."""

    model: str | None = None
    weights_precision: Precision = Precision.FP8
    kv_precision: Precision = Precision.FP8
    interactivity: Rate = 20.0


class Posttrain(_Workload):
    """Berry-style RL post-training: generate, verify, score, keep, update."""

    kind: Literal[WorkloadKind.POSTTRAIN]
    problems: Count
    samples_per_problem: Count
    branching_factor: Count = Field(
        1.0, description="children per node of the sample tree; 1 = independent samples")
    prompt_tokens: Count
    tokens_per_sample: Count
    generator: Generator = Generator()
    reward_models: RewardModels = RewardModels()
    verifier_cpu_seconds: Duration = Field(description="CPU core-seconds per verified sample")
    verified_fraction: Fraction = 1.0
    keep_fraction: Fraction
    forward_backward_ratio: float = Field(ge=1.0, le=64.0)
    policy_updates: PositiveInt = 1000
    precision: Precision = Precision.BF16
    deadline: Duration
    accelerators: PositiveInt | None = Field(
        None, description="a fixed cluster for estimate: how long the run takes on this many")


Workload = Annotated[Pretrain | Posttrain | Serve, Field(discriminator="kind")]


class ScenarioFile(StrictModel):
    """Several workloads that share one fleet; with ``periods``, a roadmap over time (the
    other time keys are described in ``planner/workload/timeline.py``)."""

    name: str = ""
    description: str = ""
    fleet: str | None = None
    workloads: list[str | dict[str, object]] = Field(min_length=1)
    periods: PeriodGrid | list[ExplicitPeriod] | None = None
    discount_rate: Fraction | None = None
    schedule: dict[str, JobSchedule] | None = None
    supply: Supply | None = None
    budget_per_period: Money | None = None
    sources: dict[str, Source] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _time_keys_need_periods(self) -> ScenarioFile:
        used = [key for key in ("discount_rate", "schedule", "supply", "budget_per_period")
                if getattr(self, key) is not None]
        if used and self.periods is None:
            raise ValueError(f"{', '.join(used)} describe a roadmap: add 'periods: "
                             "{start: 2027-01-01, count: 8, length: quarter}'")
        return self

    def timeline(self) -> Timeline | None:
        """The roadmap keys as one record, or None for a one-period scenario."""
        if self.periods is None:
            return None
        return Timeline.model_construct(
            periods=self.periods, discount_rate=self.discount_rate or 0.0,
            schedule=self.schedule or {}, supply=self.supply or Supply(),
            budget_per_period=self.budget_per_period)
