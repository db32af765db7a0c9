"""Checking and normalising what callers pass: runtime settings, experiment
arguments, and events to store as given (insert, load_archive).

Each check raises ``TypeError`` or ``ValueError`` naming the argument and the
value, so that a bad call fails where it is made rather than later.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from ._event import EVENT_FIELDS, Event, new_event_id
from ._experiment import Experiment
from ._names import normalize_event_name
from ._types import EventNameLike


def count_at_least(label: str, value: object, minimum: int) -> int:
    """``value`` when it is an int (not bool) >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{label} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{label} must be >= {minimum}, got {value}")
    return value


def positive_seconds(label: str, value: object) -> float:
    """``value`` as float seconds when it is a positive finite number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{label} must be a number of seconds, got {type(value).__name__}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{label} must be a positive finite number of seconds, got {value}")
    return float(value)


def str_tuple(label: str, values: Iterable[str]) -> tuple[str, ...]:
    """``values`` as a tuple of str (a lone str is refused, not split into letters)."""
    if isinstance(values, str):
        raise TypeError(f"{label} must be an iterable of str, not a single str")
    result = tuple(values)
    for value in result:
        if not isinstance(value, str):
            raise TypeError(f"{label} must hold str, got {type(value).__name__}")
    return result


def mapping_copy(label: str, value: Mapping[str, Any] | None) -> dict[str, Any]:
    """A dict copy of a mapping; ``{}`` for None."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(f"{label} must be a mapping or None, got {type(value).__name__}")
    return dict(value)


def event_name_list(events: Iterable[EventNameLike]) -> list[EventNameLike]:
    """An experiment's event list (a lone str is refused, not split into letters)."""
    if isinstance(events, str):
        raise TypeError("events must be a list of event names, not a single str")
    return list(events)


#: Time stamps are stored as signed 64-bit µs.
TIMESTAMP_RANGE = range(-(2**63), 2**63)


def storable_event(event: Event) -> Event:
    """``event`` itself, once its time stamp and name are storable.

    Raises:
        ValueError: a time stamp that is not an int in the int64 range, or an
            event name that is not a non-empty tuple of non-empty str.
    """
    timestamp = event.timestamp
    if isinstance(timestamp, bool) or not isinstance(timestamp, int):
        raise ValueError(f"timestamp must be int µs since the epoch, got {timestamp!r}")
    if timestamp not in TIMESTAMP_RANGE:
        raise ValueError(f"timestamp {timestamp} is outside the int64 µs range")
    if not isinstance(event.event_name, tuple):
        raise ValueError(f"event_name must be a tuple of str, got {event.event_name!r}")
    try:
        normalize_event_name(event.event_name)
    except TypeError as error:
        raise ValueError(str(error)) from None
    return event


def event_from_mapping(experiment: Experiment, fields: Mapping[str, Any]) -> Event:
    """An :class:`Event` from a mapping of its fields, defaults from the experiment."""
    if not isinstance(fields, Mapping):
        raise TypeError(f"insert takes an Event or a mapping, got {type(fields).__name__}")
    unknown = sorted(str(key) for key in fields if key not in EVENT_FIELDS)
    if unknown:
        raise ValueError(f"unknown Event fields {unknown}; valid fields: {sorted(EVENT_FIELDS)}")
    if "timestamp" not in fields:
        raise ValueError("an inserted event needs a 'timestamp' (int µs since the epoch)")
    values: dict[str, Any] = {
        "event_id": new_event_id(),
        "event_name": ("custom", "event"),
        "experiment_id": experiment.id,
        "experiment_name": experiment.name,
        "condition": experiment.condition,
        "tags": experiment.tags,
    }
    values.update(fields)
    name = values["event_name"]
    values["event_name"] = normalize_event_name(tuple(name) if isinstance(name, list) else name)
    try:
        return msgspec.convert(values, Event)
    except msgspec.ValidationError as error:
        raise ValueError(f"invalid event: {error}") from None
