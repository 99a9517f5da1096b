"""Word-class error rates: n and the interval come from the units that carry class words."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from llaso_pytest import metrics
from llaso_pytest.errors import LlasoWarning
from llaso_pytest.stats import MIN_UNITS


def _corpus(n_utts: int, n_speakers: int, class_utts: dict[int, tuple[int, int]]) -> tuple[
    list[str], list[str], list[str]
]:
    """Utterances of plain words; utterance i in ``class_utts`` holds (words, errors) of the
    term "dashwood" (an error: the recogniser says "dash")."""
    refs, hyps, groups = [], [], []
    for i in range(n_utts):
        ref = ["he", "was", "not", "ill", "disposed"]
        hyp = list(ref)
        k, errs = class_utts.get(i, (0, 0))
        ref += ["dashwood"] * k
        hyp += ["dash"] * errs + ["dashwood"] * (k - errs)
        refs.append(" ".join(ref))
        hyps.append(" ".join(hyp))
        groups.append(f"spk{i % n_speakers}")
    return refs, hyps, groups


def test_all_class_words_from_one_speaker_give_no_interval_and_n_1() -> None:
    """The reviewer's case: 40 utterances, 7 speakers, every proper noun in one utterance.
    Before: n=40, ci=[0.5, 0.5] with hundreds of 0/0 resamples."""
    refs, hyps, groups = _corpus(40, 7, {0: (2, 1)})
    bd = metrics.error_breakdown(metrics.wer(refs, hyps, groups=groups, n_boot=0),
                                 terms=["dashwood"])
    with pytest.warns(LlasoWarning, match=r"n=1\b") as rec:
        res = bd.class_result("terms", n_boot=1000, seed=0)
    assert res.value == 0.5 and res.ci is None and res.n == 1
    assert not any("non-finite" in str(w.message) for w in rec)
    assert res.extra["n_units"] == 1 and res.extra["units"] == "groups with class words"
    assert res.signature.fields["units"] == "groups-with-class-words"


def test_without_groups_n_counts_the_items_with_class_words() -> None:
    refs, hyps, _ = _corpus(30, 1, {3: (1, 1), 9: (2, 0), 20: (1, 0)})
    bd = metrics.error_breakdown(metrics.wer(refs, hyps, n_boot=0), terms=["dashwood"])
    with pytest.warns(LlasoWarning, match=f"n=3.*at least {MIN_UNITS}"):
        res = bd.class_result("terms", n_boot=500, seed=0)
    assert res.n == 3 and res.ci is None and res.value == pytest.approx(1 / 4)
    assert res.signature.fields["units"] == "items-with-class-words"


def test_interval_resamples_only_carrying_units_so_every_resample_is_defined() -> None:
    """Class words in 6 of 12 speakers: an interval over those 6, and no 0/0 resample (the
    old resampling of all 12 speakers drew no class word in ~1.6% of resamples)."""
    class_utts = {i: (1 + i % 3, i % 2) for i in range(0, 60, 12)}  # speakers 0 only...
    class_utts.update({i: (2, 1) for i in (1, 2, 3, 4, 5)})  # ...and 1-5
    refs, hyps, groups = _corpus(60, 12, class_utts)
    bd = metrics.error_breakdown(metrics.wer(refs, hyps, groups=groups, n_boot=0),
                                 terms=["dashwood"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", LlasoWarning)
        res = bd.class_result("terms", n_boot=2000, seed=1)
    carrying = {g for g, k in zip(groups, bd.per_item["terms"][1], strict=True) if k > 0}
    assert res.n == len(carrying) == 6
    expected = bd.classes["terms"]
    assert res.value == pytest.approx(expected.errors / expected.total)
    assert res.ci is not None and 0.0 <= res.ci[0] < res.value < res.ci[1] <= 1.0
    # The record holds exactly the counts behind the number: the carrying utterances.
    stats = res.to_record()["items"]["stats"]
    assert all(w > 0 for w in stats["class_words"])
    assert sum(stats["class_words"]) == expected.total and sum(stats["errors"]) == expected.errors
    assert res.extra["n_items"] == 60


def test_class_rate_interval_is_reproducible_and_seeded() -> None:
    class_utts = {i: (1, i % 2) for i in range(0, 40, 3)}
    refs, hyps, groups = _corpus(40, 8, class_utts)
    bd = metrics.error_breakdown(metrics.wer(refs, hyps, groups=groups, n_boot=0),
                                 terms=["dashwood"])
    a = bd.class_result("terms", n_boot=300, seed=5)
    b = bd.class_result("terms", n_boot=300, seed=5)
    assert a.ci == b.ci and a.ci is not None
    assert np.isfinite(a.ci).all()
