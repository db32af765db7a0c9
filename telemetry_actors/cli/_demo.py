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

This module starts the study and drives its clock; :mod:`._study` holds its
state and progress reports, :mod:`._demo_results` its end. They use only the
public API and import neither rich nor matplotlib: the CLI draws the live
view and the plot from what they return.
"""

from __future__ import annotations

import random
import time

import anyio

from ._agents import CONDITIONS, agent
from ._databases import open_runtime
from ._demo_results import DemoResult, TraceSummary, finish
from ._incident import DETECTION, choose_incident
from ._pacing import FramePacer
from ._simclock import SimulatedClock
from ._study import ConditionView, DemoConfig, Progress, ProgressCallback, Study

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
        study = Study(config, rt, clock, origin_us, span_us, incident)
        await _start_experiments(study)
        async with anyio.create_task_group() as agents:
            for index in range(config.agents):
                condition = CONDITIONS[index % len(CONDITIONS)]
                rng = random.Random(f"telemetry-actors-demo:{config.seed}:{index}")
                end_us = origin_us + span_us
                slowdown = incident.slowdown
                await clock.spawn(agents, agent, index, condition, clock, rng, end_us, slowdown)
            await _drive(study, report)
        return await finish(study, report)


def _ignore(progress: Progress) -> None:
    return None


async def _start_experiments(study: Study) -> None:
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


async def _drive(study: Study, report: ProgressCallback) -> None:
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
        report(await study.progress())
        if study.config.paced:
            await anyio.sleep(pacer.delay())
    study.phase = "finishing queries in flight"
    report(await study.progress())
    await study.clock.run_all()
