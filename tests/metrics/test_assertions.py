"""Failure text of ``assert result < x`` and the CI helpers, through a real pytest run."""

from __future__ import annotations

import warnings

import numpy as np
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


def test_assert_not_regressed_pairs_only_like_with_like() -> None:
    from llaso_pytest.assertions import assert_not_regressed

    rng = np.random.default_rng(3)
    words = ["a", "b", "c", "d"]
    refs = [" ".join(rng.choice(words, 8)) for _ in range(60)]
    good = [r if i % 4 else r.upper() for i, r in enumerate(refs)]  # 1 in 4 differs by case
    worse = [" ".join(rng.choice(words, 8)) for _ in range(60)]
    base = metrics.wer(refs, good, normalize="basic", seed=0)
    assert_not_regressed(base, metrics.wer(refs, good, normalize="basic", seed=1))  # same: passes
    with pytest.raises(AssertionError, match="wer regressed"):
        assert_not_regressed(base, metrics.wer(refs, worse, normalize="basic"))
    # another normalizer is another measurement, not a regression
    with pytest.raises(AssertionError, match="computed differently.*normalizer: 'basic' vs 'none'"):
        assert_not_regressed(base, metrics.wer(refs, good))
    named = metrics.wer(refs, good, normalize="basic", signature_extra={"system": "b"})
    with pytest.raises(AssertionError, match="system"):
        assert_not_regressed(base, named)
    assert_not_regressed(base, named, ignore=["system"])
    groups = [f"s{i % 6}" for i in range(60)]
    with pytest.raises(AssertionError, match="different groups="):
        assert_not_regressed(base, metrics.wer(refs, good, normalize="basic", groups=groups))
    # too few items for an interval: nothing can be tested, and that is a failure
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        few_base = metrics.wer(refs[:3], refs[:3], n_boot=0)
        few_head = metrics.wer(refs[:3], worse[:3], n_boot=0)
        with pytest.raises(AssertionError, match="untested - only 3 of 3 items differ"):
            assert_not_regressed(few_base, few_head)
