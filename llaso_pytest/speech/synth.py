"""Deterministic synthesised speech with known transcripts, from Debian's ``flite``.

flite is deterministic: the same voice, text and flite build give byte-identical WAVs. Each
generated file is cached under a cache directory (default ``.llaso/cache/speech/flite``),
keyed by flite version, voice and text, written atomically, and verified against the sha256
pinned in the dataset manifest. A different hash means a different flite build (or a corrupt
cache file, which is regenerated once) and is an error naming the voice, the sentence, both
hashes and the fix: scores on different audio are not comparable.

Voices of the Debian package (``flite -lv``): ``kal16`` (US male, diphone), ``rms`` (US male),
``slt`` (US female), ``awb`` (Scottish English male, the accent condition), ``kal``
(US male at 8 kHz: a telephone-band condition that needs explicit resampling).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from llaso_pytest.speech.errors import SynthesisError
from llaso_pytest.speech.manifest import sha256_file

__all__ = ["FLITE_VOICES", "FliteSynth", "flite_version", "synth_key"]

FLITE_VOICES: dict[str, dict[str, str | int]] = {
    "kal16": {"accent": "en-US", "sex": "male", "method": "diphone", "sample_rate": 16000},
    "rms": {"accent": "en-US", "sex": "male", "method": "clustergen", "sample_rate": 16000},
    "slt": {"accent": "en-US", "sex": "female", "method": "clustergen", "sample_rate": 16000},
    "awb": {"accent": "en-GB-scotland", "sex": "male", "method": "clustergen",
            "sample_rate": 16000},
    "kal": {"accent": "en-US", "sex": "male", "method": "diphone", "sample_rate": 8000},
}

_FIX_INSTALL = "install the Debian package: apt-get install flite"


def _flite() -> str:
    exe = shutil.which("flite")
    if exe is None:
        raise SynthesisError(f"the 'flite' program is not on PATH; {_FIX_INSTALL}")
    return exe


@lru_cache(maxsize=1)
def flite_version() -> str:
    """flite's version line, e.g. ``flite-2.2-current Sep 2018``."""
    out = subprocess.run(
        [_flite(), "--version"], capture_output=True, text=True, check=False, timeout=30
    )
    for line in (out.stdout + out.stderr).splitlines():
        if "version:" in line:
            return line.split("version:", 1)[1].strip().split(" (")[0]
    raise SynthesisError(f"could not read flite's version from {out.stdout!r}")


def synth_key(voice: str, text: str, version: str) -> str:
    """Cache key of one synthesis: sha256 of (flite version, voice, text)."""
    return hashlib.sha256(f"{version}\x00{voice}\x00{text}".encode()).hexdigest()[:24]


@dataclass(frozen=True)
class FliteSynth:
    """Synthesise ``text`` with a flite ``voice`` into a cached, hash-verified WAV."""

    cache_dir: Path

    def path_for(self, voice: str, text: str) -> Path:
        return self.cache_dir / voice / f"{synth_key(voice, text, flite_version())}.wav"

    def _run(self, voice: str, text: str, out: Path) -> None:
        if voice not in FLITE_VOICES:
            raise SynthesisError(
                f"unknown flite voice {voice!r}; the Debian flite package ships "
                f"{sorted(FLITE_VOICES)}"
            )
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=".wav.tmp", dir=out.parent)
        os.close(fd)
        try:
            proc = subprocess.run(
                [_flite(), "-voice", voice, "-t", text, "-o", tmp],
                capture_output=True,
                text=True,
                check=False,
                timeout=120,
            )
            if proc.returncode != 0 or os.path.getsize(tmp) <= 44:
                raise SynthesisError(
                    f"flite -voice {voice} failed on {text!r} (exit {proc.returncode}): "
                    f"{proc.stderr.strip()[-500:]}"
                )
            os.replace(tmp, out)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def get(self, voice: str, text: str, *, sha256: str | None = None, item: str = "") -> Path:
        """Path of the synthesised WAV, generating it when absent; verified when ``sha256``."""
        path = self.path_for(voice, text)
        if path.is_file() and (sha256 is None or sha256_file(path) == sha256):
            return path
        # Absent, or a cache file that differs from the pin (corrupt/stale): generate afresh.
        self._run(voice, text, path)
        if sha256 is not None:
            actual = sha256_file(path)
            if actual != sha256:
                raise SynthesisError(
                    f"synthesised audio for {item or text!r} (voice {voice}, flite "
                    f"{flite_version()}) has sha256 {actual}, but the dataset manifest pins "
                    f"{sha256}. This flite build produces different audio, so scores would not "
                    "be comparable with the baseline. Fix: install the pinned flite (Debian "
                    "flite 2.2-5), or regenerate the pins deliberately with `python -m "
                    "llaso_pytest.speech.datasets --update-synth-hashes` and start a new baseline."
                )
        return path
