"""What ``demo`` prints and draws once the study is done.

The A/B comparison and its significance tests, the incident injected and
the incidents found, the trace experiment's counts, the files written and
the next command to try; and ``windows.png``, drawn with matplotlib (most of
the cost: the printing is cheap).
"""

from __future__ import annotations

from matplotlib.figure import Figure
from rich.console import Console

from ._demo import DemoResult
from ._incident import incident_lines
from ._plot import Span, windows_figure
from ._tables import comparison_table, print_significance
from ._windows import Series

__all__ = ["demo_figure", "report_demo"]


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


def report_demo(console: Console, result: DemoResult) -> None:
    """Draw ``windows.png`` into the output folder, then print the report."""
    png = result.out / "windows.png"
    demo_figure(result).savefig(png, dpi=110)
    labels = list(result.conditions)
    console.print()
    console.print(comparison_table(result.comparison, labels, title="A/B comparison"))
    print_significance(console, result.significance, result.significance_note, labels)
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
