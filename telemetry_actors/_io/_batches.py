"""A batch of stored rows to export: positions in a snapshot's merged order.

Writers read a batch's columns and payloads straight from the blocks, at
numpy speed, and build :class:`Event` objects only for the rows that need
them (``events``). Unpacked as ``events, plain = batch``, a batch gives its
Events and plain-JSON flags, for writers that work on Events (archives).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from typing import Any

import numpy as np
import numpy.typing as npt

from .._event import Event
from .._storage._block import DTYPES, KIND_MASK, KIND_MSGPACK, Block
from .._storage._snapshot import Merged, Snapshot

#: A MessagePack float64 (0xcb) whose exponent bits are all ones: NaN or ±inf.
_NON_FINITE = re.compile(rb"\xcb[\x7f\xff][\xf0-\xff]")
#: Scan a run's whole byte range for non-finite floats only when its rows fill
#: at least this share of it (else row by row: the rows are scattered).
_DENSE = 0.25


class RowBatch:
    """Rows ``begin`` to ``end`` (exclusive) of ``merged``, one snapshot's rows in time order."""

    __slots__ = ("begin", "end", "merged")

    def __init__(self, merged: Merged, begin: int, end: int) -> None:
        self.merged = merged
        self.begin = begin
        self.end = end

    @property
    def snapshot(self) -> Snapshot:
        """The snapshot the rows are read from (a durable one's, with its rows loaded)."""
        return self.merged.snapshot

    def __len__(self) -> int:
        return self.end - self.begin

    def __iter__(self) -> Iterator[Any]:
        """``events, plain = batch``: the Events and their plain-JSON flags."""
        yield self.events()
        yield self.plain_json()

    def part(self, first: int, last: int) -> RowBatch:
        """Rows ``first`` to ``last`` (exclusive) of this batch, as a batch."""
        return RowBatch(self.merged, self.begin + first, self.begin + min(last, len(self)))

    def locations(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """(part index, row within its block) of each row. O(1): views of a cached array."""
        part, row = self.merged.locations()
        return part[self.begin : self.end], row[self.begin : self.end]

    def runs(self) -> list[tuple[Block, int, int, npt.NDArray[np.int64]]]:
        """(block, first, last, rows) of each run of rows from one block, in order:
        rows ``first:last`` of the batch are rows ``rows`` of ``block``."""
        part, row = self.locations()
        if not len(part):
            return []
        breaks = (np.flatnonzero(np.diff(part)) + 1).tolist()
        bounds = [0, *breaks, len(part)]
        return [
            (self.merged.block(int(part[first])), first, last, row[first:last])
            for first, last in itertools.pairwise(bounds)
        ]

    def columns(self, *names: str) -> dict[str, np.ndarray[Any, Any]]:
        """The named block columns (see :class:`Block`) of the batch's rows. O(rows)."""
        part, row = self.locations()
        if len(part) and part[0] == part[-1] and bool((part == part[0]).all()):
            block = self.merged.block(int(part[0]))
            return {name: getattr(block, name)[row] for name in names}
        columns = {name: np.empty(len(row), dtype=DTYPES[name]) for name in names}
        for index in np.unique(part).tolist():
            mask = part == index
            block = self.merged.block(index)
            rows = row[mask]
            for name in names:
                columns[name][mask] = getattr(block, name)[rows]
        return columns

    def events(self, rows: npt.NDArray[np.int64] | None = None) -> list[Event]:
        """Events of the batch's rows, or of ``rows`` (increasing indexes into the batch)."""
        positions = np.arange(self.begin, self.end, dtype=np.int64)
        return self.merged.events(positions if rows is None else positions[rows])

    def plain_json(self, columns: dict[str, np.ndarray[Any, Any]] | None = None) -> list[bool]:
        """For each row: are its fields plain JSON values?

        True for rows kept as MessagePack (maps of str, int, float, bool,
        None) holding no NaN or infinity: such a row's Event encodes to JSON
        as it is. Conservative: False means "check value by value". O(rows)
        at numpy and regex speed. ``columns``: the batch's ``kind``, ``starts``
        and ``lengths``, when the caller has them.
        """
        if columns is None:
            columns = self.columns("kind", "starts", "lengths")
        flags = (columns["kind"] & KIND_MASK) == KIND_MSGPACK
        for block, first, last, _ in self.runs():
            candidates = np.flatnonzero(flags[first:last]) + first
            if len(candidates):
                starts = columns["starts"][candidates]
                ends = starts + columns["lengths"][candidates]
                for index in _non_finite_rows(block.blob, starts, ends):
                    flags[candidates[index]] = False
        return [bool(flag) for flag in flags.tolist()]


def _non_finite_rows(
    blob: bytes, starts: npt.NDArray[np.int64], ends: npt.NDArray[np.int64]
) -> list[int]:
    """Indexes of the byte ranges ``starts[i]:ends[i]`` of ``blob`` holding a non-finite
    float. The ranges do not overlap (they are payloads of one block)."""
    low, high = int(starts.min()), int(ends.max())
    if (ends - starts).sum() < _DENSE * (high - low):
        search = _NON_FINITE.search
        return [
            index
            for index, (start, end) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True))
            if search(blob, start, end) is not None
        ]
    # Non-empty ranges that do not overlap (a block's payloads) start at distinct
    # offsets, so the last start at or before a match finds the only candidate.
    order = np.flatnonzero(ends > starts)
    order = order[np.argsort(starts[order], kind="stable")]
    at = np.fromiter((match.start() for match in _NON_FINITE.finditer(blob, low, high)), np.int64)
    if not len(at) or not len(order):
        return []
    slots = np.searchsorted(starts[order], at, side="right") - 1
    # The whole float must lie in the row's range, as a search of that range needs.
    inside = (slots >= 0) & (at + 3 <= ends[order][np.maximum(slots, 0)])
    found: list[int] = order[slots[inside]].tolist()
    return found
