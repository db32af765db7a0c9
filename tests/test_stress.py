"""Load: 1 000 experiments, 4 threads and 8 tasks emitting, lifecycle calls racing the flood.

Seeded and sized to run in a few seconds. Every experiment collects its own
event name, so what was emitted to each one is known exactly.
"""

from __future__ import annotations

import random
import threading

import anyio
import anyio.lowlevel

from telemetry_actors import ExperimentStatus, Runtime, emit
from tests.conftest import FakeClock

EXPERIMENTS = 1_000
RACED = range(900, 1_000)  # experiments whose lifecycle races the flood
THREADS = 4
THREAD_ROUNDS = 5
TASKS = 8
TASK_ROUNDS = 2
EMITTED_PER_EXPERIMENT = THREADS * THREAD_ROUNDS + TASKS * TASK_ROUNDS


def name_of(index: int) -> tuple[str, ...]:
    return ("stress", f"e{index}", "tick")


def thread_flood(source: int) -> None:
    for round_number in range(THREAD_ROUNDS):
        for index in range(EXPERIMENTS):
            emit(name_of(index), {"duration": 1_000}, {"source": source, "round": round_number})


async def task_flood(source: int) -> None:
    for round_number in range(TASK_ROUNDS):
        for index in range(EXPERIMENTS):
            emit(name_of(index), {"duration": 1_000}, {"source": source, "round": round_number})
            if index % 50 == 0:
                await anyio.lowlevel.checkpoint()


async def race_lifecycle(rt: Runtime, ids: dict[int, str], seed: int) -> None:
    """Pause/resume raced experiments while the flood runs; check every returned status.

    Around each pause a marker goes in just before (waiting for room, so it
    is never dropped: it must be stored) and just after pause returns (it must
    not be collected: it reaches no mailbox at all).
    """
    rng = random.Random(seed)
    for step in range(300):
        index = rng.choice(RACED)
        experiment_id = ids[index]
        await rt.emit_wait(name_of(index), {"duration": 1}, {"marker": f"before-{step}"})
        paused = await rt.pause_experiment(experiment_id)
        assert paused.status is ExperimentStatus.PAUSED
        emit(name_of(index), {"duration": 1}, {"marker": f"after-{step}"})
        assert await rt.is_paused(experiment_id)
        resumed = await rt.resume_experiment(experiment_id)
        assert resumed.status is ExperimentStatus.RUNNING
        assert resumed.pause_count == paused.pause_count
        await anyio.lowlevel.checkpoint()


async def test_thousand_experiments_under_a_racing_flood(clock: FakeClock) -> None:
    async with Runtime(clock=clock, mailbox_size=8) as rt:
        ids = {
            index: (await rt.start_experiment(f"s{index}", events=[name_of(index)])).id
            for index in range(EXPERIMENTS)
        }
        threads = [threading.Thread(target=thread_flood, args=(t,)) for t in range(THREADS)]
        for thread in threads:
            thread.start()
        async with anyio.create_task_group() as group:
            for source in range(TASKS):
                group.start_soon(task_flood, THREADS + source)
            group.start_soon(race_lifecycle, rt, ids, 7)
        for thread in threads:
            await anyio.to_thread.run_sync(thread.join)
        stopped = [ids[index] for index in RACED if index % 2 == 0]
        for experiment_id in stopped:
            assert (await rt.stop_experiment(experiment_id)).status is ExperimentStatus.STOPPED
        await rt.flush()

        total_dropped = 0
        for index, experiment_id in ids.items():
            events = await rt.get_all(experiment_id)
            metrics = await rt.streaming_metrics(experiment_id)
            record = await rt.get_experiment(experiment_id)
            total_dropped += metrics.dropped
            flood = [event for event in events if "marker" not in event.metadata]
            markers = {event.metadata["marker"] for event in events if "marker" in event.metadata}
            assert record.restarts == 0
            assert metrics.latency.count == len(events)
            if index in RACED:
                assert all(marker.startswith("before-") for marker in markers), markers
                assert len(flood) + metrics.dropped <= EMITTED_PER_EXPERIMENT + len(markers)
                expected = (
                    ExperimentStatus.STOPPED
                    if experiment_id in stopped
                    else ExperimentStatus.RUNNING
                )
                assert record.status is expected
            else:
                assert markers == set()
                assert len(flood) + metrics.dropped == EMITTED_PER_EXPERIMENT
                assert record.status is ExperimentStatus.RUNNING
                sources = sorted(event.metadata["source"] for event in flood)
                assert len(sources) == len(flood)
        assert total_dropped > 0  # the flood really did overflow the small mailboxes
