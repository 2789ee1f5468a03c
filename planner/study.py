"""What-if sweeps: one base scenario, parameters varied by `--set` path, run in parallel.

A study file names a base scenario (a workload or scenario file, a command: ``estimate`` on a
list of systems, ``optimize`` on a fleet or several, or ``roadmap`` on a roadmap scenario and a
fleet or several) and the parameters to vary::

    name: deadline-study
    workload: ../workloads/o1_posttrain.yaml      # relative to the study file
    command: estimate
    hardware: [dgx-h100, gb200-nvl72, trn2-rainier]
    set: ["problems=1M"]                         # fixed overrides of the base
    parameters:
      - path: deadline                           # a grid: every value below
        range: {start: 30, stop: 120, step: 30}
        unit: days
      - path: verifier_cpu_seconds               # seeded random draws
        random: {low: 5, high: 60, scale: log}
        unit: s
    samples: 8                                   # random draws (crossed with the grid)
    seed: 1
    plots:
      - {x: deadline, y: total_cost_usd}

Scenarios are the Cartesian product of the options (systems or fleets), the grid parameters
(``values`` lists and ``range`` grids) and the ``samples`` random draws (the same draws for
every option and grid point: common random numbers, so options differ only by the option).
Each scenario is evaluated by :func:`planner.comparison.evaluate_option` (a roadmap by
:func:`planner.comparison.evaluate_roadmap`), so its result row has the comparison's keys.
Scenarios run in-process (``workers=1``), on local processes (``concurrent.futures``) or on
an existing Dask distributed cluster (``scheduler=ADDRESS``; its workers must see the same
files at the same paths). A failed scenario is recorded with its
error and never stops the study; the results file is rewritten as results arrive, and a rerun
skips the scenarios it already holds (failed ones too, unless ``retry_failed``). Worker
processes end with the study's process, also when it is killed (:func:`_worker_start`).
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import itertools
import json
import math
import os
import random
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, model_validator

from planner.comparison import Option, error_row, evaluate_option, evaluate_roadmap, work_unit
from planner.errors import InputError, PlannerError, Problem
from planner.limits import MAX_NAME_CHARS, MAX_SCENARIOS
from planner.schema import Duration, PositiveInt, StrictModel
from planner.yamlio import Document, load_document, write_atomic

__all__ = ["Parameter", "PlotSpec", "ScenarioTask", "Study", "SweepResult", "expand",
           "failure_summary", "load_study", "run_task", "scenario_count", "sweep"]

SCHEMA_VERSION = 1
PathLike = str | os.PathLike[str]
RESULTS_JSON, RESULTS_CSV, REPORT_HTML = "results.json", "results.csv", "report.html"
CHECKPOINT_EVERY_S = 5.0  # rewrite results.json at most this often while a study runs
MAX_SERIES = 12  # lines per sweep plot before other parameters are held at their first value
Progress = Callable[[dict[str, Any], int, int], None]


# ---------------------------------------------------------------------------------------------
# The study file


Finite = Annotated[float, Field(allow_inf_nan=False)]


class RangeSpec(StrictModel):
    """Evenly spaced values: ``step`` from start to stop (inclusive), or ``num`` points."""

    start: Finite
    stop: Finite
    step: Finite | None = Field(None, gt=0)
    num: PositiveInt | None = None
    scale: Literal["linear", "log"] = "linear"

    @model_validator(mode="after")
    def _one_spacing(self) -> RangeSpec:
        if (self.step is None) == (self.num is None):
            raise ValueError("give either 'step' or 'num'")
        if self.step is not None and self.start > self.stop:
            raise ValueError(f"start {self.start:g} is above stop {self.stop:g}; a 'step' range "
                             "counts up (use 'num' for a descending one)")
        if self.scale == "log" and (self.num is None or self.start <= 0 or self.stop <= 0):
            raise ValueError("a log range needs 'num' and positive start and stop")
        return self


class RandomSpec(StrictModel):
    """Uniform draws between low and high (uniform in the logarithm for ``scale: log``)."""

    low: Finite
    high: Finite
    scale: Literal["linear", "log"] = "linear"

    @model_validator(mode="after")
    def _ordered(self) -> RandomSpec:
        if self.high < self.low:
            raise ValueError("'high' must be at least 'low'")
        if self.scale == "log" and self.low <= 0:
            raise ValueError("a log-uniform draw needs a positive 'low'")
        return self


class Parameter(StrictModel):
    """One `--set` path and the values it takes: a list, a range or random draws."""

    path: str = Field(pattern=r"^[A-Za-z_][\w-]*(\.[\w-]+|\[\d+\])*$")
    values: list[Any] | None = Field(None, min_length=1)
    range: RangeSpec | None = None
    random: RandomSpec | None = None
    unit: str = Field("", description="appended to generated numbers, e.g. 'days'")
    integer: bool = Field(False, description="round generated numbers to whole numbers")
    label: str = Field("", description="axis label; defaults to the path and unit")

    @model_validator(mode="after")
    def _one_source(self) -> Parameter:
        given = [n for n in ("values", "range", "random") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of 'values', 'range' or 'random'")
        return self

    @property
    def is_random(self) -> bool:
        """True for a random parameter (drawn ``samples`` times)."""
        return self.random is not None


class PlotSpec(StrictModel):
    """A sweep curve: a metric against a parameter, one line per option (and group).

    Grid parameters that are neither ``x`` nor in ``group`` nor in ``where`` are held at their
    first value, so that each line varies ``x`` alone.
    """

    x: str
    y: str = ""
    group: list[str] = Field(default_factory=list, description="more parameters to split by")
    where: dict[str, Any] = Field(default_factory=dict,
                                  description="parameter values to keep (path: value)")
    log_x: bool = False
    log_y: bool = False
    title: str = ""


class Study(StrictModel):
    """A study file: the base scenario, the parameters to vary and the plots to draw."""

    name: str = ""
    description: str = ""
    workload: str
    command: Literal["estimate", "optimize", "roadmap"] = "estimate"
    hardware: list[str] = Field(default_factory=list)
    fleet: str | None = None
    fleets: list[str] = Field(default_factory=list)
    overrides: list[str] = Field(default_factory=list, alias="set")
    objective: Literal["cost", "time"] = "cost"
    integer: bool = False
    solver: Literal["highs", "cbc"] = "highs"
    time_limit: Duration | None = None
    parameters: list[Parameter] = Field(default_factory=list)
    samples: PositiveInt | None = None
    seed: int = 0
    plots: list[PlotSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> Study:
        if self.command == "estimate" and not self.hardware:
            raise ValueError("command 'estimate' needs a 'hardware' list of system ids")
        if self.command != "estimate" and self.hardware:
            raise ValueError(f"'hardware' is for command 'estimate'; {self.command} uses "
                             "'fleet' or 'fleets'")
        if self.command == "estimate" and (self.fleet or self.fleets):
            raise ValueError("'fleet'/'fleets' are for commands 'optimize' and 'roadmap'")
        if self.command == "roadmap" and self.objective != "cost":
            raise ValueError("a roadmap minimises its net present value; objective "
                             f"{self.objective!r} is not available (use objective: cost)")
        if any(p.is_random for p in self.parameters) and self.samples is None:
            raise ValueError("random parameters need 'samples: N' (how many draws)")
        return self


@dataclass(frozen=True)
class LoadedStudy:
    """A validated study with its paths resolved and its options built."""

    study: Study
    file: str
    name: str
    workload: str  # absolute path
    options: tuple[Option, ...]
    kind: str


def load_study(path: PathLike, max_scenarios: int = MAX_SCENARIOS) -> LoadedStudy:
    """Read and validate a study file; every problem names the file, line and field.

    A study that would expand to more than ``max_scenarios`` scenarios is refused before any
    value is generated (`planner sweep --max-scenarios` raises the limit).
    """
    from planner.schema import validate_document

    doc = load_document(path)
    study = validate_document(Study, doc)
    folder = Path(doc.file).resolve().parent
    problems = _check_paths(doc, study, folder)
    if problems:
        raise InputError(problems)
    if len(study.name) > MAX_NAME_CHARS:
        raise InputError(doc.problem(("name",), f"a name of {len(study.name):,} characters "
                                     f"(at most {MAX_NAME_CHARS}): it names the results folder",
                                     "shorten it"))
    _check_size(doc, study, max_scenarios)
    workload = str(folder / study.workload)
    kind = _check_base(doc, study, workload)
    options = _study_options(study, folder)
    _check_parameters(doc, study, workload)
    name = study.name or Path(doc.file).stem
    return LoadedStudy(study, doc.file, name, workload, tuple(options), kind)


def _value_count(parameter: Parameter, study: Study) -> int:
    """How many values a parameter takes, computed without generating them."""
    if parameter.values is not None:
        return len(parameter.values)
    if parameter.range is not None:
        spec = parameter.range
        if spec.num is not None:
            return spec.num
        assert spec.step is not None
        steps = (spec.stop - spec.start) / spec.step + 1e-9
        return math.floor(steps) + 1 if math.isfinite(steps) else MAX_SCENARIOS**2
    return study.samples or 1


def scenario_count(study: Study) -> int:
    """Scenarios a study expands to: options x grid values x random draws."""
    options = max(len(study.hardware), len(study.fleets) + (1 if study.fleet else 0), 1)
    randoms = any(p.is_random for p in study.parameters)
    count = options * ((study.samples or 1) if randoms else 1)
    for parameter in study.parameters:
        if not parameter.is_random:
            count *= _value_count(parameter, study)
    return count


def _check_size(doc: Document, study: Study, max_scenarios: int) -> None:
    count = scenario_count(study)
    if count <= max_scenarios:
        return
    sizes = [(i, _value_count(p, study)) for i, p in enumerate(study.parameters)]
    largest = max(sizes, key=lambda item: item[1], default=None)
    where: tuple[str | int, ...] = ("parameters", largest[0]) if largest else ("samples",)
    raise InputError(doc.problem(where, f"the study expands to {count:,} scenarios, more than "
                                 f"the limit of {max_scenarios:,}",
                                 "use fewer values (a coarser step, a smaller num or fewer "
                                 "samples), or raise the limit with --max-scenarios N"))


def _check_paths(doc: Document, study: Study, folder: Path) -> list[Problem]:
    """The workload and fleet files exist; the systems are in the catalog."""
    from planner.catalog.load import load_catalog
    from planner.schema import did_you_mean

    problems = []
    if not (folder / study.workload).is_file():
        problems.append(doc.problem(("workload",), f"file {study.workload!r} not found",
                                    "paths are relative to the study file"))
    fleets: list[tuple[str | int, ...]] = [("fleet",)] if study.fleet else []
    fleets += [("fleets", i) for i in range(len(study.fleets))]
    for where in fleets:
        name = study.fleet if where == ("fleet",) else study.fleets[int(where[1])]
        if not (folder / str(name)).is_file():
            problems.append(doc.problem(where, f"fleet file {name!r} not found",
                                        "paths are relative to the study file"))
    systems = load_catalog().systems if study.hardware else {}
    for i, system in enumerate(study.hardware):
        if system not in systems:
            problems.append(doc.problem(("hardware", i), f"unknown system {system!r}",
                                        did_you_mean(system, systems)))
    return problems


def _check_base(doc: Document, study: Study, workload: str) -> str:
    """Load the base scenario once (with the study's fixed overrides); return its kind."""
    from planner import api

    try:
        scenario = api.load(workload, study.overrides)
    except InputError as err:
        raise InputError([*err.problems, doc.problem(("set",) if study.overrides else
                                                     ("workload",),
                                                     "the base scenario is invalid",
                                                     "fix the problems listed above")]) from None
    if len(scenario.workloads) > 1 and study.command == "estimate":
        raise InputError(doc.problem(("command",), "estimate takes one workload; this "
                                     f"scenario has {len(scenario.workloads)}",
                                     "use command: optimize"))
    if study.command == "roadmap":
        return "roadmap"
    return str(scenario.workloads[0].spec.kind) if len(scenario.workloads) == 1 else "scenario"


def _check_parameters(doc: Document, study: Study, workload: str) -> None:
    """Each parameter's first value must load: a misspelt path is a study error, not N
    failed scenarios."""
    from planner import api

    for i, parameter in enumerate(study.parameters):
        first = parameter_values(parameter, study)[0]
        try:
            api.load(workload, [*study.overrides, f"{parameter.path}={first.text}"])
        except InputError as err:
            reason = "; ".join(f"{p.path}: {p.message}" + (f" ({p.hint})" if p.hint else "")
                               for p in err.problems[:2])
            raise InputError(doc.problem(("parameters", i, "path"),
                                         f"--set {parameter.path}={first.text} does not load: "
                                         f"{reason}", "check the path and the value's unit")
                             ) from None


def _study_options(study: Study, folder: Path) -> list[Option]:
    if study.command == "estimate":
        return [Option.hardware(h) for h in dict.fromkeys(study.hardware)]
    fleets = [study.fleet] if study.fleet else []
    fleets += study.fleets
    if not fleets:
        return [Option("default-fleet", "fleet", "")]
    return [Option.fleet(folder / f) for f in dict.fromkeys(fleets)]


# ---------------------------------------------------------------------------------------------
# Expanding parameters into scenarios


@dataclass(frozen=True, slots=True)
class Value:
    """One value of a parameter: the `--set` text and the number to plot (None: not numeric)."""

    text: str
    x: float | None


_NUMBER_AS_WRITTEN = re.compile(r"^\s*([+-]?\d[\d_,]*\.?\d*(?:[eE][+-]?\d+)?)\s*([kKMBGT]?)"
                                r"(?![A-Za-z/])\s*(.*)$")
_MULTIPLIER = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "B": 1e9, "G": 1e9, "T": 1e12}


