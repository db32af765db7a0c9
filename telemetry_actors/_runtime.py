"""The Runtime: root supervisor, registry and public API of the experiment actors."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self

import anyio
import anyio.to_thread

from ._actors._actor import ExperimentActor
from ._actors._inserts import prepare_rows
from ._actors._messages import Barrier, Insert
from ._actors._supervisor import Supervisor
from ._actors._sweeper import sweep
from ._arguments import (
    event_from_mapping,
    storable_event,
)
from ._emit import _routes
from ._emit._emit import capture, check_fields
from ._event import Event
from ._exceptions import RuntimeClosedError
from ._results import ActorStatistics
from ._runtime_analysis import AnalysisMixin
from ._runtime_core import RuntimeState
from ._runtime_experiments import ExperimentsMixin
from ._runtime_files import FilesMixin
from ._runtime_reads import ReadsMixin
from ._types import EventNameLike

logger = logging.getLogger("telemetry_actors")


class Runtime(ReadsMixin, AnalysisMixin, FilesMixin, ExperimentsMixin):
    """A root supervisor plus a registry of experiment actors.

    Use it as ``async with Runtime() as rt:``. Leaving the block processes every
    event emitted before the exit (within ``close_timeout`` seconds), stops every
    actor, and closes the runtime; an exception raised in the block propagates
    unchanged.

    Args:
        clock: zero-argument callable returning int µs since the epoch; every
            time stamp the runtime makes uses it.
        mailbox_size: capacity (events) of each experiment's mailbox.
        pricing: ``{model: (usd_per_1M_input, usd_per_1M_output)}`` merged over
            the built-in table.
        export_dir: folder for exports and archives given no explicit path.
        max_restarts: crashes tolerated within ``restart_window_s`` before an
            experiment is marked FAILED.
        restart_window_s: the sliding window of the restart intensity.
        close_timeout: seconds the exit waits for queued events before it stops
            anyway, logging how many it could not process.
        database: ``None`` (memory), a path or ``sqlite:///path`` (an embedded
            SQLite file), or ``postgresql://…`` (shared by processes and hosts).
        commit_interval: with a database, the longest an event waits before
            its actor commits it (``flush`` commits at once).

    Example:
        >>> async def main() -> None:
        ...     async with Runtime() as rt:
        ...         exp = await rt.start_experiment("baseline")
        ...         emit("req_llm.request.stop", {"duration": 2_000_000})
        ...         await rt.flush()
        ...         assert len(await rt.get_all(exp.id)) == 1
    """

    # ----------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> Self:
        if self._state is not RuntimeState.UNOPENED:
            raise RuntimeClosedError(
                f"this Runtime is {self._state.value}; a Runtime can be entered once, "
                "create a new one"
            )
        now = self._clock()
        if isinstance(now, bool) or not isinstance(now, int):
            raise TypeError(f"clock must return int µs since the epoch, got {now!r}")
        task_group = await self._host.start()
        self._supervisor = Supervisor(task_group, self._max_restarts, self._restart_window_s)
        task_group.start_soon(sweep, self._registry)
        try:
            await self._open_database()
        except BaseException:
            await self._host.stop()
            self._state = RuntimeState.CLOSED
            raise
        self._state = RuntimeState.OPEN
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._state is not RuntimeState.OPEN:
            raise RuntimeClosedError(f"this Runtime is already {self._state.value}")
        self._state = RuntimeState.CLOSING
        try:
            with anyio.CancelScope(shield=True):
                await self._drain()
        finally:
            self._close_all()
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self._close_database)
            await self._host.stop()
            self._state = RuntimeState.CLOSED

    async def _drain(self) -> None:
        states = list(self._registry)
        for state in states:
            _routes.detach(state.mailbox)
        with anyio.move_on_after(self._close_timeout):
            for state in states:
                if state.alive:
                    await self._registry.send(state, Barrier())
        left = sum(state.mailbox.queued_events() for state in states if state.alive)
        if left:
            logger.warning(
                "runtime closed after close_timeout=%g s with %d events not processed",
                self._close_timeout,
                left,
            )

    def _close_all(self) -> None:
        """Stop every actor; every call still waiting raises RuntimeClosedError."""
        assert self._supervisor is not None
        for state in self._registry:
            self._retire(state, RuntimeClosedError("the runtime closed before answering"))

    async def flush(self) -> None:
        """Return once every event emitted before the call has been stored and counted.

        Covers events from any thread whose ``emit`` returned before this call.
        """
        self._check_open()
        for state in self._registry:
            if state.alive:
                await self._registry.send(state, Barrier())

    async def emit_wait(
        self,
        event_name: EventNameLike,
        measurements: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        """As :func:`emit`, but wait for room in a full mailbox instead of dropping.

        For producers that prefer backpressure to loss. It reaches the same
        experiments as ``emit``; it waits on mailboxes served by this event loop
        (a mailbox of a runtime in another thread drops and counts, as with
        ``emit``). Cancelling the wait sends the event to no further mailbox.

        Raises:
            TypeError, ValueError: as :func:`emit`.
            RuntimeClosedError: the runtime is not open, or closed while waiting.
            ExperimentNotFoundError, NotRunningError: the experiment was cleaned
                up or failed while the call waited for room.
        """
        self._check_open()
        route = _routes.route_of(event_name)
        check_fields(measurements, metadata)
        if not route:
            return
        name, groups, _ = route
        fields = capture(measurements, metadata)
        originals = (measurements, metadata) if type(fields) is bytes else (None, None)
        for clock, targets in groups:
            raw = (name, fields, *originals, clock())
            for _, _, mailbox in targets:
                if fields is None:
                    mailbox.count_drops(1)
                else:
                    await mailbox.put_event_wait(raw)

    async def insert(self, experiment_id: str, event: Event | Mapping[str, Any]) -> Event:
        """Store an event as given, without enrichment (tests and replays); any status.

        A mapping may omit every field but ``timestamp``: ``event_id`` is
        generated, ``event_name`` defaults to ``("custom", "event")`` and the
        experiment context comes from the experiment.

        Raises:
            ValueError: no ``timestamp``, an unknown field or a bad value.
            TypeError: neither an Event nor a mapping.
            ExperimentNotFoundError: unknown id.
        """
        self._check_open()
        state = await self._find(experiment_id)
        stored = storable_event(
            event if isinstance(event, Event) else event_from_mapping(state.record, event)
        )
        await self._send(state, Insert(prepare_rows([stored])))
        return stored

    async def statistics(self, experiment_id: str) -> ActorStatistics:
        """How the experiment's actor is doing: mailbox depth and high-water mark,
        drops, restarts with the last crash's reason, and processing time.

        Answered at once, not behind queued events, so it stays live under a
        flood: it reads the counters the actor keeps and changes nothing.

        Raises:
            ExperimentNotFoundError: unknown id.
        """
        self._check_open()
        return ExperimentActor(await self._find(experiment_id)).statistics()
