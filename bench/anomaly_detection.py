"""Live anomaly detection cost per event, as an experiment's ingest would pay it.

Two metrics (``latency_ms`` from the ``llm_event`` durations, ``cost_usd`` from
its token counts at $30 / $60 per million) through a ``LiveDetector`` with
window 1000, fed ``ingest_n`` events: one ``observe`` call per event (a dict
per event, built untimed), and ``observe_many`` on the whole batch of columns.
Method pairs: the contract's example (mad + ewma), and zscore + iqr.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from telemetry_actors._stats._anomaly import AnomalyDetection, LiveDetector

from ._timing import Config, Measurement

Floats = npt.NDArray[np.float64]


def columns(n: int) -> dict[str, Floats]:
    """Latency and cost of ``llm_event(0) … llm_event(n - 1)``."""
    i = np.arange(n, dtype=np.int64)
    latency = (200_000_000 + (i * 7919) % 1_800_000_000) / 1e6
    cost = ((100 + i % 900) * 30 + (20 + i % 300) * 60) / 1e6
    return {"latency_ms": latency, "cost_usd": cost}


def timed_observe(spec: AnomalyDetection, data: dict[str, Floats]) -> Callable[[], float]:
    """Seconds for ``observe`` on every event, with the per-event dicts built beforehand."""
    n = len(data["latency_ms"])
    ids = [f"e{i}" for i in range(n)]
    latencies, costs = data["latency_ms"].tolist(), data["cost_usd"].tolist()
    rows = [
        {"latency_ms": latency, "cost_usd": cost}
        for latency, cost in zip(latencies, costs, strict=True)
    ]

    def run() -> float:
        detector = LiveDetector(spec)
        observe = detector.observe
        started = time.perf_counter()
        for i in range(n):
            observe(ids[i], i, rows[i])
        return time.perf_counter() - started

    return run


def timed_batch(spec: AnomalyDetection, data: dict[str, Floats]) -> Callable[[], float]:
    """Seconds for one ``observe_many`` over all events."""
    n = len(data["latency_ms"])
    ids = [f"e{i}" for i in range(n)]
    stamps = np.arange(n, dtype=np.int64)

    def run() -> float:
        detector = LiveDetector(spec)
        started = time.perf_counter()
        detector.observe_many(ids, stamps, data)
        return time.perf_counter() - started

    return run


async def run(config: Config) -> list[Measurement]:
    """ns per event of each way in, for two pairs of methods, window 1000."""
    n = config.ingest_n
    data = columns(n)
    results = []
    for methods in (("mad", "ewma"), ("zscore", "iqr")):
        spec = AnomalyDetection(metrics=("latency_ms", "cost_usd"), methods=methods, window=1000)
        pair = " + ".join(methods)
        for key, label, make in (
            ("observe", "observe() per event", timed_observe),
            ("batch", "observe_many() per event", timed_batch),
        ):
            measurement = Measurement(
                f"anomaly.{key}_{'_'.join(methods)}",
                f"{label}, {pair} on 2 metrics, window 1000",
                "ns/event",
            )
            timed = make(spec, data)
            for _ in range(config.reps):
                measurement.samples.append(timed() * 1e9 / n)
            results.append(measurement)
    example = AnomalyDetection(metrics=("latency_ms", "cost_usd"), methods=("mad", "ewma"))
    flagged = LiveDetector(example)
    flagged.observe_many([f"e{i}" for i in range(n)], np.arange(n), data)
    results[0].note = f"{n:,} events; flags: {flagged.counts()}"
    return results
