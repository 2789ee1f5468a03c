"""Measure the kernel-level ceilings behind the serving model's efficiency factors on a real GPU.

Runs with PyTorch on one CUDA device and prints (and writes, with --out) a JSON document:

- HBM read bandwidth: a reduction over a large BF16 tensor (bytes read / time);
- dense GEMM throughput in BF16 (and FP8 where torch._scaled_mm exists) at 8192^3;
- decode-shaped matmuls: activations [b, d] times the weights of one Llama-3.1-70B layer
  (q/k/v/o and the SwiGLU FFN) for batches 1..512, reported as achieved fractions of the
  bandwidth and FLOP ceilings in the catalog (what `memory_bandwidth` and `compute` model);
- decode attention: one query token per sequence over a BF16 KV cache (GQA 64/8 heads,
  head_dim 128) for several batch x context sizes, reported as KV bytes read per second.

Timings are CUDA-event means over repeated runs after warm-up. Not a test; needs a GPU.
Usage: python benchmarks/device/gpu_microbench.py --peak-bw 4.8e12 --peak-bf16 989e12 --out x.json
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

import torch


def timed(fn: Callable[[], object], repeats: int = 20, warmup: int = 5) -> float:
    """Mean seconds per call, measured with CUDA events."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(repeats):
        fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / 1e3 / repeats


def hbm_read(gib: float = 16.0) -> dict[str, float]:
    """Bytes read per second by a sum over a large BF16 tensor."""
    n = int(gib * 2**30 / 2)
    x = torch.ones(n, dtype=torch.bfloat16, device="cuda")
    seconds = timed(lambda: x.sum(dtype=torch.float32), repeats=10)
    return {"bytes": 2.0 * n, "seconds": seconds, "bytes_per_s": 2.0 * n / seconds}


def gemm(size: int = 8192) -> dict[str, float]:
    """Dense matrix-product FLOP/s in BF16 and, where supported, FP8 (e4m3)."""
    a = torch.randn(size, size, dtype=torch.bfloat16, device="cuda")
    b = torch.randn(size, size, dtype=torch.bfloat16, device="cuda")
    flops = 2.0 * size**3
    out = {"bf16_flops_per_s": flops / timed(lambda: a @ b)}
    if hasattr(torch, "_scaled_mm") and hasattr(torch, "float8_e4m3fn"):
        a8 = a.to(torch.float8_e4m3fn)
        b8 = b.t().contiguous().to(torch.float8_e4m3fn).t()
        one = torch.tensor(1.0, device="cuda")
        try:
            seconds = timed(lambda: torch._scaled_mm(a8, b8, scale_a=one, scale_b=one,
                                                     out_dtype=torch.bfloat16))
            out["fp8_flops_per_s"] = flops / seconds
        except (RuntimeError, TypeError) as err:  # older builds: other signature
            out["fp8_error"] = str(err)[:200]
    return out


def decode_matmuls(batches: list[int]) -> list[dict[str, float]]:
    """One Llama-3.1-70B layer's matmuls (d 8192, q 8192, kv 2x1024, FFN 28672) at batch b."""
    d, kv, ffn = 8192, 1024, 28672
    shapes = [(d, d + 2 * kv), (d, d), (d, 2 * ffn), (ffn, d)]
    weights = [torch.randn(k, n, dtype=torch.bfloat16, device="cuda") for k, n in shapes]
    weight_bytes = sum(2.0 * k * n for k, n in shapes)
    rows = []
    for b in batches:
        xs = [torch.randn(b, k, dtype=torch.bfloat16, device="cuda") for k, _ in shapes]

        def step(xs: list[torch.Tensor] = xs) -> None:
            for x, w in zip(xs, weights, strict=True):
                torch.matmul(x, w)

        seconds = timed(step, repeats=50)
        flops = sum(2.0 * b * k * n for k, n in shapes)
        rows.append({"batch": b, "seconds": seconds, "weight_bytes": weight_bytes,
                     "bytes_per_s": weight_bytes / seconds, "flops_per_s": flops / seconds})
    return rows


def decode_attention(cases: list[tuple[int, int]]) -> list[dict[str, float]]:
    """SDPA with one query per sequence over a BF16 GQA KV cache (64 q heads, 8 kv heads)."""
    heads, kv_heads, head_dim = 64, 8, 128
    rows = []
    for batch, context in cases:
        q = torch.randn(batch, heads, 1, head_dim, dtype=torch.bfloat16, device="cuda")
        k = torch.randn(batch, kv_heads, context, head_dim, dtype=torch.bfloat16, device="cuda")
        v = torch.randn_like(k)
        kv_bytes = 2.0 * k.numel() * 2

        def attend(q: torch.Tensor = q, k: torch.Tensor = k, v: torch.Tensor = v) -> None:
            torch.nn.functional.scaled_dot_product_attention(q, k, v, enable_gqa=True)

        try:
            seconds = timed(attend, repeats=20)
        except (RuntimeError, TypeError) as err:
            rows.append({"batch": batch, "context": context, "error": str(err)[:200]})
            continue
        rows.append({"batch": batch, "context": context, "seconds": seconds,
                     "kv_bytes": kv_bytes, "bytes_per_s": kv_bytes / seconds})
        del q, k, v
        torch.cuda.empty_cache()
    return rows


def main() -> int:
    """Run every measurement and print one JSON document."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peak-bw", type=float, required=True, help="catalog HBM B/s")
    parser.add_argument("--peak-bf16", type=float, required=True, help="catalog dense BF16")
    parser.add_argument("--peak-fp8", type=float, default=0.0, help="catalog dense FP8")
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA device", file=sys.stderr)
        return 1
    report: dict[str, object] = {
        "device": torch.cuda.get_device_name(0), "torch": torch.__version__,
        "peak_bandwidth_bytes_per_s": args.peak_bw, "peak_bf16_flops_per_s": args.peak_bf16,
        "peak_fp8_flops_per_s": args.peak_fp8,
    }
    report["hbm_read"] = hbm_read()
    report["gemm"] = gemm()
    report["decode_matmuls"] = decode_matmuls([1, 8, 32, 64, 128, 256, 512])
    report["decode_attention"] = decode_attention([(8, 8192), (32, 8192), (64, 4096),
                                                   (128, 2048), (32, 32768)])
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            handle.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
