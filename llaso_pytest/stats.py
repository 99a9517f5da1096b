"""Resampling engine, bootstrap intervals, the paired test, multiplicity and power (pure NumPy).

Every statistic here is a *corpus* statistic: a function of the column sums of an
``(n, k)`` matrix of per-item sufficient statistics (errors and reference words for WER,
n-gram matches for BLEU, ...). A resample is therefore fully described by how many times
each unit is drawn, and everything below works on summed statistics, never on strings.

**One engine.** :func:`resample_sums` is the only bootstrap in the package: metric intervals
(:func:`bootstrap_ci`), the paired test (:func:`paired_tests`, used by
``assert_not_regressed``, the plugin's baseline comparison and ``llaso compare``) all draw their
resamples from it. It has two strategies, picked from the data alone (so a metric's numbers
never depend on which other metrics were computed with it):

* few distinct rows (WER: a few hundred distinct ``(errors, words)`` rows among 100k
  utterances): one multinomial draw over the distinct rows per resample, exactly the
  distribution of drawing ``n`` units with replacement, at a cost of the distinct rows;
* otherwise a matrix of resample counts (:func:`multinomial_counts`) times the centred
  columns, chunked and spread over threads; many metrics over the same units share one
  stream of counts (seeded from ``seed`` and the number of units only).

**One paired test** (:func:`paired_tests`), ``delta = head - base``:

* the interval is the percentile interval of the paired bootstrap of ``delta`` (Koehn 2004;
  Bisani and Ney 2004 with ``groups=``); ``p_improve`` the bootstrap probability that head is
  better (ties count one half); ``se`` the bootstrap standard error;
* the two-sided p-value comes from the test that is valid at the sample size: with fewer than
  :data:`BOOTSTRAP_TEST_UNITS` units a *sign-flip randomisation test* (swap base and head of
  each unit; exact enumeration when at most :data:`EXACT_MAX_UNITS` units differ, otherwise
  ``n_boot`` random flips with the ``(k + 1) / (R + 1)`` correction) - exact under
  exchangeability whatever ``n``, where the bootstrap is anti-conservative; from there on the
  bootstrap p-value ``2 min(P*(delta <= 0), P*(delta >= 0))`` with the same correction, which
  agrees with the interval;
* when fewer units differ between the runs than any test at level ``1 - confidence`` can
  detect (``2**(1 - m) > alpha``), the result is *untested* (``p_value`` is ``None`` and
  ``untested`` says why), never "no difference"; with ``groups=`` and too few differing
  groups the test falls back to items and says so;
* ``mde``: the smallest ``|delta|`` detected with probability ``power`` (80%) by a two-sided
  test at level ``alpha`` for this ``n`` and this paired variance:
  ``(z(1 - alpha/2) + z(power)) * se``.

:mod:`llaso_pytest.multiplicity` adjusts the p-values of a family of comparisons.
Randomness comes from ``numpy.random`` seeded explicitly; ``seed=0`` is a seed.
"""

from __future__ import annotations

import functools
import math
import numbers
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from llaso_pytest.errors import warn as _warn

__all__ = [
    "BOOTSTRAP_TEST_UNITS",
    "EXACT_MAX_UNITS",
    "MIN_UNITS",
    "BootstrapCI",
    "ItemColumns",
    "PairedInput",
    "PairedTest",
    "bootstrap_ci",
    "bootstrap_distribution",
    "detectable_effect",
    "multinomial_counts",
    "paired_bootstrap",
    "paired_tests",
    "resample_sums",
]

#: The fewest resampled units (items, or groups with ``groups=``) that get an interval.
#: With 4 units there are only 35 distinct resamples; a percentile interval from them is
#: not meaningful, so the result carries ``ci=None`` and a warning instead.
MIN_UNITS = 5
#: From this many units on, the paired p-value is the bootstrap's; below, a sign-flip test.
BOOTSTRAP_TEST_UNITS = 200
#: At most this many differing units: the sign-flip test enumerates all ``2**m`` flips.
EXACT_MAX_UNITS = 12
#: Power at which :func:`detectable_effect` reports the minimum detectable effect.
POWER = 0.8

TestMethod = Literal["bootstrap", "sign-flip", "exact-sign-flip"]
Resample = Literal["items", "groups"]

#: Memory budget (bytes) for one batch of distinct-row multinomial draws.
BATCH_BYTES = 8 * 1024 * 1024
#: Resamples per chunk of the counts matrix (memory per thread: about rows x units x 6 bytes).
CHUNK_ROWS = 128
#: A multinomial category costs about this many drawn units: the distinct-row strategy is
#: used when ``distinct rows * DISTINCT_COST < units``. Measured (CPU time, 1,000 resamples,
#: 10k and 100k units): distinct/counts time 0.33 at units/rows = 64, 0.84-0.87 at 32,
#: 1.5-1.7 at 16, 1.9-2.35 at 8 (the old setting) - the crossover is near 27; 24 leaves room
#: for the counts product running on two threads.
DISTINCT_COST = 24

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
class PairedTest:
    """The paired comparison of head (b) against base (a) on the same units.

    ``p_value`` is ``None`` when no test was possible (``untested`` says why); ``ci`` is
    ``None`` with fewer than :data:`MIN_UNITS` units. ``significant``/``improved``/
    ``regressed`` use the raw p-value at ``alpha = 1 - confidence`` (a family of comparisons
    adjusts it first, see :mod:`llaso_pytest.multiplicity`).
    """

    value_a: float
    value_b: float
    delta: float
    ci: tuple[float, float] | None
    p_improve: float | None
    p_value: float | None
    confidence: float
    higher_is_better: bool
    n: int
    n_units: int
    n_differing: int
    n_boot: int
    seed: int | None
    resample: Resample
    test: TestMethod | None
    se: float | None = None
    mde: float | None = None
    untested: str | None = None
    notes: tuple[str, ...] = ()
    method: str = "percentile"

    @property
    def alpha(self) -> float:
        return 1.0 - self.confidence

    @property
    def tested(self) -> bool:
        return self.p_value is not None

    @property
    def significant(self) -> bool:
        """Whether the raw p-value is at most ``alpha`` (untested: not significant)."""
        return self.p_value is not None and self.p_value <= self.alpha and self.delta != 0

    @property
    def improved(self) -> bool:
        return self.significant and ((self.delta > 0) == self.higher_is_better)

    @property
    def regressed(self) -> bool:
        return self.significant and ((self.delta > 0) != self.higher_is_better)


