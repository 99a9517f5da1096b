"""flite synthesis is deterministic and pinned; dataset manifests verify every file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from speech_testutil import ASR, need_flite, need_testdata

from llaso_pytest.speech.audio import Recipe
from llaso_pytest.speech.datasets import (
    condition_manifest,
    length_bin,
    load_dataset,
    materialize,
    prepare_utterance,
    read_sentences,
)
from llaso_pytest.speech.errors import DatasetError, ManifestError, SynthesisError
from llaso_pytest.speech.manifest import sha256_file
from llaso_pytest.speech.noise import parse_condition
from llaso_pytest.speech.synth import FliteSynth, flite_version

TEXT = "The birch canoe slid on the smooth planks."


def _pinned(voice: str, sentence: str) -> dict[str, Any]:
    data = json.loads((ASR / "flite_harvard.json").read_text())
    return next(u for u in data["utterances"] if u["voice"] == voice and u["sentence"] == sentence)


@pytest.mark.parametrize("voice", ["kal16", "awb"])
def test_synthesis_is_deterministic_and_matches_the_pin(tmp_path: Path, voice: str) -> None:
    need_flite()
    a = FliteSynth(tmp_path / "a").get(voice, TEXT)
    b = FliteSynth(tmp_path / "b").get(voice, TEXT)
    assert a != b and a.read_bytes() == b.read_bytes()
    assert sha256_file(a) == _pinned(voice, "h01-01")["sha256"]


def test_cache_hit_and_corrupt_cache_regenerated(tmp_path: Path) -> None:
    need_flite()
    pin = _pinned("slt", "h01-01")["sha256"]
    synth = FliteSynth(tmp_path)
    p = synth.get("slt", TEXT, sha256=pin)
    mtime = p.stat().st_mtime_ns
    assert synth.get("slt", TEXT, sha256=pin) == p and p.stat().st_mtime_ns == mtime
    p.write_bytes(b"RIFF garbage")
    assert synth.get("slt", TEXT, sha256=pin) == p
    assert sha256_file(p) == pin


def test_pin_mismatch_is_an_error_naming_voice_hashes_and_fix(tmp_path: Path) -> None:
    need_flite()
    with pytest.raises(SynthesisError) as exc:
        FliteSynth(tmp_path).get("rms", TEXT, sha256="0" * 64, item="flite-rms-h01-01")
    msg = str(exc.value)
    assert "flite-rms-h01-01" in msg and "rms" in msg and "0" * 64 in msg
    assert flite_version() in msg and "--update-synth-hashes" in msg


def test_unknown_voice(tmp_path: Path) -> None:
    need_flite()
    with pytest.raises(SynthesisError, match="unknown flite voice 'hal'"):
        FliteSynth(tmp_path).get("hal", TEXT)


def test_shipped_datasets_load_and_verify(tmp_path: Path) -> None:
    need_flite()
    need_testdata()
    real = materialize(load_dataset(ASR / "pocketsphinx_testdata.json"), cache_dir=tmp_path)
    assert len(real.utterances) == 10 and len({u.speaker for u in real.utterances}) == 2
    synth = load_dataset(ASR / "flite_harvard.json").select(speakers=["flite-awb"],
                                                            limit_per_speaker=3)
    synth = materialize(synth, cache_dir=tmp_path)
    assert [u.tags["accent"] for u in synth.utterances] == ["en-GB-scotland"] * 3
    for u in synth.utterances + real.utterances:
        assert u.path is not None and sha256_file(u.path) == u.sha256
    both = real + synth
    assert len(both.utterances) == 13 and both.manifest_sha256 not in (
        real.manifest_sha256, synth.manifest_sha256)


def test_manifest_hash_changes_with_content(tmp_path: Path) -> None:
    data = json.loads((ASR / "pocketsphinx_testdata.json").read_text())
    h0 = load_dataset(ASR / "pocketsphinx_testdata.json").manifest_sha256
    data["utterances"][0]["text"] += " extra"
    (tmp_path / "d.json").write_text(json.dumps(data))
    assert load_dataset(tmp_path / "d.json").manifest_sha256 != h0


def test_file_hash_mismatch_and_missing_file(tmp_path: Path) -> None:
    need_testdata()
    data = json.loads((ASR / "pocketsphinx_testdata.json").read_text())
    data["utterances"][1]["sha256"] = "f" * 64
    (tmp_path / "bad.json").write_text(json.dumps(data))
    with pytest.raises(DatasetError) as exc:
        materialize(load_dataset(tmp_path / "bad.json"), cache_dir=tmp_path)
    msg = str(exc.value)
    uid = data["utterances"][1]["id"]
    assert uid in msg and "f" * 64 in msg and "apt-get install --reinstall" in msg
    data["utterances"][1]["path"] = "librivox/gone.wav"
    (tmp_path / "gone.json").write_text(json.dumps(data))
    with pytest.raises(DatasetError, match="missing.*apt-get install pocketsphinx-testdata"):
        materialize(load_dataset(tmp_path / "gone.json"), cache_dir=tmp_path)


def test_manifest_validation(tmp_path: Path) -> None:
    data = json.loads((ASR / "pocketsphinx_testdata.json").read_text())
    data["utterances"].append(dict(data["utterances"][0]))
    (tmp_path / "dup.json").write_text(json.dumps(data))
    with pytest.raises(ManifestError, match="duplicate id"):
        load_dataset(tmp_path / "dup.json")
    del data["utterances"][-1]["speaker"]
    data["utterances"][-1]["id"] = "new"
    (tmp_path / "nospk.json").write_text(json.dumps(data))
    with pytest.raises(ManifestError, match="missing field 'speaker'"):
        load_dataset(tmp_path / "nospk.json")
    ds = load_dataset(ASR / "pocketsphinx_testdata.json")
    with pytest.raises(DatasetError, match="unknown utterance ids"):
        ds.select(ids=["librivox-9999"])
    (tmp_path / "s.txt").write_text("a\tone\na\ttwo\n")
    with pytest.raises(ManifestError, match="duplicate sentence id"):
        read_sentences(tmp_path / "s.txt")


def test_condition_manifest_is_stable_and_seed_sensitive(tmp_path: Path) -> None:
    need_testdata()
    ds = materialize(load_dataset(ASR / "pocketsphinx_testdata.json").select(
        ids=["librivox-0880", "cards-001"]), cache_dir=tmp_path)
    recipe = Recipe()
    cond = parse_condition("pink-10dB")

    def manifest(seed: int) -> dict[str, Any]:
        items = [(u, prepare_utterance(u, recipe=recipe, condition=cond, seed=seed))
                 for u in ds.utterances]
        return condition_manifest(items, condition=cond, recipe=recipe, seed=seed)

    m1, m2, m3 = manifest(0), manifest(0), manifest(1)
    assert m1 == m2 and m1["sha256"] != m3["sha256"]
    row = m1["utterances"][0]
    assert row["condition"] == "pink-10dB" and row["speaker"] == "librivox-austen-reader"
    assert row["file_sha256"] == ds.utterances[0].sha256
    assert row["conversions"] == ["noise:pink-10dB"]
    assert m1["recipe"]["noise"]["snr_db"] == 10.0 and m1["recipe"]["audio"]["sample_rate"] == 16000


def test_length_bins() -> None:
    assert [length_bin(d) for d in (0.5, 1.99, 2.0, 3.9, 4.0, 9.0)] == [
        "short(<2s)", "short(<2s)", "medium(2-4s)", "medium(2-4s)", "long(>=4s)", "long(>=4s)"]


def _one_file_dataset(tmp_path: Path, seconds: float, declared: float) -> Path:
    import hashlib

    import numpy as np
    import soundfile as sf

    wav = tmp_path / "u.wav"
    sf.write(str(wav), np.zeros(int(seconds * 16000)) + 0.01, 16000, subtype="PCM_16")
    data = {
        "schema_version": 1, "name": "tiny", "kind": "files", "root": str(tmp_path),
        "utterances": [{"id": "u1", "path": "u.wav", "speaker": "s", "text": "a",
                        "sha256": hashlib.sha256(wav.read_bytes()).hexdigest(),
                        "duration": declared, "sample_rate": 16000}],
    }
    (tmp_path / "d.json").write_text(json.dumps(data))
    return tmp_path / "d.json"


def test_decoded_duration_must_match_the_manifest(tmp_path: Path) -> None:
    """A file shorter than the manifest says (truncated, re-encoded) is refused by name."""
    ds = materialize(load_dataset(_one_file_dataset(tmp_path, 2.0, 7.1)), cache_dir=tmp_path)
    with pytest.raises(DatasetError) as exc:
        prepare_utterance(ds.utterances[0], recipe=Recipe(), condition=parse_condition("clean"),
                          seed=0)
    msg = str(exc.value)
    assert "'u1'" in msg and str(tmp_path / "u.wav") in msg
    assert "2.000 s" in msg and "7.1 s" in msg and "duration" in msg


def test_rounded_manifest_duration_is_accepted(tmp_path: Path) -> None:
    ds = materialize(load_dataset(_one_file_dataset(tmp_path, 2.004, 2.0)), cache_dir=tmp_path)
    a = prepare_utterance(ds.utterances[0], recipe=Recipe(), condition=parse_condition("clean"),
                          seed=0)
    assert a.duration == pytest.approx(2.004)


def test_non_positive_duration_is_a_manifest_error(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="duration must be a positive"):
        load_dataset(_one_file_dataset(tmp_path, 1.0, 0.0))
