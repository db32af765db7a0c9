"""``significance_from_samples``: every number against scipy, brute force or print."""

from __future__ import annotations

import itertools
import math
import statistics
import subprocess
import sys
import warnings
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import msgspec
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats

from telemetry_actors._stats._significance import (
    MetricTest,
    ProportionTest,
    SideSample,
    Significance,
    holm,
    significance_from_samples,
)
from tests.stats.strategies import counts, p_values, samples, varied_samples

Array = np.ndarray
CONFIDENCE = 0.95


# ---------------------------------------------------------------- helpers


def side(
    latency: Sequence[float] | Array = (),
    cost: Sequence[float] | Array | None = None,
    *,
    successes: int = 0,
    total: int = 0,
    latency_keys: Sequence[Hashable] | None = None,
    cost_keys: Sequence[Hashable] | None = None,
    events: int | None = None,
) -> SideSample:
    latency = np.asarray(latency, dtype=np.float64)
    return SideSample(
        latency=latency,
        latency_keys=latency_keys,
        cost=latency.copy() if cost is None else np.asarray(cost, dtype=np.float64),
        cost_keys=latency_keys if cost_keys is None and cost is None else cost_keys,
        successes=successes,
        total=total,
        events=events,
    )


def run(
    baseline: SideSample, treatment: SideSample, *, paired_by: str | None = None, **kwargs: Any
) -> Significance:
    options: dict[str, Any] = {"confidence": CONFIDENCE, "resamples": 400, "seed": 1} | kwargs
    return significance_from_samples(
        baseline,
        treatment,
        baseline_id="base",
        treatment_id="treat",
        paired_by=paired_by,
        **options,
    )


