"""One self-contained HTML file: the Markdown report's content plus a plot per metric.

No network resources: inline CSS, inline SVG, no scripts, no fonts or images from anywhere;
a ``Content-Security-Policy`` meta tag forbids loading any. Each metric gets an SVG with the
base and head values and their confidence intervals as error bars on a shared axis.
"""

from __future__ import annotations

import math
from html import escape
from typing import TYPE_CHECKING, Any

from llaso_pytest.report.items import item_header, item_lines, shown_items
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
from llaso_pytest.textsafe import neutralize

if TYPE_CHECKING:  # pragma: no cover
    from llaso_pytest.compare import Comparison, MetricDiff

__all__ = ["render", "svg_plot"]

_COLOURS = {"regressed": "#c62828", "improved": "#2e7d32", "unchanged": "#607d8b",
            "untested": "#e65100", "incomparable": "#b58900", "new": "#1565c0",
            "removed": "#6d4c41", "not-run": "#8e8e8e", "unreliable": "#6a1b9a"}

_CSS = """
body{font:13px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#1b1f23;
max-width:1400px}
h1{font-size:20px;margin:0 0 4px} h2{font-size:16px;margin:24px 0 8px}
.summary{font-size:16px;margin:8px 0 12px}
.pill{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-size:12px;
font-weight:600}
table{border-collapse:collapse;width:100%;margin:8px 0}
th,td{border-bottom:1px solid #e1e4e8;padding:4px 6px;text-align:left;vertical-align:middle}
th{background:#f6f8fa;font-weight:600} td.num{font-variant-numeric:tabular-nums;white-space:nowrap}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;background:#f6f8fa;padding:1px 3px}
.muted{color:#586069;font-size:12px} details{margin:6px 0} summary{cursor:pointer;font-weight:600}
.warn{background:#fff8c5;border:1px solid #d4a72c;padding:6px 10px;margin:6px 0}
pre.item-text{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;background:#f6f8fa;
padding:6px 8px;margin:2px 0 8px;white-space:pre;overflow-x:auto}
svg text{font:11px system-ui,sans-serif;fill:#24292e}
"""


def _e(value: Any) -> str:
    return escape(neutralize(value), quote=True)


def _side(value: Any, absent: bool) -> str:
    return '<span class="muted">not recorded</span>' if absent else _e(value)


def _pill(m: MetricDiff) -> str:
    colour = _COLOURS.get(m.verdict, "#555")
    return f'<span class="pill verdict-{_e(m.verdict)}" style="background:{colour}">' \
           f"{_e(verdict_label(m))}</span>"


