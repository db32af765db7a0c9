"""Blocks as self-contained database rows, and back.

A chunk row holds one block: its numeric columns as one bytes value (the
arrays' raw little-endian bytes, back to back, read with ``np.frombuffer``
without copying), its encoded fields as another, and the values its code
columns stand for (event names, models, providers, id prefixes), so that
any runtime on any host reads it without this runtime's tables. Reading
remaps the codes into the reader's tables.

Values a database cannot hold as they are (objects of your own classes
kept by an in-memory store) are written as their ``str()``, except a dict
subclass (its items, as a dict) and a str subclass such as a str enum (its
text); everything builtin round-trips exactly (marshal keeps tuples, sets,
bytes, big ints).
"""

from __future__ import annotations

import marshal
from typing import Any

import numpy as np
import numpy.typing as npt

from .._enrichment import text_of
from .._event import Event
from .._io._plain import safe_str
from ._block import COLUMNS, DTYPES, KIND_INSERTED, KIND_KEPT, KIND_MASK, Block
from ._codes import CodeTable
from ._fields import KeptFields
from ._inserted import Inserted, stored_event

#: marshal version 4: shared and cyclic containers kept as they are.
_MARSHAL = 4
#: Columns written (``starts``/``lengths`` index the fields bytes).
STORED_COLUMNS = COLUMNS
#: The code columns and the table each one's codes refer to.
_CODED = (("names", 0), ("model", 1), ("provider", 2), ("prefix", 3))


def _builtin(value: Any) -> Any:
    """``value`` with every non-builtin object replaced by its ``str()`` (any depth)."""
    kind = type(value)
    if kind in (str, int, float, bool, type(None), bytes, complex):
        return value
    if kind is dict:
        return {_builtin(key): _builtin(item) for key, item in value.items()}
    if kind is list:
        return [_builtin(item) for item in value]
    if kind is tuple:
        return tuple(_builtin(item) for item in value)
    if kind is set:
        return {_builtin(item) for item in value}
    if kind is frozenset:
        return frozenset(_builtin(item) for item in value)
    if kind is bytearray:
        return bytearray(value)
    if isinstance(value, dict):  # OrderedDict, Counter…: the items, as the dict they equal
        return {_builtin(key): _builtin(item) for key, item in dict.items(value)}
    if isinstance(value, str):  # a str enum: its text
        return text_of(value)
    return safe_str(value)


def _dumps(value: Any) -> bytes:
    try:
        return marshal.dumps(value, _MARSHAL)
    except (ValueError, RecursionError):
        return marshal.dumps(_builtin(value), _MARSHAL)


class EncodedChunk:
    """One block as a database row's values."""

    __slots__ = ("extras", "fields", "max_ts", "min_ts", "numbers", "rows", "seq", "tables")

    def __init__(
        self,
        rows: int,
        min_ts: int,
        max_ts: int,
        seq: int,
        numbers: bytes,
        fields: bytes,
        extras: bytes,
        tables: bytes,
    ) -> None:
        self.rows = rows
        self.min_ts = min_ts
        self.max_ts = max_ts
        self.seq = seq
        self.numbers = numbers
        self.fields = fields
        self.extras = extras
        self.tables = tables


def encode_block(block: Block, tables: tuple[tuple[Any, ...], ...]) -> EncodedChunk:
    """A block as a chunk row; ``tables`` are (names, models, providers, prefixes). O(n)."""
    numbers = b"".join(np.ascontiguousarray(getattr(block, name)).tobytes() for name in COLUMNS)
    used: list[list[Any]] = []
    for column, table in _CODED:
        codes = getattr(block, column)
        present = np.unique(codes[codes >= 0]).tolist() if block.size else []
        values = tables[table]
        used.append([(code, values[code]) for code in present])
    extras: dict[int, Any] = {}
    for row, kept in block.extras.items():
        kind = int(block.kind[row]) & KIND_MASK
        if kind == KIND_INSERTED:
            extras[row] = ("event", _event_fields(kept))
        elif kind == KIND_KEPT:
            extras[row] = ("kept", kept.measurements, kept.metadata)
    return EncodedChunk(
        block.size,
        block.min_ts,
        block.max_ts,
        block.seq,
        numbers,
        block.blob,
        _dumps(extras) if extras else b"",
        _dumps(used),
    )


def _event_fields(kept: Inserted) -> tuple[Any, ...]:
    event = stored_event(kept)
    return tuple(getattr(event, field) for field in Event.__struct_fields__)


class ReadTables:
    """The code tables of one read: the snapshot's, extended by values chunks bring."""

    __slots__ = ("tables",)

    def __init__(self, tables: tuple[tuple[Any, ...], ...]) -> None:
        self.tables = [CodeTable(values) for values in tables]

    def views(self) -> tuple[tuple[Any, ...], ...]:
        """(names, models, providers, prefixes) as tuples."""
        return tuple(table.view() for table in self.tables)


def decode_chunk(chunk: EncodedChunk, into: ReadTables, seq: int) -> Block:
    """A chunk row back as a block, its codes remapped into ``into``. O(n)."""
    columns: dict[str, npt.NDArray[Any]] = {}
    offset = 0
    for name in COLUMNS:
        dtype = np.dtype(DTYPES[name])
        size = dtype.itemsize * chunk.rows
        columns[name] = np.frombuffer(chunk.numbers, dtype=dtype, count=chunk.rows, offset=offset)
        offset += size
    used = marshal.loads(chunk.tables)
    for (column, table), pairs in zip(_CODED, used, strict=True):
        if not pairs:
            continue
        codes = columns[column]
        local = np.asarray([code for code, _ in pairs], dtype=np.int64)
        remap = np.arange(max(int(local.max()) + 1, 0), dtype=np.int64)
        remap[local] = [into.tables[table].code(value) for _, value in pairs]
        mapped = codes.astype(np.int64)
        present = mapped >= 0
        mapped[present] = remap[mapped[present]]
        columns[column] = mapped.astype(DTYPES[column])
    extras: dict[int, Any] = {}
    if chunk.extras:
        for row, entry in marshal.loads(chunk.extras).items():
            if entry[0] == "event":
                extras[row] = Event(*entry[1])
            else:
                extras[row] = KeptFields(entry[1], entry[2])
    return Block(columns, chunk.fields, extras, seq)
