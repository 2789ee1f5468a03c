"""Shared test settings.

Terminal reports are laid out for ``COLUMNS`` (see ``planner/report/text.py``); tests that read
words out of terminal tables run at a wide 200 columns so that no phrase is wrapped, and the
layout tests (``tests/cli/test_report_layout.py``) set their own narrow widths.
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
