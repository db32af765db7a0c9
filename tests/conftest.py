"""Shared fixtures: an injectable clock and an open runtime."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from telemetry_actors import Runtime, emit

#: 2025-01-01T00:00:00Z in µs: a round base for readable time stamps.
BASE_US = 1_735_689_600_000_000


class FakeClock:
    """A clock that moves only when told to (µs since the epoch)."""

    def __init__(self, now: int = BASE_US) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now

    def advance(self, microseconds: int) -> int:
        """Move forward and return the new time."""
        self.now += microseconds
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def rt(clock: FakeClock, tmp_path: Path) -> AsyncIterator[Runtime]:
    async with Runtime(clock=clock, export_dir=tmp_path / "exports") as runtime:
        yield runtime


async def emit_calls(rt: Runtime, clock: FakeClock, name: str, count: int) -> str:
    """Start experiment ``name`` on ``app.*``, emit ``count`` ``app.call`` events 1 µs
    apart from ``BASE_US`` (``duration`` = their index), flush; the experiment's id."""
    experiment = await rt.start_experiment(name, events=["app.*"])
    for index in range(count):
        clock.now = BASE_US + index
        emit("app.call", {"duration": index})
    await rt.flush()
    return experiment.id
