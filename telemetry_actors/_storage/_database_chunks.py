"""The chunk, statistics and anomaly tables of a database (part of ``Database``).

Chunks are blocks of stored rows (see :mod:`._chunks`); statistics are each
runtime's live statistics of an experiment, merged by ``streaming_metrics``;
anomalies are what each runtime's live detection flagged, appended in
batches (encoded by the caller) with the commit that stores their events.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from ._chunks import EncodedChunk

#: A batch of flagged anomalies: (batch number of its runtime, encoded anomalies).
AnomalyBatch = tuple[int, bytes]


class ChunkTables:
    """Operations on the chunk, statistics and anomaly tables; mixed into ``Database``."""

    kind: str

    def transaction(self, connection: Any, write: bool = True) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def sql(self, statement: str) -> str:
        raise NotImplementedError

    # ------------------------------------------------------------- chunks

    def write_chunks(
        self,
        connection: Any,
        experiment_id: str,
        origin: int,
        chunks: list[EncodedChunk],
        statistics: tuple[bytes, int] | None,
        anomalies: AnomalyBatch | None = None,
    ) -> None:
        """Store chunks (idempotent per (origin, seq)), this runtime's statistics and the
        anomalies flagged since its last commit, in one transaction."""
        with self.transaction(connection) as cursor:
            self._insert_chunks(cursor, experiment_id, origin, chunks)
            if statistics is not None:
                self._write_statistics(cursor, experiment_id, origin, *statistics)
            if anomalies is not None:
                self._insert_anomalies(cursor, experiment_id, origin, anomalies)

    def _insert_chunks(
        self, cursor: Any, experiment_id: str, origin: int, chunks: list[EncodedChunk]
    ) -> None:
        cursor.executemany(
            self.sql(
                "INSERT INTO ta_chunks (experiment_id, origin, seq, rows, min_ts, max_ts,"
                " numbers, fields, extras, tables) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (experiment_id, origin, seq) DO NOTHING"
            ),
            [chunk_row(experiment_id, origin, chunk) for chunk in chunks],
        )

    def load_chunks(
        self,
        connection: Any,
        experiment_id: str,
        start: int | None,
        end: int | None,
        with_fields: bool = True,
    ) -> list[tuple[int, EncodedChunk]]:
        """(origin, chunk) of every chunk overlapping [start, end] (all by default)."""
        fields = "fields, extras" if with_fields else "'', ''"
        query = (
            f"SELECT chunk_id, origin, seq, rows, min_ts, max_ts, numbers, {fields}, tables"
            " FROM ta_chunks WHERE experiment_id = ?"
        )
        arguments: list[Any] = [experiment_id]
        if start is not None:
            query += " AND max_ts >= ?"
            arguments.append(start)
        if end is not None:
            query += " AND min_ts <= ?"
            arguments.append(end)
        # Ordered here, not by ORDER BY: SQLite would copy every selected blob
        # into a temporary B-tree to sort them (180 ms for 1 M events' numbers
        # against 25 ms to read them).
        with self.transaction(connection, write=False) as cursor:
            cursor.execute(self.sql(query), arguments)
            found = sorted(cursor.fetchall(), key=lambda row: int(row[0]))
        return [
            (
                int(origin),
                EncodedChunk(
                    int(rows),
                    int(min_ts),
                    int(max_ts),
                    int(seq),
                    bytes(numbers),
                    _blob(fields_value),
                    _blob(extras),
                    bytes(tables),
                ),
            )
            for _, origin, seq, rows, min_ts, max_ts, numbers, fields_value, extras, tables in (
                found
            )
        ]

    def compact_own(
        self,
        connection: Any,
        experiment_id: str,
        origin: int,
        below: int,
        at_least: int,
        max_rows: int,
    ) -> int:
        """Merge this origin's chunks of fewer than ``below`` rows into chunks of at
        most ``max_rows``, once there are ``at_least`` of them; return how many were
        merged (0: nothing to do).

        Sparse traffic and frequent flushes make many small chunks; a read
        would pay for each. Only this runtime's own chunks are merged, so its
        readers' arrival filters stay exact (rows keep their ``arrival``).
        O(rows merged), in the writer thread.
        """
        from ._block import chunk_groups, merge_blocks
        from ._chunks import ReadTables, decode_chunk, encode_block

        with self.transaction(connection) as cursor:
            cursor.execute(
                self.sql(
                    "SELECT chunk_id, seq, rows, min_ts, max_ts, numbers, fields, extras, tables"
                    " FROM ta_chunks WHERE experiment_id = ? AND origin = ? AND rows < ?"
                    " ORDER BY chunk_id"
                ),
                (experiment_id, origin, below),
            )
            found = cursor.fetchall()
            if len(found) < at_least:
                return 0
            tables = ReadTables(((), (), (), ()))
            blocks = [
                decode_chunk(
                    EncodedChunk(
                        int(row[2]), int(row[3]), int(row[4]), int(row[1]),
                        bytes(row[5]), bytes(row[6]), bytes(row[7]), bytes(row[8]),
                    ),
                    tables,
                    int(row[1]),
                )
                for row in found
            ]  # fmt: skip
            ids_of = {id(block): int(row[0]) for block, row in zip(blocks, found, strict=True)}
            groups = [group for group in chunk_groups(blocks, max_rows) if len(group) > 1]
            ids = [ids_of[id(block)] for group in groups for block in group]
            if not ids:
                return 0
            marks = ", ".join("?" for _ in ids)
            cursor.execute(self.sql(f"DELETE FROM ta_chunks WHERE chunk_id IN ({marks})"), ids)
            views = tables.views()
            merged = [
                encode_block(merge_blocks(group, max(block.seq for block in group)), views)
                for group in groups
            ]
            self._insert_chunks(cursor, experiment_id, origin, merged)
            return len(ids)

    # --------------------------------------------------------- statistics

    def _write_statistics(
        self, cursor: Any, experiment_id: str, origin: int, state: bytes, dropped: int
    ) -> None:
        cursor.execute(
            self.sql(
                "INSERT INTO ta_statistics (experiment_id, origin, state, dropped)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (experiment_id, origin) DO UPDATE SET"
                " state = excluded.state, dropped = excluded.dropped"
            ),
            (experiment_id, origin, state, dropped),
        )

    def save_statistics(
        self,
        connection: Any,
        experiment_id: str,
        origin: int,
        state: bytes,
        dropped: int,
        anomalies: AnomalyBatch | None = None,
    ) -> None:
        """Store this runtime's live statistics of an experiment (and new anomalies)."""
        with self.transaction(connection) as cursor:
            self._write_statistics(cursor, experiment_id, origin, state, dropped)
            if anomalies is not None:
                self._insert_anomalies(cursor, experiment_id, origin, anomalies)

    def load_statistics(self, connection: Any, experiment_id: str) -> list[tuple[int, bytes, int]]:
        """(origin, state, dropped) of every runtime's statistics of an experiment."""
        with self.transaction(connection, write=False) as cursor:
            cursor.execute(
                self.sql(
                    "SELECT origin, state, dropped FROM ta_statistics WHERE experiment_id = ?"
                ),
                (experiment_id,),
            )
            return [(int(origin), bytes(state), int(dropped)) for origin, state, dropped in (
                cursor.fetchall()
            )]  # fmt: skip

    def clear_statistics(self, connection: Any, experiment_id: str) -> None:
        """Forget every runtime's statistics of an experiment (``reset_streaming_metrics``)."""
        with self.transaction(connection) as cursor:
            cursor.execute(
                self.sql("DELETE FROM ta_statistics WHERE experiment_id = ?"), (experiment_id,)
            )

    # ---------------------------------------------------------- anomalies

    def _insert_anomalies(
        self, cursor: Any, experiment_id: str, origin: int, batch: AnomalyBatch
    ) -> None:
        cursor.execute(
            self.sql(
                "INSERT INTO ta_anomalies (experiment_id, origin, seq, anomalies)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (experiment_id, origin, seq) DO NOTHING"
            ),
            (experiment_id, origin, *batch),
        )

    def load_anomalies(self, connection: Any, experiment_id: str) -> list[tuple[int, bytes]]:
        """(origin, encoded batch) of every runtime's anomaly batches, in batch order."""
        with self.transaction(connection, write=False) as cursor:
            cursor.execute(
                self.sql(
                    "SELECT origin, anomalies FROM ta_anomalies WHERE experiment_id = ?"
                    " ORDER BY origin, seq"
                ),
                (experiment_id,),
            )
            return [(int(origin), _blob(batch)) for origin, batch in cursor.fetchall()]


def chunk_row(experiment_id: str, origin: int, chunk: EncodedChunk) -> tuple[Any, ...]:
    return (
        experiment_id,
        origin,
        chunk.seq,
        chunk.rows,
        chunk.min_ts,
        chunk.max_ts,
        chunk.numbers,
        chunk.fields,
        chunk.extras,
        chunk.tables,
    )


def _blob(value: Any) -> bytes:
    """A column's bytes (a placeholder selected as text gives ``b""``)."""
    return value.encode() if isinstance(value, str) else bytes(value)
