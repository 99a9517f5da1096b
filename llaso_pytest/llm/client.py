"""Chat completions through the official ``openai`` client: cache, bounded pool, our own retries.

The openai client's retries are disabled (``max_retries=0``) so that every retry is ours and is
counted; its 600 s default timeout is replaced by the endpoint's explicit per-call timeout, a
total deadline per reply (a server trickling bytes cannot hold a call open) and a cap on the
reply size. Requests run on ``concurrency`` daemon worker threads. 429, 408/409, 5xx, timeouts,
connection resets and malformed replies are retried with exponential backoff and jitter,
honouring ``Retry-After``/``retry-after-ms``. An item that exhausts its retries gets one deferred
second pass at the end of the batch; when the endpoint cannot be reached at all (consecutive
connect failures, no success) a circuit breaker stops calling it and the batch fails fast with
one message (:class:`EndpointUnavailable`). Results come back in input order, one per request.

Nothing a request carries as a credential (the API key, ``extra_headers`` and ``extra_query``
values) is stored or printed: the cache key and the stored request keep their names only, and
every error text is scrubbed of them. Only complete, valid replies (``finish_reason`` not
``length``, accepted by the request's ``accept`` check) are cached. After Ctrl-C no new call
starts: the batch raises ``KeyboardInterrupt`` at once and in-flight calls are abandoned.
With a run budget (``budget=``, :mod:`llaso_pytest.llm.budget`) every API call is admitted by
the run's ledger first; an item it refuses is never called and ends ``budget_exceeded``.
"""

from __future__ import annotations

import email.utils
import json
import math
import random
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self

from llaso_pytest.errors import LlasoError
from llaso_pytest.llm.cache import (
    CREDENTIAL_PARAMS,
    CachedResponse,
    ResponseCache,
    credential_values,
    identity_hash,
    public_params,
)
from llaso_pytest.llm.config import EndpointConfig, redact_url
from llaso_pytest.provenance import redact_text

if TYPE_CHECKING:  # pragma: no cover
    import openai

    from llaso_pytest.context import Progress
    from llaso_pytest.llm.budget import BatchGate, Ledger

__all__ = [
    "CREDENTIAL_PARAMS",
    "CallOutcome",
    "ChatRequest",
    "EndpointUnavailable",
    "LLMClient",
    "UsageStats",
    "identity_hash",
    "parse_reply",
    "parse_retry_after",
    "public_params",
]

RETRYABLE_STATUS = frozenset({408, 409, 429})


@dataclass(frozen=True)
class ChatRequest:
    """One item to complete. ``params`` are decoding parameters passed to the API as-is.

    ``accept(content)`` returns ``None`` for a usable reply, else why not: a reply it refuses
    is returned but never cached (so a fixed server or prompt is asked again).
    """

    id: str
    messages: tuple[Mapping[str, str], ...]
    params: Mapping[str, Any] = field(default_factory=dict)
    prompt_ref: str | None = None
    accept: Callable[[str], str | None] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class CallOutcome:
    """What happened to one request. ``error_type`` is ``None`` on success."""

    id: str
    content: str | None
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached: bool = False
    attempts: int = 0  # API calls made for this item (0 on a cache hit)
    waits: tuple[float, ...] = ()  # seconds slept before each retry
    error_type: str | None = None
    error: str | None = None
    response_model: str | None = None  # the model the server says it served
    system_fingerprint: str | None = None
    # seconds of the successful API call, request sent to reply read (None on a cache hit or
    # an error: no generation was timed); with ``stream=True`` also the time to the first
    # content chunk
    latency_s: float | None = None
    ttft_s: float | None = None

    @property
    def ok(self) -> bool:
        return self.error_type is None


