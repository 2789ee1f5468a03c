"""The `planner` command line: thin click commands over the Python API.

This is the only module that imports click. Every PlannerError is turned into a message on
stderr and an exit code (2 bad input, 3 infeasible, 4 solver failure) without a traceback;
``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from planner.errors import InputError, PlannerError, Problem
from planner.limits import MAX_SCENARIOS

if TYPE_CHECKING:
    from planner.report.model import Report

F = TypeVar("F", bound=Callable[..., Any])

FORMATS = ("table", "json", "markdown", "csv", "html")


def _set_option(func: F) -> F:
    return click.option(
        "--set", "overrides", multiple=True, metavar="PATH=VALUE",
        help="Override one field of the workload by dotted path before validation, "
             "e.g. --set problems=20M --set deadline='30 days'. Repeatable.")(func)


def _basis_option(func: F) -> F:
    return click.option(
        "--cost-basis", "cost_basis", type=click.Choice(("own", "rent", "buy")), default="own",
        show_default=True,
        help="How hardware is priced: own (purchase amortised with the capital recovery "
             "factor + energy + colocation), rent (rental price; a system without one is an "
             "error or an n/a column), buy (whole purchase price charged to this work).")(func)


def _format_options(func: F) -> F:
    func = click.option("-o", "--output", type=click.Path(path_type=Path),
                        help="Write the report to this file (atomically) instead of stdout; "
                             "with --format csv, a folder that gets one CSV file per "
                             "table.")(func)
    return click.option("--format", "fmt", type=click.Choice(FORMATS), default="table",
                        show_default=True, help="Output format.")(func)


def _assumptions_option(func: F) -> F:
    return click.option("--assumptions", "show_assumptions", is_flag=True,
                        help="List every named assumption with its source in the terminal "
                             "table (default: a one-line count; json, markdown, csv and html "
                             "always carry them).")(func)


class _PlannerGroup(click.Group):
    """A click group that maps PlannerError to a message and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PlannerError as err:
            if (ctx.obj or {}).get("debug"):
                raise
            _report_error(err)
            ctx.exit(err.exit_code)


