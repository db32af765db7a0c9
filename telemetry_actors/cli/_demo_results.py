"""The demo's end: stop the experiments, measure, write the files, return the result.

:func:`finish` compares the conditions, tests the differences, finds the
incident in the anomalies, and writes CSV, JSON Lines, archives and
``summary.json`` into the output folder; :class:`DemoResult` is what the CLI
then prints and plots. The cost is a few reads of each experiment and one
file per export.

Imports neither rich nor matplotlib (the demo uses it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .. import Anomaly, Comparison, Experiment, Significance, WindowMetrics
from ._agents import CONDITIONS
from ._databases import display_url
from ._incident import FoundIncident, Incident, anomalies_summary, found_incidents
from ._significance import significance_or_note
from ._study import DemoConfig, ProgressCallback, Study
from ._summary import write_summary
from ._windows import choose_window_us, complete_windows

__all__ = ["DemoResult", "TraceSummary", "finish"]


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


async def finish(study: Study, report: ProgressCallback) -> DemoResult:
    """Stop, compare and write; the last reports show the experiments stopped, then archived."""
    rt, out = study.rt, study.config.out
    ids = [experiment.id for experiment in study.experiments]
    assert study.trace is not None
    for experiment_id in [*ids, study.trace.id]:  # stopped, not left RUNNING in a database
        await rt.stop_experiment(experiment_id)
    study.phase = "writing files"
    report(await study.progress())
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
    report(await study.progress())
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
