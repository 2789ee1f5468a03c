"""Studies: compare rows, the study schema, scenario expansion, sweeps, resume and executors."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import planner
from planner import comparison as cmp
from planner import study as st
from planner.errors import InputError

STUDY = """\
name: small
workload: serve.yaml
command: estimate
hardware: [dgx-h100, gb200-nvl72]
parameters:
  - path: votes
    values: [1, 2]
  - path: output_tokens
    values: [500, 1000, 2000]
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def study_file(tmp_path: Path, serve_yaml: str) -> Path:
    write(tmp_path, "serve.yaml", serve_yaml)
    return write(tmp_path, "study.yaml", STUDY)


def metric_table(result: st.SweepResult, metric: str) -> dict[tuple[Any, ...], Any]:
    return {(r["option"], *sorted(r["parameters"].items())): r["metrics"].get(metric)
            for r in result.records}


# ---------------------------------------------------------------------------------------------
# Comparison rows


def system(**kw: Any) -> Any:
    fields = {"id": "box", "unit": "node", "accelerators": 8, "power": 10e3,
              "purchase": SimpleNamespace(price=300e3)}
    return SimpleNamespace(**{**fields, **kw})


def test_serve_row_sizes_the_fleet_from_the_request_rate() -> None:
    data = {"requests_per_s_per_unit": 0.5, "unit_usd_per_s": 0.01, "bound": "memory-bandwidth",
            "tokens_per_s_per_user": 30.0, "ttft_s": 0.02, "max_batch": 40}
    facts = {"requests_per_s": 45.0, "output_tokens": 1000.0, "horizon_s": 86400.0}
    row = cmp.summarize_estimate(cmp.Option.hardware("box"), "serve", data, system(), facts)
    # units = 45 / 0.5 = 90; cost = 90 × 0.01 USD/s × 86,400 s = 77,760 USD;
    # per query = 0.01 / 0.5 = 0.02 USD; per 1M answer tokens = 0.02 / 1000 × 1e6 = 20 USD.
    assert row["units"] == pytest.approx(90.0)
    assert row["total_cost_usd"] == pytest.approx(77_760.0)
    assert row["usd_per_query"] == pytest.approx(0.02)
    assert row["cost_per_work_usd"] == pytest.approx(20.0)
    # 90 nodes × 8 GPUs = 720; 90 × 10 kW = 900 kW; 90 × 300k USD = 27M USD to buy.
    assert row["accelerators"] == 720 and row["power_w"] == pytest.approx(900e3)
    assert row["capex_usd"] == pytest.approx(27e6)
    assert row["status"] == "ok" and row["work_unit"] == "1M answer tokens"


def test_posttrain_row_prices_a_million_samples() -> None:
    data = {"units": 50.0, "wall_time_s": 5.184e6, "cost_usd": 7.5e6, "samples": 1.024e10,
            "cpu_cores_needed": 59_259.0, "cpu_cores_short": 100.0, "cpu_servers_needed": 0.52,
            "roles": [{"role": "generate", "bound": "hbm-capacity", "units_needed": 40.0}]}
    row = cmp.summarize_estimate(cmp.Option.hardware("box"), "posttrain", data, system(), {})
    # 7.5e6 USD / 1.024e10 samples × 1e6 = 732.42 USD per million samples.
    assert row["cost_per_work_usd"] == pytest.approx(732.421875)
    assert row["cpu_cores_short"] == 100.0 and row["cpu_servers_needed"] == 0.52
    assert row["roles"][0]["units"] == 40.0 and row["roles"][0]["bound"] == "hbm-capacity"


def test_an_option_that_cannot_do_the_work_is_an_error_row() -> None:
    data = {"units": "inf", "cost_usd": "inf", "samples": 1.0, "wall_time_s": "inf",
            "bound": "memory-capacity"}
    row = cmp.summarize_estimate(cmp.Option.hardware("box"), "posttrain", data, system(), {})
    assert row["status"] == "error" and "memory-capacity" in row["error"]


