"""Read hardware systems and fleets from YAML, validate them and check their consistency."""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from planner.catalog.checks import check_fleet_capacity, check_system
from planner.catalog.schema import Fleet, System
from planner.errors import InputError, Problem
from planner.schema import did_you_mean, validate_document
from planner.yamlio import Document, PathKey, apply_overrides, is_file, load_document

__all__ = ["Catalog", "default_hardware_dir", "load_catalog", "load_fleet", "load_system",
           "uncovered_fields"]

# Sections of a system whose every numeric leaf must name a source.
_SOURCED_SECTIONS = ("accelerator", "scale_up", "scale_out", "host", "power", "purchase", "rental")
_FLEET_SOURCED = ("economics", "cpu_server", "sites", "links")
# Text fields that may start with a digit ("2x Xeon ...") but are not figures.
_TEXT_FIELDS = frozenset({"name", "cpu", "fabric", "description", "date", "unit", "sparsity",
                          "region", "id", "a", "b"})


def default_hardware_dir() -> Path:
    """$PLANNER_HARDWARE, else ./hardware, else the copy next to the package source."""
    env = os.environ.get("PLANNER_HARDWARE")
    if env:
        return Path(env)
    local = Path("hardware")
    if (local / "systems").is_dir():
        return local
    return Path(__file__).resolve().parents[2] / "hardware"


@dataclass(frozen=True, slots=True)
class Catalog:
    """All known systems, by id, sorted."""

    systems: Mapping[str, System]

    def get(self, name: str, where: Problem | None = None, option: str = "--hardware") -> System:
        """The system called ``name``; an InputError with 'did you mean' otherwise."""
        if name in self.systems:
            return self.systems[name]
        hint = did_you_mean(name, self.systems)
        if where is not None:
            raise InputError(Problem(where.file, where.path, f"unknown system {name!r}", hint,
                                     where.line, where.column))
        raise InputError(Problem(option, "", f"unknown system {name!r}", hint))


