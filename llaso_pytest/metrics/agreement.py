"""Agreement between raters: Krippendorff's alpha and per-rater statistics (pure NumPy).

``krippendorff_alpha(ratings, level=...)`` takes a raters x items array with NaN for a
missing rating and follows Krippendorff (2011, "Computing Krippendorff's alpha-reliability"):
the coincidence matrix of pairable values (items with at least two ratings), the level's
difference function (nominal, ordinal from the marginal ranks, interval, ratio), and
``alpha = 1 - (n - 1) * sum(o * d) / sum(n_c * n_k * d)``; tests check it equals the
``krippendorff`` package on random ratings with missing values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from llaso_pytest.errors import MetricInputError

__all__ = ["Level", "RaterAgreement", "RaterStats", "krippendorff_alpha", "rater_agreement"]

Level = Literal["nominal", "ordinal", "interval", "ratio"]
LEVELS: tuple[str, ...] = ("nominal", "ordinal", "interval", "ratio")


def _matrix(ratings: Any, value_domain: Sequence[Any] | None) -> tuple[np.ndarray, np.ndarray]:
    """``(codes, domain)``: ratings as indices into the sorted value domain, -1 for missing."""
    arr = np.asarray(ratings, dtype=object)
    if arr.ndim != 2:
        raise MetricInputError(f"ratings must be a 2-d raters x items array, got shape "
                               f"{arr.shape}")
    if arr.shape[0] < 2:
        raise MetricInputError(f"ratings has {arr.shape[0]} rater(s): agreement needs at least "
                               "2 (rows are raters, columns items)")

    def missing(v: Any) -> bool:
        return v is None or (isinstance(v, float) and np.isnan(v))

    flat = arr.ravel()
    present = [v for v in flat if not missing(v)]
    for v in present:
        if isinstance(v, bool) or not isinstance(v, (int, float, str, np.number)):
            raise MetricInputError(f"rating {v!r} is {type(v).__name__}; ratings are numbers or "
                                   "labels (str), NaN or None for missing")
    if value_domain is not None:
        domain = np.asarray(list(value_domain), dtype=object)
        index = {v: i for i, v in enumerate(domain.tolist())}
        unknown = sorted({repr(v) for v in present if v not in index})
        if unknown:
            raise MetricInputError(f"ratings {', '.join(unknown[:5])} are not in value_domain")
    else:
        kinds = {isinstance(v, str) for v in present}
        if len(kinds) > 1:
            raise MetricInputError("ratings mix labels (str) and numbers; give value_domain= "
                                   "to order them or use one kind")
        domain = np.asarray(sorted(set(present)), dtype=object)
        index = {v: i for i, v in enumerate(domain.tolist())}
    codes = np.array([-1 if missing(v) else index[v] for v in flat], np.int64).reshape(arr.shape)
    return codes, domain


def _coincidences(codes: np.ndarray, n_values: int) -> np.ndarray:
    """The values x values coincidence matrix over the pairable items."""
    counts = np.zeros((codes.shape[1], n_values))
    for r in range(codes.shape[0]):
        ok = codes[r] >= 0
        np.add.at(counts, (np.flatnonzero(ok), codes[r][ok]), 1.0)
    m = counts.sum(axis=1)
    pairable = m >= 2
    counts, m = counts[pairable], m[pairable]
    w = 1.0 / (m - 1.0)
    o: np.ndarray = (counts * w[:, None]).T @ counts - np.diag((counts * w[:, None]).sum(axis=0))
    return o


def _delta(level: str, domain: np.ndarray, n_c: np.ndarray) -> np.ndarray:
    k = domain.size
    if level == "nominal":
        return 1.0 - np.eye(k)
    if level == "ordinal":
        cum = np.cumsum(n_c)
        # sum_{g=c}^{k} n_g - (n_c + n_k) / 2, for c <= k; symmetric
        i, j = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
        lo, hi = np.minimum(i, j), np.maximum(i, j)
        between = cum[hi] - np.where(lo > 0, cum[lo - 1], 0.0)
        d: np.ndarray = (between - (n_c[lo] + n_c[hi]) / 2.0) ** 2
        return d
    try:
        v = domain.astype(np.float64)
    except (TypeError, ValueError):
        raise MetricInputError(f"level={level!r} needs numeric ratings; labels are nominal "
                               "(or ordinal with value_domain=)") from None
    if level == "interval":
        return np.subtract.outer(v, v) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (np.subtract.outer(v, v) / np.add.outer(v, v)) ** 2
    return np.nan_to_num(r, nan=0.0)


def krippendorff_alpha(ratings: Any, *, level: Level = "nominal",
                       value_domain: Sequence[Any] | None = None) -> float:
    """Krippendorff's alpha of a raters x items array (NaN or None = missing).

    ``level``: ``"nominal"``, ``"ordinal"``, ``"interval"`` or ``"ratio"``; ``value_domain``
    fixes the values and their order (needed for ordinal labels given as strings). NaN when
    there is no variation to agree on (one value only, or fewer than two pairable values).
    """
    if level not in LEVELS:
        raise MetricInputError(f"level must be one of {', '.join(LEVELS)}, got {level!r}")
    codes, domain = _matrix(ratings, value_domain)
    if domain.size == 0:
        raise MetricInputError("ratings has no rating at all")
    o = _coincidences(codes, domain.size)
    n_c = o.sum(axis=1)
    n = n_c.sum()
    if n < 2:
        raise MetricInputError("no item has two or more ratings: nothing to agree on")
    d = _delta(level, domain, n_c)
    expected = float(n_c @ d @ n_c)
    if expected == 0.0:
        return float("nan")
    return float(1.0 - (n - 1.0) * float((o * d).sum()) / expected)


@dataclass(frozen=True)
class RaterStats:
    """One rater: how many items they rated, their mean (numeric ratings), how often they
    agree with the other raters' majority (nominal) or their mean absolute difference from
    the others' mean (other levels), and alpha without them."""

    rater: str
    n_rated: int
    mean: float | None
    agreement_with_others: float | None
    mean_abs_diff: float | None
    alpha_without: float | None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class RaterAgreement:
    """Alpha with a bootstrap interval over items, and per-rater statistics."""

    alpha: float
    ci: tuple[float, float] | None
    level: str
    n_items: int
    n_pairable: int
    n_ratings: int
    raters: tuple[RaterStats, ...]
    n_boot: int
    seed: int | None

    def to_dict(self) -> dict[str, Any]:
        return {"alpha": self.alpha, "ci": None if self.ci is None else list(self.ci),
                "level": self.level, "n_items": self.n_items, "n_pairable": self.n_pairable,
                "n_ratings": self.n_ratings, "n_boot": self.n_boot, "seed": self.seed,
                "raters": [r.to_dict() for r in self.raters]}


