"""The corpus of one-item cases equals the metric computed on the whole corpus (hypothesis):
the same value, interval, per-item statistics and signature, for a ratio (WER), a corpus
formula of sufficient statistics (BLEU) and a mean (token F1)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parents[1] / "metrics"))
from metric_strategies import CHECK, WORDS, sentences  # noqa: E402

from llaso_pytest import metrics  # noqa: E402
from llaso_pytest.corpus import case_payload, join_cases  # noqa: E402

# a one-item case has no interval by design (its corpus has one)
pytestmark = pytest.mark.filterwarnings("ignore:.*only 1 items")

PAIRS = st.lists(st.tuples(sentences(WORDS, min_size=1), sentences(WORDS)), min_size=5,
                 max_size=30)


def _joined(fn: Any, pairs: list[tuple[str, str]], **kw: Any) -> dict[str, Any]:
    cases = []
    for i, (ref, hyp) in enumerate(pairs):
        one = fn([ref], [hyp], ids=[f"c{i:03d}"], n_boot=200, **kw).to_record()
        cases.append((f"t[c{i:03d}]", case_payload(one, case_id=f"c{i:03d}", corpus="t")
                      ["result"]))
    return join_cases(one["name"], cases, corpus="t", fallback_seed=0, partial={})


def _same(joined: dict[str, Any], direct: dict[str, Any]) -> None:
    assert joined["value"] == pytest.approx(direct["value"], nan_ok=True)
    if direct["ci"] is None:
        assert joined["ci"] is None
    else:
        assert joined["ci"] == pytest.approx(direct["ci"], nan_ok=True)
    assert joined["items"]["ids"] == direct["items"]["ids"]
    assert joined["items"]["stats"] == direct["items"]["stats"]
    assert joined["signature"]["fields"] == direct["signature"]["fields"]
    assert joined["n"] == direct["n"] and joined["aggregate"] == direct["aggregate"]


def _token_f1(refs: list[str], hyps: list[str], **kw: Any) -> Any:
    return metrics.token_f1([[r] for r in refs], hyps, **kw)


@pytest.mark.parametrize("fn", [metrics.wer, metrics.bleu, _token_f1],
                         ids=["wer", "bleu", "token_f1"])
@CHECK
@given(pairs=PAIRS)
def test_a_corpus_of_cases_equals_the_metric_of_the_corpus(
        fn: Any, pairs: list[tuple[str, str]]) -> None:
    joined = _joined(fn, pairs)
    refs, hyps = zip(*pairs, strict=True)
    direct = fn(list(refs), list(hyps), ids=[f"c{i:03d}" for i in range(len(pairs))],
                n_boot=200).to_record()
    _same(joined, direct)