@click.group(cls=_PlannerGroup,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="planner")
@click.option("--debug", is_flag=True, help="Show Python tracebacks for errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Hardware-aware capacity planning for AI infrastructure.

    \b
    Examples:
      planner optimize workloads/o1_posttrain.yaml
      planner estimate workloads/serve_reasoning.yaml --hardware dgx-h100
      planner catalog list
      planner validate hardware workloads
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def _emit_report(report: Report, fmt: str, output: Path | None,
                 show_assumptions: bool = False) -> None:
    """Print or write a report; ``--format csv -o DIR`` writes one tidy CSV per table."""
    from planner.report.render import csv_tables, primary_csv, render_report

    if fmt != "csv":
        _emit(render_report(report, fmt, show_assumptions), output)
        return
    if output is None:
        stem, text, others = primary_csv(report)
        click.echo(text, nl=False)
        if others:
            click.echo(f"printed the {stem} table; -o DIR writes all {len(others) + 1} "
                       f"tables ({', '.join([stem, *others])}) as one CSV file each",
                       err=True)
        return
    from planner.yamlio import write_atomic

    if output.exists() and not output.is_dir():
        raise InputError(Problem(str(output), "-o",
                                 "with --format csv, -o names a folder (one CSV per table)",
                                 hint="give a folder name, e.g. -o out/plan-csv"))
    tables = csv_tables(report)
    try:
        output.mkdir(parents=True, exist_ok=True)
        for stem, text in tables.items():
            write_atomic(output / f"{stem}.csv", text)
    except OSError as err:
        raise _unwritable("-o", output, err.strerror or str(err)) from None
    click.echo(f"wrote {len(tables)} CSV files to {output}: "
               f"{', '.join(f'{stem}.csv' for stem in tables)}", err=True)


def _emit(text: str, output: Path | None, option: str = "-o") -> None:
    from planner.yamlio import write_atomic

    if output is None:
        click.echo(text, nl=not text.endswith("\n"))
        return
    try:
        write_atomic(output, text if text.endswith("\n") else text + "\n")
    except OSError as err:
        raise _unwritable(option, output, err.strerror or str(err)) from None
    click.echo(f"wrote {output}", err=True)


def _unwritable(option: str, path: Path, reason: str) -> PlannerError:
    from planner.errors import InputError, Problem

    made = " (its folder is created if missing)" if option == "-o" else ""
    return InputError(Problem(f"{option} {path}", "", f"cannot write there: {reason}",
                              f"choose a writable file path{made}"))


def _check_writable(option: str, path: Path | None, make_parents: bool,
                    folder: bool = False, shown: Path | None = None) -> None:
    """Refuse an output path before any work is done: an empty name, a folder (a file when
    ``folder``: ``--format csv`` writes a folder of tables), a path below a file, a folder that
    is missing (when it is not created) or not writable."""
    if path is None:
        return
    if str(path) in ("", "."):
        raise _unwritable(option, path, "the path is empty or the current folder")
    try:
        _probe_writable(option, path, make_parents, folder)
    except OSError as err:  # a name over 255 characters, a loop of links, ...
        raise _unwritable(option, shown or path, err.strerror or str(err)) from None


def _probe_writable(option: str, path: Path, make_parents: bool, folder: bool = False) -> None:
    import os

    if folder:
        if path.exists() and not path.is_dir():
            raise InputError(Problem(str(path), option,
                                     "with --format csv, -o names a folder (one CSV per "
                                     "table)", hint="give a folder name, e.g. -o out/plan-csv"))
        if path.is_dir():
            if not os.access(path, os.W_OK | os.X_OK):
                raise _unwritable(option, path, "permission denied")
            return
    elif path.is_dir():
        raise _unwritable(option, path, "it is a folder")
    probe = path.parent
    while not probe.exists():
        if not make_parents:
            raise _unwritable(option, path, f"the folder {probe} does not exist")
        probe = probe.parent
    if not probe.is_dir():
        raise _unwritable(option, path, f"{probe} is a file, not a folder")
    if not os.access(probe, os.W_OK | os.X_OK) or (path.exists() and
                                                   not os.access(path, os.W_OK)):
        raise _unwritable(option, path, "permission denied")


@cli.group()
def catalog() -> None:
    """List and show the hardware systems in the catalog."""


@catalog.command("list")
@_format_options
def catalog_list(fmt: str, output: Path | None) -> None:
    """One row per system: accelerators, peak FLOP/s, HBM, CPU cores per accelerator, power, price.

    \b
    Example:
      planner catalog list --format json
    """
    from planner.catalog.load import load_catalog
    from planner.report.catalog import catalog_rows, render_catalog

    _check_writable("-o", output, make_parents=True)
    rows = catalog_rows(load_catalog())
    _emit(render_catalog(rows, fmt), output)


@catalog.command("show")
@click.argument("name")
@click.option("--format", "fmt", type=click.Choice(("table", "json")), default="table",
              show_default=True)
def catalog_show(name: str, fmt: str) -> None:
    """Full specification of one system with the source of every figure.

    \b
    Example:
      planner catalog show gb200-nvl72
    """
    from planner.catalog.load import load_catalog
    from planner.report.catalog import render_system

    system = load_catalog().get(name, option="catalog show")
    click.echo(render_system(system, fmt))


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
def validate(paths: Sequence[Path]) -> None:
    """Check hardware, fleet, model and workload files (or folders of them).

    Reports every problem of every file, each as file:line:col: field: message; hint.
    Exits 2 when any file is invalid.

    \b
    Example:
      planner validate hardware workloads
    """
    from planner.errors import InputError
    from planner.workload.load import load_any
    from planner.yamlio import is_dir

    files: list[Path] = []
    for path in paths:
        if is_dir(path):
            files.extend(sorted(p for p in path.rglob("*.y*ml") if p.suffix in (".yaml", ".yml")))
        else:
            files.append(path)
    problems: list[Problem] = []
    for file in files:
        try:
            description = _describe_study(file) or load_any(file)
        except InputError as err:
            problems.extend(err.problems)
            continue
        click.echo(f"ok  {file}  ({description})")
    if problems:
        raise InputError(problems)
    click.echo(f"{len(files)} file(s) valid")


def _describe_study(file: Path) -> str | None:
    """Validate a what-if study file (one with `parameters:`); None for other files."""
    from planner.yamlio import load_document

    doc = load_document(file)
    if not (isinstance(doc.data, dict) and "parameters" in doc.data and "kind" not in doc.data):
        return None
    from planner.study import load_study

    study = load_study(file)
    return f"study {study.study.name or file.stem}"


@cli.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--hardware", "hardware", required=True, metavar="NAME",
              help="System id from the catalog (see 'planner catalog list').")
