"""The README's YAML reference lists every schema field, no stale ones, and the right facts.

Also: every example in the README's "## Units" table parses to the SI value written beside it.

Each "### ..." table under "## YAML reference" names its schema (``schema `System` ``); its
rows are the schema's fields as dotted paths (``sites[].pue`` for list items, ``sources.<field>``
for a mapping keyed by names you choose). A field added to or removed from a schema without the
README following fails here, as does a wrong "required" cell or a unit of the wrong dimension.
"""

from __future__ import annotations

import re
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

import pytest
from pydantic import BaseModel, BeforeValidator
from pydantic.fields import FieldInfo

from planner.catalog.schema import Fleet, System
from planner.units import Dimension, parse_quantity
from planner.workload.schema import ModelSpec, Posttrain, Pretrain, ScenarioFile, Serve

README = Path(__file__).resolve().parents[2] / "README.md"
SCHEMAS: dict[str, type[BaseModel]] = {
    model.__name__: model
    for model in (System, Fleet, ModelSpec, Pretrain, Posttrain, Serve, ScenarioFile)
}


def _nested(annotation: Any) -> tuple[str, type[BaseModel]] | None:
    """(path suffix, model) when a field holds a model, a list of them or a mapping to them."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _nested(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        return _nested(args[0]) if len(args) == 1 else None
    if origin in (list, dict):
        inner = _nested(get_args(annotation)[-1])
        if inner is None or inner[0]:
            return None
        return ("[]" if origin is list else ".<field>"), inner[1]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "", annotation
    return None


def schema_fields(model: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, FieldInfo]]:
    """Every field of a schema, depth first, as (dotted path, field info)."""
    for name, info in model.model_fields.items():
        path = prefix + name
        yield path, info
        inner = _nested(info.annotation)
        if inner is not None:
            yield from schema_fields(inner[1], path + inner[0] + ".")


def dimension_of(info: FieldInfo) -> str | None:
    """The physical dimension a quantity field parses ('size', 'rate'), else None."""
    validators = [m for m in info.metadata if isinstance(m, BeforeValidator)]
    annotation = info.annotation
    if get_origin(annotation) in (Union, types.UnionType):  # Optional[Annotated[float, ...]]
        for arg in get_args(annotation):
            if get_origin(arg) is Annotated:
                validators += [m for m in get_args(arg)[1:] if isinstance(m, BeforeValidator)]
    for validator in validators:
        dimension = getattr(validator.func, "dimension", None)
        if dimension is not None:
            return str(dimension.value)
    return None


def readme_tables() -> dict[str, dict[str, list[str]]]:
    """{schema name: {dotted path: row cells}} from the README's YAML reference."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## YAML reference\n", 1)[1].split("\n## ", 1)[0]
    tables: dict[str, dict[str, list[str]]] = {}
    for block in section.split("\n### ")[1:]:
        found = re.search(r"schema `(\w+)`", block.splitlines()[0])
        assert found, f"heading without a schema name: {block.splitlines()[0]}"
        rows = {}
        for line in block.splitlines():
            if line.startswith("| `"):
                cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
                rows[cells[0].strip("`")] = cells
        tables[found.group(1)] = rows
    return tables


def test_every_schema_has_a_table() -> None:
    assert sorted(readme_tables()) == sorted(SCHEMAS)


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_table_lists_exactly_the_schema_fields(name: str) -> None:
    documented = list(readme_tables()[name])
    expected = [path for path, _ in schema_fields(SCHEMAS[name])]
    assert sorted(set(expected) - set(documented)) == [], "fields missing from the README"
    assert sorted(set(documented) - set(expected)) == [], "README rows for no field"
    assert len(documented) == len(set(documented)), "a field is listed twice"


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_required_and_unit_cells_match_the_schema(name: str) -> None:
    rows = readme_tables()[name]
    for path, info in schema_fields(SCHEMAS[name]):
        _, unit, required, default, meaning = rows[path]
        assert required == ("yes" if info.is_required() else "no"), path
        assert (default == "—") == info.is_required(), path
        dimension = dimension_of(info)
        if dimension is not None:
            assert unit.startswith(dimension), f"{path}: {unit!r} is not a {dimension}"
        assert meaning, f"{path} has no meaning"


def test_walker_sees_nested_lists_and_mappings() -> None:
    # The walker itself must reach list items and mapping values, or the checks above are empty.
    fleet = dict(schema_fields(Fleet))
    assert {"sites[].pue", "links[].bandwidth", "sources.<field>.tag"} <= set(fleet)
    assert dimension_of(fleet["links[].bandwidth"]) == "bandwidth"
    assert dimension_of(dict(schema_fields(System))["accelerator.peak_flops.fp8"]) == \
        "compute rate"
    assert dimension_of(fleet["sites[].pue"]) is None


def units_table() -> list[tuple[str, str, float]]:
    """(written, dimension, SI value) for each row of the README's Units table."""
    section = README.read_text(encoding="utf-8").split("\n## Units\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        if line.startswith("| `"):
            written, dimension, si = (c.strip() for c in line.strip().strip("|").split(" | "))
            rows.append((written.strip("`"), dimension, float(si.split()[0])))
    return rows


def test_units_table_values_are_what_the_parser_returns() -> None:
    rows = units_table()
    assert len(rows) >= 15
    dimensions = set()
    for written, dimension, si_value in rows:
        assert parse_quantity(written, Dimension(dimension)) == pytest.approx(si_value), written
        dimensions.add(dimension)
    # Every dimension a schema field uses has an example, except energy (used by no field).
    assert dimensions >= {d.value for d in Dimension} - {"energy"}
