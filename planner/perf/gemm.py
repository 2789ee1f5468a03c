"""Measured GEMM ceilings: the fraction of a tensor format's dense peak large matmuls reach.

Vendor peaks are not reachable; the best a perfectly shaped large GEMM reaches is the "maximum
achievable matmul FLOPS" (MAMF). The measurements, each with its source, are data in
``planner/perf/data/gemm_ceilings.yaml`` (A100 0.869, H100/H200 0.803 in BF16 and 0.813 in FP8, B200
0.776 in BF16, 0.763 in FP8 and 0.736 in NVFP4, MI300X 0.601). A generation's figures stand for
every accelerator whose catalog name contains one of its names as a word; an unmeasured format
of a measured generation takes its BF16 figure (no penalty assumed); accelerators of no listed
generation take the reference generation's, so they behave as the calibrated reference. A
generation whose figures were measured on another part of the same silicon carries a
``sustained`` factor that multiplies every format's ceiling (GB300 NVL72: 1.25, derived from
published same-layout training throughputs against GB200 NVL72; see the data file). The
training model multiplies these ceilings by one calibrated ``training_matmul``: the fraction of
the ceiling a whole layer's kernels reach.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from pydantic import Field, model_validator

from planner.catalog.schema import Precision
from planner.schema import ComputeRate, StrictModel, validate_document
from planner.yamlio import load_document

__all__ = ["CEILINGS_FILE", "DATA_DIR", "Ceilings", "Sustained", "gemm_ceiling", "generation",
           "load_ceilings"]

CEILINGS_FILE = "gemm_ceilings.yaml"
DATA_DIR = Path(__file__).resolve().parent / "data"


class Measurement(StrictModel):
    """One measured GEMM rate against the dense peak it is a fraction of."""

    measured: ComputeRate
    peak: ComputeRate
    source: str = Field(min_length=1)

    @property
    def ratio(self) -> float:
        """Measured over peak."""
        return self.measured / self.peak


class Sustained(StrictModel):
    """A platform's sustained tensor throughput relative to the part its ceilings were
    measured on (same silicon at another power limit), with how it was found."""

    factor: float = Field(gt=0)
    tag: str = Field(min_length=1)
    source: str = Field(min_length=1)


class Generation(StrictModel):
    """An accelerator generation and its measured ceilings by format."""

    name: str
    names: list[str] = Field(min_length=1)
    bf16: Measurement
    fp8: Measurement | None = None
    fp4: Measurement | None = None
    sustained: Sustained | None = None


class Ceilings(StrictModel):
    """The file ``planner/perf/data/gemm_ceilings.yaml``."""

    reference: str
    generations: list[Generation] = Field(min_length=1)

    @model_validator(mode="after")
    def _reference_is_listed(self) -> Ceilings:
        if self.reference not in {g.name for g in self.generations}:
            raise ValueError(f"reference {self.reference!r} is not one of the generations")
        return self


def load_ceilings(folder: Path | None = None) -> Ceilings:
    """Read and validate the ceilings file of a folder (the bundled one if None)."""
    return _read(str((folder or DATA_DIR).resolve() / CEILINGS_FILE))


@functools.lru_cache(maxsize=8)
def _read(path: str) -> Ceilings:
    return validate_document(Ceilings, load_document(path))


def generation(accelerator_name: str, ceilings: Ceilings | None = None) -> Generation:
    """The measured generation an accelerator belongs to (the reference when unknown)."""
    table = ceilings or load_ceilings()
    for entry in table.generations:
        if any(re.search(rf"\b{re.escape(name)}\b", accelerator_name) for name in entry.names):
            return entry
    return next(g for g in table.generations if g.name == table.reference)


def gemm_ceiling(accelerator_name: str, precision: Precision,
                 ceilings: Ceilings | None = None) -> float:
    """Measured fraction of the dense peak at ``precision`` that large GEMMs reach."""
    entry = generation(accelerator_name, ceilings)
    measured = {Precision.FP8: entry.fp8, Precision.FP4: entry.fp4}.get(precision)
    sustained = entry.sustained.factor if entry.sustained is not None else 1.0
    return (measured or entry.bf16).ratio * sustained
