"""The plugin's baseline options: save, compare, gate, report files, bad baselines."""

from __future__ import annotations

import json

import pytest
from core_testutil import load_latest

pytest_plugins = ["pytester"]

SUITE = """
def test_acc(record_metric):
    correct = {CORRECT}
    record_metric("acc", items={{f"q{{i}}": float(i < correct) for i in range(200)}},
                  higher_is_better=True)
"""


def write_suite(pytester: pytest.Pytester, correct: int) -> None:
    pytester.makepyfile(test_suite=SUITE.format(CORRECT=correct))


def test_save_then_gate_on_regression(pytester: pytest.Pytester) -> None:
    write_suite(pytester, 180)
    result = pytester.runpytest("--llaso-save", "main")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["llaso: saved as baseline *baselines/main.json"])
    assert (pytester.path / ".llaso" / "baselines" / "main.json").is_file()

    write_suite(pytester, 120)  # 90% -> 60% correct on the same 200 items
    result = pytester.runpytest("--llaso-baseline", "main", "--llaso-fail-on-regression",
                                "--llaso-compare-out", "cmp.md", "--llaso-compare-out", "cmp.json")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*llaso comparison with*main.json*", "*acc*REGRESSED (paired, n=200)*",
                                 "*significant regression against the baseline: failing the session*"])
    rec = load_latest(pytester.path)
    assert rec["exit_status"] == 1 and rec["provenance"]["baseline"]["path"].endswith("main.json")
    verdicts = json.loads((pytester.path / "cmp.json").read_text())
    assert "regressed" in json.dumps(verdicts)
    assert "<!-- llaso-pytest-report -->" in (pytester.path / "cmp.md").read_text()

    # without gating the session passes but says so
    result = pytester.runpytest("--llaso-baseline", "main")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*not gating (add --llaso-fail-on-regression)*"])

    # an improvement or the same numbers do not fail the gate
    write_suite(pytester, 180)
    result = pytester.runpytest("--llaso-baseline", "main", "--llaso-fail-on-regression")
    assert result.ret == pytest.ExitCode.OK


def test_tolerance_absorbs_a_small_change(pytester: pytest.Pytester) -> None:
    write_suite(pytester, 180)
    pytester.runpytest("--llaso-save", "base").assert_outcomes(passed=1)
    write_suite(pytester, 120)
    result = pytester.runpytest("--llaso-baseline", "base", "--llaso-fail-on-regression",
                                "--llaso-tolerance", "acc:-40pp")
    assert result.ret == pytest.ExitCode.OK


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"schema_version": 1, "kind": "llaso-run-record", "run_id": "x", "te', "*not valid JSON*"),
        ('{"hello": "world"}', "*not a llaso-pytest run record*"),
        ('{"schema_version": 99, "kind": "llaso-run-record"}', "*schema_version 99*upgrade*"),
        ("", "*empty*"),
    ],
)
def test_unusable_baseline_is_a_usage_error(pytester: pytest.Pytester, content: str,
                                            message: str) -> None:
    write_suite(pytester, 10)
    (pytester.path / "base.json").write_text(content)
    result = pytester.runpytest("--llaso-baseline", "base.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--llaso-baseline*base.json*"])
    result.stderr.fnmatch_lines([message])


def test_missing_baseline_and_options_without_baseline(pytester: pytest.Pytester) -> None:
    write_suite(pytester, 10)
    result = pytester.runpytest("--llaso-baseline", "nosuch")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--llaso-baseline*nosuch*"])
    result = pytester.runpytest("--llaso-fail-on-regression")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*need a baseline*--llaso-baseline*"])
    result = pytester.runpytest("--llaso-save", "bad/name")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result = pytester.runpytest("--llaso-tolerance", "wer:lots")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*bad tolerance 'wer:lots'*"])
