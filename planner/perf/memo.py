"""Per-process memoisation of the perf model's pure searches.

The training-plan search (:func:`planner.perf.training.fastest_plan`) and the serving capacity
search (:func:`planner.perf.serving.decode_capacity`) depend only on the values of their
arguments, and a scenario asks them the same questions many times: every job of a scenario
with the same model on the same system, every post-training role that trains, every scenario
of a sweep that leaves the model and the hardware alone. :func:`memoise` remembers their
results by value:

- The key is built from the arguments' values, not their identity: pydantic models (catalog
  systems, model specs, parallelism pins) by their fields, mappings by their items in order,
  sequences as tuples, numbers with their type (``8`` and ``8.0`` are different keys). Two
  calls that agree on every value share one result; anything else is a miss.
- Arguments that cannot be frozen this way (an open file, a callable) make the call run
  uncached; nothing is guessed.
- The cache lives in the process (a sweep worker keeps it from one scenario to the next) and
  is bounded: the least recently used entry goes when ``maxsize`` is reached.
- Results must be immutable (frozen dataclasses), since every hit returns the same object.

``PLANNER_NO_MEMO=1`` in the environment turns every cache off; it exists so that
``benchmarks/bench_inputs.py`` can time the uncached path in the same run.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, ParamSpec, TypeVar

__all__ = ["DISABLE_ENV", "CacheInfo", "UnfreezableError", "freeze", "memoise"]

P = ParamSpec("P")
R = TypeVar("R")
DISABLE_ENV = "PLANNER_NO_MEMO"


class UnfreezableError(TypeError):
    """An argument has no value-based key (the call then runs uncached)."""


@dataclasses.dataclass(frozen=True, slots=True)
class CacheInfo:
    """Counters of one memoised function since its cache was last cleared."""

    hits: int
    misses: int
    uncached: int
    size: int
    maxsize: int


def freeze(value: Any) -> Any:
    """A hashable key equal for equal values (see the module docstring); raises
    :class:`UnfreezableError` for values it does not know how to compare by value."""
    match value:
        case None | str() | bytes() | enum.Enum():
            return value
        case bool() | int() | float() | complex():
            return (type(value), value)
        case dict():
            return _frozen_map(value)
        case list() | tuple():
            return (type(value).__name__, tuple(freeze(v) for v in value))
        case set() | frozenset():
            return ("set", frozenset(freeze(v) for v in value))
    fields = getattr(type(value), "model_fields", None)  # a pydantic model
    if isinstance(fields, dict):
        return (type(value), tuple(freeze(getattr(value, name)) for name in fields))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (type(value), tuple(freeze(getattr(value, f.name))
                                   for f in dataclasses.fields(value)))
    # Other mappings last: an isinstance check against an abstract base class walks its
    # registered subclasses the first time it meets a type, and the perf model's arguments
    # are mostly pydantic models and dataclasses.
    if isinstance(value, Mapping):
        return _frozen_map(value)
    raise UnfreezableError(f"no value-based key for a {type(value).__name__}")


def _frozen_map(value: Mapping[Any, Any]) -> Any:
    return ("map", tuple((freeze(k), freeze(v)) for k, v in value.items()))


def _disabled() -> bool:
    return os.environ.get(DISABLE_ENV, "") not in ("", "0")


def memoise(maxsize: int = 1024) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorator: cache a pure function's results by the values of its arguments, per process,
    keeping at most ``maxsize`` results (least recently used first out)."""

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        cache: OrderedDict[Any, R] = OrderedDict()
        lock = threading.Lock()
        counts = {"hits": 0, "misses": 0, "uncached": 0}

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            if _disabled():
                return fn(*args, **kwargs)
            try:
                key = freeze((args, tuple(sorted(kwargs.items()))))
            except UnfreezableError:
                counts["uncached"] += 1
                return fn(*args, **kwargs)
            with lock:
                if key in cache:
                    cache.move_to_end(key)
                    counts["hits"] += 1
                    return cache[key]
            result = fn(*args, **kwargs)
            with lock:
                counts["misses"] += 1
                cache[key] = result
                if len(cache) > maxsize:
                    cache.popitem(last=False)
            return result

        def cache_info() -> CacheInfo:
            return CacheInfo(counts["hits"], counts["misses"], counts["uncached"], len(cache),
                             maxsize)

        def cache_clear() -> None:
            with lock:
                cache.clear()
                counts.update(hits=0, misses=0, uncached=0)

        wrapper.cache_info = cache_info  # type: ignore[attr-defined]
        wrapper.cache_clear = cache_clear  # type: ignore[attr-defined]
        return wrapper

    return decorate
