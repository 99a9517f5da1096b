"""The open registry of corpus aggregates: summed per-item statistics -> a corpus score.

An aggregate is a function ``fn(summed, params) -> scores``: ``summed`` is a ``(B, k)``
float64 array of column sums of a metric's per-item statistics (one row per bootstrap
resample), ``params`` the parameters of its kind string (``"bleu(order=4,smooth=exp)"`` ->
``{"order": "4", "smooth": "exp"}``), ``scores`` a ``(B,)`` array. A result stores its kind
in the record, so the comparer can re-bootstrap it without knowing the metric.

Each metric module registers its formula next to its statistics (as sacrebleu keeps a
metric whole): ``mean`` and ``ratio`` here, ``wil`` in :mod:`llaso_pytest.metrics.speech`,
``bleu``/``chrf``/``ter`` in :mod:`llaso_pytest.metrics.text`. A built-in name resolves
even before its module was imported (the comparer reads records from disk): the table
:data:`BUILTIN_MODULES` names the module to import. A metric of your own registers with
:func:`register_aggregate` when its module is imported.

Pure NumPy: imports neither :mod:`llaso_pytest.stats` nor :mod:`llaso_pytest.metrics`, and
never pytest.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping

import numpy as np

from llaso_pytest.errors import LlasoError

__all__ = [
    "BUILTIN_MODULES",
    "AggregateError",
    "Aggregator",
    "aggregate",
    "aggregate_fn",
    "columns",
    "parse_kind",
    "register_aggregate",
    "registered",
    "safe_div",
]

Aggregator = Callable[[np.ndarray, Mapping[str, str]], np.ndarray]
"""``fn(summed (B, k), params) -> (B,)`` corpus scores."""

#: Built-in aggregates and the module that registers each (imported on first use).
BUILTIN_MODULES: Mapping[str, str] = {
    "mean": __name__,
    "ratio": __name__,
    "wil": "llaso_pytest.metrics.speech",
    "bleu": "llaso_pytest.metrics.text",
    "chrf": "llaso_pytest.metrics.text",
    "ter": "llaso_pytest.metrics.text",
}

_NAME = re.compile(r"[A-Za-z_][\w.-]*")
_KIND = re.compile(r"\s*([A-Za-z_][\w.-]*)\s*(?:\((.*)\))?\s*")

# The one registry. Entries are only ever added (or replaced on request), so tests never
# need to clear it: registering the same function twice under its name is a no-op.
_REGISTRY: dict[str, Aggregator] = {}


class AggregateError(LlasoError, ValueError):
    """An unknown, malformed or clashing aggregate name (a :class:`ValueError` too)."""


def registered() -> tuple[str, ...]:
    """Every aggregate name that resolves: the built-ins (loaded or not) and registered ones."""
    return tuple(sorted(set(BUILTIN_MODULES) | set(_REGISTRY)))


def register_aggregate(name: str, fn: Aggregator, *, replace: bool = False) -> None:
    """Register ``fn`` as the corpus formula of aggregate kind ``name``.

    Registering the same function again is a no-op (a module imported twice); another
    function under a taken name (a built-in included) needs ``replace=True``.
    """
    if not isinstance(name, str) or _NAME.fullmatch(name) is None:
        raise AggregateError(
            f"aggregate name {name!r} is invalid: use letters, digits, '_', '.' or '-', "
            "starting with a letter or '_' (parameters go in the kind: 'name(k=v)')"
        )
    if not callable(fn):
        raise AggregateError(f"aggregate {name!r}: fn must be callable, got {fn!r}")
    current = _REGISTRY.get(name)
    if current is fn:
        return
    home = BUILTIN_MODULES.get(name)
    if home is not None and current is None and getattr(fn, "__module__", None) == home:
        _REGISTRY[name] = fn  # the built-in module registering its own formula
        return
    if not replace and (current is not None or home is not None):
        what = f"built in (registered by {home})" if home is not None else (
            f"already registered (by {getattr(current, '__module__', '?')})"
        )
        raise AggregateError(
            f"aggregate {name!r} is {what}; pass replace=True to replace it, or choose "
            f"another name. Known aggregates: {', '.join(registered())}"
        )
    if current is None and home is not None:
        _load(name)  # the built-in module registers first, so it cannot override fn later
    _REGISTRY[name] = fn


def _load(name: str) -> Aggregator:
    fn = _REGISTRY.get(name)
    if fn is not None:
        return fn
    home = BUILTIN_MODULES.get(name)
    if home is None:
        raise AggregateError(
            f"unknown aggregate {name!r}; known aggregates: {', '.join(registered())}. "
            "A metric defined outside llaso-pytest registers its formula with "
            "llaso_pytest.aggregates.register_aggregate(name, fn): import the module that "
            "does so before computing or comparing its results"
        )
    importlib.import_module(home)
    fn = _REGISTRY.get(name)
    if fn is None:  # pragma: no cover - a broken built-in table
        raise AggregateError(f"built-in aggregate {name!r}: {home} did not register it")
    return fn


def parse_kind(kind: str) -> tuple[str, dict[str, str]]:
    """``"bleu(order=4,smooth=exp)"`` -> ``("bleu", {"order": "4", "smooth": "exp"})``."""
    m = _KIND.fullmatch(kind) if isinstance(kind, str) else None
    if m is None:
        raise AggregateError(f"malformed aggregate kind {kind!r}")
    params: dict[str, str] = {}
    if m.group(2):
        for part in m.group(2).split(","):
            if not part.strip():
                continue
            if "=" not in part:
                raise AggregateError(
                    f"malformed parameter {part!r} in aggregate kind {kind!r}"
                )
            k, v = part.split("=", 1)
            params[k.strip()] = v.strip()
    return m.group(1), params


def aggregate(kind: str, summed: np.ndarray) -> np.ndarray:
    """Corpus scores for a ``(B, k)`` array of summed item statistics (a ``(k,)`` row works too).

    ``kind`` is a result's ``aggregate`` string; it names a registered aggregate and may
    carry its parameters, e.g. ``"bleu(order=4,smooth=exp,value=0,effective=0)"``.
    """
    name, params = parse_kind(kind)
    return np.asarray(_load(name)(np.asarray(summed), params), dtype=np.float64)


def aggregate_fn(kind: str) -> Callable[[np.ndarray], np.ndarray]:
    """:func:`aggregate` with its kind bound, resolved once (for the bootstrap)."""
    name, params = parse_kind(kind)
    fn = _load(name)

    def bound(summed: np.ndarray) -> np.ndarray:
        return np.asarray(fn(summed, params), dtype=np.float64)

    return bound


# ----------------------------------------------------------------------------------------
# helpers for formulas, and the two generic built-ins


def columns(summed: np.ndarray, k: int, kind: str) -> np.ndarray:
    """``summed`` as a ``(B, k)`` float64 array (a ``(k,)`` row becomes ``(1, k)``)."""
    arr = np.asarray(summed, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != k:
        raise AggregateError(
            f"aggregate {kind!r} needs a (B, {k}) array of summed statistics, got shape "
            f"{np.shape(summed)}"
        )
    return arr


def safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` with NaN where ``den == 0`` (an undefined rate, never 0 or inf)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = num / den
    return np.where(den == 0, np.nan, out)


def _agg_mean(s: np.ndarray, p: Mapping[str, str]) -> np.ndarray:
    """Columns ``(total, count)``: the mean of per-item scores."""
    s = columns(s, 2, "mean")
    return safe_div(s[:, 0], s[:, 1])


def _agg_ratio(s: np.ndarray, p: Mapping[str, str]) -> np.ndarray:
    """Columns ``(numerator, denominator)``: a corpus rate such as WER (errors / words)."""
    s = columns(s, 2, "ratio")
    return safe_div(s[:, 0], s[:, 1])


register_aggregate("mean", _agg_mean)
register_aggregate("ratio", _agg_ratio)
