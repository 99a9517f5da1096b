"""The fake server speaks the real protocol: drive it with the official openai client."""

from __future__ import annotations

import json
import subprocess
import sys

import openai
import pytest

from llaso_pytest.llm.fake_server import FakeOpenAIServer, Fault, default_responder, parse_fault


def _client(server: FakeOpenAIServer, *, timeout: float = 3.0) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0, timeout=timeout)


def test_chat_completion_round_trip(server: FakeOpenAIServer) -> None:
    resp = _client(server).chat.completions.create(
        model="fake-llm", messages=[{"role": "user", "content": "<source>\nGuten Tag\n</source>"}])
    assert resp.choices[0].message.content == "Guten Tag"  # copy baseline for translation prompts
    assert resp.choices[0].finish_reason == "stop"
    assert (
        resp.usage is not None
        and resp.usage.prompt_tokens == 4
        and resp.usage.completion_tokens == 2
    )  # words, tags included
    assert [e.status for e in server.log] == [200]


def test_models_endpoint_lists_configured_models() -> None:
    with FakeOpenAIServer(models=["m1", "m2"]) as s:
        assert [m.id for m in _client(s).models.list()] == ["m1", "m2"]
        with pytest.raises(openai.NotFoundError, match="m3"):
            _client(s).chat.completions.create(
                model="m3", messages=[{"role": "user", "content": "x"}]
            )


@pytest.mark.parametrize(
    ("kind", "exc"),
    [
        ("rate_limit", openai.RateLimitError),
        ("server_error", openai.InternalServerError),
        ("truncated", openai.APIConnectionError),
        ("reset", openai.APIConnectionError),
        ("malformed_json", ValueError),
    ],
)
def test_each_fault_reaches_the_client_as_that_failure(
    server: FakeOpenAIServer, kind: str, exc: type
) -> None:
    server.reset(faults=[Fault(kind, first_n=1)])  # type: ignore[arg-type]
    c = _client(server)
    with pytest.raises(exc):
        c.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    # the second attempt of the same request is clean
    assert c.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}]).choices
    assert [e.attempt for e in server.log] == [1, 2]
    assert server.log[0].fault == kind


def test_rate_limit_sends_retry_after(server: FakeOpenAIServer) -> None:
    server.reset(faults=[Fault("rate_limit", always=True, retry_after=1.5)])
    with pytest.raises(openai.RateLimitError) as info:
        _client(server).chat.completions.create(
            model="m", messages=[{"role": "user", "content": "x"}]
        )
    assert info.value.response.headers["retry-after"] == "1.5"


def test_slow_fault_exceeds_a_short_timeout(server: FakeOpenAIServer) -> None:
    server.reset(faults=[Fault("slow", always=True, delay=3.0)])
    with pytest.raises(openai.APITimeoutError):
        _client(server, timeout=0.2).chat.completions.create(
            model="m", messages=[{"role": "user", "content": "x"}]
        )


def test_rate_faults_are_deterministic_per_request_and_attempt() -> None:
    outcomes = []
    for _ in range(2):
        with FakeOpenAIServer(faults=[Fault("server_error", rate=0.5)], seed=3) as s:
            c = _client(s)
            got = []
            for i in range(20):
                try:
                    c.chat.completions.create(
                        model="m", messages=[{"role": "user", "content": str(i)}]
                    )
                    got.append(True)
                except openai.InternalServerError:
                    got.append(False)
            outcomes.append(got)
    assert outcomes[0] == outcomes[1]
    assert 3 <= outcomes[0].count(False) <= 17


def test_default_responder_grades_by_overlap_and_reads_the_scale() -> None:
    req = {
        "messages": [
            {"role": "system", "content": 'reply {"score": n}'},
            {"role": "user", "content": "<reference>Paris</reference><answer>Paris</answer>"},
        ],
        "response_format": {
            "type": "json_schema",
            "json_schema": {
                "schema": {"properties": {"score": {"type": "integer", "enum": [0, 1, 2, 3]}}}
            },
        },
    }
    assert json.loads(default_responder(req))["score"] == 3
    req["messages"][1]["content"] = "<reference>Paris</reference><answer>Lyon</answer>"
    assert json.loads(default_responder(req))["score"] == 0


def test_parse_fault_spec() -> None:
    f = parse_fault("rate_limit:rate=0.25,retry_after=0.5,match=abc")
    assert (f.kind, f.rate, f.retry_after, f.match) == ("rate_limit", 0.25, 0.5, "abc")
    with pytest.raises(ValueError, match="unknown fault kind"):
        parse_fault("explode")
    with pytest.raises(ValueError, match="unknown fault option"):
        parse_fault("server_error:often=1")


def test_runs_as_a_module_and_prints_the_environment() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "llaso_pytest.llm.fake_server", "--latency", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        first = proc.stdout.readline()  # type: ignore[union-attr]
        env = proc.stdout.readline() + proc.stdout.readline()  # type: ignore[union-attr]
        url = first.split(" on ")[1].strip()
        assert "LLASO_JUDGE_BASE_URL=" + url in env
        c = openai.OpenAI(base_url=url, api_key="k", max_retries=0, timeout=3.0)
        assert c.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hi"}]
        ).choices
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_baselines_answer_the_last_user_turn_not_the_few_shot_example() -> None:
    from llaso_pytest.llm.prompts import load_prompt

    msgs = load_prompt("qa").render({"context": "Cats sleep a lot. The moon orbits the Earth.",
                                     "question": "What orbits the Earth?"})
    assert len([m for m in msgs if m["role"] == "user"]) == 2  # the template has a few-shot turn
    assert default_responder({"messages": msgs}) == "The moon orbits the Earth."
    doc = load_prompt("summarize").render({"document": "First sentence here. Second one."})
    assert default_responder({"messages": doc}) == "First sentence here."
