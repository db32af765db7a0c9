"""The ``demo`` command: its options, the output folder and database, the live view.

Checks the options, prepares the output folder and the database, runs
:func:`._demo.run_demo` under the live view (or plain log lines), and hands
the result to :func:`._demo_report.report_demo`. The study itself is the cost.
"""

from __future__ import annotations

import time
from pathlib import Path

import anyio
import click
from rich.console import Console

from ._command_errors import one_line_errors, ungrouped
from ._databases import check_database, database_kind, display_url
from ._demo import TIME_SCALE, DemoConfig, run_demo
from ._demo_report import report_demo
from ._durations import format_duration
from ._live import LiveView, LogLines
from ._outputs import prepare_folder, writing

__all__ = ["MAX_AGENTS", "MAX_DURATION_S", "demo"]

#: The longest demo: an hour of wall-clock time, 60 hours of simulated traffic.
MAX_DURATION_S = 3600
#: The most agents; a sanity bound, like the duration's (memory grows with both).
MAX_AGENTS = 10_000


def _demo_duration(ctx: click.Context, param: click.Parameter, value: float) -> float:
    # click.FloatRange lets NaN through (every comparison with it is false).
    if not 0.1 <= value <= MAX_DURATION_S:
        raise click.BadParameter(
            f"{value:g} is not between 0.1 and {MAX_DURATION_S} seconds", ctx, param
        )
    return value


@click.command()
@click.option(
    "--duration",
    type=float,
    callback=_demo_duration,
    default=15.0,
    show_default=True,
    help=f"Wall-clock seconds (0.1 to {MAX_DURATION_S:,}); each simulates {TIME_SCALE} s of "
    "traffic. Memory grows with duration x agents.",
)
@click.option(
    "--agents",
    type=click.IntRange(min=2, max=MAX_AGENTS),
    default=32,
    show_default=True,
    help=f"Simulated agents (2 to {MAX_AGENTS:,}), split between the two conditions.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same numbers.")
@click.option(
    "--out",
    type=click.Path(path_type=Path),  # checked by prepare_folder, for a one-line error
    default=None,
    help="Output folder.  [default: exports/demo-<date>-<time>]",
)
@click.option(
    "--no-live", is_flag=True, help="Plain log lines instead of the live view; no pacing."
)
@click.option(
    "--database",
    metavar="URL",
    default=None,
    help="Keep the experiments in this database: a path, sqlite:///path or "
    "postgresql://user@host/db.  [default: <out>/telemetry.db]",
)
@click.option("--no-database", is_flag=True, help="Keep the experiments in memory only.")
def demo(
    duration: float,
    agents: int,
    seed: int,
    out: Path | None,
    no_live: bool,
    database: str | None,
    no_database: bool,
) -> None:
    """Run a simulated A/B study: one model against a 3-model ensemble.

    Its experiments are kept in a database (SQLite in the output folder unless
    --database names another), where a second terminal can read them while it
    runs: telemetry-actors summarize --database <out>/telemetry.db
    """
    if database is not None and no_database:
        raise click.UsageError("--database and --no-database exclude each other")
    console = Console(highlight=False)
    live = not no_live and console.is_terminal
    out = out if out is not None else _default_out()
    with one_line_errors():
        prepare_folder(out)
        kept: str | Path | None = None if no_database else database or out / "telemetry.db"
        if kept is not None:
            anyio.run(check_database, kept)
    config = DemoConfig(
        out=out, duration=duration, agents=agents, seed=seed, paced=live, database=kept
    )
    console.print(
        f"[bold]telemetry-actors demo[/]: {agents} agents, "
        f"{format_duration(round(duration * TIME_SCALE * 1_000_000))} of simulated traffic, "
        f"seed {seed}. Conditions: [bold]single[/] (gpt-4) "
        "and [bold]ensemble[/] (claude-3-sonnet, gpt-3.5-turbo, gemini-2.0-flash-exp "
        "with a majority vote). The A/B experiments are paused from 45% to 55%; "
        "for another tenth of the study, one model slows down (a latency incident)."
    )
    console.print(_kept_text(kept), soft_wrap=True)
    reporter = LiveView(console) if live else LogLines(console)
    with one_line_errors(), writing(None):
        with reporter, ungrouped():
            result = anyio.run(run_demo, config, reporter.update)
        report_demo(console, result)


def _kept_text(database: str | Path | None) -> str:
    if database is None:
        return "Experiments are kept in memory only (--no-database)."
    shown = display_url(database)
    return (
        f"Experiments are kept in {shown} ({database_kind(database)}).\n"
        f"From another terminal, while it runs: telemetry-actors summarize --database {shown}"
    )


def _default_out() -> Path:
    base = Path("exports") / time.strftime("demo-%Y%m%d-%H%M%S")
    out, counter = base, 2
    while out.exists():
        out, counter = base.with_name(f"{base.name}-{counter}"), counter + 1
    return out
