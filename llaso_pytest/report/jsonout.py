"""Machine-readable comparison: ``Comparison.to_dict()`` as JSON (``"kind": "llaso-comparison"``).

Fields: ``base``/``head`` (run id, source, commit), ``settings``, ``counts`` per verdict,
``has_regression``, ``summary``, ``metrics`` (one object per ``(nodeid, name)`` with verdict,
method, values, intervals, delta and its CI, p_improve, p_value, paired counts, tolerance,
signature differences, flips and largest per-item changes, notes), ``provenance_diffs`` and
``warnings``. Non-finite numbers are ``null`` (strict JSON).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from llaso_pytest.report import encodable

if TYPE_CHECKING:  # pragma: no cover
    from llaso_pytest.compare import Comparison

__all__ = ["render"]


def _default(obj: object) -> object:
    if hasattr(obj, "tolist"):
        return obj.tolist()  # NumPy scalars that slipped into a provenance value
    return str(obj)


def render(comparison: Comparison, *, indent: int | None = 1) -> str:
    text = json.dumps(comparison.to_dict(), indent=indent, allow_nan=False,
                      default=_default, ensure_ascii=False) + "\n"
    return encodable(text)  # a lone surrogate becomes its JSON escape (reads back the same)
