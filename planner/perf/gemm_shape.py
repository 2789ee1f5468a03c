"""GEMM shape efficiency: tile and wave quantization of an M x N x K matmul on a GPU.

A tiled GEMM kernel cuts the M x N output into tm x tn tiles and runs them in waves of as many
tiles as the GPU holds at once (one tile per SM, or one per pair of SMs for Blackwell's two-SM
MMA). Every tile costs a full tile's time and every wave a full wave's time, so the fraction
of the tensor cores doing useful work is::

    waves = ceil(ceil(M/tm) · ceil(N/tn) / slots)
    eff   = M·N / (waves · slots · tm · tn)

which is the useful tiles over waves · slots times the partial-tile fill. Under one wave
(fewer tiles than slots) kernels split K across SMs (cuBLAS split-K, CUTLASS stream-K), so
tiles · floor(slots / tiles) pieces run at once and only the partial-tile fill and the idle
remainder are lost (named assumption: the split is free; its reduction is not modelled).
A decode step with a few hundred tokens fills fewer, emptier waves than an offline step with
thousands, so it runs
its matmuls at a lower fraction of the peak. K does not enter: every tile walks the whole of K.

Tile sizes are the large-problem defaults of NVIDIA's kernels (CUTLASS 3.x Hopper warp-
specialized GEMMs, ``Shape<_128,_256,_64>``; CUTLASS SM100 two-SM ``tcgen05.mma`` GEMMs,
256 x 256 over a pair of SMs; docs.nvidia.com/cutlass, "Blackwell SM100 GEMMs"). SM counts are
NVIDIA's specifications (H100 SXM and H200: 132 SMs, H100 whitepaper; B200, also in GB200 and
GB300: 148 SMs, Blackwell datasheet). AMD and Trainium: no tile model (named assumption: shape
efficiency 1), the calibrated ``compute`` fraction carries all of it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from planner.workload.schema import Architecture

__all__ = ["GemmShape", "TileShape", "dense_gemm_shapes", "gemm_efficiency",
           "layer_gemm_efficiency", "tile_shape_for"]


@dataclass(frozen=True, slots=True)
class TileShape:
    """Output tile of a GEMM kernel and how many such tiles the GPU runs at once."""

    tile_m: int
    tile_n: int
    sms: int
    sms_per_tile: int = 1

    @property
    def slots(self) -> int:
        """Tiles in flight at once (one wave)."""
        return self.sms // self.sms_per_tile


# Hopper: CUTLASS 3.x warp-specialized GEMM tile 128 x 256 per SM; 132 SMs (H100 SXM5, H200, H800).
HOPPER = TileShape(tile_m=128, tile_n=256, sms=132)
# Blackwell: CUTLASS SM100 two-SM MMA, a 256 x 256 tile over a pair of SMs; 148 SMs (B200, B300).
BLACKWELL = TileShape(tile_m=256, tile_n=256, sms=148, sms_per_tile=2)

# Accelerator names (hardware/systems/*.yaml ``accelerator.name``) -> tile model, by prefix.
_BY_NAME: tuple[tuple[str, TileShape], ...] = (
    ("H100", HOPPER), ("H200", HOPPER), ("H800", HOPPER),
    ("B200", BLACKWELL), ("B300", BLACKWELL),
)


def tile_shape_for(accelerator_name: str) -> TileShape | None:
    """The tile model of an accelerator, ``None`` where there is none (A100, AMD, Trainium)."""
    for prefix, shape in _BY_NAME:
        if accelerator_name.startswith(prefix):
            return shape
    return None


def gemm_efficiency(m: float, n: float, tile: TileShape) -> float:
    """Useful fraction of the tensor-core time of an M x N (x K) GEMM: M·N / (waves·slots·tm·tn).

    Example (H100, 128 x 256 tiles, 132 slots): M = 600, N = 8,192 gives 5 x 32 = 160 tiles in
    2 waves, eff = 600·8,192 / (2·132·128·256) = 0.5682. Under one wave (tiles < slots) K is
    split so floor(slots / tiles) pieces of each tile run together: M = 100, N = 8,192 is 32
    tiles split 4 ways, eff = (100/128) · 128/132 = 0.7576.
    """
    if m <= 0 or n <= 0:
        return 1.0
    tiles = math.ceil(m / tile.tile_m) * math.ceil(n / tile.tile_n)
    fill = (m * n) / (tiles * tile.tile_m * tile.tile_n)
    if tiles < tile.slots:
        # Under one wave the kernels split K (cuBLAS split-K, CUTLASS stream-K) so that
        # floor(slots / tiles) pieces of each tile run at once: only the idle remainder is lost.
        return fill * tiles * (tile.slots // tiles) / tile.slots
    waves = math.ceil(tiles / tile.slots)
    return fill * tiles / (waves * tile.slots)


def layer_gemm_efficiency(m: float, shapes: Sequence[tuple[int, int]], tile: TileShape) -> float:
    """FLOP-weighted efficiency of a layer's GEMMs, each (N, K), at M tokens.

    Time is Σ flops_i / eff_i, so the layer's efficiency is Σ N_i·K_i / Σ (N_i·K_i / eff_i).
    """
    work = sum(n * w for n, w in shapes)
    if work <= 0:
        return 1.0
    m = max(m, 1.0)  # a GEMM has at least one row (a fraction of a token is no shape)
    return work / sum(n * k / gemm_efficiency(m, n, tile) for n, k in shapes)


@dataclass(frozen=True, slots=True)
class GemmShape:
    """The matmuls of a step on one rank: (N, work) pairs per tensor-parallel shard, the tile
    model, and the GEMM rows each sequence of the batch brings to a step: its decode token
    plus its share of chunked prompt tokens (one batched GEMM carries both, Sarathi-Serve,
    arXiv 2403.02310), over pp (a pipeline stage runs one micro-batch at a time)."""

    shapes: tuple[tuple[int, int], ...]
    tile: TileShape
    rows_per_seq: float = 1.0

    def efficiency(self, batch: float) -> float:
        """Shape efficiency of the step's matmuls at a batch of ``batch`` sequences."""
        return layer_gemm_efficiency(batch * self.rows_per_seq, self.shapes, self.tile)


def dense_gemm_shapes(arch: Architecture, tp: int) -> tuple[tuple[int, int], ...] | None:
    """(N, N·K summed over layers) of each matmul of a dense GQA/MHA model on a tensor-parallel
    shard: fused QKV (column-parallel), attention output (row-parallel, N = d), fused gate/up
    (column-parallel), down (row-parallel, N = d), and the vocabulary head (column-parallel).
    ``None`` for MoE or MLA models (their expert and latent GEMMs are not modelled: efficiency 1).
    """
    if arch.moe is not None or arch.mla is not None:
        return None
    d, layers = arch.hidden, arch.layers
    qkv = (arch.heads + 2 * arch.kv_heads) * arch.head_dim
    q = arch.heads * arch.head_dim
    return (
        (max(qkv // tp, 1), d * layers),
        (d, max(q // tp, 1) * layers),
        (max(2 * arch.ffn_hidden // tp, 1), d * layers),
        (d, max(arch.ffn_hidden // tp, 1) * layers),
        (max(arch.vocab // tp, 1), d),
    )
