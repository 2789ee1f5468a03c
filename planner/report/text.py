"""Text building blocks shared by the renderers: rich tables, Markdown tables, a plain HTML page."""

from __future__ import annotations

import html
import io
from collections.abc import Sequence

__all__ = ["markdown_table", "markdown_to_html_page", "rich_render", "rich_table"]

CONSOLE_WIDTH = 160


def rich_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[str]],
               numeric_from: int = 1) -> str:
    """A rich table rendered to plain text at a fixed width (deterministic for tests)."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, title_justify="left", header_style="bold")
    for i, header in enumerate(headers):
        table.add_column(header, justify="right" if i >= numeric_from else "left", no_wrap=True)
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))
    return rich_render(table)


def rich_render(*renderables: object) -> str:
    """Render rich objects to a string without colour codes."""
    from rich.console import Console

    console = Console(width=CONSOLE_WIDTH, record=True, file=io.StringIO(), color_system=None,
                      force_terminal=False)
    for item in renderables:
        console.print(item)
    return console.export_text()


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured Markdown table."""
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    out = [line(headers), "|" + "|".join("---" for _ in headers) + "|"]
    out += [line(row) for row in rows]
    return "\n".join(out) + "\n"


def markdown_to_html_page(title: str, body_markdown: str) -> str:
    """A minimal self-contained HTML page showing Markdown text preformatted."""
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
            f"</title></head><body><h1>{html.escape(title)}</h1><pre>"
            f"{html.escape(body_markdown)}</pre></body></html>\n")
