"""Shared Hypothesis strategies and builders for events, timestamps and statistics.

Floats are drawn from ranges where float arithmetic stays well conditioned
(non-negative, no subnormals), so that properties can compare online and
windowed statistics with exact ones to tight relative tolerances.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
from hypothesis import strategies as st

from telemetry_actors import Event, Range
from telemetry_actors._actors._inserts import prepare_rows, store_prepared
from telemetry_actors._results import Metrics, StreamingMetrics, WindowMetrics
from telemetry_actors._stats._metrics import calculate
from telemetry_actors._stats._streaming import StatsBatch, StreamingState
from telemetry_actors._stats._windowed import windowed
from telemetry_actors._storage._materialize import Context
from telemetry_actors._storage._memory import MemoryStore
from telemetry_actors._storage._reads import all_events, metric_columns, window_events
from telemetry_actors._windows import LastN
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


class StoreUnderTest:
    """A memory store fed as the actor feeds it, read as the runtime reads it.

    For properties that compare the store with brute force without a runtime.
    """

    def __init__(self) -> None:
        self.store = MemoryStore()
        self.pending: list[StatsBatch] = []
        self.pending_rows = 0
        self.detector = None  # no live anomaly detection
        self.context = Context(EXPERIMENT_ID, EXPERIMENT_NAME, "default", ())

    def __len__(self) -> int:
        return len(self.store)

    def add_event(self, event: Event) -> None:
        """Store one event as given (as ``insert`` does)."""
        store_prepared(self, prepare_rows([event]))  # type: ignore[arg-type]

    def snapshot(self) -> Any:
        return self.store.snapshot(self.context)

    def all(self) -> list[Event]:
        return all_events(self.snapshot())

    def between(self, start: int, end: int) -> list[Event]:
        return window_events(self.snapshot(), Range(start, end), 0, None)

    def last(self, n: int) -> list[Event]:
        return window_events(self.snapshot(), LastN(n), 0, None)

    def time_range(self) -> tuple[int, int] | None:
        stamps = self.snapshot().merged().column("timestamps")
        return (int(stamps[0]), int(stamps[-1])) if len(stamps) else None

    def metrics(self) -> Metrics:
        snapshot = self.snapshot()
        return calculate(metric_columns(snapshot.merged(), None), snapshot.names)

    def windows(
        self, window_us: int, step_us: int, percentiles: tuple[float, ...] = ()
    ) -> list[WindowMetrics]:
        merged = self.snapshot().merged()
        return windowed(
            merged.column("timestamps"),
            merged.column("latency"),
            merged.column("cost"),
            merged.column("success"),
            window_us,
            step_us,
            percentiles,
        )

    def streaming(self) -> StreamingMetrics:
        """Live statistics folded from everything stored, as the actor folds them."""
        state = StreamingState()
        state.fold(self.pending, self.store.names.view())
        return state.metrics(dropped=0)


def new_store() -> StoreUnderTest:
    """An empty store for the test experiment."""
    return StoreUnderTest()


def streaming_of(events: list[Event]) -> StreamingMetrics:
    """Live statistics of already enriched events, folded as the actor folds them."""
    store = new_store()
    for event in events:
        store.add_event(event)
    return store.streaming()


def latency_batches(values: list[float], cuts: list[int]) -> list[np.ndarray]:  # type: ignore[type-arg]
    """``values`` cut into consecutive batches at ``cuts``."""
    bounds = sorted({0, len(values), *(cut % (len(values) + 1) for cut in cuts)})
    return [np.asarray(values[a:b], dtype=np.float64) for a, b in itertools.pairwise(bounds)]
