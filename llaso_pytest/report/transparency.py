"""The run's transparency report: per-slice forest plots, ASR confusion pairs, judge-versus-
human confusion matrices and difficulty profiles, as self-contained HTML (inline SVG, no
scripts, a Content-Security-Policy forbidding any load) or a size-capped Markdown summary.
Rendering only: the data comes from :func:`llaso_pytest.run_views.run_views`."""

from __future__ import annotations

import math
from html import escape
from typing import Any

from llaso_pytest.report.markdown import GITHUB_LIMIT
from llaso_pytest.run_views import RunViews, SliceFamily
from llaso_pytest.textsafe import neutralize

__all__ = ["render_html", "render_markdown"]

_CSS = """
body{font:13px/1.4 system-ui,sans-serif;margin:24px;color:#1b1f23;max-width:1200px}
h1{font-size:20px;margin:0 0 4px} h2{font-size:16px;margin:24px 0 8px} h3{font-size:14px}
table{border-collapse:collapse;margin:8px 0} th,td{border-bottom:1px solid #e1e4e8;
padding:3px 8px;text-align:left} th{background:#f6f8fa} td.num{text-align:right;
font-variant-numeric:tabular-nums} .muted{color:#586069;font-size:12px}
svg text{font:11px system-ui,sans-serif;fill:#24292e} code{background:#f6f8fa;padding:1px 3px}
"""
_BLUE = "#4878a8"
_GREY = "#9e9e9e"


def _e(value: Any) -> str:
    return escape(neutralize(str(value)), quote=True)


def _num(x: float) -> str:
    return f"{x:.3g}" if math.isfinite(x) else "n/a"


def forest_svg(fam: SliceFamily, *, width: int = 820, row: int = 22) -> str:
    """One row per slice: the value as a dot and its interval as a bar on a shared axis;
    slices below the minimum n are hollow and grey, without a bar."""
    lo = min([s.ci[0] if s.ci else s.value for s in fam.slices] + [s.value for s in fam.slices])
    hi = max([s.ci[1] if s.ci else s.value for s in fam.slices] + [s.value for s in fam.slices])
    if not (math.isfinite(lo) and math.isfinite(hi)):
        lo, hi = 0.0, 1.0
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    pad = (hi - lo) * 0.05
    lo, hi = lo - pad, hi + pad
    left, right = 170, 300
    plot = width - left - right
    height = row * len(fam.slices) + 28

    def x(v: float) -> float:
        return left + (v - lo) / (hi - lo) * plot

    out = [f'<svg class="forest" role="img" width="{width}" height="{height}" '
           f'aria-label="{_e(fam.metric)} by {_e(fam.key)}">',
           f'<line x1="{left}" y1="{height - 22}" x2="{left + plot}" y2="{height - 22}" '
           'stroke="#888"/>',
           f'<text x="{left}" y="{height - 6}">{_e(_num(lo + pad))}</text>',
           f'<text x="{left + plot}" y="{height - 6}" text-anchor="end">{_e(_num(hi - pad))}'
           "</text>"]
    for i, s in enumerate(fam.slices):
        y = 14 + i * row
        cls = "slice below-min" if s.below_min else "slice"
        out.append(f'<g class="{cls}" data-slice="{_e(s.label)}">')
        out.append(f'<text x="{left - 8}" y="{y + 4}" text-anchor="end">{_e(s.label)}</text>')
        if s.ci is not None and not s.below_min:
            out.append(f'<line x1="{x(s.ci[0]):.1f}" y1="{y}" x2="{x(s.ci[1]):.1f}" y2="{y}" '
                       f'stroke="{_BLUE}" stroke-width="2"/>')
            out.append(f'<circle cx="{x(s.value):.1f}" cy="{y}" r="4" fill="{_BLUE}"/>')
            note = f"{_num(s.value)} [{_num(s.ci[0])}, {_num(s.ci[1])}] n={s.n}"
        else:
            out.append(f'<circle cx="{x(s.value):.1f}" cy="{y}" r="4" fill="none" '
                       f'stroke="{_GREY}" stroke-width="1.5"/>')
            note = f"{_num(s.value)} n={s.n}: too few for an interval"
        out.append(f'<text x="{left + plot + 8}" y="{y + 4}">{_e(note)}</text></g>')
    out.append("</svg>")
    return "".join(out)


def _bars_svg(counts: list[tuple[str, float]], *, width: int = 420, row: int = 16) -> str:
    top = max((c for _, c in counts), default=1.0) or 1.0
    left = 130
    h = row * len(counts) + 6
    out = [f'<svg class="profile" role="img" width="{width}" height="{h}">']
    for i, (label, c) in enumerate(counts):
        y = 3 + i * row
        w = (width - left - 50) * c / top
        out.append(f'<text x="{left - 6}" y="{y + 11}" text-anchor="end">{_e(label[:22])}'
                   f'</text><rect x="{left}" y="{y}" width="{w:.1f}" height="{row - 4}" '
                   f'fill="{_BLUE}"/><text x="{left + w + 4:.1f}" y="{y + 11}">'
                   f"{_e(_num(c))}</text>")
    out.append("</svg>")
    return "".join(out)


def _profile_html(name: str, columns: Any) -> list[str]:
    parts = [f'<h3>{_e(name)}</h3><div class="profile-set" data-dataset="{_e(name)}">']
    for col in columns:
        if col.kind == "categorical":
            counts = [(v, float(c)) for v, c in col.counts[:15]]
        elif col.histogram is not None:
            edges, cnt = col.histogram
            counts = [(f"{_num(a)}-{_num(b)}", float(c))
                      for a, b, c in zip(edges[:-1], edges[1:], cnt, strict=True)]
        else:
            continue
        parts.append(f'<div class="column"><div class="muted">{_e(col.name)} (n={col.n})'
                     f"</div>{_bars_svg(counts)}</div>")
    parts.append("</div>")
    return parts


