"""Exact match, SQuAD token F1, regex match."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from metric_strategies import CHECK

from llaso_pytest import metrics
from llaso_pytest.errors import MetricInputError
from llaso_pytest.metrics.qa import squad_normalize


def test_squad_normalisation_and_scores() -> None:
    assert squad_normalize("The  Cat, sat!") == "cat sat"
    em = metrics.exact_match([["Paris", "City of Paris"], "The Cat"], ["paris!", "a dog"], n_boot=0)
    assert em.value == 0.5 and list(em.scores) == [1.0, 0.0]
    # "a cat sat down" vs "the cat sat": 2 shared tokens, P = 2/3, R = 1
    f1 = metrics.token_f1(["the cat sat"], ["a cat sat down"], n_boot=0)
    assert f1.value == pytest.approx(2 * (2 / 3) * 1 / (2 / 3 + 1))
    # both empty after normalisation: equal -> 1; one empty -> 0
    assert metrics.token_f1(["the"], ["a"], n_boot=0).value == 1.0
    assert metrics.token_f1(["the"], ["cat"], n_boot=0).value == 0.0
    assert metrics.exact_match(["A"], ["a"], normalize="none", n_boot=0).value == 0.0


@CHECK
@given(st.lists(st.tuples(st.text(max_size=8), st.text(max_size=8)), min_size=1, max_size=10))
def test_f1_bounds_and_em_implies_f1(pairs: list[tuple[str, str]]) -> None:
    refs, hyps = [p[0] for p in pairs], [p[1] for p in pairs]
    em = metrics.exact_match(refs, hyps, n_boot=0)
    f1 = metrics.token_f1(refs, hyps, n_boot=0)
    assert ((0 <= f1.scores) & (f1.scores <= 1)).all()
    assert (f1.scores[em.scores == 1] == 1).all()


def test_regex_match() -> None:
    res = metrics.regex_match([r"\d+", "^ok$", ["yes", "sure"]], ["abc 12", "ok.", "sure thing"],
                              n_boot=0)
    assert list(res.scores) == [1.0, 0.0, 1.0]
    assert metrics.regex_match(["ok"], ["OK"], flags=2, mode="fullmatch", n_boot=0).value == 1.0
    with pytest.raises(MetricInputError, match=r"regex for item id 'q2'.*does not compile"):
        metrics.regex_match(["a", "("], ["a", "b"], ids=["q1", "q2"])
    with pytest.raises(MetricInputError, match=r"hypothesis for item index 1 is None"):
        metrics.exact_match(["a", "b"], ["a", None])  # type: ignore[list-item]
    with pytest.raises(MetricInputError, match="2 references but 1 hypotheses"):
        metrics.token_f1(["a", "b"], ["a"])


# -- the official SQuAD v2.0 evaluation script (evaluate-v2.0.py), its scoring functions --------
def _v2_normalize_answer(s: str) -> str:
    import re
    import string

    s = s.lower()
    s = "".join(ch for ch in s if ch not in set(string.punctuation))
    s = re.sub(re.compile(r"\b(a|an|the)\b", re.UNICODE), " ", s)
    return " ".join(s.split())


def _v2_get_tokens(s: str) -> list[str]:
    return _v2_normalize_answer(s).split() if s else []


def _v2_compute_exact(a_gold: str, a_pred: str) -> int:
    return int(_v2_normalize_answer(a_gold) == _v2_normalize_answer(a_pred))


def _v2_compute_f1(a_gold: str, a_pred: str) -> float:
    from collections import Counter

    gold_toks, pred_toks = _v2_get_tokens(a_gold), _v2_get_tokens(a_pred)
    common = Counter(gold_toks) & Counter(pred_toks)
    num_same = sum(common.values())
    if len(gold_toks) == 0 or len(pred_toks) == 0:
        return float(gold_toks == pred_toks)
    if num_same == 0:
        return 0.0
    precision, recall = num_same / len(pred_toks), num_same / len(gold_toks)
    return (2 * precision * recall) / (precision + recall)


def _v2_raw_scores(answers: list[list[str]], preds: list[str]) -> tuple[list[int], list[float]]:
    """get_raw_scores: empty-normalising gold answers dropped, [''] when none is left."""
    exact, f1 = [], []
    for golds, pred in zip(answers, preds, strict=True):
        gold = [a for a in golds if _v2_normalize_answer(a)] or [""]
        exact.append(max(_v2_compute_exact(a, pred) for a in gold))
        f1.append(max(_v2_compute_f1(a, pred) for a in gold))
    return exact, f1


def test_gold_answers_that_normalise_to_empty_score_as_in_squad_v2() -> None:
    # the case: "the" normalises to "", so only "Paris" is a gold answer
    assert metrics.exact_match([["the", "Paris"]], ["a"], n_boot=0).value == 0.0
    assert metrics.token_f1([["the", "Paris"]], ["a"], n_boot=0).value == 0.0
    assert metrics.exact_match([["the", "Paris"]], ["paris"], n_boot=0).value == 1.0
    # all gold answers empty: unanswerable, only an empty prediction is right
    assert metrics.exact_match([["the", "a"]], [""], n_boot=0).value == 1.0
    assert metrics.token_f1([["", "an"]], ["the"], n_boot=0).value == 1.0
    assert metrics.exact_match([["the", "a"]], ["Paris"], n_boot=0).value == 0.0
    assert metrics.exact_match(["x"], ["x"], n_boot=0).signature.fields["answers"] == "squad2"


_ANSWER = st.one_of(
    st.sampled_from(["", "the", "a", "an", "The Cat", "cat", "a cat", "!", "Paris", "paris."]),
    st.text(alphabet="ab cT!.,", max_size=8),
)


@CHECK
@given(st.lists(st.tuples(st.lists(_ANSWER, min_size=1, max_size=4), _ANSWER),
                min_size=1, max_size=12))
def test_exact_match_and_f1_equal_the_official_squad_v2_script(
    items: list[tuple[list[str], str]]
) -> None:
    answers, preds = [list(a) for a, _ in items], [p for _, p in items]
    exact, f1 = _v2_raw_scores(answers, preds)
    em = metrics.exact_match(answers, preds, n_boot=0)
    tf = metrics.token_f1(answers, preds, n_boot=0)
    assert list(em.scores) == [float(x) for x in exact]
    assert list(tf.scores) == pytest.approx(f1, abs=1e-12)
    assert em.value == pytest.approx(sum(exact) / len(exact))
