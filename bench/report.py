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
    """A figure the issues ask for, and its limits.

    By default the figure is the ratio ``numerator / denominator`` (the
    baseline, measured in the same run). With ``absolute`` it is the
    numerator's own value, in its unit; a denominator is then only shown
    (with the ratio) for comparison. ``required`` None: only an aim was set.
    With ``at_least`` the figure must reach the limits (a throughput ratio)
    instead of staying under them.
    """

    label: str
    numerator: str
    denominator: str | None
    required: float | None
    aim: float | None = None
    absolute: bool = False
    at_least: bool = False


#: Reads watched for loop stalls (``responsiveness``): key and label.
RESPONSIVE_READS = (
    ("get_all", "get_all"),
    ("query_name", "query(event_name=…)"),
    ("last_n", "query_window(LastN)"),
    ("windowed", "windowed_metrics"),
    ("windowed_pct", "windowed_metrics, percentiles"),
    ("metrics", "calculate_metrics"),
    ("streaming", "streaming_metrics after a flood"),
    ("export_csv", "export CSV"),
    ("export_jsonl", "export JSONL"),
    ("archive", "archive"),
    ("load_archive", "load_archive"),
    ("iter_events", "iter_events"),
)

#: Ingest options (``ingest_options``): key and label.
INGEST_OPTIONS = (
    ("off", "detection off"),
    ("anomaly", "AnomalyDetection(mad, ewma)"),
    ("uniform", "Uniform(0.1)"),
    ("reservoir", "Reservoir(10_000)"),
    ("stratified", "Stratified({False: 1, True: 0.1})"),
    ("adaptive", "Adaptive(0.1) + detection"),
)

TARGETS = (
    Target("emit (1 experiment) ÷ Histogram.observe", "emit.one", "call.prometheus", 0.7, 0.4),
    Target("emit (nothing attached) ÷ empty call", "emit.none", "call.empty", 4, 3),
    Target("ingest ÷ bare pipeline", "ingest.package", "ingest.bare", 1.2, 1.0),
    Target(
        "sparse emit on the loop thread (vs Histogram.observe)",
        "sparse.loop_emit",
        "sparse.loop_observe",
        2_000,
        absolute=True,
    ),
    Target(
        "sparse emit from a foreign thread (vs Histogram.observe)",
        "sparse.thread_emit",
        "sparse.thread_observe",
        2_000,
        absolute=True,
    ),
    Target("Last(1 s) ÷ full scan", "query.last_1s", "query.full_scan", 0.05),
    Target("windowed_metrics ÷ prefix-sum floor", "query.windowed", "query.windowed_floor", 2, 1),
    Target(
        "windowed_metrics with percentiles ÷ without",
        "query.windowed_pct",
        "query.windowed",
        3,
    ),
    Target("calculate_metrics ÷ numpy floor", "query.metrics", "query.metrics_floor", 2),
    *(
        Target(
            f"loop stall during {label} (vs idle loop)",
            f"resp.{key}.stall",
            f"resp.{key}.idle",
            50,
            20,
            absolute=True,
        )
        for key, label in RESPONSIVE_READS
    ),
    Target("export CSV wall time", "resp.export_csv.wall", None, 10, absolute=True),
    Target("export JSONL wall time", "resp.export_jsonl.wall", None, 5, absolute=True),
    Target("bytes per stored event (llm_event)", "memory.store", None, 250, absolute=True),
    Target(
        "bytes per stored event (realistic)", "memory.store_realistic", None, 250, absolute=True
    ),
    Target(
        "significance, 10k vs 10k, 10k resamples (well under 1 s)",
        "significance.package",
        None,
        1_000,
        500,
        absolute=True,
    ),
    *(
        Target(f"ingest with {label} ÷ bare pipeline", f"options.{key}", "options.bare", None, 2)
        for key, label in INGEST_OPTIONS
    ),
    Target("out-of-order ingest ÷ in order", "order.backwards", "order.forwards", 2, 1.2),
    Target(
        "ingest throughput, SQLite ÷ memory (flushed = committed)",
        "durable.ingest_sqlite_rate",
        "durable.ingest_memory_rate",
        0.5,
        at_least=True,
    ),
    Target(
        "query_window(Last(1 s)) on SQLite at 1 M (vs memory)",
        "durable.last_1s_sqlite",
        "durable.last_1s_memory",
        5,
        absolute=True,
    ),
    Target(
        "calculate_metrics at 1 M, SQLite ÷ memory",
        "durable.metrics_sqlite",
        "durable.metrics_memory",
        3,
    ),
    *(
        Target(
            f"{label} after 5 M events into SQLite (vs memory-only)",
            f"durable.rss_sqlite_{key}",
            f"durable.rss_memory_{key}",
            300,
            absolute=True,
        )
        for key, label in (("peak", "peak RSS"), ("current", "RSS"))
    ),
)

