"""Segments of longer recordings (Kaldi ``segments``, NeMo ``offset`` + ``duration``) decode
exactly their slice: sample-exact reads, the real pocketsphinx engine on two real LibriVox
utterances joined into one recording, hashes that cover the interval, bad intervals named."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st
from speech_testutil import LIBRIVOX, MODELS, need_testdata

from llaso_pytest import cases
from llaso_pytest.speech.audio import Recipe, load_audio, segment_frames
from llaso_pytest.speech.corpus import as_corpus
from llaso_pytest.speech.errors import AudioError, DatasetError
from llaso_pytest.speech.noise import parse_condition
from llaso_pytest.speech.runner import run_condition

RATE = 16000
FIRST, SECOND = "0930", "0870"  # 3.29 s and 7.10 s of read speech by one LibriVox speaker


def _clip(key: str) -> Path:
    return LIBRIVOX / f"sense_and_sensibility_01_austen_64kb-{key}.wav"


def _pcm(path: Path) -> np.ndarray:
    data, rate = sf.read(str(path), dtype="int16")
    assert rate == RATE
    return data


@pytest.fixture(scope="module")
def joined(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, int]:
    """One 16-bit recording: utterance 0930, 0.5 s of silence, utterance 0870 (the same PCM
    samples as the two files). Returns (path, first frame of 0870, total frames)."""
    need_testdata()
    a, b = _pcm(_clip(FIRST)), _pcm(_clip(SECOND))
    gap = np.zeros(RATE // 2, dtype=np.int16)
    path = tmp_path_factory.mktemp("joined") / "rec1.wav"
    sf.write(str(path), np.concatenate([a, gap, b]), RATE, subtype="PCM_16")
    return path, len(a) + len(gap), len(a) + len(gap) + len(b)


@pytest.fixture(scope="module")
def pocketsphinx() -> Any:
    from llaso_pytest.speech.engines import load_recognizer
    from llaso_pytest.speech.manifest import load_model_manifest, verify_model

    need_testdata()
    return load_recognizer(verify_model(load_model_manifest(MODELS / "pocketsphinx-en-us.json")))


def _decode(rec: Any, utterances: Any) -> Any:
    return run_condition(rec, utterances, condition=parse_condition("clean"), recipe=Recipe(),
                         seed=0, warmup=0)


@pytest.fixture(scope="module")
def separate(pocketsphinx: Any) -> Any:
    """The two original files decoded whole: what each segment must give."""
    items = [{"id": k, "audio": str(_clip(k)), "text": "x", "speaker": "spk"}
             for k in (FIRST, SECOND)]
    return _decode(pocketsphinx, as_corpus(items, name="separate").utterances)


def _times(joined: tuple[Path, int, int]) -> tuple[float, float, float]:
    _, start_b, total = joined
    end_a = len(_pcm(_clip(FIRST))) / RATE
    return end_a, start_b / RATE, total / RATE


def _check_segments_decode_like_the_files(run: Any, separate: Any,
                                          joined: tuple[Path, int, int]) -> None:
    path, start_b, total = joined
    assert list(run.hypotheses) == list(separate.hypotheses)
    assert all(h.strip() for h in run.hypotheses)  # real speech, real words
    # the slice is the original file's samples, bit for bit, after the same recipe
    rows = run.manifest["utterances"]
    assert [r["audio_sha256"] for r in rows] == [
        r["audio_sha256"] for r in separate.manifest["utterances"]]
    assert [r["segment"] for r in rows] == [
        {"frames": [0, start_b - RATE // 2], "sample_rate": RATE},
        {"frames": [start_b, total], "sample_rate": RATE}]
    assert {r["file_sha256"] for r in rows} == {run.utterances[0].sha256}  # the one recording
    # durations and RTF are the segments', not the recording's
    durations = [u.duration for u in run.utterances]
    assert durations == [u.duration for u in separate.utterances]
    assert run.timing.audio_seconds == pytest.approx(sum(durations))
    assert run.timing.audio_seconds < total / RATE  # not the recording twice over
    assert run.timing.rtfs.keys() == {u.id for u in run.utterances}


def test_kaldi_segments_decode_each_half_like_the_original_files(
        tmp_path: Path, joined: tuple[Path, int, int], pocketsphinx: Any, separate: Any) -> None:
    path, _, _ = joined
    end_a, start_b, total = _times(joined)
    data = tmp_path / "kaldi"
    data.mkdir()
    (data / "wav.scp").write_text(f"rec1 {path}\n")
    # the second segment ends with Kaldi's -1 (the end of the recording)
    (data / "segments").write_text(f"utt_a rec1 0 {end_a!r}\nutt_b rec1 {start_b!r} -1\n")
    (data / "text").write_text("utt_a he might even have been made amiable himself\n"
                               "utt_b and mister john dashwood had then leisure\n")
    (data / "utt2spk").write_text("utt_a spk\nutt_b spk\n")
    loaded = cases.load(data)
    corpus = as_corpus(loaded)
    assert [u.segment for u in corpus.utterances] == [
        (0, joined[1] - RATE // 2), (joined[1], joined[2])]
    run = _decode(pocketsphinx, corpus.utterances)
    assert [u.id for u in run.utterances] == ["utt_a", "utt_b"]
    _check_segments_decode_like_the_files(run, separate, joined)


def test_nemo_offsets_decode_each_half_like_the_original_files(
        tmp_path: Path, joined: tuple[Path, int, int], pocketsphinx: Any, separate: Any) -> None:
    path, _, _ = joined
    end_a, start_b, total = _times(joined)
    lines = [{"audio_filepath": str(path), "text": "he might", "offset": 0.0,
              "duration": end_a},
             {"audio_filepath": str(path), "text": "and mister", "offset": start_b,
              "duration": total - start_b}]
    manifest = tmp_path / "dev.nemo.jsonl"
    manifest.write_text("".join(json.dumps(x) + "\n" for x in lines))
    corpus = as_corpus(cases.load(manifest))
    run = _decode(pocketsphinx, corpus.utterances)
    ids = [u.id for u in run.utterances]
    assert ids[0].endswith("rec1") and ids[1].endswith(f"rec1@{start_b:g}")
    _check_segments_decode_like_the_files(run, separate, joined)


def test_the_corpus_hash_covers_the_interval(joined: tuple[Path, int, int]) -> None:
    path, start_b, total = joined
    item = {"id": "u", "audio": str(path), "text": "t"}
    whole = as_corpus([item])
    first = as_corpus([{**item, "start": 0.0, "end": 1.0}])
    assert len({whole.sha256, first.sha256,
                as_corpus([{**item, "start": 0.0, "end": 1.5}]).sha256,
                as_corpus([{**item, "start": 0.5, "end": 1.0}]).sha256}) == 4
    # the same frames are the same corpus, however the times are written
    assert as_corpus([{**item, "offset": 0.25, "duration": 0.75}]).sha256 == \
        as_corpus([{**item, "start": 0.25, "end": 1.0}]).sha256
    assert as_corpus([{**item, "start": 0.0, "end": 1.0 + 0.4 / RATE}]).sha256 == first.sha256
    # offset 0 without start/end is the whole file, as before
    assert as_corpus([{**item, "offset": 0.0}]).sha256 == whole.sha256
    assert whole.utterances[0].duration == pytest.approx(total / RATE)
    assert first.utterances[0].duration == 1.0 and first.utterances[0].segment == (0, RATE)


def test_bad_intervals_in_a_nemo_manifest_name_the_file_the_item_and_the_times(
        tmp_path: Path, joined: tuple[Path, int, int]) -> None:
    path, _, total = joined
    manifest = tmp_path / "dev.nemo.jsonl"
    manifest.write_text(json.dumps({"audio_filepath": str(path), "text": "t", "offset": 10.0,
                                    "duration": 2.0}) + "\n")
    with pytest.raises(DatasetError) as info:
        as_corpus(cases.load(manifest))
    msg = str(info.value)
    assert "rec1@10' (index 0; " in msg and "dev.nemo.jsonl:1)" in msg
    assert f"{path}: segment [10, 12) s reaches past the end of the recording, which lasts " \
        f"{total / RATE:.4f} s ({total} samples at 16000 Hz" in msg
    assert "It is not clipped" in msg


def test_bad_kaldi_segments_are_named(tmp_path: Path, joined: tuple[Path, int, int]) -> None:
    path, _, total = joined
    data = tmp_path / "kaldi"
    data.mkdir()
    (data / "wav.scp").write_text(f"rec1 {path}\n")
    (data / "text").write_text("u1 a\n")
    (data / "utt2spk").write_text("u1 s\n")
    (data / "segments").write_text("u1 rec1 9.0 30.5\n")
    with pytest.raises(DatasetError, match=r"item 'u1' \(index 0; .*text:1\): .*rec1.wav: "
                       r"segment \[9, 30.5\) s reaches past the end of the recording"):
        as_corpus(cases.load(data))
    # a negative or empty one is refused by the reader, naming the line
    (data / "segments").write_text("u1 rec1 -0.5 1.0\n")
    with pytest.raises(cases.CasesError, match=r"segments:1: start -0.5 is negative"):
        cases.load(data)
    (data / "segments").write_text("u1 rec1 1.0 1.0\n")
    with pytest.raises(cases.CasesError, match=r"segments:1: end 1 is not after start 1"):
        cases.load(data)


def test_segment_frames_round_each_time_to_the_nearest_sample() -> None:
    kw: dict[str, Any] = {"sample_rate": 100, "frames": 1000, "where": "f.wav"}
    assert segment_frames(0.0, None, **kw) == (0, 1000)
    assert segment_frames(0.014, 0.026, **kw) == (1, 3)  # 1.4 -> 1, 2.6 -> 3
    assert segment_frames(0.015, 0.025, **kw) == (2, 3)  # half a sample rounds up
    assert segment_frames(9.99, 10.0, **kw) == (999, 1000)
    with pytest.raises(AudioError, match=r"f.wav: segment \[9.999, 10\) s is empty"):
        segment_frames(9.999, 10.0, **kw)
    with pytest.raises(AudioError, match=r"f.wav: segment \[0, 10.01\) s reaches past"):
        segment_frames(0.0, 10.01, **kw)
    with pytest.raises(AudioError, match=r"segment end nan is not a finite number"):
        segment_frames(0.0, math.nan, **kw)
    with pytest.raises(AudioError, match=r"segment start True is not a finite number"):
        segment_frames(True, None, **kw)


@settings(max_examples=60, deadline=None)
@given(a=st.floats(0.0, 3.28, allow_nan=False), length=st.floats(0.0001, 3.0, allow_nan=False),
       rate=st.sampled_from([8000, 16000, 22050]))
def test_load_audio_reads_exactly_the_frames_of_the_interval(a: float, length: float,
                                                             rate: int) -> None:
    need_testdata()
    wav = _clip(FIRST)
    full = load_audio(wav, recipe=Recipe()).samples
    frames = len(full)
    end = a + length
    try:
        first, last = segment_frames(a, end, sample_rate=RATE, frames=frames, where="x")
    except AudioError:  # empty after rounding, or past the end: nothing is read
        assert math.floor(end * RATE + 0.5) > frames or \
            math.floor(end * RATE + 0.5) <= math.floor(a * RATE + 0.5)
        return
    assert first == math.floor(a * RATE + 0.5) and last == math.floor(end * RATE + 0.5)
    part = load_audio(wav, recipe=Recipe(), frames=(first, last))
    np.testing.assert_array_equal(part.samples, full[first:last])
    assert part.duration == (last - first) / RATE
    # resampling a segment resamples exactly the slice (the recipe sees only its frames)
    if rate != RATE:
        recipe = Recipe(sample_rate=rate, on_rate_mismatch="resample")
        if last - first >= 8:
            seg = load_audio(wav, recipe=recipe, frames=(first, last))
            from llaso_pytest.speech.audio import prepare

            ref = prepare(full[first:last], RATE, recipe=recipe)
            np.testing.assert_array_equal(seg.samples, ref.samples)


def test_load_audio_refuses_frames_outside_the_file() -> None:
    need_testdata()
    wav = _clip(FIRST)
    n = sf.info(str(wav)).frames
    for bad in ((0, n + 1), (-1, 10), (5, 5), (10, 4)):
        with pytest.raises(AudioError, match=rf"{wav.name}: segment samples \[{bad[0]}, "
                           rf"{bad[1]}\) are not inside the file \({n} samples"):
            load_audio(wav, recipe=Recipe(), frames=bad)


SEGMENT_CONFTEST = """
import os
from llaso_pytest.speech.engines import FunctionRecognizer