def scipy_value(call: Callable[[], Any]) -> float | None:
    """scipy's own answer, NaN and errors as None, warnings silenced."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            value = float(call())
        except (ValueError, ZeroDivisionError, FloatingPointError):
            return None
    return value if math.isfinite(value) else None


def same(actual: float | None, expected: float | None) -> bool:
    if actual is None or expected is None:
        return actual is expected
    return math.isclose(actual, expected, rel_tol=1e-9, abs_tol=0.0)


def close(actual: float | None, expected: float | None, abs_tol: float = 1e-12) -> bool:
    if actual is None or expected is None:
        return actual is expected
    return math.isclose(actual, expected, rel_tol=1e-9, abs_tol=abs_tol)


def welch_defined(b: Array, t: Array) -> bool:
    """The documented rule: two values per side and variance on at least one side."""
    return b.size >= 2 and t.size >= 2 and not (np.ptp(b) == 0 and np.ptp(t) == 0)


def interval(call: Callable[[], Any]) -> tuple[float | None, float | None]:
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        ci = call()
    return scipy_value(lambda: ci.low), scipy_value(lambda: ci.high)


# ------------------------------------------------- samples, random and adversarial

_rng = np.random.default_rng(20_251_206)
_shared = _rng.normal(50.0, 8.0, 50)
CASES: dict[str, tuple[Array, Array]] = {
    "normal 30 v 30": (_rng.normal(100, 15, 30), _rng.normal(108, 15, 30)),
    "lognormal 200 v 180": (_rng.lognormal(5, 1, 200), _rng.lognormal(5.1, 1, 180)),
    "n 1 v 1": (np.array([3.0]), np.array([4.0])),
    "n 1 v 5": (np.array([3.0]), _rng.normal(4, 1, 5)),
    "n 2 v 2": (np.array([1.0, 2.0]), np.array([2.5, 4.0])),
    "n 5 v 30": (_rng.normal(10, 2, 5), _rng.normal(11, 2, 30)),
    "ties": (_rng.integers(0, 4, 40).astype(float), _rng.integers(0, 4, 35).astype(float)),
    "one side constant": (np.full(20, 5.0), _rng.normal(6, 1, 25)),
    "both constant, equal": (np.full(10, 2.0), np.full(12, 2.0)),
    "both constant, different": (np.full(10, 2.0), np.full(12, 3.0)),
    "cauchy tails": (_rng.standard_cauchy(300), _rng.standard_cauchy(300) + 1),
    "pareto tails": (_rng.pareto(1.1, 500), _rng.pareto(1.3, 400)),
    "identical": (_shared, _shared.copy()),
    "large offset": (1e9 + _rng.normal(0, 1e-3, 40), 1e9 + _rng.normal(0, 1e-3, 40)),
    "empty baseline": (np.array([]), _rng.normal(0, 1, 10)),
    "10k v 10k": (_rng.lognormal(5, 1, 10_000), _rng.lognormal(5.02, 1, 10_000)),
}


def expected_metric(b: Array, t: Array, confidence: float = CONFIDENCE) -> dict[str, Any]:
    """What each scipy-backed field must be, by the documented rules."""
    both = b.size > 0 and t.size > 0
    welch = welch_defined(b, t)
    ci = (None, None)
    if welch:
        ci = interval(
            lambda: stats.ttest_ind(t, b, equal_var=False).confidence_interval(confidence)
        )
    return {
        "p_welch": scipy_value(lambda: stats.ttest_ind(b, t, equal_var=False).pvalue)
        if welch
        else None,
        "ci_low": ci[0],
        "ci_high": ci[1],
        "p_mann_whitney": scipy_value(
            lambda: stats.mannwhitneyu(b, t, alternative="two-sided").pvalue
        )
        if both
        else None,
    }


def brute_cliff(b: Array, t: Array) -> float:
    sign = np.sign(t[:, None] - b[None, :])
    return float(sign.sum() / sign.size)


def brute_hedges(b: Array, t: Array) -> float:
    pooled = (
        (b.size - 1) * statistics.variance(b.tolist())
        + (t.size - 1) * statistics.variance(t.tolist())
    ) / (b.size + t.size - 2)
    df = b.size + t.size - 2
    correction = math.exp(math.lgamma(df / 2) - math.lgamma((df - 1) / 2)) / math.sqrt(df / 2)
    if df < 300:  # Hedges (1981), J(df) = Γ(df/2) / (√(df/2) Γ((df-1)/2)), directly
        correction = math.gamma(df / 2) / (math.sqrt(df / 2) * math.gamma((df - 1) / 2))
    return (
        correction
        * (statistics.fmean(t.tolist()) - statistics.fmean(b.tolist()))
        / math.sqrt(pooled)
    )


# ----------------------------------------------------- MetricTest against scipy


@pytest.mark.parametrize("name", list(CASES))
def test_metric_p_values_and_intervals_equal_scipy(name: str) -> None:
    b, t = CASES[name]
    result = run(side(b, b / 1000), side(t, t / 1000))
    for metric, scale in ((result.latency, 1.0), (result.cost, 1000.0)):
        bb, tt = b / scale, t / scale
        for field, value in expected_metric(bb, tt).items():
            assert same(getattr(metric, field), value), (name, field)


@pytest.mark.parametrize("name", list(CASES))
def test_metric_point_estimates_equal_numpy(name: str) -> None:
    b, t = CASES[name]
    metric = run(side(b), side(t)).latency
    assert (metric.n_baseline, metric.n_treatment) == (b.size, t.size)
    if b.size == 0:
        assert metric.mean_baseline is metric.difference is metric.median_difference is None
        assert metric.median_ci is metric.p95_ci is metric.cliffs_delta is None
        return
    assert close(metric.mean_baseline, math.fsum(b) / b.size)
    assert close(metric.mean_treatment, math.fsum(t) / t.size)
    assert metric.difference == metric.mean_treatment - metric.mean_baseline  # type: ignore[operator]
    assert metric.median_difference == float(np.median(t) - np.median(b))
    assert metric.p95_difference == float(np.percentile(t, 95) - np.percentile(b, 95))


@pytest.mark.parametrize("name", [n for n in CASES if n != "10k v 10k"])
def test_effect_sizes_equal_brute_force(name: str) -> None:
    b, t = CASES[name]
    metric = run(side(b), side(t)).latency
    if b.size == 0:
        assert metric.cliffs_delta is metric.hedges_g is None
        return
    assert metric.cliffs_delta == pytest.approx(brute_cliff(b, t), rel=1e-12, abs=1e-15)
    if welch_defined(b, t):
        assert close(metric.hedges_g, brute_hedges(b, t), abs_tol=1e-9)
    else:
        assert metric.hedges_g is None


def test_cliffs_delta_on_the_large_case_equals_a_blocked_brute_force() -> None:
    b, t = CASES["10k v 10k"]
    total = sum(
        int(np.sign(t[i : i + 500, None] - b[None, :]).sum()) for i in range(0, t.size, 500)
    )
    assert run(side(b), side(t)).latency.cliffs_delta == total / (b.size * t.size)


def test_welch_interval_is_for_treatment_minus_baseline() -> None:
    b, t = CASES["normal 30 v 30"]
    metric = run(side(b), side(t + 50)).latency
    forward = stats.ttest_ind(t + 50, b, equal_var=False).confidence_interval(CONFIDENCE)
    backward = stats.ttest_ind(b, t + 50, equal_var=False).confidence_interval(CONFIDENCE)
    assert metric.ci_low is not None
    assert metric.ci_high is not None
    assert 0 < metric.ci_low < metric.difference < metric.ci_high  # type: ignore[operator]
    assert (metric.ci_low, metric.ci_high) == (float(forward.low), float(forward.high))
    assert math.isclose(metric.ci_low, -backward.high, rel_tol=1e-9)
    assert math.isclose(metric.ci_high, -backward.low, rel_tol=1e-9)


@pytest.mark.parametrize("confidence", [0.5, 0.9, 0.99])
def test_confidence_reaches_every_interval(confidence: float) -> None:
    b, t = CASES["lognormal 200 v 180"]
    result = run(side(b), side(t), confidence=confidence)
    for field, value in expected_metric(b, t, confidence).items():
        assert same(getattr(result.latency, field), value), field
    wide = run(side(b), side(t), confidence=0.999)
    assert wide.latency.median_ci is not None
    assert result.latency.median_ci is not None
    assert wide.latency.median_ci[0] <= result.latency.median_ci[0]
    assert wide.latency.median_ci[1] >= result.latency.median_ci[1]


def test_bootstrap_intervals_bracket_the_observed_differences() -> None:
    b, t = CASES["lognormal 200 v 180"]
    metric = run(side(b), side(t), resamples=5_000).latency
    assert metric.median_ci is not None
    assert metric.p95_ci is not None
    assert metric.median_ci[0] < metric.median_difference < metric.median_ci[1]  # type: ignore[operator]
    assert metric.p95_ci[0] < metric.p95_difference < metric.p95_ci[1]  # type: ignore[operator]


def test_bootstrap_is_reproducible_with_a_seed_and_differs_across_seeds() -> None:
    b, t = CASES["lognormal 200 v 180"]
    first, again = run(side(b), side(t), seed=3), run(side(b), side(t), seed=3)
    other = run(side(b), side(t), seed=4)
    assert (first.latency.median_ci, first.latency.p95_ci) == (
        again.latency.median_ci,
        again.latency.p95_ci,
    )
    assert (first.cost.median_ci, first.cost.p95_ci) == (again.cost.median_ci, again.cost.p95_ci)
    assert (first.latency.median_ci, first.latency.p95_ci) != (
        other.latency.median_ci,
        other.latency.p95_ci,
    )
    unseeded = [run(side(b), side(t), seed=None).latency.p95_ci for _ in range(3)]
    assert len(set(unseeded)) > 1


def test_latency_intervals_do_not_depend_on_the_cost_data() -> None:
    b, t = CASES["lognormal 200 v 180"]
    one = run(side(b, b[:10]), side(t, t[:7]))
    two = run(side(b, b), side(t, t[:50]))
    assert one.latency.median_ci == two.latency.median_ci
    assert one.latency.p95_ci == two.latency.p95_ci


# --------------------------------------------------------------- paired tests


def per_key_means(values: Array, keys: Sequence[Hashable]) -> dict[Hashable, float]:
    groups: dict[Hashable, list[float]] = {}
    for value, key in zip(values.tolist(), keys, strict=True):
        if key is not None:
            groups.setdefault(key, []).append(value)
    return {key: math.fsum(group) / len(group) for key, group in groups.items()}


def paired_arrays(
    b: Array, b_keys: Sequence[Hashable], t: Array, t_keys: Sequence[Hashable]
) -> tuple[Array, Array]:
    bm, tm = per_key_means(b, b_keys), per_key_means(t, t_keys)
    shared = [key for key in bm if key in tm]
    return np.array([bm[k] for k in shared]), np.array([tm[k] for k in shared])


def test_paired_tests_equal_scipy_on_means_per_key() -> None:
    rng = np.random.default_rng(5)
    b_keys = [f"s{i % 40}" for i in range(100)] + [None, "only-baseline"]
    t_keys = [f"s{(i * 7) % 45}" for i in range(90)] + ["only-treatment", None]
    b = rng.lognormal(3, 0.5, len(b_keys))
    t = rng.lognormal(3.1, 0.5, len(t_keys))
    result = run(side(b, latency_keys=b_keys), side(t, latency_keys=t_keys), paired_by="sample_id")
    pb, pt = paired_arrays(b, b_keys, t, t_keys)
    metric = result.latency
    assert metric.n_pairs == pb.size == 40
    assert same(metric.p_paired_t, scipy_value(lambda: stats.ttest_rel(pb, pt).pvalue))
    assert same(metric.p_wilcoxon, scipy_value(lambda: stats.wilcoxon(pb, pt).pvalue))
    unpaired = run(side(b), side(t)).latency
    assert msgspec.structs.replace(metric, p_paired_t=None, p_wilcoxon=None, n_pairs=None) == (
        unpaired
    )
    assert result.paired_by == "sample_id"
    assert result.warnings == [
        "latency: 1 of 102 baseline values have no sample_id and were left out"
        " of the paired tests",
        "latency: 1 of 92 treatment values have no sample_id and were left out"
        " of the paired tests",
        "latency: 1 of 41 baseline sample_id values have no partner on the treatment side"
        " and were left out of the paired tests",
        "latency: 6 of 46 treatment sample_id values have no partner on the baseline side"
        " and were left out of the paired tests",
        "cost: 1 of 102 baseline values have no sample_id and were left out of the paired tests",
        "cost: 1 of 92 treatment values have no sample_id and were left out of the paired tests",
        "cost: 1 of 41 baseline sample_id values have no partner on the treatment side"
        " and were left out of the paired tests",
        "cost: 6 of 46 treatment sample_id values have no partner on the baseline side"
        " and were left out of the paired tests",
        "success: no events with a success outcome on the baseline side;"
        " its rate and tests are left out",
        "success: no events with a success outcome on the treatment side;"
        " its rate and tests are left out",
    ]


@pytest.mark.parametrize("n", [2, 5, 29, 30, 300])
def test_paired_tests_equal_scipy_for_one_event_per_key(n: int) -> None:
    rng = np.random.default_rng(n)
    keys = list(range(n))
    b = rng.normal(10, 2, n)
    t = b + rng.normal(0.3, 1, n)
    metric = run(
        side(b, latency_keys=keys), side(t, latency_keys=keys[::-1]), paired_by="k"
    ).latency
    pt = t[::-1]  # keys reversed on the treatment side: key k holds t[n - 1 - k]
    assert metric.n_pairs == n
    assert same(metric.p_paired_t, scipy_value(lambda: stats.ttest_rel(b, pt).pvalue))
    assert same(metric.p_wilcoxon, scipy_value(lambda: stats.wilcoxon(b, pt).pvalue))


def test_all_zero_paired_differences_give_none_and_a_warning() -> None:
    b = np.arange(40.0)
    result = run(side(b, latency_keys=range(40)), side(b, latency_keys=range(40)), paired_by="id")
    assert result.latency.n_pairs == 40
    assert result.latency.p_paired_t is result.latency.p_wilcoxon is None
    assert "latency: every paired difference is zero; the paired tests are undefined" in (
        result.warnings
    )


def test_constant_paired_differences_leave_the_wilcoxon_test() -> None:
    b = np.arange(40.0)
    result = run(
        side(b, latency_keys=range(40)), side(b + 2, latency_keys=range(40)), paired_by="id"
    )
    metric = result.latency
    assert metric.p_paired_t is None
    assert same(metric.p_wilcoxon, stats.wilcoxon(b, b + 2).pvalue)
    assert "latency: the paired differences have no variance; the paired t-test is undefined" in (
        result.warnings
    )


@pytest.mark.parametrize(
    ("b_keys", "t_keys", "n_pairs", "message"),
    [
        (
            ["a", "b"],
            ["c", "d"],
            0,
            "latency: no id is present on both sides; the paired tests are left out",
        ),
        (["a", "b"], ["a", "c"], 1, "latency: only one pair; the paired tests need at least two"),
    ],
)
def test_too_few_pairs_give_none_and_a_warning(
    b_keys: list[str], t_keys: list[str], n_pairs: int, message: str
) -> None:
    result = run(
        side([1.0, 2.0], latency_keys=b_keys),
        side([3.0, 5.0], latency_keys=t_keys),
        paired_by="id",
    )
    assert result.latency.n_pairs == n_pairs
    assert result.latency.p_paired_t is result.latency.p_wilcoxon is None
    assert message in result.warnings


def test_fewer_than_30_pairs_warns_about_the_paired_t_test() -> None:
    b = np.arange(12.0) ** 1.5
    result = run(
        side(b, latency_keys=range(12)), side(b * 1.1, latency_keys=range(12)), paired_by="id"
    )
    assert "latency: fewer than 30 pairs (12); the paired t-test is unreliable" in result.warnings


def test_unpaired_results_have_no_paired_fields() -> None:
    b, t = CASES["normal 30 v 30"]
    metric = run(side(b), side(t)).latency
    assert metric.p_paired_t is metric.p_wilcoxon is metric.n_pairs is None


def test_paired_mode_needs_keys() -> None:
    with pytest.raises(
        ValueError, match=r"paired_by='sample_id' needs latency_keys on the baseline side"
    ):
        run(side([1.0, 2.0]), side([1.0, 2.0], latency_keys=[1, 2]), paired_by="sample_id")


# ------------------------------------------------------------ ProportionTest

# Newcombe (1998), Statistics in Medicine 17:873-890, Table II, method 10:
# (treatment successes, total, baseline successes, total) -> interval of p_t - p_b.
NEWCOMBE_TABLE_II = [
    ((56, 70, 48, 80), (0.0524, 0.3339)),
    ((9, 10, 3, 10), (0.1705, 0.8090)),
    ((6, 7, 2, 7), (0.0582, 0.8062)),
    ((5, 56, 0, 29), (-0.0381, 0.1926)),
    ((0, 10, 0, 20), (-0.1611, 0.2775)),
    ((0, 10, 0, 10), (-0.2775, 0.2775)),
    ((10, 10, 0, 20), (0.6791, 1.0000)),
    ((10, 10, 0, 10), (0.6075, 1.0000)),
]


def proportions(s_b: int, n_b: int, s_t: int, n_t: int, **kwargs: Any) -> ProportionTest:
    return run(side(successes=s_b, total=n_b), side(successes=s_t, total=n_t), **kwargs).success


@pytest.mark.parametrize(("counts_", "published"), NEWCOMBE_TABLE_II)
def test_newcombe_interval_matches_the_published_table(
    counts_: tuple[int, int, int, int], published: tuple[float, float]
) -> None:
    s_t, n_t, s_b, n_b = counts_
    result = proportions(s_b, n_b, s_t, n_t)
    assert result.ci_low_pp is not None
    assert result.ci_high_pp is not None
    assert abs(result.ci_low_pp / 100 - published[0]) <= 0.5e-4 + 1e-12
    assert abs(result.ci_high_pp / 100 - published[1]) <= 0.5e-4 + 1e-12


def test_published_example_a_in_full() -> None:
    result = proportions(48, 80, 56, 70)
    assert (result.successes_baseline, result.total_baseline) == (48, 80)
    assert (result.successes_treatment, result.total_treatment) == (56, 70)
    assert result.rate_baseline == 0.6
    assert result.rate_treatment == 0.8
    assert result.difference_pp is not None
    assert math.isclose(result.difference_pp, 20.0)
    assert result.p_value == stats.fisher_exact([[48, 32], [56, 14]]).pvalue


def newcombe_from_scipy(
    s_b: int, n_b: int, s_t: int, n_t: int, confidence: float
) -> tuple[float, float]:
    """Method 10 assembled from scipy's Wilson intervals, in percentage points."""
    p_b, p_t = s_b / n_b, s_t / n_t
    l_b, u_b = stats.binomtest(s_b, n_b).proportion_ci(
        confidence_level=confidence, method="wilson"
    )
    l_t, u_t = stats.binomtest(s_t, n_t).proportion_ci(
        confidence_level=confidence, method="wilson"
    )
    d = p_t - p_b
    low = d - math.sqrt((p_t - l_t) ** 2 + (u_b - p_b) ** 2)
    high = d + math.sqrt((u_t - p_t) ** 2 + (p_b - l_b) ** 2)
    return low * 100, high * 100


