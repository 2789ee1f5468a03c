"""Report sections for `planner sweep`, and the progress bar shown while a study runs."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from planner.report.fmt import format_value
from planner.report.model import KeyValues, Report, Table

__all__ = ["progress_bar", "sweep_report"]

BEST_ROWS = 15  # scenarios listed in the "best scenarios" table
FAILED_ROWS = 20  # failures listed (all are in results.csv)
REFRESH_S = 0.1  # progress bar redraws at most this often
_METRICS = ("units", "accelerators", "wall_time_s", "total_cost_usd", "cost_per_work_usd",
            "usd_per_query", "bound")


def _cell(key: str, value: Any) -> str:
    return "-" if value is None or value == "" else format_value(key, value)


def _summary(data: Mapping[str, Any]) -> KeyValues:
    s = data["summary"]
    items = [("study", str(data["study"])), ("base", f"{data['workload']} ({data['kind']}), "
                                                      f"command {data['command']}"),
             ("options", ", ".join(data["options"])),
             ("scenarios", f"{s['scenarios']:,}: {s['ok']:,} ok, {s['failed']:,} failed"),
             ("this run", f"{s['ran']:,} run, {s['skipped']:,} already done, "
                          f"{format_value('_s', s['seconds'])} on "
                          f"{s['scheduler'] or str(s['workers']) + ' worker(s)'}")]
    if s.get("mean_scenario_s"):
        items.append(("time per scenario", format_value("_s", s["mean_scenario_s"])))
    if s.get("out_dir"):
        items.append(("results", str(s["out_dir"])))
    return KeyValues("Sweep", tuple(items))


def _best(data: Mapping[str, Any]) -> Table | None:
    """The cheapest successful scenarios by the primary metric of the first plot."""
    plots = data.get("plots") or []
    metric = plots[0]["y"] if plots else "total_cost_usd"
    ok = [r for r in data["scenarios"] if r["status"] == "ok"
          and isinstance(r["metrics"].get(metric), int | float)]
    if not ok:
        return None
    ok.sort(key=lambda r: r["metrics"][metric])
    paths = [p["path"] for p in data["parameters"]]
    metrics = list(dict.fromkeys([metric, *_METRICS]))
    metrics = [m for m in metrics if any(r["metrics"].get(m) is not None for r in ok)]
    rows = tuple((r["option"], *(str(r["parameters"].get(p, "")) for p in paths),
                  *(_cell(m, r["metrics"].get(m)) for m in metrics)) for r in ok[:BEST_ROWS])
    headers = ("option", *paths, *(m.replace("_", " ") for m in metrics))
    return Table(f"Best scenarios by {metric.replace('_', ' ')} (of {len(ok):,})", headers,
                 rows, "best")


def _failures(data: Mapping[str, Any]) -> Table | None:
    failed = [r for r in data["scenarios"] if r["status"] != "ok"]
    if not failed:
        return None
    paths = [p["path"] for p in data["parameters"]]
    rows = tuple((r["option"], *(str(r["parameters"].get(p, "")) for p in paths),
                  str(r.get("error") or "")[:300]) for r in failed[:FAILED_ROWS])
    return Table(f"Failed scenarios ({len(failed):,}; all are in results.csv)",
                 ("option", *paths, "error"), rows, "failures")


def _parameters(data: Mapping[str, Any]) -> Table | None:
    if not data["parameters"]:
        return None
    rows = tuple((p["path"], "random" if p["random"] else "grid",
                  ", ".join(p["values"][:12]) + (" ..." if len(p["values"]) > 12 else "")
                  if p["values"] else "drawn per sample") for p in data["parameters"])
    return Table("Parameters", ("path", "kind", "values"), rows, "parameters")


def _assumptions(data: Mapping[str, Any]) -> Table | None:
    """The base assumptions of each option (from its first successful scenario)."""
    by_option = data.get("assumptions") or {}
    if not by_option:
        return None
    options = list(by_option)
    names = sorted({a["name"] for values in by_option.values() for a in values})
    index = {o: {a["name"]: a for a in by_option[o]} for o in options}
    rows = tuple((name, *(_cell(name, index[o].get(name, {}).get("value")) for o in options),
                  next((index[o][name].get("source", "") for o in options if name in index[o]),
                       "")) for name in names)
    return Table("Assumptions", ("name", *options, "source"), rows, "assumptions")


def sweep_report(data: Mapping[str, Any], figures: bool = True) -> Report:
    """Summary, best scenarios, failures, parameters, assumptions and the sweep curves."""
    from planner.report.plots import sweep_figures

    sections: list[Table | KeyValues] = [_summary(data)]
    for table in (_best(data), _failures(data), _parameters(data), _assumptions(data)):
        if table is not None:
            sections.append(table)
    title = f"Sweep: {data['study']} ({data['summary']['scenarios']:,} scenarios)"
    bases = sorted({str(r["metrics"]["cost_basis"]) for r in data.get("scenarios", [])
                    if (r.get("metrics") or {}).get("cost_basis")})
    if bases:
        title += f", cost basis {', '.join(bases)}"
    drawn = tuple(sweep_figures(data)) if figures else ()
    return Report(title, tuple(sections), dict(data), drawn)


@contextmanager
def progress_bar(description: str = "scenarios", enabled: bool = True) -> Iterator[Any]:
    """A rich progress bar on stderr with the time left; yields a ``progress(record, done,
    total)`` callback for :func:`planner.study.sweep` (a no-op when disabled)."""
    if not enabled:
        yield lambda _record, _done, _total: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns: Sequence[Any] = (TextColumn("{task.description}"), BarColumn(),
                              MofNCompleteColumn(), TextColumn("{task.fields[failed]} failed"),
                              TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn())
    # Refreshed from the callback, not by rich's refresh thread: the sweep may fork worker
    # processes, which is only safe while this process runs a single thread.
    with Progress(*columns, console=Console(stderr=True), auto_refresh=False) as bar:
        task = bar.add_task(description, total=None, failed=0)
        state = {"failed": 0, "shown": 0.0}

        def advance(record: Mapping[str, Any], done: int, total: int) -> None:
            """Count the scenario, redraw at most every REFRESH_S and at the end."""
            state["failed"] += record.get("status") != "ok"
            bar.update(task, total=total, completed=done, failed=state["failed"])
            now = time.monotonic()
            if now - state["shown"] >= REFRESH_S or done == total:
                bar.refresh()
                state["shown"] = now

        yield advance
