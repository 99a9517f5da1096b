"""Bootstrap engine: exactness of the resampling, reproducibility, validity in simulation."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.stats

from llaso_pytest import stats
from llaso_pytest.errors import LlasoWarning
from llaso_pytest.metrics.base import aggregate_fn

RATIO = aggregate_fn("ratio")
MEAN = aggregate_fn("mean")


def _wer_rows(n: int, rate: float, seed: int,
              lengths: tuple[int, ...] = (5, 10, 15, 20)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    length = rng.choice(lengths, size=n)
    errors = rng.binomial(length, rate)
    return np.column_stack([errors, length]).astype(float)


def test_seed_reproducible_and_zero_is_a_seed() -> None:
    rows = _wer_rows(500, 0.1, 0)
    a = stats.bootstrap_ci(rows, RATIO, n_boot=500, seed=0)
    b = stats.bootstrap_ci(rows, RATIO, n_boot=500, seed=0)
    c = stats.bootstrap_ci(rows, RATIO, n_boot=500, seed=1)
    assert a.ci == b.ci
    assert a.ci != c.ci
    assert a.seed == 0
    d1 = stats.bootstrap_distribution(rows, RATIO, n_boot=300, seed=0)
    d2 = stats.bootstrap_distribution(rows, RATIO, n_boot=300, seed=0)
    np.testing.assert_array_equal(d1, d2)
    assert stats.bootstrap_ci(rows, RATIO, n_boot=100, seed=None).ci is not None


@pytest.mark.parametrize("n", [1, 2, 4])
def test_too_few_items_warn_and_give_no_interval(n: int) -> None:
    with pytest.warns(LlasoWarning, match=rf"n={n}\b"):
        r = stats.bootstrap_ci(np.ones((n, 2)), RATIO, n_boot=100)
    assert r.ci is None and r.n == n


def test_too_few_groups_warn() -> None:
    rows = _wer_rows(60, 0.1, 3)
    with pytest.warns(LlasoWarning, match=r"only 3 groups"):
        r = stats.bootstrap_ci(rows, RATIO, groups=[i % 3 for i in range(60)], n_boot=100)
    assert r.ci is None and r.resample == "groups" and r.n_units == 3


def test_no_zero_width_interval_from_metric_with_two_items() -> None:
    from llaso_pytest import metrics

    with pytest.warns(LlasoWarning, match="n=2"):
        res = metrics.wer(["a b", "c"], ["a b", "c"])
    assert res.ci is None


@pytest.mark.parametrize("unique_values", [3, 5000])
def test_resampled_sums_match_naive_bootstrap_distribution(unique_values: int) -> None:
    """Both engine strategies (multinomial over distinct rows / resample counts) give the naive
    bootstrap distribution: compare moments of the summed statistics."""
    rng = np.random.default_rng(7)
    n = 5000
    rows = np.column_stack([rng.integers(0, unique_values, n), rng.integers(1, 3, n)]).astype(float)
    fast = stats.resample_sums(rows, n_boot=4000, seed=1)
    naive_rng = np.random.default_rng(2)
    naive = np.stack([rows[naive_rng.integers(0, n, n)].sum(0) for _ in range(4000)])
    assert np.allclose(fast.mean(0), naive.mean(0), rtol=2e-3)
    assert np.allclose(fast.std(0), naive.std(0), rtol=0.08)
    # the count of items in every resample is exactly n (sum of multiplicities)
    ones = stats.resample_sums(np.column_stack([rows, np.ones(n)]), n_boot=50, seed=3)
    assert (ones[:, 2] == n).all()


def test_agrees_with_scipy_percentile_bootstrap() -> None:
    rows = _wer_rows(3000, 0.12, 11, lengths=tuple(range(3, 30)))
    ours = stats.bootstrap_ci(rows, RATIO, n_boot=5000, seed=0)

    def stat(e: np.ndarray, length: np.ndarray, axis: int = -1) -> np.ndarray:
        return e.sum(axis=axis) / length.sum(axis=axis)

    ref = scipy.stats.bootstrap(
        (rows[:, 0], rows[:, 1]), stat, paired=True, vectorized=True, n_resamples=5000,
        method="percentile", random_state=np.random.default_rng(5),
    ).confidence_interval
    assert ours.ci is not None
    assert ours.ci[0] == pytest.approx(ref.low, abs=1e-3)
    assert ours.ci[1] == pytest.approx(ref.high, abs=1e-3)


def test_cluster_bootstrap_is_wider_for_correlated_groups() -> None:
    rng = np.random.default_rng(4)
    spk_rate = rng.uniform(0.02, 0.4, size=20)  # speakers differ a lot
    group = np.repeat(np.arange(20), 30)
    length = rng.integers(5, 20, size=600)
    errors = rng.binomial(length, spk_rate[group])
    rows = np.column_stack([errors, length]).astype(float)
    flat = stats.bootstrap_ci(rows, RATIO, n_boot=2000, seed=0)
    clus = stats.bootstrap_ci(rows, RATIO, n_boot=2000, seed=0, groups=group.tolist())
    assert flat.ci and clus.ci
    assert (clus.ci[1] - clus.ci[0]) > 2 * (flat.ci[1] - flat.ci[0])
    assert clus.value == flat.value


def test_coverage_of_corpus_wer_interval_in_simulation() -> None:
    """The 95% interval covers the true corpus error rate 93-97% of the time."""
    true_rate, sims, n = 0.1, 1500, 500
    covered = 0
    for s in range(sims):
        rows = _wer_rows(n, true_rate, 10_000 + s)
        ci = stats.bootstrap_ci(rows, RATIO, n_boot=1000, seed=s).ci
        assert ci is not None
        covered += ci[0] <= true_rate <= ci[1]
    assert 0.93 <= covered / sims <= 0.97, covered / sims


def test_coverage_of_proportion_with_cluster_bootstrap() -> None:
    """Clustered Bernoulli data: the cluster bootstrap keeps nominal coverage."""
    p, sims, g, per = 0.3, 1500, 60, 5
    covered = 0
    for s in range(sims):
        rng = np.random.default_rng(50_000 + s)
        gp = np.clip(p + rng.normal(0, 0.15, size=g), 0, 1)  # mean stays ~p
        y = rng.random((g, per)) < gp[:, None]
        rows = np.column_stack([y.ravel(), np.ones(g * per)]).astype(float)
        groups = np.repeat(np.arange(g), per)
        ci = stats.bootstrap_ci(rows, MEAN, n_boot=400, seed=s, groups=groups).ci
        assert ci is not None
        covered += ci[0] <= np.clip(p + 0, 0, 1) <= ci[1]
    # the clipped normal keeps the mean at p up to ~1e-3
    assert 0.93 <= covered / sims <= 0.97, covered / sims


def test_paired_bootstrap_false_positive_rate_under_null() -> None:
    """Two systems with the same error distribution: flagged ~5% of the time."""
    sims, n = 2000, 200
    flagged = 0
    pvals = []
    for s in range(sims):
        rng = np.random.default_rng(90_000 + s)
        a = (rng.random(n) < 0.3).astype(float)
        b = (rng.random(n) < 0.3).astype(float)
        ones = np.ones(n)
        res = stats.paired_bootstrap(
            np.column_stack([a, ones]), np.column_stack([b, ones]), aggregate="mean",
            higher_is_better=True, n_boot=500, seed=s,
        )
        flagged += res.significant
        pvals.append(res.p_value)
    assert 0.03 <= flagged / sims <= 0.07, flagged / sims
    assert 0.03 <= np.mean(np.asarray(pvals) < 0.05) <= 0.07


def test_paired_bootstrap_detects_a_real_difference_and_direction() -> None:
    rng = np.random.default_rng(0)
    n = 400
    length = rng.integers(5, 20, n).astype(float)
    base_err = rng.binomial(length.astype(int), 0.15).astype(float)
    head_err = rng.binomial(length.astype(int), 0.08).astype(float)
    a = np.column_stack([base_err, length])
    b = np.column_stack([head_err, length])
    res = stats.paired_bootstrap(a, b, aggregate="ratio", higher_is_better=False, n_boot=2000)
    assert res.delta < 0 and res.ci is not None and res.ci[1] < 0
    assert res.improved and not res.regressed
    assert res.p_improve > 0.99 and res.p_value < 0.01
    same = stats.paired_bootstrap(a, a, aggregate="ratio", higher_is_better=False, n_boot=500)
    assert same.delta == 0 and same.p_improve == 0.5 and same.p_value == 1.0
    assert not same.significant
    worse = stats.paired_bootstrap(b, a, aggregate="ratio", higher_is_better=False, n_boot=2000)
    assert worse.regressed and worse.p_improve < 0.01


def test_paired_bootstrap_validates_inputs() -> None:
    with pytest.raises(ValueError, match="stats_a has 3 rows, stats_b has 2"):
        stats.paired_bootstrap(np.ones((3, 2)), np.ones((2, 2)), aggregate="mean",
                               higher_is_better=True)
    with pytest.raises(ValueError, match="unknown aggregate 'nope'"):
        stats.paired_bootstrap(np.ones((9, 2)), np.ones((9, 2)), aggregate="nope",
                               higher_is_better=True)
    with pytest.raises(ValueError, match="confidence"):
        stats.bootstrap_ci(np.ones((9, 2)), RATIO, confidence=95)
    with pytest.raises(ValueError, match="non-finite"):
        stats.bootstrap_ci(np.array([[1.0, np.nan]] * 9), RATIO)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = stats.paired_bootstrap(np.ones((9, 2)), np.ones((9, 2)), aggregate="mean",
                                   higher_is_better=True, n_boot=50)
    assert r.delta == 0


def test_paired_difference_form_matches_generic_path() -> None:
    """Same denominators: the engine resamples (num_b - num_a, den); same distribution as
    resampling both systems' full rows (generic path via a callable aggregate)."""
    rng = np.random.default_rng(8)
    n = 3000
    length = rng.integers(3, 30, n).astype(float)
    ea = rng.binomial(length.astype(int), 0.1).astype(float)
    eb = np.maximum(ea + rng.integers(-2, 3, n) * (rng.random(n) < 0.3), 0)
    a, b = np.column_stack([ea, length]), np.column_stack([eb, length])
    fast = stats.paired_bootstrap(a, b, aggregate="ratio", higher_is_better=False, n_boot=4000)
    slow = stats.paired_bootstrap(a, b, aggregate=RATIO, higher_is_better=False, n_boot=4000)
    assert fast.delta == pytest.approx(slow.delta, abs=1e-15)
    assert fast.ci is not None and slow.ci is not None
    width = slow.ci[1] - slow.ci[0]
    assert fast.ci[0] == pytest.approx(slow.ci[0], abs=0.05 * width)
    assert fast.ci[1] == pytest.approx(slow.ci[1], abs=0.05 * width)


