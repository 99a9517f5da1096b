"""Audio loading and validation with an explicit preprocessing recipe.

Every conversion is a named choice in :class:`Recipe` (recorded in the run record and in the
metric signature), never an accident of an engine:

- a file whose sample rate differs from ``recipe.sample_rate`` is an error unless
  ``on_rate_mismatch="resample"``, which resamples with a polyphase FIR filter
  (``scipy.signal.resample_poly``, Kaiser window, beta 5.0);
- a multi-channel file is an error unless ``on_multichannel="mean"`` (average of channels)
  or ``"first"`` (channel 0);
- ``normalize="peak"`` scales to a peak of ``peak_dbfs``; ``"none"`` leaves levels alone;
- a truncated container (the sizes of WAV, RF64, W64, AIFF, IFF/SVX, CAF, AU and NIST
  headers are walked against the file size: libsndfile decodes what is left of a cut file
  without an error), a file libsndfile reads as a container not in :data:`CONTAINERS`
  (refused: its truncation could not be seen), a truncated Ogg (a page cut
  short, or a stream without its end-of-stream page: libsndfile then reports and decodes
  only what is there), a file that decodes to fewer or more frames than its header
  declares, a file that is not audio, an empty clip, or a clip with NaN/inf samples is an
  :class:`AudioError` naming the file and the fix. No utterance is ever silently skipped,
  shortened or padded.

A segment of a longer recording (a Kaldi ``segments`` line, a NeMo ``offset`` +
``duration``) is read sample-exactly: :func:`segment_frames` turns its times in seconds into
the frames ``[first, last)`` of the file, each time rounded to the nearest sample (half a
sample rounds up: ``floor(t * rate + 0.5)``), and ``load_audio(path, frames=...)`` reads
exactly those frames, after the same container checks as for a whole file. A negative
start, an interval that rounds to no sample, or one that reaches past the end of the file
is an :class:`AudioError` naming the file and the times; it is never clipped to fit.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from dataclasses import asdict, dataclass
from math import gcd
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal

from llaso_pytest.speech.errors import AudioError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = [
    "CONTAINERS",
    "Audio",
    "Recipe",
    "check_container",
    "check_ogg_container",
    "check_wav_container",
    "load_audio",
    "prepare",
    "segment_frames",
    "to_int16",
]

RateMismatch = Literal["error", "resample"]
Multichannel = Literal["error", "mean", "first"]
Normalize = Literal["none", "peak"]


@dataclass(frozen=True)
class Recipe:
    """How audio is turned into what a recogniser sees. Part of every ASR metric signature."""

    sample_rate: int = 16000
    on_rate_mismatch: RateMismatch = "error"
    on_multichannel: Multichannel = "error"
    normalize: Normalize = "none"
    peak_dbfs: float = -1.0
    vad: str = "none"

    def __post_init__(self) -> None:
        if self.sample_rate <= 0:
            raise ValueError(f"Recipe.sample_rate must be positive, got {self.sample_rate}")
        if self.on_rate_mismatch not in ("error", "resample"):
            raise ValueError(
                f"Recipe.on_rate_mismatch must be 'error' or 'resample', got "
                f"{self.on_rate_mismatch!r}"
            )
        if self.on_multichannel not in ("error", "mean", "first"):
            raise ValueError(
                "Recipe.on_multichannel must be 'error', 'mean' or 'first', got "
                f"{self.on_multichannel!r}"
            )
        if self.normalize not in ("none", "peak"):
            raise ValueError(f"Recipe.normalize must be 'none' or 'peak', got {self.normalize!r}")
        if self.vad != "none":
            raise ValueError(
                f"Recipe.vad={self.vad!r} is not supported; only 'none' (whole clip is decoded)"
            )

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form, with the resampler named when resampling is allowed."""
        d: dict[str, Any] = asdict(self)
        d["channels"] = 1
        d["resampler"] = (
            "scipy.signal.resample_poly(kaiser,5.0)"
            if self.on_rate_mismatch == "resample"
            else None
        )
        return d

    def signature(self) -> str:
        """Short text form for metric signatures."""
        parts = [f"sr{self.sample_rate}", "mono", f"rate:{self.on_rate_mismatch}",
                 f"mc:{self.on_multichannel}", f"norm:{self.normalize}"]
        if self.normalize == "peak":
            parts.append(f"peak:{self.peak_dbfs:g}")
        parts.append(f"vad:{self.vad}")
        return ",".join(parts)


