"""Filtering stored events for :meth:`Runtime.query`.

Filters the columns can answer (time range, name, success) run on the
columns first, so only the rows that pass are materialised.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ._event import EVENT_FIELDS, Event
from ._store import FAILURE, SUCCESS, EventStore
from ._types import EventName


def _field_matches(event: Event, key: str, expected: Any) -> bool:
    if key in EVENT_FIELDS and getattr(event, key) == expected:
        return True
    return bool(event.metadata.get(key) == expected)


def query_store(
    store: EventStore,
    event_name: EventName | None,
    success: bool | None,
    time_range: tuple[int, int] | None,
    condition: str | None,
    fields: Mapping[str, Any],
) -> list[Event]:
    """The stored events for which every given filter holds, in time order.

    O(log n + k) for a time range alone; O(n) otherwise.
    """
    rows: Sequence[int] = range(len(store)) if time_range is None else store.span(*time_range)
    if event_name is not None:
        names = store.names
        rows = [row for row in rows if names[row] == event_name]
    if success is not None:
        column = store.mask(SUCCESS if success else FAILURE)
        rows = [row for row in rows if column[row]]
    events = store.events(rows)
    if condition is not None:
        events = [event for event in events if event.condition == condition]
    for key, expected in fields.items():
        events = [event for event in events if _field_matches(event, key, expected)]
    return events
