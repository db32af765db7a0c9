"""SQLite: an embedded file, one writer at a time, durable through a killed process.

WAL mode with ``synchronous=NORMAL``: a process killed at any moment loses
no committed transaction and leaves the file readable; a power loss may
lose the last ones (``sqlite:///path?synchronous=FULL`` for that). The
standard library's ``sqlite3`` releases the GIL while it works, so reads in
worker threads run beside the event loop.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ._database import Database

#: Bytes of the file SQLite maps into memory (address space, not resident memory).
MMAP_BYTES = 1 << 30


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
        # Reads of large chunks copy from mapped pages instead of a read per page.
        connection.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
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
