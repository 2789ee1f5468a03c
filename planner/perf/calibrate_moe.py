"""Published large-scale expert-parallel DeepSeek-V3/R1 serving results and the model's
predictions of them, through ``planner estimate`` on workloads/calibration/moe_pool.yaml.

Every case is one pool of a prefill/decode-disaggregated deployment of DeepSeek-V3/R1 (the same
architecture, workloads/models/deepseek_v3.yaml) with FP8 weights and math unless noted, its
published expert-parallel degree pinned (``layout.prefill.ep`` / ``layout.decode.ep``), and the
quantity is the pool's throughput per accelerator: input tokens/s for prefill, output tokens/s
for decode. Decode pools run offline (the engines' slow-down trick fills every rank's batch)
unless a per-user speed is published.

**Fit set**: SGLang's 96-H100 deployment, https://lmsys.org/blog/2025-05-05-large-scale-ep
(12 nodes of 8 H100, InfiniBand; prefill EP32 on 4 nodes: 54,543 and 50,302 input tokens/s per
node at 2,000- and 4,000-token prompts, 52.3k in the headline; decode EP72 on 9 nodes: 22,282
output tokens/s per node at 2,000-token inputs and 256 sequences per GPU, without multi-token
prediction: the blog's table lists batch 256 and KV length 2,000, and only its 4K-input
17,373 figure simulates MTP). ``ep_overlap`` = 0.30 minimises the two prefill cases' mean error
(0.4%; 2.2% at 0.25, 3.2% at 0.35). ``ep_decode_kernels`` = 0.70 and ``ep_overlap_decode`` =
0.48 reproduce the decode deployment with and without two-batch overlap: SGLang's ablation
gives +25.5% for it at 256 sequences per GPU (22,310 tokens/s per node, so 17,777 without),
and without overlap a step is kernel time plus all-to-all time, which pins the kernels' share;
the overlap then matches the published figure (+0.2%).

**Check set** (not used for any factor):

* SGLang's same prefill deployment at 1,000-token prompts (57,674 input tokens/s per node).
* DeepSeek's prefill profile, https://github.com/deepseek-ai/profile-data (H800, EP32,
  4,096-token prompts, 16K tokens per GPU): 62,713 input tokens/s per node as SGLang's blog
  derives it. The profile simulates perfectly balanced routing, so the model's
  ``expert_imbalance`` of 1.2 under-predicts it (-19%; -7% with the imbalance at 1).
* DeepSeek's inference-system overview, https://github.com/deepseek-ai/open-infra-index
  (OpenSourceWeek "Day 6", 2025-03-01): H800 nodes, prefill EP32 (4 nodes), decode EP144
  (18 nodes), 24-hour averages of 73.7k input tokens/s per node in prefill *including cache
  hits* (56.3% of input tokens hit the on-disk KV cache) and 14.8k output tokens/s per node in
  decode at 20-22 tokens/s per user. Lengths from the same day: 608B input and 168B output
  tokens and a mean KV-cache length per output token of 4,989, matched by 4,384 input and 1,211
  output tokens per request (decode at input + output/2). These are production averages, and
  prefill runs well below its capacity: SGLang's comparison puts DeepSeek's prefill profile at
  about twice its production figure (62,713 against 32,206 uncached input tokens/s per node).
  A prefill pool serving requests as they arrive must leave room for their bursts to hold its
  time to first token, so the prefill case is modelled at the day's load: the mean request
  rate of the same day (608B input tokens in 86,400 s, 1,605 requests/s of 4,384 tokens) as a
  Poisson process, at a p99 time to first token of 2 s. DeepSeek publishes no first-token
  target; 2 s is the one Tencent Cloud publishes for its production DeepSeek-R1/V3 service
  ("first-token latency < 2 seconds, per-token latency < 50 ms", Angel-HCF,
  https://cpp-summit.org/speaker/1242 and https://www.besthub.dev/articles/how-deepseek-
  achieved-15-800-tokens-s-full-stack-inference-optimizations-b92ff4bbf657), read as a p99.
  The result depends on that limit: 7,393 input tokens/s per GPU at 1.5 s (-20%), 8,893 at 2 s
  (-3.5%), 10,427 at 3 s (+13%), 13,510 with no limit (+47%, the pool run full). At 2 s the
  prefill pool needs 99 nodes for the day's load; DeepSeek's 73.7k per node and the same
  load give 95.5. Its decode runs at the published per-user speed.
* SGLang on GB200 NVL72 (trays of 4 GPUs, EP over NVLink, no two-batch overlap): Part I,
  https://lmsys.org/blog/2025-06-16-gb200-part-1 (decode on 12 trays, EP48: 7,583 output
  tokens/s per GPU at 2,000-token inputs, FP8 MoE, BF16 attention); Part II,
  https://lmsys.org/blog/2025-09-25-gb200-part-2 (2,000-token inputs; BF16 attention with FP8
  MoE: 18,471 input and 9,087 output tokens/s per GPU; FP8 attention (FP8 KV) with NVFP4 MoE:
  26,156 and 13,386). Prefill groups of 2 trays (EP8) as in SGLang's reproduction scripts. The
  NVFP4 cases are modelled with every weight in FP4 (the model has one weight precision), which
  over-credits the attention and dense layers that stay FP8. Part II's decode batch per GPU is
  its published DeepEP dispatch buffer (``efficiency.ep_max_batch_per_rank``), from the
  reproduction instructions, https://github.com/sgl-project/sglang/issues/10903:
  ``SGLANG_DEEPEP_NUM_MAX_DISPATCH_TOKENS_PER_RANK`` and ``--cuda-graph-bs`` 768 for BF16
  attention with FP8 MoE, 1,024 for FP8 attention with NVFP4 MoE (with the default 128 the
  model gave -17.2% and -9.1%). Part I's is not published; it keeps the default, one buffer of
  128 sequences and no second micro-batch.

* TensorRT-LLM's DeepSeek-R1 max-throughput runs, https://github.com/NVIDIA/TensorRT-LLM,
  docs/source/blogs/Best_perf_practice_on_DeepSeek-R1_in_TensorRT-LLM.md: one 8-GPU node with
  prefill and decode colocated, attention data-parallel over the 8 GPUs and the experts on EP8,
  1,024 input and 2,048 output tokens, each with its published per-rank batch and token budget
  (B200 FP4 with an FP8 KV cache, batch 896, budget 2,048: 5,393 output tokens/s per GPU; B200
  FP4 with a BF16 KV cache, 384 and 1,536: 4,548; H200 FP8, 128 and 1,151: 1,436). Their steps
  wait for the attention replica that prefills (planner.perf.serving_ep.dp_prefill_steps).

Tolerance 50%: wide-EP throughput depends on engine settings the publications do not all state
(dispatch-buffer size, CUDA-graph batch sizes, MTP), and two check sources are day averages; the
25% goal applies to the H100/H800 cases and is reported per case.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import assert_never

from planner.perf.assumptions import CalibrationCase

__all__ = ["MOE_RUNS", "MOE_WORKLOAD", "TOLERANCE", "MoeRun", "Pool", "cases",
           "per_accelerator"]

TOLERANCE = 0.50
MOE_WORKLOAD = "workloads/calibration/moe_pool.yaml"
_REPO = Path(__file__).resolve().parents[2]
_LMSYS_H100 = "https://lmsys.org/blog/2025-05-05-large-scale-ep (SGLang, 96 H100)"
_DEEPSEEK = ("https://github.com/deepseek-ai/open-infra-index (DeepSeek-V3/R1 inference system "
             "overview, H800)")
_DEEPSEEK_PROFILE = ("https://github.com/deepseek-ai/profile-data (prefill profile, EP32, 4K "
                     "prompts, 16K tokens per GPU), throughput per node as derived in "
                     "https://lmsys.org/blog/2025-05-05-large-scale-ep")
_GB200_1 = "https://lmsys.org/blog/2025-06-16-gb200-part-1 (SGLang, GB200 NVL72, Part I)"
_GB200_2 = "https://lmsys.org/blog/2025-09-25-gb200-part-2 (SGLang, GB200 NVL72, Part II)"
# DeepSeek's day of service: 608B input and 168B output tokens (3.62 : 1) and a mean KV-cache
# length per output token of 4,989; with decode at input + output/2 (the estimate's rule) the
# request that matches both has 1,211 output and 4,384 input tokens (4,384 + 605.5 = 4,989.5).
_DEEPSEEK_LENGTHS = ("input_tokens=4384", "output_tokens=1211")
# The same day's mean request rate: 608e9 input tokens / 86,400 s / 4,384 tokens per request
# (168e9 output tokens / 86,400 s / 1,211 gives the same 1,605 requests/s), and the first-token
# limit of a production DeepSeek-R1/V3 service (module docstring)
_DEEPSEEK_LOAD = ("requests_per_second=1605 requests/s", "ttft.p99=2 s")
_FP4 = ("weights_precision=fp4", "compute_precision=fp4", "kv_precision=fp8")
_TRTLLM_R1 = ("https://github.com/NVIDIA/TensorRT-LLM, docs/source/blogs/"
              "Best_perf_practice_on_DeepSeek-R1_in_TensorRT-LLM.md (max-throughput, 8 GPUs, "
              "attention DP8 + EP8, 1K/2K)")
# TensorRT-LLM's DeepSeek-R1 max-throughput runs: one 8-GPU node, prefill and decode colocated,
# attention data-parallel over the 8 GPUs with the experts on EP8, 1,024 input and 2,048 output
# tokens; each run's per-rank batch (--max_batch_size) and token budget (--max_num_tokens) as
# published
_TRTLLM_R1_LAYOUT = ("model=deepseek-r1", "disaggregated=false", "input_tokens=1024",
                     "output_tokens=2048", "layout.decode.ep=8", "layout.decode.dp_attention=8")
# SGLang's GB200 Part II decode: DeepEP dispatch buffer (and CUDA-graph batch) per rank as its
# reproduction instructions set it (module docstring)
_PART2_BF16_BATCH = "efficiency.ep_max_batch_per_rank=768"
_PART2_FP4_BATCH = "efficiency.ep_max_batch_per_rank=1024"


class Pool(StrEnum):
    """Which throughput a case publishes."""

    PREFILL = "prefill"  # input tokens/s of the prefill pool
    DECODE = "decode"  # output tokens/s of the decode pool
    COLOCATED = "colocated"  # output tokens/s of the whole deployment (one pool)

    @property
    def quantity(self) -> str:
        """The calibration table the case belongs to."""
        match self:
            case Pool.PREFILL:
                return "input tokens/s per accelerator (prefill pool)"
            case Pool.DECODE:
                return "output tokens/s per accelerator (decode pool)"
            case Pool.COLOCATED:
                return "output tokens/s per accelerator (colocated, attention DP)"
            case _:
                assert_never(self)

    @property
    def json_key(self) -> str:
        """Where ``planner estimate --format json`` reports the pool's tokens/s per unit."""
        return ("tokens_per_s_per_unit" if self is Pool.COLOCATED
                else f"{self.value}.tokens_per_s_per_unit")


