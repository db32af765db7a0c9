"""The Runtime: root supervisor, registry and public API of the experiment actors."""

from __future__ import annotations

import enum
import logging
import secrets
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

import anyio
import anyio.to_thread
import msgspec

from . import _analysis, _handlers, _windowed
from ._archive import read_archive, write_archive
from ._arguments import (
    count_at_least,
    event_from_mapping,
    event_name_list,
    mapping_copy,
    positive_seconds,
    sampling,
    storable_event,
    str_tuple,
)
from ._cell import ExperimentCell
from ._event import Event
from ._exceptions import NoEventsError, RuntimeClosedError
from ._experiment import (
    Experiment,
    ExperimentStatus,
    datetime_from_us,
    paused,
    resumed,
    stopped,
)
from ._export import check_format, default_path, write_events
from ._host import SupervisorHost
from ._mailbox import Mailbox
from ._names import compile_patterns, normalize_event_name
from ._pricing import merge_pricing
from ._query import query_store
from ._registry import Registry
from ._results import ActorStatistics, Comparison, Metrics, StreamingMetrics, WindowMetrics
from ._standard_events import STANDARD_EVENTS
from ._supervisor import Supervisor, retire
from ._types import Clock, EventNameLike, PricingTable
from ._windows import Last, LastN, Range, parse_window

logger = logging.getLogger("telemetry_actors")

T = TypeVar("T")


def system_clock() -> int:
    """Microseconds since the Unix epoch from the system clock."""
    return time.time_ns() // 1000


class RuntimeState(enum.Enum):
    """Lifecycle of a :class:`Runtime`."""

    UNOPENED = "unopened"
    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"


