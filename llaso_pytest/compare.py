"""Compare a run record with a baseline record: per-metric verdicts, as plain data.

Metrics are matched by ``(nodeid, name)``. Where both runs carry per-item statistics for the
same item ids, the difference is tested with a *paired bootstrap* (resampling the paired items,
or the speaker groups when the baseline gives ``groups``); otherwise the two recorded intervals
are compared (a normal approximation of the difference of two independent estimates). Every
:class:`MetricDiff` says which method it used.

The resampling is batched across metrics: all metrics with the same number of resampling units
share one stream of multinomial resample counts (seeded from ``seed`` and that number only, so a
metric's interval never depends on which other metrics were compared), and their statistics are
summed with one matrix product per chunk of resamples. That is what makes 100 metrics x 100k
items x 10,000 resamples a matter of seconds.

This module never imports pytest (usable from a notebook); :mod:`llaso_pytest.report` renders a
:class:`Comparison`, :mod:`llaso_pytest.cli` and the plugin call :func:`compare_records`.
"""

from __future__ import annotations

import functools
import math
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from llaso_pytest.record import RunRecord

__all__ = [
    "DEFAULT_CONFIDENCE",
    "DEFAULT_N_BOOT",
    "DEFAULT_SEED",
    "MIN_PAIRED_UNITS",
    "VERDICTS",
    "Comparison",
    "ItemChange",
    "MetricDiff",
    "ProvenanceDiff",
    "RunInfo",
    "SignatureDiff",
    "Tolerance",
    "check_record",
    "compare_files",
    "compare_records",
    "load_record",
    "multinomial_counts",
    "parse_tolerances",
]

VERDICTS = ("improved", "regressed", "unchanged", "new", "removed", "incomparable")
DEFAULT_N_BOOT = 10_000
DEFAULT_SEED = 0
DEFAULT_CONFIDENCE = 0.95
#: Fewer paired resampling units than this: no paired bootstrap (the intervals are compared).
MIN_PAIRED_UNITS = 10
#: How many flipped item ids / largest changes a MetricDiff keeps (the counts are always exact).
MAX_FLIPS_KEPT = 500
MAX_CHANGES_KEPT = 10
# Rows of resample counts generated and multiplied per chunk (memory per thread: about
# rows x units x 13 bytes, e.g. 170 MB for 100k units).
_CHUNK_ROWS = 128

# Provenance sections whose differences change numbers (timestamps, cwd, command: not these).
PROVENANCE_SECTIONS = ("models", "datasets", "prompts", "packages", "seed", "deterministic",
                       "torch", "gpu", "python", "platform", "cpu", "environment")


# ----------------------------------------------------------------------------------------
# tolerances


@dataclass(frozen=True)
class Tolerance:
    """How much worse a metric may get and still count as ``unchanged``.

    ``amount`` is non-negative; ``unit`` is ``"abs"`` (same units as the value), ``"pp"``
    (percentage points: 0.5pp = 0.005 of a 0..1 value) or ``"rel"`` (percent of the baseline
    value). ``sign`` is the direction written by the user (``+``: the metric may go up, as
    WER; ``-``: it may go down, as BLEU; ``None``: either), checked against the metric.
    """

    pattern: str
    amount: float
    unit: str = "abs"
    sign: str | None = None
    text: str = ""

    def absolute(self, base_value: float) -> float:
        """The tolerance in the value's own units for a given baseline value."""
        if self.unit == "pp":
            return self.amount / 100.0
        if self.unit == "rel":
            return abs(base_value) * self.amount / 100.0
        return self.amount

    @property
    def targets_test(self) -> bool:
        """``nodeid_glob::name`` (one test, or tests matching a glob) rather than a name."""
        return "::" in self.pattern and not self.pattern.startswith("::")

    def _subject(self, nodeid: str, name: str) -> str:
        return f"{nodeid}::{name}" if self.targets_test else name

    def matches(self, nodeid: str, name: str) -> bool:
        """Whether this tolerance applies to metric ``name`` of test ``nodeid``.

        Only ``*`` (any text) and ``?`` (one character) are wildcards; everything else is
        literal, so the brackets of a parametrized id (``test_wer[noisy]``) match themselves
        (``fnmatch`` would read ``[noisy]`` as a character class).
        """
        return _glob(self.pattern).fullmatch(self._subject(nodeid, name)) is not None

    def specificity(self, nodeid: str, name: str) -> tuple[int, int]:
        """Sort key of a matching tolerance, most specific first: the exact ``nodeid::name``,
        then node-id globs, the exact metric name, name globs; among globs of one kind the one
        with more literal characters."""
        exact = self.pattern == self._subject(nodeid, name)
        rank = (0 if exact else 1) if self.targets_test else (2 if exact else 3)
        literal = len(self.pattern) - self.pattern.count("*") - self.pattern.count("?")
        return rank, -literal


@functools.lru_cache(maxsize=256)
def _glob(pattern: str) -> re.Pattern[str]:
    """``pattern`` as a regular expression in which only ``*`` and ``?`` are wildcards."""
    return re.compile("".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch)
                              for ch in pattern), re.DOTALL)


_TOL_RE = re.compile(
    r"^\s*(?P<pattern>.+?)\s*[:=]\s*(?P<sign>[+-])?\s*(?P<num>\d+(?:\.\d*)?|\.\d+)"
    r"\s*(?P<unit>pp|%|abs)?\s*$"
)


def parse_tolerances(text: str | Iterable[str] | None) -> dict[str, Tolerance]:
    """Parse ``"wer:+0.5pp, bleu:-1.0, rougeL:2%"`` (or a list of such entries).

    Keys are metric names or globs (``rouge*``), or ``nodeid_glob::name`` to target one test;
    only ``*`` and ``?`` are wildcards. The most specific matching entry applies (see
    :func:`_find_tolerance`).
    Units: none = absolute, ``pp`` = percentage points, ``%`` = relative to the baseline value.
    Raises :class:`ValueError` naming the bad entry.
    """
    if text is None:
        return {}
    chunks = [text] if isinstance(text, str) else list(text)
    entries = [e.strip() for chunk in chunks for e in re.split(r"[,\n;]", chunk)]
    out: dict[str, Tolerance] = {}
    for entry in entries:
        if not entry or entry.startswith("#"):
            continue
        m = _TOL_RE.match(entry)
        if m is None:
            raise ValueError(
                f"bad tolerance {entry!r}: expected METRIC:[+|-]AMOUNT[pp|%], "
                "e.g. 'wer:+0.5pp' or 'bleu:-1.0'"
            )
        amount = float(m["num"])
        if not math.isfinite(amount):
            raise ValueError(f"bad tolerance {entry!r}: amount must be finite")
        unit = {"pp": "pp", "%": "rel", "abs": "abs", None: "abs"}[m["unit"]]
        pattern = m["pattern"]
        if pattern in out:
            raise ValueError(f"bad tolerance {entry!r}: {pattern!r} given twice")
        out[pattern] = Tolerance(pattern=pattern, amount=amount, unit=unit, sign=m["sign"],
                                 text=entry)
    return out


