"""Whisper tiny.en on CUDA (float16): same gate as on CPU, device recorded. Skipped without GPU."""

from __future__ import annotations

from typing import Any

import pytest
from asr_settings import NORMALIZE
from asr_thresholds import CLEAN_WER_MAX

pytestmark = [pytest.mark.asr, pytest.mark.speech, pytest.mark.clean, pytest.mark.gpu]

GPU_MODEL = "whisper-tiny.en"


def test_whisper_on_cuda(llaso_speech_models: Any, llaso_asr: Any, asr_corpora: Any,
                         llaso_speech_settings: Any) -> None:
    model = llaso_speech_models.get(GPU_MODEL, device="cuda")
    info = model.recognizer.describe()
    assert info["device"] == "cuda"
    assert info["dtype"] == "float16"
    scores = llaso_asr(asr_corpora["clean"], engine=GPU_MODEL, device="cuda",
                       warmup=max(1, llaso_speech_settings.warmup), normalize=NORMALIZE)
    assert scores.wer < CLEAN_WER_MAX[GPU_MODEL]