def test_plan_row_counts_accelerator_units_only() -> None:
    catalog = SimpleNamespace(systems={"gb200-nvl72": system(id="gb200-nvl72", accelerators=72)})
    data = {"total_cost_usd": 2.7e6, "cost_breakdown_usd": {"energy": 0.7e6, "colocation": 2e6},
            "placements": [
                {"site": "tx", "system": "gb200-nvl72", "job": "j", "role": "generate",
                 "units": 38.0},
                {"site": "tx", "system": "gb200-nvl72", "job": "j", "role": "update",
                 "units": 12.0},
                {"site": "tx", "system": "cpu", "job": "j", "role": "verify", "units": 5e4}],
            "purchases": [{"site": "tx", "system": "cpu-server", "units": 3.0}],
            "sites": [{"site": "tx", "power_used_w": 8e6, "cpu_cores_used": 5e4},
                      {"site": "va", "power_used_w": 1e6, "cpu_cores_used": 0.0}],
            "bottlenecks": [{"constraint": "site_power[tx]"}],
            "roles": [{"job": "j", "role": "verify", "bound": "cpu"}]}
    facts = {"horizon_s": 5.184e6, "work": 10_240.0}
    row = cmp.summarize_plan(cmp.Option.fleet("f.yaml"), "posttrain", data, catalog, facts)
    assert row["units"] == 50.0 and row["accelerators"] == 3600  # (38 + 12) racks × 72
    assert row["power_w"] == 9e6 and row["cpu_servers_needed"] == 3.0
    assert row["cost_per_work_usd"] == pytest.approx(2.7e6 / 10_240)
    assert row["sites_used"] == "tx" and row["bound"] == "site_power[tx]"
    roles = {r["role"]: r for r in row["roles"]}
    assert roles["generate"]["units"] == 38.0 and roles["verify"]["units"] is None


def test_fastest_breaks_ties_by_kind() -> None:
    serve = [{"option": "a", "wall_time_s": 100.0, "tokens_per_s_per_user": 30.1, "ttft_s": 0.03},
             {"option": "b", "wall_time_s": 100.0, "tokens_per_s_per_user": 30.0, "ttft_s": 0.01},
             {"option": "c", "wall_time_s": 100.0, "tokens_per_s_per_user": 20.0, "ttft_s": 0.001}]
    assert cmp.pick_fastest(serve, "serve")["option"] == "b"  # same speed, sooner first token
    runs = [{"option": "a", "wall_time_s": 60.0, "accelerators": 4000.0},
            {"option": "b", "wall_time_s": 60.0, "accelerators": 3600.0},
            {"option": "c", "wall_time_s": 90.0, "accelerators": 100.0}]
    # runs sized to one deadline all finish on it: no option is the fastest
    assert cmp.pick_fastest(runs, "posttrain") is None
    assert cmp.pick_fastest(runs[1:], "pretrain")["option"] == "b"  # 60 < 90 days
    assert cmp.pick_fastest(serve[:1], "serve") is None  # one option: nothing to compare
    assert cmp.pick_fastest([], "serve") is None


def test_compare_two_systems_end_to_end(tmp_path: Path, serve_yaml: str) -> None:
    path = write(tmp_path, "serve.yaml", serve_yaml)
    result = planner.compare(path, hardware=["dgx-h100", "gb200-nvl72"])
    data = result.to_dict()
    assert [o["option"] for o in data["options"]] == ["dgx-h100", "gb200-nvl72"]
    ok = [o for o in data["options"] if o["status"] == "ok"]
    assert data["cheapest"] == min(ok, key=lambda o: o["total_cost_usd"])["option"]
    for o in ok:  # units = 10 requests/s over each system's requests/s per unit
        assert o["units"] == pytest.approx(10.0 / o["details"]["requests_per_s_per_unit"])
    figures = data["figures"]
    assert len(figures["roofline"]["systems"]) == 2 and len(figures["kv"]["curves"]) == 2
    for xs, ys in figures["interactivity"]["curves"].values():
        assert xs == sorted(xs, reverse=True) and ys == sorted(ys)  # faster users, smaller batch
    report = result.to_report()
    assert report.figures and report.sections[0].title == "Verdict"


def test_compare_rejects_unknown_systems_and_empty_option_lists(
        tmp_path: Path, serve_yaml: str) -> None:
    path = write(tmp_path, "serve.yaml", serve_yaml)
    with pytest.raises(InputError, match="did you mean 'dgx-h100'"):
        cmp.compare(path, ["dgx-h10"])
    with pytest.raises(InputError, match="nothing to compare"):
        cmp.compare(path, [])


def test_public_api_names_stay_functions_after_every_submodule_is_imported(
        tmp_path: Path, serve_yaml: str) -> None:
    """No subpackage shadows an API function (planner.optimize, planner.compare, ...)."""
    path = write(tmp_path, "serve.yaml", serve_yaml)
    import planner.comparison
    import planner.lp
    import planner.study

    for name in planner.__all__:
        assert callable(getattr(planner, name)), name
    result = planner.compare(path, ["dgx-h100"], figures=False)
    assert isinstance(result, cmp.ComparisonResult)


