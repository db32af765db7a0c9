"""The supervisor: restarts crashed experiment actors, within a restart intensity.

As an OTP supervisor with ``max_restarts`` in ``restart_window_s``: each crash
is timed on a monotonic clock; more than ``max_restarts`` crashes inside the
sliding window mark the experiment FAILED. Quick successive restarts back off
exponentially with jitter so that a crash loop does not burn a core. A new
incarnation takes over the dead one's state: record, store, statistics,
mailbox and counters.
"""

from __future__ import annotations

import logging
import random
import time

import anyio
import msgspec
from anyio.abc import TaskGroup

from .._emit import _routes
from .._exceptions import NotRunningError
from .._experiment import ExperimentStatus
from ._actor import ExperimentActor
from ._messages import Message
from ._state import ExperimentState

logger = logging.getLogger("telemetry_actors")

#: Backoff before the 2nd, 3rd … restart inside one window: base · 2^k, capped, jittered.
BACKOFF_BASE_S = 0.001
BACKOFF_CAP_S = 0.1


def restart_delay(recent_crashes: int) -> float:
    """Seconds to wait before restarting after the ``recent_crashes``-th crash in the window."""
    if recent_crashes <= 1:
        return 0.0
    ceiling = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** (recent_crashes - 2))
    return random.uniform(ceiling / 2, ceiling)


class Supervisor:
    """Starts experiment actors in the runtime's task group and handles their crashes."""

    def __init__(self, task_group: TaskGroup, max_restarts: int, restart_window_s: float) -> None:
        self._task_group = task_group
        self._max_restarts = max_restarts
        self._window = restart_window_s
        #: The cancel scope of each experiment's current incarnation.
        self.scopes: dict[str, anyio.CancelScope] = {}

    def spawn(self, state: ExperimentState) -> None:
        """Start the first incarnation of ``state``'s actor."""
        self._start(state, 0.0, [])

    def _start(self, state: ExperimentState, delay: float, waiters: list[Message]) -> None:
        scope = anyio.CancelScope()
        self.scopes[state.id] = scope
        self._task_group.start_soon(
            self._incarnation, state, scope, delay, waiters, name=f"experiment-{state.id}"
        )

    async def _incarnation(
        self,
        state: ExperimentState,
        scope: anyio.CancelScope,
        delay: float,
        waiters: list[Message],
    ) -> None:
        with scope:
            if delay:
                await anyio.sleep(delay)
            for waiter in waiters:  # inject_crash returns once the restart is under way
                waiter.reply.set(None)
            del waiters
            try:
                await ExperimentActor(state).run()
            except Exception as crash:
                self._handle_crash(state, crash)

    def _handle_crash(self, state: ExperimentState, crash: Exception) -> None:
        now = time.monotonic()
        crashes = state.crash_times
        crashes.append(now)
        while crashes and crashes[0] < now - self._window:
            crashes.popleft()
        state.last_crash = f"{type(crash).__name__}: {crash}"
        # The Crash messages that asked for this crash wait for the reaction.
        waiters, state.crash_waiters = state.crash_waiters, []
        if len(crashes) > self._max_restarts:
            logger.error(
                "experiment %r crashed %d times in %.1f s (limit %d); marking it failed: %s",
                state.id,
                len(crashes),
                self._window,
                self._max_restarts,
                state.last_crash,
            )
            mark_failed(state)
            for waiter in waiters:
                waiter.reply.set(None)
            return
        logger.warning("experiment %r crashed, restarting: %s", state.id, state.last_crash)
        state.record = msgspec.structs.replace(state.record, restarts=state.record.restarts + 1)
        self._start(state, restart_delay(len(crashes)), waiters)

    def cancel(self, experiment_id: str) -> None:
        """Cancel the experiment's current incarnation (cleanup, runtime exit)."""
        scope = self.scopes.pop(experiment_id, None)
        if scope is not None:
            scope.cancel()


def mark_failed(state: ExperimentState) -> None:
    """FAILED: collect nothing more, count queued events as dropped, answer queued calls.

    The experiment's data stays readable: queued and later calls are handled
    on the spot by a stand-in actor (see the registry).
    """
    _routes.detach(state.mailbox)
    state.alive = False
    state.record = msgspec.structs.replace(state.record, status=ExperimentStatus.FAILED)
    state.mailbox.close(
        NotRunningError(state.id, "failed", "its actor crashed too often; nothing is collected")
    )
    events, messages = state.mailbox.take_all()
    state.mailbox.count_drops(events)
    stand_in = ExperimentActor(state)
    for message in messages:
        stand_in.deliver(message)
