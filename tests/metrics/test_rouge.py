"""ROUGE equal to rouge_score on ASCII; correct on Japanese and other non-ASCII text."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from metric_strategies import CHECK, PUNCT_WORDS, parallel, sentences
from rouge_score import rouge_scorer

from llaso_pytest import metrics
from llaso_pytest.errors import LlasoWarning

ASCII = parallel(sentences(PUNCT_WORDS + ["cats", "running", "ran\nthe", "A_B"]))


@CHECK
@given(ASCII, st.booleans())
def test_rouge_equals_rouge_score_on_ascii(corpus: tuple[list[str], list[str]],
                                           stem: bool) -> None:
    refs, hyps = corpus
    variants = ["rouge1", "rouge2", "rougeL", "rougeLsum"]
    scorer = rouge_scorer.RougeScorer(variants, use_stemmer=stem)
    expected = [scorer.score(r, h) for r, h in zip(refs, hyps, strict=True)]
    for tok in ("unicode", "rouge_score"):
        got = metrics.rouge_all(refs, hyps, variants=variants, tokenizer=tok, use_stemmer=stem,
                                n_boot=0)
        for v in variants:
            f = np.array([e[v].fmeasure for e in expected])
            np.testing.assert_array_equal(got[v].scores, f)
            assert got[v].value == pytest.approx(f.mean(), rel=1e-12, abs=1e-15)
    single = metrics.rouge(refs, hyps, variant="rouge2", measure="recall", use_stemmer=stem,
                           n_boot=0)
    np.testing.assert_array_equal(single.scores, [e["rouge2"].recall for e in expected])


def test_japanese_and_accented_text() -> None:
    same = ["今日は良い天気です"] * 5
    # rouge_score's tokenizer drops every non-ASCII character: identical strings score 0
    scorer = rouge_scorer.RougeScorer(["rougeL"])
    assert scorer.score(same[0], same[0])["rougeL"].fmeasure == 0
    assert metrics.rouge(same, same, tokenizer="rouge_score", n_boot=0).value == 0
    assert metrics.rouge(same, same, tokenizer="char", n_boot=0).value == 1
    with pytest.warns(LlasoWarning, match="tokenizer='char'"):
        metrics.rouge(same, same, n_boot=0)
    r = metrics.rouge(["今日は良い天気です"], ["今日は悪い天気です"], tokenizer="char",
                      variant="rouge1", n_boot=0)
    assert r.value == pytest.approx(8 / 9)  # 8 of 9 characters shared
    acc = metrics.rouge(["naïve café"], ["naïve cafe"], variant="rouge1", n_boot=0)
    assert acc.value == pytest.approx(0.5)  # unicode keeps "naïve" and "café" whole
    assert acc.signature.fields["tokenizer"] == "unicode"


def test_callable_tokenizer_and_errors() -> None:
    def bigrams(s: str) -> list[str]:
        return [s[i : i + 2] for i in range(len(s) - 1)]

    r = metrics.rouge(["abcd"], ["abce"], tokenizer=bigrams, variant="rouge1", n_boot=0)
    assert r.value == pytest.approx(2 / 3)
    assert r.signature.fields["tokenizer"].startswith("callable:")
    with pytest.raises(ValueError, match="variant must be"):
        metrics.rouge(["a"], ["a"], variant="rougeX")
    with pytest.raises(ValueError, match="unknown tokenizer"):
        metrics.rouge(["a"], ["a"], tokenizer="bogus")


def test_rouge_l_with_more_distinct_tokens_than_code_points() -> None:
    """1.2 million distinct tokens (more than Unicode has code points): ROUGE-L still equals
    rouge_score, through lists of token ids instead of one character per token."""
    from rouge_score import rouge_scorer

    n, k = 12_000, 100
    refs = [" ".join(f"w{i}x{j}" for j in range(k)) for i in range(n)]
    hyps = [" ".join(f"w{i}x{j}" for j in range(0, k, 3)) + f" w{i}x1 extra" for i in range(n)]
    res = metrics.rouge(refs, hyps, variant="rougeL", n_boot=0)
    sc = rouge_scorer.RougeScorer(["rougeL"])
    for i in (0, 1, n // 2, n - 1):
        assert res.scores[i] == sc.score(refs[i], hyps[i])["rougeL"].fmeasure
