"""Rendering of a :class:`llaso_pytest.compare.Comparison`: terminal, Markdown, JSON, HTML.

Rendering only: every number shown here was computed by :mod:`llaso_pytest.compare`. The
helpers in :mod:`~llaso_pytest.report.labels` keep the formats consistent (same rounding, same
labels, same order); :data:`FORMAT_TABLE` is the one list of formats, from which the plugin's
and the CLI's choices, suffixes and help texts derive.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llaso_pytest.report.labels import (
    VERDICT_ORDER,
    counts_line,
    detectable_text,
    direction,
    encodable,
    fmt_ci,
    fmt_delta,
    fmt_num,
    fmt_p,
    method_label,
    ordered,
    run_label,
    settings_line,
    short_nodeid,
    verdict_label,
)

if TYPE_CHECKING:  # pragma: no cover
    from llaso_pytest.compare import Comparison

__all__ = ["FORMATS", "FORMAT_TABLE", "VERDICT_ORDER", "ReportFormat", "counts_line",
           "detectable_text", "direction", "encodable", "fmt_ci", "fmt_delta", "fmt_num",
           "fmt_p", "format_for_path", "get_format", "method_label", "ordered", "render",
           "run_label", "settings_line", "short_nodeid", "suffixes_help", "verdict_label"]

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


def render(comparison: Comparison, fmt: str, **options: Any) -> str:
    """The comparison as one document in ``fmt`` (a name in :data:`FORMATS`), with every known
    secret redacted (:func:`llaso_pytest.provenance.redact_text`); ``options`` go to the
    renderer (e.g. ``details_url=`` for ``md``)."""
    from llaso_pytest.provenance import redact_text

    text = get_format(fmt).renderer(comparison, **options)
    if not isinstance(text, str):  # pragma: no cover - a renderer breaking the contract
        raise TypeError(f"report format {fmt!r}: renderer returned {type(text).__name__}")
    return redact_text(text)
