"""Several references per item, against the reference tools (issue 13, item 8).

BLEU, chrF/chrF++ and TER equal sacrebleu with multiple reference streams (``None`` where an
item has fewer references, sacrebleu's variable-reference form); ROUGE equals rouge-score's
``RougeScorer.score_multi``. Japanese without spaces warns for BLEU with a word tokenizer and
for WER, naming what to use.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import sacrebleu
from hypothesis import given
from hypothesis import strategies as st
from metric_strategies import CHECK, PUNCT_WORDS, sentences
from rouge_score import rouge_scorer
from sacrebleu.metrics import BLEU, CHRF, TER

from llaso_pytest import metrics
from llaso_pytest.errors import LlasoWarning, MetricInputError

# items of one to three references each, the hypothesis often an edit of the first one
MULTI = st.lists(
    st.tuples(st.lists(sentences(PUNCT_WORDS, min_size=1), min_size=1, max_size=3),
              sentences(PUNCT_WORDS)),
    min_size=1, max_size=15,
)


def _streams(refs: list[list[str]]) -> list[list[str | None]]:
    width = max(map(len, refs))
    return [[r[k] if k < len(r) else None for r in refs] for k in range(width)]


def _split(items: list[tuple[list[str], str]]) -> tuple[list[list[str]], list[str]]:
    return [list(r) for r, _ in items], [h for _, h in items]


@CHECK
@given(MULTI, st.sampled_from(["13a", "intl", "char"]), st.sampled_from(["exp", "floor",
                                                                          "add-k", "none"]))
def test_bleu_with_several_references_equals_sacrebleu(
    items: list[tuple[list[str], str]], tok: str, smooth: str
) -> None:
    refs, hyps = _split(items)
    res = metrics.bleu(refs, hyps, tokenize=tok, smooth_method=smooth, n_boot=0)
    assert res.value == sacrebleu.corpus_bleu(hyps, _streams(refs), tokenize=tok,
                                              smooth_method=smooth).score
    expected = BLEU(tokenize=tok, smooth_method=smooth)._extract_corpus_statistics(
        hyps, _streams(refs))
    np.testing.assert_array_equal(res.stat_matrix(), np.asarray(expected, dtype=np.float64))
    assert metrics.aggregate(res.aggregate, res.stat_matrix().sum(0))[0] == res.value


@CHECK
@given(MULTI, st.sampled_from([0, 2]))
def test_chrf_and_chrf_pp_with_several_references_equal_sacrebleu(
    items: list[tuple[list[str], str]], word_order: int
) -> None:
    refs, hyps = _split(items)
    res = metrics.chrf(refs, hyps, word_order=word_order, n_boot=0)
    assert res.value == CHRF(word_order=word_order).corpus_score(hyps, _streams(refs)).score


@CHECK
@given(MULTI)
def test_ter_with_several_references_equals_sacrebleu(
    items: list[tuple[list[str], str]]
) -> None:
    refs, hyps = _split(items)
    assert metrics.ter(refs, hyps, n_boot=0).value == \
        TER().corpus_score(hyps, _streams(refs)).score


@CHECK
@given(MULTI, st.booleans())
def test_rouge_with_several_references_equals_rouge_score_score_multi(
    items: list[tuple[list[str], str]], stem: bool
) -> None:
    refs, hyps = _split(items)
    variants = ["rouge1", "rouge2", "rougeL", "rougeLsum"]
    scorer = rouge_scorer.RougeScorer(variants, use_stemmer=stem)
    expected = [scorer.score_multi(r, h) for r, h in zip(refs, hyps, strict=True)]
    for measure in ("fmeasure", "precision", "recall"):
        got = metrics.rouge_all(refs, hyps, variants=variants, tokenizer="rouge_score",
                                use_stemmer=stem, measure=measure, n_boot=0)
        for v in variants:
            want = [getattr(e[v], measure) for e in expected]
            assert got[v].scores.tolist() == pytest.approx(want, abs=1e-12), (v, measure)
            assert got[v].value == pytest.approx(float(np.mean(want)), abs=1e-12)


def test_one_reference_per_item_keeps_the_signature_several_name_nrefs() -> None:
    one = metrics.bleu(["a b c"], ["a b c"], n_boot=0).signature.fields
    assert "nrefs" not in one
    assert metrics.bleu([["a b c", "a c"]], ["a b c"], n_boot=0).signature.fields["nrefs"] == 2
    assert metrics.ter([["a", "b"], ["c"]], ["a", "c"], n_boot=0).signature.fields["nrefs"] == \
        "var"
    assert metrics.rouge([["a b", "b c"]], ["a b"], n_boot=0).signature.fields["nrefs"] == 2
    # as lists of one reference, the same numbers as plain strings
    refs, hyps = ["the cat sat", "a dog"], ["the cat", "a dog ran"]
    for fn in (metrics.bleu, metrics.chrf, metrics.ter, metrics.rouge):
        assert fn([[r] for r in refs], hyps, n_boot=0).value == fn(refs, hyps, n_boot=0).value


def test_bad_reference_lists_are_named() -> None:
    with pytest.raises(MetricInputError, match=r"reference for item id 'b' \(index 1\) must be "
                                               r"a non-empty list of str"):
        metrics.bleu([["x"], []], ["x", "y"], ids=["a", "b"])
    with pytest.raises(MetricInputError, match=r"reference for item index 0 is None"):
        metrics.chrf([None], ["x"])  # type: ignore[list-item]


def _warnings(fn: object, *args: object, **kw: object) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fn(*args, **kw)  # type: ignore[operator]
    return [str(w.message) for w in caught if issubclass(w.category, LlasoWarning)]


JA_REFS = ["今日は晴れです。", "明日は雨が降るでしょう。", "東京駅で会いましょう。"]
JA_HYPS = ["今日は雨です。", "明日は雨が降るでしょう。", "東京駅で会おう。"]


def test_bleu_13a_on_unsegmented_japanese_warns_naming_the_tokenizer() -> None:
    (msg,) = _warnings(metrics.bleu, JA_REFS, JA_HYPS, n_boot=0)
    assert "'13a' tokenizer" in msg and "tokenize='ja-mecab'" in msg
    assert _warnings(metrics.bleu, JA_REFS, JA_HYPS, tokenize="char", n_boot=0) == []
    segmented = [" ".join(r) for r in JA_REFS]  # one character per token: segmented
    assert _warnings(metrics.bleu, segmented, segmented, n_boot=0) == []
    assert _warnings(metrics.bleu, ["the cat sat"], ["the cat"], n_boot=0) == []


def test_wer_on_unsegmented_japanese_warns_naming_cer() -> None:
    (msg,) = _warnings(metrics.wer, JA_REFS, JA_HYPS, n_boot=0)
    assert msg.startswith("wer: ") and "metrics.cer" in msg and "normalize='japanese'" in msg
    assert _warnings(metrics.cer, JA_REFS, JA_HYPS, n_boot=0) == []
    assert _warnings(metrics.wer, ["今日 は 晴れ です"], ["今日 は 雨 です"], n_boot=0) == []
    assert _warnings(metrics.wer, ["the cat sat"], ["the cat"], n_boot=0) == []
