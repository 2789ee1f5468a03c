"""Loading bundled models, workloads and scenarios; overrides; every error names its place."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from planner.errors import InputError
from planner.workload.load import (
    default_models_dir,
    load_any,
    load_model,
    load_scenario,
    load_workload,
    model_ids,
)
from planner.workload.params import count_params
from planner.workload.schema import Posttrain, Pretrain, Serve, WorkloadKind

ROOT = Path(__file__).resolve().parents[2]
WORKLOADS = ROOT / "workloads"
MODELS = WORKLOADS / "models"
BUNDLED_MODELS = ["deepseek-v3", "llama-2-70b", "llama-3.1-405b", "llama-3.1-70b",
                  "llama-3.1-8b", "qwq-32b"]
BUNDLED_WORKLOADS = sorted(p.name for p in WORKLOADS.glob("*.yaml")
                           if not p.name.startswith(("scenario", "roadmap")))


def test_bundled_model_ids() -> None:
    assert set(BUNDLED_MODELS) <= set(model_ids(MODELS))


@pytest.mark.parametrize("model_id", BUNDLED_MODELS)
def test_every_bundled_model_loads_within_two_percent(model_id: str) -> None:
    spec = load_model(model_id, MODELS)
    assert spec.id == model_id
    total = count_params(spec.architecture).total
    assert abs(total / spec.published.total_params - 1) <= 0.02


@pytest.mark.parametrize("name", BUNDLED_WORKLOADS)
def test_every_bundled_workload_loads(name: str) -> None:
    scenario = load_scenario(WORKLOADS / name, models_dir=MODELS)
    (workload,) = scenario.workloads
    assert workload.name == Path(name).stem == scenario.name
    assert workload.spec.name == workload.name
    assert workload.model.id == workload.spec.model
    assert scenario.fleet is None


def test_o1_posttrain_figures() -> None:
    workload = load_workload(WORKLOADS / "o1_posttrain.yaml", models_dir=MODELS)
    spec = workload.spec
    assert isinstance(spec, Posttrain)
    # 10M problems · 4,096 samples · 16k tokens = 6.5536e14 tokens in all samples
    assert spec.problems * spec.samples_per_problem * spec.tokens_per_sample == 6.5536e14
    assert spec.branching_factor ** 6 == spec.samples_per_problem  # a 4-ary tree of depth 6
    assert spec.verifier_cpu_seconds == 30.0
    assert spec.deadline == 60 * 86_400
    assert sorted(workload.models) == ["llama-3.1-70b", "llama-3.1-8b"]
    assert spec.reward_models.prm is not None
    assert spec.reward_models.prm.step_tokens == 512


def test_serve_reasoning_figures() -> None:
    spec = load_workload(WORKLOADS / "serve_reasoning.yaml", models_dir=MODELS).spec
    assert isinstance(spec, Serve)
    assert (spec.output_tokens, spec.interactivity, spec.votes) == (7661, 30.0, 1)
    assert isinstance(spec.requests_per_second, dict)
    assert sorted(spec.requests_per_second) == ["europe", "middle-east", "us-central", "us-east"]
    short = load_workload(WORKLOADS / "serve_reasoning_short.yaml", models_dir=MODELS).spec
    assert isinstance(short, Serve)
    assert short.output_tokens == 775


def test_pretrain_layout_fills_the_cluster() -> None:
    spec = load_workload(WORKLOADS / "pretrain_llama3_405b.yaml", models_dir=MODELS).spec
    assert isinstance(spec, Pretrain)
    layout = spec.parallelism
    assert layout.tp is not None and layout.pp is not None and layout.dp is not None
    # Meta's Table 4: TP 8 · PP 16 · DP 128 = 16,384 GPUs
    assert layout.tp * layout.pp * layout.dp == spec.accelerators == 16_384
    assert spec.tokens == 15.6e12


def test_mixed_scenario() -> None:
    scenario = load_scenario(WORKLOADS / "scenario_mixed.yaml", models_dir=MODELS)
    assert scenario.name == "mixed"
    assert [w.name for w in scenario.workloads] == ["o1_posttrain", "serve_reasoning"]
    assert [w.spec.kind for w in scenario.workloads] == [WorkloadKind.POSTTRAIN,
                                                         WorkloadKind.SERVE]


def test_set_changes_a_value() -> None:
    workload = load_workload(WORKLOADS / "o1_posttrain.yaml", ["problems=20M"], MODELS)
    assert isinstance(workload.spec, Posttrain)
    assert workload.spec.problems == 2e7


def test_set_in_a_scenario_goes_to_the_named_workload() -> None:
    scenario = load_scenario(WORKLOADS / "scenario_mixed.yaml",
                             ["o1_posttrain.problems=20M", 'o1_posttrain.deadline="30 days"'],
                             MODELS)
    spec = scenario.workloads[0].spec
    assert isinstance(spec, Posttrain)
    assert (spec.problems, spec.deadline) == (2e7, 30 * 86_400)


def test_set_without_a_workload_name_in_a_scenario() -> None:
    with pytest.raises(InputError) as err:
        load_scenario(WORKLOADS / "scenario_mixed.yaml", ["problems=20M"], MODELS)
    assert "not a scenario field or workload name" in str(err.value)
    assert "o1_posttrain.problems" in str(err.value)


def test_set_on_a_missing_path_names_the_option() -> None:
    with pytest.raises(InputError) as err:
        load_workload(WORKLOADS / "o1_posttrain.yaml", ["generator.batchsize=64"], MODELS)
    (problem,) = err.value.problems
    assert problem.file.endswith("o1_posttrain.yaml (--set generator.batchsize=64)")
    assert problem.path == "generator.batchsize"
    assert problem.message == "unknown field"


def test_set_inside_a_scalar() -> None:
    with pytest.raises(InputError, match=r"--set problems\.count=3: cannot set a field inside"):
        load_workload(WORKLOADS / "o1_posttrain.yaml", ["problems.count=3"], MODELS)


def write(folder: Path, name: str, text: str) -> Path:
    """Write a YAML file under tmp_path."""
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


SERVE = """\
kind: serve
model: llama-3.1-405b
input_tokens: 40
output_tokens: 775
interactivity: 30 tokens/s
requests_per_second: 2/s
"""


def test_unknown_model_did_you_mean_at_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "w.yaml", SERVE.replace("llama-3.1-405b", "llama-3.1-450b"))
    with pytest.raises(InputError) as err:
        load_workload(path, models_dir=MODELS)
    assert str(err.value) == (f"{path}:2:8: model: unknown model 'llama-3.1-450b'; "
                              "did you mean 'llama-3.1-405b'?")


def test_unknown_model_without_a_document() -> None:
    with pytest.raises(InputError, match=r"unknown model 'qwq-23b'; did you mean 'qwq-32b'\?"):
        load_model("qwq-23b", MODELS)


def test_unknown_kind_lists_the_kinds(tmp_path: Path) -> None:
    path = write(tmp_path, "w.yaml", SERVE.replace("kind: serve", "kind: inference"))
    with pytest.raises(InputError) as err:
        load_scenario(path, models_dir=MODELS)
    assert str(err.value) == (f"{path}:1:7: kind: unknown workload kind 'inference'; "
                              "expected pretrain|posttrain|serve")


def test_misspelt_kind_gets_a_suggestion(tmp_path: Path) -> None:
    path = write(tmp_path, "w.yaml", SERVE.replace("kind: serve", "kind: sevre"))
    with pytest.raises(InputError, match="did you mean 'serve'"):
        load_workload(path, models_dir=MODELS)


def test_all_problems_of_a_file_at_once(tmp_path: Path) -> None:
    text = (SERVE.replace("llama-3.1-405b", "llama-3.1-450b")
            .replace("775", "10 GB").replace("30 tokens/s", "30") + "votez: 5\n")
    path = write(tmp_path, "w.yaml", text)
    with pytest.raises(InputError) as err:
        load_workload(path, models_dir=MODELS)
    found = [(p.path, p.line) for p in err.value.problems]
    assert found == [("model", 2), ("output_tokens", 4), ("interactivity", 5), ("votez", 7)]
    assert "did you mean 'votes'?" in str(err.value)


def test_neither_workload_nor_scenario(tmp_path: Path) -> None:
    path = write(tmp_path, "w.yaml", "model: llama-3.1-8b\n")
    with pytest.raises(InputError, match="neither a workload nor a scenario"):
        load_scenario(path, models_dir=MODELS)


def test_scenario_with_inline_workload_fleet_and_override(tmp_path: Path) -> None:
    write(tmp_path, "fleet.yaml", "id: f\n")
    shutil.copy(WORKLOADS / "serve_reasoning.yaml", tmp_path / "serve.yaml")
    path = write(tmp_path, "s.yaml", """\
