"""Plain-text table of the results a run recorded, for the pytest terminal summary."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llaso_pytest.record import RunRecord
from llaso_pytest.report import fmt_ci, fmt_num
from llaso_pytest.textsafe import neutralize

__all__ = ["render_results", "result_line"]


def _ci(result: Mapping[str, Any]) -> str:
    ci = result.get("ci")
    if not ci:
        return "n/a (too few items)"
    conf = result.get("confidence")
    label = f"{round(conf * 100)}% " if isinstance(conf, (int, float)) else ""
    return f"{label}{fmt_ci(ci)}"


def result_line(result: Mapping[str, Any]) -> str:
    """One line for a recorded result: value, interval, n and signature text, no per-item data.

    What JUnit XML shows as the ``llaso_result`` property (the run record keeps the items):
    ``wer = 0.1234, 95% [0.11, 0.14], n=50000, lower is better; wer|norm:none|...``.
    """
    value = result.get("value")
    shown = fmt_num(float(value)) if isinstance(value, (int, float)) else "n/a"
    sig = result.get("signature")
    text = sig.get("text") if isinstance(sig, Mapping) else None
    better = "higher" if result.get("higher_is_better") else "lower"
    return (f"{result.get('name', '?')} = {shown}, {_ci(result)}, n={result.get('n', '?')}, "
            f"{better} is better; {text or 'no signature'}")


def _value(result: Mapping[str, Any]) -> str:
    """The value, marked when its judge fell short of its declared agreement."""
    extra = result.get("extra")
    info = extra.get("reliability") if isinstance(extra, Mapping) else None
    unreliable = isinstance(info, Mapping) and info.get("state") == "unreliable"
    return fmt_num(float(result["value"])) + (" UNRELIABLE (not gating)" if unreliable else "")


def render_results(record: RunRecord, *, limit: int = 200) -> list[str]:
    """One line per recorded result: test, metric, value (and an unreliable judge's mark),
    interval, n."""
    rows = [
        (neutralize(nodeid, controls=True), neutralize(r["name"], controls=True),
         _value(r), _ci(r), str(r.get("n", "")))
        for nodeid, r in record.results()
    ]
    if not rows:
        return []
    shown = rows[:limit]
    header = ("test", "metric", "value", "interval", "n")
    widths = [max(len(h), *(len(row[i]) for row in shown)) for i, h in enumerate(header)]
    widths[0] = min(widths[0], 70)

    def fmt(row: tuple[str, ...]) -> str:
        first = row[0] if len(row[0]) <= widths[0] else "..." + row[0][-(widths[0] - 3):]
        rest = zip(row[1:], widths[1:], strict=True)
        cells = [first.ljust(widths[0])] + [c.ljust(w) for c, w in rest]
        return "  ".join(cells).rstrip()

    lines = [fmt(header)] + [fmt(r) for r in shown]
    if len(rows) > limit:
        lines.append(f"... {len(rows) - limit} more results in the run record")
    return lines
