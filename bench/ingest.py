"""Ingest throughput: N emits then ``flush``, against a bare asyncio pipeline.

Both sides get the same prebuilt argument tuples and stamp each event with the
system clock. The baseline's consumer drains its queue in batches, builds a
dict per event, appends it to a list and keeps a running mean of the latency.
"""

from __future__ import annotations

import asyncio
from typing import Any

from telemetry_actors import Runtime, emit

from ._timing import Case, Config, Measurement, run_cases
from ._workload import llm_events, system_clock


class PackageIngest:
    """N emits into one running experiment, then ``await rt.flush()``."""

    def __init__(self, rt: Runtime, events: list[Any]) -> None:
        self.rt, self.events = rt, events
        self.experiment_id = ""
        self.dropped = 0
        self.stored = 0

    async def setup(self) -> None:
        self.experiment_id = (await self.rt.start_experiment("bench-ingest")).id

    async def timed(self) -> None:
        send = emit
        for name, measurements, metadata in self.events:
            send(name, measurements, metadata)
        await self.rt.flush()

    async def teardown(self) -> None:
        metrics = await self.rt.streaming_metrics(self.experiment_id)
        self.dropped += metrics.dropped
        self.stored = metrics.latency.count
        await self.rt.cleanup(self.experiment_id)


class BarePipeline:
    """put_nowait a stamped tuple; a consumer task drains, builds dicts, keeps a mean."""

    def __init__(self, events: list[Any]) -> None:
        self.events = events
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
            while not queue.empty():
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
        self.mean = mean
        self.done.set()

    async def timed(self) -> None:
        put, clock = self.queue.put_nowait, system_clock
        for name, measurements, metadata in self.events:
            put((name, measurements, metadata, clock()))
        await self.done.wait()

    async def teardown(self) -> None:
        assert self.consumer is not None
        await self.consumer
        self.stored = []


async def run(config: Config) -> list[Measurement]:
    """Time N emits + flush and the bare pipeline, interleaved, median of ``config.reps``."""
    n = config.ingest_n
    events = llm_events(n)
    async with Runtime(mailbox_size=n + 1024) as rt:
        package, bare = PackageIngest(rt, events), BarePipeline(events)
        cases = [
            Case(
                "ingest.package",
                f"ingest {n:,} emits + flush",
                "ms",
                package.timed,
                1e3,
                setup=package.setup,
                teardown=package.teardown,
            ),
            Case(
                "ingest.bare",
                f"bare asyncio pipeline, {n:,} events",
                "ms",
                bare.timed,
                1e3,
                setup=bare.setup,
                teardown=bare.teardown,
            ),
        ]
        results = await run_cases(cases, config.reps)
    if package.stored != n:
        results[0].note = f"stored {package.stored} of {n} events"
    throughput = [
        Measurement(
            f"{m.key}_rate",
            f"{m.label} (throughput)",
            "events/s",
            [n / (ms / 1e3) for ms in m.samples],
        )
        for m in results
    ]
    drops = Measurement(
        "ingest.dropped", "events dropped (must be 0)", "events", [float(package.dropped)]
    )
    return [*results, *throughput, drops]
