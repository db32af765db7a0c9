"""Is the treatment different from the baseline? Tests of latency, cost and success.

:func:`significance_from_samples` takes each side's numbers (a
:class:`SideSample`) and returns a :class:`Significance`: per metric a
:class:`MetricTest` (Welch, Mann-Whitney, effect sizes, bootstrap intervals
of the median and p95 differences, paired tests on request), the success
rates' :class:`ProportionTest` (Newcombe interval, Fisher's exact test), the
Holm-adjusted p-values of the three headline tests, and plain-English
warnings wherever a number is unreliable or undefined.

scipy is optional (the ``stats`` extra): it is imported on the first call,
so importing this module never loads it.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

import msgspec
import numpy as np

from ._metric_test import MetricTest, compare_metric
from ._paired import PairedTests, pair, paired_tests
from ._proportion_test import ProportionTest, compare_proportions
from ._scipy import scipy_stats
from ._side_sample import SideSample, describe

__all__ = [
    "MetricTest",
    "ProportionTest",
    "SideSample",
    "Significance",
    "holm",
    "significance_from_samples",
]


class Significance(msgspec.Struct, frozen=True, kw_only=True):
    """The tests comparing a treatment experiment with a baseline experiment.

    Attributes:
        baseline_id: The baseline experiment.
        treatment_id: The treatment experiment; every difference is treatment
            minus baseline.
        confidence: Coverage of every interval (0.95: 95 % intervals).
        resamples: Bootstrap resamples behind ``median_ci`` and ``p95_ci``.
        seed: Seed of the bootstrap (``None``: fresh randomness each call).
        paired_by: The key the paired tests matched events by, or ``None``.
        latency: Tests of ``latency_ms``.
        cost: Tests of ``cost_usd``.
        success: Tests of the success rate.
        p_holm: Holm-adjusted p-values of the family {latency Welch, cost
            Welch, success Fisher}, keyed "latency", "cost", "success": compare
            them with your threshold (0.05) to keep the chance of any false
            alarm among the three at most that threshold. A test without a
            p-value is ``None`` and not part of the family.
        warnings: Plain sentences on what is unreliable or was left out.
    """

    baseline_id: str
    treatment_id: str
    confidence: float
    resamples: int
    seed: int | None
    paired_by: str | None
    latency: MetricTest
    cost: MetricTest
    success: ProportionTest
    p_holm: dict[str, float | None]
    warnings: list[str]


def holm(p_values: Mapping[str, float | None]) -> dict[str, float | None]:
    """Holm's step-down adjustment of a family of p-values.

    The i-th smallest of the m present p-values becomes the running maximum
    of ``min(1, (m - j + 1) · p_(j))`` for j ≤ i; ties keep their order.

    Args:
        p_values: p-values by name; ``None`` entries are not in the family.

    Returns:
        The adjusted p-values under the same names (``None`` stays ``None``).
        O(m log m).
    """
    present = sorted((p, name) for name, p in p_values.items() if p is not None)
    adjusted: dict[str, float | None] = dict.fromkeys(p_values)
    running = 0.0
    for rank, (p, name) in enumerate(present):
        running = max(running, min(1.0, (len(present) - rank) * p))
        adjusted[name] = running
    return adjusted


def _check_arguments(
    confidence: object, resamples: object, seed: object, paired_by: object
) -> tuple[float, int, int | None]:
    if isinstance(confidence, bool) or not isinstance(confidence, numbers.Real):
        raise TypeError(f"confidence must be a number, got {describe(confidence)}")
    if not 0 < float(confidence) < 1:  # also rejects NaN
        raise ValueError(f"confidence must be between 0 and 1 (exclusive), got {confidence!r}")
    if isinstance(resamples, bool) or not isinstance(resamples, numbers.Integral):
        raise TypeError(f"resamples must be an int, got {describe(resamples)}")
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, got {resamples}")
    if paired_by is not None and not isinstance(paired_by, str):
        raise TypeError(f"paired_by must be a str or None, got {describe(paired_by)}")
    if seed is None:
        return float(confidence), int(resamples), None
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be an int or None, got {describe(seed)}")
    if int(seed) < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    return float(confidence), int(resamples), int(seed)


def significance_from_samples(
    baseline: SideSample,
    treatment: SideSample,
    *,
    baseline_id: str,
    treatment_id: str,
    paired_by: str | None,
    confidence: float = 0.95,
    resamples: int = 10_000,
    seed: int | None = None,
) -> Significance:
    """Compare a treatment with a baseline: latency, cost and success, with warnings.

    Each metric is tested unpaired (Welch, Mann-Whitney, Hedges' g, Cliff's
    delta, bootstrap intervals of the median and p95 differences). With
    ``paired_by``, the values are also matched by key (mean per key per side,
    keys present on both sides) for the paired t-test and the Wilcoxon
    signed-rank test. The bootstrap draws from ``numpy.random.default_rng(seed)``,
    one independent stream per metric.

    Args:
        baseline: The baseline's numbers.
        treatment: The treatment's numbers.
        baseline_id: Recorded in the result.
        treatment_id: Recorded in the result.
        paired_by: Name of the pairing key, or ``None`` for unpaired tests only.
        confidence: Coverage of every interval, in (0, 1).
        resamples: Bootstrap resamples per side and statistic, at least 1.
        seed: Makes the bootstrap reproducible; ``None`` for fresh randomness.

    Returns:
        The :class:`Significance`. Costs O(n log n + resamples · log n) for n
        values per side: about 0.2 s for 10,000 values per side and 10,000
        resamples.

    Raises:
        TypeError: An argument has the wrong type.
        ValueError: An argument is out of range, or ``paired_by`` is given but
            a side has no keys.
        ImportError: scipy is not installed.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> def side(mu: float) -> SideSample:
        ...     latency = rng.lognormal(mu, 0.3, 500)
        ...     return SideSample(latency=latency, cost=latency / 1e4, successes=480, total=500)
        >>> result = significance_from_samples(
        ...     side(5.0), side(5.1), baseline_id="a", treatment_id="b", paired_by=None, seed=1
        ... )
        >>> result.latency.difference > 0 and result.latency.p_welch < 0.001
        True
    """
    confidence, resamples, seed = _check_arguments(confidence, resamples, seed, paired_by)
    stats = scipy_stats()
    notes: list[str] = []
    _note_missing(baseline, treatment, notes)
    metric_rngs = np.random.default_rng(seed).spawn(2)
    tests = {}
    for name, rng in zip(("latency", "cost"), metric_rngs, strict=True):
        b, t = getattr(baseline, name), getattr(treatment, name)
        paired = None
        if paired_by is not None:
            paired = _paired(name, baseline, treatment, paired_by, stats, notes)
        tests[name] = compare_metric(
            name,
            b,
            t,
            paired=paired,
            confidence=confidence,
            resamples=resamples,
            rng=rng,
            stats=stats,
            notes=notes,
        )
    success = compare_proportions(
        (baseline.successes, baseline.total),
        (treatment.successes, treatment.total),
        confidence=confidence,
        stats=stats,
        notes=notes,
    )
    return Significance(
        baseline_id=baseline_id,
        treatment_id=treatment_id,
        confidence=confidence,
        resamples=resamples,
        seed=seed,
        paired_by=paired_by,
        latency=tests["latency"],
        cost=tests["cost"],
        success=success,
        p_holm=holm(
            {
                "latency": tests["latency"].p_welch,
                "cost": tests["cost"].p_welch,
                "success": success.p_value,
            }
        ),
        warnings=notes,
    )


def _note_missing(baseline: SideSample, treatment: SideSample, notes: list[str]) -> None:
    """Count the events left out for lack of a value, where the event count is known."""
    for name in ("latency", "cost"):
        for label, sample in (("baseline", baseline), ("treatment", treatment)):
            size = getattr(sample, name).size
            if sample.events is not None and sample.events > size:
                notes.append(
                    f"{name}: {sample.events - size} of {sample.events} {label} events"
                    f" have no {name} and were left out"
                )


def _paired(
    name: str,
    baseline: SideSample,
    treatment: SideSample,
    key_name: str,
    stats: Any,
    notes: list[str],
) -> PairedTests:
    keys = {}
    for label, sample in (("baseline", baseline), ("treatment", treatment)):
        keys[label] = getattr(sample, f"{name}_keys")
        if keys[label] is None:
            raise ValueError(f"paired_by={key_name!r} needs {name}_keys on the {label} side")
    pairs = pair(
        getattr(baseline, name),
        keys["baseline"],
        getattr(treatment, name),
        keys["treatment"],
        name=name,
        key_name=key_name,
        notes=notes,
    )
    return paired_tests(*pairs, stats=stats, name=name, key_name=key_name, notes=notes)
