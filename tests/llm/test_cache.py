"""The response cache: zero API calls on a re-run, keys that change with every input,
multi-process safety."""

from __future__ import annotations

import multiprocessing
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from llaso_pytest.llm.cache import CachedResponse, CacheError, ResponseCache, cache_key
from llaso_pytest.llm.client import ChatRequest, LLMClient
from llaso_pytest.llm.config import EndpointConfig
from llaso_pytest.llm.fake_server import FakeOpenAIServer, Fault

Endpoint = Callable[..., EndpointConfig]


def _requests(n: int) -> list[ChatRequest]:
    return [
        ChatRequest(
            id=f"i{i}",
            messages=({"role": "user", "content": f"<source>s{i}</source>"},),
            params={"temperature": 0, "seed": 1},
            prompt_ref="p@abc",
        )
        for i in range(n)
    ]


def test_rerun_hits_the_cache_with_zero_api_calls(server: FakeOpenAIServer, endpoint: Endpoint,
                                                  tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    with LLMClient(endpoint(), cache=ResponseCache(path)) as c1:
        first = c1.complete(_requests(50))
    assert server.request_count == 50
    assert c1.stats.snapshot()["cache_misses"] == 50
    server.reset()
    with LLMClient(endpoint(), cache=ResponseCache(path)) as c2:
        second = c2.complete(_requests(50))
    assert server.request_count == 0
    snap = c2.stats.snapshot()
    assert (snap["cache_hits"], snap["cache_misses"], snap["api_calls"]) == (50, 0, 0)
    assert [o.content for o in second] == [o.content for o in first]
    assert all(o.cached for o in second) and not any(o.cached for o in first)


def test_local_servers_on_other_ports_do_not_share_cached_responses(endpoint: Endpoint,
                                                                    tmp_path: Path) -> None:
    """Two loopback servers, one model name: each gets its own answers, unless one endpoint id
    (``LLASO_<ROLE>_ENDPOINT_ID``) says they serve the same thing."""
    path = tmp_path / "c.sqlite3"
    reqs = _requests(5)
    with FakeOpenAIServer(responder=lambda req: "from A") as a, \
            FakeOpenAIServer(responder=lambda req: "from B") as b:
        assert endpoint(base_url=a.base_url).public_url == endpoint(base_url=b.base_url).public_url
        for srv, want in ((a, "from A"), (b, "from B")):
            with LLMClient(endpoint(base_url=srv.base_url), cache=ResponseCache(path)) as c:
                assert [o.content for o in c.complete(reqs)] == [want] * 5
        assert (a.request_count, b.request_count) == (5, 5)
        for srv in (a, b):
            with LLMClient(endpoint(base_url=srv.base_url, endpoint_id="tiny-q4"),
                           cache=ResponseCache(path)) as c:
                out = c.complete(reqs)
        assert [o.content for o in out] == ["from A"] * 5 and all(o.cached for o in out)
        assert (a.request_count, b.request_count) == (10, 5)


def test_refresh_calls_again_and_rewrites(
    server: FakeOpenAIServer, endpoint: Endpoint, tmp_path: Path
) -> None:
    path = tmp_path / "c.sqlite3"
    with LLMClient(endpoint(), cache=ResponseCache(path)) as c:
        c.complete(_requests(5))
    server.reset()
    with LLMClient(endpoint(), cache=ResponseCache(path, refresh=True)) as c:
        c.complete(_requests(5))
        assert c.stats.snapshot()["cache_hits"] == 0
    assert server.request_count == 5
    assert len(ResponseCache(path)) == 5


def test_errors_are_not_cached(
    server: FakeOpenAIServer, endpoint: Endpoint, tmp_path: Path
) -> None:
    server.reset(faults=[Fault("server_error", always=True, match="s1<")])
    path = tmp_path / "c.sqlite3"
    with LLMClient(endpoint(max_retries=0), cache=ResponseCache(path)) as c:
        out = c.complete(_requests(3))
    assert [o.ok for o in out] == [True, False, True]
    server.reset(faults=[])
    with LLMClient(endpoint(), cache=ResponseCache(path)) as c:
        out = c.complete(_requests(3))
    assert all(o.ok for o in out) and server.request_count == 1  # only the failed item is called


def test_the_key_changes_with_every_input() -> None:
    base = {
        "base_url": "http://h/v1",
        "model": "m",
        "prompt_ref": "judge@aaaa",
        "params": {"temperature": 0, "seed": 1},
        "messages": [{"role": "user", "content": "x"}],
    }
    k0 = cache_key(**base)  # type: ignore[arg-type]
    variants = [
        {"base_url": "http://other/v1"},
        {"model": "m2"},
        {"prompt_ref": "judge@bbbb"},
        {"params": {"temperature": 0, "seed": 2}},
        {"params": {"temperature": 0.7, "seed": 1}},
        {"messages": [{"role": "user", "content": "x "}]},
        {"messages": [{"role": "system", "content": "x"}]},
    ]
    keys = {cache_key(**{**base, **v}) for v in variants}  # type: ignore[arg-type]
    assert k0 not in keys and len(keys) == len(variants)
    # parameter order does not matter
    assert cache_key(**{**base, "params": {"seed": 1, "temperature": 0}}) == k0  # type: ignore[arg-type]


def test_keys_never_contain_the_api_key(
    server: FakeOpenAIServer, endpoint: Endpoint, tmp_path: Path
) -> None:
    path = tmp_path / "c.sqlite3"
    with LLMClient(endpoint(api_key="sk-super-secret-123"), cache=ResponseCache(path)) as c:
        c.complete(_requests(2))
    assert b"sk-super-secret-123" not in path.read_bytes()
    for extra in tmp_path.iterdir():
        assert b"sk-super-secret-123" not in extra.read_bytes()


def test_unknown_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    ResponseCache(path).close()
    con = sqlite3.connect(path)
    con.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    con.commit()
    con.close()
    with pytest.raises(CacheError, match=r"schema version 99.*delete the file"):
        ResponseCache(path)


def test_a_corrupt_file_is_refused_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(CacheError, match="delete the file"):
        ResponseCache(path)


def _writer(path: str, worker: int, n: int) -> None:
    cache = ResponseCache(path)
    for i in range(n):
        shared = i % 2 == 0  # half the keys are written by both processes
        key = f"shared-{i}" if shared else f"w{worker}-{i}"
        cache.put(
            key,
            CachedResponse(f"v{i}", "stop", 1, 1, "m"),
            base_url="u",
            model="m",
            prompt_ref=None,
            request={"i": i},
        )
        assert cache.get(key) is not None
    cache.close()


def test_two_processes_write_concurrently(tmp_path: Path) -> None:
    path = str(tmp_path / "c.sqlite3")
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, w, 200)) for w in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    assert len(ResponseCache(path)) == 100 + 2 * 100  # shared keys once, private keys per worker