#: Further ratios worth seeing, without a target.
EXTRA_RATIOS = (
    ("emit (1 experiment) ÷ empty call", "emit.one", "call.empty"),
    ("emit (10 experiments) ÷ Histogram.observe", "emit.ten", "call.prometheus"),
    ("emit (1 experiment) ÷ OTel Histogram.record", "emit.one", "call.otel"),
    ("emit (1 experiment) ÷ Queue.put_nowait", "emit.one", "call.queue_put"),
    ("emit, realistic events ÷ Histogram.observe", "emit.realistic", "call.prometheus"),
    ("emit, realistic events ÷ the prebuilt payload", "emit.realistic", "emit.one"),
    ("capture: Python deep copy ÷ empty call", "capture.python_copy", "capture.empty"),
    ("capture: copy.deepcopy ÷ empty call", "capture.deepcopy", "capture.empty"),
    ("capture: marshal.dumps ÷ empty call", "capture.marshal", "capture.empty"),
    ("capture: pickle.dumps ÷ empty call", "capture.pickle", "capture.empty"),
    ("capture: msgpack + scan (used) ÷ empty call", "capture.msgpack", "capture.empty"),
    ("capture: msgpack + scan ÷ Python deep copy", "capture.msgpack", "capture.python_copy"),
    ("capture: msgpack + scan ÷ marshal.dumps", "capture.msgpack", "capture.marshal"),
    ("capture: exact fallback ÷ msgpack + scan", "capture.exact", "capture.msgpack"),
    ("capture: msgpack + scan ÷ msgpack + previous scan", "capture.msgpack",
     "capture.msgpack_previous"),
    ("sparse emit p90, loop ÷ observe p90", "sparse.loop_emit_p90", "sparse.loop_observe_p90"),
    (
        "sparse emit p90, foreign thread ÷ observe p90",
        "sparse.thread_emit_p90",
        "sparse.thread_observe_p90",
    ),
    ("ingest all at once ÷ bare all at once", "ingest.package_flood", "ingest.bare_flood"),
    ("1 s window, first read ÷ full scan", "query.first_1s", "query.full_scan"),
    ("1 s window, second read ÷ full scan", "query.second_1s", "query.full_scan"),
    ("calculate_metrics, backwards ÷ in order", "order.read_backwards", "order.read_forwards"),
    ("bytes per event ÷ caller's dicts in tuples", "memory.store", "memory.tuples"),
    ("live percentiles read ÷ calculate_metrics", "percentiles.read", "percentiles.exact"),
    ("significance ÷ the scipy tests alone", "significance.package", "significance.scipy_calls"),
    (
        "window percentiles ÷ window means (segments)",
        "window_percentiles.auto",
        "window_percentiles.means_segments",
    ),
    (
        "ingest throughput, PostgreSQL ÷ memory",
        "durable.ingest_postgresql_rate",
        "durable.ingest_memory_rate",
    ),
)  # fmt: skip


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


def _with_unit(m: Measurement) -> str:
    return f"{_number(m.value)} {m.unit}".rstrip()


def _verdict(value: float, target: Target) -> str:
    if math.isnan(value):
        return "n/a"

    def within(limit: float) -> bool:
        return value >= limit if target.at_least else value <= limit

    if target.required is None:
        assert target.aim is not None
        return "aim met" if within(target.aim) else "aim not met"
    verdict = "PASS" if within(target.required) else "FAIL"
    if verdict == "PASS" and target.aim is not None:
        verdict += " (aim met)" if within(target.aim) else " (aim not met)"
    return verdict


def _limit(value: float | None, target: Target, by: dict[str, Measurement]) -> str:
    if value is None:
        return ""
    unit = f" {by[target.numerator].unit}" if target.absolute else ""
    return f"{'≥' if target.at_least else '≤'} {_number(value)}{unit}"