@_basis_option
@_set_option
@_format_options
@_assumptions_option
def estimate(file: Path, hardware: str, cost_basis: str, overrides: tuple[str, ...], fmt: str,
             output: Path | None, show_assumptions: bool) -> None:
    """The calculator view: one workload on one system, no fleet.

    \b
    Examples:
      planner estimate workloads/serve_reasoning.yaml --hardware dgx-h100
      planner estimate workloads/serve_reasoning.yaml --hardware dgx-h100 \\
          --set efficiency.memory_bandwidth=0.773 --set efficiency.compute=0.5676 --format json
      planner estimate workloads/o1_posttrain.yaml --hardware trn2-rainier
    """
    from planner.api import estimate as run_estimate
    from planner.report.render import render

    _check_writable("-o", output, make_parents=True, folder=fmt == "csv")
    result = run_estimate(file, hardware, overrides=overrides, cost_basis=cost_basis)
    if fmt == "json":
        _emit(render(result, fmt), output)
    else:
        _emit_report(result.to_report(figures=fmt == "html"), fmt, output, show_assumptions)


@cli.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--fleet", type=click.Path(path_type=Path),
              help="Fleet file (default: hardware/fleets/default.yaml).")
@click.option("--objective", type=click.Choice(("cost", "time")), default="cost",
              show_default=True, help="Minimise total cost, or finish as early as possible.")
@click.option("--integer", is_flag=True, help="Whole units (nodes, racks, servers) per site.")
@click.option("--solver", type=click.Choice(("highs", "cbc")), default="highs", show_default=True)
@click.option("--time-limit", type=click.FloatRange(min=0.1), metavar="SECONDS",
              help="Solver time limit (a MILP stopped by it returns its best plan and gap).")
@click.option("--mip-gap", type=click.FloatRange(min=0, max=1, max_open=True), default=1e-4,
              show_default=True, help="Relative gap at which --integer stops searching.")
@click.option("--one-stage", is_flag=True,
              help="Solve --integer as one MILP, proving --mip-gap for whole placements "
                   "(default: two stages, whole units per site and system first, then whole "
                   "placements near that plan; faster at scale, its proved gap reported).")