@dataclass(frozen=True)
class Audio:
    """Mono float32 samples in [-1, 1] at ``sample_rate``; ``conversions`` lists what was done."""

    samples: npt.NDArray[np.float32]
    sample_rate: int
    source: str
    conversions: tuple[str, ...] = ()

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return float(len(self.samples)) / float(self.sample_rate)


def _truncated(p: Path, kind: str, declared: int, available: int) -> AudioError:
    return AudioError(
        f"{p}: truncated {kind}: the header declares {declared} bytes of audio data but only "
        f"{max(available, 0)} are present. Re-export or re-copy the file; it is not decoded "
        "partially."
    )


def _walk_chunks(p: Path, fh: BinaryIO, size: int, *, kind: str, pos: int, id_len: int,
                 size_fmt: str, align: int, data_id: bytes, data_name: str = "data",
                 includes_header: bool = False, unknown: tuple[int, ...] = (),
                 unknown_size: int | None = None, required: bytes | None = None,
                 required_name: str = "fmt ") -> None:
    """Walk ``id, size`` chunks (RIFF, IFF, Wave64, CAF) up to the audio data chunk and raise
    :class:`AudioError` if that chunk is missing or longer than what is left of the file.

    ``unknown`` are size values meaning "not known when written" (a streamed file): the
    data then runs to the end of the file, unless ``unknown_size`` (RF64's ``ds64``) says.
    """
    hdr = id_len + struct.calcsize(size_fmt)
    saw_required = required is None
    while pos + hdr <= size:
        fh.seek(pos)
        raw = fh.read(hdr)
        cid = raw[:id_len]
        (csize,) = struct.unpack(size_fmt, raw[id_len:])
        body = csize - hdr if includes_header else csize
        if cid == required:
            saw_required = True
        if cid == data_id:
            if not saw_required:
                raise AudioError(f"{p}: {kind} {data_name!r} chunk comes before "
                                 f"{required_name!r}; the file is corrupt")
            if csize in unknown:
                if unknown_size is None:
                    return
                body = unknown_size
            available = size - (pos + hdr)
            if body > available:
                raise _truncated(p, kind, body, available)
            return
        if body < 0:
            raise AudioError(f"{p}: {kind} chunk at byte {pos} has a negative size; the file "
                             "is corrupt")
        pos += hdr + body
        pos += (-pos) % align
    raise AudioError(f"{p}: {kind} file has no complete {data_name!r} chunk; the file is "
                     "truncated or corrupt")


def check_wav_container(path: str | os.PathLike[str]) -> None:
    """Walk a RIFF/WAVE (or RF64/BW64) file's chunks; raise :class:`AudioError` if it is
    truncated.

    libsndfile reads a truncated file without complaint (returning fewer frames than the
    header declares), which would silently shorten an utterance. Non-RIFF files are left to
    the decoder. Streaming WAVs with a 0/0xFFFFFFFF size are accepted.
    """
    p = Path(path)
    size = p.stat().st_size
    with open(p, "rb") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[8:12] != b"WAVE":
            return
        if head[:4] in (b"RIFF", b"RIFX"):
            endian = "<" if head[:4] == b"RIFF" else ">"
            _walk_chunks(p, fh, size, kind="WAV", pos=12, id_len=4, size_fmt=endian + "I",
                         align=2, data_id=b"data", unknown=(0, 0xFFFFFFFF), required=b"fmt ")
        elif head[:4] in (b"RF64", b"BW64"):
            ds64 = fh.read(36)
            if len(ds64) < 36 or ds64[:4] != b"ds64":
                raise AudioError(f"{p}: RF64 file without its 'ds64' chunk (the 64-bit sizes); "
                                 "the file is truncated or corrupt")
            (data_size,) = struct.unpack("<Q", ds64[16:24])
            _walk_chunks(p, fh, size, kind="RF64", pos=12, id_len=4, size_fmt="<I", align=2,
                         data_id=b"data", unknown=(0xFFFFFFFF,), unknown_size=data_size,
                         required=b"fmt ")


