"""Budgets (--llaso-budget-usd, --llaso-budget-calls): global limits, explicit budget_exceeded
items, deterministic trips against the fake server's token counts, incomplete runs."""

from __future__ import annotations

import json
import multiprocessing
import random
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy  # noqa: F401  (imported before any in-process pytester run: see below)
import pytest

from llaso_pytest.errors import LlasoWarning
from llaso_pytest.llm.budget import (
    BudgetError,
    BudgetLimits,
    Ledger,
    call_cost,
    parse_budget_calls,
    parse_budget_usd,
)
from llaso_pytest.llm.client import CallOutcome, ChatRequest, LLMClient
from llaso_pytest.llm.config import EndpointConfig
from llaso_pytest.llm.fake_server import FakeOpenAIServer, default_responder
from llaso_pytest.options import OptionError

PRICE_IN, PRICE_OUT = 1000.0, 3000.0  # USD per million tokens: a few 0.001 USD per call


def _requests(n: int) -> list[ChatRequest]:
    # prompts of different lengths, so that calls cost different amounts
    return [ChatRequest(id=f"q{i}", messages=({"role": "user", "content": "<answer>" + " ".join(
        f"w{j}" for j in range(3 + 7 * i % 23)) + "</answer><reference>w1 w2</reference>"},),
        params={"temperature": 0.0}) for i in range(n)]


def _jittery(request: Mapping[str, Any]) -> str:
    """The default fake replies, after a random pause: thread timing varies, tokens do not."""
    time.sleep(random.random() * 0.004)
    return default_responder(request)


def _client(endpoint: EndpointConfig, ledger: Ledger | None) -> LLMClient:
    return LLMClient(endpoint, cache=None, budget=ledger)


def _budgeted(endpoint: EndpointConfig, limits: BudgetLimits, reqs: list[ChatRequest]
              ) -> tuple[list[CallOutcome], dict[str, Any]]:
    """The outcomes of one batch under a fresh ledger, and what the ledger recorded."""
    ledger = Ledger.create(limits=limits)
    try:
        return _client(endpoint, ledger).complete(reqs), ledger.snapshot()
    finally:
        ledger.remove()


def _expected_usd(costs: list[float], limit: float, window: int) -> list[bool]:
    """The documented rule: item i is called iff the cost of items 0 .. i - window is below
    the limit (computed here from the token counts of an unbudgeted run)."""
    out = []
    for i in range(len(costs)):
        out.append(sum(costs[:max(0, i - window + 1)]) < limit)
    return out


def test_parsers_and_limits() -> None:
    assert parse_budget_usd("2.5") == 2.5 and parse_budget_usd("0") == 0.0
    assert parse_budget_calls(" 10 ") == 10
    for bad in ("-1", "nan", "inf", "x"):
        with pytest.raises(OptionError, match="budget"):
            parse_budget_usd(bad)
    for bad in ("-1", "1.5", "x"):
        with pytest.raises(OptionError, match="budget of calls"):
            parse_budget_calls(bad)
    with pytest.raises(BudgetError):
        BudgetLimits(usd=-1.0)
    assert not BudgetLimits().active and BudgetLimits(calls=0).active


def test_call_cost_is_unknown_not_zero_without_prices_or_counts(
        endpoint: Callable[..., EndpointConfig]) -> None:
    priced = endpoint(price_in=PRICE_IN, price_out=PRICE_OUT)
    assert call_cost(priced, 10, 20) == pytest.approx((10 * PRICE_IN + 20 * PRICE_OUT) / 1e6)
    assert call_cost(priced, None, 20) is None
    assert call_cost(endpoint(), 10, 20) == 0.0  # a loopback server without prices is free
    remote = EndpointConfig(role="judge", base_url="https://api.example.com/v1", model="m")
    assert call_cost(remote, 10, 20) is None


@pytest.mark.parametrize("concurrency", [1, 3, 8])
def test_usd_budget_trips_deterministically_against_the_fake_token_counts(
        concurrency: int, endpoint: Callable[..., EndpointConfig]) -> None:
    reqs = _requests(40)
    with FakeOpenAIServer(responder=_jittery) as server:
        ep = endpoint(price_in=PRICE_IN, price_out=PRICE_OUT, concurrency=concurrency).with_(
            base_url=server.base_url)
        free = _client(ep, None).complete(reqs)
        costs = [call_cost(ep, o.prompt_tokens, o.completion_tokens) for o in free]
        assert all(c is not None and c > 0 for c in costs)
        limit = sum(c for c in costs[:15] if c is not None) + 1e-9
        expected = _expected_usd([float(c or 0) for c in costs], limit, concurrency)
        runs = []
        for _ in range(3):
            server.reset()
            out, snap = _budgeted(ep, BudgetLimits(usd=limit), reqs)
            called = [o.ok for o in out]
            assert called == expected
            assert [o.error_type for o in out if not o.ok] == ["budget_exceeded"] * (
                len(reqs) - sum(expected))
            assert server.request_count == sum(expected) == snap["calls"]
            assert snap["calls_refused"] == len(reqs) - sum(expected) and snap["exceeded"]
            # the overshoot is at most one window of calls
            assert snap["spent_usd"] < limit + concurrency * max(c or 0 for c in costs)
            runs.append([(o.id, o.content) for o in out])
        assert runs[0] == runs[1] == runs[2]


