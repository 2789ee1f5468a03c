"""Tidy rows as a pandas DataFrame, for scripted reports (pandas is optional)."""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from typing import Any

from planner.errors import InputError, Problem

__all__ = ["frame"]


def frame(rows: Iterable[Mapping[str, Any]]) -> Any:
    """A pandas DataFrame of ``rows``; a clear error when pandas is not installed."""
    try:
        pandas = importlib.import_module("pandas")
    except ImportError:
        raise InputError(Problem("to_frame", "", "pandas is not installed",
                                 "pip install pandas, or use to_dict()")) from None
    return pandas.DataFrame(list(rows))
