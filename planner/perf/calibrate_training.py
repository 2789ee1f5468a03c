"""The training model against published runs: Llama 3 405B on H100, Megatron-LM on A100.

Every case is predicted with one set of factors (``planner.perf.training.DEFAULTS``); the
layouts, batches and recomputation are the papers' own, the plan search picks only what they
leave open (microbatch size and interleaving depth). Sources (see reference/measurements.md,
V1 and V3):

* Llama 3 paper (Dubey et al. 2024, arXiv 2407.21783), Table 4: 405B, BF16, seq 8,192, 16M
  tokens per batch, TP 8, PP 16, on 8,192 GPUs (DP 64): 430 TFLOPs/GPU; on 16,384 (DP 128):
  400. FSDP with sharded gradients and optimizer (ZeRO-2 here), no activation checkpointing
  at 8K (FlashAttention recomputes the attention core: "selective" here).
* Llama 3.1 model card: 3.8e25 FLOPs, 30.84M H100-hours for 405B.
* Megatron-LM (Narayanan et al. 2021, arXiv 2104.04473), Table 1: GPT models on A100, seq
  2,048, vocabulary 51,200, full activation recomputation, no optimizer sharding. The paper's
  TFLOPs count its eq. (3), F = 96·B·s·l·h²·(1 + s/(6h) + V/(16·l·h)) per iteration, which
  includes the recomputed forward and full (not causal) attention; the predictions are
  converted to that accounting before comparison.
* DeepSeek-V3 paper (arXiv 2412.19437): Table 1, 2.664M H800 GPU-hours of pre-training for
  14.8T tokens (of 2.788M in all); §3.1 2,048 H800 in 8-GPU nodes; §3.2 PP16, EP64 over 8
  nodes, ZeRO-1 DP, no TP; §4.2 sequence 4,096 and a final batch of 15,360 sequences;
  §3.3 FP8 mixed precision. The prediction uses the paper's layout and the shared factors;
  the FP8 split, the all-to-all and its overlap are what the MoE case exercises.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from planner.catalog.load import load_catalog
from planner.catalog.schema import System
from planner.perf.assumptions import CalibrationCase
from planner.perf.training import TrainingEstimate, estimate_pretrain
from planner.perf.training_cases import (
    BRIDGE,
    BRIDGE_ROWS,
    CORE_R080,
    CORE_SEQUENCE,
    CORE_VOCAB,
    STRONG_SCALING_177B,
    WEAK_SCALING,
    BridgeRow,
    CaseSet,
    GptRow,
    Group,
)
from planner.workload.load import load_model
from planner.workload.params import count_params
from planner.workload.schema import ModelSpec, Pretrain

__all__ = ["MEGATRON_TABLE1", "MegatronRow", "bridge_case", "case_group", "case_set", "cases",
           "core_flops_per_iteration", "deepseek_v3_case", "deepseek_v3_run", "gpt_model",
           "llama3_cases", "mean_absolute_error", "megatron_cases",
           "megatron_flops_per_iteration", "megatron_model", "set_errors",
           "strong_scaling_cases", "weak_scaling_cases"]

LLAMA3_PAPER = "Llama 3 paper, arXiv 2407.21783, Table 4"
LLAMA3_CARD = ("Llama 3.1 model card, https://github.com/meta-llama/llama-models/blob/main/"
               "models/llama3_1/MODEL_CARD.md")
MEGATRON_PAPER = "Megatron-LM, Narayanan et al. 2021, arXiv 2104.04473, Table 1"

LLAMA3_TOKENS = 15.6e12
LLAMA3_SEQUENCE = 8192
LLAMA3_BATCH_TOKENS = 2048 * 8192  # "16M tokens": 2,048 sequences of 8,192
LLAMA3_FLOPS = 3.8e25
LLAMA3_GPU_HOURS = 30.84e6
DEEPSEEK_PAPER = "DeepSeek-V3 technical report, arXiv 2412.19437, Table 1 and §3-4"
DEEPSEEK_TOKENS = 14.8e12
DEEPSEEK_SEQUENCE = 4096
DEEPSEEK_BATCH_SEQUENCES = 15360  # §4.2: the batch ramps from 3,072 to 15,360 sequences
DEEPSEEK_GPUS = 2048
DEEPSEEK_GPU_HOURS = 2.664e6  # Table 1, pre-training only
# 30%: one aggregate figure for the whole stage, which also pays for what the model leaves
# out (the MTP module, ~4% more FLOPs; the smaller batches of the ramp; evaluation), and two
# of the factors it exercises are assumptions (fp8_matmul, ep_overlap) rather than fits.
DEEPSEEK_TOLERANCE = 0.30
MEGATRON_SEQUENCE = 2048
MEGATRON_VOCAB = 51200
# Megatron-LM in 2021 overlapped neither its TP all-reduces nor its DP all-reduce with compute
# (arXiv 2104.04473 §4; the overlap options came with Megatron-Core): the step model's
# ``comm_overlap`` switch, not a fitted factor.
NO_OVERLAP = {"comm_overlap": 0.0}
# The bar for the check set is 20% per case and 10% on average per group; a case is flagged
# out of tolerance (and `planner calibration` fails) only beyond 30%, the tolerance the
# DeepSeek-V3 case always had, so that cases between 20% and 30% are reported in the summary
# ("Training fit and check sets") rather than hidden by a looser bar.
CHECK_TOLERANCE = 0.30
# Megatron-Bridge's benchmark recipes reduce gradients in BF16 (``grad_reduce_in_fp32 = False``
# in scripts/performance/utils/precision.py and perf_recipes/_common.py).
BRIDGE_SETTINGS = {"grad_reduce_bytes": 2.0}


@dataclass(frozen=True, slots=True)
class MegatronRow:
    """One row of Megatron-LM Table 1."""

    billions: float
    heads: int
    hidden: int
    layers: int
    tp: int
    pp: int
    gpus: int
    batch: int
    tflops_per_gpu: float


MEGATRON_TABLE1: tuple[MegatronRow, ...] = (
    MegatronRow(1.7, 24, 2304, 24, 1, 1, 32, 512, 137),
    MegatronRow(3.6, 32, 3072, 30, 2, 1, 64, 512, 138),
    MegatronRow(7.5, 32, 4096, 36, 4, 1, 128, 512, 142),
    MegatronRow(18.4, 48, 6144, 40, 8, 1, 256, 1024, 135),
    MegatronRow(39.1, 64, 8192, 48, 8, 2, 512, 1536, 138),
    MegatronRow(76.1, 80, 10240, 60, 8, 4, 1024, 1792, 140),
    MegatronRow(145.6, 96, 12288, 80, 8, 8, 1536, 2304, 148),
    MegatronRow(310.1, 128, 16384, 96, 8, 16, 1920, 2160, 155),
    MegatronRow(529.6, 128, 20480, 105, 8, 35, 2520, 2520, 163),
    MegatronRow(1008.0, 160, 25600, 128, 8, 64, 3072, 3072, 163),
)


def _llama3_run(llama: ModelSpec, h100: System, gpus: int, dp: int) -> TrainingEstimate:
    """The 405B run of Table 4 on ``gpus`` H100 (TP 8, PP 16)."""
    spec = Pretrain.model_validate({
        "kind": "pretrain", "name": f"llama3-405b-{gpus}", "model": llama.id,
        "tokens": LLAMA3_TOKENS, "sequence_length": LLAMA3_SEQUENCE, "precision": "bf16",
        "accelerators": gpus, "global_batch_tokens": LLAMA3_BATCH_TOKENS,
        "parallelism": {"tp": 8, "pp": 16, "dp": dp}, "recompute": "selective",
        "zero_stage": 2})
    return estimate_pretrain(spec, llama, h100)


def llama3_cases(llama: ModelSpec, h100: System) -> list[CalibrationCase]:
    """TFLOPs/GPU on 8,192 and 16,384 H100, total FLOPs, and the model card's GPU-hours."""
    found: list[CalibrationCase] = []
    for gpus, dp, published in ((8192, 64, 430e12), (16384, 128, 400e12)):
        run = _llama3_run(llama, h100, gpus, dp)
        found.append(CalibrationCase(
            f"fit:hopper-bf16:llama3-405b-h100-{gpus}", "model FLOP/s per GPU", "FLOP/s", published,
            run.flops_per_s_per_accelerator, 0.10, LLAMA3_PAPER,
            f"TP8 PP16 DP{dp}, seq 8,192, 16M tokens per batch"))
    big = _llama3_run(llama, h100, 16384, 128)
    matmul = count_params(llama.architecture).matmul_active
    found += [
        CalibrationCase("fit:hopper-bf16:llama3-405b-flops-6nd", "6·N·D model FLOPs", "FLOP",
                        LLAMA3_FLOPS,
                        6.0 * matmul * LLAMA3_TOKENS, 0.03, LLAMA3_CARD,
                        "Meta's 3.8e25 is 6·N·D (6 x 405B x 15.6T = 3.79e25), no attention"),
        CalibrationCase("fit:hopper-bf16:llama3-405b-flops-total", "total training FLOPs", "FLOP",
                        LLAMA3_FLOPS, big.total_flops, 0.05, LLAMA3_CARD,
                        "with causal attention at 8K (+4% over 6·N·D); Meta's figure omits it"),
        CalibrationCase("fit:hopper-bf16:llama3-405b-gpu-hours", "H100-hours for 15.6T tokens",
                        "GPU-h",
                        LLAMA3_GPU_HOURS, big.to_dict()["accelerator_hours"], 0.10, LLAMA3_CARD,
                        f"16,384 GPUs at goodput {big.reliability.goodput:.3f}; the card's "
                        "hours also cover the long-context and annealing stages"),
    ]
    return found


