"""A simulated clock for the demo: virtual time that moves only when the driver says so.

Simulated agents ``await clock.sleep(seconds)`` instead of really waiting for an
LLM. The driver calls ``await clock.run_until(t)``, which wakes the sleepers one
at a time in order of their wake-up time (ties in the order they went to
sleep) and waits until the woken task sleeps again or ends. Only one simulated
task runs at a time, so every event is stamped and emitted in the same order
on every run: the numbers depend on the agents' random generators only, never
on how the event loop happens to schedule tasks (trio's ``MockClock`` idea).

Pass the clock to ``Runtime(clock=clock)``: it is a zero-argument callable
returning int µs since the epoch.
"""

from __future__ import annotations

import heapq
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from anyio.abc import TaskGroup, TaskStatus

__all__ = ["SimulatedClock"]


class SimulatedClock:
    """Virtual time in µs since the epoch, advanced by :meth:`run_until`.

    Example:
        >>> clock = SimulatedClock(start_us=1_735_689_600_000_000)
        >>> clock()
        1735689600000000
    """

    def __init__(self, start_us: int) -> None:
        self._now = start_us
        self._sequence = 0
        self._sleepers: list[tuple[int, int, anyio.Event]] = []
        self._parked: anyio.Event | None = None

    def __call__(self) -> int:
        """The current virtual time (µs since the epoch)."""
        return self._now

    @property
    def pending(self) -> int:
        """How many simulated tasks are asleep."""
        return len(self._sleepers)

    async def sleep(self, seconds: float) -> None:
        """Sleep for ``seconds`` of virtual time (a simulated task only)."""
        await self.sleep_until(self._now + round(seconds * 1_000_000))

    async def sleep_until(self, wake_us: int) -> None:
        """Sleep until the virtual time ``wake_us`` (at once if it has passed)."""
        event = self._register(max(wake_us, self._now))
        self._handover()
        await event.wait()

    async def spawn(
        self, task_group: TaskGroup, function: Callable[..., Awaitable[Any]], *args: Any
    ) -> None:
        """Start ``function(*args)`` as a simulated task that first runs at the current time."""

        async def simulated(*, task_status: TaskStatus[None]) -> None:
            event = self._register(self._now)
            task_status.started()
            await event.wait()
            try:
                await function(*args)
            finally:
                self._handover()

        await task_group.start(simulated)

    async def run_until(self, until_us: int) -> None:
        """Run every simulated task due up to ``until_us``, then set the time to it.

        Returns when every task woken has gone back to sleep or ended.
        """
        while self._sleepers and self._sleepers[0][0] <= until_us:
            wake, _, event = heapq.heappop(self._sleepers)
            self._now = wake
            self._parked = anyio.Event()
            event.set()
            await self._parked.wait()
        self._now = max(self._now, until_us)

    async def run_all(self) -> None:
        """Run until no simulated task is asleep (every one has ended)."""
        while self._sleepers:
            await self.run_until(self._sleepers[0][0])

    def _register(self, wake: int) -> anyio.Event:
        event = anyio.Event()
        heapq.heappush(self._sleepers, (wake, self._sequence, event))
        self._sequence += 1
        return event

    def _handover(self) -> None:
        # The running task is about to block or end: the driver may wake the next one.
        if self._parked is not None:
            self._parked.set()
