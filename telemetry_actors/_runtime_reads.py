"""Reading an experiment's events and live statistics (part of ``Runtime``).

Each read asks the actor for a snapshot, in mailbox order, then does the
heavy work in a worker thread (see ``_runtime_core.off_loop``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import numpy as np

from ._actors._messages import (
    ReadAnomalies,
    ReadStreaming,
    ReadStreamingState,
    ResetStreaming,
)
from ._arguments import count_at_least
from ._event import Event
from ._names import normalize_event_name
from ._results import StreamingMetrics, WindowMetrics
from ._runtime_core import RuntimeCore, off_loop
from ._stats._anomaly import Anomaly, decode_anomalies
from ._stats._streaming import StreamingState
from ._stats._windowed import check_size, windowed
from ._storage._filters import Filter, check
from ._storage._reads import (
    all_events,
    inline_events,
    query_events,
    selected,
    small_window,
    window_events,
)
from ._storage._snapshot import Merged
from ._types import EventNameLike
from ._windows import Last, LastN, Range, parse_window


def time_range_of(time_range: object) -> tuple[int, int] | None:
    """A checked ``(start, end)`` µs pair, or None.

    Raises:
        ValueError, TypeError: bad bounds (as :class:`Range`).
    """
    if time_range is None:
        return None
    if not isinstance(time_range, tuple | list) or len(time_range) != 2:
        raise ValueError(f"time_range must be a (start, end) pair of int µs, got {time_range!r}")
    window = Range(*time_range)
    return window.start, window.end


def make_filter(
    event_name: EventNameLike | None = None,
    success: bool | None = None,
    time_range: object = None,
    condition: str | None = None,
    where: Callable[[Event], bool] | None = None,
    fields: dict[str, Any] | None = None,
) -> Filter:
    """``query``'s filters, checked where the call is made."""
    if where is not None and not callable(where):
        raise TypeError(f"where must be a callable taking an Event, got {type(where).__name__}")
    return Filter(
        normalize_event_name(event_name) if event_name is not None else None,
        success,
        time_range_of(time_range),
        condition,
        where,
        fields,
    )


