"""The Poissonised multinomial of the distinct-row strategy: exact resampling, proven.

``distinct_sums`` draws the resample counts of many distinct rows (CER: ~2,700 rows among 100k
units) as independent Poisson counts from byte tables, completed or thinned to the total by
uniform draws of units. These tests check each step against its definition (the table's
probabilities against the Poisson pmf of SciPy, the counts against the multinomial) and the
resulting intervals against plain resampling of the units.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats

from llaso_pytest import stats


@pytest.mark.parametrize(("units", "mult"), [(10, 1), (1000, 7), (100_000, 1), (100_000, 96),
                                             (50, 33)])
def test_each_table_draws_the_poisson_pmf(units: int, mult: int) -> None:
    a, table, rcdf, values = stats._poisson_table(units, mult)
    probs = np.bincount(table[:a], minlength=256)[:256] / 65536.0
    residual = np.diff(np.concatenate([[0.0], rcdf]))
    probs[values] += (1.0 - a / 65536.0) * residual
    mu = stats._category_lam(units) * mult
    expected = scipy.stats.poisson.pmf(np.arange(256), mu)
    np.testing.assert_allclose(probs, expected, rtol=0, atol=1e-12)


def _sampler(counts: list[int]) -> tuple[stats._CategorySampler, np.ndarray]:
    c = np.asarray(counts, dtype=np.int64)
    return stats._CategorySampler(c), c


def test_counts_are_multinomial_in_total_mean_variance_and_covariance() -> None:
    rng = np.random.default_rng(11)
    # small and large multiplicities (pieces of 96, a remainder), and a single unit
    sampler, c = _sampler([1, 2, 5, 40, 96, 97, 250, 1000, 3])
    n = int(c.sum())
    draws = sampler.draw(rng, 40_000)
    assert draws.dtype == np.int64 and (draws.sum(axis=1) == n).all() and (draws >= 0).all()
    p = c / n
    se_mean = np.sqrt(n * p * (1 - p) / draws.shape[0])
    assert np.all(np.abs(draws.mean(axis=0) - n * p) < 4.5 * se_mean)
    var = draws.var(axis=0)
    assert var == pytest.approx(n * p * (1 - p), rel=0.05)
    cov = np.cov(draws[:, 6], draws[:, 7])[0, 1]
    assert cov == pytest.approx(-n * p[6] * p[7], rel=0.08)


@pytest.mark.parametrize("seed", [0, 1])
def test_a_small_category_has_the_binomial_distribution(seed: int) -> None:
    # chi-square of one category's counts against Binomial(n, c/n), over 60k resamples
    sampler, c = _sampler([3, 7, 120, 400, 9])
    n = int(c.sum())
    draws = sampler.draw(np.random.default_rng(seed), 60_000)
    for j in (0, 4):
        top = 40
        observed = np.bincount(np.minimum(draws[:, j], top), minlength=top + 1)
        pmf = scipy.stats.binom.pmf(np.arange(top + 1), n, c[j] / n)
        pmf[-1] = scipy.stats.binom.sf(top - 1, n, c[j] / n)
        expected = pmf * draws.shape[0]
        keep = expected > 5  # the rare counts pooled into one cell
        obs = np.append(observed[keep], observed[~keep].sum())
        exp = np.append(expected[keep], expected[~keep].sum())
        p_value = scipy.stats.chisquare(obs, exp * obs.sum() / exp.sum()).pvalue
        assert p_value > 1e-3, (j, p_value)


def test_overshooting_totals_are_thinned_exactly() -> None:
    # one unit, two categories: lam = 0.05, so the total overshoots whenever both draw
    sampler, c = _sampler([1, 1])
    draws = sampler.draw(np.random.default_rng(2), 20_000)
    assert (draws.sum(axis=1) == 2).all()
    # Multinomial(2, 1/2, 1/2): (2, 0) 1/4, (1, 1) 1/2, (0, 2) 1/4
    ones = (draws[:, 0] == 1).mean()
    assert ones == pytest.approx(0.5, abs=0.015)


def _cer_like(n: int, seed: int, longest: int = 120) -> np.ndarray:
    """Rows (errors, characters) with many distinct values, like CER over utterances."""
    rng = np.random.default_rng(seed)
    chars = rng.integers(longest // 6, longest, n)
    errors = rng.binomial(chars, 0.08)
    return np.column_stack([errors, chars]).astype(float)


def test_many_distinct_rows_take_the_poisson_draws_and_agree_with_resampling_units() -> None:
    rows = _cer_like(60_000, 3)
    found = stats.distinct_rows(rows)
    assert found is not None
    uniq, counts = found
    assert stats._poissonised(counts)
    n_boot = 4000
    fast = stats.distinct_sums(uniq, counts, n_boot=n_boot, seed=0)
    assert (fast == np.rint(fast)).all()  # integer sums stay exact
    plain = stats.counts_sums(rows, n_boot=n_boot, seed=0)  # units drawn one by one
    ratio_fast = fast[:, 0] / fast[:, 1]
    ratio_plain = plain[:, 0] / plain[:, 1]
    ks = scipy.stats.ks_2samp(ratio_fast, ratio_plain)
    assert ks.pvalue > 1e-3, ks
    assert ratio_fast.std() == pytest.approx(ratio_plain.std(), rel=0.06)
    # seeded: the same numbers twice
    np.testing.assert_array_equal(fast, stats.distinct_sums(uniq, counts, n_boot=n_boot, seed=0))


def test_few_distinct_rows_keep_numpys_multinomial() -> None:
    rng = np.random.default_rng(5)
    rows = np.column_stack([rng.integers(0, 3, 10_000), np.full(10_000, 4.0)])
    uniq, counts = stats.distinct_rows(rows)  # type: ignore[misc]
    assert not stats._poissonised(counts)
    got = stats.distinct_sums(uniq, counts, n_boot=50, seed=1)
    direct = np.random.default_rng(stats._stream(1, 10_000, stats._DISTINCT)).multinomial(
        10_000, counts / 10_000, size=50).astype(float) @ uniq
    np.testing.assert_array_equal(got, direct)


def test_cer_interval_covers_at_the_nominal_rate() -> None:
    """Seeded simulation: 95% intervals of a ratio over 2,000 CER-like items, with the
    Poisson draws, cover the population ratio in about 95% of 300 samples."""
    rng = np.random.default_rng(8)
    population = _cer_like(200_000, 9, longest=14)
    truth = population[:, 0].sum() / population[:, 1].sum()
    hits = 0
    trials = 300
    for t in range(trials):
        sample = population[rng.integers(0, population.shape[0], 2000)]
        found = stats.distinct_rows(sample)
        assert found is not None and stats._poissonised(found[1])
        ci = stats.bootstrap_ci(sample, "ratio", n_boot=400, seed=t).ci
        assert ci is not None
        hits += ci[0] <= truth <= ci[1]
    assert 0.91 <= hits / trials <= 0.985, hits / trials


def test_distinct_real_rows_are_found_as_numpy_finds_them() -> None:
    # the one-varying-column shortcut of unique_rows (a mean's (score, 1) rows) keeps the
    # sorted order and counts of np.unique(axis=0): the multinomial's categories, so its draws
    rng = np.random.default_rng(0)
    for _ in range(60):
        n = int(rng.integers(1, 300))
        col = rng.choice(rng.random(int(rng.integers(1, 20))), n)
        rows = np.column_stack([col, np.ones(n)]) if rng.random() < 0.5 else \
            np.column_stack([np.full(n, 2.5), col, np.ones(n)])
        got = stats.unique_rows(rows)
        want = np.unique(rows, axis=0, return_counts=True)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