def test_counts_strategy_makes_no_float64_copy_of_the_stacked_columns() -> None:
    """Many paired tests over the same units share one counts product; its columns are
    centred straight into one float32 matrix. Besides the comparisons' own columns, the
    memory used is that matrix and small per-column temporaries - never a float64
    (units x K) stack (the old engine peaked at 46 MB here, this bound is 29 MB)."""
    import tracemalloc

    rng = np.random.default_rng(0)
    units, m = 20_000, 60
    jobs = []
    for _ in range(m):
        a = np.column_stack([rng.random(units), np.ones(units)])
        b = a.copy()
        b[:, 0] = rng.random(units)
        jobs.append(stats.PairedInput(a, b, "mean", True))
    tracemalloc.start()
    try:
        (first, *_) = stats.paired_tests(jobs, n_boot=16, seed=0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert first.test == "sign-flip" or first.test == "bootstrap"
    own_columns = m * units * 2 * 8  # each comparison's (head - base, count) columns
    float32_matrix = units * (m + 1) * 4
    assert peak < own_columns + 1.5 * float32_matrix + 2e6, peak / 1e6


def test_distinct_row_strategy_only_where_it_is_the_faster_one() -> None:
    """Measured crossover (see DISTINCT_COST): one multinomial category costs about as much
    as 27 drawn units, so 2,000 distinct rows among 20,000 units take the counts matrix
    (the old threshold of 8 units per row took the 2.2x slower multinomial) and 500 take the
    distinct-row multinomial."""
    rng = np.random.default_rng(3)
    for distinct, expected in ((2000, False), (500, True)):
        rows = np.column_stack([rng.integers(0, distinct, 20_000), np.ones(20_000)])
        rows[:distinct, 0] = np.arange(distinct)  # every value present
        assert (stats.distinct_rows(rows) is not None) is expected, distinct