def megatron_model(row: MegatronRow) -> ModelSpec:
    """The GPT model of one Table 1 row.

    GPT's 4h GeLU MLP has 8h² weights; the architecture schema has SwiGLU only, so an
    equal-weight SwiGLU of width 8h/3 stands in (same matmul FLOPs, same activation bytes:
    18h per token either way). Embeddings are tied, as in Megatron-LM's GPT.
    """
    return ModelSpec.model_validate({
        "id": f"megatron-gpt-{row.billions:g}b".replace(".", "-"),
        "name": f"Megatron-LM GPT {row.billions:g}B",
        "architecture": {"layers": row.layers, "hidden": row.hidden, "heads": row.heads,
                         "kv_heads": row.heads, "head_dim": row.hidden // row.heads,
                         "ffn_hidden": round(8 * row.hidden / 3), "vocab": MEGATRON_VOCAB,
                         "tied_embeddings": True},
        "published": {"total_params": row.billions * 1e9},
        "context_length": MEGATRON_SEQUENCE,
        "sources": {"architecture": {"url": "https://arxiv.org/abs/2104.04473",
                                     "tag": "paper", "note": "Table 1"}}})


def megatron_flops_per_iteration(row: MegatronRow) -> float:
    """Narayanan et al. 2021 eq. (3): 96·B·s·l·h²·(1 + s/(6h) + V/(16·l·h))."""
    s, h, layers = MEGATRON_SEQUENCE, row.hidden, row.layers
    return (96.0 * row.batch * s * layers * h * h
            * (1.0 + s / (6.0 * h) + MEGATRON_VOCAB / (16.0 * layers * h)))


