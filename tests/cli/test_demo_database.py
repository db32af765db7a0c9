"""The demo keeps its experiments in a database: SQLite in its output folder by default."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest
from click.testing import Result

from telemetry_actors import Runtime

from .helpers import DEMO_ARGS, assert_one_line_error, invoke


def experiments_in(database: str | Path) -> list[tuple[str, str, str, str, int]]:
    """(id, name, condition, status, events) of every experiment in ``database``."""

    async def run() -> list[tuple[str, str, str, str, int]]:
        async with Runtime(database=database) as rt:
            rows = []
            for experiment in await rt.list_experiments():
                metrics = await rt.calculate_metrics(experiment.id)
                rows.append(
                    (
                        experiment.id,
                        experiment.name,
                        experiment.condition,
                        experiment.status.value,
                        metrics.summary.total_events,
                    )
                )
            return rows

    return anyio.run(run)


def summary_of(out: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    return loaded


def assert_kept(database: str | Path, summary: dict[str, Any]) -> None:
    """The database holds the demo's two A/B experiments (archived) and its trace (stopped)."""
    # All three start at the same simulated instant: start order leaves them unordered.
    rows = sorted(experiments_in(database), key=lambda row: row[1])
    assert [row[1:4] for row in rows] == [
        ("ab-ensemble", "ensemble", "archived"),
        ("ab-single", "single", "archived"),
        ("trace", "default", "stopped"),
    ]
    for identifier, _, condition, _, events in rows[:2]:
        entry = summary["conditions"][condition]
        assert identifier == entry["experiment_id"]
        assert events == entry["metrics"]["summary"]["total_events"]
    assert rows[2][4] == summary["trace"]["events"]


def test_the_demo_keeps_its_experiments_in_its_output_folder(
    demo_run: tuple[Path, Result],
) -> None:
    out, result = demo_run
    database = out / "telemetry.db"
    summary = summary_of(out)
    assert summary["database"] == str(database)
    assert_kept(database, summary)
    assert f"Experiments are kept in {database} (SQLite)." in " ".join(result.stdout.split())
    hint = (
        f"From another terminal, while it runs: telemetry-actors summarize --database {database}"
    )
    assert hint in result.stdout.splitlines()
    assert f"Next: telemetry-actors summarize --database {database}" in result.stdout


def test_no_database_keeps_memory_only(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = invoke(*DEMO_ARGS, "--out", out, "--no-database")
    assert result.exit_code == 0, result.output
    assert not (out / "telemetry.db").exists()
    assert summary_of(out)["database"] is None
    assert "Experiments are kept in memory only (--no-database)." in result.stdout
    assert "--database" not in result.stdout.split("Next:")[1]


def test_the_demo_writes_into_postgresql(postgres_url: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = invoke(*DEMO_ARGS, "--out", out, "--database", postgres_url)
    assert result.exit_code == 0, result.output
    assert not (out / "telemetry.db").exists()
    summary = summary_of(out)
    assert summary["database"] == postgres_url
    assert_kept(postgres_url, summary)
    assert "(PostgreSQL)" in result.stdout
    listing = invoke("summarize", "--database", postgres_url)
    assert listing.exit_code == 0, listing.output
    names = sorted(
        line.split("│")[1].strip()
        for line in listing.stdout.splitlines()[1:]
        if line.startswith("│")
    )
    assert names == ["ab-ensemble", "ab-single", "trace"]


def test_database_and_no_database_exclude_each_other(tmp_path: Path) -> None:
    result = invoke(*DEMO_ARGS, "--database", tmp_path / "t.db", "--no-database")
    assert result.exit_code == 2
    assert "--database and --no-database exclude each other" in result.stderr
    assert not (tmp_path / "t.db").exists()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "mysql://me@db/telemetry",
            "Error: unknown database scheme 'mysql' in 'mysql://me@db/telemetry'; "
            "use a path, sqlite:///path or postgresql://user@host/db",
        ),
        (
            "postgresql://me:secret@127.0.0.1:1/telemetry",
            "Error: cannot open database postgresql://me:***@127.0.0.1:1/telemetry: "
            "OperationalError: connection failed: ",
        ),
    ],
)
def test_a_database_the_demo_cannot_open(url: str, message: str, tmp_path: Path) -> None:
    result = invoke(*DEMO_ARGS, "--out", tmp_path / "out", "--database", url)
    line = assert_one_line_error(result)
    assert line.startswith(message)
    assert "secret" not in line
