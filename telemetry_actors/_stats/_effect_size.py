"""Effect sizes of a two-sample comparison: Hedges' g and Cliff's delta.

Both are signed as treatment minus baseline: positive means the treatment's
values are larger (slower, dearer). Means and variances are computed with
exactly rounded sums so that large common offsets (timestamps, 1e9 + small
noise) do not swamp a small difference.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def mean(values: FloatArray) -> float:
    """Exactly rounded mean of a non-empty array: ``fsum / n``. O(n)."""
    try:
        return math.fsum(values.tolist()) / values.size
    except OverflowError:  # the sum leaves the float range; the mean may not
        return math.fsum((values / values.size).tolist())


def variance(values: FloatArray, center: float) -> float:
    """Sample variance (n - 1) about ``center``, the mean, with the compensated two-pass formula.

    ``Σd² - (Σd)²/n`` with ``d = x - center`` cancels the rounding error of
    ``center`` to first order (Chan, Golub & LeVeque 1983). O(n).
    """
    deviations = values - center
    squares = math.fsum((deviations * deviations).tolist())
    total = math.fsum(deviations.tolist())
    return max(squares - total * total / values.size, 0.0) / (values.size - 1)


def hedges_correction(df: int) -> float:
    """Hedges' (1981) exact small-sample factor, J(df) = Γ(df/2) / (√(df/2) Γ((df-1)/2)). O(1)."""
    return math.exp(math.lgamma(df / 2) - math.lgamma((df - 1) / 2)) / math.sqrt(df / 2)


def hedges_g(
    baseline: FloatArray, treatment: FloatArray, means: tuple[float, float]
) -> float | None:
    """Hedges' g: the difference of means in pooled standard deviations, bias-corrected.

    ``g = J(n_b + n_t - 2) · (mean_t - mean_b) / s_pooled`` with the exact
    gamma-function J, not the ``1 - 3/(4 df - 1)`` approximation.

    Args:
        baseline: Baseline values, at least two.
        treatment: Treatment values, at least two.
        means: ``(mean_baseline, mean_treatment)`` as already computed.

    Returns:
        g, or ``None`` when both sides have no variance (g is undefined). O(n).
    """
    df = baseline.size + treatment.size - 2
    pooled = (
        (baseline.size - 1) * variance(baseline, means[0])
        + (treatment.size - 1) * variance(treatment, means[1])
    ) / df
    if pooled <= 0.0:
        return None
    return hedges_correction(df) * (means[1] - means[0]) / math.sqrt(pooled)


def cliffs_delta(baseline_sorted: FloatArray, treatment: FloatArray) -> float:
    """Cliff's delta, P(t > b) - P(t < b) over all pairs, ties counting as neither.

    Counted exactly with binary searches in the sorted baseline instead of
    comparing all ``n_b · n_t`` pairs.

    Args:
        baseline_sorted: Baseline values, sorted ascending, at least one.
        treatment: Treatment values, at least one, any order.

    Returns:
        A number in [-1, 1]. O((n_b + n_t) log n_b).
    """
    below = np.searchsorted(baseline_sorted, treatment, side="left")  # b < t
    not_above = np.searchsorted(baseline_sorted, treatment, side="right")  # b <= t
    above = baseline_sorted.size - not_above
    difference = int(below.sum(dtype=np.int64)) - int(above.sum(dtype=np.int64))
    return difference / (baseline_sorted.size * treatment.size)
