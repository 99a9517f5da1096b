"""Export a run record to MLflow: one MLflow run per llaso session, logged in batches.

``export(record, tracking_uri=...)`` creates (or reuses) the experiment, creates one run
named after the llaso run id, logs every parameter, metric and tag with ``log_batch`` in
chunks within MLflow's limits (1000 metrics, 100 params, 100 tags, 1000 entities per call;
one call per metric is ~50x slower), uploads the artifacts under ``llaso/`` and marks the run
``FINISHED``. A failure halfway marks the run ``FAILED`` and raises :class:`TrackingError`
(the run record on disk is untouched: ``llaso export mlflow RECORD`` retries). mlflow is
imported only here, and only when an export runs.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llaso_pytest.tracking.payload import Payload, TrackingError, build_payload

if TYPE_CHECKING:  # pragma: no cover
    from llaso_pytest.compare import Comparison
    from llaso_pytest.record import RunRecord

__all__ = ["DEFAULT_EXPERIMENT", "MAX_ENTITIES", "MAX_METRICS", "MAX_PARAMS_TAGS",
           "MlflowExport", "batches", "check_target", "export", "run_export"]

DEFAULT_EXPERIMENT = "llaso"
# mlflow/utils/validation.py: MAX_METRICS_PER_BATCH, MAX_PARAMS_TAGS_PER_BATCH,
# MAX_ENTITIES_PER_BATCH (checked against the installed mlflow by a test)
MAX_METRICS = 1000
MAX_PARAMS_TAGS = 100
MAX_ENTITIES = 1000


@dataclass(frozen=True)
class MlflowExport:
    """Where an export went: the MLflow run, its experiment and the number of calls made."""

    tracking_uri: str
    experiment_id: str
    run_id: str
    batches: int


def batches(n_metrics: int, n_params: int, n_tags: int) -> list[tuple[slice, slice, slice]]:
    """Slices of (metrics, params, tags) per ``log_batch`` call, each within every limit."""
    out: list[tuple[slice, slice, slice]] = []
    m = p = t = 0
    while m < n_metrics or p < n_params or t < n_tags:
        dp = min(MAX_PARAMS_TAGS, n_params - p)
        dt = min(MAX_PARAMS_TAGS, n_tags - t)
        dm = min(MAX_METRICS, n_metrics - m, MAX_ENTITIES - dp - dt)
        out.append((slice(m, m + dm), slice(p, p + dp), slice(t, t + dt)))
        m, p, t = m + dm, p + dp, t + dt
    return out


def _default_artifacts(tracking_uri: str) -> str | None:
    """Artifacts of a new experiment in a local sqlite store live beside the database
    (``mlartifacts/``), not in whatever folder the run happened to start in."""
    prefix = "sqlite:///"
    if not tracking_uri.startswith(prefix):
        return None
    db = Path(tracking_uri[len(prefix):])
    if str(db) in ("", ":memory:"):
        return None
    return (db.parent.resolve() / "mlartifacts").as_uri()


def _experiment(client: Any, name: str, tracking_uri: str) -> str:
    exp = client.get_experiment_by_name(name)
    if exp is not None:
        if exp.lifecycle_stage != "active":
            raise TrackingError(
                f"MLflow experiment {name!r} at {tracking_uri} is deleted; restore it "
                f"(mlflow experiments restore) or pass another experiment name")
        return str(exp.experiment_id)
    return str(client.create_experiment(name, artifact_location=_default_artifacts(
        tracking_uri)))


def _already_exported(client: Any, experiment_id: str, run_id: str) -> str | None:
    runs = client.search_runs([experiment_id],
                              filter_string=f"tags.`llaso.run_id` = '{run_id}' and "
                              "attributes.status = 'FINISHED'", max_results=1)
    return str(runs[0].info.run_id) if runs else None


def _log(client: Any, run_id: str, payload: Payload) -> int:
    from mlflow.entities import Metric, Param, RunTag

    now = int(time.time() * 1000)
    metrics = [Metric(k, v, now, 0) for k, v in payload.metrics]
    params = [Param(k, v) for k, v in payload.params]
    tags = [RunTag(k, v) for k, v in payload.tags]
    calls = batches(len(metrics), len(params), len(tags))
    for ms, ps, ts in calls:
        client.log_batch(run_id, metrics=metrics[ms], params=params[ps], tags=tags[ts])
    with tempfile.TemporaryDirectory(prefix="llaso-mlflow-") as tmp:
        payload.write_files(tmp)
        client.log_artifacts(run_id, tmp, artifact_path="llaso")
    return len(calls)


def export(record: RunRecord, *, tracking_uri: str, experiment: str = DEFAULT_EXPERIMENT,
           comparison: Comparison | None = None, source: str = "<record>",
           again: bool = False) -> MlflowExport:
    """Log ``record`` as one MLflow run in ``experiment`` at ``tracking_uri``.

    A record already exported there (a ``FINISHED`` run tagged with its llaso run id) is
    refused unless ``again``: a second export would count the same session twice.
    """
    try:
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise TrackingError("MLflow export needs mlflow: pip install 'llaso-pytest[mlflow]'"
                            ) from None
    payload = build_payload(record, comparison=comparison, source=source)
    where = f"MLflow at {tracking_uri} (experiment {experiment!r})"
    run_id: str | None = None
    client: Any = None
    try:
        client = MlflowClient(tracking_uri=tracking_uri)
        experiment_id = _experiment(client, experiment, tracking_uri)
        if not again:
            done = _already_exported(client, experiment_id, record.run_id)
            if done is not None:
                raise TrackingError(
                    f"{source}: llaso run {record.run_id} is already in {where} as run {done}; "
                    "pass --again to log it a second time")
        run = client.create_run(experiment_id, run_name=payload.run_name,
                                tags={"llaso.run_id": record.run_id})
        run_id = str(run.info.run_id)
        n = _log(client, run_id, payload)
        client.set_terminated(run_id, status="FINISHED")
    except TrackingError:
        raise
    except Exception as exc:  # noqa: BLE001 - MLflow, SQLAlchemy, HTTP: all an export failure
        if run_id is not None:
            _mark_failed(client, run_id)
        raise TrackingError(
            f"{source}: export to {where} failed: {exc}. The run record is unchanged; retry "
            f"with: llaso export mlflow {source} --tracking-uri {tracking_uri}"
            + (f" --experiment {experiment}" if experiment != DEFAULT_EXPERIMENT else "")
        ) from exc
    return MlflowExport(tracking_uri=tracking_uri, experiment_id=experiment_id, run_id=run_id,
                        batches=n)


def _mark_failed(client: Any, run_id: str) -> None:
    try:
        client.set_terminated(run_id, status="FAILED")
    except Exception:  # noqa: BLE001, S110 - the original error is the one to report
        pass


def check_target(uri: str) -> str:
    """A usable tracking URI, or :class:`TrackingError` saying why not (before tests run);
    the folder of a local sqlite database is created."""
    text = uri.strip()
    if not text:
        raise TrackingError("the MLflow tracking URI is empty; e.g. sqlite:///mlflow.db")
    scheme = text.split(":", 1)[0] if ":" in text else ""
    if (scheme in ("", "file") and os.environ.get("MLFLOW_ALLOW_FILE_STORE", "").lower()
            not in ("1", "true")):
        raise TrackingError(
            f"MLflow tracking URI {text!r} is a file store, which MLflow 3 refuses without "
            "MLFLOW_ALLOW_FILE_STORE=true; use a database, e.g. sqlite:///mlflow.db, or a "
            "tracking server http://host:5000")
    if text.startswith("sqlite:///") and text[len("sqlite:///"):] not in ("", ":memory:"):
        folder = Path(text[len("sqlite:///"):]).parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise TrackingError(f"MLflow tracking URI {text!r}: cannot create {folder} "
                                f"({exc.strerror or exc})") from None
    return text



def run_export(record: RunRecord, *, target: str, group: str | None,
               comparison: Comparison | None, source: str, again: bool = False) -> str:
    """The exporter-table entry point: export and say where it went, in one line."""
    done = export(record, tracking_uri=target, experiment=group or DEFAULT_EXPERIMENT,
                  comparison=comparison, source=source, again=again)
    return (f"MLflow run {done.run_id} in experiment {group or DEFAULT_EXPERIMENT!r} at "
            f"{target} ({done.batches} log_batch call(s))")
