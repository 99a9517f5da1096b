"""Dataset manifests: per-utterance id, speaker, text, file hash, duration; conditions on top.

Two kinds of source, each a JSON manifest under ``fixtures/asr/``:

- ``files``: audio files at ``root`` (e.g. the public-domain LibriVox utterances of Debian's
  ``pocketsphinx-testdata``), each pinned by sha256;
- ``flite``: sentences synthesised by flite voices (see :mod:`~llaso_pytest.speech.synth`),
  each (voice, sentence) pinned by the sha256 of the generated WAV.

:func:`materialize` finds or generates every file and verifies every hash; a missing file
or a hash mismatch is a :class:`DatasetError` naming the utterance, the file and the fix.
:func:`condition_manifest` describes what a test actually evaluated: per utterance the id,
speaker, condition, duration, source hash (and, for a segment of a longer recording, its
frames), the hash of the audio after preprocessing and noise, plus one hash over all of it,
recorded in the run record.

``python -m llaso_pytest.speech.datasets --update-synth-hashes fixtures/asr/flite_harvard.json``
re-pins the synthesised audio (a deliberate change: start a new baseline after it).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llaso_pytest.record import atomic_write_text
from llaso_pytest.speech.errors import DatasetError, ManifestError
from llaso_pytest.speech.manifest import sha256_file

if TYPE_CHECKING:
    from llaso_pytest.speech.audio import Audio, Recipe
    from llaso_pytest.speech.noise import Condition, NoiseSpec

__all__ = [
    "DATASET_SCHEMA_VERSION",
    "DURATION_TOLERANCE_S",
    "Dataset",
    "Utterance",
    "condition_manifest",
    "length_bin",
    "load_dataset",
    "materialize",
    "prepare_utterance",
    "read_sentences",
]

DATASET_SCHEMA_VERSION = 1

#: How far (seconds) a decoded clip may be from the manifest's ``duration``: manifests round
#: durations (to 0.01 s or finer), and resampling can add a sample. A truncated or padded
#: file is off by far more than this.
DURATION_TOLERANCE_S = 0.05


@dataclass(frozen=True)
class Utterance:
    """One utterance: id, speaker (the bootstrap cluster), reference text, pinned audio."""

    id: str
    speaker: str
    text: str
    sha256: str
    duration: float
    sample_rate: int
    source: str
    path: Path | None = None
    voice: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    #: the frames ``[first, last)`` of ``path`` (at ``sample_rate``) when the utterance is a
    #: segment of a longer recording; ``None``: the whole file. ``duration`` is the segment's.
    segment: tuple[int, int] | None = None


@dataclass(frozen=True)
class Dataset:
    """A dataset manifest as loaded; ``manifest_sha256`` identifies its exact content."""

    name: str
    kind: str
    utterances: tuple[Utterance, ...]
    manifest_sha256: str
    source_file: str
    root: Path | None = None
    debian_package: str | None = None
    license: str = ""

    def select(
        self,
        *,
        ids: Iterable[str] | None = None,
        speakers: Iterable[str] | None = None,
        limit_per_speaker: int | None = None,
    ) -> Dataset:
        """A subset (order kept); unknown ids/speakers are an error, never silently ignored."""
        utts = list(self.utterances)
        if ids is not None:
            wanted = list(ids)
            known = {u.id for u in utts}
            missing = [i for i in wanted if i not in known]
            if missing:
                raise DatasetError(f"dataset {self.name!r}: unknown utterance ids {missing}")
            keep = set(wanted)
            utts = [u for u in utts if u.id in keep]
        if speakers is not None:
            wanted_s = set(speakers)
            missing = sorted(wanted_s - {u.speaker for u in utts})
            if missing:
                raise DatasetError(f"dataset {self.name!r}: unknown speakers {missing}")
            utts = [u for u in utts if u.speaker in wanted_s]
        if limit_per_speaker is not None:
            count: dict[str, int] = {}
            kept = []
            for u in utts:
                if count.get(u.speaker, 0) < limit_per_speaker:
                    kept.append(u)
                    count[u.speaker] = count.get(u.speaker, 0) + 1
            utts = kept
        return replace(self, utterances=tuple(utts))

    def __add__(self, other: Dataset) -> Dataset:
        ids = {u.id for u in self.utterances}
        dup = [u.id for u in other.utterances if u.id in ids]
        if dup:
            raise DatasetError(
                f"datasets {self.name!r} and {other.name!r} share utterance ids {dup}"
            )
        h = hashlib.sha256(f"{self.manifest_sha256}+{other.manifest_sha256}".encode()).hexdigest()
        return Dataset(
            name=f"{self.name}+{other.name}",
            kind="mixed",
            utterances=self.utterances + other.utterances,
            manifest_sha256=h,
            source_file=f"{self.source_file}+{other.source_file}",
        )


def read_sentences(path: str | os.PathLike[str]) -> dict[str, str]:
    """``ID<TAB>TEXT`` lines (``#`` comments) -> {id: text}; duplicates are an error."""
    out: dict[str, str] = {}
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        sid, sep, text = line.partition("\t")
        if not sep or not text.strip():
            raise ManifestError(f"{path}:{n}: expected 'ID<TAB>TEXT', got {line!r}")
        if sid in out:
            raise ManifestError(f"{path}:{n}: duplicate sentence id {sid!r}")
        out[sid] = text.strip()
    return out


def _canonical_sha256(data: Any) -> str:
    return hashlib.sha256(
        json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    ).hexdigest()


def load_dataset(path: str | os.PathLike[str]) -> Dataset:
    """Read a dataset manifest (``kind`` ``files`` or ``flite``) and validate every entry."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ManifestError(f"dataset manifest {p} does not exist") from None
    except ValueError as exc:
        raise ManifestError(f"dataset manifest {p} is not valid JSON: {exc}") from exc
    where = f"dataset manifest {p}"
    if not isinstance(data, dict) or data.get("schema_version") != DATASET_SCHEMA_VERSION:
        raise ManifestError(f"{where}: needs schema_version {DATASET_SCHEMA_VERSION}")
    kind = data.get("kind")
    if kind not in ("files", "flite"):
        raise ManifestError(f"{where}: kind must be 'files' or 'flite', got {kind!r}")
    sentences: dict[str, str] = {}
    if kind == "flite":
        sentences = read_sentences(p.parent / str(data["sentences"]))
    root = Path(str(data["root"])) if kind == "files" else None
    utts: list[Utterance] = []
    seen: set[str] = set()
    for i, u in enumerate(data.get("utterances", [])):
        uw = f"{where}: utterances[{i}]"
        upath: Path | None
        try:
            uid = str(u["id"])
            if uid in seen:
                raise ManifestError(f"{uw}: duplicate id {uid!r}")
            seen.add(uid)
            if kind == "flite":
                sid = str(u["sentence"])
                if sid not in sentences:
                    raise ManifestError(
                        f"{uw} ({uid}): sentence {sid!r} is not in {data['sentences']}"
                    )
                text = sentences[sid]
                upath = None
                voice = str(u["voice"])
                tags = {"sentence": sid, "voice": voice}
            else:
                text = str(u["text"])
                upath = root / str(u["path"]) if root is not None else None
                voice = None
                tags = {}
            tags.update({str(k): str(v) for k, v in u.get("tags", {}).items()})
            duration = float(u["duration"])
            if not duration > 0:
                raise ManifestError(f"{uw} ({uid}): duration must be a positive number of seconds")
            utts.append(
                Utterance(
                    id=uid,
                    speaker=str(u["speaker"]),
                    text=text,
                    sha256=str(u["sha256"]),
                    duration=duration,
                    sample_rate=int(u["sample_rate"]),
                    source=str(data["name"]),
                    path=upath,
                    voice=voice,
                    tags=tags,
                )
            )
        except KeyError as exc:
            raise ManifestError(f"{uw}: missing field {exc.args[0]!r}") from None
    if not utts:
        raise ManifestError(f"{where}: no utterances")
    content = {"manifest": data, "sentences": sentences}
    return Dataset(
        name=str(data["name"]),
        kind=kind,
        utterances=tuple(utts),
        manifest_sha256=_canonical_sha256(content),
        source_file=str(p),
        root=root,
        debian_package=data.get("debian_package"),
        license=str(data.get("license", "")),
    )


def materialize(dataset: Dataset, *, cache_dir: str | os.PathLike[str]) -> Dataset:
    """Resolve every utterance to a verified local file (synthesising flite audio as needed)."""
    from llaso_pytest.speech.synth import FliteSynth

    synth = FliteSynth(Path(cache_dir) / "flite")
    out: list[Utterance] = []
    for u in dataset.utterances:
        if u.voice is not None and u.path is None:
            path = synth.get(u.voice, u.text, sha256=u.sha256, item=u.id)
            out.append(replace(u, path=path))
            continue
        if u.path is None or not u.path.is_file():
            pkg = (
                f"install the Debian package: apt-get install {dataset.debian_package}"
                if dataset.debian_package
                else "restore the file or fix 'root' in the manifest"
            )
            raise DatasetError(
                f"dataset {dataset.name!r} ({dataset.source_file}): utterance {u.id!r}: audio "
                f"file {u.path} is missing. Fix: {pkg}"
            )
        actual = sha256_file(u.path)
        if actual != u.sha256:
            raise DatasetError(
                f"dataset {dataset.name!r} ({dataset.source_file}): utterance {u.id!r}: "
                f"{u.path} has sha256 {actual}, expected {u.sha256}. The audio differs from "
                "the pinned dataset; reinstall the original files"
                + (f" (apt-get install --reinstall {dataset.debian_package})"
                   if dataset.debian_package else "")
                + " or, for a deliberate change, update the manifest and start a new baseline."
            )
        out.append(u)
    return replace(dataset, utterances=tuple(out))


def prepare_utterance(
    utt: Utterance,
    *,
    recipe: Recipe,
    condition: Condition,
    seed: int,
    spec: NoiseSpec | None = None,
) -> Audio:
    """Load ``utt`` with ``recipe`` and apply ``condition`` (seeded noise at a speech SNR)."""
    from llaso_pytest.speech.audio import Audio, load_audio
    from llaso_pytest.speech.noise import NoiseSpec, mix_at_snr, noise_seed

    if utt.path is None:
        raise DatasetError(f"utterance {utt.id!r} has no audio file; call materialize() first")
    audio = load_audio(utt.path, recipe=recipe, frames=utt.segment)
    if abs(audio.duration - utt.duration) > DURATION_TOLERANCE_S:
        raise DatasetError(
            f"utterance {utt.id!r} ({utt.source}): {utt.path} decodes to {audio.duration:.3f} s "
            f"but the dataset manifest says duration {utt.duration:g} s (tolerance "
            f"{DURATION_TOLERANCE_S:g} s): the file is truncated, padded or not the pinned "
            "recording. Restore the original file, or fix 'duration' in the manifest."
        )
    if condition.is_clean:
        return audio
    assert condition.snr_db is not None
    mix = mix_at_snr(
        audio.samples,
        audio.sample_rate,
        kind=condition.noise,
        snr=condition.snr_db,
        seed=noise_seed(seed, utt.id, condition.noise, condition.snr_db),
        spec=spec or NoiseSpec(),
    )
    return Audio(
        samples=mix.samples,
        sample_rate=audio.sample_rate,
        source=audio.source,
        conversions=audio.conversions + (f"noise:{condition.name}",),
    )


def length_bin(duration: float) -> str:
    """Utterance-length bin used in breakdowns: <2 s, 2-4 s, >=4 s."""
    if duration < 2.0:
        return "short(<2s)"
    if duration < 4.0:
        return "medium(2-4s)"
    return "long(>=4s)"


def condition_manifest(
    items: Sequence[tuple[Utterance, Audio]],
    *,
    condition: Condition,
    recipe: Recipe,
    seed: int,
    spec: NoiseSpec | None = None,
) -> dict[str, Any]:
    """What was evaluated, per utterance, and one sha256 over it (for the run record)."""
    import numpy as np

    from llaso_pytest.speech.noise import NoiseSpec

    rows = []
    for u, a in items:
        row = {
            "id": u.id,
            "speaker": u.speaker,
            "condition": condition.name,
            "duration": round(a.duration, 4),
            "file_sha256": u.sha256,
            "audio_sha256": hashlib.sha256(
                np.ascontiguousarray(a.samples, dtype="<f4").tobytes()
            ).hexdigest(),
            "conversions": list(a.conversions),
        }
        if u.segment is not None:  # the recording's hash and which of its frames
            row["segment"] = {"frames": list(u.segment), "sample_rate": u.sample_rate}
        rows.append(row)
    recipe_d = {
        "audio": recipe.to_dict(),
        "noise": None
        if condition.is_clean
        else {"kind": condition.noise, "snr_db": condition.snr_db, "seed": seed,
              **(spec or NoiseSpec()).to_dict()},
    }
    return {
        "condition": condition.name,
        "n": len(rows),
        "recipe": recipe_d,
        "sha256": _canonical_sha256({"rows": rows, "recipe": recipe_d}),
        "utterances": rows,
    }


def _update_synth_hashes(path: Path) -> None:
    from llaso_pytest.speech.synth import FliteSynth, flite_version

    data = json.loads(path.read_text(encoding="utf-8"))
    sentences = read_sentences(path.parent / data["sentences"])
    cache = Path(os.environ.get("LLASO_SPEECH_CACHE", ".llaso/cache/speech")) / "flite"
    synth = FliteSynth(cache)
    import soundfile as sf

    for u in data["utterances"]:
        wav = synth.get(u["voice"], sentences[u["sentence"]])
        info = sf.info(str(wav))
        u["sha256"] = sha256_file(wav)
        u["duration"] = round(info.frames / info.samplerate, 4)
        u["sample_rate"] = info.samplerate
    data["generator"] = {"flite": flite_version()}
    atomic_write_text(path, json.dumps(data, indent=1) + "\n")


def _main(argv: Sequence[str]) -> int:
    if len(argv) >= 2 and argv[0] == "--update-synth-hashes":
        for a in argv[1:]:
            _update_synth_hashes(Path(a))
            print(f"re-pinned synthesised audio in {a}")
        return 0
    print(
        "usage: python -m llaso_pytest.speech.datasets --update-synth-hashes MANIFEST.json",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(_main(sys.argv[1:]))
