"""What a database that keeps experiments does: the SQL both engines share.

A :class:`Database` holds a database's settings and runs the operations the
writer thread and the readers need (records, chunks, statistics) on a
connection it is given; :mod:`._sqlite` and :mod:`._postgres` give each
engine's connections, transactions and dialect, :mod:`._open` picks one
from the ``database=`` argument. Connections are per thread; nothing here
is shared between threads but the :class:`Database` itself.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import msgspec

from .._exceptions import TelemetryActorsError
from .._experiment import Experiment
from .._io._records import experiment_record
from ._database_chunks import ChunkTables
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


class Database(ChunkTables):
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
        """Insert or replace an experiment's record, and tell the other runtimes."""
        with self.transaction(connection) as cursor:
            self._write_record(cursor, record, pauses, patterns)
            self.after_change(cursor, record.id)

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
            query += " ORDER BY rowid" if self.kind == "sqlite" else " ORDER BY created"
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
        """Forget an experiment: its record, chunks, statistics and anomalies."""
        with self.transaction(connection) as cursor:
            for table, column in (
                ("ta_chunks", "experiment_id"),
                ("ta_statistics", "experiment_id"),
                ("ta_anomalies", "experiment_id"),
                ("ta_experiments", "id"),
            ):
                cursor.execute(
                    self.sql(f"DELETE FROM {table} WHERE {column} = ?"), (experiment_id,)
                )
            self.after_change(cursor, experiment_id)
