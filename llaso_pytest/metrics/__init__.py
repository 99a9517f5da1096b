"""Metrics with per-item sufficient statistics, bootstrap intervals and signatures.

``from llaso_pytest import metrics`` then ``metrics.wer(refs, hyps)``. Every metric takes
``(references, hypotheses, *, ids=None, groups=None, confidence=0.95, n_boot=1000, seed=0,
signature_extra=None, <own options>)`` and returns a :class:`MetricResult`.

Importing is cheap: the reference libraries (jiwer/rapidfuzz, sacrebleu, rouge_score,
evaluate, whisper_normalizer) load inside the functions that need them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from llaso_pytest.metrics.base import (
    MetricResult,
    Signature,
    aggregate,
    from_values,
)
from llaso_pytest.metrics.qa import exact_match, regex_match, token_f1
from llaso_pytest.metrics.rouge import rouge, rouge_all  # bind the function over the module
from llaso_pytest.metrics.speech import cer, mer, wer, wil
from llaso_pytest.metrics.text import bleu, chrf, ter

if TYPE_CHECKING:  # pragma: no cover
    from llaso_pytest.metrics.breakdown import error_breakdown
    from llaso_pytest.metrics.hf import hf_metric
    from llaso_pytest.metrics.leakage import leakage, rescore_clean
    from llaso_pytest.metrics.normalize import Normalizer, get_normalizer

_LAZY: dict[str, str] = {
    "error_breakdown": "breakdown",
    "hf_metric": "hf",
    "leakage": "leakage",
    "rescore_clean": "leakage",
    "Normalizer": "normalize",
    "get_normalizer": "normalize",
}

__all__ = [
    "MetricResult",
    "Normalizer",
    "Signature",
    "aggregate",
    "bleu",
    "cer",
    "chrf",
    "error_breakdown",
    "exact_match",
    "from_values",
    "get_normalizer",
    "hf_metric",
    "leakage",
    "mer",
    "regex_match",
    "rescore_clean",
    "rouge",
    "rouge_all",
    "ter",
    "token_f1",
    "wer",
    "wil",
]


def __getattr__(name: str) -> Any:
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'llaso_pytest.metrics' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"llaso_pytest.metrics.{mod}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
