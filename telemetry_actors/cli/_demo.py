"""The demo study: a simulated A/B test of LLM agents inside one Runtime.

Two conditions run side by side (one gpt-4 call per query against an ensemble
of three cheaper models, see :mod:`._agents`). Simulated time runs
:data:`TIME_SCALE` times faster than the wall clock: ``duration`` wall
seconds simulate ``duration * TIME_SCALE`` seconds of traffic. Halfway
through, both A/B experiments are paused for a tenth of the study, as one
would during a deploy. For another tenth, before or after the pause, one
model slows down (the incident of :mod:`._incident`), and the A/B
experiments' live anomaly detection flags the slow queries. At the end the
demo compares the conditions, tests the differences, and writes CSV, JSON
Lines, archives and ``summary.json`` into the output folder. With a
``database`` its experiments are also kept there, durable: another process
(``telemetry-actors summarize --database ...``) can read them while it runs.

This module uses only the public API and imports neither rich nor
matplotlib: the CLI draws the live view and the plot from what it returns.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import anyio

from .. import Anomaly, Comparison, Experiment, Runtime, Significance, WindowMetrics
from ._agents import CONDITIONS, agent
from ._databases import display_url, open_runtime
from ._incident import (
    DETECTION,
    FoundIncident,
    Incident,
    anomalies_summary,
    choose_incident,
    found_incidents,
)
from ._pacing import FramePacer
from ._significance import significance_or_note
from ._simclock import SimulatedClock
from ._summary import write_summary
from ._windows import choose_window_us, complete_windows

__all__ = [
    "TIME_SCALE",
    "ConditionView",
    "DemoConfig",
    "DemoResult",
    "Progress",
    "TraceSummary",
    "run_demo",
]

#: Simulated seconds per wall-clock second of the demo.
TIME_SCALE = 60
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


@dataclass(frozen=True)
class TraceSummary:
    """Counts from the trace experiment, which collects the libraries' standard events."""

    events: int
    llm_calls: int
    failed_calls: int
    hedged_calls: int
    tool_calls: int
    failed_tool_calls: int
    ensemble_votes: int


@dataclass(frozen=True)
class DemoResult:
    """What the demo measured and wrote."""

    out: Path
    conditions: tuple[str, ...]
    experiments: tuple[Experiment, ...]
    comparison: Comparison
    windows: dict[str, list[WindowMetrics]]
    window_us: int
    origin_us: int
    pause_us: tuple[int, int]
    trace: TraceSummary
    files: list[Path] = field(default_factory=list)
    #: The database the experiments are kept in, password hidden; None: memory only.
    database: str | None = None
    #: ensemble against single (seeded bootstrap); None without scipy, then a note says why.
    significance: Significance | None = None
    significance_note: str | None = None
    #: The latency incident injected, the anomalies each condition flagged (time
    #: order) and the incidents found in them.
    incident: Incident | None = None
    anomalies: dict[str, list[Anomaly]] = field(default_factory=dict)
    found: dict[str, list[FoundIncident]] = field(default_factory=dict)


ProgressCallback = Callable[[Progress], None]


@dataclass
class _Study:
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


async def run_demo(config: DemoConfig, on_progress: ProgressCallback | None = None) -> DemoResult:
    """Run the simulated A/B study and write its files into ``config.out``.

    ``on_progress`` is called after each frame of simulated time, when the
    queries still in flight are finishing, when the files are being written
    (experiments stopped) and when all is done (experiments archived).
    Same ``seed``, ``agents`` and ``duration``: same numbers.

    Raises:
        ValueError: fewer than two agents or a non-positive duration.
        DatabaseError: ``config.database`` cannot be opened.
    """
    if config.agents < 2:
        raise ValueError(
            f"the demo needs at least 2 agents (one per condition), got {config.agents}"
        )
    if config.duration <= 0:
        raise ValueError(f"duration must be positive seconds, got {config.duration}")
    origin_us = time.time_ns() // 1_000_000_000 * 1_000_000  # now, on a whole second
    clock = SimulatedClock(origin_us)
    span_us = round(config.duration * TIME_SCALE * 1_000_000)
    report = on_progress or _ignore
    async with open_runtime(config.database, clock=clock, export_dir=config.out) as rt:
        incident = choose_incident(config.seed, origin_us, span_us)
        study = _Study(config, rt, clock, origin_us, span_us, incident)
        await _start_experiments(study)
        async with anyio.create_task_group() as agents:
            for index in range(config.agents):
                condition = CONDITIONS[index % len(CONDITIONS)]
                rng = random.Random(f"telemetry-actors-demo:{config.seed}:{index}")
                end_us = origin_us + span_us
                slowdown = incident.slowdown
                await clock.spawn(agents, agent, index, condition, clock, rng, end_us, slowdown)
            await _drive(study, report)
        return await _finish(study, report)


def _ignore(progress: Progress) -> None:
    return None


