"""Fuzzing: mutated input files and `--set` options never crash, hang or lie about where.

Every bundled kind of input file (workload, scenario, roadmap, model, system, fleet, study) is
mutated by hypothesis, structurally (a value replaced by a hostile one, a key dropped, renamed
or added, a list emptied) or as text (characters inserted, spans deleted, lines doubled),
written into a copy of the repository's input folders, and run through the real command line:
``planner validate`` on the file, then the command that uses it (``estimate`` for workloads,
models and systems, ``optimize`` for fleets and scenarios, ``roadmap`` for roadmaps). `--set`
options get the same hostile values on existing and invented paths. Each run must:

- exit 0, 2 or 3 (never 1, 4 or an uncaught exception), without a traceback;
- on exit 2, give every error line that names an input file a line number (``file:LINE``),
  unless the problem has no line (an empty file) or came from a `--set` option, and never
  report an internal ``<planning inputs>`` check;
- finish within 10 s, with the process staying under 1 GB of memory.

The seed is fixed (``derandomize``): CI runs the same cases every time. The default budget
runs 5,000+ cases in the plain ``pytest`` run (``PLANNER_FUZZ_EXAMPLES`` scales it); the
``fuzz``-marked tests run 100,000 (``pytest -m fuzz``, excluded by default).
"""

from __future__ import annotations

import copy
import os
import re
import resource
import shutil
import signal
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.cli import cli

REPO = Path(__file__).resolve().parents[2]
SCALE = float(os.environ.get("PLANNER_FUZZ_SCALE", "1"))
FILE_EXAMPLES = int(3500 * SCALE)  # mutated files: validate + the command that uses the file
SET_EXAMPLES = int(2000 * SCALE)  # --set options
NIGHTLY_FILE_EXAMPLES = 60_000
NIGHTLY_SET_EXAMPLES = 40_000
TIME_LIMIT_S = 10.0
MEMORY_LIMIT_BYTES = 1 << 30

# ---------------------------------------------------------------------------------------------
# The inputs: every bundled YAML file, by kind, and the command that uses each one.


@dataclass(frozen=True)
class Input:
    """One bundled file (relative to the copy's root) and how it is used after validation."""

    path: str
    kind: str

    def commands(self) -> list[list[str]]:
        follow: list[str]
        match self.kind:
            case "workload":
                follow = ["estimate", self.path, "--hardware", "dgx-h100"]
            case "scenario":
                follow = ["optimize", self.path]
            case "roadmap":
                follow = ["roadmap", self.path]
            case "model":
                model = Path(self.path).stem.replace("_", "-")
                follow = ["estimate", "workloads/serve_reasoning_short.yaml", "--hardware",
                          "gb200-nvl72", "--set", f"model={model}"]
            case "system":
                system = Path(self.path).stem.replace("_", "-")
                follow = ["estimate", "workloads/serve_reasoning_short.yaml", "--hardware",
                          system]
            case "fleet":
                follow = ["optimize", "workloads/serve_reasoning_short.yaml", "--fleet",
                          self.path]
            case _:
                return [["validate", self.path]]
        return [["validate", self.path], follow]


def _inputs() -> list[Input]:
    found = [Input(str(p.relative_to(REPO)), "model")
             for p in sorted((REPO / "workloads" / "models").glob("*.yaml"))]
    for path in sorted((REPO / "workloads").glob("*.yaml")):
        text = path.read_text()
        kind = ("roadmap" if "\nperiods:" in text else "scenario") if "workloads:" in text \
            else "workload"
        found.append(Input(str(path.relative_to(REPO)), kind))
    found += [Input(str(p.relative_to(REPO)), "system")
              for p in sorted((REPO / "hardware" / "systems").glob("*.yaml"))]
    found += [Input(str(p.relative_to(REPO)), "fleet")
              for p in sorted((REPO / "hardware" / "fleets").glob("*.yaml"))]
    found += [Input(str(p.relative_to(REPO)), "study")
              for p in sorted((REPO / "examples").glob("*/study.yaml"))]
    return found


INPUTS = _inputs()
WORKLOADS = [i for i in INPUTS if i.kind in ("workload", "scenario", "roadmap")]

