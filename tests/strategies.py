"""Shared Hypothesis strategies and builders for events, timestamps and statistics.

Floats are drawn from ranges where float arithmetic stays well conditioned
(non-negative, no subnormals), so that properties can compare online and
windowed statistics with exact ones to tight relative tolerances.
"""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import strategies as st

from telemetry_actors import Event
from telemetry_actors._enrichment import Context
from telemetry_actors._store import EventStore
from telemetry_actors._streaming import StreamingStats
from tests.conftest import BASE_US

EXPERIMENT_ID = "0123456789abcdef"
EXPERIMENT_NAME = "property"

EVENT_NAMES: tuple[tuple[str, ...], ...] = (
    ("req_llm", "request", "start"),
    ("req_llm", "request", "stop"),
    ("custom", "event"),
)

_event_ids = itertools.count(1)


def make_event(
    timestamp: int,
    *,
    event_name: tuple[str, ...] = ("custom", "event"),
    latency_ms: float | None = None,
    cost_usd: float | None = None,
    success: bool | None = None,
    metadata: dict[str, Any] | None = None,
    event_id: str | None = None,
) -> Event:
    """An already enriched event, as the store and the statistics receive it."""
    return Event(
        event_id=event_id if event_id is not None else f"test-{next(_event_ids)}",
        event_name=event_name,
        timestamp=timestamp,
        experiment_id=EXPERIMENT_ID,
        experiment_name=EXPERIMENT_NAME,
        condition="default",
        metadata=metadata if metadata is not None else {},
        latency_ms=latency_ms,
        cost_usd=cost_usd,
        success=success,
    )


def timestamps(span_us: int = 10_000) -> st.SearchStrategy[int]:
    """Time stamps in ``[BASE_US, BASE_US + span_us]``; a small span gives many ties."""
    return st.integers(min_value=BASE_US, max_value=BASE_US + span_us)


#: Latencies in ms: non-negative, finite, no subnormals.
latencies = st.floats(
    min_value=0.0, max_value=1e5, allow_nan=False, allow_infinity=False, allow_subnormal=False
)

#: Costs in USD: non-negative, finite, no subnormals.
costs = st.floats(
    min_value=0.0, max_value=100.0, allow_nan=False, allow_infinity=False, allow_subnormal=False
)

#: What enrichment may derive for ``success``.
successes: st.SearchStrategy[bool | None] = st.sampled_from([True, False, None])

event_names: st.SearchStrategy[tuple[str, ...]] = st.sampled_from(EVENT_NAMES)


@st.composite
def events(draw: st.DrawFn, span_us: int = 10_000) -> Event:
    """One enriched event with optional latency, cost and success."""
    return make_event(
        draw(timestamps(span_us)),
        event_name=draw(event_names),
        latency_ms=draw(st.none() | latencies),
        cost_usd=draw(st.none() | costs),
        success=draw(successes),
    )


def event_lists(
    *, min_size: int = 0, max_size: int = 40, span_us: int = 10_000
) -> st.SearchStrategy[list[Event]]:
    """Lists of events in arbitrary (arrival) order."""
    return st.lists(events(span_us), min_size=min_size, max_size=max_size)


def new_store() -> EventStore:
    """An empty store for the test experiment."""
    return EventStore(Context(EXPERIMENT_ID, EXPERIMENT_NAME, "default", ()))


def add_to_stats(stats: StreamingStats, event: Event) -> None:
    """Fold an already enriched event into streaming statistics, as the actor does."""
    stats.add(event.event_name, event.latency_ms, event.cost_usd, event.success)
