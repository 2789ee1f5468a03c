"""Schemas of hardware systems and fleets: what one YAML file under ``hardware/`` may contain.

All numbers are SI floats once parsed (bytes, FLOP/s, W, USD, seconds). Per-accelerator figures
are dense peaks (no 2:4 sparsity); bandwidths of the scale-up fabric are bidirectional per
accelerator, as vendors quote them.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, model_validator

from planner.schema import (
    Bandwidth,
    BytePrice,
    ComputeRate,
    Duration,
    EnergyPrice,
    Fraction,
    Money,
    MoneyRate,
    PositiveInt,
    Power,
    PowerPrice,
    Size,
    StrictModel,
)

ID_PATTERN = r"^[a-z0-9][a-z0-9.\-]*$"


def _date_text(value: object) -> object:
    """Accept YAML dates (2024-06-01) and year-month strings (2024-06) alike, as text."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, int):
        return str(value)
    return value


DateText = Annotated[str, BeforeValidator(_date_text)]


class Precision(StrEnum):
    """Numeric formats that a tensor core may run at."""

    FP4 = "fp4"
    FP8 = "fp8"
    BF16 = "bf16"
    FP16 = "fp16"
    TF32 = "tf32"


BYTES_PER_ELEMENT: dict[Precision, float] = {
    Precision.FP4: 0.5, Precision.FP8: 1.0, Precision.BF16: 2.0, Precision.FP16: 2.0,
    Precision.TF32: 4.0,
}


class SourceTag(StrEnum):
    """How much a figure can be trusted (see hardware/README.md)."""

    VENDOR = "vendor"
    PAPER = "paper"
    MEASURED = "measured"
    ANALYST = "analyst"
    DERIVED = "derived"
    ASSUMPTION = "assumption"


class Source(StrictModel):
    """Where a number comes from."""

    url: str = ""
    tag: SourceTag
    note: str = ""
    date: DateText = ""

    @model_validator(mode="after")
    def _url_or_note(self) -> Source:
        if not self.url and not self.note:
            raise ValueError("a source needs a url or, for a derivation or assumption, a note")
        return self


class PeakFlops(StrictModel):
    """Dense peak tensor FLOP/s per accelerator by precision."""

    fp4: ComputeRate | None = None
    fp8: ComputeRate | None = None
    bf16: ComputeRate
    fp16: ComputeRate | None = None
    tf32: ComputeRate | None = None

    def at(self, precision: Precision) -> float | None:
        """Peak at a precision, or None when the accelerator has no such tensor mode."""
        value: float | None = getattr(self, precision.value)
        if value is None and precision is Precision.FP16:
            return self.bf16
        return value


class Accelerator(StrictModel):
    """One accelerator package (a B200 counts once although it has two dies)."""

    name: str
    count: PositiveInt = Field(description="accelerators per procurable unit")
    peak_flops: PeakFlops
    sparsity: Literal["dense"] = "dense"
    hbm_capacity: Size
    hbm_bandwidth: Bandwidth
    power: Power


class ScaleUp(StrictModel):
    """The tightly coupled domain (NVLink, NeuronLink, Infinity Fabric)."""

    fabric: str
    domain_size: PositiveInt
    bandwidth: Bandwidth = Field(description="per accelerator, bidirectional")


class ScaleOut(StrictModel):
    """Network between scale-up domains (InfiniBand, RoCE, EFA)."""

    fabric: str
    bandwidth: Bandwidth = Field(description="per accelerator, one direction")


class Host(StrictModel):
    """The host CPUs that come with one unit."""

    cpu: str
    sockets: PositiveInt
    cores: PositiveInt = Field(description="physical cores per unit")
    threads: PositiveInt | None = None
    memory: Size


class Price(StrictModel):
    """A dated price; `estimate: true` marks analyst or press figures."""

    price: Money
    date: DateText
    estimate: bool


class RentalPrice(StrictModel):
    """A dated hourly price for one unit."""

    price: MoneyRate
    date: DateText
    estimate: bool


