"""Rendering of a :class:`llaso_pytest.compare.Comparison`: terminal, Markdown, JSON, HTML.

Rendering only: every number shown here was computed by :mod:`llaso_pytest.compare`. The
helpers below keep the four formats consistent (same rounding, same labels, same order).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from llaso_pytest.compare import Comparison, MetricDiff

__all__ = ["FORMATS", "FORMAT_TABLE", "ReportFormat", "encodable", "fmt_ci", "fmt_delta", "fmt_num",
           "format_for_path", "get_format", "method_label", "ordered", "render", "short_nodeid",
           "suffixes_help", "verdict_label"]

Renderer = Callable[..., str]


@dataclass(frozen=True)
class ReportFormat:
    """One report format: its name (``--format``), file suffixes, renderer and description.

    ``renderer(comparison, **options)`` returns the whole document as ``str``; it imports its
    module when called, so nothing is rendered or imported at plugin start-up.
    """

    name: str
    suffixes: tuple[str, ...]
    renderer: Renderer
    description: str


def _text(comparison: Comparison, **options: Any) -> str:
    # terminal.render returns lines (the pytest summary prints them one by one)
    from llaso_pytest.report import terminal

    lines: Sequence[str] | str = terminal.render(comparison, **options)
    return lines if isinstance(lines, str) else "\n".join(lines) + "\n"


def _md(comparison: Comparison, **options: Any) -> str:
    from llaso_pytest.report import markdown

    return markdown.render(comparison, **options)


def _json(comparison: Comparison, **options: Any) -> str:
    from llaso_pytest.report import jsonout

    return jsonout.render(comparison, **options)


def _html(comparison: Comparison, **options: Any) -> str:
    from llaso_pytest.report import html

    return html.render(comparison, **options)


#: Every report format, in the order help texts list them. Add a format here: the plugin's
#: ``--llaso-compare-out`` and the CLI's ``--format`` / ``--output`` derive from this table.
FORMAT_TABLE: tuple[ReportFormat, ...] = (
    ReportFormat("text", (".txt",), _text, "plain-text table, as in the pytest summary"),
    ReportFormat("md", (".md", ".markdown"), _md, "GitHub-flavoured Markdown (the PR comment)"),
    ReportFormat("json", (".json",), _json, "the comparison as JSON data"),
    ReportFormat("html", (".html", ".htm"), _html, "a self-contained HTML page"),
)
FORMATS: tuple[str, ...] = tuple(f.name for f in FORMAT_TABLE)
_BY_NAME = {f.name: f for f in FORMAT_TABLE}
_BY_SUFFIX = {s: f for f in FORMAT_TABLE for s in f.suffixes}


def get_format(name: str) -> ReportFormat:
    """The format called ``name``; ``ValueError`` listing the known ones."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown report format {name!r}; choose one of "
                         f"{', '.join(FORMATS)}") from None


def suffixes_help() -> str:
    """``.txt (text), .md/.markdown (md), ...`` for help texts and error messages."""
    return ", ".join(f"{'/'.join(f.suffixes)} ({f.name})" for f in FORMAT_TABLE)


def format_for_path(path: str | os.PathLike[str]) -> ReportFormat:
    """The format a report file's suffix asks for; ``ValueError`` for an unknown suffix."""
    suffix = Path(path).suffix.lower()
    fmt = _BY_SUFFIX.get(suffix)
    if fmt is None:
        what = f"unknown report suffix {suffix!r}" if suffix else "no file suffix"
        raise ValueError(f"{what}; use one of {suffixes_help()}")
    return fmt

# Order in which verdicts are listed: what a reviewer must look at first.
VERDICT_ORDER = {"regressed": 0, "incomparable": 1, "untested": 2, "not-run": 3, "improved": 4,
                 "removed": 5, "new": 6, "unchanged": 7}


def render(comparison: Comparison, fmt: str, **options: Any) -> str:
    """The comparison as one document in ``fmt`` (a name in :data:`FORMATS`)."""
    text = get_format(fmt).renderer(comparison, **options)
    if not isinstance(text, str):  # pragma: no cover - a renderer breaking the contract
        raise TypeError(f"report format {fmt!r}: renderer returned {type(text).__name__}")
    return text


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
