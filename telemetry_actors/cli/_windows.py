"""The windowed series that ``plot`` and the demo draw: complete windows only.

The library's ``windowed_metrics`` keeps a last window that runs past the last
event; its totals cover only part of its length, so a plot would show a drop
in cost and traffic that never happened. Only complete windows are plotted:
a window ``[start, end)`` is complete when the data reaches its end.

Imports neither rich nor matplotlib (the demo uses it).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .. import Experiment, Runtime, WindowMetrics
from ._archives import label_of
from ._durations import format_duration
from ._errors import CommandLineError

__all__ = [
    "MAX_WINDOWS",
    "Series",
    "SeriesPlan",
    "choose_window_us",
    "complete_windows",
    "plan_series",
]

#: More windows than this per line is a mistyped ``--step``, not a plot anyone can read.
MAX_WINDOWS = 10_000


@dataclass(frozen=True)
class Series:
    """One line per panel of a plot: an experiment's windows."""

    label: str
    condition: str
    windows: Sequence[WindowMetrics]


@dataclass(frozen=True)
class SeriesPlan:
    """What to plot: the series, sorted by condition, and the windowing they share."""

    series: list[Series]
    window_us: int
    step_us: int
    origin_us: int
    warnings: list[str] = field(default_factory=list)


def choose_window_us(span_us: int, windows: int = 30) -> int:
    """A window size in whole seconds (at least one) that cuts ``span_us`` into ``windows``."""
    return max(1_000_000, span_us // windows // 1_000_000 * 1_000_000)


def complete_windows(windows: Iterable[WindowMetrics], end_us: int) -> list[WindowMetrics]:
    """The windows that end at or before ``end_us``, the exclusive end of the data. O(w)."""
    return [window for window in windows if window.window_end <= end_us]


def _sorted(series: Iterable[Series]) -> list[Series]:
    # By condition, so colours and legend read the same whatever order the shell gave.
    return sorted(series, key=lambda one: (one.condition, one.label))


async def plan_series(
    rt: Runtime,
    archives: Sequence[tuple[str | Path, Experiment]],
    *,
    window_us: int | None = None,
    step_us: int | None = None,
) -> SeriesPlan:
    """Complete windows of each experiment, over their common time span, with their p95.

    ``archives`` pairs each experiment with how messages name it (an archive's
    path, or the experiment in a database).

    Without ``window_us`` the window cuts the whole span into about 30; without
    ``step_us`` the windows do not overlap. An archive without events, or too
    short for one window, is left out with a warning.

    Raises:
        CommandLineError: no archive has a complete window, or the step would
            cut an archive into more than :data:`MAX_WINDOWS` windows.
    """
    spans: list[tuple[str | Path, Experiment, int, int]] = []
    warnings = []
    for path, experiment in archives:
        time_range = (await rt.calculate_metrics(experiment.id)).summary.time_range
        if time_range is None:
            warnings.append(f"{path} has no events; left out of the plot")
        else:
            spans.append((path, experiment, *time_range))
    if not spans:
        raise CommandLineError(f"nothing to plot: {archives[0][0]} has no events")
    origin_us = min(first for *_, first, _ in spans)
    automatic = choose_window_us(max(last for *_, last in spans) - origin_us)
    window_us = window_us or max(automatic, step_us or 0)
    step_us = step_us or window_us
    _check_window_count(spans, step_us)
    labels = _distinct_labels([experiment for _, experiment, *_ in spans])
    series = []
    for (path, experiment, first, last), label in zip(spans, labels, strict=True):
        windows = await rt.windowed_metrics(experiment.id, window_us, step_us, percentiles=(95,))
        complete = complete_windows(windows, last + 1)
        if complete:
            series.append(Series(label, experiment.condition, complete))
        else:
            warnings.append(_too_short(path, last - first, window_us) + "; left out of the plot")
    if not series:
        path, _, first, last = max(spans, key=lambda span: span[3] - span[2])
        raise CommandLineError(
            f"nothing to plot: {_too_short(path, last - first, window_us)}; use a shorter --window"
        )
    return SeriesPlan(_sorted(series), window_us, step_us, origin_us, warnings)


def _distinct_labels(experiments: Sequence[Experiment]) -> list[str]:
    """:func:`label_of` each experiment; runs that share one get their id's start appended."""
    labels = [label_of(experiment) for experiment in experiments]
    shared = {label for label in labels if labels.count(label) > 1}
    return [
        f"{label} #{experiment.id[:6]}" if label in shared else label
        for label, experiment in zip(labels, experiments, strict=True)
    ]


def _too_short(path: str | Path, span_us: int, window_us: int) -> str:
    return (
        f"the events of {path} span {format_duration(span_us)}, "
        f"less than one {format_duration(window_us)} window"
    )


def _check_window_count(
    spans: Iterable[tuple[str | Path, Experiment, int, int]], step_us: int
) -> None:
    longest = max(last - first for *_, first, last in spans)
    count = math.ceil(longest / step_us)
    if count > MAX_WINDOWS:
        raise CommandLineError(
            f"windows every {format_duration(step_us)} would cut {format_duration(longest)} "
            f"of events into {count:,} windows (at most {MAX_WINDOWS:,}); "
            "use a longer --step or --window"
        )