# ---------------------------------------------------------------------------------------------
# Hostile values


UNITS = ["s", "ms", "days", "GB", "TB/s", "W", "kW", "MW", "USD", "USD/h", "USD/MWh",
         "tokens/s", "/s", "requests/s", "FLOP/s", "%", "", "GiB", "bogus", "k", "M", "T"]
SPECIAL: list[Any] = [
    0, -1, 1, 2, 7, 0.5, 1e-300, 1e308, -1e308, 10**18, 10**19, 2**63, "9" * 400,
    float("inf"), float("-inf"), float("nan"), ".inf", "-.inf", ".nan", "1e400", "1e30", "1e9",
    "", " ", "0 s", "0 GB", "-5 s", "30 days", "3.35 TB/s", "20M", "1B", "abc", "nan", "inf",
    "0%", "150%", "1e30 s", "0/s", "1e9/s", True, False, None, [], {}, [1, 2], {"a": 1},
    "dgx-h100", "llama-3.1-8b", "deepseek-v3", "x" * 300, "a[0]", "*", "~", "!!int 1B",
    "mars", {"mars": "10/s"}, {"us-east": "0/s"}, "serve", "pretrain", "posttrain",
]
NUMBERS = st.one_of(st.integers(-(10**20), 10**20), st.floats(allow_nan=True,
                                                                allow_infinity=True))
# Each draw is a fresh copy: a mutation may change a drawn list or mapping in place, and a
# shared one would carry that into later examples (Hypothesis then reports the data generation
# as flaky, FlakyStrategyDefinition).
VALUES: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from(SPECIAL).map(copy.deepcopy),
    NUMBERS,
    st.builds(lambda n, u: f"{n:g} {u}".strip(), st.floats(-1e40, 1e40), st.sampled_from(UNITS)),
    st.text(max_size=12),
)

# ---------------------------------------------------------------------------------------------
# Mutations


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _paths(value, (*prefix, i))


def _parent(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path[:-1]:
        data = data[part]
    return data


@st.composite
def structural(draw: st.DrawFn, text: str) -> str:
    """Parse, change one node (or a few), dump again."""
    data = yaml.safe_load(text)
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(data) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = _parent(data, path)
        action = draw(st.sampled_from(["replace", "replace", "replace", "delete", "rename",
                                       "add", "empty"]))
        key = path[-1]
        if action == "replace":
            parent[key] = draw(VALUES)
        elif action == "delete":
            del parent[key]
        elif action == "rename" and isinstance(parent, dict):
            parent[draw(st.sampled_from([f"{key}x", str(key)[:-1] or "k", f"{key}[1]",
                                         "kind", "sites", "workloads"]))] = parent.pop(key)
        elif action == "add" and isinstance(parent, dict):
            parent[draw(st.sampled_from(["extra", "name", "id", "accelerators", "deadline",
                                         "parallelism", "requests_per_second"]))] = draw(VALUES)
        elif action == "empty":
            parent[key] = draw(st.sampled_from([[], {}, None, ""]).map(copy.deepcopy))
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


INSERTS = ["&a", "*a", "&a [*a]", "<<: 5", "!!python/name:os", "!!int x", "{", "[", ": :",
           "\t", "\x00", "\x01", "\ufeff", "---\n", "? [a]\n", "- ", "%YAML 1.1\n"]


@st.composite
def textual(draw: st.DrawFn, text: str) -> str:
    """Edit the text itself: insert characters, delete a span, double or drop a line."""
    action = draw(st.sampled_from(["insert", "delete", "double", "truncate", "indent"]))
    at = draw(st.integers(0, len(text)))
    if action == "insert":
        piece = draw(st.one_of(st.text(max_size=4),
                               st.sampled_from(INSERTS)))
        return text[:at] + piece + text[at:]
    if action == "delete":
        return text[:at] + text[at + draw(st.integers(1, 40)):]
    lines = text.splitlines(keepends=True)
    if not lines:
        return text
    i = draw(st.integers(0, len(lines) - 1))
    if action == "double":
        return "".join(lines[: i + 1] + lines[i:])
    if action == "truncate":
        return "".join(lines[:i])
    return "".join([*lines[:i], " " + lines[i], *lines[i + 1:]])


@st.composite
def mutated_file(draw: st.DrawFn) -> tuple[Input, bytes]:
    target = draw(st.sampled_from(INPUTS))
    text = (REPO / target.path).read_text(encoding="utf-8")
    new = draw(structural(text)) if draw(st.booleans()) else draw(textual(text))
    raw = new.encode("utf-8", "surrogatepass")
    if draw(st.integers(0, 40)) == 0:
        raw = raw + b"\xff\xfe"  # invalid UTF-8 now and then
    return target, raw


@st.composite
def set_option(draw: st.DrawFn) -> tuple[list[str], str]:
    """A workload and a command with one to three `--set` options on real or invented paths."""
    target = draw(st.sampled_from(WORKLOADS))
    data = yaml.safe_load((REPO / target.path).read_text(encoding="utf-8"))
    paths = [".".join(str(p) for p in path) for path in _paths(data) if path
             and all(isinstance(p, str) for p in path)]
    invented = ["efficiency.goodput", "efficiency.compute", "parallelism.tp", "parallelism.ep",
                "accelerators", "deadline", "requests_per_second", "reward_models.prm.step_tokens",
                "generator.interactivity", "nope", "a.b.c", "model.layers", "votes[0]",
                "workloads[0]", "o1_posttrain.deadline", "serve_reasoning.votes"]
    options = []
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(paths + invented))
        value = draw(VALUES)
        text = value if isinstance(value, str) else yaml.safe_dump(
            value, default_flow_style=True).strip().removesuffix("\n...").strip()
        options += ["--set", f"{path}={text}"]
    command = ["roadmap", target.path] if target.kind == "roadmap" else \
        ["optimize", target.path] if target.kind == "scenario" or \
        draw(st.integers(0, 9)) == 0 else ["estimate", target.path, "--hardware", "dgx-h100"]
    return [*command, *options], target.path


