"""The Runtime: root supervisor, registry and public API of the experiment actors."""

from __future__ import annotations

import functools
import logging
import secrets
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any, Self

import anyio
import anyio.to_thread

from ._actors._actor import ExperimentActor
from ._actors._inserts import prepare_rows
from ._actors._mailbox import Mailbox
from ._actors._messages import Barrier, GetRecord, Insert, Pause, Resume, Stop
from ._actors._state import ExperimentState
from ._actors._supervisor import Supervisor
from ._arguments import (
    count_at_least,
    event_from_mapping,
    event_name_list,
    mapping_copy,
    storable_event,
    str_tuple,
)
from ._emit import _routes
from ._emit._emit import capture, check_fields
from ._event import Event
from ._exceptions import ExperimentNotFoundError, RuntimeClosedError
from ._experiment import Experiment, ExperimentStatus
from ._names import compile_patterns
from ._results import ActorStatistics
from ._runtime_analysis import AnalysisMixin
from ._runtime_core import RuntimeState
from ._runtime_database import DatabaseMixin
from ._runtime_files import FilesMixin
from ._runtime_reads import ReadsMixin
from ._sampling_config import sampler_for
from ._standard_events import STANDARD_EVENTS
from ._stats._sampling import ReservoirSampler
from ._types import EventNameLike

logger = logging.getLogger("telemetry_actors")


