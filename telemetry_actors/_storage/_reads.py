"""Reads that return events or columns, run in a worker thread on a snapshot.

Each function takes the immutable :class:`~._snapshot.Snapshot` an actor
answered with and a ``cancel`` event (set when the caller is cancelled), and
checks it between batches, so a cancelled read stops its work.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from .._event import Event
from .._full_gc import hold_young_collections, release_young_collections
from .._stats._metrics import MetricColumns
from .._windows import Last, LastN, Range, Window
from ._block import KIND_INSERTED, KIND_MASK, TOKENS_FLOAT
from ._filters import BATCH_ROWS, Filter, check
from ._snapshot import Merged, Snapshot


def events_of(
    merged: Merged,
    positions: npt.NDArray[np.int64] | None,
    cancel: threading.Event | None,
) -> list[Event]:
    """The events of ``merged`` (or of ``positions`` in it), checking ``cancel``."""
    events: list[Event] = []
    for batch in merged.event_batches(positions, BATCH_ROWS):
        check(cancel)
        events.extend(batch)
    return events


def all_events(snapshot: Snapshot, *, cancel: threading.Event | None = None) -> list[Event]:
    """Every event in time order (ties in arrival order). O(n)."""
    return events_of(snapshot.merged(), None, cancel)


def query_events(
    snapshot: Snapshot, where: Filter, *, cancel: threading.Event | None = None
) -> list[Event]:
    """The events passing every filter, in time order. O(log n + k) for a time range alone."""
    merged = _range(snapshot, where, payloads=True)
    return events_of(merged, where.select(merged, cancel), cancel)


def window_events(
    snapshot: Snapshot,
    window: Window,
    now: int,
    where: Callable[[Event], bool] | None,
    *,
    cancel: threading.Event | None = None,
) -> list[Event]:
    """The events of a time window, then filtered by ``where``. O(log n + k)."""
    if isinstance(window, LastN):
        merged = snapshot.last_rows(window.n)
    elif isinstance(window, Range):
        merged = snapshot.merged(window.start, window.end)
    else:
        assert isinstance(window, Last)
        merged = snapshot.merged(now - window.span_us, now)
    events = events_of(merged, None, cancel)
    if where is None:
        return events
    kept: list[Event] = []
    for begin in range(0, len(events), BATCH_ROWS):
        check(cancel)
        kept.extend(event for event in events[begin : begin + BATCH_ROWS] if where(event))
    return kept


#: A window of at most this many rows is read on the event loop itself: about
#: 2 µs per event, so at most a few ms, less than the hand-off to a worker
#: thread and back costs a small read (about 0.5 ms of a 2.5 ms Last(1 s)).
INLINE_ROWS = 2_048


def inline_events(merged: Merged) -> list[Event]:
    """The events of a :func:`small_window`, read on the loop with young collections held.

    Its few thousand new containers are then freed by reference counting
    when the caller drops them, or scanned once by the next young collection
    if kept; unheld, several young collections would scan and promote them
    while they are built (held: ``Last(1 s)`` of 1,000 events at 1 M in 0.85
    of the time, side by side). Bounded by :data:`INLINE_ROWS`.
    """
    hold_young_collections()
    try:
        return events_of(merged, None, None)
    finally:
        release_young_collections()


def small_window(snapshot: Snapshot, window: Window, now: int) -> Merged | None:
    """The rows of a ``Last``/``Range`` window when few enough to read on the loop, else None.

    Only for an in-memory snapshot (nothing to load) without evicted rows:
    then finding the rows is O(blocks · log n) and reading them O(k) with k
    at most :data:`INLINE_ROWS`.
    """
    if snapshot.source is not None or snapshot.evicted is not None:
        return None
    if isinstance(window, Range):
        merged = snapshot.merged(window.start, window.end)
    elif isinstance(window, Last):
        merged = snapshot.merged(now - window.span_us, now)
    else:
        return None
    return merged if merged.size <= INLINE_ROWS else None


def _range(snapshot: Snapshot, where: Filter, payloads: bool) -> Merged:
    if where.time_range is None:
        return snapshot.merged(payloads=payloads)
    return snapshot.merged(*where.time_range, payloads=payloads)


def selected(
    snapshot: Snapshot,
    where: Filter,
    cancel: threading.Event | None = None,
    payloads: bool = True,
) -> tuple[Merged, npt.NDArray[np.int64] | None]:
    """The rows passing ``where``: the merged range and the positions in it (None: all).

    ``payloads=False``: the caller reads only numeric columns; a durable
    snapshot then skips the stored fields unless ``where`` must test events.
    """
    merged = _range(snapshot, where, payloads or where.needs_events)
    return merged, where.select(merged, cancel)


def metric_columns(
    merged: Merged, positions: npt.NDArray[np.int64] | None, *, weights: bool = True
) -> MetricColumns:
    """The columns ``calculate_metrics`` reads, for the selected rows. O(k).

    Without ``weights`` the sampling weights are not read (an empty column:
    unweighted metrics never look at it), 8 MB less to assemble at 1 M rows.
    """

    def take(name: str) -> np.ndarray[Any, Any]:
        column = merged.column(name)
        return column if positions is None else column[positions]

    kind = take("kind")
    weight = take("weight") if weights else np.empty(0, dtype=np.float64)
    override = merged.snapshot.weight_override
    if weights and override is not None:  # a reservoir's weight, but for inserted rows
        weight = np.where((kind & KIND_MASK) == KIND_INSERTED, weight, override)
    return MetricColumns(
        timestamps=take("timestamps"),
        names=take("names"),
        latency=take("latency"),
        cost=take("cost"),
        success=take("success"),
        prompt=take("prompt"),
        completion=take("completion"),
        total=take("total"),
        weight=weight,
        tokens_float=bool(np.any((kind & TOKENS_FLOAT) != 0)),
    )


__all__ = [
    "KIND_MASK",
    "all_events",
    "events_of",
    "metric_columns",
    "query_events",
    "selected",
    "window_events",
]