@pytest.mark.parametrize(
    "table",
    [
        (48, 80, 56, 70),
        (0, 5, 5, 5),
        (3, 3, 3, 3),
        (0, 1, 1, 1),
        (1, 10_000, 3, 10_000),
        (7, 9, 7, 9),
    ],
)
@pytest.mark.parametrize("confidence", [0.8, 0.95, 0.999])
def test_proportion_test_equals_scipy(table: tuple[int, int, int, int], confidence: float) -> None:
    s_b, n_b, s_t, n_t = table
    result = proportions(s_b, n_b, s_t, n_t, confidence=confidence)
    low, high = newcombe_from_scipy(s_b, n_b, s_t, n_t, confidence)
    assert same(result.ci_low_pp, low)
    assert same(result.ci_high_pp, high)
    assert result.p_value == stats.fisher_exact([[s_b, n_b - s_b], [s_t, n_t - s_t]]).pvalue
    assert result.difference_pp == (s_t / n_t - s_b / n_b) * 100


@settings(max_examples=150, deadline=None)
@given(counts(), counts(), st.sampled_from([0.9, 0.95, 0.99]))
def test_proportion_test_equals_scipy_on_any_counts(
    baseline: tuple[int, int], treatment: tuple[int, int], confidence: float
) -> None:
    (s_b, n_b), (s_t, n_t) = baseline, treatment
    result = proportions(s_b, n_b, s_t, n_t, confidence=confidence)
    if n_b == 0 or n_t == 0:
        assert result.difference_pp is result.ci_low_pp is result.p_value is None
        return
    low, high = newcombe_from_scipy(s_b, n_b, s_t, n_t, confidence)
    assert same(result.ci_low_pp, low)
    assert same(result.ci_high_pp, high)
    assert result.ci_low_pp <= result.difference_pp <= result.ci_high_pp  # type: ignore[operator]
    assert result.p_value == stats.fisher_exact([[s_b, n_b - s_b], [s_t, n_t - s_t]]).pvalue


