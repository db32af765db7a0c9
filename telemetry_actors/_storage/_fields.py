"""Reading a stored row's measurements and metadata back out of its block.

Every read decodes afresh or copies, so no reader ever shares a mutable
object with the store (or with another reader): MessagePack and marshal
rows are decoded, and rows kept as objects are copied container by
container, their non-builtin values handed out as the same objects.
"""

from __future__ import annotations

import marshal
from typing import Any

import msgspec

from .._event import Event
from ._block import KIND_INSERTED, KIND_KEPT, KIND_MARSHAL, KIND_MASK, KIND_MSGPACK, Block

#: Packed inserted Events (see ``_inserted``, which imports this module).
_inserted_decoder = msgspec.msgpack.Decoder(Event)

_decode_msgpack = msgspec.msgpack.Decoder().decode


def array_header(count: int) -> bytes:
    """The MessagePack header of an array of ``count`` items."""
    if count < 16:
        return bytes((0x90 | count,))
    if count < 1 << 16:
        return b"\xdc" + count.to_bytes(2, "big")
    return b"\xdd" + count.to_bytes(4, "big")


#: Rows from which a run is decoded in one call (below, the checks cost more).
BULK_ROWS = 8


def decode_run(blob: bytes, starts: Any, lengths: Any) -> list[Any] | None:
    """Each row's ``[measurements, metadata]`` decoded in one call, or None.

    ``starts``/``lengths`` (numpy arrays) locate MessagePack rows in ``blob``;
    when they lie back to back (rows stored in time order, the usual case)
    the run is decoded as one array: a call and a slice less per row. None
    when they do not. O(bytes).
    """
    if len(starts) == 0:
        return []
    if bool((starts[1:] != starts[:-1] + lengths[:-1]).any()):
        return None
    low, high = int(starts[0]), int(starts[-1] + lengths[-1])
    decoded: list[Any] = _decode_msgpack(array_header(len(starts)) + blob[low:high])
    return decoded


def copy_builtins(value: Any) -> Any:
    """A copy of every builtin container in ``value``; other objects as they are.

    Keeps shared and cyclic containers shared and cyclic; any depth. O(size).
    """
    kind = type(value)
    if kind is not dict and kind is not list and kind is not set and kind is not tuple:
        return bytearray(value) if kind is bytearray else value
    from .._emit._capture import copy_containers

    return copy_containers(value)


class KeptFields:
    """A row's fields kept as objects: captured copies plus non-builtin values."""

    __slots__ = ("measurements", "metadata")

    def __init__(self, measurements: dict[Any, Any], metadata: dict[Any, Any]) -> None:
        self.measurements = measurements
        self.metadata = metadata


def decode_fields(kind: int, payload: Any) -> tuple[Any, Any]:
    """(measurements, metadata) of an encoded payload (None where none was given)."""
    if kind == KIND_MSGPACK:
        fields = _decode_msgpack(payload)
    else:
        fields = marshal.loads(payload)
    return fields[0], fields[1]


def row_fields(block: Block, row: int, view: memoryview | None = None) -> tuple[Any, Any]:
    """Fresh (measurements, metadata) of one row, ``{}`` where none was given.

    ``view`` is ``memoryview(block.blob)``, passed in by callers reading many
    rows of one block. For an inserted row, its Event's fields.
    """
    kind = int(block.kind[row]) & KIND_MASK
    if kind == KIND_MSGPACK or kind == KIND_MARSHAL:
        if view is None:
            view = memoryview(block.blob)
        start = int(block.starts[row])
        measurements, metadata = decode_fields(kind, view[start : start + int(block.lengths[row])])
        return measurements if measurements is not None else {}, (
            metadata if metadata is not None else {}
        )
    kept = block.extras[row]
    if kind == KIND_KEPT:
        return copy_builtins(kept.measurements), copy_builtins(kept.metadata)
    assert kind == KIND_INSERTED
    if type(kept) is bytes:  # a packed inserted Event (see ``_inserted``): fresh dicts
        event = _inserted_decoder.decode(kept)
        return event.measurements, event.metadata
    return copy_builtins(kept.measurements), copy_builtins(kept.metadata)
