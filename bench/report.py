"""The printed table, the ratios against the issue's targets, and ``bench/RESULTS.md``."""

from __future__ import annotations

import datetime
import math
import os
import platform
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from ._timing import Measurement

PACKAGES = ("telemetry-actors", "anyio", "msgspec", "prometheus_client", "opentelemetry-sdk")


@dataclass(frozen=True)
class Target:
    """A ratio (or absolute figure when ``denominator`` is None) and its limits."""

    label: str
    numerator: str
    denominator: str | None
    required: float
    aim: float | None


TARGETS = (
    Target("emit (1 experiment) ÷ Histogram.observe", "emit.one", "call.prometheus", 0.7, 0.4),
    Target("emit (nothing attached) ÷ empty call", "emit.none", "call.empty", 4, 3),
    Target("ingest ÷ bare pipeline", "ingest.package", "ingest.bare", 1.5, 1.0),
    Target("Last(1 s) ÷ full scan", "query.last_1s", "query.full_scan", 0.05, None),
    Target("windowed_metrics ÷ prefix-sum floor", "query.windowed", "query.windowed_floor", 2, 1),
    Target("calculate_metrics ÷ sort+sums floor", "query.metrics", "query.metrics_floor", 5, 2),
    Target("bytes per stored event", "memory.store", None, 500, 250),
)

#: Further ratios worth seeing, without a target.
EXTRA_RATIOS = (
    ("emit (1 experiment) ÷ empty call", "emit.one", "call.empty"),
    ("emit (10 experiments) ÷ Histogram.observe", "emit.ten", "call.prometheus"),
    ("emit (1 experiment) ÷ OTel Histogram.record", "emit.one", "call.otel"),
    ("emit (1 experiment) ÷ Queue.put_nowait", "emit.one", "call.queue_put"),
    ("1 s window, first read ÷ full scan", "query.first_1s", "query.full_scan"),
    ("1 s window, second read (re-encodes) ÷ full scan", "query.second_1s", "query.full_scan"),
    ("bytes per event ÷ caller's dicts in tuples", "memory.store", "memory.tuples"),
    ("live percentiles read ÷ calculate_metrics", "percentiles.read", "percentiles.exact"),
)


