"""Shared set-up of the shipped ASR suite: which utterances it evaluates.

Everything else comes from the plugin's public fixtures, as for a team's own corpus:
``llaso_asr_engine`` runs each test once per engine, ``llaso_asr(corpus, condition=...)``
decodes a corpus once per session (transcripts cached on disk) and records WER/CER with
speaker-cluster CIs and the timing results; data comes from ``llaso_speech_datasets``
(hash-verified, flite audio synthesised and cached).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from llaso_pytest.speech.corpus import AsrCorpus

from asr_settings import (
    ASR_FIXTURES,
    CLEAN_SENTENCES,
    NOISY_LIBRIVOX,
    NOISY_SENTENCES,
    NOISY_VOICES,
)


@pytest.fixture(scope="session")
def asr_corpora(
    llaso_speech_datasets: Callable[[str | Path], Any],
) -> dict[str, AsrCorpus]:
    """The clean and noisy corpora (materialised and hash-verified)."""
    from llaso_pytest.speech.corpus import as_corpus

    real = llaso_speech_datasets(ASR_FIXTURES / "pocketsphinx_testdata.json")
    synth = llaso_speech_datasets(ASR_FIXTURES / "flite_harvard.json")
    clean_synth = [u for u in synth.utterances if u.tags.get("sentence") in CLEAN_SENTENCES]
    noisy_real = real.select(ids=NOISY_LIBRIVOX).utterances
    noisy_synth = [
        u
        for u in synth.utterances
        if u.voice in NOISY_VOICES and u.tags.get("sentence") in NOISY_SENTENCES
    ]
    return {
        "clean": as_corpus([*real.utterances, *clean_synth], name="clean"),
        "noisy": as_corpus([*noisy_real, *noisy_synth], name="noisy"),
    }
