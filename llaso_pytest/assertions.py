"""Assertion helpers for metric results and the failure text for ``assert result < x``.

``assertrepr_compare(op, left, right)`` is what the plugin's ``pytest_assertrepr_compare``
returns when one side of a comparison is a :class:`MetricResult`: metric, value, CI, n,
normaliser/tokenizer, signature and the worst items with their alignment. The helpers use
plain ``assert`` statements; the package registers this module for assertion rewriting.

No pytest import: the text is plain data (a list of lines).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from llaso_pytest.metrics.base import MetricResult

__all__ = [
    "assert_ci_above",
    "assert_ci_below",
    "assert_not_regressed",
    "assertrepr_compare",
    "describe",
]

#: How many worst items a failure shows.
WORST_ITEMS = 3

_OPS = {"<": "<", "<=": "<=", ">": ">", ">=": ">=", "==": "==", "!=": "!="}


def _num(x: float) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "nan"
    return f"{x:.6g}"


def _ci_text(r: MetricResult) -> str:
    if r.ci is None:
        return f"no CI (n={r.n} too small)"
    return f"{r.confidence:.0%} CI [{_num(r.ci[0])}, {_num(r.ci[1])}]"


def describe(result: MetricResult, *, worst: int = WORST_ITEMS) -> list[str]:
    """Lines describing a result: value, CI, n, normaliser/tokenizer, signature, worst items."""
    f = result.signature.fields
    direction = "higher" if result.higher_is_better else "lower"
    lines = [
        f"{result.name} = {_num(result.value)}, {_ci_text(result)}, n={result.n} "
        + f"({direction} is better)"
    ]
    opts = [f"{k}: {f[k]}" for k in ("normalizer", "tokenizer") if k in f]
    if opts:
        lines.append("  " + ", ".join(opts))
    lines.append(f"  signature: {result.signature.text}")
    items = result.worst(worst)
    if items:
        lines.append(f"  worst {len(items)} item(s):")
        for item_id, score in items:
            lines.append(f"    [{item_id}] {result.name}={_num(score)}")
            text = result.alignment(item_id)
            lines.extend("      " + ln for ln in text.splitlines())
    return lines


def assertrepr_compare(op: str, left: Any, right: Any) -> list[str] | None:
    """Failure text for ``result <op> number`` (either side a MetricResult), else None."""
    if op not in _OPS:
        return None
    if isinstance(left, MetricResult):
        res, other, res_left = left, right, True
    elif isinstance(right, MetricResult):
        res, other, res_left = right, left, False
    else:
        return None
    other_txt = (
        f"{other.name}={_num(other.value)}" if isinstance(other, MetricResult) else repr(other)
    )
    if res_left:
        head = f"{res.name} = {_num(res.value)} {op} {other_txt} is false"
    else:
        head = f"{other_txt} {op} {res.name} = {_num(res.value)} is false"
    lines = [head]
    lines.extend(describe(res))
    if isinstance(other, MetricResult) and other is not res:
        lines.append("other:")
        lines.extend("  " + ln for ln in describe(other))
    return lines


def assert_ci_below(result: MetricResult, bound: float) -> None:
    """The whole interval lies below ``bound`` (e.g. WER confidently under 15%)."""
    assert result.ci is not None, (
        f"{result.name}: no confidence interval (n={result.n} is too small), "
        f"cannot show it is below {bound}"
    )
    assert result.ci[1] < bound, (
        f"{result.name} = {_num(result.value)}: upper CI bound {_num(result.ci[1])} is not "
        f"below {bound}\n" + "\n".join(describe(result))
    )


def assert_ci_above(result: MetricResult, bound: float) -> None:
    """The whole interval lies above ``bound`` (e.g. BLEU confidently over 30)."""
    assert result.ci is not None, (
        f"{result.name}: no confidence interval (n={result.n} is too small), "
        f"cannot show it is above {bound}"
    )
    assert result.ci[0] > bound, (
        f"{result.name} = {_num(result.value)}: lower CI bound {_num(result.ci[0])} is not "
        f"above {bound}\n" + "\n".join(describe(result))
    )


def assert_not_regressed(
    base: MetricResult,
    head: MetricResult,
    *,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int | None = 0,
    ignore: Iterable[str] = (),
) -> None:
    """The paired test on the shared items (:func:`llaso_pytest.stats.paired_bootstrap`, the
    same test as ``llaso compare``): fail when head is significantly worse.

    Base and head must be the same measurement of two systems: same metric, items, groups
    and signature (normalizer, tokenizer, options, versions) apart from the resampling
    settings and the fields named in ``ignore`` (e.g. ``ignore=["system"]`` when the
    signatures name the systems). With too few items or groups for an interval nothing can
    be tested, and the assertion fails rather than pass silently.
    """
    from llaso_pytest import stats
    from llaso_pytest.metrics.base import RESAMPLING_FIELDS

    if n_boot < 1:
        raise ValueError(f"assert_not_regressed needs n_boot >= 1 resamples, got {n_boot}")
    assert base.aggregate == head.aggregate, (
        f"cannot pair {base.name} ({base.aggregate}) with {head.name} ({head.aggregate})"
    )
    assert base.item_ids == head.item_ids, (
        f"{base.name}: base and head are not on the same items "
        f"({base.n} vs {head.n} items, or another order)"
    )
    assert base.groups == head.groups, (
        f"{base.name}: base and head have different groups= (the paired bootstrap resamples "
        "groups, so both must be grouped the same way)"
    )
    differ = base.signature.diff(head.signature, ignore=set(RESAMPLING_FIELDS) | set(ignore))
    assert not differ, (
        f"{base.name}: base and head were computed differently ("
        + ", ".join(f"{k}: {base.signature.fields.get(k)!r} vs {head.signature.fields.get(k)!r}"
                    for k in differ)
        + "); a difference would not be the systems' (pass ignore=[...] for fields such as "
        "'system' that are meant to differ)"
    )
    pb = stats.paired_bootstrap(
        base.stat_matrix(), head.stat_matrix(), aggregate=base.aggregate,
        higher_is_better=base.higher_is_better, n_boot=n_boot, confidence=confidence, seed=seed,
        groups=base.groups,
    )
    assert pb.tested, (
        f"{base.name}: untested - {pb.untested}; a regression ({_num(base.value)} -> "
        f"{_num(head.value)}) cannot be tested; score more items"
    )
    ci = "no interval" if pb.ci is None else \
        f"{confidence:.0%} CI [{_num(pb.ci[0])}, {_num(pb.ci[1])}]"
    assert not pb.regressed, (
        f"{base.name} regressed: {_num(base.value)} -> {_num(head.value)} "
        f"(delta {_num(pb.delta)}, {ci}, {pb.test} p={_num(pb.p_value)}, "
        f"P(head better)={_num(pb.p_improve)})"
    )
