"""Loading archives: the mistakes a user makes get one line saying what to do instead."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import Result

from .helpers import assert_one_line_error, invoke


@pytest.fixture
def out(demo_run: tuple[Path, Result]) -> Path:
    return demo_run[0]


@pytest.mark.parametrize("command", ["compare", "plot"])
def test_the_same_archive_twice(out: Path, command: str) -> None:
    archive = out / "ab-single.archive.jsonl"
    line = assert_one_line_error(invoke(command, archive, archive))
    assert line == (
        f"Error: {archive} is given twice; compare and plot need archives of different experiments"
    )


def test_the_same_archive_by_another_name(out: Path) -> None:
    archive = out / "ab-single.archive.jsonl"
    detour = out / ".." / out.name / archive.name
    assert_one_line_error(invoke("compare", archive, detour), f"{detour} is given twice")


def test_two_copies_of_one_experiment(out: Path, tmp_path: Path) -> None:
    archive = out / "ab-single.archive.jsonl"
    copy = shutil.copy(archive, tmp_path / "copy.archive.jsonl")
    line = assert_one_line_error(invoke("compare", archive, copy))
    assert line.startswith(
        f"Error: {copy} holds the same experiment as {archive} (ab-single, id '"
    )
    assert line.endswith(
        "'), a copy of one run; compare and plot need archives of different experiments"
    )


@pytest.mark.parametrize("command", ["summarize", "compare", "plot", "export"])
def test_a_json_lines_export_instead_of_an_archive(out: Path, command: str) -> None:
    export = out / "ab-single.jsonl"
    args = [export, out / "ab-ensemble.archive.jsonl"] if command == "compare" else [export]
    line = assert_one_line_error(invoke(command, *args))
    assert line == (
        f"Error: {export} looks like a JSON Lines export (one event per line), not an archive; "
        "archives start with an experiment_metadata line: write one with rt.archive(id), "
        "as the demo does (*.archive.jsonl); telemetry-actors export turns archives into "
        "exports, not back"
    )


def test_a_csv_export_instead_of_an_archive(out: Path) -> None:
    export = out / "ab-single.csv"
    line = assert_one_line_error(invoke("summarize", export))
    assert line.startswith(f"Error: {export} looks like a CSV export, not an archive; ")


def test_other_json_is_still_not_a_valid_archive(out: Path) -> None:
    summary = out / "summary.json"
    assert_one_line_error(invoke("summarize", summary), "not a valid archive", "line 1")
