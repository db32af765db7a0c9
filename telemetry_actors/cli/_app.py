"""The ``telemetry-actors`` command line: demo, summarize, compare, plot, export.

Errors a user can cause (a missing or corrupt archive, an empty experiment,
an output path that cannot be written) end with a one-line ``Error: ...`` on
stderr and exit status 1.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import anyio
import click
from matplotlib.figure import Figure
from rich.console import Console

from .. import NoEventsError, Runtime, Significance, __version__
from ._archives import label_of
from ._databases import check_database, database_kind, display_url
from ._demo import TIME_SCALE, DemoConfig, DemoResult, run_demo
from ._durations import format_duration, parse_duration
from ._errors import CommandLineError
from ._incident import incident_lines
from ._live import LiveView, LogLines
from ._outputs import check_image_path, check_output_file, prepare_folder, writing
from ._plot import Span, plot_windows, windows_figure
from ._significance import significance_or_note
from ._sources import Source, open_sources
from ._tables import (
    comparison_table,
    experiment_table,
    experiments_table,
    metrics_table,
    significance_footer,
    significance_table,
)
from ._windows import Series, plan_series

__all__ = ["cli", "demo_figure", "main"]

T = TypeVar("T")


def _duration(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    """A duration option (``30s``, ``5m``, ``250ms``, ``1h``, or seconds) as int µs."""
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as error:
        raise click.BadParameter(str(error), ctx, param) from None


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


@contextmanager
def _one_line_errors() -> Iterator[None]:
    """Turn the errors a user can cause into click's one-line ``Error: ...`` and exit 1."""
    try:
        yield
    except (CommandLineError, NoEventsError) as error:
        raise click.ClickException(str(error)) from None


def _leaves(group: BaseExceptionGroup[BaseException]) -> Iterator[BaseException]:
    for exception in group.exceptions:
        if isinstance(exception, BaseExceptionGroup):
            yield from _leaves(exception)
        else:
            yield exception


@contextmanager
def _ungrouped() -> Iterator[None]:
    """Raise a lone exception out of a task group as itself.

    The demo reports progress from inside its agents' task group, so rich's
    ``SystemExit`` on a closed pipe (``demo --no-live | head``) or a write
    error would otherwise end in an exception-group traceback.
    """
    try:
        yield
    except BaseExceptionGroup as group:
        leaves = list(_leaves(group))
        if len(leaves) == 1:
            raise leaves[0] from None
        raise