fleet: fleet.yaml
workloads:
  - serve.yaml
  - {name: warmup, kind: pretrain, model: llama-3.1-8b, tokens: 1T, sequence_length: 4096,
     accelerators: 64}
""")
    scenario = load_scenario(path, ["warmup.tokens=2T", "serve.votes=3"], MODELS)
    assert scenario.name == "s"
    assert scenario.fleet == str(tmp_path / "fleet.yaml")
    serve, warmup = scenario.workloads
    assert isinstance(serve.spec, Serve) and isinstance(warmup.spec, Pretrain)
    assert (serve.name, serve.spec.votes) == ("serve", 3)
    assert (warmup.name, warmup.spec.tokens) == ("warmup", 2e12)


def test_scenario_reports_every_missing_file(tmp_path: Path) -> None:
    path = write(tmp_path, "s.yaml", "fleet: nowhere.yaml\nworkloads:\n  - missing.yaml\n")
    with pytest.raises(InputError) as err:
        load_scenario(path, models_dir=MODELS)
    assert [(p.path, p.line, p.message) for p in err.value.problems] == [
        ("fleet", 1, "fleet file 'nowhere.yaml' not found"),
        ("workloads[0]", 3, "workload file 'missing.yaml' not found")]


def test_scenario_rejects_duplicate_names(tmp_path: Path) -> None:
    shutil.copy(WORKLOADS / "serve_reasoning.yaml", tmp_path / "serve.yaml")
    path = write(tmp_path, "s.yaml", "workloads:\n  - serve.yaml\n  - serve.yaml\n")
    with pytest.raises(InputError, match=r"s\.yaml:3:5: workloads\[1\]: duplicate workload"):
        load_scenario(path, models_dir=MODELS)


def copy_model(folder: Path, model_id: str) -> Path:
    """Copy a bundled model file into ``folder``; return the copy."""
    name = model_id.replace("-", "_") + ".yaml"
    return Path(shutil.copy(MODELS / name, folder / name))


def test_model_total_far_from_published_is_an_error(tmp_path: Path) -> None:
    path = copy_model(tmp_path, "llama-3.1-8b")
    path.write_text(path.read_text().replace("layers: 32", "layers: 30"))
    # 30 layers: 8,030,261,248 - 2·218,112,000 = 7,594,037,248, -5.4% off 8.03e9
    with pytest.raises(InputError, match=r"published\.total_params: the architecture gives "
                                         r"7,594,037,248 parameters, -5\.4% off"):
        load_model("llama-3.1-8b", tmp_path)


def test_model_reloads_after_an_edit(tmp_path: Path) -> None:
    path = copy_model(tmp_path, "llama-3.1-8b")
    assert load_model("llama-3.1-8b", tmp_path).context_length == 131_072
    path.write_text(path.read_text().replace("context_length: 131072", "context_length: 8192"))
    assert load_model("llama-3.1-8b", tmp_path).context_length == 8192


def test_model_id_must_match_the_file_name(tmp_path: Path) -> None:
    path = copy_model(tmp_path, "llama-3.1-8b")
    path.write_text(path.read_text().replace("id: llama-3.1-8b", "id: llama-8b"))
    with pytest.raises(InputError, match="id 'llama-8b' does not match the file name"):
        load_model("llama-3.1-8b", tmp_path)


def test_model_figures_need_sources(tmp_path: Path) -> None:
    path = copy_model(tmp_path, "llama-3.1-8b")
    text = path.read_text()
    path.write_text(text[: text.index("  context_length:")])  # drop that source
    with pytest.raises(InputError, match="context_length: no source for this figure"):
        load_model("llama-3.1-8b", tmp_path)


def test_default_models_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANNER_MODELS", str(tmp_path))
    assert default_models_dir() == tmp_path
    monkeypatch.delenv("PLANNER_MODELS")
    monkeypatch.chdir(tmp_path)
    assert default_models_dir().resolve() == MODELS  # no ./workloads/models here: the bundled one
    (tmp_path / "workloads" / "models").mkdir(parents=True)
    assert default_models_dir() == Path("workloads") / "models"


@pytest.mark.parametrize(("path", "start"), [
    ("workloads/o1_posttrain.yaml", "workload o1_posttrain: posttrain, model llama-3.1-70b"),
    ("workloads/scenario_mixed.yaml", "scenario mixed: 2 workloads"),
    ("workloads/models/llama_3.1_405b.yaml", "model llama-3.1-405b: 406B params"),
    ("hardware/systems/dgx_h100.yaml", "system dgx-h100: 8x"),
    ("hardware/fleets/default.yaml", "fleet default: "),
], ids=["workload", "scenario", "model", "system", "fleet"])
def test_load_any_describes(path: str, start: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANNER_MODELS", str(MODELS))
    assert load_any(ROOT / path).startswith(start)


def test_load_any_unknown_file(tmp_path: Path) -> None:
    path = write(tmp_path, "x.yaml", "colour: blue\n")
    with pytest.raises(InputError, match="cannot tell what kind of file this is"):
        load_any(path)
