"""The process-wide handler table behind :func:`emit`.

Experiments subscribe their mailbox with a list of name patterns and their
runtime's clock. ``emit`` looks the name up in a route cache: one dict lookup
when nothing listens, and a short loop over mailboxes otherwise. Routes are
computed on first use under a lock and the cache is cleared on every
subscription change, so a route is never stale for longer than one emit that
was already under way.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Mapping
from typing import Any

from ._mailbox import Mailbox
from ._names import NamePattern, normalize_event_name
from ._types import Clock, EventName, EventNameLike

#: Where an event goes: (its queue, that queue's capacity in slots, its mailbox).
Target = tuple["deque[Any]", int, Mailbox]
#: A normalised name and, for each runtime clock, the targets stamped by it;
#: ``()`` when nothing listens, so that emit can return after one truth test.
Route = tuple[EventName, tuple[tuple[Clock, tuple[Target, ...]], ...]] | tuple[()]

_MAX_CACHED_ROUTES = 8192

_lock = threading.Lock()
_subscriptions: dict[Mailbox, tuple[tuple[NamePattern, ...], Clock]] = {}
_routes: dict[object, Route] = {}
_routes_get = _routes.get


def attach(mailbox: Mailbox, patterns: tuple[NamePattern, ...], clock: Clock) -> None:
    """Route events matching ``patterns`` to ``mailbox``, stamped by ``clock``."""
    with _lock:
        _subscriptions[mailbox] = (patterns, clock)
        _routes.clear()


def detach(mailbox: Mailbox) -> None:
    """Stop routing events to ``mailbox`` (no-op when not attached)."""
    with _lock:
        if _subscriptions.pop(mailbox, None) is not None:
            _routes.clear()


def _resolve(event_name: object) -> Route:
    name = normalize_event_name(event_name)
    with _lock:
        groups: dict[Clock, list[Target]] = {}
        for mailbox, (patterns, clock) in _subscriptions.items():
            if any(pattern.matches(name) for pattern in patterns):
                groups.setdefault(clock, []).append(
                    (mailbox.queue, mailbox.slot_capacity, mailbox)
                )
        route: Route = ()
        if groups:
            route = (name, tuple((clock, tuple(targets)) for clock, targets in groups.items()))
        if len(_routes) >= _MAX_CACHED_ROUTES:
            _routes.clear()
        _routes[event_name] = route
    return route


def route(
    event_name: object,
) -> tuple[EventName, tuple[tuple[Clock, tuple[Target, ...]], ...]]:
    """The validated name of ``event_name`` and where it goes (cached).

    Raises:
        TypeError, ValueError: as :func:`emit` for a bad name.
    """
    try:
        cached = _routes_get(event_name)
    except TypeError:
        raise TypeError(
            f"event name must be a tuple of str or a dotted str, got {type(event_name).__name__}"
        ) from None
    if cached is None:
        cached = _resolve(event_name)
    if not cached:
        return normalize_event_name(event_name), ()
    return cached


def check_fields(measurements: object, metadata: object) -> None:
    """Raise ``TypeError`` unless both are mappings or None."""
    if measurements is not None:
        _check_fields("measurements", measurements)
    if metadata is not None:
        _check_fields("metadata", metadata)


def _check_fields(label: str, value: object) -> None:
    if not isinstance(value, Mapping):
        raise TypeError(f"expected a mapping or None for {label}, got {type(value).__name__}")


def emit(
    event_name: EventNameLike,
    measurements: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> None:
    """Send a telemetry event to every running experiment that collects its name.

    Synchronous, thread-safe and non-blocking: it stamps the event with each
    listening runtime's clock and appends it to each experiment's mailbox;
    a full mailbox drops the event and counts it in ``dropped``. With nothing
    listening it costs about one dict lookup.

    Args:
        event_name: a tuple of str or a dotted str, e.g. ``"req_llm.request.stop"``.
        measurements: numbers such as ``{"duration": ns}``; kept whole.
        metadata: context such as ``{"model": "gpt-4", "tokens": {...}}``; kept whole.

    Raises:
        TypeError: the name is not a str/tuple of str, or a field is not a mapping.
        ValueError: the name is empty or has an empty part.

    Example:
        >>> emit("req_llm.request.stop", {"duration": 1_200_000}, {"model": "gpt-4"})
    """
    # Hot path, inlined by hand (route() and Mailbox.put_event): one cache lookup,
    # two type checks, and per mailbox a length check and an append.
    try:
        route = _routes_get(event_name)
    except TypeError:
        raise TypeError(
            f"event name must be a tuple of str or a dotted str, got {type(event_name).__name__}"
        ) from None
    if route is None:
        route = _resolve(event_name)
    # type() first: the common dict case is settled by one comparison.
    if type(measurements) is not dict and measurements is not None:
        _check_fields("measurements", measurements)
    if type(metadata) is not dict and metadata is not None:
        _check_fields("metadata", metadata)
    if not route:
        return
    name, groups = route
    for clock, targets in groups:
        raw = (name, measurements, metadata, clock())
        for queue, slots, mailbox in targets:
            if len(queue) < slots:
                queue.extend(raw)  # atomic: four slots, no tuple kept (see _mailbox)
                if mailbox.sleeping:
                    mailbox.wake()
            else:
                mailbox.count_drops(1)
