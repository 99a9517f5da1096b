"""A Kaldi data directory: ``wav.scp``, ``text``, ``utt2spk``, optional ``segments`` and
``utt2dur``.

One case per utterance of ``text``, in its order, with the fields ``audio`` (the recording's
file, relative paths taken from the data directory or ``audio_root=``), ``text``, ``speaker``
(``utt2spk``), ``recording``, ``offset`` and ``duration`` in seconds (from ``segments``; else
``utt2dur``; else ``None``); a ``segments`` line also gives ``start`` and ``end`` (``None``
for Kaldi's ``-1``, the end of the recording), which the ASR corpus decodes as that interval
of the recording (:mod:`llaso_pytest.speech.corpus`). ``wav.scp`` entries that are commands
(``... |``) or archive offsets (``x.ark:12``) are refused: llaso runs no shell command, so
convert them to files.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from llaso_pytest.cases.core import CasesError, Reader, Row, Table, _register_builtin, sha256_file

REQUIRED = ("wav.scp", "text", "utt2spk")
OPTIONAL = ("segments", "utt2dur")
_ARK = re.compile(r"\.ark:\d+$")


def _is_kaldi(folder: Path) -> bool:
    return all((folder / name).is_file() for name in REQUIRED)


def _table(path: Path, *, value_required: bool = True) -> dict[str, tuple[str, int]]:
    """``KEY VALUE`` lines -> {key: (value, line)}; a duplicate key, a line without a value
    (when one is required) or bytes that are not UTF-8 are errors naming the line."""
    out: dict[str, tuple[str, int]] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        bad = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise CasesError(f"{path}:{bad}: not UTF-8; Kaldi data files are UTF-8 text") from None
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.strip().split(maxsplit=1)
        key = parts[0]
        value = parts[1].strip() if len(parts) > 1 else ""
        if value_required and not value:
            raise CasesError(f"{path}:{lineno}: {key!r} has no value (expected 'KEY VALUE')")
        if key in out:
            raise CasesError(f"{path}:{lineno}: duplicate key {key!r} (first on line "
                             f"{out[key][1]})")
        out[key] = (value, lineno)
    return out


def _seconds(value: str, what: str, where: str) -> float:
    try:
        x = float(value)
    except ValueError:
        raise CasesError(f"{where}: {what} {value!r} is not a number of seconds") from None
    if not math.isfinite(x):
        raise CasesError(f"{where}: {what} {value!r} is not a finite number of seconds")
    return x


def _audio_path(value: str, root: Path, where: str) -> str:
    if value.endswith("|"):
        raise CasesError(f"{where}: the recording is a command ({value!r}); llaso runs no "
                         "shell command: write the audio to a file (e.g. with sox) and list "
                         "the file in wav.scp")
    if _ARK.search(value):
        raise CasesError(f"{where}: the recording is an archive offset ({value!r}); extract it "
                         "to a WAV file and list the file in wav.scp")
    p = Path(value)
    return str(p if p.is_absolute() else (root / p).resolve())


def read_kaldi(path: Path, options: Mapping[str, Any]) -> Table:
    """The utterances of a Kaldi data directory, cross-checked between its files."""
    missing = [name for name in REQUIRED if not (path / name).is_file()]
    if missing:
        raise CasesError(f"{path}: not a Kaldi data directory: {', '.join(missing)} missing "
                         f"(needs {', '.join(REQUIRED)}; optional {', '.join(OPTIONAL)})")
    root_opt = options.get("audio_root")
    root = Path(root_opt) if root_opt is not None else path
    wavs = _table(path / "wav.scp")
    texts = _table(path / "text", value_required=False)
    spk = _table(path / "utt2spk")
    segments = _table(path / "segments") if (path / "segments").is_file() else None
    durs = _table(path / "utt2dur") if (path / "utt2dur").is_file() else None
    files = {name: sha256_file(path / name) for name in (*REQUIRED, *OPTIONAL)
             if (path / name).is_file()}
    extra = sorted(set(spk) - set(texts))
    if extra:
        line = spk[extra[0]][1]
        raise CasesError(f"{path / 'utt2spk'}:{line}: utterance {extra[0]!r} is not in "
                         f"{path / 'text'} ({len(extra)} such); the files must list the same "
                         "utterances")
    rows: list[Row] = []
    for utt, (text, lineno) in texts.items():
        where = f"{path / 'text'}:{lineno}"
        if utt not in spk:
            raise CasesError(f"{where}: utterance {utt!r} has no speaker in "
                             f"{path / 'utt2spk'}")
        offset, duration = 0.0, None
        interval: dict[str, float | None] = {}
        if segments is not None:
            if utt not in segments:
                raise CasesError(f"{where}: utterance {utt!r} has no entry in "
                                 f"{path / 'segments'}")
            seg, seg_line = segments[utt]
            swhere = f"{path / 'segments'}:{seg_line}"
            parts = seg.split()
            if len(parts) != 3:
                raise CasesError(f"{swhere}: expected 'UTT RECORDING START END', got "
                                 f"{utt} {seg!r}")
            recording = parts[0]
            offset = _seconds(parts[1], "start", swhere)
            end = _seconds(parts[2], "end", swhere)
            if offset < 0:
                raise CasesError(f"{swhere}: start {offset:g} is negative")
            if end != -1.0:  # -1: to the end of the recording (Kaldi's convention)
                if end <= offset:
                    raise CasesError(f"{swhere}: end {end:g} is not after start {offset:g}")
                duration = end - offset
            interval = {"start": offset, "end": None if end == -1.0 else end}
            rec_where = swhere
        else:
            recording, rec_where = utt, where
            if durs is not None and utt in durs:
                dwhere = f"{path / 'utt2dur'}:{durs[utt][1]}"
                duration = _seconds(durs[utt][0], "duration", dwhere)
                if duration <= 0:
                    raise CasesError(f"{dwhere}: duration {duration:g} must be positive")
        if recording not in wavs:
            raise CasesError(f"{rec_where}: recording {recording!r} is not in "
                             f"{path / 'wav.scp'}")
        value, wav_line = wavs[recording]
        audio = _audio_path(value, root, f"{path / 'wav.scp'}:{wav_line}")
        fields = {"audio": audio, "text": text, "speaker": spk[utt][0], "recording": recording,
                  "offset": offset, "duration": duration, **interval}
        rows.append(Row(fields=fields, where=where, own_id=utt))
    return Table(rows=rows, files=files, audio_field="audio", id_from="the Kaldi utterance id")


_register_builtin(Reader(name="kaldi", read=read_kaldi, detect=_is_kaldi, default_id_field=None,
                         description="a Kaldi data directory (wav.scp, text, utt2spk, "
                         "optional segments, utt2dur)",
                         options={"audio_root": "folder that relative wav.scp paths start from "
                                  "(default: the data directory)"}))
