"""From the ``database=`` argument to a :class:`~._database.Database` (nothing opened yet)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from ._database import Database, hide_password
from ._postgres import PostgresDatabase
from ._sqlite import SQLiteDatabase

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
