"""The planner command run in-process, as the CLI tests call it (click's CliRunner)."""

from __future__ import annotations

import json
from typing import Any

from click.testing import CliRunner

from planner.cli import cli


def run(*args: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of ``planner ARGS``."""
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def run_json(*args: str) -> Any:
    """``planner ARGS --format json``, which must succeed, parsed."""
    code, out, err = run(*args, "--format", "json")
    assert code == 0, err
    return json.loads(out)
