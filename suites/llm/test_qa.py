"""Extractive question answering: exact match and token F1 (SQuAD-style normalisation)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from llaso_pytest import metrics

pytestmark = pytest.mark.llm

Outputs = Any  # suites/llm/conftest.py


@pytest.mark.parametrize(("system", "floor"), [("model-a", 0.6), ("model-b", 0.1)])
def test_exact_match(
    outputs: Callable[[str, str], Outputs],
    record_metric: Callable[..., Any],
    llaso_seed: int,
    system: str,
    floor: float,
) -> None:
    out = outputs("qa", system)
    result = metrics.exact_match(
        out.dataset.column("answers"),
        out.predictions,
        ids=out.ids,
        seed=llaso_seed,
        signature_extra=out.signature_extra,
    )
    record_metric(result)
    assert result.value >= floor


@pytest.mark.parametrize(("system", "floor"), [("model-a", 0.8), ("model-b", 0.4)])
def test_token_f1(
    outputs: Callable[[str, str], Outputs],
    record_metric: Callable[..., Any],
    llaso_seed: int,
    system: str,
    floor: float,
) -> None:
    out = outputs("qa", system)
    result = metrics.token_f1(
        out.dataset.column("answers"),
        out.predictions,
        ids=out.ids,
        seed=llaso_seed,
        signature_extra=out.signature_extra,
    )
    record_metric(result)
    assert result.value >= floor