def megatron_case(row: MegatronRow, a100: System) -> CalibrationCase:
    """Predicted TFLOPs/GPU of one Table 1 row, in the paper's accounting."""
    dp = row.gpus // (row.tp * row.pp)
    model = megatron_model(row)
    spec = Pretrain.model_validate({
        "kind": "pretrain", "name": model.id, "model": model.id,
        "tokens": 300e9, "sequence_length": MEGATRON_SEQUENCE, "precision": "bf16",
        "accelerators": row.gpus, "global_batch_tokens": row.batch * MEGATRON_SEQUENCE,
        "parallelism": {"tp": row.tp, "pp": row.pp, "dp": dp}, "recompute": "full",
        "zero_stage": 0})
    run = estimate_pretrain(spec, model, a100, NO_OVERLAP)
    # the plan runs d·b·m sequences, the nearest multiple of d·b to the batch: FLOPs per second
    # of the sequences it runs
    predicted = (megatron_flops_per_iteration(row) / (run.step.step_s * row.gpus)
                 * run.step.tokens / (row.batch * MEGATRON_SEQUENCE))
    return CalibrationCase(
        f"fit:ampere-bf16:megatron-{row.billions:g}b-a100-{row.gpus}",
        "TFLOP/s per GPU incl. recompute",
        "FLOP/s", row.tflops_per_gpu * 1e12, predicted, 0.20, MEGATRON_PAPER,
        f"TP{row.tp} PP{row.pp} DP{dp}, batch {row.batch}, full recompute; "
        f"chosen microbatch {run.plan.microbatch}, {run.plan.virtual_stages} virtual stages")


