"""Shared test settings and fixtures.

Terminal reports are laid out for ``COLUMNS`` (see ``planner/report/text.py``); tests that read
words out of terminal tables run at a wide 200 columns so that no phrase is wrapped, and the
layout tests (``tests/cli/test_report_layout.py``) set their own narrow widths.

Fixtures shared by several test modules: ``serve_yaml``, the small serving workload the study
tests sweep (Llama 3.1 8B, 100 prompt and 1,000 answer tokens at 30 tokens/s per user and
10 requests/s), and ``h100_node``, a DGX H100-like system as a catalog dictionary (figures of
``hardware/systems/dgx_h100.yaml``; a fresh copy per test, so a test may change it).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

SERVE_YAML = """\
kind: serve
model: llama-3.1-8b
input_tokens: 100
output_tokens: 1000
interactivity: 30 tokens/s
requests_per_second: 10 requests/s
"""

_SOURCE = {"url": "https://www.nvidia.com/en-us/data-center/h100/", "tag": "vendor"}

H100_NODE: dict[str, Any] = {
    "id": "test-h100", "name": "8x H100", "unit": "node",
    "accelerator": {"name": "H100", "count": 8,
                    "peak_flops": {"fp8": "1979 TFLOPS", "bf16": "989 TFLOPS"},
                    "hbm_capacity": "80 GB", "hbm_bandwidth": "3.35 TB/s", "power": "700 W"},
    "scale_up": {"fabric": "NVLink 4", "domain_size": 8, "bandwidth": "900 GB/s"},
    "scale_out": {"fabric": "IB", "bandwidth": "400 Gb/s"},
    "host": {"cpu": "2x Xeon", "sockets": 2, "cores": 112, "memory": "2 TB"},
    "power": "10.2 kW",
    "purchase": {"price": "270k USD", "date": "2023-06", "estimate": True},
    "rental": {"price": "39.33 USD/h", "date": "2024-11", "estimate": False},
    "sources": {"accelerator": _SOURCE, "scale_up": _SOURCE, "scale_out": _SOURCE,
                "host": _SOURCE, "power": _SOURCE, "purchase": _SOURCE, "rental": _SOURCE},
}


@pytest.fixture
def serve_yaml() -> str:
    """The small serving workload the study tests sweep, as YAML text."""
    return SERVE_YAML


@pytest.fixture
def h100_node() -> dict[str, Any]:
    """A DGX H100-like system as a catalog dictionary (a fresh copy per test)."""
    return copy.deepcopy(H100_NODE)


@pytest.fixture(autouse=True)
def _wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
