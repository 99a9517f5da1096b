"""Noise: the SNR measured on the mixed signal equals the target on speech frames; seeded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llaso_pytest.speech.audio import Recipe, load_audio
from llaso_pytest.speech.errors import AudioError
from llaso_pytest.speech.noise import (
    Condition,
    active_mask,
    make_noise,
    mix_at_snr,
    noise_seed,
    parse_condition,
    snr_db,
)

SR = 16000


def _speech_like(seed: int, *, silence_s: float = 1.0) -> np.ndarray:
    """Amplitude-modulated harmonic bursts with leading/trailing digital silence."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(1.5 * SR)) / SR
    f0 = rng.uniform(90, 220)
    voiced = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 8))
    env = 0.5 * (1 + np.sin(2 * np.pi * 3.0 * t)) * rng.uniform(0.05, 0.5)
    pad = np.zeros(int(silence_s * SR))
    return np.concatenate([pad, voiced * env, pad])


def _measured(clean: np.ndarray, mixed: np.ndarray, scaled: float) -> float:
    """SNR recomputed from the output: noise = mix - scaled clean, over speech frames."""
    mask = active_mask(clean, SR)
    noise = mixed.astype(np.float64) - scaled * clean
    return snr_db(scaled * clean, noise, mask)


@pytest.mark.parametrize("kind", ["white", "pink"])
@pytest.mark.parametrize("snr", [20.0, 10.0, 5.0, 0.0])
def test_snr_on_real_speech_measured_on_the_mix(librivox_wav: Path, kind: str, snr: float) -> None:
    clean = load_audio(librivox_wav, recipe=Recipe()).samples.astype(np.float64)
    mix = mix_at_snr(clean, SR, kind=kind, snr=snr, seed=noise_seed(0, "u1", kind, snr))
    assert _measured(clean, mix.samples, mix.scaled) == pytest.approx(snr, abs=0.02)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    snr=st.floats(-5.0, 30.0),
    kind=st.sampled_from(["white", "pink"]),
)
def test_snr_property_on_synthetic_speech(seed: int, snr: float, kind: str) -> None:
    clean = _speech_like(seed)
    mix = mix_at_snr(clean, SR, kind=kind, snr=snr, seed=seed)
    assert _measured(clean, mix.samples, mix.scaled) == pytest.approx(snr, abs=0.02)
    assert np.abs(mix.samples).max() <= 0.999 + 1e-6  # clip guard


def test_silence_does_not_count_as_speech() -> None:
    clean = _speech_like(1, silence_s=3.0)  # mostly silence
    mix = mix_at_snr(clean, SR, kind="white", snr=10.0, seed=1)
    noise = mix.samples / mix.scaled - clean
    whole_clip = 10 * np.log10(np.mean(clean**2) / np.mean(noise**2))
    assert whole_clip < 5.0  # the naive full-clip SNR would be far lower than the target
    assert mix.active_fraction < 0.4
    mask = active_mask(clean, SR)
    assert not mask[: SR // 2].any() and not mask[-SR // 2 :].any()


def test_noise_is_deterministic_and_per_utterance() -> None:
    clean = _speech_like(3)
    a = mix_at_snr(clean, SR, kind="pink", snr=5, seed=noise_seed(7, "utt-a", "pink", 5))
    b = mix_at_snr(clean, SR, kind="pink", snr=5, seed=noise_seed(7, "utt-a", "pink", 5))
    c = mix_at_snr(clean, SR, kind="pink", snr=5, seed=noise_seed(7, "utt-b", "pink", 5))
    d = mix_at_snr(clean, SR, kind="pink", snr=5, seed=noise_seed(8, "utt-a", "pink", 5))
    assert a.samples.tobytes() == b.samples.tobytes()
    assert a.samples.tobytes() != c.samples.tobytes()
    assert a.samples.tobytes() != d.samples.tobytes()
    assert noise_seed(0, "x", "white", 10) == noise_seed(0, "x", "white", 10.0)


def _slope_db_per_decade(x: np.ndarray) -> float:
    spec = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(len(x), 1 / SR)
    band = (f > 50) & (f < 7000)
    # average in log-spaced bins to tame the periodogram's variance
    edges = np.logspace(np.log10(50), np.log10(7000), 25)
    idx = np.digitize(f[band], edges)
    fb = np.array([f[band][idx == i].mean() for i in np.unique(idx)])
    pb = np.array([spec[band][idx == i].mean() for i in np.unique(idx)])
    return float(np.polyfit(np.log10(fb), 10 * np.log10(pb), 1)[0])


def test_white_and_pink_spectra() -> None:
    rng = np.random.default_rng(0)
    white = make_noise("white", 2**18, rng)
    pink = make_noise("pink", 2**18, rng)
    for x in (white, pink):
        assert abs(x.mean()) < 1e-9 and x.std() == pytest.approx(1.0)
    assert _slope_db_per_decade(white) == pytest.approx(0.0, abs=0.5)
    assert _slope_db_per_decade(pink) == pytest.approx(-10.0, abs=0.7)  # 1/f: -3 dB/octave


def test_errors() -> None:
    with pytest.raises(AudioError, match="digital silence"):
        mix_at_snr(np.zeros(SR), SR, kind="white", snr=10, seed=0)
    with pytest.raises(AudioError, match="non-empty mono"):
        mix_at_snr(np.zeros(0), SR, kind="white", snr=10, seed=0)
    with pytest.raises(ValueError, match="unknown noise kind"):
        make_noise("brown", 10, np.random.default_rng(0))


@pytest.mark.parametrize(
    ("text", "expected"),
    [("clean", Condition("none")), ("white-10dB", Condition("white", 10.0)),
     ("Pink-5", Condition("pink", 5.0)), ("white-2.5dB", Condition("white", 2.5))],
)
def test_parse_condition(text: str, expected: Condition) -> None:
    assert parse_condition(text) == expected
    assert parse_condition(expected.name) == expected


@pytest.mark.parametrize("bad", ["babble-10dB", "white", "white-loud"])
def test_parse_condition_rejects(bad: str) -> None:
    with pytest.raises(ValueError, match=bad):
        parse_condition(bad)
