"""The CLI suite shares one short demo run, and gets PostgreSQL schemas of its own.

PostgreSQL tests need a server: ``TELEMETRY_ACTORS_POSTGRES_URL`` (default
``postgresql://postgres@127.0.0.1:5432/test``). Without one they skip, unless
``TELEMETRY_ACTORS_REQUIRE_POSTGRES=1`` (set by CI) makes that a failure, as
in ``tests/storage``.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result

from .helpers import run_demo_cli

POSTGRES_URL = os.environ.get(
    "TELEMETRY_ACTORS_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REQUIRED = os.environ.get("TELEMETRY_ACTORS_REQUIRE_POSTGRES") == "1"


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Result]:
    """One short demo for the whole CLI suite: its output folder and its result."""
    out = tmp_path_factory.mktemp("demo") / "out"
    return out, run_demo_cli(out)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    try:
        import psycopg

        psycopg.connect(POSTGRES_URL, connect_timeout=3).close()
    except Exception as error:
        reason = f"no PostgreSQL at {POSTGRES_URL} ({type(error).__name__})"
        if REQUIRED:
            pytest.fail(f"{reason}, and TELEMETRY_ACTORS_REQUIRE_POSTGRES=1")
        pytest.skip(reason)
    schema = f"ta_cli_{secrets.token_hex(6)}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA {schema} CASCADE")
