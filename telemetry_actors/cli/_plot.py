"""PNG plots of windowed metrics (matplotlib, drawn off-screen with Agg).

Three panels share the time axis: mean latency, cost and success rate per
window, one line per experiment. A window with no events leaves a gap in
its line rather than a straight segment across it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .. import WindowMetrics

__all__ = ["plot_windows"]

_MINUTE_US = 60_000_000


def _series(
    windows: Sequence[WindowMetrics], origin_us: int, step_us: int
) -> tuple[list[float], list[float], list[float], list[float]]:
    """x (minutes, window middle), mean latency, cost, success rate; NaN across gaps."""
    x: list[float] = []
    latency: list[float] = []
    cost: list[float] = []
    success: list[float] = []
    previous: int | None = None
    for window in windows:
        if previous is not None and window.window_start - previous > step_us:
            for column in (x, latency, cost, success):
                column.append(math.nan)
        previous = window.window_start
        middle = (window.window_start + window.window_end) / 2
        x.append((middle - origin_us) / _MINUTE_US)
        latency.append(math.nan if window.mean_latency is None else window.mean_latency)
        cost.append(window.total_cost)
        outcomes = window.success_count + window.failure_count
        success.append(window.success_count / outcomes * 100 if outcomes else math.nan)
    return x, latency, cost, success


def _window_label(window_us: int) -> str:
    seconds = window_us / 1_000_000
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def plot_windows(
    series: Mapping[str, Sequence[WindowMetrics]],
    path: Path,
    *,
    window_us: int,
    origin_us: int,
    title: str,
    shaded: tuple[int, int] | None = None,
    shaded_label: str = "paused",
) -> Path:
    """Draw the windowed metrics of each experiment into a PNG at ``path``.

    Args:
        series: label -> the experiment's ``rt.windowed_metrics(id, window_us, window_us)``.
        path: the image to write, in the format its suffix names (parent
            folders are created).
        window_us: the window size (and step) the metrics were computed with.
        origin_us: the time shown as minute 0.
        title: the figure's title.
        shaded: an optional ``(start_us, end_us)`` span to shade, such as a pause.
        shaded_label: the legend entry of the shaded span.

    Returns:
        ``path``.
    """
    figure = Figure(figsize=(10, 8.5), layout="constrained")
    FigureCanvasAgg(figure)
    latency_axes, cost_axes, success_axes = figure.subplots(3, 1, sharex=True)
    width = _window_label(window_us)
    for label, windows in series.items():
        x, latency, cost, success = _series(windows, origin_us, window_us)
        latency_axes.plot(x, latency, marker="o", markersize=3, label=label)
        cost_axes.plot(x, cost, marker="o", markersize=3, label=label)
        success_axes.plot(x, success, marker="o", markersize=3, label=label)
    latency_axes.set_ylabel("mean latency (ms)")
    latency_axes.set_title(f"Mean latency per {width} window")
    cost_axes.set_ylabel(f"cost (USD per {width})")
    cost_axes.set_title(f"Cost per {width} window")
    success_axes.set_ylabel("success rate (%)")
    success_axes.set_title(f"Success rate per {width} window")
    success_axes.set_xlabel("time since start (minutes)")
    for axes in (latency_axes, cost_axes, success_axes):
        axes.grid(True, alpha=0.3)
        if shaded is not None:
            start, end = ((edge - origin_us) / _MINUTE_US for edge in shaded)
            axes.axvspan(start, end, color="grey", alpha=0.15, label=shaded_label)
    latency_axes.set_ylim(bottom=0)
    cost_axes.set_ylim(bottom=0)
    latency_axes.legend(loc="lower left", ncols=3)  # below the lines: latency starts at 0
    figure.suptitle(title, fontsize=13)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110, format=path.suffix[1:].lower() or None)
    return path
