"""Issue 11 items 4-9 (LLM side): a malformed, cut, slow or huge reply, a dead endpoint or a full
disk costs at most that item, never the batch, and nothing unusable is ever cached.

Real parts only: the official openai client against the shipped fake server's fault injection.
"""

from __future__ import annotations

import sqlite3
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest

from llaso_pytest.errors import LlasoWarning
from llaso_pytest.llm.cache import ResponseCache
from llaso_pytest.llm.client import ChatRequest, EndpointUnavailable, LLMClient, parse_retry_after
from llaso_pytest.llm.config import EndpointConfig
from llaso_pytest.llm.fake_server import FakeOpenAIServer, Fault
from llaso_pytest.llm.judge import Judge

Endpoint = Callable[..., EndpointConfig]

MALFORMED_200 = ["null_choice", "string_message", "dict_choices", "bad_usage", "int_content"]


def _requests(n: int) -> list[ChatRequest]:
    return [
        ChatRequest(
            id=f"item-{i}", messages=({"role": "user", "content": f"<source>item {i}</source>"},)
        )
        for i in range(n)
    ]


@pytest.mark.parametrize("kind", MALFORMED_200)
def test_a_malformed_200_is_retried_and_then_succeeds(
    server: FakeOpenAIServer, endpoint: Endpoint, kind: str
) -> None:
    server.reset(faults=[Fault(kind, first_n=1)])  # type: ignore[arg-type]
    with LLMClient(endpoint()) as client:
        out = client.complete(_requests(4))
    assert all(o.ok for o in out) and [o.content for o in out] == [f"item {i}" for i in range(4)]
    assert all(o.attempts == 2 for o in out)
    assert client.stats.snapshot()["errors_by_type"] == {}


@pytest.mark.parametrize("kind", MALFORMED_200)
def test_a_malformed_200_is_that_items_error_and_is_never_cached(
    server: FakeOpenAIServer, endpoint: Endpoint, tmp_path: Path, kind: str
) -> None:
    server.reset(faults=[Fault(kind, always=True, match="item 2<")])  # type: ignore[arg-type]
    cache = ResponseCache(tmp_path / "c.sqlite3")
    with LLMClient(endpoint(max_retries=1), cache=cache) as client:
        out = client.complete(_requests(5))
    assert [o.ok for o in out] == [True, True, False, True, True]  # the others keep their outcomes
    bad = out[2]
    assert bad.error_type == "malformed_response" and "response body could not be used" in str(
        bad.error
    )
    assert len(cache) == 4  # nothing malformed stored
    with sqlite3.connect(tmp_path / "c.sqlite3") as db:
        contents = [r[0] for r in db.execute("SELECT content FROM responses")]
    assert sorted(contents) == ["item 0", "item 1", "item 3", "item 4"]


def test_retry_after_nan_falls_back_to_our_backoff(
    server: FakeOpenAIServer, endpoint: Endpoint
) -> None:
    assert parse_retry_after({"Retry-After": "nan"}) is None
    assert parse_retry_after({"Retry-After": "inf"}) is None
    assert parse_retry_after({"retry-after-ms": "nan", "Retry-After": "1"}) == 1.0
    server.reset(faults=[Fault("retry_after_nan", first_n=2)])
    with LLMClient(endpoint()) as client:
        out = client.complete(_requests(3))
    assert all(o.ok and o.attempts == 3 for o in out)
    assert all(0 < w <= 0.05 for o in out for w in o.waits)  # the configured backoff, finite


def test_a_reply_cut_by_the_token_limit_is_not_cached(
    server: FakeOpenAIServer, endpoint: Endpoint, tmp_path: Path
) -> None:
    path = tmp_path / "c.sqlite3"
    server.reset(faults=[Fault("cut_by_length", always=True)])
    with LLMClient(endpoint(), cache=ResponseCache(path)) as client:
        (cut,) = client.complete(_requests(1))
    assert cut.finish_reason == "length" and not cut.cached
    assert len(ResponseCache(path)) == 0
    server.reset(faults=[])  # the server is fixed: the next run asks again and gets the full reply
    with LLMClient(endpoint(), cache=ResponseCache(path)) as client:
        (full,) = client.complete(_requests(1))
    assert full.content == "item 0" and full.finish_reason == "stop" and not full.cached
    assert server.request_count == 1


def test_a_judge_error_state_is_never_cached(
    server: FakeOpenAIServer, endpoint: Endpoint, tmp_path: Path
) -> None:
    items = {"q1": {"question": "Capital of France?", "answer": "Paris", "reference": "Paris"}}
    path = tmp_path / "c.sqlite3"
    server.responder = lambda req: "I would say four."  # not JSON: an 'unparsable' error state
    with pytest.warns(LlasoWarning, match="unparsable=1"):
        bad = Judge(LLMClient(endpoint(), cache=ResponseCache(path))).rubric(
            items, prompt="judge_helpfulness"
        )
    assert bad.errors_by_kind == {"unparsable": 1} and len(ResponseCache(path)) == 0
    server.responder = lambda req: '{"reason": "right", "score": 5}'
    good = Judge(LLMClient(endpoint(), cache=ResponseCache(path))).rubric(
        items, prompt="judge_helpfulness"
    )
    assert good.n_errors == 0 and good.value == 5.0 and len(ResponseCache(path)) == 1


def test_a_verdict_cut_by_the_token_limit_is_an_error_not_a_score(
    server: FakeOpenAIServer, endpoint: Endpoint
) -> None:
    server.responder = lambda req: '{"reason": "ok", "score": 4}'
    server.reset(faults=[Fault("cut_by_length", always=True)])
    items = {"q1": {"question": "q", "answer": "a", "reference": "a"}}
    with pytest.warns(LlasoWarning):
        result = Judge(LLMClient(endpoint())).rubric(items, prompt="judge_helpfulness")
    assert result.n_errors == 1 and "finish_reason=length" in str(result.errors[0].error)