def _yaml_text(value: Any) -> str:
    """The `--set` text of a YAML value (flow style for lists and mappings)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return yaml.safe_dump(value).splitlines()[0]
    if isinstance(value, int | float):
        return f"{value:.10g}"
    return yaml.safe_dump(value, default_flow_style=True).strip()


def _x_of(value: Any) -> float | None:
    """The number a value shows on a plot axis: 30 for '30 days', 16000 for '16k'."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        match = _NUMBER_AS_WRITTEN.match(value)
        if match:
            return float(match.group(1).replace(",", "").replace("_", "")) * \
                _MULTIPLIER[match.group(2)]
    return None


def _number_value(number: float, parameter: Parameter) -> Value:
    if parameter.integer:
        number = float(round(number))
    text = f"{number:.6g}" + (f" {parameter.unit}" if parameter.unit else "")
    return Value(text, number)


def _range_numbers(spec: RangeSpec) -> list[float]:
    """start, start + step, ... up to stop (inclusive, with float tolerance), or num points
    evenly spaced in the value (linear) or its logarithm (log)."""
    if spec.num is not None:
        if spec.num == 1:
            return [spec.start]
        if spec.scale == "log":
            ratio = (spec.stop / spec.start) ** (1.0 / (spec.num - 1))
            return [spec.start * ratio**i for i in range(spec.num)]
        gap = (spec.stop - spec.start) / (spec.num - 1)
        return [spec.start + gap * i for i in range(spec.num)]
    assert spec.step is not None
    count = math.floor((spec.stop - spec.start) / spec.step + 1e-9) + 1
    return [spec.start + spec.step * i for i in range(max(count, 0))]


