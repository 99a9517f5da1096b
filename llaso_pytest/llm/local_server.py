"""Serve the pinned local LLM on 127.0.0.1 through an OpenAI-compatible chat-completions API.

The server runs in its own process (torch stays out of the pytest process, and one loaded
model serves every test of the session): :class:`LocalLLMServer` starts
``python -m llaso_pytest.llm.local_server``, waits for the one JSON line it prints when the
model is loaded (its URL, PID and placement) and stops it at the end (terminate, then kill;
the PID is gone afterwards). The child also exits when its standard input closes, so a
parent that dies cannot leave it behind. A start-up failure (a missing package, a weight
file that differs from its pin) is a :class:`~llaso_pytest.llm.local_model.LocalModelError`
with the child's message.

The HTTP side is the shipped server of :mod:`llaso_pytest.llm.fake_server` with a real
backend (no heuristic, no faults): non-streamed and ``stream=True`` replies, token usage
from the tokenizer, ``finish_reason: length`` at ``max_tokens``, and structured outputs
(``response_format`` ``json_schema`` of a flat object of strings and enums, as the judge
sends) by constrained decoding. Decoding is greedy only: a request with ``temperature``
above 0, ``n`` > 1 or a ``response_format`` it cannot enforce is refused (HTTP 400), never
served differently than asked.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Self

from llaso_pytest.llm.fake_server import Completion, FakeOpenAIServer
from llaso_pytest.llm.local_model import LocalModel, LocalModelError, schema_fields

if TYPE_CHECKING:  # pragma: no cover
    from llaso_pytest.llm.config import EndpointConfig, Role

__all__ = ["DEFAULT_MAX_TOKENS", "LocalBackend", "LocalLLMServer", "endpoint_for", "main"]

DEFAULT_MAX_TOKENS = 256
START_TIMEOUT_S = 900.0  # a first conversion on a busy 2-core machine


class LocalBackend:
    """Greedy generation with a :class:`LocalModel`, as the fake server's backend."""

    def __init__(self, model: LocalModel) -> None:
        self.model = model

    def check(self, request: Mapping[str, Any]) -> str | None:
        temperature = request.get("temperature", 0)
        if not isinstance(temperature, (int, float)) or temperature != 0:
            return (f"this server decodes greedily only: temperature must be 0, got "
                    f"{temperature!r}")
        if request.get("n", 1) != 1:
            return f"n must be 1, got {request.get('n')!r}"
        rf = request.get("response_format")
        if rf is not None and not (isinstance(rf, dict) and rf.get("type") == "text"):
            try:
                schema_fields(rf)
            except ValueError as exc:
                return f"response_format cannot be served by constrained decoding: {exc}"
            if request.get("stream"):
                return "structured outputs (response_format json_schema) are not streamed here"
        limit = request.get("max_completion_tokens", request.get("max_tokens"))
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool)
                                  or limit < 1):
            return f"max_tokens must be an integer >= 1, got {limit!r}"
        messages = request.get("messages")
        if not isinstance(messages, list) or not messages or not all(
            isinstance(m, dict) and isinstance(m.get("content"), str)
            and m.get("role") in ("system", "user", "assistant") for m in messages
        ):
            return "messages must be a non-empty list of {role, content: str} objects"
        seed = request.get("seed")
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            return f"seed must be an integer, got {seed!r}"
        return None

    def generate(
        self, request: Mapping[str, Any], on_text: Callable[[str], None] | None
    ) -> Completion:
        limit = int(request.get("max_completion_tokens", request.get("max_tokens"))
                    or DEFAULT_MAX_TOKENS)
        rf = request.get("response_format")
        if isinstance(rf, dict) and rf.get("type") == "json_schema":
            got = self.model.generate_structured(request["messages"], fields=schema_fields(rf),
                                                 max_tokens=limit, seed=request.get("seed"))
        else:
            got = self.model.generate(request["messages"], max_tokens=limit,
                                      seed=request.get("seed"), on_text=on_text)
        # one line per generation on the server's log: what the harness overhead is measured
        # against (benchmarks/bench_local_llm.py)
        print(json.dumps({"event": "generation", "seconds": round(got.seconds, 6),
                          "completion_tokens": got.completion_tokens,
                          "structured": isinstance(rf, dict)}), file=sys.stderr, flush=True)
        return Completion(got.content, got.finish_reason, got.prompt_tokens,
                          got.completion_tokens)


def _serve(args: argparse.Namespace) -> int:
    """Child process: load, print the ready line, serve until stdin closes or SIGTERM."""
    from llaso_pytest.llm.local_model import load_local_manifest, load_model

    try:
        manifest = load_local_manifest(args.manifest)
        model = load_model(manifest, cache_dir=args.cache_dir, device=args.device,
                           threads=args.threads, deterministic=not args.no_deterministic)
    except LocalModelError as exc:
        print(json.dumps({"ready": False, "error": str(exc)}), flush=True)
        return 2
    info = model.describe()
    fingerprint = (f"{manifest.name}-{manifest.weights.sha256[:12]}-{info['device']}-"
                   f"{info['dtype']}")
    server = FakeOpenAIServer(backend=LocalBackend(model), models=(manifest.name,),
                              served_model=manifest.name, system_fingerprint=fingerprint,
                              port=args.port).start()
    print(json.dumps({"ready": True, "base_url": server.base_url, "pid": os.getpid(),
                      "model": manifest.name, "fingerprint": fingerprint, "describe": info,
                      "pin": manifest.pin()}), flush=True)
    try:
        sys.stdin.read()  # returns when the parent closes the pipe (or dies)
    except KeyboardInterrupt:  # pragma: no cover
        pass
    finally:
        server.stop()
    return 0


