"""Reproducibility, xdist, interruption and extension hooks of a session."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from core_testutil import comparable, load_latest

pytest_plugins = ["pytester"]

SUITE = """
import random
import numpy as np
import pytest

@pytest.mark.parametrize("k", range(4))
def test_draws(k, record_metric, llaso_rng):
    values = {f"item{i}": float(np.random.random() < 0.5) for i in range(20)}
    record_metric("coin", items=values, higher_is_better=True)
    record_metric("py_random", random.random(), higher_is_better=True)
    record_metric("rng", float(llaso_rng.random()), higher_is_better=True)
"""

REVERSE_CONFTEST = """
def pytest_collection_modifyitems(items):
    items.reverse()
"""


def test_seeds_make_records_identical_and_order_independent(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(SUITE)
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=4)
    first = load_latest(pytester.path)
    pytester.runpytest().assert_outcomes(passed=4)
    second = load_latest(pytester.path)
    assert first["run_id"] != second["run_id"]
    assert comparable(first) == comparable(second)
    pytester.makeconftest(REVERSE_CONFTEST)
    pytester.runpytest().assert_outcomes(passed=4)
    assert comparable(load_latest(pytester.path))["tests"] == comparable(first)["tests"]
    # another seed gives other numbers, and the seed is recorded
    pytester.runpytest("--llaso-seed=99").assert_outcomes(passed=4)
    other = load_latest(pytester.path)
    assert other["provenance"]["seed"] == 99 and first["provenance"]["seed"] == 1234
    assert comparable(other)["tests"] != comparable(first)["tests"]


def test_xdist_record_matches_serial(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(SUITE)
    pytester.runpytest().assert_outcomes(passed=4)
    serial = comparable(load_latest(pytester.path))
    result = pytester.runpytest("-n", "2")
    result.assert_outcomes(passed=4)
    parallel = comparable(load_latest(pytester.path))
    assert parallel["tests"] == serial["tests"]
    assert parallel["summary"] == serial["summary"]
    # only the controller writes: one record per session
    runs = [
        p for p in (pytester.path / ".llaso" / "runs").glob("*.json") if p.name != "latest.json"
    ]
    assert len(runs) == 2


def test_xdist_ships_provenance_from_session_fixtures(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pytest
        @pytest.fixture(scope="session")
        def model(record_provenance):
            record_provenance("models", {"tiny": {"sha256": "ab" * 32, "device": "cpu"}})
            return "tiny"
        """
    )
    pytester.makepyfile(
        """
        import pytest
        @pytest.mark.parametrize("i", range(3))
        def test_uses_model(model, i): pass
        """
    )
    pytester.runpytest("-n", "2").assert_outcomes(passed=3)
    rec = load_latest(pytester.path)
    assert rec["provenance"]["models"] == {"tiny": {"sha256": "ab" * 32, "device": "cpu"}}


