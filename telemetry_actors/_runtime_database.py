"""The runtime's database (part of ``Runtime``): opening it, durable experiments, attaching.

With ``Runtime(database=…)`` the runtime opens the database when it is
entered, starts one writer thread for it and a watcher that notices record
changes made by other runtimes (PostgreSQL ``LISTEN/NOTIFY``; SQLite is
polled). Every experiment in the database gets an actor here, so reads
work on all of them at once; it collects only after ``start_experiment``
or ``attach_experiment`` in this runtime.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from typing import Any

import anyio
import anyio.lowlevel
import anyio.to_thread

from ._actors._durable import DurableLink
from ._actors._messages import SyncRecord
from ._actors._state import ExperimentState
from ._exceptions import ExperimentNotFoundError, TelemetryActorsError
from ._experiment import Experiment, ExperimentStatus
from ._names import compile_patterns, dotted
from ._runtime_core import RuntimeCore
from ._storage._database import Database, StoredRecord
from ._storage._durable import DurableStore
from ._storage._open import open_database
from ._storage._writer import Writer

try:  # anyio asks sniffio which library runs the loop, when sniffio is installed
    import sniffio
except ImportError:  # pragma: no cover - then anyio assumes asyncio on a running loop
    sniffio = None  # type: ignore[assignment]

logger = logging.getLogger("telemetry_actors")

#: Seconds between two looks at a SQLite database for other runtimes' changes.
POLL_SECONDS = 0.25


def patterns_of(patterns: tuple[Any, ...]) -> list[list[str]]:
    """Event name patterns as JSON-ready lists of parts."""
    return [list(pattern.exact or (*pattern.prefix, "*")) for pattern in patterns]


class DatabaseMixin(RuntimeCore):
    """Durable experiments: the database's writer, watcher and the experiments in it."""

    async def _run_db(self, job: Callable[[Any], Any]) -> Any:
        """Run ``job(connection)`` on the writer and wait for it (record changes)."""
        assert self._writer is not None
        done = anyio.Event()
        outcome: list[Any] = [None, None]

        def finish(result: Any, error: BaseException | None) -> None:
            outcome[0], outcome[1] = result, error
            done.set()

        self._writer.submit(job, finish)
        await done.wait()
        if outcome[1] is not None:
            raise outcome[1]
        return outcome[0]

    async def _open_database(self) -> None:
        """Open, migrate, start the writer and watcher, and load the experiments.

        Raises:
            TelemetryActorsError: the database cannot be reached or opened (the
                message names it, password hidden).
        """
        if self._database_argument is None:
            return
        database = open_database(self._database_argument)

        def prepare() -> tuple[int, list[StoredRecord]]:
            connection = database.connection()
            database.migrate(connection)
            origin = database.new_origin(connection)
            records = database.load_records(connection)
            database.forget_connection()
            return origin, records

        try:
            origin, records = await anyio.to_thread.run_sync(prepare)
        except TelemetryActorsError:
            raise
        except ImportError:
            raise
        except Exception as error:
            raise TelemetryActorsError(
                f"cannot open database {database.display}: {type(error).__name__}: {error}"
            ) from error
        self._database = database
        self._origin = origin
        schedule = _schedule_on_this_loop()
        self._async_library = sniffio.current_async_library() if sniffio is not None else None
        self._writer = Writer(database, schedule)
        self._writer.start()
        for stored in records:
            self._adopt(stored)
        self._watcher = _Watcher(database, schedule, self._on_record_change)
        # Changes from now on are news; those before are in the records just read.
        self._watcher.versions = {stored.record.id: stored.version for stored in records}
        self._watcher.start()

    def _close_database(self) -> None:
        """Stop the watcher, let the writer finish (within the close timeout), close all."""
        if self._watcher is not None:
            self._watcher.stop()
        if self._writer is not None and not self._writer.close(self._close_timeout):
            logger.warning("the database writer did not finish within close_timeout")
        if self._database is not None:
            self._database.close_all()

    # --------------------------------------------------------- experiments

    async def _save_new(self, record: Experiment, patterns: tuple[Any, ...]) -> None:
        """Commit a new durable experiment's record before it is returned."""
        database = self._database
        assert database is not None

        def save(connection: Any) -> None:
            database.save_record(connection, record, [], patterns_of(patterns))

        await self._run_db(save)

    def _durable_state(
        self, record: Experiment, patterns: tuple[Any, ...], version: int, attached: bool
    ) -> ExperimentState:
        assert self._database is not None
        assert self._writer is not None
        state: ExperimentState = self._spawn(record, patterns, attached=attached)
        state.store = DurableStore(self._database, record.id, self._origin)
        state.durable = DurableLink(
            self._database, self._writer, self._origin, self._commit_interval
        )
        state.record_version = version
        return state

    def _adopt(self, stored: StoredRecord) -> ExperimentState:
        """An actor for an experiment found in the database (reads only until attached)."""
        patterns = compile_patterns(tuple(tuple(parts) for parts in stored.patterns))
        state = self._durable_state(stored.record, patterns, stored.version, attached=False)
        state.pauses = list(stored.pauses)
        return state

    async def _find(self, experiment_id: str) -> ExperimentState:
        """The experiment's state, adopting it from the database if another runtime made it.

        Raises:
            ExperimentNotFoundError: not here, nor in the database.
        """
        if experiment_id in self._registry or self._database is None:
            return self._registry.lookup(experiment_id)
        database = self._database

        def load(connection: Any) -> list[StoredRecord]:
            return database.load_records(connection, experiment_id)

        if not isinstance(experiment_id, str):
            raise ExperimentNotFoundError(experiment_id)
        found = await self._run_db(load)
        if experiment_id in self._registry:  # adopted meanwhile
            return self._registry.lookup(experiment_id)
        if not found:
            raise ExperimentNotFoundError(experiment_id)
        return self._adopt(found[0])

    async def _refresh(self) -> None:
        """Adopt experiments other runtimes made since the database was opened."""
        if self._database is None:
            return
        database = self._database
        records: list[StoredRecord] = await self._run_db(database.load_records)
        for stored in records:
            if stored.record.id not in self._registry:
                self._adopt(stored)

    async def attach_experiment(self, experiment_id: str) -> Experiment:
        """Collect into an existing durable experiment too (after a restart, or from
        another process or host). Its status is shared with every attached runtime.

        Raises:
            ExperimentNotFoundError: unknown id.
            ValueError: a memory-only or archived experiment.
            RuntimeClosedError: the runtime is not open.
        """
        self._check_open()
        state = await self._find(experiment_id)
        if state.durable is None:
            raise ValueError(
                f"experiment {experiment_id!r} is memory-only; only a durable experiment "
                "(started in a runtime with a database) can be attached"
            )
        if state.record.status is ExperimentStatus.ARCHIVED:
            raise ValueError(f"experiment {experiment_id!r} is archived; nothing can be attached")
        state.attached = True
        from ._emit import _routes

        if state.record.status is ExperimentStatus.RUNNING:
            _routes.attach(state.mailbox, state.patterns, state.emit_clock)
        return state.record

    def _record_change(self) -> anyio.Event:
        """An event set once the next change another runtime makes to a record has reached
        this runtime's actors: wait on it instead of polling.

        Take it before reading the state it may change, so a change in between still
        sets it. Set also for changes to experiments this runtime does not hold.
        """
        if self._record_changed is None:
            self._record_changed = anyio.Event()
        changed: anyio.Event = self._record_changed
        return changed

    def _on_record_change(self, experiment_id: str, stored: StoredRecord | None) -> None:
        """On the loop: another runtime changed (or deleted) an experiment's record.

        Runs as a loop callback, outside any task, where anyio cannot tell
        which library runs the loop; adopting an experiment spawns its actor
        with anyio, so the library is named here for the callback's length.
        """
        changed, self._record_changed = self._record_changed, None
        named = _name_async_library(self._async_library)
        try:
            self._apply_record_change(experiment_id, stored)
        finally:
            _unname_async_library(named)
            if changed is not None:
                changed.set()  # after the SyncRecord: reads queue behind it

    def _apply_record_change(self, experiment_id: str, stored: StoredRecord | None) -> None:
        if self._state.value != "open":
            return
        if stored is None:
            return  # cleaned up elsewhere: its reads now find nothing in the database
        if experiment_id in self._registry:
            state = self._registry.lookup(experiment_id)
            if state.alive:
                state.mailbox.put_message(SyncRecord(stored))
        else:
            self._adopt(stored)


