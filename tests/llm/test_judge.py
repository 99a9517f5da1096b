"""The judge: parsing, explicit error states, repeats with agreement, pairwise position swapping."""

from __future__ import annotations

import json
import math
import shutil
import sqlite3
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from llaso_pytest.errors import LlasoWarning
from llaso_pytest.llm.cache import ResponseCache
from llaso_pytest.llm.client import LLMClient
from llaso_pytest.llm.config import EndpointConfig
from llaso_pytest.llm.fake_server import FakeOpenAIServer, Fault
from llaso_pytest.llm.judge import Judge, VerdictError, parse_verdict
from llaso_pytest.llm.prompts import default_prompt_dir, load_prompt

Endpoint = Callable[..., EndpointConfig]

QA = {
    "q1": {"question": "Capital of France?", "answer": "Paris", "reference": "Paris"},
    "q2": {"question": "Capital of Japan?", "answer": "Osaka", "reference": "Tokyo"},
    "q3": {"question": "Largest ocean?", "answer": "the Pacific Ocean", "reference": "the Pacific"},
}


def _user(req: Mapping[str, Any]) -> str:
    return str(req["messages"][-1]["content"])


def _judge(endpoint: Endpoint, **kw: Any) -> Judge:
    return Judge(LLMClient(endpoint()), **kw)


# -- parsing ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("content", "kind", "expected"),
    [
        ('{"reason": "ok", "score": 4}', "rubric", (4, "ok")),
        ('{"reason": "ok", "score": 4.0}', "rubric", (4, "ok")),
        ('```json\n{"reason": "ok", "score": 2}\n```', "rubric", (2, "ok")),
        ('{"reason": "r", "verdict": "PASS"}', "binary", ("pass", "r")),
        ('{"reason": "r", "winner": "b"}', "pairwise", ("B", "r")),
        ('{"reason": "r", "winner": "tie"}', "pairwise", ("tie", "r")),
    ],
)
def test_parse_valid_verdicts(content: str, kind: Any, expected: tuple[Any, str]) -> None:
    assert parse_verdict(content, kind=kind, scale=(1, 5)) == expected


@pytest.mark.parametrize(
    ("content", "kind", "error_kind"),
    [
        ("The answer deserves a 4.", "rubric", "unparsable"),
        (
            'Score: {"reason": "x", "score": 4}',
            "rubric",
            "unparsable",
        ),  # prose around JSON is not guessed at
        ('[4, "good"]', "rubric", "unparsable"),
        ('{"score": 4}', "rubric", "missing_field"),
        ('{"reason": "x"}', "rubric", "missing_field"),
        ('{"reason": "x", "score": "4"}', "rubric", "missing_field"),
        ('{"reason": "x", "score": true}', "rubric", "missing_field"),
        ('{"reason": "x", "score": 0}', "rubric", "out_of_scale"),
        ('{"reason": "x", "score": 6}', "rubric", "out_of_scale"),
        ('{"reason": "x", "score": 3.5}', "rubric", "out_of_scale"),
        ('{"reason": "x", "verdict": "maybe"}', "binary", "out_of_scale"),
        ('{"reason": "x", "winner": "C"}', "pairwise", "out_of_scale"),
    ],
)
def test_bad_verdicts_raise_with_their_kind(content: str, kind: Any, error_kind: str) -> None:
    with pytest.raises(VerdictError) as info:
        parse_verdict(content, kind=kind, scale=(1, 5))
    assert info.value.kind == error_kind


# -- rubric ----------------------------------------------------------------------------------------
def test_rubric_with_the_fake_heuristic_judge(endpoint: Endpoint) -> None:
    result = _judge(endpoint).rubric(QA, prompt="judge_helpfulness")
    by_id = result.by_id()
    assert by_id["q1"].value == 5.0 and by_id["q2"].value == 1.0
    assert result.n == 3 and result.n_errors == 0
    assert result.value == pytest.approx(sum(v.value for v in result.verdicts) / 3)  # type: ignore[misc]
    assert by_id["q1"].reason and "token F1" in by_id["q1"].reason


