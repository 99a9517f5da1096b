"""Trackers and DVC load only when used: plugin start-up imports none of them."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_plugin_start_up_imports_no_tracker() -> None:
    code = (
        "import sys, llaso_pytest.plugin, llaso_pytest.tracking.pytest_plugin,"
        " llaso_pytest.lineage.pytest_plugin, llaso_pytest.cli;"
        "heavy = ['mlflow', 'wandb', 'dvc', 'yaml', 'sqlalchemy', 'numpy', 'torch'];"
        "print(','.join(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == ""


def test_a_session_without_tracker_options_never_imports_one(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        "import sys\n"
        "def test_x(record_metric):\n"
        "    record_metric('acc', 1.0, higher_is_better=True)\n"
        "def test_none_loaded():\n"
        "    assert not {'mlflow', 'wandb', 'dvc'} & set(sys.modules)\n")
    res = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    res.assert_outcomes(passed=2)
