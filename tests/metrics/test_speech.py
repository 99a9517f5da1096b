"""WER/CER/MER/WIL cross-checked against jiwer on random corpora; input validation."""

from __future__ import annotations

import math
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock

import jiwer
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from metric_strategies import CHECK, parallel, sentences
from rapidfuzz.distance import Levenshtein

from llaso_pytest import metrics
from llaso_pytest.errors import LlasoWarning, MetricInputError
from llaso_pytest.metrics import speech
from llaso_pytest.metrics.speech import align_counts

# non-empty references (jiwer cannot score an all-empty corpus the way we define it)
CORPUS = parallel(sentences(min_size=1))
# the compiled word coder (code strings) and the pure-Python fallback (token lists)
CODERS = pytest.mark.parametrize("coder", ["compiled", "token-lists"])


NOT_COMPILED = ("llaso_pytest.metrics._wordcodes is not compiled: pip install -e . needs a C "
                "compiler and the Python headers")
needs_word_codes = pytest.mark.skipif(not speech.word_codes_compiled(), reason=NOT_COMPILED)


@contextmanager
def word_coder(coder: str) -> Iterator[None]:
    if coder == "compiled":
        if not speech.word_codes_compiled():
            pytest.skip(NOT_COMPILED)
        yield
    else:
        with mock.patch.object(speech, "_pair_codes", lambda: None):
            assert not speech.word_codes_compiled()
            yield


@CODERS
@CHECK
@given(CORPUS)
def test_wer_counts_equal_jiwer(coder: str, corpus: tuple[list[str], list[str]]) -> None:
    refs, hyps = corpus
    with word_coder(coder):
        res = metrics.wer(refs, hyps, n_boot=0)
    out = jiwer.process_words(refs, hyps)
    assert res.extra["hits"] == out.hits
    assert res.extra["substitutions"] == out.substitutions
    assert res.extra["deletions"] == out.deletions
    assert res.extra["insertions"] == out.insertions
    assert res.value == out.wer
    # per utterance, against jiwer one utterance at a time
    c = res.details.counts()
    for i, (r, h) in enumerate(zip(refs, hyps, strict=True)):
        o = jiwer.process_words(r, h)
        assert (c.hits[i], c.substitutions[i], c.deletions[i], c.insertions[i]) == (
            o.hits, o.substitutions, o.deletions, o.insertions
        )


@CODERS
@CHECK
@given(CORPUS)
def test_mer_wil_equal_jiwer(coder: str, corpus: tuple[list[str], list[str]]) -> None:
    refs, hyps = corpus
    with word_coder(coder):
        mer = metrics.mer(refs, hyps, n_boot=0).value
        wil = metrics.wil(refs, hyps, n_boot=0).value
    assert mer == pytest.approx(jiwer.mer(refs, hyps), abs=1e-15)
    assert wil == pytest.approx(jiwer.wil(refs, hyps), abs=1e-15)


# Every character str.split() splits on, and words whose str kind differs (ASCII, Latin-1,
# BMP, astral), so that one word is met inside 1-, 2- and 4-byte strings alike.
WHITESPACE = [chr(c) for c in range(0x3001) if chr(c).isspace()]
UNICODE_WORDS = ["a", "ab", "é", "été", "日本", "語", "😀", "a😀", "\x00", "Ω", "ab\u0301"]


def unicode_texts() -> st.SearchStrategy[str]:
    gap = st.text(st.sampled_from(WHITESPACE), min_size=1, max_size=3)
    edge = st.text(st.sampled_from(WHITESPACE), max_size=2)
    words = st.lists(st.tuples(st.sampled_from(UNICODE_WORDS), gap), max_size=12)
    return st.tuples(edge, words).map(lambda t: t[0] + "".join(w + g for w, g in t[1]))