class ReadsMixin(RuntimeCore):
    """Events, windows and live statistics."""

    async def get_all(self, experiment_id: str) -> list[Event]:
        """Every stored event in time order (ties in arrival order). O(n), off the loop."""
        view = await self._view(experiment_id)
        return await off_loop(all_events, view.snapshot)

    async def iter_events(
        self, experiment_id: str, *, batch_size: int = 10_000
    ) -> AsyncIterator[list[Event]]:
        """The events of ``get_all``, in the same order, ``batch_size`` at a time.

        As of the moment it starts; each batch is built in a worker thread, so
        a million events never sit in memory as objects at once.

        Example:
            >>> async for batch in rt.iter_events(exp.id):  # doctest: +SKIP
            ...     process(batch)
        """
        count_at_least("batch_size", batch_size, 1)
        view = await self._view(experiment_id)

        def merge(*, cancel: Any) -> Merged:
            merged = view.snapshot.merged()
            merged.column("timestamps")  # the time order, worked out here, off the loop
            return merged

        merged = await off_loop(merge)

        def batch(begin: int, *, cancel: Any) -> list[Event]:
            check(cancel)
            positions = np.arange(begin, min(begin + batch_size, merged.size), dtype=np.int64)
            return merged.events(positions)

        for begin in range(0, merged.size, batch_size):
            yield await off_loop(batch, begin)

    async def query(
        self,
        experiment_id: str,
        *,
        event_name: EventNameLike | None = None,
        success: bool | None = None,
        time_range: tuple[int, int] | None = None,
        condition: str | None = None,
        **fields: Any,
    ) -> list[Event]:
        """Stored events matching every given filter, in time order.

        ``time_range=(start, end)`` is inclusive and costs O(log n + k); any other
        keyword ``k=v`` matches ``event.metadata.get(k) == v`` or the field ``k``.

        Raises:
            ValueError: a bad ``time_range`` or event name.
            ExperimentNotFoundError: unknown id.
        """
        where = make_filter(event_name, success, time_range, condition, None, fields)
        view = await self._view(experiment_id, *(where.time_range or (None, None)))
        return await off_loop(query_events, view.snapshot, where)

    async def query_window(
        self,
        experiment_id: str,
        window: Last | LastN | Range | tuple[Any, ...],
        where: Callable[[Event], bool] | None = None,
        *,
        now: int | None = None,
    ) -> list[Event]:
        """Events of a time window, in time order. O(log n + k).

        ``where`` filters the window's events after the window is taken; an
        exception it raises (of any class) is raised to this call's caller.

        Raises:
            ValueError: an invalid window.
            ExperimentNotFoundError: unknown id.
        """
        spec = parse_window(window)
        if now is not None and (isinstance(now, bool) or not isinstance(now, int)):
            raise TypeError(f"now must be int µs since the epoch, got {now!r}")
        if where is not None and not callable(where):
            raise TypeError(
                f"where must be a callable taking an Event, got {type(where).__name__}"
            )
        reference = now if now is not None else self._now()
        bounds: tuple[int | None, int | None] = (None, None)
        if isinstance(spec, Range):
            bounds = (spec.start, spec.end)
        elif isinstance(spec, Last):
            bounds = (reference - spec.span_us, reference)
        view = await self._view(experiment_id, *bounds)
        if where is None:  # caller code never runs on the loop
            small = small_window(view.snapshot, spec, reference)
            if small is not None:
                return inline_events(small)
        return await off_loop(window_events, view.snapshot, spec, reference, where)

    async def windowed_metrics(
        self,
        experiment_id: str,
        window_us: int,
        step_us: int,
        *,
        percentiles: tuple[float, ...] = (),
        event_name: EventNameLike | None = None,
        where: Callable[[Event], bool] | None = None,
    ) -> list[WindowMetrics]:
        """Metrics per sliding window ``[start, start + window_us)``. O(n + w).

        The first window starts at the earliest event; windows continue while
        ``start + window_us <= last_timestamp + step_us``; empty windows are
        left out. ``percentiles=(50, 95)`` adds each window's latency
        percentiles (O(n log w) for the sweep).

        Raises:
            ValueError: a non-positive size or a percentile outside [0, 100].
            ExperimentNotFoundError: unknown id.
        """
        window_us = check_size("window_us", window_us)
        step_us = check_size("step_us", step_us)
        wanted = _percentiles(percentiles)
        where_filter = make_filter(event_name, where=where)
        view = await self._view(experiment_id)

        def run(*, cancel: Any) -> list[WindowMetrics]:
            merged, positions = selected(view.snapshot, where_filter, cancel, payloads=False)

            def take(name: str) -> Any:
                column = merged.column(name)
                return column if positions is None else column[positions]

            return windowed(
                take("timestamps"),
                take("latency"),
                take("cost"),
                take("success"),
                window_us,
                step_us,
                wanted,
            )

        return await off_loop(run)

    async def streaming_metrics(self, experiment_id: str) -> StreamingMetrics:
        """The live statistics, including events ``dropped`` by a full mailbox.

        O(events collected since the last read), at numpy speed. A durable
        experiment's statistics cover the committed events of every runtime
        attached to it plus this runtime's own uncommitted ones; ``dropped``
        sums every runtime's drops.
        """
        self._check_open()
        state = await self._find(experiment_id)
        if state.durable is None:
            result: StreamingMetrics = await self._send(state, ReadStreaming())
            return result
        own, dropped, origin, anomalies = await self._send(state, ReadStreamingState())
        database, experiment = state.durable.database, state.id

        def merge(*, cancel: Any) -> StreamingMetrics:
            merged = StreamingState.from_bytes(own)
            total_dropped = dropped
            try:
                others = database.load_statistics(database.connection(), experiment)
            except Exception:
                database.forget_connection()
                raise
            for other, state_bytes, other_dropped in others:
                if other != origin:
                    merged.merge(StreamingState.from_bytes(state_bytes))
                    total_dropped += other_dropped
            counts = dict(anomalies)
            for anomaly in _committed_anomalies(database, experiment, origin):
                key = f"{anomaly.metric}:{anomaly.method}"
                counts[key] = counts.get(key, 0) + 1
            return merged.metrics(total_dropped, counts)

        return await off_loop(merge)

    async def reset_streaming_metrics(self, experiment_id: str) -> None:
        """Statistics back to empty; stored events and ``dropped`` untouched."""
        await self._call(experiment_id, ResetStreaming())

    async def anomalies(
        self,
        experiment_id: str,
        *,
        metric: str | None = None,
        method: str | None = None,
        time_range: tuple[int, int] | None = None,
    ) -> list[Any]:
        """The anomalies live detection flagged, in time order (see ``AnomalyDetection``).

        A durable experiment's are those every runtime feeding it committed,
        plus this runtime's own not yet committed.

        Raises:
            ExperimentNotFoundError: unknown id.
        """
        bounds = time_range_of(time_range)
        self._check_open()
        state = await self._find(experiment_id)
        found: list[Any] = await self._send(state, ReadAnomalies())
        if state.durable is not None:
            database, origin = state.durable.database, state.durable.origin

            def load(*, cancel: Any) -> list[Anomaly]:
                return _committed_anomalies(database, experiment_id, origin)

            found.extend(await off_loop(load))
        return sorted(
            (
                anomaly
                for anomaly in found
                if (metric is None or anomaly.metric == metric)
                and (method is None or anomaly.method == method)
                and (bounds is None or bounds[0] <= anomaly.timestamp <= bounds[1])
            ),
            key=lambda anomaly: anomaly.timestamp,
        )


def _committed_anomalies(database: Any, experiment_id: str, origin: int) -> list[Anomaly]:
    """The anomalies other runtimes committed for a durable experiment (blocking)."""
    try:
        batches = database.load_anomalies(database.connection(), experiment_id)
    except Exception:
        database.forget_connection()
        raise
    return [
        anomaly
        for other, batch in batches
        if other != origin
        for anomaly in decode_anomalies(batch)
    ]


def _percentiles(percentiles: object) -> tuple[float, ...]:
    if not isinstance(percentiles, tuple | list):
        raise TypeError(
            f"percentiles must be a tuple of numbers, got {type(percentiles).__name__}"
        )
    result = []
    for value in percentiles:
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
            raise ValueError(f"percentiles must be numbers in [0, 100], got {value!r}")
        result.append(float(value))
    return tuple(result)
