"""Compact storage of an event's measurements and metadata.

Dicts cost hundreds of bytes each; a ``marshal`` encoding of the same data
(and of the event id, which reads then get at C speed) is a single bytes
object of about a hundred. ``marshal`` is exact for the
builtin types (str, int of any size, float, bool, None, bytes, tuple, list,
set, frozenset, dict, even cycles) and refuses every other type, calling no
user code, so anything else is kept as a plain copy instead. Packing happens
in the actor's ingest loop and unpacking in the store's read loop, both
inlined there for speed.
"""

from __future__ import annotations

from typing import TypeAlias

from ._types import FieldDict

#: Either the marshalled (event_id, measurements, metadata), or those three
#: as given when they cannot be marshalled.
Payload: TypeAlias = bytes | tuple[str, FieldDict, FieldDict]

#: marshal format 2: no reference table, so faster both ways for small payloads;
#: self-referencing values fail to encode and are kept as plain copies.
PAYLOAD_FORMAT = 2