def _find_tolerance(tolerances: Mapping[str, Tolerance], nodeid: str, name: str
                    ) -> Tolerance | None:
    """The most specific tolerance for ``(nodeid, name)`` (see :meth:`Tolerance.specificity`;
    ties go to the entry given first), or ``None``."""
    matching = [t for t in tolerances.values() if t.matches(nodeid, name)]
    if not matching:
        return None
    return min(matching, key=lambda t: t.specificity(nodeid, name))  # min() keeps the first tie


# ----------------------------------------------------------------------------------------
# result data


@dataclass(frozen=True)
class SignatureDiff:
    field: str
    base: Any
    head: Any


@dataclass(frozen=True)
class ItemChange:
    """One item's per-item score in both runs; ``change`` is oriented (positive = better)."""

    item: str
    base: float
    head: float
    change: float


@dataclass(frozen=True)
class ProvenanceDiff:
    """A provenance value that differs (``None`` on one side: present only in the other)."""

    path: str
    base: Any
    head: Any


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    source: str
    commit: str | None = None
    dirty: bool | None = None
    started_at: str | None = None
    complete: bool = True


@dataclass(frozen=True)
class MetricDiff:
    """The comparison of one metric (one ``(nodeid, name)``) between base and head."""

    nodeid: str
    name: str
    verdict: str
    method: str | None = None  # paired-bootstrap | paired-cluster-bootstrap | unpaired-intervals | none
    higher_is_better: bool = True
    base_value: float | None = None
    head_value: float | None = None
    base_ci: tuple[float, float] | None = None
    head_ci: tuple[float, float] | None = None
    base_n: int | None = None
    head_n: int | None = None
    delta: float | None = None  # head - base (raw units; see higher_is_better)
    delta_ci: tuple[float, float] | None = None
    p_improve: float | None = None  # P(head better than base)
    p_value: float | None = None  # two-sided, H0: no difference
    significant: bool = False
    n_paired: int = 0
    n_base_only: int = 0
    n_head_only: int = 0
    n_units: int = 0  # resampling units (items, or groups for the cluster bootstrap)
    tolerance: float | None = None  # absolute units
    tolerance_text: str | None = None
    within_tolerance: bool = False
    signature_diffs: tuple[SignatureDiff, ...] = ()
    pass_fail: bool = False
    n_fixed: int = 0  # bad -> good
    n_broken: int = 0  # good -> bad
    fixed: tuple[str, ...] = ()
    broken: tuple[str, ...] = ()
    worst_changes: tuple[ItemChange, ...] = ()
    best_changes: tuple[ItemChange, ...] = ()
    notes: tuple[str, ...] = ()
    signature: str | None = None

    @property
    def key(self) -> str:
        return f"{self.nodeid}::{self.name}"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["key"] = self.key
        out: dict[str, Any] = _finite(d)
        return out


@dataclass(frozen=True)
class Comparison:
    """Everything a report shows: runs, settings, per-metric verdicts, provenance changes."""

    base: RunInfo
    head: RunInfo
    metrics: tuple[MetricDiff, ...]
    provenance_diffs: tuple[ProvenanceDiff, ...] = ()
    n_boot: int = DEFAULT_N_BOOT
    seed: int = DEFAULT_SEED
    confidence: float = DEFAULT_CONFIDENCE
    tolerances: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def counts(self) -> dict[str, int]:
        out = {v: 0 for v in VERDICTS}
        for m in self.metrics:
            out[m.verdict] += 1
        return out

    @property
    def regressions(self) -> tuple[MetricDiff, ...]:
        return tuple(m for m in self.metrics if m.verdict == "regressed")

    @property
    def has_regression(self) -> bool:
        """True when any metric regressed significantly (beyond its tolerance)."""
        return any(m.verdict == "regressed" for m in self.metrics)

    def summary_line(self) -> str:
        c = self.counts()
        parts = [f"{c['improved']} improved", f"{c['regressed']} regressed",
                 f"{c['unchanged']} unchanged", f"{c['incomparable']} incomparable"]
        if c["new"]:
            parts.append(f"{c['new']} new")
        if c["removed"]:
            parts.append(f"{c['removed']} removed")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = _finite({
            "kind": "llaso-comparison",
            "schema_version": 1,
            "base": asdict(self.base),
            "head": asdict(self.head),
            "settings": {"n_boot": self.n_boot, "seed": self.seed,
                         "confidence": self.confidence, "tolerances": list(self.tolerances)},
            "counts": self.counts(),
            "has_regression": self.has_regression,
            "summary": self.summary_line(),
            "metrics": [m.to_dict() for m in self.metrics],
            "provenance_diffs": [asdict(p) for p in self.provenance_diffs],
            "warnings": list(self.warnings),
        })
        return out


def _finite(x: Any) -> Any:
    """JSON-safe: tuples to lists, NaN/inf to None."""
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


# ----------------------------------------------------------------------------------------
# loading


def check_record(record: Mapping[str, Any] | RunRecord, *, source: str) -> int:
    """Validate every result of a record the way :func:`compare_records` reads it, so that a
    malformed baseline is refused up front; :class:`~llaso_pytest.record.RecordError` naming
    ``source``, the test and the field. Returns the number of results."""
    rec = _as_dict(record, source)
    results = _results(rec, source)
    checked: dict[int, list[str]] = {}
    for (nodeid, _), r in results.items():
        _parse_result(r, source, nodeid, checked)
    return len(results)


