"""GitHub-flavoured Markdown for a pull-request comment.

The comment starts with :data:`MARKER` (an HTML comment GitHub does not show) so the poster
finds and updates its own comment. It stays under GitHub's 65,536-character limit: the summary
and the table come first; the collapsible details (flips, largest changes, incomparable
signatures, provenance) are cut item by item when the budget runs out, and the comment says so.
Every string that comes from a record (test ids, item ids, provenance values) is escaped, so a
crafted item id cannot break the table or inject markup.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from llaso_pytest.report.items import item_header, item_lines, shown_items
from llaso_pytest.report.labels import (
    counts_line,
    detectable_text,
    direction,
    encodable,
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
from llaso_pytest.textsafe import ZWJ, neutralize

if TYPE_CHECKING:  # pragma: no cover
    from llaso_pytest.compare import Comparison, MetricDiff

__all__ = ["GITHUB_LIMIT", "MARKER", "ZWJ", "escape", "render"]

#: The hidden first line by which the poster (``llaso_pytest/github.py``, which runs as a plain
#: script in the comment workflow and so keeps its own copy; a test checks they agree) finds
#: and updates its own comment.
MARKER = "<!-- llaso-pytest-report -->"
#: GitHub's limit on the size of a comment body, in characters.
GITHUB_LIMIT = 65_536


_ICON = {"regressed": "🔴", "improved": "🟢", "unchanged": "⚪", "untested": "🟠",
         "incomparable": "🟡", "new": "🆕", "removed": "➖", "not-run": "⏭️",
         "unreliable": "🟣"}
_MD_SPECIAL = re.compile(r"([\\`*_\[\]~|])")


def escape(value: Any, *, limit: int = 200, references: bool = False) -> str:
    """Text safe inside a Markdown table cell or list item (no markup, no line breaks).

    Bidi controls, ``@name``, ``#123``, ``GH-12`` and issue URLs are neutralised by
    :func:`llaso_pytest.textsafe.neutralize`, so an item id or test name such as
    ``@octo-org/ml-team`` or ``#12`` neither notifies anyone nor links (and cross-references)
    an issue when the comment is posted; ``references=True`` keeps references (for trusted
    text such as a URL we were given). HTML entities cannot smuggle them back in: ``&`` itself
    is escaped.
    """
    text = neutralize(encodable(str(value)), trusted=references)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = re.sub(r"[\r\n\t]+", " ", text)
    text = _MD_SPECIAL.sub(r"\\\1", text)
    return text.replace("\\|", "&#124;")


def _status_icon(comparison: Comparison) -> str:
    if comparison.has_regression:
        return "🔴"
    if comparison.problems or comparison.counts()["untested"]:
        return "🟠"
    return "🟢"


def _html(text: str) -> str:
    """Escaping for raw-HTML contexts (``<summary>``), where Markdown escapes would show."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _row(m: MetricDiff) -> str:
    p = "" if m.p_improve is None else f"{m.p_improve:.0%}"
    verdict = verdict_label(m)
    if m.verdict in ("regressed", "improved", "incomparable", "untested"):
        verdict = f"**{verdict}**"
    cells = [
        _ICON.get(m.verdict, ""), escape(short_nodeid(m.nodeid)),
        f"{escape(m.name)} {'↑' if m.higher_is_better else '↓'}",
        fmt_num(m.base_value), fmt_num(m.head_value), escape(fmt_delta(m)), escape(fmt_p(m)),
        p, escape(detectable_text(m)), verdict, escape(method_label(m)),
    ]
    return "| " + " | ".join(cells) + " |"


#: How many items of each kind a metric shows with their texts in the comment.
ITEM_TEXTS = 3


def _pre(lines: list[str]) -> str:
    """Lines as one ``<pre>`` on one source line (``&#10;`` breaks): it stays inside its list
    item, keeps its spaces (alignments), and a budget cut never leaves it open. Raw HTML is
    not Markdown, so only ``&<>`` are escaped; references and bidi controls are neutralised."""
    body = "&#10;".join(_html(neutralize(encodable(line))) for line in lines)
    return f"<pre>{body}</pre>"


def _text_entries(m: MetricDiff) -> list[str]:
    """One list entry per shown item (header and texts in one string: kept or cut whole)."""
    return [f"  - {escape(item_header(v), limit=300)}\n    {_pre(item_lines(v))}"
            for v in shown_items(m, ITEM_TEXTS)]


