"""Compact plain-text comparison table, for the pytest terminal summary and ``llaso compare``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from llaso_pytest.report import (
    encodable,
    fmt_delta,
    fmt_num,
    method_label,
    ordered,
    run_label,
    short_nodeid,
    verdict_label,
)
from llaso_pytest.textsafe import neutralize

if TYPE_CHECKING:  # pragma: no cover
    from llaso_pytest.compare import Comparison

__all__ = ["render"]

_MAX_TEST = 48


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else "..." + text[-(width - 3):]


def render(comparison: Comparison, *, max_unchanged: int = 30, flips: int = 3) -> list[str]:
    """Lines for the terminal: header, summary, one row per metric, then what to look at.

    Every metric that is not ``unchanged`` gets a row; at most ``max_unchanged`` unchanged
    ones do (the rest are counted).
    """
    lines = [
        f"baseline {run_label(comparison.base)} -> this run {run_label(comparison.head)}",
        comparison.summary_line(),
    ]
    rows: list[tuple[str, ...]] = []
    hidden = 0
    shown_unchanged = 0
    for m in ordered(comparison):
        if m.verdict == "unchanged" and not m.within_tolerance:
            if shown_unchanged >= max_unchanged:
                hidden += 1
                continue
            shown_unchanged += 1
        arrow = "^" if m.higher_is_better else "v"
        verdict = verdict_label(m).upper() if m.verdict == "regressed" else verdict_label(m)
        method = method_label(m)
        rows.append(tuple(neutralize(cell, controls=True) for cell in (
            _clip(short_nodeid(m.nodeid), _MAX_TEST), f"{m.name} {arrow}",
            fmt_num(m.base_value), fmt_num(m.head_value), fmt_delta(m),
            f"{verdict}" + (f" ({method})" if method else ""),
        )))
    header = ("test", "metric", "base", "head", "delta [CI]", "verdict")
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(header)]

    def fmt(row: tuple[str, ...]) -> str:
        return "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()

    lines.append(fmt(header))
    lines.extend(fmt(r) for r in rows)
    if hidden:
        lines.append(f"... and {hidden} more unchanged metrics")
    for m in ordered(comparison):
        if m.verdict == "incomparable":
            fields = ", ".join(f"{d.field}: {d.base!r} -> {d.head!r}" for d in m.signature_diffs)
            lines.append(f"incomparable {m.key}: signatures differ ({fields})")
        if m.pass_fail and (m.n_broken or m.n_fixed) and m.verdict != "unchanged":
            broke = ", ".join(m.broken[:flips]) + (" ..." if m.n_broken > flips else "")
            fixed = ", ".join(m.fixed[:flips]) + (" ..." if m.n_fixed > flips else "")
            lines.append(f"flips {m.key}: {m.n_broken} now wrong ({broke or '-'}); "
                         f"{m.n_fixed} now right ({fixed or '-'})")
        elif m.verdict == "regressed" and m.worst_changes:
            worst = ", ".join(f"{c.item} {fmt_num(c.base)}->{fmt_num(c.head)}"
                              for c in m.worst_changes[:flips])
            lines.append(f"largest worsening {m.key}: {worst}")
    if comparison.provenance_diffs:
        names = ", ".join(p.path for p in comparison.provenance_diffs[:6])
        more = len(comparison.provenance_diffs) - 6
        lines.append(f"provenance differs: {names}" + (f" (+{more} more)" if more > 0 else ""))
    lines.extend(f"warning: {w}" for w in comparison.warnings)
    return [neutralize(encodable(line), controls=True) for line in lines]
