"""Does the event loop stay free while the runtime reads a large store?

A store of ``responsiveness_n`` realistic LLM events (1 M in a full run),
emitted in chunks with a fake clock advancing 1 ms per event, is read
through every public read the contract's "Responsiveness" section names.
During each read a ticker task on the same loop sleeps 1 ms at a time and
records when it wakes; the figure is the longest gap between two ticks
overlapping the read (and the 99th percentile of those gaps), in ms. Any
part of a read that holds the loop (or the GIL) shows up as a long gap.

Baseline, measured in the same run right after each read: the ticker alone
for as long as that read took (an idle loop: about 1.1 ms between ticks on
Linux), so a busy machine shows in both. Each read's wall time is reported
too, with absolute targets for the two exports.

The reads run on a stopped experiment (data stays queryable), so the flood
for ``streaming_metrics`` goes to its own fresh experiment per repetition:
``flood_n`` events are emitted (untimed, before the ticker starts), then
``streaming_metrics`` is awaited, which waits behind the queued flood and
folds it in. ``archive`` makes the experiment ARCHIVED, which changes no
read; ``load_archive`` loads that archive into a second runtime on the same
loop (the id is taken in the first), which is cleaned up untimed.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

from telemetry_actors import LastN, Runtime, emit

from ._timing import Config, Measurement
from ._workload import START_US, RealisticEvents, SteppingClock, fill_store

TICK_S = 0.001
PERCENTILES = (50, 95, 99)


class CollectorPauses:
    """The garbage collector's passes while in the block: (generation, seconds) each.

    A pass holds the GIL, so one started by a worker thread stalls the loop too.
    """

    def __init__(self) -> None:
        self.passes: list[tuple[int, float]] = []
        self._started = 0.0

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.passes.append((info["generation"], time.perf_counter() - self._started))

    def __enter__(self) -> CollectorPauses:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)

    def longest(self, generation: int) -> float:
        """The longest pass of ``generation`` (seconds; 0 when none ran)."""
        return max((s for g, s in self.passes if g == generation), default=0.0)

    def count(self, generation: int) -> int:
        """Passes of ``generation``."""
        return sum(1 for g, _ in self.passes if g == generation)


class Ticker:
    """A task on the loop that sleeps ``TICK_S`` and records every wake-up."""

    def __init__(self) -> None:
        self.ticks: list[float] = []
        self.running = False
        self.ticked = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        ticks, ticked = self.ticks, self.ticked
        while self.running:
            await asyncio.sleep(TICK_S)
            ticks.append(time.perf_counter())
            ticked.set()

    async def start(self) -> None:
        """Start ticking; return after the first tick."""
        self.ticks = [time.perf_counter()]
        self.running = True
        self.ticked.clear()
        self.task = asyncio.create_task(self._run())
        await self.ticked.wait()

    async def stop(self) -> None:
        """Stop after one more tick (so the gap spanning the end is recorded)."""
        self.ticked.clear()
        await self.ticked.wait()
        self.running = False
        assert self.task is not None
        await self.task

    def gaps(self, started: float, ended: float) -> list[float]:
        """Gaps (s) between consecutive ticks whose interval overlaps [started, ended]."""
        ticks = self.ticks
        return [
            later - earlier
            for earlier, later in pairwise(ticks)
            if later > started and earlier < ended
        ]


@dataclass
class Read:
    """One public read to watch: ``call`` is awaited; ``setup``/``teardown`` untimed."""

    key: str
    label: str
    call: Callable[[], Awaitable[Any]]
    setup: Callable[[], Awaitable[Any]] | None = None
    teardown: Callable[[], Awaitable[Any]] | None = None
    #: What a returned list (or count) holds, for the wall-time note.
    items: str = "events"


@dataclass
class Figures:
    """The samples of one read: longest gap, p99 gap, wall time, and the idle baseline."""

    read: Read
    stall: Measurement
    p99: Measurement
    wall: Measurement
    idle: Measurement
    idle_p99: Measurement
    gc: Measurement
    gc_count: Measurement


def _p99(gaps: list[float]) -> float:
    if len(gaps) < 2:
        return max(gaps, default=0.0)
    return statistics.quantiles(gaps, n=100, method="inclusive")[98]


async def watch(read: Read, ticker: Ticker, figures: Figures) -> None:
    """Run ``read`` with the ticker on, then the ticker alone for as long."""
    if read.setup is not None:
        await read.setup()
    await ticker.start()
    pauses = CollectorPauses()
    with pauses:
        started = time.perf_counter()
        result = await read.call()
        ended = time.perf_counter()
        await ticker.stop()
    if isinstance(result, list | int):
        count = len(result) if isinstance(result, list) else result
        figures.wall.note = f"{count:,} {read.items} returned"
    # Dropping a million events takes the caller's loop a while: the caller's
    # business, after the read, so it happens outside the watched interval.
    del result
    if read.teardown is not None:
        await read.teardown()
    gaps = ticker.gaps(started, ended)
    figures.stall.samples.append(max(gaps) * 1e3)
    figures.p99.samples.append(_p99(gaps) * 1e3)
    figures.wall.samples.append(ended - started)
    figures.gc.samples.append(pauses.longest(2) * 1e3)
    figures.gc_count.samples.append(float(pauses.count(2)))
    await ticker.start()
    idle_started = time.perf_counter()
    await asyncio.sleep(ended - started)
    idle_ended = time.perf_counter()
    await ticker.stop()
    idle = ticker.gaps(idle_started, idle_ended)
    figures.idle.samples.append(max(idle) * 1e3)
    figures.idle_p99.samples.append(_p99(idle) * 1e3)


def figures_of(read: Read) -> Figures:
    """Empty measurements for one read."""
    key, label = f"resp.{read.key}", read.label
    return Figures(
        read,
        Measurement(f"{key}.stall", f"longest loop stall: {label}", "ms"),
        Measurement(f"{key}.p99", f"p99 gap between ticks: {label}", "ms"),
        Measurement(f"{key}.wall", f"wall time: {label}", "s"),
        Measurement(f"{key}.idle", f"idle loop, same duration: longest gap ({read.key})", "ms"),
        Measurement(f"{key}.idle_p99", f"idle loop, same duration: p99 gap ({read.key})", "ms"),
        Measurement(f"{key}.gc", f"longest full gc pass during {read.key}", "ms"),
        Measurement(f"{key}.gc_count", f"full gc passes during {read.key}", "passes"),
    )


class Reads:
    """The reads of one run, on one filled store, with their untimed set-ups."""

    def __init__(self, rt: Runtime, other: Runtime, experiment_id: str, folder: Path) -> None:
        self.rt, self.other, self.id, self.folder = rt, other, experiment_id, folder
        self.archive_path = folder / "bench.archive.jsonl"
        self.flood_id = ""
        self.loaded_id = ""
        self.flood_n = 0
        self.flood_seed = 0

    async def iterate(self) -> int:
        count = 0
        async for batch in self.rt.iter_events(self.id):
            count += len(batch)
        return count

    async def start_flood(self) -> None:
        self.flood_id = (await self.rt.start_experiment("bench-flood")).id
        # Made here and dropped once emitted: prebuilt events kept for the whole
        # section would make every garbage collector pass, hence every stall, longer.
        self.flood_seed += 1
        for event_name, measurements, metadata in RealisticEvents(self.flood_seed).chunk(
            self.flood_n
        ):
            emit(event_name, measurements, metadata)

    async def end_flood(self) -> None:
        await self.rt.cleanup(self.flood_id)

    async def load(self) -> None:
        self.loaded_id = (await self.other.load_archive(self.archive_path)).id

    async def unload(self) -> None:
        await self.other.cleanup(self.loaded_id)

    def all(self, config: Config) -> list[Read]:
        rt, experiment_id, folder = self.rt, self.id, self.folder
        window, step = config.window_us, config.step_us
        half = config.responsiveness_n // 2
        minutes = f"{window / 60e6:g} min / {step / 60e6:g} min"
        return [
            Read("get_all", "get_all", lambda: rt.get_all(experiment_id)),
            Read(
                "query_name",
                "query(event_name=…), half the events",
                lambda: rt.query(experiment_id, event_name="req_llm.request.stop"),
            ),
            Read(
                "last_n",
                f"query_window(LastN({half:,}))",
                lambda: rt.query_window(experiment_id, LastN(half)),
            ),
            Read(
                "windowed",
                f"windowed_metrics ({minutes})",
                lambda: rt.windowed_metrics(experiment_id, window, step),
                items="windows",
            ),
            Read(
                "windowed_pct",
                f"windowed_metrics ({minutes}, percentiles={PERCENTILES})",
                lambda: rt.windowed_metrics(experiment_id, window, step, percentiles=PERCENTILES),
                items="windows",
            ),
            Read("metrics", "calculate_metrics", lambda: rt.calculate_metrics(experiment_id)),
            Read(
                "streaming",
                f"streaming_metrics right after a {config.flood_n:,}-event flood",
                lambda: rt.streaming_metrics(self.flood_id),
                self.start_flood,
                self.end_flood,
            ),
            Read(
                "export_csv",
                "export CSV",
                lambda: rt.export(experiment_id, "csv", path=folder / "bench.csv"),
            ),
            Read(
                "export_jsonl",
                "export JSONL",
                lambda: rt.export(experiment_id, "jsonl", path=folder / "bench.jsonl"),
            ),
            Read("archive", "archive", lambda: rt.archive(experiment_id, path=self.archive_path)),
            Read("load_archive", "load_archive of that archive", self.load, None, self.unload),
            Read("iter_events", "iter_events (every batch)", self.iterate),
        ]


async def run(config: Config) -> list[Measurement]:
    """Fill the store, then watch the loop during each read, interleaved, ``slow_reps`` times."""
    n = config.responsiveness_n
    clock = SteppingClock(START_US, 0)
    size = max(config.store_chunk, config.flood_n) + 1024
    with tempfile.TemporaryDirectory(prefix="bench-responsiveness-") as folder:
        async with Runtime(clock=clock, mailbox_size=size, export_dir=folder) as rt:
            experiment_id = await fill_store(rt, clock, n, config.store_chunk)
            await rt.stop_experiment(experiment_id)
            async with Runtime(export_dir=folder) as other:
                reads = Reads(rt, other, experiment_id, Path(folder))
                reads.flood_n = config.flood_n
                tracked = len(gc.get_objects())
                watched = [figures_of(read) for read in reads.all(config)]
                ticker = Ticker()
                for _ in range(config.slow_reps):
                    for figures in watched:
                        await watch(figures.read, ticker, figures)
                sizes = {
                    name: (Path(folder) / name).stat().st_size / 2**20
                    for name in ("bench.csv", "bench.jsonl", "bench.archive.jsonl")
                }
    results: list[Measurement] = []
    for figures in watched:
        figures.stall.note = f"{n:,} events; {tracked:,} objects tracked by gc before"
        results += [
            figures.stall,
            figures.p99,
            figures.wall,
            figures.idle,
            figures.idle_p99,
            figures.gc,
            figures.gc_count,
        ]
    notes = {
        "export_csv": "bench.csv",
        "export_jsonl": "bench.jsonl",
        "archive": "bench.archive.jsonl",
    }
    for figures in watched:
        name = notes.get(figures.read.key)
        if name is not None:
            figures.wall.note = f"{sizes[name]:,.0f} MiB written"
        elif figures.read.key == "streaming":
            figures.wall.note = f"{config.flood_n:,} events folded in"
    return results