def test_bad_verdicts_are_error_states_never_zero_never_dropped(server: FakeOpenAIServer,
                                                                endpoint: Endpoint) -> None:
    replies = {"Paris": '{"reason": "good", "score": 5}', "Osaka": "I would give it a 2",
               "the Pacific Ocean": '{"reason": "hm", "score": 9}'}

    def responder(req: Mapping[str, Any]) -> str:
        return next(v for k, v in replies.items() if f"<answer>\n{k}\n</answer>" in _user(req))

    server.responder = responder
    with pytest.warns(
        LlasoWarning,
        match=r"2 of 3 items are in an error state \(out_of_scale=1, unparsable=1\).*q2, q3",
    ):
        result = _judge(endpoint).rubric(QA, prompt="judge_helpfulness")
    assert result.n_items == 3 and result.n == 1 and result.n_errors == 2
    assert result.value == 5.0  # the mean of the usable verdicts; errors are not scored as 0
    assert result.errors_by_kind == {"unparsable": 1, "out_of_scale": 1}
    errs = {v.id: v for v in result.errors}
    assert errs["q2"].value is None and "not JSON" in str(errs["q2"].error)
    assert "outside the declared scale 1..5" in str(errs["q3"].error)
    metric = result.to_metric_result(n_boot=0)
    assert metric.n == 1 and metric.item_ids == ("q1",)
    judge_extra = metric.extra["judge"]
    assert judge_extra["n_items"] == 3 and judge_extra["n_errors"] == 2
    assert {e["id"] for e in judge_extra["error_items"]} == {"q2", "q3"}


def test_api_failure_of_one_item_keeps_the_others(
    server: FakeOpenAIServer, endpoint: Endpoint
) -> None:
    server.reset(faults=[Fault("server_error", always=True, match="Osaka")])
    with pytest.warns(LlasoWarning, match="api_error=1"):
        result = Judge(LLMClient(endpoint(max_retries=1))).rubric(QA, prompt="judge_helpfulness")
    assert [v.id for v in result.errors] == ["q2"]
    assert result.errors[0].error_kind == "api_error"
    assert "gave up after 4 attempts in 2 passes" in str(result.errors[0].error)
    assert result.n == 2


def test_repeated_judgements_report_agreement_and_use_mean_or_majority(server: FakeOpenAIServer,
                                                                     endpoint: Endpoint) -> None:
    # a judge whose score depends on the seed: seeds 0,1,2 -> 3,4,3
    server.responder = lambda req: json.dumps(
        {"reason": f"seed {req['seed']}", "score": 3 + req["seed"] % 2}
    )
    judge = _judge(endpoint)
    mean = judge.rubric({"q1": QA["q1"]}, prompt="judge_helpfulness", k=3)
    v = mean.verdicts[0]
    assert [s.value for s in v.samples] == [3, 4, 3]
    assert v.value == pytest.approx(10 / 3) and v.agreement == pytest.approx(2 / 3)
    assert mean.agreement_summary() == {
        "k": 3,
        "mean_agreement": pytest.approx(2 / 3),
        "unanimous_rate": 0.0,
        "n": 1,
    }
    majority = judge.rubric({"q1": QA["q1"]}, prompt="judge_helpfulness", k=3, aggregate="majority")
    assert majority.verdicts[0].value == 3.0
    assert server.request_count == 6  # k=3 twice: repeat r is a distinct request (seed + r)
    with pytest.warns(LlasoWarning, match="no_majority=1"):
        tie = judge.rubric({"q1": QA["q1"]}, prompt="judge_helpfulness", k=2, aggregate="majority")
    assert tie.verdicts[0].error_kind == "no_majority" and "use an odd k" in str(
        tie.verdicts[0].error
    )


