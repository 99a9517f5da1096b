"""The metric result, its signature, and the builders every metric ends with.

Contract (docs/architecture.md): every metric returns a frozen :class:`MetricResult`;
``MetricResult.to_record()`` is the JSON form stored in the run record and
``MetricResult.from_record`` reads it back. ``aggregate(kind, summed)`` (re-exported from
:mod:`llaso_pytest.aggregates`, where each metric registers its corpus formula) evaluates a
result's corpus score on a ``(B, k)`` array of summed per-item statistics, so a stored
record can be re-bootstrapped (e.g. by the comparer) without knowing the metric.

No pytest import here: the scientific core is usable from a notebook.
"""

from __future__ import annotations

import contextlib
import gc
import math
import numbers
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from llaso_pytest import aggregates as _aggregates
from llaso_pytest.aggregates import Aggregator, aggregate, aggregate_fn, registered
from llaso_pytest.context import AUTO_SEED, resolve_seed
from llaso_pytest.context import signature_fields as _context_fields
from llaso_pytest.errors import MetricInputError
from llaso_pytest.errors import warn as _warn
from llaso_pytest.itemtext import DEFAULT_MODE, ItemTexts, TextMode, describe_item, read_texts

__all__ = [
    "AGGREGATORS",
    "RESAMPLING_FIELDS",
    "MetricResult",
    "Signature",
    "aggregate",
    "aggregate_fn",
    "build_result",
    "check_items",
    "check_multi_items",
    "check_parallel",
    "unsegmented_cjk",
    "from_stats",
    "from_values",
    "llaso_version",
]

#: Signature fields that change only the interval, never the corpus value.
RESAMPLING_FIELDS = frozenset({"n_boot", "seed", "confidence", "ci_method", "resample"})

# Short keys used in the text form of a signature (sacrebleu style); others print as-is.
_SHORT = {
    "normalizer": "norm",
    "tokenizer": "tok",
    "n_boot": "boot",
    "ci_method": "ci",
    "confidence": "conf",
    "resample": "res",
    "empty_reference": "empty",
}