def megatron_cases(a100: System) -> list[CalibrationCase]:
    """Every row of Megatron-LM Table 1."""
    return [megatron_case(row, a100) for row in MEGATRON_TABLE1]


def deepseek_v3_run(model: ModelSpec, h800: System) -> TrainingEstimate:
    """DeepSeek-V3 pre-training as §3-4 of the paper lay it out: 2,048 H800, FP8, PP16,
    EP64 (8 nodes), ZeRO-1 over the 128 ranks of a stage, no TP, final batch size."""
    spec = Pretrain.model_validate({
        "kind": "pretrain", "name": "deepseek-v3-pretrain", "model": model.id,
        "tokens": DEEPSEEK_TOKENS, "sequence_length": DEEPSEEK_SEQUENCE,
        "precision": "fp8-blockwise", "accelerators": DEEPSEEK_GPUS,
        "global_batch": DEEPSEEK_BATCH_SEQUENCES, "mtp_depth": 1,
        "parallelism": {"tp": 1, "pp": 16, "dp": DEEPSEEK_GPUS // 16, "ep": 64,
                        "schedule": "dualpipe"},
        "recompute": "selective", "zero_stage": 1})
    return estimate_pretrain(spec, model, h800)


def deepseek_v3_case(model: ModelSpec, h800: System) -> CalibrationCase:
    """H800-hours of DeepSeek-V3 pre-training against Table 1's 2.664M."""
    run = deepseek_v3_run(model, h800)
    step = run.step
    return CalibrationCase(
        "check:hopper-fp8:deepseek-v3-h800-gpu-hours", "H800-hours for 14.8T tokens", "GPU-h",
        DEEPSEEK_GPU_HOURS, run.to_dict()["accelerator_hours"], DEEPSEEK_TOLERANCE,
        DEEPSEEK_PAPER,
        f"PP16 EP64 DP{run.plan.dp}, DualPipe, FP8 blockwise, one MTP module; exposed "
        f"all-to-all {step.ep_communication_s:.1f} s of a {step.step_s:.1f} s step; goodput "
        f"{run.reliability.goodput:.3f}")


def _system_of(name: str) -> System:
    return load_catalog().get(name)


