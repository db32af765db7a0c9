"""Rich tables for metrics, comparisons, significance tests and experiment lists.

Also :func:`print_significance`, which ``compare`` and ``demo`` share: the
significance table with its footer, or the note saying why there is none.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.console import Console
from rich.table import Table

from .. import Comparison, Experiment, Metrics, Significance
from ._formats import format_ms, format_pct, format_signed_usd, format_usd
from ._significance import samples_line, significance_rows

__all__ = [
    "comparison_table",
    "experiment_table",
    "experiments_table",
    "format_ms",
    "format_pct",
    "format_usd",
    "metrics_table",
    "print_significance",
    "significance_footer",
    "significance_table",
]


def _signed_pct(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1f}%"


def _change(baseline: float | None, treatment: float | None) -> float | None:
    if baseline is None or treatment is None or baseline == 0:
        return None
    return (treatment - baseline) / baseline * 100


#: (label, value as text, value as a number for the percent change)
_Row = tuple[str, Callable[[Metrics], str], Callable[[Metrics], float | None]]

_ROWS: tuple[_Row, ...] = (
    ("events", lambda m: f"{m.summary.total_events:,}", lambda m: m.summary.total_events),
    ("with latency", lambda m: f"{m.latency.count:,}", lambda m: m.latency.count),
    ("mean latency", lambda m: format_ms(m.latency.mean), lambda m: m.latency.mean),
    ("p50 latency", lambda m: format_ms(m.latency.p50), lambda m: m.latency.p50),
    ("p95 latency", lambda m: format_ms(m.latency.p95), lambda m: m.latency.p95),
    ("p99 latency", lambda m: format_ms(m.latency.p99), lambda m: m.latency.p99),
    ("total cost", lambda m: format_usd(m.cost.total), lambda m: m.cost.total),
    (
        "success rate",
        lambda m: format_pct(m.reliability.success_rate),
        lambda m: m.reliability.success_rate,
    ),
    ("failed", lambda m: f"{m.reliability.failed:,}", lambda m: m.reliability.failed),
    ("tokens", lambda m: f"{m.tokens.total:,.0f}", lambda m: m.tokens.total),
)


def metrics_table(columns: Sequence[tuple[str, Metrics]], *, title: str = "Metrics") -> Table:
    """One column per experiment, one row per headline metric of ``calculate_metrics``."""
    table = Table(title=title, title_justify="left")
    table.add_column("metric")
    for label, _ in columns:
        table.add_column(label, justify="right")
    for name, text, _ in _ROWS:
        table.add_row(name, *(text(metrics) for _, metrics in columns))
    duration = (f"{metrics.summary.duration_seconds:,.1f} s" for _, metrics in columns)
    table.add_row("time span", *duration)
    return table


def comparison_table(
    comparison: Comparison, labels: Sequence[str], *, title: str = "Comparison"
) -> Table:
    """Baseline and treatments side by side, with each treatment's change.

    ``labels`` name ``comparison.experiments`` in order. The changes of mean
    latency, total cost and success rate are the ones ``compare_experiments``
    computed; the others are the same percent change.
    """
    ids = comparison.experiments
    baseline = comparison.individual[ids[0]]
    table = Table(title=title, title_justify="left")
    table.add_column("metric")
    table.add_column(f"{labels[0]} (baseline)", justify="right")
    for label in labels[1:]:
        table.add_column(label, justify="right")
        table.add_column("change", justify="right")
    for name, text, number in _ROWS:
        cells = [text(baseline)]
        for index, experiment_id in enumerate(ids[1:], start=1):
            treatment = comparison.individual[experiment_id]
            delta = comparison.comparison[f"treatment_{index}"]
            if name == "total cost":
                change = format_signed_usd(delta.cost_difference_usd)
            elif name == "mean latency":
                change = _signed_pct(delta.latency_improvement_pct)
            elif name == "success rate":
                change = _signed_pct(delta.success_rate_improvement_pct)
            else:
                change = _signed_pct(_change(number(baseline), number(treatment)))
            cells += [text(treatment), change]
        table.add_row(name, *cells)
    return table


def experiment_table(experiment: Experiment) -> Table:
    """The record of one experiment as a two-column table."""
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    rows = {
        "name": experiment.name,
        "id": experiment.id,
        "condition": experiment.condition,
        "hypothesis": experiment.hypothesis or "-",
        "tags": ", ".join(experiment.tags) or "-",
        "status": experiment.status.value,
        "started": experiment.started_at.isoformat(timespec="seconds"),
        "stopped": experiment.stopped_at.isoformat(timespec="seconds")
        if experiment.stopped_at
        else "-",
        "pauses": str(experiment.pause_count),
    }
    for key, value in rows.items():
        table.add_row(key, value)
    return table


def experiments_table(rows: Sequence[tuple[Experiment, int]]) -> Table:
    """One row per experiment: name, id, condition, status and stored events."""
    table = Table()
    for column in ("name", "id", "condition", "status"):
        table.add_column(column)
    table.add_column("events", justify="right")
    for experiment, events in rows:
        table.add_row(
            experiment.name,
            experiment.id,
            experiment.condition,
            experiment.status.value,
            f"{events:,}",
        )
    return table


def significance_table(significance: Significance, baseline: str, treatment: str) -> Table:
    """Latency, cost and success as columns: effect, interval, p-values and verdict.

    Metrics as columns, like the comparison table, so that it fits an
    80-column terminal. ``baseline`` and ``treatment`` name the experiments
    in the title.
    """
    level = f"{significance.confidence:.0%}"
    rows = significance_rows(significance)
    table = Table(
        title=f"Significance at {level} confidence: {treatment} against {baseline} (baseline)",
        title_justify="left",
    )
    table.add_column("")
    for row in rows:
        table.add_column(row.metric)  # left: verdicts wrap in a narrow terminal
    table.add_row("difference", *(row.difference for row in rows))
    table.add_row(f"{level} interval", *(row.interval for row in rows))
    table.add_row("p", *(row.p_value for row in rows))
    table.add_row("Holm p", *(row.p_holm for row in rows))
    table.add_row("verdict", *(row.verdict for row in rows))
    return table


def significance_footer(significance: Significance) -> list[str]:
    """The lines under the table: how verdicts are reached, sample sizes, warnings."""
    lines = [
        f"Verdicts at {significance.confidence:.0%} confidence, on the Holm-adjusted p-values "
        "of the three tests.",
        samples_line(significance),
    ]
    if significance.warnings:
        lines.append("Warnings:")
        lines.extend(f"  - {warning}" for warning in significance.warnings)
    return lines


def print_significance(
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
