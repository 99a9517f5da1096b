"""Small datasets the loader tests write: WAV files, Kaldi directories, NeMo manifests."""

from __future__ import annotations

import json
import struct
import wave
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def write_wav(path: Path, seconds: float, *, rate: int = 16000, tone: int = 1) -> Path:
    """A mono 16-bit WAV of ``seconds`` (a square wave; ``tone`` makes files differ)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    n = int(round(seconds * rate))
    period = 20 + tone
    frames = b"".join(struct.pack("<h", 3000 if (i // period) % 2 else -3000) for i in range(n))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)
    return path


def write_lines(path: Path, lines: Sequence[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


def kaldi_dir(root: Path, utts: Mapping[str, tuple[str, str, float]], *,
              segments: bool = False) -> Path:
    """A Kaldi data dir ``root/data`` for ``{utt: (speaker, text, seconds)}`` with the audio
    in ``root/audio`` (one file per utterance, or one recording with segments)."""
    data = root / "data"
    audio = root / "audio"
    if segments:
        total = sum(s for _, _, s in utts.values())
        write_wav(audio / "rec1.wav", total)
        write_lines(data / "wav.scp", [f"rec1 {audio / 'rec1.wav'}"])
        start, seg = 0.0, []
        for utt, (_, _, seconds) in utts.items():
            seg.append(f"{utt} rec1 {start:.2f} {start + seconds:.2f}")
            start += seconds
        write_lines(data / "segments", seg)
    else:
        for i, (utt, (_, _, seconds)) in enumerate(utts.items()):
            write_wav(audio / f"{utt}.wav", seconds, tone=i)
        write_lines(data / "wav.scp", [f"{utt} ../audio/{utt}.wav" for utt in utts])
    write_lines(data / "text", [f"{utt} {text}" for utt, (_, text, _) in utts.items()])
    write_lines(data / "utt2spk", [f"{utt} {spk}" for utt, (spk, _, _) in utts.items()])
    return data


def write_jsonl(path: Path, rows: Sequence[Mapping[str, Any]]) -> Path:
    return write_lines(path, [json.dumps(r) for r in rows])