@contextlib.contextmanager
def gc_paused() -> Any:
    """Pause the cyclic garbage collector while building millions of small objects.

    Token lists create no reference cycles, but every allocation of a container counts
    towards a collection, and the full collections that follow walk all live objects again
    and again (jiwer on 100k pairs spends over half its time there). Restores the previous
    state on exit.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def llaso_version() -> str:
    """The installed llaso-pytest version (without importing the plugin machinery)."""
    try:
        from importlib.metadata import version

        return version("llaso-pytest")
    except ImportError:  # pragma: no cover - not installed (source checkout)
        return "0+unknown"


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return repr(value)
    return str(value)


@dataclass(frozen=True)
class Signature:
    """Everything that changes a score: metric, options, normalizer/tokenizer, library
    versions, and the resampling settings (``n_boot``, ``seed``, CI method).

    ``str(sig)`` is ``"metric|key:value|..."``; ``sig.fields`` is the dict form.
    """

    fields: Mapping[str, Any]

    def __post_init__(self) -> None:
        if "metric" not in self.fields:
            raise ValueError("a Signature needs a 'metric' field")
        object.__setattr__(self, "fields", dict(self.fields))

    @property
    def metric(self) -> str:
        return str(self.fields["metric"])

    @property
    def text(self) -> str:
        parts = [str(self.fields["metric"])]
        for key, value in self.fields.items():
            if key == "metric":
                continue
            parts.append(f"{_SHORT.get(key, key)}:{_fmt(value)}")
        return "|".join(parts)

    def __str__(self) -> str:
        return self.text

    def diff(self, other: Signature, *, ignore: Iterable[str] = ()) -> list[str]:
        """Names of the fields whose values differ (or exist on one side only), sorted.

        ``ignore=RESAMPLING_FIELDS`` keeps only the fields that change the value itself.
        """
        skip = set(ignore)
        keys = (set(self.fields) | set(other.fields)) - skip
        missing = object()
        return sorted(
            k for k in keys if self.fields.get(k, missing) != other.fields.get(k, missing)
        )

    def to_record(self) -> dict[str, Any]:
        return {"text": self.text, "fields": _jsonable(dict(self.fields))}

    @classmethod
    def from_record(cls, d: Mapping[str, Any]) -> Signature:
        if "fields" not in d:
            raise ValueError(f"signature record without 'fields': {d!r}")
        return cls(dict(d["fields"]))


# ----------------------------------------------------------------------------------------
# aggregators: the registry lives in llaso_pytest.aggregates; these names stay importable.


class _Aggregators(Mapping[str, Aggregator]):
    """Read-only view of the aggregate registry (the former ``AGGREGATORS`` dict)."""

    def __getitem__(self, name: str) -> Aggregator:
        if name not in registered():
            raise KeyError(name)
        return _aggregates._load(name)

    def __iter__(self) -> Iterator[str]:
        return iter(registered())

    def __len__(self) -> int:
        return len(registered())


AGGREGATORS: Mapping[str, Aggregator] = _Aggregators()
"""Every registered aggregate by name (see :mod:`llaso_pytest.aggregates`)."""


# ----------------------------------------------------------------------------------------
# input validation


def _label(ids: Sequence[str] | None, i: int) -> str:
    return f"item id {ids[i]!r} (index {i})" if ids is not None else f"item index {i}"


def check_signature_extra(signature_extra: Mapping[str, Any] | None) -> dict[str, Any]:
    """Validate ``signature_extra=``: flat str keys (not ``metric``), scalar values."""
    if not signature_extra:
        return {}
    clash = sorted(set(signature_extra) & {"metric"})
    if clash:
        raise ValueError(f"signature_extra may not override {clash}")
    for k, v in signature_extra.items():
        if not isinstance(k, str) or not isinstance(v, (str, int, float, bool, type(None))):
            raise MetricInputError(
                f"signature_extra[{k!r}] is {type(v).__name__}; signature fields must be "
                "str, int, float, bool or None (hash larger objects first)"
            )
    return dict(signature_extra)


def check_ids(ids: Sequence[Any] | None, n: int, *, what: str = "ids") -> tuple[str, ...] | None:
    """Validate ``ids=``/``groups=``: one per item, each a str or int (ints become str)."""
    if ids is None:
        return None
    if isinstance(ids, (str, bytes)):
        raise MetricInputError(f"{what}= must be a sequence of strings, not a single string")
    ids = list(ids)
    if len(ids) != n:
        raise MetricInputError(f"{what}= has {len(ids)} entries but there are {n} items")
    out: list[str] = []
    for i, x in enumerate(ids):
        if isinstance(x, bool) or not isinstance(x, (str, numbers.Integral)):
            raise MetricInputError(
                f"{what}[{i}] is {type(x).__name__} {x!r}; {what} must be str or int"
            )
        out.append(str(x))
    if what == "ids" and len(set(out)) != n:  # groups repeat; item ids must not
        seen: set[str] = set()
        dups = sorted({x for x in out if x in seen or seen.add(x)})  # type: ignore[func-returns-value]
        raise MetricInputError(
            f"duplicate ids: {', '.join(map(repr, dups[:10]))} (each item needs its own id)"
        )
    return tuple(out)


def check_parallel(
    references: Any,
    hypotheses: Any,
    *,
    ids: Sequence[Any] | None = None,
    groups: Sequence[Any] | None = None,
    ref_name: str = "references",
    hyp_name: str = "hypotheses",
) -> tuple[list[Any], list[Any], tuple[str, ...] | None, tuple[str, ...] | None]:
    """Two parallel, non-empty sequences (one entry per item) with valid ``ids``/``groups``;
    the entries themselves are checked by the caller."""
    for name, seq in ((ref_name, references), (hyp_name, hypotheses)):
        if isinstance(seq, (str, bytes)):
            raise MetricInputError(
                f"{name} must be a sequence (one entry per item), got a single "
                f"{type(seq).__name__}; wrap it in a list"
            )
        if not isinstance(seq, Iterable):
            raise MetricInputError(
                f"{name} must be a sequence (one entry per item), got {type(seq).__name__}"
            )
    refs = list(references)
    hyps = list(hypotheses)
    if len(refs) != len(hyps):
        raise MetricInputError(
            f"{len(refs)} {ref_name} but {len(hyps)} {hyp_name}: they must be parallel"
        )
    n = len(refs)
    if n == 0:
        raise MetricInputError(f"no items: {ref_name} and {hyp_name} are empty")
    return refs, hyps, check_ids(ids, n, what="ids"), check_ids(groups, n, what="groups")


def _check_strings(seq: list[Any], name: str, id_t: tuple[str, ...] | None) -> None:
    if set(map(type, seq)) <= {str}:  # fast path (C loop); the detailed one names the item
        return
    for i, x in enumerate(seq):
        if not isinstance(x, str):
            raise MetricInputError(
                f"{name} for {_label(id_t, i)} is "
                f"{'None' if x is None else type(x).__name__ + ' ' + repr(x)[:60]}, "
                "expected str"
            )


def check_items(
    references: Any,
    hypotheses: Any,
    *,
    ids: Sequence[Any] | None = None,
    groups: Sequence[Any] | None = None,
    ref_name: str = "references",
    hyp_name: str = "hypotheses",
) -> tuple[list[str], list[str], tuple[str, ...], tuple[str, ...] | None]:
    """Validate parallel string lists; return them with ids (default ``"0".."n-1"``).

    Mismatched lengths name both counts; ``None`` or non-str items name the item id;
    duplicate ids are named. Nothing is coerced or dropped.
    """
    refs, hyps, id_t, grp = check_parallel(references, hypotheses, ids=ids, groups=groups,
                                           ref_name=ref_name, hyp_name=hyp_name)
    _check_strings(refs, ref_name.removesuffix("s"), id_t)
    _check_strings(hyps, hyp_name.removesuffix("s"), id_t)
    return refs, hyps, id_t if id_t is not None else tuple(map(str, range(len(refs)))), grp


def check_multi_items(
    references: Any,
    hypotheses: Any,
    *,
    ids: Sequence[Any] | None = None,
    groups: Sequence[Any] | None = None,
) -> tuple[list[list[str]], list[str], tuple[str, ...], tuple[str, ...] | None]:
    """Like :func:`check_items`, but each reference may be a str or a non-empty sequence of
    str (several references, or acceptable answers, per item); returns lists of references."""
    refs, hyps, id_t, grp = check_parallel(references, hypotheses, ids=ids, groups=groups)
    out_refs: list[list[str]] = []
    for i, r in enumerate(refs):
        if isinstance(r, str):
            out_refs.append([r])
            continue
        if r is None or not isinstance(r, Sequence) or isinstance(r, bytes):
            raise MetricInputError(
                f"reference for {_label(id_t, i)} is "
                f"{'None' if r is None else type(r).__name__}, expected str or a list of str"
            )
        alts = list(r)
        if not alts or not all(isinstance(a, str) for a in alts):
            raise MetricInputError(
                f"reference for {_label(id_t, i)} must be a non-empty list of str, got {r!r}"[:200]
            )
        out_refs.append(alts)
    _check_strings(hyps, "hypothesis", id_t)
    return out_refs, hyps, id_t or tuple(str(i) for i in range(len(refs))), grp


#: Hiragana, katakana and CJK ideographs.
CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_CJK_RUN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]{6,}")


def unsegmented_cjk(texts: Iterable[str]) -> bool:
    """Whether the texts are Chinese/Japanese written without spaces between words: most of
    their CJK characters stand in runs of six or more (segmented text has short words)."""
    text = "\n".join(texts)
    total = len(CJK.findall(text))
    if total == 0:
        return False
    in_runs = sum(len(m) for m in _CJK_RUN.findall(text))
    return in_runs * 2 > total


# ----------------------------------------------------------------------------------------
# the result


def _jsonable(x: Any) -> Any:
    if isinstance(x, Mapping):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        f = float(x)
        return f if math.isfinite(f) else None
    return x


def _array_record(a: np.ndarray) -> list[Any]:
    if a.dtype.kind in "iub":
        return [int(v) for v in a.tolist()]
    return [None if not math.isfinite(v) else float(v) for v in np.asarray(a, float).tolist()]


def _array_from_record(values: Sequence[Any]) -> np.ndarray:
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return np.asarray(values, dtype=np.int64)
    return np.asarray([np.nan if v is None else float(v) for v in values], dtype=np.float64)


@dataclass(frozen=True, eq=False)
class MetricResult:
    """A corpus score with its interval, per-item sufficient statistics and signature.

    Comparison operators compare :attr:`value`, so ``assert metrics.wer(r, h) < 0.15`` works;
    ``float(result)`` is the value.
    """

    name: str
    value: float
    ci: tuple[float, float] | None
    confidence: float
    n: int
    higher_is_better: bool
    signature: Signature
    aggregate: str
    item_ids: tuple[str, ...]
    groups: tuple[str, ...] | None
    stats: Mapping[str, np.ndarray]
    scores: np.ndarray | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    # Not part of the record: metric-specific data for display (e.g. normalised token
    # lists for alignments). Never compared, never serialised.
    details: Any = field(default=None, repr=False, compare=False)
    #: The texts each item was scored on (reference, hypothesis, judge's reason), for
    #: reports; stored in the record as the text mode says (``to_record(item_text=...)``).
    texts: ItemTexts | None = field(default=None, repr=False)

    # -- numbers ------------------------------------------------------------------------
    def __float__(self) -> float:
        return float(self.value)

    def _other(self, other: Any) -> float | None:
        if isinstance(other, MetricResult):
            return other.value
        if isinstance(other, numbers.Real):
            return float(other)
        return None

    def __lt__(self, other: Any) -> bool:
        o = self._other(other)
        return NotImplemented if o is None else self.value < o

    def __le__(self, other: Any) -> bool:
        o = self._other(other)
        return NotImplemented if o is None else self.value <= o

    def __gt__(self, other: Any) -> bool:
        o = self._other(other)
        return NotImplemented if o is None else self.value > o

    def __ge__(self, other: Any) -> bool:
        o = self._other(other)
        return NotImplemented if o is None else self.value >= o

    def __eq__(self, other: object) -> bool:
        if isinstance(other, MetricResult):
            return self is other or self.to_record() == other.to_record()
        if isinstance(other, numbers.Real):
            return self.value == float(other)
        return NotImplemented

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        ci = "None" if self.ci is None else f"({self.ci[0]:.6g}, {self.ci[1]:.6g})"
        return (
            f"MetricResult({self.name}={self.value:.6g}, ci={ci}, n={self.n}, "
            f"sig={self.signature.text!r})"
        )

    # -- per-item views -----------------------------------------------------------------
    def stat_matrix(self) -> np.ndarray:
        """Per-item statistics as an ``(n, k)`` float64 array, columns in aggregate order."""
        return np.column_stack([np.asarray(v, dtype=np.float64) for v in self.stats.values()])

    def worst(self, k: int = 5) -> list[tuple[str, float]]:
        """The ``k`` worst items as ``(id, score)``, by the metric's direction (NaN last)."""
        if self.scores is None:
            return []
        s = np.asarray(self.scores, dtype=np.float64)
        key = np.where(np.isnan(s), np.inf, s if self.higher_is_better else -s)
        order = np.argsort(key, kind="stable")[:k]
        return [(self.item_ids[i], float(s[i])) for i in order]

    def alignment(self, item: str | int) -> str:
        """A readable alignment of the item with id ``item`` (speech metrics); ``""`` when not
        available. Ids given as ints are stored as str, so ``alignment(3)`` is item id ``"3"``,
        not the fourth item."""
        key = str(item)
        if key not in self.item_ids:
            raise KeyError(f"{self.name}: no item with id {key!r} (ids are e.g. "
                           f"{', '.join(map(repr, self.item_ids[:3]))})")
        i = self.item_ids.index(key)
        render = getattr(self.details, "render_item", None)
        if callable(render):
            return str(render(i))
        return "" if self.texts is None else "\n".join(describe_item(self.texts, i))

    # -- record -------------------------------------------------------------------------
    def to_record(self, *, item_text: TextMode = DEFAULT_MODE) -> dict[str, Any]:
        """The JSON form of Contract 2 (non-finite floats become ``null``); the item texts as
        ``item_text`` says (``truncate``, ``full`` or ``none``, see :mod:`llaso_pytest.itemtext`).
        """
        items: dict[str, Any] = {
            "ids": list(self.item_ids),
            "groups": None if self.groups is None else list(self.groups),
            "stats": {k: _array_record(np.asarray(v)) for k, v in self.stats.items()},
            "scores": None if self.scores is None else _array_record(np.asarray(self.scores)),
        }
        texts = None if self.texts is None else self.texts.to_record(item_text)
        if texts is not None:
            items["texts"] = texts
        return {
            "name": self.name,
            "value": _jsonable(self.value),
            "ci": None if self.ci is None else [_jsonable(self.ci[0]), _jsonable(self.ci[1])],
            "confidence": self.confidence,
            "n": self.n,
            "higher_is_better": self.higher_is_better,
            "signature": self.signature.to_record(),
            "aggregate": self.aggregate,
            "items": items,
            "extra": _jsonable(dict(self.extra)),
        }

    @classmethod
    def from_record(cls, d: Mapping[str, Any]) -> MetricResult:
        """Read a result back from its JSON form; a missing key is named in the error."""
        required = ("name", "value", "ci", "confidence", "n", "higher_is_better", "signature",
                    "aggregate", "items")
        missing = [k for k in required if k not in d]
        if missing:
            raise ValueError(f"metric record {d.get('name', '?')!r} lacks {', '.join(missing)}")
        items = d["items"]
        ci = d["ci"]
        value = d["value"]
        return cls(
            name=str(d["name"]),
            value=float("nan") if value is None else float(value),
            ci=None if ci is None else (
                float("nan") if ci[0] is None else float(ci[0]),
                float("nan") if ci[1] is None else float(ci[1]),
            ),
            confidence=float(d["confidence"]),
            n=int(d["n"]),
            higher_is_better=bool(d["higher_is_better"]),
            signature=Signature.from_record(d["signature"]),
            aggregate=str(d["aggregate"]),
            item_ids=tuple(str(x) for x in items.get("ids", [])),
            groups=None if items.get("groups") is None else tuple(map(str, items["groups"])),
            stats={k: _array_from_record(v) for k, v in items.get("stats", {}).items()},
            scores=None if items.get("scores") is None else _array_from_record(items["scores"]),
            extra=dict(d.get("extra") or {}),
            texts=read_texts(items.get("texts"), n=len(items.get("ids", [])),
                             where=f"metric record {d['name']!r}"),
        )


