"""Compact storage of an event's measurements and metadata, and its decoding.

Dicts cost hundreds of bytes each; an encoding of the same data (with the
event id) is a single bytes object of about a hundred. Two encodings are used:

* At ingest, ``marshal``: exact for the builtin types (str, int of any size,
  float, bool, None, bytes, tuple, list, set, frozenset, dict) and refusing
  every other type without calling user code, so one call both encodes and
  proves the payload plain. Anything else is kept as a plain copy instead.
* On its second read, a marshal payload is re-encoded as msgpack (with the
  metadata keys an :class:`~._event.Event` copies), which msgspec decodes in
  about half the time, the copied fields included. msgpack has no tuples or
  sets, so the re-encoding is kept only when it is proven exact (see
  :func:`repack`); otherwise the row stays marshal for good.

Ingest pays for one encoding. Rows read once (an export) pay nothing more;
rows read again (a live view re-reading its newest window every few seconds)
pay for the second encoding once, and every later read of them is cheaper.
Packing is inlined in the actor's ingest loop; the store's read loop unpacks
with the helpers here.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import msgspec

from ._types import FieldDict

#: What a row's payload column holds: the marshalled (serial, measurements,
#: metadata), where the event id is ``EVENT_ID_PREFIX + hex(serial)``; an
#: :class:`Unpacked` msgpack-encoded; or (event_id, measurements, metadata)
#: as given when they cannot be marshalled.
Payload: TypeAlias = bytes | tuple[str, FieldDict, FieldDict]

#: marshal format 2: no reference table, so faster both ways for small payloads;
#: self-referencing values fail to encode and are kept as plain copies.
PAYLOAD_FORMAT = 2


class Unpacked(msgspec.Struct, array_like=True, gc=False):
    """A payload decoded: what a stored row adds to its columns to make an Event.

    Also the msgpack layout of a re-encoded payload (an array, in field order).
    """

    event_id: str
    measurements: dict[Any, Any]
    metadata: dict[Any, Any]
    session_id: Any = None
    user_id: Any = None
    sample_id: Any = None
    cohort: Any = None
    model: Any = None
    provider: Any = None


#: marshal's type codes of a tuple, a set and a frozenset.
_TUPLE_AND_SET_CODES = b"(<>"

#: Decode a msgpack payload (hot path of every read of a re-encoded row).
decode_packed = msgspec.msgpack.Decoder(Unpacked).decode
_encode = msgspec.msgpack.Encoder().encode


def unpack_plain(event_id: str, measurements: FieldDict, metadata: FieldDict) -> Unpacked:
    """Gather a row from its parts, copying the Event fields out of ``metadata``."""
    # COPIED_FIELDS spelled out: a star-call over them costs twice as much per row.
    get = metadata.get
    try:
        return Unpacked(
            event_id,
            measurements,
            metadata,
            get("session_id"),
            get("user_id"),
            get("sample_id"),
            get("cohort"),
            get("model"),
            get("provider"),
        )
    except Exception:  # a key whose __eq__ raises shadows a copied name
        return Unpacked(event_id, measurements, metadata)


def repack(marshalled: bytes, unpacked: Unpacked) -> bytes | None:
    """The msgpack payload of ``unpacked`` (decoded from ``marshalled``), or None if inexact.

    msgpack keeps None, bool, int, float, str, bytes, list and dict as they
    are, raises on what it cannot hold (ints beyond 64 bits, lone surrogates,
    complex), and turns tuples and sets into lists. marshal's codes for those
    three are ``(``, ``<`` and ``>`` (the payload itself is a tuple), so a
    payload without these bytes past its first is proven exact at C speed.
    One that has them (in text, say) is decoded back and compared instead:
    a list compares unequal to a tuple or set. NaN is unequal to itself, so
    such a payload stays marshal.
    """
    try:
        packed = _encode(unpacked)
        if len(marshalled.translate(None, _TUPLE_AND_SET_CODES)) == len(marshalled) - 1:
            return packed  # only the payload's own tuple code
        exact = decode_packed(packed) == unpacked
    except Exception:  # unencodable, or nested deeper than msgspec's limit
        return None
    return packed if exact else None
