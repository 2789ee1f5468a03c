"""Malformed inputs: one bad YAML file (or `--set` option) per case, with the exact message.

Each case runs the real command line (`planner validate FILE`, or `planner estimate` /
`planner optimize` for `--set` problems) from this folder, so file paths appear exactly as typed:
``cases/NAME.yaml``. Every case must exit 2, print nothing on stdout, show no traceback, and
print exactly the expected lines on stderr: file, line and column where a line exists, the field
path, what is wrong and how to fix it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from planner import limits, yamlio
from planner.cli import cli

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SERVE = "cases/sidecars/serve_reasoning.yaml"  # a valid workload: the target of --set cases


@dataclass(frozen=True)
class Case:
    """One malformed input: the command-line arguments and the exact stderr lines."""

    name: str
    args: tuple[str, ...]
    stderr: tuple[str, ...]
    files: tuple[str, ...] = ()


def validate(name: str, *stderr: str) -> Case:
    """`planner validate cases/NAME.yaml`, which must print exactly ``stderr``."""
    return Case(name, ("validate", f"cases/{name}.yaml"), stderr, (f"{name}.yaml",))


def estimate_set(name: str, option: str, *stderr: str) -> Case:
    """`planner estimate` on the valid sidecar workload with one bad `--set` option."""
    return Case(name, ("estimate", SERVE, "--hardware", "dgx-h100", "--set", option), stderr)


CASES = [
    validate(
        "missing_field",
        "error: cases/missing_field.yaml:2:1: interactivity: required field is missing; "
        "add 'interactivity: ...' (a rate; decode tokens/s per user (stream))"),
    validate(
        "wrong_dimension",
        "error: cases/wrong_dimension.yaml:10:18: accelerator.hbm_bandwidth: '3.35 TB' is a "
        "size; expected a bandwidth; for example '3.35 TB/s'"),
    validate(
        "bare_number",
        "error: cases/bare_number.yaml:11:11: deadline: 60 has no unit; expected a duration; "
        "write it with a unit, e.g. '60 s' or '30 days'"),
    validate(
        "negative_value",
        "error: cases/negative_value.yaml:8:23: verifier_cpu_seconds: '-5 s' must be zero or "
        "more; use zero or a positive value"),
    validate(
        "nan_value",
        "error: cases/nan_value.yaml:4:15: input_tokens: 'nan' is not a finite number; "
        "use a finite value"),
    validate(
        "unknown_key",
        "error: cases/unknown_key.yaml:8:1: shared_prefix_fractoin: unknown field; "
        "did you mean 'shared_prefix_fraction'?"),
    validate(
        "unknown_system_in_fleet",
        "error: cases/unknown_system_in_fleet.yaml:18:17: sites[0].inventory.dgx-h10: unknown "
        "system 'dgx-h10'; did you mean 'dgx-h100'?"),
    validate(
        "unknown_system_in_prices",
        "error: cases/unknown_system_in_prices.yaml:19:14: sites[0].prices.dgx-h10: unknown "
        "system 'dgx-h10'; did you mean 'dgx-h100'?"),
    validate(
        "unknown_model",
        "error: cases/unknown_model.yaml:3:8: model: unknown model 'llama-3.1-450b'; "
        "did you mean 'llama-3.1-405b'?"),
    validate(
        "unknown_kind",
        "error: cases/unknown_kind.yaml:2:7: kind: unknown workload kind 'pretrian'; "
        "did you mean 'pretrain'? expected pretrain|posttrain|serve"),
    validate(
        "unknown_precision",
        "error: cases/unknown_precision.yaml:8:20: weights_precision: 'fp6' is not allowed; "
        "expected 'fp4', 'fp8', 'bf16', 'fp16' or 'tf32'"),
    validate(
        "unknown_file_kind",
        "error: cases/unknown_file_kind.yaml:2:1: cannot tell what kind of file this is; "
        "expected a workload (kind: pretrain|posttrain|serve), a scenario (workloads:), a model "
        "(architecture:), a system (accelerator:) or a fleet (sites:)"),
    validate(
        "duplicate_key",
        "error: cases/duplicate_key.yaml:7:1: output_tokens: duplicate key (first defined on "
        "line 5); remove one of the two entries"),
    validate(
        "syntax_error",
        "error: cases/syntax_error.yaml:5:13: YAML syntax error: expected ',' or '}', but got "
        "':' (while parsing a flow mapping started on line 4); fix the YAML syntax"),
    validate(
        "empty",
        "error: cases/empty.yaml: file is empty; it must hold a YAML mapping"),
    validate(
        "top_level_list",
        "error: cases/top_level_list.yaml:2:1: expected a mapping at the top, got list; "
        "start the file with 'key: value'"),
    validate(
        "list_for_mapping",
        "error: cases/list_for_mapping.yaml:9:3: generator: expected a mapping (key: value), "
        "got ['llama-3.1-8b', 'fp8']; write 'key: value' entries indented under it"),
    validate(
        "text_for_mapping",
        "error: cases/text_for_mapping.yaml:8:16: reward_models: expected a mapping "
        "(key: value), got 'llama-3.1-8b'; write 'key: value' entries indented under it"),
    validate(
        "text_for_number",
        "error: cases/text_for_number.yaml:10:25: forward_backward_ratio: expected a number, "
        "got 'four'; write a number such as 4 or 0.5"),
    validate(
        "fraction_above_one",
        "error: cases/fraction_above_one.yaml:9:16: keep_fraction: 1.5 is above 1; "
        "write a fraction such as 0.9 or 90%"),
    validate(
        "zero_count",
        "error: cases/zero_count.yaml:8:8: votes: expected a whole number of at least 1, got 0; "
        "write a count such as 1 or 8"),
    validate(
        "negative_count",
        "error: cases/negative_count.yaml:5:11: architecture.layers: expected a whole number of "
        "at least 1, got -32; write a count such as 1 or 8"),
    estimate_set(
        "set_without_equals", "interactivity",
        "error: --set interactivity: expected PATH=VALUE (no '=' found); "
        "for example --set problems=20M"),
    estimate_set(
        "set_through_scalar", "model.layers=3",
        f"error: {SERVE}:3:8: model: --set model.layers=3: cannot set a field inside a scalar: "
        "model holds the value 'llama-3.1-8b', not a mapping; set model=VALUE itself, "
        "or check the field path"),
    estimate_set(
        "set_wrong_dimension", "interactivity=30 GB",
        f"error: {SERVE} (--set interactivity=30 GB): interactivity: '30 GB' is a size; "
        "expected a rate; for example '30 tokens/s'"),
    # a hit fraction of 1 left the prefill pool nothing to compute and ended in a traceback
    estimate_set(
        "set_prefix_cache_hit_fraction_one", "prefix_cache_hit_fraction=1",
        f"error: {SERVE} (--set prefix_cache_hit_fraction=1): prefix_cache_hit_fraction: "
        "expected a fraction below 1, got 1; the newest tokens of a prompt are never cached; "
        "write e.g. 0.9"),
    Case("set_zero_count_on_optimize", ("optimize", SERVE, "--set", "votes=0"),
         (f"error: {SERVE} (--set votes=0): votes: expected a whole number of at least 1, got 0; "
          "write a count such as 1 or 8",)),
    validate(
        "unsourced_figure",
        "error: cases/unsourced_figure.yaml:15:8: power: no source for this figure; "
        "add 'sources: {power: {url: ..., tag: vendor}}'"),
    validate(
        "link_unknown_site",
        "error: cases/link_unknown_site.yaml:17:18: links[0].b: unknown site 'wset'; "
        "did you mean 'west'?"),
    validate(
        "id_mismatch",
        "error: cases/id_mismatch.yaml:2:5: id: id 'dgx-h100' does not match the file name; "
        "rename the file to dgx_h100.yaml or set id: id-mismatch"),
    validate(
        "scenario_missing_workload",
        "error: cases/scenario_missing_workload.yaml:5:5: workloads[1]: workload file "
        "'sidecars/serve_reasonig.yaml' not found; did you mean "
        "'sidecars/serve_reasoning.yaml'? paths are relative to the scenario file"),
    validate(
        "pretrain_no_size",
        "error: cases/pretrain_no_size.yaml:2:1: give either 'accelerators' (a fixed count) "
        "or 'deadline'"),
    validate(
        "several_problems",
        # Four mistakes on lines 7, 9, 11 and 14: all reported, in line order, then a count.
        "error: cases/several_problems.yaml:7:20: tokens_per_sample: '4 GB' is a size; "
        "expected a count; for example '10M'",
        "error: cases/several_problems.yaml:9:18: generator.interactivity: 20 has no unit; "
        "expected a rate; write it with a unit, e.g. '20/s' or '30 tokens/s'",
        "error: cases/several_problems.yaml:11:16: keep_fraction: '110%' is above 1; "
        "write a fraction such as 0.9 or 90%",
        "error: cases/several_problems.yaml:14:1: polcy_updates: unknown field; "
        "did you mean 'policy_updates'?",
        "4 problems found"),
    validate(
        "python_tag",
        "error: cases/python_tag.yaml:3:8: model: unsupported YAML: tag "
        "'!!python/object/apply:os.system' is not allowed; remove the tag: input files hold "
        "plain mappings, lists and scalars only"),
    # Input limits and the YAML layer: each of these ended in a traceback or a hang.
    validate(
        "alias_bomb",
        "error: cases/alias_bomb.yaml:6:14: the file holds more than 200,000 values once its "
        "aliases (*name) are expanded; planning inputs are far smaller; remove repeated "
        "aliases"),
    validate(
        "recursive_alias",
        "error: cases/recursive_alias.yaml:3:12: the alias *a refers to a mapping or list "
        "that contains it; remove the recursive alias"),
    validate(
        "deep_nesting",
        "error: cases/deep_nesting.yaml:3:71: nesting deeper than 64 levels; flatten the "
        "structure: planning inputs nest a few levels only"),
    validate(
        "bad_int_tag",
        "error: cases/bad_int_tag.yaml:3:9: tokens: '1B' is not a valid !!int value; remove "
        "the tag, or write a number such as 8 or 1.5e12"),
    validate(
        "huge_integer",
        "error: cases/huge_integer.yaml:3:9: tokens: the integer "
        "'9999999999999999999999999999999999999999...' is too large (limit 10^18); write "
        "large values with a prefix or exponent, e.g. '20M' or 1.5e12"),
    validate(
        "overflow_integer",
        "error: cases/overflow_integer.yaml:3:9: tokens: the integer "
        "'1000000000000000000000000000000000000000...' is too large (limit 10^18); write "
        "large values with a prefix or exponent, e.g. '20M' or 1.5e12"),
    validate(
        "merge_scalar",
        "error: cases/merge_scalar.yaml:4:7: efficiency: unsupported YAML merge: expected a "
        "mapping or list of mappings for merging, but found scalar; '<<:' takes a mapping or "
        "a list of mappings (usually an alias such as '<<: *defaults')"),
    validate(
        "python_tag_on_key",
        "error: cases/python_tag_on_key.yaml:3:1: unsupported YAML: tag "
        "'!!python/object/apply:os.system' is not allowed; remove the tag: input files hold "
        "plain mappings, lists and scalars only"),
    validate(
        "bracket_key",
        "error: cases/bracket_key.yaml:8:1: votes[0]: unknown field; did you mean 'votes'?"),
    validate(
        "invalid_utf8",
        "error: cases/invalid_utf8.yaml:3:10: invalid UTF-8 (byte 0xe9); save the file as "
        "UTF-8"),
    validate(
        "huge_float_count",
        "error: cases/huge_float_count.yaml:8:8: votes: 1.5e+298 is too large for a count (limit "
        "10^18); check the order of magnitude"),
    # Found by the 100,000-case fuzz run: a ZeroDivisionError in the parameter-count check.
    validate(
        "zero_params",
        "error: cases/zero_params.yaml:15:17: published.total_params: 0 parameters: the "
        "published count must be above zero; give the published total, e.g. 70.6e9"),
    validate(
        "control_character",
        "error: cases/control_character.yaml:3:8: unacceptable character #x0001: control "
        "characters are not allowed in YAML; remove it or write it as an escape inside double"
        " quotes"),
]


@pytest.fixture
def in_errors_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from this folder against the repository's own catalog and models."""
    monkeypatch.chdir(HERE)
    monkeypatch.setenv("PLANNER_HARDWARE", str(REPO / "hardware"))
    monkeypatch.setenv("PLANNER_MODELS", str(REPO / "workloads" / "models"))


