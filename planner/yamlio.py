"""Safe YAML loading with source positions, duplicate-key rejection and `--set` overrides.

Every loaded document is a :class:`Document`: plain data (dicts, lists, scalars) plus a map from
field paths to ``(line, column)`` so that later validation errors can point at the exact spot.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from planner.errors import InputError, Problem

PathKey = tuple[str | int, ...]

__all__ = ["Document", "PathKey", "apply_overrides", "format_path", "load_document",
           "parse_override", "write_atomic"]


@dataclass
class Document:
    """A loaded YAML file: its data and where each field came from."""

    file: str
    data: Any
    positions: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    key_positions: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    overridden: dict[PathKey, str] = field(default_factory=dict)

    def where(self, path: PathKey, key: bool = False) -> tuple[int | None, int | None]:
        """Line and column of a field, else of its closest ancestor that has a position."""
        table = self.key_positions if key else self.positions
        probe = tuple(path)
        while True:
            if probe in table:
                return table[probe]
            if probe in self.positions:
                return self.positions[probe]
            if not probe:
                return None, None
            probe = probe[:-1]

    def problem(self, path: PathKey, message: str, hint: str = "", key: bool = False) -> Problem:
        """A Problem located at ``path`` (or at the `--set` option that changed it)."""
        for prefix, option in self.overridden.items():
            created = bool(path) and tuple(prefix[: len(path)]) == tuple(path) and \
                tuple(path) not in self.positions  # a key that only the override wrote
            if tuple(path[: len(prefix)]) == prefix or created:
                return Problem(f"{self.file} (--set {option})", format_path(path), message, hint)
        line, column = self.where(path, key=key)
        return Problem(self.file, format_path(path), message, hint, line, column)


def format_path(path: Sequence[str | int]) -> str:
    """('links', 0, 'bandwidth') -> 'links[0].bandwidth'."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + part
    return text


_PLAIN_TAGS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq", "tag:yaml.org,2002:omap")


class _Builder:
    """Turns a composed node tree into data plus positions; rejects duplicate keys."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.constructor = yaml.SafeLoader("")
        self.positions: dict[PathKey, tuple[int, int]] = {}
        self.key_positions: dict[PathKey, tuple[int, int]] = {}
        self.problems: list[Problem] = []

    def build(self, node: yaml.Node, path: PathKey) -> Any:
        self.positions[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if not isinstance(node, yaml.ScalarNode) and node.tag not in _PLAIN_TAGS:
            raise self._tag_error(node, path)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        try:
            return self.constructor.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError:
            raise self._tag_error(node, path) from None

    def _tag_error(self, node: yaml.Node, path: PathKey) -> InputError:
        """An unknown or Python-object tag: refused (safe loading), located at its field."""
        tag = node.tag.replace("tag:yaml.org,2002:", "!!")
        return InputError(Problem(
            self.file, format_path(path), f"unsupported YAML: tag {tag!r} is not allowed",
            "remove the tag: input files hold plain mappings, lists and scalars only",
            node.start_mark.line + 1, node.start_mark.column + 1))

    def _mapping(self, node: yaml.MappingNode, path: PathKey) -> dict[str, Any]:
        self.constructor.flatten_mapping(node)
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self.constructor.construct_object(key_node, deep=True)
            line, column = key_node.start_mark.line + 1, key_node.start_mark.column + 1
            if not isinstance(key, str):
                key = str(key)
            if key in result:
                first = self.key_positions.get((*path, key), (None, None))[0]
                self.problems.append(Problem(
                    self.file, format_path((*path, key)),
                    f"duplicate key (first defined on line {first})",
                    "remove one of the two entries", line, column))
                continue
            self.key_positions[(*path, key)] = (line, column)
            result[key] = self.build(value_node, (*path, key))
        return result


def load_document(path: str | os.PathLike[str]) -> Document:
    """Read one YAML file safely, keeping positions; raise InputError on any syntax problem."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(Problem(file, "", "file not found",
                                 "check the path (relative to the current directory)")) from None
    except IsADirectoryError:
        raise InputError(Problem(file, "", "is a directory, expected a YAML file")) from None
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(Problem(file, "", f"cannot read file: {err}")) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as err:
        raise InputError(_syntax_problem(file, err)) from None
    except yaml.YAMLError as err:
        raise InputError(Problem(file, "", f"YAML error: {err}")) from None
    if node is None:
        raise InputError(Problem(file, "", "file is empty", "it must hold a YAML mapping"))
    builder = _Builder(file)
    data = builder.build(node, ())
    if builder.problems:
        raise InputError(builder.problems)
    if not isinstance(data, dict):
        raise InputError(Problem(file, "", f"expected a mapping at the top, got "
                                 f"{type(data).__name__}", "start the file with 'key: value'",
                                 *builder.positions[()]))
    return Document(file, data, builder.positions, builder.key_positions)


