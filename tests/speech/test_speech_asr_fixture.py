"""``llaso_asr``: a team's own recogniser over its own corpus, with nothing copied from the
shipped suite; the transcript cache (re-runs, ``-n 2``); engine defaults and typos."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from llaso_pytest import metrics

pytest_plugins = ["pytester"]

# A team's recogniser: it "recognises" an utterance by the number of samples (each test
# file has a different length), and appends one line per decoding to a log, so the tests
# can count how often audio was really decoded (across processes, too).
CONFTEST = """
import os
from llaso_pytest.speech.engines import FunctionRecognizer

TEXTS = {TEXTS!r}

def pytest_llaso_speech_recognizers(config):
    def make():
        def transcribe(x):
            with open(os.environ["DECODE_LOG"], "a") as fh:
                fh.write(f"{{len(x)}}\\n")
            return TEXTS.get(str(len(x)), "")
        return FunctionRecognizer("lookup-asr", transcribe,
                                  info={{"device": "cpu", "cache_key": "lookup-v1"}})
    return {{"lookup-asr": make}}
"""

REFS = ["the cat sat on the mat", "a dog barked twice", "seven green apples", "go home now",
        "it is 5 past ten", "blue sky"]
HYPS = ["the cat sat on a mat", "a dog barked twice", "seven green apple", "go home",
        "it is five past ten", "blue sky today"]
SPEAKERS = ["s1", "s1", "s2", "s3", "s4", "s5"]
N = len(REFS)
DECODES = N + 1  # every utterance, and one untimed warm-up


def _write_corpus(root: Path) -> list[dict[str, Any]]:
    rng = np.random.default_rng(0)
    items = []
    for i, (ref, spk) in enumerate(zip(REFS, SPEAKERS, strict=True)):
        n = 16000 + 1000 * i
        path = root / "audio" / f"u{i}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(path), (0.1 * rng.standard_normal(n)).astype("float32"), 16000)
        items.append({"id": f"u{i}", "audio_filepath": str(path), "text": ref, "speaker": spk})
    return items


@pytest.fixture
def team_project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Path:
    items = _write_corpus(pytester.path)
    texts = {str(16000 + 1000 * i): h for i, h in enumerate(HYPS)}
    pytester.makeconftest(CONFTEST.format(TEXTS=texts))
    (pytester.path / "corpus.json").write_text(json.dumps(items))
    monkeypatch.setenv("DECODE_LOG", str(pytester.path / "decodes.log"))
    pytester.makeini("[pytest]\nllaso_progress_delay = 0\n")
    pytester.makepyfile(test_team="""
        import json
        CORPUS = json.load(open("corpus.json"))

        def test_wer(llaso_asr):
            scores = llaso_asr(CORPUS)
            assert scores.wer < 0.5
        """)
    return pytester.path


def _record(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _decodes(root: Path) -> int:
    log = root / "decodes.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


def _results(record: dict[str, Any], test: str) -> dict[str, dict[str, Any]]:
    tests = [t for t in record["tests"] if t["nodeid"].endswith(test)]
    assert len(tests) == 1, [t["nodeid"] for t in record["tests"]]
    return {r["name"]: r for r in tests[0]["results"]}


def test_team_corpus_records_what_the_shipped_suite_records(
        pytester: pytest.Pytester, team_project: Path) -> None:
    """No shipped model manifest in the project, no --llaso-speech-engines: the team's
    registered recogniser is the default engine, and the shipped defaults break nothing."""
    result = pytester.runpytest("--llaso-out=run.json", "-p", "no:cacheprovider",
                                "--llaso-seed=7")
    result.assert_outcomes(passed=1)
    assert "pocketsphinx" not in result.stdout.str()
    res = _results(_record(team_project / "run.json"), "test_wer")
    assert set(res) == {"wer", "cer", "rtf", "rtfx", "latency_s", "latency_p95_s",
                        "throughput_audio_s_per_s"}
    # The same numbers as the metric on the texts (whisper normaliser, speaker clusters,
    # the session seed as bootstrap seed): nothing else changes them.
    ref = metrics.wer(REFS, HYPS, ids=[f"u{i}" for i in range(N)], groups=SPEAKERS,
                      normalize="whisper", seed=7)
    assert res["wer"]["value"] == pytest.approx(ref.value)
    assert res["wer"]["signature"]["fields"]["seed"] == 7
    assert res["wer"]["items"]["groups"] == SPEAKERS
    cer = metrics.cer(REFS, HYPS, groups=SPEAKERS, normalize="whisper", seed=7)
    assert res["wer"]["ci"] == pytest.approx(list(ref.ci))  # same seed: same interval
    assert res["cer"]["value"] == pytest.approx(cer.value)
    fields = res["wer"]["signature"]["fields"]
    assert fields["model"] == "lookup-asr" and fields["condition"] == "clean"
    assert len(fields["data"]) == 16
    latency = res["latency_s"]
    assert latency["n"] == N and all(x > 0 for x in latency["items"]["stats"]["total"])
    assert res["rtf"]["extra"]["from_cache"] == 0
    assert _decodes(team_project) == DECODES


def test_rerun_and_workers_do_not_decode_twice(pytester: pytest.Pytester,
                                               team_project: Path) -> None:
    pytester.makepyfile(test_more="""
        import json
        CORPUS = json.load(open("corpus.json"))

        def test_again(llaso_asr):
            assert llaso_asr(CORPUS).wer < 0.5

        def test_speakers(llaso_asr):
            llaso_asr(CORPUS, record=False).record_speakers()
        """)
    result = pytester.runpytest("--llaso-out=run1.json", "-p", "no:cacheprovider", "-n", "2")
    result.assert_outcomes(passed=3)
    # Both workers needed the pass; the second waited for the first and read the cache.
    assert _decodes(team_project) == DECODES
    rec = _record(team_project / "run1.json")
    result = pytester.runpytest("--llaso-out=run2.json", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)
    assert _decodes(team_project) == DECODES  # the re-run decoded nothing
    rec2 = _record(team_project / "run2.json")
    first = _results(rec, "test_wer")
    again = _results(rec2, "test_wer")
    assert again["rtf"]["extra"]["from_cache"] == N
    assert again["wer"]["value"] == first["wer"]["value"]
    assert again["wer"]["signature"] == first["wer"]["signature"]
    # refresh decodes again; off neither reads nor writes the cache
    pytester.runpytest("-p", "no:cacheprovider", "--llaso-speech-transcript-cache=refresh",
                       "test_team.py").assert_outcomes(passed=1)
    assert _decodes(team_project) == 2 * DECODES
    # refresh with two workers: decoded again, once (the workers share the session's entries)
    pytester.runpytest("-p", "no:cacheprovider", "--llaso-speech-transcript-cache=refresh",
                       "-n", "2").assert_outcomes(passed=3)
    assert _decodes(team_project) == 3 * DECODES
    pytester.runpytest("-p", "no:cacheprovider", "--llaso-speech-transcript-cache=off",
                       "test_team.py").assert_outcomes(passed=1)
    assert _decodes(team_project) == 4 * DECODES


def test_unversioned_recogniser_is_not_cached(pytester: pytest.Pytester,
                                              team_project: Path) -> None:
    """Without ``cache_key`` in describe(), changed team code could hit stale transcripts."""
    conftest = (team_project / "conftest.py").read_text()
    (team_project / "conftest.py").write_text(conftest.replace(', "cache_key": "lookup-v1"', ""))
    for _ in range(2):
        pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
    assert _decodes(team_project) == 2 * DECODES


def test_mistyped_engine_lists_the_registered_recognisers(pytester: pytest.Pytester,
                                                          team_project: Path) -> None:
    result = pytester.runpytest("-p", "no:cacheprovider", "--llaso-speech-engines=lookup-asx")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*no model manifest named 'lookup-asx'*",
                                 "*registered recognisers: lookup-asr*"])
    pytester.makepyfile(test_team="""
        import json
        CORPUS = json.load(open("corpus.json"))

        def test_wer(llaso_asr):
            llaso_asr(CORPUS, engine="lookup-asx")
        """)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*no model manifest named 'lookup-asx'*",
                                 "*registered recognisers: lookup-asr*"])


def test_engine_parametrisation_and_no_engine(pytester: pytest.Pytester,
                                              team_project: Path) -> None:
    pytester.makepyfile(test_team="""
        import json
        CORPUS = json.load(open("corpus.json"))

        def test_wer(llaso_asr, llaso_asr_engine):
            assert llaso_asr(CORPUS).run.engine == llaso_asr_engine
        """)
    result = pytester.runpytest("-p", "no:cacheprovider", "-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*test_wer?lookup-asr? PASSED*"])
    (team_project / "conftest.py").write_text("")
    # without recognisers of its own, the shipped pins whose model files are installed
    collected = pytester.runpytest("-p", "no:cacheprovider", "--collect-only", "-q")
    collected.stdout.fnmatch_lines(["*test_wer?pocketsphinx-en-us?", "*test_wer?whisper-tiny.en?"])
    # the manifests found first pin model packages this machine lacks: no engine at all
    from speech_testutil import MODELS

    missing = team_project / "not-installed"
    missing.mkdir()
    for pinned in MODELS.glob("*.json"):
        data = json.loads(pinned.read_text())
        data["root"]["distribution"] = "llaso-no-such-model-package"
        (missing / pinned.name).write_text(json.dumps(data))
    result = pytester.runpytest("-p", "no:cacheprovider", f"--llaso-speech-models-dir={missing}")
    assert result.ret == pytest.ExitCode.INTERRUPTED  # a collection error, not a skip
    result.stdout.fnmatch_lines(["*asks for llaso_asr_engine, but there is no ASR engine*"
                                 "pytest_llaso_speech_recognizers hook"])
    assert "_pytest/python.py" not in result.stdout.str()  # the message, no traceback


def test_progress_lines(pytester: pytest.Pytester, team_project: Path) -> None:
    """A few lines in a non-interactive log (a start line and one per quarter), a
    final line with done/total, elapsed and rate; nothing under -q."""
    result = pytester.runpytest("-p", "no:cacheprovider", "--llaso-speech-transcript-cache=off")
    result.assert_outcomes(passed=1)
    lines = [ln for ln in result.stdout.lines if ln.startswith("llaso: decoding")]
    assert 1 <= len(lines) <= 5, lines
    assert f"llaso: decoding with lookup-asr (clean): {N}/{N} utterances" in lines[-1]
    assert "s elapsed" in lines[-1] and "utterances/s" in lines[-1]
    quiet = pytester.runpytest("-p", "no:cacheprovider", "-q",
                               "--llaso-speech-transcript-cache=off")
    quiet.assert_outcomes(passed=1)
    assert not [ln for ln in quiet.stdout.lines if "llaso: decoding" in ln]


def test_progress_of_a_long_loop_is_a_few_lines(pytester: pytest.Pytester) -> None:
    """2000 items in a CI log: a start line, one per quarter, a final line (not 2000)."""
    pytester.makeini("[pytest]\nllaso_progress_delay = 0\n")
    pytester.makepyfile(test_loop="""
        from llaso_pytest.context import progress

        def test_loop():
            with progress("llaso: judging", 2000) as p:
                for _ in range(2000):
                    p.advance()
        """)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    lines = [ln for ln in result.stdout.lines if ln.startswith("llaso: judging")]
    assert [ln.split(",")[0] for ln in lines] == [
        "llaso: judging: 0/2000 items", "llaso: judging: 500/2000 items",
        "llaso: judging: 1000/2000 items", "llaso: judging: 1500/2000 items",
        "llaso: judging: 2000/2000 items"]
    # outside a test (no context) nothing is shown, and nothing fails
    from llaso_pytest.context import progress

    with progress("nothing", 3) as p:
        p.advance(3)
    assert p.done == 3 and p.finished


def test_progress_on_a_terminal_is_one_line_rewritten(pytester: pytest.Pytester) -> None:
    """On a terminal (a pseudo-terminal here) the line is rewritten in place with ``\\r``."""
    import os
    import pty
    import subprocess
    import sys

    pytester.makeini("[pytest]\nllaso_progress_delay = 0\n")
    pytester.makepyfile(test_loop="""
        import time
        from llaso_pytest.context import progress

        def test_loop():
            with progress("llaso: work", 30) as p:
                for _ in range(30):
                    time.sleep(0.02)
                    p.advance()
        """)
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "pytest", "-p", "no:cacheprovider"],
                            cwd=pytester.path, stdin=follower, stdout=follower, stderr=follower)
    os.close(follower)
    chunks: list[bytes] = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=120)
    os.close(leader)
    out = b"".join(chunks).decode(errors="replace")
    assert proc.returncode == 0, out
    assert out.count("\rllaso: work: ") >= 2, out  # rewritten, not one line per item
    assert out.count("\n") < 30
    assert "llaso: work: 30/30 items" in out