def test_empty_success_totals_give_no_rates() -> None:
    result = run(side(successes=0, total=0), side(successes=3, total=4))
    success = result.success
    assert success.rate_baseline is None
    assert success.rate_treatment == 0.75
    assert success.difference_pp is success.ci_low_pp is success.ci_high_pp is None
    assert success.p_value is None
    assert (
        "success: no events with a success outcome on the baseline side;"
        " its rate and tests are left out"
    ) in result.warnings


# --------------------------------------------------------------------- Holm


def test_holm_on_a_worked_example() -> None:
    adjusted = holm({"latency": 0.01, "cost": 0.04, "success": 0.03})
    assert adjusted == {"latency": 0.03, "cost": 0.06, "success": 0.06}
    assert holm({"latency": None, "cost": 0.04, "success": 0.03}) == {
        "latency": None,
        "cost": 0.06,
        "success": 0.06,
    }
    assert holm({"latency": 0.9, "cost": 0.5, "success": None}) == {
        "latency": 1.0,
        "cost": 1.0,
        "success": None,
    }


@given(st.dictionaries(st.sampled_from(["latency", "cost", "success"]), p_values, min_size=3))
def test_holm_is_at_least_raw_at_most_one_and_monotone(raw: dict[str, float | None]) -> None:
    adjusted = holm(raw)
    assert adjusted.keys() == raw.keys()
    present = sorted((p, adjusted[k]) for k, p in raw.items() if p is not None)
    for key, p in raw.items():
        value = adjusted[key]
        if p is None:
            assert value is None
        else:
            assert value is not None
            assert p <= value <= 1.0
    for (p1, a1), (p2, a2) in itertools.pairwise(present):
        assert p1 <= p2
        assert a1 <= a2
    m = len(present)
    if present:  # the smallest is multiplied by the family size, capped at 1
        assert present[0][1] == min(1.0, m * present[0][0])


