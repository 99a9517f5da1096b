"""Run records: the JSON document every session writes, its schema version, atomic I/O.

A run record holds per-test results (each a result dict, see docs/architecture.md) and the
provenance of the run. Readers refuse what they cannot interpret, naming the file.
This module imports neither pytest nor NumPy, so it is usable from a notebook.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llaso_pytest.errors import LlasoError

SCHEMA_VERSION = 1
RECORD_KIND = "llaso-run-record"

__all__ = [
    "RECORD_KIND",
    "SCHEMA_VERSION",
    "RecordError",
    "RunRecord",
    "TestRecord",
    "atomic_write_text",
    "read_record",
    "write_record",
]


class RecordError(LlasoError, ValueError):
    """A record file that cannot be used; the message names the file and the fix."""


@dataclass(frozen=True)
class TestRecord:
    """One test's outcome and every result it recorded."""

    __test__ = False  # not a pytest test class

    nodeid: str
    outcome: str
    duration: float
    markers: tuple[str, ...] = ()
    results: tuple[Mapping[str, Any], ...] = ()
    longrepr: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "nodeid": self.nodeid,
            "markers": list(self.markers),
            "outcome": self.outcome,
            "duration": self.duration,
            "results": [dict(r) for r in self.results],
            "longrepr": self.longrepr,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TestRecord:
        return cls(
            nodeid=str(data["nodeid"]),
            outcome=str(data["outcome"]),
            duration=float(data["duration"]),
            markers=tuple(data.get("markers", ())),
            results=tuple(data.get("results", ())),
            longrepr=data.get("longrepr"),
        )


@dataclass(frozen=True)
class RunRecord:
    """A whole session: provenance, per-test records, and whether it ran to the end."""

    run_id: str
    started_at: str
    finished_at: str | None
    complete: bool
    provenance: Mapping[str, Any]
    tests: tuple[TestRecord, ...] = ()
    exit_status: int | None = None
    interrupted_by: str | None = None
    summary: Mapping[str, int] = field(default_factory=dict)
    usage: Mapping[str, Any] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "kind": RECORD_KIND,
            "run_id": self.run_id,
            "complete": self.complete,
            "interrupted_by": self.interrupted_by,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "exit_status": self.exit_status,
            "summary": dict(self.summary),
            "usage": dict(self.usage),
            "provenance": dict(self.provenance),
            "tests": [t.to_dict() for t in self.tests],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunRecord:
        return cls(
            run_id=str(data["run_id"]),
            started_at=str(data["started_at"]),
            finished_at=data.get("finished_at"),
            complete=bool(data["complete"]),
            provenance=dict(data.get("provenance", {})),
            tests=tuple(TestRecord.from_dict(t) for t in data.get("tests", ())),
            exit_status=data.get("exit_status"),
            interrupted_by=data.get("interrupted_by"),
            summary=dict(data.get("summary", {})),
            usage=dict(data.get("usage", {})),
            schema_version=int(data["schema_version"]),
        )

    def results(self) -> list[tuple[str, Mapping[str, Any]]]:
        """Every recorded result as (nodeid, result dict), in record order."""
        return [(t.nodeid, r) for t in self.tests for r in t.results]

    def replace(self, **changes: Any) -> RunRecord:
        return dataclasses.replace(self, **changes)


# Migrations from older schema versions: {from_version: function(dict) -> dict of from_version+1}.
# Version 1 is the first; the table is where version 2 will register its upgrade.
MIGRATIONS: Mapping[int, Any] = {}


def _migrate(data: dict[str, Any], path: str) -> dict[str, Any]:
    version = data.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise RecordError(
            f"{path}: 'schema_version' is missing or not an integer ({version!r}); "
            "this file was not written by llaso-pytest"
        )
    while version < SCHEMA_VERSION:
        upgrade = MIGRATIONS.get(version)
        if upgrade is None:
            raise RecordError(f"{path}: no migration from schema_version {version}")
        data = upgrade(data)
        version = int(data["schema_version"])
    if version > SCHEMA_VERSION:
        raise RecordError(
            f"{path}: schema_version {version} is newer than this llaso-pytest understands "
            f"({SCHEMA_VERSION}); upgrade llaso-pytest to read it"
        )
    return data