def _detail_items(comparison: Comparison) -> list[tuple[str, list[str]]]:
    """(section title, lines) for every collapsible section, most important first."""
    sections: list[tuple[str, list[str]]] = []
    ms = ordered(comparison)
    incomparable = [m for m in ms if m.verdict == "incomparable"]
    if incomparable:
        lines = []
        for m in incomparable:
            fields = "; ".join(f"<code>{escape(d.field)}</code>: {escape(d.base)} → "
                               f"{escape(d.head)}"
                               for d in m.signature_diffs)
            lines.append(f"- {escape(m.key)}: {fields}")
        sections.append((f"Incomparable metrics ({len(incomparable)}): signatures differ", lines))
    untested = [m for m in ms if m.verdict == "untested"]
    if untested:
        sections.append((f"Untested metrics ({len(untested)}): no test was possible",
                         [f"- {escape(m.key)}: {escape(m.untested_reason, limit=400)}"
                          for m in untested]))
    flips = [(m, m.flips) for m in ms if m.flips is not None and (m.flips.n_broken
                                                                  or m.flips.n_fixed)]
    if flips:
        lines = []
        for m, f in flips:
            lines.append(f"- **{escape(m.key)}**: {f.n_broken} now wrong, {f.n_fixed} now right")
            if f.broken:
                lines.append("  - now wrong: " + ", ".join(escape(i, limit=80) for i in f.broken))
            if f.fixed:
                lines.append("  - now right: " + ", ".join(escape(i, limit=80) for i in f.fixed))
            lines.extend(_text_entries(m))
        sections.append(((f"Per-item flips ({sum(f.n_broken + f.n_fixed for _, f in flips)} "
                         f"items in {len(flips)} metrics)"), lines))
    changes = [m for m in ms if not m.pass_fail and (m.worst_changes or m.best_changes)
               and m.verdict != "unchanged"] + \
              [m for m in ms if not m.pass_fail and (m.worst_changes or m.best_changes)
               and m.verdict == "unchanged"]
    if changes:
        lines = []
        for m in changes:
            lines.append(f"- **{escape(m.key)}** ({direction(m)})")
            for label, items in (("worse", m.worst_changes), ("better", m.best_changes)):
                if items:
                    lines.append(f"  - {label}: " + ", ".join(
                        f"{escape(c.item, limit=80)} {fmt_num(c.base)} → {fmt_num(c.head)}"
                        for c in items))
            lines.extend(_text_entries(m))
        sections.append((f"Largest per-item changes ({len(changes)} metrics)", lines))
    if comparison.provenance_diffs:
        lines = ["| provenance | base | head |", "|---|---|---|"]
        lines += [f"| {escape(p.path)} | {_side(p.base, p.change == 'only-head')} | "
                  f"{_side(p.head, p.change == 'only-base')} |"
                  for p in comparison.provenance_diffs]
        sections.append((f"Provenance differences ({len(comparison.provenance_diffs)})", lines))
    notes = [(m, n) for m in ms for n in m.notes]
    if notes:
        sections.append((f"Notes ({len(notes)})",
                         [f"- {escape(m.key)}: {escape(n, limit=400)}" for m, n in notes]))
    return sections


def _side(value: Any, absent: bool) -> str:
    return "_(not recorded)_" if absent else escape(value)


def _fit(lines: Iterable[str], budget: int, what: str) -> tuple[list[str], int]:
    """As many lines as fit in ``budget`` characters, plus a line saying what was cut."""
    lines = list(lines)
    kept: list[str] = []
    used = 0
    for i, line in enumerate(lines):
        cost = len(line) + 1
        if used + cost > budget - 160:
            kept.append(f"\n_… {len(lines) - i} more {what} lines truncated to stay under "
                        f"GitHub's comment size limit; see the full report artifact._")
            return kept, len(lines) - i
        kept.append(line)
        used += cost
    return kept, 0


def render(comparison: Comparison, *, limit: int = GITHUB_LIMIT, details_url: str | None = None,
           title: str = "llaso-pytest: comparison with the baseline") -> str:
    """The PR comment, at most ``limit`` characters."""
    summary = f"**{escape(counts_line(comparison))}**"
    families = comparison.families()
    if len(families) > 1:
        summary += "  \n" + " · ".join(f"{escape(f)}: {escape(counts_line(comparison, f))}"
                                       for f in families)
    head = [
        MARKER,
        f"### {_status_icon(comparison)} {escape(title)}",
        "",
        summary,
        "",
        (f"Baseline {escape(run_label(comparison.base))} → this run "
        f"{escape(run_label(comparison.head))}."),
    ]
    if details_url:
        head.append("Full report (HTML, JSON): "
                    f"{escape(details_url, limit=500, references=True)}")
    for w in comparison.warnings:
        head.append(f"> ⚠️ {escape(w, limit=400)}")
    for problem in comparison.problems:
        head.append(f"> ⛔ {escape(problem.message, limit=400)}")
    head.append("")
    table = ["| | test | metric | base | head | Δ [CI] | p | P(better) | detectable | verdict "
             "| method |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    rows = [_row(m) for m in ordered(comparison)]
    footer = ["", (f"<sub>{escape(settings_line(comparison), limit=1000)}. "
              "↑ higher is better, ↓ lower is better.</sub>")]
    fixed_cost = sum(len(x) + 1 for x in head + table + footer)
    # The table gets up to 70% of the budget; the details share what is left.
    kept_rows, cut_rows = _fit(rows, int((limit - fixed_cost) * 0.7), "table")
    if cut_rows:
        kept_rows[-1] = (f"\n_… {cut_rows} more metrics not shown (the table is sorted: "
                         "regressions first); see the full report artifact._")
    out = head + table + kept_rows
    text = "\n".join(out)
    budget = limit - len(text) - sum(len(x) + 1 for x in footer) - 1
    for title_, lines in _detail_items(comparison):
        opening = f"\n\n<details><summary>{_html(title_)}</summary>\n\n"
        closing = "\n\n</details>"
        room = budget - len(opening) - len(closing)
        if room < 300:
            text += ("\n\n_Further sections left out to stay under GitHub's comment size limit; "
                     "see the full report artifact._")
            budget = 0
            break
        kept, _ = _fit(lines, room, "detail")
        block = opening + "\n".join(kept) + closing
        text += block
        budget -= len(block)
    text += "\n" + "\n".join(footer) + "\n"
    if len(text) > limit:  # belt and braces: never exceed GitHub's limit
        cut = text.rfind("\n", 0, limit - 120)
        text = text[:cut] + "\n\n_… truncated to stay under GitHub's comment size limit._\n"
    return text
