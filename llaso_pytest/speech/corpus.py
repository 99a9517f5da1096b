"""A team's own ASR corpus: any sequence of items with an audio file and a reference text.

:func:`as_corpus` turns what a loader yields (``llaso_pytest.cases`` cases, dicts from a
JSONL file, :class:`~llaso_pytest.speech.datasets.Utterance` objects) into a hashed,
verified :class:`AsrCorpus` the runner evaluates. Pure (no pytest); no format is read here
(the readers live with the loaders): an item is a mapping or an object with

- the audio file: ``audio_filepath`` (NeMo), ``audio``, ``path`` or ``wav`` (relative
  paths resolve against ``root=``);
- the reference: ``text``, ``reference`` or ``transcript``;
- optionally ``id`` (default: the index), ``speaker`` (the bootstrap cluster; ``spk``,
  ``speaker_id``), ``sha256`` or ``audio_sha256`` and ``duration`` (then checked against
  the file, or the segment), ``tags``;
- for a segment of a longer recording: ``start`` and ``end`` in seconds (``end`` ``None``:
  to the end of the recording; what the Kaldi reader gives for a ``segments`` line and the
  NeMo reader for a line with ``offset``), or a non-zero ``offset`` with ``duration``
  (``None``: to the end). Only that interval is decoded, sample-exactly
  (:func:`~llaso_pytest.speech.audio.segment_frames`: each time rounded to the nearest
  sample), and its duration is the utterance's (length bins, RTF). An interval outside the
  file, a negative start or an empty interval is an error naming the item and the times.

Each audio file is hashed; the corpus hash covers ids, speakers, texts and file hashes (and
a segment's frames), and is what the ASR fixture records in provenance.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llaso_pytest.speech.errors import DatasetError

__all__ = ["AsrCorpus", "as_corpus"]

_AUDIO_KEYS = ("audio_filepath", "audio", "path", "wav")
_TEXT_KEYS = ("text", "reference", "transcript")
_SPEAKER_KEYS = ("speaker", "spk", "speaker_id")


@dataclass(frozen=True)
class AsrCorpus:
    """Verified utterances of a team's corpus, with one sha256 over their content."""

    name: str
    utterances: tuple[Any, ...]  # tuple[Utterance, ...]
    sha256: str
    #: the loaded dataset the items came from (``(name, sha256)`` of ``cases.load``), if any
    source: tuple[str, str] | None = None

    @property
    def llaso_dataset(self) -> tuple[str, str]:
        """``(name, sha256)``: the test that receives this corpus signs its metrics with it."""
        return (self.name, self.sha256)

    def __len__(self) -> int:
        return len(self.utterances)

    def provenance(self) -> dict[str, Any]:
        """What the run record says about the corpus (``datasets`` provenance)."""
        speakers = {u.speaker for u in self.utterances}
        return {"kind": "corpus", "sha256": self.sha256, "n_utterances": len(self.utterances),
                "n_speakers": len(speakers)}


def _get(item: Any, keys: tuple[str, ...]) -> tuple[str | None, Any]:
    for key in keys:
        if isinstance(item, Mapping):
            if key in item and item[key] is not None:
                return key, item[key]
        else:
            value = getattr(item, key, None)
            if value is not None:
                return key, value
    return None, None


def _item_id(item: Any, index: int) -> str:
    value = getattr(item, "id", None)
    if value is None and isinstance(item, Mapping):
        value = item.get("id")
    if value is None:
        return str(index)
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise DatasetError(f"item {index}: id must be a str or int, got {type(value).__name__}")
    return str(value)


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _utterance(item: Any, index: int, *, name: str, root: Path | None) -> Any:
    import soundfile as sf

    from llaso_pytest.speech.datasets import DURATION_TOLERANCE_S, Utterance

    if isinstance(item, Utterance):
        if item.path is None:
            raise DatasetError(f"corpus {name!r}: utterance {item.id!r} has no audio file; "
                               "materialise its dataset first")
        return item
    uid = _item_id(item, index)
    line = getattr(item, "where", None)  # a loaded case says where it came from
    where = (f"corpus {name!r}, item {uid!r} (index {index}"
             + (f"; {line})" if isinstance(line, str) else ")"))
    interval = _interval(item, where)
    akey, audio = _get(item, _AUDIO_KEYS)
    if audio is None:
        raise DatasetError(f"{where}: no audio file; give one of {', '.join(_AUDIO_KEYS)}")
    if not isinstance(audio, (str, os.PathLike)):
        raise DatasetError(f"{where}: {akey} must be a file path, got {type(audio).__name__}")
    path = Path(audio)
    if not path.is_absolute() and root is not None:
        path = root / path
    tkey, text = _get(item, _TEXT_KEYS)
    if text is None:
        raise DatasetError(f"{where}: no reference text; give one of {', '.join(_TEXT_KEYS)}")
    if not isinstance(text, str):
        raise DatasetError(f"{where}: {tkey} must be a str, got {type(text).__name__}")
    _, speaker = _get(item, _SPEAKER_KEYS)
    if not path.is_file():
        raise DatasetError(f"{where}: audio file {path} does not exist")
    actual = _sha256_file(path)
    _, pinned = _get(item, ("sha256", "audio_sha256"))
    if pinned is not None and str(pinned) != actual:
        raise DatasetError(
            f"{where}: {path} has sha256 {actual}, the corpus pins {pinned}: the audio changed. "
            "Restore the file, or re-pin the corpus and start a new baseline")
    try:
        info = sf.info(str(path))
    except (RuntimeError, TypeError) as exc:
        raise DatasetError(f"{where}: {path} is not a readable audio file ({exc})") from None
    rate, frames = int(info.samplerate), int(info.frames)
    segment = None
    if interval is not None:
        from llaso_pytest.speech.audio import segment_frames
        from llaso_pytest.speech.errors import AudioError

        try:
            segment = segment_frames(*interval, sample_rate=rate, frames=frames,
                                     where=f"{where}: {path}")
        except AudioError as exc:
            raise DatasetError(str(exc)) from None
        frames = segment[1] - segment[0]
    duration = frames / rate
    _, declared = _get(item, ("duration",))
    if declared is not None:
        try:
            d = float(declared)
        except (TypeError, ValueError):
            raise DatasetError(f"{where}: duration must be a number, got {declared!r}") from None
        if abs(d - duration) > DURATION_TOLERANCE_S:
            what = (f"its segment of {path} lasts" if segment is not None
                    else f"{path} lasts")
            raise DatasetError(
                f"{where}: {what} {duration:.3f} s but the corpus says duration {d:g} s "
                f"(tolerance {DURATION_TOLERANCE_S:g} s); fix the duration or the file")
    _, tags = _get(item, ("tags",))
    return Utterance(
        id=uid, speaker=str(speaker) if speaker is not None else uid, text=text,
        sha256=actual, duration=duration, sample_rate=rate, source=name,
        path=path,
        tags={str(k): str(v) for k, v in dict(tags).items()} if isinstance(tags, Mapping) else {},
        segment=segment,
    )


