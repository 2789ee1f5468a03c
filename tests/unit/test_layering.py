"""Imports flow one way: each third-party library has one home, and layers never import upward."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "planner"

# library -> package prefixes allowed to import it
HOMES = {
    "click": ("planner/cli.py",),
    "pulp": ("planner/lp/",),
    "highspy": ("planner/lp/",),
    "networkx": ("planner/topology/",),
    "matplotlib": ("planner/report/",),
    "rich": ("planner/report/", "planner/cli.py", "planner/study.py"),
}

# module prefix -> planner subpackages it must not import
FORBIDDEN = {
    "planner/perf/": ("planner.lp", "planner.topology", "planner.report", "planner.cli",
                      "planner.scenario", "planner.study"),
    "planner/lp/": ("planner.perf", "planner.workload", "planner.report", "planner.cli",
                          "planner.scenario"),
    "planner/topology/": ("planner.perf", "planner.lp", "planner.report", "planner.cli"),
    "planner/catalog/": ("planner.perf", "planner.lp", "planner.workload",
                         "planner.report", "planner.cli"),
    "planner/workload/": ("planner.perf", "planner.lp", "planner.report", "planner.cli"),
    "planner/units.py": ("planner.",),
    "planner/errors.py": ("planner.",),
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(PACKAGE)) for p in MODULES])
def test_imports_respect_layers(path: Path) -> None:
    rel = "planner/" + str(path.relative_to(PACKAGE))
    imported = _imports(path)
    for library, homes in HOMES.items():
        uses = any(name == library or name.startswith(library + ".") for name in imported)
        if uses:
            assert rel.startswith(homes), f"{rel} imports {library}; only {homes} may"
    for prefix, banned in FORBIDDEN.items():
        if rel.startswith(prefix):
            bad = sorted(n for n in imported if n.startswith(banned))
            assert not bad, f"{rel} imports {bad} across layers"


def test_import_planner_is_light() -> None:
    """`import planner` must not pull in the solver, the graph library or plotting."""
    import subprocess
    import sys

    code = ("import sys, planner; heavy = [m for m in ('pulp', 'highspy', 'networkx', "
            "'matplotlib', 'pydantic') if m in sys.modules]; print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == ""


def _modules_after(code: str) -> set[str]:
    """The top-level packages a fresh interpreter has imported after running ``code``."""
    import subprocess
    import sys

    probe = code + "\nimport sys; print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, cwd=PACKAGE.parent)
    return set(out.stdout.split())


def test_the_command_line_starts_light() -> None:
    """`planner --help` imports click, and none of the libraries a command may need."""
    loaded = _modules_after("import planner.cli")
    assert "click" in loaded
    assert not loaded & {"pydantic", "yaml", "numpy", "pulp", "highspy", "networkx", "rich",
                         "matplotlib"}


def test_the_main_job_imports_no_plotting_or_dataframes() -> None:
    """A plan's tables need rich, its LP numpy and HiGHS, its site graph networkx
    (planner/topology/graph.py); the terminal needs no matplotlib (planner/report/) and no
    dataframes."""
    loaded = _modules_after(
        "import contextlib, io\n"
        "from planner.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    main(['optimize', 'workloads/o1_posttrain.yaml'])")
    assert {"rich", "numpy", "highspy", "pydantic", "networkx"} <= loaded
    assert not loaded & {"matplotlib", "pandas", "dask"}
