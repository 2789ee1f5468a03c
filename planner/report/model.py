"""Report data: what a report shows, built from a result's dict before any rendering.

Builders turn a result (estimate, plan, calibration, comparison) into a :class:`Report` made of
key-value blocks and tables of already formatted strings; renderers (table, Markdown, CSV, HTML)
only lay them out. The JSON format skips this layer and prints the result's ``to_dict()``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["KeyValues", "Report", "Table"]


@dataclass(frozen=True, slots=True)
class Table:
    """A titled table of formatted cells; ``key`` names it in CSV output."""

    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    key: str = ""
    records: tuple[dict[str, Any], ...] = ()  # raw rows for CSV (SI units)


@dataclass(frozen=True, slots=True)
class KeyValues:
    """A titled list of label: value lines."""

    title: str
    items: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Report:
    """A titled sequence of sections plus the JSON data it was built from."""

    title: str
    sections: tuple[Table | KeyValues, ...]
    data: dict[str, Any] = field(default_factory=dict)
    figures: tuple[str, ...] = ()  # inline SVG documents for the HTML report
