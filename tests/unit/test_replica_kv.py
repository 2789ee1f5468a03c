"""The replica memory the KV-cache figures draw (planner/report/plots.py, ReplicaKv): for an
expert-parallel group, every attention replica's KV beside the weights the group holds."""

from __future__ import annotations

from pathlib import Path

import pytest

from planner.api import estimate
from planner.report.plots import ReplicaKv

_EXAMPLE = Path(__file__).resolve().parents[2] / "examples/moe_serving/deepseek_r1.yaml"


def test_an_expert_parallel_group_counts_every_attention_replica() -> None:
    d = estimate(_EXAMPLE, "hgx-h800", ["disaggregated=true"]).to_dict()
    replicas = d["parallelism"]["dp_attention"]
    assert replicas > 1
    # the group stores batch x replicas x context x 70,272 B of MLA latent (tp 1: once per rank)
    kv = d["max_batch"] * replicas * d["context_tokens"] * d["kv_bytes_per_token"]
    assert d["kv_bytes_per_replica"] == pytest.approx(kv)
    replica = ReplicaKv.from_estimate(d)
    assert replica.kv_bytes == pytest.approx(kv)
    assert replica.weights_bytes == pytest.approx(d["memory_bytes_per_replica"] - kv)
    # each rank holds the dense weights and its share of the experts: more than one model copy
    assert replica.weights_bytes > d["weights_bytes"]
    assert replica.label == f"batch {d['max_batch']} x {replicas} attention replicas"
    assert replica.kv_at([0.0, 2 * d["context_tokens"]]) == pytest.approx([0.0, 2 * kv])


def test_a_tensor_parallel_replica_holds_one_copy_of_the_weights() -> None:
    d = estimate(Path(__file__).resolve().parents[2] / "workloads/calibration/offline.yaml",
                 "dgx-h200", ["model=llama-3.1-8b", "layout.decode.tp=1"]).to_dict()
    replica = ReplicaKv.from_estimate(d)
    assert replica.weights_bytes == pytest.approx(d["weights_bytes"])
    assert replica.label == f"batch {d['max_batch']}"


def test_an_estimate_without_the_replica_kv_falls_back_to_the_batch() -> None:
    legacy = {"memory_capacity_bytes": 100e9, "max_batch": 10, "context_tokens": 1000.0,
              "kv_bytes_per_token": 1e5, "weights_bytes": 40e9}
    replica = ReplicaKv.from_estimate(legacy)
    assert (replica.kv_bytes, replica.weights_bytes) == (10 * 1000 * 1e5, 40e9)
