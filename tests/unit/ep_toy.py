"""A toy expert-parallel model and machine whose step times are easy to compute by hand, for the
EP step tests (tests/unit/test_serving.py, tests/unit/test_dp_attention_prefill.py).

16 experts, top-2, 10 MoE layers of hidden 1,000; 2 GFLOP dense and 1 GFLOP routed per token;
1 PFLOP/s, 1 TB/s of HBM, 10 GB/s scale-up and 1 GB/s scale-out, 8 accelerators per domain.
"""

from __future__ import annotations

from planner.perf.serving_moe import EpFactors, EpHardware, EpModel


def toy_ep() -> tuple[EpModel, EpHardware, EpFactors]:
    """The toy model, machine and factors (no overlap, no imbalance, no redundancy)."""
    model = EpModel(dense_weight_bytes=10e9, routed_weight_bytes=160e9, dense_flops=2e9,
                    routed_flops=1e9, experts=16, top_k=2, moe_layers=10, layers=12,
                    hidden=1000, kv_bytes_per_token=1000.0, kv_replication_per_rank=1.0,
                    dispatch_bytes=1.0, combine_bytes=2.0, node_limit=None)
    hardware = EpHardware(gemm_flops=1e15, attention_flops=1e15, hbm_bandwidth=1e12,
                          hbm_capacity=80e9, scale_up_bandwidth=1e10, scale_out_bandwidth=1e9,
                          domain=8, message_s=0.0)
    return model, hardware, EpFactors(overlap=0.0, imbalance=1.0, redundancy=0.0,
                                      kernel_overlap=False)
