"""Bootstrap confidence intervals, cluster bootstrap and the paired bootstrap (pure NumPy).

Every statistic here is a *corpus* statistic: a function of the column sums of an
``(n, k)`` matrix of per-item sufficient statistics (errors and reference words for WER,
n-gram matches for BLEU, ...). A bootstrap resample is therefore fully described by how
many times each item is drawn, and two items with identical rows are interchangeable.
The engine exploits that:

* rows are compressed to the ``K`` distinct rows with their multiplicities; when ``K`` is
  small compared to ``n`` (WER: a few hundred distinct ``(errors, words)`` rows among 100k
  utterances) a resample is one multinomial draw over the ``K`` rows - the *same*
  distribution as drawing ``n`` items with replacement, at a cost of ``K`` not ``n``;
* otherwise items are drawn with replacement in batches sized to a fixed memory budget.

Cluster bootstrap (``groups=``) resamples whole groups: rows are first summed per group,
then groups are the resampled units. Percentile intervals (``numpy.percentile``, linear
interpolation, as ``scipy.stats.bootstrap(method="percentile")``). Randomness comes from
``numpy.random.default_rng(seed)``; ``seed=0`` is a seed, ``seed=None`` is fresh entropy.

Fewer than :data:`MIN_UNITS` resampled units give no interval (``ci=None``) and a
:class:`~llaso_pytest.errors.LlasoWarning` naming ``n`` - never a zero-width interval.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from llaso_pytest.errors import warn as _warn

__all__ = [
    "MIN_UNITS",
    "BootstrapCI",
    "PairedBootstrap",
    "bootstrap_ci",
    "bootstrap_distribution",
    "paired_bootstrap",
    "resampled_sums",
]

#: The fewest resampled units (items, or groups with ``groups=``) that get an interval.
#: With 4 units there are only 35 distinct resamples; a percentile interval from them is
#: not meaningful, so the result carries ``ci=None`` and a warning instead.
MIN_UNITS = 5

#: Memory budget (bytes) for one batch of resampling work.
BATCH_BYTES = 8 * 1024 * 1024

Statistic = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class BootstrapCI:
    """A percentile bootstrap interval of a corpus statistic."""

    value: float
    ci: tuple[float, float] | None
    confidence: float
    n: int
    n_units: int
    n_boot: int
    seed: int | None
    resample: str  # "items" or "groups"
    method: str = "percentile"
    n_nonfinite: int = 0


@dataclass(frozen=True)
class PairedBootstrap:
    """Paired bootstrap of head minus base on the same items (or groups).

    ``delta = value_b - value_a`` (head minus base); ``ci`` its percentile interval;
    ``p_improve`` the bootstrap probability that head is better than base in the metric's
    direction (ties count one half); ``p_value`` the two-sided bootstrap p-value of
    ``delta == 0`` (``2 * min(P(delta* <= 0), P(delta* >= 0))`` with the +1 Monte-Carlo
    correction), consistent with the interval: ``p_value < 1 - confidence`` roughly when the
    interval excludes 0.
    """

    value_a: float
    value_b: float
    delta: float
    ci: tuple[float, float] | None
    p_improve: float
    p_value: float
    confidence: float
    higher_is_better: bool
    n: int
    n_units: int
    n_boot: int
    seed: int | None
    resample: str
    method: str = "percentile"

    @property
    def significant(self) -> bool:
        """Whether the interval excludes zero (no interval: not significant)."""
        return self.ci is not None and (self.ci[0] > 0 or self.ci[1] < 0)

    @property
    def improved(self) -> bool:
        """Significant and in the better direction."""
        return self.significant and ((self.delta > 0) == self.higher_is_better)

    @property
    def regressed(self) -> bool:
        """Significant and in the worse direction."""
        return self.significant and ((self.delta > 0) != self.higher_is_better)


# ----------------------------------------------------------------------------------------
# validation helpers


def check_confidence(confidence: float) -> None:
    if isinstance(confidence, bool) or not isinstance(confidence, numbers.Real) or not (
        0.0 < float(confidence) < 1.0
    ):
        raise ValueError(f"confidence must be a number in (0, 1), got {confidence!r}")


def _check_boot(n_boot: int, seed: int | None) -> None:
    if isinstance(n_boot, bool) or not isinstance(n_boot, numbers.Integral) or n_boot < 1:
        raise ValueError(f"n_boot must be a positive int, got {n_boot!r}")
    check_seed(seed)


def check_seed(seed: int | None) -> None:
    """``seed=``: ``None`` (fresh entropy) or an int >= 0 (``0`` is a real seed)."""
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)
                             or seed < 0):
        raise ValueError(f"seed must be an int >= 0 or None, got {seed!r}")


def _as_matrix(stats: Any, what: str = "stats") -> np.ndarray:
    arr = np.asarray(stats, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{what} must be an (n, k) array of per-item statistics, got {arr.shape}")
    if not np.isfinite(arr).all():
        bad = np.flatnonzero(~np.isfinite(arr).all(axis=1))[:5].tolist()
        raise ValueError(f"{what} has non-finite values at rows {bad}")
    return arr


def _group_rows(rows: np.ndarray, groups: Sequence[Any] | None) -> tuple[np.ndarray, str]:
    """Sum rows per group (cluster bootstrap units); identity without groups."""
    if groups is None:
        return rows, "items"
    g = list(groups)
    if len(g) != rows.shape[0]:
        raise ValueError(f"groups= has {len(g)} entries but there are {rows.shape[0]} items")
    if any(x is None for x in g):
        i = next(i for i, x in enumerate(g) if x is None)
        raise ValueError(f"groups[{i}] is None; every item needs a group")
    _, inv = np.unique(np.asarray([str(x) for x in g]), return_inverse=True)
    inv = inv.reshape(-1)
    out = np.zeros((int(inv.max()) + 1, rows.shape[1]))
    np.add.at(out, inv, rows)
    return out, "groups"


# ----------------------------------------------------------------------------------------
# the resampling engine


def unique_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows (sorted) and their multiplicities; fast path for small integer rows."""
    n = rows.shape[0]
    if n and np.all(rows == np.floor(rows)):
        lo = rows.min(axis=0)
        span = rows.max(axis=0) - lo + 1
        if float(np.prod(span)) < 2.0**62:
            shifted = (rows - lo).astype(np.int64)
            radix = np.cumprod(np.concatenate([[1], span[:-1]])).astype(np.int64)
            keys = shifted @ radix
            _, first, counts = np.unique(keys, return_index=True, return_counts=True)
            return rows[first], counts
    return np.unique(rows, axis=0, return_counts=True)


