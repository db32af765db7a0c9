"""``span``: emit start/stop/exception events around a block of code."""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any, Self

from .._names import normalize_event_name
from .._types import EventNameLike
from ._emit import emit


class span:
    """Emit ``prefix + ("start",)`` on entry and ``stop``/``exception`` on exit.

    Works with ``with`` and ``async with``. The yielded object's ``metadata``
    dict may be added to by the body; it goes with the exit event.

    Example:
        >>> with span("altar.tool", tool="search") as s:
        ...     s.metadata["hits"] = 3
    """

    __slots__ = ("_started_ns", "metadata", "prefix")

    def __init__(self, event_prefix: EventNameLike, **metadata: Any) -> None:
        self.prefix = normalize_event_name(event_prefix)
        self.metadata: dict[str, Any] = dict(metadata)
        self._started_ns = 0

    def __enter__(self) -> Self:
        emit((*self.prefix, "start"), {"system_time": time.time_ns() // 1000}, dict(self.metadata))
        self._started_ns = time.perf_counter_ns()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        duration = {"duration": time.perf_counter_ns() - self._started_ns}
        if exc is None:
            emit((*self.prefix, "stop"), duration, dict(self.metadata))
            return
        metadata = dict(self.metadata, error=_describe(exc), kind=_class_name(exc))
        emit((*self.prefix, "exception"), duration, metadata)

    async def __aenter__(self) -> Self:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, traceback)


def _class_name(error: BaseException) -> str:
    try:
        return str(type(error).__name__)
    except Exception:
        return "BaseException"


def _describe(error: BaseException) -> str:
    """``repr(error)``, or a placeholder naming its class when that raises."""
    try:
        return repr(error)
    except Exception:
        return f"<{_class_name(error)}: repr() failed>"