def parameter_values(parameter: Parameter, study: Study) -> list[Value]:
    """The values a grid parameter takes (duplicates removed, order kept); for a random
    parameter, its draws (see :func:`random_draws`)."""
    if parameter.values is not None:
        values = [Value(_yaml_text(v), _x_of(v)) for v in parameter.values]
    elif parameter.range is not None:
        values = [_number_value(n, parameter) for n in _range_numbers(parameter.range)]
    else:
        return [draw[parameter.path] for draw in random_draws(study)]
    return list({v.text: v for v in values}.values())


def random_draws(study: Study) -> list[dict[str, Value]]:
    """``samples`` joint draws of the random parameters from a generator seeded by ``seed``.

    Uniform: low + u·(high − low); log-uniform: exp(ln low + u·(ln high − ln low)), u ~ U[0, 1)
    (Python's Mersenne Twister, so a seed gives the same draws on every machine).
    """
    randoms = [p for p in study.parameters if p.random is not None]
    if not randoms:
        return [{}]
    generator = random.Random(study.seed)
    draws = []
    for _ in range(study.samples or 1):
        draw = {}
        for p in randoms:
            assert p.random is not None
            u = generator.random()
            lo, hi = p.random.low, p.random.high
            number = math.exp(math.log(lo) + u * (math.log(hi) - math.log(lo))) \
                if p.random.scale == "log" else lo + u * (hi - lo)
            draw[p.path] = _number_value(number, p)
        draws.append(draw)
    return draws


