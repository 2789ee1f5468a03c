"""The width rich lays a report table out in, from each column's widest line measured once.

:func:`planner.report.text.rich_table_of` narrows a table a character at a time until it fits
the terminal and, after every step, asks how wide rich would lay it out. Asking rich
(``Table._calculate_column_widths``) measures every cell again at every step, which made that
loop most of the time the main job spent drawing its tables. Here each column is measured once
and each step redoes only rich's arithmetic, for the tables ``planner.report.text._build``
makes (a header row, no footer, one space of padding each side, no fixed column widths, not
expanded). In rich's ``rich/measure.py``, ``rich/padding.py`` and ``rich/table.py`` (read at
rich 15.0) a column's measured maximum for ``limit`` columns is ``min(widest + 2, limit)``
(``widest``: the widest line of its header and cells; 2: the padding; this covers
``Measurement.get``'s cases for an empty cell and for ``limit`` under 3), raised to
``min_width + 2`` and capped at ``max_width + 2`` (``Table._measure_column``), and 0 when
``limit`` is under 1; only the maximum enters the layout. The layout itself calls rich's own
``Table._collapse_widths`` and ``rich._ratio.ratio_reduce``. ``tests/unit/test_report_widths.py``
checks the result against the installed rich's for many tables and widths.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.table import Table

__all__ = ["ColumnWidth", "measure_columns", "rendered_width"]

PAD = 2
"""Padding of a cell: one space each side (rich's default ``Table.padding``, (0, 1))."""
_UNBOUNDED = 1 << 30
"""A width wider than any cell: measures a cell's text without clamping it."""


@dataclass(frozen=True, slots=True)
class ColumnWidth:
    """What rich's layout needs to know of one column."""

    widest: int
    """The widest line of its header and cells (``Measurement.get(...).maximum``)."""
    wraps: bool
    """Whether rich may narrow the column when the table is too wide (not ``no_wrap``)."""


def measure_columns(table: Table) -> list[ColumnWidth]:
    """Measure each header and cell of ``table`` once, as rich measures them.

    Raises ValueError for a table laid out otherwise than :func:`rendered_width` follows.
    """
    import io

    from rich.console import Console
    from rich.measure import Measurement

    if (table.show_footer or table.expand or table.min_width is not None or table.width
            or not table.show_header or tuple(table.padding) != (0, 1, 0, 1)
            or table.collapse_padding or not table.pad_edge
            or any(column.width is not None for column in table.columns)):
        raise ValueError("measure_columns follows only tables laid out like report tables")
    console = Console(width=80, file=io.StringIO(), color_system=None, force_terminal=False)
    options = console.options.update_width(_UNBOUNDED)
    return [ColumnWidth(max(Measurement.get(console, options, cell).maximum
                            for cell in (column.header, *column.cells)),
                        not column.no_wrap)
            for column in table.columns]


def _measured(column: ColumnWidth, limit: int, min_width: int | None,
              max_width: int | None) -> int:
    """``Table._measure_column(...).maximum`` for ``limit`` columns (see the module notes)."""
    if limit < 1:
        return 0
    width = min(column.widest + PAD, limit)
    if min_width is not None:
        width = max(width, min_width + PAD, 0)
    if max_width is not None:
        width = min(width, max_width + PAD)
    return width


def rendered_width(columns: Sequence[ColumnWidth], width: int, min_widths: Sequence[int],
                   max_widths: Sequence[int] | None = None) -> int:
    """Cells with their padding plus the borders, as rich lays the table out in ``width``.

    Equals ``sum(Table._calculate_column_widths(console, options)) + len + 1`` for a console
    ``width`` wide, with each column's ``min_width`` and ``max_width`` set to these.
    """
    from rich._ratio import ratio_reduce
    from rich.table import Table as RichTable

    caps: Sequence[int | None] = max_widths if max_widths is not None else [None] * len(columns)
    widths = [_measured(c, width, low, cap) or 1
              for c, low, cap in zip(columns, min_widths, caps, strict=True)]
    if sum(widths) > width:
        widths = RichTable._collapse_widths(widths, [c.wraps for c in columns], width)
        if sum(widths) > width:
            widths = ratio_reduce(sum(widths) - width, [1] * len(widths), widths, widths)
        widths = [_measured(c, w, low, cap)
                  for c, w, low, cap in zip(columns, widths, min_widths, caps, strict=True)]
    return sum(widths) + len(widths) + 1
