"""The per-process memoisation of the perf searches (planner/perf/memo.py)."""

from __future__ import annotations

import io
from typing import Any

import pytest

from planner.catalog.load import load_catalog
from planner.catalog.schema import Precision
from planner.perf.memo import UnfreezableError, freeze, memoise
from planner.perf.serving import DEFAULTS as SERVING_DEFAULTS
from planner.perf.serving import decode_capacity
from planner.perf.training import DEFAULTS, TrainingJob, fastest_plan
from planner.workload.load import load_model
from planner.workload.schema import Parallelism, Recompute


def _counted() -> tuple[Any, list[tuple[Any, ...]]]:
    calls: list[tuple[Any, ...]] = []

    @memoise(maxsize=2)
    def f(*args: Any, **kwargs: Any) -> int:
        calls.append((args, kwargs))
        return len(calls)

    return f, calls


@pytest.mark.parametrize(("a", "b"), [
    (8, 8.0), (True, 1), ({"x": 1, "y": 2}, {"y": 2, "x": 1}), ((1,), [1]), (Parallelism(tp=8),
                                                                              Parallelism(tp=4)),
], ids=["int-float", "bool-int", "dict-order", "tuple-list", "pins"])
def test_different_values_different_keys(a: Any, b: Any) -> None:
    assert freeze(a) != freeze(b)


def test_equal_values_share_a_key_across_loads() -> None:
    # load_catalog builds new objects each call: the key follows values, not identity
    assert freeze(load_catalog().get("dgx-h100")) == freeze(load_catalog().get("dgx-h100"))
    assert freeze(load_catalog().get("dgx-h100")) != freeze(load_catalog().get("dgx-h200"))


def test_hits_misses_and_bound() -> None:
    f, _ = _counted()
    assert [f(1), f(1), f(2), f(1, k=3), f(1)] == [1, 1, 2, 3, 4]
    # f(1) was evicted by f(2) and f(1, k=3) (maxsize 2), so the last call ran again
    assert f.cache_info().hits == 1 and f.cache_info().misses == 4
    assert f.cache_info().size == 2


def test_unfreezable_argument_runs_uncached() -> None:
    f, _ = _counted()
    handle = io.StringIO()
    with pytest.raises(UnfreezableError):
        freeze(handle)
    assert [f(handle), f(handle)] == [1, 2]
    assert f.cache_info().uncached == 2


def test_switched_off_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    f, _ = _counted()
    monkeypatch.setenv("PLANNER_NO_MEMO", "1")
    assert [f(1), f(1)] == [1, 2]


def test_fastest_plan_cached_equals_uncached(monkeypatch: pytest.MonkeyPatch) -> None:
    job = TrainingJob.build(load_model("llama-3.1-8b"), load_catalog().get("dgx-h100"),
                            sequence_length=8192, global_batch_tokens=4e6,
                            precision=Precision.BF16, recompute=Recompute.SELECTIVE,
                            zero_stage=1, assumptions=DEFAULTS)
    first = fastest_plan(job, 512)
    assert fastest_plan(job, 512) is first  # a hit returns the remembered result
    monkeypatch.setenv("PLANNER_NO_MEMO", "1")
    fresh = fastest_plan(job, 512)
    assert fresh is not first and fresh == first
    assert fastest_plan(job, 256) != first


def test_decode_capacity_cached_equals_uncached(monkeypatch: pytest.MonkeyPatch) -> None:
    args: dict[str, Any] = {
        "weights_precision": Precision.FP8, "kv_precision": Precision.BF16,
        "compute_precision": Precision.FP8, "context_tokens": 4000.0, "interactivity": 30.0,
        "assumptions": dict(SERVING_DEFAULTS)}
    model = load_model("llama-3.1-70b")
    first = decode_capacity(model, load_catalog().get("dgx-h100"), **args)
    assert decode_capacity(model, load_catalog().get("dgx-h100"), **args) is first
    monkeypatch.setenv("PLANNER_NO_MEMO", "1")
    assert decode_capacity(model, load_catalog().get("dgx-h100"), **args) == first
