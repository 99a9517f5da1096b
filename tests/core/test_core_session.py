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
    runs = [p for p in (pytester.path / ".llaso" / "runs").glob("*.json") if p.name != "latest.json"]
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
    pytester.runpytest("--llaso-deterministic").assert_outcomes(passed=1)
    det = load_latest(pytester.path)["provenance"]["deterministic"]
    assert det["enabled"] is True and det["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    pytester.makeini("[pytest]\nllaso_deterministic = true\n")
    pytester.runpytest().assert_outcomes(passed=1)
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