def check_ogg_container(path: str | os.PathLike[str]) -> None:
    """Walk an Ogg file's pages; raise :class:`AudioError` if it is truncated.

    libsndfile takes an Ogg file's length from the last granule position it finds, so a file
    cut short reports (and decodes) only the part that is left, without an error. A complete
    Ogg stream ends with a page flagged end-of-stream; a page cut short, bytes that are not
    a page, or a logical stream without that last page mean the file is truncated or
    corrupt. Non-Ogg files are left to the decoder.
    """
    p = Path(path)
    size = p.stat().st_size
    with open(p, "rb") as fh:
        if fh.read(4) != b"OggS":
            return
        pos = 0
        open_streams: set[int] = set()
        while pos < size:
            fh.seek(pos)
            head = fh.read(27)
            if len(head) < 27 or head[:4] != b"OggS":
                what = (
                    "a page header cut short"
                    if len(head) < 27
                    else "bytes that are not an Ogg page"
                )
                raise AudioError(
                    f"{p}: truncated or corrupt Ogg file: {what} at byte {pos} of {size}. "
                    "Re-export or re-copy the file; it is not decoded partially."
                )
            flags = head[5]
            serial = struct.unpack("<I", head[14:18])[0]
            nseg = head[26]
            table = fh.read(nseg)
            end = pos + 27 + nseg + sum(table)
            if len(table) < nseg or end > size:
                raise AudioError(
                    f"{p}: truncated Ogg file: the page at byte {pos} needs {end - pos} bytes "
                    f"but the file ends at byte {size}. Re-export or re-copy the file; it is "
                    "not decoded partially."
                )
            if flags & 0x02:  # beginning of stream
                open_streams.add(serial)
            if flags & 0x04:  # end of stream
                open_streams.discard(serial)
            pos = end
        if open_streams:
            raise AudioError(
                f"{p}: truncated Ogg file: the stream has no end-of-stream page (the file was "
                "cut at a page boundary). Re-export or re-copy the file; it is not decoded "
                "partially."
            )


_W64_TAIL = bytes.fromhex("f3acd3118cd100c04f8edb8a")
_W64_RIFF = b"riff" + bytes.fromhex("2e91cf11a5d628db04c10000")


def _check_w64(p: Path, fh: BinaryIO, size: int) -> None:
    fh.seek(24)
    if fh.read(16) != b"wave" + _W64_TAIL:
        raise AudioError(f"{p}: Wave64 file without its 'wave' header; the file is corrupt")
    _walk_chunks(p, fh, size, kind="W64", pos=40, id_len=16, size_fmt="<Q", align=8,
                 data_id=b"data" + _W64_TAIL, includes_header=True, required=b"fmt " + _W64_TAIL)


def _check_iff(p: Path, fh: BinaryIO, size: int) -> None:
    """AIFF/AIFC (``SSND``) and Amiga IFF 8SVX/16SV (``BODY``): big-endian chunks."""
    fh.seek(8)
    form = fh.read(4)
    if form in (b"AIFF", b"AIFC"):
        _walk_chunks(p, fh, size, kind="AIFF", pos=12, id_len=4, size_fmt=">I", align=2,
                     data_id=b"SSND", data_name="SSND", required=b"COMM", required_name="COMM")
    else:
        _walk_chunks(p, fh, size, kind="IFF/SVX", pos=12, id_len=4, size_fmt=">I", align=2,
                     data_id=b"BODY", data_name="BODY", required=b"VHDR", required_name="VHDR")


def _check_caf(p: Path, fh: BinaryIO, size: int) -> None:
    # chunk sizes are signed 64-bit; -1 on the 'data' chunk means "to the end of the file"
    _walk_chunks(p, fh, size, kind="CAF", pos=8, id_len=4, size_fmt=">q", align=1,
                 data_id=b"data", unknown=(-1,), required=b"desc", required_name="desc")


def _check_au(p: Path, fh: BinaryIO, size: int) -> None:
    fh.seek(0)
    head = fh.read(24)
    if len(head) < 24:
        raise AudioError(f"{p}: AU header cut short ({len(head)} of 24 bytes); the file is "
                         "truncated")
    endian = ">" if head[:4] == b".snd" else "<"
    offset, nbytes = struct.unpack(endian + "II", head[4:12])
    if nbytes == 0xFFFFFFFF:  # "unknown": the data runs to the end of the file
        return
    if offset + nbytes > size:
        raise _truncated(p, "AU", nbytes, size - offset)