def test_calls_budget_calls_the_first_items_in_order(
        endpoint: Callable[..., EndpointConfig]) -> None:
    reqs = _requests(30)
    with FakeOpenAIServer(responder=_jittery) as server:
        ep = endpoint(concurrency=8).with_(base_url=server.base_url)
        out, snap = _budgeted(ep, BudgetLimits(calls=12), reqs)
    assert [o.ok for o in out] == [True] * 12 + [False] * 18
    assert server.request_count == 12 and snap["calls"] == 12 and snap["calls_refused"] == 18
    first = next(o for o in out if not o.ok)
    assert first.error is not None and "budget of 12 API calls is spent" in first.error
    assert first.attempts == 0 and first.content is None  # never a score, never a call


def test_cache_hits_are_free_under_a_spent_budget(
        endpoint: Callable[..., EndpointConfig], tmp_path: Path) -> None:
    from llaso_pytest.llm.cache import ResponseCache

    reqs = _requests(6)
    with FakeOpenAIServer() as server:
        ep = endpoint().with_(base_url=server.base_url)
        cache = ResponseCache(tmp_path / "c.sqlite3")
        try:
            LLMClient(ep, cache=cache).complete(reqs[:4])
            ledger = Ledger.create(limits=BudgetLimits(calls=0))
            try:
                out = LLMClient(ep, cache=cache, budget=ledger).complete(reqs)
            finally:
                ledger.remove()
        finally:
            cache.close()
    assert [o.cached for o in out] == [True] * 4 + [False] * 2
    assert [o.error_type for o in out] == [None] * 4 + ["budget_exceeded"] * 2


def test_retries_count_against_the_calls_budget(endpoint: Callable[..., EndpointConfig]) -> None:
    from llaso_pytest.llm.fake_server import Fault

    reqs = _requests(10)
    with FakeOpenAIServer(faults=[Fault("server_error", first_n=2)]) as server:
        ep = endpoint(concurrency=4).with_(base_url=server.base_url)
        out, snap = _budgeted(ep, BudgetLimits(calls=15), reqs)
    assert server.request_count == snap["calls"] == 15  # never one more
    # an item needs 3 calls (2 failures, then the reply); one refused on a retry keeps its
    # attempts, and every item is called or explicitly refused
    assert 1 <= sum(o.ok for o in out) <= 5
    assert sum(o.attempts for o in out) == 15
    assert {o.error_type for o in out if not o.ok} == {"budget_exceeded"}


def _hammer(path: str, process: str, tries: int, granted: Any) -> None:
    ledger = Ledger(path, limits=BudgetLimits(calls=150), process=process)
    n = 0
    for _ in range(tries):
        n += ledger.try_call() is None
    granted.put(n)
    ledger.close()