def test_significance_reports_holm_of_the_three_tests() -> None:
    b, t = CASES["lognormal 200 v 180"]
    result = run(side(b, b * 2, successes=150, total=200), side(t, t, successes=120, total=180))
    raw = {
        "latency": result.latency.p_welch,
        "cost": result.cost.p_welch,
        "success": result.success.p_value,
    }
    assert result.p_holm == holm(raw)
    assert list(result.p_holm) == ["latency", "cost", "success"]


# ---------------------------------------------------------------- properties


def flipped(interval_: tuple[float, float] | None) -> tuple[float, float] | None:
    return None if interval_ is None else (-interval_[1], -interval_[0])


def negated(value: float | None) -> float | None:
    return None if value is None else -value


@settings(max_examples=60, deadline=None)
@given(samples(), samples(), counts(), counts())
def test_swapping_sides_flips_differences_and_keeps_p_values(
    b: Array, t: Array, cb: tuple[int, int], ct: tuple[int, int]
) -> None:
    forward = run(side(b, successes=cb[0], total=cb[1]), side(t, successes=ct[0], total=ct[1]))
    backward = run(side(t, successes=ct[0], total=ct[1]), side(b, successes=cb[0], total=cb[1]))
    one, two = forward.latency, backward.latency
    for field in ("difference", "hedges_g", "cliffs_delta", "median_difference", "p95_difference"):
        assert close(getattr(one, field), negated(getattr(two, field))), field
    assert close(one.ci_low, negated(two.ci_high))
    assert close(one.ci_high, negated(two.ci_low))
    for field in ("p_welch", "p_mann_whitney"):
        assert close(getattr(one, field), getattr(two, field)), field
    s1, s2 = forward.success, backward.success
    assert close(s1.difference_pp, negated(s2.difference_pp))
    assert close(s1.ci_low_pp, negated(s2.ci_high_pp), abs_tol=1e-9)
    assert close(s1.ci_high_pp, negated(s2.ci_low_pp), abs_tol=1e-9)
    assert close(s1.p_value, s2.p_value)
    for key in ("latency", "cost", "success"):
        assert close(forward.p_holm[key], backward.p_holm[key])


