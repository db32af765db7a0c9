"""Caller cost of ``emit`` (ns/call) against an empty call, a queue put and metric libraries.

Every variant is a tight loop of the same call with the same prebuilt arguments;
the loop overhead is included in all of them alike (nothing is subtracted).
One more, ``emit.realistic``, cycles through 10,000 distinct realistic events
(random numbers, fresh dicts), next to an empty call over the same list: the
prebuilt payload never holds a byte that looks like a MessagePack marker,
about half of the realistic ones do and then pay the typed decode.
The calls of one repetition run in bursts of ``config.burst``; between bursts,
untimed, the mailboxes are flushed (and the baseline queue emptied), as a live
actor would drain them, so the garbage collector sees a steady state rather
than hundreds of thousands of queued tuples.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import partial
from itertools import repeat
from time import perf_counter
from typing import Any

from telemetry_actors import Runtime, emit

from ._timing import Case, Config, Measurement, per_call, run_cases
from ._workload import EVENT_NAME, RealisticEvents, system_clock

MEASUREMENTS = {"duration": 1_200_000}
METADATA = {
    "model": "gpt-4",
    "provider": "openai",
    "tokens": {"prompt": 900, "completion": 250},
    "sample_id": "q17",
}
LATENCY_MS = 1.2
#: Distinct realistic events the ``emit.realistic`` case cycles through.
REALISTIC_EVENTS = 10_000

Loop = Callable[[int], None]


def empty(event_name: Any, measurements: Any = None, metadata: Any = None) -> None:
    """The floor: a Python call with emit's arguments that does nothing."""


def loop_of(function: Any) -> Loop:
    """A loop calling ``function(EVENT_NAME, MEASUREMENTS, METADATA)`` n times."""
    name, measurements, metadata = EVENT_NAME, MEASUREMENTS, METADATA

    def loop(n: int) -> None:
        for _ in repeat(None, n):
            function(name, measurements, metadata)

    return loop


def varied_loop(function: Any, events: list[tuple[Any, Any, Any]]) -> Loop:
    """A loop calling ``function(name, measurements, metadata)`` over ``events``, cycled."""

    def loop(n: int) -> None:
        for at in range(0, n, len(events)):
            for name, measurements, metadata in events[: n - at]:
                function(name, measurements, metadata)

    return loop


def observe_loop(observe: Any) -> Loop:
    """A loop calling ``observe(LATENCY_MS)`` n times."""

    def loop(n: int) -> None:
        value = LATENCY_MS
        for _ in repeat(None, n):
            observe(value)

    return loop


def prometheus_observe() -> Any:
    """``Histogram.observe`` of an unlabelled prometheus_client histogram, or None."""
    try:
        from prometheus_client import CollectorRegistry, Histogram
    except ImportError:
        return None

    histogram = Histogram("llm_latency_ms", "LLM latency", registry=CollectorRegistry())
    return histogram.observe


def otel_record() -> Any:
    """``Histogram.record`` of the OpenTelemetry SDK, or None when it is not installed."""
    try:
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    except ImportError:
        return None
    provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    return provider.get_meter("bench").create_histogram("llm_latency_ms").record


async def nothing() -> None:
    """No work between bursts."""


async def timed_bursts(
    loop: Loop, n: int, burst: int, between: Callable[[], Awaitable[None]] = nothing
) -> float:
    """Seconds spent in ``loop`` over ``n`` calls in bursts; ``between`` runs untimed."""
    elapsed = 0.0
    for first in range(0, n, burst):
        size = min(burst, n - first)
        started = perf_counter()
        loop(size)
        elapsed += perf_counter() - started
        await between()
    return elapsed