@click.option("--budget", metavar="USD", help="Budget cap, e.g. '2B USD'.")
@click.option("--dump-lp", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the LP model (LP format) here for debugging.")
@click.option("--charge-inventory-capex", is_flag=True,
              help="Also charge owned units their amortised purchase price (default: owned "
                   "hardware costs energy and colocation only; its capital is sunk).")
@click.option("--explain", metavar="SITE[/SYSTEM]",
              help="Only why the plan uses (or not) this site or site/system: its placements, "
                   "binding limits and how much cheaper each unused system would need to be.")
@_basis_option
@_set_option
@_format_options
@_assumptions_option
def optimize(file: Path, fleet: Path | None, objective: str, integer: bool, solver: str,
             time_limit: float | None, mip_gap: float, one_stage: bool, budget: str | None,
             dump_lp: Path | None, charge_inventory_capex: bool, explain: str | None,
             cost_basis: str, overrides: tuple[str, ...], fmt: str, output: Path | None,
             show_assumptions: bool) -> None:
    """Place one or more workloads across the fleet's sites at least cost (the main job).

    Prints the placement, purchases, data flows, the cost breakdown and the bottlenecks
    (binding constraints with their shadow prices). Exits 3 with a diagnosis when the
    scenario is infeasible, 4 when the solver fails.

    \b
    Examples:
      planner optimize workloads/o1_posttrain.yaml
      planner optimize workloads/o1_posttrain.yaml --set verifier_cpu_seconds='5 s'
      planner optimize workloads/o1_posttrain.yaml --integer --format json -o out/plan.json
    """
    from planner.api import optimize as run_optimize
    from planner.report.render import render

    _check_writable("-o", output, make_parents=True, folder=fmt == "csv" and not explain)
    _check_writable("--dump-lp", dump_lp, make_parents=False)
    try:
        result = run_optimize(file, fleet=fleet, objective=objective, integer=integer,
                              solver=solver, time_limit_s=time_limit, budget=budget,
                              dump_lp=dump_lp, overrides=overrides,
                              charge_inventory_capex=charge_inventory_capex, mip_gap=mip_gap,
                              cost_basis=cost_basis, one_stage=one_stage)
    except OSError as err:  # the LP file could not be written after all (e.g. a full disk)
        if dump_lp is None or err.filename is None or Path(err.filename) != dump_lp:
            raise
        raise _unwritable("--dump-lp", dump_lp, err.strerror or str(err)) from None
    if explain:
        from planner.report.plan import explain_data, explain_report
        from planner.report.render import to_json

        data = result.to_dict()
        _check_explain(explain, data)
        if fmt == "json":
            _emit(to_json(explain_data(data, explain)), output)
        else:
            _emit_report(explain_report(data, explain), fmt, output, show_assumptions)
        return
    if fmt == "json":
        _emit(render(result, fmt), output)
    else:
        _emit_report(result.to_report(figures=fmt == "html"), fmt, output, show_assumptions)


@cli.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--fleet", type=click.Path(path_type=Path),
              help="Fleet file (default: the scenario's, else hardware/fleets/default.yaml).")
@click.option("--objective", type=click.Choice(("cost",)), default="cost", show_default=True,
              help="Minimise the net present value of the whole roadmap.")
@click.option("--integer", is_flag=True,
              help="Whole units bought, held and placed per period, site and system.")
@click.option("--solver", type=click.Choice(("highs", "cbc")), default="highs", show_default=True)
@click.option("--time-limit", type=click.FloatRange(min=0.1), metavar="SECONDS",
              help="Solver time limit (a MILP stopped by it returns its best plan and gap).")
@click.option("--mip-gap", type=click.FloatRange(min=0, max=1, max_open=True), default=1e-2,
              show_default=True,
              help="Relative gap at which --integer stops searching (a roadmap's MILP has "
                   "whole units in every period: 1 percent of the NPV by default).")
@click.option("--budget", metavar="USD",
              help="Cap on the roadmap's net present value, e.g. '5B USD' (a cap per period "
                   "is 'budget_per_period' in the scenario).")
@_set_option
@_format_options
@_assumptions_option
def roadmap(file: Path, fleet: Path | None, objective: str, integer: bool, solver: str,
            time_limit: float | None, mip_gap: float, budget: str | None,
            overrides: tuple[str, ...], fmt: str, output: Path | None,
            show_assumptions: bool) -> None:
    """What to buy, build, rent and retire where, period by period (capacity roadmap).

    FILE is a scenario with 'periods' (see workloads/roadmap_2027.yaml): demand per period,
    job windows, dated power, system availability, price paths, lead times and lifetimes.
    Prints the roadmap per period and site, the cash flows (NPV), the bottlenecks per period
    and the purchases. A scenario without periods is one period: the plan of 'optimize'.
    Exits 3 naming the first period that cannot be met, 4 when the solver fails.

    \b
    Examples:
      planner roadmap workloads/roadmap_2027.yaml
      planner roadmap workloads/roadmap_2027.yaml --integer --format html -o out/roadmap.html
      planner roadmap workloads/roadmap_2027.yaml --set discount_rate=5% --format json
    """
    from planner.api import roadmap as run_roadmap
    from planner.report.render import render

    _check_writable("-o", output, make_parents=True, folder=fmt == "csv")
    result = run_roadmap(file, fleet=fleet, objective=objective, integer=integer,
                         solver=solver, time_limit_s=time_limit, budget=budget,
                         overrides=overrides, mip_gap=mip_gap)
    if fmt == "json":
        _emit(render(result, fmt), output)
    else:
        _emit_report(result.to_report(figures=fmt == "html"), fmt, output, show_assumptions)