def uncovered_fields(data: Any, sources: Iterable[str], sections: Iterable[str]) -> list[str]:
    """Numeric or quantity leaves under ``sections`` that no entry of ``sources`` covers.

    A source key covers a field when it equals the field's dotted path or one of its ancestors
    (list indices are written as ``sites[0]`` or covered by the list's name, ``sites``).
    """
    keys = set(sources)
    missing: list[str] = []

    def covered(path: str) -> bool:
        probe = path
        while probe:
            if probe in keys:
                return True
            cut = max(probe.rfind("."), probe.rfind("["))
            probe = probe[:cut] if cut > 0 else ""
        return False

    def walk(value: Any, path: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{path}.{key}" if path else key)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, f"{path}[{i}]")
        elif path.rsplit(".", 1)[-1] in _TEXT_FIELDS:
            return
        elif isinstance(value, int | float | str) and not isinstance(value, bool):
            numeric = isinstance(value, int | float) or (value[:1].isdigit() or
                                                         value[:1] in "$.")
            if numeric and not covered(path):
                missing.append(path)

    for section in sections:
        if section in data:
            walk(data[section], section)
    return missing


def load_system(path: str | os.PathLike[str], overrides: Iterable[str] = ()) -> System:
    """Load and validate one system file; every figure must name a source."""
    options = list(overrides)
    if not options:  # cached per file version (System is immutable): sweeps load it often
        stat = Path(path).stat() if is_file(path) else None
        if stat is not None:
            return _read_system(str(path), stat.st_mtime_ns, stat.st_size)
    return _validate_system(path, options)


@functools.lru_cache(maxsize=256)
def _read_system(file: str, mtime_ns: int, size: int) -> System:
    del mtime_ns, size  # part of the cache key only
    return _validate_system(file, [])


def _validate_system(path: str | os.PathLike[str], overrides: list[str]) -> System:
    doc = apply_overrides(load_document(path), overrides)
    system = validate_document(System, doc)
    problems = _check_system(doc, system)
    if problems:
        raise InputError(problems)
    return system


def _check_system(doc: Document, system: System) -> list[Problem]:
    problems = check_system(doc, system)
    stem = Path(doc.file).stem.replace("_", "-")
    if stem != system.id:
        problems.append(doc.problem(("id",), f"id {system.id!r} does not match the file name",
                                    f"rename the file to {system.id.replace('-', '_')}.yaml "
                                    f"or set id: {stem}"))
    for field in uncovered_fields(doc.data, system.sources, _SOURCED_SECTIONS):
        problems.append(doc.problem(_split(field), "no source for this figure",
                                    f"add 'sources: {{{field}: {{url: ..., tag: vendor}}}}'"))
    for key in system.sources:
        if _split(key)[0] not in doc.data:
            problems.append(doc.problem(("sources", key), "source names a field that is absent",
                                        "fix the field path", key=True))
    if system.scale_up.domain_size % system.accelerator.count and \
            system.accelerator.count % system.scale_up.domain_size:
        problems.append(doc.problem(("scale_up", "domain_size"),
                                    "scale-up domain and accelerators per unit do not nest",
                                    "one must divide the other"))
    return problems


def _split(dotted: str) -> PathKey:
    parts: list[str | int] = []
    for piece in dotted.replace("[", ".").replace("]", "").split("."):
        if piece:
            parts.append(int(piece) if piece.isdigit() else piece)
    return tuple(parts)


def load_catalog(directory: str | os.PathLike[str] | None = None) -> Catalog:
    """Load every ``systems/*.yaml`` under a hardware folder; report all files' problems."""
    root = Path(directory) if directory is not None else default_hardware_dir()
    folder = root / "systems" if (root / "systems").is_dir() else root
    files = sorted(folder.glob("*.yaml"))
    if not files:
        raise InputError(Problem(str(folder), "", "no system files (*.yaml) found",
                                 "set PLANNER_HARDWARE to the hardware folder"))
    systems: dict[str, System] = {}
    problems: list[Problem] = []
    for file in files:
        try:
            system = load_system(file)
        except InputError as err:
            problems.extend(err.problems)
            continue
        systems[system.id] = system
    if problems:
        raise InputError(problems)
    return Catalog(dict(sorted(systems.items())))


def default_fleet_path() -> Path:
    """hardware/fleets/default.yaml."""
    return default_hardware_dir() / "fleets" / "default.yaml"


def load_fleet(path: str | os.PathLike[str] | None, catalog: Catalog,
               overrides: Iterable[str] = ()) -> Fleet:
    """Load a fleet, check its references to systems and sites and that figures are sourced."""
    file = Path(path or default_fleet_path())
    options = list(overrides)
    if not options and is_file(file):  # parsed once per file version (sweeps load it often)
        stat = file.stat()
        doc, fleet = _parse_fleet(str(file), stat.st_mtime_ns, stat.st_size)
    else:
        doc = apply_overrides(load_document(file), options)
        fleet = validate_document(Fleet, doc)
    problems = _check_fleet(doc, fleet, catalog)
    if problems:
        raise InputError(problems)
    return fleet


@functools.lru_cache(maxsize=32)
def _parse_fleet(file: str, mtime_ns: int, size: int) -> tuple[Document, Fleet]:
    """A fleet file's document and validated Fleet (neither is modified afterwards)."""
    del mtime_ns, size  # part of the cache key only
    doc = load_document(file)
    return doc, validate_document(Fleet, doc)


def _check_fleet(doc: Document, fleet: Fleet, catalog: Catalog) -> list[Problem]:
    problems: list[Problem] = check_fleet_capacity(doc, fleet)
    site_ids = [site.id for site in fleet.sites]
    seen: set[str] = set()
    for i, site in enumerate(fleet.sites):
        if site.id in seen:
            problems.append(doc.problem(("sites", i, "id"), f"duplicate site id {site.id!r}",
                                        "site ids must be unique"))
        seen.add(site.id)
        for table in ("inventory", "purchase_limits", "rental_limits", "prices"):
            for name in getattr(site, table):
                if name not in catalog.systems:
                    problems.append(doc.problem(("sites", i, table, name),
                                                f"unknown system {name!r}",
                                                did_you_mean(name, catalog.systems), key=True))
    for i, link in enumerate(fleet.links):
        for end in ("a", "b"):
            name = getattr(link, end)
            if name not in site_ids:
                problems.append(doc.problem(("links", i, end), f"unknown site {name!r}",
                                            did_you_mean(name, site_ids)))
        if link.a == link.b:
            problems.append(doc.problem(("links", i), "a link must join two different sites"))
    for field in uncovered_fields(doc.data, fleet.sources, _FLEET_SOURCED):
        problems.append(doc.problem(_split(field), "no source or marked assumption for this "
                                    "figure", f"add 'sources: {{{field}: {{tag: assumption, "
                                    "note: ...}}}}'"))
    return problems
