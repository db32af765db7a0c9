"""Live statistics of one experiment, folded in batch by batch at numpy speed.

The actor queues each ingest batch's numbers (:class:`StatsBatch`) and folds
them in when someone reads the statistics or enough are waiting: counts,
exactly rounded totals, merged moments, success counts, event counts and
the live percentile sketch. Nothing is computed per event. The state is
mergeable (moments by Chan's formula, sketch buckets added), so the states
of several runtimes feeding one experiment combine exactly.
"""

from __future__ import annotations

import marshal
import math
from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from .._names import dotted
from .._results import StreamingCost, StreamingLatency, StreamingMetrics, StreamingReliability
from .._types import EventName
from ._exact_sum import ExactSum
from ._moments import Moments
from ._sketch import QuantileSketch

#: The quantiles behind StreamingLatency's p50, p90, p95 and p99.
LIVE_QUANTILES = (0.5, 0.9, 0.95, 0.99)
#: Upper bounds (ms) of the latency histogram, as Prometheus ``le`` buckets.
LATENCY_BUCKETS_MS = (
    5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1_000.0, 2_500.0, 5_000.0, 10_000.0,
    30_000.0, 60_000.0, math.inf,
)  # fmt: skip


def sla_flags(rate: float | None) -> tuple[bool | None, bool | None, bool | None]:
    """(≥ 99 %, ≥ 99.9 %, ≥ 99.99 %) for a success rate, Nones when there is none."""
    if rate is None:
        return None, None, None
    return rate >= 0.99, rate >= 0.999, rate >= 0.9999


class StatsBatch:
    """The numbers of one batch of collected events, waiting to be folded in.

    ``names`` are codes into the name table given to :meth:`StreamingState.fold`;
    ``latency`` and ``cost`` hold NaN where an event has none; ``success``
    -1 / 0 / 1 for None / False / True.
    """

    __slots__ = ("cost", "latency", "names", "success")

    def __init__(
        self,
        names: npt.NDArray[np.int32],
        latency: npt.NDArray[np.float64],
        cost: npt.NDArray[np.float64],
        success: npt.NDArray[np.int8],
    ) -> None:
        self.names = names
        self.latency = latency
        self.cost = cost
        self.success = success

    def __len__(self) -> int:
        return len(self.names)


