"""Ingest of events arriving out of time order, against the same events in order.

The contract: "Events arriving out of time order cost O(log n) each,
amortised: ingest never slows down quadratically" (the old store re-sorted
on every late event: 8.1 s for 100,000 backwards events against 0.05 s in
order). Two runtimes, one with a fake clock running backwards 1 ms per
event, one running forwards, get the same ``out_of_order_n`` prebuilt
``llm_event`` tuples, emitted as in the ``ingest`` section (bursts of 1,000,
a yield between, then ``flush``); only one experiment runs at a time, so
each emit reaches one store. Interleaved, median of ``config.reps``.

Out-of-order rows may also cost at read time (a time-ordered view must be
sorted), so ``calculate_metrics`` on each finished store is timed too.
"""

from __future__ import annotations

from telemetry_actors import Runtime

from ._timing import Case, Config, Measurement, run_cases
from ._workload import START_US, STEP_US, SteppingClock, llm_events
from .ingest import INTERLEAVED_BURST, PackageIngest, package_case


class ClockReset:
    """Set-up that puts a fake clock back at its start before each repetition."""

    def __init__(self, clock: SteppingClock, start: int, ingest: PackageIngest) -> None:
        self.clock, self.start, self.ingest = clock, start, ingest

    async def __call__(self) -> None:
        self.clock.now = self.start
        await self.ingest.setup()


async def run(config: Config) -> list[Measurement]:
    """Time backwards and in-order ingest, then a read of each store."""
    n = config.out_of_order_n
    events = llm_events(n)
    span = n * STEP_US
    backwards = SteppingClock(START_US + span, -STEP_US)
    forwards = SteppingClock(START_US, STEP_US)
    size = n + 1024
    async with (
        Runtime(clock=backwards, mailbox_size=size) as rt_back,
        Runtime(clock=forwards, mailbox_size=size) as rt_forward,
    ):
        late = PackageIngest(rt_back, events, INTERLEAVED_BURST)
        ordered = PackageIngest(rt_forward, events, INTERLEAVED_BURST)
        late_case = package_case(
            "order.backwards", f"ingest {n:,} events, clock running backwards", late
        )
        late_case.setup = ClockReset(backwards, START_US + span, late)
        ordered_case = package_case(
            "order.forwards", f"ingest {n:,} events, clock running forwards", ordered
        )
        ordered_case.setup = ClockReset(forwards, START_US, ordered)
        results = await run_cases([late_case, ordered_case], config.reps)
        for result, ingest in zip(results, (late, ordered), strict=True):
            result.note = f"{ingest.stored:,} stored, {ingest.dropped} dropped"
        # One store of each kind, kept (stopped, so no later emit reaches it).
        stores = []
        for rt, clock, start in (
            (rt_back, backwards, START_US + span),
            (rt_forward, forwards, START_US),
        ):
            keep = PackageIngest(rt, events, INTERLEAVED_BURST)
            clock.now = start
            await keep.setup()
            await keep.timed()
            await rt.stop_experiment(keep.experiment_id)
            stores.append((rt, keep.experiment_id))
        (rt_b, id_b), (rt_f, id_f) = stores
        results += await run_cases(
            [
                Case(
                    "order.read_backwards",
                    f"calculate_metrics on the backwards store ({n:,})",
                    "ms",
                    lambda: rt_b.calculate_metrics(id_b),
                    1e3,
                ),
                Case(
                    "order.read_forwards",
                    f"calculate_metrics on the in-order store ({n:,})",
                    "ms",
                    lambda: rt_f.calculate_metrics(id_f),
                    1e3,
                ),
            ],
            config.reps,
        )
    return results
