"""Text building blocks shared by the renderers: rich tables, Markdown tables, a plain HTML page."""

from __future__ import annotations

import html
import io
import os
import re
import shutil
from collections.abc import Sequence
from typing import TYPE_CHECKING

from planner.report.widths import measure_columns, rendered_width

if TYPE_CHECKING:
    from rich.table import Table

__all__ = ["console_width", "is_numeric_column", "markdown_table", "markdown_to_html_page",
           "rich_render", "rich_table", "rich_table_of"]

DEFAULT_WIDTH = 100
"""Width used when neither ``COLUMNS`` nor a terminal says otherwise (output to a file or pipe)."""
MIN_WIDTH = 40


def console_width() -> int:
    """The width reports are laid out for: ``COLUMNS``, else the terminal's, else 100.

    ``COLUMNS`` wins so that a script (or a test) gets the same layout whatever it runs in;
    output that goes to a pipe or file without ``COLUMNS`` uses :data:`DEFAULT_WIDTH`.
    """
    env = os.environ.get("COLUMNS", "").strip()
    if env.isdigit() and int(env) > 0:
        return max(MIN_WIDTH, int(env))
    size = shutil.get_terminal_size(fallback=(DEFAULT_WIDTH, 24))
    return max(MIN_WIDTH, size.columns)


_NUMERIC = re.compile(r"^[-+]?[\d.,]+(e[-+]?\d+)?( ?\S+){0,2}$|^[-+]?∞|^n/a$|^-$",
                      re.IGNORECASE)
_LONGEST_UNBROKEN_WORD = 36


def is_numeric_column(cells: Sequence[str]) -> bool:
    """True when every non-empty cell is a number, optionally with a unit (right-aligned)."""
    filled = [c.strip() for c in cells if c.strip() and c.strip() != "(none)"]
    return bool(filled) and all(_NUMERIC.match(c) for c in filled)


def _longest_word(texts: Sequence[str]) -> int:
    return max((len(w) for text in texts for w in text.split()), default=1)


def _fit_columns(headers: Sequence[str], columns: Sequence[Sequence[str]],
                 width: int) -> tuple[list[str], list[int]]:
    """Headers and per-column minimum widths for a table that must fit ``width`` characters.

    First choice: no word is broken (each column at least its longest word, up to 36
    characters). If that is too wide, headers also break after '/' (``BF16/`` over ``unit``).
    If even that is too wide, the widest columns give up characters first and their longest
    words fold: the table always fits.
    """
    overhead = 3 * len(headers) + 1  # borders and one space of padding each side

    def widths(heads: Sequence[str]) -> list[int]:
        return [min(_LONGEST_UNBROKEN_WORD, _longest_word([*h.splitlines(), *c]))
                for h, c in zip(heads, columns, strict=True)]

    plain = list(headers)
    if sum(widths(plain)) + overhead <= width:
        return plain, widths(plain)
    broken = [h.replace("/", "/\n").replace(" ", "\n") for h in headers]
    narrow = widths(broken)
    while sum(narrow) + overhead > width and max(narrow) > 1:
        narrow[narrow.index(max(narrow))] -= 1  # fold the longest words first
    return broken, narrow


def rich_table_of(title: str, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> Table:
    """A rich table whose numeric columns are right-aligned and prose columns left-aligned.

    Each column is at least as wide as its longest word (up to 36 characters), so when the
    terminal is narrow rich wraps cells between words instead of cutting them; see
    :func:`_fit_columns` for tables too wide for that. The result always fits
    :func:`console_width`: while it does not, the widest column gives up a character (each
    step's width is rich's layout arithmetic on widths measured once,
    :mod:`planner.report.widths`).
    """
    columns = [[row[i] for row in rows if i < len(row)] for i in range(len(headers))]
    width = console_width()
    heads, widths = _fit_columns(headers, columns, width)
    table = _build(title, heads, rows, columns, widths)
    measured = measure_columns(table)
    if rendered_width(measured, width, widths) <= width:
        return table
    # Too wide: first let long headers wrap to their column's content ("units (cores for
    # cpu)" over a column of 7-digit numbers), and only then fold the widest words.
    caps = [max(w, max((len(c) for c in cells), default=w))
            for w, cells in zip(widths, columns, strict=True)]
    while rendered_width(measured, width, widths, caps) > width and max(caps) > 1:
        slack = [c - w for c, w in zip(caps, widths, strict=True)]
        if max(slack) > 0:  # wrap the cells with the most room first, between words
            i = max(range(len(caps)), key=lambda k: (slack[k] > 0, caps[k]))
            caps[i] -= 1
        else:  # every column is down to its longest word: fold the widest
            i = widths.index(max(widths))
            widths[i] -= 1
            caps[i] = widths[i]
    for column, low, cap in zip(table.columns, widths, caps, strict=True):
        column.min_width, column.max_width = low, cap
    return table


def _build(title: str, headers: Sequence[str], rows: Sequence[Sequence[str]],
           columns: Sequence[Sequence[str]], widths: Sequence[int]) -> Table:
    from rich.table import Table as RichTable
    from rich.text import Text

    table = RichTable(title=title, title_justify="left", header_style="bold")
    for i, (header, cells) in enumerate(zip(headers, columns, strict=True)):
        numeric = i > 0 and is_numeric_column(cells)
        table.add_column(header, justify="right" if numeric else "left", overflow="fold",
                         min_width=widths[i])
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))
    if not rows:
        table.add_row(Text("(none)"), *("" for _ in headers[1:]))
    return table


def rich_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A table rendered to plain text at the report width (:func:`console_width`)."""
    return rich_render(rich_table_of(title, headers, rows))


def rich_render(*renderables: object) -> str:
    """Render rich objects to a string without colour codes."""
    from rich.console import Console

    console = Console(width=console_width(), record=True, file=io.StringIO(), color_system=None,
                      force_terminal=False)
    for item in renderables:
        console.print(item)
    return "\n".join(line.rstrip() for line in console.export_text().splitlines()) + "\n"


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
