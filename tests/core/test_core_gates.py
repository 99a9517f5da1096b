"""Gates that must not pass vacuously: the selection a run records, what --llaso-save refuses,
option values that pytest would take for test paths, and the gate's exit status."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from core_testutil import load_latest

pytest_plugins = ["pytester"]

SUITE = """
import pytest

@pytest.mark.parametrize("name", ["wer", "bleu", "rouge", "judge"])
def test_metric(record_metric, name):
    record_metric(name, items={f"q{i}": float(i % 3 == 0) for i in range(40)},
                  higher_is_better=True)
"""

INI = """
[pytest]
testpaths = tests
addopts = -p no:cacheprovider
"""


@pytest.fixture()
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A project as users have them: an ini file with testpaths, the tests in tests/."""
    pytester.makefile(".ini", pytest=INI)
    tests = pytester.mkdir("tests")
    (tests / "test_suite.py").write_text(SUITE)
    return pytester


def test_selection_is_recorded_for_a_full_and_a_keyword_run(project: pytest.Pytester) -> None:
    project.runpytest().assert_outcomes(passed=4)
    sel = load_latest(project.path)["selection"]
    assert sel == {"collected": 4, "deselected": [], "args": [], "keyword": None,
                   "markexpr": None, "last_failed": False, "subset": False, "empty": False}

    project.runpytest("-k", "rouge").assert_outcomes(passed=1)
    sel = load_latest(project.path)["selection"]
    assert sel["collected"] == 4 and sel["keyword"] == "rouge" and sel["subset"] is True
    assert sel["deselected"] == sorted(
        f"tests/test_suite.py::test_metric[{n}]" for n in ("bleu", "judge", "wer"))