class StreamingState:
    """The live statistics; O(1) memory per metric (a few hundred sketch buckets)."""

    __slots__ = (
        "buckets",
        "cost_count",
        "cost_total",
        "event_counts",
        "failed",
        "latency",
        "sketch",
        "successful",
    )

    def __init__(self) -> None:
        self.latency = Moments()
        self.sketch = QuantileSketch()
        #: Latencies per histogram bucket (not cumulative), one count per bound.
        self.buckets = np.zeros(len(LATENCY_BUCKETS_MS), dtype=np.int64)
        self.cost_count = 0
        self.cost_total = ExactSum()
        self.successful = 0
        self.failed = 0
        self.event_counts: dict[EventName, int] = {}

    def fold(self, batches: list[StatsBatch], names: tuple[EventName, ...]) -> None:
        """Fold queued batches in. O(events) at numpy speed."""
        if not batches:
            return
        codes = np.concatenate([batch.names for batch in batches])
        latency = np.concatenate([batch.latency for batch in batches])
        cost = np.concatenate([batch.cost for batch in batches])
        success = np.concatenate([batch.success for batch in batches])
        latencies = latency[~np.isnan(latency)]
        self.latency.add(latencies)
        self.sketch.add_many(latencies)
        if len(latencies):
            slots = np.searchsorted(LATENCY_BUCKETS_MS, latencies, side="left")
            self.buckets += np.bincount(slots, minlength=len(LATENCY_BUCKETS_MS))
        costs = cost[~np.isnan(cost)]
        self.cost_count += len(costs)
        self.cost_total.add(costs)
        self.successful += int(np.count_nonzero(success == 1))
        self.failed += int(np.count_nonzero(success == 0))
        counts = np.bincount(codes, minlength=0) if len(codes) else np.empty(0, np.int64)
        event_counts = self.event_counts
        for code in np.flatnonzero(counts).tolist():
            name = names[code]
            event_counts[name] = event_counts.get(name, 0) + int(counts[code])

    def to_bytes(self) -> bytes:
        """The state as bytes any runtime can read back (:meth:`from_bytes`). O(buckets)."""
        moments, sketch = self.latency, self.sketch
        return marshal.dumps(
            (
                1,  # layout version
                (moments.count, moments.total.scaled, moments.m2, moments.min, moments.max),
                (dict(sketch.positive), dict(sketch.negative), sketch.zeros, sketch.count,
                 sketch.minimum, sketch.maximum),
                self.buckets.tolist(),
                self.cost_count,
                self.cost_total.scaled,
                self.successful,
                self.failed,
                list(self.event_counts.items()),
            ),
            4,
        )  # fmt: skip

    @classmethod
    def from_bytes(cls, data: bytes) -> StreamingState:
        """A state written by :meth:`to_bytes`."""
        _, moments, sketch, buckets, cost_count, cost_total, successful, failed, counts = (
            marshal.loads(data)
        )
        state = cls()
        latency = state.latency
        latency.count, latency.total.scaled, latency.m2, latency.min, latency.max = moments
        positive, negative, zeros, count, minimum, maximum = sketch
        state.sketch.positive.update(positive)
        state.sketch.negative.update(negative)
        state.sketch.zeros, state.sketch.count = zeros, count
        state.sketch.minimum, state.sketch.maximum = minimum, maximum
        state.buckets = np.asarray(buckets, dtype=np.int64)
        state.cost_count, state.cost_total.scaled = cost_count, cost_total
        state.successful, state.failed = successful, failed
        state.event_counts = {tuple(name): n for name, n in counts}
        return state

    def merge(self, other: StreamingState) -> None:
        """Add another state (another runtime's) to this one."""
        self.latency.merge(other.latency)
        self.sketch.merge(other.sketch)
        self.buckets = self.buckets + other.buckets
        self.cost_count += other.cost_count
        self.cost_total.merge(other.cost_total)
        self.successful += other.successful
        self.failed += other.failed
        for name, count in other.event_counts.items():
            self.event_counts[name] = self.event_counts.get(name, 0) + count

    def metrics(
        self, dropped: int, anomalies: Mapping[str, int] | None = None
    ) -> StreamingMetrics:
        """The current statistics as a :class:`StreamingMetrics`. O(buckets + names)."""
        moments = self.latency
        has_latency = moments.count > 0
        p50, p90, p95, p99 = self.sketch.quantiles(LIVE_QUANTILES)
        latency = StreamingLatency(
            count=moments.count,
            mean=moments.mean,
            std_dev=moments.std_dev(),
            min=moments.min if has_latency else None,
            max=moments.max if has_latency else None,
            p50=p50,
            p90=p90,
            p95=p95,
            p99=p99,
        )
        total = self.cost_total.value
        mean_cost = total / self.cost_count if self.cost_count else None
        cost = StreamingCost(
            count=self.cost_count,
            total=total,
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
            anomalies=dict(anomalies or {}),
            latency_total=moments.total.value,
            latency_histogram=dict(
                zip(LATENCY_BUCKETS_MS, np.cumsum(self.buckets).tolist(), strict=True)
            )
            if has_latency
            else {},
        )


def dotted_counts(counts: Mapping[EventName, int]) -> dict[str, int]:
    """Counts keyed by dotted name (names that dot alike are added together)."""
    result: dict[str, int] = {}
    for name, n in counts.items():
        key = dotted(name)
        result[key] = result.get(key, 0) + n
    return result


def finite_or_none(value: float) -> float | None:
    """``value`` unless NaN."""
    return None if math.isnan(value) else value
