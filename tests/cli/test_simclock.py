"""The simulated clock wakes tasks one at a time, in virtual-time order."""

from __future__ import annotations

import anyio

from telemetry_actors.cli import SimulatedClock


async def test_tasks_run_in_virtual_time_order() -> None:
    clock = SimulatedClock(start_us=1_000_000)
    log: list[tuple[str, int]] = []

    async def worker(name: str, pauses: list[float]) -> None:
        for seconds in pauses:
            await clock.sleep(seconds)
            log.append((name, clock()))

    async with anyio.create_task_group() as tasks:
        await clock.spawn(tasks, worker, "a", [0.3, 0.3])
        await clock.spawn(tasks, worker, "b", [0.2, 0.2, 0.2])
        await clock.run_until(1_500_000)
        assert log == [("b", 1_200_000), ("a", 1_300_000), ("b", 1_400_000)]
        assert clock() == 1_500_000
        await clock.run_all()
    assert log[3:] == [("a", 1_600_000), ("b", 1_600_000)]  # ties: who slept first
    assert clock.pending == 0