def svg_plot(m: MetricDiff, *, width: int = 260, height: int = 64) -> str:
    """Base and head value with their intervals (error bars) on one axis, as inline SVG."""
    points = [("base", m.base_value, m.base_ci, "#6a737d"),
              ("head", m.head_value, m.head_ci, _COLOURS.get(m.verdict, "#555"))]
    xs: list[float] = []
    for _, v, ci, _ in points:
        if v is not None and math.isfinite(v):
            xs.append(v)
        if ci is not None:
            xs.extend(x for x in ci if x is not None and math.isfinite(x))
    label = f"{m.name}: base {fmt_num(m.base_value)} {fmt_ci(m.base_ci)}, head " \
            f"{fmt_num(m.head_value)} {fmt_ci(m.head_ci)}"
    if not xs:
        return (f'<svg class="plot" width="{width}" height="{height}" role="img" '
                f'aria-label="{_e(label)}"><text x="4" y="{height // 2}">no values</text></svg>')
    lo, hi = min(xs), max(xs)
    pad = (hi - lo) * 0.08 or (abs(hi) * 0.05 or 0.5)
    lo, hi = lo - pad, hi + pad
    left, right = 44, width - 10

    def x(v: float) -> float:
        return left + (v - lo) / (hi - lo) * (right - left)

    parts = [(f'<svg class="plot" xmlns="http://www.w3.org/2000/svg" width="{width}" '
             f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{_e(label)}"><title>{_e(label)}</title>'),
             (f'<line x1="{left}" y1="{height - 14}" x2="{right}" y2="{height - 14}" '
             'stroke="#d1d5da"/>')]
    for value in (lo + pad, hi - pad):
        parts.append(f'<text x="{x(value):.1f}" y="{height - 2}" text-anchor="middle" '
                     f'class="tick">{_e(fmt_num(value))}</text>')
    for row, (name, v, ci, colour) in enumerate(points):
        y = 12 + row * 18
        parts.append(f'<text x="2" y="{y + 4}">{name}</text>')
        if ci is not None and all(c is not None and math.isfinite(c) for c in ci):
            x0, x1 = x(ci[0]), x(ci[1])
            parts.append(f'<line class="errbar" x1="{x0:.1f}" y1="{y}" x2="{x1:.1f}" y2="{y}" '
                         f'stroke="{colour}" stroke-width="2"/>')
            for xe in (x0, x1):
                parts.append(f'<line x1="{xe:.1f}" y1="{y - 5}" x2="{xe:.1f}" y2="{y + 5}" '
                             f'stroke="{colour}" stroke-width="2"/>')
        if v is not None and math.isfinite(v):
            parts.append(f'<circle class="point" cx="{x(v):.1f}" cy="{y}" r="4" '
                         f'fill="{colour}"/>')
    parts.append("</svg>")
    return "".join(parts)


def _metric_row(m: MetricDiff) -> str:
    p = "" if m.p_improve is None else f"{m.p_improve:.1%}"
    return (
        f'<tr class="metric" data-verdict="{_e(m.verdict)}" data-key="{_e(m.key)}">'
        f"<td>{_pill(m)}</td><td><code>{_e(short_nodeid(m.nodeid))}</code></td>"
        f"<td>{_e(m.name)} <span class=\"muted\">{'↑' if m.higher_is_better else '↓'}</span></td>"
        f'<td class="num">{_e(fmt_num(m.base_value))}<br><span class="muted">'
        f"{_e(fmt_ci(m.base_ci))}</span></td>"
        f'<td class="num">{_e(fmt_num(m.head_value))}<br><span class="muted">'
        f"{_e(fmt_ci(m.head_ci))}</span></td>"
        f'<td class="num">{_e(fmt_delta(m))}</td><td class="num">{_e(fmt_p(m))}</td>'
        f'<td class="num">{_e(p)}</td><td class="num">{_e(detectable_text(m))}</td>'
        f"<td>{_e(method_label(m))}</td><td>{svg_plot(m)}</td></tr>"
    )


#: How many items of each kind a metric shows with their texts.
ITEM_TEXTS = 5


def _details(comparison: Comparison) -> list[str]:
    out: list[str] = []
    ms = ordered(comparison)
    incomparable = [m for m in ms if m.verdict == "incomparable"]
    if incomparable:
        out.append(f"<details open><summary>Incomparable metrics ({len(incomparable)}): "
                   "signatures differ</summary><table><tr><th>metric</th><th>field</th>"
                   "<th>base</th><th>head</th></tr>")
        for m in incomparable:
            for d in m.signature_diffs:
                out.append(f"<tr><td><code>{_e(m.key)}</code></td><td>{_e(d.field)}</td>"
                           f"<td>{_e(d.base)}</td><td>{_e(d.head)}</td></tr>")
        out.append("</table></details>")
    for m in ms:
        blocks = []
        f = m.flips
        if m.verdict == "untested":
            blocks.append(f"<p><b>untested</b>: {_e(m.untested_reason)}</p>")
        if f is not None and (f.n_broken or f.n_fixed):
            more_b = f" (first {len(f.broken)} of {f.n_broken})" if f.n_broken > len(f.broken) \
                else ""
            more_f = f" (first {len(f.fixed)} of {f.n_fixed})" if f.n_fixed > len(f.fixed) else ""
            blocks.append(f"<p><b>{f.n_broken} now wrong</b>{more_b}: "
                          + ", ".join(f"<code>{_e(i)}</code>" for i in f.broken) + "</p>")
            blocks.append(f"<p><b>{f.n_fixed} now right</b>{more_f}: "
                          + ", ".join(f"<code>{_e(i)}</code>" for i in f.fixed) + "</p>")
        if m.worst_changes or m.best_changes:
            rows = "".join(
                f"<tr><td>{label}</td><td><code>{_e(c.item)}</code></td>"
                f'<td class="num">{_e(fmt_num(c.base))}</td>'
                f'<td class="num">{_e(fmt_num(c.head))}</td></tr>'
                for label, items in (("worse", m.worst_changes), ("better", m.best_changes))
                for c in items)
            blocks.append("<table><tr><th></th><th>item</th><th>base</th><th>head</th></tr>"
                          f"{rows}</table>")
        for v in shown_items(m, ITEM_TEXTS):
            blocks.append(f'<div class="item-text" data-item="{_e(v.item)}">'
                          f"<b>{_e(item_header(v))}</b>"
                          f'<pre class="item-text">{_e(chr(10).join(item_lines(v)))}</pre></div>')
        if m.notes:
            blocks.append("<ul>" + "".join(f"<li>{_e(n)}</li>" for n in m.notes) + "</ul>")
        if blocks:
            opened = " open" if m.verdict in ("regressed", "untested") else ""
            out.append(f'<details{opened} class="items"><summary>{_e(m.key)} '
                       f"({_e(direction(m))}, {_e(verdict_label(m))})</summary>"
                       + "".join(blocks) + "</details>")
    if comparison.provenance_diffs:
        out.append(f"<details open><summary>Provenance differences "
                   f"({len(comparison.provenance_diffs)})</summary><table><tr><th>provenance"
                   "</th><th>base</th><th>head</th></tr>")
        out.extend(f"<tr><td><code>{_e(p.path)}</code></td>"
                   f"<td>{_side(p.base, p.change == 'only-head')}</td>"
                   f"<td>{_side(p.head, p.change == 'only-base')}</td></tr>"
                   for p in comparison.provenance_diffs)
        out.append("</table></details>")
    return out


def render(comparison: Comparison, *, title: str = "llaso-pytest: comparison with the baseline"
           ) -> str:
    """The whole report as one HTML document (UTF-8 text)."""
    c = comparison.counts()
    pills = " · ".join(
        f'<span class="count count-{v}" style="color:{_COLOURS[v]}">{c[v]} '
        f'{_e(v.replace("-", " "))}</span>'
        for v in sorted(c, key=lambda v: VERDICT_ORDER.get(v, 9))
        if c[v] or v in ("regressed", "improved", "unchanged", "untested"))
    pills += f' <span class="muted">at {_e(comparison.level_text())}</span>'
    families = comparison.families()
    family_lines = "".join(f'<div class="muted family">{_e(f)}: {_e(counts_line(comparison, f))}'
                           "</div>" for f in families) if len(families) > 1 else ""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        ("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        "style-src 'unsafe-inline'; img-src data:\">"),
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        f'<div class="summary" id="summary">{pills}</div>{family_lines}',
        (f'<p>Baseline <code>{_e(run_label(comparison.base))}</code> ({_e(comparison.base.source)})'
        f' → this run <code>{_e(run_label(comparison.head))}</code> '
        f"({_e(comparison.head.source)})</p>"),
    ]
    parts.extend(f'<div class="warn">{_e(w)}</div>' for w in comparison.warnings)
    parts.extend(f'<div class="warn problem">{_e(p.message)}</div>' for p in comparison.problems)
    parts.append('<table id="metrics"><tr><th>verdict</th><th>test</th><th>metric</th>'
                 "<th>base</th><th>head</th><th>Δ [CI]</th><th>p</th><th>P(better)</th>"
                 "<th>detectable</th><th>method</th>"
                 "<th>base vs head (error bars: CI)</th></tr>")
    parts.extend(_metric_row(m) for m in ordered(comparison))
    parts.append("</table>")
    details = _details(comparison)
    if details:
        parts.append("<h2>Details</h2>")
        parts.extend(details)
    parts.append(f'<p class="muted">{_e(settings_line(comparison))}. ↑ higher is better, '
                 "↓ lower is better.</p></body></html>")
    return encodable("\n".join(parts) + "\n")
