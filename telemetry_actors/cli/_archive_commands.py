"""The commands that read experiments: summarize, compare, plot, export.

Each reads archives, or experiments in a ``--database`` named by id or name
(see :mod:`._sources`), and prints tables, writes a figure or exports the
events. The cost is the runtime's reads of those experiments.
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from .. import Runtime
from ._archives import label_of
from ._command_errors import one_line_errors, run_async
from ._databases import display_url
from ._durations import format_duration, parse_duration
from ._errors import CommandLineError
from ._outputs import check_image_path, check_output_file, writing
from ._plot import plot_windows
from ._significance import significance_or_note
from ._sources import Source, open_sources
from ._tables import (
    comparison_table,
    experiment_table,
    experiments_table,
    metrics_table,
    print_significance,
)
from ._windows import Series, plan_series

__all__ = ["compare", "export", "plot", "summarize"]


def _duration(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    """A duration option (``30s``, ``5m``, ``250ms``, ``1h``, or seconds) as int µs."""
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as error:
        raise click.BadParameter(str(error), ctx, param) from None


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


@click.command()
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

    run_async(run)


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


@click.command()
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
        print_significance(console, significance, note, labels)

    run_async(run)


@click.command()
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
    with one_line_errors():
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

    run_async(run)


def _windows_count(series: Series) -> str:
    count = len(series.windows)
    return f"{count:,} window" if count == 1 else f"{count:,} windows"


@click.command()
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
        with one_line_errors():
            check_output_file(output)

    async def run() -> None:
        async with open_sources([archive], database) as (rt, sources):
            with writing(output):
                path = await rt.export(sources[0].experiment.id, format_, path=output)
        click.echo(f"wrote {path}")

    run_async(run)
