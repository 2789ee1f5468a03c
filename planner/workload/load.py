"""Read model architectures, workloads and scenarios from YAML, validate them and resolve refs.

A workload file has a ``kind`` (pretrain | posttrain | serve) and names its models by id; each id
is a file under the models folder (``llama-3.1-405b`` -> ``llama_3.1_405b.yaml``). A scenario file
lists workloads (paths relative to it, or inline mappings) that share one fleet. Every problem is
an :class:`~planner.errors.InputError` that names the file, line, column and field, and all
problems of one file are reported together.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from planner.catalog.load import (
    default_hardware_dir,
    load_catalog,
    load_fleet,
    load_system,
    uncovered_fields,
)
from planner.catalog.schema import BYTES_PER_ELEMENT, ID_PATTERN, Precision
from planner.errors import InputError, Problem
from planner.limits import MAX_NAME_CHARS
from planner.schema import did_you_mean, validate_data, validate_document
from planner.units import Dimension, format_quantity
from planner.workload.checks import check_workload
from planner.workload.params import count_params, kv_bytes_per_token
from planner.workload.schema import (
    ModelSpec,
    Posttrain,
    Pretrain,
    ScenarioFile,
    Serve,
    WorkloadKind,
)
from planner.workload.timeline import JobSchedule, Timeline
from planner.yamlio import (
    Document,
    PathKey,
    apply_overrides,
    is_dir,
    is_file,
    load_document,
    parse_override,
)

__all__ = [
    "LoadedWorkload",
    "Scenario",
    "default_models_dir",
    "load_any",
    "load_model",
    "load_scenario",
    "load_workload",
    "model_ids",
]

WorkloadSpec = Pretrain | Posttrain | Serve

# Derived parameter counts must match the published ones within this fraction: a wrong layer
# count or FFN size moves the total by far more, rounding of published totals by far less.
PARAM_TOLERANCE = 0.02

_SCHEMAS: dict[WorkloadKind, type[WorkloadSpec]] = {
    WorkloadKind.PRETRAIN: Pretrain,
    WorkloadKind.POSTTRAIN: Posttrain,
    WorkloadKind.SERVE: Serve,
}
_KINDS_TEXT = "|".join(kind.value for kind in WorkloadKind)

# Fields of each workload kind that name a model id.
_MODEL_FIELDS: dict[WorkloadKind, tuple[PathKey, ...]] = {
    WorkloadKind.PRETRAIN: (("model",),),
    WorkloadKind.SERVE: (("model",),),
    WorkloadKind.POSTTRAIN: (("model",), ("generator", "model"),
                             ("reward_models", "orm", "model"), ("reward_models", "prm", "model")),
}

# Sections of a model file whose every number must name a source.
_MODEL_SOURCED = ("architecture", "published", "context_length")


def default_models_dir() -> Path:
    """$PLANNER_MODELS, else ./workloads/models, else the copy next to the package source."""
    env = os.environ.get("PLANNER_MODELS")
    if env:
        return Path(env)
    local = Path("workloads") / "models"
    if local.is_dir():
        return local
    return Path(__file__).resolve().parents[2] / "workloads" / "models"


def model_file_name(model_id: str) -> str:
    """The file that holds a model: its id with '-' written as '_', plus '.yaml'."""
    return model_id.replace("-", "_") + ".yaml"


def model_ids(models_dir: str | os.PathLike[str] | None = None) -> list[str]:
    """Ids of every model file in a models folder, sorted."""
    folder = Path(models_dir) if models_dir is not None else default_models_dir()
    return sorted(file.stem.replace("_", "-") for file in folder.glob("*.yaml"))


def load_model(name: str, models_dir: str | os.PathLike[str] | None = None,
               doc: Document | None = None, path: PathKey = ()) -> ModelSpec:
    """The model called ``name``, validated and with its parameter count checked.

    ``doc`` and ``path`` say where the name was written, so that an unknown id is reported at
    that file, line and field, with a "did you mean" over the available ids.
    """
    folder = Path(models_dir) if models_dir is not None else default_models_dir()
    file = folder / model_file_name(name)
    if len(name) > MAX_NAME_CHARS or not re.fullmatch(ID_PATTERN, name) or not is_file(file):
        message = f"unknown model {name!r}"
        known = model_ids(folder)
        hint = did_you_mean(name, known) if known else \
            f"no model files in {folder}; set PLANNER_MODELS to the models folder"
        if doc is not None:
            raise InputError(doc.problem(path, message, hint))
        raise InputError(Problem(str(folder), "", message, hint))
    stat = file.stat()
    return _read_model(str(file), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=64)
def _read_model(file: str, mtime_ns: int, size: int) -> ModelSpec:
    """Load one model file (cached per file version: ModelSpec is immutable)."""
    del mtime_ns, size  # part of the cache key only
    doc = load_document(file)
    spec = validate_document(ModelSpec, doc)
    problems = _check_model(doc, spec)
    if problems:
        raise InputError(problems)
    return spec


def _check_model(doc: Document, spec: ModelSpec) -> list[Problem]:
    """File name matches the id, every figure is sourced, derived totals match published."""
    problems: list[Problem] = []
    stem = Path(doc.file).name
    if stem != model_file_name(spec.id):
        problems.append(doc.problem(("id",), f"id {spec.id!r} does not match the file name",
                                    f"rename the file to {model_file_name(spec.id)}"))
    for leaf in uncovered_fields(doc.data, spec.sources, _MODEL_SOURCED):
        problems.append(doc.problem(tuple(leaf.split(".")), "no source for this figure",
                                    f"add 'sources: {{{leaf}: {{url: ..., tag: vendor}}}}'"))
    counts = count_params(spec.architecture)
    checks = (("total_params", counts.total, spec.published.total_params),
              ("active_params", counts.active, spec.published.active_params))
    for key, derived, published in checks:
        if published is not None and not published > 0:
            problems.append(doc.problem(("published", key), f"{published:g} parameters: the "
                                        "published count must be above zero",
                                        "give the published total, e.g. 70.6e9"))
        elif published is not None and abs(derived / published - 1) > PARAM_TOLERANCE:
            problems.append(doc.problem(
                ("published", key),
                f"the architecture gives {derived:,} parameters, "
                f"{(derived / published - 1):+.1%} off the published {published:,.0f}",
                "check layers, hidden, ffn_hidden, vocab and the moe block"))
    return problems


@dataclass(frozen=True, slots=True)
class LoadedWorkload:
    """A validated workload with every model it references resolved."""

    name: str
    file: str
    spec: WorkloadSpec
    model: ModelSpec
    models: dict[str, ModelSpec]
    doc: Document | None = field(default=None, compare=False, repr=False)  # where it was read
    base: PathKey = ()  # its path inside ``doc`` (a scenario's inline workload)


@dataclass(frozen=True, slots=True)
class Scenario:
    """Workloads that share one fleet (``fleet`` None: the default fleet)."""

    name: str
    file: str
    workloads: tuple[LoadedWorkload, ...]
    fleet: str | None
    timeline: Timeline | None = None  # a roadmap's periods, schedule and supply


def load_workload(path: str | os.PathLike[str], overrides: Sequence[str] = (),
                  models_dir: str | os.PathLike[str] | None = None) -> LoadedWorkload:
    """Load one workload file, apply `--set` overrides, validate it and resolve its models."""
    return _workload_from_doc(load_document(path), overrides, models_dir)


def _workload_from_doc(doc: Document, overrides: Sequence[str],
                       models_dir: str | os.PathLike[str] | None) -> LoadedWorkload:
    """Apply overrides to a loaded workload document, then validate it."""
    apply_overrides(doc, list(overrides))
    return _build_workload(doc, doc.data, (), Path(doc.file).stem, models_dir)


def _build_workload(doc: Document, data: Any, base: PathKey, default_name: str,
                    models_dir: str | os.PathLike[str] | None) -> LoadedWorkload:
    """Validate the workload found at ``base`` in ``doc``; report all its problems at once."""
    kind_or_problem = _kind_of(doc, data, base)
    if isinstance(kind_or_problem, Problem):
        raise InputError(kind_or_problem)
    kind = kind_or_problem
    problems: list[Problem] = []
    spec: WorkloadSpec | None = None
    try:
        spec = validate_data(_SCHEMAS[kind], doc, data, base)
    except InputError as err:
        problems.extend(err.problems)
    models = _resolve_models(doc, data, base, kind, models_dir, problems)
    if spec is not None and not problems:
        problems.extend(check_workload(doc, base, spec, models))
    if problems or spec is None:
        raise InputError(sorted(problems, key=lambda p: (p.file, p.line or 0, p.column or 0)))
    name = spec.name or default_name
    spec = spec.model_copy(update={"name": name})
    return LoadedWorkload(name, doc.file, spec, models[spec.model], models, doc, base)


def _kind_of(doc: Document, data: Any, base: PathKey) -> WorkloadKind | Problem:
    """The workload kind, or a Problem that lists the valid kinds."""
    if not isinstance(data, dict) or "kind" not in data:
        return doc.problem(base, "required field 'kind' is missing",
                           f"add 'kind: {_KINDS_TEXT}'")
    raw = data["kind"]
    try:
        return WorkloadKind(raw)
    except ValueError:
        close = did_you_mean(str(raw), [kind.value for kind in WorkloadKind])
        hint = close if close.startswith("did you mean") else ""
        return doc.problem((*base, "kind"), f"unknown workload kind {raw!r}",
                           f"{hint} expected {_KINDS_TEXT}".strip())


def _resolve_models(doc: Document, data: dict[str, Any], base: PathKey, kind: WorkloadKind,
                    models_dir: str | os.PathLike[str] | None,
                    problems: list[Problem]) -> dict[str, ModelSpec]:
    """Load every model id the workload names; append a Problem for each unknown one."""
    models: dict[str, ModelSpec] = {}
    for ref in _MODEL_FIELDS[kind]:
        name = _get(data, ref)
        if not isinstance(name, str) or name in models:
            continue
        try:
            models[name] = load_model(name, models_dir, doc, (*base, *ref))
        except InputError as err:
            problems.extend(err.problems)
    return models


def _get(data: Any, path: PathKey) -> Any:
    """The value at ``path`` inside nested mappings and lists, or None."""
    for part in path:
        if isinstance(data, dict):
            data = data.get(str(part))
        elif isinstance(data, list) and isinstance(part, int) and part < len(data):
            data = data[part]
        else:
            return None
    return data


def load_scenario(path: str | os.PathLike[str], overrides: Sequence[str] = (),
                  models_dir: str | os.PathLike[str] | None = None) -> Scenario:
    """Load a workload file (it has ``kind``) or a scenario file (it has ``workloads``).

    ``overrides`` are `--set PATH=VALUE` options applied before validation; in a scenario file
    an option whose first segment is a workload's name applies to that workload. The name
    defaults to the file stem.
    """
    doc = load_document(path)
    if "kind" in doc.data:
        workload = _workload_from_doc(doc, overrides, models_dir)
        return Scenario(workload.name, doc.file, (workload,), None)
    if "workloads" in doc.data:
        return _load_scenario_file(doc, overrides, models_dir)
    raise InputError(doc.problem((), "neither a workload nor a scenario",
                                 f"a workload has 'kind: {_KINDS_TEXT}'; a scenario has "
                                 "'workloads:' (a list of workload files)"))


@dataclass(slots=True)
class _Entry:
    """One workload of a scenario file before validation."""

    index: int
    name: str
    doc: Document
    data: Any
    base: PathKey
    overrides: list[str] = field(default_factory=list)
    written: dict[str, str] = field(default_factory=dict)  # routed option -> as the user wrote it


def _load_scenario_file(doc: Document, overrides: Sequence[str],
                        models_dir: str | os.PathLike[str] | None) -> Scenario:
    """Read the listed workloads, route overrides, validate everything, report all problems."""
    problems: list[Problem] = []
    entries = _scenario_entries(doc, problems)
    own = _route_overrides(doc, entries, overrides, problems)
    scenario: ScenarioFile | None = None
    try:
        scenario = validate_document(ScenarioFile, _apply_routed(doc, own, entries))
    except InputError as err:
        problems.extend(err.problems)
    workloads = _build_entries(entries, models_dir, problems)
    fleet = _scenario_fleet(doc, scenario, problems) if scenario else None
    problems.extend(_duplicate_names(doc, entries))
    if scenario is not None and scenario.schedule:
        problems.extend(_schedule_problems(doc, scenario.schedule, workloads))
    if problems or scenario is None:
        raise InputError(sorted(problems, key=lambda p: (p.file != doc.file, p.file,
                                                         p.line or 0, p.column or 0)))
    name = scenario.name or Path(doc.file).stem
    return Scenario(name, doc.file, tuple(workloads), fleet, scenario.timeline())


def _schedule_problems(doc: Document, schedule: dict[str, JobSchedule],
                       workloads: list[LoadedWorkload]) -> list[Problem]:
    """Each schedule entry names a workload of the scenario and suits its kind: demand for a
    serving workload, a time window for training and post-training."""
    kinds = {w.name: w.spec.kind for w in workloads}
    problems: list[Problem] = []
    for name, entry in schedule.items():
        where = ("schedule", name)
        if name not in kinds:
            problems.append(doc.problem(where, f"no workload named {name!r} in this scenario",
                                        did_you_mean(name, kinds)))
        elif kinds[name] == WorkloadKind.SERVE and entry.window_start is not None:
            problems.append(doc.problem(where, f"{name} is a serving workload: it has demand "
                                        "per period, not a start date",
                                        "give requests_per_second or growth_per_quarter"))
        elif kinds[name] != WorkloadKind.SERVE and entry.is_demand:
            problems.append(doc.problem(where, f"{name} is a {kinds[name].value} workload: it runs "
                                        "in a window, it has no request rate",
                                        "give start and deadline (or duration)"))
    return problems


def _scenario_entries(doc: Document, problems: list[Problem]) -> list[_Entry]:
    """Each listed workload: a file (relative to the scenario) or an inline mapping."""
    listed = doc.data.get("workloads")
    if not isinstance(listed, list):
        return []  # ScenarioFile validation reports the shape
    folder = Path(doc.file).parent
    entries: list[_Entry] = []
    for i, item in enumerate(listed):
        if isinstance(item, dict):
            name = str(item.get("name") or f"workload-{i + 1}")
            entries.append(_Entry(i, name, doc, item, ("workloads", i)))
        elif isinstance(item, str):
            file = folder / item
            if not is_file(file):
                problems.append(doc.problem(("workloads", i), f"workload file {item!r} not found",
                                            _missing_file_hint(folder, item)))
                continue
            try:
                sub = load_document(file)
            except InputError as err:
                problems.extend(err.problems)
                continue
            name = str(sub.data.get("name") or file.stem)
            entries.append(_Entry(i, name, sub, sub.data, ()))
    return entries


def _missing_file_hint(folder: Path, item: str) -> str:
    """'did you mean 'x.yaml'? paths are relative to the scenario file' (when one is close)."""
    base = "paths are relative to the scenario file"
    parent = (folder / item).parent
    if not is_dir(parent):
        return base
    siblings = [str(Path(item).parent / f.name) if Path(item).parent != Path() else f.name
                for f in sorted(parent.glob("*.y*ml"))]
    close = did_you_mean(item, siblings)
    return f"{close} {base}" if close.startswith("did you mean") else base


def _route_overrides(doc: Document, entries: list[_Entry], overrides: Sequence[str],
                     problems: list[Problem]) -> list[str]:
    """Give each `--set` option to the workload it names; return the scenario's own options."""
    own: list[str] = []
    by_name = sorted(entries, key=lambda e: -len(e.name))
    for option in overrides:
        raw_path, _, value = option.partition("=")
        entry = next((e for e in by_name if raw_path.strip().startswith(e.name + ".")), None)
        if entry is None:
            parts, _ = parse_override(option)
            if str(parts[0]) not in ScenarioFile.model_fields:
                names = ", ".join(e.name for e in entries)
                problems.append(Problem(f"{doc.file} (--set {option})", str(parts[0]),
                                        "not a scenario field or workload name",
                                        f"prefix a workload name ({names}), e.g. "
                                        f"{entries[0].name if entries else 'name'}.{raw_path}"))
                continue
            own.append(option)
            continue
        rest = raw_path.strip()[len(entry.name) + 1:]
        if entry.base:
            rest = f"workloads[{entry.index}].{rest}"
        (own if entry.base else entry.overrides).append(f"{rest}={value}")
        entry.written[f"{rest}={value}"] = option
    return own