# ---------------------------------------------------------------------------------------------
# The study file and its expansion


@pytest.mark.parametrize(("body", "expected"), [
    ("workload: serve.yaml\nhardware: [dgx-h100]\nparametrs: []\n",
     "study.yaml:3:1: parametrs: unknown field; did you mean 'parameters'?"),
    ("workload: serve.yaml\nhardware: [dgx-h10]\n",
     "study.yaml:2:12: hardware[0]: unknown system 'dgx-h10'; did you mean 'dgx-h100'?"),
    ("workload: serve.yaml\n", "needs a 'hardware' list"),
    ("workload: nope.yaml\nhardware: [dgx-h100]\n",
     "study.yaml:1:11: workload: file 'nope.yaml' not found"),
    ("workload: serve.yaml\nhardware: [dgx-h100]\nparameters:\n  - path: votes\n"
     "    range: {start: 1, stop: 4, step: 1, num: 3}\n",
     "study.yaml:5:12: parameters[0].range: give either 'step' or 'num'"),
    ("workload: serve.yaml\nhardware: [dgx-h100]\nparameters:\n  - path: votes\n"
     "    random: {low: 1, high: 4}\n", "random parameters need 'samples: N'"),
    ("workload: serve.yaml\nhardware: [dgx-h100]\nparameters:\n  - path: vots\n"
     "    values: [1, 2]\n",
     "study.yaml:4:11: parameters[0].path: --set vots=1 does not load: vots: unknown field "
     "(did you mean 'votes'?)"),
    ("workload: serve.yaml\nhardware: [dgx-h100]\nplots:\n  - {x: votes, wehre: {}}\n",
     "plots[0].wehre: unknown field; did you mean 'where'?"),
    ("workload: serve.yaml\ncommand: roadmap\nhardware: [dgx-h100]\n",
     "'hardware' is for command 'estimate'; roadmap uses 'fleet' or 'fleets'"),
    ("workload: serve.yaml\ncommand: roadmap\nobjective: time\n",
     "a roadmap minimises its net present value; objective 'time' is not available"),
    ("workload: serve.yaml\nhardware: [dgx-h100]\nfleet: f.yaml\n",
     "'fleet'/'fleets' are for commands 'optimize' and 'roadmap'"),
], ids=["unknown-key", "unknown-system", "no-hardware", "no-workload", "range-spacing",
        "random-needs-samples", "misspelt-path", "plot-key", "roadmap-hardware",
        "roadmap-objective", "estimate-fleet"])
def test_study_errors_name_file_line_and_field(tmp_path: Path, body: str, expected: str,
                                               serve_yaml: str) -> None:
    write(tmp_path, "serve.yaml", serve_yaml)
    path = write(tmp_path, "study.yaml", body)
    with pytest.raises(InputError) as info:
        st.load_study(path)
    assert expected in str(info.value)


def test_expand_crosses_options_and_grid_in_a_stable_order(study_file: Path) -> None:
    tasks = st.expand(st.load_study(study_file))
    assert len(tasks) == 12  # 2 systems × 2 votes × 3 lengths
    assert len({t.id for t in tasks}) == 12
    first = tasks[0]
    assert first.option.name == "dgx-h100" and first.overrides == ("votes=1", "output_tokens=500")
    assert [t.index for t in tasks] == list(range(12))
    assert [t.id for t in st.expand(st.load_study(study_file))] == [t.id for t in tasks]


def test_range_values_with_step_num_log_and_unit() -> None:
    study = st.Study.model_validate({"workload": "w", "hardware": ["x"]})

    def values(spec: dict[str, Any]) -> list[str]:
        return [v.text for v in st.parameter_values(st.Parameter.model_validate(spec), study)]

    # 30, 60, 90, 120: stop is inclusive.
    assert values({"path": "deadline", "range": {"start": 30, "stop": 120, "step": 30},
                   "unit": "days"}) == ["30 days", "60 days", "90 days", "120 days"]
    # 4 points evenly spaced in log from 1 to 8: ratio 8^(1/3) = 2.
    assert values({"path": "votes", "range": {"start": 1, "stop": 8, "num": 4,
                                              "scale": "log"}}) == ["1", "2", "4", "8"]
    # 0, 0.5, ..., 2 rounded to whole numbers: 0, 0 (dropped), 1, 2 (dropped), 2.
    assert values({"path": "n", "range": {"start": 0, "stop": 2, "num": 5},
                   "integer": True}) == ["0", "1", "2"]
    assert values({"path": "p", "values": [{"a": "1 s"}, True, "16k"]}) == \
        ["{a: 1 s}", "true", "16k"]


