"""Filtering stored events for :meth:`Runtime.query`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._event import EVENT_FIELDS, Event
from ._types import EventName


def _field_matches(event: Event, key: str, expected: Any) -> bool:
    if key in EVENT_FIELDS and getattr(event, key) == expected:
        return True
    return bool(event.metadata.get(key) == expected)


def matching(
    events: list[Event],
    event_name: EventName | None,
    success: bool | None,
    condition: str | None,
    fields: Mapping[str, Any],
) -> list[Event]:
    """The events for which every given filter holds, in their order. O(n)."""
    result = events
    if event_name is not None:
        result = [event for event in result if event.event_name == event_name]
    if success is not None:
        result = [event for event in result if event.success is success]
    if condition is not None:
        result = [event for event in result if event.condition == condition]
    for key, expected in fields.items():
        result = [event for event in result if _field_matches(event, key, expected)]
    return result
