"""Chat completions through the official ``openai`` client: cache, bounded pool, our own retries.

The openai client's retries are disabled (``max_retries=0``) so that every retry is ours and is
counted; its 600 s default timeout is replaced by the endpoint's explicit per-call timeout.
Requests run on a bounded thread pool (``concurrency`` calls in flight). 429, 408/409, 5xx,
timeouts, connection resets and malformed response bodies are retried with exponential backoff
and jitter, honouring ``Retry-After``/``retry-after-ms``. When retries are exhausted that item
gets an error outcome; the other items' results are kept. Results come back in input order,
one per request, never more, never fewer.
"""

from __future__ import annotations

import email.utils
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self

from llaso_pytest.errors import LlasoError
from llaso_pytest.llm.cache import CachedResponse, ResponseCache, cache_key
from llaso_pytest.llm.config import EndpointConfig, redact_url
from llaso_pytest.provenance import redact

if TYPE_CHECKING:  # pragma: no cover
    import openai

__all__ = ["CallOutcome", "ChatRequest", "LLMClient", "UsageStats", "parse_retry_after"]

RETRYABLE_STATUS = frozenset({408, 409, 429})


@dataclass(frozen=True)
class ChatRequest:
    """One item to complete. ``params`` are decoding parameters passed to the API as-is."""

    id: str
    messages: tuple[Mapping[str, str], ...]
    params: Mapping[str, Any] = field(default_factory=dict)
    prompt_ref: str | None = None


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


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms``, ``retry-after`` (seconds or HTTP date), else None."""
    lower = {k.lower(): v for k, v in headers.items()}
    ms = lower.get("retry-after-ms")
    if ms is not None:
        try:
            return max(float(ms) / 1000.0, 0.0)
        except ValueError:
            pass
    ra = lower.get("retry-after")
    if ra is None:
        return None
    try:
        return max(float(ra), 0.0)
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(ra)
    except (TypeError, ValueError):
        return None  # unreadable header: fall back to our own backoff
    return max(parsed.timestamp() - (time.time() if now is None else now), 0.0)


class _Retryable(LlasoError):
    def __init__(self, error_type: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.retry_after = retry_after


class _Fatal(LlasoError):
    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message


class LLMClient:
    """Completes batches of :class:`ChatRequest` against one endpoint.

    ``sleep`` and ``rng`` are injectable so tests can observe backoff without waiting.
    """

    def __init__(
        self,
        endpoint: EndpointConfig,
        *,
        cache: ResponseCache | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        stats: UsageStats | None = None,
    ) -> None:
        endpoint.require()
        self.endpoint = endpoint
        self.cache = cache
        self.stats = stats if stats is not None else UsageStats()
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._rng_lock = threading.Lock()
        self._client: openai.OpenAI | None = None
        self._client_lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    # -- plumbing
    def _openai(self) -> openai.OpenAI:
        with self._client_lock:
            if self._client is None:
                import openai

                ep = self.endpoint
                self._client = openai.OpenAI(
                    base_url=ep.base_url,
                    # Local servers (vLLM, llama.cpp, the fake server) take any key; the client insists on one.
                    api_key=ep.api_key or "unused-no-key-configured",
                    timeout=openai.Timeout(ep.timeout, connect=min(ep.connect_timeout, ep.timeout)),
                    max_retries=0,  # our retries only, so each one is counted
                )
            return self._client

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _where(self) -> str:
        return f"{self.endpoint.role} endpoint {redact_url(self.endpoint.base_url)} (model {self.endpoint.model})"

    # -- public
    def complete(self, requests: Sequence[ChatRequest]) -> list[CallOutcome]:
        """One outcome per request, in input order. Duplicate ids are a ``ValueError``."""
        seen: set[str] = set()
        for r in requests:
            if r.id in seen:
                raise ValueError(f"duplicate request id {r.id!r} in a batch of {len(requests)}")
            seen.add(r.id)
        if not requests:
            return []
        if self._pool is None:
            self._pool = ThreadPoolExecutor(
                max_workers=self.endpoint.concurrency, thread_name_prefix=f"llaso-{self.endpoint.role}"
            )
        futures = [self._pool.submit(self._one, r) for r in requests]
        return [f.result() for f in futures]

    def key_for(self, request: ChatRequest) -> str:
        return cache_key(
            base_url=self.endpoint.cache_identity,
            model=str(self.endpoint.model),
            prompt_ref=request.prompt_ref,
            params=request.params,
            messages=request.messages,
        )

    # -- one item
    def _one(self, request: ChatRequest) -> CallOutcome:
        key = self.key_for(request) if self.cache is not None else ""
        if self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                self.stats.add(cache_hits=1, items_ok=1)
                return CallOutcome(request.id, hit.content, hit.finish_reason, hit.prompt_tokens,
                                   hit.completion_tokens, cached=True)
            self.stats.add(cache_misses=1)
        ep = self.endpoint
        waits: list[float] = []
        attempts = 0
        while True:
            attempts += 1
            self.stats.add(api_calls=1)
            try:
                got = self._call(request)
            except _Fatal as exc:
                return self._failed(request, attempts, waits, exc.error_type, exc.message)
            except _Retryable as exc:
                if attempts > ep.max_retries:
                    return self._failed(
                        request, attempts, waits, exc.error_type,
                        f"{exc.message}; gave up after {attempts} attempts (max_retries={ep.max_retries})",
                    )
                if exc.retry_after is not None:
                    if exc.retry_after > ep.max_retry_after:
                        return self._failed(
                            request, attempts, waits, exc.error_type,
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
        tokens_in, tokens_out = got.prompt_tokens or 0, got.completion_tokens or 0
        deltas: dict[str, Any] = {"items_ok": 1, "prompt_tokens": tokens_in, "completion_tokens": tokens_out}
        if got.prompt_tokens is None or got.completion_tokens is None:
            deltas["calls_without_usage"] = 1  # counted, so the cost is shown as a lower bound
        elif ep.price_in is not None and ep.price_out is not None:
            deltas["cost_usd"] = (tokens_in * ep.price_in + tokens_out * ep.price_out) / 1e6
        self.stats.add(**deltas)
        if self.cache is not None:
            # the stored request is for reading; keys in extra params (headers) are redacted
            self.cache.put(key, got, base_url=ep.cache_identity, model=str(ep.model),
                           prompt_ref=request.prompt_ref,
                           request={"messages": list(map(dict, request.messages)),
                                    "params": redact(dict(request.params))})
        return CallOutcome(request.id, got.content, got.finish_reason, got.prompt_tokens, got.completion_tokens,
                           cached=False, attempts=attempts, waits=tuple(waits))

    def _failed(self, request: ChatRequest, attempts: int, waits: list[float], etype: str, msg: str) -> CallOutcome:
        self.stats.add(items_failed=1, error_type=etype)
        return CallOutcome(request.id, None, attempts=attempts, waits=tuple(waits), error_type=etype,
                           error=f"{msg} [{self._where()}]")

    def _call(self, request: ChatRequest) -> CachedResponse:
        import openai

        client = self._openai()
        try:
            resp = client.chat.completions.create(
                model=str(self.endpoint.model), messages=list(request.messages),  # type: ignore[arg-type]
                **dict(request.params),
            )
        except openai.APITimeoutError:
            raise _Retryable("timeout", f"no response within {self.endpoint.timeout:g} s") from None
        except openai.APIConnectionError as exc:
            cause = exc.__cause__ or exc.__context__
            raise _Retryable("connection", f"connection failed ({type(cause).__name__ if cause else 'error'})") from None
        except openai.APIStatusError as exc:
            status = exc.status_code
            detail = _error_detail(exc)
            if status in RETRYABLE_STATUS or status >= 500:
                etype = "rate_limit" if status == 429 else "server_error" if status >= 500 else f"http_{status}"
                raise _Retryable(etype, f"HTTP {status}: {detail}", parse_retry_after(exc.response.headers)) from None
            hint = {
                401: f"check LLASO_{self.endpoint.role.upper()}_API_KEY (or OPENAI_API_KEY)",
                403: "the key lacks permission for this model",
                404: f"check LLASO_{self.endpoint.role.upper()}_MODEL and _BASE_URL (it usually ends in /v1)",
            }.get(status, "the request was rejected; check the decoding parameters")
            raise _Fatal(f"http_{status}", f"HTTP {status}: {detail} - {hint}") from None
        except (ValueError, openai.APIResponseValidationError) as exc:  # body is not JSON / not a completion
            raise _Retryable("malformed_response", f"response body could not be parsed ({type(exc).__name__}: "
                             f"{str(exc)[:120]})") from None
        except Exception as exc:  # noqa: BLE001 - anything else fails this item, never the batch
            raise _Fatal("unexpected", f"{type(exc).__name__}: {str(exc)[:200]}") from None
        if not getattr(resp, "choices", None):
            raise _Retryable("malformed_response", "response has no choices")
        choice = resp.choices[0]
        content = choice.message.content
        if content is None:
            refusal = getattr(choice.message, "refusal", None)
            raise _Fatal("no_content", f"completion has no text content (refusal={refusal!r}, "
                         f"finish_reason={choice.finish_reason!r})")
        usage = resp.usage
        return CachedResponse(
            content=content,
            finish_reason=choice.finish_reason,
            prompt_tokens=usage.prompt_tokens if usage else None,
            completion_tokens=usage.completion_tokens if usage else None,
            response_model=getattr(resp, "model", None),
        )


def _error_detail(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])[:200]
    return str(getattr(exc, "message", exc))[:200]
