"""Run records: the JSON document every session writes, its schema version, atomic I/O.

A run record holds per-test results (each a result dict, see docs/architecture.md) and the
provenance of the run. Readers refuse what they cannot interpret, naming the file.
This module imports neither pytest nor NumPy, so it is usable from a notebook.
"""

from __future__ import annotations

import dataclasses
import json
import math
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
    "Selection",
    "ShardInfo",
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
class Selection:
    """Which tests the session was asked to run, so a comparison can tell a test that was not
    run (deselected, a subset of the suite) from one that was removed, and so an empty or
    partial run is never saved as a baseline. Optional: records before it have none."""

    collected: int
    deselected: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    keyword: str | None = None
    markexpr: str | None = None
    last_failed: bool = False
    subset: bool = False
    empty: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"collected": self.collected, "deselected": list(self.deselected),
                "args": list(self.args), "keyword": self.keyword, "markexpr": self.markexpr,
                "last_failed": self.last_failed, "subset": self.subset, "empty": self.empty}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Selection:
        return cls(collected=int(data["collected"]), deselected=tuple(data["deselected"]),
                   args=tuple(data["args"]), keyword=data.get("keyword"),
                   markexpr=data.get("markexpr"), last_failed=bool(data["last_failed"]),
                   subset=bool(data["subset"]), empty=bool(data["empty"]))


@dataclass(frozen=True)
class ShardInfo:
    """Which share of the suite a ``--llaso-shard K/N`` run ran, so ``llaso merge`` can check
    that N shards cover the same collection exactly once (``llaso_pytest.shard``).

    ``universe_*`` identify every test the unsharded run would have run (after ``-k``/``-m``);
    ``items`` are this shard's; ``durations_sha256`` names the record whose durations balanced
    the partition (``None``: by count); ``unsharded_subset`` is the selection's ``subset`` flag
    apart from sharding."""

    index: int
    count: int
    by: str
    universe_size: int
    universe_sha256: str
    items: tuple[str, ...]
    durations_sha256: str | None = None
    durations_source: str | None = None
    unsharded_subset: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "count": self.count, "by": self.by,
                "universe_size": self.universe_size, "universe_sha256": self.universe_sha256,
                "durations_sha256": self.durations_sha256,
                "durations_source": self.durations_source,
                "unsharded_subset": self.unsharded_subset, "items": list(self.items)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ShardInfo:
        return cls(index=int(data["index"]), count=int(data["count"]), by=str(data["by"]),
                   universe_size=int(data["universe_size"]),
                   universe_sha256=str(data["universe_sha256"]),
                   items=tuple(str(i) for i in data["items"]),
                   durations_sha256=data.get("durations_sha256"),
                   durations_source=data.get("durations_source"),
                   unsharded_subset=bool(data.get("unsharded_subset", False)))


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
    selection: Selection | None = None
    shard: ShardInfo | None = None
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
            **({"selection": self.selection.to_dict()} if self.selection is not None else {}),
            **({"shard": self.shard.to_dict()} if self.shard is not None else {}),
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
            selection=Selection.from_dict(data["selection"])
            if data.get("selection") is not None else None,
            shard=ShardInfo.from_dict(data["shard"]) if data.get("shard") is not None else None,
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
    check_values(data, source=source)
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
    _check_selection(data.get("selection"), bad)
    _check_shard(data.get("shard"), bad)
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


#: Deepest nesting a record may have (a record is about 8 levels deep; result extras add a few).
MAX_DEPTH = 64
#: Largest integer magnitude a record may hold (seeds are below 2**63; counts far below).
MAX_INT = 2**64