def ratio_rows(results: list[Measurement], judged: bool = True) -> list[list[str]]:
    """Rows of (figure, value, baseline, ratio, required, aim, verdict).

    Figures lacking their measurement are left out; ``judged=False`` (a
    --quick run, too small for the targets) gives no verdicts.
    """
    by = {m.key: m for m in results}
    rows = []
    for target in TARGETS:
        if target.numerator not in by:
            continue
        numerator = by[target.numerator]
        baseline = by.get(target.denominator) if target.denominator is not None else None
        if target.denominator is not None and baseline is None:
            rows.append([target.label, _with_unit(numerator), "", "", "", "", "SKIPPED"])
            continue
        ratio = numerator.value / baseline.value if baseline is not None else math.nan
        judged_value = numerator.value if target.absolute else ratio
        verdict = _verdict(judged_value, target) if judged else "not judged (quick sizes)"
        rows.append(
            [
                target.label,
                _with_unit(numerator),
                _with_unit(baseline) if baseline is not None else "",
                _number(ratio) if baseline is not None else "",
                _limit(target.required, target, by),
                _limit(target.aim, target, by),
                verdict,
            ]
        )
    for label, key, baseline_key in EXTRA_RATIOS:
        if key in by and baseline_key in by:
            value, base = by[key], by[baseline_key]
            ratio_text = _number(value.value / base.value)
            rows.append([label, _with_unit(value), _with_unit(base), ratio_text, "", "", "info"])
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
    "Each section's module docstring says what it measures and why it is fair; in short:",
    "- emit: `emit(name, {duration}, {model, provider, tokens: {prompt, completion},",
    "  sample_id})` with nothing attached, with 1 and with 10 running experiments, in",
    "  timed bursts of 10 000 (mailboxes flushed untimed between bursts). Baselines: an",
    "  empty function with the same arguments, `asyncio.Queue.put_nowait` of the raw",
    "  tuple, prometheus_client `Histogram.observe(x)` and OTel SDK `Histogram.record(x)`.",
    "- capture: the same two fields captured by a Python deep copy of dicts/lists,",
    "  `copy.deepcopy`, `marshal.dumps`, `pickle.dumps`, and the library's msgspec",
    "  MessagePack encode + marker byte scan, next to an empty call (tight loops).",
    "- sparse_emit: one emit after a 1 ms sleep (the actor asleep), timed alone with",
    "  `perf_counter_ns`, on the loop thread and from a foreign thread; prometheus",
    "  `observe` and an empty call timed the same way in the same iterations.",
    "- ingest: the same prebuilt LLM events sent in bursts of 1 000 with a yield between",
    "  (and all at once), emit + flush against an `asyncio.Queue` pipeline whose consumer",
    "  takes at most 256 events per batch (the actor's cap), yields between batches,",
    "  builds a dict per event and keeps a running mean.",
    "- ingest_options: the same, into experiments with anomaly detection (mad + ewma on",
    "  latency and cost) or each sampling strategy, against the bare pipeline.",
    "- out_of_order: the same events from a fake clock running backwards vs forwards.",
    "- queries: 1 M realistic events (random log-normal latencies and tokens, four models,",
    "  two event names) emitted with a fake clock advancing 1 ms per event; floors on",
    "  values taken once from `get_all`: a list comprehension over all events; prefix sums",
    "  + bisect per window; for `calculate_metrics` a numpy floor of the same outputs",
    "  (`np.percentile`, `math.fsum` totals, counts, token sums, `np.unique` per name).",
    "- responsiveness: the same kind of 1 M store; a 1 ms ticker task on the loop records",
    "  the longest gap (and p99) during each public read, against the ticker alone for",
    "  as long in the same run; wall times; garbage-collector passes during each read.",
    "- memory: tracemalloc growth across storing N events emitted with fresh dicts, after",
    "  flush and `gc.collect()`, divided by N.",
    "- percentiles: live sketch percentiles against `calculate_metrics`'s exact ones.",
    "- durable: the ingest's live producer into memory, SQLite and PostgreSQL (flush",
    "  waits for the commit); Last(1 s) and calculate_metrics on the same 1 M events in",
    "  SQLite and in memory; peak and current RSS of a child process after 5 M events",
    "  into SQLite, against the same child keeping them in memory.",
    "- window_percentiles, significance, sampling, anomaly: see their modules.",
]

MEASUREMENT_HEADER = ["measurement", "median", "unit", "min … max", "reps", "note"]
RATIO_HEADER = ["figure", "value", "baseline", "ratio", "required", "aim", "verdict"]


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
