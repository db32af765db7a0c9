"""A process killed with SIGKILL at random moments loses no flushed event.

Each trial starts a child that emits and flushes in a loop, printing how
many events it has flushed after each flush; the parent kills it (``kill
-9``) at a random moment, reopens the database and checks that the file
is sound and holds at least every event reported flushed.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest

from telemetry_actors import Runtime

CHILD = r"""
import sys
import anyio
from telemetry_actors import Runtime, emit

async def main(path):
    async with Runtime(database=path, commit_interval=0.05) as rt:
        exp = await rt.start_experiment("killed", events=["k.*"])
        print("started", exp.id, flush=True)
        total = 0
        while True:
            for _ in range(200):
                emit("k.call", {"duration": 1_000_000}, {"n": total, "text": "x" * 50})
                total += 1
            await rt.flush()
            print("flushed", total, flush=True)

anyio.run(main, sys.argv[1])
"""

TRIALS = 20


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="SIGKILL is POSIX only")
def test_sigkill_at_random_moments_loses_no_flushed_event(tmp_path: Path) -> None:
    generator = random.Random(20261206)
    results = []
    for trial in range(TRIALS):
        path = tmp_path / f"trial-{trial}.db"
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(path)],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
        )
        assert child.stdout is not None
        experiment_id = child.stdout.readline().split()[1]
        flushed = 0
        for _ in range(generator.randint(1, 4)):
            line = child.stdout.readline()
            flushed = int(line.split()[1])
        time.sleep(generator.uniform(0.0, 0.03))  # somewhere inside the next emit/commit
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        child.stdout.close()
        with sqlite3.connect(path) as connection:
            assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        stored = anyio.run(_count, path, experiment_id)
        results.append((flushed, stored))
        assert stored >= flushed, f"trial {trial}: {flushed} flushed, {stored} stored"
    # The kills landed at different moments: some after events the child had
    # stored but not yet reported flushed.
    assert len({stored - flushed for flushed, stored in results}) > 1


async def _count(path: Path, experiment_id: str) -> int:
    async with Runtime(database=path) as rt:
        return (await rt.calculate_metrics(experiment_id)).summary.total_events
