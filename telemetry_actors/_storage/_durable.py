"""The store of a durable experiment: recent blocks in memory, the rest in a database.

Blocks arrive from ingest as in the memory store and wait in ``pending``.
The actor hands them to the database writer in commits (every
``commit_interval``, at ``flush``, or when many are waiting); once the
writer confirms a commit, its blocks leave memory, so a runtime's memory
does not grow with the events it stores.

A reader's snapshot holds the blocks still in memory and a
:class:`DatabaseSource`; in its worker thread it loads the chunks the read
needs and keeps, of this runtime's own rows, exactly those stored before
the snapshot (rows carry the ``arrival`` of their block), and of other
runtimes' rows every committed one.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from ._block import Block, chunk_groups, merge_blocks, take_rows
from ._chunks import EncodedChunk, ReadTables, decode_chunk, encode_block
from ._codes import CodeTable
from ._database import Database
from ._materialize import Context
from ._memory import prefixes
from ._snapshot import Snapshot

#: Pending rows that start a commit before the interval is over.
COMMIT_ROWS = 65_536
#: Rows per chunk written (about 1.6 MB of typical events): a read of a short
#: window loads whole chunks, so their size bounds its cost (``Last(1 s)``).
CHUNK_ROWS = 8_192


class DatabaseSource:
    """Where a durable snapshot's committed rows are: read in the reader's thread."""

    __slots__ = ("database", "experiment_id", "max_arrival", "memory_arrivals", "origin")

    def __init__(
        self,
        database: Database,
        experiment_id: str,
        origin: int,
        max_arrival: int,
        memory_arrivals: frozenset[int],
    ) -> None:
        self.database = database
        self.experiment_id = experiment_id
        self.origin = origin
        self.max_arrival = max_arrival
        self.memory_arrivals = memory_arrivals

    def blocks(
        self,
        start: int | None,
        end: int | None,
        tables: ReadTables,
        first_seq: int,
        payloads: bool = True,
    ) -> list[Block]:
        """The committed rows overlapping [start, end], as blocks coded into ``tables``
        (numeric columns only, without ``payloads``).

        O(chunks overlapping + rows in them).
        """
        database = self.database
        try:
            chunks = database.load_chunks(
                database.connection(), self.experiment_id, start, end, with_fields=payloads
            )
        except Exception:
            database.forget_connection()  # a broken connection is reopened next time
            raise
        own = self.origin
        memory = np.fromiter(self.memory_arrivals, dtype=np.int64)
        blocks: list[Block] = []
        for seq, (origin, chunk) in enumerate(chunks, start=first_seq):
            block = decode_chunk(chunk, tables, seq)
            if origin == own:
                keep = block.arrival <= self.max_arrival
                if len(memory):
                    keep &= ~np.isin(block.arrival, memory)
                if not bool(keep.all()):
                    if not bool(keep.any()):
                        continue
                    block = take_rows(block, keep)
            blocks.append(block)
        return blocks


class DurableStore:
    """Blocks of one durable experiment that are not yet confirmed committed."""

    __slots__ = (
        "_arrivals",
        "_commits",
        "_in_flight",
        "_last",
        "_pending",
        "_pending_rows",
        "_stored",
        "database",
        "experiment_id",
        "models",
        "names",
        "origin",
        "providers",
    )

    def __init__(self, database: Database, experiment_id: str, origin: int) -> None:
        self.database = database
        self.experiment_id = experiment_id
        self.origin = origin
        self.names = CodeTable()
        self.models = CodeTable()
        self.providers = CodeTable()
        self._pending: list[Block] = []
        self._pending_rows = 0
        self._in_flight: dict[int, list[Block]] = {}
        self._commits = itertools.count(1)
        self._last = 0
        self._stored = 0

    def __len__(self) -> int:
        """Rows this runtime stored (committed or not). O(1)."""
        return self._stored

    def next_seq(self) -> int:
        """A fresh arrival number for a new block."""
        self._last += 1
        return self._last

    def add(self, block: Block) -> None:
        """Keep a new block until it is committed. O(1)."""
        if block.size:
            self._pending.append(block)
            self._pending_rows += block.size
            self._stored += block.size

    def evict(self, serials: list[int]) -> None:
        """Reservoir sampling needs a store that can forget rows; a database does not."""
        raise ValueError("Reservoir sampling keeps a sample in memory; use a memory experiment")

    @property
    def pending_rows(self) -> int:
        """Rows waiting for a commit."""
        return self._pending_rows

    @property
    def uncommitted_rows(self) -> int:
        """Rows not yet confirmed in the database (waiting or being written)."""
        return self._pending_rows + sum(
            block.size for blocks in self._in_flight.values() for block in blocks
        )

    def begin_commit(self) -> tuple[int, list[EncodedChunk]] | None:
        """Take the pending blocks as chunks of about :data:`CHUNK_ROWS` rows to write;
        (commit number, chunks). O(rows)."""
        if not self._pending:
            return None
        blocks, self._pending, self._pending_rows = self._pending, [], 0
        token = next(self._commits)
        self._in_flight[token] = blocks
        tables = self.tables()
        return token, [
            encode_block(merge_blocks(group, max(block.seq for block in group)), tables)
            for group in chunk_groups(blocks, CHUNK_ROWS)
        ]

    def end_commit(self, token: int) -> None:
        """The writer confirmed commit ``token``: its blocks leave memory."""
        self._in_flight.pop(token, None)

    def tables(self) -> tuple[tuple[Any, ...], ...]:
        """(names, models, providers, id prefixes) as tuples."""
        return (self.names.view(), self.models.view(), self.providers.view(), prefixes())

    def blocks(self) -> list[Block]:
        """The blocks still in memory (waiting or being written)."""
        in_flight = [block for blocks in self._in_flight.values() for block in blocks]
        return [*in_flight, *self._pending]

    def snapshot(
        self,
        context: Context,
        start: int | None = None,
        end: int | None = None,
        weight_override: float | None = None,
    ) -> Snapshot:
        """The in-memory blocks and where the committed ones are. O(blocks in memory)."""
        blocks = self.blocks()
        source = DatabaseSource(
            self.database,
            self.experiment_id,
            self.origin,
            self._last,
            frozenset(block.seq for block in blocks),
        )
        names, models, providers, id_prefixes = self.tables()
        return Snapshot(
            blocks,
            context,
            names,
            models,
            id_prefixes,
            weight_override=weight_override,
            providers=providers,
            source=source,
        )
