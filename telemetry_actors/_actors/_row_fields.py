"""One event's fields at ingest: what the store keeps and what enrichment reads.

An event that arrived encoded by ``emit`` is compared with the caller's
objects: if they differ, the caller changed them after ``emit`` or they
hold a type MessagePack writes as a plain value (an enum, a dataclass, a
date); the exact capture of the caller's objects is then kept when it still
encodes to the same bytes (unchanged since ``emit``), else the decoded
fields are (what was emitted, as MessagePack saw it). Events captured
exactly at ``emit`` (tuples, sets, bytes, your own objects…) are encoded
with marshal when it keeps them exactly, else kept as objects.
"""

from __future__ import annotations

import marshal
from collections.abc import Callable
from typing import Any

import msgspec

from .._emit._capture import Captured, capture_exact, encode_fields
from .._storage._block import KIND_KEPT, KIND_MARSHAL, KIND_MSGPACK
from .._storage._fields import KeptFields

decode_fields = msgspec.msgpack.Decoder().decode
#: marshal version 4 keeps shared and cyclic containers as they are.
_MARSHAL_VERSION = 4

#: (kind, payload bytes, kept object or None, measurements, metadata) of one event.
Settled = tuple[int, bytes, Any, Any, Any]


def exact_payload(captured: Captured) -> tuple[int, bytes, Any]:
    """(kind, payload bytes, kept object) of an exactly captured event."""
    if not captured.foreign:
        try:
            encoded = marshal.dumps([captured.measurements, captured.metadata], _MARSHAL_VERSION)
        except (ValueError, RecursionError):
            pass
        else:
            return KIND_MARSHAL, encoded, None
    return KIND_KEPT, b"", KeptFields(captured.measurements or {}, captured.metadata or {})


def reconcile(encoded: bytes, measurements: Any, metadata: Any) -> Captured | None:
    """The exact capture of the caller's objects if they still encode to ``encoded``."""
    try:
        exact = capture_exact(measurements, metadata)
        if encode_fields((exact.measurements, exact.metadata)) == encoded:
            return exact
    except BaseException:
        return None
    return None


def settle(fields: Any, measurements: Any, metadata: Any) -> Settled:
    """What the store keeps of one event and the fields enrichment reads (see module doc).

    ``fields`` is what ``emit`` queued: MessagePack bytes (then
    ``measurements``/``metadata`` are the caller's objects, compared here)
    or a :class:`Captured`. Raises only on a bug (no caller code's errors).
    """
    if type(fields) is not bytes:
        kind, payload, kept = exact_payload(fields)
        return kind, payload, kept, fields.measurements or {}, fields.metadata or {}
    decoded_measurements, decoded_metadata = decode_fields(fields)
    if measurements is not None or metadata is not None:
        try:
            differ = decoded_measurements != measurements or decoded_metadata != metadata
        except BaseException:  # a caller's key or value raised in __eq__
            differ = True
        if differ:
            exact = reconcile(fields, measurements, metadata)
            if exact is not None:
                kind, payload, kept = exact_payload(exact)
                return kind, payload, kept, exact.measurements or {}, exact.metadata or {}
    return (
        KIND_MSGPACK,
        fields,
        None,
        {} if decoded_measurements is None else decoded_measurements,
        {} if decoded_metadata is None else decoded_metadata,
    )


def field_of(metadata: Any, read: Callable[[Any], Any]) -> Any:
    """``read(metadata)`` for a kept event's objects: None when they raise."""
    try:
        return read(metadata) if type(metadata) is dict else None
    except Exception:  # a key whose __eq__ raises shadows this one
        return None
