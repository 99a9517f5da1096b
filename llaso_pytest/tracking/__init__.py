"""Exports of run records to experiment trackers (MLflow, Weights & Biases offline).

One table, :data:`EXPORTERS`: each entry names the tracker, its options (``--llaso-NAME``
for where to log, ``--llaso-NAME-GROUP`` for the experiment or project), the module that
exports and the extra that installs it. The pytest options, ini keys, ``llaso export NAME``
and their help all come from it; a tracker module loads only when its export runs.
Import-light: nothing here imports a tracker.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from llaso_pytest.errors import LlasoError

if TYPE_CHECKING:  # pragma: no cover
    from llaso_pytest.compare import Comparison
    from llaso_pytest.record import RunRecord

__all__ = ["EXPORTERS", "Exporter", "TrackingError", "exporter_module"]


class TrackingError(LlasoError, RuntimeError):
    """An export to an experiment tracker failed or was refused; the message names the
    tracker URI or folder, the record and the fix."""


class ExporterModule(Protocol):
    def check_target(self, target: str) -> str: ...

    def run_export(self, record: RunRecord, *, target: str, group: str | None,
                   comparison: Comparison | None, source: str, again: bool = False) -> str: ...


@dataclass(frozen=True)
class Exporter:
    """A tracker llaso can log a run to."""

    name: str  # "mlflow": --llaso-mlflow, ini llaso_mlflow, `llaso export mlflow`
    target_metavar: str
    target_help: str
    group: str  # what a run is filed under: "experiment", "project"
    default_group: str
    module: str
    import_name: str  # the tracker's top-level module, checked before any test runs
    extra: str
    cli_target: str  # `llaso export NAME RECORD --cli-target X`

    @property
    def option(self) -> str:
        return f"--llaso-{self.name}"

    @property
    def group_option(self) -> str:
        return f"--llaso-{self.name}-{self.group}"


EXPORTERS: Mapping[str, Exporter] = {
    e.name: e for e in (
        Exporter(name="mlflow", target_metavar="URI",
                 target_help="log the session as one MLflow run at this tracking URI "
                 "(sqlite:///mlflow.db, http://host:5000, ...)",
                 group="experiment", default_group="llaso",
                 module="llaso_pytest.tracking.mlflow_export", import_name="mlflow",
                 extra="mlflow", cli_target="--tracking-uri"),
        Exporter(name="wandb", target_metavar="DIR",
                 target_help="log the session as one Weights & Biases run in offline mode, in "
                 "this folder (upload later with `wandb sync DIR/wandb/offline-run-*`)",
                 group="project", default_group="llaso",
                 module="llaso_pytest.tracking.wandb_export", import_name="wandb",
                 extra="wandb", cli_target="--dir"),
    )
}


def exporter_module(exporter: Exporter) -> ExporterModule:
    """The exporter's module (imports the tracker's export code, not the tracker itself)."""
    module: ExporterModule = importlib.import_module(exporter.module)
    return module