def pytest_llaso_speech_recognizers(config):
    def make():
        def transcribe(x):
            with open(os.environ["DECODE_LOG"], "a") as fh:
                fh.write(f"{len(x)}\\n")
            return {"8000": "a b", "12000": "c d e"}.get(str(len(x)), "?")
        return FunctionRecognizer("len-asr", transcribe,
                                  info={"device": "cpu", "cache_key": "len-v1"})
    return {"len-asr": make}
"""


def test_llaso_asr_records_segments_and_caches_them(pytester: pytest.Pytester,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Through the fixture: the record's evaluated set names the recording and the frames,
    timing counts the segments' seconds, and a re-run decodes nothing (cached)."""
    rng = np.random.default_rng(1)
    data = pytester.path / "data"
    data.mkdir()
    sf.write(str(data / "rec.wav"), (0.1 * rng.standard_normal(RATE * 3)).astype("float32"),
             RATE)
    (data / "wav.scp").write_text("rec rec.wav\n")
    (data / "segments").write_text("s1 rec 0.25 0.75\ns2 rec 1.5 2.25\n")
    (data / "text").write_text("s1 a b\ns2 c d e\n")
    (data / "utt2spk").write_text("s1 x\ns2 y\n")
    pytester.makeconftest(SEGMENT_CONFTEST)
    pytester.makeini("[pytest]\nllaso_progress_delay = 0\n")
    pytester.makepyfile(test_seg="""
        from llaso_pytest import cases

        def test_wer(llaso_asr):
            scores = llaso_asr(cases.load("data"))
            assert scores.wer.value == 0.0
        """)
    log = pytester.path / "decodes.log"
    monkeypatch.setenv("DECODE_LOG", str(log))
    for _ in range(2):
        pytester.runpytest("--llaso-out=run.json", "-p", "no:cacheprovider"
                           ).assert_outcomes(passed=1)
    assert log.read_text().split() == ["8000", "8000", "12000"]  # warm-up + 2, then cached
    rec = json.loads((pytester.path / "run.json").read_text())
    prov = rec["provenance"].get("recorded", rec["provenance"])
    (evalset,) = prov["asr_eval_sets"].values()
    rows = evalset["utterances"]
    assert [r["segment"] for r in rows] == [{"frames": [4000, 12000], "sample_rate": RATE},
                                            {"frames": [24000, 36000], "sample_rate": RATE}]
    assert [r["duration"] for r in rows] == [0.5, 0.75]
    results = {r["name"]: r for t in rec["tests"] for r in t["results"]}
    assert results["rtf"]["extra"]["from_cache"] == 2
