"""Rich tables for metrics and comparisons, and the number formats they share."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from rich.table import Table

from .. import Comparison, Experiment, Metrics

__all__ = [
    "comparison_table",
    "experiment_table",
    "experiments_table",
    "format_ms",
    "format_pct",
    "format_usd",
    "metrics_table",
]


def format_ms(value: float | None) -> str:
    """Milliseconds without decimals: ``1,234 ms``; ``-`` for None."""
    return "-" if value is None else f"{value:,.0f} ms"


def format_usd(value: float | None) -> str:
    """The one money format of the CLI; ``-`` for None.

    From $1 on, cents with thousands separators: ``$132.79``, ``$1,234.57``.
    Below $1, four significant digits without trailing zeros, but at least
    cents: ``$0.8977``, ``$0.0123``, ``$0.003296``, ``$0.50``, ``$0.00``. A
    negative amount puts its sign first: ``-$0.6834``. NaN and infinities are ``-``.
    """
    if value is None or not math.isfinite(value):
        return "-"
    sign, amount = ("-" if value < 0 else ""), abs(value)
    if amount >= 1 or amount == 0:
        return f"{sign}${amount:,.2f}"
    decimals = 3 - math.floor(math.log10(amount))  # four significant digits
    text = f"{amount:.{decimals}f}"
    if float(text) >= 1:  # 0.99996 rounds up to a dollar
        return f"{sign}${amount:,.2f}"
    whole, fraction = text.split(".")
    return f"{sign}${whole}.{fraction.rstrip('0').ljust(2, '0')}"


def format_pct(value: float | None) -> str:
    """A rate in [0, 1] as a percentage: ``97.12%``."""
    return "-" if value is None else f"{value:.2%}"


def _signed_pct(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1f}%"


def _signed_usd(value: float) -> str:
    text = format_usd(abs(value))
    return f"-{text}" if value < 0 else f"+{text}"


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
                change = _signed_usd(delta.cost_difference_usd)
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
