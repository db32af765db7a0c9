"""The plumbing every part of the public ``Runtime`` shares.

Settings, the lifecycle state, the registry and supervisor, and the two
ways a call reaches an experiment: a message to its actor (answered in
mailbox order) and, for the heavy part of a read, a worker thread that
works on the immutable snapshot the actor answered with, so the event loop
stays free.
"""

from __future__ import annotations

import enum
import secrets
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import anyio
import anyio.to_thread

from ._actors._host import SupervisorHost
from ._actors._mailbox import Mailbox
from ._actors._messages import Message, TakeSnapshot
from ._actors._registry import Registry
from ._actors._state import ExperimentState, ReadView
from ._actors._supervisor import Supervisor
from ._arguments import count_at_least, positive_seconds
from ._emit import _routes
from ._exceptions import RuntimeClosedError
from ._experiment import Experiment, datetime_from_us
from ._full_gc import full_collections_held
from ._handoff import worker
from ._pricing import merge_pricing
from ._storage._database import Database
from ._storage._writer import Writer
from ._types import Clock, PricingTable

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


async def off_loop(function: Callable[..., T], *args: Any, settle: bool = False) -> T:
    """Run ``function(*args, cancel=event)`` in a worker thread.

    If the caller is cancelled, ``cancel`` is set, so the worker stops at its
    next check instead of running on, and the await ends at once; with
    ``settle`` it ends once the worker has stopped (a writer has then removed
    its half-written file, so a cancelled export leaves nothing behind).
    While it runs, no full garbage collection starts (see ``_full_gc``).
    """
    cancel = threading.Event()
    stopped = threading.Event()

    def run() -> T:
        try:
            with full_collections_held(), worker():
                return function(*args, cancel=cancel)
        finally:
            stopped.set()

    try:
        return await anyio.to_thread.run_sync(run, abandon_on_cancel=True)
    finally:
        cancel.set()
        if settle and not stopped.is_set():
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(stopped.wait)


class RuntimeCore:
    """Settings, state and call routing; the public methods live in the subclasses."""

    def __init__(
        self,
        clock: Clock | None = None,
        mailbox_size: int = 65_536,
        pricing: PricingTable | None = None,
        export_dir: str | Path = "exports",
        max_restarts: int = 3,
        restart_window_s: float = 5.0,
        close_timeout: float = 30.0,
        database: str | Path | None = None,
        commit_interval: float = 0.2,
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
        self._commit_interval = positive_seconds("commit_interval", commit_interval)
        if database is not None and not isinstance(database, str | Path):
            raise TypeError(f"database must be a path or a URL, got {type(database).__name__}")
        self._database_argument = database
        self._database: Database | None = None
        self._writer: Writer | None = None
        self._watcher: Any = None
        #: Set by the next record change another runtime makes (see ``_record_change``).
        self._record_changed: Any = None
        #: The async library running the loop, named in loop callbacks (see _runtime_database).
        self._async_library: str | None = None
        self._origin = 0
        self._state = RuntimeState.UNOPENED
        self._registry = Registry()
        self._host = SupervisorHost()
        self._supervisor: Supervisor | None = None
        #: Told of every stored batch of every experiment (see ``StoredBatch``).
        self._listeners: list[Callable[[Any], None]] = []

    def _check_open(self) -> None:
        if self._state is not RuntimeState.OPEN:
            raise RuntimeClosedError(
                f"the runtime is {self._state.value}; use it inside 'async with Runtime() as rt'"
            )

    async def _call(self, experiment_id: str, message: Message) -> Any:
        """Send a message to an experiment's actor; its answer, in mailbox order."""
        self._check_open()
        return await self._registry.send(await self._find(experiment_id), message)

    async def _find(self, experiment_id: str) -> ExperimentState:
        """The experiment's state (the database mixin also looks in the database)."""
        return self._registry.lookup(experiment_id)

    async def _send(self, state: ExperimentState, message: Message) -> Any:
        self._check_open()
        return await self._registry.send(state, message)

    async def _view(
        self, experiment_id: str, start: int | None = None, end: int | None = None
    ) -> ReadView:
        """The experiment's record and stored rows as of now (in mailbox order)."""
        view: ReadView = await self._call(experiment_id, TakeSnapshot(start, end))
        return view

    def _now(self) -> int:
        """The runtime clock's reading, µs since the epoch."""
        return self._clock()

    def _now_datetime(self) -> datetime:
        return datetime_from_us(self._clock())

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
