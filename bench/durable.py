"""Durable storage against memory: ingest, reads of a large store, bounded memory.

Each figure puts a durable experiment next to a memory-only one doing the
same work in the same run, so the ratio is what durability costs:

- Ingest: the ``ingest`` section's live producer (the same prebuilt
  ``llm_events``, emitted in bursts of 1,000 with a yield between) into one
  experiment, then ``await rt.flush()``, which for a durable experiment
  returns only once every event is committed. Memory-only, SQLite (a file in
  a temporary folder, WAL, ``synchronous=NORMAL``, the defaults) and, when a
  server answers at ``TELEMETRY_ACTORS_POSTGRES_URL``, PostgreSQL (a fresh
  schema, dropped afterwards), interleaved rep by rep. The durable sides do
  strictly more (encode rows, write and commit them); the memory side is the
  ceiling they are held against.
- Reads at ``store_n`` events (1 M in a full run): the same realistic events
  (:func:`~bench._workload.fill_store`, same seed, same fake clock 1 ms
  apart) stored once in a memory-only and once in a SQLite experiment, both
  stopped; ``query_window(Last(1 s))`` (the newest 1,000 events, repeated
  ``query_repeats`` times) and ``calculate_metrics`` timed on each,
  interleaved. Both sides return the same events and the same metrics
  (checked, in the notes). A durable read decodes whole stored chunks (one
  per commit), so ``Last(1 s)`` costs what the chunk holding the newest
  second costs; the note gives its rows, which depend on where the fill's
  commits fell. The checks read everything first, as a service would have:
  before glibc's mmap threshold has risen, large decodes also pay page
  faults (``Last(1 s)`` about 3x slower on a 50,000-row chunk).
- Memory: a fresh interpreter (``python -m bench.durable``) emits
  ``RSS_PER_STORE * store_n`` events (5 M in a full run) of fresh
  ``llm_event`` dicts into one experiment, in bursts of 1,000 with a flush
  every ``RSS_FLUSH_EVERY`` events (the mailbox holds that many, so nothing
  is dropped); its peak RSS (``VmHWM``) and its current RSS (``VmRSS``)
  after the last flush are the figures. ``getrusage``'s ``ru_maxrss`` is
  only in the note: Linux carries it across ``exec``, so a child's starts
  at the parent's RSS at the fork (here the 1 M stores just read). The
  baseline is the same process with the same events into a memory-only
  experiment, which keeps every event. The notes give the RSS once the
  runtime is open (interpreter, numpy, library) and after ``malloc_trim``
  (what glibc merely keeps for reuse).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import resource
import secrets
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from telemetry_actors import Event, Last, Runtime, emit

from ._timing import Case, Config, Measurement, run_cases
from ._workload import START_US, SteppingClock, fill_store, llm_event, llm_events
from .ingest import INTERLEAVED_BURST, PackageIngest, package_case, throughput

POSTGRES_URL = os.environ.get(
    "TELEMETRY_ACTORS_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
#: Events the RSS runs emit, per stored event of the read figures: 5 M in a
#: full run (``store_n`` 1 M), 250 k in --quick.
RSS_PER_STORE = 5
#: The RSS runs flush after this many events (their mailbox holds them all).
RSS_FLUSH_EVERY = 50_000
ROOT = Path(__file__).resolve().parent.parent
BACKENDS = {"memory": "memory-only", "sqlite": "SQLite", "postgresql": "PostgreSQL"}


@contextlib.contextmanager
def postgres_schema() -> Iterator[str | None]:
    """A URL whose search_path is a fresh schema, dropped afterwards; None without a server."""
    try:
        import psycopg

        connection = psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=3)
    except Exception as error:
        print(f"[bench] durable: no PostgreSQL ({type(error).__name__})", file=sys.stderr)
        yield None
        return
    schema = f"bench_durable_{secrets.token_hex(6)}"
    separator = "&" if "?" in POSTGRES_URL else "?"
    with connection:
        connection.execute(f"CREATE SCHEMA {schema}")
        try:
            yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
        finally:
            connection.execute(f"DROP SCHEMA {schema} CASCADE")


async def ingest(config: Config, databases: dict[str, str | None]) -> list[Measurement]:
    """Time the live ingest into each backend, interleaved; throughputs and drops."""
    n = config.ingest_n
    events = llm_events(n)
    async with contextlib.AsyncExitStack() as stack:
        runs: dict[str, PackageIngest] = {}
        for backend, database in databases.items():
            rt = Runtime(database=database, mailbox_size=n + 1024)
            await stack.enter_async_context(rt)
            runs[backend] = PackageIngest(rt, events, INTERLEAVED_BURST)
        cases = [
            package_case(
                f"durable.ingest_{backend}",
                f"ingest {n:,} events into {BACKENDS[backend]}, then flush",
                run,
            )
            for backend, run in runs.items()
        ]
        results = await run_cases(cases, config.reps)
    for result, run in zip(results, runs.values(), strict=True):
        result.note = f"stored {run.stored:,} of {n:,} (last rep), {run.dropped} dropped"
    dropped = sum(run.dropped for run in runs.values())
    drops = Measurement(
        "durable.dropped", "durable ingest: events dropped (must be 0)", "events", [dropped]
    )
    return [*results, *(throughput(result, n) for result in results), drops]


def same_events(a: list[Event], b: list[Event]) -> bool:
    """Do two reads return the same events (ids and experiment aside)?"""

    def key(e: Event) -> tuple[Any, ...]:
        return (e.event_name, e.timestamp, e.measurements, e.metadata, e.latency_ms, e.cost_usd)

    return [key(e) for e in a] == [key(e) for e in b]


def metrics_key(metrics: Any) -> tuple[Any, ...]:
    """The outputs of calculate_metrics compared between the two stores."""
    return (
        metrics.summary.total_events,
        metrics.latency.p50,
        metrics.latency.p99,
        metrics.latency.mean,
        metrics.cost.total,
        metrics.reliability.successful,
        metrics.tokens.total,
    )


def chunk_rows(path: Path, experiment_id: str, start: int, end: int) -> list[int]:
    """Rows of the stored chunks (one per commit) overlapping [start, end]: what a read decodes."""
    query = "SELECT rows FROM ta_chunks WHERE experiment_id = ? AND max_ts >= ? AND min_ts <= ?"
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as connection:
        return [rows for (rows,) in connection.execute(query, (experiment_id, start, end))]


async def filled(rt: Runtime, clock: SteppingClock, config: Config) -> str:
    """The store of ``store_n`` realistic events, stopped (so later emits miss it)."""
    experiment_id = await fill_store(rt, clock, config.store_n, config.store_chunk)
    await rt.stop_experiment(experiment_id)
    return experiment_id


def last_case(
    backend: str, rt: Runtime, experiment_id: str, window: Last, repeats: int, n: int
) -> Case:
    """``repeats`` reads of the newest ``window``, in ms per read."""

    async def last_queries() -> None:
        for _ in range(repeats):
            await rt.query_window(experiment_id, window)

    label = f"query_window(Last(1 s)) on {BACKENDS[backend]} at {n:,}"
    return Case(f"durable.last_1s_{backend}", label, "ms/query", last_queries, 1e3 / repeats)


def metrics_case(backend: str, rt: Runtime, experiment_id: str, n: int) -> Case:
    """One calculate_metrics of the whole store, in ms."""
    label = f"calculate_metrics on {BACKENDS[backend]} at {n:,}"
    return Case(
        f"durable.metrics_{backend}", label, "ms", lambda: rt.calculate_metrics(experiment_id), 1e3
    )


async def reads(config: Config, folder: Path) -> list[Measurement]:
    """Time Last(1 s) and calculate_metrics on SQLite and on memory, same events."""
    n, repeats, window = config.store_n, config.query_repeats, Last(1, "seconds")
    memory_clock, sqlite_clock = SteppingClock(START_US, 0), SteppingClock(START_US, 0)
    path = folder / "store.db"
    database = f"sqlite:///{path}"
    size = config.store_chunk + 1024
    async with (
        Runtime(clock=memory_clock, mailbox_size=size) as memory_rt,
        Runtime(database=database, clock=sqlite_clock, mailbox_size=size) as sqlite_rt,
    ):
        started = time.perf_counter()
        memory_id = await filled(memory_rt, memory_clock, config)
        memory_fill = time.perf_counter() - started
        sqlite_id = await filled(sqlite_rt, sqlite_clock, config)
        sqlite_fill = time.perf_counter() - started - memory_fill
        stores = {"sqlite": (sqlite_rt, sqlite_id), "memory": (memory_rt, memory_id)}
        stored = [(await rt.statistics(key)).stored_events for rt, key in stores.values()]
        newest = [await rt.query_window(key, window) for rt, key in stores.values()]
        metrics = [metrics_key(await rt.calculate_metrics(key)) for rt, key in stores.values()]
        cases = [last_case(b, *stores[b], window, repeats, n) for b in stores]
        cases += [metrics_case(b, *stores[b], n) for b in stores]
        results = await run_cases(cases, config.reps)
    now = sqlite_clock.now
    decoded = ", ".join(f"{rows:,}" for rows in chunk_rows(path, sqlite_id, now - 1_000_000, now))
    chunks = len(chunk_rows(path, sqlite_id, 0, now))
    same = "the same" if same_events(*newest) else "EVENTS DIFFER"
    notes = [
        f"stored {stored[0]:,} of {n:,} (memory {stored[1]:,}); {len(newest[0])} events "
        f"(memory {len(newest[1])}), {same}; decodes chunks of {decoded} rows",
        f"filled in {memory_fill:.1f} s (SQLite {sqlite_fill:.1f} s)",
        ("same metrics as memory" if metrics[0] == metrics[1] else "METRICS DIFFER")
        + f"; {chunks} chunks in all",
        "",
    ]
    for result, note in zip(results, notes, strict=True):
        result.note = note
    return results


def status_mb(field: str) -> float:
    """A figure of /proc/self/status in MB: ``VmRSS`` (now) or ``VmHWM`` (peak)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def current_rss_mb() -> float:
    """This process's resident set now, MB."""
    return status_mb("VmRSS")


