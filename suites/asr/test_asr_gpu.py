"""Whisper tiny.en on CUDA (float16): same gate as on CPU, device recorded. Skipped without GPU."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from asr_thresholds import CLEAN_WER_MAX

from llaso_pytest.speech.noise import parse_condition
from llaso_pytest.speech.runner import run_condition

pytestmark = [pytest.mark.asr, pytest.mark.speech, pytest.mark.clean, pytest.mark.gpu]

GPU_MODEL = "whisper-tiny.en"


def test_whisper_on_cuda(
    llaso_speech_models: Any,
    asr_utterances: Any,
    llaso_speech_recipe: Any,
    llaso_seed: int,
    llaso_speech_settings: Any,
    record_asr: Callable[..., Any],
) -> None:
    model = llaso_speech_models.get(GPU_MODEL, device="cuda")
    info = model.recognizer.describe()
    assert info["device"] == "cuda"
    assert info["dtype"] == "float16"
    run = run_condition(
        model.recognizer,
        asr_utterances["clean"],
        condition=parse_condition("clean"),
        recipe=llaso_speech_recipe,
        seed=llaso_seed,
        warmup=max(1, llaso_speech_settings.warmup),
    )
    wer, _ = record_asr(run, model.pin)
    assert wer < CLEAN_WER_MAX[GPU_MODEL]
