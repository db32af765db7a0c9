"""PostgreSQL across processes: one experiment fed by four, shared status, lost connections."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from pathlib import Path

import anyio

from telemetry_actors import ExperimentStatus, Runtime, emit
from tests.conftest import FakeClock

#: Events each process emits in the multi-process test.
PER_PROCESS = 50_000
PROCESSES = 4

WORKER = r"""
import sys
import anyio
from telemetry_actors import Runtime, emit

async def main(url, experiment_id, worker, count):
    async with Runtime(database=url, mailbox_size=count + 10) as rt:
        await rt.attach_experiment(experiment_id)
        print("attached", flush=True)
        sys.stdin.readline()  # every worker attached: go
        for i in range(count):
            emit("mp.call", {"duration": 1_000_000 + (i % 997) * 1_000},
                 {"cost": 0.001 * (i % 13), "response": "ok", "worker": worker})
        await rt.flush()
        metrics = await rt.calculate_metrics(experiment_id)
        print("flushed", metrics.summary.total_events, flush=True)
        sys.stdin.readline()  # every worker flushed: read again
        metrics = await rt.calculate_metrics(experiment_id)
        live = await rt.streaming_metrics(experiment_id)
        print("totals", metrics.summary.total_events, live.latency.count, flush=True)
        print("paused-check", flush=True)
        sys.stdin.readline()  # the parent paused the experiment elsewhere
        with anyio.move_on_after(1.0):  # the contract: seen everywhere within 1 s
            while True:
                changed = rt._record_change()  # before the read: no change is missed
                if (await rt.get_experiment(experiment_id)).status == "paused":
                    break
                await changed.wait()
        if (await rt.get_experiment(experiment_id)).status != "paused":
            print("late", flush=True)
            return
        for _ in range(100):
            emit("mp.call", {"duration": 1}, {"worker": worker})
        await rt.flush()
        print("done", flush=True)

anyio.run(main, sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
"""


def _spawn(url: str, experiment_id: str, worker: int, count: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, url, experiment_id, str(worker), str(count)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
    )


def _expect(worker: subprocess.Popen[str], word: str) -> list[str]:
    assert worker.stdout is not None
    line = worker.stdout.readline().split()
    assert line, f"expected {word!r}, got nothing"
    assert line[0] == word, f"expected {word!r}, got {line!r}"
    return line


def _tell(workers: list[subprocess.Popen[str]]) -> None:
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write("go\n")
        worker.stdin.flush()


async def test_four_processes_feed_one_experiment(postgres_url: str) -> None:
    async with Runtime(database=postgres_url) as rt:
        exp = await rt.start_experiment("multi", events=["mp.*"], storage_backend="postgresql")
        workers = [_spawn(postgres_url, exp.id, n, PER_PROCESS) for n in range(PROCESSES)]
        try:
            for worker in workers:
                _expect(worker, "attached")
            _tell(workers)
            for worker in workers:
                _expect(worker, "flushed")
            _tell(workers)
            for worker in workers:
                _, total, live = _expect(worker, "totals")
                assert (int(total), int(live)) == (PROCESSES * PER_PROCESS,) * 2
                _expect(worker, "paused-check")
            started = time.monotonic()
            await rt.pause_experiment(exp.id)
            _tell(workers)
            for worker in workers:
                _expect(worker, "done")  # each saw the pause within 1 s ("late" otherwise)
            assert time.monotonic() - started < 10
        finally:
            for worker in workers:
                worker.kill()
                worker.wait()
                for stream in (worker.stdin, worker.stdout):
                    if stream is not None:
                        stream.close()
        metrics = await rt.calculate_metrics(exp.id)
        live = await rt.streaming_metrics(exp.id)
    assert metrics.summary.total_events == PROCESSES * PER_PROCESS  # nothing after the pause
    # Equal to a memory-only run of the same events.
    async with Runtime() as memory:
        alone = await memory.start_experiment("alone", events=["mp.*"])
        for worker in range(PROCESSES):
            for i in range(PER_PROCESS):
                emit(
                    "mp.call",
                    {"duration": 1_000_000 + (i % 997) * 1_000},
                    {"cost": 0.001 * (i % 13), "response": "ok", "worker": worker},
                )
            await memory.flush()
        expected = await memory.calculate_metrics(alone.id)
    assert metrics.latency == expected.latency
    assert metrics.cost == expected.cost
    assert metrics.reliability == expected.reliability
    for field in ("mean", "std_dev", "min", "max"):
        got, want = getattr(live.latency, field), getattr(metrics.latency, field)
        assert math.isclose(got, want, rel_tol=1e-9), field
    assert math.isclose(live.cost.total, metrics.cost.total, rel_tol=1e-9)
    assert live.latency.count == metrics.latency.count


async def test_a_lost_connection_is_retried_and_loses_nothing(
    postgres_url: str, clock: FakeClock
) -> None:
    import psycopg

    from tests.storage.conftest import POSTGRES_URL

    async with Runtime(clock=clock, database=postgres_url, commit_interval=0.05) as rt:
        exp = await rt.start_experiment("outage", events=["o.*"])
        for i in range(500):
            emit("o.call", {"duration": 1_000_000}, {"n": i})
        await rt.flush()
        with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
            killed = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE pid <> pg_backend_pid() AND query NOT ILIKE '%pg_stat_activity%'"
                " AND datname = current_database() AND application_name = ''"
            ).fetchone()
        assert killed is not None
        assert killed[0] >= 1
        for i in range(500, 1_000):
            emit("o.call", {"duration": 1_000_000}, {"n": i})
        with anyio.fail_after(30):
            await rt.flush()  # the writer reconnects, with backoff, and commits
        statistics = await rt.statistics(exp.id)
        assert statistics.database == "ok"
        assert statistics.uncommitted_events == 0
        assert rt._writer is not None
        assert rt._writer.retries >= 1
        numbers = [event.metadata["n"] for event in await rt.get_all(exp.id)]
    assert numbers == list(range(1_000))
    async with Runtime(database=postgres_url) as again:
        assert (await again.get_experiment(exp.id)).status is ExperimentStatus.RUNNING
        assert (await again.calculate_metrics(exp.id)).summary.total_events == 1_000


def test_a_new_experiment_record_is_announced(postgres_url: str) -> None:
    """Saving a new record sends the change notice, as every later change does.

    Without it a runtime heard of an experiment started elsewhere only if it
    happened to catch up (at start) after the commit: the adoption test timed
    out in about one run in ten.
    """
    import psycopg

    from telemetry_actors._storage._open import open_database
    from tests.ingest_slots import ingest_state

    record = ingest_state().record
    database = open_database(postgres_url)
    try:
        connection = database.connection()
        database.migrate(connection)
        with psycopg.connect(postgres_url, autocommit=True) as listener:
            listener.execute(f"LISTEN {database.CHANNEL}")  # type: ignore[attr-defined]
            database.save_record(connection, record, [], [])
            heard = [notice.payload for notice in listener.notifies(timeout=2, stop_after=1)]
    finally:
        database.close_all()
    assert heard == [record.id]
