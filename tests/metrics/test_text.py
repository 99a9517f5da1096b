"""BLEU/chrF/TER equal sacrebleu on random corpora (to the last digit)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import sacrebleu
from hypothesis import given
from hypothesis import strategies as st
from metric_strategies import CHECK, PUNCT_WORDS, parallel, sentences
from sacrebleu.metrics import BLEU, CHRF, TER

from llaso_pytest import metrics

CORPUS = parallel(sentences(PUNCT_WORDS + ["Über", "naïve", "日本語", "テスト"]))


@CHECK
@given(
    CORPUS,
    st.sampled_from(["13a", "intl", "char", "none"]),
    st.booleans(),
    st.sampled_from(["exp", "floor", "add-k", "none"]),
)
def test_bleu_equals_sacrebleu(corpus: tuple[list[str], list[str]], tok: str, lc: bool,
                               smooth: str) -> None:
    refs, hyps = corpus
    res = metrics.bleu(refs, hyps, tokenize=tok, lowercase=lc, smooth_method=smooth, n_boot=0)
    ref = sacrebleu.corpus_bleu(hyps, [refs], tokenize=tok, lowercase=lc, smooth_method=smooth)
    assert res.value == ref.score
    # per-item statistics are sacrebleu's
    m = BLEU(tokenize=tok, lowercase=lc, smooth_method=smooth)
    expected = np.asarray(m._extract_corpus_statistics(hyps, [refs]), dtype=np.int64)
    np.testing.assert_array_equal(res.stat_matrix().astype(np.int64), expected)


@CHECK
@given(CORPUS, st.booleans())
def test_bleu_effective_order_and_sentence_scores(corpus: tuple[list[str], list[str]],
                                                  eff: bool) -> None:
    refs, hyps = corpus
    res = metrics.bleu(refs, hyps, effective_order=eff, n_boot=0)
    m = BLEU(effective_order=eff)
    assert res.value == m.corpus_score(hyps, [refs]).score
    for i, (r, h) in enumerate(zip(refs, hyps, strict=True)):
        assert res.scores[i] == pytest.approx(
            m.corpus_score([h], [[r]]).score, rel=1e-12, abs=1e-12
        )


@CHECK
@given(parallel(sentences(PUNCT_WORDS), max_size=12), st.sampled_from([0, 2]))
def test_chrf_equals_sacrebleu(corpus: tuple[list[str], list[str]], word_order: int) -> None:
    refs, hyps = corpus
    res = metrics.chrf(refs, hyps, word_order=word_order, n_boot=0)
    assert res.value == CHRF(word_order=word_order).corpus_score(hyps, [refs]).score


@CHECK
@given(parallel(sentences(PUNCT_WORDS), max_size=10))
def test_ter_equals_sacrebleu(corpus: tuple[list[str], list[str]]) -> None:
    refs, hyps = corpus
    assert metrics.ter(refs, hyps, n_boot=0).value == TER().corpus_score(hyps, [refs]).score


def test_bleu_13a_fast_path_on_tricky_lines() -> None:
    refs = ["a&amp;b &quot;x&quot; <skipped> y-\nz", "Hello, world! 3.5-4 km.", "a..b,,c 1,2.3",
            "{~}[`] x-y 5-6", "", "tab\tsep  spaces  "]
    hyps = ['a&b "x" y z', "hello world. 3.5 - 4 km", "a. .b,, c 1 ,2. 3", "{~} [`] x - y 5 - 6",
            "x", "tab sep spaces"]
    for lc in (False, True):
        assert metrics.bleu(refs, hyps, lowercase=lc, n_boot=0).value == sacrebleu.corpus_bleu(
            hyps, [refs], lowercase=lc).score


def test_bleu_ja_mecab_or_a_clear_error() -> None:
    refs, hyps = ["今日は晴れです。"] * 6, ["今日は雨です。"] * 6
    if importlib.util.find_spec("MeCab") is not None and importlib.util.find_spec("ipadic"):
        got = metrics.bleu(refs, hyps, tokenize="ja-mecab", n_boot=0)
        assert got.value == sacrebleu.corpus_bleu(hyps, [refs], tokenize="ja-mecab").score
        assert got.signature.fields["tokenizer"] == "ja-mecab"
    else:  # without sacrebleu[ja] the failure names the tokenizer, not a bare ImportError
        with pytest.raises((ValueError, ImportError), match="ja-mecab|MeCab|mecab"):
            metrics.bleu(refs, hyps, tokenize="ja-mecab", n_boot=0)


def test_bleu_signature_and_aggregate_roundtrip() -> None:
    refs = ["the cat sat on the mat", "a dog ran", "hello world", "it is 3.5", "x y z", "q"]
    hyps = ["the cat sat on a mat", "a dog ran", "hello", "it is 3.5", "x z", "q"]
    res = metrics.bleu(refs, hyps, smooth_method="floor", n_boot=200)
    f = res.signature.fields
    assert f["tokenizer"] == "13a" and f["smooth"] == "floor:0.1"
    assert f["sacrebleu"] == sacrebleu.__version__
    total = res.stat_matrix().sum(0)
    assert metrics.aggregate(res.aggregate, total)[0] == res.value
    assert res.ci is not None and res.ci[0] <= res.value <= res.ci[1]
    with pytest.raises(ValueError, match="tokenize='nope'"):
        metrics.bleu(refs, hyps, tokenize="nope")


def test_ngram_keys_do_not_wrap_when_they_outgrow_int64() -> None:
    """A crafted corpus whose packed trigram key (sentence, w1, w2) * V + w3 would wrap past
    2**64 onto another sentence's trigram: counts must still equal sacrebleu's."""
    import sacrebleu

    v, n_sent = 120_000, 20_000  # vocabulary of exactly v tokens (t0..t{v-1}, ids = index)
    q, r = divmod(2**64, v)
    ds, rem = divmod(q + 1, v * v)
    dx, dy = divmod(rem, v)
    s1, s2, b = 1 + ds, 1, v - r  # sentence s1's key wraps onto sentence s2's
    hyps, refs = ["t0"] * n_sent, ["t1"] * n_sent
    hyps[0], refs[0] = " ".join(f"t{i}" for i in range(v)), "t0"
    hyps[s1] = f"t{dx} t{dy} t0"
    refs[s2] = f"t0 t0 t{b}"
    ours = metrics.bleu(refs, hyps, tokenize="none", n_boot=0)
    m = sacrebleu.metrics.BLEU(tokenize="none")
    expected = np.asarray(m._extract_corpus_statistics(hyps, [refs]))
    assert np.array_equal(ours.stat_matrix().astype(np.int64), expected)
    assert ours.value == m.corpus_score(hyps, [refs]).score
