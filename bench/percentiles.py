"""Live (streaming) percentile accuracy and cost: the hook for when they exist.

Today ``StreamingLatency`` has no percentile fields, so this section reports
n/a. When fields such as ``p50``/``p90``/``p99`` appear, it compares them with
the exact percentiles of ``calculate_metrics`` on the same events and times
``streaming_metrics``; the ingest section already shows the per-event cost.
"""

from __future__ import annotations

from telemetry_actors import Runtime, StreamingLatency, emit

from ._timing import Case, Config, Measurement, run_cases
from ._workload import llm_event

QUANTILES = ("p50", "p90", "p95", "p99")


def streaming_quantiles() -> tuple[str, ...]:
    """The percentile fields ``StreamingLatency`` offers (empty today)."""
    fields = set(StreamingLatency.__struct_fields__)
    return tuple(q for q in QUANTILES if q in fields)


async def run(config: Config) -> list[Measurement]:
    """Relative error of each live percentile and the cost of reading them."""
    quantiles = streaming_quantiles()
    if not quantiles:
        return [
            Measurement(
                "percentiles.na", "live percentiles", "", note="n/a (no streaming percentiles yet)"
            )
        ]
    n = config.ingest_n
    async with Runtime(mailbox_size=n + 1024) as rt:
        experiment_id = (await rt.start_experiment("bench-percentiles")).id
        for i in range(n):
            emit(*llm_event(i))
        await rt.flush()
        live = (await rt.streaming_metrics(experiment_id)).latency
        exact = (await rt.calculate_metrics(experiment_id)).latency
        errors = [
            Measurement(
                f"percentiles.{q}_error",
                f"live {q} relative error",
                "%",
                [abs(getattr(live, q) - getattr(exact, q)) / getattr(exact, q) * 100],
            )
            for q in quantiles
        ]
        repeats = config.query_repeats

        async def reads() -> None:
            for _ in range(repeats):
                await rt.streaming_metrics(experiment_id)

        cost = await run_cases(
            [
                Case(
                    "percentiles.read",
                    "streaming_metrics() with percentiles",
                    "µs/call",
                    reads,
                    1e6 / repeats,
                )
            ],
            config.reps,
        )
    return [*errors, *cost]
