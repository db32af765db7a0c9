"""``compare_experiments``: each treatment's deltas against the baseline."""

from __future__ import annotations

from collections.abc import Sequence

from .._results import Comparison, Metrics, TreatmentComparison


def percent_change(baseline: float | None, treatment: float | None) -> float | None:
    """(treatment - baseline) / baseline · 100; None when either is None or baseline is 0."""
    if baseline is None or treatment is None or baseline == 0:
        return None
    return (treatment - baseline) / baseline * 100


def points_change(baseline: float | None, treatment: float | None) -> float | None:
    """(treatment - baseline) · 100: a rate's change in percentage points."""
    if baseline is None or treatment is None:
        return None
    return (treatment - baseline) * 100


def compare(ids: Sequence[str], metrics: Sequence[Metrics]) -> Comparison:
    """Each experiment after the first, measured against the first.

    ``latency_improvement_pct`` is the relative change of mean latency: a
    positive value is a slowdown. ``success_rate_difference_pp`` is the change
    in percentage points, which researchers read; the relative
    ``success_rate_improvement_pct`` is kept as the contract defines it.
    """
    baseline = metrics[0]
    deltas: dict[str, TreatmentComparison] = {}
    for index, treatment in enumerate(metrics[1:], start=1):
        before, after = baseline.reliability.success_rate, treatment.reliability.success_rate
        deltas[f"treatment_{index}"] = TreatmentComparison(
            latency_improvement_pct=percent_change(baseline.latency.mean, treatment.latency.mean),
            cost_difference_usd=treatment.cost.total - baseline.cost.total,
            success_rate_improvement_pct=percent_change(before, after),
            event_count_difference=treatment.summary.total_events - baseline.summary.total_events,
            success_rate_difference_pp=points_change(before, after),
        )
    return Comparison(
        experiments=list(ids),
        individual=dict(zip(ids, metrics, strict=True)),
        comparison=deltas,
    )
