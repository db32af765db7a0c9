"""The archive commands read experiments from a database too, also while they are written."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from click.testing import Result

from telemetry_actors import Experiment, Runtime, emit

from .helpers import PNG_SIGNATURE, assert_one_line_error, invoke


@pytest.fixture(scope="module")
def demo(demo_run: tuple[Path, Result]) -> tuple[Path, Path, dict[str, Any]]:
    """The suite's demo: its output folder, its database and its summary.json."""
    out = demo_run[0]
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    return out, out / "telemetry.db", summary


def table_rows(text: str) -> list[list[str]]:
    """The cells of each body row of a rich table."""
    return [
        [cell.strip() for cell in line.split("│")[1:-1]]
        for line in text.splitlines()
        if line.startswith("│")
    ]


def test_summarize_lists_the_experiments_of_a_database(
    demo: tuple[Path, Path, dict[str, Any]],
) -> None:
    _, database, summary = demo
    result = invoke("summarize", "--database", database)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"Experiments in {database}\n")
    rows = {row[0]: row[1:] for row in table_rows(result.stdout)}
    single, ensemble = (summary["conditions"][name] for name in ("single", "ensemble"))
    assert rows == {
        "ab-ensemble": [
            ensemble["experiment_id"],
            "ensemble",
            "archived",
            f"{ensemble['metrics']['summary']['total_events']:,}",
        ],
        "ab-single": [
            single["experiment_id"],
            "single",
            "archived",
            f"{single['metrics']['summary']['total_events']:,}",
        ],
        "trace": [rows["trace"][0], "default", "stopped", f"{summary['trace']['events']:,}"],
    }


@pytest.mark.parametrize("reference", ["name", "id", "id prefix"])
def test_summarize_reads_the_same_as_from_the_archive(
    demo: tuple[Path, Path, dict[str, Any]], reference: str
) -> None:
    out, database, summary = demo
    identifier = summary["conditions"]["single"]["experiment_id"]
    given = {"name": "ab-single", "id": identifier, "id prefix": identifier[:6]}[reference]
    from_database = invoke("summarize", "--database", database, given)
    assert from_database.exit_code == 0, from_database.output
    assert from_database.stdout == invoke("summarize", out / "ab-single.archive.jsonl").stdout
    assert f"id          {identifier}" in from_database.stdout


def test_compare_reads_the_same_as_from_the_archives(
    demo: tuple[Path, Path, dict[str, Any]],
) -> None:
    out, database, _ = demo
    result = invoke("compare", "--database", database, "ab-single", "ab-ensemble")
    assert result.exit_code == 0, result.output
    archives = [out / "ab-single.archive.jsonl", out / "ab-ensemble.archive.jsonl"]
    assert result.stdout == invoke("compare", *archives).stdout
    assert "ab-single (single)" in result.stdout
    assert "ab-ensemble (ensemble)" in result.stdout


def test_plot_draws_what_it_draws_from_the_archives(
    demo: tuple[Path, Path, dict[str, Any]], tmp_path: Path
) -> None:
    out, database, _ = demo
    from_database, from_archives = tmp_path / "db.png", tmp_path / "archives.png"
    result = invoke(
        "plot", "--database", database, "ab-single", "ab-ensemble", "-o", from_database
    )
    assert result.exit_code == 0, result.output
    archives = [out / "ab-single.archive.jsonl", out / "ab-ensemble.archive.jsonl"]
    assert invoke("plot", *archives, "-o", from_archives).exit_code == 0
    assert from_database.read_bytes() == from_archives.read_bytes()


def test_plot_without_ids_takes_every_experiment(
    demo: tuple[Path, Path, dict[str, Any]], tmp_path: Path
) -> None:
    out, database, _ = demo
    png = tmp_path / "all.png"
    result = invoke("plot", "--database", database, "-o", png, "--window", "2s")
    assert result.exit_code == 0, result.output
    archives = [out / "ab-single.archive.jsonl", out / "ab-ensemble.archive.jsonl"]
    from_archives = invoke("plot", *archives, "-o", tmp_path / "ab.png", "--window", "2s")
    ab_counts = from_archives.stdout.split("; ", 1)[1].rstrip("\n")
    # Sorted by condition: the trace experiment's "default" comes first.
    assert re.fullmatch(
        rf"wrote {re.escape(str(png))}: windows of 2 s every 2 s; "
        rf"trace: \d+ windows, {re.escape(ab_counts)}\n",
        result.stdout,
    )
    assert png.read_bytes().startswith(PNG_SIGNATURE)


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_export_writes_what_it_writes_from_the_archive(
    demo: tuple[Path, Path, dict[str, Any]], tmp_path: Path, kind: str
) -> None:
    out, database, _ = demo
    target = tmp_path / f"db.{kind}"
    result = invoke(
        "export", "--database", database, "ab-ensemble", "--format", kind, "-o", target
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == f"wrote {target}\n"
    reference = tmp_path / f"archive.{kind}"
    archive = out / "ab-ensemble.archive.jsonl"
    assert invoke("export", archive, "--format", kind, "-o", reference).exit_code == 0
    assert target.read_bytes() == reference.read_bytes()


READERS = [
    ["summarize", "{id}"],
    ["compare", "ab-single", "{id}"],
    ["plot", "{id}", "-o", "{tmp}/x.png"],
    ["export", "{id}", "-o", "{tmp}/x.csv"],
]


@pytest.mark.parametrize("command", READERS, ids=lambda command: command[0])
def test_an_unknown_id(
    demo: tuple[Path, Path, dict[str, Any]], command: list[str], tmp_path: Path
) -> None:
    _, database, _ = demo
    args = [arg.format(id="nope", tmp=tmp_path) for arg in command]
    line = assert_one_line_error(invoke(args[0], "--database", database, *args[1:]))
    assert line == (
        f"Error: no experiment 'nope' in {database}; "
        f"telemetry-actors summarize --database {database} lists them"
    )


@pytest.mark.parametrize("command", READERS, ids=lambda command: command[0])
def test_a_database_that_is_not_there(command: list[str], tmp_path: Path) -> None:
    missing = tmp_path / "typo.db"
    args = [arg.format(id="ab-single", tmp=tmp_path) for arg in command]
    line = assert_one_line_error(invoke(args[0], "--database", missing, *args[1:]))
    assert line == (
        f"Error: no database at {missing}: no such file (the demo keeps its experiments "
        "in <output folder>/telemetry.db)"
    )
    assert not missing.exists()  # a reader creates no empty database


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://me@db/x", "Error: unknown database scheme 'mysql' in 'mysql://me@db/x'; "),
        (
            "postgresql://me:pw@127.0.0.1:1/x",
            "Error: cannot open database postgresql://me:***@127.0.0.1:1/x: OperationalError: ",
        ),
    ],
)
def test_a_database_url_that_does_not_open(url: str, message: str) -> None:
    line = assert_one_line_error(invoke("summarize", "--database", url))
    assert line.startswith(message)