@pytest.mark.usefixtures("in_errors_folder")
@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_malformed_input_exits_2_with_the_exact_message(case: Case) -> None:
    result = CliRunner().invoke(cli, list(case.args))
    assert isinstance(result.exception, SystemExit), result.exception  # no uncaught error
    assert "Traceback" not in result.output
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == list(case.stderr)


@pytest.mark.usefixtures("in_errors_folder")
def test_the_sidecar_workload_is_valid() -> None:
    # The --set cases must fail because of the option, not because of the file.
    result = CliRunner().invoke(cli, ["validate", SERVE])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"ok  {SERVE}  (workload serve_reasoning: serve, model llama-3.1-8b)",
        "1 file(s) valid"]


def test_every_case_file_has_a_case_and_there_are_enough() -> None:
    on_disk = sorted(p.name for p in (HERE / "cases").glob("*.yaml"))
    used = sorted(file for case in CASES for file in case.files)
    assert used == on_disk
    assert len({case.name for case in CASES}) == len(CASES) >= 24


@pytest.mark.usefixtures("in_errors_folder")
@pytest.mark.parametrize("loader", ["pure", "libyaml"])
def test_both_yaml_loaders_give_the_same_messages(loader: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # libyaml's parser is used when PyYAML has it; the pure-Python one otherwise. Every case
    # must read the same, to the character, whichever is present.
    if loader == "libyaml" and not hasattr(yaml, "CSafeLoader"):
        pytest.skip("PyYAML was built without libyaml")
    chosen = yaml.SafeLoader if loader == "pure" else yaml.CSafeLoader
    monkeypatch.setattr(yamlio, "_FAST_LOADER", chosen)
    for case in CASES:
        result = CliRunner().invoke(cli, list(case.args))
        assert result.exit_code == 2, case.name
        assert result.stderr.splitlines() == list(case.stderr), case.name


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_an_endless_file_is_refused_after_the_size_limit() -> None:
    result = CliRunner().invoke(cli, ["validate", "/dev/zero"])
    assert result.exit_code == 2
    assert result.stderr == ("error: /dev/zero: file is larger than 4 MiB; planning inputs are "
                             "a few kilobytes; check the path\n")


def test_a_file_one_byte_over_the_limit_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("a: " + "x" * (limits.MAX_FILE_BYTES - 2))
    result = CliRunner().invoke(cli, ["validate", str(big)])
    assert result.exit_code == 2
    assert "file is larger than 4 MiB" in result.stderr


@pytest.mark.usefixtures("in_errors_folder")
def test_a_huge_integer_in_a_set_option_is_refused() -> None:
    digits = "9" * 5000
    result = CliRunner().invoke(cli, ["estimate", SERVE, "--hardware", "dgx-h100",
                                      "--set", f"input_tokens={digits}"])
    assert result.exit_code == 2
    assert "is too large (limit 10^18)" in result.stderr
    assert "Traceback" not in result.output