def test_random_draws_are_seeded_and_inside_their_bounds() -> None:
    spec = {"workload": "w", "hardware": ["x"], "samples": 50, "seed": 7, "parameters": [
        {"path": "a", "random": {"low": 5, "high": 60}, "unit": "s"},
        {"path": "b", "random": {"low": 1e-3, "high": 10, "scale": "log"}}]}
    draws = st.random_draws(st.Study.model_validate(spec))
    again = st.random_draws(st.Study.model_validate(spec))
    other = st.random_draws(st.Study.model_validate({**spec, "seed": 8}))
    assert [d["a"].text for d in draws] == [d["a"].text for d in again]
    assert [d["a"].text for d in draws] != [d["a"].text for d in other]
    assert all(5 <= d["a"].x <= 60 and d["a"].text.endswith(" s") for d in draws)
    assert all(1e-3 <= d["b"].x <= 10 for d in draws)
    # Log-uniform over 4 decades: about a quarter of draws below 0.01 (P = 1/4).
    assert 3 <= sum(d["b"].x < 0.01 for d in draws) <= 25


@pytest.mark.parametrize(("value", "x"), [
    (30, 30.0), ("30 days", 30.0), ("16k", 16_000.0), ("1.5 TB/s", 1.5), ("10M", 1e7),
    (True, None), ("fp8", None), ({"a": 1}, None)])
def test_plot_position_of_a_value(value: Any, x: float | None) -> None:
    assert st._x_of(value) == x


def test_random_grid_product(tmp_path: Path, serve_yaml: str) -> None:
    write(tmp_path, "serve.yaml", serve_yaml)
    path = write(tmp_path, "study.yaml", STUDY + "  - path: interactivity\n"
                 "    random: {low: 10, high: 40}\n    unit: tokens/s\nsamples: 3\nseed: 1\n")
    tasks = st.expand(st.load_study(path))
    assert len(tasks) == 36  # 2 systems × 2 votes × 3 lengths × 3 draws
    assert {t.values[-1].path for t in tasks} == {"interactivity"}
    draws = {t.values[-1].text for t in tasks}
    assert len(draws) == 3  # the same 3 draws for every option and grid point


# ---------------------------------------------------------------------------------------------
# Sweeps


