"""Databases that keep experiments: an embedded SQLite file or a PostgreSQL server.

:func:`open_database` turns the ``database=`` argument into a
:class:`Database`: its connections and the operations the writer thread and
the readers run (records, chunks, statistics), in each engine's SQL
dialect. Connections are per thread; nothing here is shared between
threads but the :class:`Database` itself, which holds only settings.

SQLite runs in WAL mode with ``synchronous=NORMAL``: a process killed at
any moment loses no committed transaction and leaves the file readable (a
power loss may lose the last ones; use ``?synchronous=FULL`` in the URL for
that). PostgreSQL commits are durable as the server is configured.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import msgspec

from .._exceptions import TelemetryActorsError
from .._experiment import Experiment
from .._io._records import experiment_record
from ._chunks import EncodedChunk
from ._schema import MIGRATIONS, VERSION

#: (paused at µs, resumed at µs or None) of each pause.
Pauses = list[tuple[int, int | None]]

_experiment_decoder = msgspec.json.Decoder(Experiment)


class StoredRecord:
    """An experiment as a database keeps it: record, pause history, event patterns."""

    __slots__ = ("patterns", "pauses", "record", "version")

    def __init__(
        self, record: Experiment, pauses: Pauses, patterns: list[list[str]], version: int
    ) -> None:
        self.record = record
        self.pauses = pauses
        self.patterns = patterns
        self.version = version


def hide_password(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for messages and logs)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


class Database:
    """Settings and SQL of one database; subclasses give the engine's dialect."""

    kind = "database"
    placeholder = "?"

    def __init__(self, url: str) -> None:
        self.url = url
        self.display = hide_password(url)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: list[Any] = []  # every connection opened, closed by close_all()

    # ------------------------------------------------------------ connections

    def _new_connection(self) -> Any:
        """A new connection of the engine, configured (autocommit; explicit transactions)."""
        raise NotImplementedError

    def connect(self) -> Any:
        """A new connection, closed by :meth:`close_all` if not before."""
        connection = self._new_connection()
        with self._lock:
            self._open.append(connection)
        return connection

    def connection(self) -> Any:
        """This thread's connection, opened on first use."""
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self.connect()
            self._local.connection = connection
        return connection

    def close_all(self) -> None:
        """Close every connection this database opened (the runtime is closing)."""
        with self._lock:
            connections, self._open = self._open, []
        for connection in connections:
            try:
                connection.close()
            except Exception:
                continue

    def forget_connection(self) -> None:
        """Close and forget this thread's connection (after it broke)."""
        connection = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            try:
                connection.close()
            except Exception:
                return

    @contextmanager
    def transaction(self, connection: Any, write: bool = True) -> Iterator[Any]:
        """A transaction on ``connection``; yields a cursor."""
        raise NotImplementedError

    def sql(self, statement: str) -> str:
        """``statement`` with ``?`` placeholders in this dialect."""
        return statement if self.placeholder == "?" else statement.replace("?", self.placeholder)

    # ------------------------------------------------------------ schema

    def migrate(self, connection: Any) -> None:
        """Create or upgrade the schema to :data:`VERSION`.

        Raises:
            TelemetryActorsError: the database was written by a newer version.
        """
        column = 0 if self.kind == "sqlite" else 1
        with self.transaction(connection) as cursor:
            cursor.execute("CREATE TABLE IF NOT EXISTS ta_schema (version INTEGER NOT NULL)")
            cursor.execute("SELECT version FROM ta_schema")
            row = cursor.fetchone()
            current = int(row[0]) if row else 0
            if current > VERSION:
                raise TelemetryActorsError(
                    f"database {self.display} has schema version {current}; this version of "
                    f"telemetry_actors reads up to {VERSION}: upgrade telemetry_actors"
                )
            for version in range(current + 1, VERSION + 1):
                for statements in MIGRATIONS[version]:
                    cursor.execute(statements[column])
            if row is None:
                cursor.execute(self.sql("INSERT INTO ta_schema (version) VALUES (?)"), (VERSION,))
            elif current < VERSION:
                cursor.execute(self.sql("UPDATE ta_schema SET version = ?"), (VERSION,))

    def new_origin(self, connection: Any) -> int:
        """A number no other runtime on this database has: tags the chunks it writes."""
        opened = datetime.now(UTC).isoformat()
        with self.transaction(connection) as cursor:
            if self.kind == "sqlite":
                cursor.execute("INSERT INTO ta_origins (opened_at) VALUES (?)", (opened,))
                return int(cursor.lastrowid)
            cursor.execute(
                "INSERT INTO ta_origins (opened_at) VALUES (%s) RETURNING origin", (opened,)
            )
            return int(cursor.fetchone()[0])

    # ------------------------------------------------------------ records

    def save_record(
        self,
        connection: Any,
        record: Experiment,
        pauses: Pauses,
        patterns: list[list[str]],
    ) -> None:
        """Insert or replace an experiment's record."""
        with self.transaction(connection) as cursor:
            self._write_record(cursor, record, pauses, patterns)

    def _write_record(
        self, cursor: Any, record: Experiment, pauses: Pauses, patterns: list[list[str]]
    ) -> None:
        cursor.execute(
            self.sql(
                "INSERT INTO ta_experiments (id, record, status, version, pauses, patterns)"
                " VALUES (?, ?, ?, 1, ?, ?) ON CONFLICT (id) DO UPDATE SET"
                " record = excluded.record, status = excluded.status,"
                " version = ta_experiments.version + 1, pauses = excluded.pauses,"
                " patterns = excluded.patterns"
            ),
            (
                record.id,
                msgspec.json.encode(experiment_record(record)),
                record.status.value,
                json.dumps(pauses).encode(),
                json.dumps(patterns).encode(),
            ),
        )

    def change_record(
        self,
        connection: Any,
        experiment_id: str,
        change: Callable[[StoredRecord], StoredRecord],
    ) -> StoredRecord:
        """Read, change and write one record in one transaction (any runtime may race).

        Raises:
            ExperimentNotFoundError: no such experiment (any more).
            Whatever ``change`` raises (an invalid transition); nothing is written then.
        """
        from .._exceptions import ExperimentNotFoundError

        with self.transaction(connection) as cursor:
            stored = self._read_records(cursor, experiment_id, lock=True)
            if not stored:
                raise ExperimentNotFoundError(experiment_id)
            changed = change(stored[0])
            self._write_record(cursor, changed.record, changed.pauses, changed.patterns)
            self.after_change(cursor, experiment_id)
            changed.version = stored[0].version + 1
            return changed

    def after_change(self, cursor: Any, experiment_id: str) -> None:
        """Tell other runtimes a record changed (PostgreSQL NOTIFY; SQLite is polled)."""

    def load_records(
        self, connection: Any, experiment_id: str | None = None
    ) -> list[StoredRecord]:
        """Every experiment (or one) in the database."""
        with self.transaction(connection, write=False) as cursor:
            return self._read_records(cursor, experiment_id)

    def _read_records(
        self, cursor: Any, experiment_id: str | None, lock: bool = False
    ) -> list[StoredRecord]:
        query = "SELECT record, pauses, patterns, version FROM ta_experiments"
        arguments: tuple[Any, ...] = ()
        if experiment_id is not None:
            query += " WHERE id = ?"
            arguments = (experiment_id,)
        else:
            query += " ORDER BY rowid" if self.kind == "sqlite" else " ORDER BY id"
        if lock and self.kind == "postgresql":
            query += " FOR UPDATE"
        cursor.execute(self.sql(query), arguments)
        records = []
        for record, pauses, patterns, version in cursor.fetchall():
            records.append(
                StoredRecord(
                    _experiment_decoder.decode(bytes(record)),
                    [tuple(pause) for pause in json.loads(bytes(pauses))],
                    json.loads(bytes(patterns)),
                    int(version),
                )
            )
        return records

    def versions(self, connection: Any) -> dict[str, int]:
        """Each experiment's record version (it grows with every change)."""
        with self.transaction(connection, write=False) as cursor:
            cursor.execute("SELECT id, version FROM ta_experiments")
            return {str(key): int(version) for key, version in cursor.fetchall()}

    def delete_experiment(self, connection: Any, experiment_id: str) -> None:
        """Forget an experiment: its record, chunks and statistics."""
        with self.transaction(connection) as cursor:
            for table, column in (
                ("ta_chunks", "experiment_id"),
                ("ta_statistics", "experiment_id"),
                ("ta_experiments", "id"),
            ):
                cursor.execute(
                    self.sql(f"DELETE FROM {table} WHERE {column} = ?"), (experiment_id,)
                )
            self.after_change(cursor, experiment_id)

    # ------------------------------------------------------------- chunks

    def write_chunks(
        self,
        connection: Any,
        experiment_id: str,
        origin: int,
        chunks: list[EncodedChunk],
        statistics: tuple[bytes, int] | None,
    ) -> None:
        """Store chunks (idempotent per (origin, seq)) and this runtime's statistics."""
        with self.transaction(connection) as cursor:
            self._insert_chunks(cursor, experiment_id, origin, chunks)
            if statistics is not None:
                self._write_statistics(cursor, experiment_id, origin, *statistics)

    def _insert_chunks(
        self, cursor: Any, experiment_id: str, origin: int, chunks: list[EncodedChunk]
    ) -> None:
        cursor.executemany(
            self.sql(
                "INSERT INTO ta_chunks (experiment_id, origin, seq, rows, min_ts, max_ts,"
                " numbers, fields, extras, tables) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (experiment_id, origin, seq) DO NOTHING"
            ),
            [_chunk_row(experiment_id, origin, chunk) for chunk in chunks],
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
            f"SELECT origin, seq, rows, min_ts, max_ts, numbers, {fields}, tables"
            " FROM ta_chunks WHERE experiment_id = ?"
        )
        arguments: list[Any] = [experiment_id]
        if start is not None:
            query += " AND max_ts >= ?"
            arguments.append(start)
        if end is not None:
            query += " AND min_ts <= ?"
            arguments.append(end)
        query += " ORDER BY chunk_id"
        with self.transaction(connection, write=False) as cursor:
            cursor.execute(self.sql(query), arguments)
            return [
                (
                    int(origin),
                    EncodedChunk(
                        int(rows),
                        int(min_ts),
                        int(max_ts),
                        int(seq),
                        bytes(numbers),
                        bytes(fields_value),
                        bytes(extras),
                        bytes(tables),
                    ),
                )
                for origin, seq, rows, min_ts, max_ts, numbers, fields_value, extras, tables in (
                    cursor.fetchall()
                )
            ]

    def small_chunks(self, connection: Any, experiment_id: str, below: int) -> list[int]:
        """Ids of the experiment's chunks with fewer than ``below`` rows, oldest first."""
        with self.transaction(connection, write=False) as cursor:
            cursor.execute(
                self.sql(
                    "SELECT chunk_id FROM ta_chunks WHERE experiment_id = ? AND rows < ?"
                    " ORDER BY chunk_id"
                ),
                (experiment_id, below),
            )
            return [int(row[0]) for row in cursor.fetchall()]

    def replace_chunks(
        self,
        connection: Any,
        experiment_id: str,
        chunk_ids: list[int],
        origin: int,
        merged: EncodedChunk,
    ) -> bool:
        """Swap ``chunk_ids`` for one merged chunk, if they are all still there."""
        with self.transaction(connection) as cursor:
            marks = ", ".join("?" for _ in chunk_ids)
            cursor.execute(
                self.sql(f"DELETE FROM ta_chunks WHERE chunk_id IN ({marks})"), chunk_ids
            )
            if cursor.rowcount != len(chunk_ids):
                raise _Raced
            self._insert_chunks(cursor, experiment_id, origin, [merged])
        return True

    def load_chunk_rows(
        self, connection: Any, chunk_ids: list[int]
    ) -> list[tuple[int, EncodedChunk]]:
        """(origin, chunk) of the given chunk ids, in id order."""
        marks = ", ".join("?" for _ in chunk_ids)
        with self.transaction(connection, write=False) as cursor:
            cursor.execute(
                self.sql(
                    "SELECT origin, seq, rows, min_ts, max_ts, numbers, fields, extras, tables"
                    f" FROM ta_chunks WHERE chunk_id IN ({marks}) ORDER BY chunk_id"
                ),
                chunk_ids,
            )
            return [
                (
                    int(row[0]),
                    EncodedChunk(
                        int(row[2]), int(row[3]), int(row[4]), int(row[1]),
                        bytes(row[5]), bytes(row[6]), bytes(row[7]), bytes(row[8]),
                    ),
                )
                for row in cursor.fetchall()
            ]  # fmt: skip

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
        self, connection: Any, experiment_id: str, origin: int, state: bytes, dropped: int
    ) -> None:
        """Store this runtime's live statistics of an experiment."""
        with self.transaction(connection) as cursor:
            self._write_statistics(cursor, experiment_id, origin, state, dropped)

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


