"""Two-sample tests of one numeric metric (latency, cost): the :class:`MetricTest`."""

from __future__ import annotations

import math
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt

from ._bootstrap import quantile_difference_interval
from ._effect_size import cliffs_delta, hedges_g, mean
from ._paired import PairedTests
from ._scipy import attempt, finite, quiet

FloatArray = npt.NDArray[np.float64]

#: Below this many events on a side the t-test's normal approximation is unreliable.
FEW_EVENTS = 30


class MetricTest(msgspec.Struct, frozen=True, kw_only=True):
    """How a metric differs between the baseline and the treatment, with tests.

    Every difference is treatment minus baseline: for latency a positive
    value means the treatment is slower, for cost that it is dearer. A number
    that cannot be computed (no events on a side, no variance, …) is ``None``
    and ``Significance.warnings`` says why.

    Attributes:
        n_baseline: Baseline events with a value of this metric.
        n_treatment: Treatment events with a value of this metric.
        mean_baseline: Mean of the baseline values.
        mean_treatment: Mean of the treatment values.
        difference: ``mean_treatment - mean_baseline``.
        ci_low: Lower end of the Welch confidence interval of ``difference``.
        ci_high: Upper end of that interval (at ``Significance.confidence``).
        p_welch: Two-sided p-value of Welch's t-test (equal means, unequal
            variances): how surprising a difference of means at least this
            large would be if the two sides had the same mean.
        p_mann_whitney: Two-sided p-value of the Mann-Whitney U test: does one
            side tend to have larger values? Robust to outliers and skew.
        hedges_g: The difference of means in pooled standard deviations,
            corrected for small samples (0.2 small, 0.5 medium, 0.8 large).
        cliffs_delta: P(treatment value > baseline value) - P(<), over all
            pairs of values: from -1 (treatment always smaller) to 1.
        median_difference: Median of treatment - median of baseline.
        median_ci: Percentile-bootstrap interval of ``median_difference``.
        p95_difference: 95th percentile of treatment - that of baseline
            (numpy's linear method): the tail, where users feel latency.
        p95_ci: Percentile-bootstrap interval of ``p95_difference``.
        p_paired_t: Paired runs only: p-value of the paired t-test on the
            per-key means (same key, e.g. the same prompt, on both sides).
        p_wilcoxon: Paired runs only: p-value of the Wilcoxon signed-rank test
            on the same pairs.
        n_pairs: Paired runs only: keys present on both sides.
    """

    n_baseline: int
    n_treatment: int
    mean_baseline: float | None = None
    mean_treatment: float | None = None
    difference: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p_welch: float | None = None
    p_mann_whitney: float | None = None
    hedges_g: float | None = None
    cliffs_delta: float | None = None
    median_difference: float | None = None
    median_ci: tuple[float, float] | None = None
    p95_difference: float | None = None
    p95_ci: tuple[float, float] | None = None
    p_paired_t: float | None = None
    p_wilcoxon: float | None = None
    n_pairs: int | None = None


def compare_metric(
    name: str,
    baseline: FloatArray,
    treatment: FloatArray,
    *,
    paired: PairedTests | None,
    confidence: float,
    resamples: int,
    rng: np.random.Generator,
    stats: Any,
    notes: list[str],
) -> MetricTest:
    """Every unpaired test of one metric, plus the paired results already computed.

    Args:
        name: The metric ("latency", "cost"), for the notes.
        baseline: Baseline values (finite float64).
        treatment: Treatment values.
        paired: Results of the paired tests, or ``None`` when not paired.
        confidence: Coverage of every interval.
        resamples: Bootstrap resamples per side and statistic.
        rng: Source of the bootstrap's randomness.
        stats: The ``scipy.stats`` module.
        notes: Where sentences about unreliable or undefined results go.

    Returns:
        The filled :class:`MetricTest`. O(n log n + resamples · log n).
    """
    fields: dict[str, Any] = {"n_baseline": baseline.size, "n_treatment": treatment.size}
    if paired is not None:
        fields |= paired._asdict()
    with quiet():  # extreme magnitudes may overflow; _finite turns that into None and a note
        if not _check_sizes(name, baseline, treatment, notes):
            fields["mean_baseline"] = mean(baseline) if baseline.size else None
            fields["mean_treatment"] = mean(treatment) if treatment.size else None
            return MetricTest(**_finite(fields, name, notes))
        means = (mean(baseline), mean(treatment))
        fields |= {
            "mean_baseline": means[0],
            "mean_treatment": means[1],
            "difference": means[1] - means[0],
            **_welch(name, baseline, treatment, means, confidence, stats, notes),
            "p_mann_whitney": attempt(
                "the Mann-Whitney test",
                lambda: stats.mannwhitneyu(baseline, treatment, alternative="two-sided").pvalue,
                notes,
                name,
            ),
            "cliffs_delta": cliffs_delta(np.sort(baseline), treatment),
            **_quantiles(baseline, treatment, confidence, resamples, rng),
        }
    return MetricTest(**_finite(fields, name, notes))


