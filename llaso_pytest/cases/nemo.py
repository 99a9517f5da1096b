"""A NeMo manifest: JSON Lines with ``audio_filepath``, ``text`` and ``duration`` (seconds),
optional ``offset``.

Relative audio paths are taken from the manifest's folder (as NeMo does). Each case keeps the
line's fields and adds ``audio`` (the absolute path), ``speaker`` (the ``speaker_field``,
default ``speaker``, else ``None``), ``offset`` (default 0) and ``recording`` (the audio path as
written); a line with an ``offset`` is a segment, as NeMo reads it: it also gets ``start``
(the offset) and ``end`` (offset + duration), which the ASR corpus decodes as that interval
of the recording. A line without ``offset`` is the whole file (its ``duration`` is checked
against the file, with a tolerance for rounding). The id is the audio path relative to the
manifest's folder without its suffix, with ``@OFFSET`` for a segment, unless ``id_field=``
names a column.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from llaso_pytest.cases.core import CasesError, Reader, Row, Table, _register_builtin, sha256_file


def _number(obj: Mapping[str, Any], key: str, where: str, *, required: bool) -> float | None:
    if key not in obj:
        if required:
            raise CasesError(f"{where}: no {key!r} (a NeMo manifest line needs audio_filepath, "
                             "text and duration)")
        return None
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            not math.isfinite(value):
        raise CasesError(f"{where}: {key!r} is {value!r:.60}; expected a number of seconds")
    return float(value)


def _own_id(recording: str, folder: Path, offset: float) -> str:
    p = Path(recording)
    if p.is_absolute():
        try:
            rel = PurePosixPath(p.relative_to(folder).as_posix())
        except ValueError:
            rel = PurePosixPath(p.as_posix())
    else:
        rel = PurePosixPath(recording)
    base = str(rel.with_suffix("")) if rel.suffix else str(rel)
    return f"{base}@{offset:g}" if offset else base


def read_nemo(path: Path, options: Mapping[str, Any]) -> Table:
    """Every utterance of a NeMo manifest, each line checked."""
    from llaso_pytest.llm.predictions import jsonl_objects

    speaker_field = str(options.get("speaker_field", "speaker"))
    folder = path.parent.resolve()
    rows: list[Row] = []
    for lineno, obj in jsonl_objects(path, lambda msg: CasesError(f"{path}: {msg}")):
        where = f"{path}:{lineno}"
        recording = obj.get("audio_filepath")
        if not isinstance(recording, str) or not recording.strip():
            raise CasesError(f"{where}: 'audio_filepath' must be a non-empty string, got "
                             f"{recording!r:.60}")
        text = obj.get("text")
        if not isinstance(text, str):
            raise CasesError(f"{where}: 'text' must be a string (the reference transcript), "
                             f"got {text!r:.60}")
        duration = _number(obj, "duration", where, required=True)
        if duration is None or duration <= 0:
            raise CasesError(f"{where}: 'duration' {duration!r} must be positive")
        offset = _number(obj, "offset", where, required=False) or 0.0
        if offset < 0:
            raise CasesError(f"{where}: 'offset' {offset:g} is negative")
        audio = Path(recording)
        audio = audio if audio.is_absolute() else (folder / audio).resolve()
        speaker = obj.get(speaker_field)
        fields = {**obj, "audio": str(audio), "text": text,
                  "speaker": None if speaker is None else str(speaker), "offset": offset,
                  "duration": duration, "recording": recording,
                  **({"start": offset, "end": offset + duration} if "offset" in obj else {})}
        rows.append(Row(fields=fields, where=where, own_id=_own_id(recording, folder, offset)))
    return Table(rows=rows, files={path.name: sha256_file(path)}, audio_field="audio",
                 id_from="the audio path")


_register_builtin(Reader(name="nemo", read=read_nemo, default_id_field=None,
                         suffixes=(".nemo.json", ".nemo.jsonl", "manifest.json"),
                         description="a NeMo ASR manifest (JSON Lines with audio_filepath, "
                         "text, duration)",
                         options={"speaker_field": "the field naming the speaker (default "
                                  "'speaker')"}))
