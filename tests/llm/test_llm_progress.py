"""Judging many items shows progress (done/total, elapsed, rate) through pytest's terminal
reporter: a few lines in a log, none under -q (issue 13, item 6)."""

from __future__ import annotations

import numpy  # noqa: F401  - imported before pytester's in-process runs (numpy cannot be loaded twice)
import pytest

import llaso_pytest.metrics.base  # noqa: F401
from llaso_pytest.llm.prompts import default_prompt_dir

PROMPT = default_prompt_dir() / "judge_helpfulness.toml"


def test_judging_shows_a_few_progress_lines(pytester: pytest.Pytester,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("LLASO_JUDGE_BASE_URL", "LLASO_JUDGE_MODEL"):
        monkeypatch.delenv(var, raising=False)
    pytester.makeini("[pytest]\nllaso_progress_delay = 0\n")
    pytester.makepyfile(test_judged=f"""
        ITEMS = {{f"q{{i}}": {{"question": f"What is {{i}}?", "answer": str(i),
                             "reference": str(i)}} for i in range(200)}}

        def test_judged(judge, record_metric):
            result = judge.rubric(ITEMS, prompt={str(PROMPT)!r}, name="helpfulness")
            record_metric(result.to_metric_result())
            assert result.n_errors == 0
        """)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    lines = [ln for ln in result.stdout.lines if ln.startswith("llaso: judge calls")]
    assert 2 <= len(lines) <= 6, lines  # a start line, at most one per quarter, the end
    assert lines[-1].startswith("llaso: judge calls to fake-judge: 200/200 calls, ")
    assert "calls/s" in lines[-1] and "s elapsed" in lines[-1]
    quiet = pytester.runpytest("-p", "no:cacheprovider", "-q", "--llaso-judge-refresh")
    quiet.assert_outcomes(passed=1)
    assert not [ln for ln in quiet.stdout.lines if ln.startswith("llaso: judge calls")]
