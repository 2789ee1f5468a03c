"""Render any result as table (terminal), JSON, Markdown, CSV or HTML.

A result is any object with ``to_dict()`` and ``to_report()``. JSON prints ``to_dict()``
(the documented contract); the other formats lay out the :class:`~planner.report.model.Report`.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Sequence
from typing import Any, Protocol

from planner.report.model import KeyValues, Report, Table

__all__ = ["Renderable", "csv_tables", "primary_csv", "render", "render_report", "to_json"]


class Renderable(Protocol):
    """What the renderers accept."""

    def to_dict(self) -> dict[str, Any]: ...

    def to_report(self, figures: bool = False) -> Report: ...


def render(result: Renderable, fmt: str, show_assumptions: bool = True) -> str:
    """Render a result in one of: table, json, markdown, csv, html.

    ``show_assumptions=False`` shortens the terminal table's assumptions to a one-line count
    (the other formats always carry them).
    """
    if fmt == "json":
        return to_json(result.to_dict())
    return render_report(result.to_report(figures=fmt == "html"), fmt, show_assumptions)


def render_report(report: Report, fmt: str, show_assumptions: bool = True) -> str:
    """Lay out a Report in a text format."""
    if fmt == "markdown":
        return _markdown(report)
    if fmt == "csv":
        return _csv(report)
    if fmt == "html":
        from planner.report.html import html_page

        return html_page(report)
    return _terminal(report, show_assumptions)


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def to_json(data: dict[str, Any]) -> str:
    """Stable, indented JSON (non-finite floats become null or "inf")."""
    return json.dumps(_clean(data), indent=2, sort_keys=False) + "\n"


def _terminal(report: Report, show_assumptions: bool = True) -> str:
    """Rich tables at the terminal's width; numbers right-aligned, prose left-aligned."""
    from rich.table import Table as RichTable
    from rich.text import Text

    from planner.report.text import rich_render, rich_table_of

    items: list[object] = [Text(report.title, style="bold")]
    for section in report.sections:
        if isinstance(section, KeyValues):
            grid = RichTable(title=section.title, title_justify="left", show_header=False,
                             box=None, padding=(0, 2))
            grid.add_column(no_wrap=True)
            grid.add_column(overflow="fold")
            for label, value in section.items:
                grid.add_row(Text(label), Text(value))
            items.append(grid)
        elif section.key == "assumptions" and not show_assumptions:
            items.append(Text(f"{section.title}: {len(section.rows):,} named values, each "
                              "with its source (--assumptions lists them; json, markdown, csv "
                              "and html always carry them)"))
        else:
            items.append(rich_table_of(section.title, section.headers, section.rows))
    return rich_render(*items)


def _markdown(report: Report) -> str:
    from planner.report.text import markdown_table

    out = [f"# {report.title}\n"]
    for section in report.sections:
        out.append(f"## {section.title}\n")
        if isinstance(section, KeyValues):
            out.append("\n".join(f"- **{label}**: {value}" for label, value in section.items)
                       + "\n")
        else:
            out.append(markdown_table(section.headers, section.rows))
    return "\n".join(out)


_PRIMARY_TABLES = ("placements", "comparison", "cases", "roles")
"""CSV on stdout is one table: the first of these a report has, else its first table."""


def csv_tables(report: Report) -> dict[str, str]:
    """Every table of a report as its own tidy CSV (raw SI values), keyed by file stem.

    Key-value blocks become a two-column ``name,value`` table named after the block
    (``summary`` for the first one), so nothing the terminal shows is lost.
    """
    out: dict[str, str] = {}
    for section in report.sections:
        if isinstance(section, KeyValues):
            stem = _stem(section.title) if out else "summary"
            out.setdefault(stem, _table_csv(("name", "value"), section.items, ()))
            continue
        stem = section.key or _stem(section.title)
        out.setdefault(stem, _table_csv(section.headers, section.rows, section.records))
    return out


def primary_csv(report: Report) -> tuple[str, str, list[str]]:
    """(stem, CSV text, other stems) for printing one table on stdout."""
    tables = csv_tables(report)
    keyed = [s.key for s in report.sections if isinstance(s, Table) and s.key]
    stem = next((k for k in _PRIMARY_TABLES if k in tables), keyed[0] if keyed else "")
    if not stem:
        stem = next(iter(tables), "")
    return stem, tables.get(stem, ""), [k for k in tables if k != stem]


def _stem(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_") or "table"


def _table_csv(headers: Sequence[str], rows: Sequence[Sequence[str]],
               records: Sequence[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    if records:
        keys = list(dict.fromkeys(k for r in records for k in r))
        writer = csv.DictWriter(buffer, fieldnames=keys, lineterminator="\n")
        writer.writeheader()
        writer.writerows(_flat(dict(r)) for r in records)
    else:
        plain = csv.writer(buffer, lineterminator="\n")
        plain.writerow(headers)
        plain.writerows(rows)
    return buffer.getvalue()


def _flat(record: dict[str, Any]) -> dict[str, Any]:
    """One CSV cell per field: nested values as compact JSON, non-finite floats as text."""
    cleaned = _clean(record)
    return {k: json.dumps(v, separators=(",", ":")) if isinstance(v, dict | list) else v
            for k, v in cleaned.items()}


def _csv(report: Report) -> str:
    """The report's main table as one tidy CSV (see :func:`csv_tables` for all of them)."""
    return primary_csv(report)[1]
