"""A self-contained HTML report: tables, key-value blocks and inline SVG plots, no network."""

from __future__ import annotations

import html
from collections.abc import Sequence

from planner.report.model import KeyValues, Report
from planner.report.text import is_numeric_column

__all__ = ["html_page"]

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1200px;
color:#1b1f24;padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}
th,td{border:1px solid #d0d7de;padding:.25rem .6rem;text-align:left;vertical-align:top}
th.num,td.num{text-align:right}th{background:#f6f8fa}td.none{color:#57606a;font-style:italic}
dl{display:grid;grid-template-columns:max-content auto;gap:.2rem 1rem}dt{font-weight:600}
figure{margin:1rem 0}svg{max-width:100%;height:auto}
"""


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Numbers right-aligned, prose left-aligned (per column); an empty table says (none)."""
    numeric = [i > 0 and is_numeric_column([row[i] for row in rows if i < len(row)])
               for i in range(len(headers))]

    def cell(tag: str, i: int, text: str) -> str:
        return f"<{tag}{' class=num' if numeric[i] else ''}>{html.escape(text)}</{tag}>"

    head = "".join(cell("th", i, h) for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(cell("td", i, c) for i, c in enumerate(row)) + "</tr>"
                   for row in rows)
    if not rows:
        body = f"<tr><td class=none colspan={max(len(headers), 1)}>(none)</td></tr>"
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def html_page(report: Report) -> str:
    """One HTML document with every section and figure of the report."""
    parts = [f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
             f"<title>{html.escape(report.title)}</title><style>{_STYLE}</style></head><body>",
             f"<h1>{html.escape(report.title)}</h1>"]
    for figure in report.figures:
        parts.append(f"<figure>{figure}</figure>")
    for section in report.sections:
        parts.append(f"<h2>{html.escape(section.title)}</h2>")
        if isinstance(section, KeyValues):
            parts.append("<dl>" + "".join(
                f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in section.items)
                + "</dl>")
        else:
            parts.append(_table(section.headers, section.rows))
    parts.append("</body></html>\n")
    return "\n".join(parts)
