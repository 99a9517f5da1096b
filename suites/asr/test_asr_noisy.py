"""ASR under additive white and pink noise at 20/10/5 dB (SNR on speech frames).

Each parametrised test is one cell of the noise-type x SNR breakdown: its WER carries a
speaker-cluster bootstrap CI, and the signature names the noise kind, SNR, seed and the
speech-frame detector, so only like-for-like cells are compared across runs.
"""

from __future__ import annotations

from typing import Any

import pytest
from asr_settings import NOISY_CONDITIONS, NORMALIZE
from asr_thresholds import empty_output_problem, noisy_gate

from llaso_pytest.metrics import get_normalizer
from llaso_pytest.speech.noise import parse_condition

pytestmark = [pytest.mark.asr, pytest.mark.speech, pytest.mark.noisy]


@pytest.mark.parametrize("condition", NOISY_CONDITIONS)
def test_noisy_wer(llaso_asr_engine: str, condition: str, llaso_asr: Any,
                   asr_corpora: Any) -> None:
    scores = llaso_asr(asr_corpora["noisy"], condition=condition, normalize=NORMALIZE)
    run, wer = scores.run, scores.wer
    # The same utterances without noise (decoded once per engine), for the degradation.
    clean = llaso_asr(asr_corpora["noisy"], normalize=NORMALIZE, record=False)
    assert clean.run.ids == run.ids
    clean.record(clean.wer, "wer/clean_same_utterances")
    cond = parse_condition(condition)
    assert cond.snr_db is not None
    assert wer.ci is not None
    problem = empty_output_problem(run.ids, run.references, list(run.hypotheses),
                                   normalize=get_normalizer(NORMALIZE))
    assert problem is None, problem
    assert wer < noisy_gate(llaso_asr_engine, cond.snr_db)
