"""Judged evaluations: helpfulness and correctness of QA answers, faithfulness of summaries
(English and Japanese), pairwise preference with position swapping, and the judge's agreement
with human labels.

By default the judge is the shipped fake server (heuristic verdicts, offline); set
LLASO_JUDGE_BASE_URL and LLASO_JUDGE_MODEL to grade with a real model. Every judged item that
ends in an error state (unparsable or out-of-scale verdict, failed call) is listed in the run
record, and the tests fail when more than 5% of items are in error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from llaso_pytest.llm.calibration import (
    agreement,
    calibration_signature,
    labels_sha256,
    load_human_labels,
)
from llaso_pytest.llm.judge import Judge, JudgeResult
from llaso_pytest.llm.predictions import load_manifest, load_predictions, sha256_file
from llaso_pytest.llm.reliability import Reliability, Requirement, assess, check, mark
from llaso_pytest.metrics import from_values

Outputs = Any  # suites/llm/conftest.py: Outputs (dataset, system, predictions, signature_extra)

pytestmark = [pytest.mark.llm, pytest.mark.judge]

MAX_ERROR_RATE = 0.05


def _check_errors(result: JudgeResult) -> None:
    """Errors are shown, and too many fail the test (they are never scored as 0 or dropped)."""
    if result.error_rate > MAX_ERROR_RATE:
        lines = "\n".join(f"  {v.id}: [{v.error_kind}] {v.error}" for v in result.errors[:10])
        pytest.fail(
            f"{result.name}: {result.n_errors} of {result.n_items} judged items are in an "
            "error state "
            f"({result.errors_by_kind}), above {MAX_ERROR_RATE:.0%}:\n{lines}",
            pytrace=False,
        )


def _record_costs(record_metric: Callable[..., Any], result: JudgeResult, seed: int,
                  signature_extra: dict[str, Any] | None) -> None:
    """Per-item cost and latency of the judge calls, as metrics, when the judge endpoint has
    prices (LLASO_JUDGE_PRICE_IN/_OUT); nothing is recorded without them."""
    for metric in result.cost_metrics(seed=seed, signature_extra=signature_extra):
        record_metric(metric)


def _qa_items(out: Outputs) -> dict[str, dict[str, str]]:
    return {str(r["id"]): {"question": r["question"], "answer": p, "reference": r["answers"][0]}
            for r, p in zip(out.dataset.rows, out.predictions, strict=True)}


@pytest.fixture(scope="session")
def judge_reliability(judge: Judge, prompt: Callable[..., Any],
                      qa_calibration_set: tuple[Any, dict[str, str]]) -> Reliability:
    """The judge against the human labels of qa/model-b, as the helpfulness metric requires
    (Cohen's kappa >= 0.2, "fair"): the shipped fake judge reaches about 0.3."""
    items, human = qa_calibration_set
    result = judge.binary(items, prompt=prompt("judge_correctness"), name="judge_vs_human")
    return assess(Requirement(min_kappa=0.2), agreement=agreement(result, human),
                  labels_sha256=labels_sha256(human), judge=dict(result.judge))


@pytest.mark.parametrize(("system", "floor"), [("model-a", 4.0), ("model-b", 2.0)])
def test_qa_helpfulness_rubric(
    judge: Judge,
    judge_reliability: Reliability,
    outputs: Callable[[str, str], Outputs],
    prompt: Callable[..., Any],
    record_metric: Callable[..., Any],
    llaso_seed: int,
    system: str,
    floor: float,
) -> None:
    out = outputs("qa", system)
    result = judge.rubric(_qa_items(out), prompt=prompt("judge_helpfulness"), name="helpfulness")
    metric = mark(result.to_metric_result(seed=llaso_seed, signature_extra=out.signature_extra),
                  judge_reliability)
    record_metric(metric)
    _record_costs(record_metric, result, llaso_seed, out.signature_extra)
    _check_errors(result)
    # gated only when the judge met its calibration bar; otherwise recorded as unreliable
    check(metric, lambda v: v >= floor,
          f"mean helpfulness {metric.value:.2f} of {system} is below {floor}")


def test_qa_correctness_binary(
    judge: Judge,
    outputs: Callable[[str, str], Outputs],
    prompt: Callable[..., Any],
    record_metric: Callable[..., Any],
    llaso_seed: int,
) -> None:
    out = outputs("qa", "model-a")
    result = judge.binary(_qa_items(out), prompt=prompt("judge_correctness"), name="correct_rate")
    record_metric(result.to_metric_result(seed=llaso_seed, signature_extra=out.signature_extra))
    _record_costs(record_metric, result, llaso_seed, out.signature_extra)
    _check_errors(result)
    assert result.value >= 0.7


@pytest.mark.parametrize("name", ["summarization-en", "summarization-ja"])
def test_summary_faithfulness_rubric(judge: Judge, outputs: Callable[[str, str], Outputs],
                                     prompt: Callable[..., Any], record_metric: Callable[..., Any],
                                     llaso_seed: int, name: str) -> None:
    out = outputs(name, "lead-1")
    items = {str(r["id"]): {"context": r["document"], "answer": p}
             for r, p in zip(out.dataset.rows, out.predictions, strict=True)}
    result = judge.rubric(items, prompt=prompt("judge_faithfulness"), name="faithfulness")
    record_metric(result.to_metric_result(seed=llaso_seed, signature_extra=out.signature_extra))
    _record_costs(record_metric, result, llaso_seed, out.signature_extra)
    _check_errors(result)
    assert result.value >= 3.0  # a lead sentence is copied from the document: it should be faithful


def test_qa_pairwise_preference_in_both_orders(
    judge: Judge,
    outputs: Callable[[str, str], Outputs],
    prompt: Callable[..., Any],
    record_metric: Callable[..., Any],
    qa_systems: tuple[Outputs, Outputs],
    llaso_seed: int,
) -> None:
    first, second = qa_systems
    items = {
        str(r["id"]): {
            "question": r["question"],
            "reference": r["answers"][0],
            "response_a": a,
            "response_b": b,
        }
        for r, a, b in zip(first.dataset.rows, first.predictions, second.predictions, strict=True)
    }
    result = judge.pairwise(
        items,
        prompt=prompt("judge_pairwise"),
        labels=(first.system, second.system),
        name="win_rate",
    )
    # both systems' data, names and prediction hashes: a changed side makes the diff incomparable
    sides = {
        f"{side}_{k}": v
        for side, o in (("a", first), ("b", second))
        for k, v in o.signature_extra.items()
    }
    record_metric(result.to_metric_result(seed=llaso_seed, signature_extra=sides))
    _record_costs(record_metric, result, llaso_seed, sides)
    summary = result.pairwise_summary()
    assert summary is not None
    # position consistency is a number in the record, so a baseline diff shows it moving
    record_metric(
        "order_disagreement",
        items={v.id: float(v.label == "inconsistent") for v in result.ok},
        higher_is_better=False,
    )
    _check_errors(result)
    assert summary["order_pairs"] == result.n * result.k  # every item was judged in both orders


def test_judge_agreement_with_human_labels(
    judge: Judge,
    prompt: Callable[..., Any],
    record_metric: Callable[..., Any],
    record_provenance: Callable[..., Any],
    dataset: Callable[..., Any],
    llm_fixtures: Any,
    llaso_seed: int,
) -> None:
    """Calibration: how far the judge's pass/fail agrees with a human rater on pinned answers."""
    ds = dataset("qa")
    pinned = load_predictions(load_manifest(llm_fixtures / "qa"), "model-b", ids=ds.ids)
    items = {str(r["id"]): {"question": r["question"], "answer": pinned.by_id[str(r["id"])],
                            "reference": r["answers"][0]} for r in ds.rows}
    labels_path = llm_fixtures / "qa" / "human_labels.model-b.csv"
    human = load_human_labels(labels_path, allowed=["pass", "fail"])
    result = judge.binary(items, prompt=prompt("judge_correctness"), name="judge_vs_human")
    _check_errors(result)
    ag = agreement(result, human)
    record_provenance(
        "human_labels",
        {
            "qa/model-b": {
                "path": "fixtures/llm/qa/human_labels.model-b.csv",
                "sha256": sha256_file(labels_path),
                "n": len(human),
            }
        },
    )
    # the labels, the rated predictions, the data and the judge served name what these numbers mean:
    # relabelling items or a swapped judge snapshot makes them incomparable, never "unchanged"
    sig = calibration_signature(
        result, human, predictions_sha256=pinned.sha256, data_sha256=ds.sha256
    )
    record_metric(
        from_values(
            "judge_human_accuracy",
            items={
                i: float(result.by_id()[i].label == human[i]) for i in human if result.by_id()[i].ok
            },
            higher_is_better=True,
            seed=llaso_seed,
            signature_extra=sig,
        )
    )
    # the confusion matrix (rows human, columns judge) goes with it: llaso report draws it
    record_metric(from_values("judge_human_kappa", ag.kappa, higher_is_better=True, seed=llaso_seed,
                              signature_extra=sig, extra={"agreement": ag.to_dict()}))
    assert ag.n == len(human)
    # above 0.2 is at least "fair" agreement (Landis & Koch); the shipped heuristic fake judge
    # reaches about 0.3 on these labels, a real judge should do far better - raise the bar for
    # your own judge.
    assert ag.kappa > 0.2, (
        f"judge agrees with the human labels only at kappa {ag.kappa:.2f}: {ag.to_dict()}"
    )