def _apply_routed(doc: Document, options: list[str], entries: list[_Entry]) -> Document:
    """Apply routed overrides; errors then quote each option as the user wrote it."""
    written = {routed: option for entry in entries for routed, option in entry.written.items()}
    try:
        apply_overrides(doc, options)
    finally:
        for key, routed in doc.overridden.items():
            doc.overridden[key] = written.get(routed, routed)
    return doc


def _build_entries(entries: list[_Entry], models_dir: str | os.PathLike[str] | None,
                   problems: list[Problem]) -> list[LoadedWorkload]:
    """Validate each listed workload; collect the problems of all of them."""
    workloads: list[LoadedWorkload] = []
    for entry in entries:
        try:
            _apply_routed(entry.doc, entry.overrides, [entry])
            data = _get(entry.doc.data, entry.base)
            default = Path(entry.doc.file).stem if not entry.base else entry.name
            workloads.append(_build_workload(entry.doc, data, entry.base, default, models_dir))
        except InputError as err:
            problems.extend(err.problems)
    return workloads


def _scenario_fleet(doc: Document, scenario: ScenarioFile,
                    problems: list[Problem]) -> str | None:
    """The fleet path resolved relative to the scenario file; a Problem when it is missing."""
    if scenario.fleet is None:
        return None
    file = Path(doc.file).parent / scenario.fleet
    if not is_file(file):
        problems.append(doc.problem(("fleet",), f"fleet file {scenario.fleet!r} not found",
                                    "paths are relative to the scenario file; omit 'fleet' "
                                    "for the default fleet"))
    return str(file)