def bridge_case(row: BridgeRow) -> CalibrationCase:
    """Tokens per second per GPU of one Megatron-Bridge row, at the row's own layout."""
    model = load_model(row.model)
    dp = row.gpus // (row.tp * row.pp * row.cp)
    parallelism: dict[str, object] = {"tp": row.tp, "pp": row.pp, "cp": row.cp, "dp": dp,
                                      "microbatch": row.microbatch}
    if row.vp is not None and row.vp > 1:
        parallelism["virtual_stages"] = row.vp
        parallelism["schedule"] = "interleaved"
    if row.ep is not None:
        parallelism["ep"] = row.ep
    spec = Pretrain.model_validate({
        "kind": "pretrain", "name": row.name.replace(":", "-"), "model": model.id,
        "tokens": 1e12, "sequence_length": row.sequence, "precision": row.precision,
        "accelerators": row.gpus, "global_batch": row.global_batch,
        "parallelism": parallelism, "recompute": "selective",
        "zero_stage": 3 if row.fsdp else 1})
    settings = BRIDGE_SETTINGS if row.comm_overlap else {**BRIDGE_SETTINGS, **NO_OVERLAP}
    run = estimate_pretrain(spec, model, _system_of(row.system), settings)
    predicted = run.step.tokens_per_s / row.gpus
    layout = (f"TP{row.tp} PP{row.pp} CP{row.cp} VP{row.vp or 1} EP{row.ep or 1} DP{dp}, "
              f"GBS {row.global_batch}, MBS {row.microbatch}, {row.precision}; "
              f"NeMo {row.release}; {'' if row.comm_overlap else 'no comm overlap; '}"
              f"bound {run.bound}")
    return CalibrationCase(row.name, "tokens/s per GPU", "tokens/s", row.tokens_per_s_per_gpu,
                           predicted, CHECK_TOLERANCE, BRIDGE, layout)


def gpt_model(name: str, layers: int, hidden: int, heads: int, vocab: int,
              sequence: int) -> ModelSpec:
    """A GPT model with an equal-weight SwiGLU stand-in for its 4h GeLU MLP (see
    :func:`megatron_model`), tied embeddings."""
    return ModelSpec.model_validate({
        "id": f"gpt-{name}".replace(".", "-"), "name": f"GPT {name}",
        "architecture": {"layers": layers, "hidden": hidden, "heads": heads, "kv_heads": heads,
                         "head_dim": hidden // heads, "ffn_hidden": round(8 * hidden / 3),
                         "vocab": vocab, "tied_embeddings": True},
        "published": {"total_params": 12.0 * layers * hidden * hidden + vocab * hidden},
        "context_length": sequence,
        "sources": {"architecture": {"url": "https://github.com/NVIDIA/Megatron-LM",
                                     "tag": "paper", "note": "README model table"}}})


def core_flops_per_iteration(layers: int, hidden: int, batch: int, vocab: int,
                             sequence: int) -> float:
    """Megatron-LM's model FLOPs per iteration (no recomputation, full attention):
    72·B·s·l·h²·(1 + s/(6h) + V/(12·l·h)), the 96 of Narayanan et al. eq. (3) less the
    recomputed forward."""
    return (72.0 * batch * sequence * layers * hidden * hidden
            * (1.0 + sequence / (6.0 * hidden) + vocab / (12.0 * layers * hidden)))