def rater_agreement(ratings: Any, *, raters: Sequence[str] | None = None,
                    level: Level = "nominal", value_domain: Sequence[Any] | None = None,
                    n_boot: int = 1000, seed: int | None = 0,
                    confidence: float = 0.95) -> RaterAgreement:
    """Alpha, its percentile bootstrap interval (items resampled with replacement, seeded),
    and :class:`RaterStats` per rater (row)."""
    from llaso_pytest import stats as _stats

    _stats.check_confidence(confidence)
    codes, domain = _matrix(ratings, value_domain)
    names = list(raters) if raters is not None else [str(i) for i in range(codes.shape[0])]
    if len(names) != codes.shape[0]:
        raise MetricInputError(f"{len(names)} rater names for {codes.shape[0]} rows of ratings")
    dom = domain.tolist()

    def decoded(c: np.ndarray) -> np.ndarray:
        out = np.full(c.shape, np.nan, dtype=object)
        out[c >= 0] = [dom[i] for i in c[c >= 0].ravel().tolist()]
        return out

    alpha = krippendorff_alpha(decoded(codes), level=level, value_domain=dom)
    pairable = int(((codes >= 0).sum(axis=0) >= 2).sum())
    ci: tuple[float, float] | None = None
    if n_boot > 0 and pairable >= _stats.MIN_UNITS:
        rng = np.random.default_rng(seed)
        o_items = [_coincidences(codes[:, [u]], len(dom)) for u in range(codes.shape[1])]
        stack = np.stack(o_items)
        draws = rng.integers(0, codes.shape[1], size=(n_boot, codes.shape[1]))
        values = []
        for row in draws:
            o = stack[row].sum(axis=0)  # coincidences add over items
            n_c = o.sum(axis=1)
            n = n_c.sum()
            d = _delta(level, domain, n_c)
            e = float(n_c @ d @ n_c)
            if n >= 2 and e > 0:
                values.append(1.0 - (n - 1.0) * float((o * d).sum()) / e)
        if len(values) >= 0.9 * n_boot:
            lo, hi = np.quantile(values, [(1 - confidence) / 2, (1 + confidence) / 2])
            ci = (float(lo), float(hi))
    per: list[RaterStats] = []
    numeric = level != "nominal" and all(isinstance(v, (int, float, np.number)) for v in dom)
    for r, name in enumerate(names):
        mine = codes[r]
        rated = mine >= 0
        others = np.delete(codes, r, axis=0)
        mean = float(np.mean([dom[i] for i in mine[rated]])) if numeric and rated.any() else None
        agree: float | None = None
        mad: float | None = None
        if level == "nominal":
            hits, total = 0, 0
            for u in np.flatnonzero(rated).tolist():
                col = others[:, u][others[:, u] >= 0]
                if col.size:
                    vals, cnt = np.unique(col, return_counts=True)
                    total += 1
                    hits += int(mine[u] in vals[cnt == cnt.max()])
            agree = hits / total if total else None
        elif numeric:
            diffs = []
            for u in np.flatnonzero(rated).tolist():
                col = others[:, u][others[:, u] >= 0]
                if col.size:
                    diffs.append(abs(dom[mine[u]] - np.mean([dom[i] for i in col])))
            mad = float(np.mean(diffs)) if diffs else None
        without: float | None = None
        if codes.shape[0] > 2:
            try:
                without = krippendorff_alpha(decoded(others), level=level, value_domain=dom)
            except MetricInputError:
                without = None
        per.append(RaterStats(name, int(rated.sum()), mean, agree, mad, without))
    return RaterAgreement(alpha=alpha, ci=ci, level=level, n_items=codes.shape[1],
                          n_pairable=pairable, n_ratings=int((codes >= 0).sum()),
                          raters=tuple(per), n_boot=n_boot, seed=seed)
