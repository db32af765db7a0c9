"""The root supervisor's own task, which hosts every experiment actor of a runtime.

Why a task of its own: a task group must be exited by the task that entered it,
but frameworks often enter and leave an async context in different tasks
(pytest-asyncio fixtures, some ASGI servers). Hosting the actors in a detached
task, as an OTP supervisor is its own process, lets ``async with Runtime()``
be entered and left from anywhere, and keeps the body's exceptions apart from
the actors' task group.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable, Coroutine
from typing import Any

import anyio
import anyio.lowlevel
from anyio.abc import TaskGroup


class SupervisorHost:
    """Runs a task group in a detached task until :meth:`stop`."""

    def __init__(self) -> None:
        self.task_group: TaskGroup | None = None
        self._ready = anyio.Event()
        self._stop = anyio.Event()
        self._finished = anyio.Event()
        self._task: Any = None  # keeps the asyncio task referenced while it runs

    async def start(self) -> TaskGroup:
        """Start the host task and return its task group once it is running."""
        self._task = _spawn_detached(self._main)
        await self._ready.wait()
        assert self.task_group is not None
        return self.task_group

    async def stop(self) -> None:
        """Cancel every task in the group and wait for the host to finish."""
        self._stop.set()
        with anyio.CancelScope(shield=True):
            await self._finished.wait()

    async def _main(self) -> None:
        try:
            async with anyio.create_task_group() as task_group:
                self.task_group = task_group
                self._ready.set()
                await self._stop.wait()
                task_group.cancel_scope.cancel()
        finally:
            self._finished.set()


def _spawn_detached(function: Callable[[], Coroutine[Any, Any, None]]) -> Any:
    """Start ``function`` in a task owned by no task group; return a handle to keep."""
    native = anyio.lowlevel.current_token().native_token
    if isinstance(native, asyncio.AbstractEventLoop):
        return native.create_task(function())
    # trio, the only other backend anyio supports.
    trio_lowlevel = importlib.import_module("trio.lowlevel")
    trio_lowlevel.spawn_system_task(function)
    return None
