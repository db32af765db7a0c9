"""Durable experiments, in SQLite and in PostgreSQL: what survives, what is shared, what fails.

Every test taking ``db`` runs once on each engine (see ``conftest.py``).
"""

from __future__ import annotations

import collections
import enum
import math
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from telemetry_actors import (
    AnomalyDetection,
    ExperimentNotFoundError,
    ExperimentStatus,
    Runtime,
    TelemetryActorsError,
    emit,
)
from tests.conftest import FakeClock

STOP = "req_llm.request.stop"


def emit_calls(n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        emit(
            STOP,
            {"duration": (i + 1) * 1_000_000},
            {"model": "gpt-4", "tokens": {"prompt": 10 * i, "completion": i}, "n": i},
        )


def fields(events: list[Any]) -> list[tuple[Any, ...]]:
    return [
        (e.event_name, e.timestamp, e.measurements, e.metadata, e.latency_ms, e.cost_usd, e.model)
        for e in events
    ]


async def test_events_and_records_survive_the_runtime(db: str, clock: FakeClock) -> None:
    async with Runtime(clock=clock, database=db) as rt:
        exp = await rt.start_experiment("kept", condition="a")
        assert exp.storage_backend == db.split(":")[0]
        for i in range(50):
            clock.advance(1_000)
            emit_calls(1, i)
        await rt.flush()
        before = await rt.get_all(exp.id)
        metrics_before = await rt.calculate_metrics(exp.id)
    async with Runtime(clock=clock, database=db) as again:
        (record,) = await again.list_experiments()
        assert (record.id, record.name, record.condition) == (exp.id, "kept", "a")
        assert record.status is ExperimentStatus.RUNNING  # leaving changed no status
        after = await again.get_all(exp.id)
        assert fields(after) == fields(before)
        assert [e.event_id for e in after] == [e.event_id for e in before]
        assert await again.calculate_metrics(exp.id) == metrics_before


class _Model(enum.StrEnum):
    GPT4 = "gpt-4"


class _Status(str, enum.Enum):  # noqa: UP042 - the older mixin spelling, whose str() differs
    OK = "ok"


async def test_dict_subclasses_and_str_enums_are_kept_as_their_data(
    db: str, clock: FakeClock
) -> None:
    """A database keeps other types as their str(); these keep their data (as before)."""
    async with Runtime(clock=clock, database=db) as rt:
        exp = await rt.start_experiment("lookalikes", events=["x"])
        emit(
            "x",
            {"duration": 5, "status": _Status.OK},
            {"model": _Model.GPT4, "counts": collections.Counter(a=2), "order": {"b": 1}},
        )
        await rt.flush()
    async with Runtime(clock=clock, database=db) as again:
        (event,) = await again.get_all(exp.id)
    assert event.measurements == {"duration": 5, "status": "ok"}
    assert event.metadata == {"model": "gpt-4", "counts": {"a": 2}, "order": {"b": 1}}
    assert [type(value) for value in event.metadata.values()] == [str, dict, dict]
    assert type(event.measurements["status"]) is str
    assert event.success is True


async def test_a_record_change_is_committed_before_the_call_returns(
    db: str, clock: FakeClock
) -> None:
    async with Runtime(clock=clock, database=db) as rt:
        exp = await rt.start_experiment("paused")
        await rt.pause_experiment(exp.id)
        # Another runtime opened now (no flush) sees the pause.
        async with Runtime(clock=clock, database=db) as other:
            seen = await other.get_experiment(exp.id)
            assert seen.status is ExperimentStatus.PAUSED
            assert seen.pause_count == 1
        await rt.resume_experiment(exp.id)
        await rt.stop_experiment(exp.id)
    async with Runtime(clock=clock, database=db) as again:
        final = await again.get_experiment(exp.id)
        assert final.status is ExperimentStatus.STOPPED
        metrics = await again.calculate_metrics(exp.id)
        assert metrics.summary.paused_seconds == 0.0  # the fake clock did not move


async def test_attaching_after_a_restart_collects_into_the_same_experiment(
    db: str, clock: FakeClock
) -> None:
    async with Runtime(clock=clock, database=db) as rt:
        exp = await rt.start_experiment("service")
        emit_calls(10)
        await rt.flush()
    async with Runtime(clock=clock, database=db) as restarted:
        emit_calls(5, 100)  # not attached yet: not collected
        await restarted.flush()
        assert len(await restarted.get_all(exp.id)) == 10
        attached = await restarted.attach_experiment(exp.id)
        assert attached.id == exp.id
        emit_calls(7, 200)
        await restarted.flush()
        events = await restarted.get_all(exp.id)
        assert [e.metadata["n"] for e in events][-7:] == list(range(200, 207))
        assert len(events) == 17
        live = await restarted.streaming_metrics(exp.id)
        assert live.latency.count == 17  # this runtime's 7 plus the first one's committed 10
        assert live.event_counts == {"req_llm.request.stop": 17}


async def test_two_runtimes_feed_one_experiment(db: str, clock: FakeClock) -> None:
    async with (
        Runtime(clock=clock, database=db) as first,
        Runtime(clock=clock, database=db) as second,
    ):
        exp = await first.start_experiment("shared")
        await second.attach_experiment(exp.id)
        emit_calls(20)  # both runtimes collect each emit
        await first.flush()
        await second.flush()
        for rt in (first, second):
            metrics = await rt.calculate_metrics(exp.id)
            assert metrics.summary.total_events == 40
            live = await rt.streaming_metrics(exp.id)
            assert live.latency.count == 40
            assert live.cost.total == pytest.approx(metrics.cost.total, rel=1e-9)
            assert live.latency.mean == pytest.approx(metrics.latency.mean, rel=1e-9)
            assert live.latency.std_dev == pytest.approx(metrics.latency.std_dev, rel=1e-9)


async def test_cleanup_deletes_from_the_database(db: str, clock: FakeClock) -> None:
    async with Runtime(clock=clock, database=db) as rt:
        gone = await rt.start_experiment("gone")
        kept = await rt.start_experiment("kept")
        emit_calls(3)
        await rt.flush()
        await rt.cleanup(gone.id)
    async with Runtime(clock=clock, database=db) as again:
        assert [e.id for e in await again.list_experiments()] == [kept.id]
        with pytest.raises(ExperimentNotFoundError):
            await again.get_all(gone.id)


async def test_memory_experiments_stay_out_of_the_database(db: str, clock: FakeClock) -> None:
    async with Runtime(clock=clock, database=db) as rt:
        memory = await rt.start_experiment("scratch", storage_backend="memory")
        assert memory.storage_backend == "memory"
        emit_calls(2)
        await rt.flush()
        assert len(await rt.get_all(memory.id)) == 2
        with pytest.raises(ValueError, match="memory-only"):
            await rt.attach_experiment(memory.id)
    async with Runtime(clock=clock, database=db) as again:
        assert await again.list_experiments() == []


async def test_archives_load_into_a_durable_experiment(
    db: str, clock: FakeClock, tmp_path: Path
) -> None:
    async with Runtime(clock=clock) as memory:
        exp = await memory.start_experiment("to-archive")
        emit_calls(4)
        await memory.flush()
        path = await memory.archive(exp.id, path=tmp_path / "a.jsonl")
        expected = fields(await memory.get_all(exp.id))
    async with Runtime(clock=clock, database=db) as rt:
        loaded = await rt.load_archive(path)
        assert loaded.storage_backend == db.split(":")[0]
        with pytest.raises(ValueError, match="archived"):
            await rt.attach_experiment(loaded.id)
    async with Runtime(clock=clock, database=db) as again:
        assert fields(await again.get_all(exp.id)) == expected
        assert (await again.get_experiment(exp.id)).status is ExperimentStatus.ARCHIVED


async def test_values_of_every_builtin_type_round_trip(db: str, clock: FakeClock) -> None:
    class Mine:
        def __str__(self) -> str:
            return "mine!"

    metadata = {
        "tuple": (1, "a", (2.5, None)),
        "set": {1, 2},
        "bytes": b"\x00\xff",
        "big": 2**100,
        "nan": math.nan,
        "text": "lone \ud800 surrogate",
        "keys": {1: "int", (1, 2): "tuple"},
        "object": Mine(),
    }
    async with Runtime(clock=clock, database=db) as rt:
        exp = await rt.start_experiment("types", events=["t.*"])
        emit("t.x", {"inf": math.inf}, metadata)
        await rt.flush()
    async with Runtime(clock=clock, database=db) as again:
        (event,) = await again.get_all(exp.id)
    stored = event.metadata
    assert {k: stored[k] for k in ("tuple", "set", "bytes", "big", "text", "keys")} == {
        k: metadata[k] for k in ("tuple", "set", "bytes", "big", "text", "keys")
    }
    assert type(stored["tuple"]) is tuple
    assert type(stored["set"]) is set
    assert math.isnan(stored["nan"])
    assert event.measurements == {"inf": math.inf}
    assert stored["object"] == "mine!"  # a database keeps your own objects as their str()


async def test_memory_does_not_hold_committed_rows(db: str, clock: FakeClock) -> None:
    async with Runtime(clock=clock, database=db) as rt:
        exp = await rt.start_experiment("bounded")
        for _ in range(5):
            emit_calls(1_000)
            await rt.flush()
        state = rt._registry.lookup(exp.id)
        assert state.store.blocks() == []  # every row is in the database only
        statistics = await rt.statistics(exp.id)
        assert (statistics.stored_events, statistics.uncommitted_events) == (5_000, 0)
        assert statistics.database == "ok"
        assert (await rt.calculate_metrics(exp.id)).summary.total_events == 5_000


@pytest.mark.parametrize(
    ("database", "error", "match"),
    [
        ("ftp://host/x", ValueError, "unknown database scheme 'ftp'"),
        ("sqlite:///{tmp}/file/under/a/file.db", TelemetryActorsError, "cannot open database"),
    ],
)
async def test_bad_databases_fail_on_entering(
    tmp_path: Path, database: str, error: type[Exception], match: str
) -> None:
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(error, match=match):
        async with Runtime(database=database.format(tmp=tmp_path)):
            pass


async def test_attach_refuses_unknown_ids(db: str) -> None:
    async with Runtime(database=db) as rt:
        with pytest.raises(ExperimentNotFoundError):
            await rt.attach_experiment("0123456789abcdef")


async def wait_for_status(rt: Runtime, experiment_id: str, status: ExperimentStatus) -> float:
    """Seconds until ``rt`` sees ``status`` (the contract promises within 1 s).

    The change arrives from another runtime through the database: wait for the
    runtime's signal that a record change has reached its actors, taken before
    each read so a change in between is not missed.
    """
    import time

    import anyio

    started = time.monotonic()
    with anyio.fail_after(5):
        while True:
            changed = rt._record_change()
            if (await rt.get_experiment(experiment_id)).status is status:
                break
            await changed.wait()
    return time.monotonic() - started


async def test_a_pause_in_one_runtime_applies_in_every_attached_one(
    db: str, clock: FakeClock
) -> None:
    async with (
        Runtime(clock=clock, database=db) as first,
        Runtime(clock=clock, database=db) as second,
    ):
        exp = await first.start_experiment("shared")
        await second.attach_experiment(exp.id)
        await first.pause_experiment(exp.id)
        assert await wait_for_status(second, exp.id, ExperimentStatus.PAUSED) < 1.0
        emit_calls(5)  # paused everywhere: nobody collects
        await first.flush()
        await second.flush()
        assert await second.get_all(exp.id) == []
        await second.resume_experiment(exp.id)
        assert await wait_for_status(first, exp.id, ExperimentStatus.RUNNING) < 1.0
        emit_calls(3)
        await first.flush()
        await second.flush()
        assert (await first.calculate_metrics(exp.id)).summary.total_events == 6
        record = await first.get_experiment(exp.id)
        assert record.pause_count == 1


async def test_many_small_commits_are_merged(db: str, clock: FakeClock) -> None:
    from telemetry_actors._storage._open import open_database

    async with Runtime(clock=clock, database=db) as rt:
        exp = await rt.start_experiment("sparse")
        for i in range(40):  # a flush after every event: forty tiny commits
            clock.advance(10)
            emit_calls(1, i)
            await rt.flush()
        events = await rt.get_all(exp.id)
    assert [e.metadata["n"] for e in events] == list(range(40))
    database = open_database(db)
    try:
        connection = database.connection()
        chunks = database.load_chunks(connection, exp.id, None, None, with_fields=False)
    finally:
        database.close_all()
    assert sum(chunk.rows for _, chunk in chunks) == 40
    assert len(chunks) < 16  # merged as they gathered, not forty chunks


async def test_live_anomalies_are_kept_with_the_events(db: str, clock: FakeClock) -> None:
    """Another runtime, later, sees what live detection flagged, and the same counts."""
    spec = AnomalyDetection(metrics=("latency_ms",), methods=("mad",), window=100, warmup=10)
    async with Runtime(clock=clock, database=db) as writer:
        exp = await writer.start_experiment("spiky", anomaly_detection=spec)
        for i in range(60):
            slow = i in (30, 45)
            emit(STOP, {"duration": (5_000 if slow else 100 + i % 7) * 1_000_000}, {"n": i})
            clock.advance(1_000)
        await writer.flush()
        flagged = await writer.anomalies(exp.id)
        counts = (await writer.streaming_metrics(exp.id)).anomalies
    assert [a.value for a in flagged] == [5_000.0, 5_000.0]
    assert counts["latency_ms:mad"] == 2
    async with Runtime(clock=clock, database=db) as reader:
        assert await reader.anomalies(exp.id) == flagged
        assert await reader.anomalies(exp.id, method="zscore") == []
        assert (await reader.streaming_metrics(exp.id)).anomalies["latency_ms:mad"] == 2
        assert (await reader.get_experiment(exp.id)).id == exp.id


async def test_a_version_1_database_is_upgraded_in_place(tmp_path: Path, clock: FakeClock) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    async with Runtime(clock=clock, database=url) as rt:
        exp = await rt.start_experiment("old")
        emit_calls(3)
        await rt.flush()
    with sqlite3.connect(tmp_path / "old.db") as connection:  # as version 1 left it
        connection.execute("DROP TABLE ta_anomalies")
        connection.execute("UPDATE ta_schema SET version = 1")
    spec = AnomalyDetection(metrics=("latency_ms",), methods=("zscore",), window=10, warmup=3)
    async with Runtime(clock=clock, database=url) as rt:
        assert len(await rt.get_all(exp.id)) == 3
        new = await rt.start_experiment("new", anomaly_detection=spec)
        emit_calls(3)
        emit(STOP, {"duration": 10**12}, {})
        await rt.flush()
        assert len(await rt.anomalies(new.id)) == 1
    with sqlite3.connect(tmp_path / "old.db") as connection:
        assert connection.execute("SELECT version FROM ta_schema").fetchall() == [(2,)]
        assert connection.execute("SELECT COUNT(*) FROM ta_anomalies").fetchone() == (1,)


async def test_a_newer_database_is_refused(tmp_path: Path, clock: FakeClock) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    async with Runtime(clock=clock, database=url):
        pass
    with sqlite3.connect(tmp_path / "new.db") as connection:
        connection.execute("UPDATE ta_schema SET version = 99")
    with pytest.raises(TelemetryActorsError, match=r"schema version 99.*upgrade telemetry_actors"):
        async with Runtime(clock=clock, database=url):
            pass


async def test_experiments_started_at_one_instant_are_listed_in_creation_order(
    db: str, clock: FakeClock
) -> None:
    async with Runtime(clock=clock, database=db) as rt:
        made = [(await rt.start_experiment(name)).id for name in ("c", "b", "d", "a", "e")]
        assert [e.id for e in await rt.list_experiments()] == made
    async with Runtime(clock=clock, database=db) as reader:
        assert [e.id for e in await reader.list_experiments()] == made


async def test_commits_write_chunks_a_short_window_can_afford(
    tmp_path: Path, clock: FakeClock
) -> None:
    """A window's read loads whole chunks: no chunk exceeds CHUNK_ROWS rows."""
    from telemetry_actors._storage._durable import CHUNK_ROWS

    url = f"sqlite:///{tmp_path / 'chunks.db'}"
    async with Runtime(clock=clock, database=url, mailbox_size=1 << 17) as rt:
        exp = await rt.start_experiment("flood")
        emit_calls(50_000)  # one flush: a single commit of every pending row
        await rt.flush()
        for _ in range(40):  # many small commits, then compacted
            emit_calls(3)
            await rt.flush()
        metrics = await rt.calculate_metrics(exp.id)
    with sqlite3.connect(tmp_path / "chunks.db") as connection:
        sizes = [rows for (rows,) in connection.execute("SELECT rows FROM ta_chunks")]
    assert sum(sizes) == metrics.summary.total_events == 50_120
    assert max(sizes) <= CHUNK_ROWS
    assert len(sizes) < 50_000 // CHUNK_ROWS + 1 + 16  # the small ones were merged


async def test_an_experiment_started_in_another_runtime_is_adopted_cleanly(
    db: str, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """The change reaches this runtime in a loop callback, outside any task: adopting the
    experiment there raised NoEventLoopError (logged by asyncio) and left it without an
    actor, so every later call on it hung."""
    import logging

    import anyio

    caplog.set_level(logging.ERROR)
    async with (
        Runtime(clock=clock, database=db) as first,
        Runtime(clock=clock, database=db) as second,
    ):
        exp = await first.start_experiment("elsewhere")
        with anyio.fail_after(5):
            while True:
                changed = second._record_change()
                if exp.id in second._registry:
                    break
                await changed.wait()
            assert (await second.get_experiment(exp.id)).name == "elsewhere"
    assert [record.getMessage() for record in caplog.records] == []
