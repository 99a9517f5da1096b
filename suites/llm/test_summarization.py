"""Summarisation: ROUGE-1/2/L on English, and character-level ROUGE on Japanese.

``rouge_score`` drops every character outside [a-z0-9], so it scores Japanese as empty;
``metrics.rouge(tokenizer="char")`` scores Japanese per character, and the tokenizer is part of
the signature.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from llaso_pytest import metrics

pytestmark = pytest.mark.llm

Outputs = Any  # suites/llm/conftest.py


@pytest.mark.parametrize(("variant", "floor"), [("rouge1", 0.35), ("rouge2", 0.1), ("rougeL", 0.3)])
def test_rouge_english(outputs: Callable[[str, str], Outputs], record_metric: Callable[..., Any],
                       llaso_seed: int, variant: str, floor: float) -> None:
    out = outputs("summarization-en", "lead-1")
    result = metrics.rouge(
        out.dataset.column("summary"),
        out.predictions,
        ids=out.ids,
        variant=variant,
        seed=llaso_seed,
        signature_extra=out.signature_extra,
    )
    record_metric(result)
    assert result.value >= floor


@pytest.mark.parametrize(("variant", "floor"), [("rouge1", 0.4), ("rouge2", 0.2), ("rougeL", 0.3)])
def test_rouge_japanese_characters(
    outputs: Callable[[str, str], Outputs],
    record_metric: Callable[..., Any],
    llaso_seed: int,
    variant: str,
    floor: float,
) -> None:
    out = outputs("summarization-ja", "lead-1")
    result = metrics.rouge(
        out.dataset.column("summary"),
        out.predictions,
        ids=out.ids,
        variant=variant,
        tokenizer="char",
        seed=llaso_seed,
        signature_extra=out.signature_extra,
    )
    record_metric(result)
    assert result.signature.fields["tokenizer"] == "char"
    assert result.value >= floor
