"""Every HTML report, rendered in a real browser (headless Chromium), is readable.

The reports the examples produce and those the README's tour writes are rendered twice: once
with ``--dump-dom`` after ``layout_check.js`` (injected before ``</body>``) has measured the
page's geometry, once to a PNG screenshot. A report fails on a blank page, a page wider than the
window, a zero-size or clipped figure, a figure label outside its figure, under 9 px tall or
overlapping another label, or text overflowing its table cell.

Chromium is Debian's ``chromium`` package (``apt-get install -y chromium``). Without it the
test skips with that hint, except under CI (``CI=true``), where it must run. Screenshots go to
``$PLANNER_SCREENSHOT_DIR`` when set (look at them), else to a temporary folder.
"""

from __future__ import annotations

import html as html_module
import importlib.util
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from planner.cli import cli
from planner.study import sweep

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
CHECK_JS = Path(__file__).with_name("layout_check.js")
WINDOW = (1280, 2400)

TOUR = {
    "plan_main_job": ["optimize", "workloads/o1_posttrain.yaml"],
    "plan_scenario_mixed": ["optimize", "workloads/scenario_mixed.yaml", "--integer"],
    "estimate_serve": ["estimate", "workloads/serve_reasoning.yaml", "--hardware", "dgx-h100"],
    "estimate_pretrain": ["estimate", "workloads/pretrain_llama3_405b.yaml", "--hardware",
                          "dgx-h100"],
    "estimate_posttrain": ["estimate", "workloads/o1_posttrain.yaml", "--hardware",
                           "gb200-nvl72"],
    "compare_systems": ["compare", "workloads/o1_posttrain.yaml", "--hardware", "dgx-h100",
                        "--hardware", "gb200-nvl72", "--hardware", "trn2-rainier"],
}


def _chromium() -> str | None:
    for name in (os.environ.get("PLANNER_CHROMIUM", ""), "chromium", "chromium-browser",
                 "google-chrome"):
        if name and (found := shutil.which(name)):
            return found
    return None


CHROMIUM = _chromium()
if CHROMIUM is None:
    if os.environ.get("CI") == "true":
        raise RuntimeError("CI must run the browser test: install Debian's chromium "
                           "(apt-get update && apt-get install -y chromium)")
    pytest.skip("no Chromium: install Debian's package to run the browser test "
                "(apt-get update && apt-get install -y chromium)", allow_module_level=True)


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every HTML report the examples and the tour produce, by name."""
    out = tmp_path_factory.mktemp("html")
    found: dict[str, Path] = {}
    cwd = Path.cwd()
    os.chdir(REPO)
    try:
        for name, args in TOUR.items():
            path = out / f"{name}.html"
            result = CliRunner().invoke(cli, [*args, "--format", "html", "-o", str(path)])
            assert result.exit_code == 0, result.output
            found[name] = path
        for study in sorted(EXAMPLES.glob("*/study.yaml")):
            folder = out / study.parent.name
            sweep(study, out_dir=folder)
            found[f"example_{study.parent.name}"] = folder / "report.html"
        spec = importlib.util.spec_from_file_location(
            "build_report", EXAMPLES / "api_report" / "build_report.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        path = out / "api_report.html"
        assert module.main(["build_report.py", str(path)]) == 0
        found["example_api_report"] = path
    finally:
        os.chdir(cwd)
    return found


def _browser(*args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
               "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--hide-scrollbars",
               f"--user-data-dir={profile}", f"--window-size={WINDOW[0]},{WINDOW[1]}",
               "--virtual-time-budget=5000", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def _screenshot_dir(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("PLANNER_SCREENSHOT_DIR", "") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _layout_problems(page: Path, tmp_path: Path) -> list[str]:
    checked = tmp_path / f"{page.stem}.checked.html"
    html = page.read_text(encoding="utf-8")
    assert "</body>" in html, f"{page.name}: no </body>"
    script = f"<script>{CHECK_JS.read_text(encoding='utf-8')}</script></body>"
    checked.write_text(html.replace("</body>", script, 1), encoding="utf-8")
    run = _browser("--dump-dom", checked.as_uri(), profile=tmp_path / "profile-dom")
    found = re.findall(r'<pre id="planner-layout-check">(\[.*?\])</pre>', run.stdout, re.DOTALL)
    assert found, f"{page.name}: the layout check did not run ({run.stderr[-500:]})"
    text = html_module.unescape(found[-1])
    problems: list[str] = json.loads(text)
    return problems


def _not_blank(png: Path) -> bool:
    import matplotlib.image

    pixels = matplotlib.image.imread(png)
    return bool(pixels.size) and float(pixels[..., :3].std()) > 0.01


NAMES = [*TOUR, *(f"example_{p.parent.name}" for p in sorted(EXAMPLES.glob("*/study.yaml"))),
         "example_api_report"]


@pytest.mark.parametrize("name", NAMES)
def test_report_renders_in_a_browser(name: str, reports: dict[str, Path],
                                     tmp_path: Path) -> None:
    page = reports[name]
    problems = _layout_problems(page, tmp_path)
    png = _screenshot_dir(tmp_path) / f"{name}.png"
    _browser(f"--screenshot={png}", page.as_uri(), profile=tmp_path / "profile-png")
    assert png.is_file() and png.stat().st_size > 0, f"{name}: no screenshot"
    assert _not_blank(png), f"{name}: the screenshot is blank"
    assert problems == [], f"{name}: " + "; ".join(problems)


@pytest.mark.parametrize("name", ["roadmap", "roadmap_12_quarters"])
def test_roadmap_report_renders_in_a_browser(name: str, tmp_path: Path) -> None:
    """The roadmap's HTML page (tables and its three plots), built from the hand-made roadmap
    of the unit tests and from a made-up 12-quarter one with the default fleet's 5 sites and
    long system names, passes the same layout check as the other reports."""
    from planner.report.render import render_report
    from planner.report.roadmap import roadmap_report

    spec = importlib.util.spec_from_file_location(
        "roadmap_fixture", REPO / "tests" / "unit" / "roadmap_fixture.py")
    assert spec is not None and spec.loader is not None
    fixture = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fixture)
    data = fixture.ROADMAP if name == "roadmap" else fixture.large_roadmap(12)
    page = tmp_path / f"{name}.html"
    page.write_text(render_report(roadmap_report(data, figures=True), "html"), encoding="utf-8")
    assert page.read_text(encoding="utf-8").count("<svg") == 3
    problems = _layout_problems(page, tmp_path)
    png = _screenshot_dir(tmp_path) / f"{name}.png"
    _browser(f"--screenshot={png}", page.as_uri(), profile=tmp_path / "profile-png")
    assert png.is_file() and _not_blank(png), f"{name}: no screenshot or a blank one"
    assert problems == [], f"{name}: " + "; ".join(problems)