def _syntax_problem(file: str, err: yaml.MarkedYAMLError) -> Problem:
    """Where the parser stopped, what it expected, and where the open construct started."""
    mark = err.problem_mark or err.context_mark
    message = f"YAML syntax error: {err.problem or err}"
    if err.context:
        started = err.context_mark
        since = ""
        if started is not None and mark is not None and started.line != mark.line:
            since = f" started on line {started.line + 1}"
        message += f" ({err.context}{since})"
    return Problem(file, "", message, "fix the YAML syntax",
                   mark.line + 1 if mark else None, mark.column + 1 if mark else None)


def parse_override(option: str) -> tuple[list[str | int], Any]:
    """'a.b[2].c=30 days' -> (['a', 'b', 2, 'c'], '30 days'); the value is read as YAML."""
    if "=" not in option:
        raise InputError(Problem(f"--set {option}", "", "expected PATH=VALUE (no '=' found)",
                                 "for example --set problems=20M"))
    raw_path, raw_value = option.split("=", 1)
    parts: list[str | int] = []
    for piece in raw_path.strip().replace("[", ".").replace("]", "").split("."):
        if not piece:
            raise InputError(Problem("--set", option, f"empty segment in path {raw_path!r}",
                                     "use dotted names such as generator.batch"))
        parts.append(int(piece) if piece.isdigit() else piece)
    try:
        value = yaml.safe_load(raw_value) if raw_value.strip() else ""
    except yaml.YAMLError:
        value = raw_value
    return parts, value


def apply_overrides(doc: Document, options: Sequence[str]) -> Document:
    """Apply `--set PATH=VALUE` options to a document's data (in place) before validation."""
    for option in options:
        parts, value = parse_override(option)
        node = doc.data
        for depth, part in enumerate(parts[:-1]):
            node = _descend(doc, option, parts, depth, node, part)
        last = parts[-1]
        if isinstance(node, list):
            if not isinstance(last, int) or last >= len(node):
                raise InputError(doc.problem(tuple(parts[:-1]),
                                             f"--set {option}: index {last} is out of range"))
            node[last] = value
        elif isinstance(node, dict):
            node[str(last)] = value
        else:
            raise InputError(_scalar_problem(doc, option, parts, len(parts) - 1, node))
        doc.overridden[tuple(parts)] = option
    return doc


def _descend(doc: Document, option: str, parts: list[str | int], depth: int, node: Any,
             part: str | int) -> Any:
    if isinstance(node, dict):
        key = str(part)
        if key not in node:
            node[key] = {}
        return node[key]
    if isinstance(node, list) and isinstance(part, int) and part < len(node):
        return node[part]
    if not isinstance(node, list) and depth > 0:
        raise InputError(_scalar_problem(doc, option, parts, depth, node))
    raise InputError(doc.problem(tuple(parts[:depth]),
                                 f"--set {option}: {format_path(parts[: depth + 1])} "
                                 "does not exist", "check the field path"))


def _scalar_problem(doc: Document, option: str, parts: list[str | int], depth: int,
                    node: Any) -> Problem:
    """`--set a.b=1` where ``a`` holds a plain value: it has no fields to set."""
    holder = format_path(parts[:depth])
    lead = ("cannot set a field inside a scalar" if depth == len(parts) - 1
            else f"{format_path(parts[: depth + 1])} does not exist")
    return doc.problem(tuple(parts[:depth]),
                       f"--set {option}: {lead}: {holder} holds the value {node!r}, "
                       "not a mapping", f"set {holder}=VALUE itself, or check the field path")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write a file atomically (temp file in the same folder, then rename)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give the usual mode
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
