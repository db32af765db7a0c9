"""``python -m bench [--quick] [--only SECTION ...]``: run the benchmarks, print, record."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from . import (
    anomaly_detection,
    capture,
    durable,
    emit_cost,
    exports,
    ingest,
    ingest_options,
    memory,
    out_of_order,
    percentiles,
    report,
    responsiveness,
    sampling,
    significance,
    sparse_emit,
    store_queries,
    window_percentiles,
)
from ._timing import Config, Measurement

SECTIONS: dict[str, Callable[[Config], Awaitable[list[Measurement]]]] = {
    "emit": emit_cost.run,
    "capture": capture.run,
    "sparse_emit": sparse_emit.run,
    "ingest": ingest.run,
    "ingest_options": ingest_options.run,
    "out_of_order": out_of_order.run,
    "queries": store_queries.run,
    "exports": exports.run,
    "responsiveness": responsiveness.run,
    "memory": memory.run,
    "percentiles": percentiles.run,
    "window_percentiles": window_percentiles.run,
    "significance": significance.run,
    "sampling": sampling.run,
    "anomaly": anomaly_detection.run,
    "durable": durable.run,
}
RESULTS = Path(__file__).with_name("RESULTS.md")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small sizes and 3 repetitions: a smoke run, not figures",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted(SECTIONS),
        metavar="SECTION",
        help=f"run only this section (repeatable): {', '.join(SECTIONS)}",
    )
    parser.add_argument("--reps", type=int, help="repetitions per measurement")
    parser.add_argument(
        "--no-write",
        action="store_true",
        help="do not write bench/RESULTS.md even after a full run",
    )
    return parser.parse_args(argv)


async def run_sections(names: list[str], config: Config) -> list[Measurement]:
    """Run the named sections in order, printing progress to stderr."""
    results: list[Measurement] = []
    for name in names:
        started = time.perf_counter()
        print(f"[bench] {name} …", file=sys.stderr, flush=True)
        results += await SECTIONS[name](config)
        print(
            f"[bench] {name} done in {time.perf_counter() - started:.1f} s",
            file=sys.stderr,
            flush=True,
        )
    return results


def main(argv: list[str] | None = None) -> None:
    """Run, print the table and ratios, and write RESULTS.md after a full run."""
    args = parse_args(argv)
    config = Config.quick() if args.quick else Config()
    if args.reps:
        config.reps = args.reps
    names = args.only or list(SECTIONS)
    started = time.perf_counter()
    results = asyncio.run(run_sections(names, config))
    seconds = time.perf_counter() - started
    print(report.render_text(results, judged=not args.quick))
    print(f"\n{seconds:.0f} s in all\n" + "\n".join(report.machine()))
    if args.quick or args.only or args.no_write:
        print(f"\n(not written to {RESULTS.name}: only full runs are recorded)")
        return
    command = "python -m bench" + (f" --reps {args.reps}" if args.reps else "")
    report.write_results(RESULTS, results, command, seconds)
    print(f"\nwritten to {RESULTS}")


if __name__ == "__main__":
    main()