def _check_explain(only: str, data: dict[str, Any]) -> None:
    """An unknown site (or system) for --explain is an input error naming the choices."""
    from planner.errors import InputError, Problem

    site, _, system = only.partition("/")
    sites = [s["site"] for s in data.get("sites", [])]
    systems = sorted({s["system"] for s in data.get("systems", [])})
    if site not in sites:
        raise InputError(Problem("--explain", only, f"no site {site!r} in the fleet",
                                 f"use one of: {', '.join(sites)}"))
    if system and system not in systems:
        raise InputError(Problem("--explain", only, f"no system {system!r} in the fleet",
                                 f"use one of: {', '.join(systems)}"))


@cli.command()
@click.option("--format", "fmt", type=click.Choice(("table", "json", "markdown", "csv")),
              default="table", show_default=True)
def calibration(fmt: str) -> None:
    """Every published reference case: published value, prediction, error, source.

    Ends with the mean and max absolute error; exits 1 when a case leaves its tolerance.

    \b
    Example:
      planner calibration --format markdown
    """
    from planner.api import calibration as run_calibration
    from planner.report.render import render

    report = run_calibration()
    click.echo(render(report, fmt))
    if not report.all_within_tolerance:
        sys.exit(1)


@cli.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--hardware", "hardware", multiple=True, metavar="NAME",
              help="A system to estimate on (repeatable; see 'planner catalog list').")
@click.option("--fleet", "fleets", multiple=True, type=click.Path(path_type=Path),
              help="A fleet file to optimize on (repeatable).")
@click.option("--objective", type=click.Choice(("cost", "time")), default="cost",
              show_default=True, help="Objective of the --fleet options (time: ranked by "
                                      "finish time).")
@_basis_option
@_set_option
@_format_options
@_assumptions_option
def compare(file: Path, hardware: tuple[str, ...], fleets: tuple[Path, ...], objective: str,
            cost_basis: str, overrides: tuple[str, ...], fmt: str, output: Path | None,
            show_assumptions: bool) -> None:
    """One workload on several systems or fleets, side by side.

    Shows the units and accelerators each option needs, wall time, total cost and cost per
    unit of work, the bound of each role, power and CPU shortfall, and names the cheapest and
    the fastest option. An option that fails is listed with its error.

    \b
    Examples:
      planner compare workloads/o1_posttrain.yaml --hardware dgx-h100 \\
          --hardware gb200-nvl72 --hardware trn2-rainier
      planner compare workloads/serve_reasoning.yaml --hardware dgx-h100 \\
          --hardware dgx-h200 --set votes=4 --format html -o out/compare.html
      planner compare workloads/o1_posttrain.yaml --fleet hardware/fleets/default.yaml
    """
    from planner.comparison import compare as run_compare
    from planner.report.render import render

    _check_writable("-o", output, make_parents=True, folder=fmt == "csv")
    result = run_compare(file, hardware, overrides, fleets=fleets, objective=objective,
                         figures=fmt == "html", cost_basis=cost_basis)
    if fmt in ("json", "html"):
        _emit(render(result, fmt), output)
    else:
        _emit_report(result.to_report(figures=False), fmt, output, show_assumptions)


@cli.command()
@click.argument("study", type=click.Path(path_type=Path))
@click.option("-o", "--output-dir", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for results.csv, results.json and report.html "
                   "[default: ./<study name>-results].")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Local worker processes.")
