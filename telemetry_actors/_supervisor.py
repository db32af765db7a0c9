"""The supervisor: restarts crashed experiment actors, within a restart intensity.

As an OTP supervisor with ``max_restarts`` in ``restart_window_s``: each crash
is timed on a monotonic clock; more than ``max_restarts`` crashes inside the
sliding window mark the experiment FAILED. Quick successive restarts back off
exponentially with jitter so that a crash loop does not burn a core.
"""

from __future__ import annotations

import logging
import random
import time

import anyio
import msgspec
from anyio.abc import TaskGroup

from . import _handlers
from ._actor import run_actor
from ._cell import ExperimentCell
from ._exceptions import ExperimentNotFoundError
from ._experiment import ExperimentStatus

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

    def spawn(self, cell: ExperimentCell) -> None:
        """Start the first incarnation of ``cell``'s actor."""
        self._task_group.start_soon(self._incarnation, cell, 0.0, name=f"experiment-{cell.id}")

    async def _incarnation(self, cell: ExperimentCell, delay: float) -> None:
        with cell.cancel_scope:
            if delay:
                await anyio.sleep(delay)
            cell.notify_supervisor_reacted()
            try:
                await run_actor(cell)
            except Exception as crash:
                self._handle_crash(cell, crash)

    def _handle_crash(self, cell: ExperimentCell, crash: Exception) -> None:
        now = time.monotonic()
        crashes = cell.crash_times
        crashes.append(now)
        while crashes and crashes[0] < now - self._window:
            crashes.popleft()
        cell.last_crash = f"{type(crash).__name__}: {crash}"
        if len(crashes) > self._max_restarts:
            logger.error(
                "experiment %r crashed %d times in %.1f s (limit %d); marking it failed: %s",
                cell.id,
                len(crashes),
                self._window,
                self._max_restarts,
                cell.last_crash,
            )
            mark_failed(cell)
            return
        logger.warning("experiment %r crashed, restarting: %s", cell.id, cell.last_crash)
        cell.note_restart()
        cell.cancel_scope = anyio.CancelScope()
        self._task_group.start_soon(
            self._incarnation, cell, restart_delay(len(crashes)), name=f"experiment-{cell.id}"
        )


def mark_failed(cell: ExperimentCell) -> None:
    """FAILED: collect nothing more, count queued events as dropped, answer queued calls."""
    _handlers.detach(cell.mailbox)
    cell.has_actor = False
    cell.set_status(msgspec.structs.replace(cell.experiment, status=ExperimentStatus.FAILED))
    messages = cell.mailbox.discard_events()
    cell.mailbox.signal_room(force=True)
    for message in messages:
        message.run(cell)
    cell.notify_supervisor_reacted()


def retire(cell: ExperimentCell) -> None:
    """Cleanup: stop the actor and answer whatever is still queued with not-found."""
    _handlers.detach(cell.mailbox)
    cell.has_actor = False
    cell.cancel_scope.cancel()
    _, messages = cell.mailbox.take_events_out()
    cell.mailbox.signal_room(force=True)
    for message in messages:
        message.reject(ExperimentNotFoundError(cell.id))
    cell.notify_supervisor_reacted()
