"""The in-memory store of one experiment: a tail of recent blocks and sealed chunks.

Each ingest batch arrives as a small block (sorted by time within itself)
and joins the tail. When the tail reaches :data:`CHUNK_ROWS` rows or
:data:`MAX_TAIL_BLOCKS` blocks it is sealed into one chunk; small chunks
(sparse traffic) are merged pairwise, like a binary counter, until they
reach :data:`CHUNK_ROWS`, so a reader never has to stitch thousands of
tiny blocks and each row is merged O(log CHUNK_ROWS) times.

Out-of-order events cost O(log n) amortised: a late event is sorted within
its batch and merged at seal time (a stable sort that finds the sorted
runs); no stored row ever moves because of it. Chunks are indexed by their
time span in a ``SortedKeyList``, so a time window visits only the chunks
it overlaps: O(log chunks + k).
"""

from __future__ import annotations

import numpy as np
from sortedcontainers import SortedKeyList

from .._event import ids
from ._block import Block, merge_blocks, take_rows
from ._codes import CodeTable
from ._materialize import Context
from ._snapshot import Snapshot

#: Rows in a sealed chunk: large enough that reads stitch few arrays, small
#: enough that sealing (about a millisecond per 10,000 rows) never holds
#: the event loop long.
CHUNK_ROWS = 65_536
#: A tail of this many blocks is sealed even when small (sparse traffic).
MAX_TAIL_BLOCKS = 64

#: Every event id prefix this process has used (a forked child adds its own).
_PREFIXES: list[str] = []


def prefix_code() -> int:
    """The code of this process's current event id prefix. O(1) after the first call."""
    prefix = ids.prefix
    if not _PREFIXES or _PREFIXES[-1] != prefix:
        if prefix in _PREFIXES:
            return _PREFIXES.index(prefix)
        _PREFIXES.append(prefix)
    return len(_PREFIXES) - 1


def prefixes() -> tuple[str, ...]:
    """The id prefixes by code."""
    return tuple(_PREFIXES)


def _span_key(block: Block) -> tuple[int, int]:
    return block.max_ts, block.seq


