"""Measure whole decode steps of a Llama-3.1-8B-shaped model on one GPU (random BF16 weights).

A minimal decoder written against PyTorch kernels only (matmuls, SDPA with GQA, RMSNorm, SiLU),
with a static KV cache and the whole step captured in a CUDA graph so that Python and launch
overheads do not count, as in serving engines. For each (batch, context) it reports the step
time of one token for every sequence: the quantity the serving model's decode step predicts.
Rotary embeddings and sampling are left out (a few percent of a step); the LM head and the
embedding gather are in.

Usage: python benchmarks/device/gpu_decode.py --out results/decode.json [--device cpu --tiny]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F  # noqa: N812


@dataclass(frozen=True)
class Shape:
    """Decoder shape (Llama 3.1 8B by default: HF config.json)."""

    layers: int = 32
    hidden: int = 4096
    heads: int = 32
    kv_heads: int = 8
    head_dim: int = 128
    ffn: int = 14336
    vocab: int = 128256


TINY = Shape(layers=2, hidden=256, heads=4, kv_heads=2, head_dim=64, ffn=512, vocab=1000)


class Decoder:
    """Random-weight decoder with a static KV cache of ``context + 1`` positions."""

    def __init__(self, shape: Shape, batch: int, context: int, device: str) -> None:
        s, dt = shape, torch.bfloat16
        q_width, kv_width = s.heads * s.head_dim, s.kv_heads * s.head_dim

        def w(*size: int) -> torch.Tensor:
            return torch.randn(*size, dtype=dt, device=device) * 0.02

        self.shape, self.batch, self.context = s, batch, context
        self.embed = w(s.vocab, s.hidden)
        self.layers = [(w(s.hidden, q_width + 2 * kv_width), w(q_width, s.hidden),
                        w(s.hidden, 2 * s.ffn), w(s.ffn, s.hidden),
                        torch.ones(s.hidden, dtype=dt, device=device),
                        torch.ones(s.hidden, dtype=dt, device=device)) for _ in range(s.layers)]
        self.norm = torch.ones(s.hidden, dtype=dt, device=device)
        self.head = w(s.hidden, s.vocab)
        cache = (s.layers, batch, s.kv_heads, context + 1, s.head_dim)
        self.k = torch.randn(cache, dtype=dt, device=device) * 0.02
        self.v = torch.randn(cache, dtype=dt, device=device) * 0.02
        self.tokens = torch.zeros(batch, dtype=torch.long, device=device)

    def weight_bytes(self) -> float:
        """Bytes of weights read per step (all matrices, the LM head, not the embedding)."""
        total = sum(sum(t.numel() for t in layer) for layer in self.layers)
        return 2.0 * (total + self.norm.numel() + self.head.numel())

    def kv_bytes(self) -> float:
        """Bytes of KV cache read per step."""
        return 2.0 * (self.k.numel() + self.v.numel())

    def step(self) -> None:
        """One decode step for every sequence; writes the next tokens in place."""
        s, b = self.shape, self.batch
        x = self.embed[self.tokens]
        q_width, kv_width = s.heads * s.head_dim, s.kv_heads * s.head_dim
        for i, (wqkv, wo, w13, w2, n1, n2) in enumerate(self.layers):
            h = F.rms_norm(x, (s.hidden,), n1)
            q, k, v = (h @ wqkv).split([q_width, kv_width, kv_width], dim=-1)
            self.k[i, :, :, self.context] = k.view(b, s.kv_heads, s.head_dim)
            self.v[i, :, :, self.context] = v.view(b, s.kv_heads, s.head_dim)
            o = F.scaled_dot_product_attention(q.view(b, s.heads, 1, s.head_dim), self.k[i],
                                               self.v[i], enable_gqa=True)
            x = x + o.reshape(b, q_width) @ wo
            gate, up = (F.rms_norm(x, (s.hidden,), n2) @ w13).chunk(2, dim=-1)
            x = x + (F.silu(gate) * up) @ w2
        logits = F.rms_norm(x, (s.hidden,), self.norm) @ self.head
        self.tokens.copy_(logits.argmax(dim=-1))


def measure(shape: Shape, batch: int, context: int, device: str, repeats: int) -> dict[str, float]:
    """Mean step time over ``repeats`` graph replays (plain calls on CPU)."""
    model = Decoder(shape, batch, context, device)
    if device == "cpu":
        import time

        model.step()
        start = time.perf_counter()
        for _ in range(repeats):
            model.step()
        seconds = (time.perf_counter() - start) / repeats
    else:
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for _ in range(3):
                model.step()
        torch.cuda.current_stream().wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            model.step()
        for _ in range(3):
            graph.replay()
        torch.cuda.synchronize()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(repeats):
            graph.replay()
        end.record()
        torch.cuda.synchronize()
        seconds = start.elapsed_time(end) / 1e3 / repeats
    result = {"batch": batch, "context": context, "step_time_s": seconds,
              "weight_bytes": model.weight_bytes(), "kv_bytes": model.kv_bytes(),
              "tokens_per_s": batch / seconds}
    del model
    if device != "cpu":
        torch.cuda.empty_cache()
    return result


CASES = [(1, 1024), (16, 1024), (64, 1024), (128, 1024), (256, 1024), (512, 1024),
         (16, 4096), (64, 4096), (128, 4096), (32, 16384), (64, 8192)]


def main() -> int:
    """Run the grid and print one JSON document."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--tiny", action="store_true", help="a toy shape, for a CPU dry run")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--out")
    args = parser.parse_args()
    shape = TINY if args.tiny else Shape()
    cases = [(b, min(c, 256)) for b, c in CASES[:3]] if args.tiny else CASES
    report = {"device": torch.cuda.get_device_name(0) if args.device == "cuda" else "cpu",
              "torch": torch.__version__, "shape": asdict(shape), "dtype": "bfloat16",
              "cases": [measure(shape, b, c, args.device, args.repeats) for b, c in cases]}
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            handle.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
