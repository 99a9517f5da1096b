"""One evaluation pass: audio prepared before timing, manifest and signature complete."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from speech_testutil import ASR, need_testdata

from llaso_pytest.speech.audio import Recipe
from llaso_pytest.speech.datasets import load_dataset, materialize
from llaso_pytest.speech.engines import FunctionRecognizer
from llaso_pytest.speech.errors import AudioError
from llaso_pytest.speech.noise import parse_condition
from llaso_pytest.speech.runner import run_condition


def _utts(tmp_path: Path) -> Any:
    need_testdata()
    ds = load_dataset(ASR / "pocketsphinx_testdata.json").select(
        ids=["librivox-0880", "librivox-0930", "cards-003"])
    return materialize(ds, cache_dir=tmp_path).utterances


def test_run_condition_records_what_was_evaluated(tmp_path: Path) -> None:
    utts = _utts(tmp_path)
    seen: list[int] = []

    def fake_asr(x: np.ndarray) -> str:
        seen.append(len(x))
        time.sleep(0.01)
        return "he was not"

    rec = FunctionRecognizer("fake", fake_asr, info={"device": "cpu"})
    run = run_condition(rec, utts, condition=parse_condition("white-10dB"), recipe=Recipe(),
                        seed=5, warmup=1)
    assert len(seen) == 4  # one warm-up + three timed
    assert run.ids == ["librivox-0880", "librivox-0930", "cards-003"]
    assert run.hypotheses == ("he was not",) * 3
    assert run.speakers == ["librivox-austen-reader", "librivox-austen-reader", "cards-speaker"]
    assert run.timing.n == 3 and run.timing.audio_seconds == pytest.approx(
        sum(u.duration for u in utts), abs=1e-3)
    m = run.manifest
    assert m["n"] == 3 and [r["condition"] for r in m["utterances"]] == ["white-10dB"] * 3
    assert m["recipe"]["noise"]["seed"] == 5 and m["recipe"]["noise"]["snr_db"] == 10.0
    assert all(r["conversions"] == ["noise:white-10dB"] for r in m["utterances"])
    pin = {"name": "fake", "files": {"w.bin": "ab" * 32}, "options": {"beam": 5},
           "runtime": {"x": "1.0"}, "dtype": "int8", "device": "cpu"}
    sig = run.signature_extra(pin)
    assert sig["condition"] == "white-10dB" and sig["noise"].startswith("white@10dB,seed5")
    assert sig["recipe"] == Recipe().signature() and sig["data"] == m["sha256"][:16]
    assert {"model", "model_sha256", "model_options", "runtime", "dtype", "device"} <= set(sig)
    again = run_condition(rec, utts, condition=parse_condition("white-10dB"), recipe=Recipe(),
                          seed=5, warmup=0)
    assert again.manifest["sha256"] == m["sha256"]  # deterministic audio
    ids, refs, hyps, spk = run.subset([True, False, True])
    assert ids == ["librivox-0880", "cards-003"] and spk[1] == "cards-speaker"
    assert refs == [utts[0].text, utts[2].text] and hyps == ["he was not"] * 2


def test_sample_rate_mismatch_between_recogniser_and_recipe(tmp_path: Path) -> None:
    utts = _utts(tmp_path)
    rec = FunctionRecognizer("eight-k", lambda x: "", sample_rate=8000)
    with pytest.raises(AudioError, match="expects 8000 Hz"):
        run_condition(rec, utts, condition=parse_condition("clean"), recipe=Recipe(), seed=0)