def test_items_that_exhaust_their_retries_get_a_deferred_second_pass(
    server: FakeOpenAIServer, endpoint: Endpoint
) -> None:
    # item 3 fails its first 3 attempts (all of them with max_retries=2), then would succeed
    server.reset(faults=[Fault("server_error", first_n=3, match="item 3<")])
    with LLMClient(endpoint(max_retries=2)) as client:
        out = client.complete(_requests(6))
    assert all(o.ok for o in out)
    assert out[3].attempts == 4 and client.stats.snapshot()["api_calls"] == 6 + 3
    # the second pass ran after every other item was done
    log = server.log
    last_other = max(e.finished for e in log if e.fault is None and e is not log[-1])
    assert log[-1].fault is None and log[-1].started >= last_other - 1e-3


def test_a_dead_endpoint_fails_fast_with_one_message(endpoint: Endpoint) -> None:
    with FakeOpenAIServer() as s:
        port = s.port  # a port that was just free: nothing listens there any more
    ep = endpoint(
        base_url=f"http://127.0.0.1:{port}/v1", max_retries=4, backoff_base=0.3, backoff_max=2.0
    )
    t0 = time.monotonic()
    with LLMClient(ep) as client, pytest.raises(EndpointUnavailable) as info:
        client.complete(_requests(12))
    elapsed = time.monotonic() - t0
    calls = client.stats.snapshot()["api_calls"]
    assert calls <= ep.concurrency + ep.breaker_threshold, calls  # not 12 x 5 = 60 attempts
    assert elapsed < 2.0, elapsed  # not the 16 s of backoff before the breaker
    msg = str(info.value)
    assert f"127.0.0.1:{port}" in msg and "unreachable" in msg and "LLASO_JUDGE_BASE_URL" in msg


def test_a_trickled_reply_hits_the_total_deadline(
    server: FakeOpenAIServer, endpoint: Endpoint
) -> None:
    # one byte every 50 ms never trips the 1 s read timeout; the 0.5 s deadline ends it
    server.reset(faults=[Fault("trickle", always=True, delay=0.05, match="item 1<")])
    t0 = time.monotonic()
    with LLMClient(endpoint(timeout=1.0, deadline=0.5, max_retries=0)) as client:
        out = client.complete(_requests(3))
    elapsed = time.monotonic() - t0
    assert [o.ok for o in out] == [True, False, True]
    assert out[1].error_type == "deadline" and "llaso_judge_deadline" in str(out[1].error)
    assert elapsed < 2.5, elapsed  # two passes of 0.5 s (the body would take about 15 s)


def test_a_huge_reply_is_refused_by_the_size_cap(
    server: FakeOpenAIServer, endpoint: Endpoint
) -> None:
    server.reset(faults=[Fault("huge", always=True, size=3_000_000, match="item 0<")])
    with LLMClient(endpoint(max_reply_bytes=1_000_000)) as client:
        out = client.complete(_requests(2))
    assert out[0].error_type == "reply_too_large" and "llaso_judge_max_reply_bytes" in str(
        out[0].error
    )
    assert out[0].attempts == 1 and out[1].ok  # not retried: the same request gets the same size


def test_a_full_disk_keeps_every_result_and_warns_once(
    server: FakeOpenAIServer, endpoint: Endpoint, tmp_path: Path
) -> None:
    path = tmp_path / "c.sqlite3"
    cache = ResponseCache(path)
    page = cache._conn.execute("PRAGMA page_size").fetchone()[0]
    used = cache._conn.execute("PRAGMA page_count").fetchone()[0]
    cache._conn.execute(
        f"PRAGMA max_page_count={used + 2}"
    )  # sqlite's own "database or disk is full"
    long = [
        ChatRequest(
            id=f"item-{i}",
            messages=({"role": "user", "content": f"<source>{'w' * page} {i}</source>"},),
        )
        for i in range(8)
    ]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with LLMClient(endpoint(), cache=cache) as client:
            out = client.complete(long)
    assert all(o.ok for o in out) and len(out) == 8  # every paid result returned
    assert client.stats.snapshot()["api_calls"] == 8
    msgs = [str(w.message) for w in caught if issubclass(w.category, LlasoWarning)]
    assert len(msgs) == 1 and "read-only" in msgs[0] and str(path) in msgs[0], msgs
    assert cache.degraded is not None and "full" in cache.degraded


def test_the_client_strips_its_credentials_from_echoed_error_bodies(endpoint: Endpoint) -> None:
    headers = {
        "Ocp-Apim-Subscription-Key": "azure-sub-0123456789",
        "X-Auth-Key": "xauth-0123456789",
    }
    with FakeOpenAIServer(faults=[Fault("echo_auth", always=True)]) as s:
        ep = endpoint(base_url=s.base_url, api_key="plain-key-without-prefix-42")
        req = ChatRequest(
            id="a",
            messages=({"role": "user", "content": "hi"},),
            params={"extra_headers": headers, "extra_query": {"key": "query-key-0123456789"}},
        )
        with LLMClient(ep) as client:
            (out,) = client.complete([req])
    assert out.error_type == "http_403"
    text = str(out.error)
    for secret in (
        "plain-key-without-prefix-42",
        "azure-sub-0123456789",
        "xauth-0123456789",
        "query-key-0123456789",
    ):
        assert secret not in text
    assert "[REDACTED]" in text  # the echo was there, scrubbed
    for name in ("Ocp-Apim-Subscription-Key", "X-Auth-Key", "key="):
        assert name.lower() in text.lower()  # the echo reached the message: the test can fail