def _core_run(row: GptRow, gpus: int, h100: System) -> TrainingEstimate:
    model = gpt_model(row.name, row.layers, row.hidden, row.heads, CORE_VOCAB, CORE_SEQUENCE)
    spec = Pretrain.model_validate({
        "kind": "pretrain", "name": model.id, "model": model.id, "tokens": 1e12,
        "sequence_length": CORE_SEQUENCE, "precision": "bf16", "accelerators": gpus,
        "global_batch": row.batch,
        "parallelism": {"tp": row.tp, "pp": row.pp, "dp": gpus // (row.tp * row.pp)},
        "recompute": "selective", "zero_stage": 1})
    return estimate_pretrain(spec, model, h100)


def _core_tflops(row: GptRow, gpus: int, run: TrainingEstimate) -> float:
    flops = core_flops_per_iteration(row.layers, row.hidden, row.batch, CORE_VOCAB,
                                     CORE_SEQUENCE)
    return flops / (run.step.step_s * gpus) * run.step.tokens / (row.batch * CORE_SEQUENCE)


def weak_scaling_cases(h100: System) -> list[CalibrationCase]:
    """Megatron-Core r0.8.0 weak-scaling rows on H100 (fit set): TFLOP/s per GPU."""
    found = []
    for row in WEAK_SCALING:
        run = _core_run(row, row.gpus, h100)
        found.append(CalibrationCase(
            f"fit:hopper-bf16:core-gpt-{row.name}-h100-{row.gpus}", "model FLOP/s per GPU",
            "FLOP/s", row.tflops_per_gpu * 1e12, _core_tflops(row, row.gpus, run), 0.15,
            CORE_R080, f"TP{row.tp} PP{row.pp} DP{row.gpus // (row.tp * row.pp)}, batch "
            f"{row.batch}; chosen microbatch {run.plan.microbatch}, "
            f"{run.plan.virtual_stages} virtual stages"))
    return found


STRONG_177B = GptRow("177b", 96, 12288, 96, 8, 6, 96, 1152, 0.0)


def strong_scaling_cases(h100: System) -> list[CalibrationCase]:
    """The 177B strong-scaling curve (check set): MFU at each GPU count, batch 1,152."""
    found = []
    for point in STRONG_SCALING_177B:
        run = _core_run(STRONG_177B, point.gpus, h100)
        mfu = _core_tflops(STRONG_177B, point.gpus, run) / h100.accelerator.peak_flops.bf16
        found.append(CalibrationCase(
            f"check:hopper-bf16:strong-gpt-177b-h100-{point.gpus}", "MFU (BF16 peak)", "",
            point.mfu, mfu, 0.10, CORE_R080,
            f"TP8 PP6 DP{point.gpus // 48}, batch 1,152 ({point.how}); chosen microbatch "
            f"{run.plan.microbatch}, {run.plan.virtual_stages} virtual stages"))
    return found


def cases() -> list[CalibrationCase]:
    """All training calibration cases: the fit set (named ``fit:``), then the check set
    (``check:``); the second part of a name is its :class:`Group`."""
    catalog = load_catalog()
    llama = load_model("llama-3.1-405b")
    h100 = catalog.get("dgx-h100")
    fit = (llama3_cases(llama, h100) + megatron_cases(catalog.get("dgx-a100"))
           + weak_scaling_cases(h100)
           + [bridge_case(row) for row in BRIDGE_ROWS if row.case_set is CaseSet.FIT])
    check = ([bridge_case(row) for row in BRIDGE_ROWS if row.case_set is CaseSet.CHECK]
             + strong_scaling_cases(h100)
             + [deepseek_v3_case(load_model("deepseek-v3"), catalog.get("hgx-h800"))])
    return fit + check


def case_set(case: CalibrationCase) -> CaseSet:
    """The set a case belongs to, from its name."""
    return CaseSet(case.name.split(":", 1)[0])


def case_group(case: CalibrationCase) -> Group:
    """The hardware and precision group of a case, from its name."""
    return Group(case.name.split(":", 2)[1])


def set_errors(found: Sequence[CalibrationCase]) -> dict[str, tuple[int, float, float]]:
    """(cases, mean, max absolute error) of the fit set, the check set and each check group."""
    buckets: dict[str, list[CalibrationCase]] = {}
    for case in found:
        buckets.setdefault(case_set(case).value, []).append(case)
        if case_set(case) is CaseSet.CHECK:
            buckets.setdefault(f"check {case_group(case).value}", []).append(case)
    return {name: (len(items), mean_absolute_error(items),
                   max(abs(c.error) for c in items))
            for name, items in buckets.items()}


def mean_absolute_error(found: Sequence[CalibrationCase]) -> float:
    """Mean of |predicted - published| / published over the cases."""
    return sum(abs(case.error) for case in found) / len(found)