@needs_word_codes
@CHECK
@given(st.lists(st.tuples(unicode_texts(), unicode_texts()), min_size=1, max_size=20))
def test_word_codes_keep_the_word_equalities_of_str_split(
    pairs: list[tuple[str, str]],
) -> None:
    """Per pair: one code per word of str.split(), equal codes exactly for equal words."""
    from llaso_pytest.metrics._wordcodes import pair_codes

    refs, hyps = [p[0] for p in pairs], [p[1] for p in pairs]
    rc, hc = pair_codes(refs, hyps)
    for r, h, a, b in zip(refs, hyps, rc, hc, strict=True):
        words, codes = r.split() + h.split(), a + b
        assert (len(a), len(b)) == (len(r.split()), len(h.split()))
        for i in range(len(words)):
            for j in range(len(words)):
                assert (words[i] == words[j]) == (codes[i] == codes[j]), (r, h, i, j)
        # rapidfuzz aligns the code strings exactly as the token lists
        assert Levenshtein.editops(a, b).as_list() == Levenshtein.editops(
            r.split(), h.split()).as_list()
    # the same distances and alignments as on the token lists themselves
    if not any(r.split() for r in refs):
        return  # no reference words: the rate is undefined (tested elsewhere)
    fast = metrics.wer(refs, hyps, n_boot=0)
    with word_coder("token-lists"):
        slow = metrics.wer(refs, hyps, n_boot=0)
    assert fast.extra == slow.extra
    assert np.array_equal(fast.details.distances, slow.details.distances)
    fast_counts, slow_counts = vars(fast.details.counts()), vars(slow.details.counts())
    for a, b in zip(fast_counts.values(), slow_counts.values(), strict=True):
        assert np.array_equal(a, b)  # per-item H, S, D, I


@needs_word_codes
def test_word_codes_name_a_non_str_item_and_share_identical_pairs() -> None:
    from llaso_pytest.metrics._wordcodes import pair_codes

    with pytest.raises(TypeError, match="hypothesis item 1 is bytes, not str"):
        pair_codes(["a", "b"], ["a", b"b"])
    with pytest.raises(ValueError, match="2 references but 1 hypotheses"):
        pair_codes(["a", "b"], ["a"])
    same = "the cat sat"
    rc, hc = pair_codes([same, "x y"], ["the cat sat", "y x x"])
    assert hc[0] is rc[0] and rc[0] == "\x00\x01\x02"
    assert (rc[1], hc[1]) == ("\x00\x01", "\x01\x00\x00")  # codes are numbered per pair


@needs_word_codes
def test_more_distinct_words_than_code_points_fall_back_to_token_lists() -> None:
    """0x110001 distinct words in one reference overflow the code points; WER stays exact."""
    from llaso_pytest.metrics._wordcodes import pair_codes

    n = sys.maxunicode + 2
    ref = " ".join(map(str, range(n)))
    with pytest.raises(OverflowError, match="distinct words in one pair"):
        pair_codes([ref], ["0 1 x"])
    res = metrics.wer([ref, "a b"], ["0 1 x", "a c"], n_boot=0)
    # item 0: 2 hits, 1 substitution, n - 3 deletions; item 1: 1 hit, 1 substitution
    assert res.extra["hits"] == 3 and res.extra["substitutions"] == 2
    assert res.extra["deletions"] == n - 3 and res.extra["insertions"] == 0
    assert res.value == (n - 1) / (n + 2)


@CHECK
@given(parallel(sentences(["ab", "c", "abc", "ba", "日本", "語"], min_size=1)))
def test_cer_equals_jiwer(corpus: tuple[list[str], list[str]]) -> None:
    refs, hyps = corpus
    res = metrics.cer(refs, hyps, n_boot=0, counts=True)
    out = jiwer.process_characters(refs, hyps)
    assert res.value == jiwer.cer(refs, hyps)
    assert (res.extra["hits"], res.extra["substitutions"], res.extra["deletions"],
            res.extra["insertions"]) == (out.hits, out.substitutions, out.deletions, out.insertions)


@CHECK
@given(st.lists(st.integers(0, 5), max_size=30), st.lists(st.integers(0, 5), max_size=30))
def test_align_counts_equal_jiwer_on_token_lists(a: list[int], b: list[int]) -> None:
    ra, rb = [f"w{x}" for x in a], [f"w{x}" for x in b]
    c = align_counts([ra], [rb])
    if ra:
        o = jiwer.process_words(" ".join(ra), " ".join(rb))
        assert (c.hits[0], c.substitutions[0], c.deletions[0], c.insertions[0]) == (
            o.hits, o.substitutions, o.deletions, o.insertions
        )
    assert c.substitutions[0] + c.deletions[0] + c.insertions[0] == _levenshtein(ra, rb)


def _levenshtein(a: list[str], b: list[str]) -> int:
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def test_corpus_wer_is_ratio_of_sums_not_mean_of_rates() -> None:
    refs = ["a b c d e f g h i j", "k"]
    hyps = ["a b c d e f g h i j", "z"]
    res = metrics.wer(refs, hyps, n_boot=0)
    assert res.value == 1 / 11  # not (0 + 1) / 2
    assert list(res.stats["errors"]) == [0, 1]
    assert list(res.stats["ref_words"]) == [10, 1]


