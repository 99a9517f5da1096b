"""Translation Japanese -> English: BLEU (13a) and chrF, with sacrebleu's definitions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from llaso_pytest import metrics

pytestmark = pytest.mark.llm

Outputs = Any  # suites/llm/conftest.py


def test_bleu(
    outputs: Callable[[str, str], Outputs], record_metric: Callable[..., Any], llaso_seed: int
) -> None:
    out = outputs("translation-ja-en", "model-a")
    result = metrics.bleu(
        out.dataset.column("reference"),
        out.predictions,
        ids=out.ids,
        seed=llaso_seed,
        signature_extra=out.signature_extra,
    )
    record_metric(result)
    assert result.value >= 30.0


def test_chrf(
    outputs: Callable[[str, str], Outputs], record_metric: Callable[..., Any], llaso_seed: int
) -> None:
    out = outputs("translation-ja-en", "model-a")
    result = metrics.chrf(
        out.dataset.column("reference"),
        out.predictions,
        ids=out.ids,
        seed=llaso_seed,
        signature_extra=out.signature_extra,
    )
    record_metric(result)
    assert result.value >= 50.0