def test_deterministic_flag_is_recorded(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_ok(): pass")
    pytester.runpytest().assert_outcomes(passed=1)
    assert load_latest(pytester.path)["provenance"]["deterministic"] == {"enabled": False}
    # in a subprocess: the flag imports torch (installed for the local LLM) and switches its
    # process-wide deterministic mode on, which must not leak into this test process (and
    # pytester's module snapshot would drop torch's modules, whose re-import fails)
    pytester.runpytest_subprocess("--llaso-deterministic").assert_outcomes(passed=1)
    det = load_latest(pytester.path)["provenance"]["deterministic"]
    assert det["enabled"] is True and det["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    assert det["torch"]["use_deterministic_algorithms"] is True
    pytester.makeini("[pytest]\nllaso_deterministic = true\n")
    pytester.runpytest_subprocess().assert_outcomes(passed=1)
    assert load_latest(pytester.path)["provenance"]["deterministic"]["enabled"] is True


def test_keyboard_interrupt_writes_incomplete_record(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_1(record_metric): record_metric("a", 1.0, higher_is_better=True)
        def test_2(record_metric): record_metric("b", 2.0, higher_is_better=True)
        def test_3(): raise KeyboardInterrupt
        def test_4(): pass
        """
    )
    result = pytester.runpytest_subprocess()  # a real Ctrl-C unwinds the whole process
    assert result.ret == pytest.ExitCode.INTERRUPTED
    rec = load_latest(pytester.path)
    assert rec["complete"] is False and rec["interrupted_by"] == "KeyboardInterrupt"
    done = {t["nodeid"].split("::")[1]: t for t in rec["tests"]}
    assert [r["name"] for r in done["test_1"]["results"]] == ["a"]
    assert [r["name"] for r in done["test_2"]["results"]] == ["b"]
    assert "test_4" not in done
    result.stdout.fnmatch_lines(["*run record (INCOMPLETE (KeyboardInterrupt))*"])


def test_hard_crash_leaves_partial_record(pytester: pytest.Pytester) -> None:
    """A process killed inside a test (no finaliser runs) still leaves a valid partial record."""
    pytester.makepyfile(
        """
        import os
        def test_1(record_metric): record_metric("a", 1.0, higher_is_better=True)
        def test_2(): os._exit(3)
        """
    )
    out = pytester.path / "run.json"
    result = pytester.runpytest_subprocess(f"--llaso-out={out}")
    assert result.ret == 3
    rec = json.loads(out.read_text())
    assert rec["complete"] is False and rec["finished_at"] is None
    assert [t["nodeid"].split("::")[1] for t in rec["tests"]] == ["test_1"]
    assert rec["tests"][0]["results"][0]["name"] == "a"


def test_maxfail_marks_record_incomplete(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_1(): assert 0\ndef test_2(): pass")
    pytester.runpytest("-x")
    rec = load_latest(pytester.path)
    assert rec["complete"] is False and "stopping after 1 failures" in rec["interrupted_by"]


def test_example_hook_plugin(pytester: pytest.Pytester) -> None:
    example = Path(__file__).parents[2] / "docs" / "examples" / "llaso_example_plugin.py"
    shutil.copy(example, pytester.path / "llaso_example_plugin.py")
    pytester.syspathinsert()
    pytester.makeconftest('pytest_plugins = ["llaso_example_plugin"]')
    pytester.makepyfile(
        """
        import pytest
        @pytest.mark.owner("speech-team")
        def test_accuracy(record_metric):
            record_metric("accuracy", 0.9, higher_is_better=True)
        def test_other(record_metric):
            record_metric("accuracy", 0.8, higher_is_better=True)
        """
    )
    result = pytester.runpytest("--strict-markers")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*results by owner*", "speech-team: 1", "unowned: 1"])
    rec = load_latest(pytester.path)
    assert rec["provenance"]["cluster"] == "local"
    results = {t["nodeid"].split("::")[1]: t["results"][0] for t in rec["tests"]}
    assert results["test_accuracy"]["extra"]["owner"] == "speech-team"
    assert "owner" not in results["test_other"].get("extra", {})


def test_generate_provenance_can_be_replaced(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        def pytest_llaso_generate_provenance(config):
            return {"custom": True}
        """
    )
    pytester.makepyfile("def test_ok(): pass")
    pytester.runpytest().assert_outcomes(passed=1)
    prov = load_latest(pytester.path)["provenance"]
    assert prov["custom"] is True and "packages" not in prov and prov["seed"] == 1234


RERUN_CONFTEST = """
import pytest
from _pytest.runner import runtestprotocol

@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item, nextitem):
    # What pytest-rerunfailures (--reruns 1) does: run the protocol again after a failure,
    # logging the failed attempt's report as "rerun"; item.user_properties is not reset.
    for attempt in (1, 2):
        item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
        reports = runtestprotocol(item, nextitem=nextitem, log=False)
        rerun = attempt == 1 and any(r.failed for r in reports)
        for report in reports:
            if rerun and report.failed:
                report.outcome = "rerun"
            item.ihook.pytest_runtest_logreport(report=report)
        item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
        if not rerun:
            return True
    return True
"""

RERUN_SUITE = """
ATTEMPTS = {"flaky": 0, "gives_up": 0}

def test_flaky(record_metric):
    ATTEMPTS["flaky"] += 1
    first = ATTEMPTS["flaky"] == 1
    record_metric("acc", items={f"q{i}": float(first or i % 2 == 0) for i in range(20)},
                  higher_is_better=True)
    assert not first, "flaky"

def test_gives_up(record_metric):
    ATTEMPTS["gives_up"] += 1
    if ATTEMPTS["gives_up"] == 1:
        record_metric("acc", items={f"q{i}": 1.0 for i in range(20)}, higher_is_better=True)
    assert False, "broken"
"""


def test_a_rerun_test_keeps_only_its_last_attempt(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(RERUN_CONFTEST)
    pytester.makepyfile(test_rerun=RERUN_SUITE)
    result = pytester.runpytest("-p", "no:randomly")
    assert result.parseoutcomes() == {"passed": 1, "failed": 1, "rerun": 2}
    rec = load_latest(pytester.path)
    tests = {t["nodeid"].split("::")[1]: t for t in rec["tests"]}
    flaky = tests["test_flaky"]
    assert flaky["outcome"] == "passed" and flaky["longrepr"] is None
    assert [r["name"] for r in flaky["results"]] == ["acc"]
    assert flaky["results"][0]["value"] == pytest.approx(0.5)  # the second attempt's
    # the last attempt failed before recording: the first attempt's metric is not kept
    assert tests["test_gives_up"]["outcome"] == "failed"
    assert tests["test_gives_up"]["results"] == []
    # and the record is one `llaso compare` accepts
    from llaso_pytest.compare import compare_records

    assert len(compare_records(rec, rec, n_boot=200).metrics) == 1


def test_sessions_sharing_a_store_can_finish_at_the_same_time(tmp_path: Path) -> None:
    # Every session rewrites runs/latest.json when it finishes: concurrent sessions (CI jobs on
    # one machine, a developer running two suites) must not trip over each other's temp file.
    import threading

    from llaso_pytest.session import RunCollector

    runs = tmp_path / "runs"
    runs.mkdir()
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def session(n: int) -> None:
        collector = RunCollector(out_path=runs / f"run{n}.json", latest_path=runs / "latest.json",
                                 provenance={"pad": "x" * 200_000}, run_id=f"run{n}",
                                 started_at="2026-01-01T00:00:00.000+00:00")
        start.wait()
        try:
            for _ in range(15):
                collector.finish(complete=True, exit_status=0)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=session, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert json.loads((runs / "latest.json").read_text())["run_id"] in {f"run{n}" for n in range(4)}
    assert sorted(p.name for p in runs.iterdir()) == ["latest.json"] + [
        f"run{n}.json" for n in range(4)]  # no temp files left behind
