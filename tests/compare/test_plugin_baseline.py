"""End to end through pytest: --llaso-save, --llaso-baseline, gating, terminal table, errors."""

from __future__ import annotations

import json

import pytest

pytest_plugins = ["pytester"]

SUITE = """
import os
import numpy as np
from llaso_pytest import metrics

def test_exact_match(record_metric):
    rng = np.random.default_rng(0)
    n = 400
    refs = [f"answer {i}" for i in range(n)]
    wrong = float(os.environ.get("WRONG_RATE", "0.1"))
    flip = np.random.default_rng(1).random(n) < wrong
    hyps = [("nope" if f else r) for r, f in zip(refs, flip)]
    record_metric(metrics.exact_match(refs, hyps, ids=[f"q{i}" for i in range(n)], n_boot=200))
"""


@pytest.fixture()
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(test_suite=SUITE)
    return pytester


def test_save_then_compare_and_gate(project: pytest.Pytester,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("llaso_pytest.metrics")
    monkeypatch.setenv("WRONG_RATE", "0.1")
    res = project.runpytest("-p", "no:cacheprovider", "--llaso-save", "main")
    res.assert_outcomes(passed=1)
    assert (project.path / ".llaso" / "baselines" / "main.json").is_file()

    # same system: unchanged, exit 0 even with gating
    res = project.runpytest("-p", "no:cacheprovider", "--llaso-baseline", "main",
                            "--llaso-fail-on-regression")
    assert res.ret == 0
    res.stdout.fnmatch_lines(["*llaso comparison with*main.json*",
                              "*0 regressed, 0 improved at FDR 5%; 1 unchanged, 0 untested*"])

    # a worse system: a significant paired regression fails the session
    monkeypatch.setenv("WRONG_RATE", "0.3")
    out = project.path / "cmp.json"
    res = project.runpytest("-p", "no:cacheprovider", "--llaso-baseline", "main",
                            "--llaso-fail-on-regression", f"--llaso-compare-out={out}")
    assert res.ret == pytest.ExitCode.TESTS_FAILED
    res.stdout.fnmatch_lines(["*test_suite.py::test_exact_match*exact_match ^*REGRESSED*paired*",
                              "*significant regression against the baseline*"])
    data = json.loads(out.read_text())
    assert data["counts"]["regressed"] == 1
    assert data["metrics"][0]["flips"]["n_broken"] > 0

    # without gating the same regression is reported but does not fail the session
    res = project.runpytest("-p", "no:cacheprovider", "--llaso-baseline", "main")
    assert res.ret == 0
    res.stdout.fnmatch_lines(["*REGRESSED*", "*not gating*"])

    # inside a tolerance: unchanged
    res = project.runpytest("-p", "no:cacheprovider", "--llaso-baseline", "main",
                            "--llaso-fail-on-regression", "--llaso-tolerance",
                            "exact_match:-30pp")
    assert res.ret == 0


@pytest.mark.parametrize("content,words", [
    ("{\"kind\": \"llaso-run-rec", "not valid JSON"),
    ("{\"kind\": \"something\"}", "not a llaso-pytest run record"),
])
def test_unusable_baseline_is_a_usage_error_naming_the_file(
    project: pytest.Pytester, content: str, words: str
) -> None:
    bad = project.path / "bad.json"
    bad.write_text(content)
    res = project.runpytest("-p", "no:cacheprovider", "--llaso-baseline", str(bad))
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    res.stderr.fnmatch_lines([f"*--llaso-baseline*{bad}*{words}*"])


def test_unknown_baseline_name_and_bad_tolerance(project: pytest.Pytester) -> None:
    res = project.runpytest("-p", "no:cacheprovider", "--llaso-baseline", "nightly")
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    res.stderr.fnmatch_lines(["*baseline 'nightly' not found*"])
    (project.path / "b.json").write_text("{}")
    res = project.runpytest("-p", "no:cacheprovider", "--llaso-baseline", "b.json",
                            "--llaso-tolerance", "wer:lots")
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    res.stderr.fnmatch_lines(["*bad tolerance 'wer:lots'*"])