def _field(path: tuple[str | int, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "the document"


def check_values(data: Any, *, source: str) -> None:
    """Refuse what no consumer can use, naming the file and the field: nesting deeper than
    :data:`MAX_DEPTH`, NaN or infinite numbers (``1e400`` parses as infinity), integers beyond
    :data:`MAX_INT`, and result names with lone surrogates (a name keys verdicts, seeds and
    reports; item ids may hold them: file names decoded with ``surrogateescape`` are real, and
    reports escape them). Iterative, so a crafted document cannot exhaust the stack."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(data, ())]
    while stack:
        value, path = stack.pop()
        if isinstance(value, dict):
            if len(path) >= MAX_DEPTH:
                raise RecordError(f"{source}: {_field(path)} is nested deeper than {MAX_DEPTH} "
                                  "levels; this is not a run record llaso-pytest wrote")
            stack.extend((item, (*path, key)) for key, item in value.items())
        elif isinstance(value, list):
            if len(path) >= MAX_DEPTH:
                raise RecordError(f"{source}: {_field(path)} is nested deeper than {MAX_DEPTH} "
                                  "levels; this is not a run record llaso-pytest wrote")
            if not _flat_ok(value):
                stack.extend((item, (*path, i)) for i, item in enumerate(value))
        elif isinstance(value, str):
            if len(path) == 5 and path[-1] == "name" and path[2] == "results" and \
                    not (value.isascii() or _utf8(value)):
                raise RecordError(f"{source}: {_field(path)} is not valid text "
                                  f"({_short_repr(value)}: a lone surrogate?)")
        elif isinstance(value, float):
            if value != value or value in (_INF, -_INF):
                raise RecordError(f"{source}: {_field(path)} is {value!r}, not a finite number "
                                  "(NaN, Infinity or a literal beyond the float range)")
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) >= MAX_INT:
            raise RecordError(f"{source}: {_field(path)} is an integer out of range "
                              f"({len(str(abs(value)))} digits)")


_INF = float("inf")


def _flat_ok(values: list[Any]) -> bool:
    """Whether a long flat list needs no walk item by item: only ``str`` (never checked in a
    list), or only ``int``/``float`` in range whose sum is finite (the per-item ids and
    statistics, 100k entries each, checked at C speed). Anything else is walked."""
    if len(values) < 64:
        return False
    kinds = set(map(type, values))
    if kinds == {str}:
        return True
    if not kinds <= {int, float}:
        return False
    return -MAX_INT < min(values) and max(values) < MAX_INT and math.isfinite(sum(values))


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _short_repr(value: str) -> str:
    text = ascii(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_selection(sel: Any, bad: Any) -> None:
    if sel is None:
        return  # written before selections were recorded
    if not isinstance(sel, dict):
        raise bad("'selection'", "an object", sel)
    collected = sel.get("collected")
    if not isinstance(collected, int) or isinstance(collected, bool) or collected < 0:
        raise bad("selection.collected", "a non-negative integer", collected)
    for key in ("deselected", "args"):
        value = sel.get(key)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise bad(f"selection.{key}", "a list of strings", value)
    for key in ("keyword", "markexpr"):
        if sel.get(key) is not None and not isinstance(sel[key], str):
            raise bad(f"selection.{key}", "a string or null", sel[key])
    for key in ("last_failed", "subset", "empty"):
        if not isinstance(sel.get(key), bool):
            raise bad(f"selection.{key}", "true or false", sel.get(key))


def _check_shard(shard: Any, bad: Any) -> None:
    if shard is None:
        return  # not a shard of a suite
    if not isinstance(shard, dict):
        raise bad("'shard'", "an object", shard)
    for key in ("index", "count", "universe_size"):
        value = shard.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise bad(f"shard.{key}", "a non-negative integer", value)
    for key in ("by", "universe_sha256"):
        if not isinstance(shard.get(key), str):
            raise bad(f"shard.{key}", "a string", shard.get(key))
    items = shard.get("items")
    if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
        raise bad("shard.items", "a list of node ids", items)


def read_record(path: str | os.PathLike[str], *, arrays: bool = False) -> RunRecord:
    """Read a run record, raising :class:`RecordError` naming the file if it is unusable.

    ``arrays=True``: per-item columns are decoded as NumPy arrays and equal id lists shared
    while the JSON is read (:mod:`llaso_pytest.record_arrays`; the comparison's readers)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RecordError(f"{p}: no such run record file") from None
    except OSError as exc:
        raise RecordError(f"{p}: cannot read run record: {exc.strerror}") from exc
    if not text.strip():
        raise RecordError(f"{p}: run record file is empty")
    return parse_record(loads_document(text, source=str(p), arrays=arrays), source=str(p))


def loads_document(text: str, *, source: str, arrays: bool = False) -> Any:
    """Decode a JSON document, :class:`RecordError` naming ``source`` for anything that is not
    JSON a consumer can use (see :func:`check_values`, which :func:`parse_record` applies)."""
    try:
        if arrays:
            from llaso_pytest.record_arrays import ItemArrays

            return json.loads(text, object_hook=ItemArrays())
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise RecordError(
            f"{source}: not valid JSON (truncated or corrupt?) at line {exc.lineno} column "
            f"{exc.colno}: {exc.msg}"
        ) from exc
    except RecursionError:
        raise RecordError(f"{source}: nested too deeply to read (more than {MAX_DEPTH} levels "
                          "is never a run record llaso-pytest wrote)") from None
    except ValueError as exc:  # e.g. an integer literal beyond Python's digit limit
        raise RecordError(f"{source}: not usable JSON: {exc}") from None


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

