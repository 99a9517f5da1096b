"""Seeded additive noise at a target SNR measured on speech frames, not on silence.

The SNR of a mix is ``10 log10(P_speech / P_noise)`` where both powers are averaged over the
*active speech frames* of the clean signal: 20 ms frames whose energy is within
``vad_rel_db`` (30 dB) of the clean signal's 95th-percentile frame energy. Measuring over the
whole clip would let leading/trailing silence lower the speech power and make "10 dB" mean
something different for every utterance.

Noise is drawn from ``numpy.random.default_rng`` seeded by (run seed, utterance id, noise
kind, SNR) through sha256, so the same utterance gets the same noise in every run and in any
test order. White noise is i.i.d. Gaussian; pink noise has a 1/f power spectrum (-3 dB per
octave), made by shaping Gaussian white noise in the frequency domain.

If the mix would clip (peak above 1.0), the whole mix is scaled down; that keeps the SNR and
is recorded in ``Mix.scaled``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from llaso_pytest.speech.errors import AudioError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = [
    "Condition",
    "Mix",
    "NoiseSpec",
    "active_mask",
    "make_noise",
    "mix_at_snr",
    "noise_seed",
    "parse_condition",
    "snr_db",
]

NoiseKind = Literal["white", "pink"]


@dataclass(frozen=True)
class NoiseSpec:
    """Parameters of the speech-frame detector used for SNR (part of the recipe)."""

    frame_ms: float = 20.0
    vad_rel_db: float = 30.0
    ref_percentile: float = 95.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "snr_reference": "active speech frames of the clean signal",
            "frame_ms": self.frame_ms,
            "vad_rel_db": self.vad_rel_db,
            "ref_percentile": self.ref_percentile,
            "rng": "numpy.random.default_rng(seed, sha256(utt|kind|snr))",
            "clip_guard": "scale whole mix to peak 0.999 when it would clip",
        }


@dataclass(frozen=True)
class Condition:
    """An acoustic condition: ``clean`` or ``<white|pink>`` noise at ``snr_db``."""

    noise: Literal["none", "white", "pink"]
    snr_db: float | None = None

    @property
    def name(self) -> str:
        if self.noise == "none":
            return "clean"
        assert self.snr_db is not None
        return f"{self.noise}-{self.snr_db:g}dB"

    @property
    def is_clean(self) -> bool:
        return self.noise == "none"


def parse_condition(text: str) -> Condition:
    """Parse ``clean``, ``white-10dB``, ``pink-5`` ... into a :class:`Condition`."""
    t = text.strip().lower()
    if t == "clean":
        return Condition("none")
    kind, sep, snr = t.partition("-")
    snr = snr.removesuffix("db")
    if not sep or kind not in ("white", "pink"):
        raise ValueError(
            f"unknown acoustic condition {text!r}; use 'clean' or '<white|pink>-<snr>dB', "
            "e.g. 'pink-10dB'"
        )
    try:
        value = float(snr)
    except ValueError:
        raise ValueError(f"condition {text!r}: SNR {snr!r} is not a number") from None
    return Condition(kind, value)  # type: ignore[arg-type]


def noise_seed(seed: int, utterance_id: str, kind: str, snr: float) -> list[int]:
    """Seed sequence for one utterance's noise: independent of test order and process."""
    digest = hashlib.sha256(f"{utterance_id}|{kind}|{snr:g}".encode()).digest()
    return [int(seed) & 0xFFFFFFFFFFFFFFFF, int.from_bytes(digest[:8], "little")]


def make_noise(kind: str, n: int, rng: np.random.Generator) -> npt.NDArray[np.float64]:
    """``n`` samples of zero-mean, unit-variance white or pink noise from ``rng``."""
    import numpy as np

    if n <= 0:
        raise ValueError(f"noise length must be positive, got {n}")
    white = rng.standard_normal(n)
    if kind == "white":
        out = white
    elif kind == "pink":
        spec = np.fft.rfft(white)
        f = np.arange(spec.size, dtype=np.float64)
        f[0] = 1.0  # leave DC unscaled; removed below
        spec = spec / np.sqrt(f)
        spec[0] = 0.0
        out = np.fft.irfft(spec, n)
    else:
        raise ValueError(f"unknown noise kind {kind!r}; use 'white' or 'pink'")
    out = out - out.mean()
    return out / out.std()  # type: ignore[no-any-return]


def active_mask(
    clean: npt.NDArray[Any], sample_rate: int, *, spec: NoiseSpec = NoiseSpec()
) -> npt.NDArray[np.bool_]:
    """Per-sample mask of the clean signal's active speech frames (see module docstring)."""
    import numpy as np

    x = np.asarray(clean, dtype=np.float64)
    flen = max(1, round(sample_rate * spec.frame_ms / 1000.0))
    nframes = int(np.ceil(x.size / flen))
    padded = np.zeros(nframes * flen)
    padded[: x.size] = x
    energy = (padded.reshape(nframes, flen) ** 2).mean(axis=1)
    ref = float(np.percentile(energy, spec.ref_percentile))
    if ref <= 0.0:
        raise AudioError("clip has no speech energy (digital silence); an SNR cannot be defined")
    active = energy >= ref * 10.0 ** (-spec.vad_rel_db / 10.0)
    return np.repeat(active, flen)[: x.size]


def snr_db(
    clean: npt.NDArray[Any], noise: npt.NDArray[Any], mask: npt.NDArray[np.bool_]
) -> float:
    """SNR in dB of ``clean`` against ``noise`` over the samples where ``mask`` is true."""
    import numpy as np

    c = np.asarray(clean, dtype=np.float64)[mask]
    n = np.asarray(noise, dtype=np.float64)[mask]
    return float(10.0 * np.log10(np.mean(c * c) / np.mean(n * n)))


@dataclass(frozen=True)
class Mix:
    """A noisy signal and what went into it."""

    samples: npt.NDArray[np.float32]
    noise_gain: float
    scaled: float
    active_fraction: float


def mix_at_snr(
    clean: npt.NDArray[Any],
    sample_rate: int,
    *,
    kind: str,
    snr: float,
    seed: int | Sequence[int],
    spec: NoiseSpec = NoiseSpec(),
) -> Mix:
    """Add ``kind`` noise to ``clean`` so that the speech-frame SNR is exactly ``snr`` dB."""
    import numpy as np

    x = np.asarray(clean, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise AudioError(f"mix_at_snr needs a non-empty mono signal, got shape {x.shape}")
    mask = active_mask(x, sample_rate, spec=spec)
    rng = np.random.default_rng(seed)
    noise = make_noise(kind, x.size, rng)
    p_speech = float(np.mean(x[mask] ** 2))
    p_noise = float(np.mean(noise[mask] ** 2))
    gain = float(np.sqrt(p_speech / (p_noise * 10.0 ** (snr / 10.0))))
    y = x + gain * noise
    peak = float(np.abs(y).max())
    scale = 1.0
    if peak > 0.999:
        scale = 0.999 / peak
        y = y * scale
    return Mix(
        samples=y.astype(np.float32),
        noise_gain=gain,
        scaled=scale,
        active_fraction=float(mask.mean()),
    )
