"""Strict schema building blocks for YAML inputs: unit-typed fields and friendly errors.

Input files are validated with pydantic models that forbid unknown keys and parse every
dimensional value through :mod:`planner.units`. :func:`validate_document` turns pydantic's error
list into :class:`~planner.errors.Problem` objects that carry the file, line, column and field
path, with a hint ("did you mean ...") for each.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar, get_args, get_origin

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError
from pydantic_core import PydanticCustomError

from planner.errors import InputError, Problem
from planner.limits import MAX_INTEGER
from planner.units import Dimension, UnitError, parse_quantity
from planner.yamlio import Document, PathKey

__all__ = [
    "Bandwidth",
    "BuildPrice",
    "BytePrice",
    "Compute",
    "ComputeRate",
    "Count",
    "Duration",
    "EnergyPrice",
    "Fraction",
    "Money",
    "MoneyRate",
    "PositiveInt",
    "Power",
    "PowerPrice",
    "Rate",
    "Size",
    "StrictModel",
    "did_you_mean",
    "validate_data",
    "validate_document",
]


class StrictModel(BaseModel):
    """Base for every input schema: unknown keys rejected, immutable after parsing.

    ``defer_build``: a model's validator is built on its first use, not when its class is
    defined. A run validates a few root models (a system, a fleet, a workload), whose schemas
    take their nested models' in, so the validators of nested models, and of models a run never
    uses, are never built (0.17 s of class definitions down to 0.05 s in the main job on the
    machine of ``benchmarks/README.md``, "Cold start").
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=False,
                              defer_build=True)


@dataclass(frozen=True, slots=True)
class _QuantityParser:
    """Parses one dimensional field; kept as an object so error hints can name its dimension."""

    dimension: Dimension
    allow_zero: bool

    def __call__(self, value: object) -> float:
        try:
            number = parse_quantity(value, self.dimension)
        except UnitError as err:
            raise PydanticCustomError("unit", "{message}",
                                      {"message": err.message, "hint": err.hint}) from None
        if number < 0 or (number == 0 and not self.allow_zero):
            wanted, hint = (("zero or more", "use zero or a positive value") if self.allow_zero
                            else ("positive", "use a value above zero"))
            raise PydanticCustomError("unit", "{message}",
                                      {"message": f"{value!r} must be {wanted}", "hint": hint})
        if self.dimension is Dimension.FRACTION and number > 1:
            raise PydanticCustomError(
                "unit", "{message}",
                {"message": f"{value!r} is above 1", "hint": "write a fraction such as 0.9 or 90%"})
        return number


def _quantity(dimension: Dimension, *, allow_zero: bool = True) -> BeforeValidator:
    return BeforeValidator(_QuantityParser(dimension, allow_zero))


Size = Annotated[float, _quantity(Dimension.SIZE)]
Bandwidth = Annotated[float, _quantity(Dimension.BANDWIDTH)]
Compute = Annotated[float, _quantity(Dimension.FLOPS)]
ComputeRate = Annotated[float, _quantity(Dimension.FLOP_RATE, allow_zero=False)]
Power = Annotated[float, _quantity(Dimension.POWER)]
Duration = Annotated[float, _quantity(Dimension.DURATION)]
Rate = Annotated[float, _quantity(Dimension.RATE)]
Money = Annotated[float, _quantity(Dimension.MONEY)]
MoneyRate = Annotated[float, _quantity(Dimension.MONEY_RATE)]
EnergyPrice = Annotated[float, _quantity(Dimension.ENERGY_PRICE)]
BytePrice = Annotated[float, _quantity(Dimension.BYTE_PRICE)]
PowerPrice = Annotated[float, _quantity(Dimension.POWER_PRICE)]
BuildPrice = Annotated[float, _quantity(Dimension.BUILD_PRICE)]
Count = Annotated[float, _quantity(Dimension.COUNT)]
Fraction = Annotated[float, _quantity(Dimension.FRACTION)]


