"""A self-contained HTML report: tables, key-value blocks and inline SVG plots, no network."""

from __future__ import annotations

import html

from planner.report.model import KeyValues, Report

__all__ = ["html_page"]

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1200px;
color:#1b1f24;padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}
th,td{border:1px solid #d0d7de;padding:.25rem .6rem;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f6f8fa}
dl{display:grid;grid-template-columns:max-content auto;gap:.2rem 1rem}dt{font-weight:600}
figure{margin:1rem 0}svg{max-width:100%;height:auto}
"""


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
            head = "".join(f"<th>{html.escape(h)}</th>" for h in section.headers)
            body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
                           for row in section.rows)
            parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
    parts.append("</body></html>\n")
    return "\n".join(parts)
