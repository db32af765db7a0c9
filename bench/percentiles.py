"""Live (streaming) percentile accuracy and cost, against the exact ``calculate_metrics``.

``streaming_metrics`` folds the latencies stored since its last call into a
sketch (see ``telemetry_actors._sketch``), so its cost has two parts: per new
event once, and per read. Both are timed here, next to ``calculate_metrics``,
which sorts every latency for the exact percentiles.
"""

from __future__ import annotations

import time

from telemetry_actors import Runtime, emit

from ._timing import Case, Config, Measurement, run_cases
from ._workload import llm_event

QUANTILES = ("p50", "p90", "p95", "p99")


async def run(config: Config) -> list[Measurement]:
    """Relative error of each live percentile and the cost of keeping and reading them."""
    n = config.ingest_n
    fold = Measurement(
        "percentiles.fold", f"folding {n:,} new latencies into the sketch", "ns/event"
    )
    async with Runtime(mailbox_size=n + 1024) as rt:
        for _ in range(config.reps):
            experiment_id = (await rt.start_experiment("bench-percentiles")).id
            for i in range(n):
                emit(*llm_event(i))
            await rt.flush()
            started = time.perf_counter()
            live = (await rt.streaming_metrics(experiment_id)).latency
            fold.samples.append((time.perf_counter() - started) * 1e9 / n)
            await rt.cleanup(experiment_id)
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
