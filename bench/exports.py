"""CSV and JSON Lines exports of a large store, against writers of prebuilt values.

The store holds ``store_n`` events (1 M in a full run) emitted with a fake
clock 1 ms apart, each a typical LLM call as the export issue measured it:
measurements ``{"duration": ns}``, metadata ``{"model": "gpt-4", "tokens":
{"prompt": 10, "completion": i}, "response": "ok", "sample_id": "q1"}``.
Timed through the public API: ``rt.export(id, "csv")`` and
``rt.export(id, "jsonl")``, each to a file in a temporary folder.

Floors, timed in the same run, write as many rows to a file in the same
folder from values already built, so only the writing is left:

- CSV: ``csv.writer.writerows`` of lists of str, the cells of the export's
  own first rows (parsed once, written over and over up to ``store_n`` rows);
- JSON Lines: ``msgspec.json.Encoder.encode_lines`` of dicts, the export's
  own first objects (decoded once), 10,000 per call.

Each figure is the seconds for the whole store; the notes give µs per event
and the ratio of the export to its floor. The issue asks for 10 s (CSV) and
5 s (JSON Lines) at 1 M events.
"""

from __future__ import annotations

import csv
import itertools
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import msgspec

from telemetry_actors import Runtime, emit

from ._timing import Case, Config, Measurement, run_cases
from ._workload import START_US, STEP_US, SteppingClock

#: Rows of prebuilt values the floors repeat (a million lists of str would
#: take a gigabyte for no difference in the rate).
FLOOR_ROWS = 100_000
#: Objects per ``encode_lines`` call in the JSON Lines floor.
FLOOR_BATCH = 10_000
EVENT_NAME = ("req_llm", "request", "stop")


def issue_event(i: int) -> tuple[tuple[str, ...], dict[str, Any], dict[str, Any]]:
    """The ``i``-th event of the store the export issue measured."""
    return (
        EVENT_NAME,
        {"duration": 200_000_000 + (i * 7919) % 1_800_000_000},
        {
            "model": "gpt-4",
            "tokens": {"prompt": 10, "completion": i},
            "response": "ok",
            "sample_id": "q1",
        },
    )


async def fill(rt: Runtime, clock: SteppingClock, n: int, chunk: int) -> str:
    """Start an experiment and emit ``n`` issue events into it, 1 ms apart."""
    experiment_id = (await rt.start_experiment("bench-exports")).id
    clock.step = STEP_US
    for first in range(0, n, chunk):
        for i in range(first, min(first + chunk, n)):
            emit(*issue_event(i))
        await rt.flush()
    clock.step = 0
    return experiment_id


def csv_rows(path: Path, limit: int) -> tuple[list[str], list[list[str]]]:
    """The header and the first ``limit`` rows of a CSV file, as lists of str."""
    with path.open(encoding="utf-8", newline="") as stream:
        reader = csv.reader(stream)
        header = next(reader)
        return header, list(itertools.islice(reader, limit))


def jsonl_objects(path: Path, limit: int) -> list[Any]:
    """The first ``limit`` objects of a JSON Lines file."""
    decode = msgspec.json.Decoder().decode
    with path.open("rb") as stream:
        return [decode(line) for line in itertools.islice(stream, limit)]


def repeated(items: list[Any], n: int) -> list[list[Any]]:
    """``items`` over and over, as slices, ``n`` items in all."""
    slices = []
    while n > 0:
        slices.append(items[: min(n, len(items))])
        n -= len(slices[-1])
    return slices


def write_csv_floor(path: Path, header: list[str], slices: list[list[list[str]]]) -> None:
    """``csv.writer`` of the prebuilt rows, as the export writes its file."""
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream, lineterminator="\r\n")
        writer.writerow(header)
        for rows in slices:
            writer.writerows(rows)


def write_jsonl_floor(path: Path, slices: list[list[Any]]) -> None:
    """``encode_lines`` of the prebuilt objects, ``FLOOR_BATCH`` at a time."""
    encode_lines = msgspec.json.Encoder().encode_lines
    with path.open("wb") as stream:
        for objects in slices:
            for first in range(0, len(objects), FLOOR_BATCH):
                stream.write(encode_lines(objects[first : first + FLOOR_BATCH]))


def line_count(path: Path) -> int:
    """Lines in a file."""
    with path.open("rb") as stream:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: stream.read(1 << 20), b""))


def _ratios(results: list[Measurement], n: int) -> None:
    """µs per event and export ÷ floor in the notes, and printed."""
    by_key = {m.key: m for m in results}
    for kind in ("csv", "jsonl"):
        export, floor = by_key[f"export.{kind}"], by_key[f"export.{kind}_floor"]
        ratio = export.value / floor.value
        export.note = f"{export.value * 1e6 / n:.2f} µs/event; {ratio:.2f}x the floor"
        floor.note = f"{floor.value * 1e6 / n:.2f} µs/row"
        print(
            f"[bench] export {kind}: {export.value:.2f} s for {n:,} events "
            f"({export.value * 1e6 / n:.2f} µs/event), floor {floor.value:.2f} s, "
            f"ratio {ratio:.2f}",
            file=sys.stderr,
            flush=True,
        )


async def run(config: Config) -> list[Measurement]:
    """Build the store, export it once to take the floors' values, then time all four."""
    n = config.store_n
    folder = Path(tempfile.mkdtemp(prefix="bench-exports-"))
    clock = SteppingClock(START_US, 0)
    try:
        async with Runtime(clock=clock, mailbox_size=config.store_chunk + 1024) as rt:
            experiment_id = await fill(rt, clock, n, config.store_chunk)
            csv_path = await rt.export(experiment_id, "csv", path=folder / "first.csv")
            jsonl_path = await rt.export(experiment_id, "jsonl", path=folder / "first.jsonl")
            if line_count(csv_path) != n + 1 or line_count(jsonl_path) != n:
                raise RuntimeError("an export does not hold one line per event")
            header, rows = csv_rows(csv_path, FLOOR_ROWS)
            row_slices = repeated(rows, n)
            object_slices = repeated(jsonl_objects(jsonl_path, FLOOR_ROWS), n)
            csv_path.unlink()
            jsonl_path.unlink()

            def removed(name: str) -> None:
                (folder / name).unlink(missing_ok=True)

            cases = [
                Case(
                    "export.csv",
                    f"export CSV of {n:,} events",
                    "s",
                    lambda: rt.export(experiment_id, "csv", path=folder / "out.csv"),
                    teardown=lambda: removed("out.csv"),
                ),
                Case(
                    "export.csv_floor",
                    f"csv.writer of {n:,} prebuilt rows of str",
                    "s",
                    lambda: write_csv_floor(folder / "floor.csv", header, row_slices),
                    teardown=lambda: removed("floor.csv"),
                ),
                Case(
                    "export.jsonl",
                    f"export JSONL of {n:,} events",
                    "s",
                    lambda: rt.export(experiment_id, "jsonl", path=folder / "out.jsonl"),
                    teardown=lambda: removed("out.jsonl"),
                ),
                Case(
                    "export.jsonl_floor",
                    f"msgspec encode_lines of {n:,} prebuilt dicts",
                    "s",
                    lambda: write_jsonl_floor(folder / "floor.jsonl", object_slices),
                    teardown=lambda: removed("floor.jsonl"),
                ),
            ]
            results = await run_cases(cases, config.slow_reps)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    _ratios(results, n)
    return results
