"""Live (streaming) percentile accuracy and cost, against the exact ``calculate_metrics``.

The live statistics fold each ingest batch's numbers into a sketch (see
``telemetry_actors._stats._sketch``), so their cost has two parts: per new
event once, and per read. The actor folds whenever 65,536 rows are waiting
and ``streaming_metrics`` folds the rest, so the fold is timed directly:
``StreamingState.fold`` of ``ingest_n`` events' numbers in batches of 256
(the actor's batch cap), fresh state per repetition. Reads are timed next to
``calculate_metrics``, which partitions every latency for exact percentiles.
"""

from __future__ import annotations

import time

import numpy as np

from telemetry_actors import Runtime, emit
from telemetry_actors._stats._streaming import StatsBatch, StreamingState

from ._timing import Case, Config, Measurement, run_cases
from ._workload import EVENT_NAME, llm_event

QUANTILES = ("p50", "p90", "p95", "p99")
#: Rows per ingest batch: the actor's cap.
BATCH_ROWS = 256


def stats_batches(n: int) -> list[StatsBatch]:
    """The numbers of ``llm_event(0) … llm_event(n - 1)`` as the actor queues them."""
    i = np.arange(n, dtype=np.int64)
    latency = (200_000_000 + (i * 7919) % 1_800_000_000) / 1e6
    cost = ((100 + i % 900) * 30 + (20 + i % 300) * 60) / 1e6
    success = np.where(i % 50 == 0, 0, 1).astype(np.int8)
    names = np.zeros(n, dtype=np.int32)
    return [
        StatsBatch(names[a : a + BATCH_ROWS], latency[a : a + BATCH_ROWS],
                   cost[a : a + BATCH_ROWS], success[a : a + BATCH_ROWS])
        for a in range(0, n, BATCH_ROWS)
    ]  # fmt: skip


async def run(config: Config) -> list[Measurement]:
    """Relative error of each live percentile and the cost of keeping and reading them."""
    n = config.ingest_n
    fold = Measurement(
        "percentiles.fold",
        f"StreamingState.fold of {n:,} events' numbers (batches of 256)",
        "ns/event",
    )
    batches = stats_batches(n)
    for _ in range(config.reps):
        state = StreamingState()
        started = time.perf_counter()
        state.fold(batches, (EVENT_NAME,))
        fold.samples.append((time.perf_counter() - started) * 1e9 / n)
    async with Runtime(mailbox_size=n + 1024) as rt:
        experiment_id = (await rt.start_experiment("bench-percentiles")).id
        for i in range(n):
            emit(*llm_event(i))
        await rt.flush()
        live = (await rt.streaming_metrics(experiment_id)).latency
        exact = (await rt.calculate_metrics(experiment_id)).latency
        errors = []
        for q in QUANTILES:
            estimate, truth = getattr(live, q), getattr(exact, q)
            errors.append(
                Measurement(
                    f"percentiles.{q}_error",
                    f"live {q} relative error ({estimate:,.1f} vs exact {truth:,.1f} ms)",
                    "%",
                    [abs(estimate - truth) / truth * 100],
                )
            )
        repeats = config.query_repeats

        async def reads() -> None:
            for _ in range(repeats):
                await rt.streaming_metrics(experiment_id)

        costs = await run_cases(
            [
                Case(
                    "percentiles.read",
                    "streaming_metrics() with live percentiles",
                    "µs/call",
                    reads,
                    1e6 / repeats,
                ),
                Case(
                    "percentiles.exact",
                    f"calculate_metrics() (exact percentiles) at {n:,}",
                    "µs/call",
                    lambda: rt.calculate_metrics(experiment_id),
                    1e6,
                ),
            ],
            config.reps,
        )
    return [*errors, fold, *costs]
