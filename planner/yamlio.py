"""Safe YAML loading with source positions, duplicate-key rejection and `--set` overrides.

Every loaded document is a :class:`Document`: plain data (dicts, lists, scalars) plus a map from
field paths to ``(line, column)`` so that later validation errors can point at the exact spot.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from planner import limits
from planner.errors import InputError, Problem

PathKey = tuple[str | int, ...]

__all__ = [
    "Document",
    "PathKey",
    "apply_overrides",
    "format_path",
    "is_dir",
    "is_file",
    "load_document",
    "parse_override",
    "parse_text",
    "write_atomic",
]


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

# libyaml's parser when PyYAML was built with it (about ten times faster), else pure Python. Both
# report the same positions; on a syntax error the pure-Python parser words the message, so the
# text of every error is the same whichever loader is present.
_PURE_LOADER: type[yaml.SafeLoader] = yaml.SafeLoader
_FAST_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _at(file: str, mark: Any, message: str, hint: str, path: PathKey = ()) -> Problem:
    """A Problem at a parser mark (0-based line and column)."""
    return Problem(file, format_path(path), message, hint, mark.line + 1, mark.column + 1)


class _Builder:
    """Turns a composed node tree into data plus positions; rejects duplicate keys."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.constructor = yaml.SafeLoader("")
        self.positions: dict[PathKey, tuple[int, int]] = {}
        self.key_positions: dict[PathKey, tuple[int, int]] = {}
        self.problems: list[Problem] = []
        self.nodes = 0

    def build(self, node: yaml.Node, path: PathKey) -> Any:
        self.nodes += 1
        if self.nodes > limits.MAX_NODES or len(path) > limits.MAX_DEPTH:
            raise InputError(_too_big(self.file, node.start_mark, self.nodes > limits.MAX_NODES))
        self.positions[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if not isinstance(node, yaml.ScalarNode) and node.tag not in _PLAIN_TAGS:
            raise self._tag_error(node, path)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return self._scalar(node, path)

    def _scalar(self, node: yaml.Node, path: PathKey) -> Any:
        """One scalar; an unknown tag, an unreadable tagged value or a huge integer refused."""
        try:
            value = self.constructor.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError:
            raise self._tag_error(node, path) from None
        except ValueError:  # `!!int 1B`, or an integer of more digits than Python converts
            tag = str(node.tag).replace("tag:yaml.org,2002:", "!!")
            if re.fullmatch(r"[-+]?[0-9_]+", str(node.value)):
                raise InputError(self._huge(node, path)) from None
            raise InputError(_at(self.file, node.start_mark,
                                 f"{_clip(node.value)} is not a valid {tag} value",
                                 "remove the tag, or write a number such as 8 or 1.5e12",
                                 path)) from None
        if isinstance(value, int) and not isinstance(value, bool) and \
                abs(value) > limits.MAX_INTEGER:
            raise InputError(self._huge(node, path))
        return value

    def _huge(self, node: yaml.Node, path: PathKey) -> Problem:
        return _at(self.file, node.start_mark,
                   f"the integer {_clip(node.value)} is too large "
                   f"(limit 10^{len(str(limits.MAX_INTEGER)) - 1})",
                   "write large values with a prefix or exponent, e.g. '20M' or 1.5e12", path)

    def _tag_error(self, node: yaml.Node, path: PathKey) -> InputError:
        """An unknown or Python-object tag: refused (safe loading), located at its field."""
        tag = node.tag.replace("tag:yaml.org,2002:", "!!")
        return InputError(Problem(
            self.file, format_path(path), f"unsupported YAML: tag {tag!r} is not allowed",
            "remove the tag: input files hold plain mappings, lists and scalars only",
            node.start_mark.line + 1, node.start_mark.column + 1))

    def _mapping(self, node: yaml.MappingNode, path: PathKey) -> dict[str, Any]:
        try:
            self.constructor.flatten_mapping(node)
        except yaml.constructor.ConstructorError as err:  # `<<: 5`: a merge of a non-mapping
            mark = err.problem_mark or node.start_mark
            raise InputError(_at(self.file, mark, f"unsupported YAML merge: {err.problem}",
                                 "'<<:' takes a mapping or a list of mappings (usually an "
                                 "alias such as '<<: *defaults')", path)) from None
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            line, column = key_node.start_mark.line + 1, key_node.start_mark.column + 1
            if not isinstance(key_node, yaml.ScalarNode):
                raise InputError(_at(self.file, key_node.start_mark,
                                     "a key must be plain text, not a list or mapping",
                                     "write 'name: value'", path))
            key = self._scalar(key_node, path)
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


def _clip(text: object, width: int = 40) -> str:
    """A value quoted for a message, shortened to ``width`` characters."""
    raw = str(text)
    return repr(raw if len(raw) <= width else raw[:width] + "...")


def _too_big(file: str, mark: Any, nodes: bool) -> Problem:
    """The node-count or nesting limit was passed at ``mark``."""
    if nodes:
        return _at(file, mark, f"the file holds more than {limits.MAX_NODES:,} values once "
                   "its aliases (*name) are expanded",
                   "planning inputs are far smaller; remove repeated aliases")
    return _at(file, mark, f"nesting deeper than {limits.MAX_DEPTH} levels",
               "flatten the structure: planning inputs nest a few levels only")


def _scan(file: str, text: str, loader: Any) -> None:
    """Walk the parser's events once, before building anything: refuse deep nesting, long
    scalars, recursive aliases and alias expansion past the node limit (without expanding)."""
    frames: list[list[Any]] = []  # [anchor, expanded node count] of each open collection
    sizes: dict[str, int] = {}
    for event in yaml.parse(text, Loader=loader):
        size = 0
        if isinstance(event, yaml.CollectionStartEvent):
            frames.append([event.anchor, 1])
            if len(frames) > limits.MAX_DEPTH:
                raise InputError(_too_big(file, event.start_mark, nodes=False))
            continue
        if isinstance(event, yaml.CollectionEndEvent):
            anchor, size = frames.pop()
            if anchor is not None:
                sizes[anchor] = size
        elif isinstance(event, yaml.ScalarEvent):
            if len(event.value) > limits.MAX_SCALAR_CHARS:
                raise InputError(_at(file, event.start_mark,
                                     f"a value of {len(event.value):,} characters (limit "
                                     f"{limits.MAX_SCALAR_CHARS:,})", "shorten it"))
            size = 1
            if event.anchor is not None:
                sizes[event.anchor] = 1
        elif isinstance(event, yaml.AliasEvent):
            if any(frame[0] == event.anchor for frame in frames):
                raise InputError(_at(file, event.start_mark,
                                     f"the alias *{event.anchor} refers to a mapping or list "
                                     "that contains it", "remove the recursive alias"))
            size = sizes.get(str(event.anchor), 1)
        if frames:
            frames[-1][1] += size
            if frames[-1][1] > limits.MAX_NODES:
                raise InputError(_too_big(file, event.start_mark, nodes=True))


def _read_text(file: str, path: str | os.PathLike[str]) -> str:
    """The file's text, at most MAX_FILE_BYTES of it; invalid UTF-8 located by line."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(limits.MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise InputError(Problem(file, "", "file not found",
                                 "check the path (relative to the current directory)")) from None
    except IsADirectoryError:
        raise InputError(Problem(file, "", "is a directory, expected a YAML file")) from None
    except OSError as err:
        raise InputError(Problem(file, "", f"cannot read file: {err.strerror or err}")) from None
    if len(raw) > limits.MAX_FILE_BYTES:
        raise InputError(Problem(file, "", f"file is larger than "
                                 f"{limits.MAX_FILE_BYTES // 2**20} MiB",
                                 "planning inputs are a few kilobytes; check the path"))
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        column = err.start - (raw.rfind(b"\n", 0, err.start) + 1) + 1
        raise InputError(Problem(file, "", f"invalid UTF-8 (byte 0x{raw[err.start]:02x})",
                                 "save the file as UTF-8", line, column)) from None


def _compose(file: str, text: str, loader: Any) -> yaml.Node | None:
    """Scan then compose ``text`` with ``loader``; YAML errors become Problems."""
    try:
        _scan(file, text, loader)
        return yaml.compose(text, Loader=loader)
    except yaml.MarkedYAMLError as err:
        raise InputError(_syntax_problem(file, err)) from None
    except yaml.reader.ReaderError as err:  # a control character or other unprintable one
        before = text[: err.position]
        line = before.count("\n") + 1
        column = err.position - (before.rfind("\n") + 1) + 1
        char = err.character
        code = char if isinstance(char, int) else ord(str(char)[:1] or "?")
        raise InputError(Problem(file, "", f"unacceptable character #x{code:04x}: "
                                 "control characters are not allowed in YAML",
                                 "remove it or write it as an escape inside double quotes",
                                 line, column)) from None
    except yaml.YAMLError as err:
        raise InputError(Problem(file, "", f"YAML error: {err}")) from None


def parse_text(file: str, text: str) -> Any:
    """Data of one YAML text (a file's, or a `--set` value), with every input limit applied."""
    return _build(file, text).data


def _build(file: str, text: str) -> Document:
    try:
        node = _compose(file, text, _FAST_LOADER)
    except InputError:
        if _FAST_LOADER is _PURE_LOADER:
            raise
        node = _compose(file, text, _PURE_LOADER)  # the pure parser words every message
    if node is None:
        return Document(file, None)
    builder = _Builder(file)
    data = builder.build(node, ())
    if builder.problems:
        raise InputError(builder.problems)
    return Document(file, data, builder.positions, builder.key_positions)


def load_document(path: str | os.PathLike[str]) -> Document:
    """Read one YAML file safely, keeping positions; raise InputError on any syntax problem."""
    file = str(path)
    doc = _build(file, _read_text(file, path))
    if doc.data is None and not doc.positions:
        raise InputError(Problem(file, "", "file is empty", "it must hold a YAML mapping"))
    if not isinstance(doc.data, dict):
        raise InputError(Problem(file, "", f"expected a mapping at the top, got "
                                 f"{type(doc.data).__name__}", "start the file with 'key: value'",
                                 *doc.positions[()]))
    return doc


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
        value = parse_text(f"--set {option}", raw_value) if raw_value.strip() else ""
    except InputError as err:
        if not any("YAML syntax error" in p.message for p in err.problems):
            raise
        value = raw_value  # not YAML: the schema reads it as text
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


def is_file(path: str | os.PathLike[str]) -> bool:
    """Path.is_file() that answers False, not OSError, for a name the system refuses (over 255
    characters: ENAMETOOLONG) or a path it cannot look into."""
    try:
        return Path(path).is_file()
    except (OSError, ValueError):
        return False


def is_dir(path: str | os.PathLike[str]) -> bool:
    """Path.is_dir() with the same refusals answered False (see :func:`is_file`)."""
    try:
        return Path(path).is_dir()
    except (OSError, ValueError):
        return False


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