class MemoryStore:
    """Blocks of one experiment's rows, owned by its actor."""

    __slots__ = (
        "_chunks",
        "_evicted",
        "_recent",
        "_seq",
        "_size",
        "_tail",
        "_tail_rows",
        "models",
        "names",
        "providers",
    )

    def __init__(self) -> None:
        self.names = CodeTable()
        self.models = CodeTable()
        self.providers = CodeTable()
        #: Sealed chunks by (latest time stamp, arrival).
        self._chunks: SortedKeyList = SortedKeyList(key=_span_key)
        #: Sealed chunks smaller than CHUNK_ROWS, in arrival order (merge candidates).
        self._recent: list[Block] = []
        self._tail: list[Block] = []
        self._tail_rows = 0
        self._size = 0
        self._seq = 0
        #: Serials of rows a reservoir sampler evicted, not yet removed from blocks.
        self._evicted: set[int] = set()

    def __len__(self) -> int:
        return self._size

    def next_seq(self) -> int:
        """A fresh arrival number for a new block."""
        self._seq += 1
        return self._seq

    def add(self, block: Block) -> None:
        """Append one batch's block. O(1), plus a seal now and then (see module doc)."""
        if not block.size:
            return
        self._tail.append(block)
        self._tail_rows += block.size
        self._size += block.size
        if self._tail_rows >= CHUNK_ROWS or len(self._tail) >= MAX_TAIL_BLOCKS:
            self.seal()

    def seal(self) -> None:
        """Merge the tail into one chunk, then merge small chunks pairwise."""
        if not self._tail:
            return
        tail, self._tail, self._tail_rows = self._tail, [], 0
        chunk = merge_blocks(tail, max(block.seq for block in tail)) if len(tail) > 1 else tail[0]
        self._chunks.add(chunk)
        if chunk.size >= CHUNK_ROWS:
            # Chunks merged later must not jump over this one (ties keep arrival order).
            self._recent.clear()
            return
        self._recent.append(chunk)
        recent = self._recent
        while (
            len(recent) >= 2
            and recent[-2].size <= recent[-1].size * 2
            and recent[-2].size + recent[-1].size <= CHUNK_ROWS
        ):
            newer, older = recent.pop(), recent.pop()
            self._chunks.remove(newer)
            self._chunks.remove(older)
            merged = merge_blocks([older, newer], newer.seq)
            self._chunks.add(merged)
            if merged.size < CHUNK_ROWS:
                recent.append(merged)

    def take_blocks(self) -> list[Block]:
        """Every block, leaving the store empty. O(chunks).

        For releasing a large store off the loop (see ``cleanup``): the
        blocks of a loaded archive hold a million objects, and freeing them
        at once holds the GIL for about 100 ms.
        """
        blocks = [*self._chunks, *self._tail]
        self._chunks = SortedKeyList(key=_span_key)
        self._recent, self._tail, self._tail_rows, self._size = [], [], 0, 0
        return blocks

    def evict(self, serials: list[int]) -> None:
        """Remove the rows with these serials (a reservoir's evictions).

        O(1) each; the rows leave their blocks when evictions reach half the
        stored rows (O(n) then, so O(1) amortised).
        """
        self._evicted.update(serials)
        self._size -= len(serials)
        if len(self._evicted) > max(self._size, CHUNK_ROWS // 8):
            self._compact_evicted()

    def _compact_evicted(self) -> None:
        evicted = np.fromiter(self._evicted, dtype=np.int64, count=len(self._evicted))
        self.seal()
        rebuilt = SortedKeyList(key=_span_key)
        for chunk in self._chunks:
            keep = ~np.isin(chunk.serial, evicted)
            if bool(keep.any()):
                rebuilt.add(take_rows(chunk, keep) if not bool(keep.all()) else chunk)
        self._chunks = rebuilt
        self._recent = []
        self._evicted = set()

    def blocks(self) -> tuple[Block, ...]:
        """Every block, sealed and tail. O(blocks)."""
        return (*self._chunks, *self._tail)

    def blocks_between(self, start: int, end: int) -> list[Block]:
        """The blocks whose time span overlaps [start, end]. O(log chunks + k)."""
        found = [
            chunk for chunk in self._chunks.irange_key(min_key=(start, -1)) if chunk.min_ts <= end
        ]
        found.extend(
            block for block in self._tail if block.max_ts >= start and block.min_ts <= end
        )
        return found

    def snapshot(
        self,
        context: Context,
        start: int | None = None,
        end: int | None = None,
        weight_override: float | None = None,
    ) -> Snapshot:
        """An immutable view of the rows stored so far (or those in [start, end]).

        O(blocks) (O(log chunks + k) with a time range): it copies references only.
        """
        blocks = self.blocks() if start is None or end is None else self.blocks_between(start, end)
        evicted = (
            np.fromiter(self._evicted, dtype=np.int64, count=len(self._evicted))
            if self._evicted
            else None
        )
        return Snapshot(
            blocks,
            context,
            self.names.view(),
            self.models.view(),
            prefixes(),
            providers=self.providers.view(),
            evicted=evicted,
            weight_override=weight_override,
        )


#: Stores at least this large are released off the loop when cleaned up.
RELEASE_OFF_LOOP_ROWS = 65_536


def release_blocks(blocks: list[Block], *, cancel: object = None) -> None:
    """Drop ``blocks`` one at a time, in a worker thread. O(rows).

    Each block's free is one C call (a few ms for a chunk of loaded events),
    so the event loop gets the GIL back between them. A block a reader still
    holds is not freed here but when that reader lets it go.
    """
    while blocks:
        blocks.pop()