class QueueBaseline:
    """``asyncio.Queue.put_nowait`` of the raw tuple emit builds (name, fields, µs stamp)."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Any] = asyncio.Queue()

    def loop(self, n: int) -> None:
        put, clock = self.queue.put_nowait, system_clock
        name, measurements, metadata = EVENT_NAME, MEASUREMENTS, METADATA
        for _ in repeat(None, n):
            put((name, measurements, metadata, clock()))

    async def empty(self) -> None:
        self.queue = asyncio.Queue()


class Attached:
    """``emit`` with ``count`` running experiments collecting the event.

    Each repetition starts fresh experiments, and afterwards flushes, counts
    drops and cleans them up, so the mailboxes and stores never pile up.
    """

    def __init__(self, rt: Runtime, count: int) -> None:
        self.rt, self.count = rt, count
        self.ids: list[str] = []
        self.dropped = 0

    async def setup(self) -> None:
        for i in range(self.count):
            experiment = await self.rt.start_experiment(f"bench-{i}")
            self.ids.append(experiment.id)
        emit(EVENT_NAME, MEASUREMENTS, METADATA)  # resolve the route outside the timing
        await self.rt.flush()

    async def teardown(self) -> None:
        await self.rt.flush()
        for experiment_id in self.ids:
            self.dropped += (await self.rt.streaming_metrics(experiment_id)).dropped
            await self.rt.cleanup(experiment_id)
        self.ids = []


def _case(key: str, label: str, n: int, timed: Callable[[], Any], **extra: Any) -> Case:
    return Case(key, label, "ns/call", timed, per_call(n), **extra)


async def run(config: Config) -> list[Measurement]:
    """Measure emit's caller cost and its baselines, interleaved, median of ``config.reps``."""
    n, burst = config.calls, config.burst
    n_ten = max(1, n // 10)  # ten experiments: a tenth of the calls, as much to flush
    empty_loop, emit_loop = loop_of(empty), loop_of(emit)
    # Distinct dicts with random numbers: about half of them hold a byte that
    # looks like an array marker, which the prebuilt payload above never does.
    realistic = RealisticEvents().chunk(REALISTIC_EVENTS)
    empty_varied, emit_varied = varied_loop(empty, realistic), varied_loop(emit, realistic)
    observe, record = prometheus_observe(), otel_record()
    async with Runtime(mailbox_size=burst + 1024) as rt:
        one, ten, queue = Attached(rt, 1), Attached(rt, 10), QueueBaseline()
        cases = [
            _case("call.empty", "empty function call (same args)", n,
                  lambda: timed_bursts(empty_loop, n, burst)),
            _case("call.queue_put", "asyncio.Queue.put_nowait(raw tuple)", n,
                  lambda: timed_bursts(queue.loop, n, burst, queue.empty),
                  setup=queue.empty),
        ]  # fmt: skip
        peers = (
            ("call.prometheus", "prometheus_client Histogram.observe", observe),
            ("call.otel", "OpenTelemetry SDK Histogram.record", record),
        )
        for key, label, peer in peers:
            if peer is not None:  # an optional peer that is not installed is left out
                timed = partial(timed_bursts, observe_loop(peer), n, burst)
                cases.append(_case(key, label, n, timed))
        cases += [
            _case("emit.none", "emit, nothing attached", n,
                  lambda: timed_bursts(emit_loop, n, burst)),
            _case("emit.one", "emit, 1 running experiment", n,
                  lambda: timed_bursts(emit_loop, n, burst, rt.flush),
                  setup=one.setup, teardown=one.teardown),
            _case("call.empty_varied", "empty function call over the realistic events", n,
                  lambda: timed_bursts(empty_varied, n, burst)),
            _case("emit.realistic", "emit, 1 running experiment, realistic events", n,
                  lambda: timed_bursts(emit_varied, n, burst, rt.flush),
                  setup=one.setup, teardown=one.teardown,
                  note=f"{REALISTIC_EVENTS:,} distinct events, cycled"),
            _case("emit.ten", "emit, 10 running experiments", n_ten,
                  lambda: timed_bursts(emit_loop, n_ten, burst, rt.flush),
                  setup=ten.setup, teardown=ten.teardown,
                  note=f"{n_ten:,} calls per repetition"),
        ]  # fmt: skip
        results = await run_cases(cases, config.reps)
    baselines = {"prometheus_client": observe, "opentelemetry-sdk": record}
    missing = [name for name, found in baselines.items() if found is None]
    drops = Measurement(
        "emit.dropped", "events dropped (must be 0)", "events", [float(one.dropped + ten.dropped)]
    )
    skipped = [
        Measurement(f"emit.skipped.{name}", f"{name} baseline", "", note="skipped: not installed")
        for name in missing
    ]
    return [*results, drops, *skipped]
