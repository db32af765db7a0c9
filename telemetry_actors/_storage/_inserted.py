"""Inserted events as rows keep them: whole Events, or MessagePack bytes of one.

An inserted row (``insert``, ``load_archive``) keeps every field it was
given, so the row holds the whole event. As objects, a million loaded
events cost about a kilobyte each and a million dicts the cyclic garbage
collector scans at every full collection (measured: 1.2 s per collection
after loading 1 M events). Events read from an archive hold only JSON
values, which MessagePack gives back exactly (the typed Event fields, lists
as lists), so they are kept as bytes, about 200 each and invisible to the
collector; events given to ``insert`` may hold anything and stay objects.
Cost: about 1 µs to pack and 1.5 µs to unpack an event.
"""

from __future__ import annotations

import msgspec

from .._event import Event
from ._fields import copy_builtins

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Event)

#: What an inserted row keeps.
Inserted = Event | bytes


def pack(event: Event) -> Inserted:
    """The event as bytes, for events of JSON values only; itself if it cannot be packed."""
    try:
        return _encoder.encode(event)
    except (TypeError, OverflowError):  # a value MessagePack cannot write (an int over 64 bits)
        return event


def inserted_event(kept: Inserted) -> Event:
    """A fresh Event of an inserted row: decoded, or copied so callers may change it."""
    if type(kept) is bytes:
        return _decoder.decode(kept)
    assert isinstance(kept, Event)
    return msgspec.structs.replace(
        kept,
        measurements=copy_builtins(kept.measurements),
        metadata=copy_builtins(kept.metadata),
        session_id=copy_builtins(kept.session_id),
        user_id=copy_builtins(kept.user_id),
        sample_id=copy_builtins(kept.sample_id),
        cohort=copy_builtins(kept.cohort),
        model=copy_builtins(kept.model),
        provider=copy_builtins(kept.provider),
    )


def stored_event(kept: Inserted) -> Event:
    """The Event of an inserted row without copying (read-only callers)."""
    return _decoder.decode(kept) if type(kept) is bytes else kept  # type: ignore[return-value]
