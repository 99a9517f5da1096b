"""Issue 10 item 5: the judge actually served and the human labels are in the signatures, so a
swapped judge snapshot or relabelled items read ``incomparable`` (naming the field), never as a
change of the system under test or as "unchanged"."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from llaso_pytest.compare import compare_records
from llaso_pytest.llm.calibration import agreement, calibration_signature
from llaso_pytest.llm.client import LLMClient
from llaso_pytest.llm.config import EndpointConfig
from llaso_pytest.llm.fake_server import FakeOpenAIServer
from llaso_pytest.llm.judge import Judge
from llaso_pytest.metrics import from_values

ITEMS = {
    f"q{i}": {
        "question": f"What is {i}?",
        "answer": f"{i}" if i % 3 else "no idea",
        "reference": f"{i}",
    }
    for i in range(20)
}
NODE = "suites/llm/test_judged.py::test_x"


def _record(results: list[dict[str, Any]], run_id: str) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "kind": "llaso-run-record",
        "run_id": run_id,
        "complete": True,
        "interrupted_by": None,
        "started_at": "2026-12-01T00:00:00.000+00:00",
        "finished_at": "2026-12-01T00:01:00.000+00:00",
        "exit_status": 0,
        "summary": {"passed": 1},
        "provenance": {"git": {"commit": "abc", "dirty": False}, "seed": 0},
        "tests": [
            {
                "nodeid": NODE,
                "markers": [],
                "outcome": "passed",
                "duration": 0.1,
                "results": results,
                "longrepr": None,
            }
        ],
    }


def _judged(server: FakeOpenAIServer) -> dict[str, Any]:
    ep = EndpointConfig(role="judge", base_url=server.base_url, model="judge-alias", timeout=5.0)
    with LLMClient(ep) as client:
        result = Judge(client).rubric(ITEMS, prompt="judge_helpfulness", name="helpfulness")
    return dict(result.to_metric_result(n_boot=200).to_record())


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"system_fingerprint": "fp_new_snapshot"}, "judge_fingerprint"),
        ({"served_model": "judge-2026-12-01"}, "judge_served_model"),
    ],
)
def test_a_new_judge_snapshot_behind_the_alias_is_incomparable(
    change: Mapping[str, str], field: str
) -> None:
    with (
        FakeOpenAIServer(served_model="judge-2026-11-01") as old,
        FakeOpenAIServer(**{"served_model": "judge-2026-11-01", **change}) as new,
    ):  # type: ignore[arg-type]
        base, head = _judged(old), _judged(new)
    assert base["extra"]["judge"]["judge"]["served_model"] == "judge-2026-11-01"
    assert base["value"] == head["value"]  # same verdicts: only the judge's identity changed
    (diff,) = compare_records(_record([base], "base"), _record([head], "head")).metrics
    assert diff.verdict == "incomparable"
    assert [d.field for d in diff.signature_diffs] == [field]


def _calibration(human: Mapping[str, str], server: FakeOpenAIServer) -> list[dict[str, Any]]:
    ep = EndpointConfig(role="judge", base_url=server.base_url, model="fake-judge", timeout=5.0)
    with LLMClient(ep) as client:
        result = Judge(client).binary(ITEMS, prompt="judge_correctness", name="judge_vs_human")
    ag = agreement(result, human)
    sig = calibration_signature(result, human, predictions_sha256="p" * 64, data_sha256="d" * 64)
    acc = from_values(
        "judge_human_accuracy",
        higher_is_better=True,
        n_boot=200,
        signature_extra=sig,
        items={i: float(result.by_id()[i].label == human[i]) for i in human},
    )
    kappa = from_values("judge_human_kappa", ag.kappa, higher_is_better=True, signature_extra=sig)
    return [dict(acc.to_record()), dict(kappa.to_record())]


def test_relabelling_human_labels_makes_calibration_metrics_incomparable(
    server: FakeOpenAIServer,
) -> None:
    human = {i: ("pass" if int(i[1:]) % 3 else "fail") for i in ITEMS}
    relabelled = dict(human)
    for i in list(ITEMS)[:12]:  # 12 of 20 labels flipped
        relabelled[i] = "fail" if human[i] == "pass" else "pass"
    base, head = _calibration(human, server), _calibration(relabelled, server)
    diffs = compare_records(_record(base, "base"), _record(head, "head")).metrics
    assert {d.name: d.verdict for d in diffs} == {
        "judge_human_accuracy": "incomparable",
        "judge_human_kappa": "incomparable",
    }
    assert all([s.field for s in d.signature_diffs] == ["labels_sha256"] for d in diffs)
    # the same labels again: comparable, no difference
    again = compare_records(
        _record(base, "base"), _record(_calibration(human, server), "again")
    ).metrics
    assert {d.verdict for d in again} <= {"unchanged", "untested"}


def test_the_served_judge_reaches_the_signature_text(
    server: FakeOpenAIServer, endpoint: Callable[..., EndpointConfig]
) -> None:
    with LLMClient(endpoint()) as client:
        result = Judge(client).rubric({"q1": ITEMS["q1"]}, prompt="judge_helpfulness")
    sig = result.to_metric_result(n_boot=0).signature
    assert (
        "judge_served_model:fake-judge" in sig.text
        and "judge_fingerprint:fp_llaso_fake" in sig.text
    )