def test_swapping_sides_mirrors_the_bootstrap_intervals_within_monte_carlo_error() -> None:
    b, t = CASES["lognormal 200 v 180"]
    forward = run(side(b), side(t), resamples=20_000).latency
    backward = run(side(t), side(b), resamples=20_000).latency
    for one, two in ((forward.median_ci, backward.median_ci), (forward.p95_ci, backward.p95_ci)):
        assert one is not None
        assert two is not None
        width = one[1] - one[0]
        assert abs(one[0] + two[1]) < 0.05 * width
        assert abs(one[1] + two[0]) < 0.05 * width


@settings(max_examples=60, deadline=None)
@given(varied_samples(), counts())
def test_identical_samples_give_p_one_and_intervals_around_zero(
    values: Array, success: tuple[int, int]
) -> None:
    assume(success[1] > 0)
    same_side = side(values, successes=success[0], total=success[1])
    result = run(same_side, side(values.copy(), successes=success[0], total=success[1]))
    metric = result.latency
    assert metric.p_welch == 1.0
    assert metric.p_mann_whitney == 1.0
    assert result.success.p_value == 1.0
    assert metric.difference == metric.median_difference == metric.p95_difference == 0.0
    assert metric.hedges_g == metric.cliffs_delta == 0.0
    for low, high in (
        (metric.ci_low, metric.ci_high),
        metric.median_ci,
        metric.p95_ci,
        (result.success.ci_low_pp, result.success.ci_high_pp),
    ):
        assert low is not None
        assert high is not None
        assert low <= 0.0 <= high


@settings(max_examples=40, deadline=None)
@given(samples(min_size=1), samples(min_size=1), st.integers(0, 2**32))
def test_a_seed_reproduces_every_interval(b: Array, t: Array, seed: int) -> None:
    one, two = run(side(b), side(t), seed=seed), run(side(b), side(t), seed=seed)
    assert one == two


@settings(max_examples=60, deadline=None)
@given(samples(), samples(), counts(), counts())
def test_every_p_value_is_a_probability_or_none(
    b: Array, t: Array, cb: tuple[int, int], ct: tuple[int, int]
) -> None:
    result = run(side(b, successes=cb[0], total=cb[1]), side(t, successes=ct[0], total=ct[1]))
    ps = [result.latency.p_welch, result.latency.p_mann_whitney, result.success.p_value]
    ps += list(result.p_holm.values())
    for p in ps:
        assert p is None or 0.0 <= p <= 1.0
    for metric in (result.latency, result.cost):
        for low, high in ((metric.ci_low, metric.ci_high), metric.median_ci or (0, 0)):
            assert (low is None) == (high is None)
            assert low is None or low <= high  # type: ignore[operator]


