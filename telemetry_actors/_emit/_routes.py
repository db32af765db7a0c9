"""The process-wide table of who listens to which event names.

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
from typing import TYPE_CHECKING, Any

from .._names import NamePattern, normalize_event_name
from .._types import Clock, EventName

if TYPE_CHECKING:
    from .._actors._mailbox import Mailbox

#: Where an event goes: (its queue, that queue's capacity in slots, its mailbox).
Target = tuple["deque[Any]", int, "Mailbox"]
#: The targets stamped by one runtime clock.
ClockGroup = tuple[Clock, tuple[Target, ...]]
#: The only target of a route with one, with its clock: (clock, queue, slots, mailbox).
Single = tuple[Clock, "deque[Any]", int, "Mailbox"]
#: A normalised name, its clock groups, and its only target when it has one
#: (emit's fast path); ``()`` when nothing listens, so that emit can return
#: after one truth test.
Route = tuple[EventName, tuple[ClockGroup, ...], Single | None] | tuple[()]

_MAX_CACHED_ROUTES = 8192

_lock = threading.Lock()
_subscriptions: dict[Mailbox, tuple[tuple[NamePattern, ...], Clock]] = {}
_routes: dict[object, Route] = {}
#: The route cache's ``get``, bound once: emit's first step.
cached_route = _routes.get


#: Bumped by every subscription change (under the lock); emit's one-entry
#: cache keeps a route only while the generation it was read under holds.
generation = [0]


def _changed() -> None:
    # Under _lock: a new generation first, so no cached route outlives the change.
    generation[0] += 1
    _routes.clear()


def attach(mailbox: Mailbox, patterns: tuple[NamePattern, ...], clock: Clock) -> None:
    """Route events matching ``patterns`` to ``mailbox``, stamped by ``clock``."""
    with _lock:
        _subscriptions[mailbox] = (patterns, clock)
        _changed()


def detach(mailbox: Mailbox) -> None:
    """Stop routing events to ``mailbox`` (no-op when not attached)."""
    with _lock:
        if _subscriptions.pop(mailbox, None) is not None:
            _changed()


def resolve(event_name: object) -> Route:
    """Compute, cache and return the route of ``event_name``.

    Raises:
        TypeError, ValueError: a bad event name (see ``normalize_event_name``).
    """
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
            grouped = tuple((clock, tuple(targets)) for clock, targets in groups.items())
            single: Single | None = None
            if len(grouped) == 1 and len(grouped[0][1]) == 1:
                ((clock, ((queue, slots, mailbox),)),) = grouped
                single = (clock, queue, slots, mailbox)
            route = (name, grouped, single)
        if len(_routes) >= _MAX_CACHED_ROUTES:
            _routes.clear()
        _routes[event_name] = route
    return route


def route_of(event_name: object) -> Route:
    """The (cached) route of ``event_name``.

    Raises:
        TypeError, ValueError: a bad event name.
    """
    try:
        cached = cached_route(event_name)
    except TypeError:
        raise TypeError(
            f"event name must be a tuple of str or a dotted str, got {type(event_name).__name__}"
        ) from None
    return resolve(event_name) if cached is None else cached