def parse_record(data: Any, *, source: str = "<record>") -> RunRecord:
    """Validate a decoded JSON document and build a :class:`RunRecord` (migrating old versions)."""
    if not isinstance(data, dict) or data.get("kind") != RECORD_KIND:
        raise RecordError(
            f"{source}: not a llaso-pytest run record (expected a JSON object with "
            f"\"kind\": \"{RECORD_KIND}\"); pass a file written by --llaso-out or --llaso-save"
        )
    data = _migrate(dict(data), source)
    missing = [k for k in ("run_id", "started_at", "complete", "tests") if k not in data]
    if missing:
        raise RecordError(f"{source}: run record lacks required field(s) {', '.join(missing)}")
    _check_shape(data, source)
    try:
        return RunRecord.from_dict(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise RecordError(f"{source}: malformed run record: {exc!r}") from exc


def _check_shape(data: Mapping[str, Any], source: str) -> None:
    """The record's structure (Contract 3): types are checked, never coerced, so that e.g.
    ``"complete": "false"`` is an error instead of ``bool("false") == True``."""

    def bad(what: str, expected: str, value: Any) -> RecordError:
        text = repr(value)
        text = text if len(text) <= 60 else text[:57] + "..."
        return RecordError(f"{source}: {what} must be {expected}, not {type(value).__name__} "
                           f"({text}); was this file edited or written by another tool?")

    if not isinstance(data["complete"], bool):
        raise bad("'complete'", "true or false", data["complete"])
    for key in ("provenance", "summary", "usage"):
        if data.get(key) is not None and not isinstance(data[key], dict):
            raise bad(f"'{key}'", "an object", data[key])
    tests = data["tests"]
    if not isinstance(tests, list):
        raise bad("'tests'", "a list of test objects", tests)
    for i, test in enumerate(tests):
        if not isinstance(test, dict):
            raise bad(f"tests[{i}]", "an object", test)
        nodeid = test.get("nodeid")
        if not isinstance(nodeid, str) or not nodeid:
            raise bad(f"tests[{i}].nodeid", "a non-empty string", nodeid)
        results = test.get("results", [])
        if not isinstance(results, list):
            raise bad(f"'results' of {nodeid}", "a list of result objects", results)
        for j, result in enumerate(results):
            if not isinstance(result, dict):
                raise bad(f"results[{j}] of {nodeid}", "an object (contract 2)", result)
        markers = test.get("markers", [])
        if not isinstance(markers, list):
            raise bad(f"'markers' of {nodeid}", "a list", markers)


def read_record(path: str | os.PathLike[str]) -> RunRecord:
    """Read a run record, raising :class:`RecordError` naming the file if it is unusable."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RecordError(f"{p}: no such run record file") from None
    except OSError as exc:
        raise RecordError(f"{p}: cannot read run record: {exc.strerror}") from exc
    if not text.strip():
        raise RecordError(f"{p}: run record file is empty")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RecordError(
            f"{p}: not valid JSON (truncated or corrupt?) at line {exc.lineno} column {exc.colno}: "
            f"{exc.msg}"
        ) from exc
    return parse_record(data, source=str(p))


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` through a temp file in the same folder and ``os.replace``."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:  # text written as given
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def dumps_record(record: RunRecord | Mapping[str, Any]) -> str:
    data = record.to_dict() if isinstance(record, RunRecord) else dict(record)
    text = json.dumps(data, indent=1, sort_keys=False, allow_nan=False, default=_json_default)
    # one redaction pass over the whole document: assertion text, judge errors, provenance
    from llaso_pytest.provenance import redact_text

    return redact_text(text) + "\n"


def write_record(record: RunRecord, path: str | os.PathLike[str]) -> None:
    """Atomically write a run record as JSON."""
    atomic_write_text(path, dumps_record(record))


def _json_default(obj: Any) -> Any:
    # NumPy scalars and arrays, tuples, paths: made JSON-able without importing NumPy.
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(f"value of type {type(obj).__name__} is not JSON-serialisable: {obj!r}")

