"""YAML loading with positions, duplicate keys, --set overrides and atomic writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from planner.errors import InputError
from planner.yamlio import apply_overrides, load_document, parse_override, write_atomic


def _write(tmp_path: Path, text: str, name: str = "doc.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_positions_are_one_based_line_and_column(tmp_path: Path) -> None:
    doc = load_document(_write(tmp_path, "a: 1\nb:\n  c: 3 GB\n  d: [1, 2]\n"))
    assert doc.data == {"a": 1, "b": {"c": "3 GB", "d": [1, 2]}}
    assert doc.positions[("b", "c")] == (3, 6)
    assert doc.key_positions[("b", "c")] == (3, 3)
    assert doc.positions[("b", "d", 1)] == (4, 10)


def test_where_falls_back_to_the_closest_ancestor(tmp_path: Path) -> None:
    doc = load_document(_write(tmp_path, "a:\n  b: 1\n"))
    assert doc.where(("a", "missing")) == (2, 3)


def test_duplicate_keys_are_rejected_with_both_lines(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        load_document(_write(tmp_path, "a: 1\nb: 2\na: 3\n"))
    assert str(info.value.problems[0]).endswith(
        "doc.yaml:3:1: a: duplicate key (first defined on line 1); remove one of the two entries")


def test_python_object_tags_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        load_document(_write(tmp_path, "a: !!python/object:os.system {}\n"))
    assert "unsupported YAML" in str(info.value)


def test_syntax_error_names_line(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        load_document(_write(tmp_path, "a: [1, 2\nb: 3\n"))
    problem = info.value.problems[0]
    assert problem.line is not None and "YAML syntax error" in problem.message


def test_empty_and_non_mapping_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file is empty"):
        load_document(_write(tmp_path, "# only a comment\n"))
    with pytest.raises(InputError, match="expected a mapping at the top, got list"):
        load_document(_write(tmp_path, "- 1\n- 2\n", "list.yaml"))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        load_document(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    ("option", "path", "value"),
    [
        ("problems=20M", ["problems"], "20M"),
        ("deadline=30 days", ["deadline"], "30 days"),
        ("generator.interactivity=25 tokens/s", ["generator", "interactivity"], "25 tokens/s"),
        ("votes=5", ["votes"], 5),
        ("keep_fraction=0.2", ["keep_fraction"], 0.2),
        ("links[1].bandwidth=1 Tb/s", ["links", 1, "bandwidth"], "1 Tb/s"),
        ("prefix_read_once=false", ["prefix_read_once"], False),
    ],
)
def test_parse_override(option: str, path: list[object], value: object) -> None:
    assert parse_override(option) == (path, value)


def test_bad_override_syntax() -> None:
    with pytest.raises(InputError, match="expected PATH=VALUE"):
        parse_override("problems")
    with pytest.raises(InputError, match="empty segment"):
        parse_override("a..b=1")


def test_apply_overrides_changes_data_and_blames_the_option(tmp_path: Path) -> None:
    doc = load_document(_write(tmp_path, "a: 1\nb:\n  c: 2\nl: [1, 2]\n"))
    apply_overrides(doc, ["b.c=5", "l[0]=9", "b.new=x"])
    assert doc.data == {"a": 1, "b": {"c": 5, "new": "x"}, "l": [9, 2]}
    problem = doc.problem(("b", "c"), "bad")
    assert problem.file.endswith("doc.yaml (--set b.c=5)") and problem.line is None


def test_apply_overrides_rejects_paths_through_scalars_and_bad_indices(tmp_path: Path) -> None:
    doc = load_document(_write(tmp_path, "a: 1\nl: [1]\n"))
    with pytest.raises(InputError, match="does not exist"):
        apply_overrides(doc, ["a.b.c=1"])
    with pytest.raises(InputError, match="out of range"):
        apply_overrides(doc, ["l[3]=1"])


def test_write_atomic_replaces_whole_file(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "out.json"
    write_atomic(target, "first")
    write_atomic(target, "second")
    assert target.read_text() == "second"
    assert [p.name for p in target.parent.iterdir()] == ["out.json"]