class _Raced(Exception):
    """Another runtime changed the chunks being merged: try again later."""


def _chunk_row(experiment_id: str, origin: int, chunk: EncodedChunk) -> tuple[Any, ...]:
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


class SQLiteDatabase(Database):
    """An embedded SQLite file: WAL, ``synchronous=NORMAL``, one writer at a time."""

    kind = "sqlite"
    placeholder = "?"

    def __init__(self, url: str, path: Path, synchronous: str = "NORMAL") -> None:
        super().__init__(url)
        self.path = path
        self.synchronous = synchronous

    def _new_connection(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(
            self.path, timeout=30.0, isolation_level=None, check_same_thread=False
        )
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute(f"PRAGMA synchronous={self.synchronous}")
        connection.execute("PRAGMA busy_timeout=30000")
        return connection

    @contextmanager
    def transaction(self, connection: Any, write: bool = True) -> Iterator[Any]:
        cursor = connection.cursor()
        cursor.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield cursor
        except BaseException:
            cursor.execute("ROLLBACK")
            raise
        else:
            cursor.execute("COMMIT")
        finally:
            cursor.close()


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
                copy.write_row(_chunk_row(experiment_id, origin, chunk))
        cursor.execute(
            f"INSERT INTO ta_chunks ({columns}) SELECT {columns} FROM ta_incoming"
            " ON CONFLICT (experiment_id, origin, seq) DO NOTHING"
        )


_SQLITE_SCHEMES = ("sqlite:///", "sqlite://")


def open_database(database: str | Path) -> Database:
    """The :class:`Database` a ``database=`` argument names (nothing is opened yet).

    A path or ``sqlite:///path`` is a SQLite file (``?synchronous=FULL`` in
    the URL for power-loss durability); ``postgresql://…`` a server.

    Raises:
        TypeError: not a str or path.
        ValueError: an unknown scheme.
    """
    if isinstance(database, Path):
        return SQLiteDatabase(f"sqlite:///{database}", database)
    if not isinstance(database, str) or not database:
        raise TypeError(f"database must be a path or a URL, got {database!r}")
    if database.startswith(("postgresql://", "postgres://")):
        return PostgresDatabase(database)
    if database.startswith(_SQLITE_SCHEMES):
        parts = urlsplit(database)
        # As SQLAlchemy: sqlite:///relative.db, sqlite:////absolute/path.db.
        path = parts.path[1:] if database.startswith("sqlite:///") else parts.netloc + parts.path
        synchronous = parse_qs(parts.query).get("synchronous", ["NORMAL"])[0].upper()
        if synchronous not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise ValueError(f"unknown SQLite synchronous mode {synchronous!r} in {database!r}")
        return SQLiteDatabase(database, Path(path), synchronous)
    if "://" in database:
        scheme = database.split("://", 1)[0]
        raise ValueError(
            f"unknown database scheme {scheme!r} in {hide_password(database)!r}; "
            "use a path, sqlite:///path or postgresql://user@host/db"
        )
    return SQLiteDatabase(f"sqlite:///{database}", Path(database))
