"""A disk cache of chat completions in SQLite (``.llaso/cache/llm.sqlite3`` by default).

The key is the sha256 of the canonical JSON of everything that can change a completion: the
endpoint URL, the model, the prompt template name and hash, the decoding parameters (seed,
temperature, response format, ...) and the full rendered messages. Each write is one SQLite
transaction (atomic); WAL mode and a busy timeout make it safe for several processes at once
(``pytest -n 2``). Only complete, valid completions are stored (the client decides): errors
are never cached. Header and query values never enter the key or the stored request, and the
stored text passes :func:`llaso_pytest.provenance.redact_text`. A write that fails (disk full,
read-only file) turns the cache read-only for the rest of the run with one warning
(:attr:`ResponseCache.degraded`); the completion itself is still returned.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, Self

__all__ = [
    "CACHE_SCHEMA_VERSION",
    "CREDENTIAL_PARAMS",
    "CacheError",
    "CachedResponse",
    "Cacheable",
    "ResponseCache",
    "cache_key",
    "credential_values",
    "identity_hash",
    "public_params",
    "unusable",
]

CACHE_SCHEMA_VERSION = 2  # 2: system_fingerprint column (version 1 files are migrated)
_BUSY_TIMEOUT_MS = 30_000

_README = """This directory holds llaso-pytest's cache of LLM responses (llm.sqlite3).
Entries are keyed on endpoint, model, prompt template hash, decoding parameters and the full
input, so a changed prompt or parameter never hits a stale entry. Delete the file, or run pytest
with --llaso-judge-refresh, to call the endpoints again. It may contain model outputs; it never
contains API keys.
"""


# request parameters that carry transport and credentials, never the completion's content
CREDENTIAL_PARAMS = ("extra_headers", "extra_query")


class Cacheable(Protocol):
    """What the cache needs of a request (``client.ChatRequest`` is one)."""

    @property
    def messages(self) -> Sequence[Mapping[str, str]]: ...
    @property
    def params(self) -> Mapping[str, Any]: ...
    @property
    def prompt_ref(self) -> str | None: ...
    @property
    def accept(self) -> Any: ...  # Callable[[str], str | None] | None


class CacheError(RuntimeError):
    """The cache file cannot be used (unknown schema version, corrupt file)."""


@dataclass(frozen=True)
class CachedResponse:
    """The parts of a chat completion the harness uses."""

    content: str
    finish_reason: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    response_model: str | None
    system_fingerprint: str | None = None


def credential_values(params: Mapping[str, Any]) -> Iterator[str]:
    """The values of ``extra_headers`` / ``extra_query`` (credentials and transport)."""
    for name in CREDENTIAL_PARAMS:
        block = params.get(name)
        if isinstance(block, Mapping):
            for v in block.values():
                if v is not None:
                    yield str(v)


# The key of the identity hash over ``extra_body`` values. It is public and fixed on purpose:
# a per-machine secret would make the same request hash differently on a laptop and in CI, so
# no baseline would ever compare. It therefore separates domains but hides nothing a guess could
# find, which is why credential-bearing blocks (headers, query) get no hash at all.
IDENTITY_KEY = b"llaso-pytest/request-identity/v1"


def identity_hash(value: Any) -> str:
    """12 hex digits of HMAC-SHA256(:data:`IDENTITY_KEY`, canonical JSON of ``value``)."""
    import hashlib
    import hmac

    blob = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hmac.new(IDENTITY_KEY, blob.encode("utf-8"), hashlib.sha256).hexdigest()[:12]


def public_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` as they may be stored, hashed and shown.

    ``extra_headers`` / ``extra_query`` (keys, cookies, subscription keys: transport, not
    content) become their sorted names, so a rotated key neither shows nor changes the cache
    key or a signature. ``extra_body`` values can change the completion, so they are named and
    identified by :func:`identity_hash`, never shown.
    """
    out = {k: v for k, v in params.items() if k not in (*CREDENTIAL_PARAMS, "extra_body")}
    for name in CREDENTIAL_PARAMS:
        block = params.get(name)
        if isinstance(block, Mapping):
            out[name] = sorted(str(k) for k in block)
        elif block is not None:
            out[name] = "[REDACTED]"
    body = params.get("extra_body")
    if isinstance(body, Mapping):
        out["extra_body"] = {
            "names": sorted(str(k) for k in body),
            "hmac": identity_hash(dict(body)),
        }
    elif body is not None:
        out["extra_body"] = {"hmac": identity_hash(body)}
    return out


def unusable(request: Cacheable, reply: CachedResponse) -> str | None:
    """Why a reply must not be cached or replayed from the cache; ``None`` when it may.

    The one cache policy: a reply cut at the token limit is not the reply, and the request's
    own ``accept`` check (the judge: a verdict it can parse) must pass.
    """
    if reply.finish_reason == "length":
        return "cut at the token limit (finish_reason=length)"
    if request.accept is not None:
        reason: str | None = request.accept(reply.content)
        return reason
    return None