def _positive_int(value: object) -> int:
    if isinstance(value, bool):
        raise PydanticCustomError("unit", "{message}",
                                  {"message": f"expected a whole number, got {value}", "hint": ""})
    if isinstance(value, str):
        try:
            value = parse_quantity(value, Dimension.COUNT)
        except UnitError as err:
            raise PydanticCustomError("unit", "{message}",
                                      {"message": err.message, "hint": err.hint}) from None
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or value < 1:
        raise PydanticCustomError(
            "unit", "{message}",
            {"message": f"expected a whole number of at least 1, got {value!r}",
             "hint": "write a count such as 1 or 8"})
    if value > MAX_INTEGER:
        raise PydanticCustomError(
            "unit", "{message}",
            {"message": f"{value:.3g} is too large for a count (limit 10^18)",
             "hint": "check the order of magnitude"})
    return value


PositiveInt = Annotated[int, BeforeValidator(_positive_int)]


def did_you_mean(word: str, choices: Iterable[str], listing: str | None = None) -> str:
    """A 'did you mean' hint for an unknown name, else the valid names (or where to list them)."""
    options = sorted(choices)
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if close:
        return f"did you mean '{close[0]}'?"
    if listing is not None and len(options) > 12:
        return listing
    return "expected one of: " + ", ".join(options)


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The nested model class reached by following ``loc`` through field annotations."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):  # a list index: the list's item model was unwrapped already
            continue
        if isinstance(current, type) and issubclass(current, BaseModel):
            info = current.model_fields.get(str(part))
            if info is None:
                return None
            current = info.annotation
        else:
            current = _unwrap(current)
            if current is None:
                return None
            if isinstance(current, type) and issubclass(current, BaseModel):
                info = current.model_fields.get(str(part))
                current = info.annotation if info else None
        current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(annotation: Any) -> Any:
    """Strip Optional, list[...], dict[str, ...] and Annotated to the inner model class."""
    for _ in range(5):
        origin = get_origin(annotation)
        if origin is None:
            return annotation
        args = [a for a in get_args(annotation) if a is not type(None)]
        if origin is Annotated:
            annotation = args[0]
        elif origin in (list, tuple, set, frozenset):
            annotation = args[0] if args else None
        elif origin is dict:
            annotation = args[1] if len(args) > 1 else None
        else:
            models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
            annotation = models[0] if models else (args[0] if args else None)
    return annotation


_MAPPING = ("a mapping (key: value)", "write 'key: value' entries indented under it")
_TYPE_WORDS: dict[str, tuple[str, str]] = {
    "float_type": ("a number", "write a number such as 4 or 0.5"),
    "float_parsing": ("a number", "write a number such as 4 or 0.5"),
    "int_type": ("a whole number", "write a whole number such as 8"),
    "int_parsing": ("a whole number", "write a whole number such as 8"),
    "int_from_float": ("a whole number", "write a whole number such as 8"),
    "string_type": ("text", "quote it if it looks like a number: '2024'"),
    "bool_type": ("true or false", "write true or false"),
    "bool_parsing": ("true or false", "write true or false"),
    "dict_type": _MAPPING, "model_type": _MAPPING, "model_attributes_type": _MAPPING,
    "list_type": ("a list", "write one '- item' line per entry, or [a, b]"),
}


def _missing_hint(model: type[BaseModel], loc: tuple[Any, ...]) -> str:
    """'add 'name: ...' (a rate; decode tokens/s per user)': what the missing field holds."""
    name = str(loc[-1])
    parent = _model_at(model, loc[:-1])
    info = parent.model_fields.get(name) if parent else None
    notes = []
    if info is not None:
        parsers = [m.func for m in info.metadata if isinstance(m, BeforeValidator)]
        notes += [f"a {p.dimension.value}" for p in parsers if isinstance(p, _QuantityParser)]
        notes += [info.description] if info.description else []
    return f"add '{name}: ...'" + (f" ({'; '.join(notes)})" if notes else "")


def _translate(error: Any, model: type[BaseModel]) -> tuple[tuple[Any, ...], str, str, bool]:
    """Map one pydantic error to (loc, message, hint, points_at_key)."""
    loc: tuple[Any, ...] = tuple(error["loc"])
    if not loc:
        return loc, _plain_message(error), "", False
    kind = error["type"]
    if kind == "missing":
        return loc, "required field is missing", _missing_hint(model, loc), False
    if kind == "extra_forbidden":
        parent = _model_at(model, loc[:-1])
        choices = list(parent.model_fields) if parent else []
        return loc, "unknown field", did_you_mean(str(loc[-1]), choices), True
    if kind == "unit":
        ctx = error.get("ctx", {})
        return loc, str(ctx.get("message", error["msg"])), str(ctx.get("hint", "")), False
    if kind in ("literal_error", "enum"):
        expected = error.get("ctx", {}).get("expected", "")
        return loc, f"{error['input']!r} is not allowed", f"expected {expected}", False
    if kind in _TYPE_WORDS:
        word, hint = _TYPE_WORDS[kind]
        return loc, f"expected {word}, got {error.get('input')!r}", hint, False
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        return loc, f"{error['input']!r}: {error['msg'].lower()}", "", False
    return loc, _plain_message(error), "", False


