"""Memory of the resampling engine: bounded whatever the number of comparisons, same numbers.

Issue 10: a comparison of 100 metrics x 100k items must stay under 600 MB. The paired tests
take their inputs one at a time and release each one's per-unit arrays once its resampling is
set up; the shared counts product holds one float32 column per distinct column and, past
``COLUMN_BYTES``, resamples what it holds and starts again over the same counts.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from llaso_pytest import stats


def _traced_peak(fn: Callable[[], Any]) -> tuple[int, Any]:
    tracemalloc.start()
    try:
        out = fn()
        return tracemalloc.get_traced_memory()[1], out
    finally:
        tracemalloc.stop()


def _float32_counts(rng: np.random.Generator, rows: int, units: int) -> np.ndarray:
    """The float32 implementation the byte counts replaced (llaso-pytest before issue 10's
    memory work), kept here as the reference: the same seed must give the same counts."""
    a, pairs, rcdf, codes = stats._count_tables(units)
    size = rows * units
    n_pairs = -(-size // 2)
    raw = rng.bit_generator.random_raw(-(-n_pairs // 4))
    v = raw.view(np.uint16)[:n_pairs]
    flat = np.take(pairs, v).view(np.uint8).astype(np.float32)[:size]
    odd = np.flatnonzero(v >= a)
    if odd.size:
        drawn = codes[np.searchsorted(rcdf, rng.random(odd.size), side="right")]
        if flat.size == 2 * v.size:
            flat.reshape(-1, 2)[odd] = drawn
        else:
            for i, (c1, c2) in zip(odd.tolist(), drawn.tolist(), strict=True):
                if 2 * i < size:
                    flat[2 * i] = c1
                if 2 * i + 1 < size:
                    flat[2 * i + 1] = c2
    counts = flat.reshape(rows, units)
    totals = counts.sum(axis=1, dtype=np.float32).astype(np.int64)
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


@pytest.mark.parametrize(("rows", "units"), [(128, 1000), (37, 333), (5, 1), (2000, 3)])
def test_byte_counts_are_the_former_float32_counts(rows: int, units: int) -> None:
    small = stats._small_counts(np.random.default_rng(4), rows, units)
    assert small.dtype == np.uint8 and small.shape == (rows, units)
    np.testing.assert_array_equal(small.astype(np.float32),
                                  _float32_counts(np.random.default_rng(4), rows, units))
    np.testing.assert_array_equal(stats.multinomial_counts(np.random.default_rng(4), rows,
                                                           units), small.astype(np.float32))
    assert (small.sum(axis=1, dtype=np.int64) == units).all()


def _jobs(m: int, units: int, *, integral: bool, seed: int = 0) -> list[stats.PairedInput]:
    rng = np.random.default_rng(seed)
    jobs = []
    ref = rng.integers(5, 30, units).astype(float)
    ones = np.ones(units)
    for j in range(m):
        if integral:  # WER-like (errors, reference words): >64 distinct rows, counts strategy
            a = stats.ItemColumns((rng.binomial(ref.astype(int), 0.1).astype(float), ref))
            b = stats.ItemColumns((rng.binomial(ref.astype(int), 0.1 + 0.001 * j)
                                   .astype(float), ref))
            jobs.append(stats.PairedInput(a, b, "ratio", False))
        else:
            s = rng.random(units)
            a = stats.ItemColumns((s, ones))
            b = stats.ItemColumns((s + rng.normal(0.002 * j, 0.1, units), ones))
            jobs.append(stats.PairedInput(a, b, "mean", True))
    return jobs


def _run(m: int, units: int, *, integral: bool) -> tuple[int, list[stats.PairedTest]]:
    return _traced_peak(lambda: stats.paired_tests(_jobs(m, units, integral=integral),
                                                   n_boot=64, seed=3))


@pytest.mark.parametrize("integral", [True, False])
def test_a_column_budget_bounds_memory_and_keeps_the_numbers(
        integral: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    units = 20_000
    column = 4 * units  # one centred float32 column
    one_product = [_run(m, units, integral=integral) for m in (10, 40)]
    monkeypatch.setattr(stats, "COLUMN_BYTES", 6 * column)
    budgeted = [_run(m, units, integral=integral) for m in (10, 40)]
    for (_, together), (_, in_parts) in zip(one_product, budgeted, strict=True):
        if integral:  # several products over the same counts: integer sums, the same numbers
            assert together == in_parts
        else:  # real-valued sums are float32 products: equal up to their rounding
            for t, u in zip(together, in_parts, strict=True):
                assert t.ci is not None and u.ci is not None and t.se is not None
                assert t.ci == pytest.approx(u.ci, abs=1e-4 * t.se)
                assert t.p_value == pytest.approx(u.p_value, abs=2 / 65)
    # the inputs themselves (built inside) cost 16 bytes an item each; the engine's own
    # memory grows by one float32 column per comparison without a budget, not with one
    inputs = 30 * units * 16
    grow_free = one_product[1][0] - one_product[0][0] - inputs
    grow_budget = budgeted[1][0] - budgeted[0][0] - inputs
    assert grow_free == pytest.approx(30 * column, rel=0.5)
    assert grow_budget < 3 * column, (grow_budget / 1e6, grow_free / 1e6)
