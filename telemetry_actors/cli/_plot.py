"""Plots of windowed metrics (matplotlib, drawn off-screen with Agg).

Three panels share the time axis: mean latency, cost and success rate per
window, one line per experiment. The latency panel also draws each
experiment's 95th percentile per window, dashed, in the experiment's colour.
A window with no events leaves a gap in its line rather than a straight
segment across it. Anomalies, when given, are crosses at their time and
value in the latency panel, whose scale then turns logarithmic: a flagged
latency sits several times above the means. Spans (a pause, an incident)
are shaded across the panels.

Each condition keeps one colour in every plot: the palette entry that the
CRC-32 of its name picks (not Python's ``hash``, which changes from run to
run). Lines are drawn sorted by condition, so neither the colours nor the
legend depend on the order in which the shell listed the archives.
Experiments of one condition share its colour and differ by line style.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .. import Anomaly, WindowMetrics
from ._durations import format_duration
from ._windows import Series

__all__ = [
    "PALETTE",
    "Span",
    "condition_colours",
    "plot_windows",
    "series_styles",
    "windows_figure",
]

_MINUTE_US = 60_000_000
#: matplotlib's "tab10" colours, spelled out so that a style sheet cannot change them.
PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
_LINE_STYLES = ("-", "--", ":", "-.")


@dataclass(frozen=True)
class Span:
    """A stretch of time shaded across the panels, with its legend entry."""

    start_us: int
    end_us: int
    label: str
    colour: str = "grey"


def condition_colours(conditions: Iterable[str]) -> dict[str, str]:
    """A colour per condition: its CRC-32 entry of :data:`PALETTE`, or the next free one.

    Conditions are served in sorted order, so a collision always moves the
    same name; with more conditions than colours, colours repeat.
    """
    colours: dict[str, str] = {}
    for condition in sorted(set(conditions)):
        start = zlib.crc32(condition.encode("utf-8", "surrogatepass")) % len(PALETTE)
        free = [
            PALETTE[(start + offset) % len(PALETTE)]
            for offset in range(len(PALETTE))
            if PALETTE[(start + offset) % len(PALETTE)] not in colours.values()
        ]
        colours[condition] = free[0] if free else PALETTE[start]
    return colours


def series_styles(series: Iterable[Series]) -> list[tuple[Series, str, str]]:
    """``(series, colour, line style)`` sorted by condition, then label."""
    ordered = sorted(series, key=lambda one: (one.condition, one.label))
    colours = condition_colours(one.condition for one in ordered)
    seen: dict[str, int] = {}
    styles = []
    for one in ordered:
        index = seen.get(one.condition, 0)
        seen[one.condition] = index + 1
        styles.append((one, colours[one.condition], _LINE_STYLES[index % len(_LINE_STYLES)]))
    return styles


def _p95(window: WindowMetrics) -> float:
    value = (window.latency_percentiles or {}).get(95.0)
    return math.nan if value is None else value


def _series(
    windows: Sequence[WindowMetrics], origin_us: int, step_us: int
) -> tuple[list[float], list[float], list[float], list[float], list[float]]:
    """x (minutes, window middle), mean latency, cost, success rate, p95; NaN across gaps."""
    x: list[float] = []
    latency: list[float] = []
    cost: list[float] = []
    success: list[float] = []
    p95: list[float] = []
    previous: int | None = None
    for window in windows:
        if previous is not None and window.window_start - previous > step_us:
            for column in (x, latency, cost, success, p95):
                column.append(math.nan)
        previous = window.window_start
        middle = (window.window_start + window.window_end) / 2
        x.append((middle - origin_us) / _MINUTE_US)
        latency.append(math.nan if window.mean_latency is None else window.mean_latency)
        cost.append(window.total_cost)
        outcomes = window.success_count + window.failure_count
        success.append(window.success_count / outcomes * 100 if outcomes else math.nan)
        p95.append(_p95(window))
    return x, latency, cost, success, p95


def windows_figure(
    series: Sequence[Series],
    *,
    window_us: int,
    step_us: int,
    origin_us: int,
    title: str,
    spans: Sequence[Span] = (),
    anomalies: Mapping[str, Sequence[Anomaly]] | None = None,
) -> Figure:
    """The figure of the windowed metrics of each experiment (see :func:`plot_windows`)."""
    figure = Figure(figsize=(10, 8.5), layout="constrained")
    FigureCanvasAgg(figure)
    latency_axes, cost_axes, success_axes = figure.subplots(3, 1, sharex=True)
    width = format_duration(window_us)
    colours = condition_colours(one.condition for one in series)
    for one, colour, line_style in series_styles(series):
        x, latency, cost, success, p95 = _series(one.windows, origin_us, step_us)
        for axes, values in zip(
            (latency_axes, cost_axes, success_axes), (latency, cost, success), strict=True
        ):
            axes.plot(
                x,
                values,
                color=colour,
                linestyle=line_style,
                marker="o",
                markersize=3,
                label=one.label,
            )
        if not all(math.isnan(value) for value in p95):
            latency_axes.plot(
                x,
                p95,
                color=colour,
                linestyle="--",
                linewidth=1,
                alpha=0.8,
                label=f"{one.label} p95",
            )
    flagged = {name: found for name, found in (anomalies or {}).items() if found}
    for condition, found in sorted(flagged.items()):
        latency_axes.plot(
            [(anomaly.timestamp - origin_us) / _MINUTE_US for anomaly in found],
            [anomaly.value for anomaly in found],
            linestyle="none",
            marker="x",
            markersize=4,
            alpha=0.7,
            color=colours.get(condition, "black"),
            label=f"{condition} anomalies",
        )
    latency_axes.set_title(f"Mean latency (solid) and p95 (dashed) per {width} window")
    cost_axes.set_ylabel(f"cost (USD per {width})")
    cost_axes.set_title(f"Cost per {width} window")
    success_axes.set_ylabel("success rate (%)")
    success_axes.set_title(f"Success rate per {width} window")
    success_axes.set_xlabel("time since start (minutes)")
    for axes in (latency_axes, cost_axes, success_axes):
        axes.grid(True, alpha=0.3)
        for span in spans:
            start, end = ((edge - origin_us) / _MINUTE_US for edge in (span.start_us, span.end_us))
            axes.axvspan(start, end, color=span.colour, alpha=0.15, label=span.label)
    if flagged:
        latency_axes.set_yscale("log")
        latency_axes.set_ylabel("latency (ms, log scale)")
    else:
        latency_axes.set_ylabel("latency (ms)")
        latency_axes.set_ylim(bottom=0)
    cost_axes.set_ylim(bottom=0)
    # Beside the panel: the p95 lines and anomalies leave no corner free inside it.
    latency_axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    figure.suptitle(title, fontsize=13)
    return figure


def plot_windows(
    series: Sequence[Series],
    path: Path,
    *,
    window_us: int,
    step_us: int,
    origin_us: int,
    title: str,
    spans: Sequence[Span] = (),
    anomalies: Mapping[str, Sequence[Anomaly]] | None = None,
) -> Path:
    """Draw the windowed metrics of each experiment into an image at ``path``.

    Args:
        series: the experiments' ``rt.windowed_metrics(id, window_us, step_us,
            percentiles=(95,))``, complete windows only; drawn sorted by condition.
        path: the image to write, in the format its suffix names (parent
            folders are created).
        window_us: the window size the metrics were computed with.
        step_us: the step between window starts.
        origin_us: the time shown as minute 0.
        title: the figure's title.
        spans: stretches of time to shade, such as a pause.
        anomalies: anomalies to mark in the latency panel, by condition.

    Returns:
        ``path``.
    """
    figure = windows_figure(
        series,
        window_us=window_us,
        step_us=step_us,
        origin_us=origin_us,
        title=title,
        spans=spans,
        anomalies=anomalies,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110, format=path.suffix[1:].lower() or None)
    return path
