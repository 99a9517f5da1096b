"""LLMClient against the fake server through the real openai client: retries, timeouts, concurrency."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

import pytest

from llaso_pytest.llm.client import ChatRequest, LLMClient, parse_retry_after
from llaso_pytest.llm.config import EndpointConfig
from llaso_pytest.llm.fake_server import FakeOpenAIServer, Fault

Endpoint = Callable[..., EndpointConfig]


def _requests(n: int, prefix: str = "item") -> list[ChatRequest]:
    return [ChatRequest(id=f"{prefix}-{i}", messages=({"role": "user", "content": f"<source>{prefix} {i}</source>"},))
            for i in range(n)]


def test_no_item_lost_or_duplicated_under_mixed_faults(server: FakeOpenAIServer, endpoint: Endpoint) -> None:
    server.reset(faults=[
        Fault("rate_limit", rate=0.15, retry_after=0.01),
        Fault("server_error", rate=0.15),
        Fault("malformed_json", rate=0.1),
        Fault("truncated", rate=0.1),
        Fault("reset", rate=0.1),
    ])
    reqs = _requests(120)
    with LLMClient(endpoint(max_retries=12, concurrency=16)) as client:
        out = client.complete(reqs)
    assert [o.id for o in out] == [r.id for r in reqs]  # one outcome per request, in order
    assert all(o.ok for o in out), [o.error for o in out if not o.ok][:3]
    # each answer belongs to its own request (the copy baseline echoes the source)
    assert all(o.content == f"item {i}" for i, o in enumerate(out))
    log = server.log
    clean = Counter(e.key for e in log if e.status == 200 and e.fault is None)
    assert len(clean) == 120 and set(clean.values()) == {1}  # exactly one clean reply per item
    faults = Counter(e.fault for e in log if e.fault)
    assert set(faults) == {"rate_limit", "server_error", "malformed_json", "truncated", "reset"}
    snap = client.stats.snapshot()
    assert snap["api_calls"] == len(log) and snap["retries"] == len(log) - 120
    assert snap["items_ok"] == 120 and snap["items_failed"] == 0


def test_exhausted_retries_fail_that_item_only(server: FakeOpenAIServer, endpoint: Endpoint) -> None:
    server.reset(faults=[Fault("server_error", always=True, match="item 7<")])
    with LLMClient(endpoint(max_retries=2)) as client:
        out = client.complete(_requests(10))
    bad = [o for o in out if not o.ok]
    assert [o.id for o in bad] == ["item-7"]
    # 3 attempts, then a deferred second pass of 3 more at the end of the batch
    assert bad[0].error_type == "server_error" and bad[0].attempts == 6
    assert "gave up after 6 attempts in 2 passes (max_retries=2)" in str(bad[0].error)
    assert "HTTP 500" in str(bad[0].error)
    assert sum(o.ok for o in out) == 9
    assert client.stats.snapshot()["errors_by_type"] == {"server_error": 1}


def test_retry_after_is_honoured(server: FakeOpenAIServer, endpoint: Endpoint) -> None:
    server.reset(faults=[Fault("rate_limit", first_n=1, retry_after=0.3)])
    with LLMClient(endpoint()) as client:
        (out,) = client.complete(_requests(1))
    assert out.ok and out.attempts == 2 and out.waits == (0.3,)
    first, second = server.log
    assert first.status == 429 and second.status == 200
    assert second.started - first.finished >= 0.29


def test_retry_after_ms_header_is_honoured(server: FakeOpenAIServer, endpoint: Endpoint) -> None:
    server.reset(faults=[Fault("rate_limit", first_n=1, retry_after=0.25, retry_after_header="retry-after-ms")])
    with LLMClient(endpoint()) as client:
        (out,) = client.complete(_requests(1))
    assert out.ok and out.waits == (0.25,)


def test_retry_after_beyond_the_cap_fails_clearly(server: FakeOpenAIServer, endpoint: Endpoint) -> None:
    server.reset(faults=[Fault("rate_limit", always=True, retry_after=3600)])
    with LLMClient(endpoint(max_retry_after=1.0)) as client:
        (out,) = client.complete(_requests(1))
    assert not out.ok and out.attempts == 1
    assert "Retry-After 3600 s exceeds llaso_judge_max_retry_after=1 s" in str(out.error)


def test_backoff_is_exponential_with_jitter_without_retry_after(server: FakeOpenAIServer,
                                                                 endpoint: Endpoint) -> None:
    server.reset(faults=[Fault("server_error", first_n=3)])
    slept: list[float] = []
    ep = endpoint(backoff_base=1.0, backoff_max=3.0)
    with LLMClient(ep, sleep=slept.append) as client:
        (out,) = client.complete(_requests(1))
    assert out.ok and out.attempts == 4 and list(out.waits) == slept
    # base * 2**(attempt-1), capped at backoff_max, times a jitter factor in [0.5, 1]
    for wait, cap in zip(slept, (1.0, 2.0, 3.0), strict=True):
        assert cap * 0.5 <= wait <= cap


def test_timeout_is_per_call_and_retried(server: FakeOpenAIServer, endpoint: Endpoint) -> None:
    server.reset(faults=[Fault("slow", always=True, delay=3.0, match="item 1<")])
    t0 = time.monotonic()
    with LLMClient(endpoint(timeout=0.3, max_retries=1)) as client:
        out = client.complete(_requests(3))
        elapsed = time.monotonic() - t0
    assert [o.ok for o in out] == [True, False, True]
    assert out[1].error_type == "timeout" and out[1].attempts == 4  # 2 + 2 in the deferred pass
    assert "no response within 0.3 s" in str(out[1].error)
    assert elapsed < 2.9  # four 0.3 s timeouts plus backoff, never the 3 s the server sleeps


def test_the_openai_client_defaults_are_not_in_force(endpoint: Endpoint) -> None:
    client = LLMClient(endpoint(timeout=7.0, connect_timeout=2.0))
    oa = client._openai()
    assert oa.max_retries == 0
    assert oa.timeout.read == 7.0 and oa.timeout.connect == 2.0  # type: ignore[union-attr]
    client.close()


def test_openai_client_does_not_retry_on_its_own(server: FakeOpenAIServer, endpoint: Endpoint) -> None:
    server.reset(faults=[Fault("server_error", always=True)])
    with LLMClient(endpoint(max_retries=0)) as client:
        (out,) = client.complete(_requests(1))
    # one call, then the one deferred retry of our own at the end of the batch; none by openai
    assert not out.ok and server.request_count == 2 == out.attempts


def test_auth_error_is_not_retried_and_names_the_fix(endpoint: Endpoint) -> None:
    with FakeOpenAIServer(api_key="right-key") as s:
        with LLMClient(endpoint(base_url=s.base_url, api_key="sk-wrong-secret")) as client:
            out = client.complete(_requests(3))
        assert s.request_count == 3  # one attempt each
    assert {o.error_type for o in out} == {"http_401"}
    msg = str(out[0].error)
    assert "LLASO_JUDGE_API_KEY" in msg and "sk-wrong-secret" not in msg


def test_concurrency_is_bounded_and_used(server: FakeOpenAIServer, endpoint: Endpoint) -> None:
    server.reset(latency=0.1)
    t0 = time.monotonic()
    with LLMClient(endpoint(concurrency=4)) as client:
        out = client.complete(_requests(16))
    elapsed = time.monotonic() - t0
    assert all(o.ok for o in out)
    events = sorted([(e.started, 1) for e in server.log] + [(e.finished, -1) for e in server.log])
    level = peak = 0
    for _, d in events:
        level += d
        peak = max(peak, level)
    assert peak == 4
    assert 0.38 <= elapsed < 1.2  # 4 waves of 0.1 s, not 16 sequential calls (1.6 s)


def test_duplicate_ids_in_a_batch_are_rejected(endpoint: Endpoint) -> None:
    r = _requests(1)[0]
    with LLMClient(endpoint()) as client, pytest.raises(ValueError, match="duplicate request id 'item-0'"):
        client.complete([r, r])


def test_unconfigured_endpoint_names_the_variables() -> None:
    with pytest.raises(ValueError, match="LLASO_LLM_BASE_URL, LLASO_LLM_MODEL"):
        LLMClient(EndpointConfig(role="llm", base_url=None, model=None))


def test_cost_is_estimated_from_configured_prices(server: FakeOpenAIServer, endpoint: Endpoint) -> None:
    with LLMClient(endpoint(price_in=2.0, price_out=10.0)) as client:
        out = client.complete(_requests(2))
    tin = sum(o.prompt_tokens or 0 for o in out)
    tout = sum(o.completion_tokens or 0 for o in out)
    assert client.stats.snapshot()["cost_usd"] == pytest.approx((tin * 2.0 + tout * 10.0) / 1e6)
    with LLMClient(endpoint()) as client:
        client.complete(_requests(1))
        assert client.stats.snapshot()["cost_usd"] is None  # unknown, never 0


@pytest.mark.parametrize(
    ("headers", "expected"),
    [({"Retry-After": "2"}, 2.0), ({"retry-after-ms": "1500"}, 1.5), ({"retry-after": "0.5"}, 0.5),
     ({"Retry-After": "Wed, 21 Oct 2015 07:28:10 GMT"}, 10.0), ({}, None), ({"retry-after": "soon"}, None)],
)
def test_parse_retry_after(headers: dict[str, str], expected: float | None) -> None:
    import email.utils

    now = email.utils.parsedate_to_datetime("Wed, 21 Oct 2015 07:28:00 GMT").timestamp()
    assert parse_retry_after(headers, now=now) == expected


@pytest.mark.parametrize("seed", range(6))
def test_invariants_hold_for_random_fault_mixes(seed: int) -> None:
    """Whatever the faults: one outcome per request in order; ok <=> the server sent it one clean reply."""
    import random

    rng = random.Random(seed)
    kinds = ["rate_limit", "server_error", "malformed_json", "truncated", "reset"]
    faults = [Fault(k, rate=rng.uniform(0.0, 0.3), retry_after=0.005) for k in rng.sample(kinds, rng.randint(1, 5))]  # type: ignore[arg-type]
    n = rng.randint(5, 40)
    max_retries = rng.randint(0, 4)
    with FakeOpenAIServer(faults=faults, seed=seed) as server:
        ep = EndpointConfig(role="judge", base_url=server.base_url, model="m", timeout=5.0, max_retries=max_retries,
                            concurrency=rng.randint(1, 12), backoff_base=0.002, backoff_max=0.01)
        with LLMClient(ep) as client:
            out = client.complete(_requests(n, prefix=f"s{seed}"))
        log = server.log
    assert [o.id for o in out] == [f"s{seed}-{i}" for i in range(n)]
    clean = Counter(e.key for e in log if e.status == 200 and e.fault is None)
    assert set(clean.values()) <= {1}
    assert sum(o.ok for o in out) == len(clean)
    for i, o in enumerate(out):
        assert (o.content == f"s{seed} {i}") if o.ok else (o.content is None and o.error_type is not None)
        assert 1 <= o.attempts <= 2 * (max_retries + 1)  # a deferred second pass at most
    assert sum(o.attempts for o in out) == len(log) == client.stats.snapshot()["api_calls"]


def test_an_unexpected_client_error_fails_each_item_not_the_batch(endpoint: Endpoint) -> None:
    reqs = [ChatRequest(id="a", messages=({"role": "user", "content": "x"},), params={"no_such_parameter": 1})]
    with LLMClient(endpoint()) as client:
        (out,) = client.complete(reqs)
    assert out.error_type == "unexpected" and "no_such_parameter" in str(out.error)


def test_replies_without_usage_make_the_cost_unknown_not_zero(endpoint: Endpoint) -> None:
    from llaso_pytest.llm.usage import render_usage

    with FakeOpenAIServer(usage=False) as srv, \
            LLMClient(endpoint(base_url=srv.base_url, price_in=1.0, price_out=2.0)) as client:
        out = client.complete(_requests(3))
    assert all(o.ok and o.prompt_tokens is None for o in out)
    snap = client.stats.snapshot()
    assert snap["calls_without_usage"] == 3 and snap["cost_usd"] is None
    (line,) = render_usage({"llm": snap})
    assert "est. cost unknown (3 replies had no usage)" in line


def test_a_reply_cut_at_max_tokens_says_so(server: FakeOpenAIServer, endpoint: Endpoint) -> None:
    server.responder = lambda req: "one two three four five"
    req = ChatRequest(id="a", messages=({"role": "user", "content": "hi"},), params={"max_tokens": 3})
    with LLMClient(endpoint()) as client:
        (out,) = client.complete([req])
    assert out.ok and out.content == "one two three" and out.finish_reason == "length"