# ---------------------------------------------------------------------------------------------
# Running and checking


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A copy of the input folders; each case changes one file and puts it back."""
    copy = tmp_path_factory.mktemp("fuzz")
    for folder in ("hardware", "workloads", "examples"):
        shutil.copytree(REPO / folder, copy / folder)
    old = Path.cwd()
    saved = {k: os.environ.get(k) for k in ("PLANNER_HARDWARE", "PLANNER_MODELS")}
    os.chdir(copy)
    os.environ["PLANNER_HARDWARE"] = str(copy / "hardware")
    os.environ["PLANNER_MODELS"] = str(copy / "workloads" / "models")
    try:
        yield copy
    finally:
        os.chdir(old)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class _TimeoutError(Exception):
    pass


def _alarm(signum: int, frame: object) -> None:
    raise _TimeoutError


def invoke(args: list[str]) -> tuple[int, str, float]:
    """Run one command in-process under the time limit; (exit code, stderr, seconds)."""
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, TIME_LIMIT_S)
    start = time.perf_counter()
    try:
        result = CliRunner().invoke(cli, args)
    except _TimeoutError:
        raise AssertionError(f"over {TIME_LIMIT_S} s: planner {' '.join(args)}") from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    seconds = time.perf_counter() - start
    if isinstance(result.exception, _TimeoutError):
        raise AssertionError(f"over {TIME_LIMIT_S} s: planner {' '.join(args)}")
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"planner {' '.join(args)} raised {result.exception!r}")
    output = result.stdout + result.stderr
    assert "Traceback" not in output, f"planner {' '.join(args)}\n{output}"
    return result.exit_code, result.stderr, seconds


# A problem with the whole file, which has no line to point at.
_WHOLE_FILE = ("file is empty", "file is larger than", "file not found", "is a directory",
               "cannot read file", "no system files")


PROGRESS = Path(os.environ["PLANNER_FUZZ_PROGRESS"]) if "PLANNER_FUZZ_PROGRESS" in os.environ \
    else None
STARTED = time.perf_counter()
RUNS: Counter[tuple[str, int]] = Counter()  # (command, exit code) -> runs, for the budget test


def check(args: list[str], files: list[str]) -> None:
    """Exit 0, 2 or 3; on exit 2 every error naming one of ``files`` has its line."""
    code, stderr, seconds = invoke(args)
    RUNS[(args[0], code)] += 1
    if PROGRESS and sum(RUNS.values()) % 500 == 0:  # how far a long run got, while it runs
        PROGRESS.write_text(f"{sum(RUNS.values())} commands in "
                            f"{time.perf_counter() - STARTED:.0f} s\n")
    assert code in (0, 2, 3), f"exit {code}: planner {' '.join(args)}\n{stderr}"
    assert seconds < TIME_LIMIT_S
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kB on Linux
    assert rss < MEMORY_LIMIT_BYTES, f"{rss / 2**20:.0f} MiB after planner {' '.join(args)}"
    if code != 2:
        return
    assert "<planning inputs>" not in stderr, (  # an internal check no user can act on
        f"planner {' '.join(args)}\n{stderr}")
    for line in stderr.splitlines():
        if not line.startswith("error: "):
            continue
        rest = line[len("error: "):]
        for file in files:
            if rest.startswith(file) and not rest.startswith(f"{file} (--set"):
                after = rest[len(file):]
                whole = any(text in after for text in _WHOLE_FILE)
                assert whole or re.match(r":\d+", after), (
                    f"no line in {line!r}\nplanner {' '.join(args)}")


def _run_file_case(root: Path, case: tuple[Input, bytes]) -> None:
    target, raw = case
    path = root / target.path
    original = path.read_bytes()
    path.write_bytes(raw)
    try:
        for args in target.commands():
            check(args, [target.path, str(path)])
    finally:
        path.write_bytes(original)


_SETTINGS = {"derandomize": True, "deadline": None, "database": None,
             "suppress_health_check": list(HealthCheck), "print_blob": True}


@settings(max_examples=FILE_EXAMPLES, **_SETTINGS)  # type: ignore[arg-type]
@given(case=mutated_file())
def test_mutated_files_never_crash_or_hang(root: Path, case: tuple[Input, bytes]) -> None:
    _run_file_case(root, case)


@settings(max_examples=SET_EXAMPLES, **_SETTINGS)  # type: ignore[arg-type]
@given(case=set_option())
def test_set_options_never_crash_or_hang(root: Path, case: tuple[list[str], str]) -> None:
    args, file = case
    check(args, [file])


@pytest.mark.fuzz
@settings(max_examples=NIGHTLY_FILE_EXAMPLES, **_SETTINGS)  # type: ignore[arg-type]
@given(case=mutated_file())
def test_nightly_mutated_files(root: Path, case: tuple[Input, bytes]) -> None:
    _run_file_case(root, case)


@pytest.mark.fuzz
@settings(max_examples=NIGHTLY_SET_EXAMPLES, **_SETTINGS)  # type: ignore[arg-type]
@given(case=set_option())
def test_nightly_set_options(root: Path, case: tuple[list[str], str]) -> None:
    args, file = case
    check(args, [file])


def test_the_budget_ran_and_reached_the_models() -> None:
    # Runs after the two tests above (file order): the default budget is 5,000+ cases, and a
    # fuzz that only ever failed validation would test nothing past the schema.
    if not RUNS:
        pytest.skip("run with the fuzz tests above")
    if "PLANNER_FUZZ_STATS" in os.environ:
        Path(os.environ["PLANNER_FUZZ_STATS"]).write_text(
            "\n".join(f"{cmd} exit {code}: {n}" for (cmd, code), n in sorted(RUNS.items())))
    cases = FILE_EXAMPLES + SET_EXAMPLES
    assert sum(n for (cmd, _), n in RUNS.items() if cmd != "validate") >= 0.9 * cases * 0.5
    for command in ("estimate", "optimize"):
        assert RUNS[(command, 0)] > 0 and RUNS[(command, 2)] > 0
    assert RUNS[("estimate", 3)] + RUNS[("optimize", 3)] > 0
    if SCALE >= 1:  # the CI budget: at least 5,000 cases, each one or two commands
        assert cases >= 5000 and sum(RUNS.values()) >= 5000
