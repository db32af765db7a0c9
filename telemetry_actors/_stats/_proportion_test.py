"""Comparison of success rates: Newcombe's interval and Fisher's exact test."""

from __future__ import annotations

import math
from typing import Any

import msgspec

from ._scipy import attempt, quiet


class ProportionTest(msgspec.Struct, frozen=True, kw_only=True):
    """How the success rate differs between the baseline and the treatment.

    Counts cover the events whose ``success`` is a bool. Differences are
    treatment minus baseline in percentage points: positive means the
    treatment succeeds more often.

    Attributes:
        successes_baseline: Baseline events that succeeded.
        total_baseline: Baseline events with a success outcome.
        successes_treatment: Treatment events that succeeded.
        total_treatment: Treatment events with a success outcome.
        rate_baseline: ``successes_baseline / total_baseline`` (a fraction).
        rate_treatment: ``successes_treatment / total_treatment``.
        difference_pp: ``(rate_treatment - rate_baseline) * 100``: 2.5 means
            2.5 percentage points more successes with the treatment.
        ci_low_pp: Lower end of Newcombe's hybrid score interval of the
            difference (method 10 of Newcombe 1998, from each side's Wilson
            interval), in percentage points; it stays within [-100, 100] and
            behaves well for small counts and rates near 0 or 1.
        ci_high_pp: Upper end of that interval.
        p_value: Two-sided p-value of Fisher's exact test on the 2x2 table of
            successes and failures: exact for any count, no normal approximation.
    """

    successes_baseline: int
    total_baseline: int
    successes_treatment: int
    total_treatment: int
    rate_baseline: float | None = None
    rate_treatment: float | None = None
    difference_pp: float | None = None
    ci_low_pp: float | None = None
    ci_high_pp: float | None = None
    p_value: float | None = None


def compare_proportions(
    baseline: tuple[int, int],
    treatment: tuple[int, int],
    *,
    confidence: float,
    stats: Any,
    notes: list[str],
) -> ProportionTest:
    """Rates, their difference with Newcombe's interval, and Fisher's exact p-value.

    Args:
        baseline: ``(successes, total)`` of the baseline.
        treatment: ``(successes, total)`` of the treatment.
        confidence: Coverage of the interval.
        stats: The ``scipy.stats`` module.
        notes: Where sentences about empty sides and one-outcome tables go.

    Returns:
        The filled :class:`ProportionTest`; with an empty side its rate and
        everything comparing the sides is ``None``. Fisher's test costs
        O(min(row, column) totals); the rest is O(1).
    """
    (s_b, n_b), (s_t, n_t) = baseline, treatment
    counts: dict[str, Any] = {
        "successes_baseline": s_b,
        "total_baseline": n_b,
        "successes_treatment": s_t,
        "total_treatment": n_t,
        "rate_baseline": s_b / n_b if n_b else None,
        "rate_treatment": s_t / n_t if n_t else None,
    }
    empty = [label for label, n in (("baseline", n_b), ("treatment", n_t)) if n == 0]
    for label in empty:
        notes.append(
            f"success: no events with a success outcome on the {label} side;"
            " its rate and tests are left out"
        )
    if empty:
        return ProportionTest(**counts)
    for outcome, count in (("successes", s_b + s_t), ("failures", n_b + n_t - s_b - s_t)):
        if count == 0:
            notes.append(
                f"success: no {outcome} on either side; the difference is not informative"
            )
    low, high = newcombe_interval(baseline, treatment, confidence, stats)
    table = [[s_b, n_b - s_b], [s_t, n_t - s_t]]
    return ProportionTest(
        **counts,
        difference_pp=(s_t / n_t - s_b / n_b) * 100,
        ci_low_pp=low * 100,
        ci_high_pp=high * 100,
        p_value=attempt(
            "Fisher's exact test", lambda: stats.fisher_exact(table).pvalue, notes, "success"
        ),
    )


def newcombe_interval(
    baseline: tuple[int, int], treatment: tuple[int, int], confidence: float, stats: Any
) -> tuple[float, float]:
    """Newcombe's (1998) method 10 interval of ``rate_treatment - rate_baseline``, as fractions.

    With Wilson intervals ``(l, u)`` of each rate ``p`` (from
    ``scipy.stats.binomtest(k, n).proportion_ci(method="wilson")``) and
    ``d = p_t - p_b``: ``low = d - sqrt((p_t - l_t)² + (u_b - p_b)²)`` and
    ``high = d + sqrt((u_t - p_t)² + (p_b - l_b)²)``.

    Args:
        baseline: ``(successes, total)``, total at least 1.
        treatment: ``(successes, total)``, total at least 1.
        confidence: Coverage, in (0, 1).
        stats: The ``scipy.stats`` module.

    Returns:
        ``(low, high)``. O(1).
    """
    rates, lows, highs = [], [], []
    for successes, total in (baseline, treatment):
        with quiet():
            wilson = stats.binomtest(successes, total).proportion_ci(
                confidence_level=confidence, method="wilson"
            )
        rates.append(successes / total)
        lows.append(float(wilson.low))
        highs.append(float(wilson.high))
    (p_b, p_t), (l_b, l_t), (u_b, u_t) = rates, lows, highs
    d = p_t - p_b
    return (
        d - math.sqrt((p_t - l_t) ** 2 + (u_b - p_b) ** 2),
        d + math.sqrt((u_t - p_t) ** 2 + (p_b - l_b) ** 2),
    )
