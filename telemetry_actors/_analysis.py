"""Post-hoc analysis of stored events: ``calculate_metrics`` and ``compare_experiments``."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from ._percentile import percentile
from ._results import (
    Comparison,
    CostMetrics,
    LatencyMetrics,
    Metrics,
    ReliabilityMetrics,
    Summary,
    TokenMetrics,
    TreatmentComparison,
)
from ._store import FAILURE, SUCCESS, EventStore, TokenTotals
from ._streaming import dotted_counts, sla_flags


def float_sum(values: Iterable[float]) -> float:
    """An exactly rounded sum (``math.fsum``); ``inf`` where it overflows."""
    items = list(values)
    try:
        return math.fsum(items)
    except OverflowError:  # finite values whose sum exceeds the float range
        return sum(items)


def sample_std_dev(ordered: Sequence[float], mean: float) -> float:
    """Sample standard deviation (n - 1) of sorted data; 0.0 for one value or equal values.

    Two passes with the rounding of the mean corrected (the "corrected two-pass"
    algorithm), so equal values give exactly 0.0, as Welford's method does.
    """
    if len(ordered) < 2 or ordered[0] == ordered[-1]:
        return 0.0
    deviations = [x - mean for x in ordered]
    squares = float_sum(d * d for d in deviations)
    deviation_sum = float_sum(deviations)
    correction = deviation_sum * deviation_sum / len(ordered)
    return math.sqrt(max(squares - correction, 0.0) / (len(ordered) - 1))


def latency_metrics(latencies: list[float]) -> LatencyMetrics:
    """Distribution of the given latencies. O(n log n)."""
    if not latencies:
        return LatencyMetrics()
    ordered = sorted(latencies)
    mean = float_sum(ordered) / len(ordered)
    median = percentile(ordered, 0.5)
    return LatencyMetrics(
        count=len(ordered),
        mean=mean,
        median=median,
        std_dev=sample_std_dev(ordered, mean),
        min=ordered[0],
        max=ordered[-1],
        p50=median,
        p90=percentile(ordered, 0.90),
        p95=percentile(ordered, 0.95),
        p99=percentile(ordered, 0.99),
    )


def cost_metrics(costs: list[float]) -> CostMetrics:
    """Totals and per-request cost of the given costs. O(n log n)."""
    if not costs:
        return CostMetrics()
    cost_total = float_sum(costs)
    mean = cost_total / len(costs)
    return CostMetrics(
        count=len(costs),
        total=cost_total,
        mean_per_request=mean,
        median_per_request=percentile(sorted(costs), 0.5),
        cost_per_1k_requests=mean * 1_000,
        cost_per_1m_requests=mean * 1_000_000,
    )


def reliability_metrics(total_events: int, successful: int, failed: int) -> ReliabilityMetrics:
    """Success counts; rates over events whose ``success`` is a bool."""
    judged = successful + failed
    rate = successful / judged if judged else None
    sla_99, sla_999, sla_9999 = sla_flags(rate)
    return ReliabilityMetrics(
        total_requests=total_events,
        successful=successful,
        failed=failed,
        success_rate=rate,
        failure_rate=failed / judged if judged else None,
        sla_99=sla_99,
        sla_999=sla_999,
        sla_9999=sla_9999,
    )


def token_metrics(totals: TokenTotals) -> TokenMetrics:
    """Token totals and means over events with token counts. O(1)."""
    count = totals.count
    if count == 0:
        return TokenMetrics()
    return TokenMetrics(
        count=count,
        total_prompt=totals.prompt,
        total_completion=totals.completion,
        total=totals.total,
        mean_prompt=_mean(totals.prompt, count),
        mean_completion=_mean(totals.completion, count),
        mean_total=_mean(totals.total, count),
    )


def _mean(total: float, count: int) -> float:
    try:
        return total / count
    except OverflowError:  # an int total too large for a float
        return math.inf


def calculate_metrics(store: EventStore) -> Metrics:
    """Every metric over the stored events, from the store's columns. O(n log n)."""
    event_types = dotted_counts(store.name_counts())
    time_range = store.time_range()
    duration = 0.0
    if time_range is not None and len(store) >= 2:
        duration = (time_range[1] - time_range[0]) / 1_000_000
    summary = Summary(
        total_events=len(store),
        time_range=time_range,
        duration_seconds=duration,
        event_types=event_types,
    )
    return Metrics(
        summary=summary,
        latency=latency_metrics(store.latency_values()),
        cost=cost_metrics(store.cost_values()),
        reliability=reliability_metrics(len(store), store.count(SUCCESS), store.count(FAILURE)),
        tokens=token_metrics(store.tokens),
        events=dict(event_types),
    )


def percent_change(baseline: float | None, treatment: float | None) -> float | None:
    """(treatment - baseline) / baseline · 100; None when either is None or baseline is 0."""
    if baseline is None or treatment is None or baseline == 0:
        return None
    return (treatment - baseline) / baseline * 100


def compare(ids: Sequence[str], metrics: Sequence[Metrics]) -> Comparison:
    """Each experiment after the first, measured against the first."""
    baseline = metrics[0]
    deltas: dict[str, TreatmentComparison] = {}
    for index, treatment in enumerate(metrics[1:], start=1):
        deltas[f"treatment_{index}"] = TreatmentComparison(
            latency_improvement_pct=percent_change(baseline.latency.mean, treatment.latency.mean),
            cost_difference_usd=treatment.cost.total - baseline.cost.total,
            success_rate_improvement_pct=percent_change(
                baseline.reliability.success_rate, treatment.reliability.success_rate
            ),
            event_count_difference=treatment.summary.total_events - baseline.summary.total_events,
        )
    return Comparison(
        experiments=list(ids),
        individual=dict(zip(ids, metrics, strict=True)),
        comparison=deltas,
    )
