"""Per-item arrays of a run record decoded as NumPy while its JSON is read.

A record of 100 metrics x 100k items decoded by ``json.loads`` holds 30 million Python
numbers (24-32 bytes each) and 100 copies of the same 100k item ids. :class:`ItemArrays` is
an ``object_hook`` for :func:`json.loads`: as soon as one result's ``items`` object is read,
its numeric columns become NumPy arrays (``int32`` where the integers fit, else ``int64``;
``float64`` otherwise: every value exact) and its id and group lists are replaced by an equal
list read before, if any; the Python lists are freed before the next result is read.
Only lists that :func:`llaso_pytest.record.check_values` would accept are converted (finite,
in range); anything else is left as read, so that check names the file and the field.
Used by the comparison's readers (``llaso compare``, :func:`llaso_pytest.compare.load_record`).
"""

from __future__ import annotations

from typing import Any

__all__ = ["ItemArrays"]

#: Shorter lists stay lists (their Python objects cost little).
MIN_LENGTH = 64
_INT32 = 2**31


class ItemArrays:
    """``object_hook`` that turns each ``items`` object's columns into NumPy arrays."""

    def __init__(self) -> None:
        self._lists: dict[tuple[int, str, str], list[list[str]]] = {}

    def __call__(self, obj: dict[str, Any]) -> dict[str, Any]:
        if "ids" not in obj or "stats" not in obj:
            return obj
        for key in ("ids", "groups"):
            obj[key] = self._shared(obj.get(key))
        stats = obj["stats"]
        if isinstance(stats, dict):
            for name, column in stats.items():
                stats[name] = numeric(column)
        obj["scores"] = numeric(obj.get("scores"))
        return obj

    def _shared(self, value: Any) -> Any:
        """An equal list of strings read before (one copy of the ids of many metrics)."""
        if not isinstance(value, list) or len(value) < MIN_LENGTH or \
                not isinstance(value[0], str) or not isinstance(value[-1], str):
            return value
        seen = self._lists.setdefault((len(value), value[0], value[-1]), [])
        for earlier in seen:
            if earlier == value:
                return earlier
        seen.append(value)
        return value


def numeric(value: Any) -> Any:
    """A NumPy array of a long flat list of finite numbers in range, else ``value`` itself."""
    if not isinstance(value, list) or len(value) < MIN_LENGTH:
        return value
    from llaso_pytest.record import _flat_ok

    kinds = set(map(type, value))
    if not kinds or not kinds <= {int, float} or not _flat_ok(value):
        return value
    import numpy as np

    if kinds == {int}:
        lo, hi = min(value), max(value)
        if -_INT32 <= lo and hi < _INT32:
            return np.asarray(value, dtype=np.int32)
        if -(2**63) <= lo and hi < 2**63:
            return np.asarray(value, dtype=np.int64)
        return value
    return np.asarray(value, dtype=np.float64)
