"""The runtime computes on the thread that runs it and leaves the other cores alone.

Services embed the runtime next to their own threads and processes, so a
flood of events must not set helper threads spinning: numpy's BLAS
(``np.dot``) wakes a pool of OpenBLAS threads that busy-wait after every
call, and folding the live statistics with it burned most of a second core
during ingest.
"""

from __future__ import annotations

import time

import pytest

from telemetry_actors import Runtime, emit
from tests.conftest import FakeClock

#: Events in the flood: several statistics folds (``FOLD_ROWS`` each), and
#: about a second on the runtime's thread, so that OpenBLAS threads still
#: spinning from an earlier test's BLAS call (about 0.1 s at most) stay
#: well under the share below.
EVENTS = 160_000
#: At most this much CPU time on other threads per second on the runtime's.
OTHER_THREADS_SHARE = 0.25


def _emit_flood(count: int) -> None:
    for i in range(count):
        emit(
            "req_llm.request.stop",
            {"duration": 200_000_000 + (i * 7919) % 1_800_000_000, "status": "ok"},
            {"model": "gpt-4", "tokens": {"prompt": 100 + i % 900, "completion": 20 + i % 300}},
        )


@pytest.mark.skipif(
    not hasattr(time, "thread_time"), reason="needs per-thread CPU clocks (time.thread_time)"
)
async def test_a_flood_of_events_keeps_other_threads_idle(rt: Runtime, clock: FakeClock) -> None:
    experiment = await rt.start_experiment("flood")
    _emit_flood(1_000)  # warm up: imports and first folds outside the measurement
    await rt.flush()
    await rt.streaming_metrics(experiment.id)
    process_before, own_before = time.process_time(), time.thread_time()
    for _ in range(EVENTS // 10_000):
        _emit_flood(10_000)
        clock.advance(1_000)
        await rt.flush()
    metrics = await rt.streaming_metrics(experiment.id)
    own = time.thread_time() - own_before
    others = (time.process_time() - process_before) - own
    assert metrics.latency.count == EVENTS + 1_000
    assert others <= OTHER_THREADS_SHARE * own, (others, own)
