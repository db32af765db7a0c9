"""Databases for the storage tests: a SQLite file per test, a PostgreSQL schema per test.

PostgreSQL tests need a server: ``TELEMETRY_ACTORS_POSTGRES_URL`` (default
``postgresql://postgres@127.0.0.1:5432/test``). Without one they skip with
a one-line reason, unless ``TELEMETRY_ACTORS_REQUIRE_POSTGRES=1`` (set by
CI), which makes a missing server a failure.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

POSTGRES_URL = os.environ.get(
    "TELEMETRY_ACTORS_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REQUIRED = os.environ.get("TELEMETRY_ACTORS_REQUIRE_POSTGRES") == "1"


def postgres_or_skip() -> None:
    """Skip (or fail, in CI) when no PostgreSQL server answers."""
    try:
        import psycopg

        psycopg.connect(POSTGRES_URL, connect_timeout=3).close()
    except Exception as error:
        reason = f"no PostgreSQL at {POSTGRES_URL} ({type(error).__name__})"
        if REQUIRED:
            pytest.fail(f"{reason}, and TELEMETRY_ACTORS_REQUIRE_POSTGRES=1")
        pytest.skip(reason)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL whose search_path is a fresh schema, dropped afterwards."""
    postgres_or_skip()
    import psycopg

    schema = f"ta_test_{secrets.token_hex(6)}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each durable-storage test runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'telemetry.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url
