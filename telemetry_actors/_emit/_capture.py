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
#: ``encode_fields`` without the conversion of other numbers: raises for every
#: value MessagePack does not write itself (numpy scalars included). Used by
#: the actor to prove that the caller's objects still hold what was encoded.
encode_builtin_fields = msgspec.msgpack.Encoder(decimal_format=_refuse, uuid_format="bytes").encode


#: Bytes that may open a MessagePack array (0x90-0x9f, 0xdc, 0xdd), binary
#: (0xc4-0xc6) or extension (0xc7-0xc9, 0xd4-0xd8) value.
_MARKER_BYTES = frozenset({*range(0x90, 0xA0), *range(0xC4, 0xCA), *range(0xD4, 0xD9), 0xDC, 0xDD})


#: Maps every byte to itself except the markers other than 0x92 (the header of
#: a two-item array, which the (measurements, metadata) pair itself starts
#: with). CPython's ``bytes.translate`` returns the very same object when no
#: byte changes, so ``encoded.translate(KEEP_NON_MARKERS) is encoded`` is a
#: one-pass test with nothing to compare afterwards; a 0x92 after byte 0 is
#: then looked for with ``rpartition``, whose head is empty when the last 0x92
#: is the header (``rpartition`` takes its one argument without building an
#: argument tuple: in ``emit``'s loop it costs about half of ``rfind``, 0.87 ->
#: 0.80 of prometheus ``observe`` for the whole emit). On an interpreter whose
#: ``translate`` returns a copy, the test only sends every payload to the typed
#: decode.
KEEP_NON_MARKERS = bytes(
    0 if byte in _MARKER_BYTES and byte != 0x92 else byte for byte in range(256)
)


def may_hold_markers(encoded: bytes) -> bool:
    """False when ``encoded`` (a pair) surely holds no array, binary or extension value. O(n)."""
    return encoded.translate(KEEP_NON_MARKERS) is not encoded or bool(
        encoded.rpartition(b"\x92")[0]
    )


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
    return not may_hold_markers(encoded) or decodes_plain(encoded)


def decodes_plain(encoded: bytes) -> bool:
    """:func:`is_plain` without the byte scan, for a payload the scan already flagged.

    A typed decode: about 0.5 µs for 100 bytes of LLM fields, paid by every
    payload whose numbers' bytes look like a marker (about half of them).
    """
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
    """One exact capture: iterative (any depth), with a memo for shared and cyclic containers.

    Containers are copied without recursion, so values nested deeper than
    the interpreter's recursion limit are captured like any other.
    """

    __slots__ = ("convert", "foreign", "memo")

    def __init__(self, convert: bool = True) -> None:
        self.memo: dict[int, Any] = {}
        self.foreign = False
        self.convert = convert  # numbers of other types -> int / float

    def value(self, root: Any) -> Any:
        out: list[Any] = [None]
        # ("visit", value, target, key) puts value's copy at target[key];
        # ("build", kind, items, target, key) makes a tuple/set/frozenset of done items.
        stack: list[tuple[Any, ...]] = [("visit", root, out, 0)]
        memo = self.memo
        while stack:
            task = stack.pop()
            if task[0] == "build":
                _, kind, items, target, key = task
                target[key] = kind(items)
                continue
            _, value, target, key = task
            kind = type(value)
            if kind in ATOMIC:
                target[key] = value
                continue
            known = memo.get(id(value))
            if known is not None:
                target[key] = known
                continue
            if kind is dict:
                entries = list(value.items())
                names = [self.key(name) for name, _ in entries]
                copy: dict[Any, Any] = dict.fromkeys(names)  # keeps the key order
                memo[id(value)] = copy
                target[key] = copy
                for (_, item), name in zip(entries, names, strict=True):
                    stack.append(("visit", item, copy, name))
            elif kind is list:
                items = list(value)
                listed: list[Any] = [None] * len(items)
                memo[id(value)] = listed
                target[key] = listed
                stack.extend(("visit", item, listed, index) for index, item in enumerate(items))
            elif kind is tuple or kind is set or kind is frozenset:
                items = list(value)
                done: list[Any] = [None] * len(items)
                stack.append(("build", kind, done, target, key))
                stack.extend(("visit", item, done, index) for index, item in enumerate(items))
            elif kind is bytearray:
                self.foreign = True  # encoders would write it as bytes
                target[key] = bytearray(value)
            else:
                target[key] = self.other(value)
        return out[0]

    def key(self, key: Any) -> Any:
        """A dict key's capture: keys are hashable, so only numbers may change type."""
        if type(key) in ATOMIC:
            return key
        try:
            return self.value(key) if type(key) in (tuple, frozenset) else self.other(key)
        except TypeError:  # a converted key that is no longer hashable: keep it
            self.foreign = True
            return key

    def other(self, value: Any) -> Any:
        """A value of no builtin container type: a converted number, or itself."""
        if self.convert:
            try:
                if isinstance(value, numbers.Integral):
                    return int(value)
                if isinstance(value, numbers.Real):
                    return float(value)
            except Exception:  # a number that refuses to convert is kept as it is
                pass
        self.foreign = True
        return value


def capture_exact(measurements: object, metadata: object) -> Captured:
    """Capture both fields exactly (see the module docstring). O(size of the values).

    A non-dict mapping is read into a dict (an empty one when reading it
    raises an ``Exception``). Raises any other ``BaseException`` the caller's
    objects raise while being read.
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
    try:
        items = [(key, fields[key]) for key in list(fields)]
    except Exception:  # a mapping that cannot be read is stored empty
        return {}
    return {walk.value(key): walk.value(item) for key, item in items}


def capture_value(value: Any) -> Any:
    """An exact capture of one value (see :func:`capture_exact`). O(size)."""
    return _Walk().value(value)


def copy_containers(value: Any) -> Any:
    """A copy of every builtin container in ``value``, other objects as they are. O(size)."""
    return _Walk(convert=False).value(value)