class Efficiency(StrictModel):
    """Per-system or per-workload overrides of the calibrated efficiency factors."""

    memory_bandwidth: Fraction | None = None
    compute: Fraction | None = None
    compute_fp8_relative: Fraction | None = Field(
        None, description="FP8 GEMM fraction of the FP8 peak over the BF16 fraction of the BF16 "
        "peak; multiplies compute when serving math runs in FP8")
    compute_fp4_relative: Fraction | None = Field(
        None, description="FP4 GEMM fraction of the FP4 peak over the BF16 fraction of the BF16 "
        "peak; multiplies compute when serving math runs in FP4")
    training_matmul: Fraction | None = None
    scale_up: Fraction | None = None
    prefill_scale_up: Fraction | None = Field(
        None, description="achieved fraction of the one-direction scale-up bandwidth in the "
        "tensor-parallel all-reduces of prefill (large messages; nccl-tests bus bandwidth); "
        "default 1.0")
    scale_out: Fraction | None = None
    goodput: Fraction | None = None
    kernel_overlap: Fraction | None = Field(
        None, description="decode step model switch: 0 runs matmul and attention kernels one "
        "after another (calibrated default); 1 overlaps all compute with all memory traffic "
        "(the source article's whole-step roofline)")
    attention_kv_precision: Fraction | None = Field(
        None, description="serving attention switch: 1 runs attention math at the KV cache's "
        "precision, FP8 for an FP8 or FP4 cache and BF16 otherwise (calibrated default); 0 at "
        "the matmul precision (the source article's roofline)")
    gemm_tiles: Fraction | None = Field(
        None, description="serving matmul switch: 1 charges tile and wave quantization "
        "(calibrated default), 0 runs every matmul in full waves of full tiles")
    tp_comm: Fraction | None = Field(
        None, description="1 counts tensor/pipeline-parallel communication in decode; 0 drops "
        "it, as the source article does")
    attention_dp_balance: Fraction | None = Field(
        None, description="colocated expert-parallel serving switch: 0 lets each data-parallel "
        "attention replica start its own prompts, so a step lasts as long as the replica that "
        "prefills (default, TensorRT-LLM's round-robin assignment); 1 starts prompts on every "
        "replica together (TensorRT-LLM attention_dp_config enable_balance)")
    ep_max_batch_per_rank: PositiveInt | None = Field(
        None, description="sequences one expert-parallel decode rank steps per micro-batch: the "
        "engine's dispatch buffer (DeepEP num_max_dispatch_tokens_per_rank, SGLang "
        "SGLANG_DEEPEP_NUM_MAX_DISPATCH_TOKENS_PER_RANK); default 128")
    max_batch_per_replica: PositiveInt | None = Field(
        None, description="most sequences one replica decodes at once: the engine's batch "
        "limit (TensorRT-LLM max_batch_size, vLLM max_num_seqs, SGLang "
        "max_running_requests); default 2048")
    prefill_batch_tokens: PositiveInt | None = Field(
        None, description="prompt tokens one step may prefill: the engine's per-step token "
        "budget (TensorRT-LLM max_num_tokens, vLLM max_num_batched_tokens, SGLang "
        "chunked_prefill_size); longer prompts are prefilled over several steps; default 8192")


class System(StrictModel):
    """One procurable unit: a node, a rack or an instance, with its sources."""

    id: str = Field(pattern=ID_PATTERN)
    name: str
    unit: Literal["node", "rack", "instance", "server"]
    description: str = ""
    accelerator: Accelerator
    scale_up: ScaleUp
    scale_out: ScaleOut
    host: Host
    power: Power = Field(description="per unit, at full load, IT power before PUE")
    purchase: Price
    rental: RentalPrice | None = None
    efficiency: Efficiency = Efficiency()
    sources: dict[str, Source]

    @property
    def accelerators(self) -> int:
        """Accelerators per unit."""
        return self.accelerator.count

    @property
    def cpu_cores_per_accelerator(self) -> float:
        """Physical host cores per accelerator: the verifier-capacity ratio of the article."""
        return self.host.cores / self.accelerator.count

    def peak_flops_per_unit(self, precision: Precision) -> float | None:
        """Dense peak FLOP/s of the whole unit at a precision."""
        per = self.accelerator.peak_flops.at(precision)
        return None if per is None else per * self.accelerator.count


class CpuServer(StrictModel):
    """A CPU-only server that a site can buy to run verifiers."""

    name: str
    cores: PositiveInt
    memory: Size
    power: Power
    purchase: Price
    rental: RentalPrice | None = None


class Economics(StrictModel):
    """How capital is turned into a cost per second."""

    lifetime: Duration = Field(description="depreciation life of bought hardware")
    cost_of_capital: Fraction
    default_acquisition: Literal["purchase", "rental"] = "purchase"


class SitePrice(StrictModel):
    """A site's own quote for one system, overriding the catalog price (either or both)."""

    purchase: Money | None = Field(None, description="purchase price of one unit at this site")
    rental: MoneyRate | None = Field(None, description="hourly rental price of one unit here")


class Location(StrictModel):
    """Where a site is, in degrees (WGS 84); used to draw the site graph to scale."""

    lat: float = Field(ge=-90.0, le=90.0, description="latitude in degrees, north positive")
    lon: float = Field(ge=-180.0, le=180.0, description="longitude in degrees, east positive")


class Site(StrictModel):
    """A datacenter: power, prices, what it has and what it may buy."""

    id: str = Field(pattern=ID_PATTERN)
    name: str
    region: str
    power_capacity: Power = Field(description="IT + cooling power available to the planner")
    electricity_price: EnergyPrice
    pue: float = Field(ge=1.0, le=3.0)
    colocation_price: PowerPrice = 0.0
    inventory: dict[str, Annotated[int, Field(ge=0)]] = {}
    purchase_limits: dict[str, Annotated[int, Field(ge=0)]] = {}
    rental_limits: dict[str, Annotated[int, Field(ge=0)]] = {}
    cpu_servers: Annotated[int, Field(ge=0)] = 0
    cpu_server_purchase_limit: Annotated[int, Field(ge=0)] = 0
    prices: dict[str, SitePrice] = Field(
        {}, description="per-system purchase/rental quotes at this site (default: catalog)")
    location: Location | None = Field(
        None, description="latitude and longitude, to draw the site graph geographically")


class Link(StrictModel):
    """A network link between two sites (both directions share nothing; capacity is per way)."""

    a: str
    b: str
    bandwidth: Bandwidth
    latency: Duration
    cost: BytePrice = 0.0


class Fleet(StrictModel):
    """Sites, links and the economic assumptions that turn capital into cost."""

    id: str = Field(pattern=ID_PATTERN)
    name: str
    description: str = ""
    economics: Economics
    cpu_server: CpuServer
    sites: list[Site] = Field(min_length=1)
    links: list[Link] = []
    sources: dict[str, Source]
