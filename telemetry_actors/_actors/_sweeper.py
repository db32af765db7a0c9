"""Waking actors that sleep on a few queued events, so that ``emit`` never pays for it.

Waking a sleeping actor costs the emitting thread about 1.5 µs on the
loop's own thread and 5 to 15 µs from another one (a write to the loop's
self-pipe), so every sparse event would pay it. Instead ``emit`` wakes an
actor only when its mailbox is a quarter full, and this task, on the
runtime's loop, wakes every sleeping actor that has events waiting every
:data:`SWEEP_SECONDS`. An event thus waits at most that long before its
actor takes it. No read misses one meanwhile: a query, ``flush`` or any
other message wakes the actor at once, and it takes the events queued
before the message first.

Cost: one wake-up of the loop per :data:`SWEEP_SECONDS`, O(experiments)
each (about 100 a second, a few microseconds each, for an idle runtime).
"""

from __future__ import annotations

from collections.abc import Iterable

import anyio

from ._state import ExperimentState

#: How long a sparse event may wait for its sleeping actor.
SWEEP_SECONDS = 0.01


async def sweep(states: Iterable[ExperimentState], interval: float = SWEEP_SECONDS) -> None:
    """Forever: wake each sleeping actor whose mailbox holds something."""
    while True:
        await anyio.sleep(interval)
        wake_sleepers(states)


def wake_sleepers(states: Iterable[ExperimentState]) -> None:
    """One round of the sweeper. O(experiments).

    A function of its own so that no state outlives the round in a local
    variable: the sweeper kept the last one it visited, so a cleaned-up
    experiment's store was freed only when another experiment started,
    then on the loop (100 ms or more for a million events).
    """
    for state in states:
        mailbox = state.mailbox
        if mailbox.sleeping and mailbox.queue:
            mailbox.wake()