@click.option("--scheduler", metavar="ADDRESS",
              help="Run on an existing Dask cluster (e.g. tcp://10.0.0.5:8786); needs the "
                   "'dask' extra.")
@click.option("--progress/--no-progress", default=None,
              help="Show a progress bar on stderr [default: when stderr is a terminal].")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table",
              show_default=True, help="Format of the summary on stdout (csv: every scenario).")
@_basis_option
@click.option("--max-scenarios", type=click.IntRange(min=1), default=MAX_SCENARIOS,
              show_default=True, help="Refuse a study that expands to more scenarios.")
@click.option("--retry-failed", is_flag=True,
              help="Run again the scenarios that failed in an earlier run in the folder "
                   "(by default every recorded scenario is skipped).")
def sweep(study: Path, out_dir: Path | None, workers: int, scheduler: str | None,
          progress: bool | None, fmt: str, cost_basis: str, max_scenarios: int,
          retry_failed: bool) -> None:
    """Run a what-if study: every combination of its parameters, in parallel.

    Writes results.csv (one tidy row per scenario), results.json and report.html (with the
    sweep curves) into the output folder. A failed scenario is recorded with its error and
    never stops the study; running the study again skips the scenarios already in the folder
    (failed ones too, unless --retry-failed). Exits 1 when any scenario failed (bad input, a
    solver failure or a crash; infeasible scenarios are results), after a summary on stderr.

    \b
    Examples:
      planner sweep examples/procurement/study.yaml -o out/procurement --workers 2
      planner sweep examples/reasoning_serving/study.yaml --scheduler tcp://127.0.0.1:8786
    """
    from planner.report.render import render, render_report
    from planner.report.study import progress_bar
    from planner.study import failure_summary, load_study, results_csv
    from planner.study import sweep as run_sweep

    folder = out_dir or Path(f"{load_study(study, max_scenarios).name}-results")
    _check_writable("-o", folder / "results.json", make_parents=True, shown=folder)
    show = sys.stderr.isatty() if progress is None else progress
    try:
        with progress_bar(enabled=show) as advance:
            result = run_sweep(study, out_dir=folder, workers=workers, scheduler=scheduler,
                               progress=advance, cost_basis=cost_basis,
                               max_scenarios=max_scenarios, retry_failed=retry_failed)
    except OSError as err:  # the results folder could not be written
        if err.filename is None or not str(err.filename).startswith(str(folder)):
            raise
        raise _unwritable("-o", folder, err.strerror or str(err)) from None
    if fmt == "csv":
        text = results_csv(result)
    elif fmt in ("json", "html"):
        text = render(result, fmt)
    else:
        text = render_report(result.to_report(figures=False), fmt)
    click.echo(text, nl=False)
    click.echo(f"wrote {folder}/results.csv, results.json, report.html", err=True)
    failures = failure_summary(result)
    if failures:
        for line in failures:
            click.echo(line, err=True)
        sys.exit(1)


GC_THRESHOLD = (100_000, 20, 20)
"""The cycle collector's thresholds in a ``planner`` process (Python's default: 700, 10, 10).

Starting a plan creates many long-lived objects (modules, pydantic schemas, dataclasses, the
LP) and little cyclic garbage; at the default thresholds the collector ran about 190 times in
the main job, 0.1-0.17 s of it, and with these 16 times, under 0.01 s (``benchmarks/README.md``,
"Cold start"). A collection every 100,000 net allocations still bounds what garbage a long
command can accumulate.
"""


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point."""
    gc.set_threshold(*GC_THRESHOLD)
    cli.main(args=None if argv is None else list(argv), prog_name="planner")


def _report_error(err: PlannerError) -> None:
    from planner.errors import InfeasibleError, InputError

    if isinstance(err, InputError):
        for problem in err.problems:
            click.echo(f"error: {problem}", err=True)
        if len(err.problems) > 1:
            click.echo(f"{len(err.problems)} problems found", err=True)
    elif isinstance(err, InfeasibleError):
        click.echo(f"infeasible: {err}", err=True)
    else:
        click.echo(f"error: {err}", err=True)