@dataclass
class UsageStats:
    """Thread-safe counters for one client: API calls, retries, cache, tokens, cost."""

    api_calls: int = 0
    retries: int = 0
    cache_hits: int = 0
    cache_misses: int = 0
    items_ok: int = 0
    items_failed: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    calls_without_usage: int = 0  # replies with no token counts: their cost is unknown, not 0
    errors_by_type: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **deltas: Any) -> None:
        with self._lock:
            for k, v in deltas.items():
                if k == "error_type":
                    self.errors_by_type[v] = self.errors_by_type.get(v, 0) + 1
                elif k == "cost_usd":
                    self.cost_usd = (self.cost_usd or 0.0) + v
                else:
                    setattr(self, k, getattr(self, k) + v)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "api_calls": self.api_calls,
                "retries": self.retries,
                "cache_hits": self.cache_hits,
                "cache_misses": self.cache_misses,
                "items_ok": self.items_ok,
                "items_failed": self.items_failed,
                "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
                "cost_usd": self.cost_usd,
                "calls_without_usage": self.calls_without_usage,
                "errors_by_type": dict(self.errors_by_type),
            }


def _finite_seconds(raw: str, scale: float = 1.0) -> float | None:
    try:
        v = float(raw) * scale
    except ValueError:
        return None
    return max(v, 0.0) if math.isfinite(v) else None  # "nan", "inf": unreadable


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms``, ``retry-after`` (seconds or HTTP date), else None.

    Unreadable values (``nan``, ``inf``, garbage) give ``None``: our own backoff applies.
    """
    lower = {k.lower(): v for k, v in headers.items()}
    ms = lower.get("retry-after-ms")
    if ms is not None:
        got = _finite_seconds(ms, 1 / 1000.0)
        if got is not None:
            return got
    ra = lower.get("retry-after")
    if ra is None:
        return None
    got = _finite_seconds(ra)
    if got is not None or ra.strip().lower() in ("nan", "inf", "-inf", "infinity"):
        return got
    try:
        parsed = email.utils.parsedate_to_datetime(ra)
    except (TypeError, ValueError):
        return None  # unreadable header: fall back to our own backoff
    return max(parsed.timestamp() - (time.time() if now is None else now), 0.0)


class EndpointUnavailable(LlasoError, ConnectionError):
    """The endpoint could not be reached at all: the circuit breaker stopped calling it."""


class _Retryable(LlasoError):
    def __init__(
        self,
        error_type: str,
        message: str,
        retry_after: float | None = None,
        *,
        connect: bool = False,
    ) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.retry_after = retry_after
        self.connect = connect  # the connection could not even be opened (breaker input)


class _Fatal(LlasoError):
    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message


class _Malformed(LlasoError, ValueError):
    """A 200 reply that is not a chat completion the harness can use."""


def _opt_int(d: Mapping[str, Any], key: str) -> int | None:
    v = d.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise _Malformed(f"usage.{key} is {v!r}, not a count")
    return v


def _opt_str(d: Mapping[str, Any], key: str, where: str) -> str | None:
    v = d.get(key)
    if v is not None and not isinstance(v, str):
        raise _Malformed(f"{where}{key} is {type(v).__name__} {v!r:.40}, not a string")
    return v


def parse_reply(body: Any) -> CachedResponse:
    """Strictly read a chat-completion JSON body; :class:`ValueError` naming what is wrong.

    Checked: ``choices`` a non-empty list whose first entry is an object with an object
    ``message``; ``content`` a string (``None`` only with a refusal, which is its own error);
    ``finish_reason``, ``model``, ``system_fingerprint`` strings or absent; ``usage`` an object
    of non-negative integer counts or absent.
    """
    if not isinstance(body, dict):
        raise _Malformed(f"reply is {type(body).__name__}, not a JSON object")
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices:
        raise _Malformed(f"'choices' is {choices!r:.40}, not a non-empty list")
    choice = choices[0]
    if not isinstance(choice, dict):
        raise _Malformed(f"choices[0] is {choice!r:.40}, not an object")
    message = choice.get("message")
    if not isinstance(message, dict):
        raise _Malformed(
            f"choices[0].message is {type(message).__name__} {message!r:.40}, not an object"
        )
    finish = _opt_str(choice, "finish_reason", "choices[0].")
    content = message.get("content")
    if content is None:
        refusal = message.get("refusal")
        raise _Fatal(
            "no_content",
            f"completion has no text content (refusal={refusal!r:.80}, finish_reason={finish!r})",
        )
    if not isinstance(content, str):
        raise _Malformed(
            f"choices[0].message.content is {type(content).__name__} {content!r:.40}, not a string"
        )
    usage = body.get("usage")
    if usage is not None and not isinstance(usage, dict):
        raise _Malformed(f"'usage' is {usage!r:.40}, not an object")
    usage = usage or {}
    return CachedResponse(
        content=content,
        finish_reason=finish,
        prompt_tokens=_opt_int(usage, "prompt_tokens"),
        completion_tokens=_opt_int(usage, "completion_tokens"),
        response_model=_opt_str(body, "model", ""),
        system_fingerprint=_opt_str(body, "system_fingerprint", ""),
    )


class _ReplyTooLarge(LlasoError):
    pass


class _DeadlineExceeded(LlasoError):
    pass


def _guarded_transport(inner: Any, *, deadline: float, max_bytes: int) -> Any:
    """An httpx transport that enforces a total deadline and a size cap on each reply body."""
    try:
        import httpx2 as hx  # the HTTP library of openai >= 3
    except ImportError:  # pragma: no cover - older openai
        import httpx as hx  # type: ignore[no-redef]

    class _Stream(hx.SyncByteStream):
        def __init__(self, stream: Any, t0: float) -> None:
            self._stream, self._t0, self._n = stream, t0, 0

        def __iter__(self) -> Iterator[bytes]:
            for chunk in self._stream:
                self._n += len(chunk)
                if self._n > max_bytes:
                    raise _ReplyTooLarge(f"reply larger than the cap of {max_bytes} bytes")
                if time.monotonic() - self._t0 > deadline:
                    raise _DeadlineExceeded(
                        f"reply not complete within the deadline of {deadline:g} s"
                    )
                yield chunk

        def close(self) -> None:
            self._stream.close()

    class _Transport(hx.BaseTransport):
        def handle_request(self, request: Any) -> Any:
            t0 = time.monotonic()
            resp = inner.handle_request(request)
            declared = resp.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > max_bytes:
                resp.close()
                raise _ReplyTooLarge(
                    f"reply of {int(declared)} bytes exceeds the cap of {max_bytes} bytes"
                )
            return hx.Response(
                status_code=resp.status_code,
                headers=resp.headers,
                stream=_Stream(resp.stream, t0),
                extensions=resp.extensions,
            )

        def close(self) -> None:
            inner.close()

    return _Transport()


@dataclass
class _Batch:
    """State shared by the workers of one ``complete`` call."""

    requests: Sequence[ChatRequest]
    outcomes: list[CallOutcome | None]
    todo: list[int]
    deferred: list[int] = field(default_factory=list)
    spent: dict[int, tuple[int, list[float]]] = field(default_factory=dict)  # first-pass calls
    second_pass: bool = False
    connect_failures: int = 0  # consecutive, reset by any reply
    successes: int = 0
    tripped: str | None = None  # the circuit breaker's message once open
    lock: threading.Lock = field(default_factory=threading.Lock)
    gate: BatchGate | None = None  # the run's budget (llm/budget.py), when one is set
    finished: int = 0  # items with an outcome (progress)


class LLMClient:
    """Completes batches of :class:`ChatRequest` against one endpoint.

    ``sleep`` and ``rng`` are injectable so tests can observe backoff without waiting (by
    default backoff waits on the cancel event, so Ctrl-C ends it at once).
    """

    def __init__(
        self,
        endpoint: EndpointConfig,
        *,
        cache: ResponseCache | None = None,
        sleep: Callable[[float], None] | None = None,
        rng: random.Random | None = None,
        stats: UsageStats | None = None,
        budget: Ledger | None = None,
    ) -> None:
        endpoint.require()
        self.endpoint = endpoint
        self.cache = cache
        self.budget = budget
        self.stats = stats if stats is not None else UsageStats()
        self._cancel = threading.Event()
        self._sleep: Callable[[float], None] = sleep or self._wait
        self._rng = rng or random.Random()
        self._rng_lock = threading.Lock()
        self._client: openai.OpenAI | None = None
        self._client_lock = threading.Lock()
        self._warned_cache = False

    def _wait(self, seconds: float) -> None:
        """Backoff that Ctrl-C (the cancel event) ends at once."""
        self._cancel.wait(seconds)

    # -- plumbing
    def _openai(self) -> openai.OpenAI:
        with self._client_lock:
            if self._client is None:
                import openai

                ep = self.endpoint
                transport = _guarded_transport(
                    _inner_transport(), deadline=ep.deadline, max_bytes=ep.max_reply_bytes
                )
                self._client = openai.OpenAI(
                    base_url=ep.base_url,
                    # Local servers (vLLM, llama.cpp, the fake server) take any key; the client
                    # insists on one.
                    api_key=ep.api_key or "unused-no-key-configured",
                    timeout=openai.Timeout(ep.timeout, connect=min(ep.connect_timeout, ep.timeout)),
                    max_retries=0,  # our retries only, so each one is counted
                    http_client=openai.DefaultHttpxClient(transport=transport),
                )
            return self._client

    def close(self) -> None:
        """Stop starting calls and release the HTTP client (in-flight calls are abandoned)."""
        self._cancel.set()
        client, self._client = self._client, None
        if client is not None:
            try:
                client.close()
            except Exception:  # noqa: BLE001 - a worker may still hold a connection
                pass

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _where(self) -> str:
        ep = self.endpoint
        return f"{ep.role} endpoint {redact_url(ep.base_url)} (model {ep.model})"

    def _scrub(self, text: str, request: ChatRequest | None = None) -> str:
        """Error text without this client's credentials (an echoed key, header values)."""
        own: list[str] = [self.endpoint.api_key] if self.endpoint.api_key else []
        if request is not None:
            own += list(credential_values(request.params))
        return redact_text(text, extra=own)

    # -- public
    def complete(self, requests: Sequence[ChatRequest]) -> list[CallOutcome]:
        """One outcome per request, in input order. Duplicate ids are a ``ValueError``.

        Raises :class:`EndpointUnavailable` when the endpoint could not be reached and no item
        succeeded, and ``KeyboardInterrupt`` at once on Ctrl-C (completed replies stay cached).
        """
        seen: set[str] = set()
        for r in requests:
            if r.id in seen:
                raise ValueError(f"duplicate request id {r.id!r} in a batch of {len(requests)}")
            seen.add(r.id)
        if not requests:
            return []
        from llaso_pytest.context import progress

        self._cancel.clear()
        batch = _Batch(requests, [None] * len(requests), list(range(len(requests)))[::-1])
        if self.budget is not None:
            from llaso_pytest.llm.budget import BatchGate

            batch.gate = BatchGate(self.budget, self.endpoint, size=len(requests),
                                   window=self.endpoint.concurrency, cancelled=self._cancel)
        try:
            # Progress is reported from this (the test's) thread while the workers run.
            label = f"llaso: {self.endpoint.role} calls to {self.endpoint.model}"
            with progress(label, len(requests), unit="calls") as shown:
                self._run_pass(batch, shown)
                if batch.deferred and batch.tripped is None:
                    batch.todo, batch.deferred, batch.second_pass = batch.deferred[::-1], [], True
                    self._run_pass(batch, shown)
        except BaseException:
            self._cancel.set()  # Ctrl-C: no new call starts; workers are daemons, abandoned
            raise
        finally:
            self._warn_cache()
        outcomes = [o for o in batch.outcomes if o is not None]
        if len(outcomes) != len(requests):  # pragma: no cover - a worker died
            raise RuntimeError("internal error: a request got no outcome")
        if batch.tripped is not None and not any(o.ok for o in outcomes):
            raise EndpointUnavailable(batch.tripped)
        return outcomes

    def _run_pass(self, batch: _Batch, shown: Progress) -> None:
        n = min(self.endpoint.concurrency, len(batch.todo))
        done = threading.Semaphore(0)

        def work() -> None:
            try:
                while not self._cancel.is_set():
                    with batch.lock:
                        if not batch.todo:
                            return
                        i = batch.todo.pop()
                    out = None
                    try:
                        out = self._one(batch.requests[i], batch, i)
                    finally:
                        if batch.gate is not None:
                            batch.gate.settle(i, out)
                    if out is not None:
                        batch.outcomes[i] = out
                        with batch.lock:
                            batch.finished += 1
                    else:
                        with batch.lock:
                            batch.deferred.append(i)
            finally:
                done.release()

        threads = [
            threading.Thread(target=work, daemon=True, name=f"llaso-{self.endpoint.role}-{k}")
            for k in range(n)
        ]
        for t in threads:
            t.start()
        for _ in threads:
            while not done.acquire(timeout=0.1):  # short waits: Ctrl-C is seen at once
                if batch.finished > shown.done:
                    shown.advance(batch.finished - shown.done)
        if batch.finished > shown.done:
            shown.advance(batch.finished - shown.done)

    def key_for(self, request: ChatRequest) -> str:
        """The cache key of ``request`` on this endpoint (:meth:`ResponseCache.key_for`)."""
        return ResponseCache.key_for(
            request, identity=self.endpoint.cache_identity, model=str(self.endpoint.model)
        )

    def _warn_cache(self) -> None:
        degraded = self.cache.degraded if self.cache is not None else None
        if degraded and not self._warned_cache:
            self._warned_cache = True
            from llaso_pytest.errors import LlasoWarning

            warnings.warn(LlasoWarning(degraded), stacklevel=3)

    # -- one item
    def _one(self, request: ChatRequest, batch: _Batch, index: int) -> CallOutcome | None:
        """The outcome of one item; ``None`` defers it to the second pass."""
        ep = self.endpoint
        if self.cache is not None and not batch.second_pass:
            hit = self.cache.lookup(request, identity=ep.cache_identity, model=str(ep.model))
            if hit is not None:
                self.stats.add(cache_hits=1, items_ok=1)
                return CallOutcome(
                    request.id,
                    hit.content,
                    hit.finish_reason,
                    hit.prompt_tokens,
                    hit.completion_tokens,
                    cached=True,
                    response_model=hit.response_model,
                    system_fingerprint=hit.system_fingerprint,
                )
            self.stats.add(cache_misses=1)
        attempts, waits = batch.spent.get(index, (0, []))
        passes = " in 2 passes" if batch.second_pass else ""
        budget = ep.max_retries + 1 + (attempts if batch.second_pass else 0)
        while True:
            if batch.tripped is not None:
                return self._failed(request, attempts, waits, "endpoint_unavailable", batch.tripped)
            if self._cancel.is_set():
                return self._failed(
                    request, attempts, waits, "interrupted", "interrupted before the call"
                )
            refused = batch.gate.admit(index, first=attempts == 0) if batch.gate else None
            if refused is not None:  # the budget is spent (or Ctrl-C while waiting for it)
                kind = "interrupted" if refused.startswith("interrupted") else "budget_exceeded"
                return self._failed(request, attempts, waits, kind, refused)
            attempts += 1
            self.stats.add(api_calls=1)
            t0 = time.perf_counter()
            try:
                got, ttft = self._call(request)
            except _Fatal as exc:
                self._note_reply(batch)
                return self._failed(request, attempts, waits, exc.error_type, exc.message)
            except _Retryable as exc:
                if exc.connect:
                    self._note_connect_failure(batch, exc.message)
                else:
                    self._note_reply(batch)
                if attempts >= budget:
                    if not batch.second_pass and batch.tripped is None:
                        with batch.lock:
                            batch.spent[index] = (attempts, waits)
                        return None  # deferred: one more pass at the end of the batch
                    return self._failed(
                        request,
                        attempts,
                        waits,
                        exc.error_type,
                        f"{exc.message}; gave up after {attempts} attempts{passes} "
                        f"(max_retries={ep.max_retries})",
                    )
                if exc.retry_after is not None:
                    if exc.retry_after > ep.max_retry_after:
                        return self._failed(
                            request,
                            attempts,
                            waits,
                            exc.error_type,
                            f"{exc.message}; Retry-After {exc.retry_after:g} s exceeds "
                            f"llaso_{ep.role}_max_retry_after={ep.max_retry_after:g} s",
                        )
                    wait = exc.retry_after
                else:
                    cap = min(ep.backoff_max, ep.backoff_base * 2 ** (attempts - 1))
                    with self._rng_lock:
                        wait = cap * (0.5 + 0.5 * self._rng.random())  # "equal jitter"
                waits.append(wait)
                self.stats.add(retries=1)
                self._sleep(wait)
                continue
            break
        latency = time.perf_counter() - t0
        self._note_reply(batch, success=True)
        tokens_in, tokens_out = got.prompt_tokens or 0, got.completion_tokens or 0
        deltas: dict[str, Any] = {
            "items_ok": 1,
            "prompt_tokens": tokens_in,
            "completion_tokens": tokens_out,
        }
        if got.prompt_tokens is None or got.completion_tokens is None:
            deltas["calls_without_usage"] = 1  # counted, so the cost is shown as a lower bound
        elif ep.price_in is not None and ep.price_out is not None:
            deltas["cost_usd"] = (tokens_in * ep.price_in + tokens_out * ep.price_out) / 1e6
        self.stats.add(**deltas)
        if self.cache is not None:
            self.cache.store(request, got, identity=ep.cache_identity, model=str(ep.model))
        return CallOutcome(
            request.id,
            got.content,
            got.finish_reason,
            got.prompt_tokens,
            got.completion_tokens,
            cached=False,
            attempts=attempts,
            waits=tuple(waits),
            response_model=got.response_model,
            system_fingerprint=got.system_fingerprint,
            latency_s=latency,
            ttft_s=ttft,
        )

    def _note_reply(self, batch: _Batch, *, success: bool = False) -> None:
        with batch.lock:
            batch.connect_failures = 0
            batch.successes += success

    def _note_connect_failure(self, batch: _Batch, message: str) -> None:
        limit = self.endpoint.breaker_threshold
        with batch.lock:
            batch.connect_failures += 1
            if limit and batch.tripped is None and batch.connect_failures >= limit:
                batch.tripped = (
                    f"{self._where()} is unreachable: {batch.connect_failures} consecutive calls "
                    f"could not connect ({message}); stopped calling it. Check "
                    f"LLASO_{self.endpoint.role.upper()}_BASE_URL and that the server is running"
                )

    def _failed(
        self, request: ChatRequest, attempts: int, waits: list[float], etype: str, msg: str
    ) -> CallOutcome:
        self.stats.add(items_failed=1, error_type=etype)
        where = "" if etype == "endpoint_unavailable" else f" [{self._where()}]"
        return CallOutcome(
            request.id,
            None,
            attempts=attempts,
            waits=tuple(waits),
            error_type=etype,
            error=self._scrub(f"{msg}{where}", request),
        )

    def _call(self, request: ChatRequest) -> tuple[CachedResponse, float | None]:
        """One API call: the reply, and the seconds to its first content chunk when streamed."""
        import openai

        client = self._openai()
        ttft: float | None = None
        try:
            if request.params.get("stream"):
                body, ttft = _read_stream(client, str(self.endpoint.model), request)
            else:
                raw = client.chat.completions.with_raw_response.create(
                    model=str(self.endpoint.model),
                    messages=list(request.messages),  # type: ignore[arg-type]
                    **dict(request.params),
                )
                body = raw.http_response.content
        except openai.APITimeoutError:
            raise _Retryable("timeout", f"no response within {self.endpoint.timeout:g} s") from None
        except openai.APIConnectionError as exc:
            cause = exc.__cause__ or exc.__context__
            name = type(cause).__name__ if cause else "error"
            raise _Retryable(
                "connection",
                f"connection failed ({name})",
                connect=name in ("ConnectError", "ConnectTimeout"),
            ) from None
        except openai.APIStatusError as exc:
            status = exc.status_code
            detail = self._scrub(_error_detail(exc), request)
            if status in RETRYABLE_STATUS or status >= 500:
                etype = (
                    "rate_limit"
                    if status == 429
                    else "server_error"
                    if status >= 500
                    else f"http_{status}"
                )
                raise _Retryable(
                    etype, f"HTTP {status}: {detail}", parse_retry_after(exc.response.headers)
                ) from None
            role = self.endpoint.role.upper()
            hint = {
                401: f"check LLASO_{role}_API_KEY (or OPENAI_API_KEY)",
                403: "the key lacks permission for this model",
                404: f"check LLASO_{role}_MODEL and _BASE_URL (it usually ends in /v1)",
            }.get(status, "the request was rejected; check the decoding parameters")
            raise _Fatal(f"http_{status}", f"HTTP {status}: {detail} - {hint}") from None
        except _DeadlineExceeded as exc:
            raise _Retryable("deadline", f"{exc} (llaso_{self.endpoint.role}_deadline)") from None
        except _ReplyTooLarge as exc:
            raise _Fatal(
                "reply_too_large", f"{exc} (llaso_{self.endpoint.role}_max_reply_bytes)"
            ) from None
        except Exception as exc:  # noqa: BLE001 - anything else fails this item, never the batch
            if type(exc).__module__.split(".")[0] in ("httpx", "httpx2", "httpcore", "httpcore2"):
                # a transport error openai did not wrap (another copy of the HTTP library loaded)
                name = type(exc).__name__
                raise _Retryable(
                    "connection",
                    f"connection failed ({name})",
                    connect=name in ("ConnectError", "ConnectTimeout"),
                ) from None
            raise _Fatal(
                "unexpected", self._scrub(f"{type(exc).__name__}: {str(exc)[:200]}", request)
            ) from None
        try:
            return parse_reply(json.loads(body) if isinstance(body, bytes) else body), ttft
        except _Fatal:
            raise
        except ValueError as exc:  # not JSON, or JSON that is not a usable completion
            raise _Retryable(
                "malformed_response",
                f"response body could not be used ({self._scrub(str(exc)[:160], request)})",
            ) from None