def test_the_calls_limit_holds_across_processes_and_threads() -> None:
    ledger = Ledger.create(limits=BudgetLimits(calls=150))
    try:
        ctx = multiprocessing.get_context("spawn")
        granted = ctx.Queue()
        procs = [ctx.Process(target=_hammer, args=(str(ledger.path), f"gw{k}", 60, granted))
                 for k in range(4)]
        for p in procs:
            p.start()
        results: list[bool] = []
        threads = [threading.Thread(target=lambda: results.extend(
            ledger.try_call() is None for _ in range(30))) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for p in procs:
            p.join(timeout=120)
        total = sum(granted.get(timeout=10) for _ in procs) + sum(results)
        snap = ledger.snapshot()
    finally:
        ledger.remove()
    assert total == snap["calls"] == 150
    assert snap["calls_refused"] == 4 * 60 + 60 - 150 and snap["processes"] == 5
    assert not Path(ledger.path).exists()


# -- the plugin ---------------------------------------------------------------------------------
JUDGED = """
import pytest

ITEMS = {f"q{i}": {"question": f"question {i}", "answer": "the answer " + "x " * (i % 5),
                   "reference": "the answer"} for i in range(12)}

@pytest.mark.parametrize("part", range(3))
def test_judged(judge, prompt_template, record_metric, llaso_seed, part):
    result = judge.rubric(ITEMS, prompt=prompt_template, name="helpfulness")
    kinds = result.errors_by_kind
    if result.n:
        record_metric(result.to_metric_result(seed=llaso_seed))
    assert set(kinds) <= {"budget_exceeded"}
"""

CONFTEST = """
import pytest
from llaso_pytest.llm.prompts import load_prompt

@pytest.fixture(scope="session")
def prompt_template():
    return load_prompt("judge_helpfulness")  # the template shipped with the package
"""


# The in-process runs (``runpytest``) restore ``sys.modules`` afterwards; numpy, imported for the
# first time inside one of them, would be removed and then fail to load again in the next one
# ("cannot load module more than once per process"). Importing it here keeps it loaded.
@pytest.fixture
def judged(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_judged=JUDGED)
    for var in ("LLASO_JUDGE_BASE_URL", "LLASO_JUDGE_MODEL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LLASO_JUDGE_PRICE_IN", str(PRICE_IN))
    monkeypatch.setenv("LLASO_JUDGE_PRICE_OUT", str(PRICE_OUT))
    return pytester


def _record(pytester: pytest.Pytester) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((pytester.path / "run.json").read_text())
    return data


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]])
def test_a_spent_budget_makes_the_run_incomplete_and_shows_the_spending(
        judged: pytest.Pytester, xdist: list[str]) -> None:
    result = judged.runpytest_subprocess(
        "-p", "no:cacheprovider", "--llaso-llm-cache=none", "--llaso-out=run.json",
        "--llaso-budget-calls=20", *xdist)
    result.stdout.fnmatch_lines([
        "*budget: spent $*, 20 of 20 API calls; REACHED: 16 call(s) not made (budget_exceeded)*",
        "*run record (INCOMPLETE (the LLM budget was reached (--llaso-budget-calls 20): 16 "
        "call(s) not made, their items are budget_exceeded))*",
    ])
    rec = _record(judged)
    assert rec["complete"] is False
    budget = rec["usage"]["budget"]
    assert budget["calls"] == 20 and budget["calls_refused"] == 16 and budget["exceeded"]
    assert budget["processes"] == (3 if xdist else 1)
    assert rec["usage"]["llm"]["judge"]["api_calls"] == 20  # global: all workers together
    judged_items = [r["extra"]["judge"] for t in rec["tests"] for r in t["results"]]
    assert sum(j["n_ok"] for j in judged_items) == 20
    kinds = {e["kind"] for j in judged_items for e in j["error_items"]}
    assert kinds <= {"budget_exceeded"}
    for t in rec["tests"]:  # no item is scored 0: the not-called ones are not in the stats
        for r in t["results"]:
            assert r["n"] == r["extra"]["judge"]["n_ok"]
    save = judged.runpytest("-p", "no:cacheprovider", "--llaso-llm-cache=none",
                            "--llaso-budget-calls=0", "--llaso-save=main")
    save.stdout.fnmatch_lines(["*--llaso-save main: not saved, because this run is incomplete*"])


def test_a_budget_that_is_not_reached_leaves_the_run_complete(judged: pytest.Pytester) -> None:
    result = judged.runpytest("-p", "no:cacheprovider", "--llaso-llm-cache=none",
                              "--llaso-out=run.json", "--llaso-budget-usd=1000")
    result.assert_outcomes(passed=3)
    rec = _record(judged)
    assert rec["complete"] is True and rec["usage"]["budget"]["exceeded"] is False
    assert rec["usage"]["budget"]["spent_usd"] == pytest.approx(
        rec["usage"]["llm"]["judge"]["cost_usd"])
    result.stdout.fnmatch_lines(["*budget: spent $*of $1000, 36 API calls; not reached*"])


