"""A disk cache of decoded transcripts (``<speech cache>/transcripts/transcripts.sqlite3``).

Decoding is the expensive part of an ASR evaluation; re-runs and the workers of
``pytest -n 2`` should not pay for it twice. An entry is keyed on

- the sha256 of the *prepared* samples the recogniser receives (after the recipe's
  conversions and the condition's seeded noise, so recipe, condition and noise seed are in
  it),
- the model: its name, the pin (file hashes, options, runtime versions, device, dtype),
- what the timing depends on: device, batch size, warm-up, CPU threads, CPU model and core
  counts (a hit reuses the latency measured when the item was decoded, so it must have been
  measured under the same conditions),

and holds the transcript and that latency. Pure (no pytest). Each write is one SQLite
transaction; WAL mode and a busy timeout make it safe for several processes. A pass holds
an exclusive lock file while it looks up, decodes and stores (:meth:`TranscriptCache.lock`),
so a second worker asking for the same pass waits and then reads every transcript instead
of decoding them again. A write that fails leaves the cache read-only with one warning;
the transcripts of the run are still returned.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llaso_pytest.errors import LlasoError

__all__ = ["CACHE_MODES", "CachedTranscript", "TranscriptCache", "TranscriptCacheError",
           "entry_key", "model_key"]

TRANSCRIPT_SCHEMA_VERSION = 1
CACHE_MODES = ("use", "refresh", "off")
_BUSY_TIMEOUT_MS = 60_000

_README = """This directory holds llaso-pytest's cache of decoded ASR transcripts
(transcripts.sqlite3). Entries are keyed on the sha256 of the prepared audio the recogniser
received, the model pin and options, and the timing conditions (device, threads, CPU), so a
changed recipe, condition, model or machine never hits a stale entry. Delete the directory,
or run pytest with --llaso-speech-transcript-cache refresh, to decode again.
"""


class TranscriptCacheError(LlasoError, RuntimeError):
    """The transcript cache cannot be used (unknown schema version, corrupt file)."""


@dataclass(frozen=True)
class CachedTranscript:
    """One cached decoding: the transcript and the latency measured when it was decoded."""

    text: str
    latency_s: float


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def model_key(name: str, pin: Mapping[str, Any]) -> str:
    """sha256 of the model's name and pin (files, options, runtime, device, dtype)."""
    return hashlib.sha256(_canonical({"name": name, "pin": dict(pin)}).encode()).hexdigest()


def entry_key(audio_sha256: str, model: str, timing: Mapping[str, Any]) -> str:
    """The key of one utterance's transcript (see the module docstring)."""
    text = _canonical({"v": TRANSCRIPT_SCHEMA_VERSION, "audio": audio_sha256, "model": model,
                       "timing": dict(timing)})
    return hashlib.sha256(text.encode()).hexdigest()


class TranscriptCache:
    """Transcripts by :func:`entry_key` in one SQLite file under ``directory``."""

    def __init__(self, directory: str | os.PathLike[str], *, session: str | None = None) -> None:
        import uuid

        self.directory = Path(directory)
        #: who stores the entries: the test session (all xdist workers of one run share it)
        self.session = session or uuid.uuid4().hex
        self.path = self.directory / "transcripts.sqlite3"
        self.degraded: str | None = None
        self._conn: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._conn is not None:
            return self._conn
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            readme = self.directory / "README"
            if not readme.exists():
                readme.write_text(_README, encoding="utf-8")
            conn = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_MS / 1000)
            conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA journal_mode = WAL")
            with conn:
                conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS transcripts (key TEXT PRIMARY KEY, "
                    "text TEXT NOT NULL, latency_s REAL NOT NULL, created REAL NOT NULL, "
                    "session TEXT NOT NULL)"
                )
                conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)",
                             (str(TRANSCRIPT_SCHEMA_VERSION),))
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except (sqlite3.Error, OSError) as exc:
            raise TranscriptCacheError(
                f"transcript cache {self.path}: cannot open it ({exc}); delete the file or "
                "pass --llaso-speech-transcript-cache off"
            ) from None
        if row is None or row[0] != str(TRANSCRIPT_SCHEMA_VERSION):
            conn.close()
            raise TranscriptCacheError(
                f"transcript cache {self.path} has schema version {row and row[0]!r}, this "
                f"llaso-pytest reads version {TRANSCRIPT_SCHEMA_VERSION}; delete the file (it "
                "is only a cache) or pass --llaso-speech-transcript-cache off"
            )
        self._conn = conn
        return conn

    def get_many(self, keys: Sequence[str], *, this_session: bool = False
                 ) -> dict[str, CachedTranscript]:
        """The cached entries among ``keys`` (missing keys are absent); with
        ``this_session``, only those this session stored (``refresh``)."""
        conn = self._connect()
        out: dict[str, CachedTranscript] = {}
        for start in range(0, len(keys), 500):
            chunk = list(keys[start:start + 500])
            marks = ",".join("?" * len(chunk))
            try:
                rows = conn.execute(
                    f"SELECT key, text, latency_s FROM transcripts WHERE key IN ({marks}) "  # noqa: S608
                    "AND (? OR session = ?)",
                    [*chunk, int(not this_session), self.session],
                ).fetchall()
            except sqlite3.Error as exc:
                raise TranscriptCacheError(
                    f"transcript cache {self.path}: cannot read it ({exc}); delete the file"
                ) from None
            for key, text, latency in rows:
                out[str(key)] = CachedTranscript(text=str(text), latency_s=float(latency))
        return out

    def put_many(self, entries: Iterable[tuple[str, CachedTranscript]]) -> None:
        """Store entries in one transaction; a failure degrades the cache (one warning)."""
        if self.degraded is not None:
            return
        rows = [(k, e.text, float(e.latency_s), time.time(), self.session) for k, e in entries]
        try:
            conn = self._connect()
            with conn:
                conn.executemany("INSERT OR REPLACE INTO transcripts VALUES (?, ?, ?, ?, ?)",
                                 rows)
        except (sqlite3.Error, OSError, TranscriptCacheError) as exc:
            from llaso_pytest.errors import warn

            self.degraded = str(exc)
            warn(f"transcript cache {self.path}: cannot write ({exc}); the cache is read-only "
                 "for the rest of this run (transcripts are still used)")

    @contextlib.contextmanager
    def lock(self, name: str) -> Iterator[None]:
        """An exclusive inter-process lock named ``name`` (a file under ``locks/``)."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: no cross-process exclusion
            yield
            return
        locks = self.directory / "locks"
        locks.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256(name.encode()).hexdigest()[:32]
        with open(locks / f"{digest}.lock", "a+b") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
