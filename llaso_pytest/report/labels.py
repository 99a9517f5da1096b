"""Labels and number formats shared by every report format (rendering only).

The four formats show the same words and the same rounding: a verdict, its test, the raw and
adjusted p-values, the detectable effect and the header counts all come from here.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from llaso_pytest.compare import Comparison, MetricDiff, RunInfo

__all__ = ["VERDICT_ORDER", "counts_line", "detectable_text", "direction", "encodable",
           "fmt_ci", "fmt_delta", "fmt_num", "fmt_p", "method_label", "ordered", "run_label",
           "settings_line", "short_nodeid", "verdict_label"]

# Order in which verdicts are listed: what a reviewer must look at first.
VERDICT_ORDER = {"regressed": 0, "untested": 1, "incomparable": 2, "unreliable": 3,
                 "improved": 4, "not-run": 5, "removed": 6, "new": 7, "unchanged": 8}


def encodable(text: str) -> str:
    """``text`` with lone surrogates (e.g. file names decoded with ``surrogateescape`` that
    ended up in item ids) written as ``\\udcff`` escapes, so that it encodes as UTF-8: a report
    never fails to be written or printed because of one id. In a JSON document that escape is
    the JSON escape of the same character, so the JSON report still reads back exactly."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def fmt_num(x: float | None, *, signed: bool = False) -> str:
    """4 significant digits; ``n/a`` for missing or non-finite values."""
    if x is None or not math.isfinite(x):
        return "n/a"
    text = f"{x:+.4g}" if signed else f"{x:.4g}"
    if "e" not in text and abs(x) >= 1e5:
        text = f"{x:+.6g}" if signed else f"{x:.6g}"
    return text


def fmt_ci(ci: tuple[float, float] | None | list[float], *, signed: bool = False) -> str:
    if ci is None:
        return ""
    return f"[{fmt_num(ci[0], signed=signed)}, {fmt_num(ci[1], signed=signed)}]"


def fmt_delta(m: MetricDiff) -> str:
    """``+0.0245 [+0.0126, +0.0366]`` (the CI only when there is one)."""
    if m.delta is None:
        return ""
    ci = fmt_ci(m.delta_ci, signed=True)
    return f"{fmt_num(m.delta, signed=True)} {ci}".strip()


def _p(x: float) -> str:
    if x < 1e-4:
        return "<0.0001"
    if x < 0.01:
        return f"{x:.2g}"
    return f"{x:.3f}".rstrip("0").rstrip(".")


def fmt_p(m: MetricDiff) -> str:
    """``p=0.0031 (adj 0.012)``: the raw p-value and the family-adjusted one."""
    if m.p_value is None:
        return ""
    text = f"p={_p(m.p_value)}"
    if m.p_adjusted is not None and m.p_adjusted != m.p_value:
        text += f" (adj {_p(m.p_adjusted)})"
    return text


def detectable_text(m: MetricDiff) -> str:
    """``±0.0081``: the smallest change detectable at 80% power for this n and variance."""
    return "" if m.mde is None or not math.isfinite(m.mde) else f"±{fmt_num(m.mde)}"


def method_label(m: MetricDiff) -> str:
    t = m.test
    if t is None:
        return ""
    units = t.n_units
    if t.n_differing == 0 and t.p_value == 1.0 and t.method != "unpaired-intervals":
        return f"identical on all {units} {'groups' if 'cluster' in t.method else 'items'}"
    return {
        "paired-bootstrap": f"paired bootstrap, n={units}",
        "paired-cluster-bootstrap": f"paired bootstrap by group, {units} groups",
        "sign-flip": f"sign-flip test, n={units}",
        "cluster-sign-flip": f"sign-flip test by group, {units} groups",
        "exact-sign-flip": f"exact sign-flip test, n={units}",
        "exact-cluster-sign-flip": f"exact sign-flip test by group, {units} groups",
        "unpaired-intervals": "unpaired intervals",
        "none": f"no test, n={units}",
    }.get(t.method, t.method)


def verdict_label(m: MetricDiff) -> str:
    if m.verdict == "unchanged" and m.tolerance is not None and m.tolerance.within:
        return "unchanged (within tolerance)"
    if m.verdict == "not-run":
        return "not run"
    if m.verdict == "unreliable":
        return "unreliable (judge below its agreement bar; not gating)"
    return m.verdict


def direction(m: MetricDiff) -> str:
    return "higher is better" if m.higher_is_better else "lower is better"


def short_nodeid(nodeid: str) -> str:
    """``suites/asr/test_x.py::test_wer[clean]`` -> ``test_x.py::test_wer[clean]``."""
    path, sep, rest = nodeid.partition("::")
    return f"{path.rsplit('/', 1)[-1]}{sep}{rest}" if sep else nodeid


def ordered(comparison: Comparison) -> list[MetricDiff]:
    """Metrics by :data:`VERDICT_ORDER`: regressions first, unchanged last."""
    return sorted(comparison.metrics, key=lambda m: VERDICT_ORDER.get(m.verdict, 9))


def run_label(info: RunInfo) -> str:
    text = str(info.run_id)
    if info.commit:
        text += f" (commit {str(info.commit)[:10]}{', dirty' if info.dirty else ''})"
    if info.subset:
        text += " [subset]"
    if not info.complete:
        text += " [incomplete]"
    return text


def counts_line(comparison: Comparison, family: str | None = None) -> str:
    """``2 regressed, 1 improved at FDR 5%; 140 unchanged, 3 untested, 1 not run``."""
    c = comparison.counts(family)
    text = f"{c['regressed']} regressed, {c['improved']} improved at {comparison.level_text()}"
    rest = [f"{c['unchanged']} unchanged", f"{c['untested']} untested"]
    for verdict in ("incomparable", "unreliable", "new", "removed", "not-run"):
        if c[verdict]:
            rest.append(f"{c[verdict]} {verdict.replace('-', ' ')}")
    return f"{text}; {', '.join(rest)}"


def settings_line(comparison: Comparison) -> str:
    conf = round(comparison.confidence * 100)
    correction = {"bh": "Benjamini-Hochberg (false discovery rate)",
                  "holm": "Holm (family-wise error rate)", "none": "no correction"}[
        comparison.correction]
    text = (f"paired test per metric: sign-flip randomisation test below 200 units (exact up "
            f"to 12 differing units), else paired bootstrap; {comparison.n_boot} resamples, "
            f"seed {comparison.seed}; {conf}% intervals of the difference; p-values adjusted "
            f"per family with {correction}; metrics with too few differing units are untested; "
            "± is the change detectable at 80% power")
    if comparison.tolerances:
        text += f"; tolerances {', '.join(comparison.tolerances)}"
    return text
