"""``--llaso-mlflow`` / ``--llaso-wandb``: export the session's run record to a tracker.

Options and ini keys come from :data:`llaso_pytest.tracking.EXPORTERS`. When one is given,
the controller registers an :class:`ExportPlugin` whose ``pytest_llaso_record_written``
logs the record (with the baseline comparison, when there is one); nothing is registered
otherwise, so a session without these options never imports a tracker. A failed export
keeps the record (it is already written), says how to retry, and exits with code 8.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from llaso_pytest.tracking import EXPORTERS, Exporter, TrackingError, exporter_module

if TYPE_CHECKING:  # pragma: no cover
    from llaso_pytest.compare import Comparison
    from llaso_pytest.record import RunRecord

__all__ = ["EXIT_EXPORT_FAILED", "ExportPlugin"]

#: The run record was written, but an export to a tracker failed (docs/exit-codes.md).
EXIT_EXPORT_FAILED = 8


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("llaso")
    for e in EXPORTERS.values():
        group.addoption(e.option, metavar=e.target_metavar, default=None, help=e.target_help)
        group.addoption(e.group_option, metavar="NAME", default=None,
                        help=f"{e.name} {e.group} of the run (default {e.default_group!r})")
        parser.addini(f"llaso_{e.name}", f"default for {e.option}", type="string", default="")
        parser.addini(f"llaso_{e.name}_{e.group}", f"default for {e.group_option}",
                      type="string", default="")


def _setting(config: pytest.Config, exporter: Exporter, suffix: str = "") -> str | None:
    dest = f"llaso_{exporter.name}{suffix}"
    value = config.getoption(dest) or str(config.getini(dest)).strip()
    return value or None


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput") or config.getoption("collectonly", False):
        return  # workers never export; a collect-only run writes no record
    for e in EXPORTERS.values():
        target = _setting(config, e)
        if target is None:
            continue
        where = f"{e.option} / ini llaso_{e.name}"
        if importlib.util.find_spec(e.import_name) is None:
            raise pytest.UsageError(f"{where}: the {e.name} export needs {e.import_name}; "
                                    f"pip install 'llaso-pytest[{e.extra}]'")
        try:
            target = exporter_module(e).check_target(target)
        except TrackingError as exc:
            raise pytest.UsageError(f"{where}: {exc}") from None
        group = _setting(config, e, f"_{e.group}") or e.default_group
        config.pluginmanager.register(ExportPlugin(e, target, group), f"llaso-export-{e.name}")


@dataclass
class ExportPlugin:
    """Exports the final run record to one tracker (registered on the controller only)."""

    exporter: Exporter
    target: str
    group: str
    done: str | None = None
    error: str | None = None

    def pytest_llaso_record_written(self, config: pytest.Config, record: RunRecord, path: str,
                                    comparison: Comparison | None) -> None:
        try:
            self.done = exporter_module(self.exporter).run_export(
                record, target=self.target, group=self.group, comparison=comparison,
                source=path)
        except TrackingError as exc:
            self.error = str(exc)

    def pytest_llaso_report_sections(self, config: pytest.Config, record: RunRecord
                                     ) -> list[tuple[str, list[str]]] | None:
        if self.done is not None:
            return [(f"llaso export: {self.exporter.name}", [f"logged as {self.done}"])]
        if self.error is not None:
            return [(f"llaso export: {self.exporter.name} FAILED", [self.error])]
        return None

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: Any) -> None:
        if self.error is not None and session.exitstatus == 0:
            session.exitstatus = EXIT_EXPORT_FAILED
