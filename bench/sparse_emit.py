"""The caller's cost of a sparse ``emit``: one that has to wake a sleeping actor.

The ``emit`` section times tight loops, where the actor is awake and most
calls just append. Live traffic is often sparse: an LLM call every few
milliseconds, each ``emit`` finding the actor asleep and paying for the
wake-up (a future resolved on the loop thread; ``call_soon_threadsafe``,
i.e. a lock and a write to the loop's self-pipe, from another thread).

Each sample: ``await asyncio.sleep(0.001)`` (or ``time.sleep`` in a foreign
thread) so the actor drains and sleeps again, then one ``emit`` of typical
LLM fields timed alone with ``perf_counter_ns``. Two baselines are timed the
same way in the same iterations, after a sleep of their own: prometheus
``Histogram.observe`` and an empty call with emit's arguments (which shows
the timer's own overhead, included in every figure alike). Whether the actor
was really asleep before each emit is checked (untimed) and reported.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from typing import Any

from telemetry_actors import Runtime, emit

from ._timing import Config, Measurement
from ._workload import EVENT_NAME
from .emit_cost import LATENCY_MS, MEASUREMENTS, METADATA, empty, prometheus_observe

PAUSE_S = 0.001


class Samples:
    """ns of each timed call, per variant, and how many emits found the actor asleep."""

    def __init__(self) -> None:
        self.emit: list[float] = []
        self.observe: list[float] = []
        self.empty: list[float] = []
        self.asleep = 0


def timed_ns(call: Callable[[], Any]) -> float:
    """ns spent in one call of ``call``."""
    started = time.perf_counter_ns()
    call()
    return float(time.perf_counter_ns() - started)


def emit_once() -> None:
    """The emit being timed: typical LLM fields, prebuilt."""
    emit(EVENT_NAME, MEASUREMENTS, METADATA)


def empty_once() -> None:
    """The floor: an empty call with emit's arguments."""
    empty(EVENT_NAME, MEASUREMENTS, METADATA)


async def on_loop(mailbox: Any, observe: Callable[[float], None], n: int) -> Samples:
    """``n`` samples taken in a coroutine on the loop thread that runs the actor."""
    samples = Samples()
    for _ in range(n):
        await asyncio.sleep(PAUSE_S)
        samples.asleep += bool(mailbox.sleeping)
        samples.emit.append(timed_ns(emit_once))
        await asyncio.sleep(PAUSE_S)
        samples.observe.append(timed_ns(lambda: observe(LATENCY_MS)))
        await asyncio.sleep(PAUSE_S)
        samples.empty.append(timed_ns(empty_once))
    return samples


def in_thread(mailbox: Any, observe: Callable[[float], None], n: int) -> Samples:
    """``n`` samples taken in a foreign thread while the loop runs the actor."""
    samples = Samples()
    for _ in range(n):
        time.sleep(PAUSE_S)
        samples.asleep += bool(mailbox.sleeping)
        samples.emit.append(timed_ns(emit_once))
        time.sleep(PAUSE_S)
        samples.observe.append(timed_ns(lambda: observe(LATENCY_MS)))
        time.sleep(PAUSE_S)
        samples.empty.append(timed_ns(empty_once))
    return samples


def _p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10, method="inclusive")[8]


def measurements_of(where: str, label: str, samples: Samples, n: int) -> list[Measurement]:
    """Median (all samples) and p90 of each variant."""
    results = []
    for variant, values, what in (
        ("emit", samples.emit, "emit waking a sleeping actor"),
        ("observe", samples.observe, "prometheus Histogram.observe"),
        ("empty", samples.empty, "empty call with emit's arguments"),
    ):
        results.append(
            Measurement(f"sparse.{where}_{variant}", f"{what}, {label}", "ns/call", values)
        )
        results.append(
            Measurement(
                f"sparse.{where}_{variant}_p90", f"{what}, {label}: p90", "ns/call", [_p90(values)]
            )
        )
    results[0].note = f"actor asleep before {samples.asleep} of {n} emits"
    return results


async def run(config: Config) -> list[Measurement]:
    """Sample sparse emits on the loop thread, then from a foreign thread."""
    n = config.sparse_samples
    observe = prometheus_observe()
    if observe is None:
        return [Measurement("sparse.skipped", "sparse emit", "", note="prometheus_client missing")]
    async with Runtime() as rt:
        experiment_id = (await rt.start_experiment("bench-sparse")).id
        emit_once()  # resolve the route outside the timing
        await rt.flush()
        # Read only to check the actor was asleep before each emit (untimed).
        mailbox = rt._registry.lookup(experiment_id).mailbox
        loop_samples = await on_loop(mailbox, observe, n)
        thread_samples = await asyncio.to_thread(in_thread, mailbox, observe, n)
        await rt.flush()
        stored = len(await rt.get_all(experiment_id))
    results = measurements_of("loop", "on the loop thread", loop_samples, n)
    results += measurements_of("thread", "from a foreign thread", thread_samples, n)
    results[0].note += f"; {stored:,} of {2 * n + 1:,} emitted events stored"
    return results
