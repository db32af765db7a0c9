"""Capturing an event's fields when ``emit`` is called.

The caller may change its dicts the moment ``emit`` returns, from any thread,
so the fields are captured at the call. Two ways, chosen per call:

* Encoded: one ``msgspec`` MessagePack encode (about 150 ns for typical LLM
  metadata) freezes the values. MessagePack keeps str, int, float, bool,
  None and str-keyed maps exactly, and the encoded bytes are what the store
  keeps, so nothing is encoded twice. Numbers of other numeric types
  (``numbers.Integral`` / ``numbers.Real``, numpy scalars included) become
  int / float, as the contract asks.
* Exact: MessagePack has no tuples, sets or bytearrays and turns datetimes
  into timestamps, so a payload that may hold an array, binary or extension
  value (found by a byte scan, then confirmed by a typed decode) or any
  value MessagePack refuses (your own classes, numpy arrays, ints beyond 64
  bits, lone surrogates) is captured by :func:`capture_exact` instead: a copy
  of every builtin container, other objects kept as the same objects.

The byte scan is conservative: a float's bytes or non-ASCII text can look
like an array marker, which costs the typed decode, never a wrong capture.
A few non-builtin types MessagePack writes as plain values (enums, dict
subclasses, dataclasses, dates) are caught by the actor, which compares the
decoded fields with the caller's objects (see ``_actors/_ingest``).
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Mapping
from typing import Any, Final

import msgspec

#: Types that are immutable and exactly encodable: captured as they are.
ATOMIC: Final[frozenset[type]] = frozenset({str, int, float, bool, type(None), bytes})


class Unencodable(Exception):
    """A value the MessagePack capture must not write (it needs the exact capture)."""


def _encode_hook(value: object) -> object:
    # Only called for types msgspec does not write itself.
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    raise Unencodable


def _refuse(value: object) -> object:
    raise Unencodable


_encoder = msgspec.msgpack.Encoder(
    enc_hook=_encode_hook, decimal_format=_refuse, uuid_format="bytes"
)
#: (measurements, metadata) -> MessagePack bytes; raises on what it must not write.
encode_fields = _encoder.encode

#: Bytes that may open a MessagePack array (0x90-0x9f, 0xdc, 0xdd), binary
#: (0xc4-0xc6) or extension (0xc7-0xc9, 0xd4-0xd8) value.
suspect = re.compile(rb"[\x90-\x9f\xc4-\xc9\xd4-\xd8\xdc\xdd]").search

_Leaf = str | int | float | bool | None
_Level1 = _Leaf | dict[str, _Leaf]
_Level2 = _Leaf | dict[str, _Level1]
_Level3 = _Leaf | dict[str, _Level2]
_Fields = dict[str, _Level3] | None
#: Decodes only payloads of str-keyed maps of plain values, three levels deep.
_plain_decoder = msgspec.msgpack.Decoder(tuple[_Fields, _Fields])


def is_plain(encoded: bytes) -> bool:
    """True when the encoded fields hold only maps, str, int, float, bool and None.

    Such a payload decodes back exactly. O(len(encoded)), C speed.
    """
    # Byte 0 is the array header of the (measurements, metadata) pair itself.
    if suspect(encoded, 1) is None:
        return True
    try:
        _plain_decoder.decode(encoded)
    except msgspec.ValidationError:
        return False
    return True


class Captured:
    """Fields captured exactly: copies of builtin containers, other objects as they were.

    ``foreign`` tells whether some value is an object of another type (kept by
    reference, so the store cannot encode it), or a bytearray, which encoders
    write as bytes.
    """

    __slots__ = ("foreign", "measurements", "metadata")

    def __init__(
        self, measurements: dict[Any, Any] | None, metadata: dict[Any, Any] | None, foreign: bool
    ) -> None:
        self.measurements = measurements
        self.metadata = metadata
        self.foreign = foreign


class _Walk:
    """One exact capture: a memo for shared and cyclic containers, and what it met."""

    __slots__ = ("foreign", "memo")

    def __init__(self) -> None:
        self.memo: dict[int, Any] = {}
        self.foreign = False

    def value(self, value: Any) -> Any:
        kind = type(value)
        if kind in ATOMIC:
            return value
        known = self.memo.get(id(value))
        if known is not None:
            return known
        if kind is dict:
            copy: dict[Any, Any] = {}
            self.memo[id(value)] = copy
            for key, item in list(value.items()):
                copy[self.value(key)] = self.value(item)
            return copy
        if kind is list:
            items: list[Any] = []
            self.memo[id(value)] = items
            items.extend(self.value(item) for item in list(value))
            return items
        if kind is tuple:
            return tuple(self.value(item) for item in value)
        if kind is set:
            return {self.value(item) for item in list(value)}
        if kind is frozenset:
            return frozenset(self.value(item) for item in value)
        if kind is bytearray:
            self.foreign = True
            return bytearray(value)
        if isinstance(value, numbers.Integral):
            return int(value)
        if isinstance(value, numbers.Real):
            return float(value)
        self.foreign = True
        return value


def capture_exact(measurements: object, metadata: object) -> Captured:
    """Capture both fields exactly (see the module docstring). O(size of the values).

    A non-dict mapping is read into a dict. Raises whatever the caller's
    objects raise while being read, and ``RecursionError`` for values nested
    deeper than the interpreter's recursion limit.
    """
    walk = _Walk()
    return Captured(
        _capture_mapping(walk, measurements), _capture_mapping(walk, metadata), walk.foreign
    )


def _capture_mapping(walk: _Walk, fields: object) -> dict[Any, Any] | None:
    if fields is None:
        return None
    if type(fields) is dict:
        captured: dict[Any, Any] = walk.value(fields)
        return captured
    if not isinstance(fields, Mapping):
        raise TypeError(f"expected a mapping or None, got {type(fields).__name__}")
    return {walk.value(key): walk.value(fields[key]) for key in list(fields)}


def capture_value(value: Any) -> Any:
    """An exact capture of one value (see :func:`capture_exact`). O(size)."""
    return _Walk().value(value)
