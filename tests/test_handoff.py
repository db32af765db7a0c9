"""Worker threads hand the GIL to the event loop between pieces of work; the loop never does."""

from __future__ import annotations

import threading

import pytest

import telemetry_actors._handoff as handoff
from telemetry_actors import Range, Runtime
from tests.conftest import BASE_US, FakeClock, emit_calls


class Recorder:
    """Stands in for ``time.sleep`` and notes which thread called it."""

    def __init__(self) -> None:
        self.threads: list[int] = []

    def __call__(self, seconds: float) -> None:
        assert seconds == 0
        self.threads.append(threading.get_ident())


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    recorder = Recorder()
    monkeypatch.setattr(handoff.time, "sleep", recorder)
    return recorder


def test_only_a_thread_marked_as_worker_hands_over(sleeps: Recorder) -> None:
    handoff.hand_over_gil()
    assert sleeps.threads == []
    with handoff.worker():
        handoff.hand_over_gil()
        with handoff.worker():
            handoff.hand_over_gil()
        handoff.hand_over_gil()  # still a worker after the inner block
    handoff.hand_over_gil()
    assert len(sleeps.threads) == 3


async def test_worker_reads_hand_over_and_reads_on_the_loop_do_not(
    rt: Runtime, clock: FakeClock, sleeps: Recorder
) -> None:
    experiment_id = await emit_calls(rt, clock, "handoff", 3_000)
    loop_thread = threading.get_ident()

    small = await rt.query_window(experiment_id, Range(BASE_US, BASE_US + 99))
    assert len(small) == 100
    assert sleeps.threads == []  # read on the loop: it keeps the GIL

    everything = await rt.get_all(experiment_id)
    assert len(everything) == 3_000
    # Between 512-event pieces and at the batch's check, from the worker only.
    assert len(sleeps.threads) >= 3_000 // 512
    assert loop_thread not in sleeps.threads