@dataclass(frozen=True, slots=True)
class ChosenValue:
    """A parameter's value in one scenario: its path, the `--set` text, the number to plot."""

    path: str
    text: str
    x: float | None


@dataclass(frozen=True, slots=True)
class ScenarioTask:
    """Everything a worker needs to run one scenario (picklable)."""

    index: int
    id: str
    kind: str
    workload: str
    option: Option
    values: tuple[ChosenValue, ...]
    overrides: tuple[str, ...]
    objective: str = "cost"
    integer: bool = False
    solver: str = "highs"
    time_limit_s: float | None = None
    cost_basis: str = "own"
    command: str = ""  # "roadmap" runs planner roadmap; otherwise the option's kind decides


def _with_basis(task: ScenarioTask, basis: str) -> ScenarioTask:
    """The task priced on ``basis`` (``--cost-basis``); a basis other than the default own
    changes the scenario id, so results on different bases never mix in one folder."""
    if basis == task.cost_basis:
        return task
    tid = hashlib.sha1(f"{task.id}:{basis}".encode()).hexdigest()[:12]
    return dataclasses.replace(task, id=tid, cost_basis=basis)


def _scenario_id(loaded: LoadedStudy, option: Option, values: Sequence[tuple[str, str]]) -> str:
    """A stable id: a hash of everything that defines the scenario (not of its position)."""
    study = loaded.study
    key = json.dumps({"workload": study.workload, "command": study.command,
                      "option": [option.kind, option.name], "set": study.overrides,
                      "values": list(values), "objective": study.objective,
                      "integer": study.integer, "solver": study.solver}, sort_keys=True)
    return hashlib.sha1(key.encode()).hexdigest()[:12]


