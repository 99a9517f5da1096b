"""Pinned audio folders: ``llaso-audio.json`` lists every audio file under a folder with its
sha256, size, duration and sample rate.

``python -m llaso_pytest.speech.manifest pin DIR`` writes it (and shows what changed since the
last pin); :mod:`llaso_pytest.cases` checks every audio file a dataset refers to against the
pins of the folder it lives in, as the shipped dataset manifests pin theirs: a file that
differs, or one the pins do not list, is an error naming the case, the file and the fix.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from llaso_pytest.record import atomic_write_text
from llaso_pytest.speech.errors import ManifestError
from llaso_pytest.speech.manifest import sha256_file

__all__ = ["AUDIO_SUFFIXES", "PINS_FILE", "AudioPin", "AudioPins", "PinFinder", "pin_folder",
           "read_pins"]

PINS_FILE = "llaso-audio.json"
PINS_KIND = "llaso-audio-pins"
PINS_SCHEMA_VERSION = 1
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".opus", ".mp3", ".sph", ".aiff", ".aif", ".au",
                  ".m4a")


@dataclass(frozen=True)
class AudioPin:
    """One pinned file: path relative to the pinned folder (POSIX), sha256, size and, where
    the header could be read, duration (s) and sample rate."""

    path: str
    sha256: str
    size: int
    duration: float | None = None
    sample_rate: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "sha256": self.sha256, "size": self.size,
                "duration": self.duration, "sample_rate": self.sample_rate}


@dataclass(frozen=True)
class AudioPins:
    """The pins of one folder (``root``), read from ``source``."""

    root: Path
    source: Path
    files: Mapping[str, AudioPin]

    def relative(self, path: Path) -> str:
        return path.resolve().relative_to(self.root).as_posix()


def _header(path: Path) -> tuple[float | None, int | None]:
    """Duration and sample rate from the file header (soundfile, else the stdlib for WAV)."""
    try:
        import soundfile as sf
    except ImportError:  # pragma: no cover - installed with the [speech] extra
        sf = None
    if sf is not None:
        try:
            info = sf.info(os.fspath(path))
        except Exception:  # noqa: BLE001 - a format libsndfile cannot read: no header data
            return None, None
        return round(info.frames / info.samplerate, 6), int(info.samplerate)
    if path.suffix.lower() == ".wav":  # pragma: no cover - soundfile is installed
        import wave

        try:
            with wave.open(os.fspath(path)) as w:
                return round(w.getnframes() / w.getframerate(), 6), int(w.getframerate())
        except (wave.Error, EOFError):
            return None, None
    return None, None  # pragma: no cover


def _audio_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*")
                  if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)


def read_pins(path: str | os.PathLike[str]) -> AudioPins:
    """Read a ``llaso-audio.json``; a malformed one is an error naming it and the field."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ManifestError(f"{p}: cannot read the audio pins ({exc}); write them again with "
                            f"python -m llaso_pytest.speech.manifest pin {p.parent}") from None
    if not isinstance(data, dict) or data.get("kind") != PINS_KIND:
        raise ManifestError(f"{p}: not a llaso audio pins file (\"kind\": \"{PINS_KIND}\")")
    if data.get("schema_version") != PINS_SCHEMA_VERSION:
        raise ManifestError(f"{p}: schema_version {data.get('schema_version')!r}; this "
                            f"llaso-pytest reads {PINS_SCHEMA_VERSION}")
    files: dict[str, AudioPin] = {}
    entries = data.get("files")
    if not isinstance(entries, list):
        raise ManifestError(f"{p}: 'files' must be a list of pinned files")
    for i, f in enumerate(entries):
        try:
            pin = AudioPin(path=str(f["path"]), sha256=str(f["sha256"]), size=int(f["size"]),
                           duration=None if f.get("duration") is None else float(f["duration"]),
                           sample_rate=None if f.get("sample_rate") is None
                           else int(f["sample_rate"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ManifestError(f"{p}: files[{i}] is malformed ({type(exc).__name__}: {exc}); "
                                "each needs path, sha256 and size") from None
        files[pin.path] = pin
    return AudioPins(root=p.parent.resolve(), source=p, files=files)


def pin_folder(folder: str | os.PathLike[str]) -> tuple[Path, dict[str, list[str]]]:
    """Pin every audio file under ``folder`` into ``folder/llaso-audio.json``; returns the file
    and what changed since the previous pins (``added``, ``changed``, ``removed``)."""
    root = Path(folder)
    if not root.is_dir():
        raise ManifestError(f"{root}: not a folder (pin takes a folder of audio files)")
    out = root / PINS_FILE
    old = read_pins(out).files if out.is_file() else {}
    pins: list[AudioPin] = []
    for p in _audio_files(root):
        duration, rate = _header(p)
        pins.append(AudioPin(path=PurePosixPath(p.relative_to(root)).as_posix(),
                             sha256=sha256_file(p), size=p.stat().st_size, duration=duration,
                             sample_rate=rate))
    if not pins:
        raise ManifestError(f"{root}: no audio files to pin (suffixes "
                            f"{', '.join(AUDIO_SUFFIXES)})")
    new = {pin.path: pin for pin in pins}
    changes = {"added": sorted(set(new) - set(old)), "removed": sorted(set(old) - set(new)),
               "changed": sorted(k for k in set(new) & set(old)
                                 if new[k].sha256 != old[k].sha256)}
    doc = {"schema_version": PINS_SCHEMA_VERSION, "kind": PINS_KIND,
           "files": [pin.to_dict() for pin in pins]}
    atomic_write_text(out, json.dumps(doc, indent=1) + "\n")
    return out, changes


class PinFinder:
    """Finds the pins that cover an audio file: the nearest ``llaso-audio.json`` in its folder
    or a folder above it. Caches per folder (one instance per dataset load)."""

    def __init__(self) -> None:
        self._dirs: dict[Path, AudioPins | None] = {}

    def find(self, audio: Path) -> AudioPins | None:
        chain: list[Path] = []
        found: AudioPins | None = None
        for folder in audio.resolve().parents:
            if folder in self._dirs:
                found = self._dirs[folder]
                break
            chain.append(folder)
            if (folder / PINS_FILE).is_file():
                found = read_pins(folder / PINS_FILE)
                break
        for folder in chain:
            self._dirs[folder] = found
        return found
