"""Extractive QA, one test per case: each question passes or fails on its own, and the
corpus exact match comes out with its interval under ``test_cases.py::test_answer[...]``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from llaso_pytest import cases, metrics
from llaso_pytest.llm.predictions import load_manifest, load_predictions

pytestmark = pytest.mark.llm

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "llm"
QA = cases.load(FIXTURES / "qa" / "data.jsonl")
MANIFEST = load_manifest(FIXTURES / "qa")
if QA.sha256 != MANIFEST.data_sha256:  # the same pin the shipped manifest holds
    raise cases.CasesError(f"{QA.path}: sha256 {QA.sha256} is not the pin {MANIFEST.data_sha256} "
                           f"of {MANIFEST.path}; restore the file or re-pin it")
PINNED = {system: load_predictions(MANIFEST, system, ids=QA.ids)
          for system in ("model-a", "model-b")}
PREDICTIONS = {system: p.by_id for system, p in PINNED.items()}
# cases each system gets wrong today: an expected failure that starts passing is reported
KNOWN_WRONG = {
    system: {c.id for c in QA
             if metrics.exact_match([c["answers"]], [PREDICTIONS[system][c.id]],
                                    n_boot=0).value < 1.0}
    for system in PREDICTIONS}


@pytest.mark.parametrize("system", ["model-a", "model-b"])
@pytest.mark.parametrize("case", QA)
def test_answer(case: cases.Case, system: str, record_case: Callable[..., Any],
                llaso_seed: int, request: pytest.FixtureRequest) -> None:
    if case.id in KNOWN_WRONG[system]:
        request.applymarker(pytest.mark.xfail(reason=f"{system} answers {case.id} wrongly",
                                              strict=True))
    result = record_case(metrics.exact_match(
        [case["answers"]], [PREDICTIONS[system][case.id]], ids=[case.id], seed=llaso_seed,
        signature_extra={"data": QA.name, "data_sha256": QA.sha256[:12], "system": system,
                         "predictions_sha256": PINNED[system].sha256[:12]}))
    assert result.value == 1.0, (f"{case.id}: {PREDICTIONS[system][case.id]!r} is not one of "
                                 f"{case['answers']!r}")