def load_record(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and validate a run record file as a dict; :class:`~llaso_pytest.record.RecordError`
    (naming the file) when it is missing, truncated, foreign or of an unknown schema version."""
    from llaso_pytest.record import read_record

    return read_record(path).to_dict()


def _as_dict(record: Mapping[str, Any] | RunRecord, source: str) -> dict[str, Any]:
    to_dict = getattr(record, "to_dict", None)
    if callable(to_dict):
        return dict(to_dict())
    from llaso_pytest.record import parse_record

    return parse_record(dict(record), source=source).to_dict()  # type: ignore[arg-type]


def _run_info(rec: Mapping[str, Any], source: str) -> RunInfo:
    git = (rec.get("provenance") or {}).get("git") or {}
    return RunInfo(
        run_id=str(rec.get("run_id", "?")),
        source=source,
        commit=git.get("commit") if isinstance(git, Mapping) else None,
        dirty=git.get("dirty") if isinstance(git, Mapping) else None,
        started_at=rec.get("started_at"),
        complete=rec.get("complete", True) is not False,
    )


def _results(rec: Mapping[str, Any], source: str) -> dict[tuple[str, str], Mapping[str, Any]]:
    from llaso_pytest.record import RecordError

    out: dict[tuple[str, str], Mapping[str, Any]] = {}
    for test in rec.get("tests", ()):
        for r in test.get("results", ()):
            if not isinstance(r, Mapping):
                raise RecordError(f"{source}: a result of {test['nodeid']} is not a JSON object "
                                  f"({type(r).__name__}); see docs/architecture.md, contract 2")
            name = r.get("name")
            if not isinstance(name, str) or not name:
                raise RecordError(f"{source}: a result of {test['nodeid']} has no name (a "
                                  f"non-empty string), got {name!r}")
            key = (str(test["nodeid"]), name)
            if key in out:
                raise RecordError(
                    f"{source}: metric {key[1]!r} recorded twice in {key[0]}; result names "
                    "must be unique within a test"
                )
            out[key] = r
    return out


# ----------------------------------------------------------------------------------------
# resampling


def _poisson_tables(lam: float) -> tuple[list[int], int, np.ndarray]:
    """Marsaglia's table method for Poisson(lam) on random bytes, exactly.

    Returns the byte thresholds ``c_k`` (a byte ``v`` below ``A = c_last`` means a count of
    ``#{k: v >= c_k}``), ``A`` and the CDF of the residual distribution used for bytes
    ``v >= A`` (drawn with a double-precision uniform). Every count has its exact probability.
    """
    import numpy as np

    pmf = np.array([math.exp(-lam) * lam**k / math.factorial(k) for k in range(40)])
    pmf /= pmf.sum()
    slots = np.floor(pmf * 256.0).astype(np.int64)
    a = int(slots.sum())
    residual = pmf - slots / 256.0
    residual = np.clip(residual, 0.0, None)
    rcdf = np.cumsum(residual) / residual.sum()
    rcdf[-1] = 1.0
    cum = np.cumsum(slots)
    kmax = int(np.flatnonzero(slots)[-1])
    thresholds = [int(c) for c in cum[:kmax]]  # count >= k+1 iff v >= cum[k]
    return thresholds, a, rcdf


@functools.lru_cache(maxsize=8)
def _count_tables(units: int) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """Tables for :func:`multinomial_counts` (pure, cached by ``units``).

    Marsaglia's table method for a *pair* of iid Poisson(lam) counts on 16 random bits: value
    ``v < A`` of the 16 bits indexes ``pairs[v]`` (the two counts as float32, packed in one
    uint64); ``v >= A`` (a fraction ~1e-3) draws the pair from the residual distribution
    ``rcdf`` over ``codes`` with a double-precision uniform. Each pair has its exact
    probability. Returns ``(A, pairs, rcdf, codes)``.
    """
    import numpy as np

    lam = max(0.05, 1.0 - 3.0 / math.sqrt(units))
    kmax = 40
    pmf = np.array([math.exp(-lam) * lam**k / math.factorial(k) for k in range(kmax)])
    pmf /= pmf.sum()
    joint = np.outer(pmf, pmf).ravel()  # index c1 * kmax + c2
    slots = np.floor(joint * 65536.0).astype(np.int64)
    a = int(slots.sum())
    combos = np.repeat(np.arange(joint.size), slots)
    pairs = np.zeros((65536, 2), dtype=np.float32)
    pairs[:a, 0] = combos // kmax
    pairs[:a, 1] = combos % kmax
    residual = np.clip(joint - slots / 65536.0, 0.0, None)
    keep = np.flatnonzero(residual > 0)
    rcdf = np.cumsum(residual[keep]) / residual[keep].sum()
    rcdf[-1] = 1.0
    codes = np.stack([keep // kmax, keep % kmax], axis=1).astype(np.float32)
    return a, pairs.view(np.uint64).ravel(), rcdf, codes


def multinomial_counts(rng: np.random.Generator, rows: int, units: int) -> np.ndarray:
    """``rows`` independent Multinomial(units, uniform) count vectors, as ``float32 (rows, units)``.

    Bootstrap resample counts, exactly, at about one table look-up per two cells: iid
    Poisson(lam) counts with ``lam = 1 - 3/sqrt(units)`` (Marsaglia's table method on 16
    random bits per pair of cells, see :func:`_count_tables`), then the missing
    ``units - total`` draws are added to uniformly chosen cells. Given its total, a vector of
    iid Poisson counts is multinomial whatever ``lam``, and adding iid uniform draws keeps it
    so. The rare row whose total overshoots (~1e-3 of the rows) has a uniformly chosen subset
    of its surplus draws removed, which is exact too.
    """
    import numpy as np

    if rows <= 0 or units <= 0:
        return np.zeros((max(rows, 0), max(units, 0)), dtype=np.float32)
    a, pairs, rcdf, codes = _count_tables(units)
    size = rows * units
    n_pairs = -(-size // 2)
    raw = rng.bit_generator.random_raw(-(-n_pairs // 4))  # 16 random bits per pair of cells
    v = raw.view(np.uint16)[:n_pairs]
    flat = pairs[v].view(np.float32)[:size]
    odd = np.flatnonzero(v >= a)
    if odd.size:
        drawn = codes[np.searchsorted(rcdf, rng.random(odd.size), side="right")]
        both = flat[: 2 * v.size].reshape(-1, 2) if flat.size == 2 * v.size else None
        if both is not None:
            both[odd] = drawn
        else:  # odd number of cells: the last pair is cut in half
            for i, (c1, c2) in zip(odd.tolist(), drawn.tolist()):
                if 2 * i < size:
                    flat[2 * i] = c1
                if 2 * i + 1 < size:
                    flat[2 * i + 1] = c2
    counts = flat.reshape(rows, units)
    # float32 sums of small integer counts are exact below 2**24
    totals = counts.sum(axis=1, dtype=np.float32 if units < 1 << 24 else np.float64)
    totals = totals.astype(np.int64)
    short = units - totals
    under = short > 0
    if under.any():
        rows_idx = np.repeat(np.flatnonzero(under), short[under])
        cells = rows_idx * units + rng.integers(0, units, size=rows_idx.size)
        uniq, times = np.unique(cells, return_counts=True)
        flat[uniq] += times
    for r in np.flatnonzero(short < 0):
        t = int(totals[r])
        row = counts[r]
        ranks = rng.choice(t, size=t - units, replace=False)
        cum = np.cumsum(row, dtype=np.float64)
        np.subtract.at(row, np.searchsorted(cum, ranks, side="right"), 1)
    return counts


#: Paired data with at most this many distinct (base, head) statistic rows is resampled as a
#: multinomial over those rows (exactly the same bootstrap, O(n_boot x rows) instead of items).
MAX_CATEGORIES = 64


def _categories(sa: np.ndarray, sb: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Distinct joint rows of small-integer statistics and their counts, or ``None``."""
    import numpy as np

    cols = [sa[:, j] for j in range(sa.shape[1])] + [sb[:, j] for j in range(sb.shape[1])]
    los, spans = [], []
    total = 1.0
    for c in cols:
        lo, hi = float(c.min()), float(c.max())
        if not (math.isfinite(lo) and math.isfinite(hi)):
            return None
        span = math.floor(hi - lo) + 1
        total *= span
        if total > MAX_CATEGORIES * 64:
            return None
        los.append(lo)
        spans.append(span)
    code = np.zeros(sa.shape[0], dtype=np.float64)
    radix = 1.0
    radices = []
    for c, lo, span in zip(cols, los, spans):
        shifted = c - lo
        if not np.array_equal(shifted, np.floor(shifted)):
            return None
        code += shifted * radix
        radices.append(radix)
        radix *= span
    tally = np.bincount(code.astype(np.int64))
    present = np.flatnonzero(tally)
    if present.size > MAX_CATEGORIES:
        return None
    rows = np.empty((present.size, len(cols)))
    rest = present.astype(np.float64)
    for j in range(len(cols) - 1, -1, -1):
        rows[:, j] = np.floor(rest / radices[j])
        rest -= rows[:, j] * radices[j]
    return rows + np.asarray(los), tally[present].astype(np.float64)


def _categorical_sums(rows: np.ndarray, counts: np.ndarray, *, n_boot: int, seed: int,
                      key: str) -> np.ndarray:
    """Bootstrap sums ``(n_boot, cols)`` by resampling ``units`` items from the row table."""
    import zlib

    import numpy as np

    units = int(counts.sum())
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), units, zlib.crc32(
        key.encode("utf-8"))]))
    draws = rng.multinomial(units, counts / units, size=n_boot).astype(np.float64)
    sums: np.ndarray = draws @ rows
    return sums