def _plain_message(error: Any) -> str:
    message = str(error["msg"])
    return message[len("Value error, "):] if message.startswith("Value error, ") else message


def _is_union_tag(part: Any) -> bool:
    return isinstance(part, str) and ("[" in part or part.startswith("function-"))


def _strip_union_tags(loc: tuple[Any, ...], data: Any) -> tuple[Any, ...]:
    """``loc`` without pydantic's union-branch labels; a key that the input holds (even one
    written with brackets, such as 'a[0]') is kept."""
    kept: list[Any] = []
    for part in loc:
        held = (isinstance(data, dict) and part in data) or \
            (isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data))
        if held:
            kept.append(part)
            data = data[part]
        elif _is_union_tag(part):
            continue
        else:
            kept.append(part)
            data = None
    return tuple(kept)


def _union_split(loc: tuple[Any, ...]) -> tuple[tuple[Any, ...], str, int] | None:
    """(field, union branch, depth inside the branch) for an error inside a union, else None."""
    for i, part in enumerate(loc):
        if _is_union_tag(part):
            return tuple(loc[:i]), str(part), len(loc) - i - 1
    return None


def _one_union_branch(errors: list[Any]) -> list[Any]:
    """Keep the errors of one branch per failed union: the one that got deepest, else the first.

    A value that fits no branch of ``Rate | dict[str, Rate]`` fails both; reporting both
    ("not a rate" and "not a mapping") would describe one mistake as two.
    """
    best: dict[tuple[Any, ...], tuple[int, str]] = {}
    for error in errors:
        split = _union_split(error["loc"])
        if split is not None and (split[0] not in best or split[2] > best[split[0]][0]):
            best[split[0]] = (split[2], split[1])
    return [e for e in errors
            if (split := _union_split(e["loc"])) is None or best[split[0]][1] == split[1]]


T = TypeVar("T", bound=BaseModel)


def validate_data(model: type[T], doc: Document, data: Any, base: PathKey = ()) -> T:
    """Validate ``data`` (found at ``base`` inside ``doc``) against ``model``; raise InputError."""
    try:
        result = model.model_validate(data)
    except ValidationError as err:
        problems: list[Problem] = []
        for error in _one_union_branch(err.errors()):
            error["loc"] = _strip_union_tags(tuple(error["loc"]), data)
            loc, message, hint, at_key = _translate(error, model)
            problems.append(doc.problem((*base, *loc), message, hint, key=at_key))
        raise InputError(_dedupe(problems)) from None
    huge = [doc.problem((*base, *path), f"{value:.3g} is too large for a whole number (limit "
                        "10^18)", "check the order of magnitude")
            for path, value in _huge_integers(result.model_dump(by_alias=True))]
    if huge:
        raise InputError(_dedupe(huge))
    return result


def _huge_integers(data: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], int]]:
    """Whole-number fields past MAX_INTEGER: pydantic accepts 1.5e298 for an int field as an
    exact integer, which then overflows the first float conversion in the models."""
    if isinstance(data, bool):
        return []
    if isinstance(data, int):
        return [(path, data)] if abs(data) > MAX_INTEGER else []
    if isinstance(data, dict):
        return [found for key, value in data.items()
                for found in _huge_integers(value, (*path, key))]
    if isinstance(data, list | tuple):
        return [found for i, value in enumerate(data)
                for found in _huge_integers(value, (*path, i))]
    return []


def validate_document(model: type[T], doc: Document) -> T:
    """Validate a whole document against ``model``."""
    return validate_data(model, doc, doc.data)


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen: set[str] = set()
    unique = []
    for problem in problems:
        if str(problem) not in seen:
            seen.add(str(problem))
            unique.append(problem)
    return sorted(unique, key=lambda p: (p.line or 0, p.column or 0))
