"""A team's corpus as verified utterances, and the transcript cache (pure modules)."""

from __future__ import annotations

import hashlib
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from llaso_pytest.speech.audio import Recipe
from llaso_pytest.speech.corpus import as_corpus
from llaso_pytest.speech.engines import FunctionRecognizer
from llaso_pytest.speech.errors import DatasetError
from llaso_pytest.speech.noise import parse_condition
from llaso_pytest.speech.runner import run_condition
from llaso_pytest.speech.transcripts import (
    CachedTranscript,
    TranscriptCache,
    TranscriptCacheError,
    entry_key,
    model_key,
)


def _wav(path: Path, n: int, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), (0.1 * rng.standard_normal(n)).astype("float32"), 16000)
    return path


@pytest.fixture
def items(tmp_path: Path) -> list[dict[str, Any]]:
    return [{"id": f"u{i}", "audio": str(_wav(tmp_path / f"u{i}.wav", 8000 + 800 * i, i)),
             "text": f"word {i}", "speaker": f"s{i % 2}"} for i in range(4)]


def test_items_become_hashed_utterances(items: list[dict[str, Any]], tmp_path: Path) -> None:
    corpus = as_corpus(items, name="dev")
    u = corpus.utterances[1]
    assert (u.id, u.speaker, u.text, u.sample_rate) == ("u1", "s1", "word 1", 16000)
    assert u.duration == pytest.approx(8800 / 16000)
    assert u.sha256 == hashlib.sha256(Path(items[1]["audio"]).read_bytes()).hexdigest()
    assert corpus.llaso_dataset == ("dev", corpus.sha256)
    whole = [{**it, "offset": 0.0, "duration": None} for it in items]  # a Kaldi dir without
    assert as_corpus(whole, name="dev").sha256 == corpus.sha256        # segments
    # relative paths against root=, attribute-style items, default ids and speakers
    class Item:
        def __init__(self, path: str, text: str) -> None:
            self.path, self.transcript = path, text

    rel = as_corpus([Item("u0.wav", "x"), Item("u2.wav", "y")], root=tmp_path)
    assert [(u.id, u.speaker) for u in rel.utterances] == [("0", "0"), ("1", "1")]
    # the hash follows the content: another text is another corpus
    changed = [dict(it) for it in items]
    changed[0]["text"] = "other"
    assert as_corpus(changed, name="dev").sha256 != corpus.sha256
    assert as_corpus(items, name="dev").sha256 == corpus.sha256


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda it: it.pop("audio"), "item 'u0' (index 0): no audio file; give one of"),
        (lambda it: it.pop("text"), "item 'u0' (index 0): no reference text"),
        (lambda it: it.update(audio="/nonexistent/a.wav"), "audio file /nonexistent/a.wav does "
                                                           "not exist"),
        (lambda it: it.update(text=3), "text must be a str, got int"),
        (lambda it: it.update(id="u1"), "duplicate id 'u1' (items 0 and 1)"),
        # segments of a longer recording: bad intervals name the item, the file and the times
        (lambda it: it.update(start=1.5), "u0.wav: segment [1.5, end) s reaches past the end "
                                          "of the recording, which lasts 0.5000 s (8000"),
        (lambda it: it.update(offset=0.5, duration=0.25), "u0.wav: segment [0.5, 0.75) s "
                                                          "reaches past the end"),
        (lambda it: it.update(start=0.1, end=0.6), "segment [0.1, 0.6) s reaches past the end "
                                                   "of the recording, which lasts 0.5000 s "
                                                   "(8000 samples at 16000 Hz; the segment "
                                                   "needs samples 1600 to 9600). It is not "
                                                   "clipped"),
        (lambda it: it.update(start=-0.1, end=0.2), "segment [-0.1, 0.2) s starts before the "
                                                    "recording"),
        (lambda it: it.update(start=0.2, end=0.2), "segment [0.2, 0.2) s is empty (0 samples "
                                                   "at 16000 Hz"),
        (lambda it: it.update(start=0.2, end=0.10001), "segment [0.2, 0.10001) s is empty"),
        (lambda it: it.update(start=0.2, end=0.20003), "segment [0.2, 0.20003) s is empty"),
        (lambda it: it.update(end=0.2), "has 'end' but no 'start'"),
        (lambda it: it.update(start="soon"), "start must be a number of seconds, got 'soon'"),
        (lambda it: it.update(start=0.1, end=0.3, duration=0.5), "its segment of "),
        (lambda it: it.update(sha256="0" * 64), "the corpus pins 000"),
        (lambda it: it.update(duration=9.0), "lasts 0.500 s but the corpus says duration 9"),
    ],
)
def test_bad_items_are_named(items: list[dict[str, Any]], edit: Any, message: str) -> None:
    edit(items[0])
    with pytest.raises(DatasetError, match="corpus 'dev'") as info:
        as_corpus(items, name="dev")
    assert message in str(info.value)


