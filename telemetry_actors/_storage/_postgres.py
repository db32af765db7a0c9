"""PostgreSQL (psycopg 3): one experiment shared by every process and host that opens it.

Record changes are announced with ``NOTIFY`` on one channel, so attached
runtimes apply a pause or stop within a second; chunks are written by a
batched ``COPY`` into a session table and one idempotent ``INSERT …
SELECT`` (a retried commit never duplicates rows).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ._chunks import EncodedChunk
from ._database import Database
from ._database_chunks import chunk_row


class PostgresDatabase(Database):
    """A PostgreSQL server (psycopg 3): shared by every process and host that opens it."""

    kind = "postgresql"
    placeholder = "%s"
    #: The channel on which record changes are announced.
    CHANNEL = "telemetry_actors"

    def _new_connection(self) -> Any:
        try:
            import psycopg
        except ImportError:
            raise ImportError(
                "a postgresql:// database needs psycopg: "
                "pip install 'telemetry-actors[postgresql]'"
            ) from None
        return psycopg.connect(self.url, autocommit=True, connect_timeout=10)

    @contextmanager
    def transaction(self, connection: Any, write: bool = True) -> Iterator[Any]:
        with connection.transaction(), connection.cursor() as cursor:
            yield cursor

    def after_change(self, cursor: Any, experiment_id: str) -> None:
        cursor.execute("SELECT pg_notify(%s, %s)", (self.CHANNEL, experiment_id))

    def _insert_chunks(
        self, cursor: Any, experiment_id: str, origin: int, chunks: list[EncodedChunk]
    ) -> None:
        # Batched COPY into a session table, then one idempotent INSERT … SELECT.
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS ta_incoming (LIKE ta_chunks INCLUDING DEFAULTS)"
            " ON COMMIT DELETE ROWS"
        )
        columns = (
            "experiment_id, origin, seq, rows, min_ts, max_ts, numbers, fields, extras, tables"
        )
        with cursor.copy(f"COPY ta_incoming ({columns}) FROM STDIN") as copy:
            for chunk in chunks:
                copy.write_row(chunk_row(experiment_id, origin, chunk))
        cursor.execute(
            f"INSERT INTO ta_chunks ({columns}) SELECT {columns} FROM ta_incoming"
            " ON CONFLICT (experiment_id, origin, seq) DO NOTHING"
        )
