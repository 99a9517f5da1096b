"""Failure text of ``assert result < x`` and the CI helpers, through a real pytest run."""

from __future__ import annotations

import pytest

from llaso_pytest import metrics
from llaso_pytest.assertions import assert_ci_above, assert_ci_below, assertrepr_compare

REFS = ["the cat sat on the mat", "hello world", "a b c d", "one two three", "x y z", "p q"]
HYPS = ["the cat sat on mat", "hello word", "a b c d", "one three", "x y z w", "p q"]


def test_assertrepr_compare_text() -> None:
    res = metrics.wer(REFS, HYPS, ids=[f"u{i}" for i in range(6)], normalize="basic")
    lines = assertrepr_compare("<", res, 0.05)
    assert lines is not None
    text = "\n".join(lines)
    assert lines[0] == "wer = 0.2 < 0.05 is false"
    assert "95% CI [" in text and "n=6" in text and "normalizer: basic" in text
    assert "worst 3 item(s):" in text and "[u1] wer=0.5" in text
    assert "REF: hello world" in text and "HYP: hello word" in text
    assert assertrepr_compare("<", 1, 2) is None
    assert assertrepr_compare("in", res, [1]) is None
    reversed_ = assertrepr_compare(">", 0.05, res)
    assert reversed_ is not None and reversed_[0] == "0.05 > wer = 0.2 is false"


def test_ci_helpers() -> None:
    res = metrics.wer(REFS, HYPS)
    assert res.ci is not None
    assert_ci_below(res, res.ci[1] + 1e-9)
    with pytest.raises(AssertionError, match="upper CI bound"):
        assert_ci_below(res, res.ci[0])
    assert_ci_above(res, res.ci[0] - 1e-9)
    with pytest.raises(AssertionError, match="lower CI bound"):
        assert_ci_above(res, res.ci[1])


def test_failure_output_in_a_pytest_run(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        from llaso_pytest.assertions import assertrepr_compare

        def pytest_assertrepr_compare(config, op, left, right):
            return assertrepr_compare(op, left, right)
        """
    )
    pytester.makepyfile(
        f"""
        from llaso_pytest import metrics

        def test_wer():
            assert metrics.wer({REFS!r}, {HYPS!r}, ids=[f"u{{i}}" for i in range(6)]) < 0.05
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*wer = 0.2 < 0.05 is false*",
        "*95% CI [[]*], n=6 (lower is better)*",
        "*normalizer: none, tokenizer: whitespace*",
        "*[[]u1[]] wer=0.5*",
        "*REF: hello world*",
        "*HYP: hello word*",
    ])
