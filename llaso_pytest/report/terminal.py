"""Compact plain-text comparison table, for the pytest terminal summary and ``llaso compare``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from llaso_pytest.report.items import item_header, item_lines, shown_items
from llaso_pytest.report.labels import (
    counts_line,
    detectable_text,
    encodable,
    fmt_delta,
    fmt_num,
    fmt_p,
    method_label,
    ordered,
    run_label,
    short_nodeid,
    verdict_label,
)
from llaso_pytest.textsafe import neutralize

if TYPE_CHECKING:  # pragma: no cover
    from llaso_pytest.compare import Comparison, MetricDiff

__all__ = ["render"]

_MAX_TEST = 48
_ABSENT = {"only-base": " (absent in head)", "only-head": " (absent in base)"}


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else "..." + text[-(width - 3):]


def _texts(m: MetricDiff, limit: int) -> list[str]:
    """The texts of the first flipped / most worsened items, indented under their line."""
    out: list[str] = []
    for v in shown_items(m, limit):
        out.append(f"  {item_header(v)}")
        out.extend(f"    {line}" for line in item_lines(v))
    return out


def render(comparison: Comparison, *, max_unchanged: int = 30, flips: int = 3) -> list[str]:
    """Lines for the terminal: header, summary, one row per metric, then what to look at.

    Every metric that is not ``unchanged`` gets a row; at most ``max_unchanged`` unchanged
    ones do (the rest are counted).
    """
    lines = [
        f"baseline {run_label(comparison.base)} -> this run {run_label(comparison.head)}",
        counts_line(comparison),
    ]
    families = comparison.families()
    if len(families) > 1:
        lines.extend(f"  {f}: {counts_line(comparison, f)}" for f in families)
    rows: list[tuple[str, ...]] = []
    hidden = 0
    shown_unchanged = 0
    for m in ordered(comparison):
        if m.verdict == "unchanged" and not (m.tolerance and m.tolerance.within):
            if shown_unchanged >= max_unchanged:
                hidden += 1
                continue
            shown_unchanged += 1
        arrow = "^" if m.higher_is_better else "v"
        verdict = verdict_label(m)
        if m.verdict in ("regressed", "untested"):
            verdict = verdict.upper()
        method = method_label(m)
        rows.append(tuple(neutralize(cell, controls=True) for cell in (
            _clip(short_nodeid(m.nodeid), _MAX_TEST), f"{m.name} {arrow}",
            fmt_num(m.base_value), fmt_num(m.head_value), fmt_delta(m), fmt_p(m),
            detectable_text(m), f"{verdict}" + (f" ({method})" if method else ""),
        )))
    header = ("test", "metric", "base", "head", "delta [CI]", "p", "detectable", "verdict")
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(header)]

    def fmt(row: tuple[str, ...]) -> str:
        return "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()

    lines.append(fmt(header))
    lines.extend(fmt(r) for r in rows)
    if hidden:
        lines.append(f"... and {hidden} more unchanged metrics")
    for m in ordered(comparison):
        if m.verdict == "incomparable":
            fields = ", ".join(f"{d.field}: {d.base!r} -> {d.head!r}" for d in m.signature_diffs)
            lines.append(f"incomparable {m.key}: signatures differ ({fields})")
        if m.verdict == "untested":
            lines.append(f"untested {m.key}: {m.untested_reason}")
        if m.unreliable_reason:
            lines.append(f"unreliable {m.key}: {m.unreliable_reason} (not gating)")
        f = m.flips
        if f is not None and (f.n_broken or f.n_fixed):  # the cases behind any verdict
            broke = ", ".join(f.broken[:flips]) + (" ..." if f.n_broken > flips else "")
            fixed = ", ".join(f.fixed[:flips]) + (" ..." if f.n_fixed > flips else "")
            lines.append(f"flips {m.key}: {f.n_broken} now wrong ({broke or '-'}); "
                         f"{f.n_fixed} now right ({fixed or '-'})")
            lines.extend(_texts(m, flips))
        elif m.verdict == "regressed" and m.worst_changes:
            worst = ", ".join(f"{c.item} {fmt_num(c.base)}->{fmt_num(c.head)}"
                              for c in m.worst_changes[:flips])
            lines.append(f"largest worsening {m.key}: {worst}")
            lines.extend(_texts(m, flips))
    if comparison.provenance_diffs:
        names = ", ".join(p.path + _ABSENT.get(p.change, "")
                          for p in comparison.provenance_diffs[:6])
        more = len(comparison.provenance_diffs) - 6
        lines.append(f"provenance differs: {names}" + (f" (+{more} more)" if more > 0 else ""))
    lines.extend(f"warning: {w}" for w in comparison.warnings)
    lines.extend(f"warning: {p.message}" for p in comparison.problems)
    return [neutralize(encodable(line), controls=True) for line in lines]