def test_a_file_that_is_not_a_database(demo: tuple[Path, Path, dict[str, Any]]) -> None:
    out, _, _ = demo
    summary = out / "summary.json"
    line = assert_one_line_error(invoke("summarize", "--database", summary))
    assert line == (
        f"Error: cannot open database sqlite:///{summary}: DatabaseError: file is not a database"
    )


def test_the_same_experiment_twice(demo: tuple[Path, Path, dict[str, Any]]) -> None:
    _, database, summary = demo
    identifier = summary["conditions"]["single"]["experiment_id"]
    line = assert_one_line_error(
        invoke("compare", "--database", database, "ab-single", identifier)
    )
    assert line == (
        f"Error: {identifier} is experiment ab-single (id {identifier!r}), given twice; "
        "compare and plot need different experiments"
    )


def test_a_name_of_several_experiments(tmp_path: Path) -> None:
    database = tmp_path / "t.db"

    async def two_runs() -> list[Experiment]:
        async with Runtime(database=database) as rt:
            return [await rt.start_experiment("run") for _ in range(2)]

    first, second = anyio.run(two_runs)
    line = assert_one_line_error(invoke("summarize", "--database", database, "run"))
    ids = sorted([first.id, second.id])
    assert line == (
        f"Error: 'run' names 2 experiments in {database} (ids {ids[0]}, {ids[1]}); give an id"
    )


def test_no_experiments_in_a_database(tmp_path: Path) -> None:
    database = tmp_path / "empty.db"
    anyio.run(check_empty, database)
    result = invoke("summarize", "--database", database)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"No experiments in {database}.\n"
    line = assert_one_line_error(invoke("plot", "--database", database, "-o", tmp_path / "x.png"))
    assert line == f"Error: nothing to plot: no experiments in {database}"


async def check_empty(database: Path) -> None:
    async with Runtime(database=database) as rt:
        assert await rt.list_experiments() == []


def test_archives_and_ids_need_the_database_option(
    demo: tuple[Path, Path, dict[str, Any]],
) -> None:
    result = invoke("summarize")
    assert result.exit_code == 2
    assert (
        "Error: Missing argument 'ARCHIVE|ID'. Give an archive, or --database URL to read "
        "experiments from a database."
    ) in result.stderr


@pytest.fixture
def writer(tmp_path: Path) -> Iterator[tuple[BlockingPortal, Runtime, Path]]:
    """A runtime still writing into a SQLite file, on an event loop in another thread."""
    database = tmp_path / "live.db"
    with start_blocking_portal() as portal:
        with portal.wrap_async_context_manager(Runtime(database=database)) as rt:
            yield portal, rt, database


def emit_requests(latencies_ms: list[int]) -> None:
    for latency in latencies_ms:
        emit(("app", "request", "stop"), {"duration": latency * 1_000_000}, {"response": "ok"})


def test_a_second_terminal_reads_what_a_running_runtime_committed(
    writer: tuple[BlockingPortal, Runtime, Path],
) -> None:
    portal, rt, database = writer

    async def start() -> Experiment:
        return await rt.start_experiment("live", condition="treatment", events=["app.*"])

    experiment = portal.call(start)
    emit_requests(list(range(100, 140)))  # 40 requests, mean 119.5 ms
    portal.call(rt.flush)  # committed when it returns
    listing = invoke("summarize", "--database", database)
    assert listing.exit_code == 0, listing.output
    assert table_rows(listing.stdout) == [["live", experiment.id, "treatment", "running", "40"]]
    one = invoke("summarize", "--database", database, "live")
    assert [row for row in table_rows(one.stdout) if row[0] == "mean latency"] == [
        ["mean latency", "120 ms"]
    ]

    emit_requests([1_000] * 40)  # the experiment goes on: the next look sees more
    portal.call(rt.flush)
    again = invoke("summarize", "--database", database, experiment.id)
    assert [row for row in table_rows(again.stdout) if row[0] in ("events", "mean latency")] == [
        ["events", "80"],
        ["mean latency", "560 ms"],
    ]


def test_a_postgresql_url_without_psycopg(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if the extra were not installed
    line = assert_one_line_error(invoke("summarize", "--database", "postgresql://127.0.0.1/x"))
    assert line == (
        "Error: a postgresql:// database needs psycopg: pip install 'telemetry-actors[postgresql]'"
    )
