"""The order-statistic bootstrap against exact enumeration, numpy and scipy."""

from __future__ import annotations

import itertools
import math
from collections import Counter

import numpy as np
import pytest
from scipy import stats

from telemetry_actors._stats._bootstrap import (
    order_statistic_indices,
    quantile_difference_interval,
    quantile_ranks,
    resampled_quantiles,
)


def exact_joint(n: int, rank: int) -> dict[tuple[int, int], float]:
    """P(ranks ``rank``, ``rank + 1`` of a resample sit at sorted positions i, j): brute force."""
    counts: Counter[tuple[int, int]] = Counter()
    upper = min(rank + 1, n - 1)
    for draw in itertools.product(range(n), repeat=n):
        ordered = sorted(draw)
        counts[ordered[rank], ordered[upper]] += 1
    return {cell: count / n**n for cell, count in counts.items()}


@pytest.mark.parametrize(("n", "rank"), [(1, 0), (2, 0), (4, 1), (4, 3), (5, 2), (6, 4)])
def test_order_statistics_follow_the_exact_resampling_distribution(n: int, rank: int) -> None:
    resamples = 200_000
    lower, upper = order_statistic_indices(n, rank, resamples, np.random.default_rng(7))
    observed = Counter(zip(lower.tolist(), upper.tolist(), strict=True))
    expected = exact_joint(n, rank)
    assert set(observed) <= set(expected)
    cells = sorted(expected)
    if len(cells) == 1:
        assert observed[cells[0]] == resamples
        return
    chi2 = stats.chisquare([observed[c] for c in cells], [expected[c] * resamples for c in cells])
    # Seeded, so deterministic; a wrong joint law gives p far below this.
    assert chi2.pvalue > 1e-3


@pytest.mark.parametrize("n", [1, 2, 3, 10, 101, 10_000])
@pytest.mark.parametrize("quantile", [0.0, 0.05, 0.5, 0.95, 0.99, 1.0])
def test_quantile_ranks_reproduce_numpys_linear_method(n: int, quantile: float) -> None:
    values = np.sort(np.random.default_rng(n).lognormal(3.0, 1.5, n))
    lower, upper, weight = quantile_ranks(n, quantile)
    a, b = values[lower], values[upper]
    # numpy's _lerp, the formula np.percentile uses
    mine = b - (b - a) * (1 - weight) if weight >= 0.5 else a + (b - a) * weight
    assert mine == np.percentile(values, quantile * 100)


def test_resampled_quantiles_match_naive_index_resampling() -> None:
    values = np.sort(np.random.default_rng(3).standard_t(2, 40))
    resamples = 20_000
    fast = resampled_quantiles(values, 0.95, resamples, np.random.default_rng(1))
    picks = np.random.default_rng(2).integers(0, values.size, (resamples, values.size))
    naive = np.percentile(values[picks], 95, axis=1)
    assert stats.ks_2samp(fast, naive).pvalue > 1e-3
    assert math.isclose(fast.mean(), naive.mean(), rel_tol=0.02)


@pytest.mark.parametrize("quantile", [0.5, 0.95])
def test_interval_agrees_with_scipy_bootstrap_within_monte_carlo_error(quantile: float) -> None:
    rng = np.random.default_rng(11)
    baseline, treatment = rng.lognormal(5.0, 0.8, 150), rng.lognormal(5.2, 0.8, 120)

    def statistic(b: np.ndarray, t: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.percentile(t, quantile * 100, axis=axis) - np.percentile(
            b, quantile * 100, axis=axis
        )

    reference = stats.bootstrap(
        (baseline, treatment),
        statistic,
        n_resamples=20_000,
        method="percentile",
        vectorized=True,
        rng=5,
    ).confidence_interval
    low, high = quantile_difference_interval(
        np.sort(baseline),
        np.sort(treatment),
        quantile,
        confidence=0.95,
        resamples=20_000,
        rng=np.random.default_rng(5),
    )
    width = reference.high - reference.low
    assert abs(low - reference.low) < 0.1 * width
    assert abs(high - reference.high) < 0.1 * width


def test_single_values_give_a_degenerate_interval_at_the_difference() -> None:
    interval = quantile_difference_interval(
        np.array([2.0]),
        np.array([7.5]),
        0.95,
        confidence=0.9,
        resamples=50,
        rng=np.random.default_rng(0),
    )
    assert interval == (5.5, 5.5)


def test_interval_uses_numpys_percentile_of_the_replicates() -> None:
    baseline, treatment = np.sort(np.arange(30.0)), np.sort(np.arange(30.0) ** 1.5)
    kwargs = {"confidence": 0.8, "resamples": 999}
    low, high = quantile_difference_interval(
        baseline, treatment, 0.5, rng=np.random.default_rng(4), **kwargs
    )
    rng = np.random.default_rng(4)
    baseline_replicates = resampled_quantiles(baseline, 0.5, 999, rng)  # baseline draws first
    replicates = resampled_quantiles(treatment, 0.5, 999, rng) - baseline_replicates
    alpha = (1 - 0.8) / 2  # scipy.stats.bootstrap's own arithmetic, to the last bit
    expected = np.percentile(replicates, [alpha * 100, (1 - alpha) * 100])
    assert (low, high) == tuple(expected.tolist())


def test_seed_reproduces_and_other_seeds_differ() -> None:
    values = np.sort(np.random.default_rng(9).normal(0.0, 1.0, 500))

    def draw(seed: int) -> list[float]:
        return resampled_quantiles(values, 0.5, 200, np.random.default_rng(seed)).tolist()

    assert draw(1) == draw(1)
    assert draw(1) != draw(2)


def test_large_resample_counts_are_chunked_with_the_same_law() -> None:
    values = np.sort(np.random.default_rng(1).normal(0.0, 1.0, 6))
    many = resampled_quantiles(values, 0.5, 150_000, np.random.default_rng(3))
    assert many.shape == (150_000,)
    expected_mean = sum(p * (values[i] + values[j]) / 2 for (i, j), p in exact_joint(6, 2).items())
    assert math.isclose(many.mean(), expected_mean, abs_tol=0.01)
