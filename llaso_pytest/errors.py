"""Error and warning categories of llaso-pytest.

Every exception the package defines subclasses :class:`LlasoError` (and keeps its builtin
base, e.g. :class:`ValueError`), so ``except LlasoError`` catches all of ours and
``except ValueError`` keeps working. Soft problems are :class:`LlasoWarning`, a plain
:class:`UserWarning`: the plugin shows it in pytest's warnings summary
(``-W error::llaso_pytest.errors.LlasoWarning`` turns every soft problem into an error).

This module imports nothing heavy and never imports pytest, so the scientific core
(`metrics/`, `stats.py`, `compare`, `record.py`) stays usable from a notebook.
"""

from __future__ import annotations

__all__ = ["LlasoError", "LlasoWarning", "MetricInputError", "warn"]


class LlasoError(Exception):
    """The root of every exception llaso-pytest raises on purpose."""


class LlasoWarning(UserWarning):
    """A soft problem: too few items for an interval, a degenerate resample, a dropped item."""


class MetricInputError(LlasoError, ValueError):
    """Bad input to a metric: mismatched counts, ``None`` or non-string items, duplicate ids.

    Subclasses :class:`ValueError` so callers that already catch ``ValueError`` keep working.
    """


def warn(message: str) -> None:
    """Emit a :class:`LlasoWarning` attributed to the first caller outside llaso_pytest."""
    import os
    import sys
    import warnings

    pkg = os.path.dirname(os.path.abspath(__file__))
    level = 2
    frame = sys._getframe(1)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(pkg):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    warnings.warn(message, LlasoWarning, stacklevel=level)
