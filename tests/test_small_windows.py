"""Small windows read on the loop and bulk-decoded rows equal the worker's row-by-row reads."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import telemetry_actors._storage._materialize as materialize_module
import telemetry_actors._storage._reads as reads_module
from telemetry_actors import Event, Last, LastN, Range, Runtime, emit
from tests.conftest import BASE_US, FakeClock, emit_calls

_metadata = st.sampled_from(
    [
        {"model": "gpt-4", "tokens": {"prompt": 3, "completion": 4}},
        {"pair": (1, 2)},  # kept exactly (marshal), not MessagePack
        {"when": b"\x00\x01"},
        {},
    ]
)


async def _windows(rt: Runtime, experiment_id: str, now: int) -> list[list[Event]]:
    return [
        await rt.query_window(experiment_id, Last(1, "seconds"), now=now),
        await rt.query_window(experiment_id, Range(BASE_US + 5, BASE_US + 30)),
        await rt.query_window(experiment_id, LastN(7)),
        await rt.get_all(experiment_id),
    ]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 60), _metadata), min_size=1, max_size=120))
def test_every_read_path_gives_the_same_events(steps: list[tuple[int, dict[str, Any]]]) -> None:
    """On the loop or in a worker, decoded in bulk or row by row: the same events,
    in and out of time order, with rows of every storage kind."""

    async def main() -> list[list[list[Event]]]:
        clock = FakeClock()
        results = []
        async with Runtime(clock=clock) as rt:
            experiment = await rt.start_experiment("windows", events=["app.*"])
            for index, (offset, metadata) in enumerate(steps):
                clock.now = BASE_US + offset
                emit("app.call", {"duration": index}, metadata)
            await rt.flush()
            now = BASE_US + 60
            results.append(await _windows(rt, experiment.id, now))
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(reads_module, "INLINE_ROWS", 0)  # every window in a worker
                patch.setattr(materialize_module, "BULK_ROWS", 1 << 30)  # row by row
                results.append(await _windows(rt, experiment.id, now))
        return results

    fast, slow = anyio.run(main)
    assert fast == slow
    assert [type(event.metadata.get("pair")) for event in fast[3]] == [
        type(event.metadata.get("pair")) for event in slow[3]
    ]


async def test_a_small_window_is_read_on_the_loop_a_large_one_in_a_worker(
    rt: Runtime, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    experiment_id = await emit_calls(rt, clock, "where", 30)
    workers: list[str] = []
    window_events = reads_module.window_events

    def counted(*args: Any, **kwargs: Any) -> list[Event]:
        workers.append("worker")
        return window_events(*args, **kwargs)

    monkeypatch.setattr("telemetry_actors._runtime_reads.window_events", counted)
    small = await rt.query_window(experiment_id, Range(BASE_US, BASE_US + 9))
    assert [event.measurements["duration"] for event in small] == list(range(10))
    assert workers == []
    monkeypatch.setattr(reads_module, "INLINE_ROWS", 5)
    large = await rt.query_window(experiment_id, Range(BASE_US, BASE_US + 9))
    assert large == small
    assert workers == ["worker"]
    filtered = await rt.query_window(
        experiment_id, Range(BASE_US, BASE_US + 9), where=lambda e: True
    )
    assert filtered == small
    assert workers == ["worker", "worker"]  # a where predicate never runs on the loop


async def test_rows_sorted_within_a_batch_are_decoded_in_their_own_order(
    rt: Runtime, clock: FakeClock
) -> None:
    """A batch that arrived out of time order is sorted: its payloads are no longer
    back to back in time order, and each event must still get its own fields."""
    experiment = await rt.start_experiment("shuffled", events=["app.*"])
    offsets = [(index * 37) % 101 for index in range(101)]  # a permutation of 0..100
    for offset in offsets:
        clock.now = BASE_US + offset
        emit("app.call", {"duration": offset}, {"model": f"m{offset}", "n": "x" * (offset % 5)})
    await rt.flush()
    expected = list(range(101))
    for read in (
        rt.get_all(experiment.id),
        rt.query_window(experiment.id, Range(BASE_US, BASE_US + 100)),
        rt.query_window(experiment.id, LastN(101)),
    ):
        events = await read
        assert [event.measurements["duration"] for event in events] == expected
        assert [event.metadata["model"] for event in events] == [f"m{i}" for i in expected]
        assert [event.model for event in events] == [f"m{i}" for i in expected]
