"""Repetitions, medians and the :class:`Measurement` record every section returns."""

from __future__ import annotations

import gc
import inspect
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Config:
    """Sizes and repetition counts of one run."""

    reps: int = 5
    calls: int = 200_000
    ingest_n: int = 200_000
    burst: int = 10_000
    store_n: int = 1_000_000
    store_chunk: int = 50_000
    query_repeats: int = 100
    window_us: int = 300_000_000
    step_us: int = 60_000_000
    memory_n: int = 100_000
    #: Events in the store whose reads are watched for loop stalls.
    responsiveness_n: int = 1_000_000
    #: Events emitted at once before ``streaming_metrics`` is watched.
    flood_n: int = 200_000
    #: Repetitions of measurements that take seconds each (reads of 1 M events).
    slow_reps: int = 3
    #: Sparse emits timed one by one (each after a 1 ms sleep), per context.
    sparse_samples: int = 2_000
    #: Events ingested from a clock running backwards (and in order).
    out_of_order_n: int = 100_000

    @classmethod
    def quick(cls) -> Config:
        """Small sizes for a smoke run (well under a minute)."""
        return cls(
            reps=3,
            calls=20_000,
            burst=5_000,
            ingest_n=20_000,
            store_n=50_000,
            store_chunk=25_000,
            query_repeats=20,
            window_us=15_000_000,
            step_us=3_000_000,
            memory_n=10_000,
            responsiveness_n=20_000,
            flood_n=5_000,
            slow_reps=1,
            sparse_samples=200,
            out_of_order_n=10_000,
        )


@dataclass
class Measurement:
    """One measured figure: the median of its samples, in ``unit``."""

    key: str
    label: str
    unit: str
    samples: list[float] = field(default_factory=list)
    note: str = ""

    @property
    def value(self) -> float:
        """The median of the samples (NaN when there are none)."""
        return statistics.median(self.samples) if self.samples else float("nan")


@dataclass
class Case:
    """Something to time: ``timed`` runs between an untimed ``setup`` and ``teardown``.

    ``timed``, ``setup`` and ``teardown`` may be plain or ``async`` callables.
    When ``timed`` returns a float, that is its elapsed seconds (it timed itself
    around untimed pauses); otherwise the whole call is timed.
    ``scale`` turns elapsed seconds into the reported unit (e.g. ns per call).
    """

    key: str
    label: str
    unit: str
    timed: Callable[[], Any]
    scale: float = 1.0
    setup: Callable[[], Any] | None = None
    teardown: Callable[[], Any] | None = None
    note: str = ""


async def _call(function: Callable[[], Any] | None) -> Any:
    if function is None:
        return None
    result = function()
    if inspect.isawaitable(result):
        result = await result
    return result


async def _time_once(case: Case) -> float:
    await _call(case.setup)
    gc.collect()
    started = time.perf_counter()
    result = case.timed()
    if inspect.isawaitable(result):
        result = await result
    elapsed = time.perf_counter() - started
    if isinstance(result, float):
        elapsed = result
    await _call(case.teardown)
    return elapsed * case.scale


async def run_cases(cases: list[Case], reps: int) -> list[Measurement]:
    """Time every case ``reps`` times, interleaved (ABC ABC …) so drift hits all alike.

    gc stays enabled during the timed part, as in real use, and is collected
    before each repetition.
    """
    results = [Measurement(case.key, case.label, case.unit, note=case.note) for case in cases]
    for _ in range(reps):
        for case, result in zip(cases, results, strict=True):
            result.samples.append(await _time_once(case))
    return results


def per_call(n: int) -> float:
    """The ``scale`` that turns seconds for ``n`` calls into ns per call."""
    return 1e9 / n