def render_html(views: RunViews, *, title: str | None = None) -> str:
    """The self-contained HTML page of a run's views."""
    t = title or f"llaso run {views.run_id}: slices, errors, agreement, data"
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             ("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
              "style-src 'unsafe-inline'; img-src data:\">"),
             f"<title>{_e(t)}</title><style>{_CSS}</style></head><body>", f"<h1>{_e(t)}</h1>"]
    parts.append('<h2 id="slices">Per-slice metrics</h2>')
    if not views.slices:
        parts.append('<p class="muted">No slice metrics (results named metric/key=value).</p>')
    for fam in views.slices:
        arrow = "higher is better" if fam.higher_is_better else "lower is better"
        parts.append(f'<h3>{_e(fam.metric)} by {_e(fam.key)} <span class="muted">'
                     f"({_e(arrow)}; <code>{_e(fam.nodeid)}</code>)</span></h3>")
        parts.append(forest_svg(fam))
    parts.append('<h2 id="confusions">ASR confusion pairs</h2>')
    if not views.confusions:
        parts.append('<p class="muted">No confusion pairs recorded.</p>')
    for c in views.confusions:
        parts.append(f'<p class="muted"><code>{_e(c.nodeid)}</code> {_e(c.metric)}</p>'
                     '<table class="confusions"><tr><th>reference</th><th>recognised</th>'
                     "<th>count</th></tr>")
        for ref, hyp, n in c.pairs:
            parts.append(f"<tr><td>{_e(ref or '(inserted)')}</td><td>"
                         f"{_e(hyp or '(deleted)')}</td><td class=num>{n}</td></tr>")
        parts.append("</table>")
    parts.append('<h2 id="judge">Judge versus human</h2>')
    if not views.judge:
        parts.append('<p class="muted">No judge-versus-human agreement recorded.</p>')
    for j in views.judge:
        top = max((v for row in j.matrix for v in row), default=1) or 1
        kappa = "" if j.kappa is None else f", kappa {_num(j.kappa)}"
        acc = "" if j.accuracy is None else f"accuracy {_num(j.accuracy)}"
        parts.append(f'<p class="muted"><code>{_e(j.nodeid)}</code> {_e(j.metric)}: '
                     f"{_e(acc)}{_e(kappa)}</p><table class=\"judge-matrix\"><tr><th>human \\ "
                     "judge</th>" + "".join(f"<th>{_e(lab)}</th>" for lab in j.labels) + "</tr>")
        for lab, row in zip(j.labels, j.matrix, strict=True):
            cells = "".join(
                f'<td class=num style="background:rgba(72,120,168,{0.1 + 0.8 * v / top:.2f})">'
                f"{v}</td>" for v in row)
            parts.append(f"<tr><th>{_e(lab)}</th>{cells}</tr>")
        parts.append("</table>")
    parts.append('<h2 id="profile">Difficulty profile</h2>')
    if not views.profiles:
        parts.append('<p class="muted">No dataset given (llaso report --data DATASET).</p>')
    for name, cols in views.profiles:
        parts.extend(_profile_html(name, cols))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _ci_text(s: Any) -> str:
    if s.below_min or s.ci is None:
        return "too few"
    return f"[{_num(s.ci[0])}, {_num(s.ci[1])}]"


def render_markdown(views: RunViews, *, limit: int = GITHUB_LIMIT,
                    details_url: str | None = None) -> str:
    """A Markdown summary (slices worst first, top confusions, judge matrices) that never
    exceeds ``limit`` characters: rows that do not fit are counted, not dropped silently."""
    def esc(s: str) -> str:
        return neutralize(s).replace("|", "\\|")

    link = f" Full report: {details_url}" if details_url else ""
    head = f"### llaso run `{views.run_id}`: slices, errors, agreement{link}\n"
    blocks: list[list[str]] = []
    for fam in views.slices:
        rows = sorted(fam.slices, key=lambda s: s.value, reverse=not fam.higher_is_better)
        b = [f"\n**{esc(fam.metric)} by {esc(fam.key)}** (`{esc(fam.nodeid)}`)\n",
             "| slice | value | 95% CI | n |", "| --- | ---: | --- | ---: |"]
        b += [f"| {esc(s.label)} | {_num(s.value)} | {_ci_text(s)} | {s.n} |" for s in rows]
        blocks.append(b)
    for c in views.confusions:
        b = [f"\n**confusions** (`{esc(c.nodeid)}`)\n", "| reference | recognised | count |",
             "| --- | --- | ---: |"]
        b += [f"| {esc(r or '(inserted)')} | {esc(h or '(deleted)')} | {n} |"
              for r, h, n in c.pairs]
        blocks.append(b)
    for j in views.judge:
        b = [f"\n**judge vs human** (`{esc(j.nodeid)}`; rows human, columns judge)\n",
             "| | " + " | ".join(map(esc, j.labels)) + " |",
             "| --- |" + " ---: |" * len(j.labels)]
        b += [f"| {esc(lab)} | " + " | ".join(map(str, row)) + " |"
              for lab, row in zip(j.labels, j.matrix, strict=True)]
        blocks.append(b)
    out = [head]
    used = len(head)
    left_out = 0
    for b in blocks:
        for line in b:
            if used + len(line) + 1 + 80 > limit:
                left_out += 1
                continue
            out.append(line)
            used += len(line) + 1
    if left_out:
        out.append(f"\n_{left_out} more lines did not fit GitHub's comment size limit; see the "
                   "HTML report._")
    return "\n".join(out) + "\n"
