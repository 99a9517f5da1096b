"""The texts of a flipped or changed item as plain lines, shared by every report format.

Terminal output prints the lines; Markdown and HTML put them, escaped, in a ``<pre>`` block.
Speech items show the aligned REF/HYP rows with S/D/I marks of each run; QA and summaries the
reference and both runs' predictions; judged items the judge's reason too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llaso_pytest.report.labels import fmt_num

if TYPE_CHECKING:  # pragma: no cover
    from llaso_pytest.compare import ItemView, MetricDiff

__all__ = ["MISSING", "item_header", "item_lines", "shown_items"]

MISSING = "(not recorded)"
_WIDTH = 160


def _quote(text: str | None) -> str:
    return MISSING if text is None else repr(text)


def _cut(line: str, width: int) -> str:
    return line if len(line) <= width else line[: width - 1] + "…"


def item_header(v: ItemView) -> str:
    """``q07 now wrong (1 -> 0)``: the item, what happened, its per-item scores."""
    return f"{v.item} {v.role} ({fmt_num(v.base_score)} -> {fmt_num(v.head_score)})"


def item_lines(v: ItemView, *, width: int = _WIDTH) -> list[str]:
    """The item's texts, one row per line (no header, no indentation)."""
    lines: list[str] = []
    speech = v.view in ("words", "chars")
    if speech and (v.base_alignment or v.head_alignment):
        for label, rows in (("base", v.base_alignment), ("head", v.head_alignment)):
            if rows is None:
                lines.append(f"{label} {MISSING}")
                continue
            lines += [f"{label} REF: {rows[0]}", f"     HYP: {rows[1]}",
                      f"          {rows[2]}".rstrip()]
    else:
        lines += [f"reference: {_quote(v.ref)}", f"base:      {_quote(v.base_hyp)}",
                  f"head:      {_quote(v.head_hyp)}"]
    if v.base_reason is not None or v.head_reason is not None:
        lines += [f"judge (base): {_quote(v.base_reason)}",
                  f"judge (head): {_quote(v.head_reason)}"]
    if v.truncated:
        lines.append("(texts cut at the record's length limit; --llaso-item-text full keeps "
                     "them whole)")
    return [_cut(line, width) for line in lines]


def shown_items(m: MetricDiff, limit: int) -> list[ItemView]:
    """The item views a report shows for a metric: at most ``limit`` of each role."""
    out: list[ItemView] = []
    seen: dict[str, int] = {}
    for v in m.item_texts:
        if seen.get(v.role, 0) < limit:
            out.append(v)
            seen[v.role] = seen.get(v.role, 0) + 1
    return out
