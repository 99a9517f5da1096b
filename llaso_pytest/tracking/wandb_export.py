"""Export a run record to Weights & Biases in offline mode (a local run folder to sync later).

Offline only: the run is written under ``DIR/wandb/offline-run-*`` and nothing is sent; a
user uploads it with ``wandb sync`` when they choose. The same payload as MLflow's
(:mod:`llaso_pytest.tracking.payload`): parameters go to the run config, metrics and the
signature/verdict tags to the run summary (final values, not a time series), the artifact
files to one artifact ``llaso-<run id>`` of type ``llaso-run``. wandb is imported only here.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llaso_pytest.tracking.payload import TrackingError, build_payload

if TYPE_CHECKING:  # pragma: no cover
    from llaso_pytest.compare import Comparison
    from llaso_pytest.record import RunRecord

__all__ = ["DEFAULT_PROJECT", "check_target", "export", "run_export"]

DEFAULT_PROJECT = "llaso"


def check_target(folder: str) -> str:
    """A folder the offline run can be written to (created if missing)."""
    text = folder.strip()
    if not text:
        raise TrackingError("the W&B offline folder is empty; e.g. --llaso-wandb .llaso/wandb")
    try:
        Path(text).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TrackingError(f"W&B offline folder {text}: cannot create it "
                            f"({exc.strerror or exc}); pass a writable folder") from None
    return text


def export(record: RunRecord, *, folder: str, project: str = DEFAULT_PROJECT,
           comparison: Comparison | None = None, source: str = "<record>") -> Path:
    """Write ``record`` as one offline W&B run under ``folder``; returns the run's folder."""
    try:
        import wandb
    except ImportError:
        raise TrackingError("W&B export needs wandb: pip install 'llaso-pytest[wandb]'"
                            ) from None
    payload = build_payload(record, comparison=comparison, source=source)
    run: Any = None
    try:
        # nothing but the payload: no console capture, code, git or machine metadata (the
        # command line could hold a secret llaso's redaction never saw), no system stats
        settings = wandb.Settings(mode="offline", silent=True, console="off", save_code=False,
                                  disable_git=True, x_disable_stats=True, x_disable_meta=True,
                                  x_disable_machine_info=True, x_save_requirements=False)
        run = wandb.init(dir=folder, project=project, name=payload.run_name,
                         config=dict(payload.params), tags=["llaso"], settings=settings,
                         reinit="create_new")
        summary: dict[str, Any] = dict(payload.metrics)
        summary.update(payload.tags)
        run.summary.update(summary)
        artifact = wandb.Artifact(f"llaso-{record.run_id}", type="llaso-run",
                                  metadata={"llaso_run_id": record.run_id})
        with tempfile.TemporaryDirectory(prefix="llaso-wandb-") as tmp:
            payload.write_files(tmp)
            artifact.add_dir(tmp)
            run.log_artifact(artifact)
            run_dir = Path(run.dir).parent
            run.finish()
    except Exception as exc:  # noqa: BLE001 - any wandb failure is an export failure
        if run is not None:
            try:
                run.finish(exit_code=1)
            except Exception:  # noqa: BLE001, S110 - report the original error
                pass
        raise TrackingError(
            f"{source}: W&B offline export to {folder} failed: {exc}. The run record is "
            f"unchanged; retry with: llaso export wandb {source} --dir {folder}") from exc
    return run_dir


def run_export(record: RunRecord, *, target: str, group: str | None,
               comparison: Comparison | None, source: str, again: bool = False) -> str:
    """The exporter-table entry point: export and say where it went, in one line."""
    run_dir = export(record, folder=target, project=group or DEFAULT_PROJECT,
                     comparison=comparison, source=source)
    return (f"W&B offline run {run_dir} (project {group or DEFAULT_PROJECT!r}; upload with "
            f"`wandb sync {os.path.relpath(run_dir)}`)")