class LocalLLMServer:
    """The local model server as a child process, started and stopped by the caller.

    ``info`` (after :meth:`start`) holds the ready line: ``base_url``, ``pid``, ``model``,
    ``fingerprint``, ``describe`` (device, dtype, threads, precision, load times) and ``pin``.
    """

    def __init__(self, manifest: str | os.PathLike[str], *, cache_dir: Path | None = None,
                 device: str = "auto", threads: int = 0, deterministic: bool = True,
                 log_path: Path | None = None, start_timeout: float = START_TIMEOUT_S) -> None:
        self.manifest = Path(manifest)
        self.cache_dir = cache_dir
        self.device = device
        self.threads = threads
        self.deterministic = deterministic
        self.log_path = log_path
        self.start_timeout = start_timeout
        self.info: dict[str, Any] = {}
        self.proc: subprocess.Popen[str] | None = None
        self.start_seconds: float | None = None
        self._log: IO[str] | None = None

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise RuntimeError("the local LLM server is not running")
        return self.proc.pid

    @property
    def base_url(self) -> str:
        return str(self.info["base_url"])

    def start(self) -> Self:
        cmd = [sys.executable, "-m", "llaso_pytest.llm.local_server", str(self.manifest),
               "--device", self.device, "--threads", str(self.threads)]
        if self.cache_dir is not None:
            cmd += ["--cache-dir", str(self.cache_dir)]
        if not self.deterministic:
            cmd.append("--no-deterministic")
        env = dict(os.environ)
        env.setdefault("TOKENIZERS_PARALLELISM", "false")
        env.setdefault("HF_HUB_OFFLINE", "1")  # nothing is ever fetched from a model hub
        env.setdefault("TRANSFORMERS_VERBOSITY", "error")
        env.setdefault("TQDM_DISABLE", "1")
        if self.deterministic:
            env.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        self._log = (open(self.log_path, "w", encoding="utf-8") if self.log_path  # noqa: SIM115
                     else None)
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self._log if self._log is not None else subprocess.DEVNULL,
            text=True, env=env,
        )
        line = self._ready_line()
        self.start_seconds = time.perf_counter() - t0
        try:
            info = json.loads(line) if line else {}
        except ValueError:
            info = {}
        if not info.get("ready"):
            self.stop()
            why = info.get("error") or (
                f"the server process exited without a ready line (status "
                f"{self.proc.returncode if self.proc else '?'}; output: {line[:300]!r}"
                + (f"; its log: {self.log_path}" if self.log_path else "") + ")")
            raise LocalModelError(f"the local LLM server ({self.manifest}) did not start: {why}")
        self.info = info
        return self

    def _ready_line(self) -> str:
        proc = self.proc
        if proc is None or proc.stdout is None:  # pragma: no cover
            return ""
        got: list[str] = []
        stdout = proc.stdout
        reader = threading.Thread(target=lambda: got.append(stdout.readline()), daemon=True)
        reader.start()
        reader.join(self.start_timeout)
        if reader.is_alive():
            self.stop()
            raise LocalModelError(
                f"the local LLM server ({self.manifest}) was not ready within "
                f"{self.start_timeout:g} s" + (f"; its log: {self.log_path}" if self.log_path
                                                else ""))
        return got[0].strip() if got else ""

    def stop(self, timeout: float = 10.0) -> None:
        """Close the child's stdin (it stops serving and exits), then terminate, then kill."""
        proc, self.proc = self.proc, None
        if proc is not None:
            with contextlib.suppress(OSError):
                if proc.stdin is not None:
                    proc.stdin.close()
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.terminate()
                try:
                    proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def endpoint_for(server: LocalLLMServer, role: Role = "llm", *,
                 timeout: float = 600.0) -> EndpointConfig:
    """An endpoint of the running server: one call at a time (one model, batch size 1; the
    timings say so), a long per-call timeout for a slow CPU, and a cache identity naming the
    weights, device, dtype and threads (a restart on another port keeps its cached replies)."""
    from llaso_pytest.llm.config import EndpointConfig

    threads = server.info["describe"]["threads"]
    return EndpointConfig(role=role, base_url=server.base_url, model=str(server.info["model"]),
                          concurrency=1, timeout=timeout, deadline=max(timeout * 3, 1800.0),
                          endpoint_id=f"local:{server.info['fingerprint']}:threads{threads}")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m llaso_pytest.llm.local_server",
                                description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("manifest", help="a local-LLM manifest, e.g. "
                   "fixtures/models/llm/smollm2-135m-instruct.json")
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--cache-dir", type=Path, default=None,
                   help="where the converted copy is cached (default: $LLASO_MODEL_CACHE or "
                   "~/.cache/llaso-pytest/models)")
    p.add_argument("--no-deterministic", action="store_true",
                   help="leave torch's deterministic-algorithm switches off")
    return _serve(p.parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