# ------------------------------------------------------------------ warnings


def test_clean_samples_give_no_warnings() -> None:
    b, t = CASES["lognormal 200 v 180"]
    result = run(side(b, successes=150, total=200), side(t, successes=120, total=180))
    assert result.warnings == []


def test_small_samples_warn_with_their_size() -> None:
    b, t = CASES["n 5 v 30"]
    result = run(side(b, successes=4, total=5), side(t, successes=20, total=30))
    assert result.warnings == [
        "latency: fewer than 30 events on the baseline side (5); the t-test is unreliable",
        "cost: fewer than 30 events on the baseline side (5); the t-test is unreliable",
    ]


def test_one_event_on_a_side() -> None:
    result = run(side([3.0], successes=1, total=1), side(np.arange(40.0), successes=1, total=40))
    assert result.latency.p_welch is result.latency.ci_low is result.latency.hedges_g is None
    assert result.latency.p_mann_whitney == stats.mannwhitneyu([3.0], np.arange(40.0)).pvalue
    assert (
        "latency: only one event on the baseline side; the Welch test, its interval"
        " and Hedges' g need two per side"
    ) in result.warnings


def test_no_variance_on_either_side() -> None:
    result = run(
        side(np.full(40, 2.0), successes=1, total=2), side(np.full(50, 3.0), successes=1, total=2)
    )
    metric = result.cost
    assert metric.p_welch is metric.ci_low is metric.ci_high is metric.hedges_g is None
    assert metric.difference == 1.0
    assert metric.cliffs_delta == 1.0
    assert metric.median_ci == (1.0, 1.0)
    assert metric.p95_ci == (1.0, 1.0)
    assert result.warnings == [
        "latency: no variance on either side; the Welch test is undefined",
        "cost: no variance on either side; the Welch test is undefined",
    ]


def test_no_variance_on_one_side() -> None:
    t = np.linspace(1.0, 9.0, 40)
    result = run(side(np.full(40, 2.5)), side(t))
    expected = scipy_value(lambda: stats.ttest_ind(np.full(40, 2.5), t, equal_var=False).pvalue)
    assert same(result.latency.p_welch, expected)
    assert (
        "latency: no variance on the baseline side (all 40 values are 2.5);"
        " the Welch test rests on the treatment side's variance alone"
    ) in result.warnings


def test_no_events_on_a_side() -> None:
    result = run(side([]), side(np.arange(40.0)))
    metric = result.latency
    assert (metric.n_baseline, metric.n_treatment) == (0, 40)
    assert metric.mean_baseline is None
    assert metric.mean_treatment == 19.5
    assert metric.difference is metric.p_welch is metric.p_mann_whitney is None
    assert metric.median_difference is metric.median_ci is metric.p95_ci is None
    assert "latency: no events on the baseline side; its tests are left out" in result.warnings


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ((5, 5, 7, 7), "success: no failures on either side; the difference is not informative"),
        ((0, 5, 0, 7), "success: no successes on either side; the difference is not informative"),
    ],
)
def test_one_outcome_only_warns(table: tuple[int, int, int, int], message: str) -> None:
    s_b, n_b, s_t, n_t = table
    values = np.arange(40.0)
    result = run(side(values, successes=s_b, total=n_b), side(values, successes=s_t, total=n_t))
    assert result.warnings == [message]
    assert result.success.p_value == 1.0


def test_values_left_out_are_counted_when_the_event_count_is_given() -> None:
    values = np.arange(160.0)
    result = run(
        side(values, values[:150], events=200, successes=100, total=200),
        side(values, values, events=160, successes=80, total=160),
    )
    assert result.warnings == [
        "latency: 40 of 200 baseline events have no latency and were left out",
        "cost: 50 of 200 baseline events have no cost and were left out",
    ]


# -------------------------------------------------------- the whole result


def test_result_carries_its_arguments_and_turns_into_builtins() -> None:
    b, t = CASES["normal 30 v 30"]
    result = significance_from_samples(
        side(b, successes=20, total=30),
        side(t, successes=25, total=30),
        baseline_id="aaaa",
        treatment_id="bbbb",
        paired_by=None,
        confidence=0.9,
        resamples=123,
        seed=7,
    )
    assert (result.baseline_id, result.treatment_id) == ("aaaa", "bbbb")
    assert (result.confidence, result.resamples, result.seed, result.paired_by) == (
        0.9,
        123,
        7,
        None,
    )
    plain = msgspec.to_builtins(result)
    assert set(plain) == {
        "baseline_id",
        "treatment_id",
        "confidence",
        "resamples",
        "seed",
        "paired_by",
        "latency",
        "cost",
        "success",
        "p_holm",
        "warnings",
    }
    assert set(plain["latency"]) == set(MetricTest.__struct_fields__)
    assert list(plain["latency"]["median_ci"]) == list(result.latency.median_ci or ())
    assert msgspec.json.decode(msgspec.json.encode(result), type=Significance) == result


