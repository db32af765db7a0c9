"""Showing the demo's progress: a rich live view, or plain log lines for CI.

Both are context managers with an ``update(progress)`` method to pass as the
demo's ``on_progress`` callback. Both explain "actor busy" (:data:`LEGEND`),
and every log line stays under 120 characters. Both count the anomalies that
each condition's live detection has flagged, which rise during the incident.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Self

from rich import box
from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, TaskProgressColumn, TextColumn
from rich.progress import Progress as Bar
from rich.table import Table

from ._demo import ConditionView, Progress
from ._formats import format_clock, format_ms, format_pct, format_usd

__all__ = ["LEGEND", "LiveView", "LogLines"]

#: What the runtime's own figures mean, under the live table and atop the log lines.
LEGEND = (
    "actor busy: time each experiment's actor spent handling its mailbox (storing, counting, "
    "answering queries).",
    "mailbox: events waiting for the actor now (the most seen); dropped: events lost to a full "
    "mailbox.",
    "anomalies: latencies flagged as they arrived (median absolute deviation, last 1,000 values).",
)
#: A crash reason longer than this is cut, so that a log line stays under 120 characters.
_CRASH_CHARACTERS = 100


def _conditions_table(progress: Progress) -> Table:
    """Metrics as rows and conditions as columns, so it fits a narrow terminal."""
    table = Table(
        box=box.SIMPLE_HEAD, pad_edge=False, caption="\n".join(LEGEND), caption_justify="left"
    )
    table.add_column("")
    for view in progress.conditions:
        table.add_column(view.condition, justify="right")
    rows: list[tuple[str, Callable[[ConditionView], str]]] = [
        ("models", lambda view: view.description),
        ("status", _status),
        ("queries", lambda view: f"{view.queries:,}"),
        ("events", lambda view: f"{view.events:,}"),
        ("mean latency", lambda view: format_ms(view.mean_latency_ms)),
        ("p95 latency", lambda view: format_ms(view.p95_latency_ms)),
        ("cost so far", lambda view: format_usd(view.cost_usd)),
        ("success rate", lambda view: format_pct(view.success_rate)),
        ("anomalies", _anomalies),
        ("dropped", lambda view: f"{view.dropped:,}"),
        ("mailbox (max)", lambda view: f"{view.mailbox_depth:,} ({view.mailbox_high_water:,})"),
        ("restarts", _restarts),
        ("actor busy", lambda view: f"{view.actor_seconds * 1000:,.0f} ms"),
    ]
    for label, cell in rows:
        table.add_row(label, *(cell(view) for view in progress.conditions))
    return table


def _anomalies(view: ConditionView) -> str:
    # Flagged by the experiment's live detection; red once there are any.
    return f"[red]{view.anomalies:,}[/]" if view.anomalies else "0"


def _status(view: ConditionView) -> str:
    return f"[yellow]{view.status}[/]" if view.status == "paused" else view.status


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class LiveView:
    """A progress bar and a per-condition table, redrawn in place (rich ``Live``)."""

    def __init__(self, console: Console) -> None:
        self._bar = Bar(
            TextColumn("[bold]{task.description}"),
            BarColumn(bar_width=40),
            TaskProgressColumn(),
            TextColumn("simulated {task.fields[clock]}  {task.fields[phase]}"),
            console=console,
        )
        self._task = self._bar.add_task("study", total=1.0, clock="00:00", phase="")
        self._table = Table()
        self._live = Live(self._render(), console=console, refresh_per_second=8)

    def _render(self) -> Group:
        return Group(self._bar, self._table)

    def update(self, progress: Progress) -> None:
        """Show a new progress report."""
        simulated = min(progress.simulated_s, progress.total_s)  # queries in flight run over
        clock = f"{format_clock(simulated)} / {format_clock(progress.total_s)}"
        self._bar.update(
            self._task, completed=progress.fraction, clock=clock, phase=progress.phase
        )
        self._table = _conditions_table(progress)
        self._live.update(self._render())

    def __enter__(self) -> Self:
        self._live.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._live.__exit__(exc_type, exc, traceback)


def _restarts(view: ConditionView) -> str:
    if not view.restarts:
        return "0"
    return f"{view.restarts} (last: {view.last_crash})"


def _condition_lines(view: ConditionView) -> list[str]:
    """Two lines (three after a crash) of under 120 characters, even with huge numbers."""
    name = f"{view.condition}:"
    lines = [
        f"  {name:<10}{view.queries:,} queries, mean {format_ms(view.mean_latency_ms)}, "
        f"p95 {format_ms(view.p95_latency_ms)}, {format_usd(view.cost_usd)}, "
        f"{format_pct(view.success_rate)} ok, {view.anomalies:,} "
        f"{'anomaly' if view.anomalies == 1 else 'anomalies'}",
        f"  {'':<10}actor busy {view.actor_seconds * 1000:,.0f} ms, mailbox max "
        f"{view.mailbox_high_water:,}, {view.dropped:,} dropped, {view.restarts:,} restarts",
    ]
    if view.last_crash is not None:
        lines.append(f"  {'':<10}last crash: {_shorten(view.last_crash, _CRASH_CHARACTERS)}")
    return lines


class LogLines:
    """A few plain lines per tenth of the study and per change of phase (logs, CI).

    Each report is a line ``[ 50%] 07:30 paused``, then two lines per
    condition; each line is under 120 characters.
    """

    def __init__(self, console: Console) -> None:
        self._console = console
        self._tenth = 0
        self._phase = "running"

    def _print(self, line: str) -> None:
        self._console.print(line, highlight=False, markup=False, soft_wrap=True)

    def update(self, progress: Progress) -> None:
        """Print a report when the study passes a tenth or changes phase."""
        tenth = int(progress.fraction * 10 + 1e-9)
        if tenth <= self._tenth and progress.phase == self._phase:
            return
        self._tenth, self._phase = tenth, progress.phase
        self._print(
            f"[{progress.fraction:4.0%}] {format_clock(progress.simulated_s)} {progress.phase}"
        )
        for view in progress.conditions:
            for line in _condition_lines(view):
                self._print(line)

    def __enter__(self) -> Self:
        for line in LEGEND:
            self._print(line)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        return None
