"""A small OpenAI-compatible chat-completions server with fault injection.

It speaks the real HTTP protocol of ``POST /v1/chat/completions`` so the official ``openai``
client can be driven against it in tests, benchmarks and offline trials of the shipped suites.
Bound to 127.0.0.1 on a free port. Responses are deterministic functions of the request, so
judge verdicts are testable; faults (latency, 429 with Retry-After, 500, malformed JSON,
truncated bodies, slow responses, connection resets) are chosen deterministically per
(request, attempt) so a test can predict exactly which calls fail.

Run ``python -m llaso_pytest.llm.fake_server --port 8765`` and point the suites at it with the
environment variables it prints. This is not a model: the default responder is a transparent
heuristic (token overlap) so that verdicts move in the right direction, nothing more.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal, Protocol, Self

__all__ = [
    "FAULT_KINDS",
    "Backend",
    "Completion",
    "FakeOpenAIServer",
    "Fault",
    "RequestLog",
    "default_responder",
    "parse_fault",
]

FaultKind = Literal["rate_limit", "server_error", "malformed_json", "truncated", "slow", "reset",
                    "retry_after_nan", "null_choice", "string_message", "dict_choices",
                    "bad_usage", "int_content", "cut_by_length", "echo_auth", "trickle", "huge"]
FAULT_KINDS: tuple[str, ...] = (
    "rate_limit",
    "server_error",
    "malformed_json",
    "truncated",
    "slow",
    "reset",
    "retry_after_nan",  # 429 with ``Retry-After: nan``
    "null_choice",  # 200, ``choices: [null]``
    "string_message",  # 200, ``message: "str"``
    "dict_choices",  # 200, ``choices: {}``
    "bad_usage",  # 200, ``usage.prompt_tokens: "many"``
    "int_content",  # 200, ``content: 7``
    "cut_by_length",  # 200, the reply cut at the token limit (``finish_reason: length``)
    "echo_auth",  # 403 whose message echoes the request's headers (``Bearer ...``)
    "trickle",  # 200 whose body arrives one byte every ``delay`` seconds
    "huge",  # 200 with a completion of ``size`` bytes
)


def _cut(body: dict[str, Any]) -> None:
    choice = body["choices"][0]
    text = choice["message"]["content"]
    choice["message"]["content"] = text[: max(1, len(text) // 2)]
    choice["finish_reason"] = "length"


# 200 replies that are JSON but not a usable chat completion: how each one mangles a good body
_MANGLE: dict[str, Callable[[dict[str, Any]], None]] = {
    "null_choice": lambda b: b.__setitem__("choices", [None]),
    "string_message": lambda b: b["choices"][0].__setitem__("message", "str"),
    "dict_choices": lambda b: b.__setitem__("choices", {}),
    "bad_usage": lambda b: b.setdefault("usage", {}).__setitem__("prompt_tokens", "many"),
    "int_content": lambda b: b["choices"][0]["message"].__setitem__("content", 7),
    "cut_by_length": _cut,
}

Responder = Callable[[Mapping[str, Any]], str]


@dataclass(frozen=True)
class Completion:
    """What a backend generated for one request (token counts ``None`` when unknown)."""

    content: str
    finish_reason: str = "stop"
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class Backend(Protocol):
    """A real generator behind the server (e.g. :mod:`llaso_pytest.llm.local_server`).

    ``check`` says why a request cannot be served (sent as HTTP 400) before anything is
    generated; ``generate`` calls ``on_text`` with each new piece of text when streaming.
    """

    def check(self, request: Mapping[str, Any]) -> str | None: ...

    def generate(
        self, request: Mapping[str, Any], on_text: Callable[[str], None] | None
    ) -> Completion: ...


@dataclass(frozen=True)
class Fault:
    """One fault-injection rule.

    A rule applies to an attempt when ``match`` (a substring of the request body) matches and
    either the attempt number for that exact request is ``<= first_n``, or a deterministic
    pseudo-random draw keyed on (seed, request, attempt) falls below ``rate``, or ``always``.
    """

    kind: FaultKind
    first_n: int = 0
    rate: float = 0.0
    always: bool = False
    match: str | None = None
    retry_after: float | None = 0.05  # seconds, for rate_limit; None sends no header
    retry_after_header: Literal["retry-after", "retry-after-ms"] = "retry-after"
    delay: float = 5.0  # seconds, for slow; per byte for trickle
    size: int = 60_000_000  # bytes of completion, for huge

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {FAULT_KINDS}")
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"fault rate must be within [0, 1], got {self.rate}")


@dataclass(frozen=True)
class RequestLog:
    """One request as the server saw it."""

    key: str  # sha256 of the request body: identical retries share it
    attempt: int  # 1-based attempt number for this key
    started: float  # time.monotonic()
    finished: float
    status: int  # HTTP status sent (0 when the connection was cut)
    fault: str | None
    model: str | None


def parse_fault(spec: str) -> Fault:
    """Parse ``kind[:k=v,...]``, e.g. ``rate_limit:rate=0.1,retry_after=0.2`` or
    ``server_error:first_n=1``."""
    kind, _, rest = spec.partition(":")
    kwargs: dict[str, Any] = {}
    for part in filter(None, rest.split(",")):
        k, sep, v = part.partition("=")
        if not sep:
            raise ValueError(f"fault option {part!r} in {spec!r} is not key=value")
        if k in ("first_n", "size"):
            kwargs[k] = int(v)
        elif k in ("rate", "retry_after", "delay"):
            kwargs[k] = float(v)
        elif k == "always":
            kwargs[k] = v.lower() in ("1", "true", "yes")
        elif k in ("match", "retry_after_header"):
            kwargs[k] = v
        else:
            raise ValueError(f"unknown fault option {k!r} in {spec!r}")
    return Fault(kind=kind, **kwargs)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- responder

_TOKEN_RE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]|[^\W_]+", re.UNICODE)
_SENT_RE = re.compile(r"(?<=[.!?。！？])\s*")


def _tokens(text: str) -> list[str]:
    return _TOKEN_RE.findall(text.lower())


def _f1(a: str, b: str) -> float:
    ta, tb = _tokens(a), _tokens(b)
    if not ta or not tb:
        return 0.0
    counts: dict[str, int] = {}
    for t in tb:
        counts[t] = counts.get(t, 0) + 1
    common = 0
    for t in ta:
        if counts.get(t, 0) > 0:
            counts[t] -= 1
            common += 1
    if common == 0:
        return 0.0
    p, r = common / len(ta), common / len(tb)
    return 2 * p * r / (p + r)


def _tag(text: str, name: str) -> str | None:
    m = re.search(rf"<{name}>\s*(.*?)\s*</{name}>", text, re.DOTALL)
    return m.group(1) if m else None


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENT_RE.split(text) if s.strip()]


def _scale(request: Mapping[str, Any], text: str) -> tuple[int, int]:
    rf = request.get("response_format") or {}
    schema = (rf.get("json_schema") or {}).get("schema") if isinstance(rf, dict) else None
    if isinstance(schema, dict):
        score = (schema.get("properties") or {}).get("score") or {}
        if score.get("enum"):
            return int(min(score["enum"])), int(max(score["enum"]))
        if "minimum" in score and "maximum" in score:
            return int(score["minimum"]), int(score["maximum"])
    m = re.search(r"from (\d+) to (\d+)", text)
    if m:
        return int(m.group(1)), int(m.group(2))
    return 1, 5


def default_responder(request: Mapping[str, Any], *, position_bias: str | None = None) -> str:
    """Deterministic reply: a heuristic judge for judge prompts, a trivial baseline otherwise.

    Judge prompts (they ask for JSON with ``score``, ``verdict`` or ``winner``) are graded by
    token F1 of ``<answer>`` against ``<reference>`` (or ``<context>``/``<source>``). Other
    prompts get a classical trivial baseline: the lead sentence of ``<document>``, the context
    sentence most similar to ``<question>``, or the ``<source>`` text copied.
    """
    messages = request.get("messages") or []
    text = "\n".join(str(m.get("content", "")) for m in messages if isinstance(m, dict))
    ref = _tag(text, "reference") or _tag(text, "context") or _tag(text, "source") or ""
    if '"winner"' in text:
        a, b = _tag(text, "response_a") or "", _tag(text, "response_b") or ""
        if position_bias == "first":
            winner = "A"
        elif position_bias == "second":
            winner = "B"
        else:
            fa, fb = _f1(a, ref), _f1(b, ref)
            winner = "tie" if abs(fa - fb) < 0.05 else ("A" if fa > fb else "B")
        return json.dumps({"winner": winner, "reason": "fake judge: token F1 against reference"})
    answer = _tag(text, "answer") or _tag(text, "response") or ""
    overlap = _f1(answer, ref)
    if '"verdict"' in text:
        verdict = "pass" if overlap >= 0.5 else "fail"
        return json.dumps({"verdict": verdict, "reason": f"fake judge: token F1 {overlap:.2f}"})
    if '"score"' in text:
        lo, hi = _scale(request, text)
        score = lo + round(overlap * (hi - lo))
        return json.dumps({"score": score, "reason": f"fake judge: token F1 {overlap:.2f}"})
    # the model-under-test baselines read the last user turn (earlier turns are few-shot examples)
    text = next((str(m.get("content", "")) for m in reversed(messages)
                 if isinstance(m, dict) and m.get("role") == "user"), text)
    document = _tag(text, "document")
    if document is not None:
        sents = _sentences(document)
        return sents[0] if sents else ""
    question, context = _tag(text, "question"), _tag(text, "context")
    if question is not None and context is not None:
        sents = _sentences(context) or [context]
        return max(sents, key=lambda s: _f1(s, question))
    source = _tag(text, "source")
    if source is not None:
        return source
    return "fake completion: " + text[:40]


# --------------------------------------------------------------------------- server


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256
    owner: FakeOpenAIServer


_Pending = tuple[str, int, float, "str | None", "str | None"]  # key, attempt, started, fault, model


class _Handler(BaseHTTPRequestHandler):
    _pending: _Pending | None = None
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _send_json(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self._commit(status)
        self.end_headers()
        self.wfile.write(data)

    def _commit(self, status: int) -> None:
        """Log the request before its last bytes leave, so a client never sees an unlogged reply."""
        pending = getattr(self, "_pending", None)
        if pending is not None:
            self._pending = None
            key, attempt, started, fault, model = pending
            self.server.owner._log(
                RequestLog(key, attempt, started, time.monotonic(), status, fault, model)
            )

    def _error(
        self, status: int, message: str, etype: str, headers: Mapping[str, str] | None = None
    ) -> None:
        self._send_json(
            status, {"error": {"message": message, "type": etype, "code": None}}, headers
        )

    def do_GET(self) -> None:
        owner = self.server.owner
        if self.path.rstrip("/") in ("/v1/models", "/models"):
            data = [
                {"id": m, "object": "model", "created": 0, "owned_by": "llaso"}
                for m in owner.models
            ]
            self._send_json(200, {"object": "list", "data": data})
        else:
            self._error(404, f"no route GET {self.path}", "invalid_request_error")

    def do_POST(self) -> None:
        owner = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        started = time.monotonic()
        key = hashlib.sha256(raw).hexdigest()
        attempt = owner._next_attempt(key)
        self._pending = (key, attempt, started, None, None)
        try:
            if self.path.split("?")[0].rstrip("/") not in (
                "/v1/chat/completions",
                "/chat/completions",
            ):
                self._error(404, f"no route POST {self.path}", "invalid_request_error")
                return
            if (
                owner.api_key is not None
                and self.headers.get("Authorization") != f"Bearer {owner.api_key}"
            ):
                self._error(401, "Incorrect API key provided.", "invalid_request_error")
                return
            try:
                request = json.loads(raw)
                if not isinstance(request, dict):
                    raise ValueError("body is not a JSON object")  # noqa: TRY004 - reported as HTTP 400
            except ValueError as exc:
                self._error(400, f"invalid JSON body: {exc}", "invalid_request_error")
                return
            model = request.get("model")
            self._pending = (key, attempt, started, None, model if isinstance(model, str) else None)
            if owner.models and model not in owner.models:
                self._error(404, f"The model `{model}` does not exist", "invalid_request_error")
                return
            problem = owner.backend.check(request) if owner.backend is not None else None
            if problem is not None:
                self._error(400, problem, "invalid_request_error")
                return
            fault = owner._pick_fault(key, attempt, raw)
            if fault is not None:
                self._pending = (
                    key,
                    attempt,
                    started,
                    fault.kind,
                    model if isinstance(model, str) else None,
                )
                if fault.kind in _MANGLE or fault.kind in ("trickle", "huge"):
                    self._inject_reply(fault, owner._completion(request, owner.responder(request)))
                else:
                    self._inject(fault)
                return
            if owner.latency > 0:
                owner._stopping.wait(owner.latency)
            if request.get("stream"):
                self._stream(request)
                return
            self._send_json(200, owner._body(request, owner._generate(request, None)))
        finally:
            self._commit(0)  # only if nothing was sent (an exception)

    def _stream(self, request: Mapping[str, Any]) -> None:
        """Server-sent events as the OpenAI API streams them: a role chunk, content deltas,
        a chunk with ``finish_reason``, a usage chunk when ``stream_options.include_usage``,
        then ``data: [DONE]`` (HTTP/1.1 chunked transfer encoding)."""
        owner = self.server.owner
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self._commit(200)
        self.end_headers()
        head = owner._chunk_head(request)

        def send(data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        def event(choices: list[dict[str, Any]], **more: Any) -> None:
            send(b"data: " + json.dumps({**head, "choices": choices, **more}).encode() + b"\n\n")

        def delta(text: str) -> None:
            event([{"index": 0, "delta": {"content": text}, "finish_reason": None}])

        try:
            event([{"index": 0, "delta": {"role": "assistant", "content": ""},
                    "finish_reason": None}])
            done = owner._generate(request, delta)
            event([{"index": 0, "delta": {}, "finish_reason": done.finish_reason}])
            options = request.get("stream_options")
            if isinstance(options, dict) and options.get("include_usage") and owner.usage:
                event([], usage=_usage(done))
            send(b"data: [DONE]\n\n")
            send(b"")
        except OSError:  # the client went away mid-stream
            self.close_connection = True

    def _inject_reply(self, fault: Fault, body: dict[str, Any]) -> None:
        """A 200 reply that is malformed, cut, trickled or huge (built from the real reply)."""
        if fault.kind == "huge":
            body["choices"][0]["message"]["content"] = "x" * fault.size
        elif fault.kind in _MANGLE:
            _MANGLE[fault.kind](body)
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self._commit(200)
        self.end_headers()
        try:
            if fault.kind != "trickle":
                self.wfile.write(data)
                return
            for i in range(len(data)):
                if self.server.owner._stopping.wait(fault.delay):
                    return
                self.wfile.write(data[i:i + 1])
                self.wfile.flush()
        except OSError:  # the client gave up
            self.close_connection = True

    def _inject(self, fault: Fault) -> int:
        if fault.kind == "retry_after_nan":
            self._error(
                429, "Rate limit reached (fake server)", "rate_limit_error", {"Retry-After": "nan"}
            )
            return 429
        if fault.kind == "echo_auth":
            boring = {
                "host",
                "accept",
                "accept-encoding",
                "connection",
                "content-type",
                "content-length",
                "user-agent",
            }
            seen = "; ".join(f"{k}: {v}" for k, v in self.headers.items()
                             if k.lower() not in boring and not k.lower().startswith("x-stainless"))
            self._error(403, f"forbidden for request with headers {seen} (path {self.path})",
                        "permission_error")
            return 403
        if fault.kind == "rate_limit":
            headers: dict[str, str] = {}
            if fault.retry_after is not None:
                if fault.retry_after_header == "retry-after-ms":
                    headers["retry-after-ms"] = str(int(fault.retry_after * 1000))
                else:
                    headers["Retry-After"] = f"{fault.retry_after:g}"
            self._error(429, "Rate limit reached (fake server)", "rate_limit_error", headers)
            return 429
        if fault.kind == "server_error":
            self._error(500, "The server had an error (fake server)", "server_error")
            return 500
        if fault.kind == "malformed_json":
            data = (
                b'{"id": "chatcmpl-broken", "object": "chat.completion", "choices": [{"index": 0, '
            )
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self._commit(200)
            self.end_headers()
            self.wfile.write(data)
            return 200
        if fault.kind == "truncated":
            data = json.dumps(
                {"id": "chatcmpl-trunc", "object": "chat.completion", "choices": []}
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data) + 100))
            self._commit(200)
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            self._cut()
            return 0
        if fault.kind == "slow":
            self.server.owner._stopping.wait(fault.delay)
            self._error(500, "slow response finally gave up (fake server)", "server_error")
            return 500
        # reset: close the socket with RST, no response at all
        self._commit(0)
        self.close_connection = True
        self._cut()
        return 0

    def _cut(self) -> None:
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _usage(done: Completion) -> dict[str, int] | None:
    if done.prompt_tokens is None or done.completion_tokens is None:
        return None
    return {"prompt_tokens": done.prompt_tokens, "completion_tokens": done.completion_tokens,
            "total_tokens": done.prompt_tokens + done.completion_tokens}


class FakeOpenAIServer:
    """An OpenAI-compatible server on 127.0.0.1 in a background thread.

    Use as a context manager or call :meth:`start` / :meth:`stop`. ``base_url`` ends in ``/v1``.
    ``log`` lists every request seen (key, attempt, status, fault, timing). Replies come from
    the heuristic ``responder``, or from a real ``backend`` (the pinned local LLM serves
    through this same HTTP code: :mod:`llaso_pytest.llm.local_server`). ``stream=True``
    requests get server-sent events.
    """

    def __init__(
        self,
        *,
        latency: float = 0.0,
        faults: Sequence[Fault] = (),
        responder: Responder | None = None,
        position_bias: str | None = None,
        models: Sequence[str] = (),
        api_key: str | None = None,
        seed: int = 0,
        port: int = 0,
        usage: bool = True,
        served_model: str | None = None,
        system_fingerprint: str | None = "fp_llaso_fake",
        backend: Backend | None = None,
    ) -> None:
        if latency < 0:
            raise ValueError(f"latency must be >= 0, got {latency}")
        self.latency = latency
        self.faults: tuple[Fault, ...] = tuple(faults)
        self.position_bias = position_bias
        self.responder: Responder = responder or (
            lambda req: default_responder(req, position_bias=self.position_bias)
        )
        self.models = tuple(models)
        self.backend = backend
        self.api_key = api_key
        self.seed = seed
        self.usage = usage
        self.served_model = served_model  # the "model" a reply names (default: the one asked for)
        self.system_fingerprint = system_fingerprint
        self._port = port
        self._lock = threading.Lock()
        self._attempts: dict[str, int] = {}
        self._log_entries: list[RequestLog] = []
        self._stopping = threading.Event()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        self._counter = 0

    # -- lifecycle
    def start(self) -> FakeOpenAIServer:
        self._stopping.clear()
        httpd = _Server(("127.0.0.1", self._port), _Handler)
        httpd.owner = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("fake server is not running")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # -- inspection
    @property
    def log(self) -> list[RequestLog]:
        with self._lock:
            return list(self._log_entries)

    @property
    def request_count(self) -> int:
        with self._lock:
            return len(self._log_entries)

    def reset(self, *, faults: Sequence[Fault] | None = None, latency: float | None = None) -> None:
        """Forget the log and attempt counters; optionally replace faults and latency."""
        with self._lock:
            self._attempts.clear()
            self._log_entries.clear()
            if faults is not None:
                self.faults = tuple(faults)
            if latency is not None:
                self.latency = latency

    # -- internals used by the handler
    def _next_attempt(self, key: str) -> int:
        with self._lock:
            n = self._attempts.get(key, 0) + 1
            self._attempts[key] = n
            return n

    def _log(self, entry: RequestLog) -> None:
        with self._lock:
            self._log_entries.append(entry)

    def _pick_fault(self, key: str, attempt: int, raw: bytes) -> Fault | None:
        for fault in self.faults:
            if fault.match is not None and fault.match.encode() not in raw:
                continue
            if fault.always or attempt <= fault.first_n:
                return fault
            if fault.rate > 0:
                h = hashlib.sha256(f"{self.seed}|{fault.kind}|{key}|{attempt}".encode()).digest()
                if int.from_bytes(h[:8], "big") / 2**64 < fault.rate:
                    return fault
        return None

    def _heuristic(self, request: Mapping[str, Any], content: str) -> Completion:
        """The responder's text as a completion: a "token" is a word here; like a real
        server, it stops at the token limit and says so."""
        prompt_text = " ".join(
            str(m.get("content", "")) for m in request.get("messages") or [] if isinstance(m, dict)
        )
        finish_reason = "stop"
        limit = request.get("max_completion_tokens") or request.get("max_tokens")
        words = content.split()
        if isinstance(limit, int) and limit > 0 and len(words) > limit:
            content = " ".join(words[:limit])
            finish_reason = "length"
        return Completion(content, finish_reason, len(_tokens(prompt_text)),
                          len(_tokens(content)))

    def _generate(
        self, request: Mapping[str, Any], on_text: Callable[[str], None] | None
    ) -> Completion:
        if self.backend is not None:
            return self.backend.generate(request, on_text)
        done = self._heuristic(request, self.responder(request))
        if on_text is not None:
            for piece in re.findall(r"\S+\s*|\s+", done.content):
                on_text(piece)
        return done

    def _next_id(self) -> str:
        with self._lock:
            self._counter += 1
            return f"chatcmpl-fake-{self._counter}"

    def _chunk_head(self, request: Mapping[str, Any]) -> dict[str, Any]:
        return {"id": self._next_id(), "object": "chat.completion.chunk", "created": 0,
                "model": self.served_model or request.get("model") or "fake",
                "system_fingerprint": self.system_fingerprint}

    def _completion(self, request: Mapping[str, Any], content: str) -> dict[str, Any]:
        """The response body of the responder's ``content`` (faults mangle this body)."""
        return self._body(request, self._heuristic(request, content))

    def _body(self, request: Mapping[str, Any], done: Completion) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self._next_id(),
            "object": "chat.completion",
            "created": 0,
            "model": self.served_model or request.get("model") or "fake",
            "system_fingerprint": self.system_fingerprint,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": done.content, "refusal": None},
                    "finish_reason": done.finish_reason,
                    "logprobs": None,
                }
            ],
        }
        usage = _usage(done)
        if self.usage and usage is not None:  # some local servers send no usage block
            body["usage"] = usage
        return body


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until interrupted; print the environment variables that point the suites here."""
    p = argparse.ArgumentParser(
        prog="python -m llaso_pytest.llm.fake_server", description=__doc__.splitlines()[0]
    )
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    p.add_argument("--latency", type=float, default=0.0, help="seconds of latency per response")
    p.add_argument("--fault", action="append", default=[], type=parse_fault,
                   help="fault rule, e.g. rate_limit:rate=0.1,retry_after=0.5 (repeatable)")
    p.add_argument(
        "--position-bias",
        choices=["first", "second"],
        default=None,
        help="make pairwise verdicts always prefer one position (to see swap disagreement)",
    )
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    server = FakeOpenAIServer(
        latency=args.latency,
        faults=args.fault,
        position_bias=args.position_bias,
        seed=args.seed,
        port=args.port,
    ).start()
    url = server.base_url
    print(f"fake OpenAI-compatible server on {url}", flush=True)
    print(
        f"  export LLASO_JUDGE_BASE_URL={url} LLASO_JUDGE_MODEL=fake-judge "
        "LLASO_JUDGE_API_KEY=unused"
    )
    print(
        f"  export LLASO_LLM_BASE_URL={url} LLASO_LLM_MODEL=fake-llm LLASO_LLM_API_KEY=unused",
        flush=True,
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