def expand(loaded: LoadedStudy) -> list[ScenarioTask]:
    """Every scenario of a study: options × grid points × random draws, in a stable order."""
    study = loaded.study
    grid = [p for p in study.parameters if not p.is_random]
    axes = [[(p.path, v) for v in parameter_values(p, study)] for p in grid]
    tasks: list[ScenarioTask] = []
    for point in itertools.product(*axes):
        for draw in random_draws(study):
            chosen = [*point, *draw.items()]
            values = tuple(ChosenValue(path, v.text, v.x) for path, v in chosen)
            for option in loaded.options:
                tasks.append(_task(loaded, len(tasks), option, values))
    return tasks


def _task(loaded: LoadedStudy, index: int, option: Option,
          values: tuple[ChosenValue, ...]) -> ScenarioTask:
    study = loaded.study
    overrides = (*study.overrides, *(f"{v.path}={v.text}" for v in values))
    return ScenarioTask(index, _scenario_id(loaded, option, [(v.path, v.text) for v in values]),
                        loaded.kind, loaded.workload, option, values, overrides,
                        study.objective, study.integer, study.solver, study.time_limit,
                        command=study.command)


# ---------------------------------------------------------------------------------------------
# Running one scenario (in a worker)


def run_task(task: ScenarioTask) -> dict[str, Any]:
    """Evaluate one scenario; never raises: a failure becomes a record with its error."""
    start = time.perf_counter()
    option = task.option
    try:
        if task.command == "roadmap":
            row = evaluate_roadmap(task.workload, option, task.overrides, integer=task.integer,
                                   solver=task.solver, time_limit_s=task.time_limit_s)
        else:
            row = evaluate_option(task.workload, option, task.overrides,
                                  objective=task.objective, integer=task.integer,
                                  solver=task.solver, time_limit_s=task.time_limit_s,
                                  cost_basis=task.cost_basis)
    except PlannerError as err:
        row = error_row(option, task.kind, err)
    except Exception as err:  # a crash must not stop the study (--retry-failed reruns it)
        row = error_row(option, task.kind, err)
        row["error_kind"] = f"crash: {type(err).__name__}"
    return _record(task, row, time.perf_counter() - start)


def _record(task: ScenarioTask, row: Mapping[str, Any], seconds: float) -> dict[str, Any]:
    """The tidy record of a scenario: identity, parameter values, status and flat metrics."""
    return {"index": task.index, "id": task.id, "option": task.option.name,
            "parameters": {v.path: v.text for v in task.values},
            "x": {v.path: v.x for v in task.values},
            "status": row.get("status", "error"), "error": row.get("error"),
            "error_kind": row.get("error_kind"), "seconds": seconds,
            "metrics": flatten_row(row), "assumptions": row.get("assumptions", [])}


_ROW_SKIP = {"option", "basis", "target", "status", "error", "error_kind", "roles",
             "assumptions", "details", "cost_breakdown_usd"}


def flatten_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """One flat dict of scalars: the estimate's own fields, the comparison keys (which win),
    units and bound per role (``units_<role>``, ``bound_<role>``) and cost parts."""
    flat: dict[str, Any] = dict(row.get("details") or {})
    flat.update({k: v for k, v in row.items() if k not in _ROW_SKIP
                 and (v is None or isinstance(v, int | float | str | bool))})
    for role in row.get("roles") or []:
        name = re.sub(r"\W+", "_", str(role["role"])).strip("_")
        flat[f"units_{name}"] = role.get("units")
        flat[f"bound_{name}"] = role.get("bound")
    for part, usd in (row.get("cost_breakdown_usd") or {}).items():
        flat[f"cost_{part.removesuffix('_usd')}_usd"] = usd
    return {k: _json_number(v) for k, v in flat.items()}


def _json_number(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


# ---------------------------------------------------------------------------------------------
# Executors: in-process, local processes, Dask


def execute(tasks: Sequence[ScenarioTask], workers: int = 1,
            scheduler: str | None = None) -> Iterator[dict[str, Any]]:
    """Yield one record per task as it finishes, from the chosen executor."""
    if not tasks:
        return iter(())
    if scheduler:
        return _dask(tasks, scheduler)
    if workers <= 1:
        return (run_task(task) for task in tasks)
    return _processes(tasks, workers)


def _pool_context() -> Any:
    """How to start worker processes: fork where it is safe, else spawn.

    A forked worker starts at once with this process's imports and warm caches (catalog,
    models, fleets), where a spawned one re-imports everything (about a second each), which
    matters for short scenarios. Fork is used only on Linux and only while this process runs a
    single thread (forking a multi-threaded process can deadlock the child); otherwise workers
    are spawned, fresh interpreters started in this process's working directory.
    """
    import multiprocessing
    import sys
    import threading

    if sys.platform.startswith("linux") and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _processes(tasks: Sequence[ScenarioTask], workers: int) -> Iterator[dict[str, Any]]:
    """Local worker processes (see :func:`_pool_context`)."""
    from concurrent.futures import ProcessPoolExecutor, as_completed

    pool = ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=_pool_context(),
                               initializer=_worker_start, initargs=(os.getpid(),))
    try:
        futures = {pool.submit(run_task, task): task for task in tasks}
        for future in as_completed(futures):
            yield _outcome(future, futures[future])
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


