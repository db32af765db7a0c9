"""Handing the GIL to the event loop from a busy worker thread, at once.

Why: a thread that wants the GIL waits ``sys.getswitchinterval()`` (5 ms)
before CPython asks the running thread to give it up, and an event loop
needs it several times per iteration (after each ``select``). While a
worker thread ran Python code, each loop iteration so took 15-45 ms.
``time.sleep(0)`` releases the GIL at once, so a thread already waiting
(the loop's) takes it without waiting out the interval.

Only threads inside :func:`worker` hand over: on the loop's own thread the
same code (a small read done in place) must not let a worker take the GIL
from it. Cost: one system call, about 1-2 µs; callers do it every few
hundred rows. Measured on ``load_archive`` of 1 M events with a 1 ms ticker
on the loop: longest stall 45 ms before, 20 ms after, same load time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

_thread = threading.local()


@contextmanager
def worker() -> Iterator[None]:
    """Mark the current thread as a worker for the block: :func:`hand_over_gil` acts."""
    outer = getattr(_thread, "worker", False)
    _thread.worker = True
    try:
        yield
    finally:
        _thread.worker = outer


def hand_over_gil() -> None:
    """In a worker thread, let any thread waiting for the GIL run now; else nothing."""
    if getattr(_thread, "worker", False):
        time.sleep(0)