def test_requests_carry_temperature_zero_seed_and_structured_output(server: FakeOpenAIServer,
                                                                   endpoint: Endpoint) -> None:
    seen: list[Mapping[str, Any]] = []

    def responder(req: Mapping[str, Any]) -> str:
        seen.append(req)
        return '{"reason": "r", "score": 3}'

    server.responder = responder
    _judge(endpoint, seed=42).rubric({"q1": QA["q1"]}, prompt="judge_helpfulness", k=2)
    assert sorted(r["seed"] for r in seen) == [42, 43]
    assert {r["temperature"] for r in seen} == {0.0}
    fmt = seen[0]["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["schema"]["properties"]["score"]["enum"] == [1, 2, 3, 4, 5]


def test_binary_pass_rate_and_tie(server: FakeOpenAIServer, endpoint: Endpoint) -> None:
    result = _judge(endpoint).binary(QA, prompt="judge_correctness")
    assert [v.label for v in result.verdicts] == ["pass", "fail", "pass"]
    assert result.value == pytest.approx(2 / 3)
    server.responder = lambda req: json.dumps(
        {"reason": "r", "verdict": "pass" if req["seed"] % 2 else "fail"}
    )
    with pytest.warns(LlasoWarning, match="no_majority=1"):
        tie = _judge(endpoint).binary({"q1": QA["q1"]}, prompt="judge_correctness", k=2)
    assert tie.n_errors == 1 and tie.errors[0].error_kind == "no_majority"


# -- pairwise --------------------------------------------------------------------------------------
def _pairs() -> dict[str, dict[str, str]]:
    return {
        k: {
            "question": v["question"],
            "reference": v["reference"],
            "response_a": v["reference"],
            "response_b": "I do not know",
        }
        for k, v in QA.items()
    }


def test_pairwise_runs_both_orders_and_agrees_for_a_fair_judge(server: FakeOpenAIServer,
                                                              endpoint: Endpoint) -> None:
    result = _judge(endpoint).pairwise(_pairs(), prompt="judge_pairwise", labels=("good", "bad"))
    assert server.request_count == 6  # two orders per item
    assert [v.label for v in result.verdicts] == ["good", "good", "good"] and result.value == 1.0
    s = result.pairwise_summary()
    assert s is not None
    assert (s["good_wins"], s["order_disagreements"], s["order_disagreement_rate"]) == (3, 0, 0.0)
    orders = {smp.order for v in result.verdicts for smp in v.samples}
    assert orders == {"AB", "BA"}


def test_position_bias_shows_up_as_order_disagreement(
    server: FakeOpenAIServer, endpoint: Endpoint
) -> None:
    server.position_bias = "first"
    result = _judge(endpoint).pairwise(_pairs(), prompt="judge_pairwise", labels=("good", "bad"))
    s = result.pairwise_summary()
    assert s is not None
    assert [v.label for v in result.verdicts] == ["inconsistent"] * 3
    assert result.value == 0.5  # inconsistent counts as a tie ...
    assert (s["inconsistent"], s["order_disagreement_rate"], s["first_position_win_rate"]) == (
        3,
        1.0,
        1.0,
    )  # ... and is reported


def test_pairwise_labels_are_validated(endpoint: Endpoint) -> None:
    with pytest.raises(ValueError, match="two distinct system names"):
        _judge(endpoint).pairwise(_pairs(), prompt="judge_pairwise", labels=("x", "x"))


# -- signature, cache, inputs ----------------------------------------------------------------
def test_signature_names_prompt_hash_judge_and_decoding(endpoint: Endpoint, tmp_path: Path) -> None:
    judge = _judge(endpoint)
    m1 = judge.rubric(QA, prompt="judge_helpfulness").to_metric_result(n_boot=0)
    fields = m1.signature.fields
    t = load_prompt("judge_helpfulness")
    assert fields["prompt"] == "judge_helpfulness" and fields["prompt_sha256"] == t.sha256[:12]
    assert (
        fields["judge_model"] == "fake-judge" and fields["temperature"] == 0.0 and fields["k"] == 1
    )
    assert (
        fields["judge_url"] == "http://127.0.0.1:*/v1"
    )  # a local port does not change the signature
    # an edited prompt changes the signature, and the diff names the prompt hash
    edited = tmp_path / "judge_helpfulness.toml"
    shutil.copy(default_prompt_dir() / "judge_helpfulness.toml", edited)
    edited.write_text(edited.read_text().replace("strict, impartial", "lenient"))
    m2 = judge.rubric(QA, prompt=load_prompt(edited)).to_metric_result(n_boot=0)
    assert m1.signature.diff(m2.signature) == ["prompt_sha256"]
    # what was judged is named like for every other metric, and so is the token limit
    m3 = judge.rubric(QA, prompt="judge_helpfulness").to_metric_result(
        n_boot=0, signature_extra={"system": "model-b", "predictions_sha256": "abc"})
    assert m3.signature.fields["system"] == "model-b"
    assert m1.signature.diff(m3.signature) == ["predictions_sha256", "system"]
    assert fields["max_tokens"] == judge.max_tokens
    m4 = (
        Judge(judge.client, max_tokens=200)
        .rubric(QA, prompt="judge_helpfulness")
        .to_metric_result(n_boot=0)
    )
    assert "max_tokens" in m1.signature.diff(m4.signature)


def test_judge_rerun_is_served_from_cache(
    server: FakeOpenAIServer, endpoint: Endpoint, tmp_path: Path
) -> None:
    cache = tmp_path / "c.sqlite3"
    r1 = Judge(LLMClient(endpoint(), cache=ResponseCache(cache))).pairwise(
        _pairs(), prompt="judge_pairwise"
    )
    server.reset()
    r2 = Judge(LLMClient(endpoint(), cache=ResponseCache(cache))).pairwise(
        _pairs(), prompt="judge_pairwise"
    )
    assert server.request_count == 0
    assert r2.usage["api_calls"] == 0 and r2.usage["cache_hits"] == 6
    assert [v.label for v in r1.verdicts] == [v.label for v in r2.verdicts]


def test_wrong_template_kind_and_variables_are_clear_errors(endpoint: Endpoint) -> None:
    judge = _judge(endpoint)
    with pytest.raises(ValueError, match="is a 'binary' template, not 'rubric'"):
        judge.rubric(QA, prompt="judge_correctness")
    with pytest.raises(ValueError, match=r"missing \['reference'\]"):
        judge.rubric({"q": {"question": "x", "answer": "y"}}, prompt="judge_helpfulness")
    with pytest.raises(ValueError, match="k .* must be an integer >= 1"):
        judge.rubric(QA, prompt="judge_helpfulness", k=0)


def test_all_items_in_error_cannot_become_a_score(
    server: FakeOpenAIServer, endpoint: Endpoint
) -> None:
    from llaso_pytest.llm._metric import NoVerdictsError

    server.responder = lambda req: "no idea"
    with pytest.warns(LlasoWarning, match="3 of 3 items"):
        result = _judge(endpoint).rubric(QA, prompt="judge_helpfulness")
    assert result.n_errors == 3 and math.isnan(result.value)
    with pytest.raises(NoVerdictsError, match="all 3 items are in an error state"):
        result.to_metric_result()


def test_extra_params_reach_the_request_and_the_signature(
    server: FakeOpenAIServer, endpoint: Endpoint
) -> None:
    seen: list[Mapping[str, Any]] = []

    def responder(req: Mapping[str, Any]) -> str:
        seen.append(req)
        return '{"reason": "r", "score": 3}'

    server.responder = responder
    judge = Judge(
        LLMClient(endpoint()), max_tokens=None, extra_params={"max_completion_tokens": 64}
    )
    result = judge.rubric({"q1": QA["q1"]}, prompt="judge_helpfulness")
    assert seen[0]["max_completion_tokens"] == 64 and "max_tokens" not in seen[0]
    assert result.signature_fields()["extra_params"] == '{"max_completion_tokens": 64}'


def test_keys_in_extra_headers_stay_out_of_signature_and_cache(
    server: FakeOpenAIServer, endpoint: Endpoint, tmp_path: Path
) -> None:
    headers = {"api-key": "HDR_SECRET", "Authorization": "Bearer HDR_SECRET2", "X-Trace": "visible"}
    server.responder = lambda req: '{"reason": "r", "score": 3}'
    cache_path = tmp_path / "c.sqlite3"
    judge = Judge(
        LLMClient(endpoint(), cache=ResponseCache(cache_path)),
        extra_params={"extra_headers": headers},
    )
    result = judge.rubric({"q1": QA["q1"]}, prompt="judge_helpfulness")
    assert server.request_count == 1 and result.n_errors == 0
    sig = result.to_metric_result(n_boot=0).signature
    assert "HDR_SECRET" not in sig.text and "HDR_SECRET" not in json.dumps(sig.fields)
    # header values never, not even a harmless one: names only, so rotating a key changes nothing
    assert "X-Trace" in sig.text and "visible" not in sig.text
    with sqlite3.connect(cache_path) as db:
        rows = db.execute("SELECT request FROM responses").fetchall()
    assert rows and not any("HDR_SECRET" in str(r) for r in rows)


def test_a_judged_result_keeps_each_items_reason_and_texts_bounded_by_the_mode(
    server: FakeOpenAIServer, endpoint: Endpoint
) -> None:
    long_reason = "because " + "r" * 400

    def responder(req: Mapping[str, Any]) -> str:
        reason = long_reason if "<answer>\nOsaka\n</answer>" in _user(req) else "fine"
        return json.dumps({"reason": reason, "score": 4})

    server.responder = responder
    result = _judge(endpoint).rubric(QA, prompt="judge_helpfulness").to_metric_result(n_boot=0)
    texts = result.texts
    assert texts is not None and texts.view == "judge"
    by_id = {i: k for k, i in enumerate(result.item_ids)}
    answers = {k: v["answer"] for k, v in QA.items()}
    for item, k in by_id.items():
        assert texts.get("hyp", k) == answers[item]
        assert texts.get("ref", k) == QA[item]["reference"]
    osaka = next(i for i, a in answers.items() if a == "Osaka")
    assert texts.get("reason", by_id[osaka]) == long_reason
    kept = result.to_record()["items"]["texts"]["columns"]["reason"][by_id[osaka]]
    assert kept == long_reason[:200] + "…"
    bare = json.dumps(result.to_record(item_text="none"))
    assert "because" not in bare and "fine" not in bare  # no reason outside the texts