def per_accelerator(workload: str, system: str, sets: Sequence[str], pool: Pool) -> float:
    """The pool's tokens/s per accelerator from ``planner.api.estimate`` (the CLI's path) on a
    workload file of this repository with ``--set`` overrides."""
    from planner.api import estimate

    result = estimate(_REPO / workload, system, list(sets)).to_dict()
    accelerators = float(result["accelerators_needed"]) / float(result["units_needed"])
    rates = result if pool is Pool.COLOCATED else result[pool.value]
    return float(rates["tokens_per_s_per_unit"]) / accelerators


@dataclass(frozen=True, slots=True)
class MoeRun:
    """One published pool throughput per accelerator and how to reproduce it."""

    name: str
    system: str
    pool: Pool
    published_per_accelerator: float
    sets: tuple[str, ...]
    source: str
    group: str  # "moe-fit" or "moe-check"
    tolerance: float = TOLERANCE

    def command(self) -> str:
        """The ``planner estimate`` call whose ``<pool>.tokens_per_s_per_unit`` / accelerators
        per unit is the prediction."""
        flags = " ".join(f"--set '{item}'" if " " in item else f"--set {item}"
                         for item in self.sets)
        return (f"planner estimate {MOE_WORKLOAD} --hardware {self.system} {flags} "
                f"--format json  # {self.pool.json_key} / accelerators")


