"""A block: the columns of a run of stored rows, sorted by time, never changed.

Each ingest batch becomes a block; the store merges small blocks into large
ones (:func:`merge_blocks`). A row's measurements and metadata are encoded
bytes inside the block's ``blob`` (MessagePack or marshal), or, for values
that cannot be encoded exactly, objects in ``extras``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

#: Row ``kind`` bits: how a row's fields are kept.
KIND_MSGPACK = 0  # MessagePack of [measurements, metadata] in the blob
KIND_MARSHAL = 1  # marshal of [measurements, metadata] in the blob
KIND_KEPT = 2  # objects in extras (values no encoder keeps exactly)
KIND_INSERTED = 3  # a whole Event, inserted as given, in extras
KIND_MASK = 3
#: The row's token counts were floats (totals are then floats, not ints).
TOKENS_FLOAT = 4

#: ``success`` column codes.
SUCCESS_NONE, SUCCESS_FALSE, SUCCESS_TRUE = -1, 0, 1

Int64Array = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

#: The numeric columns of a block, in the order :func:`merge_blocks` handles them.
COLUMNS = (
    "timestamps",
    "names",
    "latency",
    "cost",
    "success",
    "prompt",
    "completion",
    "total",
    "model",
    "provider",
    "weight",
    "serial",
    "prefix",
    "kind",
    "starts",
    "lengths",
    "arrival",
)


class Block:
    """Columns of ``size`` rows sorted by (timestamp, arrival). Immutable by convention.

    Attributes:
        timestamps: int64 µs. names: int32 codes of event names.
        latency, cost: float64, NaN where the row has none.
        success: int8, -1 None / 0 False / 1 True.
        prompt, completion, total: float64 token counts, NaN without tokens.
        model, provider: int32 codes of ``metadata["model"]`` / ``["provider"]``,
            -1 None, -2 not codable.
        weight: float64 sampling weight. serial, prefix: the event id's parts.
        kind: uint8 (see ``KIND_*`` and ``TOKENS_FLOAT``).
        starts, lengths: the byte range of the row's fields in ``blob``.
        arrival: the ``seq`` of the block the row arrived in (kept through merges,
            so a reader can tell rows stored after its snapshot).
        extras: row -> object, for ``KIND_KEPT`` and ``KIND_INSERTED`` rows.
        seq: arrival order of the block; ties in time are broken by it.
    """

    __slots__ = (*COLUMNS, "blob", "extras", "max_ts", "min_ts", "seq", "size")

    timestamps: Int64Array
    names: npt.NDArray[np.int32]
    latency: FloatArray
    cost: FloatArray
    success: npt.NDArray[np.int8]
    prompt: FloatArray
    completion: FloatArray
    total: FloatArray
    model: npt.NDArray[np.int32]
    provider: npt.NDArray[np.int32]
    weight: FloatArray
    serial: Int64Array
    prefix: npt.NDArray[np.uint16]
    kind: npt.NDArray[np.uint8]
    starts: Int64Array
    lengths: npt.NDArray[np.int32]
    arrival: Int64Array

    def __init__(
        self,
        columns: dict[str, np.ndarray[Any, Any]],
        blob: bytes,
        extras: dict[int, Any],
        seq: int,
    ) -> None:
        for name in COLUMNS:
            array = columns[name]
            array.flags.writeable = False
            object.__setattr__(self, name, array)
        self.blob = blob
        self.extras = extras
        self.seq = seq
        self.size = len(self.timestamps)
        self.min_ts = int(self.timestamps[0]) if self.size else 0
        self.max_ts = int(self.timestamps[-1]) if self.size else 0

    def rows_between(self, start: int, end: int) -> tuple[int, int]:
        """The half-open row range with ``start <= timestamp <= end``. O(log size)."""
        stamps = self.timestamps
        return (
            int(np.searchsorted(stamps, start, side="left")),
            int(np.searchsorted(stamps, end, side="right")),
        )


DTYPES: dict[str, Any] = {
    "timestamps": np.int64,
    "names": np.int32,
    "latency": np.float64,
    "cost": np.float64,
    "success": np.int8,
    "prompt": np.float64,
    "completion": np.float64,
    "total": np.float64,
    "model": np.int32,
    "provider": np.int32,
    "weight": np.float64,
    "serial": np.int64,
    "prefix": np.uint16,
    "kind": np.uint8,
    "starts": np.int64,
    "lengths": np.int32,
    "arrival": np.int64,
}


def build_block(
    lists: dict[str, Sequence[Any]], payloads: Sequence[bytes], extras: dict[int, Any], seq: int
) -> Block:
    """A block from one batch's per-row lists, in arrival order; sorted by time here.

    ``lists`` holds every column but ``starts``/``lengths``, which come from
    ``payloads`` (one bytes per row, ``b""`` for rows kept in ``extras``).
    O(n) when the batch arrived in time order, O(n log n) otherwise.
    """
    columns = {name: np.asarray(lists[name], dtype=DTYPES[name]) for name in lists}
    lengths = np.fromiter(map(len, payloads), dtype=np.int32, count=len(payloads))
    starts = np.zeros(len(payloads), dtype=np.int64)
    if len(payloads) > 1:
        np.cumsum(lengths[:-1], out=starts[1:])
    columns["starts"], columns["lengths"] = starts, lengths
    columns["arrival"] = np.full(len(payloads), seq, dtype=np.int64)
    blob = b"".join(payloads)
    stamps = columns["timestamps"]
    if len(stamps) > 1 and bool(np.any(stamps[1:] < stamps[:-1])):
        order = np.argsort(stamps, kind="stable")
        columns = {name: array[order] for name, array in columns.items()}
        where = np.empty_like(order)
        where[order] = np.arange(len(order))
        extras = {int(where[row]): value for row, value in extras.items()}
    return Block(columns, blob, extras, seq)


def merge_blocks(blocks: Sequence[Block], seq: int) -> Block:
    """One block holding every row of ``blocks`` in (timestamp, arrival) order.

    Blocks are taken in arrival order (``seq``); rows with equal time stamps
    keep that order. O(n) for blocks that follow each other in time (the
    stable sort finds the runs), O(n log k) for k interleaved ones.
    """
    ordered = sorted(blocks, key=lambda block: block.seq)
    columns = {
        name: np.concatenate([getattr(block, name) for block in ordered]) for name in COLUMNS
    }
    offsets = np.cumsum([0] + [len(block.blob) for block in ordered[:-1]], dtype=np.int64)
    columns["starts"] = np.concatenate(
        [block.starts + offset for block, offset in zip(ordered, offsets, strict=True)]
    )
    blob = b"".join(block.blob for block in ordered)
    extras: dict[int, Any] = {}
    base = 0
    for block in ordered:
        if block.extras:  # at C speed: a loaded archive keeps every row here
            extras.update(zip(map(base.__add__, block.extras), block.extras.values(), strict=True))
        base += block.size
    stamps = columns["timestamps"]
    if len(stamps) > 1 and bool(np.any(stamps[1:] < stamps[:-1])):
        order = np.argsort(stamps, kind="stable")
        columns = {name: array[order] for name, array in columns.items()}
        if extras:
            where = np.empty_like(order)
            where[order] = np.arange(len(order))
            extras = {int(where[row]): value for row, value in extras.items()}
    return Block(columns, blob, extras, seq)


def empty_block(seq: int = 0) -> Block:
    """A block of no rows."""
    return Block({name: np.empty(0, dtype=dtype) for name, dtype in DTYPES.items()}, b"", {}, seq)


def take_rows(block: Block, keep: np.ndarray[Any, Any]) -> Block:
    """A block of the rows of ``block`` where ``keep`` (a bool mask) is True. O(n)."""
    columns = {name: getattr(block, name)[keep] for name in COLUMNS}
    positions = np.flatnonzero(keep)
    new_position = {int(old): new for new, old in enumerate(positions.tolist())}
    extras = {
        new_position[row]: value for row, value in block.extras.items() if row in new_position
    }
    return Block(columns, block.blob, extras, block.seq)


def chunk_groups(blocks: list[Block], rows: int) -> list[list[Block]]:
    """Consecutive blocks in groups of at most ``rows`` rows (a larger block alone)."""
    groups: list[list[Block]] = []
    size = rows
    for block in blocks:
        if size + block.size > rows:
            groups.append([])
            size = 0
        groups[-1].append(block)
        size += block.size
    return groups
