"""The demo's running study: what it is given, its schedule, and its progress reports.

:class:`Study` holds the runtime, the simulated clock and the experiments of
one run of :func:`._demo.run_demo`, and knows its schedule: how many frames,
when the A/B experiments are paused. :meth:`Study.progress` reads each
condition's live figures for the live view: two runtime reads per condition,
once per frame.

Imports neither rich nor matplotlib (the demo uses it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .. import Experiment, Runtime
from ._agents import CONDITIONS
from ._incident import Incident
from ._simclock import SimulatedClock

__all__ = ["PAUSE", "ConditionView", "DemoConfig", "Progress", "ProgressCallback", "Study"]

#: Share of the study, as (start, end), during which the A/B experiments are paused.
PAUSE = (0.45, 0.55)


@dataclass(frozen=True)
class DemoConfig:
    """What the demo simulates and where it writes.

    Attributes:
        out: the output folder (created).
        duration: wall-clock seconds of a paced run; the study simulates
            ``duration * TIME_SCALE`` seconds of traffic.
        agents: simulated agents, split evenly between the two conditions.
        seed: fixes every simulated number.
        paced: run in real time (for the live view) or as fast as possible.
        frames_per_second: progress reports per wall-clock second.
        database: where the experiments are kept, as ``Runtime(database=...)``
            takes it (a path, ``sqlite:///path``, ``postgresql://...``);
            None keeps them in memory only.
    """

    out: Path
    duration: float = 15.0
    agents: int = 32
    seed: int = 0
    paced: bool = True
    frames_per_second: float = 10.0
    database: str | Path | None = None


@dataclass(frozen=True)
class ConditionView:
    """Live figures of one condition's experiment."""

    condition: str
    description: str
    status: str
    events: int
    queries: int
    mean_latency_ms: float | None
    p95_latency_ms: float | None
    cost_usd: float
    success_rate: float | None
    dropped: int
    mailbox_depth: int
    mailbox_high_water: int
    restarts: int
    last_crash: str | None
    actor_seconds: float
    #: Values flagged by live anomaly detection so far.
    anomalies: int = 0


@dataclass(frozen=True)
class Progress:
    """One progress report: how far the study is and what each condition shows."""

    fraction: float
    simulated_s: float
    total_s: float
    phase: str
    conditions: tuple[ConditionView, ...]


ProgressCallback = Callable[[Progress], None]


@dataclass
class Study:
    """The running study: runtime, clock, experiments and schedule."""

    config: DemoConfig
    rt: Runtime
    clock: SimulatedClock
    origin_us: int
    span_us: int
    incident: Incident
    experiments: tuple[Experiment, ...] = ()
    trace: Experiment | None = None
    phase: str = "running"

    @property
    def frames(self) -> int:
        """How many progress reports (and pacing steps) the study has."""
        return max(10, round(self.config.duration * self.config.frames_per_second))

    @property
    def pause_frames(self) -> tuple[int, int]:
        """The frames after which the A/B experiments are paused and resumed."""
        pause = round(self.frames * PAUSE[0])
        return pause, max(pause + 1, round(self.frames * PAUSE[1]))

    def frame_us(self, frame: int) -> int:
        """The virtual time at the end of ``frame``."""
        return self.origin_us + self.span_us * frame // self.frames

    async def progress(self) -> Progress:
        """One progress report: how far the study is and what each condition shows."""
        views = []
        for experiment, condition in zip(self.experiments, CONDITIONS, strict=True):
            rt = self.rt
            live = await rt.streaming_metrics(experiment.id)
            statistics = await rt.statistics(experiment.id)
            views.append(
                ConditionView(
                    condition=condition.name,
                    description=condition.description,
                    status=statistics.status.value,
                    events=sum(live.event_counts.values()),
                    queries=live.latency.count,
                    mean_latency_ms=live.latency.mean,
                    p95_latency_ms=live.latency.p95,  # live: within 1 % of exact
                    cost_usd=live.cost.total,
                    success_rate=live.reliability.success_rate,
                    dropped=live.dropped,
                    mailbox_depth=statistics.mailbox_depth,
                    mailbox_high_water=statistics.mailbox_high_water,
                    restarts=statistics.restarts,
                    last_crash=statistics.last_crash,
                    actor_seconds=statistics.processing_seconds,
                    anomalies=sum(live.anomalies.values()),
                )
            )
        elapsed = self.clock() - self.origin_us
        return Progress(
            fraction=min(1.0, elapsed / self.span_us),
            simulated_s=elapsed / 1e6,
            total_s=self.span_us / 1e6,
            phase=self.phase,
            conditions=tuple(views),
        )