def _name_async_library(name: str | None) -> Any:
    """Tell sniffio (which anyio asks) the loop's library in a task-less callback."""
    if sniffio is None or name is None:
        return None
    return sniffio.current_async_library_cvar.set(name)


def _unname_async_library(token: Any) -> None:
    if sniffio is not None and token is not None:
        sniffio.current_async_library_cvar.reset(token)


def _schedule_on_this_loop() -> Callable[[Callable[[], None]], Any]:
    """A function that runs a callback on the current event loop, from any thread."""
    import asyncio

    native = anyio.lowlevel.current_token().native_token
    if isinstance(native, asyncio.AbstractEventLoop):
        return native.call_soon_threadsafe
    run_sync_soon: Callable[[Callable[[], None]], Any] = getattr(native, "run_sync_soon")  # noqa: B009
    return run_sync_soon


class _Watcher:
    """A thread that notices other runtimes' record changes and reports them to the loop."""

    def __init__(
        self,
        database: Database,
        schedule: Callable[[Callable[[], None]], Any],
        report: Callable[[str, StoredRecord | None], None],
    ) -> None:
        self._database = database
        self._schedule = schedule
        self._report = report
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="telemetry-actors-watcher", daemon=True
        )
        #: The record versions last seen (set before the thread starts).
        self.versions: dict[str, int] = {}

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        database = self._database
        if database.kind == "postgresql":
            self._listen()
            return
        connection = None  # a connection of its own: its reads never wait for another's
        while not self._stop.wait(POLL_SECONDS):
            try:
                if connection is None:
                    connection = database.connect()
                self._catch_up(database, connection)
            except Exception:
                connection = None  # reopened on the next round

    def _listen(self) -> None:
        database = self._database
        while not self._stop.is_set():
            try:
                connection = database.connect()
                connection.execute(f"LISTEN {database.CHANNEL}")  # type: ignore[attr-defined]
                reader = database.connect()
                self._catch_up(database, reader)  # changes while not listening
                while not self._stop.is_set():
                    for notice in connection.notifies(timeout=0.5, stop_after=100):
                        self._tell(database, reader, notice.payload)
            except Exception:
                if self._stop.wait(0.5):
                    return

    def _catch_up(self, database: Database, connection: Any) -> None:
        versions = database.versions(connection)
        for experiment_id, version in versions.items():
            if self.versions.get(experiment_id) != version:
                self._tell(database, connection, experiment_id)
        self.versions = versions

    def _tell(self, database: Database, connection: Any, experiment_id: str) -> None:
        found = database.load_records(connection, experiment_id)
        stored = found[0] if found else None
        self._schedule(functools.partial(self._report, experiment_id, stored))


__all__ = ["DatabaseMixin", "dotted", "patterns_of"]