class Runtime(ReadsMixin, AnalysisMixin, FilesMixin, DatabaseMixin):
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

    def _retire(self, state: ExperimentState, reason: BaseException) -> None:
        assert self._supervisor is not None
        _routes.detach(state.mailbox)
        state.alive = False
        self._supervisor.cancel(state.id)
        state.mailbox.close(reason)
        events, messages = state.mailbox.take_all()
        state.mailbox.count_drops(events)
        for message in messages:
            message.reply.fail(reason)

    # --------------------------------------------------------------- emitting

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

    # ------------------------------------------------------------ experiments

    async def start_experiment(
        self,
        name: str,
        *,
        hypothesis: str | None = None,
        condition: str = "default",
        tags: Iterable[str] = (),
        metadata: Mapping[str, Any] | None = None,
        sample_size: int | None = None,
        metrics_config: Mapping[str, Any] | None = None,
        events: Iterable[EventNameLike] | None = None,
        storage_backend: str | None = None,
        anomaly_detection: Any = None,
        sampling: Any = None,
    ) -> Experiment:
        """Start an experiment: spawn its actor and collect its events from now on.

        ``events`` replaces :data:`STANDARD_EVENTS`; a name ending in ``"*"``
        matches every longer name with that prefix. With a database the
        experiment is durable (``storage_backend`` "sqlite" or "postgresql");
        ``storage_backend="memory"`` keeps it in memory only. ``sampling`` (``Uniform``,
        ``Reservoir``, ``Stratified``, ``Adaptive``) or ``metadata["sampling_rate"]``
        keep a sample of the events; ``anomaly_detection`` flags unusual values
        as they arrive.

        Raises:
            ValueError: an empty or non-str name, a bad sampling setting, an
                unknown storage backend or a bad event name.
            TypeError: an argument of the wrong type.
            RuntimeClosedError: the runtime is not open.
        """
        self._check_open()
        if not isinstance(name, str) or not name:
            raise ValueError(f"experiment name must be a non-empty str, got {name!r}")
        if hypothesis is not None and not isinstance(hypothesis, str):
            raise TypeError(f"hypothesis must be a str or None, got {type(hypothesis).__name__}")
        if not isinstance(condition, str):
            raise TypeError(f"condition must be a str, got {type(condition).__name__}")
        tag_tuple = str_tuple("tags", tags)
        meta = mapping_copy("metadata", metadata)
        config = mapping_copy("metrics_config", metrics_config)
        if sample_size is not None:
            count_at_least("sample_size", sample_size, 0)
        backend = self._backend(storage_backend)
        patterns = compile_patterns(STANDARD_EVENTS if events is None else event_name_list(events))
        sampler, detector = sampler_for(meta, sampling, anomaly_detection)
        experiment = Experiment(
            id=self._new_id(),
            name=name,
            hypothesis=hypothesis,
            condition=condition,
            tags=tag_tuple,
            metadata=meta,
            started_at=self._now_datetime(),
            sample_size=sample_size,
            metrics_config=config,
            storage_backend=backend,
        )
        if backend == "memory":
            state = self._spawn(experiment, patterns, sampler, detector)
        else:
            if isinstance(sampler, ReservoirSampler):
                raise ValueError(
                    "Reservoir sampling keeps its sample in memory; "
                    "use storage_backend='memory' for it"
                )
            await self._save_new(experiment, patterns)
            state = self._durable_state(experiment, patterns, 1, attached=True)
            state.sampler, state.detector = sampler, detector
        _routes.attach(state.mailbox, patterns, self._emit_clock)
        return experiment

    def _backend(self, storage_backend: str | None) -> str:
        """The storage backend a new experiment gets.

        Raises:
            ValueError: an unknown backend, or a durable one without (another) database.
        """
        durable = self._database.kind if self._database is not None else None
        if storage_backend is None:
            return durable or "memory"
        if storage_backend == "memory" or storage_backend == durable:
            return storage_backend
        if storage_backend in ("sqlite", "postgresql"):
            raise ValueError(
                f"storage_backend {storage_backend!r} needs Runtime(database=...) with a "
                f"{storage_backend} database; this runtime has "
                + (f"a {durable} one" if durable else "none")
            )
        raise ValueError(
            f"unknown storage_backend {storage_backend!r}; use 'memory', 'sqlite' or 'postgresql'"
        )

    def _new_id(self) -> str:
        experiment_id = secrets.token_hex(8)
        while experiment_id in self._registry:
            experiment_id = secrets.token_hex(8)
        return experiment_id

    def _spawn(
        self,
        experiment: Experiment,
        patterns: tuple[Any, ...],
        sampler: Any = None,
        detector: Any = None,
        attached: bool = True,
    ) -> ExperimentState:
        state = ExperimentState(
            record=experiment,
            patterns=patterns,
            mailbox=Mailbox(self._mailbox_size),
            pricing=self._pricing,
            emit_clock=self._emit_clock,
            nanosecond_stamps=self._emit_clock_in_ns,
            sampler=sampler,
            detector=detector,
            listeners=self._listeners,
            attached=attached,
        )
        self._registry.add(state)
        assert self._supervisor is not None
        self._supervisor.spawn(state)
        return state

    async def stop_experiment(self, experiment_id: str) -> Experiment:
        """Stop collecting; data stays queryable. Already ended experiments are returned as is.

        Raises:
            ExperimentNotFoundError: unknown id.
        """
        result: Experiment = await self._call(experiment_id, Stop(self._now_datetime()))
        return result

    async def pause_experiment(self, experiment_id: str) -> Experiment:
        """RUNNING -> PAUSED: events emitted after this returns are not collected.

        Raises:
            AlreadyPausedError: it is paused.
            NotRunningError: it is stopped, archived or failed.
            ExperimentNotFoundError: unknown id.
        """
        result: Experiment = await self._call(experiment_id, Pause(self._now_datetime()))
        return result

    async def resume_experiment(self, experiment_id: str) -> Experiment:
        """PAUSED -> RUNNING: events emitted after this returns are collected again.

        Raises:
            NotPausedError: it is not paused.
            ExperimentNotFoundError: unknown id.
        """
        result: Experiment = await self._call(experiment_id, Resume(self._now_datetime()))
        return result

    async def is_paused(self, experiment_id: str) -> bool:
        """True when the experiment is paused; False for unknown ids."""
        self._check_open()
        if experiment_id not in self._registry:
            return False
        experiment = await self.get_experiment(experiment_id)
        return experiment.status is ExperimentStatus.PAUSED

    async def get_experiment(self, experiment_id: str) -> Experiment:
        """The experiment's current record (also one another runtime made in the database).

        Raises:
            ExperimentNotFoundError: unknown id.
        """
        self._check_open()
        result: Experiment = await self._send(await self._find(experiment_id), GetRecord())
        return result

    async def list_experiments(self) -> list[Experiment]:
        """Every experiment of this runtime (and of its database), in start order."""
        self._check_open()
        await self._refresh()
        records = [await self._send(state, GetRecord()) for state in self._registry]
        return sorted(records, key=lambda record: record.started_at)

    async def cleanup(self, experiment_id: str) -> None:
        """Stop the experiment's actor and forget the experiment and its data.

        Unknown ids are a no-op. Calls still waiting on it raise
        ``ExperimentNotFoundError``.
        """
        self._check_open()
        if self._database is not None:
            try:
                await self._find(experiment_id)
            except ExperimentNotFoundError:
                return
        if experiment_id not in self._registry:
            return
        state = self._registry.remove(experiment_id)
        if state is not None:
            self._retire(state, ExperimentNotFoundError(experiment_id))
            if state.durable is not None:
                database = state.durable.database
                await self._run_db(
                    functools.partial(database.delete_experiment, experiment_id=experiment_id)
                )

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
