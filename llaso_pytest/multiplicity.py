"""Multiplicity control for a family of comparisons (pure; NumPy imported on use).

Comparing 100 metrics at 5% each flags about five of them when nothing changed. A family's
p-values are therefore adjusted before verdicts: Benjamini and Hochberg (1995) controls the
false discovery rate (the expected share of false verdicts among the flagged ones) and, when
nothing changed at all, the chance of any false verdict; Holm (1979) controls the family-wise
error rate (the chance of any false verdict) whatever changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal, get_args

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

__all__ = ["CORRECTIONS", "Correction", "adjust_pvalues"]

Correction = Literal["bh", "holm", "none"]
CORRECTIONS: tuple[Correction, ...] = get_args(Correction)


def adjust_pvalues(pvalues: Sequence[float], method: Correction) -> np.ndarray:
    """Adjusted p-values of one family: ``"bh"`` Benjamini-Hochberg (controls the false
    discovery rate), ``"holm"`` Holm's step-down (controls the family-wise error rate),
    ``"none"``. A hypothesis is rejected at level ``q`` when its adjusted p-value is <= ``q``."""
    if method not in CORRECTIONS:
        raise ValueError(f"correction must be one of {', '.join(CORRECTIONS)}, got {method!r}")
    import numpy as np

    p = np.asarray(pvalues, dtype=np.float64)
    m = p.size
    if m == 0 or method == "none":
        return p.copy()
    if np.isnan(p).any() or (p < 0).any() or (p > 1).any():
        raise ValueError("p-values must lie in [0, 1]")
    order = np.argsort(p, kind="stable")
    ranked = p[order]
    if method == "bh":
        adj = ranked * m / np.arange(1, m + 1)
        adj = np.minimum.accumulate(adj[::-1])[::-1]
    else:  # holm
        adj = ranked * (m - np.arange(m))
        adj = np.maximum.accumulate(adj)
    out = np.empty(m)
    out[order] = np.minimum(adj, 1.0)
    return out