def cache_key(
    *,
    base_url: str,
    model: str,
    prompt_ref: str | None,
    params: Mapping[str, Any],
    messages: Sequence[Mapping[str, Any]],
) -> str:
    """sha256 over the canonical JSON of every input that can change the completion."""
    payload = {
        "v": CACHE_SCHEMA_VERSION,
        "base_url": base_url,
        "model": model,
        "prompt": prompt_ref,
        "params": dict(params),
        "messages": [dict(m) for m in messages],
    }
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class ResponseCache:
    """Thread-safe, process-safe response cache.

    ``refresh=True`` skips reads (writes still happen)."""

    def __init__(self, path: str | Path, *, refresh: bool = False) -> None:
        self.path = Path(path)
        self.refresh = refresh
        self._lock = threading.Lock()
        self.degraded: str | None = None  # why writes stopped, once they have
        self.path.parent.mkdir(parents=True, exist_ok=True)
        readme = self.path.parent / "README.txt"
        if not readme.exists():
            tmp = readme.with_name(f".README.txt.{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_text(_README, encoding="utf-8")
            tmp.replace(readme)
        try:
            self._conn = sqlite3.connect(
                str(self.path),
                timeout=_BUSY_TIMEOUT_MS / 1000,
                check_same_thread=False,
                isolation_level=None,
            )
            self._conn.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
            self._setup()
        except sqlite3.DatabaseError as exc:
            raise CacheError(
                f"LLM response cache {self.path} cannot be opened ({exc}); "
                "delete the file to start a fresh cache"
            ) from None

    def _setup(self) -> None:
        conn = self._conn
        for attempt in range(50):
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute("BEGIN IMMEDIATE")
                try:
                    conn.execute(
                        "CREATE TABLE IF NOT EXISTS meta"
                        " (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
                    )
                    conn.execute(
                        "CREATE TABLE IF NOT EXISTS responses ("
                        " key TEXT PRIMARY KEY, base_url TEXT, model TEXT, prompt TEXT,"
                        " request TEXT,"
                        " content TEXT NOT NULL, finish_reason TEXT, prompt_tokens INTEGER,"
                        " completion_tokens INTEGER, response_model TEXT, created_at REAL,"
                        " system_fingerprint TEXT)"
                    )
                    row = conn.execute(
                        "SELECT value FROM meta WHERE key='schema_version'"
                    ).fetchone()
                    if row is not None and row[0] == "1":  # migration 1 -> 2: one new column
                        conn.execute("ALTER TABLE responses ADD COLUMN system_fingerprint TEXT")
                        conn.execute(
                            "UPDATE meta SET value=? WHERE key='schema_version'",
                            (str(CACHE_SCHEMA_VERSION),),
                        )
                        row = (str(CACHE_SCHEMA_VERSION),)
                    if row is None:
                        conn.execute(
                            "INSERT INTO meta VALUES ('schema_version', ?)",
                            (str(CACHE_SCHEMA_VERSION),),
                        )
                    elif row[0] != str(CACHE_SCHEMA_VERSION):
                        raise CacheError(
                            f"LLM response cache {self.path} has schema version {row[0]}, "
                            f"this llaso-pytest reads version {CACHE_SCHEMA_VERSION}; "
                            "delete the file to start a fresh cache"
                        )
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == 49:
                    raise
                time.sleep(0.05)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def key_for(request: Cacheable, *, identity: str, model: str) -> str:
        """The key of a request: credentials by name only (:func:`public_params`)."""
        return cache_key(
            base_url=identity,
            model=model,
            prompt_ref=request.prompt_ref,
            params=public_params(request.params),
            messages=request.messages,
        )

    def lookup(self, request: Cacheable, *, identity: str, model: str) -> CachedResponse | None:
        """A usable stored reply for ``request``, else ``None`` (an unusable one is a miss)."""
        hit = self.get(self.key_for(request, identity=identity, model=model))
        return hit if hit is not None and unusable(request, hit) is None else None

    def store(
        self, request: Cacheable, reply: CachedResponse, *, identity: str, model: str
    ) -> None:
        """Store ``reply`` when :func:`unusable` allows it, with the request in readable form."""
        if unusable(request, reply) is not None:
            return
        self.put(
            self.key_for(request, identity=identity, model=model),
            reply,
            base_url=identity,
            model=model,
            prompt_ref=request.prompt_ref,
            request={
                "messages": [dict(m) for m in request.messages],
                "params": public_params(request.params),
            },
        )

    def get(self, key: str) -> CachedResponse | None:
        """The stored completion for ``key``; ``None`` on a miss or when refreshing."""
        if self.refresh:
            return None
        try:
            with self._lock:
                row = self._conn.execute(
                    "SELECT content, finish_reason, prompt_tokens, completion_tokens,"
                    " response_model,"
                    " system_fingerprint FROM responses WHERE key=?",
                    (key,),
                ).fetchone()
        except sqlite3.Error:  # closed by teardown after Ctrl-C, or unreadable: a miss
            return None
        if row is None:
            return None
        return CachedResponse(*row)

    def put(
        self,
        key: str,
        response: CachedResponse,
        *,
        base_url: str,
        model: str,
        prompt_ref: str | None,
        request: Mapping[str, Any],
    ) -> None:
        """Store one completion (one transaction; a concurrent writer waits on the busy timeout).

        Never raises for a failed write: the cache becomes read-only and :attr:`degraded` says
        why (the caller warns once); the completion in hand is not lost.
        """
        from llaso_pytest.provenance import redact_text

        if self.degraded is not None:
            return
        blob = redact_text(json.dumps(request, sort_keys=True, ensure_ascii=False))
        try:
            with self._lock:
                self._conn.execute(
                    "INSERT OR REPLACE INTO responses (key, base_url, model, prompt, request,"
                    " content,"
                    " finish_reason, prompt_tokens, completion_tokens, response_model, created_at,"
                    " system_fingerprint) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        key,
                        redact_text(base_url),
                        model,
                        prompt_ref,
                        blob,
                        redact_text(response.content),
                        response.finish_reason,
                        response.prompt_tokens,
                        response.completion_tokens,
                        response.response_model,
                        time.time(),
                        response.system_fingerprint,
                    ),
                )
        except (sqlite3.Error, OSError) as exc:
            self.degraded = (
                f"LLM response cache {self.path}: a write failed "
                f"({type(exc).__name__}: {exc}); the "
                "cache is read-only for the rest of this run (results are kept, new replies are "
                "not cached). Free disk space or fix the file's permissions"
            )

    def __len__(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0])