MOE_RUNS: tuple[MoeRun, ...] = (
    MoeRun("SGLang H100 prefill EP32, 2K prompts", "dgx-h100", Pool.PREFILL, 52300 / 8,
           ("layout.prefill.ep=32",), _LMSYS_H100, "moe-fit"),
    MoeRun("SGLang H100 prefill EP32, 4K prompts", "dgx-h100", Pool.PREFILL, 50302 / 8,
           ("layout.prefill.ep=32", "input_tokens=4000"), _LMSYS_H100, "moe-fit"),
    MoeRun("SGLang H100 decode EP72, 2K inputs", "dgx-h100", Pool.DECODE, 22300 / 8,
           ("layout.decode.ep=72",), _LMSYS_H100, "moe-fit"),
    MoeRun("SGLang H100 prefill EP32, 1K prompts", "dgx-h100", Pool.PREFILL, 57674 / 8,
           ("layout.prefill.ep=32", "input_tokens=1000"), _LMSYS_H100, "moe-check"),
    MoeRun("DeepSeek profile H800 prefill EP32, 4K prompts", "hgx-h800", Pool.PREFILL, 62713 / 8,
           ("layout.prefill.ep=32", "input_tokens=4096"), _DEEPSEEK_PROFILE, "moe-check"),
    MoeRun("DeepSeek H800 prefill EP32, 56% cache hits, day load", "hgx-h800", Pool.PREFILL,
           73700 / 8, ("layout.prefill.ep=32", *_DEEPSEEK_LENGTHS,
                       "prefix_cache_hit_fraction=0.563", *_DEEPSEEK_LOAD),
           _DEEPSEEK, "moe-check"),
    MoeRun("DeepSeek H800 decode EP144, 20 tokens/s/user", "hgx-h800", Pool.DECODE, 14800 / 8,
           ("layout.decode.ep=144", *_DEEPSEEK_LENGTHS, "interactivity=20 tokens/s"),
           _DEEPSEEK, "moe-check"),
    MoeRun("SGLang GB200 decode EP48 (Part I)", "gb200-nvl72", Pool.DECODE, 7583,
           ("layout.decode.ep=48",), _GB200_1, "moe-check"),
    MoeRun("SGLang GB200 prefill EP8, BF16 attn, FP8 MoE", "gb200-nvl72", Pool.PREFILL, 18471,
           ("layout.prefill.ep=8",), _GB200_2, "moe-check"),
    MoeRun("SGLang GB200 decode EP48, BF16 attn, FP8 MoE", "gb200-nvl72", Pool.DECODE, 9087,
           ("layout.decode.ep=48", _PART2_BF16_BATCH), _GB200_2, "moe-check"),
    MoeRun("SGLang GB200 prefill EP8, FP8 attn, NVFP4 MoE", "gb200-nvl72", Pool.PREFILL, 26156,
           ("layout.prefill.ep=8", *_FP4), _GB200_2, "moe-check"),
    MoeRun("SGLang GB200 decode EP48, FP8 attn, NVFP4 MoE", "gb200-nvl72", Pool.DECODE, 13386,
           ("layout.decode.ep=48", *_FP4, _PART2_FP4_BATCH), _GB200_2, "moe-check"),
    MoeRun("TRT-LLM R1 B200 DP8+EP8, FP4, FP8 KV, batch 896", "dgx-b200", Pool.COLOCATED,
           5393.2755, (*_TRTLLM_R1_LAYOUT, *_FP4, "efficiency.ep_max_batch_per_rank=896",
                       "efficiency.prefill_batch_tokens=2048"), _TRTLLM_R1, "moe-check"),
    MoeRun("TRT-LLM R1 B200 DP8+EP8, FP4, BF16 KV, batch 384", "dgx-b200", Pool.COLOCATED,
           4548.0105, (*_TRTLLM_R1_LAYOUT, "weights_precision=fp4", "compute_precision=fp4",
                       "efficiency.ep_max_batch_per_rank=384",
                       "efficiency.prefill_batch_tokens=1536"), _TRTLLM_R1, "moe-check"),
    MoeRun("TRT-LLM R1 H200 DP8+EP8, FP8, BF16 KV, batch 128", "dgx-h200", Pool.COLOCATED,
           1436.1584, (*_TRTLLM_R1_LAYOUT, "efficiency.ep_max_batch_per_rank=128",
                       "efficiency.prefill_batch_tokens=1151"), _TRTLLM_R1, "moe-check"),
)


def predicted_per_accelerator(run: MoeRun) -> float:
    """The pool's tokens/s per accelerator from ``planner.api.estimate`` (the CLI's path)."""
    return per_accelerator(MOE_WORKLOAD, run.system, run.sets, run.pool)


def cases() -> list[CalibrationCase]:
    """Every published wide-EP pool throughput with the model's prediction."""
    out = []
    for run in MOE_RUNS:
        quantity = run.pool.quantity
        out.append(CalibrationCase(run.name, quantity, "tokens/s",
                                   run.published_per_accelerator, predicted_per_accelerator(run),
                                   run.tolerance, run.source, run.command(), run.group))
    return out
