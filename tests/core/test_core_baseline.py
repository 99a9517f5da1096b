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
    result.stdout.fnmatch_lines(
        [
            "*llaso comparison with*main.json*",
            "*acc*REGRESSED (paired bootstrap, n=200)*",
            "*significant regression against the baseline: failing the session*",
        ]
    )
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
        (
            '{"schema_version": 1, "kind": "llaso-run-record", "run_id": "x", "te',
            "*not valid JSON*",
        ),
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


def _break_first_result(path: object) -> None:
    from pathlib import Path

    p = Path(str(path))
    data = json.loads(p.read_text())
    data["tests"][0]["results"][0]["items"]["scores"] = [1.0]  # 200 ids, 1 score
    p.write_text(json.dumps(data))


def test_a_malformed_baseline_is_refused_before_the_tests_run(pytester: pytest.Pytester) -> None:
    write_suite(pytester, 180)
    pytester.runpytest("--llaso-save", "main").assert_outcomes(passed=1)
    saved = pytester.path / ".llaso" / "baselines" / "main.json"
    _break_first_result(saved)
    result = pytester.runpytest("--llaso-baseline", "main")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([(f"*--llaso-baseline*{saved}*200 item ids but scores has 1*"
                                 "--llaso-save NAME*")])
    assert "passed" not in result.stdout.str()  # refused at start-up: no test ran


NO_METRIC_SUITE = "def test_plain(): pass\n"


def test_a_failing_comparison_still_finishes_and_saves_the_record(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_suite=NO_METRIC_SUITE)
    pytester.runpytest("--llaso-save", "empty").assert_outcomes(passed=1)
    result = pytester.runpytest("--llaso-baseline", "empty", "--llaso-save", "next")
    result.assert_outcomes(passed=1)
    # neither run holds a metric: the comparison is impossible, and the exit status says so
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stdout.fnmatch_lines(["*llaso comparison failed*",
                                 ("*comparison with the baseline*empty.json failed*neither*"
                                 "holds any recorded metric*")])
    rec = load_latest(pytester.path)
    assert rec["complete"] is True and rec["exit_status"] == pytest.ExitCode.USAGE_ERROR
    assert rec["finished_at"] is not None
    saved = json.loads((pytester.path / ".llaso" / "baselines" / "next.json").read_text())
    assert saved["run_id"] == rec["run_id"]


INTERRUPTED_SUITE = """
def test_a_fails():
    assert False
{suite}
"""


def test_an_interrupted_run_is_compared_as_incomplete_and_not_saved(
    pytester: pytest.Pytester,
) -> None:
    write_suite(pytester, 180)
    pytester.runpytest("--llaso-save", "main").assert_outcomes(passed=1)
    pytester.makepyfile(test_suite=INTERRUPTED_SUITE.format(suite=SUITE.format(CORRECT=180)))
    result = pytester.runpytest("-p", "no:randomly", "-x", "--llaso-baseline", "main",
                                "--llaso-save", "main", "--llaso-compare-out", "cmp.json")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    warnings = json.loads((pytester.path / "cmp.json").read_text())["warnings"]
    assert any("(this run) is incomplete" in w and "stopping after 1 failures" in w
               for w in warnings), warnings
    result.stdout.fnmatch_lines(["*LlasoWarning: --llaso-save main: not saved*incomplete*",
                                 "*llaso: --llaso-save main: not saved*llaso baseline save main*"])
    rec = load_latest(pytester.path)
    assert rec["complete"] is False
    baseline = json.loads((pytester.path / ".llaso" / "baselines" / "main.json").read_text())
    assert baseline["run_id"] != rec["run_id"] and baseline["complete"] is True


def test_the_first_save_of_the_ini_baseline_skips_the_comparison(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeini("[pytest]\nllaso_baseline = main\nllaso_fail_on_regression = true\n")
    write_suite(pytester, 180)
    result = pytester.runpytest("--llaso-save", "main")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines([("*LlasoWarning: --llaso-baseline 'main': no such baseline is "
                                 "saved yet*"), "llaso: saved as baseline *main.json"])
    assert "llaso comparison with" not in result.stdout.str()
    # from now on the ini baseline exists and gates
    write_suite(pytester, 120)
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*acc*REGRESSED*"])
    # without --llaso-save of that very name a missing baseline stays an error
    (pytester.path / ".llaso" / "baselines" / "main.json").unlink()
    assert pytester.runpytest().ret == pytest.ExitCode.USAGE_ERROR
    result = pytester.runpytest("--llaso-save", "other")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*baseline 'main' not found*"])


def test_a_command_line_tolerance_replaces_the_ini_one(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nllaso_tolerances =\n    acc:-1pp\n")
    write_suite(pytester, 180)
    pytester.runpytest("--llaso-save", "main").assert_outcomes(passed=1)
    write_suite(pytester, 120)
    result = pytester.runpytest("--llaso-baseline", "main", "--llaso-fail-on-regression")
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # the ini tolerance: 1pp
    result = pytester.runpytest("--llaso-baseline", "main", "--llaso-fail-on-regression",
                                "--llaso-tolerance", "acc:-40pp")
    assert result.ret == pytest.ExitCode.OK, result.stderr.str()
    result.stdout.fnmatch_lines(["*unchanged (within tolerance)*"])
    # twice in one place is still an error
    result = pytester.runpytest("--llaso-baseline", "main", "--llaso-tolerance", "acc:-4pp",
                                "--llaso-tolerance", "acc:-5pp")
    assert result.ret == pytest.ExitCode.USAGE_ERROR


def test_the_plugin_and_llaso_compare_give_the_same_intervals(pytester: pytest.Pytester) -> None:
    from llaso_pytest.cli import main

    write_suite(pytester, 180)
    pytester.runpytest("--llaso-save", "main", "--llaso-seed", "7").assert_outcomes(passed=1)
    write_suite(pytester, 171)
    pytester.runpytest("--llaso-baseline", "main", "--llaso-seed", "7",
                       "--llaso-compare-out", "plugin.json").assert_outcomes(passed=1)
    store = pytester.path / ".llaso"
    assert main(["compare", str(store / "baselines" / "main.json"),
                 str(store / "runs" / "latest.json"), "-q", "-o",
                 str(pytester.path / "cli.json")]) == 0
    plugin = json.loads((pytester.path / "plugin.json").read_text())
    cli = json.loads((pytester.path / "cli.json").read_text())
    assert plugin["settings"] == cli["settings"]
    keep = ("verdict", "delta", "test")
    assert [{k: m[k] for k in keep} for m in plugin["metrics"]] == \
        [{k: m[k] for k in keep} for m in cli["metrics"]]
