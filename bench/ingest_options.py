"""What live anomaly detection and each sampling strategy add to ingest.

The ``ingest`` section's interleaved workload (the same ``ingest_n`` prebuilt
``llm_event`` tuples, emitted in bursts of 1,000 with a yield between, then
``flush``), into one experiment started with:

- nothing (detection off, every event kept): the plain figure again, so
  every ratio here has its own same-run reference;
- ``AnomalyDetection(metrics=("latency_ms", "cost_usd"), methods=("mad", "ewma"))``;
- ``sampling=Uniform(0.1)``, ``Reservoir(10_000)``,
  ``Stratified({False: 1.0, True: 0.1})`` (by success: every failure, a
  tenth of the successes), and ``Adaptive(0.1)`` with the detection above
  (which it needs: it keeps everything while anomalies are flagged).

Each against the ``ingest`` section's bare asyncio pipeline, timed in the
same run (interleaved, median of ``config.reps``). Sampling decides after
enrichment, so the emit and decode costs stay; what changes is the work
per event in the actor and how many rows are stored.
"""

from __future__ import annotations

from typing import Any

from telemetry_actors import Adaptive, AnomalyDetection, Reservoir, Runtime, Stratified, Uniform

from ._timing import Config, Measurement, run_cases
from ._workload import llm_events
from .ingest import INTERLEAVED_BURST, BarePipeline, PackageIngest, bare_case, package_case

DETECTION = AnomalyDetection(metrics=("latency_ms", "cost_usd"), methods=("mad", "ewma"))

OPTIONS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("off", "detection off, no sampling", {}),
    ("anomaly", "AnomalyDetection(latency, cost; mad, ewma)", {"anomaly_detection": DETECTION}),
    ("uniform", "sampling=Uniform(0.1)", {"sampling": Uniform(0.1, seed=1)}),
    ("reservoir", "sampling=Reservoir(10_000)", {"sampling": Reservoir(10_000, seed=1)}),
    (
        "stratified",
        "sampling=Stratified({False: 1.0, True: 0.1})",
        {"sampling": Stratified({False: 1.0, True: 0.1}, seed=1)},
    ),
    (
        "adaptive",
        "sampling=Adaptive(0.1) with the detection above",
        {"sampling": Adaptive(0.1, seed=1), "anomaly_detection": DETECTION},
    ),
)  # fmt: skip


async def run(config: Config) -> list[Measurement]:
    """Time ingest under each option and the bare pipeline, interleaved."""
    n = config.ingest_n
    events = llm_events(n)
    async with Runtime(mailbox_size=n + 1024) as rt:
        ingests = {
            key: PackageIngest(rt, events, INTERLEAVED_BURST, options)
            for key, _, options in OPTIONS
        }
        cases = [
            package_case(f"options.{key}", f"ingest {n:,}, {label}", ingests[key])
            for key, label, _ in OPTIONS
        ]
        cases.append(
            bare_case(
                "options.bare",
                f"bare asyncio pipeline, {n:,} events (as in ingest)",
                BarePipeline(events, INTERLEAVED_BURST),
            )
        )
        results = await run_cases(cases, config.reps)
    for result, (key, _, _) in zip(results, OPTIONS, strict=False):
        ingest = ingests[key]
        result.note = f"{ingest.stored:,} stored, {ingest.dropped} dropped"
    return results