def _seconds(value: Any, key: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise DatasetError(f"{where}: {key} must be a number of seconds, got {value!r:.60}")
    try:
        return float(value)
    except ValueError:
        raise DatasetError(f"{where}: {key} must be a number of seconds, got {value!r:.60}"
                           ) from None


def _interval(item: Any, where: str) -> tuple[float, float | None] | None:
    """``(start, end)`` seconds of a segment item (``end`` None: to the end of the
    recording), or None for a whole file (no ``start``, and ``offset`` absent or 0)."""
    _, start = _get(item, ("start",))
    _, end = _get(item, ("end",))
    if start is not None:
        return (_seconds(start, "start", where),
                None if end is None else _seconds(end, "end", where))
    if end is not None:
        raise DatasetError(f"{where}: has 'end' but no 'start'; a segment needs both (start "
                           "0 for the beginning of the recording)")
    _, offset = _get(item, ("offset",))
    if offset is None:
        return None
    off = _seconds(offset, "offset", where)
    if off == 0:
        return None  # the whole file (a declared duration is checked against it)
    _, duration = _get(item, ("duration",))
    return (off, None if duration is None else off + _seconds(duration, "duration", where))


def as_corpus(items: Iterable[Any] | AsrCorpus, *, name: str | None = None,
              root: str | os.PathLike[str] | None = None) -> AsrCorpus:
    """Verify ``items`` (see the module docstring) and hash them into an :class:`AsrCorpus`.

    ``name`` defaults to the loader's dataset name (a ``llaso_dataset`` attribute of the
    sequence or its first item, kept as :attr:`AsrCorpus.source`), else ``"corpus"``.
    Duplicate ids and an empty corpus are errors naming the corpus.
    """
    if isinstance(items, AsrCorpus):
        return items
    if isinstance(items, (str, bytes, os.PathLike)):
        raise DatasetError(
            f"as_corpus expects a sequence of items, got the path {items!r}; load it first "
            "(llaso_pytest.cases.load(path)) and pass the cases")
    seq = list(items)
    source = _source(items, seq)
    if name is None:
        name = source[0] if source is not None else "corpus"
    if not seq:
        raise DatasetError(f"corpus {name!r} has no items")
    base = Path(root) if root is not None else None
    utts = [_utterance(item, i, name=name, root=base) for i, item in enumerate(seq)]
    seen: dict[str, int] = {}
    for i, u in enumerate(utts):
        if u.id in seen:
            raise DatasetError(
                f"corpus {name!r}: duplicate id {u.id!r} (items {seen[u.id]} and {i}); each "
                "utterance needs its own id")
        seen[u.id] = i
    rows = [{"id": u.id, "speaker": u.speaker, "text": u.text, "sha256": u.sha256,
             **({} if u.segment is None else {"segment": list(u.segment)})} for u in utts]
    digest = hashlib.sha256(json.dumps(rows, sort_keys=True, ensure_ascii=False,
                                       separators=(",", ":")).encode()).hexdigest()
    return AsrCorpus(name=name, utterances=tuple(utts), sha256=digest, source=source)


def _source(items: Any, seq: list[Any]) -> tuple[str, str] | None:
    """The one dataset the sequence (or its first item) says it was loaded from."""
    from llaso_pytest.context import datasets_of

    for obj in (items, *(seq[:1])):
        found = datasets_of(obj)
        if len(found) == 1:
            return next(iter(found.items()))
    return None
