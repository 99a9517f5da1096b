"""The shipped ASR suite's gates: a recogniser that returns nothing must fail them."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from speech_testutil import ASR, REPO, need_flite, need_testdata

from llaso_pytest import metrics
from llaso_pytest.metrics import get_normalizer

pytest_plugins = ["pytester"]

SUITE = REPO / "suites" / "asr"


@pytest.fixture(scope="module")
def suite_modules() -> Iterator[tuple[ModuleType, ModuleType]]:
    sys.path.insert(0, str(SUITE))
    try:
        yield importlib.import_module("asr_thresholds"), importlib.import_module("asr_settings")
    finally:
        sys.path.remove(str(SUITE))


def test_every_noisy_gate_fails_empty_output(suite_modules: tuple[ModuleType, ModuleType]) -> None:
    """Empty output deletes every word: WER exactly 1.0. Before: gates of 1.10 passed it."""
    th, settings = suite_modules
    refs = ["he was not an ill disposed young man", "ten of clubs"]
    empty_wer = metrics.wer(refs, ["", ""], normalize="whisper", n_boot=0)
    assert empty_wer.value == 1.0
    for engine in (*th.NOISY_WER_MAX, "my-own-asr"):
        for cond in settings.NOISY_CONDITIONS:
            snr = float(cond.split("-")[1].removesuffix("dB"))
            gate = th.noisy_gate(engine, snr)
            assert gate < 1.0, f"{engine} at {snr} dB: gate {gate} passes empty output"
            assert not empty_wer < gate


def test_empty_output_check(suite_modules: tuple[ModuleType, ModuleType]) -> None:
    th, _ = suite_modules
    norm = get_normalizer("whisper")
    ids = [f"u{i}" for i in range(8)]
    refs = ["some words here"] * 7 + [""]  # an utterance without words may be empty
    dead = th.empty_output_problem(ids, refs, [""] * 8, normalize=norm)
    assert dead is not None and "7 of 7" in dead and "u0" in dead and "u7" not in dead
    # what the WER's normaliser turns into nothing (fillers, punctuation) counts as empty
    assert th.empty_output_problem(ids, refs, ["uh um", " , "] * 4, normalize=norm) is not None
    one_empty = ["some words"] * 6 + ["", ""]  # 1 of 7 spoken utterances empty
    assert th.empty_output_problem(ids, refs, one_empty, normalize=norm) is None
    with pytest.raises(ValueError, match="8 ids, 7 references"):
        th.empty_output_problem(ids, refs[:7], one_empty, normalize=norm)


def test_shipped_suite_fails_a_recogniser_that_returns_nothing(pytester: pytest.Pytester) -> None:
    """The reviewer's dead pipeline, registered as a team's recogniser, on the noisy suite."""
    need_testdata()
    need_flite()
    pytester.makepyfile(
        emptyasr="""
        from llaso_pytest.speech.engines import FunctionRecognizer

        def pytest_llaso_speech_recognizers(config):
            return {"dead-asr": lambda: FunctionRecognizer("dead-asr", lambda x: "",
                                                           info={"device": "cpu"})}
        """
    )
    cache = Path(REPO / ".llaso" / "cache" / "speech")
    result = pytester.runpytest_subprocess(
        str(SUITE), "-p", "emptyasr", "-p", "no:cacheprovider", "-m", "noisy",
        "-k", "white-5dB or pink-20dB", "--llaso-speech-engines=dead-asr",
        f"--llaso-speech-cache={cache}", f"--llaso-dir={pytester.path / 'store'}",
        f"--rootdir={REPO}",
    )
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        ["*8 of 8 utterances with reference words got an empty transcript*"]
    )
    assert ASR.is_dir()
