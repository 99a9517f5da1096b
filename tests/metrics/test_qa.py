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
