"""Result types returned by metrics, analysis and comparison calls.

All are frozen ``msgspec.Struct`` classes: attribute access, and
``msgspec.to_builtins(result)`` gives plain dicts and lists.
"""

from __future__ import annotations

import msgspec

from ._experiment import ExperimentStatus


class StreamingLatency(msgspec.Struct, frozen=True):
    """Online latency statistics (ms); all but ``count`` are None while empty.

    ``p50`` … ``p99`` are live percentiles, each within 1 % of the exact
    percentile of the same events (as ``calculate_metrics`` gives it) when
    latencies are non-negative.
    """

    count: int = 0
    mean: float | None = None
    std_dev: float | None = None
    min: float | None = None
    max: float | None = None
    p50: float | None = None
    p90: float | None = None
    p95: float | None = None
    p99: float | None = None


class StreamingCost(msgspec.Struct, frozen=True):
    """Online cost statistics (USD) over events that have a cost."""

    count: int = 0
    total: float = 0.0
    mean_per_request: float | None = None
    cost_per_1k_requests: float | None = None
    cost_per_1m_requests: float | None = None


class StreamingReliability(msgspec.Struct, frozen=True):
    """Online success statistics over events whose ``success`` is a bool."""

    total_requests: int = 0
    successful: int = 0
    failed: int = 0
    success_rate: float | None = None
    sla_99: bool | None = None
    sla_999: bool | None = None
    sla_9999: bool | None = None


class StreamingMetrics(msgspec.Struct, frozen=True):
    """Live statistics of one experiment, kept in O(1) memory per metric."""

    latency: StreamingLatency
    cost: StreamingCost
    reliability: StreamingReliability
    event_counts: dict[str, int]
    dropped: int
    #: Anomalies flagged by live detection: ``{"latency_ms:mad": n, …}``.
    anomalies: dict[str, int] = {}
    #: The exactly rounded sum of the latencies (ms).
    latency_total: float = 0.0
    #: ``{upper bound ms: latencies <= it}``, cumulative, as Prometheus ``le``
    #: buckets (the last bound is ``inf``); exact counts; ``{}`` without latencies.
    latency_histogram: dict[float, int] = {}


class Summary(msgspec.Struct, frozen=True):
    """Counts and time span of an experiment's events."""

    total_events: int
    time_range: tuple[int, int] | None
    duration_seconds: float
    event_types: dict[str, int]
    #: Seconds the experiment was RUNNING and PAUSED, from its start to its
    #: stop (or the time of the call), from its pause history.
    active_seconds: float | None = None
    paused_seconds: float | None = None


class LatencyMetrics(msgspec.Struct, frozen=True):
    """Latency distribution (ms); percentiles interpolate linearly (numpy's default)."""

    count: int = 0
    mean: float | None = None
    median: float | None = None
    std_dev: float | None = None
    min: float | None = None
    max: float | None = None
    p50: float | None = None
    p90: float | None = None
    p95: float | None = None
    p99: float | None = None


class CostMetrics(msgspec.Struct, frozen=True):
    """Cost distribution (USD) over events that have a cost."""

    count: int = 0
    total: float = 0.0
    mean_per_request: float | None = None
    median_per_request: float | None = None
    cost_per_1k_requests: float | None = None
    cost_per_1m_requests: float | None = None


class ReliabilityMetrics(msgspec.Struct, frozen=True):
    """Success and failure counts; rates over events whose ``success`` is a bool."""

    total_requests: int = 0
    successful: int = 0
    failed: int = 0
    success_rate: float | None = None
    failure_rate: float | None = None
    sla_99: bool | None = None
    sla_999: bool | None = None
    sla_9999: bool | None = None


class TokenMetrics(msgspec.Struct, frozen=True):
    """Token totals and means over events that carry token counts."""

    count: int = 0
    total_prompt: float = 0
    total_completion: float = 0
    total: float = 0
    mean_prompt: float | None = None
    mean_completion: float | None = None
    mean_total: float | None = None


class Metrics(msgspec.Struct, frozen=True):
    """Everything ``calculate_metrics`` derives from an experiment's stored events."""

    summary: Summary
    latency: LatencyMetrics
    cost: CostMetrics
    reliability: ReliabilityMetrics
    tokens: TokenMetrics
    events: dict[str, int]


class WindowMetrics(msgspec.Struct, frozen=True):
    """Aggregates of the events in ``[window_start, window_end)``."""

    window_start: int
    window_end: int
    event_count: int
    mean_latency: float | None
    total_cost: float
    success_count: int
    failure_count: int
    #: ``{50.0: ms, 95.0: ms}`` when ``percentiles`` were asked for (None without latencies).
    latency_percentiles: dict[float, float | None] | None = None


class TreatmentComparison(msgspec.Struct, frozen=True):
    """One treatment measured against the baseline (the first id)."""

    latency_improvement_pct: float | None
    cost_difference_usd: float
    success_rate_improvement_pct: float | None
    event_count_difference: int
    #: Treatment - baseline success rate in percentage points (97.2 % -> 99.7 %: +2.5).
    success_rate_difference_pp: float | None = None


class Comparison(msgspec.Struct, frozen=True):
    """``compare_experiments`` result: each experiment's metrics and each treatment's deltas."""

    experiments: list[str]
    individual: dict[str, Metrics]
    comparison: dict[str, TreatmentComparison]


class ActorStatistics(msgspec.Struct, frozen=True):
    """How an experiment's actor is doing: the runtime observing itself.

    ``mailbox_high_water`` is the deepest the mailbox was seen, at the actor's
    batch boundaries, and equals the capacity once an event was dropped.
    ``processing_seconds`` is the time the actor spent handling messages.
    ``stored_events`` counts the events this actor stored: for a durable
    experiment, this runtime's own, not other runtimes' (``calculate_metrics``
    counts every committed event).
    """

    experiment_id: str
    status: ExperimentStatus
    stored_events: int
    mailbox_depth: int
    mailbox_high_water: int
    mailbox_capacity: int
    dropped: int
    restarts: int
    last_crash: str | None
    messages_handled: int
    processing_seconds: float
    #: Durable experiments: events this runtime stored but has not yet seen committed.
    uncommitted_events: int = 0
    #: Durable experiments: "ok", or what is wrong with the database (retrying a
    #: lost connection, say); None for a memory experiment.
    database: str | None = None
