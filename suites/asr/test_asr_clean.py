"""Clean-speech ASR evaluation: WER/CER gates with speaker-cluster CIs, and breakdowns."""

from __future__ import annotations

from typing import Any

import pytest
from asr_settings import NORMALIZE, PROPER_NOUNS
from asr_thresholds import (
    CLEAN_CER_MAX,
    CLEAN_WER_CI_HIGH_MAX,
    CLEAN_WER_MAX,
    LIBRIVOX_WER_MAX,
    empty_output_problem,
)

from llaso_pytest.metrics import get_normalizer

pytestmark = [pytest.mark.asr, pytest.mark.speech, pytest.mark.clean]


def test_clean_wer(llaso_asr_engine: str, llaso_asr: Any, asr_corpora: Any) -> None:
    """Corpus WER/CER on clean speech, gated on the value and the CI's upper end."""
    scores = llaso_asr(asr_corpora["clean"], normalize=NORMALIZE)
    wer, cer, run = scores.wer, scores.cer, scores.run
    assert wer.ci is not None, "7 speakers must give a cluster-bootstrap interval"
    problem = empty_output_problem(run.ids, run.references, list(run.hypotheses),
                                   normalize=get_normalizer(NORMALIZE))
    assert problem is None, problem
    assert wer < CLEAN_WER_MAX.get(llaso_asr_engine, 0.5)
    assert wer.ci[1] < CLEAN_WER_CI_HIGH_MAX.get(llaso_asr_engine, 0.7)
    assert cer < CLEAN_CER_MAX.get(llaso_asr_engine, 0.35)


def test_clean_breakdowns(llaso_asr_engine: str, llaso_asr: Any, asr_corpora: Any) -> None:
    """WER with CI per speaker/voice and per utterance-length bin; error classes."""
    scores = llaso_asr(asr_corpora["clean"], normalize=NORMALIZE, record=False)
    scores.record_speakers()
    lengths = scores.record_lengths()
    scores.record_slice("accent=en-GB-scotland",
                        lambda u: u.tags.get("accent") == "en-GB-scotland")
    # Error classes on the normalised reference words: numbers ("four", "fifty", "ten of
    # clubs") and the proper nouns of the LibriVox text (a term list: the transcripts are
    # lower-case, so capitalisation cannot find them). Top confusions go into ``extra``.
    # With fewer than 5 speakers holding class words (the proper nouns: one LibriVox
    # reader) the rate is recorded without an interval, and a warning says n.
    scores.record_error_classes(terms=PROPER_NOUNS,
                                classes={"number": "numbers", "terms": "proper_nouns"})
    # Every utterance is in exactly one length bin.
    assert sum(r.n for r in lengths.values()) == len(scores.run.utterances)


def test_librivox_real_speech(llaso_asr_engine: str, llaso_asr: Any, asr_corpora: Any) -> None:
    """Real human read speech (LibriVox) only: the in-domain gate."""
    scores = llaso_asr(asr_corpora["clean"], normalize=NORMALIZE, record=False)
    res = scores.record_slice("corpus=librivox", lambda u: u.tags.get("corpus") == "librivox",
                              name="wer/librivox")
    assert res is not None and res.n == 5, "the LibriVox utterances are all evaluated"
    assert res < LIBRIVOX_WER_MAX.get(llaso_asr_engine, 0.5)
