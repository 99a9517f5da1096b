"""Clean-speech ASR evaluation: WER/CER gates with speaker-cluster CIs, and breakdowns."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from asr_settings import N_BOOT, NORMALIZE, PROPER_NOUNS
from asr_thresholds import (
    CLEAN_CER_MAX,
    CLEAN_WER_CI_HIGH_MAX,
    CLEAN_WER_MAX,
    LIBRIVOX_WER_MAX,
    empty_output_problem,
)

from llaso_pytest import metrics
from llaso_pytest.metrics import get_normalizer
from llaso_pytest.speech.datasets import length_bin

pytestmark = [pytest.mark.asr, pytest.mark.speech, pytest.mark.clean]


def test_clean_wer(
    asr_engine: str, asr_runs: Any, record_asr: Callable[..., Any], record_metric: Any
) -> None:
    """Corpus WER/CER on clean speech, gated on the value and the CI's upper end."""
    run, pin = asr_runs.get(asr_engine, "clean", "clean")
    wer, cer = record_asr(run, pin)
    assert wer.ci is not None, "7 speakers must give a cluster-bootstrap interval"
    problem = empty_output_problem(run.ids, run.references, list(run.hypotheses),
                                   normalize=get_normalizer(NORMALIZE))
    assert problem is None, problem
    assert wer < CLEAN_WER_MAX.get(asr_engine, 0.5)
    assert wer.ci[1] < CLEAN_WER_CI_HIGH_MAX.get(asr_engine, 0.7)
    assert cer < CLEAN_CER_MAX.get(asr_engine, 0.35)


def test_clean_breakdowns(
    asr_engine: str, asr_runs: Any, record_metric: Any, llaso_seed: int
) -> None:
    """WER with CI per speaker/voice and per utterance-length bin; error classes."""
    run, pin = asr_runs.get(asr_engine, "clean", "clean")
    sig = run.signature_extra(pin)
    hyps = list(run.hypotheses)

    speakers = sorted(set(run.speakers))
    for spk in speakers:
        ids, refs, hy, _ = run.subset([s == spk for s in run.speakers])
        # One speaker: the bootstrap resamples that speaker's utterances (no cluster left).
        res = metrics.wer(refs, hy, ids=ids, normalize=NORMALIZE, n_boot=N_BOOT,
                          seed=llaso_seed, signature_extra={**sig, "slice": f"speaker={spk}"})
        record_metric(res, name=f"wer/speaker={spk}")

    bins = [length_bin(u.duration) for u in run.utterances]
    for b in sorted(set(bins)):
        ids, refs, hy, spk = run.subset([x == b for x in bins])
        res = metrics.wer(refs, hy, ids=ids, groups=spk if len(set(spk)) > 1 else None,
                          normalize=NORMALIZE, n_boot=N_BOOT, seed=llaso_seed,
                          signature_extra={**sig, "slice": f"length={b}"})
        record_metric(res, name=f"wer/length={b}")

    accent = ["scottish" if u.tags.get("accent") == "en-GB-scotland" else "other"
              for u in run.utterances]
    ids, refs, hy, _ = run.subset([a == "scottish" for a in accent])
    if ids:
        res = metrics.wer(refs, hy, ids=ids, normalize=NORMALIZE, n_boot=N_BOOT, seed=llaso_seed,
                          signature_extra={**sig, "slice": "accent=en-GB-scotland"})
        record_metric(res, name="wer/accent=en-GB-scotland")

    # Error classes on the normalised reference words: numbers ("four", "fifty", "ten of
    # clubs") and the proper nouns of the LibriVox text (a term list: the transcripts are
    # lower-case, so capitalisation cannot find them). Top confusions go into ``extra``.
    full = metrics.wer(run.references, hyps, ids=run.ids, groups=run.speakers,
                       normalize=NORMALIZE, n_boot=0, signature_extra=sig)
    bd = metrics.error_breakdown(full, terms=PROPER_NOUNS)
    confusions = bd.to_record()["confusions"][:10]
    for cls, label in (("number", "numbers"), ("terms", "proper_nouns")):
        assert bd.classes[cls].total > 0, f"the clean set must contain {label} for this breakdown"
        # A speaker-cluster interval over the speakers whose references hold class words;
        # with fewer than 5 such speakers (the proper nouns: one LibriVox reader) the rate
        # is recorded without an interval, and a warning says n.
        res = bd.class_result(cls, n_boot=N_BOOT, seed=llaso_seed, signature_extra=sig,
                              extra={"top_confusions": confusions})
        record_metric(res, name=f"errors/{label}")
    # Every utterance is in exactly one length bin and one speaker slice.
    assert len(bins) == len(run.utterances) == len(run.speakers)


def test_librivox_real_speech(
    asr_engine: str, asr_runs: Any, record_metric: Any, llaso_seed: int
) -> None:
    """Real human read speech (LibriVox) only: the in-domain gate."""
    run, pin = asr_runs.get(asr_engine, "clean", "clean")
    ids, refs, hyps, _ = run.subset([u.tags.get("corpus") == "librivox" for u in run.utterances])
    assert len(ids) == 5, "the LibriVox utterances of pocketsphinx-testdata are all evaluated"
    res = metrics.wer(refs, hyps, ids=ids, normalize=NORMALIZE, n_boot=N_BOOT, seed=llaso_seed,
                      signature_extra={**run.signature_extra(pin), "slice": "corpus=librivox"})
    record_metric(res, name="wer/librivox")
    assert res < LIBRIVOX_WER_MAX.get(asr_engine, 0.5)
