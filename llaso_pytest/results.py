"""The one strict reader of recorded results (contract 2 of docs/architecture.md).

A run record's ``tests[*].results[*]`` are JSON objects written by
:meth:`llaso_pytest.metrics.base.MetricResult.to_record` (or by ``record_metric`` for plain
values). :func:`read_result` turns one into a typed :class:`ResultRecord`, refusing anything
malformed with a :class:`~llaso_pytest.record.RecordError` that names the file, the test and
the field; :func:`read_results` reads every result of a record. The comparer, the reports,
usage summaries and every exporter read results through here, so a new field is added once.
This module never imports pytest.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from llaso_pytest.itemtext import ItemTexts
    from llaso_pytest.metrics.base import Signature
    from llaso_pytest.record import RunRecord

__all__ = ["ResultRecord", "read_result", "read_results", "record_dict"]

REQUIRED = ("name", "value", "ci", "confidence", "n", "higher_is_better", "signature",
            "aggregate")


@dataclass(frozen=True)
class ResultRecord:
    """One recorded result, validated; per-item arrays already NumPy."""

    nodeid: str
    name: str
    value: float
    ci: tuple[float, float] | None
    confidence: float
    n: int
    higher_is_better: bool
    signature: Signature
    aggregate: str
    item_ids: Sequence[str]
    groups: Sequence[str] | None
    stats: dict[str, np.ndarray]
    scores: np.ndarray | None
    extra: Mapping[str, Any] = field(default_factory=dict)
    texts: ItemTexts | None = None  # reference / hypothesis / reason per item, when recorded

    @property
    def key(self) -> tuple[str, str]:
        return self.nodeid, self.name

    def stat_matrix(self) -> np.ndarray:
        """The ``(n, k)`` float64 matrix of the per-item statistics."""
        import numpy as np

        return np.column_stack(list(self.stats.values())).astype(np.float64, copy=False)


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _error(message: str) -> Exception:
    from llaso_pytest.record import RecordError

    return RecordError(message)


def _number(x: Any, what: str, *, nullable: bool = True) -> float:
    if x is None and nullable:
        return math.nan
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise _error(f"{what}: expected a number, not {_short(x)}")
    try:
        return float(x)
    except OverflowError:
        raise _error(f"{what} is out of range ({_short(x)})") from None


def _count(x: Any, what: str) -> int:
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x) \
            or x != int(x) or x < 0:
        raise _error(f"{what} must be a non-negative integer, not {_short(x)}")
    return int(x)


def _id_list(value: Any, what: str, checked: dict[int, list[str]] | None = None) -> list[str]:
    """Item ids or groups: a list of strings (integers are taken as their text, as
    :func:`llaso_pytest.metrics.base.check_ids` does). ``checked`` remembers lists validated
    already, by identity (metrics of one test set often share one list in memory); the caller
    keeps the records, hence the lists, alive meanwhile."""
    if not isinstance(value, list):
        raise _error(f"{what} must be a list of strings, not {type(value).__name__} "
                     f"({_short(value)})")
    if checked is not None and id(value) in checked:
        return checked[id(value)]
    try:
        "".join(value)  # the fast check (C speed): a TypeError unless every element is a str
    except TypeError:
        pass
    else:
        if checked is not None:
            checked[id(value)] = value
        return value
    for i, x in enumerate(value):
        if not isinstance(x, (str, int)) or isinstance(x, bool):
            raise _error(f"{what} must be a list of strings; element {i} is "
                         f"{type(x).__name__} ({_short(x)})")
    return [x if isinstance(x, str) else str(x) for x in value]


def _object(value: Any, what: str, expected: str) -> Mapping[str, Any]:
    """A JSON object field (``{}`` when absent)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _error(f"{what} must be {expected}, not {type(value).__name__} ({_short(value)})")
    return value


def _array(value: Any, what: str) -> np.ndarray:
    import numpy as np

    if not isinstance(value, (list, np.ndarray)):
        raise _error(f"{what} must be a list of numbers, not {_short(value)}")
    if isinstance(value, np.ndarray) and value.dtype.kind in "iuf":
        arr = value  # a record built in memory: its numeric arrays are used as they are
    else:
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError, OverflowError) as exc:
            raise _error(f"{what} must be a list of numbers: {exc}") from None
    if arr.ndim != 1:
        raise _error(f"{what} must be a flat list of numbers")
    return arr


