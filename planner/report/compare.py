"""Report sections for `planner compare`: options side by side, the verdict, roles, assumptions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from planner.report.fmt import format_value
from planner.report.model import KeyValues, Report, Table

__all__ = ["comparison_report", "comparison_rows"]

# (label, key, format key): the format key's unit suffix picks the unit (planner.report.fmt).
_ROWS: tuple[tuple[str, str, str], ...] = (
    ("status", "status", ""),
    ("units", "units_text", ""),
    ("accelerators", "accelerators", ""),
    ("wall time (finishes after)", "wall_time_s", "_s"),
    ("total cost", "total_cost_usd", "_usd"),
    ("cost per {work}", "cost_per_work_usd", "_usd"),
    ("cost to completion", "cost_to_completion_usd", "_usd"),
    ("cost per query", "usd_per_query", "_usd"),
    ("USD per 1M generated tokens", "usd_per_million_tokens", "usd_per_million_tokens"),
    ("max batch per replica", "max_batch", ""),
    ("tokens/s per user", "tokens_per_s_per_user", "tokens_per_s_per_user"),
    ("time to first token", "ttft_s", "_s"),
    ("model FLOPs utilization", "model_flops_utilization", "_utilization"),
    ("bound", "bound", ""),
    ("power (IT)", "power_w", "_w"),
    ("capex to buy the units", "capex_usd", "_usd"),
    ("sites used", "sites_used", ""),
    ("CPU cores needed", "cpu_cores_needed", ""),
    ("CPU cores short", "cpu_cores_short", ""),
    ("CPU servers needed", "cpu_servers_needed", ""),
    ("error", "error", ""),
)

_BASIS_TEXT = {"own": "own (purchase amortised + energy + colocation)",
               "rent": "rent (rental price; systems without one are n/a)",
               "buy": "buy (whole purchase price charged to this work + energy + colocation)"}

_RECORD_KEYS = ("option", "basis", "target", "status", "units", "accelerators", "wall_time_s",
                "total_cost_usd", "cost_per_work_usd", "work_unit", "usd_per_query",
                "finish_s", "cost_to_completion_usd",
                "usd_per_million_tokens", "max_batch", "tokens_per_s_per_user", "ttft_s",
                "bound", "power_w", "capex_usd", "sites_used", "cpu_cores_needed",
                "cpu_cores_short", "cpu_servers_needed", "error")


def comparison_rows(data: Mapping[str, Any]) -> tuple[tuple[str, ...], ...]:
    """Metric rows (label, one cell per option), leaving out metrics no option has."""
    options = data["options"]
    work = data.get("work_unit", "unit of work")
    rows = []
    for label, key, fmt_key in _ROWS:
        if all(o.get(key) in (None, "", []) for o in options):
            continue
        cells = tuple(_cell(fmt_key or key, o.get(key)) for o in options)
        rows.append((label.format(work=work), *cells))
    return tuple(rows)


def _cell(key: str, value: Any) -> str:
    if value is None or value == "":
        return "-"
    return format_value(key, value)


def _verdict(data: Mapping[str, Any]) -> KeyValues:
    """The cheapest and the fastest option, each with the figure that decided it."""
    by_name = {o["option"]: o for o in data["options"]}
    items = [("workload", f"{data['workload']} ({data['kind']})"),
             ("cost basis", _BASIS_TEXT.get(str(data.get("cost_basis")),
                                            str(data.get("cost_basis", ""))))]
    cheapest, fastest = data.get("cheapest"), data.get("fastest")
    if cheapest:
        o = by_name[cheapest]
        items.append(("cheapest", f"{cheapest}: {_cell('_usd', o.get('total_cost_usd'))} in all, "
                                  f"{_cell('_usd', o.get('cost_per_work_usd'))} per "
                                  f"{data.get('work_unit')}"))
    if fastest:
        o = by_name[fastest]
        detail = f"finishes after {_cell('_s', o.get('wall_time_s'))}"
        if data["kind"] == "serve":
            detail += (f", {_cell('tokens_per_s_per_user', o.get('tokens_per_s_per_user'))} "
                       f"per user, first token in {_cell('_s', o.get('ttft_s'))}")
        elif o.get("accelerators"):
            detail += f" on {_cell('', o.get('accelerators'))} accelerators"
        items.append(("fastest", f"{fastest}: {detail}"))
    if data.get("objective") == "time" and len(data.get("ranking") or []) > 1:
        items.append(("ranked by finish time", " < ".join(
            f"{name} ({_cell('_s', by_name[name].get('wall_time_s'))}, "
            f"{_cell('_usd', by_name[name].get('total_cost_usd'))})"
            for name in data["ranking"])))
    failed = [o["option"] for o in data["options"] if o["status"] == "error"]
    if failed:
        items.append(("could not run", ", ".join(failed)))
    missing = [f"{o['option']} ({o.get('error')})" for o in data["options"]
               if o["status"] == "n/a"]
    if missing:
        items.append(("n/a on this basis", ", ".join(missing)))
    if data.get("overrides"):
        items.append(("overrides", " ".join(data["overrides"])))
    return KeyValues("Verdict", tuple(items))


def _roles_table(options: Sequence[Mapping[str, Any]]) -> Table | None:
    """Units per role on each option, with what bounds the role there."""
    names = list(dict.fromkeys(str(r["role"]) for o in options for r in o.get("roles", [])))
    if not names:
        return None
    rows = []
    for name in names:
        cells = []
        for o in options:
            role = next((r for r in o.get("roles", []) if str(r["role"]) == name), None)
            cells.append("-" if role is None else
                         f"{_cell('', role.get('units'))} ({role.get('bound') or '-'})")
        rows.append((name, *cells))
    return Table("Units per role (bound)", ("role", *(o["option"] for o in options)),
                 tuple(rows), "roles")


def _assumptions_table(options: Sequence[Mapping[str, Any]]) -> Table | None:
    """Each assumption's value on each option, and its source (from the first that has it)."""
    names = sorted({a["name"] for o in options for a in o.get("assumptions", [])})
    if not names:
        return None
    values = {o["option"]: {a["name"]: a for a in o.get("assumptions", [])} for o in options}
    rows = []
    for name in names:
        cells = [_cell(name, values[o["option"]].get(name, {}).get("value")) for o in options]
        source = next((values[o["option"]][name].get("source", "") for o in options
                       if name in values[o["option"]]), "")
        rows.append((name, *cells, source))
    return Table("Assumptions", ("name", *(o["option"] for o in options), "source"),
                 tuple(rows), "assumptions")


def comparison_report(data: Mapping[str, Any], figures: bool = True) -> Report:
    """Verdict, the side-by-side table, units per role, assumptions, and the figures."""
    from planner.report.plots import comparison_figures

    options = data["options"]
    headers = ("", *(o["option"] for o in options))
    records = tuple({k: o.get(k) for k in _RECORD_KEYS} for o in options)
    sections: list[Table | KeyValues] = [
        _verdict(data),
        Table("Side by side", headers, comparison_rows(data), "comparison", records)]
    for extra in (_roles_table(options), _assumptions_table(options)):
        if extra is not None:
            sections.append(extra)
    title = (f"Comparison: {data['workload']} ({data['kind']}) on {len(options)} options, "
             f"cost basis {data.get('cost_basis', 'own')}")
    drawn = tuple(comparison_figures(data)) if figures else ()
    return Report(title, tuple(sections), dict(data), drawn)