def peak_rss_mb() -> float:
    """This process's peak resident set, MB.

    ``VmHWM``, not ``getrusage``'s ``ru_maxrss``: Linux keeps ru_maxrss
    across ``exec``, so a child's starts at its parent's RSS at the fork.
    """
    return status_mb("VmHWM")


def rusage_max_mb() -> float:
    """``getrusage``'s peak (KiB on Linux), MB: shown beside VmHWM."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def trimmed_rss_mb() -> float:
    """VmRSS once glibc has returned its free heap memory to the system (NaN elsewhere).

    Diagnostic only, taken after the figures: it separates memory the
    process holds from memory the allocator keeps for reuse.
    """
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        return float("nan")
    return current_rss_mb()


async def emit_for_rss(database: str | None, n: int) -> dict[str, float]:
    """In this process: emit ``n`` fresh events into one experiment, flushing; RSS figures."""
    started = time.perf_counter()
    async with Runtime(database=database, mailbox_size=RSS_FLUSH_EVERY + 1024) as rt:
        experiment_id = (await rt.start_experiment("bench-rss")).id
        opened, peak, peak_at = current_rss_mb(), peak_rss_mb(), 0
        for first in range(0, n, RSS_FLUSH_EVERY):
            last = min(n, first + RSS_FLUSH_EVERY)
            for i in range(first, last):
                emit(*llm_event(i))
                if i % INTERLEAVED_BURST == 0:
                    await asyncio.sleep(0)
            await rt.flush()
            if peak_rss_mb() > peak:
                peak, peak_at = peak_rss_mb(), last
        current = current_rss_mb()
        statistics = await rt.statistics(experiment_id)
        return {
            "opened": opened,
            "current": current,
            "peak": peak_rss_mb(),
            "peak_at": peak_at,
            "rusage": rusage_max_mb(),
            "trimmed": trimmed_rss_mb(),
            "stored": statistics.stored_events,
            "dropped": statistics.dropped,
            "seconds": time.perf_counter() - started,
        }


async def rss_in_child(database: str | None, n: int) -> dict[str, float]:
    """Run :func:`emit_for_rss` in a fresh interpreter and return its figures."""
    child = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "bench.durable", database or "memory", str(n)),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    output, _ = await child.communicate()
    if child.returncode != 0:
        raise RuntimeError(f"the RSS run on {database or 'memory'} exited {child.returncode}")
    figures: dict[str, float] = json.loads(output)
    return figures


async def rss(config: Config, folder: Path) -> list[Measurement]:
    """Peak and current RSS after RSS_PER_STORE * store_n events: SQLite, then memory."""
    n = RSS_PER_STORE * config.store_n
    results = []
    for backend, database in (("sqlite", f"sqlite:///{folder / 'rss.db'}"), ("memory", None)):
        figures = await rss_in_child(database, n)
        stored, dropped, seconds = figures["stored"], figures["dropped"], figures["seconds"]
        notes = {
            "peak": f"stored {stored:,.0f} of {n:,}, {dropped:.0f} dropped, {seconds:.0f} s; "
            f"reached by event {figures['peak_at']:,.0f}; ru_maxrss {figures['rusage']:.0f} MB",
            "current": f"{figures['opened']:.0f} MB once open; "
            f"{figures['trimmed']:.0f} MB after malloc_trim(0)",
        }
        for what, label in (("peak", "peak RSS"), ("current", "RSS after the last flush")):
            results.append(
                Measurement(
                    f"durable.rss_{backend}_{what}",
                    f"{label}, {n:,} events into {BACKENDS[backend]} (own process)",
                    "MB",
                    [figures[what]],
                    notes[what],
                )
            )
    return results


async def run(config: Config) -> list[Measurement]:
    """Ingest into each backend, reads of the large stores, then the RSS runs."""
    with (
        tempfile.TemporaryDirectory(prefix="bench-durable-") as name,
        postgres_schema() as postgres,
    ):
        folder = Path(name)
        databases = {"memory": None, "sqlite": f"sqlite:///{folder / 'ingest.db'}"}
        if postgres is not None:
            databases["postgresql"] = postgres
        results = await ingest(config, databases)
        results += await reads(config, folder)
        results += await rss(config, folder)
    return results


if __name__ == "__main__":
    # The RSS run's child: python -m bench.durable {memory | URL} N, figures as JSON.
    target, count = sys.argv[1], int(sys.argv[2])
    print(json.dumps(asyncio.run(emit_for_rss(None if target == "memory" else target, count))))