def read_result(d: Any, *, source: str, nodeid: str,
                checked: dict[int, list[str]] | None = None) -> ResultRecord:
    """Validate one result object; :class:`RecordError` naming ``source``, test and field."""
    from llaso_pytest.metrics.base import Signature

    if not isinstance(d, Mapping):
        raise _error(f"{source}: a result of {nodeid} is not a JSON object "
                     f"({type(d).__name__}); see docs/architecture.md, contract 2")
    name = d.get("name")
    if not isinstance(name, str) or not name:
        raise _error(f"{source}: a result of {nodeid} has no name (a non-empty string), "
                     f"got {_short(name)}")
    where = f"{source}: result {name!r} of {nodeid}"
    missing = [k for k in REQUIRED if k not in d]
    if missing:
        raise _error(f"{where} lacks {', '.join(missing)} (see docs/architecture.md, "
                     "contract 2)")
    if not isinstance(d["higher_is_better"], bool):
        raise _error(f"{where}: 'higher_is_better' must be true or false, not "
                     f"{_short(d['higher_is_better'])}")
    if not isinstance(d["aggregate"], str) or not d["aggregate"]:
        raise _error(f"{where}: 'aggregate' must be a non-empty string, not "
                     f"{_short(d['aggregate'])}")
    items = _object(d.get("items"), f"{where}: 'items'",
                    "an object with ids, stats, scores and groups")
    raw_ids = items.get("ids")
    ids = [] if raw_ids is None else _id_list(raw_ids, f"{where}: items.ids", checked)
    raw_groups = items.get("groups")
    groups = None if raw_groups is None else \
        _id_list(raw_groups, f"{where}: items.groups", checked)
    raw_stats = _object(items.get("stats"), f"{where}: items.stats",
                        "an object of per-item columns")
    stats = {str(k): _array(v, f"{where}: items.stats.{k}") for k, v in raw_stats.items()}
    raw_scores = items.get("scores")
    scores = None if raw_scores is None else _array(raw_scores, f"{where}: items.scores")
    ci = d["ci"]
    if ci is not None and (not isinstance(ci, list) or len(ci) != 2):
        raise _error(f"{where}: 'ci' must be null or a list [low, high], not {_short(ci)}")
    confidence = _number(d["confidence"], f"{where}: 'confidence'", nullable=False)
    if not 0.0 < confidence < 1.0:
        raise _error(f"{where}: 'confidence' must lie in (0, 1), not {_short(d['confidence'])}")
    signature = d["signature"]
    if not isinstance(signature, Mapping) or not isinstance(signature.get("fields"), Mapping):
        raise _error(f"{where}: 'signature' must be an object with 'fields', not "
                     f"{_short(signature)}")
    try:
        sig = Signature.from_record(signature)
    except (TypeError, ValueError) as exc:
        raise _error(f"{where}: 'signature' is malformed: {exc}") from None
    extra = _object(d.get("extra"), f"{where}: 'extra'", "an object")
    from llaso_pytest.itemtext import read_texts

    texts = read_texts(items.get("texts"), n=len(ids), where=where)
    result = ResultRecord(
        nodeid=nodeid, name=name,
        value=_number(d["value"], f"{where}: 'value'"),
        ci=None if ci is None else (_number(ci[0], f"{where}: 'ci'"),
                                    _number(ci[1], f"{where}: 'ci'")),
        confidence=confidence,
        n=_count(d["n"], f"{where}: 'n'"),
        higher_is_better=d["higher_is_better"],
        signature=sig, aggregate=d["aggregate"], item_ids=ids, groups=groups, stats=stats,
        scores=scores, extra=extra, texts=texts,
    )
    lengths = {f"stats.{k}": v.shape[0] for k, v in stats.items()}
    if scores is not None:
        lengths["scores"] = scores.shape[0]
    if groups is not None:
        lengths["groups"] = len(groups)
    bad = {k: v for k, v in lengths.items() if v != len(ids)}
    if bad:
        raise _error(f"{where}: {len(ids)} item ids but "
                     + ", ".join(f"{k} has {v}" for k, v in bad.items()))
    return result


def record_dict(record: Mapping[str, Any] | RunRecord, *, source: str) -> dict[str, Any]:
    """A run record as a validated dict (a :class:`RunRecord`, or a dict that is parsed)."""
    to_dict = getattr(record, "to_dict", None)
    if callable(to_dict):
        return dict(to_dict())
    from llaso_pytest.record import parse_record

    return parse_record(dict(record), source=source).to_dict()  # type: ignore[arg-type]


def read_results(record: Mapping[str, Any] | RunRecord, *, source: str
                 ) -> dict[tuple[str, str], ResultRecord]:
    """Every result of a run record by ``(nodeid, name)``; duplicates are refused."""
    rec = record_dict(record, source=source)
    checked: dict[int, list[str]] = {}
    out: dict[tuple[str, str], ResultRecord] = {}
    for test in rec.get("tests", ()):
        nodeid = str(test["nodeid"])
        for r in test.get("results", ()):
            res = read_result(r, source=source, nodeid=nodeid, checked=checked)
            if res.key in out:
                raise _error(f"{source}: metric {res.name!r} recorded twice in {nodeid}; "
                             "result names must be unique within a test")
            out[res.key] = res
    return out