def test_normalizers_and_signature() -> None:
    refs = ["Hello, World!", "It's  fine."]
    hyps = ["hello world", "its fine"]
    assert metrics.wer(refs, hyps, n_boot=0).value > 0
    basic = metrics.wer(refs, hyps, normalize="basic", n_boot=0)
    assert basic.value == 0
    assert basic.signature.fields["normalizer"] == "basic"
    assert "norm:basic" in str(basic.signature)
    from whisper_normalizer.english import EnglishTextNormalizer

    en = EnglishTextNormalizer()
    w = metrics.wer(["Mr. Smith has 2 dollars"], ["mister smith has two dollars"],
                    normalize="whisper", n_boot=0)
    expected = jiwer.wer(en("Mr. Smith has 2 dollars"), en("mister smith has two dollars"))
    assert w.value == expected
    assert w.signature.fields["normalizer"] == "whisper"

    def shout(s: str) -> str:
        return s.upper()

    c = metrics.wer(["a"], ["A"], normalize=shout, n_boot=0)
    assert c.value == 0
    assert c.signature.fields["normalizer"].startswith("callable:")


def test_japanese_normalizer_cer() -> None:
    # NFKC folds full-width digits/letters; punctuation and spaces go
    res = metrics.cer(["今日は、晴れ。ＡＢ１"], ["今日は 晴れ AB1"], normalize="japanese", n_boot=0)
    assert res.value == 0
    assert res.signature.fields["normalizer"] == "japanese"


def test_empty_reference_policies() -> None:
    refs, hyps = ["a b", "", "c"], ["a b", "x y", "c"]
    ins = metrics.wer(refs, hyps, n_boot=0)
    assert ins.value == 2 / 3  # two insertions over three reference words
    assert math.isinf(ins.scores[1])
    assert ins.to_record()["items"]["scores"][1] is None
    with pytest.raises(MetricInputError, match=r"1 of 3 references are empty.*'1'"):
        metrics.wer(refs, hyps, empty_reference="error", n_boot=0)
    with pytest.warns(LlasoWarning, match="dropped 1 of 3"):
        dropped = metrics.wer(refs, hyps, empty_reference="drop", n_boot=0, ids=["u0", "u1", "u2"])
    assert dropped.value == 0 and dropped.item_ids == ("u0", "u2")
    with pytest.raises(MetricInputError, match="all 2 references are empty"):
        metrics.wer(["", " "], ["a", ""], n_boot=0)
    # empty hypothesis: every reference word is a deletion
    assert metrics.wer(["a b c"], [""], n_boot=0).extra["deletions"] == 3


def test_bad_inputs_are_named() -> None:
    with pytest.raises(MetricInputError, match="3 references but 2 hypotheses"):
        metrics.wer(["a", "b", "c"], ["a", "b"])
    with pytest.raises(MetricInputError, match=r"item id 'utt-7'.*None"):
        metrics.wer(["a", "b"], ["a", None], ids=["utt-1", "utt-7"])  # type: ignore[list-item]
    with pytest.raises(MetricInputError, match=r"item index 0.*int"):
        metrics.cer([1], ["a"])  # type: ignore[list-item]
    with pytest.raises(MetricInputError, match="single str"):
        metrics.wer("a b", "a b")  # type: ignore[arg-type]
    with pytest.raises(MetricInputError, match="duplicate ids: 'x'"):
        metrics.wer(["a", "b"], ["a", "b"], ids=["x", "x"])
    with pytest.raises(MetricInputError, match="groups= has 1 entries but there are 2 items"):
        metrics.wer(["a", "b"], ["a", "b"], groups=["s1"])
    with pytest.raises(MetricInputError, match="no items"):
        metrics.wer([], [])
    with pytest.raises(ValueError, match="unknown normalizer 'bogus'"):
        metrics.wer(["a"], ["a"], normalize="bogus")


def test_alignment_and_worst_items() -> None:
    res = metrics.wer(["the cat sat", "a b"], ["the bat sat", "a b"], ids=["u1", "u2"], n_boot=0)
    assert res.worst(1) == [("u1", pytest.approx(1 / 3))]
    text = res.alignment("u1")
    assert "REF: the cat sat" in text and "HYP: the bat sat" in text and "S" in text