def test_selection_under_xdist_comes_from_the_workers(project: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    result = project.runpytest("-n", "2", "-k", "not judge", "--llaso-save", "main")
    result.assert_outcomes(passed=3)
    sel = load_latest(project.path)["selection"]
    assert sel["collected"] == 4 and sel["subset"] is True
    assert sel["deselected"] == ["tests/test_suite.py::test_metric[judge]"]
    assert not (project.path / ".llaso" / "baselines" / "main.json").exists()


def test_selection_args_relative_to_rootdir(project: pytest.Pytester) -> None:
    sub = project.path / "tests"
    project.runpytest(str(sub)).assert_outcomes(passed=4)  # the configured testpaths: all
    sel = load_latest(project.path)["selection"]
    assert sel["args"] == ["tests"] and sel["subset"] is False
    node = f"{sub / 'test_suite.py'}::test_metric[wer]"
    project.runpytest(node).assert_outcomes(passed=1)
    sel = load_latest(project.path)["selection"]
    assert sel["args"] == ["tests/test_suite.py::test_metric[wer]"] and sel["subset"] is True
    assert sel["deselected"] == []  # narrowed by the args, not deselected


def test_deselect_and_markexpr_are_subsets(project: pytest.Pytester) -> None:
    project.runpytest("--deselect", "tests/test_suite.py::test_metric[wer]").assert_outcomes(
        passed=3)
    sel = load_latest(project.path)["selection"]
    assert sel["deselected"] == ["tests/test_suite.py::test_metric[wer]"] and sel["subset"]
    result = project.runpytest("-m", "noisy")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    sel = load_latest(project.path)["selection"]
    assert sel["empty"] is True and sel["markexpr"] == "noisy" and len(sel["deselected"]) == 4


def test_save_refuses_an_empty_run(project: pytest.Pytester) -> None:
    result = project.runpytest("-m", "noisy", "--llaso-save", "empty")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    assert not (project.path / ".llaso" / "baselines" / "empty.json").exists()
    result.stdout.fnmatch_lines(["*--llaso-save empty: not saved, because no test ran*-m 'noisy'*",
                                 "*llaso baseline save empty *"])


def test_save_refuses_a_subset_run(project: pytest.Pytester) -> None:
    result = project.runpytest("-k", "rouge", "--llaso-save", "partial")
    result.assert_outcomes(passed=1)
    assert not (project.path / ".llaso" / "baselines" / "partial.json").exists()
    result.stdout.fnmatch_lines(
        ["*--llaso-save partial: not saved, because this is a subset run (1 of 4 collected "
         "tests selected, by -k 'rouge')*"])
    # the whole suite saves, and the explicit override still exists for a subset
    project.runpytest("--llaso-save", "full").assert_outcomes(passed=4)
    assert (project.path / ".llaso" / "baselines" / "full.json").is_file()


def test_save_refuses_a_last_failed_rerun(pytester: pytest.Pytester,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(test_lf="""
        import os
        def test_a(record_metric):
            record_metric("a", 1.0, higher_is_better=True)
        def test_b():
            assert os.environ.get("FIXED") == "1"
    """)
    pytester.runpytest().assert_outcomes(passed=1, failed=1)
    monkeypatch.setenv("FIXED", "1")
    result = pytester.runpytest("--lf", "--llaso-save", "lf")
    result.assert_outcomes(passed=1)
    sel = load_latest(pytester.path)["selection"]
    assert sel["last_failed"] is True and sel["subset"] is True
    assert not (pytester.path / ".llaso" / "baselines" / "lf.json").exists()
    result.stdout.fnmatch_lines(["*not saved, because this is a subset run*--lf*"])


# -- option values that pytest takes for test paths ------------------------------------
@pytest.fixture()
def outside(project: pytest.Pytester, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A baseline of the whole suite saved outside the project (a CI artifact folder)."""
    project.runpytest("--llaso-save", "main").assert_outcomes(passed=4)
    folder = tmp_path_factory.mktemp("artifacts")
    target = folder / "base.json"
    target.write_text((project.path / ".llaso" / "baselines" / "main.json").read_text())
    return target


@pytest.mark.parametrize("option", ["--llaso-baseline", "--llaso-compare-out"])
def test_an_absolute_value_after_a_space_never_changes_the_rootdir(
    project: pytest.Pytester, outside: Path, option: str
) -> None:
    args = ["--llaso-baseline", str(outside)] if option == "--llaso-baseline" else \
        ["--llaso-baseline=main", "--llaso-compare-out", str(outside.parent / "cmp.md")]
    if option == "--llaso-compare-out":
        (outside.parent / "cmp.md").write_text("old report")  # an existing file
    result = project.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    value = args[-1]
    result.stderr.fnmatch_lines([
        f"*{option} {value}: pytest took the option value for a test path when it chose its "
        f"root folder*instead of {project.path} and its ini file {project.path}/pytest.ini "
        f"was ignored*Write the value with '=': {option}={value}"])

    # the spelling it asks for: same root folder, same ini file, same test ids
    fixed = [a for a in args[:-2]] + [f"{args[-2]}={args[-1]}"]
    result = project.runpytest(*fixed)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines([f"rootdir: {project.path}*", "configfile: pytest.ini*"])
    ids = [t["nodeid"] for t in load_latest(project.path)["tests"]]
    assert ids == sorted(f"tests/test_suite.py::test_metric[{n}]"
                         for n in ("bleu", "judge", "rouge", "wer"))
    result.stdout.fnmatch_lines(["*0 regressed*4 unchanged*"])


def test_store_and_record_paths_after_a_space(project: pytest.Pytester,
                                              tmp_path_factory: pytest.TempPathFactory) -> None:
    store = tmp_path_factory.mktemp("store")
    result = project.runpytest("--llaso-dir", str(store))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*Write the value with '=': --llaso-dir={store}*"])
    out = store / "run.json"
    out.write_text("{}")
    result = project.runpytest("--llaso-out", str(out))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert project.runpytest(f"--llaso-out={out}").ret == pytest.ExitCode.OK


def test_values_that_do_not_move_the_rootdir_are_accepted(project: pytest.Pytester) -> None:
    project.runpytest("--llaso-save", "main").assert_outcomes(passed=4)
    (project.path / "main").mkdir()  # a folder named like the baseline: harmless here
    baseline = project.path / ".llaso" / "baselines" / "main.json"
    for args in (["--llaso-baseline", "main"], ["--llaso-baseline", str(baseline)],
                 ["--llaso-baseline", ".llaso/baselines/main.json"],
                 ["--llaso-compare-out", "tests", "--llaso-baseline=main"]):
        result = project.runpytest(*args)
        if "tests" in args:  # a folder: refused as a report path, not as a rootdir leak
            assert result.ret == pytest.ExitCode.USAGE_ERROR
            result.stderr.fnmatch_lines(["*--llaso-compare-out*tests*"])
            continue
        assert result.ret == pytest.ExitCode.OK, args
        result.stdout.fnmatch_lines([f"rootdir: {project.path}*"])


# -- the gate --------------------------------------------------------------------------
def test_correction_and_untested_options_are_validated(project: pytest.Pytester) -> None:
    result = project.runpytest("--llaso-correction", "bonferroni")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--llaso-correction*unknown correction 'bonferroni'*bh, holm,"
                                 " none*"])
    project.makefile(".ini", pytest=INI + "llaso_correction = fdr\n")
    result = project.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*ini key llaso_correction: unknown correction 'fdr'*"])
    project.makefile(".ini", pytest=INI)
    result = project.runpytest("--llaso-fail-on-untested", "*")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*need a baseline*"])


def test_unknown_report_suffix_is_refused_listing_the_known_ones(
        project: pytest.Pytester) -> None:
    project.runpytest("--llaso-save", "main").assert_outcomes(passed=4)
    result = project.runpytest("--llaso-baseline=main", "--llaso-compare-out=out.pdf")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--llaso-compare-out*out.pdf: unknown report suffix '.pdf'; "
                                 "use one of .txt (text), .md/.markdown (md), .json (json), "
                                 ".html/.htm (html)*"])
    result = project.runpytest("--llaso-baseline=main", "--llaso-compare-out=out.markdown")
    assert result.ret == pytest.ExitCode.OK
    assert "<!-- llaso-pytest-report -->" in (project.path / "out.markdown").read_text()


OTHER_SUITE = """
def test_other(record_metric):
    record_metric("accuracy", items={f"x{i}": 1.0 for i in range(30)}, higher_is_better=True)
"""


def test_a_baseline_of_another_suite_fails_the_gate_as_vacuous(project: pytest.Pytester) -> None:
    project.runpytest("--llaso-save", "main").assert_outcomes(passed=4)
    (project.path / "tests" / "test_suite.py").write_text(OTHER_SUITE)
    result = project.runpytest("--llaso-baseline=main", "--llaso-fail-on-regression")
    assert result.ret == 6
    result.stdout.fnmatch_lines(["*llaso: the gate fails (vacuous)*failing the session*"])
    assert load_latest(project.path)["exit_status"] == 6
    # without the gate it is reported, not failed
    result = project.runpytest("--llaso-baseline=main")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*not gating (add --llaso-fail-on-regression)*"])


def test_an_empty_or_subset_head_run_fails_the_gate(project: pytest.Pytester) -> None:
    project.runpytest("--llaso-save", "main").assert_outcomes(passed=4)
    result = project.runpytest("--llaso-baseline=main", "--llaso-fail-on-regression",
                               "-m", "noisy")
    assert result.ret == 6
    result = project.runpytest("--llaso-baseline=main", "--llaso-fail-on-regression",
                               "-k", "rouge", "--llaso-compare-out=cmp.json")
    assert result.ret == 6
    verdicts = {m["name"]: m["verdict"]
                for m in json.loads((project.path / "cmp.json").read_text())["metrics"]}
    assert verdicts == {"rouge": "unchanged", "wer": "not-run", "bleu": "not-run",
                        "judge": "not-run"}


UNTESTED_SUITE = """
import os

def test_tiny(record_metric):
    flip = os.environ.get("FLIP") == "1"  # 3 items: too few for any paired test
    record_metric("tiny", items={"a": float(not flip), "b": float(flip), "c": float(not flip)},
                  higher_is_better=True)
"""


def test_fail_on_untested_and_correction_reach_the_comparison(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(test_tiny=UNTESTED_SUITE)
    pytester.runpytest("--llaso-save", "main").assert_outcomes(passed=1)
    monkeypatch.setenv("FLIP", "1")
    result = pytester.runpytest("--llaso-baseline=main", "--llaso-fail-on-regression")
    assert result.ret == pytest.ExitCode.OK  # untested, and nobody asked to fail on it
    pytester.makeini("[pytest]\nllaso_fail_on_untested = tiny\nllaso_correction = holm\n")
    result = pytester.runpytest("--llaso-baseline=main", "--llaso-fail-on-regression",
                                "--llaso-compare-out=cmp.json")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*llaso: the gate fails (untested)*", "*llaso: *tiny*"])
    data = json.loads((pytester.path / "cmp.json").read_text())
    assert data["settings"]["correction"] == "holm"
    result = pytester.runpytest("--llaso-baseline=main", "--llaso-fail-on-regression",
                                "--llaso-fail-on-untested", "other*")
    assert result.ret == pytest.ExitCode.OK  # the command line replaces the ini patterns