def _duplicate_names(doc: Document, entries: list[_Entry]) -> list[Problem]:
    """Workload names must be unique within a scenario (overrides and reports use them)."""
    problems: list[Problem] = []
    seen: set[str] = set()
    for entry in entries:
        if entry.name in seen:
            problems.append(doc.problem(("workloads", entry.index),
                                        f"duplicate workload name {entry.name!r}",
                                        "give one of them a different 'name:'"))
        seen.add(entry.name)
    return problems


def load_any(path: str | os.PathLike[str]) -> str:
    """Validate any input file (`planner validate`) and return a one-line description.

    The file's kind is told by its keys (``kind``, ``workloads``, ``architecture``,
    ``accelerator``, ``sites``), else by its folder (models, systems, fleets).
    """
    doc = load_document(path)
    file = Path(path)
    match _file_kind(doc, file):
        case "workload" | "scenario":
            return _describe_scenario(load_scenario(file))
        case "model":
            stat = file.stat()
            return _describe_model(_read_model(str(file), stat.st_mtime_ns, stat.st_size))
        case "system":
            system = load_system(file)
            return (f"system {system.id}: {system.accelerator.count}x "
                    f"{system.accelerator.name} per {system.unit}")
        case "fleet":
            fleet = load_fleet(file, load_catalog(_hardware_dir_of(file)))
            return f"fleet {fleet.id}: {len(fleet.sites)} sites, {len(fleet.links)} links"
    raise InputError(doc.problem((), "cannot tell what kind of file this is",
                                 f"expected a workload (kind: {_KINDS_TEXT}), a scenario "
                                 "(workloads:), a model (architecture:), a system "
                                 "(accelerator:) or a fleet (sites:)"))


