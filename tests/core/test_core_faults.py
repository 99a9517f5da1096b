"""Faults on the record side: a full disk, a crashed xdist worker, crafted record files."""

from __future__ import annotations

import errno
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from core_testutil import load_latest

from llaso_pytest import session
from llaso_pytest.cli import main

pytest_plugins = ["pytester"]

SUITE = """
import pytest

@pytest.mark.parametrize("i", range(3))
def test_metric(record_metric, i):
    record_metric(f"m{i}", items={f"q{j}": float(j % 2) for j in range(20)},
                  higher_is_better=True)
"""


def _full_disk(monkeypatch: pytest.MonkeyPatch, *, failures: int) -> list[Path]:
    """Make the first ``failures`` writes of run records fail as on a full disk (ENOSPC from
    the write, as ``os.write`` raises it), the later ones succeed; returns the paths tried."""
    real = session.atomic_write_text
    tried: list[Path] = []

    def write(path: Any, text: str) -> None:
        tried.append(Path(path))
        if len(tried) <= failures:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(path, text)

    monkeypatch.setattr(session, "atomic_write_text", write)
    return tried


def test_disk_full_during_the_run_keeps_results_and_writes_at_the_end(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_suite=SUITE)
    tried = _full_disk(monkeypatch, failures=1)  # the first partial write fails
    result = pytester.runpytest("-W", "default")
    result.assert_outcomes(passed=3)
    assert result.ret == pytest.ExitCode.OK
    assert "INTERNALERROR" not in result.stdout.str()
    result.stdout.fnmatch_lines(["*cannot update the partial run record*No space left on "
                                 "device*kept in memory*"])
    rec = load_latest(pytester.path)
    assert rec["complete"] is True and len(rec["tests"]) == 3
    assert all(t["results"] for t in rec["tests"])
    assert len(tried) >= 2


def test_disk_full_to_the_end_names_the_path_and_exits_7(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_suite=SUITE)
    _full_disk(monkeypatch, failures=10**6)
    result = pytester.runpytest("--llaso-out=run.json", "--llaso-save", "main")
    assert result.ret == session.EXIT_RECORD_NOT_WRITTEN == 7
    assert "INTERNALERROR" not in result.stdout.str()
    out = pytester.path / "run.json"
    result.stdout.fnmatch_lines([
        f"llaso: cannot write the run record {out}: the disk is full. Nothing of this run was "
        "saved: 3 test outcome(s) and 3 result(s) exist only in this session's memory*",
        "*--llaso-save main: not saved, because the run record could not be written*"])
    assert not out.exists()
    assert not (pytester.path / ".llaso" / "baselines" / "main.json").exists()


CRASH_SUITE = """
import os

def test_ok(record_metric):
    record_metric("acc", items={f"q{j}": 1.0 for j in range(20)}, higher_is_better=True)

def test_crash():
    os._exit(3)  # the worker process dies, as on a segfault or an OOM kill
"""


def test_a_crashed_xdist_worker_makes_the_run_incomplete(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    pytester.makepyfile(test_crash=CRASH_SUITE)
    result = pytester.runpytest("-n", "1", "-p", "no:randomly", "--llaso-save", "main")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*worker*crashed*"])
    rec = load_latest(pytester.path)
    outcomes = {t["nodeid"]: t["outcome"] for t in rec["tests"]}
    assert outcomes == {"test_crash.py::test_ok": "passed",
                        "test_crash.py::test_crash": "interrupted"}
    assert rec["complete"] is False
    assert "test_crash.py::test_crash" in rec["interrupted_by"]
    assert not (pytester.path / ".llaso" / "baselines" / "main.json").exists()
    result.stdout.fnmatch_lines(["*--llaso-save main: not saved, because this run is "
                                 "incomplete (1 test(s) did not finish*"])


# -- crafted records -------------------------------------------------------------------
def _record(pytester: pytest.Pytester) -> dict[str, Any]:
    pytester.makepyfile(test_suite=SUITE)
    pytester.runpytest("--llaso-save", "main").assert_outcomes(passed=3)
    data: dict[str, Any] = load_latest(pytester.path)
    return data


def _set_n(text: str) -> str:
    return text.replace('"n": 20', '"n": 1e400', 1)


def _nested(text: str) -> str:
    return text.replace('"extra": {}', '"extra": ' + "[" * 5000 + "]" * 5000, 1)


def _surrogate(text: str) -> str:
    return text.replace('"name": "m0"', '"name": "m\\ud800"', 1)


def _huge_int(text: str) -> str:
    return text.replace('"n": 20', '"n": ' + "9" * 400, 1)


CRAFTED: list[tuple[str, Callable[[str], str], str]] = [
    ("overflow", _set_n, "tests[0].results[0].n is inf, not a finite number"),
    ("nesting", _nested, "nested"),
    ("surrogate", _surrogate, "tests[0].results[0].name is not valid text"),
    ("huge-int", _huge_int, "tests[0].results[0].n is an integer out of range"),
]


@pytest.mark.parametrize("craft", [c[1] for c in CRAFTED], ids=[c[0] for c in CRAFTED])
def test_crafted_records_are_input_errors_naming_file_and_field(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str],
    craft: Callable[[str], str],
) -> None:
    words = next(w for _, c, w in CRAFTED if c is craft)
    rec = _record(pytester)
    good = pytester.path / "good.json"
    good.write_text(json.dumps(rec, indent=1))
    bad = pytester.path / "bad.json"
    bad.write_text(craft(good.read_text()))
    assert bad.read_text() != good.read_text()
    for args in ([str(bad), str(good)], [str(good), str(bad)]):
        code = main(["compare", *args, "--n-boot", "200", "--fail-on-regression"])
        err = capsys.readouterr().err
        assert code == 2, err
        assert f"llaso compare: error: {bad}: " in err and words in err
    result = pytester.runpytest(f"--llaso-baseline={bad}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert f"--llaso-baseline: {bad}: " in result.stderr.str() and words in result.stderr.str()


def test_a_full_disk_for_latest_json_only_keeps_the_record_and_the_exit_status(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_suite=SUITE)
    real = session.atomic_write_text

    def write(path: Any, text: str) -> None:
        if Path(path).name == "latest.json":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(path, text)

    monkeypatch.setattr(session, "atomic_write_text", write)
    result = pytester.runpytest("--llaso-out=run.json", "-W", "default")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*latest.json could not be updated (No space left on device)*"])
    assert json.loads((pytester.path / "run.json").read_text())["complete"] is True