#: The paired test is one definition; older code knew it by this name.
PairedBootstrap = PairedTest


@dataclass(frozen=True)
class PairedInput:
    """One paired comparison to run: per-item statistics of base and head, same row order."""

    a: np.ndarray | ItemColumns  # (n, k) base
    b: np.ndarray | ItemColumns  # (n, k) head
    aggregate: str | Statistic
    higher_is_better: bool
    groups: Sequence[Any] | None = None
    aggregate_b: str | Statistic | None = None
    label: str = "paired test"


@dataclass(frozen=True)
class ItemColumns:
    """Per-item statistics as their columns (e.g. a run record's arrays), optionally only the
    rows ``rows`` of them in that order: a paired input that copies nothing until its test
    runs, so a batch of many comparisons does not hold an ``(n, k)`` float64 copy of each."""

    columns: tuple[np.ndarray, ...]
    rows: np.ndarray | None = None

    def matrix(self) -> np.ndarray:
        """The ``(n, k)`` float64 matrix (a new array)."""
        if not self.columns:
            raise ValueError("ItemColumns needs at least one column")
        n = self.columns[0].shape[0] if self.rows is None else self.rows.shape[0]
        out = np.empty((n, len(self.columns)))
        for j, col in enumerate(self.columns):
            out[:, j] = col if self.rows is None else col[self.rows]
        return out


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
    arr = stats.matrix() if isinstance(stats, ItemColumns) else np.asarray(stats, np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{what} must be an (n, k) array of per-item statistics, got {arr.shape}")
    if not np.isfinite(arr).all():
        bad = np.flatnonzero(~np.isfinite(arr).all(axis=1))[:5].tolist()
        raise ValueError(f"{what} has non-finite values at rows {bad}")
    return arr


def _group_index(groups: Sequence[Any], n: int) -> tuple[np.ndarray, int]:
    g = list(groups)
    if len(g) != n:
        raise ValueError(f"groups= has {len(g)} entries but there are {n} items")
    if any(x is None for x in g):
        i = next(i for i, x in enumerate(g) if x is None)
        raise ValueError(f"groups[{i}] is None; every item needs a group")
    _, inv = np.unique(np.asarray([str(x) for x in g]), return_inverse=True)
    inv = inv.reshape(-1)
    return inv, int(inv.max()) + 1 if inv.size else 0


def group_sums(rows: np.ndarray, groups: Sequence[Any] | None) -> tuple[np.ndarray, Resample]:
    """Sum rows per group (cluster bootstrap units); identity without groups."""
    if groups is None:
        return rows, "items"
    inv, n_groups = _group_index(groups, rows.shape[0])
    out = np.zeros((n_groups, rows.shape[1]))
    np.add.at(out, inv, rows)
    return out, "groups"


def _resolve(statistic: Statistic | str) -> Statistic:
    if isinstance(statistic, str):
        from llaso_pytest.metrics.base import aggregate_fn

        return aggregate_fn(statistic)
    if not callable(statistic):
        raise TypeError(f"statistic must be callable or an aggregate name, got {statistic!r}")
    return statistic


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
    if n and rows.shape[1] > 1:
        varying = np.flatnonzero((rows != rows[0]).any(axis=0))
        if varying.size == 1:  # e.g. (score, 1) of a mean: one sort of one column
            _, first, counts = np.unique(rows[:, varying[0]], return_index=True,
                                         return_counts=True)
            return rows[first], counts
    return np.unique(rows, axis=0, return_counts=True)


def _coded_rows(rows: np.ndarray, max_codes: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Distinct rows and counts of small-integer rows by radix coding and ``bincount`` (O(n),
    no sort); ``None`` when a column is not integral or the code space exceeds ``max_codes``."""
    los, spans = [], []
    total = 1
    for j in range(rows.shape[1]):
        c = rows[:, j]
        lo, hi = float(c.min()), float(c.max())
        span = int(hi - lo) + 1
        total *= span
        if total > max_codes or not np.array_equal(c, np.floor(c)):
            return None
        los.append(lo)
        spans.append(span)
    radix = np.cumprod([1, *spans[:-1]]).astype(np.int64)
    code = (rows - np.asarray(los)).astype(np.int64) @ radix
    tally = np.bincount(code, minlength=total)
    present = np.flatnonzero(tally)
    uniq = (present[:, None] // radix[None, :]) % np.asarray(spans)[None, :] + np.asarray(los)
    return uniq.astype(np.float64), tally[present]


def distinct_rows(rows: np.ndarray, *, max_rows: int | None = None
                  ) -> tuple[np.ndarray, np.ndarray] | None:
    """The distinct rows and counts when the distinct-row strategy is the one to use, else
    ``None``; decided from ``rows`` alone. It is used when the distinct rows are fewer than
    ``n / DISTINCT_COST`` (and at most ``max_rows``, when given: the paired tests, whose
    counts strategy is shared by many metrics, use it only for a handful of rows)."""
    n = rows.shape[0]
    limit = n // DISTINCT_COST if max_rows is None else min(max_rows, n // DISTINCT_COST)
    if limit < 2:
        return None
    found = _coded_rows(rows, max_codes=max(64 * limit, 1 << 16))
    if found is None:
        if max_rows is not None:
            return None
        # real-valued or wide rows: a sort finds their distinct rows
        found = unique_rows(rows)
    return found if found[0].shape[0] <= limit else None


#: The paired tests take the distinct-row strategy for at most this many distinct rows.
PAIRED_MAX_DISTINCT = 64


def _stream(seed: int | None, units: int, purpose: int) -> np.random.SeedSequence:
    """The seed sequence of one stream: the seed, the number of units and what it is for."""
    if seed is None:
        return np.random.SeedSequence()
    return np.random.SeedSequence([int(seed), int(units), int(purpose)])


_COUNTS, _DISTINCT, _FLIPS = 0, 1, 2


@functools.lru_cache(maxsize=8)
def _count_tables(units: int) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """Tables for :func:`multinomial_counts` (pure, cached by ``units``).

    Marsaglia's table method for a *pair* of iid Poisson(lam) counts on 16 random bits: value
    ``v < A`` of the 16 bits indexes ``pairs[v]`` (the two counts as uint8, packed in one
    uint16: a 128 KiB table stays in cache, where float32 pairs in a 512 KiB one made the
    gather 2.4x slower); ``v >= A`` (a fraction ~1e-3) draws the pair from the residual distribution
    ``rcdf`` over ``codes`` with a double-precision uniform. Each pair has its exact
    probability. Returns ``(A, pairs, rcdf, codes)``.
    """
    lam = max(0.05, 1.0 - 3.0 / math.sqrt(units))
    kmax = 40
    pmf = np.array([math.exp(-lam) * lam**k / math.factorial(k) for k in range(kmax)])
    pmf /= pmf.sum()
    joint = np.outer(pmf, pmf).ravel()  # index c1 * kmax + c2
    slots = np.floor(joint * 65536.0).astype(np.int64)
    a = int(slots.sum())
    combos = np.repeat(np.arange(joint.size), slots)
    pairs = np.zeros((65536, 2), dtype=np.uint8)
    pairs[:a, 0] = combos // kmax
    pairs[:a, 1] = combos % kmax
    residual = np.clip(joint - slots / 65536.0, 0.0, None)
    keep = np.flatnonzero(residual > 0)
    rcdf = np.cumsum(residual[keep]) / residual[keep].sum()
    rcdf[-1] = 1.0
    codes = np.stack([keep // kmax, keep % kmax], axis=1).astype(np.uint8)
    return a, pairs.view(np.uint16).ravel(), rcdf, codes


def multinomial_counts(rng: np.random.Generator, rows: int, units: int) -> np.ndarray:
    """``rows`` independent Multinomial(units, uniform) count vectors, ``float32 (rows, units)``.

    Bootstrap resample counts, exactly, at about one table look-up per two cells: iid
    Poisson(lam) counts with ``lam = 1 - 3/sqrt(units)`` (Marsaglia's table method on 16
    random bits per pair of cells, see :func:`_count_tables`), then the missing
    ``units - total`` draws are added to uniformly chosen cells. Given its total, a vector of
    iid Poisson counts is multinomial whatever ``lam``, and adding iid uniform draws keeps it
    so. The rare row whose total overshoots (~1e-3 of the rows) has a uniformly chosen subset
    of its surplus draws removed, which is exact too. (The counts themselves come from
    :func:`_small_counts`, one byte a cell, which the resampling engine uses as they are.)
    """
    return _small_counts(rng, rows, units).astype(np.float32)


#: Table look-ups of :func:`_small_counts` done at a time (their intp indices: 2 MiB).
TAKE_STEP = 1 << 18


def _small_counts(rng: np.random.Generator, rows: int, units: int) -> np.ndarray:
    """:func:`multinomial_counts` as ``uint8`` (``uint16`` in the never-seen case of a cell
    above 255): a quarter of the memory of float32 counts, the same draws in the same order."""
    if rows <= 0 or units <= 0:
        return np.zeros((max(rows, 0), max(units, 0)), dtype=np.uint8)
    a, pairs, rcdf, codes = _count_tables(units)
    size = rows * units
    n_pairs = -(-size // 2)
    raw = rng.bit_generator.random_raw(-(-n_pairs // 4))  # 16 random bits per pair of cells
    v = raw.view(np.uint16)[:n_pairs]
    both16 = np.empty(n_pairs, dtype=np.uint16)
    for lo in range(0, n_pairs, TAKE_STEP):  # np.take widens its indices to intp: in pieces
        np.take(pairs, v[lo:lo + TAKE_STEP], out=both16[lo:lo + TAKE_STEP])
    flat: np.ndarray = both16.view(np.uint8)[:size]
    odd = np.flatnonzero(v >= a)
    del raw, v
    if odd.size:
        drawn = codes[np.searchsorted(rcdf, rng.random(odd.size), side="right")]
        both = flat[: 2 * n_pairs].reshape(-1, 2) if size == 2 * n_pairs else None
        if both is not None:
            both[odd] = drawn
        else:  # odd number of cells: the last pair is cut in half
            for i, (c1, c2) in zip(odd.tolist(), drawn.tolist(), strict=True):
                if 2 * i < size:
                    flat[2 * i] = c1
                if 2 * i + 1 < size:
                    flat[2 * i + 1] = c2
    counts = flat.reshape(rows, units)
    totals = counts.sum(axis=1, dtype=np.int64)
    short = units - totals
    under = short > 0
    if under.any():
        rows_idx = np.repeat(np.flatnonzero(under), short[under])
        cells = rows_idx * units + rng.integers(0, units, size=rows_idx.size)
        uniq, times = np.unique(cells, return_counts=True)
        if int(times.max()) + int(flat[uniq].max()) > np.iinfo(flat.dtype).max:
            flat = flat.astype(np.uint16)
            counts = flat.reshape(rows, units)
        flat[uniq] += times.astype(flat.dtype)
    for r in np.flatnonzero(short < 0):
        t = int(totals[r])
        row = counts[r]
        ranks = rng.choice(t, size=t - units, replace=False)
        cum = np.cumsum(row, dtype=np.int64)
        np.subtract.at(row, np.searchsorted(cum, ranks, side="right"), 1)
    return counts


@functools.lru_cache(maxsize=1)
def _blas_controller() -> Any:
    """One ``threadpoolctl`` controller for the process (building one inspects every loaded
    library: ~3-12 ms, too much to pay for each interval)."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _one_blas_thread() -> Any:
    """A context in which BLAS runs on one thread."""
    return _blas_controller().limit(limits=1, user_api="blas")


def _worker_threads(n_chunks: int) -> int:
    """Threads for the resampling: one per core (at most 4; ``LLASO_COMPARE_THREADS``
    overrides), each running its products on one BLAS thread."""
    env = os.environ.get("LLASO_COMPARE_THREADS")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    wanted = int(env) if env and env.isdigit() else min(4, cores or 1)
    return max(1, min(wanted, n_chunks))


def counts_sums(columns: np.ndarray, *, n_boot: int, seed: int | None) -> np.ndarray:
    """Bootstrap column sums ``(n_boot, K)`` of ``(units, K)`` columns through resample counts.

    The counts depend on ``(seed, units)`` only, so columns resampled together or alone get
    the same resamples. Columns are centred in float32 for the product (the mean is restored
    in float64); integer columns are rounded back to their exact integer sums (a count of 0
    must stay 0: BLEU takes logs of precisions).
    """
    mat = np.asarray(columns, dtype=np.float64)
    return _counts_sums_of([mat[:, j] for j in range(mat.shape[1])], mat.shape[0],
                           n_boot=n_boot, seed=seed)


def _counts_sums_of(cols: Sequence[np.ndarray], units: int, *, n_boot: int, seed: int | None
                    ) -> np.ndarray:
    """:func:`counts_sums` of columns given one by one (each centred straight into float32,
    no float64 ``(units, K)`` copy is made); equal columns are resampled once."""
    store = _CountsColumns(units)
    where = [store.add(col) for col in cols]
    out = store.sums(n_boot=n_boot, seed=seed)
    return out if where == list(range(out.shape[1])) else out[:, where]


class _CountsColumns:
    """Columns resampled through one stream of counts (one ``(seed, units)``): each distinct
    column once, centred into float32 (the product's input), with its float64 mean and
    whether it is integral. Two columns with the same centred values, mean and integrality
    have bitwise the same resampled sums, so keeping one of them changes no number."""

    def __init__(self, units: int) -> None:
        self.units = units
        self.cols: list[np.ndarray] = []
        self.means: list[float] = []
        self.integral: list[bool] = []
        self._seen: dict[tuple[float, bool, float, float], list[int]] = {}

    @property
    def nbytes(self) -> int:
        return 4 * self.units * len(self.cols)

    def add(self, col: np.ndarray) -> int:
        """The index of ``col`` (``(units,)``) among the columns, added if new."""
        c = np.ascontiguousarray(col, dtype=np.float64)
        # each column summed on its own (a matrix-vector product would sum a column in an
        # order that depends on the other columns, and batched results would differ)
        mean = float(c.sum() / self.units)
        integral = bool(np.array_equal(c, np.rint(c)))
        centred = np.empty(self.units, dtype=np.float32)
        np.subtract(c, mean, out=centred, casting="same_kind")
        key = (mean, integral, float(centred[0]), float(centred[-1]))
        same = self._seen.setdefault(key, [])
        for j in same:
            if np.array_equal(self.cols[j], centred):
                return j
        same.append(len(self.cols))
        self.cols.append(centred)
        self.means.append(mean)
        self.integral.append(integral)
        return len(self.cols) - 1

    def sums(self, *, n_boot: int, seed: int | None) -> np.ndarray:
        """``(n_boot, K)`` resampled sums of the columns; the columns are released."""
        k = len(self.cols)
        width = max(k, 2)  # keep the product a matrix product (gemm), as in a batch
        centred = np.zeros((self.units, width), dtype=np.float32)
        cols, self.cols = self.cols, []
        for j in range(k - 1, -1, -1):  # each column dropped as soon as it is in the matrix
            centred[:, j] = cols.pop()
        means = np.zeros(width)
        means[:k] = self.means
        integral = np.ones(width, dtype=bool)
        integral[:k] = self.integral
        self.means, self.integral, self._seen = [], [], {}
        out = _product_sums(centred, self.units, n_boot=n_boot, seed=seed)
        del centred
        out += self.units * means
        if integral.any():
            out[:, integral] = np.rint(out[:, integral])
        return out[:, :k] if width != k else out


#: Resample rows widened to float32 at a time for the product: a chunk's counts stay one
#: byte a cell (a float32 chunk of 128 x 100k units was 51 MB a thread).
PRODUCT_ROWS = 32
#: Memory budget (bytes) of the centred float32 columns of one counts product. Past it the
#: columns collected so far are resampled and released, and the rest get another product
#: over the same counts (regenerated from the same seeds: the same numbers), so the memory
#: of many comparisons stays bounded whatever their number.
COLUMN_BYTES = 64 * 1024 * 1024


def _product_sums(centred: np.ndarray, units: int, *, n_boot: int, seed: int | None
                  ) -> np.ndarray:
    """``counts @ centred`` for ``n_boot`` resample count vectors of the seeded stream
    ``(seed, units)``, chunked and spread over threads."""
    from concurrent.futures import ThreadPoolExecutor

    out = np.empty((n_boot, centred.shape[1]), dtype=np.float64)
    n_chunks = -(-n_boot // CHUNK_ROWS)
    seeds = _stream(seed, units, _COUNTS).spawn(n_chunks)

    def work(i: int) -> None:
        lo = i * CHUNK_ROWS
        hi = min(n_boot, lo + CHUNK_ROWS)
        w = _small_counts(np.random.default_rng(seeds[i]), hi - lo, units)
        for r in range(0, hi - lo, PRODUCT_ROWS):
            block = w[r:r + PRODUCT_ROWS].astype(np.float32)
            out[lo + r:lo + r + block.shape[0]] = block @ centred

    workers = _worker_threads(n_chunks)
    # Our threads split the chunks; each matrix product runs on one BLAS thread (BLAS
    # threads on top of ours oversubscribe the cores and stall under load, and a product of
    # PRODUCT_ROWS rows is too small to share).
    with _one_blas_thread():
        if workers == 1:
            for i in range(n_chunks):
                work(i)
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                list(pool.map(work, range(n_chunks)))
    return out


def distinct_sums(uniq: np.ndarray, counts: np.ndarray, *, n_boot: int, seed: int | None
                  ) -> np.ndarray:
    """Bootstrap column sums from distinct rows and their multiplicities (one multinomial
    over the rows per resample: the same distribution as drawing the units).

    The multinomial counts come from :class:`_CategorySampler` when there are many rows for
    the number of units (CER: ~2,700 rows among 100k units), else from NumPy's multinomial
    (which draws one binomial per row); :func:`_poissonised` decides, from the data alone."""
    units = int(counts.sum())
    rng = np.random.default_rng(_stream(seed, units, _DISTINCT))
    rows = uniq.shape[0]
    poissonised = _poissonised(counts)
    out = np.empty((n_boot, uniq.shape[1]))
    batch = max(1, BATCH_BYTES // (8 * rows))
    p = counts / units
    sampler = _CategorySampler(counts) if poissonised else None
    if sampler is not None:
        batch = max(1, BATCH_BYTES // (8 * max(rows, sampler.width)))
    with _one_blas_thread():  # small products: one thread is faster
        for start in range(0, n_boot, batch):
            b = min(batch, n_boot - start)
            drawn = rng.multinomial(units, p, size=b) if sampler is None else \
                sampler.draw(rng, b)
            out[start:start + b] = drawn.astype(np.float64) @ uniq
    return out


#: One binomial draw of NumPy's multinomial costs about as much as this many table draws of
#: :class:`_CategorySampler` (measured: ~90 ns against ~12 ns a table draw).
BINOMIAL_DRAWS = 8


def _poissonised(counts: np.ndarray) -> bool:
    """Whether :func:`distinct_sums` draws Poisson counts (:class:`_CategorySampler`) rather
    than NumPy's multinomial for rows of these multiplicities: when a binomial per row costs
    more than a table draw per piece of :data:`PIECE` units plus the ~2 sqrt(units) uniform
    draws that complete the total (CER: 2,700 rows among 100k units, ~8x faster; WER: 200
    rows of large multiplicities, about even, so the multinomial stays). From the data
    alone."""
    units = float(counts.sum())
    width = float(((counts + PIECE - 1) // PIECE).sum())
    return counts.size * BINOMIAL_DRAWS > width + 2.0 * math.sqrt(units)


#: A row of multiplicity ``c`` draws its Poisson(``lam * c``) count as the sum of
#: independent table draws for pieces of at most this many units (each count fits a byte).
PIECE = 96
#: The table entry that stands for "draw from the residual distribution" (never a count).
RESIDUAL = np.uint8(255)


@functools.lru_cache(maxsize=256)
def _poisson_table(units: int, mult: int) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """Marsaglia's table for one Poisson(``lam * mult``) count on 16 random bits, ``lam`` of
    :func:`_category_lam`: ``table[v]`` is the count, or :data:`RESIDUAL` for ``v >= A`` (a
    fraction ~1e-3), where the count is drawn from the residual distribution ``rcdf`` over
    ``values``. Each
    count has its exact probability (the pmf is cut 12 standard deviations above the mean,
    where what is left is below 1e-30). Returns ``(A, table uint8, rcdf, values)``."""
    mu = _category_lam(units) * mult
    kmax = min(int(RESIDUAL), int(mu + 12.0 * math.sqrt(mu) + 30.0))
    logs = [k * math.log(mu) - mu - math.lgamma(k + 1.0) for k in range(kmax)]
    pmf = np.exp(np.asarray(logs))
    pmf /= pmf.sum()
    slots = np.floor(pmf * 65536.0).astype(np.int64)
    a = int(slots.sum())
    table = np.full(65536, RESIDUAL, dtype=np.uint8)  # slots from A on: a residual draw
    table[:a] = np.repeat(np.arange(kmax), slots)
    residual = np.clip(pmf - slots / 65536.0, 0.0, None)
    keep = np.flatnonzero(residual > 0)
    rcdf = np.cumsum(residual[keep]) / residual[keep].sum()
    rcdf[-1] = 1.0
    return a, table, rcdf, keep.astype(np.uint8)


def _category_lam(units: int) -> float:
    """The Poisson rate per unit of :class:`_CategorySampler`: about ``2 sqrt(units)`` draws
    short of the total on average, and over it in ~2% of the resamples."""
    return max(0.05, 1.0 - 2.0 / math.sqrt(units))


class _CategorySampler:
    """Multinomial(units, counts / units) vectors over categories of integer multiplicities
    ``counts``, exactly: independent Poisson(``lam * count``) counts, each the sum of table
    draws for pieces of at most :data:`PIECE` units (:func:`_poisson_table`); then the
    missing draws are added as uniformly drawn units (each unit's category), or, when the
    total overshoots, a uniformly chosen subset of the drawn units is removed. Given their
    total, independent Poisson counts are multinomial with probabilities proportional to
    their means; completing or thinning by uniform draws of units keeps them so (the
    argument of :func:`multinomial_counts`).

    Piece layout: first one piece per category (its remainder, or a full piece), then the
    further full pieces, rank by rank (each rank's categories distinct)."""

    def __init__(self, counts: np.ndarray) -> None:
        counts = np.asarray(counts, dtype=np.int64)
        self.units = units = int(counts.sum())
        self.rows = counts.size
        full, rest = np.divmod(counts, PIECE)
        first = np.where(rest > 0, rest, PIECE)
        extra = full - (rest == 0)  # further full pieces of each category
        mults, which = np.unique(first, return_inverse=True)
        found = [_poisson_table(units, int(m)) for m in mults.tolist()]
        self.which = which.reshape(-1)
        self.offsets = self.which * 65536  # where each first piece's table starts
        self.tables = np.concatenate([f[1] for f in found])
        self.rcdf = [f[2] for f in found]
        self.rvalues = [f[3] for f in found]
        self.full = _poisson_table(units, PIECE)
        self.ranks = [np.flatnonzero(extra >= r) for r in range(1, int(extra.max(initial=0)) + 1)]
        self.n_extra = int(extra.sum())
        self.category_of_unit = np.repeat(np.arange(self.rows, dtype=np.int32), counts)

    @property
    def width(self) -> int:
        """Table draws per resample."""
        return self.rows + self.n_extra

    @staticmethod
    def _residual(drawn: np.ndarray, rng: np.random.Generator, table_of: Callable[[np.ndarray],
                  np.ndarray], rcdf: Sequence[np.ndarray], values: Sequence[np.ndarray]
                  ) -> None:
        """Replace the table's ``RESIDUAL`` marks by draws from the residual distributions."""
        odd = np.nonzero(drawn == RESIDUAL)
        if not odd[0].size:
            return
        tables = table_of(odd[1])
        u = rng.random(odd[0].size)
        for t in np.unique(tables).tolist():
            here = tables == t
            drawn[odd[0][here], odd[1][here]] = values[t][
                np.searchsorted(rcdf[t], u[here], side="right")]

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``(size, categories)`` int64 multinomial count vectors."""
        rows, units, width = self.rows, self.units, self.width
        cells = size * width
        raw = rng.bit_generator.random_raw(-(-cells // 4))
        bits = raw.view(np.uint16)[:cells].reshape(size, width)
        head = np.take(self.tables, bits[:, :rows] + self.offsets)
        self._residual(head, rng, lambda cols: self.which[cols], self.rcdf, self.rvalues)
        out = head.astype(np.int64)
        if self.n_extra:
            _, table, rcdf, values = self.full
            tail = np.take(table, bits[:, rows:])
            self._residual(tail, rng, np.zeros_like, [rcdf], [values])
            at = 0
            for rank in self.ranks:
                out[:, rank] += tail[:, at:at + rank.size]
                at += rank.size
        totals = out.sum(axis=1)
        short = units - totals
        under = np.flatnonzero(short > 0)
        if under.size:
            row_of = np.repeat(under, short[under])
            cats = self.category_of_unit[rng.integers(0, units, size=row_of.size)]
            np.add.at(out.reshape(-1), row_of * rows + cats, 1)
        for r in np.flatnonzero(short < 0):
            t = int(totals[r])
            ranks = rng.choice(t, size=t - units, replace=False)
            row = out[r]
            np.subtract.at(row, np.searchsorted(np.cumsum(row), ranks, side="right"), 1)
        return out


def resample_sums(rows: Any, *, n_boot: int, seed: int | None) -> np.ndarray:
    """``(n_boot, k)`` column sums of ``n_boot`` bootstrap resamples of the rows of ``rows``.

    Exactly the distribution of ``rows[rng.integers(0, n, n)].sum(0)``; the strategy (see
    the module docstring) depends on ``rows`` alone.
    """
    mat = _as_matrix(rows)
    _check_boot(n_boot, seed)
    dr = distinct_rows(mat)
    if dr is not None:
        return distinct_sums(*dr, n_boot=int(n_boot), seed=seed)
    return counts_sums(mat, n_boot=int(n_boot), seed=seed)


# ----------------------------------------------------------------------------------------
# intervals of one statistic


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
    statistic: Statistic | str,
    *,
    groups: Sequence[Any] | None = None,
    n_boot: int = 1000,
    seed: int | None = 0,
) -> np.ndarray:
    """The ``(n_boot,)`` bootstrap distribution of ``statistic(column sums)``."""
    _check_boot(n_boot, seed)
    rows, _ = group_sums(_as_matrix(stats), groups)
    sums = resample_sums(rows, n_boot=int(n_boot), seed=seed)
    return np.asarray(_resolve(statistic)(sums), dtype=np.float64)


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
    units, resample = group_sums(rows, groups)
    value = float(fn(rows.sum(axis=0)[None, :])[0])
    n_units = units.shape[0]
    if n_units < MIN_UNITS:
        _too_few(n_units, resample, label)
        return BootstrapCI(value, None, float(confidence), n, n_units, int(n_boot), seed, resample)
    theta = np.asarray(fn(resample_sums(units, n_boot=int(n_boot), seed=seed)), dtype=np.float64)
    ci, n_bad = _percentile_ci(theta, float(confidence))
    if n_bad:
        _warn(
            f"{label}: {n_bad} of {n_boot} bootstrap resamples gave a non-finite score "
            "(e.g. no reference words drawn); the interval uses the others"
        )
    return BootstrapCI(
        value, ci, float(confidence), n, n_units, int(n_boot), seed, resample, n_nonfinite=n_bad
    )


# ----------------------------------------------------------------------------------------
# power and multiplicity


def _norm_ppf(p: float) -> float:
    from statistics import NormalDist

    return NormalDist().inv_cdf(p)


def detectable_effect(se: float, *, alpha: float, power: float = POWER) -> float:
    """Minimum detectable ``|delta|`` of a two-sided level-``alpha`` test with standard error
    ``se`` at the given power (normal approximation): ``(z(1 - alpha/2) + z(power)) * se``."""
    return (_norm_ppf(1.0 - alpha / 2.0) + _norm_ppf(power)) * se


# ----------------------------------------------------------------------------------------
# the paired test


@dataclass
class _Prepared:
    """One paired comparison ready for resampling."""

    job: PairedInput
    fa: Statistic
    fb: Statistic
    va: float
    vb: float
    n: int
    units: int
    k: int  # statistics per item
    ua: np.ndarray | None  # (units, k) base, per unit (None once released)
    ub: np.ndarray | None  # (units, k) head, per unit
    resample: Resample
    n_differing: int
    columns: np.ndarray | None  # (units, K) the columns the bootstrap resamples
    diff_form: bool  # columns are (num_b - num_a, den): delta = sum0 / sum1
    notes: list[str]
    confidence: float
    untested: str | None = None

    def release(self) -> None:
        """Drop the per-unit arrays of a large comparison once its resampling is set up; the
        sign-flip test (few units) keeps them, :meth:`unit_rows` rebuilds them on demand."""
        if self.units >= BOOTSTRAP_TEST_UNITS:
            self.ua = self.ub = self.columns = None

    def unit_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """``(ua, ub)``, rebuilt from the job when released."""
        if self.ua is None or self.ub is None:
            again = _prepare(self.job, self.confidence)
            self.ua, self.ub = again.ua, again.ub
        if self.ua is None or self.ub is None:  # pragma: no cover - _prepare always sets them
            raise RuntimeError("paired test without per-unit statistics")
        return self.ua, self.ub


def _min_differing(alpha: float) -> int:
    """The fewest differing units with which a sign-flip test can reach ``p <= alpha``."""
    return 1 + math.ceil(math.log2(1.0 / alpha) - 1e-12) if alpha < 1 else 1


def _prepare(job: PairedInput, confidence: float) -> _Prepared:
    a = _as_matrix(job.a, "stats_a")
    b = _as_matrix(job.b, "stats_b")
    if a.shape[0] != b.shape[0]:
        raise ValueError(
            f"paired test needs the same items: stats_a has {a.shape[0]} rows, "
            f"stats_b has {b.shape[0]}")
    fa = _resolve(job.aggregate)
    fb = fa if job.aggregate_b is None else _resolve(job.aggregate_b)
    n = a.shape[0]
    va = float(fa(a.sum(axis=0)[None, :])[0])
    vb = float(fb(b.sum(axis=0)[None, :])[0])
    alpha = 1.0 - confidence
    notes: list[str] = []
    need = _min_differing(alpha)
    resample: Resample = "items"
    ua, ub = a, b
    if job.groups is not None:
        ga, _ = group_sums(a, job.groups)
        gb, _ = group_sums(b, job.groups)
        differing_groups = int((ga != gb).any(axis=1).sum())
        if differing_groups >= need:
            ua, ub, resample = ga, gb, "groups"
        else:
            notes.append(
                f"only {ga.shape[0]} groups ({differing_groups} differ between the runs): too few "
                f"for a clustered test at {alpha:g} (it needs {need} differing groups); items "
                "are resampled instead, which assumes they are independent")
    diff_form = (
        isinstance(job.aggregate, str)
        and job.aggregate.strip() in ("ratio", "mean")
        and (job.aggregate_b is None or job.aggregate_b == job.aggregate)
        and ua.shape[1] == 2 and ub.shape[1] == 2
        and bool(np.array_equal(ua[:, 1], ub[:, 1]))
    )
    # Same ratio/mean aggregate over the same denominators: the difference depends only on
    # (num_b - num_a, den), which has far fewer distinct rows.
    if diff_form:
        columns = np.empty((ua.shape[0], 2))
        np.subtract(ub[:, 0], ua[:, 0], out=columns[:, 0])
        columns[:, 1] = ua[:, 1]
        # the denominators agree, so a unit differs exactly where its numerators do
        n_differing = int(np.count_nonzero(columns[:, 0]))
    else:
        columns = np.hstack([ua, ub])
        n_differing = int((ua != ub).any(axis=1).sum()) if ua.shape[1] == ub.shape[1] \
            else ua.shape[0]
    units = ua.shape[0]
    prep = _Prepared(job, fa, fb, va, vb, n, units, ua.shape[1], ua, ub, resample, n_differing,
                     columns, diff_form, notes, confidence)
    if units < 2:
        prep.untested = f"only {units} {resample}: nothing to resample"
    elif 0 < n_differing < need:
        prep.untested = (
            f"only {n_differing} of {units} {resample} differ between the runs; a paired test "
            f"at {alpha:g} needs at least {need}")
    return prep


def _deltas(prep: _Prepared, sums: np.ndarray) -> np.ndarray:
    """Resampled ``agg(head) - agg(base)`` from resampled sums of ``prep.columns``."""
    if prep.diff_form:
        with np.errstate(divide="ignore", invalid="ignore"):
            d: np.ndarray = np.where(sums[:, 1] == 0, np.nan, sums[:, 0] / sums[:, 1])
        return d
    k = prep.k
    with np.errstate(divide="ignore", invalid="ignore"):
        out: np.ndarray = (np.asarray(prep.fb(sums[:, k:]), np.float64)
                           - np.asarray(prep.fa(sums[:, :k]), np.float64))
    return out


def _flip_patterns(prep: _Prepared, n_boot: int, seed: int | None
                   ) -> tuple[np.ndarray, np.ndarray, bool]:
    """0/1 flip matrix (R, units') over the differing units and their indices; exact or not."""
    ua, ub = prep.unit_rows()
    differ = np.flatnonzero((ua != ub).any(axis=1))
    m = differ.size
    if m <= EXACT_MAX_UNITS:
        codes = np.arange(1 << m, dtype=np.int64)
        flips = ((codes[:, None] >> np.arange(m)) & 1).astype(np.float64)
        return flips, differ, True
    rng = np.random.default_rng(_stream(seed, prep.units, _FLIPS))
    raw = np.frombuffer(rng.bytes(-(-n_boot * m // 8)), dtype=np.uint8)
    bits = np.unpackbits(raw, count=n_boot * m).reshape(n_boot, m)
    return bits.astype(np.float64), differ, False


def _sign_flip_p(prep: _Prepared, delta: float, n_boot: int, seed: int | None
                 ) -> tuple[float, bool]:
    """Two-sided p-value of the sign-flip (randomisation) test: base and head of each unit
    swapped with probability 1/2; ``|delta*| >= |delta|`` counted."""
    flips, differ, exact = _flip_patterns(prep, n_boot, seed)
    ua, ub = prep.unit_rows()
    d = (ub - ua)[differ]  # (m, k)
    sa = ua.sum(axis=0)
    sb = ub.sum(axis=0)
    moved = flips @ d  # (R, k): what the flipped units move from head to base
    with np.errstate(divide="ignore", invalid="ignore"):
        star = (np.asarray(prep.fb(sb[None, :] - moved), np.float64)
                - np.asarray(prep.fa(sa[None, :] + moved), np.float64))
    tol = 1e-12 * max(1.0, abs(delta))
    hits = int((np.abs(np.nan_to_num(star, nan=np.inf)) >= abs(delta) - tol).sum())
    if exact:
        return hits / flips.shape[0], True
    return (hits + 1) / (flips.shape[0] + 1), False


def _finish(prep: _Prepared, sums: np.ndarray | None, *, n_boot: int, seed: int | None,
            confidence: float) -> PairedTest:
    job = prep.job
    delta = prep.vb - prep.va
    units = prep.units
    alpha = 1.0 - confidence
    base: dict[str, Any] = dict(
                value_a=prep.va, value_b=prep.vb, delta=delta, confidence=float(confidence),
                higher_is_better=bool(job.higher_is_better), n=prep.n, n_units=units,
                n_differing=prep.n_differing, n_boot=int(n_boot), seed=seed,
                resample=prep.resample)
    notes = list(prep.notes)
    ci: tuple[float, float] | None = None
    p_improve: float | None = None
    se: float | None = None
    mde: float | None = None
    untested = prep.untested
    boot: np.ndarray | None = None
    if sums is not None:
        boot = _deltas(prep, sums)
        ok = np.isfinite(boot)
        if ok.sum() < 0.9 * n_boot:
            untested = untested or (f"{n_boot - int(ok.sum())} of {n_boot} resamples gave no "
                                    "value (e.g. no reference words drawn)")
            boot = None
        else:
            if not ok.all():
                notes.append(f"{n_boot - int(ok.sum())} of {n_boot} resamples gave no value "
                             "and were left out")
            boot = boot[ok]
    if boot is not None:
        ci, _ = _percentile_ci(boot, float(confidence))
        pos = int((boot > 0).sum())
        neg = int((boot < 0).sum())
        ties = boot.size - pos - neg
        better = pos if job.higher_is_better else neg
        p_improve = (better + 0.5 * ties) / boot.size
        se = float(np.std(boot) * math.sqrt(units / (units - 1))) if units > 1 else None
        if se is not None:
            mde = detectable_effect(se, alpha=alpha)
    p_value: float | None = None
    test: TestMethod | None = None
    if untested is None:
        if prep.n_differing == 0:
            p_value, test = 1.0, "exact-sign-flip"
            notes.append("base and head are identical on every unit")
        elif units < BOOTSTRAP_TEST_UNITS or boot is None:
            p_value, exact = _sign_flip_p(prep, delta, n_boot, seed)
            test = "exact-sign-flip" if exact else "sign-flip"
        else:
            le = int((boot <= 0).sum())
            ge = int((boot >= 0).sum())
            p_value = min(1.0, 2.0 * (min(le, ge) + 1) / (boot.size + 1))
            test = "bootstrap"
    return PairedTest(ci=ci, p_improve=p_improve, p_value=p_value, test=test, se=se, mde=mde,
                      untested=untested, notes=tuple(notes), **base)


def paired_tests(
    jobs: Iterable[PairedInput],
    *,
    n_boot: int = 10_000,
    confidence: float = 0.95,
    seed: int | None = 0,
) -> list[PairedTest]:
    """Run many paired comparisons; identical numbers to running each alone.

    Comparisons over the same number of units that need the counts strategy share one
    stream of resample counts (one product for all of them, or several over the same counts
    past :data:`COLUMN_BYTES` of columns); the others use the distinct-row strategy.
    ``jobs`` are taken one at a time: each one's per-unit arrays are released as soon as its
    resampling is set up, so memory does not grow with an ``(n, k)`` copy per comparison
    (give the inputs as :class:`ItemColumns` to copy nothing). Intervals need
    :data:`MIN_UNITS` units.
    """
    check_confidence(confidence)
    _check_boot(n_boot, seed)
    preps: list[_Prepared] = []
    sums: list[np.ndarray | None] = []
    batches: dict[int, tuple[_CountsColumns, list[tuple[int, list[int]]]]] = {}

    def flush(units: int) -> None:
        store, members = batches.pop(units)
        out = store.sums(n_boot=int(n_boot), seed=seed)
        for i, at in members:
            sums[i] = out[:, at]

    for job in jobs:
        prep = _prepare(job, float(confidence))
        preps.append(prep)
        sums.append(None)
        units = prep.units
        if units >= MIN_UNITS and prep.columns is not None:
            dr = distinct_rows(prep.columns, max_rows=PAIRED_MAX_DISTINCT)
            if dr is not None:
                sums[-1] = distinct_sums(*dr, n_boot=int(n_boot), seed=seed)
            else:
                store, members = batches.setdefault(units, (_CountsColumns(units), []))
                cols = prep.columns
                members.append((len(preps) - 1, [store.add(cols[:, j])
                                                 for j in range(cols.shape[1])]))
                if store.nbytes >= COLUMN_BYTES:
                    flush(units)
        prep.release()
    for units in list(batches):
        flush(units)
    return [_finish(p, s, n_boot=int(n_boot), seed=seed, confidence=float(confidence))
            for p, s in zip(preps, sums, strict=True)]


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
) -> PairedTest:
    """The paired test of ``aggregate(b) - aggregate(a)`` over the same items (see the module
    docstring); ``stats_a`` (base) and ``stats_b`` (head) are ``(n, k)`` per-item statistics
    in the same item order. With fewer than :data:`MIN_UNITS` units there is no interval (and
    a warning naming ``n``)."""
    job = PairedInput(stats_a, stats_b, aggregate, bool(higher_is_better), groups=groups,
                      aggregate_b=aggregate_b, label=label)
    (res,) = paired_tests([job], n_boot=n_boot, confidence=confidence, seed=seed)
    if res.n_units < MIN_UNITS:
        _too_few(res.n_units, res.resample, label)
    return res
