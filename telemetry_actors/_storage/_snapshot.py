"""A reader's immutable view of an experiment's store, used in worker threads.

The actor hands out a :class:`Snapshot` in O(blocks): the tuple of blocks
stored so far and the code tables as they are. A read then merges the
blocks it needs into one time-ordered view (:class:`Merged`) and builds
events, computes statistics or writes files from it, off the event loop,
while the actor goes on appending.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from .._event import Event
from .._handoff import hand_over_gil
from .._types import EventName
from ._block import DTYPES, KIND_MASK, KIND_MSGPACK, Block
from ._materialize import Context, block_events

#: Events built between two hand-overs of the GIL to the event loop (under 1 ms).
HAND_OVER_ROWS = 512

#: A MessagePack float64 (0xcb) whose exponent bits are all ones: NaN or ±inf.
_non_finite_float = re.compile(rb"\xcb[\x7f\xff][\xf0-\xff]").search


class Snapshot:
    """The stored events of one experiment as of one point in its mailbox."""

    __slots__ = (
        "blocks",
        "context",
        "evicted",
        "models",
        "names",
        "prefixes",
        "providers",
        "size",
        "source",
        "weight_override",
    )

    def __init__(
        self,
        blocks: Sequence[Block],
        context: Context,
        names: tuple[EventName, ...],
        models: tuple[Any, ...],
        prefixes: tuple[str, ...],
        evicted: npt.NDArray[np.int64] | None = None,
        weight_override: float | None = None,
        providers: tuple[Any, ...] = (),
        source: Any = None,
    ) -> None:
        self.blocks = tuple(sorted(blocks, key=lambda block: block.seq))
        self.context = context
        self.names = names
        self.models = models
        self.providers = providers
        self.prefixes = prefixes
        self.evicted = evicted if evicted is not None and len(evicted) else None
        self.weight_override = weight_override
        #: Where committed rows are (a durable experiment's ``DatabaseSource``), or None.
        self.source = source
        #: Rows in ``blocks`` (a durable snapshot's committed rows are not counted).
        self.size = sum(block.size for block in self.blocks)

    def resolved(
        self, start: int | None = None, end: int | None = None, payloads: bool = True
    ) -> Snapshot:
        """This snapshot with the committed rows it needs loaded (worker thread only).

        A memory snapshot is returned as it is. For a durable one, the chunks
        overlapping [start, end] are read from the database and decoded, their
        codes remapped into tables extended for this read. Without
        ``payloads`` only their numeric columns are read (metrics need no
        more), a fifth of the bytes: loaded rows then cannot become Events.
        """
        if self.source is None:
            return self
        from ._chunks import ReadTables

        tables = ReadTables((self.names, self.models, self.providers, self.prefixes))
        # Committed chunks are older than the blocks still in memory: lower seqs.
        loaded = self.source.blocks(start, end, tables, -(1 << 40), payloads)
        names, models, providers, id_prefixes = tables.views()
        return Snapshot(
            [*loaded, *self.blocks],
            self.context,
            names,
            models,
            id_prefixes,
            evicted=self.evicted,
            weight_override=self.weight_override,
            providers=providers,
        )

    def merged(
        self, start: int | None = None, end: int | None = None, payloads: bool = True
    ) -> Merged:
        """The rows with ``start <= timestamp <= end`` (all rows by default), time-ordered.

        O(log n) per block to find the rows, plus O(k) (O(k log b) when b
        blocks overlap in time) for the k rows in range, when columns are read.
        A durable snapshot loads its committed rows first (see :meth:`resolved`).
        """
        if self.source is not None:
            return self.resolved(start, end, payloads).merged(start, end)
        parts: list[tuple[Block, int, int]] = []
        for block in self.blocks:
            if not block.size:
                continue
            if start is None and end is None:
                parts.append((block, 0, block.size))
                continue
            low = start if start is not None else block.min_ts
            high = end if end is not None else block.max_ts
            if block.max_ts < low or block.min_ts > high:
                continue
            first, last = block.rows_between(low, high)
            if last > first:
                parts.append((block, first, last))
        return Merged(self, parts)

    def last_rows(self, n: int) -> Merged:
        """The last ``n`` rows in time order. O(log n + k) when blocks follow in time."""
        if n <= 0:
            return Merged(self.resolved(), [])
        merged = self.merged()
        if merged.size <= n:
            return merged
        return merged.subset(np.arange(merged.size - n, merged.size))


class Merged:
    """Rows taken from several blocks, in (timestamp, arrival) order.

    Columns are assembled on first use (:meth:`column`); ``position`` indexes
    below refer to this merged order.
    """

    __slots__ = ("_cache", "_locations", "_order", "_parts", "_selection", "size", "snapshot")

    def __init__(
        self,
        snapshot: Snapshot,
        parts: list[tuple[Block, int, int]],
        selection: npt.NDArray[np.int64] | None = None,
    ) -> None:
        self.snapshot = snapshot
        self._parts = parts
        self._cache: dict[str, np.ndarray[Any, Any]] = {}
        self._order: npt.NDArray[np.int64] | None = None
        self._locations: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]] | None = None
        self._selection = selection
        if selection is None and snapshot.evicted is not None and parts:
            serial = self._raw("serial")
            live = ~np.isin(serial, snapshot.evicted)
            if not bool(live.all()):
                self._selection = np.flatnonzero(live[self._ordering()]).astype(np.int64)
        if self._selection is not None:
            self.size = len(self._selection)
        else:
            self.size = sum(last - first for _, first, last in parts)

    # ------------------------------------------------------------ columns

    def _raw(self, name: str) -> np.ndarray[Any, Any]:
        """A column concatenated in block order (not yet time-ordered)."""
        pieces = [getattr(block, name)[first:last] for block, first, last in self._parts]
        if not pieces:
            return np.empty(0, dtype=DTYPES[name])
        return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)

    def _ordering(self) -> npt.NDArray[np.int64] | slice:
        if self._order is None:
            stamps = self._raw("timestamps")
            if len(self._parts) > 1 and bool(np.any(stamps[1:] < stamps[:-1])):
                # Stable: ties keep block (arrival) order; timsort merges the runs.
                self._order = np.argsort(stamps, kind="stable")
            else:
                self._order = np.empty(0, dtype=np.int64)
        return self._order if len(self._order) else slice(None)

    def column(self, name: str) -> np.ndarray[Any, Any]:
        """A column (see :class:`Block`) in merged order. O(k) once, then cached."""
        cached = self._cache.get(name)
        if cached is None:
            cached = self._raw(name)[self._ordering()]
            if self._selection is not None:
                cached = cached[self._selection]
            self._cache[name] = cached
        return cached

    def block(self, part: int) -> Block:
        """The block of part ``part`` (a part index of :meth:`locations`)."""
        return self._parts[part][0]

    def locations(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """(part index, row within its block) of each merged row. O(k) once, then cached
        (``iter_events`` and exports ask once per batch)."""
        if self._locations is not None:
            return self._locations
        part = (
            np.concatenate(
                [
                    np.full(last - first, index, dtype=np.int64)
                    for index, (_, first, last) in enumerate(self._parts)
                ]
            )
            if self._parts
            else np.empty(0, dtype=np.int64)
        )
        row = (
            np.concatenate(
                [np.arange(first, last, dtype=np.int64) for _, first, last in self._parts]
            )
            if self._parts
            else np.empty(0, dtype=np.int64)
        )
        order = self._ordering()
        part, row = part[order], row[order]
        if self._selection is not None:
            part, row = part[self._selection], row[self._selection]
        self._locations = part, row
        return part, row

    def subset(self, positions: npt.NDArray[np.int64]) -> Merged:
        """The rows at ``positions`` (increasing) of this merged order."""
        base = self._selection if self._selection is not None else None
        selection = positions if base is None else base[positions]
        subset = Merged(self.snapshot, self._parts, np.asarray(selection, dtype=np.int64))
        subset._order = self._order
        return subset

    def plain_json(self, positions: npt.NDArray[np.int64]) -> list[bool]:
        """For each row at ``positions``: are its fields plain JSON values?

        True for rows kept as MessagePack (maps of str, int, float, bool,
        None) holding no NaN or infinity: such a row's Event encodes to JSON
        as it is. Conservative: False means "check value by value". O(k).
        """
        part, row = self.locations()
        part, row = part[positions], row[positions]
        kinds = self.column("kind")[positions] & KIND_MASK
        flags: list[bool] = []
        for part_index, row_index, kind in zip(
            part.tolist(), row.tolist(), kinds.tolist(), strict=True
        ):
            if kind != KIND_MSGPACK:
                flags.append(False)
                continue
            block = self._parts[part_index][0]
            start = int(block.starts[row_index])
            end = start + int(block.lengths[row_index])
            flags.append(_non_finite_float(block.blob, start, end) is None)
        return flags

    # ------------------------------------------------------------- events

    def events(self, positions: npt.NDArray[np.int64] | None = None) -> list[Event]:
        """Events of all rows, or of ``positions`` (increasing), in merged order."""
        return [event for batch in self.event_batches(positions) for event in batch]

    def event_batches(
        self, positions: npt.NDArray[np.int64] | None = None, batch_size: int = 10_000
    ) -> Iterator[list[Event]]:
        """Events in merged order, ``batch_size`` at a time. O(rows) in all."""
        part, row = self.locations()
        if positions is not None:
            part, row = part[positions], row[positions]
        snapshot = self.snapshot
        for begin in range(0, len(part), batch_size):
            chunk_part = part[begin : begin + batch_size]
            chunk_row = row[begin : begin + batch_size]
            events: list[Event] = []
            handed = 0  # len(events) at the last hand-over of the GIL
            # Runs of rows from the same block are built together.
            breaks = np.flatnonzero(np.diff(chunk_part)) + 1
            for run_part, run_rows in zip(
                np.split(chunk_part, breaks), np.split(chunk_row, breaks), strict=True
            ):
                if not len(run_part):
                    continue
                block = self._parts[int(run_part[0])][0]
                for first in range(0, len(run_rows), HAND_OVER_ROWS):
                    if len(events) - handed >= HAND_OVER_ROWS:
                        hand_over_gil()
                        handed = len(events)
                    events.extend(
                        block_events(
                            block,
                            run_rows[first : first + HAND_OVER_ROWS],
                            snapshot.context,
                            snapshot.names,
                            snapshot.prefixes,
                            snapshot.weight_override,
                        )
                    )
            yield events
