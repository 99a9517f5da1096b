"""The ASR example of docs/speech.md runs: a Kaldi data directory, cases.load, llaso_asr."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from speech_testutil import REPO, need_testdata

pytest_plugins = ["pytester"]

EXAMPLE = REPO / "docs" / "examples" / "asr_kaldi"


def test_kaldi_example_runs_and_records(pytester: pytest.Pytester, tmp_path: Path) -> None:
    need_testdata()
    out = tmp_path / "run.json"
    result = pytester.runpytest_subprocess(
        str(EXAMPLE), "-p", "no:cacheprovider", "--llaso-speech-engines=pocketsphinx-en-us",
        f"--llaso-speech-cache={tmp_path / 'cache'}", f"--llaso-out={out}",
        f"--llaso-dir={tmp_path / 'store'}", f"--rootdir={REPO}",
        "-W", "ignore::llaso_pytest.errors.LlasoWarning",
    )
    result.assert_outcomes(passed=2)
    record = json.loads(out.read_text())
    by = {t["nodeid"].split("::")[-1]: {r["name"]: r for r in t["results"]}
          for t in record["tests"]}
    clean = by["test_kaldi_corpus[pocketsphinx-en-us]"]
    assert {"wer", "cer", "rtf", "latency_s", "wer/speaker=cards-speaker",
            "wer/speaker=librivox-austen-reader", "errors/numbers"} <= set(clean)
    assert clean["wer"]["n"] == 10
    assert clean["wer"]["items"]["groups"].count("cards-speaker") == 5
    # the dataset's content hash (Kaldi files and audio) is in provenance and the eval set
    prov = record["provenance"]
    (name,) = [k for k in prov["datasets"] if k.endswith("data")]
    assert prov["datasets"][name]["format"] == "kaldi"
    assert f"{name}/clean" in prov["asr_eval_sets"]
    assert f"{name}/white-20dB" in prov["asr_eval_sets"]
    # every result is signed with the loaded dataset (texts included) and the hash of the
    # evaluated audio
    sha = prov["datasets"][name]["sha256"]
    for res in clean.values():
        assert res["signature"]["fields"]["datasets"] == f"{name}@{sha[:16]}", res["name"]
    assert len(clean["wer"]["signature"]["fields"]["data"]) == 16
