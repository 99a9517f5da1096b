"""Rendering of a :class:`llaso_pytest.compare.Comparison`: terminal, Markdown, JSON, HTML.

Rendering only: every number shown here was computed by :mod:`llaso_pytest.compare`. The
helpers below keep the four formats consistent (same rounding, same labels, same order).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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

__all__ = ["FORMATS", "VERDICT_ORDER", "counts_line", "detectable_text", "direction", "encodable", "fmt_ci",
           "fmt_delta", "fmt_num", "fmt_p", "method_label", "ordered", "render", "run_label",
           "settings_line", "short_nodeid", "verdict_label"]

FORMATS = ("text", "md", "json", "html")


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
