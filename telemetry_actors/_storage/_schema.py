"""The database schema, with its version table and migrations.

The same tables in SQLite and PostgreSQL: experiments (their records as
JSON, so any host can read them), chunks (one row per stored block, see
``_chunks``), each runtime's live statistics (so that
``streaming_metrics`` can merge the runtimes feeding one experiment) and,
from version 2, the anomalies each runtime's live detection flagged. A
chunk's small columns come before its large ones and its payloads last:
SQLite reaches a column by walking the overflow pages of those before it,
so a read of numbers alone never touches the payloads.
Migrations run in order inside one transaction when a database is opened;
``ta_schema`` records the version reached.
"""

from __future__ import annotations

#: The schema version this code writes and reads.
VERSION = 2

#: Statements per version, as (SQLite, PostgreSQL) pairs; version N's run
#: when the database is below N.
MIGRATIONS: dict[int, list[tuple[str, str]]] = {
    1: [
        (
            "CREATE TABLE IF NOT EXISTS ta_experiments ("
            " id TEXT PRIMARY KEY, record BLOB NOT NULL, status TEXT NOT NULL,"
            " version BIGINT NOT NULL, pauses BLOB NOT NULL, patterns BLOB NOT NULL)",
            "CREATE TABLE IF NOT EXISTS ta_experiments ("
            " id TEXT PRIMARY KEY, record BYTEA NOT NULL, status TEXT NOT NULL,"
            " version BIGINT NOT NULL, pauses BYTEA NOT NULL, patterns BYTEA NOT NULL)",
        ),
        (
            "CREATE TABLE IF NOT EXISTS ta_chunks ("
            " chunk_id INTEGER PRIMARY KEY AUTOINCREMENT, experiment_id TEXT NOT NULL,"
            " origin BIGINT NOT NULL, seq BIGINT NOT NULL, rows INTEGER NOT NULL,"
            " min_ts BIGINT NOT NULL, max_ts BIGINT NOT NULL, tables BLOB NOT NULL,"
            " numbers BLOB NOT NULL, fields BLOB NOT NULL, extras BLOB NOT NULL,"
            " UNIQUE (experiment_id, origin, seq))",
            "CREATE TABLE IF NOT EXISTS ta_chunks ("
            " chunk_id BIGSERIAL PRIMARY KEY, experiment_id TEXT NOT NULL,"
            " origin BIGINT NOT NULL, seq BIGINT NOT NULL, rows INTEGER NOT NULL,"
            " min_ts BIGINT NOT NULL, max_ts BIGINT NOT NULL, tables BYTEA NOT NULL,"
            " numbers BYTEA NOT NULL, fields BYTEA NOT NULL, extras BYTEA NOT NULL,"
            " UNIQUE (experiment_id, origin, seq))",
        ),
        (
            "CREATE INDEX IF NOT EXISTS ta_chunks_by_time ON ta_chunks (experiment_id, max_ts)",
            "CREATE INDEX IF NOT EXISTS ta_chunks_by_time ON ta_chunks (experiment_id, max_ts)",
        ),
        (
            "CREATE TABLE IF NOT EXISTS ta_statistics ("
            " experiment_id TEXT NOT NULL, origin BIGINT NOT NULL, state BLOB NOT NULL,"
            " dropped BIGINT NOT NULL, PRIMARY KEY (experiment_id, origin))",
            "CREATE TABLE IF NOT EXISTS ta_statistics ("
            " experiment_id TEXT NOT NULL, origin BIGINT NOT NULL, state BYTEA NOT NULL,"
            " dropped BIGINT NOT NULL, PRIMARY KEY (experiment_id, origin))",
        ),
        (
            "CREATE TABLE IF NOT EXISTS ta_origins ("
            " origin INTEGER PRIMARY KEY AUTOINCREMENT, opened_at TEXT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS ta_origins ("
            " origin BIGSERIAL PRIMARY KEY, opened_at TEXT NOT NULL)",
        ),
    ],
    2: [
        # Creation order, so that PostgreSQL lists experiments started at one
        # instant as SQLite does (by rowid).
        (
            "SELECT 1",
            "ALTER TABLE ta_experiments ADD COLUMN IF NOT EXISTS created BIGSERIAL",
        ),
        (
            "CREATE TABLE IF NOT EXISTS ta_anomalies ("
            " experiment_id TEXT NOT NULL, origin BIGINT NOT NULL, seq BIGINT NOT NULL,"
            " anomalies BLOB NOT NULL, PRIMARY KEY (experiment_id, origin, seq))",
            "CREATE TABLE IF NOT EXISTS ta_anomalies ("
            " experiment_id TEXT NOT NULL, origin BIGINT NOT NULL, seq BIGINT NOT NULL,"
            " anomalies BYTEA NOT NULL, PRIMARY KEY (experiment_id, origin, seq))",
        ),
    ],
}
