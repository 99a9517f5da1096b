"""ASR under additive white and pink noise at 20/10/5 dB (SNR on speech frames).

Each parametrised test is one cell of the noise-type x SNR breakdown: its WER carries a
speaker-cluster bootstrap CI, and the signature names the noise kind, SNR, seed and the
speech-frame detector, so only like-for-like cells are compared across runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from asr_settings import N_BOOT, NOISY_CONDITIONS, NORMALIZE
from asr_thresholds import empty_output_problem, noisy_gate

from llaso_pytest import metrics
from llaso_pytest.metrics import get_normalizer
from llaso_pytest.speech.noise import parse_condition

pytestmark = [pytest.mark.asr, pytest.mark.speech, pytest.mark.noisy]


@pytest.mark.parametrize("condition", NOISY_CONDITIONS)
def test_noisy_wer(
    asr_engine: str,
    condition: str,
    asr_runs: Any,
    record_asr: Callable[..., Any],
    record_metric: Any,
    llaso_seed: int,
) -> None:
    run, pin = asr_runs.get(asr_engine, condition, "noisy")
    wer, _cer = record_asr(run, pin)
    # The same utterances without noise (decoded once per engine), for the degradation.
    clean, _ = asr_runs.get(asr_engine, "clean", "noisy")
    assert clean.ids == run.ids
    base = metrics.wer(clean.references, list(clean.hypotheses), ids=clean.ids,
                       groups=clean.speakers, normalize=NORMALIZE, n_boot=N_BOOT,
                       seed=llaso_seed, signature_extra=clean.signature_extra(pin))
    record_metric(base, name="wer/clean_same_utterances")
    cond = parse_condition(condition)
    assert cond.snr_db is not None
    assert wer.ci is not None
    problem = empty_output_problem(run.ids, run.references, list(run.hypotheses),
                                   normalize=get_normalizer(NORMALIZE))
    assert problem is None, problem
    assert wer < noisy_gate(asr_engine, cond.snr_db)
