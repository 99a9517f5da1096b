"""Hook specifications through which plugins and ``conftest.py`` files extend llaso-pytest.

The plugin's own defaults are ordinary implementations of these hooks (see ``plugin.py``),
so an extension can replace or extend any of them. See docs/hooks.md for an example.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from llaso_pytest.compare import Comparison
    from llaso_pytest.record import RunRecord

hookspec = pytest.hookspec


@hookspec(firstresult=True)
def pytest_llaso_generate_provenance(config: pytest.Config) -> dict[str, Any] | None:
    """Return the base provenance of the run (git, platform, packages, ...).

    The first non-``None`` result wins; llaso-pytest's own implementation runs last
    (``trylast``), so a plugin returning a dict replaces the default collection entirely.
    Called once on the controller at session start.
    """


@hookspec
def pytest_llaso_update_provenance(config: pytest.Config, provenance: dict[str, Any]) -> None:
    """Add or change provenance fields in place (e.g. a cluster name, a dataset version).

    Called on the controller at session start, after ``pytest_llaso_generate_provenance``.
    Values must be JSON-able; credential-like keys are redacted afterwards regardless.
    """


@hookspec
def pytest_llaso_update_result(item: pytest.Item, result: dict[str, Any]) -> None:
    """Adjust a result dict (the JSON form of a metric result) before it is recorded.

    Called in the process running the test (an xdist worker, or the only process), once per
    ``record_metric`` call. Mutate ``result`` in place, e.g. to add a field to ``extra``
    or to its signature. Raising an exception fails the test that recorded it.
    """


@hookspec
def pytest_llaso_collect_usage(config: pytest.Config) -> dict[str, Any] | None:
    """Return resource usage of the run as ``{area: JSON-able data}`` (API calls, cache hits,
    tokens, cost, ...). Merged into the run record's ``usage`` section.

    Called on the controller once, after the last test report and before the final write.
    Usage is not a result: it may differ between otherwise identical runs (a cached re-run
    makes no API calls), and the comparer does not diff it.
    """


@hookspec
def pytest_llaso_incomplete(config: pytest.Config) -> str | None:
    """Return why the run is incomplete although the session ran to its end (e.g. a spent
    ``--llaso-budget-usd``: items were not evaluated), or ``None``.

    Called on the controller at session end, before the record is written; any reason marks
    the record ``"complete": false`` with the reasons in ``interrupted_by``.
    """


@hookspec
def pytest_llaso_report_sections(
    config: pytest.Config, record: RunRecord
) -> list[tuple[str, list[str]]] | None:
    """Return extra sections for the terminal summary as ``[(title, lines), ...]``.

    Called on the controller after the run record is complete and written.
    """


@hookspec
def pytest_llaso_record_written(config: pytest.Config, record: RunRecord, path: str,
                                comparison: Comparison | None) -> None:
    """Called on the controller after the final run record was written to ``path``.

    ``comparison`` is the baseline comparison of the run (``None`` without a baseline, or
    when it could not be made). The tracker exports (``--llaso-mlflow``, ``--llaso-wandb``)
    are implementations of this hook.
    """
