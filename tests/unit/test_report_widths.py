"""planner/report/widths.py lays report tables out exactly as rich does, from one measurement."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.table import Table
from rich.text import Text

from planner.report import text
from planner.report.text import rich_table_of
from planner.report.widths import measure_columns, rendered_width

# words with wide (2-cell) characters, separators that rich's word split and line split see
_WORD = st.text(alphabet="ab1.,/-漢", min_size=1, max_size=14)
_CELL = st.lists(_WORD, max_size=4).map(" ".join) | st.sampled_from(["", "(none)", "a\nbb ccc"])
_HEADER = st.lists(_WORD, min_size=1, max_size=3).map(lambda w: "\n".join(w))


def _rich_width(table: Table, width: int) -> int:
    """rich's own answer: the layout of ``Table._calculate_column_widths`` plus the borders."""
    console = Console(width=width, file=io.StringIO(), color_system=None, force_terminal=False)
    columns = table._calculate_column_widths(console, console.options)
    return sum(columns) + len(columns) + 1


@st.composite
def _tables(draw: st.DrawFn) -> tuple[Table, list[int], list[int] | None, int]:
    count = draw(st.integers(1, 7))
    headers = draw(st.lists(_HEADER, min_size=count, max_size=count))
    rows = draw(st.lists(st.lists(_CELL, min_size=count, max_size=count), max_size=5))
    mins = draw(st.lists(st.integers(1, 30), min_size=count, max_size=count))
    caps = draw(st.none() | st.lists(st.integers(1, 40), min_size=count, max_size=count))
    nowrap = draw(st.lists(st.booleans(), min_size=count, max_size=count))
    table = Table(title="t", title_justify="left", header_style="bold")
    for i, header in enumerate(headers):
        table.add_column(header, overflow="fold", no_wrap=nowrap[i], min_width=mins[i],
                         max_width=caps[i] if caps else None)
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))
    return table, mins, caps, draw(st.integers(1, 140))


@settings(max_examples=400, deadline=None)
@given(_tables())
def test_rendered_width_is_richs(case: tuple[Table, list[int], list[int] | None, int]) -> None:
    table, mins, caps, width = case
    assert rendered_width(measure_columns(table), width, mins, caps) == _rich_width(table, width)


def _fit_by_rendering(headers: list[str], rows: list[list[str]], width: int) -> list[int | None]:
    """Column caps found the way rich_table_of did before: asking rich after every step."""
    columns = [[row[i] for row in rows] for i in range(len(headers))]
    heads, widths = text._fit_columns(headers, columns, width)
    table = text._build("t", heads, rows, columns, widths)
    if _rich_width(table, width) <= width:
        return [None] * len(headers)
    caps = [max(w, *(len(c) for c in cells)) for w, cells in zip(widths, columns, strict=True)]
    while True:
        for column, low, cap in zip(table.columns, widths, caps, strict=True):
            column.min_width, column.max_width = low, cap
        if _rich_width(table, width) <= width or max(caps) <= 1:
            return list(caps)
        slack = [c - w for c, w in zip(caps, widths, strict=True)]
        if max(slack) > 0:
            i = max(range(len(caps)), key=lambda k: (slack[k] > 0, caps[k]))
            caps[i] -= 1
        else:
            i = widths.index(max(widths))
            widths[i] -= 1
            caps[i] = widths[i]


_PLACEMENTS = (["site", "system", "job", "role", "units (cores for cpu)", "busy units",
                "share of the site's units"],
               [["indiana-trn2", "cpu", "o1_posttrain", "verify", "33,498", "33,498", "100.0%"],
                ["texas-gb200", "gb200-nvl72", "o1_posttrain", "generate", "108.4", "108.4",
                 "72.2%"],
                ["indiana-trn2", "trn2-ultraserver", "o1_posttrain", "generate", "64", "64",
                 "100.0%"]])


@pytest.mark.parametrize("width", [40, 55, 70, 85, 100, 120])
def test_narrow_terminals_fold_as_rendering_did(monkeypatch: pytest.MonkeyPatch,
                                                width: int) -> None:
    """The caps rich_table_of settles on are those of asking rich at every step."""
    monkeypatch.setenv("COLUMNS", str(width))
    headers, rows = _PLACEMENTS
    table = rich_table_of("Placements", headers, rows)
    assert [c.max_width for c in table.columns] == _fit_by_rendering(headers, rows, width)
    assert _rich_width(table, width) <= width


def test_other_tables_are_refused() -> None:
    table = Table(expand=True)
    table.add_column("a")
    with pytest.raises(ValueError, match="report tables"):
        measure_columns(table)