def test_empty_and_path_inputs_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="corpus 'dev' has no items"):
        as_corpus([], name="dev")
    with pytest.raises(DatasetError, match="load it first"):
        as_corpus(str(tmp_path))  # type: ignore[arg-type]


def test_cache_keys_follow_audio_model_and_timing() -> None:
    m = model_key("asr", {"files": {"a": "1"}, "options": {"beam": 5}})
    assert m != model_key("asr", {"files": {"a": "2"}, "options": {"beam": 5}})
    assert m != model_key("asr", {"files": {"a": "1"}, "options": {"beam": 4}})
    k = entry_key("aa", m, {"device": "cpu", "cpu_threads": 1})
    assert k != entry_key("ab", m, {"device": "cpu", "cpu_threads": 1})
    assert k != entry_key("aa", m, {"device": "cpu", "cpu_threads": 2})
    assert k == entry_key("aa", m, {"cpu_threads": 1, "device": "cpu"})


def test_cache_roundtrip_and_schema(tmp_path: Path) -> None:
    cache = TranscriptCache(tmp_path / "t")
    cache.put_many([("k1", CachedTranscript("hello world", 0.25))])
    assert cache.get_many(["k1", "k2"]) == {"k1": CachedTranscript("hello world", 0.25)}
    assert (tmp_path / "t" / "README").is_file()
    cache.close()
    import sqlite3

    with sqlite3.connect(tmp_path / "t" / "transcripts.sqlite3") as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(TranscriptCacheError, match="schema version '99'.*delete the file"):
        TranscriptCache(tmp_path / "t").get_many(["k1"])


def test_unwritable_cache_degrades_with_one_warning(tmp_path: Path) -> None:
    d = tmp_path / "t"
    (d / "transcripts.sqlite3").mkdir(parents=True)  # not a database file: cannot be opened
    cache = TranscriptCache(d)
    with pytest.warns(UserWarning, match="cannot write.*read-only for the rest of this run"):
        cache.put_many([("k", CachedTranscript("x", 0.1))])
    assert cache.degraded
    cache.put_many([("k", CachedTranscript("x", 0.1))])  # no second warning, no error


def test_lock_serialises_two_holders(tmp_path: Path) -> None:
    cache = TranscriptCache(tmp_path / "t")
    order: list[str] = []

    def hold(name: str) -> None:
        with cache.lock("pass"):
            order.append(f"{name}+")
            time.sleep(0.2)
            order.append(f"{name}-")

    threads = [threading.Thread(target=hold, args=(n,)) for n in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert order in (["a+", "a-", "b+", "b-"], ["b+", "b-", "a+", "a-"])


def test_runner_reuses_cached_transcripts_and_latencies(items: list[dict[str, Any]],
                                                        tmp_path: Path) -> None:
    calls: list[int] = []

    def transcribe(x: Any) -> str:
        calls.append(len(x))
        return f"n{len(x)}"

    rec = FunctionRecognizer("count", transcribe, info={"device": "cpu"})
    corpus = as_corpus(items, name="dev")
    cache = TranscriptCache(tmp_path / "cache")
    pin = {"name": "count", "cache_key": "v1"}
    kw: dict[str, Any] = {"condition": parse_condition("white-10dB"), "recipe": Recipe(),
                          "seed": 3, "warmup": 1, "cache": cache, "model_pin": pin}
    first = run_condition(rec, corpus.utterances, **kw)
    assert len(calls) == 5 and first.cached == 0  # 4 utterances and a warm-up
    again = run_condition(rec, corpus.utterances, **kw)
    assert len(calls) == 5 and again.cached == 4  # no warm-up either: nothing to decode
    assert again.hypotheses == first.hypotheses
    assert again.timing.latencies == first.timing.latencies
    assert again.timing.rtf == first.timing.rtf
    # another noise seed is other audio: decoded again
    other = run_condition(rec, corpus.utterances, **{**kw, "seed": 4})
    assert other.cached == 0 and len(calls) == 10
    # one new utterance: only it is decoded
    more = as_corpus([*items, {"id": "u9", "audio": str(_wav(tmp_path / "u9.wav", 9999, 9)),
                               "text": "new"}], name="dev")
    grown = run_condition(rec, more.utterances, **kw)
    assert grown.cached == 4 and len(calls) == 12  # warm-up + the new one
    # refresh: another session's entries are decoded again ...
    kw["cache"] = TranscriptCache(tmp_path / "cache", session="next-run")
    refreshed = run_condition(rec, corpus.utterances, **kw, refresh=True)
    assert refreshed.cached == 0 and len(calls) == 17
    # ... and what this session stored (another xdist worker of it) is used
    after = run_condition(rec, corpus.utterances, **kw, refresh=True)
    assert after.cached == 4 and len(calls) == 17
    with pytest.raises(ValueError, match="needs the model_pin"):
        run_condition(rec, corpus.utterances, **{**kw, "model_pin": None})