# ----------------------------------------------------------------------------------------
# building results


def build_result(
    *,
    name: str,
    stats: Mapping[str, np.ndarray],
    aggregate_kind: str,
    higher_is_better: bool,
    item_ids: tuple[str, ...],
    groups: tuple[str, ...] | None,
    confidence: float,
    n_boot: int,
    seed: int | None,
    signature_fields: Mapping[str, Any],
    signature_extra: Mapping[str, Any] | None = None,
    scores: np.ndarray | None = None,
    extra: Mapping[str, Any] | None = None,
    details: Any = None,
    value: float | None = None,
    texts: ItemTexts | None = None,
) -> MetricResult:
    """Sum the item statistics, aggregate, bootstrap, and sign: the common tail of all metrics.

    ``texts``: what each item was scored on, for reports (:mod:`llaso_pytest.itemtext`)."""
    from llaso_pytest import stats as _stats

    _stats.check_confidence(confidence)
    if not isinstance(n_boot, numbers.Integral) or isinstance(n_boot, bool) or n_boot < 0:
        raise ValueError(f"n_boot must be a non-negative int, got {n_boot!r}")
    seed = resolve_seed(seed)  # the default: the running test's seed (llaso_pytest.context)
    _stats.check_seed(seed)
    cols = {k: np.asarray(v) for k, v in stats.items()}
    n = len(item_ids)
    for k, v in cols.items():
        if v.shape != (n,):
            raise ValueError(f"statistic {k!r} has shape {v.shape}, expected ({n},)")
    matrix = np.column_stack([v.astype(np.float64) for v in cols.values()])
    agg = aggregate_fn(aggregate_kind)
    if value is None:
        total = np.column_stack([v.sum() for v in cols.values()]).astype(np.float64)
        value = float(agg(total)[0])
    ci: tuple[float, float] | None = None
    if n_boot > 0:
        boot = _stats.bootstrap_ci(
            matrix, agg, groups=groups, n_boot=int(n_boot), confidence=confidence, seed=seed,
            label=name,
        )
        ci = boot.ci
    fields: dict[str, Any] = {"metric": name}
    fields.update(signature_fields)
    fields.update(
        {
            "n_boot": int(n_boot),
            "seed": "none" if seed is None else int(seed),
            "confidence": float(confidence),
            "ci_method": "percentile",
            "resample": "items" if groups is None else "groups",
            "llaso": llaso_version(),
        }
    )
    fields.update(_context_fields())  # the datasets the running test loaded
    fields.update(check_signature_extra(signature_extra))
    return MetricResult(
        name=name,
        value=value,
        ci=ci,
        confidence=float(confidence),
        n=n,
        higher_is_better=higher_is_better,
        signature=Signature(fields),
        aggregate=aggregate_kind,
        item_ids=item_ids,
        groups=groups,
        stats=cols,
        scores=None if scores is None else np.asarray(scores, dtype=np.float64),
        extra=dict(extra or {}),
        details=details,
        texts=None if texts is None else texts.check(n, what=name),
    )