def test_defaults_are_the_contracts() -> None:
    b, t = CASES["normal 30 v 30"]
    result = significance_from_samples(
        side(b), side(t), baseline_id="a", treatment_id="b", paired_by=None
    )
    assert (result.confidence, result.resamples, result.seed) == (0.95, 10_000, None)


# ------------------------------------------------------------------ arguments


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"confidence": 1.0},
            ValueError,
            r"confidence must be between 0 and 1 \(exclusive\), got 1\.0",
        ),
        (
            {"confidence": 0},
            ValueError,
            r"confidence must be between 0 and 1 \(exclusive\), got 0",
        ),
        ({"confidence": float("nan")}, ValueError, r"got nan"),
        ({"confidence": "95%"}, TypeError, r"confidence must be a number, got str '95%'"),
        ({"confidence": True}, TypeError, r"confidence must be a number, got bool True"),
        ({"resamples": 0}, ValueError, r"resamples must be at least 1, got 0"),
        ({"resamples": 10.0}, TypeError, r"resamples must be an int, got float 10\.0"),
        ({"seed": "7"}, TypeError, r"seed must be an int or None, got str '7'"),
        ({"seed": -1}, ValueError, r"seed must be non-negative, got -1"),
        ({"paired_by": 3}, TypeError, r"paired_by must be a str or None, got int 3"),
    ],
)
def test_arguments_are_checked(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        run(side([1.0, 2.0]), side([1.0, 2.0]), **kwargs)


def test_numpy_integers_are_accepted_for_counts() -> None:
    result = run(side([1.0, 2.0]), side([1.0, 2.0]), resamples=np.int64(50), seed=np.uint32(3))
    assert (result.resamples, result.seed) == (50, 3)
    assert type(result.resamples) is int
    assert type(result.seed) is int


@pytest.mark.parametrize(
    ("build", "error", "match"),
    [
        (
            lambda: SideSample(latency=np.zeros((2, 2)), cost=np.zeros(1)),
            ValueError,
            r"latency must be one-dimensional, got shape \(2, 2\)",
        ),
        (
            lambda: SideSample(latency=np.array([1.0, np.nan, np.inf]), cost=np.zeros(1)),
            ValueError,
            r"latency holds 2 non-finite values",
        ),
        (
            lambda: SideSample(latency=np.zeros(3), latency_keys=[1, 2], cost=np.zeros(1)),
            ValueError,
            r"latency_keys has 2 keys for 3 latency values",
        ),
        (
            lambda: SideSample(latency=np.zeros(1), cost=np.zeros(1), successes=3, total=2),
            ValueError,
            r"successes must be between 0 and total \(2\), got 3",
        ),
        (
            lambda: SideSample(latency=np.zeros(1), cost=np.zeros(1), total=-1),
            ValueError,
            r"total must be non-negative, got -1",
        ),
        (
            lambda: SideSample(latency=np.zeros(1), cost=np.zeros(1), successes=1.5, total=2),
            TypeError,
            r"successes must be an int, got float 1\.5",
        ),
        (
            lambda: SideSample(latency=np.zeros(3), cost=np.zeros(1), events=2),
            ValueError,
            r"events \(2\) is fewer than the 3 latency values",
        ),
        (
            lambda: SideSample(latency=["a"], cost=np.zeros(1)),
            ValueError,
            r"latency must hold numbers",
        ),
    ],
)
def test_side_samples_are_checked(
    build: Callable[[], SideSample], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        build()


def test_side_sample_copies_into_float64() -> None:
    source = [1, 2, 3]
    sample = SideSample(latency=source, cost=np.array([1.5], dtype=np.float32))  # type: ignore[arg-type]
    assert sample.latency.dtype == np.float64
    assert sample.cost.dtype == np.float64
    assert sample.latency.tolist() == [1.0, 2.0, 3.0]


# --------------------------------------------------------- scipy is optional


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120
    )


def test_the_module_imports_without_loading_scipy() -> None:
    done = run_python(
        "import sys\nimport telemetry_actors._stats._significance\nprint('scipy' in sys.modules)\n"
    )
    assert done.stdout.strip() == "False", done.stderr


def test_a_missing_scipy_raises_an_import_error_that_says_what_to_install() -> None:
    done = run_python(
        "import sys\n"
        "sys.modules['scipy'] = None  # as if it were not installed\n"
        "import numpy as np\n"
        "from telemetry_actors._stats._significance import SideSample, significance_from_samples\n"
        "s = SideSample(latency=np.ones(3), cost=np.ones(3))\n"
        "try:\n"
        "    significance_from_samples(s, s, baseline_id='a', treatment_id='b', paired_by=None)\n"
        "except ImportError as error:\n"
        "    print(error)\n"
    )
    assert done.stdout.strip() == (
        "significance() needs scipy: pip install 'telemetry-actors[stats]'"
    ), done.stderr