def test_groups_give_cluster_bootstrap_signature() -> None:
    rng = np.random.default_rng(1)
    refs = ["a b c d"] * 40
    hyps = [("a b c d" if rng.random() < 0.7 else "a x c") for _ in range(40)]
    res = metrics.wer(refs, hyps, groups=[f"spk{i % 8}" for i in range(40)], n_boot=300)
    assert res.signature.fields["resample"] == "groups"
    assert res.groups is not None and res.ci is not None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        metrics.wer(refs, hyps, n_boot=200)


def test_error_breakdown_confusions_and_classes() -> None:
    refs = ["call Alice at 5 pm", "call Bob at five", "meet New York team"]
    hyps = ["call alice at 9 pm", "cal Bob at five", "meet new york team today"]
    bd = metrics.error_breakdown(refs, hyps, terms=["New York", "Bob"])
    conf = {(a, b): c for a, b, c in bd.confusions}
    assert conf[("Alice", "alice")] == 1 and conf[("5", "9")] == 1 and conf[("call", "cal")] == 1
    assert conf[("", "today")] == 1  # an insertion
    assert bd.confusions[0][2] >= bd.confusions[-1][2]  # ranked by count
    # numbers: "5" (wrong), "five" (right)
    assert (bd.classes["number"].errors, bd.classes["number"].total) == (1, 2)
    # capitalised: Alice (wrong), Bob (right), New, York (wrong)
    assert (bd.classes["capitalized"].errors, bd.classes["capitalized"].total) == (3, 4)
    # terms: "New York" (wrong), "Bob" (right)
    assert (bd.classes["terms"].errors, bd.classes["terms"].total) == (1, 2)
    assert bd.classes["terms"].rate == 0.5
    res = metrics.wer(refs, hyps, n_boot=0)
    assert metrics.error_breakdown(res).confusions == metrics.error_breakdown(refs, hyps).confusions
    with pytest.raises(ValueError, match="word-level speech result"):
        metrics.error_breakdown(metrics.cer(refs, hyps, n_boot=0))


def test_error_class_result_has_a_cluster_interval() -> None:
    """A word class's error rate is a result like WER: summed per-item counts, resampled
    by the WER's groups, and a signature naming the class and the terms."""
    rng = np.random.default_rng(3)
    refs, hyps, groups = [], [], []
    for i in range(60):
        n = int(rng.integers(0, 4))
        ref = ["call", "me", "at"] + ["four"] * n + ["in", "london"]
        hyp = [("for" if (w == "four" and rng.random() < 0.3) else w) for w in ref]
        refs.append(" ".join(ref))
        hyps.append(" ".join(hyp))
        groups.append(f"spk{i % 8}")
    res = metrics.wer(refs, hyps, groups=groups, n_boot=0)
    bd = metrics.error_breakdown(res, terms=["london"])
    num = bd.class_result("number", n_boot=500, seed=1)
    expected = bd.classes["number"]
    assert num.value == pytest.approx(expected.errors / expected.total)
    assert num.ci is not None and num.ci[0] <= num.value <= num.ci[1] and num.ci[0] < num.ci[1]
    # n counts the units that carry class words: the 8 speakers (all have some number word)
    assert num.higher_is_better is False and num.n == 8
    assert num.signature.fields["word_class"] == "number"
    assert num.signature.fields["resample"] == "groups"
    # only utterances with class words are scored (every resample then has a denominator)
    assert num.to_record()["items"]["stats"]["class_words"] == [
        w for w in bd.per_item["number"][1] if w > 0
    ]
    terms = bd.class_result("terms", n_boot=200)
    assert terms.value == 0.0 and terms.signature.fields["terms"] == "london"
    with pytest.raises(ValueError, match="no reference words"):
        metrics.error_breakdown(res, terms=["paris"]).class_result("terms", n_boot=0)
    with pytest.raises(ValueError, match="unknown word class"):
        bd.class_result("verbs")


def test_every_whitespace_character_separates_words_unlike_jiwer() -> None:
    """Documented difference: jiwer keeps a single tab/newline/NBSP inside a word."""
    refs, hyps = ["a\tb c", "a\nb", "a\xa0b", "a  b"], ["a b c", "a b", "a b", "a b"]
    for coder in ("compiled", "token-lists"):
        with word_coder(coder):
            res = metrics.wer(refs, hyps, n_boot=0)
        assert res.value == 0.0 and res.extra["ref_units"] == 9
    assert jiwer.wer("a\tb c", "a b c") > 0  # jiwer: "a\tb" is one word
    assert jiwer.wer("a  b", "a b") == 0  # runs of whitespace agree
