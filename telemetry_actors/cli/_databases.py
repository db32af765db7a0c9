"""Opening a Runtime on a database: the demo's own, or one to read experiments from.

A database is what ``Runtime(database=...)`` takes: a path or
``sqlite:///path`` (a SQLite file) or ``postgresql://...``. Every failure a
user can cause (an unknown scheme, a server that does not answer, a file
that is missing or is not a database) becomes a :class:`DatabaseError`
whose message is one line naming the database, its password hidden.

Imports neither rich nor matplotlib (the demo uses it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .. import Runtime, TelemetryActorsError
from ._errors import DatabaseError

__all__ = ["check_database", "database_kind", "display_url", "open_runtime", "sqlite_file"]

_POSTGRES = ("postgresql://", "postgres://")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def display_url(database: str | Path) -> str:
    """``database`` as it can be printed: any password, in the user part or the query, is ``***``.

    Example:
        >>> display_url("postgresql://me:s3cret@db:5432/telemetry?password=s3cret")
        'postgresql://me:***@db:5432/telemetry?password=***'
        >>> display_url("out/telemetry.db")
        'out/telemetry.db'
    """
    text = str(database)
    if not text.startswith(_POSTGRES):
        return text
    parts = urlsplit(text)
    netloc = parts.netloc
    if parts.password is not None:
        user, _, host = netloc.rpartition("@")
        netloc = f"{user.split(':', 1)[0]}:***@{host}"
    query = parse_qsl(parts.query, keep_blank_values=True)
    if any(key == "password" for key, _ in query):
        hidden = [(key, "***" if key == "password" else value) for key, value in query]
        return urlunsplit(parts._replace(netloc=netloc, query=urlencode(hidden, safe="*%=")))
    return urlunsplit(parts._replace(netloc=netloc))


def database_kind(database: str | Path) -> str:
    """``"PostgreSQL"`` for a ``postgresql://`` URL, else ``"SQLite"`` (a path or SQLite URL)."""
    return "PostgreSQL" if str(database).startswith(_POSTGRES) else "SQLite"


def sqlite_file(database: str | Path) -> Path | None:
    """The file a SQLite ``database`` names; None for any other kind.

    As the library reads it: a path, ``sqlite:///relative.db`` or
    ``sqlite:////absolute.db`` (the query, such as ``?synchronous=FULL``, is
    not part of the file name).

    Example:
        >>> sqlite_file("sqlite:////tmp/t.db?synchronous=FULL"), sqlite_file("t.db")
        (PosixPath('/tmp/t.db'), PosixPath('t.db'))
    """
    if isinstance(database, Path):
        return database
    if database.startswith("sqlite://"):
        parts = urlsplit(database)
        if database.startswith("sqlite:///"):
            return Path(parts.path[1:])
        return Path(parts.netloc + parts.path)
    if "://" in database:
        return None
    return Path(database)


@asynccontextmanager
async def open_runtime(
    database: str | Path | None, *, must_exist: bool = False, **options: Any
) -> AsyncIterator[Runtime]:
    """``async with Runtime(database=database, **options)``, with one-line errors.

    Args:
        database: what ``Runtime(database=...)`` takes, or None for memory only.
        must_exist: refuse a SQLite file that is not there (a reader must not
            create an empty database from a mistyped path).
        options: other arguments of ``Runtime``.

    Raises:
        DatabaseError: the database cannot be opened; the message names it.
    """
    if database is not None:
        _check_given(database, must_exist)
    async with AsyncExitStack() as stack:
        try:
            runtime = await stack.enter_async_context(Runtime(database=database, **options))
        except (ValueError, TelemetryActorsError) as error:
            # Raised on entering only: an unknown scheme, or a database that does not open.
            raise DatabaseError(_one_line(str(error))) from None
        yield runtime


def _check_given(database: str | Path, must_exist: bool) -> None:
    if not str(database).strip():
        raise DatabaseError("--database needs a path, sqlite:///path or postgresql://… URL")
    path = sqlite_file(database)
    if path is None or not must_exist or path.is_file():
        return
    if path.exists():
        raise DatabaseError(f"cannot open database {display_url(database)}: not a file")
    raise DatabaseError(
        f"no database at {display_url(database)}: no such file (the demo keeps its "
        "experiments in <output folder>/telemetry.db)"
    )


async def check_database(database: str | Path) -> None:
    """Open ``database`` and close it again: fail before the work, not in the middle.

    Creates a missing SQLite file, as the runtime that follows would.

    Raises:
        DatabaseError: the database cannot be opened.
    """
    async with open_runtime(database):
        pass