def _read_stream(client: Any, model: str, request: ChatRequest) -> tuple[Any, float | None]:
    """Consume a ``stream=True`` completion (server-sent events) with the openai client.

    Returns the assembled reply in the shape of a non-streamed body (read by the same strict
    :func:`parse_reply`) and the seconds from the request to the first non-empty content
    delta. Usage is asked for (``stream_options.include_usage``) unless the caller set
    ``stream_options`` itself.
    """
    params = dict(request.params)
    params.setdefault("stream_options", {"include_usage": True})
    t0 = time.perf_counter()
    ttft: float | None = None
    parts: list[str] = []
    finish: Any = None
    usage: Any = None
    served: Any = None
    fingerprint: Any = None
    stream = client.chat.completions.create(model=model, messages=list(request.messages),
                                            **params)
    try:
        for chunk in stream:
            served = chunk.model or served
            fingerprint = chunk.system_fingerprint or fingerprint
            if chunk.usage is not None:
                usage = chunk.usage.model_dump()
            for choice in chunk.choices or ():
                text = choice.delta.content if choice.delta is not None else None
                if text:
                    if ttft is None:
                        ttft = time.perf_counter() - t0
                    parts.append(text)
                finish = choice.finish_reason or finish
    finally:
        stream.close()
    body = {"model": served, "system_fingerprint": fingerprint,
            "choices": [{"index": 0, "finish_reason": finish,
                         "message": {"role": "assistant", "content": "".join(parts)}}]}
    if usage is not None:
        body["usage"] = {k: v for k, v in usage.items() if k in ("prompt_tokens",
                                                                "completion_tokens")}
    return body, ttft


def _inner_transport() -> Any:
    try:
        import httpx2 as hx
    except ImportError:  # pragma: no cover - older openai
        import httpx as hx  # type: ignore[no-redef]
    return hx.HTTPTransport()


def _error_detail(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])[:400]
    return str(getattr(exc, "message", exc))[:400]