def _finite(fields: dict[str, Any], name: str, notes: list[str]) -> dict[str, Any]:
    """Replace NaN and infinite numbers (overflowed sums or spreads) by None, with a note."""
    for field, value in fields.items():
        numbers = value if isinstance(value, tuple) else (value,)
        if any(isinstance(x, float) and not math.isfinite(x) for x in numbers):
            fields[field] = None
            notes.append(f"{name}: {field} is out of the float range for these values; left out")
    return fields


def _check_sizes(name: str, baseline: FloatArray, treatment: FloatArray, notes: list[str]) -> bool:
    """Note empty and small sides; False when a side is empty (no test can run)."""
    both = True
    for label, values in (("baseline", baseline), ("treatment", treatment)):
        if values.size == 0:
            notes.append(f"{name}: no events on the {label} side; its tests are left out")
            both = False
        elif values.size == 1:
            notes.append(
                f"{name}: only one event on the {label} side; the Welch test, its interval"
                " and Hedges' g need two per side"
            )
        elif values.size < FEW_EVENTS:
            notes.append(
                f"{name}: fewer than 30 events on the {label} side ({values.size});"
                " the t-test is unreliable"
            )
    return both


def _welch(
    name: str,
    baseline: FloatArray,
    treatment: FloatArray,
    means: tuple[float, float],
    confidence: float,
    stats: Any,
    notes: list[str],
) -> dict[str, float | None]:
    """Welch's p-value and interval and Hedges' g, when each side has two values and one varies."""
    if baseline.size < 2 or treatment.size < 2:
        return {}
    constant = [
        (label, values)
        for label, values in (("baseline", baseline), ("treatment", treatment))
        if np.ptp(values) == 0
    ]
    if len(constant) == 2:
        notes.append(f"{name}: no variance on either side; the Welch test is undefined")
        return {}
    for label, values in constant:
        other = "treatment" if label == "baseline" else "baseline"
        notes.append(
            f"{name}: no variance on the {label} side (all {values.size} values are"
            f" {float(values[0])!r}); the Welch test rests on the {other} side's variance alone"
        )
    low, high = _welch_interval(name, baseline, treatment, confidence, stats, notes)
    return {
        "p_welch": attempt(
            "the Welch test",
            lambda: stats.ttest_ind(baseline, treatment, equal_var=False).pvalue,
            notes,
            name,
        ),
        "ci_low": low,
        "ci_high": high,
        "hedges_g": hedges_g(baseline, treatment, means),
    }


def _welch_interval(
    name: str,
    baseline: FloatArray,
    treatment: FloatArray,
    confidence: float,
    stats: Any,
    notes: list[str],
) -> tuple[float | None, float | None]:
    """scipy's Welch interval for mean(treatment) - mean(baseline): treatment goes first."""
    try:
        with quiet():
            result = stats.ttest_ind(treatment, baseline, equal_var=False)
            interval = result.confidence_interval(confidence_level=confidence)
            low, high = finite(interval.low), finite(interval.high)
    except (ValueError, ArithmeticError) as error:
        notes.append(f"{name}: the Welch interval failed ({error}); it is left out")
        return None, None
    if low is None or high is None:
        notes.append(f"{name}: the Welch interval has no finite ends for these samples")
        return None, None
    return low, high


def _quantiles(
    baseline: FloatArray,
    treatment: FloatArray,
    confidence: float,
    resamples: int,
    rng: np.random.Generator,
) -> dict[str, Any]:
    """Median and p95 differences with their percentile-bootstrap intervals."""
    baseline_sorted, treatment_sorted = np.sort(baseline), np.sort(treatment)
    fields: dict[str, Any] = {
        "median_difference": float(np.median(treatment) - np.median(baseline)),
        "p95_difference": float(np.percentile(treatment, 95) - np.percentile(baseline, 95)),
    }
    for field, quantile in (("median_ci", 0.5), ("p95_ci", 0.95)):
        fields[field] = quantile_difference_interval(
            baseline_sorted,
            treatment_sorted,
            quantile,
            confidence=confidence,
            resamples=resamples,
            rng=rng,
        )
    return fields