def resampled_sums(
    rows: np.ndarray, n_boot: int, rng: np.random.Generator
) -> np.ndarray:
    """``(n_boot, k)`` column sums of ``n_boot`` bootstrap resamples of the rows of ``rows``.

    Exactly the distribution of ``rows[rng.integers(0, n, n)].sum(0)``, computed through a
    multinomial over distinct rows when those are few, else by batched index draws.
    """
    n, k = rows.shape
    out = np.empty((n_boot, k))
    uniq, counts = unique_rows(rows)
    n_uniq = uniq.shape[0]
    if n_uniq == 1:
        out[:] = uniq[0] * n
        return out
    # cost model (measured): a multinomial category costs ~8 drawn items
    if n_uniq * 8 < n:
        p = counts / n
        batch = max(1, BATCH_BYTES // (8 * n_uniq))
        for start in range(0, n_boot, batch):
            b = min(batch, n_boot - start)
            w = rng.multinomial(n, p, size=b)
            out[start : start + b] = w @ uniq
        return out
    # index draws; constant columns need no gathering (their sum is n * value)
    varying = np.flatnonzero((rows != rows[0]).any(axis=0))
    out[:] = rows[0] * n
    if varying.size == 0:
        return out
    sub = np.ascontiguousarray(rows[:, varying])
    if varying.size <= 3:
        batch = max(1, BATCH_BYTES // (12 * n))
        cols = [np.ascontiguousarray(sub[:, j]) for j in range(varying.size)]
        for start in range(0, n_boot, batch):
            b = min(batch, n_boot - start)
            idx = rng.integers(0, n, size=(b, n))
            for j, col in enumerate(cols):
                out[start : start + b, varying[j]] = np.take(col, idx).sum(axis=1)
        return out
    # Multiplicities per batch via bincount, then one matrix product. Integer rows whose
    # resample sums stay below 2**24 are summed exactly in float32 (half the traffic).
    exact32 = bool(np.all(sub == np.round(sub))) and float(np.abs(sub).max()) * n < 2.0**24
    sub_mm = sub.astype(np.float32) if exact32 else sub
    batch = max(1, BATCH_BYTES // (12 * n))
    offsets = (np.arange(batch, dtype=np.int64) * n)[:, None]
    for start in range(0, n_boot, batch):
        b = min(batch, n_boot - start)
        idx = rng.integers(0, n, size=(b, n))
        idx += offsets[:b]
        w = np.bincount(idx.ravel(), minlength=b * n).reshape(b, n).astype(sub_mm.dtype)
        out[start : start + b, varying] = w @ sub_mm
    return out


def _percentile_ci(theta: np.ndarray, confidence: float) -> tuple[tuple[float, float], int]:
    finite = np.isfinite(theta)
    n_bad = int((~finite).sum())
    t = theta[finite] if n_bad else theta
    if t.size == 0:
        return (math.nan, math.nan), n_bad
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.percentile(t, [100.0 * alpha, 100.0 * (1.0 - alpha)])
    return (float(lo), float(hi)), n_bad


def _too_few(n_units: int, resample: str, label: str) -> None:
    what = "groups" if resample == "groups" else "items"
    _warn(
        f"{label}: only {n_units} {what} (n={n_units}); a bootstrap interval needs at least "
        f"{MIN_UNITS}, so no confidence interval is reported (ci=None)"
    )


def bootstrap_distribution(
    stats: Any,
    statistic: Statistic,
    *,
    groups: Sequence[Any] | None = None,
    n_boot: int = 1000,
    seed: int | None = 0,
) -> np.ndarray:
    """The ``(n_boot,)`` bootstrap distribution of ``statistic(column sums)``."""
    _check_boot(n_boot, seed)
    rows, _ = _group_rows(_as_matrix(stats), groups)
    rng = np.random.default_rng(seed)
    return np.asarray(statistic(resampled_sums(rows, n_boot, rng)), dtype=np.float64)


def bootstrap_ci(
    stats: Any,
    statistic: Statistic | str,
    *,
    groups: Sequence[Any] | None = None,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int | None = 0,
    label: str = "bootstrap",
) -> BootstrapCI:
    """Percentile bootstrap CI of a corpus statistic of summed per-item statistics.

    ``stats`` is ``(n, k)`` (or ``(n,)``); ``statistic`` maps a ``(B, k)`` array of column
    sums to ``(B,)`` scores, or is an aggregate kind such as ``"ratio"`` (see
    :func:`llaso_pytest.metrics.base.aggregate`). ``groups`` switches to the cluster
    bootstrap. Non-finite resample values (e.g. 0/0) are left out and counted, with a warning.
    """
    check_confidence(confidence)
    _check_boot(n_boot, seed)
    fn = _resolve(statistic)
    rows = _as_matrix(stats)
    n = rows.shape[0]
    units, resample = _group_rows(rows, groups)
    value = float(fn(rows.sum(axis=0)[None, :])[0])
    n_units = units.shape[0]
    if n_units < MIN_UNITS:
        _too_few(n_units, resample, label)
        return BootstrapCI(value, None, float(confidence), n, n_units, int(n_boot), seed, resample)
    rng = np.random.default_rng(seed)
    theta = np.asarray(fn(resampled_sums(units, int(n_boot), rng)), dtype=np.float64)
    ci, n_bad = _percentile_ci(theta, float(confidence))
    if n_bad:
        _warn(
            f"{label}: {n_bad} of {n_boot} bootstrap resamples gave a non-finite score "
            "(e.g. no reference words drawn); the interval uses the others"
        )
    return BootstrapCI(
        value, ci, float(confidence), n, n_units, int(n_boot), seed, resample, n_nonfinite=n_bad
    )


def _resolve(statistic: Statistic | str) -> Statistic:
    if isinstance(statistic, str):
        from llaso_pytest.metrics.base import aggregate_fn

        return aggregate_fn(statistic)
    if not callable(statistic):
        raise TypeError(f"statistic must be callable or an aggregate name, got {statistic!r}")
    return statistic


def paired_bootstrap(
    stats_a: Any,
    stats_b: Any,
    *,
    aggregate: Statistic | str,
    higher_is_better: bool,
    aggregate_b: Statistic | str | None = None,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int | None = 0,
    groups: Sequence[Any] | None = None,
    label: str = "paired bootstrap",
) -> PairedBootstrap:
    """Paired bootstrap of ``aggregate(b) - aggregate(a)`` over the same items.

    ``stats_a`` (base) and ``stats_b`` (head) are ``(n, k)`` per-item statistics in the
    same item order; each resample draws the same items (or groups) for both systems.
    """
    check_confidence(confidence)
    _check_boot(n_boot, seed)
    a = _as_matrix(stats_a, "stats_a")
    b = _as_matrix(stats_b, "stats_b")
    if a.shape[0] != b.shape[0]:
        raise ValueError(
            f"paired bootstrap needs the same items: stats_a has {a.shape[0]} rows, "
            f"stats_b has {b.shape[0]}"
        )
    fa = _resolve(aggregate)
    fb = fa if aggregate_b is None else _resolve(aggregate_b)
    ka = a.shape[1]
    n = a.shape[0]
    rows = np.hstack([a, b])
    va = float(fa(a.sum(axis=0)[None, :])[0])
    vb = float(fb(b.sum(axis=0)[None, :])[0])
    delta = vb - va
    # Same ratio/mean aggregate and identical denominators (same references): the
    # difference depends only on (num_b - num_a, den), which has far fewer distinct rows
    # than (num_a, den, num_b, den), so the multinomial engine needs fewer categories.
    diff_form = (
        isinstance(aggregate, str)
        and aggregate.strip() in ("ratio", "mean")
        and (aggregate_b is None or aggregate_b == aggregate)
        and ka == 2
        and b.shape[1] == 2
        and np.array_equal(a[:, 1], b[:, 1])
    )
    base_rows = np.column_stack([b[:, 0] - a[:, 0], a[:, 1]]) if diff_form else rows
    units, resample = _group_rows(base_rows, groups)
    n_units = units.shape[0]
    if n_units < MIN_UNITS:
        _too_few(n_units, resample, label)
        return PairedBootstrap(
            va, vb, delta, None, math.nan, math.nan, float(confidence), bool(higher_is_better),
            n, n_units, int(n_boot), seed, resample,
        )
    rng = np.random.default_rng(seed)
    sums = resampled_sums(units, int(n_boot), rng)
    if diff_form:
        with np.errstate(divide="ignore", invalid="ignore"):
            d = np.where(sums[:, 1] == 0, np.nan, sums[:, 0] / sums[:, 1])
    else:
        d = np.asarray(fb(sums[:, ka:]), dtype=np.float64) - np.asarray(
            fa(sums[:, :ka]), np.float64
        )
    ci, n_bad = _percentile_ci(d, float(confidence))
    d = d[np.isfinite(d)]
    if n_bad:
        _warn(
            f"{label}: {n_bad} of {n_boot} resamples gave a non-finite difference; left out"
        )
    m = d.size
    if m == 0:
        return PairedBootstrap(
            va, vb, delta, None, math.nan, math.nan, float(confidence), bool(higher_is_better),
            n, n_units, int(n_boot), seed, resample,
        )
    pos = int((d > 0).sum())
    neg = int((d < 0).sum())
    ties = m - pos - neg
    better = pos if higher_is_better else neg
    p_improve = (better + 0.5 * ties) / m
    le, ge = neg + ties, pos + ties
    p_value = min(1.0, 2.0 * (min(le, ge) + 1) / (m + 1))
    return PairedBootstrap(
        va, vb, delta, ci, float(p_improve), float(p_value), float(confidence),
        bool(higher_is_better), n, n_units, int(n_boot), seed, resample,
    )
