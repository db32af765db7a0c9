"""Pacing the live demo: one frame of simulated time per slot of wall-clock time.

A frame that overruns its slot (a slow terminal, a loaded machine) gets no
delay, and the schedule restarts from that moment: the next frame again gets
a whole slot. The demo thus skips ahead rather than catching up with a burst
of undelayed frames, which would redraw the live view as fast as possible
and make the progress jump. The price is that a late run takes longer than
``--duration`` in wall-clock time; the simulated numbers never depend on it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["FramePacer"]


class FramePacer:
    """Delays between frames that keep a steady frame rate on a monotonic clock.

    Example:
        >>> ticks = iter([0.0, 0.03, 0.5])
        >>> pacer = FramePacer(0.1, monotonic=lambda: next(ticks))
        >>> round(pacer.delay(), 2)  # frame 1 took 30 ms of its 100 ms slot
        0.07
        >>> pacer.delay()  # frame 2 ended 300 ms late: no sleep, no catching up
        0.0
    """

    def __init__(
        self, seconds_per_frame: float, *, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        """Start the schedule now: the first frame's slot ends ``seconds_per_frame`` from now.

        Raises:
            ValueError: ``seconds_per_frame`` is not positive.
        """
        if not seconds_per_frame > 0:
            raise ValueError(f"seconds per frame must be > 0, got {seconds_per_frame}")
        self._slot = seconds_per_frame
        self._monotonic = monotonic
        self._deadline = monotonic() + seconds_per_frame
        self.late_frames = 0

    def delay(self) -> float:
        """Seconds to sleep after the frame just drawn; never negative. O(1).

        A late frame gets 0 and moves the schedule: the next slot starts now.
        """
        now = self._monotonic()
        delay = self._deadline - now
        if delay < 0:
            self.late_frames += 1
            delay, self._deadline = 0.0, now
        self._deadline += self._slot
        return delay