def _number(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def _spread(m: Measurement) -> str:
    if len(m.samples) < 2:
        return ""
    return f"{_number(min(m.samples))} … {_number(max(m.samples))}"


def measurement_rows(results: list[Measurement]) -> list[list[str]]:
    """Rows of (what, median, unit, min … max, n, note)."""
    return [
        [m.label, _number(m.value), m.unit, _spread(m), str(len(m.samples)), m.note]
        for m in results
    ]


def ratio_rows(results: list[Measurement], judged: bool = True) -> list[list[str]]:
    """Rows of (ratio, value, required, aim, verdict); ratios lacking inputs are left out.

    ``judged=False`` (a --quick run, too small for the targets) gives no verdicts.
    """
    by_key = {m.key: m.value for m in results}
    rows = []
    for target in TARGETS:
        if target.numerator not in by_key:
            continue
        if target.denominator is not None and target.denominator not in by_key:
            rows.append([target.label, "n/a", "", "", "SKIPPED (no baseline)"])
            continue
        value = by_key[target.numerator]
        if target.denominator is not None:
            value /= by_key[target.denominator]
        verdict = "PASS" if value <= target.required else "FAIL"
        if verdict == "PASS" and target.aim is not None:
            verdict += " (aim met)" if value <= target.aim else " (aim not met)"
        if not judged:
            verdict = "not judged (quick sizes)"
        aim = "" if target.aim is None else f"≤ {_number(target.aim)}"
        rows.append([target.label, _number(value), f"≤ {_number(target.required)}", aim, verdict])
    for label, numerator, denominator in EXTRA_RATIOS:
        if numerator in by_key and denominator in by_key:
            rows.append([label, _number(by_key[numerator] / by_key[denominator]), "", "", "info"])
    return rows


def text_table(header: list[str], rows: list[list[str]]) -> str:
    """A plain fixed-width table for the terminal."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(line.rstrip() for line in lines)


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A GitHub-flavoured Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


METHOD = [
    "- emit: `emit(name, {duration}, {model, provider})` with nothing attached, with 1 and",
    "  with 10 running experiments (default system clock, mailboxes large enough that",
    "  nothing drops; fresh experiments per repetition, cleaned up untimed; 10",
    "  experiments use a tenth of the calls). Baselines: an empty function with the",
    "  same arguments, `asyncio.Queue.put_nowait((name, measurements, metadata, µs))`,",
    "  prometheus_client `Histogram.observe(x)` and OTel SDK `Histogram.record(x)`",
    "  (unlabelled). Every variant runs its calls in timed bursts of 10 000; between",
    "  bursts, untimed, mailboxes are flushed and the baseline queue emptied, as a live",
    "  consumer would drain them.",
    "- ingest: N prebuilt (name, measurements, metadata) tuples of LLM events; emit all",
    "  then `await rt.flush()`, against put_nowait of the stamped tuple into an",
    "  `asyncio.Queue` whose consumer task drains in batches, builds a dict per event,",
    "  appends it to a list and keeps a running mean.",
    "- queries: the store is filled by `emit` with a fake clock advancing 1 ms per event",
    "  (chunks, flushed); only the public query calls are timed. Floors run on plain",
    "  lists (events; timestamps, latencies, costs, successes) taken once from the store:",
    "  a list comprehension over all events; `accumulate` prefix sums + two `bisect`s per",
    "  window; `sorted()` + `math.fsum` sums + `list.count`. `Last(1 s)` repeats the",
    "  query on the newest second (a live view); since a row's second read re-encodes",
    "  its payload for cheaper later reads, 1 s windows of the oldest seconds, never read",
    "  before, are also timed on their first and on their second read.",
    "- memory: tracemalloc growth across storing N events emitted with fresh dicts",
    "  `{duration}` / `{model, provider, tokens: {prompt, completion}, sample_id}`,",
    "  after flush and `gc.collect()`, divided by N.",
    "- percentiles: N LLM events emitted and flushed; the first `streaming_metrics()`",
    "  folds their latencies into the sketch (timed per event); its p50…p99 against",
    "  `calculate_metrics`'s exact ones; then repeated reads against `calculate_metrics`.",
]

MEASUREMENT_HEADER = ["measurement", "median", "unit", "min … max", "reps", "note"]
RATIO_HEADER = ["ratio", "value", "required", "aim", "verdict"]


def render_text(results: list[Measurement], judged: bool = True) -> str:
    """The table and the ratios as printed after a run."""
    return "\n\n".join(
        [
            text_table(MEASUREMENT_HEADER, measurement_rows(results)),
            text_table(RATIO_HEADER, ratio_rows(results, judged)),
        ]
    )


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine() -> list[str]:
    """Lines describing the machine, the interpreter and the package versions."""
    memory = ""
    if hasattr(os, "sysconf") and "SC_PHYS_PAGES" in os.sysconf_names:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        memory = f", {total / 2**30:.0f} GiB RAM"
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg()) + " (1 / 5 / 15 min)"
    versions = ", ".join(f"{name} {_version(name)}" for name in PACKAGES)
    return [
        f"- CPU: {_cpu_model()}, {os.cpu_count()} cores{memory}",
        f"- OS: {platform.system()} {platform.release()} ({platform.machine()})",
        f"- Python: {platform.python_implementation()} {platform.python_version()}",
        f"- Packages: {versions}",
        f"- Load average at the end of the run: {load}",
        f"- Date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M UTC}",
    ]


def write_results(path: Path, results: list[Measurement], command: str, seconds: float) -> None:
    """Write the latest figures, the ratios and the machine description to ``path``."""
    medians_of = sorted({len(m.samples) for m in results if len(m.samples) > 1})
    reps = "/".join(map(str, medians_of)) or "1"
    text = "\n".join(
        [
            "# Benchmark results",
            "",
            f"Latest full run of `{command}` ({seconds:.0f} s). Figures are medians of "
            f"{reps} interleaved repetitions (gc collected before each, enabled while timed);",
            "per-call costs are tight loops of the same call with prebuilt arguments, loop",
            "overhead included in every variant. Regenerate with `python -m bench`. Other work",
            "on the machine inflates absolute figures; the ratios compare runs made side by side.",
            "",
            "## Method",
            "",
            *METHOD,
            "",
            "## Machine",
            "",
            *machine(),
            "",
            "## Ratios against the targets",
            "",
            markdown_table(RATIO_HEADER, ratio_rows(results)),
            "",
            "## Measurements",
            "",
            markdown_table(MEASUREMENT_HEADER, measurement_rows(results)),
            "",
        ]
    )
    path.write_text(text, encoding="utf-8")