def test_sweep_in_process_writes_tidy_results(study_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = planner.sweep(study_file, out_dir=out)
    assert result.summary()["ok"] == 12 and result.ran == 12
    for r in result.records:
        m = r["metrics"]
        votes, out_tokens = int(r["parameters"]["votes"]), int(r["parameters"]["output_tokens"])
        # A query holds a unit for votes·output / (generated tokens/s per unit) seconds (its
        # prompt chunked into the decode steps), so it costs unit_usd_per_s times that.
        seconds = votes * out_tokens / m["tokens_per_s_per_unit"]
        assert m["usd_per_query"] == pytest.approx(m["unit_usd_per_s"] * seconds, rel=1e-9)
        assert m["units"] == pytest.approx(10.0 / m["requests_per_s_per_unit"], rel=1e-9)
    lines = (out / "results.csv").read_text().splitlines()
    assert len(lines) == 13
    assert lines[0].startswith("id,index,option,votes,output_tokens,status,error,seconds,units")
    saved = json.loads((out / "results.json").read_text())
    assert saved["summary"]["scenarios"] == 12 and saved["schema_version"] == 1
    html = (out / "report.html").read_text()
    assert html.count("<svg") == 2 and "src=" not in html  # one default curve per parameter


def test_a_failing_scenario_is_recorded_and_the_study_goes_on(
        tmp_path: Path, serve_yaml: str) -> None:
    write(tmp_path, "serve.yaml", serve_yaml)
    path = write(tmp_path, "study.yaml", STUDY.replace("[500, 1000, 2000]", "[500, -5]"))
    result = st.sweep(path)
    failed = [r for r in result.records if r["status"] != "ok"]
    assert len(result.records) == 8 and len(failed) == 4  # every scenario with -5 tokens
    assert all(r["parameters"]["output_tokens"] == "-5" for r in failed)
    assert all("output_tokens" in r["error"] and r["error_kind"] == "InputError" for r in failed)
    titles = [s.title for s in result.to_report(figures=False).sections]
    assert "Failed scenarios (4; all are in results.csv)" in titles


def test_resume_skips_done_scenarios_and_runs_new_ones(study_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = st.sweep(study_file, out_dir=out)
    again = st.sweep(study_file, out_dir=out)
    assert (again.ran, again.skipped) == (0, 12)
    assert metric_table(again, "usd_per_query") == metric_table(first, "usd_per_query")
    study_file.write_text(STUDY.replace("[1, 2]", "[1, 2, 4]"), encoding="utf-8")
    more = st.sweep(study_file, out_dir=out)
    assert (more.ran, more.skipped, len(more.records)) == (6, 12, 18)  # 2 systems × 3 lengths


def test_crashed_scenarios_are_retried_only_when_asked(study_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    st.sweep(study_file, out_dir=out)
    saved = json.loads((out / "results.json").read_text())
    saved["scenarios"][3].update(status="error", error="worker died",
                                 error_kind="crash: BrokenProcessPool")
    (out / "results.json").write_text(json.dumps(saved))
    kept = st.sweep(study_file, out_dir=out)
    assert kept.ran == 0 and kept.records[3]["status"] == "error"
    rerun = st.sweep(study_file, out_dir=out, retry_failed=True)
    assert rerun.ran == 1 and rerun.records[3]["status"] == "ok"


def test_unreadable_results_file_is_an_input_error(study_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.json").write_text("{not json")
    with pytest.raises(InputError, match="cannot read earlier results"):
        st.sweep(study_file, out_dir=out)


def test_two_worker_processes_give_the_same_results(study_file: Path) -> None:
    serial = st.sweep(study_file)
    parallel = st.sweep(study_file, workers=2)
    assert parallel.workers == 2
    assert metric_table(parallel, "total_cost_usd") == metric_table(serial, "total_cost_usd")
    assert [r["id"] for r in parallel.records] == [r["id"] for r in serial.records]


def test_the_same_study_on_a_dask_local_cluster(study_file: Path) -> None:
    distributed = pytest.importorskip("dask.distributed", reason="the 'dask' extra is not "
                                      "installed")
    serial = st.sweep(study_file)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster:
        on_dask = st.sweep(study_file, scheduler=cluster.scheduler_address)
    assert on_dask.scheduler == cluster.scheduler_address
    assert metric_table(on_dask, "total_cost_usd") == metric_table(serial, "total_cost_usd")


def test_a_missing_dask_is_a_clear_error(study_file: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "dask", None)
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    with pytest.raises(InputError, match=r"Dask is not installed.*planner\[dask\]"):
        st.sweep(study_file, scheduler="tcp://127.0.0.1:8786")


def test_progress_is_reported_for_every_scenario(study_file: Path) -> None:
    seen: list[tuple[int, int]] = []
    st.sweep(study_file, progress=lambda record, done, total: seen.append((done, total)))
    assert seen == [(i, 12) for i in range(1, 13)]


def test_to_frame_needs_pandas(study_file: Path) -> None:
    result = st.sweep(study_file)
    try:
        import pandas  # noqa: F401
    except ImportError:
        with pytest.raises(InputError, match="pandas is not installed"):
            result.to_frame()
    else:
        frame = result.to_frame()
        assert len(frame) == 12 and "votes" in frame.columns


# ---------------------------------------------------------------------------------------------
# Sweep curves


def record(option: str, params: dict[str, str], y: float, status: str = "ok") -> dict[str, Any]:
    return {"id": option + str(params), "index": 0, "option": option, "parameters": params,
            "x": {k: float(v) for k, v in params.items()}, "status": status,
            "metrics": {"cost_per_work_usd": y}}


def sweep_result(records: list[dict[str, Any]], plots: tuple[st.PlotSpec, ...] = ()
                 ) -> st.SweepResult:
    parameters = tuple({"path": p, "label": p, "random": False, "numeric": True,
                        "values": sorted({r["parameters"][p] for r in records}, key=float)}
                       for p in records[0]["parameters"])
    return st.SweepResult("s", "f", "estimate", "w", "serve", ("a", "b"), parameters,
                          tuple(records), plots)


def test_default_curves_split_by_option_and_other_parameters() -> None:
    records = [record(o, {"votes": v, "len": n}, float(v) * float(n))
               for o in ("a", "b") for v in ("1", "2") for n in ("10", "20")]
    records.append(record("a", {"votes": "4", "len": "10"}, 1.0, status="error"))
    votes_plot, len_plot = sweep_result(records).plot_series()
    assert votes_plot["x"] == "votes" and votes_plot["y"] == "cost_per_work_usd"
    assert votes_plot["series"]["a, len=20"] == [[1.0, 2.0], [20.0, 40.0]]  # failed point out
    assert set(len_plot["series"]) == {"a, votes=1", "a, votes=2", "b, votes=1", "b, votes=2"}


def test_where_filters_and_other_parameters_are_held_at_their_first_value() -> None:
    records = [record(o, {"votes": v, "len": n}, float(v) * float(n))
               for o in ("a", "b") for v in ("1", "2") for n in ("10", "20")]
    spec = st.PlotSpec(x="votes", where={"len": 20})
    (plot,) = sweep_result(records, (spec,)).plot_series()
    assert plot["series"] == {"a": [[1.0, 2.0], [20.0, 40.0]], "b": [[1.0, 2.0], [20.0, 40.0]]}
    (held,) = sweep_result(records, (st.PlotSpec(x="votes"),)).plot_series()
    assert held["series"]["a"] == [[1.0, 2.0], [10.0, 20.0]]  # len held at 10
    assert held["caption"] == "not plotted, held at their first value: len=10"
    assert plot["caption"] == "shown at len=20"


def test_too_many_lines_hold_the_group_parameters() -> None:
    records = [record("a", {"x": "1", "g": str(g)}, 1.0) for g in range(st.MAX_SERIES + 1)]
    (plot,) = sweep_result(records, (st.PlotSpec(x="x", group=["g"]),)).plot_series()
    assert list(plot["series"]) == ["a"] and "g=0" in plot["caption"]


def test_metrics_flatten_roles_and_cost_parts() -> None:
    row = {"option": "o", "status": "ok", "units": 3.0, "details": {"units": 1.0, "m": "x"},
           "roles": [{"role": "o1/generate", "units": 2.0, "bound": "compute"}],
           "cost_breakdown_usd": {"energy": 5.0, "egress_usd": 1.0}, "wall_time_s": math.inf}
    flat = st.flatten_row(row)
    assert flat["units"] == 3.0 and flat["m"] == "x"  # the comparison key wins
    assert flat["units_o1_generate"] == 2.0 and flat["bound_o1_generate"] == "compute"
    assert flat["cost_energy_usd"] == 5.0 and flat["cost_egress_usd"] == 1.0
    assert flat["wall_time_s"] == "inf"


# ---------------------------------------------------------------------------------------------
# Roadmap studies (command: roadmap)


ROADMAP_STUDY = """\
name: rm
workload: roadmap.yaml
command: roadmap
fleet: fleet.yaml
parameters:
  - path: schedule.chat.growth_per_quarter
    values: [0%, 20%, 50%]
"""


@pytest.fixture
def roadmap_study(tmp_path: Path) -> Path:
    """Four quarters of chat serving from 100 requests/s, growing by the swept rate, on the
    default fleet's Riyadh site alone (nothing owned, DGX B200 for sale, no lead time)."""
    import yaml

    root = Path(__file__).resolve().parents[2]
    full = yaml.safe_load((root / "hardware/fleets/default.yaml").read_text())
    site = next(s for s in full["sites"] if s["id"] == "riyadh-expansion")
    fleet = {**full, "id": "riyadh-only", "links": [],
             "sites": [{**site, "purchase_limits": {"dgx-b200": 2000}}],
             "sources": {k: {"tag": "assumption", "note": "a test fleet"}
                         for k in ("economics", "cpu_server", "sites")}}
    write(tmp_path, "fleet.yaml", yaml.safe_dump(fleet))
    chat = {"name": "chat", "kind": "serve", "model": "llama-3.1-70b", "input_tokens": 1000,
            "output_tokens": 1000, "interactivity": "30 tokens/s",
            "weights_precision": "fp8", "kv_precision": "fp8", "compute_precision": "fp8",
            "requests_per_second": "50 requests/s"}
    doc = {"name": "rm-test", "fleet": "fleet.yaml",
           "periods": {"start": "2027-01-01", "count": 4, "length": "quarter"},
           "discount_rate": "10%", "workloads": [chat],
           "schedule": {"chat": {"start": "100 requests/s", "growth_per_quarter": "20%"}}}
    write(tmp_path, "roadmap.yaml", yaml.safe_dump(doc, sort_keys=False))
    return write(tmp_path, "study.yaml", ROADMAP_STUDY)


def test_a_roadmap_study_row_is_the_roadmap_of_its_overrides(roadmap_study: Path) -> None:
    from planner import api
    from planner.units import SECONDS_PER_DAY, SECONDS_PER_YEAR

    result = st.sweep(roadmap_study)
    assert result.command == "roadmap" and result.kind == "roadmap"
    records = {r["parameters"]["schedule.chat.growth_per_quarter"]: r for r in result.records}
    assert list(records) == ["0%", "20%", "50%"]
    assert all(r["status"] == "ok" and r["option"] == "fleet" for r in records.values())
    fleet = str(roadmap_study.parent / "fleet.yaml")
    for growth, r in records.items():
        m = r["metrics"]
        data = api.roadmap(roadmap_study.parent / "roadmap.yaml", fleet=fleet,
                           overrides=[f"schedule.chat.growth_per_quarter={growth}"]).to_dict()
        assert m["npv_usd"] == pytest.approx(data["npv_usd"], rel=1e-9)
        assert m["total_cost_usd"] == m["npv_usd"]
        # the discounted cost parts add up to the NPV (the horizon's remaining value negative)
        parts = [m[f"cost_{k}_usd"] for k in data["cost_by_period_usd"][0]
                 if k not in ("period", "total", "discount_factor", "discounted_total")]
        assert sum(parts) == pytest.approx(m["npv_usd"], rel=1e-9)
        assert m["cost_remaining_value_usd"] < 0 < m["cost_purchase_usd"]
        assert m["units_bought_dgx-b200"] == pytest.approx(
            sum(p["units"] for p in data["purchases"]), rel=1e-9)
        assert m["units"] == m["units_bought_dgx-b200"]
        assert m["accelerators"] == pytest.approx(8 * m["units"])  # DGX B200: 8 GPUs a node
        assert m["first_bought_dgx-b200"] == "2027-Q1"  # demand starts in the first quarter
        assert m["mw_built"] == 0.0 and m["periods"] == 4 and m["status"] == "optimal"
        assert m["peak_power_period"] == ("2027-Q1" if growth == "0%" else "2027-Q4")
    # Nothing is owned and nothing retires within the year, so the units bought are the units
    # the last quarter needs: demand there is 100 × (1 + g)^(quarters since 2027-01-01), with
    # 273 days to 2027-10-01 and a year of SECONDS_PER_YEAR.
    quarters = 273 / (SECONDS_PER_YEAR / SECONDS_PER_DAY) * 4
    flat = records["0%"]["metrics"]["units_bought_dgx-b200"]
    for growth, g in (("20%", 0.2), ("50%", 0.5)):
        assert records[growth]["metrics"]["units_bought_dgx-b200"] == pytest.approx(
            flat * (1 + g) ** quarters, rel=1e-6)
    # more demand never costs less
    npv = [records[g]["metrics"]["npv_usd"] for g in ("0%", "20%", "50%")]
    assert npv == sorted(npv) and npv[0] < npv[-1]


def test_a_roadmap_study_plots_its_npv_and_what_it_buys(roadmap_study: Path) -> None:
    result = st.sweep(roadmap_study)
    npv, bought = result.plot_series()
    assert npv["y"] == "npv_usd" and npv["y_label"] == "net present value (USD)"
    assert bought["y"] == "accelerators" and bought["y_label"] == "accelerators bought"
    xs, ys = npv["series"]["fleet"]
    assert xs == [0.0, 20.0, 50.0]
    assert ys == [r["metrics"]["npv_usd"] for r in result.records]


def test_a_roadmap_has_no_cost_basis(roadmap_study: Path) -> None:
    with pytest.raises(InputError, match="a roadmap prices what it buys"):
        st.sweep(roadmap_study, cost_basis="rent")


def test_a_roadmap_study_with_hardware_exits_2(roadmap_study: Path) -> None:
    from click.testing import CliRunner

    from planner.cli import cli

    bad = write(roadmap_study.parent, "bad.yaml",
                ROADMAP_STUDY.replace("fleet: fleet.yaml", "hardware: [dgx-b200]"))
    result = CliRunner().invoke(cli, ["sweep", str(bad)])
    assert result.exit_code == 2
    assert "bad.yaml:1:1: 'hardware' is for command 'estimate'; roadmap uses 'fleet' or " \
        "'fleets'" in result.stderr


def test_roadmap_row_from_hand_built_data() -> None:
    catalog = SimpleNamespace(systems={"big": system(id="big", accelerators=72),
                                       "small": system(id="small", accelerators=8),
                                       "idle": system(id="idle", accelerators=4)})
    periods = [{"name": n, "start": "", "end": ""} for n in ("P0", "P1", "P2")]
    costs = [{"period": "P0", "purchase": 100.0, "energy": 10.0, "remaining_value": 0.0,
              "total": 110.0, "discount_factor": 1.0, "discounted_total": 110.0},
             {"period": "P1", "purchase": 50.0, "energy": 20.0, "remaining_value": 0.0,
              "total": 70.0, "discount_factor": 0.9, "discounted_total": 63.0},
             {"period": "P2", "purchase": 0.0, "energy": 20.0, "remaining_value": -40.0,
              "total": -20.0, "discount_factor": 0.8, "discounted_total": -16.0}]
    data = {"npv_usd": 157.0, "periods": periods, "cost_by_period_usd": costs,
            "status": "optimal", "scenario": "s", "fleet": "f",
            "purchases": [
                {"period": "P1", "site": "a", "system": "big", "units": 2.0},
                {"period": "P0", "site": "b", "system": "small", "units": 3.0},
                {"period": "P0", "site": "b", "system": "big", "units": 1.0},
                {"period": "P1", "site": "b", "system": "cpu-server", "units": 5.0}],
            "power_buildout": [{"period": "P0", "site": "a", "mw": 2.5},
                               {"period": "P1", "site": "b", "mw": 1.0}],
            "sites": [{"period": "P0", "site": "a", "power_used_w": 3e6},
                      {"period": "P0", "site": "b", "power_used_w": 1e6},
                      {"period": "P1", "site": "a", "power_used_w": 2e6},
                      {"period": "P1", "site": "b", "power_used_w": 2.5e6}],
            "retirements": [{"period": "P2", "site": "a", "system": "small", "units": 4.0}],
            "rentals": [{"period": "P1", "site": "a", "system": "small", "units": 1.5},
                        {"period": "P1", "site": "b", "system": "big", "units": 0.5},
                        {"period": "P2", "site": "a", "system": "small", "units": 1.0}],
            "bottlenecks": [{"kind": "demand", "message": "demand at x binds in P1: 3 USD"},
                            {"kind": "power", "message": "power at a binds in P0: 2 USD per MW"}]}
    row = cmp.summarize_roadmap(cmp.Option.fleet("f.yaml"), data, catalog,
                                ["idle", "small", "unknown"])
    # discounted parts: purchase 100 + 50 × 0.9 = 145; energy 10 + 18 + 16 = 44; remaining
    # value −40 × 0.8 = −32; together 157, the NPV
    assert row["cost_breakdown_usd"] == pytest.approx(
        {"purchase": 145.0, "energy": 44.0, "remaining_value": -32.0})
    assert row["npv_usd"] == row["total_cost_usd"] == 157.0
    assert row["units_bought_big"] == 3.0 and row["first_bought_big"] == "P0"
    assert row["units_bought_small"] == 3.0 and row["first_bought_small"] == "P0"
    assert row["units_bought_idle"] == 0.0 and row["first_bought_idle"] is None
    assert "units_bought_unknown" not in row and "units_bought_cpu-server" not in row
    assert row["units"] == 6.0 and row["accelerators"] == 3 * 72 + 3 * 8
    assert row["cpu_servers_needed"] == 5.0 and row["mw_built"] == 3.5
    assert row["peak_power_w"] == 4.5e6 and row["peak_power_period"] == "P1"
    assert row["units_retired"] == 4.0 and row["rented_units_max"] == 2.0
    assert row["bound"] == "power at a binds in P0" and row["periods"] == 3
    flat = st.flatten_row(row)
    assert flat["cost_purchase_usd"] == pytest.approx(145.0) and flat["status"] == "optimal"


def test_default_roadmap_plots_and_legends_in_value_order() -> None:
    from planner.study_plots import default_plots, primary_metric

    assert primary_metric("roadmap", "roadmap") == "npv_usd"
    parameters = [{"path": "g", "numeric": True, "random": False},
                  {"path": "p", "numeric": True, "random": False}]
    specs = default_plots(parameters, "roadmap", "roadmap")
    assert [(s.x, s.y, s.group) for s in specs] == [
        ("g", "npv_usd", ["p"]), ("p", "npv_usd", ["g"]),
        ("g", "accelerators", ["p"]), ("p", "accelerators", ["g"])]
    records = [record("a", {"x": "1", "g": g}, 1.0) for g in ("5", "15", "30")]
    (plot,) = sweep_result(records, (st.PlotSpec(x="x", group=["g"]),)).plot_series()
    assert list(plot["series"]) == ["a, g=5", "a, g=15", "a, g=30"]  # not 15, 30, 5