PARENT_CHECK_S = 1.0  # how often a worker checks that the study's process is alive


def _worker_start(parent: int) -> None:
    """Make a worker process end with the study's process, however that one ends.

    On Linux the kernel sends SIGKILL to the worker when its parent dies (prctl
    PR_SET_PDEATHSIG); everywhere, a daemon thread checks every PARENT_CHECK_S seconds that
    the parent is still the same process and exits otherwise (a killed parent's workers used
    to stay alive, idle or still computing, for minutes).
    """
    import signal
    import sys
    import threading

    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass  # the thread below still ends the worker
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_S)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _outcome(future: Any, task: ScenarioTask) -> dict[str, Any]:
    """A finished future's record; a worker that died becomes a crash record."""
    error = future.exception()
    if error is None:
        return dict(future.result())
    row = error_row(task.option, task.kind, error)
    row["error_kind"] = f"crash: {type(error).__name__}"
    return _record(task, row, 0.0)


def _dask(tasks: Sequence[ScenarioTask], address: str) -> Iterator[dict[str, Any]]:
    """Send the scenarios to an existing Dask distributed cluster."""
    client_type, as_completed = _dask_imports()
    try:
        client = client_type(address, timeout=10, set_as_default=False)
    except (OSError, TimeoutError) as err:
        raise InputError(Problem("--scheduler", address, f"cannot reach the Dask scheduler: "
                                 f"{err}", "start one with 'dask scheduler' and pass its "
                                 "address, e.g. tcp://10.0.0.5:8786")) from None
    try:
        futures = client.map(run_task, list(tasks), pure=False)
        by_key = {future.key: task for future, task in zip(futures, tasks, strict=True)}
        for future in as_completed(futures, loop=client.loop):
            yield _outcome(future, by_key[future.key])
    finally:
        client.close()


def _dask_imports() -> tuple[Any, Any]:
    try:
        from dask.distributed import Client, as_completed
    except ImportError:
        raise InputError(Problem("--scheduler", "", "Dask is not installed",
                                 "install the extra: pip install 'planner[dask]'")) from None
    return Client, as_completed


# ---------------------------------------------------------------------------------------------
# The result


_LEADING_COLUMNS = ("units", "accelerators", "wall_time_s", "total_cost_usd", "npv_usd",
                    "cost_per_work_usd", "work_unit", "usd_per_query", "capex_usd", "bound",
                    "power_w", "sites_used", "cpu_cores_short", "cpu_servers_needed")


@dataclass(frozen=True)
class SweepResult:
    """Every scenario of a study with its parameters, status and metrics."""

    study: str
    file: str
    command: str
    workload: str
    kind: str
    options: tuple[str, ...]
    parameters: tuple[dict[str, Any], ...]
    records: tuple[dict[str, Any], ...]
    plots: tuple[PlotSpec, ...] = ()
    ran: int = 0
    skipped: int = 0
    seconds: float = 0.0
    workers: int = 1
    scheduler: str | None = None
    out_dir: str | None = None
    assumptions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def rows(self) -> list[dict[str, Any]]:
        """Tidy rows: one per scenario, parameter values and metrics as columns."""
        return [_tidy(r, [p["path"] for p in self.parameters]) for r in self.records]

    def to_frame(self) -> Any:
        """The tidy rows as a pandas DataFrame (needs pandas)."""
        from planner.report.frame import frame

        return frame(self.rows())

    def summary(self) -> dict[str, Any]:
        """Counts and timings."""
        ok = sum(1 for r in self.records if r["status"] == "ok")
        ran_seconds = [r["seconds"] for r in self.records if r.get("seconds")]
        return {"scenarios": len(self.records), "ok": ok, "failed": len(self.records) - ok,
                "ran": self.ran, "skipped": self.skipped, "seconds": self.seconds,
                "mean_scenario_s": sum(ran_seconds) / len(ran_seconds) if ran_seconds else None,
                "workers": self.workers, "scheduler": self.scheduler, "out_dir": self.out_dir}

    def to_dict(self) -> dict[str, Any]:
        """JSON contract: schema_version, study, file, command, workload, kind, work_unit,
        options, parameters, summary, scenarios, plots (series), assumptions."""
        return {"schema_version": SCHEMA_VERSION, "study": self.study, "file": self.file,
                "command": self.command, "workload": self.workload, "kind": self.kind,
                "work_unit": work_unit(self.kind), "options": list(self.options),
                "parameters": [dict(p) for p in self.parameters], "summary": self.summary(),
                "scenarios": [dict(r) for r in self.records], "plots": self.plot_series(),
                "assumptions": self.assumptions}

    def to_report(self, figures: bool = True) -> Any:
        """Summary, best scenarios, failures, parameters, assumptions and (when ``figures``)
        the sweep curves."""
        from planner.report.study import sweep_report

        return sweep_report(self.to_dict(), figures=figures)

    def plot_series(self) -> list[dict[str, Any]]:
        """The curves to draw: the study's ``plots``, else one per numeric parameter."""
        from planner.study_plots import default_plots, series

        specs = list(self.plots) or default_plots(self.parameters, self.kind, self.command)
        return [series(spec, self) for spec in specs]


