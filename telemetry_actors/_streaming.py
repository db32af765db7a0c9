"""Live statistics: updated per event in O(1) time and memory (Welford's algorithm).

Live percentiles come from a :class:`~._sketch.QuantileSketch`, which the
experiment's cell fills from the store's latency column when read.
"""

from __future__ import annotations

import math

from ._names import dotted
from ._results import StreamingCost, StreamingLatency, StreamingMetrics, StreamingReliability
from ._sketch import QuantileSketch
from ._types import EventName


class RunningMoments:
    """Count, mean, sample variance, min and max of a stream (Welford's method)."""

    __slots__ = ("count", "m2", "max", "mean", "min")

    def __init__(self) -> None:
        self.count = 0
        self.mean = 0.0
        self.m2 = 0.0
        self.min = math.inf
        self.max = -math.inf

    def add(self, value: float) -> None:
        """Fold one value in. O(1)."""
        self.count += 1
        delta = value - self.mean
        self.mean += delta / self.count
        self.m2 += delta * (value - self.mean)
        if value < self.min:
            self.min = value
        if value > self.max:
            self.max = value

    def std_dev(self) -> float | None:
        """Sample standard deviation (n - 1); 0.0 for one value, None for none."""
        if self.count == 0:
            return None
        if self.count == 1:
            return 0.0
        return math.sqrt(max(self.m2, 0.0) / (self.count - 1))


#: The quantiles behind StreamingLatency's p50, p90, p95 and p99.
LIVE_QUANTILES = (0.5, 0.9, 0.95, 0.99)


def sla_flags(rate: float | None) -> tuple[bool | None, bool | None, bool | None]:
    """(≥ 99 %, ≥ 99.9 %, ≥ 99.99 %) for a success rate, Nones when there is none."""
    if rate is None:
        return None, None, None
    return rate >= 0.99, rate >= 0.999, rate >= 0.9999


class StreamingStats:
    """The live statistics of one experiment; the actor feeds it every stored event."""

    __slots__ = (
        "cost_count",
        "cost_total",
        "event_counts",
        "failed",
        "latency",
        "latency_sketch",
        "successful",
    )

    def __init__(self) -> None:
        self.latency = RunningMoments()
        self.latency_sketch = QuantileSketch()  # filled by the cell, see module doc
        self.cost_count = 0
        self.cost_total = 0.0
        self.successful = 0
        self.failed = 0
        self.event_counts: dict[EventName, int] = {}

    def add(
        self, name: EventName, latency: float | None, cost: float | None, outcome: bool | None
    ) -> None:
        """Fold one stored event's derived values in. O(1)."""
        counts = self.event_counts
        counts[name] = counts.get(name, 0) + 1
        if latency is not None:
            self.latency.add(latency)
        if cost is not None:
            self.cost_count += 1
            self.cost_total += cost
        if outcome is True:
            self.successful += 1
        elif outcome is False:
            self.failed += 1

    def snapshot(self, dropped: int) -> StreamingMetrics:
        """The current statistics as a :class:`StreamingMetrics`."""
        moments = self.latency
        has_latency = moments.count > 0
        p50, p90, p95, p99 = self.latency_sketch.quantiles(LIVE_QUANTILES)
        latency = StreamingLatency(
            count=moments.count,
            mean=moments.mean if has_latency else None,
            std_dev=moments.std_dev(),
            min=moments.min if has_latency else None,
            max=moments.max if has_latency else None,
            p50=p50,
            p90=p90,
            p95=p95,
            p99=p99,
        )
        mean_cost = self.cost_total / self.cost_count if self.cost_count else None
        cost = StreamingCost(
            count=self.cost_count,
            total=self.cost_total,
            mean_per_request=mean_cost,
            cost_per_1k_requests=None if mean_cost is None else mean_cost * 1_000,
            cost_per_1m_requests=None if mean_cost is None else mean_cost * 1_000_000,
        )
        requests = self.successful + self.failed
        rate = self.successful / requests if requests else None
        sla_99, sla_999, sla_9999 = sla_flags(rate)
        reliability = StreamingReliability(
            total_requests=requests,
            successful=self.successful,
            failed=self.failed,
            success_rate=rate,
            sla_99=sla_99,
            sla_999=sla_999,
            sla_9999=sla_9999,
        )
        return StreamingMetrics(
            latency=latency,
            cost=cost,
            reliability=reliability,
            event_counts=dotted_counts(self.event_counts),
            dropped=dropped,
        )


def dotted_counts(counts: dict[EventName, int]) -> dict[str, int]:
    """Counts keyed by dotted name (names that dot alike are added together)."""
    result: dict[str, int] = {}
    for name, n in counts.items():
        key = dotted(name)
        result[key] = result.get(key, 0) + n
    return result