def mean_result(
    name: str,
    scores: np.ndarray,
    *,
    item_ids: tuple[str, ...],
    groups: tuple[str, ...] | None,
    higher_is_better: bool,
    confidence: float,
    n_boot: int,
    seed: int | None,
    signature_fields: Mapping[str, Any],
    signature_extra: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
    stat: str = "total",
    texts: ItemTexts | None = None,
) -> MetricResult:
    """A mean of per-item scores (accuracy, F1, judge scores): statistics ``(stat, count)``."""
    scores = np.asarray(scores, dtype=np.float64)
    return build_result(
        name=name, stats={stat: scores, "count": np.ones(len(item_ids), dtype=np.int64)},
        aggregate_kind="mean", higher_is_better=higher_is_better, item_ids=item_ids,
        groups=groups, confidence=confidence, n_boot=n_boot, seed=seed,
        signature_fields=signature_fields, signature_extra=signature_extra, scores=scores,
        extra=extra, texts=texts,
    )


def from_values(
    name: str,
    value: float | None = None,
    *,
    items: Sequence[float] | Mapping[str, float] | None = None,
    ids: Sequence[Any] | None = None,
    groups: Sequence[Any] | None = None,
    higher_is_better: bool = True,
    confidence: float = 0.95,
    n_boot: int = 1000,
    seed: int | None = AUTO_SEED,
    signature_extra: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> MetricResult:
    """A result from a plain value and/or per-item values (the core's ``record_metric``).

    With ``items`` (a sequence, or a mapping id -> value) the corpus value is their mean with
    a bootstrap CI; if ``value`` is also given it must equal that mean (otherwise the stored
    items would not explain the number). With only ``value``: n=1, no interval, no warning.
    """
    if not isinstance(name, str) or not name:
        raise MetricInputError(f"a metric name must be a non-empty str, got {name!r}")
    if items is None:
        if value is None:
            raise MetricInputError(f"metric {name!r}: give value= or items=")
        v = _check_number(value, f"metric {name!r} value")
        return MetricResult(
            name=name, value=v, ci=None, confidence=float(confidence), n=1,
            higher_is_better=higher_is_better,
            signature=Signature({"metric": name, "source": "value", **_context_fields(),
                                 **check_signature_extra(signature_extra)}),
            aggregate="mean", item_ids=("0",) if ids is None else check_ids(ids, 1) or ("0",),
            groups=None, stats={"total": np.array([v]), "count": np.array([1])},
            scores=np.array([v]), extra=dict(extra or {}),
        )
    if isinstance(items, Mapping):
        if ids is not None:
            raise MetricInputError(f"metric {name!r}: items is a mapping, so ids= must be None")
        ids = list(items.keys())
        vals = list(items.values())
    else:
        if isinstance(items, (str, bytes)):
            raise MetricInputError(f"metric {name!r}: items must be a sequence of numbers")
        vals = list(items)
    n = len(vals)
    if n == 0:
        raise MetricInputError(f"metric {name!r}: items is empty")
    id_t = check_ids(ids, n) or tuple(str(i) for i in range(n))
    arr = np.array(
        [_check_number(x, f"metric {name!r} item {id_t[i]!r}") for i, x in enumerate(vals)],
        dtype=np.float64,
    )
    grp = check_ids(groups, n, what="groups")
    mean = float(arr.sum() / n)
    if value is not None:
        v = _check_number(value, f"metric {name!r} value")
        if not math.isclose(v, mean, rel_tol=1e-9, abs_tol=1e-12):
            raise MetricInputError(
                f"metric {name!r}: value={v!r} but the mean of its {n} items is {mean!r}"
            )
    return mean_result(
        name, arr, item_ids=id_t, groups=grp, higher_is_better=higher_is_better,
        confidence=confidence, n_boot=n_boot, seed=seed, signature_fields={"source": "items"},
        signature_extra=signature_extra, extra=extra,
    )


def from_stats(
    name: str,
    stats: Mapping[str, Sequence[float] | np.ndarray],
    *,
    aggregate: str,
    higher_is_better: bool,
    ids: Sequence[Any] | None = None,
    groups: Sequence[Any] | None = None,
    scores: Sequence[float] | np.ndarray | None = None,
    confidence: float = 0.95,
    n_boot: int = 1000,
    seed: int | None = AUTO_SEED,
    signature_extra: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> MetricResult:
    """A result of a corpus metric of your own: per-item statistics and a registered kind.

    ``stats`` maps column names (in the order the aggregate reads them) to one finite
    number per item; ``aggregate`` is a kind registered with
    :func:`llaso_pytest.aggregates.register_aggregate` (parameters allowed:
    ``"meteor(alpha=0.9)"``). The value is the aggregate of the summed statistics, the
    interval a bootstrap over items (or ``groups``), and the record compares like any other.
    """
    if not isinstance(name, str) or not name:
        raise MetricInputError(f"a metric name must be a non-empty str, got {name!r}")
    aggregate_fn(aggregate)  # an unknown kind is refused before any work, naming the known
    if not isinstance(stats, Mapping) or not stats:
        raise MetricInputError(f"metric {name!r}: stats must be a non-empty mapping of columns")
    cols: dict[str, np.ndarray] = {}
    for key, col in stats.items():
        if isinstance(col, (str, bytes)):
            raise MetricInputError(f"metric {name!r}: stats[{key!r}] must be numbers, not text")
        arr = np.asarray(col)
        if arr.ndim != 1 or arr.dtype.kind not in "iuf":
            raise MetricInputError(
                f"metric {name!r}: stats[{key!r}] must be a 1-d array of numbers, got shape "
                f"{arr.shape} dtype {arr.dtype}"
            )
        if not np.isfinite(arr).all():
            bad = np.flatnonzero(~np.isfinite(arr))[:5].tolist()
            raise MetricInputError(f"metric {name!r}: stats[{key!r}] is not finite at {bad}")
        cols[str(key)] = arr
    lengths = {k: len(v) for k, v in cols.items()}
    n = next(iter(lengths.values()))
    if n == 0 or len(set(lengths.values())) != 1:
        raise MetricInputError(
            f"metric {name!r}: every stats column needs one value per item (and at least "
            f"one item), got lengths {lengths}"
        )
    id_t = check_ids(ids, n) or tuple(str(i) for i in range(n))
    score_arr = None if scores is None else np.asarray(scores, dtype=np.float64)
    if score_arr is not None and score_arr.shape != (n,):
        raise MetricInputError(
            f"metric {name!r}: scores has shape {score_arr.shape}, expected ({n},)"
        )
    return build_result(
        name=name, stats=cols, aggregate_kind=aggregate, higher_is_better=higher_is_better,
        item_ids=id_t, groups=check_ids(groups, n, what="groups"), confidence=confidence,
        n_boot=n_boot, seed=seed, signature_fields={"source": "stats"},
        signature_extra=signature_extra, scores=score_arr, extra=extra,
    )


def _check_number(x: Any, what: str) -> float:
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise MetricInputError(f"{what} is {type(x).__name__} {x!r}, expected a real number")
    f = float(x)
    if not math.isfinite(f):
        raise MetricInputError(f"{what} is {f!r}, expected a finite number")
    return f


def warn(message: str) -> None:
    """Emit a :class:`LlasoWarning` attributed to the caller outside llaso_pytest."""
    _warn(message)
