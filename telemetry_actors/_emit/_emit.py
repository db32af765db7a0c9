"""``emit``: capture an event and append it to every listening mailbox."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._types import EventNameLike
from ._capture import (
    KEEP_NON_MARKERS,
    Captured,
    capture_exact,
    decodes_plain,
    encode_fields,
    is_plain,
)
from ._routes import cached_route, generation, resolve, route_of

#: emit's one-entry route cache: (name object, its route, generation read).
_last_route: tuple[object, Any, int] = (None, None, -1)


def check_fields(measurements: object, metadata: object) -> None:
    """Raise ``TypeError`` unless both are mappings or None."""
    for label, value in (("measurements", measurements), ("metadata", metadata)):
        if value is not None and not isinstance(value, Mapping):
            raise TypeError(f"expected a mapping or None for {label}, got {type(value).__name__}")


def capture(measurements: object, metadata: object) -> bytes | Captured | None:
    """The fields as of now: MessagePack bytes, an exact capture, or None if unreadable.

    Never raises: a mapping or value that raises while being read (any
    exception class), or nesting deeper than the recursion limit, gives
    None, and the caller counts the event as dropped.
    """
    try:
        encoded = encode_fields((measurements, metadata))
        if is_plain(encoded):
            return encoded
    except BaseException:
        pass
    for _ in range(3):  # another thread may resize a dict while it is read
        try:
            return capture_exact(measurements, metadata)
        except RuntimeError as error:
            if "changed size during iteration" not in str(error):
                return None
        except BaseException:
            return None
    return None


def emit(
    event_name: EventNameLike,
    measurements: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> None:
    """Send a telemetry event to every running experiment that collects its name.

    Synchronous, thread-safe and non-blocking. The fields are captured now:
    changing them after the call changes nothing stored. Each listening
    runtime stamps the event with its clock; a full mailbox drops the event
    and counts it in ``dropped``. With nothing listening it costs about one
    dict lookup.

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
    # Hot path, inlined by hand (route_of, capture and deliver): one cache
    # lookup, two type checks, one encode and a byte scan, then per mailbox a
    # length check and an atomic extend.
    global _last_route
    seen_name, route, seen_in = _last_route
    if seen_name is not event_name or seen_in != generation[0]:
        # A loop emitting one name skips this: hashing a tuple name is not free.
        current = generation[0]
        try:
            route = cached_route(event_name)
        except TypeError:
            route = route_of(event_name)  # raises the TypeError with its message
        if route is None:
            route = resolve(event_name)
        _last_route = (event_name, route, current)  # one atomic rebinding
    if type(measurements) is not dict and measurements is not None:
        check_fields(measurements, metadata)
    if type(metadata) is not dict and metadata is not None:
        check_fields(measurements, metadata)
    if not route:
        return
    name, groups, single = route
    try:
        fields: Any = encode_fields((measurements, metadata))
        # is_plain, inlined (see may_hold_markers): any byte changed, or a
        # 0x92 after the pair's own header (a non-empty head), sends it to
        # the typed decode, without scanning it again.
        if (
            fields.translate(KEEP_NON_MARKERS) is not fields or fields.rpartition(b"\x92")[0]
        ) and not decodes_plain(fields):
            fields = capture(measurements, metadata)
    except BaseException:
        fields = capture(measurements, metadata)
    if fields is None:  # unreadable: count it wherever it would have gone
        for _, targets in groups:
            for _, _, mailbox in targets:
                mailbox.count_drops(1)
        return
    if type(fields) is not bytes:
        measurements = metadata = None  # exact captures need no comparison
    if single is not None:  # one listening experiment: no loops
        clock, queue, slots, mailbox = single
        try:
            stamp = clock()
        except BaseException:
            mailbox.count_drops(1)  # a broken clock: only its runtime counts
            return
        if len(queue) < slots:
            queue.extend((name, fields, measurements, metadata, stamp))  # atomic
            if mailbox.sleeping and len(queue) >= mailbox.wake_slots:
                mailbox.wake()  # else the runtime's sweeper wakes it (see _sweeper)
        else:
            mailbox.count_drops(1)
        return
    for clock, targets in groups:
        try:
            raw = (name, fields, measurements, metadata, clock())
        except BaseException:
            for _, _, mailbox in targets:  # a broken clock: only its runtime counts
                mailbox.count_drops(1)
            continue
        for queue, slots, mailbox in targets:
            if len(queue) < slots:
                queue.extend(raw)  # atomic: five slots, no tuple kept (see _mailbox)
                if mailbox.sleeping and len(queue) >= mailbox.wake_slots:
                    mailbox.wake()
            else:
                mailbox.count_drops(1)


__all__ = ["Captured", "capture", "check_fields", "emit"]