def test_a_usd_budget_needs_prices_on_a_paid_endpoint(judged: pytest.Pytester,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLASO_JUDGE_BASE_URL", "https://api.example.com/v1")
    monkeypatch.setenv("LLASO_JUDGE_MODEL", "gpt-x")
    monkeypatch.delenv("LLASO_JUDGE_PRICE_IN")
    result = judged.runpytest("--llaso-budget-usd=1")
    assert result.ret == 4
    result.stderr.fnmatch_lines(["*--llaso-budget-usd: the judge endpoint (https://api.example"
                                 ".com/v1) has no prices*LLASO_JUDGE_PRICE_IN*"])
    bad = judged.runpytest("--llaso-budget-calls=-3")
    bad.stderr.fnmatch_lines(["*--llaso-budget-calls*integer >= 0*"])
    ini = judged.runpytest("-o", "llaso_budget_usd=lots")
    ini.stderr.fnmatch_lines(["*ini key llaso_budget_usd: a budget is a number of USD*"])


def test_outcome_of_a_refused_item_is_explicit() -> None:
    out = CallOutcome("q1", None, error_type="budget_exceeded", error="budget_exceeded: ...")
    assert not out.ok and out.content is None


# -- per-item cost and latency as metrics --------------------------------------------------------
def _judge_items(n: int) -> dict[str, dict[str, str]]:
    return {f"q{i}": {"question": f"question {i}", "answer": "the answer " + "x " * (i % 4),
                      "reference": "the answer"} for i in range(n)}


def test_judged_items_carry_their_cost_as_a_metric(
        endpoint: Callable[..., EndpointConfig]) -> None:
    from llaso_pytest.llm.judge import Judge

    with FakeOpenAIServer() as server:
        ep = endpoint(price_in=PRICE_IN, price_out=PRICE_OUT).with_(base_url=server.base_url)
        client = LLMClient(ep, cache=None)
        result = Judge(client).rubric(_judge_items(10), prompt="judge_helpfulness", name="help")
        cost, latency = result.cost_metrics(seed=0)  # the client times each API call
        # two code paths agree: the client's usage counters and the items' own prices
        assert cost.extra["total"] == pytest.approx(client.stats.snapshot()["cost_usd"])
        assert cost.name == "help/cost_usd" and cost.n == 10 and not cost.higher_is_better
        assert cost.value == pytest.approx(cost.extra["total"] / 10)
        assert cost.signature.fields["price_in"] == PRICE_IN
        assert latency.name == "help/latency_s" and latency.n == 10 and latency.value > 0
        assert latency.signature.fields["source"] == "judge-latency"
        unpriced = Judge(LLMClient(endpoint().with_(base_url=server.base_url), cache=None))
        assert unpriced.rubric(_judge_items(3), prompt="judge_helpfulness").cost_metrics() == []
        ledger = Ledger.create(limits=BudgetLimits(calls=6))
        try:
            with pytest.warns(LlasoWarning, match=r"4 of 10 items .*\(budget_exceeded=4\)"):
                budgeted = Judge(LLMClient(ep, cache=None, budget=ledger)).rubric(
                    _judge_items(10), prompt="judge_helpfulness", name="help")
        finally:
            ledger.remove()
    cost, latency = budgeted.cost_metrics(seed=0)
    assert latency.n == 6 and latency.extra["items_without"] == cost.extra["items_without"]
    assert cost.n == 6 and cost.extra["items_without"] == [f"q{i}" for i in range(6, 10)]
    assert budgeted.errors_by_kind == {"budget_exceeded": 4} and budgeted.n == 6


def test_item_latency_sums_timed_calls_only() -> None:
    from llaso_pytest.llm.judge import ItemVerdict, JudgeSample

    timed = ItemVerdict("a", 1.0, "1", None, (JudgeSample(0, "AB", "{}", latency_s=0.5,
                                                           cost_usd=0.1),
                                               JudgeSample(0, "BA", "{}", latency_s=0.25,
                                                           cost_usd=0.2)))
    assert timed.latency_s == 0.75 and timed.cost_usd == pytest.approx(0.3)
    cached = ItemVerdict("b", 1.0, "1", None, (JudgeSample(0, None, "{}", cached=True),))
    assert cached.latency_s is None and cached.cost_usd is None


def test_generation_calls_stop_too_and_the_test_names_them(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """The shipped QA suite in live mode: generations past the budget are budget_exceeded."""
    suite = Path(__file__).resolve().parents[2] / "suites" / "llm" / "test_qa.py"
    with FakeOpenAIServer() as server:
        monkeypatch.setenv("LLASO_LLM_BASE_URL", server.base_url)
        monkeypatch.setenv("LLASO_LLM_MODEL", "fake-llm")
        # a subprocess: suites/llm/test_qa.py shares its basename with tests/metrics/test_qa.py
        result = pytester.runpytest_subprocess(
            str(suite), "-p", "no:cacheprovider", "--llaso-llm-cache", "none", "-k",
            "exact_match", "--llaso-budget-calls=5", "--llaso-out=run.json")
        assert server.request_count == 5
    result.stdout.fnmatch_lines([
        "*15 of 20 generations failed for qa*",
        "*: budget_exceeded: not called, the budget of 5 API calls is spent "
        "(--llaso-budget-calls 5)*",
    ])
    result.stdout.fnmatch_lines(["*20 of 20 generations failed for qa*"])  # the second system
    rec = _record(pytester)
    assert rec["complete"] is False and rec["usage"]["budget"]["calls_refused"] == 15 + 20
