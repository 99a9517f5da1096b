"""Judge reliability (assessed, recorded, shown, never gating) and generation timing metrics.

No model here: the judges are the shipped fake server (heuristic, and with a forced position
bias), the timings are built CallOutcomes and numbers checked against NumPy.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llaso_pytest.compare import compare_records
from llaso_pytest.errors import LlasoWarning
from llaso_pytest.llm.calibration import Agreement, agreement, labels_sha256, load_human_labels
from llaso_pytest.llm.client import CallOutcome, ChatRequest, LLMClient
from llaso_pytest.llm.config import EndpointConfig
from llaso_pytest.llm.fake_server import FakeOpenAIServer
from llaso_pytest.llm.judge import Judge
from llaso_pytest.llm.predictions import (
    export_predictions,
    load_dataset,
    load_manifest,
    load_predictions,
)
from llaso_pytest.llm.prompts import default_prompt_dir
from llaso_pytest.llm.reliability import Requirement, assess, check, mark, state_of
from llaso_pytest.llm.timing import TimingError, generation_metrics, quantile_result
from llaso_pytest.metrics import from_values
from llaso_pytest.report import render

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "compare"))
from compare_testutil import record  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
QA = ROOT / "fixtures" / "llm" / "qa"
PROMPTS = str(default_prompt_dir())


def _agreement(kappa: float, n: int = 20, errors: tuple[str, ...] = ()) -> Agreement:
    return Agreement(n=n, accuracy=0.5, kappa=kappa, weighted_kappa=None, labels=("fail", "pass"),
                     confusion=((5, 5), (5, 5)), unlabelled=(), judge_errors=errors)


@pytest.mark.parametrize(("kappa", "state"), [(0.05, "unreliable"), (0.39, "unreliable"),
                                              (0.4, "reliable"), (0.8, "reliable"),
                                              (math.nan, "unreliable")])
def test_assess_against_min_kappa(kappa: float, state: str) -> None:
    rel = assess(Requirement(min_kappa=0.4), agreement=_agreement(kappa), labels_sha256="a" * 64)
    assert rel.state == state
    assert bool(rel.reasons) == (state == "unreliable")
    assert rel.measured["labels_sha256"] == "a" * 64


def test_judge_errors_on_labelled_items_make_it_unreliable() -> None:
    rel = assess(Requirement(min_kappa=0.4), agreement=_agreement(0.9, errors=("q1",)),
                 labels_sha256="b" * 64)
    assert rel.state == "unreliable" and "1 labelled items got no verdict" in rel.reasons[0]


def _judge(server: FakeOpenAIServer) -> Judge:
    ep = EndpointConfig(role="judge", base_url=server.base_url, model="fake-judge",
                        timeout=5.0)
    return Judge(LLMClient(ep), seed=0, prompt_dir=PROMPTS)


def _calibration_items() -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    ds = load_dataset(QA)
    pinned = load_predictions(load_manifest(QA), "model-b", ids=ds.ids)
    items = {str(r["id"]): {"question": r["question"], "answer": pinned.by_id[str(r["id"])],
                            "reference": r["answers"][0]} for r in ds.rows}
    return items, load_human_labels(QA / "human_labels.model-b.csv", allowed=["pass", "fail"])


def test_shipped_fake_judge_passes_its_calibration_and_gates() -> None:
    items, human = _calibration_items()
    with FakeOpenAIServer() as server:
        judge = _judge(server)
        result = judge.binary(items, prompt="judge_correctness")
        ag = agreement(result, human)
        rel = assess(Requirement(min_kappa=0.2), agreement=ag, labels_sha256=labels_sha256(human))
        assert rel.reliable, rel.reasons
        metric = mark(result.to_metric_result(seed=0), rel)
    assert state_of(metric) == "reliable" and state_of(metric.to_record()) == "reliable"
    assert metric.signature.fields["min_kappa"] == 0.2
    # reliable: the bar is applied, and failing it fails
    with pytest.raises(AssertionError, match="too low"):
        check(metric, lambda v: v > 2.0, "too low")
    assert check(metric, lambda v: v >= 0.0, "never") is True


def test_position_biased_judge_is_flagged_by_order_disagreement() -> None:
    """A judge that always answers "A" disagrees with itself whenever the order is swapped."""
    ds = load_dataset(QA)
    a = load_predictions(load_manifest(QA), "model-a", ids=ds.ids)
    b = load_predictions(load_manifest(QA), "model-b", ids=ds.ids)
    items = {i: {"question": r["question"], "reference": r["answers"][0],
                 "response_a": a.by_id[i], "response_b": b.by_id[i]}
             for i, r in zip(ds.ids, ds.rows, strict=True)}
    req = Requirement(max_order_disagreement=0.2)
    with FakeOpenAIServer(position_bias="first") as server:
        biased = _judge(server).pairwise(items, prompt="judge_pairwise",
                                         labels=("model-a", "model-b"))
    rel = assess(req, pairwise=biased.pairwise_summary())
    assert rel.state == "unreliable"
    assert rel.measured["order_disagreement"] == 1.0
    assert rel.measured["first_position_win_rate"] == 1.0
    with FakeOpenAIServer() as server:
        fair = _judge(server).pairwise(items, prompt="judge_pairwise",
                                       labels=("model-a", "model-b"))
    assert assess(req, pairwise=fair.pairwise_summary()).reliable


def _unreliable(metric_name: str = "helpfulness", values: tuple[float, ...] = (4.0,) * 20):
    m = from_values(metric_name, items={f"q{i}": v for i, v in enumerate(values)}, seed=0)
    rel = assess(Requirement(min_kappa=0.4), agreement=_agreement(0.02), labels_sha256="c" * 64)
    return mark(m, rel)


def test_unreliable_metric_is_not_gated_but_warned_and_kept() -> None:
    metric = _unreliable(values=(1.0,) * 20)
    with pytest.warns(LlasoWarning, match="unreliable .*kappa 0.020.*not gated"):
        assert check(metric, lambda v: v >= 3.0, "would fail") is False
    rec = metric.to_record()
    assert rec["extra"]["reliability"]["state"] == "unreliable"
    assert rec["value"] == 1.0 and rec["n"] == 20  # recorded with its numbers, not dropped


def _pair_records(head_unreliable: bool) -> tuple[dict, dict]:
    rng = np.random.default_rng(3)
    base_vals = rng.integers(3, 6, size=40).astype(float)
    head_vals = np.clip(base_vals - 2, 1, 5)  # a large, significant drop
    ids = [f"q{i}" for i in range(40)]
    rel_ok = assess(Requirement(min_kappa=0.4), agreement=_agreement(0.7), labels_sha256="c" * 64)
    rel_bad = assess(Requirement(min_kappa=0.4), agreement=_agreement(0.02),
                     labels_sha256="c" * 64)
    base = mark(from_values("helpfulness", items=dict(zip(ids, base_vals, strict=True)), seed=0),
                rel_ok)
    head = mark(from_values("helpfulness", items=dict(zip(ids, head_vals, strict=True)), seed=0),
                rel_bad if head_unreliable else rel_ok)
    node = "suites/llm/test_live.py::test_live_helpfulness"
    return (record({node: [base.to_record()]}, run_id="base"),
            record({node: [head.to_record()]}, run_id="head"))


def test_compare_reliable_judge_regression_gates() -> None:
    base, head = _pair_records(head_unreliable=False)
    c = compare_records(base, head)
    (m,) = c.metrics
    assert m.verdict == "regressed"
    assert c.gate().kind == "regressed"


def test_compare_unreliable_judge_is_shown_in_every_format_and_never_gates() -> None:
    base, head = _pair_records(head_unreliable=True)
    c = compare_records(base, head)
    (m,) = c.metrics
    assert m.verdict == "unreliable"
    assert m.unreliable_reason is not None and "kappa 0.020" in m.unreliable_reason
    assert m.delta is not None and m.delta < 0  # the numbers stay, for display
    assert c.gate().kind == "pass" and c.gate(fail_on_untested=("*",)).kind == "pass"
    assert c.counts()["unreliable"] == 1
    for fmt in ("text", "md", "html", "json"):
        text = render(c, fmt)
        assert "unreliable" in text, fmt
    data = json.loads(render(c, "json"))
    assert data["metrics"][0]["verdict"] == "unreliable"


def test_run_summary_marks_unreliable_results() -> None:
    from llaso_pytest.record import parse_record
    from llaso_pytest.report.summary import render_results

    rec = record({"t.py::test_h": [_unreliable().to_record()]})
    lines = render_results(parse_record(rec, source="rec"))
    assert any("UNRELIABLE (not gating)" in line for line in lines)


# -- timing ---------------------------------------------------------------------------------

durations = st.lists(st.floats(0.001, 50.0, allow_nan=False), min_size=5, max_size=40)


@settings(max_examples=40, deadline=None)
@given(values=durations, q=st.sampled_from([0.5, 0.9, 0.95]), seed=st.integers(0, 2**31))
def test_quantile_matches_numpy_and_its_bootstrap(values: list[float], q: float,
                                                  seed: int) -> None:
    items = {f"i{k}": v for k, v in enumerate(values)}
    r = quantile_result("latency_s_p", items, q=q, seed=seed, n_boot=200)
    x = np.array(values)
    assert r.value == pytest.approx(np.percentile(x, 100 * q))
    rng = np.random.default_rng(seed)
    draws = np.percentile(x[rng.integers(0, len(x), size=(200, len(x)))], 100 * q, axis=1)
    assert r.ci == pytest.approx(tuple(np.percentile(draws, [2.5, 97.5])))
    assert r.ci is not None and min(x) <= r.ci[0] <= r.ci[1] <= max(x)
    assert r.aggregate == f"quantile(q={q:g})" and not r.higher_is_better


def test_quantile_below_five_items_has_no_interval_and_says_so() -> None:
    with pytest.warns(LlasoWarning, match="only 4 items"):
        r = quantile_result("latency_s_p95", {f"i{k}": k + 1.0 for k in range(4)}, q=0.95,
                            seed=0)
    assert r.ci is None and r.value == pytest.approx(np.percentile([1, 2, 3, 4], 95))


def _outcome(i: int, latency: float, ttft: float | None, tokens: int,
             cached: bool = False) -> CallOutcome:
    return CallOutcome(f"q{i}", "text", "stop", 10, tokens, cached=cached, attempts=1,
                       latency_s=None if cached else latency, ttft_s=ttft)


PLACEMENT = {"backend": "transformers-gguf", "device": "cpu", "device_name": "cpu-x",
             "dtype": "float32", "threads": 2, "batch_size": 1, "concurrency": 1}


@settings(max_examples=25, deadline=None)
@given(lat=st.lists(st.floats(0.05, 10.0), min_size=5, max_size=20),
       toks=st.data())
def test_generation_metrics_against_numpy(lat: list[float], toks: st.DataObject) -> None:
    tokens = toks.draw(st.lists(st.integers(1, 200), min_size=len(lat), max_size=len(lat)))
    outs = [_outcome(i, v, v / 3, t) for i, (v, t) in enumerate(zip(lat, tokens, strict=True))]
    got = {r.name: r for r in generation_metrics(outs, placement=PLACEMENT, seed=1)}
    assert got["latency_s"].value == pytest.approx(np.mean(lat))
    assert got["latency_s_p95"].value == pytest.approx(np.percentile(lat, 95))
    assert got["ttft_s_p50"].value == pytest.approx(np.percentile(np.array(lat) / 3, 50))
    assert got["tokens_per_s"].value == pytest.approx(sum(tokens) / sum(lat))
    for r in got.values():  # timings from other hardware never compare as like for like
        for key in ("device", "threads", "backend", "concurrency", "batch_size", "cpu_model"):
            assert key in r.signature.fields, (r.name, key)


def test_generation_metrics_refuse_untimed_outcomes() -> None:
    outs = [_outcome(0, 1.0, 0.1, 5), _outcome(1, 1.0, 0.1, 5, cached=True)]
    with pytest.raises(TimingError, match=r"cache hits or failed calls\): \['q1'\]"):
        generation_metrics(outs, placement=PLACEMENT, seed=0)
    no_ttft = [_outcome(0, 1.0, 0.1, 5), _outcome(1, 1.0, None, 5)]
    with pytest.raises(TimingError, match="no time to first token"):
        generation_metrics(no_ttft, placement=PLACEMENT, seed=0)
    unstreamed = generation_metrics([_outcome(i, 1.0 + i, None, 5) for i in range(5)],
                                    placement=PLACEMENT, seed=0)
    assert not any(r.name.startswith("ttft") for r in unstreamed)


def test_client_records_latency_and_streamed_ttft() -> None:
    """The real openai client consumes the server's server-sent events; the assembled reply
    equals the non-streamed one, with its usage, and TTFT <= latency."""
    msg = ({"role": "user", "content": "<document>One two three. Four.</document>"},)
    with FakeOpenAIServer(latency=0.05) as server:
        ep = EndpointConfig(role="llm", base_url=server.base_url, model="m", timeout=5.0)
        with LLMClient(ep) as client:
            plain, streamed = client.complete([ChatRequest("a", msg, {"max_tokens": 50}),
                                               ChatRequest("b", msg, {"max_tokens": 50,
                                                                      "stream": True})])
            cut = client.complete([ChatRequest("c", msg, {"max_tokens": 2, "stream": True})])[0]
    assert streamed.content == plain.content == "One two three."
    assert (streamed.prompt_tokens, streamed.completion_tokens) == (
        plain.prompt_tokens, plain.completion_tokens)
    assert plain.latency_s is not None and plain.latency_s >= 0.05 and plain.ttft_s is None
    assert streamed.ttft_s is not None and streamed.latency_s is not None
    assert 0.05 <= streamed.ttft_s <= streamed.latency_s
    assert cut.finish_reason == "length" and cut.content == "One two"


def test_export_predictions_round_trip(tmp_path: Path) -> None:
    ds = load_dataset(QA)
    preds = {i: f"answer {i}" for i in ds.ids}
    manifest = export_predictions(QA, "local-x", preds, tmp_path / "qa", meta={"model": "x"})
    back = load_predictions(manifest, "local-x", ids=ds.ids)
    assert back.by_id == preds and back.meta["model"] == "x"
    assert load_dataset(manifest).sha256 == ds.sha256
    with pytest.raises(ValueError, match="ids without a prediction"):
        export_predictions(QA, "local-x", {ds.ids[0]: "only one"}, tmp_path / "bad")
