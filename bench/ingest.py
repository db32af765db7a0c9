"""Ingest throughput: N emits until stored, against a bare asyncio pipeline.

Both sides get the same prebuilt argument tuples (``llm_event``: an int
duration, a status, nested tokens, model, provider, a sample id), in the
same order, and stamp each event with the system clock when it is sent.

- The library: ``emit`` into one running experiment, then ``await rt.flush()``.
- The bare pipeline: ``put_nowait`` of the stamped tuple into an
  ``asyncio.Queue``; a consumer task takes at most ``BATCH_SIZE`` events at
  a time (the actor's own batch cap) and yields to the loop between
  batches, as the actor does so that a flood never holds the loop; per
  event it builds a dict, appends it to a list and keeps a running mean of
  the latency. It does not capture (copy) the caller's dicts, derive cost
  or tokens, or store columns: it is a floor, not an equal.

Two orders, same events on both sides:

- interleaved (judged): the producer sends bursts of ``INTERLEAVED_BURST``
  and yields between them, as a live service emitting from its handlers
  does, so the consumer runs while events keep coming;
- all at once (information): every event is sent before the consumer first
  runs (a flood; the mailbox must hold all of it).
"""

from __future__ import annotations

import asyncio
from typing import Any

from telemetry_actors import Runtime, emit
from telemetry_actors._actors._ingest import BATCH_SIZE

from ._timing import Case, Config, Measurement, run_cases
from ._workload import llm_events, system_clock

#: Events the interleaved producer sends between two yields to the loop.
INTERLEAVED_BURST = 1_000


class PackageIngest:
    """N emits into one experiment (started with ``options``), then ``await rt.flush()``."""

    def __init__(
        self, rt: Runtime, events: list[Any], burst: int, options: dict[str, Any] | None = None
    ) -> None:
        self.rt, self.events, self.burst = rt, events, burst
        self.options = options or {}
        self.experiment_id = ""
        self.dropped = 0
        self.collected = 0
        self.stored = 0

    async def setup(self) -> None:
        experiment = await self.rt.start_experiment("bench-ingest", **self.options)
        self.experiment_id = experiment.id

    async def timed(self) -> None:
        send, events, burst = emit, self.events, self.burst
        for first in range(0, len(events), burst):
            for name, measurements, metadata in events[first : first + burst]:
                send(name, measurements, metadata)
            await asyncio.sleep(0)
        await self.rt.flush()

    async def teardown(self) -> None:
        metrics = await self.rt.streaming_metrics(self.experiment_id)
        self.dropped += metrics.dropped
        self.collected = metrics.latency.count
        self.stored = (await self.rt.statistics(self.experiment_id)).stored_events
        await self.rt.cleanup(self.experiment_id)


class BarePipeline:
    """put_nowait a stamped tuple; a consumer task drains in capped batches, builds dicts."""

    def __init__(self, events: list[Any], burst: int) -> None:
        self.events, self.burst = events, burst
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.done = asyncio.Event()
        self.consumer: asyncio.Task[None] | None = None
        self.stored: list[dict[str, Any]] = []
        self.mean = 0.0

    async def setup(self) -> None:
        self.queue, self.done, self.stored = asyncio.Queue(), asyncio.Event(), []
        self.consumer = asyncio.create_task(self.consume(len(self.events)))
        await asyncio.sleep(0)  # let the consumer reach its first get()

    async def consume(self, n: int) -> None:
        queue, stored = self.queue, self.stored
        count, mean = 0, 0.0
        while count < n:
            batch = [await queue.get()]
            while len(batch) < BATCH_SIZE and not queue.empty():
                batch.append(queue.get_nowait())
            for name, measurements, metadata, timestamp in batch:
                latency = measurements["duration"] / 1e6
                stored.append(
                    {
                        "event_name": name,
                        "timestamp": timestamp,
                        "measurements": measurements,
                        "metadata": metadata,
                        "latency_ms": latency,
                    }
                )
                count += 1
                mean += (latency - mean) / count
            await asyncio.sleep(0)  # as the actor: yield between batches
        self.mean = mean
        self.done.set()

    async def timed(self) -> None:
        put, clock, events, burst = self.queue.put_nowait, system_clock, self.events, self.burst
        for first in range(0, len(events), burst):
            for name, measurements, metadata in events[first : first + burst]:
                put((name, measurements, metadata, clock()))
            await asyncio.sleep(0)
        await self.done.wait()

    async def teardown(self) -> None:
        assert self.consumer is not None
        await self.consumer
        self.stored = []


def package_case(key: str, label: str, ingest: PackageIngest) -> Case:
    """A timed case of ``ingest`` (ms)."""
    return Case(key, label, "ms", ingest.timed, 1e3, setup=ingest.setup, teardown=ingest.teardown)


def bare_case(key: str, label: str, bare: BarePipeline) -> Case:
    """A timed case of the bare pipeline (ms)."""
    return Case(key, label, "ms", bare.timed, 1e3, setup=bare.setup, teardown=bare.teardown)


def throughput(result: Measurement, n: int) -> Measurement:
    """events/s of a measurement in ms for ``n`` events."""
    return Measurement(
        f"{result.key}_rate",
        f"{result.label} (throughput)",
        "events/s",
        [n / (ms / 1e3) for ms in result.samples],
    )


async def run(config: Config) -> list[Measurement]:
    """Time both sides in both orders, interleaved, median of ``config.reps``."""
    n = config.ingest_n
    events = llm_events(n)
    async with Runtime(mailbox_size=n + 1024) as rt:
        live = PackageIngest(rt, events, INTERLEAVED_BURST)
        flood = PackageIngest(rt, events, n)
        size = f"{n:,} events"
        cases = [
            package_case("ingest.package", f"ingest {size}, emitted in bursts of 1,000", live),
            bare_case(
                "ingest.bare",
                f"bare asyncio pipeline, {size} in bursts of 1,000",
                BarePipeline(events, INTERLEAVED_BURST),
            ),
            package_case("ingest.package_flood", f"ingest {size}, all emitted at once", flood),
            bare_case(
                "ingest.bare_flood",
                f"bare asyncio pipeline, {size} all sent at once",
                BarePipeline(events, n),
            ),
        ]
        results = await run_cases(cases, config.reps)
    for result, ingest in ((results[0], live), (results[2], flood)):
        if ingest.stored != n:
            result.note = f"stored {ingest.stored} of {n} events"
    drops = Measurement(
        "ingest.dropped",
        "events dropped (must be 0)",
        "events",
        [float(live.dropped + flood.dropped)],
    )
    return [*results, throughput(results[0], n), throughput(results[1], n), drops]