def _tidy(record: Mapping[str, Any], paths: Sequence[str]) -> dict[str, Any]:
    row = {"id": record["id"], "index": record["index"], "option": record["option"]}
    row.update({path: record["parameters"].get(path) for path in paths})
    row.update({"status": record["status"], "error": record.get("error"),
                "seconds": record.get("seconds")})
    metrics = record.get("metrics") or {}
    row.update({k: metrics.get(k) for k in _LEADING_COLUMNS if k in metrics})
    row.update({k: v for k, v in sorted(metrics.items()) if k not in row})
    return row


# ---------------------------------------------------------------------------------------------
# The sweep


def sweep(study_path: PathLike, out_dir: PathLike | None = None, workers: int = 1,
          scheduler: str | None = None, progress: Progress | None = None,
          cost_basis: str | None = None, max_scenarios: int = MAX_SCENARIOS,
          retry_failed: bool = False) -> SweepResult:
    """Run every scenario of a study; write results.json, results.csv and report.html.

    With ``out_dir``, scenarios already recorded in ``out_dir/results.json`` are skipped
    (failed ones too, unless ``retry_failed``) and the results file is rewritten as results
    arrive, so an interrupted study resumes where it stopped. ``progress(record, done, total)``
    is called in this process after each scenario. ``cost_basis`` prices every scenario on own
    (default), rent or buy (:mod:`planner.perf.cost`).
    """
    from planner.perf.cost import cost_basis as parse_basis

    basis = parse_basis(cost_basis).value
    loaded = load_study(study_path, max_scenarios)
    if loaded.study.command == "roadmap" and basis != "own":
        raise InputError(Problem("--cost-basis", basis, "a roadmap prices what it buys, rents "
                                 "and builds period by period; it has no cost basis",
                                 "drop --cost-basis (rentals are a decision of the roadmap)"))
    tasks = [_with_basis(t, basis) for t in expand(loaded)]
    previous = _previous_records(out_dir, {t.id for t in tasks}, retry_failed)
    todo = [t for t in tasks if t.id not in previous]
    records: dict[str, dict[str, Any]] = dict(previous)
    start = time.perf_counter()
    checkpoint = start
    try:
        for done, record in enumerate(execute(todo, workers, scheduler), start=1):
            records[record["id"]] = record
            if progress is not None:
                progress(record, done, len(todo))
            if out_dir is not None and time.perf_counter() - checkpoint > CHECKPOINT_EVERY_S:
                _write_json(out_dir, _result(loaded, tasks, records, len(todo), start,
                                             workers, scheduler, out_dir))
                checkpoint = time.perf_counter()
    finally:
        result = _result(loaded, tasks, records, len(todo), start, workers, scheduler, out_dir)
        if out_dir is not None:
            _write_json(out_dir, result)
    if out_dir is not None:
        write_outputs(result, out_dir)
    return result


def failure_summary(result: SweepResult, examples: int = 3) -> list[str]:
    """Lines for stderr when scenarios failed: how many, by kind, with the first errors.

    An infeasible scenario is a result (the study asked where the plan stops being possible),
    and so is a system with no price on the study's cost basis (``n/a``, as in ``planner
    compare``); bad input, a solver failure or a crash is a failure.
    """
    failed = [r for r in result.records
              if r["status"] != "ok" and not _infeasible(r) and not _not_priced(r)]
    if not failed:
        return []
    kinds: dict[str, int] = {}
    for record in failed:
        kind = str(record.get("error_kind") or record["status"])
        kinds[kind] = kinds.get(kind, 0) + 1
    by_kind = ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items()))
    lines = [f"error: {len(failed)} of {len(result.records)} scenarios failed ({by_kind}); "
             "see the error column of results.csv"]
    for record in failed[:examples]:
        values = ", ".join(f"{k}={v}" for k, v in record["parameters"].items())
        first = str(record.get("error") or "").splitlines()[0:1]
        lines.append(f"  {record['option']} {values}: {first[0] if first else '?'}")
    if any(str(r.get("error_kind") or "").startswith("crash") for r in failed):
        lines.append("  a crash is a defect of planner: please report it with the study file")
    lines.append("  failed scenarios are kept; rerun with --retry-failed to run them again")
    return lines


