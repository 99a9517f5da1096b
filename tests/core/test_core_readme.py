"""The README's example eval runs as printed and records what the README says it does."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from core_testutil import load_latest

pytest_plugins = ["pytester"]

README = Path(__file__).parents[2] / "README.md"


def test_readme_example_runs(pytester: pytest.Pytester) -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)
    example = next(b for b in blocks if "def test_command_wer" in b)
    pytester.makepyfile(test_commands=example)
    result = pytester.runpytest("--strict-markers", "-m", "clean")
    result.assert_outcomes(passed=1)
    (test,) = load_latest(pytester.path)["tests"]
    (wer,) = test["results"]
    assert wer["name"] == "wer" and wer["n"] == 8 and wer["ci"] is not None
    assert wer["signature"]["fields"]["normalizer"] == "whisper"
    assert test["markers"] == ["asr", "clean"]
