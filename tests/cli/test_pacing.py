"""Pacing the live demo: a late frame never asks for a negative sleep, and never bursts."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from telemetry_actors.cli import DemoConfig, Progress, run_demo
from telemetry_actors.cli._pacing import FramePacer

from .helpers import run_in_terminal


class FakeMonotonic:
    """A monotonic clock in seconds that moves only when told to."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_on_time_frames_sleep_out_their_slot() -> None:
    clock = FakeMonotonic()
    pacer = FramePacer(0.1, monotonic=clock)
    clock.now += 0.03  # frame 1 took 30 ms of its 100 ms slot
    assert pacer.delay() == pytest.approx(0.07)
    clock.now += 0.07 + 0.01  # slept, then frame 2 took 10 ms
    assert pacer.delay() == pytest.approx(0.09)


def test_a_late_frame_gets_no_delay_and_the_schedule_skips_ahead() -> None:
    clock = FakeMonotonic()
    pacer = FramePacer(0.1, monotonic=clock)
    clock.now += 0.35  # frame 1 overran its slot by 250 ms (2.5 slots)
    assert pacer.delay() == 0.0
    # No catching up: the next frame gets a whole slot from now, not a burst of
    # zero delays until the original schedule is met again.
    clock.now += 0.02
    assert pacer.delay() == pytest.approx(0.08)
    assert pacer.late_frames == 1


def test_a_frame_exactly_on_its_deadline_gets_zero() -> None:
    clock = FakeMonotonic()
    pacer = FramePacer(0.1, monotonic=clock)
    clock.now += 0.1
    assert pacer.delay() == 0.0
    assert pacer.late_frames == 0


def test_frame_length_must_be_positive() -> None:
    with pytest.raises(ValueError, match="seconds per frame must be > 0, got 0"):
        FramePacer(0.0)


def test_paced_demo_survives_a_frame_slower_than_its_slot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The pacer's clock is injected: a frame "takes" what the report says it
    # does, so the test neither sleeps nor measures wall time.
    clock = FakeMonotonic()
    delays: list[float] = []

    class RecordingPacer(FramePacer):
        def __init__(self, seconds_per_frame: float) -> None:
            super().__init__(seconds_per_frame, monotonic=clock)

        def delay(self) -> float:
            delays.append(super().delay())
            clock.now += delays[-1]  # the demo sleeps it out
            return delays[-1]

    monkeypatch.setattr("telemetry_actors.cli._demo.FramePacer", RecordingPacer)
    frames = 0

    def slow_third_frame(progress: Progress) -> None:
        nonlocal frames
        frames += 1
        # A terminal that takes 250 ms to draw the third frame of a 100 ms slot.
        clock.now += 0.25 if frames == 3 else 0.01

    config = DemoConfig(out=tmp_path / "out", duration=1.0, agents=4, seed=3, paced=True)
    result = anyio.run(run_demo, config, slow_third_frame)
    assert (result.out / "summary.json").is_file()
    assert delays[:2] == [pytest.approx(0.09), pytest.approx(0.09)]
    assert delays[2] == 0.0  # the late frame: no sleep
    # After it the schedule restarts from then: the next frame still waits out
    # a whole slot instead of following at once (a burst).
    assert delays[3] == pytest.approx(0.09)


def test_live_view_in_a_terminal_under_load(tmp_path: Path) -> None:
    # 300 agents make each 100 ms frame of a 1 s study late on a small machine:
    # the timed live view, as a user's terminal shows it.
    status, output = run_in_terminal(
        ["demo", "--duration", "1", "--agents", "300", "--out", str(tmp_path / "out")], tmp_path
    )
    assert status == 0, output[-3000:]
    assert "Traceback" not in output
    assert "A/B comparison" in output
    assert (tmp_path / "out" / "windows.png").is_file()