def _not_priced(record: Mapping[str, Any]) -> bool:
    return record.get("error_kind") == "NoRentalPriceError"


def _infeasible(record: Mapping[str, Any]) -> bool:
    return record.get("error_kind") == "InfeasibleError" or \
        str(record.get("error") or "").startswith("cannot run here")


def _previous_records(out_dir: PathLike | None, ids: set[str],
                      retry_failed: bool = False) -> dict[str, dict[str, Any]]:
    """Records of an earlier run of the same study that need not run again (a failed one is
    kept too, unless ``retry_failed``: the same inputs fail the same way)."""
    if out_dir is None:
        return {}
    file = Path(out_dir) / RESULTS_JSON
    if not file.is_file():
        return {}
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
        scenarios = data["scenarios"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise InputError(Problem(str(file), "", f"cannot read earlier results: {err}",
                                 "delete the file to start the study afresh")) from None
    return {r["id"]: r for r in scenarios
            if r.get("id") in ids and (r.get("status") == "ok" or not retry_failed)}


def _result(loaded: LoadedStudy, tasks: Sequence[ScenarioTask],
            records: Mapping[str, dict[str, Any]], ran: int, start: float, workers: int,
            scheduler: str | None, out_dir: PathLike | None) -> SweepResult:
    """The SweepResult of the records so far, in scenario order."""
    order = {t.id: t.index for t in tasks}
    kept = sorted((r for r in records.values() if r["id"] in order), key=lambda r: order[r["id"]])
    assumptions: dict[str, list[dict[str, Any]]] = {}
    for r in kept:
        if r["status"] == "ok" and r.get("assumptions") and r["option"] not in assumptions:
            assumptions[r["option"]] = list(r["assumptions"])
    slim = tuple({k: v for k, v in r.items() if k != "assumptions"} for r in kept)
    done_now = sum(1 for t in tasks if t.id in records) - (len(tasks) - ran)
    study = loaded.study
    return SweepResult(
        loaded.name, loaded.file, study.command, study.workload, loaded.kind,
        tuple(o.name for o in loaded.options), tuple(_parameter_info(p, study)
                                                     for p in study.parameters),
        slim, tuple(study.plots), max(done_now, 0), len(tasks) - ran,
        time.perf_counter() - start, workers, scheduler,
        None if out_dir is None else str(out_dir), assumptions)


def _parameter_info(parameter: Parameter, study: Study) -> dict[str, Any]:
    values = [] if parameter.is_random else parameter_values(parameter, study)
    unit = parameter.unit or _unit_as_written(parameter)
    label = parameter.label or (f"{parameter.path} ({unit})" if unit else parameter.path)
    numeric = parameter.is_random or all(v.x is not None for v in values)
    return {"path": parameter.path, "label": label, "random": parameter.is_random,
            "numeric": numeric, "values": [v.text for v in values]}


def _unit_as_written(parameter: Parameter) -> str:
    """'days' for values such as '30 days' (the text after the number)."""
    first = (parameter.values or [None])[0]
    if isinstance(first, str):
        match = _NUMBER_AS_WRITTEN.match(first)
        if match:
            return match.group(3)
    return ""


# ---------------------------------------------------------------------------------------------
# Output files


def _write_json(out_dir: PathLike, result: SweepResult) -> None:
    from planner.report.render import to_json

    write_atomic(Path(out_dir) / RESULTS_JSON, to_json(result.to_dict()))


def results_csv(result: SweepResult) -> str:
    """The tidy rows as CSV (one row per scenario; columns: parameters, status, metrics)."""
    rows = result.rows()
    columns = list(dict.fromkeys(k for row in rows for k in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def write_outputs(result: SweepResult, out_dir: PathLike) -> None:
    """results.json, results.csv and report.html (self-contained, plots inline)."""
    from planner.report.render import render

    _write_json(out_dir, result)
    write_atomic(Path(out_dir) / RESULTS_CSV, results_csv(result))
    write_atomic(Path(out_dir) / REPORT_HTML, render(result, "html"))