def _worker_threads(n_chunks: int) -> int:
    """Threads for the resampling: one per core (at most 4), when ``threadpoolctl`` can pin
    BLAS to one thread each; otherwise one (and BLAS threads do the parallel work)."""
    env = os.environ.get("LLASO_COMPARE_THREADS")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    wanted = int(env) if env and env.isdigit() else min(4, cores or 1)
    if wanted <= 1 or n_chunks <= 1:
        return 1
    try:
        import threadpoolctl  # noqa: F401
    except ImportError:
        return 1
    return min(wanted, n_chunks)


@dataclass
class _PairedJob:
    """One metric's paired data: per-unit statistics of base (a) and head (b)."""

    index: int
    kind: str
    a: np.ndarray  # (units, k)
    b: np.ndarray  # (units, k)
    cols_a: list[int] = field(default_factory=list)
    cols_b: list[int] = field(default_factory=list)
    # For "mean"/"ratio" with the same denominator in both runs (the same references):
    # agg(b) - agg(a) = sum(b0 - a0) / sum(den), so only two columns need resampling.
    shared_den: bool = False

    def resampled_columns(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        import numpy as np

        if self.shared_den:
            return [np.ascontiguousarray(self.b[:, 0] - self.a[:, 0]),
                    np.ascontiguousarray(self.a[:, 1])], []
        return ([np.ascontiguousarray(self.a[:, j]) for j in range(self.a.shape[1])],
                [np.ascontiguousarray(self.b[:, j]) for j in range(self.b.shape[1])])

    def boot_delta(self, sums: np.ndarray) -> np.ndarray:
        """Bootstrap distribution of agg(head) - agg(base) from the resampled column sums."""
        import numpy as np

        from llaso_pytest.metrics.base import aggregate_fn

        if self.shared_den:
            num, den = sums[:, self.cols_a[0]], sums[:, self.cols_a[1]]
            with np.errstate(divide="ignore", invalid="ignore"):
                out: np.ndarray = np.where(den == 0, np.nan, num / den)
            return out
        agg = aggregate_fn(self.kind)
        delta: np.ndarray = agg(sums[:, self.cols_b]) - agg(sums[:, self.cols_a])
        return delta


def _colsums(m: np.ndarray) -> np.ndarray:
    """Column sums of a tall C-ordered matrix (a matrix-vector product: ``sum(axis=0)`` on
    such a matrix walks it row by row and is many times slower)."""
    import numpy as np

    out: np.ndarray = np.ones(m.shape[0], dtype=np.float64) @ np.asarray(m, dtype=np.float64)
    return out


def _resample_sums(jobs: list[_PairedJob], units: int, *, n_boot: int, seed: int
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap sums for every job sharing ``units`` resampling units.

    Returns ``(sums (n_boot, K) float64, column means)``; job columns index into it. Identical
    columns (e.g. the reference length both runs share) are multiplied once.
    """
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np

    columns: list[np.ndarray] = []
    seen: dict[tuple[float, float, float], list[int]] = {}

    def col_index(c: np.ndarray) -> int:
        # cheap fingerprint first, exact comparison only on a match
        key = (float(c[0]), float(c[-1]), float(c.sum()))
        for got in seen.get(key, ()):
            if np.array_equal(columns[got], c):
                return got
        seen.setdefault(key, []).append(len(columns))
        columns.append(c)
        return len(columns) - 1

    for job in jobs:
        cols_a, cols_b = job.resampled_columns()
        job.cols_a = [col_index(c) for c in cols_a]
        job.cols_b = [col_index(c) for c in cols_b]
    mat = np.column_stack(columns).astype(np.float64)
    means = _colsums(mat) / mat.shape[0]
    centred = (mat - means).astype(np.float32)  # sums of resamples of `units` rows: exact restore
    out = np.empty((n_boot, mat.shape[1]), dtype=np.float64)
    n_chunks = -(-n_boot // _CHUNK_ROWS)
    root = np.random.SeedSequence([int(seed), int(units)])
    seeds = root.spawn(n_chunks)

    def work(i: int) -> None:
        lo = i * _CHUNK_ROWS
        hi = min(n_boot, lo + _CHUNK_ROWS)
        w = multinomial_counts(np.random.default_rng(seeds[i]), hi - lo, units)
        out[lo:hi] = w @ centred

    workers = _worker_threads(n_chunks)
    if workers == 1:
        for i in range(n_chunks):
            work(i)
    else:
        # Our threads split the chunks; each matrix product runs on one BLAS thread (BLAS
        # threads on top of ours oversubscribe the cores and stall under load).
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="blas"), \
                ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(work, range(n_chunks)))
    out += units * means
    # Integer statistics (counts) resample to integer sums; the float32 product is off by far
    # less than 0.5, so rounding restores them exactly (a count of 0 must stay 0, not -1e-6:
    # BLEU takes logs of precisions, and `correct == 0` decides its smoothing).
    integral = np.all(mat == np.rint(mat), axis=0)
    if integral.any():
        out[:, integral] = np.rint(out[:, integral])
    return out, means


# ----------------------------------------------------------------------------------------
# per-metric comparison


def _norm_ppf(p: float) -> float:
    from statistics import NormalDist

    return NormalDist().inv_cdf(p)


def _norm_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


@dataclass(frozen=True)
class _Side:
    """What the comparer needs of one recorded result (Contract 2), arrays already NumPy."""

    name: str
    value: float
    ci: tuple[float, float] | None
    confidence: float
    n: int
    higher_is_better: bool
    signature: Any  # metrics.base.Signature
    aggregate: str
    item_ids: Sequence[str]
    groups: Sequence[str] | None
    stats: dict[str, np.ndarray]
    scores: np.ndarray | None

    def stat_matrix(self) -> np.ndarray:
        import numpy as np

        return np.column_stack(list(self.stats.values()))


def _float_or_nan(x: Any) -> float:
    if x is None:
        return float("nan")
    if isinstance(x, (str, bool)):
        raise TypeError(f"expected a number, got {_short(x)}")
    return float(x)


def _id_list(value: Any, what: str, checked: dict[int, list[str]] | None = None) -> list[str]:
    """Item ids or groups of a result: a list of strings (integers are taken as their text,
    as :func:`llaso_pytest.metrics.base.check_ids` does); :class:`RecordError` otherwise.

    ``checked`` remembers lists already validated, by identity (metrics of one test set often
    share one list in memory); the caller keeps the records, hence the lists, alive meanwhile.
    """
    from llaso_pytest.record import RecordError

    if not isinstance(value, list):
        raise RecordError(f"{what} must be a list of strings, not {type(value).__name__} "
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
            raise RecordError(f"{what} must be a list of strings; element {i} is "
                              f"{type(x).__name__} ({_short(x)})")
    return [x if isinstance(x, str) else str(x) for x in value]


def _object_or_empty(value: Any, what: str, expected: str) -> Mapping[str, Any]:
    """A JSON object field (``{}`` when absent), or a :class:`RecordError` naming it."""
    from llaso_pytest.record import RecordError

    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise RecordError(f"{what} must be {expected}, not {type(value).__name__} ({_short(value)})")
    return value


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _parse_result(d: Mapping[str, Any], source: str, nodeid: str,
                  checked: dict[int, list[str]] | None = None) -> _Side:
    """Validate one result dict; :class:`RecordError` naming the file, test and field."""
    import numpy as np

    from llaso_pytest.metrics.base import Signature
    from llaso_pytest.record import RecordError

    name = d.get("name") if isinstance(d, Mapping) else None
    where = f"{source}: result {name!r} of {nodeid}"
    if not isinstance(d, Mapping):
        raise RecordError(f"{source}: a result of {nodeid} is not a JSON object")
    required = ("name", "value", "ci", "confidence", "n", "higher_is_better", "signature",
                "aggregate")
    missing = [k for k in required if k not in d]
    if missing:
        raise RecordError(f"{where} lacks {', '.join(missing)} (see docs/architecture.md, "
                          "contract 2)")
    if not isinstance(d["higher_is_better"], bool):
        raise RecordError(f"{where}: 'higher_is_better' must be true or false, not "
                          f"{_short(d['higher_is_better'])}")
    items = _object_or_empty(d.get("items"), f"{where}: 'items'",
                             "an object with ids, stats, scores and groups")
    raw_ids = items.get("ids")
    ids = [] if raw_ids is None else _id_list(raw_ids, f"{where}: items.ids", checked)
    raw_groups = items.get("groups")
    groups = None if raw_groups is None else \
        _id_list(raw_groups, f"{where}: items.groups", checked)
    raw_stats = _object_or_empty(items.get("stats"), f"{where}: items.stats",
                                 "an object of per-item columns")
    ci = d["ci"]
    if ci is not None and (not isinstance(ci, list) or len(ci) != 2):
        raise RecordError(f"{where}: 'ci' must be null or a list [low, high], not {_short(ci)}")
    try:
        stats = {str(k): np.asarray(v, dtype=np.float64) for k, v in raw_stats.items()}
        scores = items.get("scores")
        side = _Side(
            name=str(d["name"]),
            value=_float_or_nan(d["value"]),
            ci=None if ci is None else (_float_or_nan(ci[0]), _float_or_nan(ci[1])),
            confidence=float(d["confidence"]),
            n=int(d["n"]),
            higher_is_better=d["higher_is_better"],
            signature=Signature.from_record(d["signature"]),
            aggregate=str(d["aggregate"]),
            item_ids=ids,
            groups=groups,
            stats=stats,
            scores=None if scores is None else np.asarray(scores, dtype=np.float64),
        )
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise RecordError(f"{where} is malformed: {exc}") from exc
    lengths = {f"stats.{k}": v.shape[0] if v.ndim == 1 else -1 for k, v in stats.items()}
    if side.scores is not None:
        lengths["scores"] = side.scores.shape[0] if side.scores.ndim == 1 else -1
    if side.groups is not None:
        lengths["groups"] = len(side.groups)
    bad = {k: v for k, v in lengths.items() if v != len(ids)}
    if stats and bad:
        raise RecordError(f"{where}: {len(ids)} item ids but "
                          + ", ".join(f"{k} has {v if v >= 0 else 'a non-list'}"
                                      for k, v in bad.items()))
    return side


def _signature_diffs(a: _Side, b: _Side) -> tuple[SignatureDiff, ...]:
    from llaso_pytest.metrics.base import RESAMPLING_FIELDS

    names = a.signature.diff(b.signature, ignore=RESAMPLING_FIELDS)
    diffs = [SignatureDiff(k, a.signature.fields.get(k), b.signature.fields.get(k)) for k in names]
    if a.aggregate != b.aggregate:
        diffs.append(SignatureDiff("aggregate", a.aggregate, b.aggregate))
    if a.higher_is_better != b.higher_is_better:
        diffs.append(SignatureDiff("higher_is_better", a.higher_is_better, b.higher_is_better))
    if list(a.stats) != list(b.stats) and a.stats and b.stats:
        diffs.append(SignatureDiff("stats", list(a.stats), list(b.stats)))
    return tuple(diffs)


@dataclass
class _Pairing:
    ia: np.ndarray
    ib: np.ndarray
    n_base_only: int
    n_head_only: int
    ids: Sequence[str]


def _pair(a: _Side, b: _Side) -> _Pairing | str:
    """Index arrays of the items both runs hold (base order), or the reason there are none."""
    import numpy as np

    if not a.stats or not b.stats:
        return "per-item statistics missing in " + ("both runs" if not a.stats and not b.stats
                                                    else "the base" if not a.stats else "the head")
    na, nb = len(a.item_ids), len(b.item_ids)
    if na == nb and a.item_ids == b.item_ids:
        idx = np.arange(na)  # same ids in the same order: pair by position
        return _Pairing(idx, idx, 0, 0, a.item_ids)
    pos_b = {item: i for i, item in enumerate(b.item_ids)}
    if len(pos_b) != nb or len(set(a.item_ids)) != na:
        return "duplicate item ids"
    ia, ib = [], []
    for i, item in enumerate(a.item_ids):
        j = pos_b.get(item)
        if j is not None:
            ia.append(i)
            ib.append(j)
    if not ia:
        return "no item ids in common"
    return _Pairing(np.asarray(ia), np.asarray(ib), na - len(ia), nb - len(ia),
                    [a.item_ids[i] for i in ia])


def _item_views(diff: dict[str, Any], a: _Side, b: _Side, pairing: _Pairing
                ) -> None:
    """Per-item flips (pass/fail metrics) and the largest per-item changes."""
    import numpy as np

    if a.scores is None or b.scores is None:
        return
    sa = np.asarray(a.scores, dtype=np.float64)[pairing.ia]
    sb = np.asarray(b.scores, dtype=np.float64)[pairing.ib]
    ids = pairing.ids
    sign = 1.0 if b.higher_is_better else -1.0
    finite = np.isfinite(sa) & np.isfinite(sb)
    binary = bool(finite.any()) and all(
        bool(((x == 0.0) | (x == 1.0) | ~finite).all()) for x in (sa, sb))
    if binary:
        good = 1.0 if b.higher_is_better else 0.0
        broken = np.flatnonzero(finite & (sa == good) & (sb != good))
        fixed = np.flatnonzero(finite & (sa != good) & (sb == good))
        diff.update(
            pass_fail=True, n_fixed=int(fixed.size), n_broken=int(broken.size),
            fixed=tuple(str(ids[i]) for i in fixed[:MAX_FLIPS_KEPT]),
            broken=tuple(str(ids[i]) for i in broken[:MAX_FLIPS_KEPT]),
        )
    change = np.where(finite, (sb - sa) * sign, 0.0)
    k = min(MAX_CHANGES_KEPT, change.size)
    low = np.argpartition(change, k - 1)[:k] if k < change.size else np.arange(change.size)
    high = np.argpartition(-change, k - 1)[:k] if k < change.size else np.arange(change.size)
    worst = [int(i) for i in low[np.lexsort((low, change[low]))] if change[i] < 0]
    best = [int(i) for i in high[np.lexsort((high, -change[high]))] if change[i] > 0]
    diff["worst_changes"] = tuple(
        ItemChange(str(ids[i]), float(sa[i]), float(sb[i]), float(change[i])) for i in worst)
    diff["best_changes"] = tuple(
        ItemChange(str(ids[i]), float(sa[i]), float(sb[i]), float(change[i])) for i in best)


def _group_sums(stats: np.ndarray, groups: Sequence[str]) -> tuple[np.ndarray, int]:
    import numpy as np

    labels, inverse = np.unique(np.asarray(groups, dtype=object).astype(str), return_inverse=True)
    out = np.zeros((labels.size, stats.shape[1]), dtype=np.float64)
    np.add.at(out, inverse, stats)
    return out, int(labels.size)


def _unpaired(diff: dict[str, Any], a: _Side, b: _Side, confidence: float,
              reason: str) -> None:
    delta = b.value - a.value
    diff["delta"] = delta
    if a.ci is None or b.ci is None or not all(map(math.isfinite, (*a.ci, *b.ci))):
        diff["method"] = "none"
        diff["notes"].append(f"no paired test ({reason}) and no interval in "
                             + ("the base" if a.ci is None else "the head")
                             + ": significance cannot be assessed")
        return
    diff["method"] = "unpaired-intervals"
    diff["notes"].append(f"unpaired comparison of the two intervals ({reason})")
    z_a = _norm_ppf(0.5 + a.confidence / 2)
    z_b = _norm_ppf(0.5 + b.confidence / 2)
    se = math.hypot((a.ci[1] - a.ci[0]) / (2 * z_a), (b.ci[1] - b.ci[0]) / (2 * z_b))
    z = _norm_ppf(0.5 + confidence / 2)
    diff["delta_ci"] = (delta - z * se, delta + z * se)
    oriented = delta if b.higher_is_better else -delta
    if se > 0:
        diff["p_improve"] = _norm_cdf(oriented / se)
        diff["p_value"] = min(1.0, 2.0 * (1.0 - _norm_cdf(abs(delta) / se)))
    else:
        diff["p_improve"] = 0.5 if delta == 0 else float(oriented > 0)
        diff["p_value"] = 1.0 if delta == 0 else 0.0


def _decide(diff: dict[str, Any], tol: Tolerance | None) -> None:
    delta, ci = diff.get("delta"), diff.get("delta_ci")
    hib = diff["higher_is_better"]
    if delta is None or not math.isfinite(delta):
        diff["verdict"] = "unchanged"
        return
    worse = -delta if hib else delta  # > 0: head is worse
    significant = ci is not None and math.isfinite(ci[0]) and (ci[0] > 0 or ci[1] < 0)
    diff["significant"] = bool(significant)
    if tol is not None:
        amount = tol.absolute(diff["base_value"] or 0.0)
        diff["tolerance"] = amount
        diff["tolerance_text"] = tol.text
        if tol.sign is not None and (tol.sign == "+") != (not hib):
            diff["notes"].append(
                f"tolerance {tol.text!r} is written as allowing the metric to go "
                f"{'up' if tol.sign == '+' else 'down'}, but worse means "
                f"{'down' if hib else 'up'} for it; applied as an allowance of {amount:g} "
                "in the worse direction")
        if significant and worse > 0 and worse <= amount:
            diff["within_tolerance"] = True
            diff["verdict"] = "unchanged"
            return
        if not significant and diff.get("method") == "none" and worse > amount:
            # No interval at all: the tolerance is the only yardstick the user gave.
            diff["verdict"] = "regressed"
            diff["notes"].append(f"regressed beyond tolerance {tol.text!r} (no interval)")
            return
    if not significant:
        diff["verdict"] = "unchanged"
    else:
        diff["verdict"] = "regressed" if worse > 0 else "improved"


def _common_fields(nodeid: str, name: str, a: _Side | None, b: _Side | None
                   ) -> dict[str, Any]:
    ref = b if b is not None else a
    assert ref is not None
    return {
        "nodeid": nodeid, "name": name, "higher_is_better": ref.higher_is_better,
        "base_value": None if a is None else a.value, "head_value": None if b is None else b.value,
        "base_ci": None if a is None else a.ci, "head_ci": None if b is None else b.ci,
        "base_n": None if a is None else a.n, "head_n": None if b is None else b.n,
        "signature": ref.signature.text, "notes": [],
    }


def compare_records(
    base: Mapping[str, Any] | RunRecord,
    head: Mapping[str, Any] | RunRecord,
    *,
    tolerances: Mapping[str, Tolerance] | str | None = None,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = DEFAULT_SEED,
    confidence: float = DEFAULT_CONFIDENCE,
    base_source: str = "base",
    head_source: str = "head",
) -> Comparison:
    """Compare two run records (dicts of Contract 3, or :class:`RunRecord`) metric by metric.

    Raises :class:`~llaso_pytest.record.RecordError` (naming ``base_source``/``head_source``)
    when a record is malformed; never returns a silently empty comparison.
    """
    import numpy as np

    from llaso_pytest.metrics.base import aggregate_fn
    from llaso_pytest.record import RecordError

    if n_boot < 100:
        raise ValueError(f"n_boot={n_boot}: use at least 100 resamples")
    if not 0.5 <= confidence < 1.0:
        raise ValueError(f"confidence={confidence}: expected a value in [0.5, 1)")
    if isinstance(tolerances, str) or tolerances is None:
        tolerances = parse_tolerances(tolerances)
    rec_a = _as_dict(base, base_source)
    rec_b = _as_dict(head, head_source)
    res_a = _results(rec_a, base_source)
    res_b = _results(rec_b, head_source)
    warnings: list[str] = []
    for label, rec, src in (("base", rec_a, base_source), ("head", rec_b, head_source)):
        if not rec.get("complete", True):
            warnings.append(f"the {label} run ({src}) is incomplete (the session was "
                            f"interrupted: {rec.get('interrupted_by') or 'unknown cause'})")
    if not res_a and not res_b:
        raise RecordError(
            f"neither {base_source} nor {head_source} holds any recorded metric; nothing to "
            "compare (did the tests call record_metric?)")
    if not res_a:
        warnings.append(f"the base run {base_source} holds no recorded metric: everything is new")
    if not res_b:
        warnings.append(f"the head run {head_source} holds no recorded metric: "
                        "everything is removed")

    keys = list(res_a) + [k for k in res_b if k not in res_a]
    diffs: dict[tuple[str, str], dict[str, Any]] = {}
    jobs_by_units: dict[int, list[_PairedJob]] = {}
    job_meta: dict[int, tuple[tuple[str, str], _Side, _Side]] = {}
    cat_jobs: list[tuple[_PairedJob, np.ndarray]] = []
    pairings: dict[tuple[int, int, bool, bool], tuple[Any, Any, _Pairing | str]] = {}
    checked: dict[int, list[str]] = {}  # id lists validated already (see _id_list)
    for index, key in enumerate(keys):
        nodeid, name = key
        a = _parse_result(res_a[key], base_source, nodeid, checked) if key in res_a else None
        b = _parse_result(res_b[key], head_source, nodeid, checked) if key in res_b else None
        d = _common_fields(nodeid, name, a, b)
        diffs[key] = d
        if a is None or b is None:
            d["verdict"] = "new" if a is None else "removed"
            continue
        sig = _signature_diffs(a, b)
        if sig:
            d["verdict"] = "incomparable"
            d["signature_diffs"] = sig
            d["delta"] = b.value - a.value
            continue
        # Metrics of one test set often share their id lists: pair each couple of lists once.
        # (The cache holds the lists themselves, so their ids cannot be reused meanwhile.)
        pair_key = (id(a.item_ids), id(b.item_ids), bool(a.stats), bool(b.stats))
        cached = pairings.get(pair_key)
        if cached is None:
            cached = pairings[pair_key] = (a.item_ids, b.item_ids, _pair(a, b))
        pairing = cached[2]
        if isinstance(pairing, str):
            _unpaired(d, a, b, confidence, pairing)
            continue
        try:
            aggregate_fn(a.aggregate)
        except ValueError as exc:
            _unpaired(d, a, b, confidence, f"cannot recompute the value from item statistics: "
                      f"{exc}")
            continue
        d["n_paired"] = int(pairing.ia.size)
        d["n_base_only"] = pairing.n_base_only
        d["n_head_only"] = pairing.n_head_only
        if pairing.n_base_only or pairing.n_head_only:
            d["notes"].append(
                f"{pairing.ia.size} items paired; {pairing.n_base_only} only in the base, "
                f"{pairing.n_head_only} only in the head (left out of the paired test)")
        _item_views(d, a, b, pairing)
        identity = pairing.n_base_only == 0 and pairing.n_head_only == 0 and \
            pairing.ia.size == len(a.item_ids) == len(b.item_ids) and \
            bool((pairing.ia == pairing.ib).all())
        sa = a.stat_matrix() if identity else a.stat_matrix()[pairing.ia]
        sb = b.stat_matrix() if identity else b.stat_matrix()[pairing.ib]
        units = sa.shape[0]
        method = "paired-bootstrap"
        if a.groups is not None and b.groups is not None:
            ga = [a.groups[i] for i in pairing.ia]
            gb = [b.groups[i] for i in pairing.ib]
            if ga == gb:
                sa, units = _group_sums(sa, ga)
                sb, _ = _group_sums(sb, ga)
                method = "paired-cluster-bootstrap"
            else:
                d["notes"].append("groups differ between the runs: items resampled, not groups")
        if units < MIN_PAIRED_UNITS:
            what = "groups" if method == "paired-cluster-bootstrap" else "items"
            _unpaired(d, a, b, confidence, f"only {units} paired {what}, fewer than "
                      f"{MIN_PAIRED_UNITS}")
            continue
        d["method"] = method
        d["n_units"] = units
        job = _PairedJob(index, a.aggregate, sa, sb)
        job.shared_den = a.aggregate in ("mean", "ratio") and sa.shape[1] == 2 and \
            bool(np.array_equal(sa[:, 1], sb[:, 1]))
        job_meta[index] = (key, a, b)
        table = _categories(sa, sb)
        if table is None:
            jobs_by_units.setdefault(units, []).append(job)
        else:
            k = sa.shape[1]
            job.shared_den = False  # the table holds both runs' columns side by side
            job.cols_a, job.cols_b = list(range(k)), list(range(k, 2 * k))
            cat_jobs.append((job, _categorical_sums(*table, n_boot=n_boot, seed=seed,
                                                    key=f"{nodeid}::{name}")))

    lo_q, hi_q = (1 - confidence) / 2, 1 - (1 - confidence) / 2
    batches = [(jobs, _resample_sums(jobs, units, n_boot=n_boot, seed=seed)[0])
               for units, jobs in sorted(jobs_by_units.items())]
    batches += [([job], sums) for job, sums in cat_jobs]
    for jobs, sums in batches:
        for job in jobs:
            key, a, b = job_meta[job.index]
            d = diffs[key]
            agg = aggregate_fn(job.kind)
            point_a = float(agg(_colsums(job.a)[None, :])[0])
            point_b = float(agg(_colsums(job.b)[None, :])[0])
            boot = job.boot_delta(sums)
            delta = point_b - point_a
            d["delta"] = delta
            ok = np.isfinite(boot)
            if ok.sum() < 0.9 * n_boot:
                d["notes"].append(f"{n_boot - int(ok.sum())} of {n_boot} resamples gave no value;"
                                  " the paired interval is not reliable")
                _unpaired(d, a, b, confidence, "degenerate resamples")
                continue
            boot = boot[ok]
            ci = np.quantile(boot, [lo_q, hi_q])
            d["delta_ci"] = (float(ci[0]), float(ci[1]))
            better = boot > 0 if b.higher_is_better else boot < 0
            d["p_improve"] = float(better.mean())
            frac_le = float((boot <= 0).mean())
            frac_ge = float((boot >= 0).mean())
            d["p_value"] = min(1.0, 2.0 * min(frac_le, frac_ge))
            if d["n_base_only"] or d["n_head_only"]:
                d["notes"].append(f"delta {delta:+.4g} is over the {d['n_paired']} paired items")

    metrics: list[MetricDiff] = []
    for key in keys:
        d = diffs[key]
        if d.get("verdict") is None:
            _decide(d, _find_tolerance(tolerances, *key))
        d["notes"] = tuple(d["notes"])
        metrics.append(MetricDiff(**d))
    unused = [t.text for t in tolerances.values() if not any(t.matches(*k) for k in keys)]
    for text in unused:
        warnings.append(f"tolerance {text!r} matches no compared metric")
    prov = tuple(diff_provenance(rec_a.get("provenance") or {}, rec_b.get("provenance") or {}))
    data_changes = [p.path for p in prov if p.path.split(".")[0] in ("datasets", "prompts")]
    if data_changes:
        warnings.append("the evaluation data changed between the runs ("
                        + ", ".join(data_changes[:5]) + (", ..." if len(data_changes) > 5 else "")
                        + "): differences may come from the data, not the system")
    return Comparison(
        base=_run_info(rec_a, base_source),
        head=_run_info(rec_b, head_source),
        metrics=tuple(metrics),
        provenance_diffs=prov,
        n_boot=n_boot, seed=seed, confidence=confidence,
        tolerances=tuple(t.text for t in tolerances.values()),
        warnings=tuple(warnings),
    )


def compare_files(base_path: str | os.PathLike[str], head_path: str | os.PathLike[str], *,
                  tolerances: Mapping[str, Tolerance] | str | None = None,
                  n_boot: int = DEFAULT_N_BOOT, seed: int = DEFAULT_SEED,
                  confidence: float = DEFAULT_CONFIDENCE) -> Comparison:
    """:func:`compare_records` on two record files (errors name the file)."""
    return compare_records(load_record(base_path), load_record(head_path), tolerances=tolerances,
                           n_boot=n_boot, seed=seed, confidence=confidence,
                           base_source=os.fspath(base_path), head_source=os.fspath(head_path))


# ----------------------------------------------------------------------------------------
# provenance


def _flatten(prefix: str, value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping):
        if not value:
            yield prefix, {}
        for k, v in value.items():
            yield from _flatten(f"{prefix}.{k}" if prefix else str(k), v)
    elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
        for i, v in enumerate(value):
            yield from _flatten(f"{prefix}[{i}]", v)
    else:
        yield prefix, value


def _is_location(value: Any) -> bool:
    """An absolute file-system path: where a checkout or install lives changes no number (the
    files' hashes, recorded beside it, do), so two different locations are not a difference."""
    return isinstance(value, str) and (
        value.startswith("/") or re.match(r"^[A-Za-z]:[\\/]", value) is not None
    )


def diff_provenance(base: Mapping[str, Any], head: Mapping[str, Any],
                    sections: Sequence[str] = PROVENANCE_SECTIONS) -> list[ProvenanceDiff]:
    """Differences in the provenance that can change numbers (models, data, packages, seed,
    GPU, ...), as dotted paths. Timestamps, command lines and the git commit are not listed."""
    out: list[ProvenanceDiff] = []
    for section in sections:
        if section not in base and section not in head:
            continue
        fa = dict(_flatten(section, base.get(section)))
        fb = dict(_flatten(section, head.get(section)))
        for path in list(fa) + [p for p in fb if p not in fa]:
            va, vb = fa.get(path), fb.get(path)
            if va != vb and not (_is_location(va) and _is_location(vb)):
                out.append(ProvenanceDiff(path, va, vb))
    return out