def _check_nist(p: Path, fh: BinaryIO, size: int) -> None:
    fh.seek(0)
    head = fh.read(16)
    try:
        header_len = int(head[8:16].decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        raise AudioError(f"{p}: NIST SPHERE header without its length; the file is corrupt"
                         ) from None
    fh.seek(0)
    text = fh.read(header_len).decode("latin-1")
    fields: dict[str, str] = {}
    for line in text.splitlines()[2:]:
        if line.strip() == "end_head":
            break
        parts = line.split(None, 2)
        if len(parts) == 3:
            fields[parts[0]] = parts[2].strip()
    try:
        nbytes = (int(fields["sample_count"]) * int(fields.get("channel_count", "1"))
                  * int(fields["sample_n_bytes"]))
    except (KeyError, ValueError):
        raise AudioError(
            f"{p}: NIST SPHERE header lacks a numeric sample_count or sample_n_bytes, so a "
            "truncated file cannot be told from a complete one; convert it to WAV or FLAC"
        ) from None
    if header_len + nbytes > size:
        raise _truncated(p, "NIST SPHERE", nbytes, size - header_len)


@dataclass(frozen=True)
class _Container:
    """A container whose sizes are walked against the file size before decoding."""

    name: str
    formats: frozenset[str]  # libsndfile's major format names for it
    magic: Callable[[bytes], bool]
    check: Callable[[Path, BinaryIO, int], None]


def _check_riff(p: Path, fh: BinaryIO, size: int) -> None:
    check_wav_container(p)


def _check_ogg(p: Path, fh: BinaryIO, size: int) -> None:
    check_ogg_container(p)


#: Every container libsndfile reads that llaso-pytest accepts, each with its walker. A file
#: libsndfile reads as any other format is refused (most decode a cut file without an error).
CONTAINERS: tuple[_Container, ...] = (
    _Container("WAV", frozenset({"WAV", "WAVEX"}),
               lambda h: h[:4] in (b"RIFF", b"RIFX") and h[8:12] == b"WAVE", _check_riff),
    _Container("RF64", frozenset({"RF64"}),
               lambda h: h[:4] in (b"RF64", b"BW64") and h[8:12] == b"WAVE", _check_riff),
    _Container("W64", frozenset({"W64"}), lambda h: h[:16] == _W64_RIFF, _check_w64),
    _Container("AIFF", frozenset({"AIFF"}),
               lambda h: h[:4] == b"FORM" and h[8:12] in (b"AIFF", b"AIFC"), _check_iff),
    _Container("IFF/SVX", frozenset({"SVX"}),
               lambda h: h[:4] == b"FORM" and h[8:12] in (b"8SVX", b"16SV"), _check_iff),
    _Container("CAF", frozenset({"CAF"}), lambda h: h[:4] == b"caff", _check_caf),
    _Container("AU", frozenset({"AU"}), lambda h: h[:4] in (b".snd", b"dns."), _check_au),
    _Container("NIST SPHERE", frozenset({"NIST"}), lambda h: h[:8] == b"NIST_1A\n",
               _check_nist),
    _Container("Ogg", frozenset({"OGG"}), lambda h: h[:4] == b"OggS", _check_ogg),
    # FLAC has no sizes to walk: a cut stream fails to decode or decodes fewer frames than
    # STREAMINFO declares, and load_audio checks both.
    _Container("FLAC", frozenset({"FLAC"}), lambda h: h[:4] == b"fLaC",
               lambda p, fh, size: None),
)


def check_container(path: str | os.PathLike[str]) -> str | None:
    """Walk the file's container (recognised by its first bytes) against the file size;
    raise :class:`AudioError` if it is truncated. Returns the container's name, or ``None``
    for a file whose first bytes match no accepted container."""
    p = Path(path)
    size = p.stat().st_size
    with open(p, "rb") as fh:
        head = fh.read(64)
        for container in CONTAINERS:
            if container.magic(head):
                container.check(p, fh, size)
                return container.name
    return None


def _refuse_unchecked(p: Path, container: str | None, fmt: str, desc: str) -> None:
    """Refuse a file whose format libsndfile names is not the container that was walked."""
    expected = next((c for c in CONTAINERS if c.name == container), None)
    if expected is not None and fmt in expected.formats:
        return
    seen = f"it starts like {container}, but " if container else ""
    accepted = ", ".join(c.name for c in CONTAINERS)
    raise AudioError(
        f"{p}: {seen}libsndfile reads it as {fmt} ({desc}), a container llaso-pytest does not "
        "check for truncation (libsndfile would decode a cut file without an error, "
        f"silently shortening the utterance). Accepted: {accepted}. Convert the file, e.g. "
        f"`sox {p.name} {p.stem}.wav`."
    )


def _resample(x: npt.NDArray[Any], src: int, dst: int) -> npt.NDArray[Any]:
    from scipy.signal import resample_poly

    g = gcd(src, dst)
    return resample_poly(x, dst // g, src // g, window=("kaiser", 5.0))  # type: ignore[no-any-return]


def prepare(
    samples: npt.ArrayLike, sample_rate: int, *, recipe: Recipe, source: str = "<array>"
) -> Audio:
    """Validate and convert an array (frames, or frames x channels) according to ``recipe``."""
    import numpy as np

    x = np.asarray(samples)
    conversions: list[str] = []
    if x.dtype.kind not in "fiu":
        raise AudioError(f"{source}: audio samples must be numeric, got dtype {x.dtype}")
    if x.dtype.kind in "iu":
        # Integer PCM to [-1, 1): signed / 2**(bits-1); unsigned (8-bit WAV) is offset-binary.
        info = np.iinfo(x.dtype)
        half = float(-info.min) if x.dtype.kind == "i" else (info.max + 1) / 2.0
        offset = 0.0 if x.dtype.kind == "i" else half
        x = (x.astype(np.float64) - offset) / half
    else:
        x = x.astype(np.float64)
    if x.ndim == 2:
        if x.shape[1] == 1:
            x = x[:, 0]
        elif recipe.on_multichannel == "error":
            raise AudioError(
                f"{source}: {x.shape[1]} channels, but the recipe expects mono. Convert the file "
                "to mono, or allow a documented conversion with on_multichannel='mean' (average "
                "of channels) or 'first' (--llaso-speech-multichannel)."
            )
        elif recipe.on_multichannel == "mean":
            x = x.mean(axis=1)
            conversions.append(f"downmix:mean({samples_channels(samples)})")
        else:
            x = x[:, 0]
            conversions.append(f"downmix:first({samples_channels(samples)})")
    elif x.ndim != 1:
        raise AudioError(
            f"{source}: expected a 1-D or (frames, channels) array, got shape {x.shape}"
        )
    if x.size == 0:
        raise AudioError(f"{source}: empty clip (0 samples); remove it from the dataset manifest")
    if not np.isfinite(x).all():
        bad = int((~np.isfinite(x)).sum())
        raise AudioError(f"{source}: {bad} samples are NaN or infinite; the audio is corrupt")
    if sample_rate != recipe.sample_rate:
        if recipe.on_rate_mismatch == "error":
            raise AudioError(
                f"{source}: sample rate {sample_rate} Hz, but the recipe expects "
                f"{recipe.sample_rate} Hz. Resample the file, or allow explicit resampling with "
                "on_rate_mismatch='resample' (--llaso-speech-resample)."
            )
        x = _resample(x, sample_rate, recipe.sample_rate)
        conversions.append(f"resample:{sample_rate}->{recipe.sample_rate}")
    if recipe.normalize == "peak":
        peak = float(np.abs(x).max())
        if peak == 0.0:
            raise AudioError(f"{source}: digital silence (all samples 0) cannot be peak-normalised")
        x = x * (10.0 ** (recipe.peak_dbfs / 20.0) / peak)
        conversions.append(f"normalize:peak({recipe.peak_dbfs:g}dBFS)")
    return Audio(
        samples=np.ascontiguousarray(x, dtype=np.float32),
        sample_rate=recipe.sample_rate,
        source=source,
        conversions=tuple(conversions),
    )


def samples_channels(samples: npt.ArrayLike) -> int:
    """Number of channels of a (frames,) or (frames, channels) array."""
    import numpy as np

    a = np.asarray(samples)
    return 1 if a.ndim == 1 else int(a.shape[1])


def segment_frames(start: float, end: float | None, *, sample_rate: int, frames: int,
                   where: str) -> tuple[int, int]:
    """The frames ``[first, last)`` of the interval ``[start, end)`` seconds of a recording
    of ``frames`` frames at ``sample_rate`` Hz (``end=None``: to the end of the recording).

    Each time is rounded to the nearest sample, half a sample up (``floor(t * rate + 0.5)``).
    A time that is not finite, a negative start, an interval that rounds to no sample and one
    that reaches past the end of the recording are errors (:class:`AudioError`) starting with
    ``where``.
    """
    import math

    for label, t in (("start", start), ("end", end)):
        if t is not None and (isinstance(t, bool) or not isinstance(t, (int, float))
                              or not math.isfinite(t)):
            raise AudioError(f"{where}: segment {label} {t!r} is not a finite number of seconds")
    shown = f"[{start:g}, {'end' if end is None else f'{end:g}'}) s"
    if start < 0:
        raise AudioError(f"{where}: segment {shown} starts before the recording (a negative "
                         "start); fix the segment's start time")
    first = math.floor(start * sample_rate + 0.5)
    last = frames if end is None else math.floor(end * sample_rate + 0.5)
    length = frames / sample_rate
    if last > frames or (end is None and first >= frames):
        raise AudioError(
            f"{where}: segment {shown} reaches past the end of the recording, which lasts "
            f"{length:.4f} s ({frames} samples at {sample_rate} Hz; the segment needs samples "
            f"{first} to {last}). It is not clipped: fix the segment's times, or the recording")
    if last <= first:
        raise AudioError(
            f"{where}: segment {shown} is empty ({max(last - first, 0)} samples at "
            f"{sample_rate} Hz after rounding to samples); its end must come after its start")
    return first, last


def load_audio(path: str | os.PathLike[str], *, recipe: Recipe,
               frames: tuple[int, int] | None = None) -> Audio:
    """Read an audio file (WAV, FLAC, ... via soundfile) and apply ``recipe``; with
    ``frames=(first, last)`` only those frames of it (a segment, see
    :func:`segment_frames`), counted at the file's own sample rate.

    Errors name the file: missing, empty, truncated, not decodable, empty clip, wrong rate or
    channel count (unless the recipe converts explicitly), frames outside the file.
    """
    import soundfile as sf

    p = Path(path)
    if not p.is_file():
        raise AudioError(f"{p}: audio file does not exist")
    if p.stat().st_size == 0:
        raise AudioError(f"{p}: audio file is empty (0 bytes)")
    container = check_container(p)
    try:
        with sf.SoundFile(str(p)) as fh:
            _refuse_unchecked(p, container, str(fh.format), str(fh.format_info))
            declared = int(fh.frames)
            sr = int(fh.samplerate)
            if frames is not None:
                return _load_frames(p, fh, frames, declared=declared, sr=sr, recipe=recipe)
            data = fh.read(dtype="float64", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise AudioError(
            f"{p}: not a readable audio file ({exc}): it is truncated, corrupt or not audio; "
            "re-export or re-copy it (WAV/FLAC)"
        ) from exc
    if data.shape[0] != declared:
        raise AudioError(
            f"{p}: decoded {data.shape[0]} frames ({data.shape[0] / sr:.3f} s) but the file "
            f"declares {declared} ({declared / sr:.3f} s): it is truncated or corrupt. "
            "Re-export or re-copy the file; it is not decoded partially."
        )
    return prepare(data, sr, recipe=recipe, source=str(p))


def _load_frames(p: Path, fh: Any, frames: tuple[int, int], *, declared: int, sr: int,
                 recipe: Recipe) -> Audio:
    """Frames ``[first, last)`` of an open, checked file (``load_audio(frames=...)``)."""
    first, last = frames
    if not 0 <= first < last <= declared:
        raise AudioError(
            f"{p}: segment samples [{first}, {last}) are not inside the file ({declared} "
            f"samples, {declared / sr:.4f} s at {sr} Hz); fix the segment's times")
    fh.seek(first)
    data = fh.read(last - first, dtype="float64", always_2d=True)
    if data.shape[0] != last - first:
        raise AudioError(
            f"{p}: decoded {data.shape[0]} of the segment's {last - first} samples [{first}, "
            f"{last}) of a file that declares {declared}: it is truncated or corrupt. "
            "Re-export or re-copy the file; it is not decoded partially.")
    return prepare(data, sr, recipe=recipe,
                   source=f"{p} [{first / sr:g}, {last / sr:g}) s")


def to_int16(samples: npt.NDArray[Any]) -> bytes:
    """16-bit little-endian PCM bytes of float samples in [-1, 1) (x 32768, rounded, clipped).

    The inverse of the int16 -> float conversion in :func:`prepare`, so PCM round-trips exactly.
    """
    import numpy as np

    y = np.clip(np.rint(np.asarray(samples, dtype=np.float64) * 32768.0), -32768, 32767)
    return y.astype("<i2").tobytes()