# Keys that identify a file's kind, in the order they are tried, then folder names.
_KIND_KEYS = (("kind", "workload"), ("workloads", "scenario"), ("architecture", "model"),
              ("accelerator", "system"), ("sites", "fleet"))
_KIND_FOLDERS = {"models": "model", "systems": "system", "fleets": "fleet"}


def _file_kind(doc: Document, file: Path) -> str | None:
    """'workload', 'scenario', 'model', 'system', 'fleet', or None when unrecognised."""
    for key, kind in _KIND_KEYS:
        if key in doc.data:
            return kind
    return _KIND_FOLDERS.get(file.parent.name)


def _hardware_dir_of(fleet_file: Path) -> Path:
    """The hardware folder a fleet file sits in (…/fleets/x.yaml), else the default one."""
    root = fleet_file.parent.parent
    if fleet_file.parent.name == "fleets" and (root / "systems").is_dir():
        return root
    return default_hardware_dir()


def _describe_model(spec: ModelSpec) -> str:
    """'model llama-3.1-405b: 406B params (406B active), KV 516 kB/token in BF16'."""
    counts = count_params(spec.architecture)
    kv = kv_bytes_per_token(spec.architecture, BYTES_PER_ELEMENT[Precision.BF16])
    return (f"model {spec.id}: {format_quantity(counts.total, Dimension.COUNT)} params "
            f"({format_quantity(counts.active, Dimension.COUNT)} active), "
            f"KV {format_quantity(kv, Dimension.SIZE)}/token in BF16")


def _describe_scenario(scenario: Scenario) -> str:
    """'workload o1_posttrain: posttrain, model llama-3.1-70b' or a scenario summary."""
    if len(scenario.workloads) == 1 and scenario.fleet is None and \
            scenario.workloads[0].file == scenario.file:
        workload = scenario.workloads[0]
        return f"workload {workload.name}: {workload.spec.kind}, model {workload.spec.model}"
    names = ", ".join(w.name for w in scenario.workloads)
    fleet = scenario.fleet or "the default fleet"
    return f"scenario {scenario.name}: {len(scenario.workloads)} workloads ({names}) on {fleet}"
