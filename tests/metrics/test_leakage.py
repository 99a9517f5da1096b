"""Leakage check: planted copies found, unrelated and shuffled text never flagged, the exact
n-gram rule and the containment rule equal to brute-force references, the clean re-score."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from leakage_corpus import Corpus
from metric_strategies import CHECK

from llaso_pytest import metrics
from llaso_pytest.metrics.leakage import (
    LeakageError,
    leakage,
    rescore_clean,
    words,
)


@pytest.fixture(scope="module")
def planted() -> tuple[Corpus, object, list[tuple[str, str]]]:
    corpus = Corpus(seed=3, n_eval=400)
    plan = corpus.plant(n_train=4000, n_exact=40, n_edited=60)
    return corpus, plan, list(corpus.training(4000, plan))


@pytest.mark.parametrize("near", ["index", "minhash"])
def test_planted_copies_are_found_and_nothing_else(planted, near) -> None:
    pytest.importorskip("datasketch")
    corpus, plan, train = planted
    res = leakage(corpus.eval_texts, iter(train), ids=corpus.eval_ids, near=near)
    flagged = set(res.flagged)
    exact = np.mean([i in flagged for i in plan.exact_ids])
    edited = np.mean([i in flagged for i in plan.edited_ids])
    assert exact == 1.0  # a verbatim copy (case and punctuation changed) always has a 13-gram
    assert edited >= 0.95
    assert flagged <= plan.planted_ids, f"unplanted items flagged: {flagged - plan.planted_ids}"
    assert res.n_train == 4000
    # evidence names the planting document and the item's words
    docs = {corpus.eval_ids[i]: f"doc{d}" for d, i in {**plan.exact, **plan.edited}.items()}
    for item in res.flagged:
        ev = res.evidence[item]
        assert ev[0].train_id == docs[item]
        assert all(span in " ".join(words(corpus.eval_texts[int(item[1:])])) for span in
                   ev[0].spans)
        assert ev[0].train_excerpt and 0 < ev[0].containment <= 1
    for item in plan.exact_ids:
        (ev,) = res.evidence[item]
        assert ev.kind == "ngram" and ev.spans == (" ".join(words(
            corpus.eval_texts[int(item[1:])])),)


def test_shuffled_and_unrelated_text_is_never_flagged() -> None:
    corpus = Corpus(seed=5, n_eval=300)
    rng = np.random.default_rng(1)
    shuffled = []
    for k, toks in enumerate(corpus.eval_tokens):  # every eval word, in another order
        t = list(toks)
        rng.shuffle(t)
        shuffled.append((f"s{k}", " ".join(t)))
    train = shuffled + list(corpus.training(2000))
    for near in ("index", "minhash"):
        res = leakage(corpus.eval_texts, train, ids=corpus.eval_ids, near=near)
        assert res.flagged == (), res.evidence


def _brute_ngram(eval_texts: list[str], train: list[str], n: int) -> set[int]:
    """The decontamination rule, literally: any n-gram (whole item when shorter) of the item
    occurs in a training document."""
    flagged = set()
    for i, e in enumerate(eval_texts):
        ew = words(e)
        k = min(n, len(ew))
        grams = {tuple(ew[j:j + k]) for j in range(len(ew) - k + 1)}
        for t in train:
            tw = words(t)
            if grams & {tuple(tw[j:j + k]) for j in range(len(tw) - k + 1)}:
                flagged.add(i)
                break
    return flagged


def _brute_containment(eval_texts: list[str], train: list[str], k: int, t: float) -> set[int]:
    flagged = set()
    for i, e in enumerate(eval_texts):
        ew = words(e)
        es = {tuple(ew[j:j + k]) for j in range(len(ew) - k + 1)}
        if not es:
            continue
        for doc in train:
            tw = words(doc)
            ts = {tuple(tw[j:j + k]) for j in range(len(tw) - k + 1)}
            if len(es & ts) >= math.ceil(t * len(es) - 1e-9):
                flagged.add(i)
                break
    return flagged


SMALL = ["a", "b", "c", "d", "A", "b,", "c.", "e"]
texts = st.lists(st.sampled_from(SMALL), min_size=1, max_size=14).map(" ".join)


@CHECK
@given(st.lists(texts, min_size=1, max_size=6), st.lists(texts, min_size=1, max_size=6),
       st.integers(2, 5), st.sampled_from([0.3, 0.5, 1.0]))
def test_equal_to_brute_force_rules(evals: list[str], train: list[str], n: int,
                                    t: float) -> None:
    exact = leakage(evals, train, n=n, near=None)
    assert {int(i) for i in exact.flagged} == _brute_ngram(evals, train, n)
    both = leakage(evals, train, n=n, shingle=2, threshold=t, near="index")
    assert {int(i) for i in both.flagged} == (
        _brute_ngram(evals, train, n) | _brute_containment(evals, train, 2, t))


def test_provenance_names_the_training_corpus_and_changes_with_it() -> None:
    train = [("d1", "some text here"), ("d2", "more text")]
    res = leakage(["nothing in common at all"], iter(train))
    h = hashlib.sha256(b"d1\0some text here\nd2\0more text\n").hexdigest()
    assert res.provenance["train_sha256"] == h
    assert res.provenance["train_docs"] == 2 and res.provenance["n"] == 13
    edited = leakage(["nothing in common at all"], [("d1", "some text here"), ("d2", "more")])
    assert edited.provenance["train_sha256"] != h
    assert res.to_dict()["kind"] == "llaso-leakage"


def test_bad_input_is_refused_with_the_reason() -> None:
    with pytest.raises(LeakageError, match="no eval items"):
        leakage([], ["x"])
    with pytest.raises(LeakageError, match=r"eval_texts\[1\] is NoneType"):
        leakage(["a", None], ["x"])  # type: ignore[list-item]
    with pytest.raises(LeakageError, match="duplicate ids"):
        leakage(["a", "b"], ["x"], ids=["q", "q"])
    with pytest.raises(LeakageError, match="training side is empty"):
        leakage(["a b c"], [])
    with pytest.raises(LeakageError, match="training document 1 is int"):
        leakage(["a b c"], ["x", 3])  # type: ignore[list-item]
    with pytest.raises(LeakageError, match="without any word: '0'"):
        leakage(["..."], ["x"])
    with pytest.raises(LeakageError, match="threshold"):
        leakage(["a"], ["x"], threshold=0)
    with pytest.raises(LeakageError, match="near must be"):
        leakage(["a"], ["x"], near="jaccard")  # type: ignore[arg-type]


def _contaminated_em(rng: np.random.Generator, n: int, n_bad: int
                     ) -> tuple[list[str], list[str], list[str]]:
    correct = np.r_[rng.random(n_bad) < 0.9, rng.random(n - n_bad) < 0.6]
    refs = [f"answer {i}" for i in range(n)]
    hyps = [r if c else "wrong" for r, c in zip(refs, correct.tolist(), strict=True)]
    return refs, hyps, [f"q{i}" for i in range(n)]


def test_rescore_clean_equals_the_metric_on_the_clean_items() -> None:
    rng = np.random.default_rng(0)
    refs, hyps, ids = _contaminated_em(rng, 300, 30)
    em = metrics.exact_match(refs, hyps, ids=ids)
    evals = [f"question number {i} about topic {i * 7} with words" for i in range(300)]
    train = [evals[i] for i in range(30)]
    check = leakage(evals, train, ids=ids, n=5)
    assert set(check.flagged) == set(ids[:30])
    cmp = rescore_clean(em, check, n_boot=2000)
    direct = metrics.exact_match(refs[30:], hyps[30:], ids=ids[30:])
    assert cmp.clean.value == pytest.approx(direct.value)
    assert cmp.full == pytest.approx(em.value)
    assert cmp.delta == pytest.approx(direct.value - em.value)
    assert cmp.n_flagged == 30 and cmp.clean.n == 270
    assert cmp.clean.signature.fields["subset"] == "leakage-clean"
    assert cmp.ci is not None and cmp.ci[0] <= cmp.delta <= cmp.ci[1]
    assert "comes from 30 contaminated of 300 items" in cmp.summary()
    with pytest.raises(LeakageError, match="not items of"):
        rescore_clean(metrics.exact_match(refs[:10], hyps[:10], ids=ids[:10]), check)


def test_clean_delta_interval_covers_the_contamination_effect() -> None:
    """Seeded simulation: 10% contaminated items answered right 90% of the time, clean ones
    60%; the expected full-minus-clean effect is 0.1 * (0.9 - 0.6) = 0.03. The paired
    interval of clean - full covers -0.03 at about its 95% level."""
    from llaso_pytest.metrics.leakage import LeakageResult

    rng = np.random.default_rng(42)
    n, n_bad, sims, hits = 300, 30, 300, 0
    ids = [f"q{i}" for i in range(n)]
    check = LeakageResult(ids=tuple(ids), flagged=tuple(ids[:n_bad]), evidence={}, matches={},
                          provenance={"train_sha256": "0" * 64}, n_train=1)
    for _ in range(sims):
        correct = np.r_[rng.random(n_bad) < 0.9, rng.random(n - n_bad) < 0.6].astype(float)
        em = metrics.from_values("em", items=correct.tolist(), ids=ids, n_boot=0)
        cmp = rescore_clean(em, check, n_boot=1000, seed=int(rng.integers(1 << 30)))
        hits += cmp.ci[0] <= -0.03 <= cmp.ci[1]
    assert 0.91 <= hits / sims <= 0.99, hits / sims
