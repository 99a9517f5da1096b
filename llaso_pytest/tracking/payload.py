"""A run record as what an experiment tracker stores: params, metrics, tags, artifact files.

Tracker-neutral and pure (no tracker imported): :func:`build_payload` reads the record through
the one strict reader (:mod:`llaso_pytest.results`), flattens provenance into parameters, turns
every result into metrics (value, interval bounds, n), signatures and verdicts into tags, and
the record, per-item tables and the baseline comparison into artifact files. Keys follow the
strictest tracker's rules (MLflow's: ``[/\\w.\\- ]``, at most 250 characters, a normalised
path); a key that had to change keeps its meaning through ``llaso/keys.json``. Secrets are
redacted (by key name and by value) before anything enters the payload.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import posixpath
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llaso_pytest.tracking import TrackingError

if TYPE_CHECKING:  # pragma: no cover
    from llaso_pytest.compare import Comparison
    from llaso_pytest.record import RunRecord
    from llaso_pytest.results import ResultRecord

__all__ = ["MAX_KEY", "MAX_PARAM_VALUE", "MAX_TAG_VALUE", "Payload", "TrackingError",
           "build_payload", "flatten", "tracker_key"]

# MLflow's limits (mlflow/utils/validation.py: MAX_ENTITY_KEY_LENGTH, MAX_PARAM_VAL_LENGTH,
# MAX_TAG_VAL_LENGTH); W&B's are wider, so one payload suits both.
MAX_KEY = 250
MAX_PARAM_VALUE = 6000
MAX_TAG_VALUE = 8000
_BAD_KEY_CHARS = re.compile(r"[^\w./\- ]")
_CUT_NOTE = " ... [cut at {limit} characters; the full value is in llaso/run-record.json]"


@dataclass(frozen=True)
class Payload:
    """What one tracker run receives; every list is in a stable order."""

    run_name: str
    params: list[tuple[str, str]]
    metrics: list[tuple[str, float]]
    tags: list[tuple[str, str]]
    files: dict[str, str]  # artifact path (POSIX, relative) -> text
    keys: dict[str, dict[str, str]] = field(default_factory=dict)  # tracker key -> meaning

    def write_files(self, folder: str | os.PathLike[str]) -> None:
        """Write the artifact files under ``folder`` (a tracker then uploads the folder)."""
        for rel, text in self.files.items():
            path = Path(folder, *rel.split("/"))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")


def flatten(prefix: str, value: Any) -> Iterator[tuple[str, Any]]:
    """Nested dicts as ``(dotted.path, leaf)``; lists stay leaves (one value)."""
    if isinstance(value, Mapping) and value:
        for k, v in value.items():
            yield from flatten(f"{prefix}.{k}" if prefix else str(k), v)
    else:
        yield prefix, value


def tracker_key(text: str, *, reserve: int = 0) -> str:
    """``text`` as a valid tracker key: other characters become ``_``, empty, ``.`` and
    ``..`` path segments ``_``; a key longer than ``MAX_KEY - reserve`` is cut and ends in a
    hash of the whole text, so two long keys never collide."""
    parts = [p if p not in ("", ".", "..") else "_"
             for p in _BAD_KEY_CHARS.sub("_", text).split("/")]
    key = "/".join(parts)
    limit = MAX_KEY - reserve
    if len(key) > limit:
        digest = hashlib.sha256(text.encode()).hexdigest()[:10]
        key = key[: limit - 11].rstrip("/") + "~" + digest
    if posixpath.normpath(key) != key:  # e.g. a cut that ends in "/": keep the hash's form
        key = key.replace("/", "_")
    return key


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True,
                                                           ensure_ascii=False)


def _cut(value: str, limit: int) -> str:
    if len(value) <= limit:
        return value
    note = _CUT_NOTE.format(limit=limit)
    return value[: limit - len(note)] + note


class _Keys:
    """Tracker keys, made unique: a sanitised key that another text already took gets a hash."""

    def __init__(self) -> None:
        self.meaning: dict[str, dict[str, str]] = {}
        self._by_text: dict[tuple[str, str], str] = {}
        self._used: dict[str, str] = {}  # key -> the text it stands for

    def get(self, text: str, *, kind: str, reserve: int = 0, **meaning: str) -> str:
        if (kind, text) in self._by_text:
            return self._by_text[(kind, text)]
        key = tracker_key(text, reserve=reserve)
        if self._used.get(key, text) != text:
            digest = hashlib.sha256(text.encode()).hexdigest()[:10]
            key = tracker_key(key[: MAX_KEY - reserve - 11] + "~" + digest, reserve=reserve)
        self._used[key] = text
        self._by_text[(kind, text)] = key
        if key != text or meaning:
            self.meaning[key] = {"kind": kind, "text": text, **meaning}
        return key


def _result_key(res: ResultRecord) -> str:
    return f"{res.nodeid.replace('::', '/')}/{res.name}"


def _table(res: ResultRecord) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    stats = list(res.stats)
    writer.writerow(["item", "group", "score", *stats])
    columns = [res.stats[s].tolist() for s in stats]
    scores = res.scores.tolist() if res.scores is not None else None
    for i, item in enumerate(res.item_ids):
        writer.writerow([item, res.groups[i] if res.groups is not None else "",
                         "" if scores is None else scores[i], *(c[i] for c in columns)])
    return buf.getvalue()


def _finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


def build_payload(record: RunRecord, *, comparison: Comparison | None = None,
                  source: str = "<record>") -> Payload:
    """The tracker payload of ``record`` (and of its baseline ``comparison``, when given)."""
    from llaso_pytest.provenance import redact, redact_text
    from llaso_pytest.record import dumps_record
    from llaso_pytest.results import read_results

    keys = _Keys()
    prov = redact(dict(record.provenance))
    params: list[tuple[str, str]] = []
    for path, value in flatten("provenance", prov):
        if value is None:
            continue
        params.append((keys.get(path, kind="param"),
                       _cut(redact_text(_text(value)), MAX_PARAM_VALUE)))
    tags: list[tuple[str, str]] = [
        ("llaso.run_id", record.run_id),
        ("llaso.complete", str(record.complete).lower()),
        ("llaso.exit_status", str(record.exit_status)),
    ]
    git = prov.get("git") if isinstance(prov.get("git"), Mapping) else {}
    if git.get("commit"):
        tags.append(("mlflow.source.git.commit", str(git["commit"])))
    if git.get("branch"):
        tags.append(("mlflow.source.git.branch", str(git["branch"])))
    metrics: list[tuple[str, float]] = []
    files: dict[str, str] = {"run-record.json": dumps_record(record)}
    for res in read_results(record, source=source).values():
        text = _result_key(res)
        key = keys.get(text, kind="result", reserve=len("/ci_high"), nodeid=res.nodeid,
                       name=res.name)
        metrics.append((key, res.value))  # NaN stays NaN: trackers store it, never dropped
        if res.ci is not None:
            metrics.append((f"{key}/ci_low", res.ci[0]))
            metrics.append((f"{key}/ci_high", res.ci[1]))
        metrics.append((f"{key}/n", float(res.n)))
        tags.append((keys.get("signature/" + text, kind="signature", nodeid=res.nodeid,
                              name=res.name),
                     _cut(redact_text(res.signature.text), MAX_TAG_VALUE)))
        if len(res.item_ids):
            files[f"items/{key}.csv"] = redact_text(_table(res))
    if comparison is not None:
        files["comparison.json"] = redact_text(json.dumps(comparison.to_dict(), indent=1))
        tags.append(("llaso.comparison", comparison.summary_line()))
        tags.append(("llaso.baseline_run_id", comparison.base.run_id or ""))
        for m in comparison.metrics:
            text = f"{m.nodeid.replace('::', '/')}/{m.name}"
            tags.append((keys.get("verdict/" + text, kind="verdict", nodeid=m.nodeid,
                                  name=m.name), m.verdict))
            ckey = keys.get("compare/" + text, kind="comparison", reserve=len("/p_adjusted"),
                            nodeid=m.nodeid, name=m.name)
            if _finite(m.delta):
                metrics.append((f"{ckey}/delta", float(m.delta)))  # type: ignore[arg-type]
            if m.test is not None and _finite(m.test.p_value):
                metrics.append((f"{ckey}/p_value", float(m.test.p_value)))  # type: ignore[arg-type]
            if m.test is not None and _finite(m.test.p_adjusted):
                metrics.append((f"{ckey}/p_adjusted",
                                float(m.test.p_adjusted)))  # type: ignore[arg-type]
    files["keys.json"] = json.dumps(keys.meaning, indent=1, sort_keys=True,
                                    ensure_ascii=False) + "\n"
    return Payload(run_name=record.run_id, params=params, metrics=metrics,
                   tags=[(k, _cut(redact_text(v), MAX_TAG_VALUE)) for k, v in tags],
                   files=files, keys=keys.meaning)
