"""Render any result as table (terminal), JSON, Markdown, CSV or HTML.

A result is any object with ``to_dict()`` and ``to_report()``. JSON prints ``to_dict()``
(the documented contract); the other formats lay out the :class:`~planner.report.model.Report`.
"""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any, Protocol

from planner.report.model import KeyValues, Report, Table

__all__ = ["Renderable", "render", "render_report", "to_json"]


class Renderable(Protocol):
    """What the renderers accept."""

    def to_dict(self) -> dict[str, Any]: ...

    def to_report(self, figures: bool = False) -> Report: ...


def render(result: Renderable, fmt: str) -> str:
    """Render a result in one of: table, json, markdown, csv, html."""
    if fmt == "json":
        return to_json(result.to_dict())
    return render_report(result.to_report(figures=fmt == "html"), fmt)


def render_report(report: Report, fmt: str) -> str:
    """Lay out a Report in a text format."""
    if fmt == "markdown":
        return _markdown(report)
    if fmt == "csv":
        return _csv(report)
    if fmt == "html":
        from planner.report.html import html_page

        return html_page(report)
    return _terminal(report)


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


def _terminal(report: Report) -> str:
    from rich.table import Table as RichTable
    from rich.text import Text

    from planner.report.text import rich_render

    items: list[object] = [Text(report.title, style="bold")]
    for section in report.sections:
        if isinstance(section, KeyValues):
            grid = RichTable(title=section.title, title_justify="left", show_header=False,
                             box=None, padding=(0, 2))
            grid.add_column(no_wrap=True)
            grid.add_column()
            for label, value in section.items:
                grid.add_row(Text(label), Text(value))
            items.append(grid)
        else:
            table = RichTable(title=section.title, title_justify="left", header_style="bold")
            for i, header in enumerate(section.headers):
                table.add_column(header, justify="left" if i == 0 else "right",
                                 overflow="fold")
            for row in section.rows:
                table.add_row(*(Text(cell) for cell in row))
            if not section.rows:
                table.add_row(Text("(none)"), *("" for _ in section.headers[1:]))
            items.append(table)
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


def _csv(report: Report) -> str:
    """Every table as CSV, one after another, each preceded by a '# title' comment line."""
    buffer = io.StringIO()
    tables = [s for s in report.sections if isinstance(s, Table)]
    for n, table in enumerate(tables):
        if n:
            buffer.write("\n")
        buffer.write(f"# {table.key or table.title}\n")
        if table.records:
            keys = list(dict.fromkeys(k for r in table.records for k in r))
            writer = csv.DictWriter(buffer, fieldnames=keys, lineterminator="\n")
            writer.writeheader()
            writer.writerows(_clean(dict(r)) for r in table.records)
        else:
            writer2 = csv.writer(buffer, lineterminator="\n")
            writer2.writerow(table.headers)
            writer2.writerows(table.rows)
    return buffer.getvalue()
