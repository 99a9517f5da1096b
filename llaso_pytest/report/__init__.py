"""Rendering of a :class:`llaso_pytest.compare.Comparison`: terminal, Markdown, JSON, HTML.

Rendering only: every number shown here was computed by :mod:`llaso_pytest.compare`. The
helpers below keep the four formats consistent (same rounding, same labels, same order).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from llaso_pytest.compare import Comparison, MetricDiff

__all__ = ["FORMATS", "encodable", "fmt_ci", "fmt_delta", "fmt_num", "method_label", "ordered",
           "render", "short_nodeid", "verdict_label"]

FORMATS = ("text", "md", "json", "html")

# Order in which verdicts are listed: what a reviewer must look at first.
VERDICT_ORDER = {"regressed": 0, "incomparable": 1, "improved": 2, "removed": 3, "new": 4,
                 "unchanged": 5}


def render(comparison: Comparison, fmt: str) -> str:
    """The comparison as one document in ``fmt`` (``text``, ``md``, ``json`` or ``html``),
    with every known secret redacted (:func:`llaso_pytest.provenance.redact_text`)."""
    from llaso_pytest.provenance import redact_text

    return redact_text(_render(comparison, fmt))


def _render(comparison: Comparison, fmt: str) -> str:
    if fmt == "text":
        from llaso_pytest.report import terminal

        return "\n".join(terminal.render(comparison)) + "\n"
    if fmt == "md":
        from llaso_pytest.report import markdown

        return markdown.render(comparison)
    if fmt == "json":
        from llaso_pytest.report import jsonout

        return jsonout.render(comparison)
    if fmt == "html":
        from llaso_pytest.report import html

        return html.render(comparison)
    raise ValueError(f"unknown report format {fmt!r}; choose one of {', '.join(FORMATS)}")


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


def method_label(m: MetricDiff) -> str:
    return {
        "paired-bootstrap": f"paired, n={m.n_paired}",
        "paired-cluster-bootstrap": f"paired by group, {m.n_units} groups",
        "unpaired-intervals": "unpaired intervals",
        "none": "no interval",
    }.get(m.method or "", "")


def verdict_label(m: MetricDiff) -> str:
    if m.verdict == "unchanged" and m.within_tolerance:
        return "unchanged (within tolerance)"
    return m.verdict


def direction(m: MetricDiff) -> str:
    return "higher is better" if m.higher_is_better else "lower is better"


def short_nodeid(nodeid: str) -> str:
    """``suites/asr/test_x.py::test_wer[clean]`` -> ``test_x.py::test_wer[clean]``."""
    path, sep, rest = nodeid.partition("::")
    return f"{path.rsplit('/', 1)[-1]}{sep}{rest}" if sep else nodeid


def ordered(comparison: Comparison) -> list[MetricDiff]:
    """Metrics with regressions first, then incomparable, improved, removed, new, unchanged."""
    return sorted(comparison.metrics, key=lambda m: VERDICT_ORDER.get(m.verdict, 9))


def run_label(info: object) -> str:
    run_id = getattr(info, "run_id", "?")
    commit = getattr(info, "commit", None)
    dirty = getattr(info, "dirty", None)
    if commit:
        return f"{run_id} (commit {str(commit)[:10]}{', dirty' if dirty else ''})"
    return str(run_id)


def settings_line(comparison: Comparison) -> str:
    conf = round(comparison.confidence * 100)
    text = (f"paired bootstrap with {comparison.n_boot} resamples (seed {comparison.seed}) where "
            f"both runs hold per-item statistics, else the two {conf}% intervals compared; "
            f"verdict: {conf}% CI of the difference excludes 0")
    if comparison.tolerances:
        text += f"; tolerances {', '.join(comparison.tolerances)}"
    return text
