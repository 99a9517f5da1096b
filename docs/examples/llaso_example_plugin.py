"""An example llaso-pytest extension: one module, three hooks.

Load it with ``pytest -p llaso_example_plugin`` (on ``sys.path``), from a ``conftest.py``
(``pytest_plugins = ["llaso_example_plugin"]``), or through a ``pytest11`` entry point.
"""

from __future__ import annotations

import os
from typing import Any

import pytest


def pytest_llaso_update_provenance(config: pytest.Config, provenance: dict[str, Any]) -> None:
    """Record which cluster ran the evaluation (a field llaso-pytest cannot know)."""
    provenance["cluster"] = os.environ.get("EXAMPLE_CLUSTER", "local")


def pytest_llaso_update_result(item: pytest.Item, result: dict[str, Any]) -> None:
    """Tag each result with the team that owns the test (a marker argument)."""
    owner = item.get_closest_marker("owner")
    if owner is not None:
        result.setdefault("extra", {})["owner"] = owner.args[0]


def pytest_llaso_report_sections(config: pytest.Config, record: Any) -> list[tuple[str, list[str]]]:
    """Add a section to the terminal summary: results per owner."""
    counts: dict[str, int] = {}
    for _nodeid, result in record.results():
        owner = result.get("extra", {}).get("owner", "unowned")
        counts[owner] = counts.get(owner, 0) + 1
    return [("results by owner", [f"{k}: {v}" for k, v in sorted(counts.items())])]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "owner(team): the team that owns an evaluation")