class Runtime:
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

    Example:
        >>> async def main() -> None:
        ...     async with Runtime() as rt:
        ...         exp = await rt.start_experiment("baseline")
        ...         emit("req_llm.request.stop", {"duration": 2_000_000})
        ...         await rt.flush()
        ...         assert len(await rt.get_all(exp.id)) == 1
    """

    def __init__(
        self,
        clock: Clock | None = None,
        mailbox_size: int = 65_536,
        pricing: PricingTable | None = None,
        export_dir: str | Path = "exports",
        max_restarts: int = 3,
        restart_window_s: float = 5.0,
        close_timeout: float = 30.0,
    ) -> None:
        if clock is not None and not callable(clock):
            raise TypeError(f"clock must be a zero-argument callable, got {type(clock).__name__}")
        self._clock: Clock = clock if clock is not None else system_clock
        # emit stamps with the default clock in ns: time.time_ns is a C call, one
        # Python frame cheaper; the actor turns ns into µs.
        self._emit_clock: Clock = clock if clock is not None else time.time_ns
        self._emit_clock_in_ns = clock is None
        self._mailbox_size = count_at_least("mailbox_size", mailbox_size, 1)
        self._pricing = merge_pricing(pricing)
        if not isinstance(export_dir, str | Path):
            raise TypeError(f"export_dir must be a str or Path, got {type(export_dir).__name__}")
        self._export_dir = Path(export_dir)
        self._max_restarts = count_at_least("max_restarts", max_restarts, 0)
        self._restart_window_s = positive_seconds("restart_window_s", restart_window_s)
        self._close_timeout = positive_seconds("close_timeout", close_timeout)
        self._state = RuntimeState.UNOPENED
        self._registry = Registry()
        self._host = SupervisorHost()
        self._supervisor: Supervisor | None = None

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
            await self._host.stop()
            self._state = RuntimeState.CLOSED

    async def _drain(self) -> None:
        cells = list(self._registry)
        for cell in cells:
            _handlers.detach(cell.mailbox)
        with anyio.move_on_after(self._close_timeout):
            await self._flush_cells(cells)
        left = sum(cell.mailbox.queued_events() for cell in cells if cell.has_actor)
        if left:
            logger.warning(
                "runtime closed after close_timeout=%g s with %d events not processed",
                self._close_timeout,
                left,
            )

    async def _flush_cells(self, cells: Iterable[ExperimentCell]) -> None:
        for cell in cells:
            if cell.has_actor:
                await self._registry.call_cell(cell, _nothing)

    def _check_open(self) -> None:
        if self._state is not RuntimeState.OPEN:
            raise RuntimeClosedError(
                f"the runtime is {self._state.value}; use it inside 'async with Runtime() as rt'"
            )

    async def _call(self, experiment_id: str, function: Callable[[ExperimentCell], T]) -> T:
        self._check_open()
        return await self._registry.call(experiment_id, function)

    def _now_datetime(self) -> datetime:
        return datetime_from_us(self._clock())

    # --------------------------------------------------------------- emitting

    async def flush(self) -> None:
        """Return once every event emitted before the call has been stored and counted.

        Covers events from any thread whose ``emit`` returned before this call.
        """
        self._check_open()
        await self._flush_cells(list(self._registry))

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
            RuntimeClosedError: the runtime is not open.
        """
        self._check_open()
        name, groups = _handlers.route(event_name)
        _handlers.check_fields(measurements, metadata)
        for clock, targets in groups:
            raw = (name, measurements, metadata, clock())
            for _, _, mailbox in targets:
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
        storage_backend: str = "memory",
    ) -> Experiment:
        """Start an experiment: spawn its actor and collect its events from now on.

        ``events`` replaces :data:`STANDARD_EVENTS`; a name ending in ``"*"``
        matches every longer name with that prefix. ``metadata["sampling_rate"]``
        keeps each event with that probability (``metadata["sampling_seed"]``
        makes the choice reproducible).

        Raises:
            ValueError: an empty or non-str name, a bad sampling rate, an unknown
                storage backend or a bad event name.
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
        if storage_backend != "memory":
            raise ValueError(
                f"unknown storage_backend {storage_backend!r}; only 'memory' is available"
            )
        patterns = compile_patterns(STANDARD_EVENTS if events is None else event_name_list(events))
        rate, seed = sampling(meta)
        experiment_id = secrets.token_hex(8)
        while experiment_id in self._registry:
            experiment_id = secrets.token_hex(8)
        experiment = Experiment(
            id=experiment_id,
            name=name,
            hypothesis=hypothesis,
            condition=condition,
            tags=tag_tuple,
            metadata=meta,
            started_at=self._now_datetime(),
            sample_size=sample_size,
            metrics_config=config,
            storage_backend=storage_backend,
        )
        cell = self._new_cell(experiment, patterns, rate, seed)
        _handlers.attach(cell.mailbox, patterns, self._emit_clock)
        return experiment

    def _new_cell(
        self,
        experiment: Experiment,
        patterns: tuple[Any, ...],
        sampling_rate: float = 1.0,
        sampling_seed: int | None = None,
    ) -> ExperimentCell:
        cell = ExperimentCell(
            experiment,
            patterns,
            Mailbox(self._mailbox_size),
            self._pricing,
            sampling_rate,
            sampling_seed,
            nanosecond_stamps=self._emit_clock_in_ns,
        )
        self._registry.add(cell)
        assert self._supervisor is not None
        self._supervisor.spawn(cell)
        return cell

    async def stop_experiment(self, experiment_id: str) -> Experiment:
        """Stop collecting; data stays queryable. Already ended experiments are returned as is.

        Raises:
            ExperimentNotFoundError: unknown id.
        """
        return await self._call(experiment_id, self._apply_stop)

    def _apply_stop(self, cell: ExperimentCell) -> Experiment:
        _handlers.detach(cell.mailbox)
        return cell.set_status(stopped(cell.experiment, self._now_datetime()))

    async def pause_experiment(self, experiment_id: str) -> Experiment:
        """RUNNING -> PAUSED: events emitted after this returns are not collected.

        Raises:
            AlreadyPausedError: it is paused.
            NotRunningError: it is stopped, archived or failed.
            ExperimentNotFoundError: unknown id.
        """
        return await self._call(experiment_id, self._apply_pause)

    def _apply_pause(self, cell: ExperimentCell) -> Experiment:
        experiment = paused(cell.experiment, self._now_datetime())
        _handlers.detach(cell.mailbox)
        return cell.set_status(experiment)

    async def resume_experiment(self, experiment_id: str) -> Experiment:
        """PAUSED -> RUNNING: events emitted after this returns are collected again.

        Raises:
            NotPausedError: it is not paused.
            ExperimentNotFoundError: unknown id.
        """
        return await self._call(experiment_id, self._apply_resume)

    def _apply_resume(self, cell: ExperimentCell) -> Experiment:
        experiment = resumed(cell.experiment)
        _handlers.attach(cell.mailbox, cell.patterns, self._emit_clock)
        return cell.set_status(experiment)

    async def is_paused(self, experiment_id: str) -> bool:
        """True when the experiment is paused; False for unknown ids."""
        self._check_open()
        if experiment_id not in self._registry:
            return False
        experiment = await self._call(experiment_id, _experiment_of)
        return experiment.status is ExperimentStatus.PAUSED

    async def get_experiment(self, experiment_id: str) -> Experiment:
        """The experiment's current record.

        Raises:
            ExperimentNotFoundError: unknown id.
        """
        return await self._call(experiment_id, _experiment_of)

    async def list_experiments(self) -> list[Experiment]:
        """Every experiment of this runtime, in start order."""
        self._check_open()
        return [await self._registry.call_cell(cell, _experiment_of) for cell in self._registry]

    async def cleanup(self, experiment_id: str) -> None:
        """Stop the experiment's actor and forget the experiment and its data.

        Unknown ids are a no-op.
        """
        self._check_open()
        if experiment_id not in self._registry:
            return
        await self._call(experiment_id, _nothing)  # answer what was queued before
        cell = self._registry.remove(experiment_id)
        if cell is not None:
            retire(cell)

    # ------------------------------------------------------ storage and queries

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
        cell = self._registry.lookup(experiment_id)
        stored = storable_event(
            event if isinstance(event, Event) else event_from_mapping(cell.experiment, event)
        )
        return await self._registry.call_cell(cell, lambda target: target.insert(stored))

    async def get_all(self, experiment_id: str) -> list[Event]:
        """Every stored event in time order (ties in arrival order). O(n)."""
        return await self._call(experiment_id, lambda cell: cell.store.all())

    async def query(
        self,
        experiment_id: str,
        *,
        event_name: EventNameLike | None = None,
        success: bool | None = None,
        time_range: tuple[int, int] | None = None,
        condition: str | None = None,
        **fields: Any,
    ) -> list[Event]:
        """Stored events matching every given filter, in time order.

        ``time_range=(start, end)`` is inclusive and costs O(log n + k); any other
        keyword ``k=v`` matches ``event.metadata.get(k) == v`` or the field ``k``.

        Raises:
            ValueError: a bad ``time_range`` or event name.
            ExperimentNotFoundError: unknown id.
        """
        name = normalize_event_name(event_name) if event_name is not None else None
        time_range_checked = None
        if time_range is not None:
            window = Range(*time_range)  # validates the bounds
            time_range_checked = (window.start, window.end)

        def run(cell: ExperimentCell) -> list[Event]:
            return query_store(cell.store, name, success, time_range_checked, condition, fields)

        return await self._call(experiment_id, run)

    async def query_window(
        self,
        experiment_id: str,
        window: Last | LastN | Range | tuple[Any, ...],
        where: Callable[[Event], bool] | None = None,
        *,
        now: int | None = None,
    ) -> list[Event]:
        """Events of a time window, in time order. O(log n + k).

        ``where`` filters the window's events after the window is taken.

        Raises:
            ValueError: an invalid window.
            ExperimentNotFoundError: unknown id.
        """
        spec = parse_window(window)
        if now is not None and (isinstance(now, bool) or not isinstance(now, int)):
            raise TypeError(f"now must be int µs since the epoch, got {now!r}")
        reference = now

        def run(cell: ExperimentCell) -> list[Event]:
            store = cell.store
            if isinstance(spec, LastN):
                events = store.last(spec.n)
            elif isinstance(spec, Range):
                events = store.between(spec.start, spec.end)
            else:
                end = reference if reference is not None else self._clock()
                events = store.between(end - spec.span_us, end)
            return events if where is None else [event for event in events if where(event)]

        return await self._call(experiment_id, run)

    async def windowed_metrics(
        self, experiment_id: str, window_us: int, step_us: int
    ) -> list[WindowMetrics]:
        """Metrics per sliding window (see :func:`_windowed.windowed_metrics`). O(n + w).

        Raises:
            ValueError: a non-positive size.
            ExperimentNotFoundError: unknown id.
        """
        return await self._call(
            experiment_id, lambda cell: _windowed.windowed_metrics(cell.store, window_us, step_us)
        )

    # ------------------------------------------------------- streaming metrics

    async def streaming_metrics(self, experiment_id: str) -> StreamingMetrics:
        """The live statistics, including events ``dropped`` by a full mailbox.

        O(events stored since the last call + a few hundred buckets): the live
        percentiles fold in the new latencies; everything else is kept per event.
        """
        return await self._call(experiment_id, ExperimentCell.streaming_metrics)

    async def reset_streaming_metrics(self, experiment_id: str) -> None:
        """Statistics back to empty; stored events and ``dropped`` untouched."""
        await self._call(experiment_id, ExperimentCell.reset_streaming_metrics)

    # ---------------------------------------------------------------- analysis

    async def calculate_metrics(self, experiment_id: str) -> Metrics:
        """Latency, cost, reliability and token metrics over every stored event."""
        return await self._call(
            experiment_id, lambda cell: _analysis.calculate_metrics(cell.store)
        )

    async def compare_experiments(self, experiment_ids: Sequence[str]) -> Comparison:
        """Each experiment after the first against the first (the baseline).

        Raises:
            ValueError: fewer than two ids.
            ExperimentNotFoundError: an unknown id.
        """
        ids = [experiment_ids] if isinstance(experiment_ids, str) else list(experiment_ids)
        if len(ids) < 2:
            raise ValueError(f"compare_experiments needs at least two ids, got {len(ids)}")
        metrics = [await self.calculate_metrics(experiment_id) for experiment_id in ids]
        return _analysis.compare(ids, metrics)

    # ------------------------------------------------------- export and archive

    async def export(
        self,
        experiment_id: str,
        format: str,
        *,
        path: str | Path | None = None,
        flatten: bool = True,
        neutralize_formulas: bool = True,
    ) -> Path:
        """Write the experiment's events as ``"csv"`` or ``"jsonl"``; return the path.

        With ``neutralize_formulas`` (the default), CSV text cells beginning with
        ``=``, ``+``, ``-``, ``@``, tab or CR get a leading ``'``, so a spreadsheet
        opening the file cannot run formulas; numbers are never changed.

        Raises:
            ValueError: unknown format.
            NoEventsError: the experiment has no events.
            ExperimentNotFoundError: unknown id.
        """
        return await self.export_multiple(
            [experiment_id],
            format,
            path=path,
            flatten=flatten,
            neutralize_formulas=neutralize_formulas,
        )

    async def export_multiple(
        self,
        experiment_ids: Sequence[str],
        format: str,
        *,
        path: str | Path | None = None,
        flatten: bool = True,
        neutralize_formulas: bool = True,
    ) -> Path:
        """Write the events of several experiments into one file; return the path.

        Raises:
            ValueError: unknown format or no ids.
            NoEventsError: none of the experiments has events.
            ExperimentNotFoundError: an unknown id.
        """
        kind = check_format(format)
        ids = [experiment_ids] if isinstance(experiment_ids, str) else list(experiment_ids)
        if not ids:
            raise ValueError("export_multiple needs at least one experiment id")
        events: list[Event] = []
        names: list[str] = []
        for experiment_id in ids:
            experiment, stored = await self._call(experiment_id, _snapshot)
            events.extend(stored)
            names.append(experiment.name)
        if not events:
            raise NoEventsError(ids[0] if len(ids) == 1 else ", ".join(ids))
        target = (
            Path(path)
            if path is not None
            else default_path(
                self._export_dir,
                names[0] if len(names) == 1 else "experiments",
                self._clock() // 1_000_000,
                kind,
            )
        )
        return await anyio.to_thread.run_sync(
            write_events, events, target, kind, flatten, neutralize_formulas
        )

    async def archive(self, experiment_id: str, *, path: str | Path | None = None) -> Path:
        """Write the experiment and its events to an archive; its status becomes ARCHIVED.

        Raises:
            ExperimentNotFoundError: unknown id.
        """

        def run(cell: ExperimentCell) -> tuple[Experiment, list[Event]]:
            _handlers.detach(cell.mailbox)
            experiment = msgspec.structs.replace(
                cell.experiment, status=ExperimentStatus.ARCHIVED, paused_at=None
            )
            return cell.set_status(experiment), cell.store.all()

        experiment, events = await self._call(experiment_id, run)
        target = (
            Path(path)
            if path is not None
            else default_path(
                self._export_dir, f"{experiment.name}_archive", self._clock() // 1_000_000, "jsonl"
            )
        )
        return await anyio.to_thread.run_sync(write_archive, experiment, events, target)

    async def load_archive(self, path: str | Path) -> Experiment:
        """Bring an archive back as an ARCHIVED experiment with the same id and events.

        Raises:
            ValueError: a malformed file (the message says ``line N``) or an id
                already present; nothing is loaded then.
            OSError: the file cannot be read.
        """
        self._check_open()
        experiment, events = await anyio.to_thread.run_sync(read_archive, Path(path))
        self._check_open()
        if experiment.id in self._registry:
            raise ValueError(
                f"experiment {experiment.id!r} is already present; cleanup it before loading"
            )
        experiment = msgspec.structs.replace(experiment, status=ExperimentStatus.ARCHIVED)
        cell = self._new_cell(experiment, compile_patterns(()))
        for event in events:
            cell.insert(event)
        return experiment

    # ------------------------------------------------------------ diagnostics

    async def statistics(self, experiment_id: str) -> ActorStatistics:
        """How the experiment's actor is doing: mailbox depth and high-water mark,
        drops, restarts with the last crash's reason, and processing time.

        Answered at once, not behind queued events, so it stays live under a flood.

        Raises:
            ExperimentNotFoundError: unknown id.
        """
        self._check_open()
        return self._registry.lookup(experiment_id).statistics()


def _nothing(cell: ExperimentCell) -> None:
    return None


def _experiment_of(cell: ExperimentCell) -> Experiment:
    return cell.experiment


def _snapshot(cell: ExperimentCell) -> tuple[Experiment, list[Event]]:
    return cell.experiment, cell.store.all()
