"""The database writer: one thread, one connection, jobs in order, retried through outages.

Every write of a runtime to its database goes through its writer, so
commits are ordered (a flush's confirmation comes after the commits before
it) and SQLite has one writer per database as it wants. A job that fails
because the database cannot be reached (a lost PostgreSQL connection, a
locked SQLite file) is retried with exponential backoff until it succeeds
or the runtime closes; events keep collecting in memory meanwhile, and
:attr:`Writer.status` says what is happening. A job that fails for another
reason (an invalid transition) reports its error to whoever waits for it.
"""

from __future__ import annotations

import logging
import queue
import random
import sqlite3
import threading
from collections.abc import Callable
from typing import Any

from ._database import Database

logger = logging.getLogger("telemetry_actors")

#: Backoff between attempts after a connection error: base · 2^k, capped, jittered.
RETRY_BASE_S = 0.05
RETRY_CAP_S = 2.0

Job = Callable[[Any], Any]
Done = Callable[[Any, BaseException | None], None]


def is_unreachable(error: BaseException) -> bool:
    """True when ``error`` means "the database cannot be reached now": retry it."""
    if isinstance(error, sqlite3.OperationalError):
        text = str(error).lower()
        return "locked" in text or "busy" in text or "disk i/o" in text or "unable to open" in text
    try:
        import psycopg
    except ImportError:
        return False
    return isinstance(error, psycopg.OperationalError | psycopg.InterfaceError)


class Writer:
    """Runs jobs on one connection in a thread of its own; reports results to a loop.

    ``schedule`` runs a callback on the runtime's event loop from any thread
    (``loop.call_soon_threadsafe``); results and errors go back through it.
    """

    def __init__(self, database: Database, schedule: Callable[[Callable[[], None]], Any]) -> None:
        self.database = database
        self._schedule = schedule
        self._jobs: queue.SimpleQueue[tuple[Job, Done | None] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(
            target=self._run, name="telemetry-actors-writer", daemon=True
        )
        self._closing = threading.Event()
        #: "ok", or what is wrong and since when (for ``rt.statistics``).
        self.status = "ok"
        self.retries = 0

    def start(self) -> None:
        """Start the writer thread."""
        self._thread.start()

    def submit(self, job: Job, done: Done | None = None) -> None:
        """Queue ``job(connection)``; ``done(result, error)`` runs on the loop afterwards."""
        self._jobs.put((job, done))

    def close(self, timeout: float) -> bool:
        """Finish the queued jobs (up to ``timeout`` seconds) and stop; True if all ran."""
        self._jobs.put(None)
        self._thread.join(timeout)
        finished = not self._thread.is_alive()
        self._closing.set()  # a writer still retrying gives up
        return finished

    def _run(self) -> None:
        database = self.database
        while True:
            item = self._jobs.get()
            if item is None:
                break
            job, done = item
            result, error = self._attempt(job)
            if done is not None:
                self._report(done, result, error)
        database.forget_connection()

    def _attempt(self, job: Job) -> tuple[Any, BaseException | None]:
        attempt = 0
        while True:
            try:
                result = job(self.database.connection())
            except Exception as error:
                if not is_unreachable(error) or self._closing.is_set():
                    return None, error
                self.database.forget_connection()
                attempt += 1
                self.retries += 1
                delay = min(RETRY_CAP_S, RETRY_BASE_S * 2**attempt) * random.uniform(0.5, 1.0)
                self.status = (
                    f"cannot reach {self.database.display} ({type(error).__name__}: "
                    f"{str(error).strip()[:200]}); retry {attempt} in {delay:.2f} s"
                )
                if attempt == 1:
                    logger.warning("database: %s", self.status)
                if self._closing.wait(delay):
                    return None, error
                continue
            if attempt:
                logger.warning(
                    "database %s reachable again after %d retries", self.database.display, attempt
                )
            self.status = "ok"
            return result, None

    def _report(self, done: Done, result: Any, error: BaseException | None) -> None:
        try:
            self._schedule(lambda: done(result, error))
        except RuntimeError:  # the loop has closed: nobody waits any more
            return