def _run(function: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine function, with one-line messages for the errors a user can cause."""
    with _one_line_errors():
        return anyio.run(function)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="telemetry-actors")
def cli() -> None:
    """Telemetry for LLM experiments: run the demo study, or inspect archives."""


@cli.command()
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
    with _one_line_errors():
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
    with _one_line_errors(), writing(None):
        with reporter, _ungrouped():
            result = anyio.run(run_demo, config, reporter.update)
        _report_demo(console, result)


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


def demo_figure(result: DemoResult) -> Figure:
    """The demo's ``windows.png``: windows, p95 lines, the pause, the incident, the anomalies."""
    spans = [Span(*result.pause_us, "A/B experiments paused")]
    if result.incident is not None:
        incident = result.incident
        label = f"latency incident ({incident.model}, injected)"
        spans.append(Span(incident.start_us, incident.end_us, label, colour="gold"))
    return windows_figure(
        [Series(name, name, windows) for name, windows in result.windows.items()],
        window_us=result.window_us,
        step_us=result.window_us,
        origin_us=result.origin_us,
        title="Demo A/B study: single gpt-4 vs. 3-model ensemble",
        spans=spans,
        anomalies=result.anomalies,
    )


def _report_demo(console: Console, result: DemoResult) -> None:
    png = result.out / "windows.png"
    demo_figure(result).savefig(png, dpi=110)
    labels = list(result.conditions)
    console.print()
    console.print(comparison_table(result.comparison, labels, title="A/B comparison"))
    _print_significance(console, result.significance, result.significance_note, labels)
    console.print()
    if result.incident is not None:
        for line in incident_lines(
            result.incident, result.origin_us, result.anomalies, result.found
        ):
            console.print(line, markup=False)
        console.print()
    trace = result.trace
    console.print(
        f"Trace experiment: {trace.events:,} events, {trace.llm_calls:,} LLM requests "
        f"({trace.failed_calls:,} failed, {trace.hedged_calls:,} hedged), "
        f"{trace.tool_calls:,} tool calls ({trace.failed_tool_calls:,} failed), "
        f"{trace.ensemble_votes:,} ensemble votes."
    )
    console.print()
    for path in [*result.files, png]:
        console.print(f"  wrote {path}", highlight=False, soft_wrap=True)
    console.print(f"Output folder: [bold]{result.out}[/]", soft_wrap=True)
    first = result.out / f"{result.experiments[0].name}.archive.jsonl"
    if result.database is not None:
        console.print(
            f"Next: telemetry-actors summarize --database {result.database}", soft_wrap=True
        )
        console.print(f"  or: telemetry-actors summarize {first}", soft_wrap=True)
    else:
        console.print(f"Next: telemetry-actors summarize {first}", soft_wrap=True)


_database_option = click.option(
    "--database",
    metavar="URL",
    default=None,
    help="Read experiments from this database (a path, sqlite:///path or postgresql://...); "
    "the arguments are then experiment ids or names, not archives.",
)


def _missing(name: str) -> click.MissingParameter:
    return click.MissingParameter(
        "Give an archive, or --database URL to read experiments from a database.",
        param_type="argument",
        param_hint=f"'{name}'",
    )


@cli.command()
@click.argument("source", metavar="[ARCHIVE|ID]", required=False)
@_database_option
def summarize(source: str | None, database: str | None) -> None:
    """Print the metrics of one archive, or of one experiment in a --database.

    With --database and no ID, list the experiments in the database.
    """
    if source is None and database is None:
        raise _missing("ARCHIVE|ID")

    async def run() -> None:
        console = Console(highlight=False)
        async with open_sources([source] if source else [], database) as (rt, sources):
            if source is None:
                assert database is not None
                await _list_experiments(console, rt, sources, display_url(database))
                return
            experiment = sources[0].experiment
            metrics = await rt.calculate_metrics(experiment.id)
        console.print(experiment_table(experiment))
        console.print(metrics_table([(label_of(experiment), metrics)], title="Metrics"))
        events = ", ".join(f"{name}: {count:,}" for name, count in sorted(metrics.events.items()))
        console.print(f"Events by name: {events or 'none'}", soft_wrap=True)

    _run(run)


async def _list_experiments(
    console: Console, rt: Runtime, sources: list[Source], shown: str
) -> None:
    if not sources:
        console.print(f"No experiments in {shown}.", soft_wrap=True)
        return
    rows = []
    for source in sources:
        metrics = await rt.calculate_metrics(source.experiment.id)
        rows.append((source.experiment, metrics.summary.total_events))
    console.print(f"Experiments in {shown}", soft_wrap=True)
    console.print(experiments_table(rows))


@cli.command()
@click.argument("baseline", metavar="BASELINE")
@click.argument("treatment", metavar="TREATMENT")
@_database_option
def compare(baseline: str, treatment: str, database: str | None) -> None:
    """Compare two archives, or two experiments in a --database; the first is the baseline."""

    async def run() -> None:
        async with open_sources([baseline, treatment], database) as (rt, sources):
            experiments = [source.experiment for source in sources]
            ids = [experiment.id for experiment in experiments]
            comparison = await rt.compare_experiments(ids)
            # A fixed seed: the bootstrap intervals (not shown) are the same every time.
            significance, note = await significance_or_note(rt, *ids, seed=0)
        labels = [label_of(experiment) for experiment in experiments]
        console = Console(highlight=False)
        console.print(comparison_table(comparison, labels))
        _print_significance(console, significance, note, labels)

    _run(run)


def _print_significance(
    console: Console, significance: Significance | None, note: str | None, labels: list[str]
) -> None:
    """The significance table and its footer, or the note saying why there is none."""
    if significance is None:
        console.print(note, soft_wrap=True, markup=False)
        return
    console.print()
    console.print(significance_table(significance, labels[0], labels[1]))
    for line in significance_footer(significance):
        console.print(line, markup=False)


@cli.command()
@click.argument("archives", metavar="[ARCHIVE|ID]...", nargs=-1)
@_database_option
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),  # checked by check_image_path, for a one-line error
    default=Path("windows.png"),
    show_default=True,
    help="The image to write: .png, .svg, .pdf, .jpg or .jpeg.",
)
@click.option(
    "--window",
    "window_us",
    callback=_duration,
    metavar="DURATION",
    default=None,
    help="Window length, such as 30s, 5m or 90 (seconds).  [default: about 1/30 of the span]",
)
@click.option(
    "--step",
    "step_us",
    callback=_duration,
    metavar="DURATION",
    default=None,
    help="Time between window starts; shorter than --window for sliding windows.  "
    "[default: the window]",
)
def plot(
    archives: tuple[str, ...],
    database: str | None,
    output: Path,
    window_us: int | None,
    step_us: int | None,
) -> None:
    """Plot windowed latency, cost and success rate of archives, or of experiments in a
    --database (all of them when no ID is given).

    Only complete windows are drawn; the lines are sorted and coloured by condition.
    """
    if not archives and database is None:
        raise _missing("ARCHIVE|ID...")
    if window_us is not None and step_us is not None and step_us > window_us:
        raise click.BadParameter(
            f"--step {format_duration(step_us)} is longer than --window "
            f"{format_duration(window_us)}; windows would leave gaps",
            param_hint="'--step'",
        )
    with _one_line_errors():
        check_image_path(output)

    async def run() -> None:
        async with open_sources(archives, database) as (rt, sources):
            if not sources:
                assert database is not None
                raise CommandLineError(
                    f"nothing to plot: no experiments in {display_url(database)}"
                )
            plan = await plan_series(
                rt,
                [(source.name, source.experiment) for source in sources],
                window_us=window_us,
                step_us=step_us,
            )
        for warning in plan.warnings:
            click.echo(f"Warning: {warning}", err=True)
        names = ", ".join(one.label for one in plan.series)
        with writing(output):
            plot_windows(
                plan.series,
                output,
                window_us=plan.window_us,
                step_us=plan.step_us,
                origin_us=plan.origin_us,
                title=f"Windows: {names}",
            )
        counts = ", ".join(f"{one.label}: {_windows_count(one)}" for one in plan.series)
        click.echo(
            f"wrote {output}: windows of {format_duration(plan.window_us)} every "
            f"{format_duration(plan.step_us)}; {counts}"
        )

    _run(run)


def _windows_count(series: Series) -> str:
    count = len(series.windows)
    return f"{count:,} window" if count == 1 else f"{count:,} windows"


@cli.command()
@click.argument("archive", metavar="ARCHIVE|ID")
@_database_option
@click.option(
    "--format",
    "format_",
    type=click.Choice(["csv", "jsonl"]),
    default="csv",
    show_default=True,
    help="File format.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),  # checked by check_output_file, for a one-line error
    default=None,
    help="The file to write.  [default: exports/<name>_<unix seconds>.<format>]",
)
def export(archive: str, database: str | None, format_: str, output: Path | None) -> None:
    """Export the events of an archive, or of an experiment in a --database, as CSV or
    JSON Lines."""
    if output is not None:
        with _one_line_errors():
            check_output_file(output)

    async def run() -> None:
        async with open_sources([archive], database) as (rt, sources):
            with writing(output):
                path = await rt.export(sources[0].experiment.id, format_, path=output)
        click.echo(f"wrote {path}")

    _run(run)


def main() -> None:
    """Entry point of the ``telemetry-actors`` command and ``python -m telemetry_actors``."""
    cli(prog_name="telemetry-actors")
