"""One event's fields at ingest: what the store keeps and what enrichment reads.

An event that arrived encoded by ``emit`` is checked against the caller's
objects (:func:`still_encoded`). If they differ, or hold anything but
builtin values, the caller changed them after ``emit`` or they hold a type
MessagePack writes as a plain value (an enum, a dataclass, a date, a dict
subclass: a str enum and an OrderedDict even compare equal to what
decodes); the exact capture of the caller's objects is then kept when it
still encodes to the same bytes (unchanged since ``emit``), else the
decoded fields are (what was emitted, as MessagePack saw it). Events
captured exactly at ``emit`` (tuples, sets, bytes, your own objects…) are
encoded with marshal when it keeps them exactly, else kept as objects.
"""

from __future__ import annotations

import marshal
from collections.abc import Callable
from typing import Any

import msgspec

from .._emit._capture import Captured, capture_exact, encode_builtin_fields, encode_fields
from .._storage._block import KIND_KEPT, KIND_MARSHAL, KIND_MSGPACK
from .._storage._fields import KeptFields

decode_fields = msgspec.msgpack.Decoder().decode
#: marshal version 4 keeps shared and cyclic containers as they are.
_MARSHAL_VERSION = 4

#: (kind, payload bytes, kept object or None, measurements, metadata) of one event.
Settled = tuple[int, bytes, Any, Any, Any]


def builtin_only(measurements: Any, metadata: Any) -> bool:
    """True when the values hold only builtin types (no subclass, enum or other class).

    ``marshal`` writes exactly the builtin types and refuses any other,
    subclasses included, in one C pass (0.2-0.4 µs per event for typical
    LLM fields, a run of 256 at once). It also writes objects with a buffer
    (numpy scalars) as bytes: those are numbers MessagePack already turned
    into int/float at ``emit``, as the contract asks. Never raises.
    """
    try:
        marshal.dumps((measurements, metadata), _MARSHAL_VERSION)
    except BaseException:
        return False
    return True


def still_encoded(encoded: bytes, measurements: Any, metadata: Any) -> bool:
    """True when the caller's objects hold exactly what ``emit`` encoded as ``encoded``.

    Builtin values only (:func:`builtin_only`) that encode again, with no
    number converted, to the same bytes: for such values equal bytes mean
    equal values of equal types (NaN included). Never raises.
    """
    if not builtin_only(measurements, metadata):
        return False
    try:
        return bool(encode_builtin_fields((measurements, metadata)) == encoded)
    except BaseException:  # the objects changed into something MessagePack refuses
        return False


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
    ``measurements``/``metadata`` are the caller's objects, checked here)
    or a :class:`Captured`. Raises only on a bug (no caller code's errors).
    """
    if type(fields) is not bytes:
        kind, payload, kept = exact_payload(fields)
        return kind, payload, kept, fields.measurements or {}, fields.metadata or {}
    decoded_measurements, decoded_metadata = decode_fields(fields)
    if (measurements is not None or metadata is not None) and not still_encoded(
        fields, measurements, metadata
    ):
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