async def _start_experiments(study: _Study) -> None:
    experiments = []
    for condition in CONDITIONS:
        experiments.append(
            await study.rt.start_experiment(
                f"ab-{condition.name}",
                hypothesis="three cheaper models with a majority vote answer more queries "
                "than gpt-4 alone, at a fraction of the cost",
                condition=condition.name,
                tags=("demo", "ab-test"),
                metadata={"models": list(condition.models), "seed": study.config.seed},
                events=[f"ab.{condition.name}.*"],  # this arm's queries and bills only
                anomaly_detection=DETECTION,
            )
        )
    study.experiments = tuple(experiments)
    study.trace = await study.rt.start_experiment(
        "trace", tags=("demo",), events=["req_llm.*", "hedging.*", "ensemble.*", "altar.tool.*"]
    )


async def _drive(study: _Study, report: ProgressCallback) -> None:
    """Advance simulated time frame by frame, pausing the A/B experiments once."""
    frames = study.frames
    pause_frame, resume_frame = study.pause_frames
    pacer = FramePacer(study.config.duration / frames)  # a late frame skips ahead
    for frame in range(1, frames + 1):
        await study.clock.run_until(study.frame_us(frame))
        if frame == pause_frame:
            for experiment in study.experiments:
                await study.rt.pause_experiment(experiment.id)
            study.phase = "paused"
        elif frame == resume_frame:
            for experiment in study.experiments:
                await study.rt.resume_experiment(experiment.id)
            study.phase = "running"
        report(await _progress(study))
        if study.config.paced:
            await anyio.sleep(pacer.delay())
    study.phase = "finishing queries in flight"
    report(await _progress(study))
    await study.clock.run_all()


async def _progress(study: _Study) -> Progress:
    views = []
    for experiment, condition in zip(study.experiments, CONDITIONS, strict=True):
        rt = study.rt
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
    elapsed = study.clock() - study.origin_us
    return Progress(
        fraction=min(1.0, elapsed / study.span_us),
        simulated_s=elapsed / 1e6,
        total_s=study.span_us / 1e6,
        phase=study.phase,
        conditions=tuple(views),
    )


async def _finish(study: _Study, report: ProgressCallback) -> DemoResult:
    """Stop, compare and write; the last reports show the experiments stopped, then archived."""
    rt, out = study.rt, study.config.out
    ids = [experiment.id for experiment in study.experiments]
    assert study.trace is not None
    for experiment_id in [*ids, study.trace.id]:  # stopped, not left RUNNING in a database
        await rt.stop_experiment(experiment_id)
    study.phase = "writing files"
    report(await _progress(study))
    comparison = await rt.compare_experiments(ids)
    significance, note = await significance_or_note(rt, ids[0], ids[1], seed=study.config.seed)
    window_us = choose_window_us(study.span_us)
    end_us = study.origin_us + study.span_us
    windows = {
        # Windows of the study only: not the tail of queries still in flight at its end.
        condition.name: complete_windows(
            await rt.windowed_metrics(experiment_id, window_us, window_us, percentiles=(95,)),
            end_us,
        )
        for condition, experiment_id in zip(CONDITIONS, ids, strict=True)
    }
    anomalies = {
        condition.name: await rt.anomalies(experiment_id)
        for condition, experiment_id in zip(CONDITIONS, ids, strict=True)
    }
    found = {name: found_incidents(anomalies[name], windows[name]) for name in anomalies}
    trace = _trace_summary((await rt.calculate_metrics(study.trace.id)).events)
    files: list[Path] = []
    for experiment in study.experiments:
        for kind in ("csv", "jsonl"):
            files.append(
                await rt.export(experiment.id, kind, path=out / f"{experiment.name}.{kind}")
            )
    for experiment in study.experiments:
        files.append(
            await rt.archive(experiment.id, path=out / f"{experiment.name}.archive.jsonl")
        )
    experiments = tuple([await rt.get_experiment(experiment_id) for experiment_id in ids])
    config = study.config
    settings = {
        "seed": config.seed,
        "agents": config.agents,
        "simulated_seconds": study.span_us / 1e6,
        "database": _database_text(config),
    }
    files.append(
        write_summary(
            out / "summary.json",
            settings=settings,
            experiments=experiments,
            comparison=comparison,
            significance=significance,
            anomalies=anomalies_summary(study.incident, study.origin_us, anomalies, found),
            trace=trace,
        )
    )
    study.phase = "done"
    report(await _progress(study))
    pause_frame, resume_frame = study.pause_frames
    return DemoResult(
        out=out,
        conditions=tuple(condition.name for condition in CONDITIONS),
        experiments=experiments,
        comparison=comparison,
        windows=windows,
        window_us=window_us,
        origin_us=study.origin_us,
        pause_us=(study.frame_us(pause_frame), study.frame_us(resume_frame)),
        trace=trace,
        files=files,
        database=_database_text(study.config),
        significance=significance,
        significance_note=note,
        incident=study.incident,
        anomalies=anomalies,
        found=found,
    )


def _database_text(config: DemoConfig) -> str | None:
    return None if config.database is None else display_url(config.database)


def _trace_summary(events: dict[str, int]) -> TraceSummary:
    return TraceSummary(
        events=sum(events.values()),
        llm_calls=events.get("req_llm.request.start", 0),
        failed_calls=events.get("req_llm.request.exception", 0),
        hedged_calls=events.get("hedging.request.duplicated", 0),
        tool_calls=events.get("altar.tool.start", 0),
        failed_tool_calls=events.get("altar.tool.exception", 0),
        ensemble_votes=events.get("ensemble.vote.completed", 0),
    )
