"""The ``telemetry-actors`` command line: the demo and the archive commands."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from click.testing import Result

from telemetry_actors import Runtime

from .helpers import (
    DEMO_ARGS,
    PNG_SIGNATURE,
    assert_one_line_error,
    invoke,
    run_demo_cli,
    subprocess_env,
)

ARCHIVE_COMMANDS = [
    ["summarize"],
    ["compare", "{path}"],
    ["plot", "-o", "{tmp}/out.png"],
    ["export", "--format", "csv"],
]


def comparison_section(result: Result) -> str:
    """The printed comparison table and trace line: everything but the paths."""
    text = result.stdout
    return text[text.index("A/B comparison") : text.index("wrote ")]


def numbers(summary_path: Path) -> dict[str, Any]:
    """summary.json without what differs between runs: ids and wall-clock time stamps."""
    summary: dict[str, Any] = json.loads(summary_path.read_text(encoding="utf-8"))
    del summary["database"]  # in the run's own folder
    del summary["significance"]["baseline_id"]
    del summary["significance"]["treatment_id"]
    for condition in summary["conditions"].values():
        del condition["experiment_id"]
        del condition["metrics"]["summary"]["time_range"]
    return summary


def test_demo_writes_every_file(demo_run: tuple[Path, Result]) -> None:
    out, result = demo_run
    names = {path.name for path in out.iterdir()}
    for arm in ("ab-single", "ab-ensemble"):
        assert {f"{arm}.csv", f"{arm}.jsonl", f"{arm}.archive.jsonl"} <= names
    assert {"summary.json", "windows.png"} <= names
    png = (out / "windows.png").read_bytes()
    assert png.startswith(PNG_SIGNATURE)
    assert len(png) > 20_000  # three panels with lines, not an empty canvas
    assert f"Output folder: {out}" in result.stdout
    assert "] 00:24 paused\n  single:" in result.stdout  # the log line of the pause


def test_demo_shows_the_runtime_observing_itself(demo_run: tuple[Path, Result]) -> None:
    # Each progress report shows the actors' own figures from rt.statistics().
    lines = [line for line in demo_run[1].stdout.splitlines() if "mailbox max" in line]
    assert len(lines) == 2 * sum(line.startswith("[") for line in demo_run[1].stdout.splitlines())
    assert all(re.search(r"^ {12}actor busy \d+ ms, .* 0 restarts$", line) for line in lines)


def test_demo_prints_the_comparison(demo_run: tuple[Path, Result]) -> None:
    _, result = demo_run
    section = comparison_section(result)
    for row in ("mean latency", "p95 latency", "total cost", "success rate"):
        assert row in section
    assert "single (baseline)" in section
    assert "Trace experiment:" in section


def test_same_seed_same_numbers(demo_run: tuple[Path, Result], tmp_path: Path) -> None:
    out, first = demo_run
    second = run_demo_cli(tmp_path / "again")
    assert comparison_section(second) == comparison_section(first)
    assert numbers(tmp_path / "again" / "summary.json") == numbers(out / "summary.json")


def test_another_seed_other_numbers(demo_run: tuple[Path, Result], tmp_path: Path) -> None:
    _, first = demo_run
    other = run_demo_cli(tmp_path / "other", seed=2)
    assert comparison_section(other) != comparison_section(first)


def test_demo_collects_nothing_while_paused(demo_run: tuple[Path, Result]) -> None:
    out, _ = demo_run
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    lines = (out / "ab-single.archive.jsonl").read_text(encoding="utf-8").splitlines()
    experiment = json.loads(lines[0])["data"]
    assert experiment["pause_count"] == 1
    assert experiment["status"] == "archived"
    timestamps = sorted(json.loads(line)["data"]["timestamp"] for line in lines[1:])
    gaps = [later - earlier for earlier, later in itertools.pairwise(timestamps)]
    # The pause, a tenth of the study or more, leaves a gap without events.
    assert max(gaps) >= 0.1 * summary["simulated_seconds"] * 1e6 * 0.9


def test_summarize(demo_run: tuple[Path, Result]) -> None:
    out, _ = demo_run
    result = invoke("summarize", out / "ab-single.archive.jsonl")
    assert result.exit_code == 0, result.output
    assert "ab-single" in result.stdout
    assert "mean latency" in result.stdout
    assert "ab.single.request.stop" in result.stdout


def test_compare(demo_run: tuple[Path, Result]) -> None:
    out, first = demo_run
    result = invoke("compare", out / "ab-single.archive.jsonl", out / "ab-ensemble.archive.jsonl")
    assert result.exit_code == 0, result.output

    # The same table as the demo's own comparison, row for row.
    def cells(text: str) -> list[list[str]]:
        table = text[: text.index("Significance at ")]
        rows = [line for line in table.splitlines() if "latency" in line or "cost" in line]
        return [[cell.strip() for cell in row.split("│")[2:]] for row in rows]

    assert cells(result.stdout) == cells(comparison_section(first))
    assert len(cells(result.stdout)) == 6  # with latency, mean, p50, p95, p99, cost


def test_plot(demo_run: tuple[Path, Result], tmp_path: Path) -> None:
    out, _ = demo_run
    png = tmp_path / "plots" / "both.png"
    archives = [out / "ab-single.archive.jsonl", out / "ab-ensemble.archive.jsonl"]
    result = invoke("plot", *archives, "-o", png)
    assert result.exit_code == 0, result.output
    assert png.read_bytes().startswith(PNG_SIGNATURE)


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_export(demo_run: tuple[Path, Result], tmp_path: Path, kind: str) -> None:
    out, _ = demo_run
    target = tmp_path / f"events.{kind}"
    archive = out / "ab-ensemble.archive.jsonl"
    result = invoke("export", archive, "--format", kind, "-o", target)
    assert result.exit_code == 0, result.output
    events = len(archive.read_text(encoding="utf-8").splitlines()) - 1
    header = 1 if kind == "csv" else 0
    assert len(target.read_text(encoding="utf-8").splitlines()) == events + header


def _archive_command(command: list[str], path: Path, tmp: Path) -> list[str]:
    return [command[0], str(path)] + [arg.format(path=path, tmp=tmp) for arg in command[1:]]


@pytest.mark.parametrize("command", ARCHIVE_COMMANDS, ids=lambda c: c[0])
def test_missing_archive(command: list[str], tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl"
    result = invoke(*_archive_command(command, missing, tmp_path))
    assert_one_line_error(result, "no such file", "nope.jsonl")


@pytest.mark.parametrize("command", ARCHIVE_COMMANDS, ids=lambda c: c[0])
def test_corrupt_archive(command: list[str], tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.jsonl"
    corrupt.write_text('{"type": "experiment_metadata", "data": {\nnot json\n', encoding="utf-8")
    result = invoke(*_archive_command(command, corrupt, tmp_path))
    assert_one_line_error(result, "not a valid archive", "corrupt.jsonl", "line 1")


def test_corrupt_line_is_named(demo_run: tuple[Path, Result], tmp_path: Path) -> None:
    out, _ = demo_run
    lines = (out / "ab-single.archive.jsonl").read_text(encoding="utf-8").splitlines()
    broken = tmp_path / "broken.jsonl"
    broken.write_text("\n".join([*lines[:2], "{oops", *lines[2:]]) + "\n", encoding="utf-8")
    assert_one_line_error(invoke("summarize", broken), "line 3")


def test_folder_instead_of_archive(tmp_path: Path) -> None:
    assert_one_line_error(invoke("summarize", tmp_path), "is a folder")


def test_export_of_an_empty_archive(tmp_path: Path) -> None:
    async def write_empty() -> Path:
        async with Runtime(export_dir=tmp_path) as rt:
            experiment = await rt.start_experiment("empty")
            return await rt.archive(experiment.id, path=tmp_path / "empty.jsonl")

    archive = anyio.run(write_empty)
    result = invoke("export", archive, "-o", tmp_path / "empty.csv")
    assert_one_line_error(result)
    assert invoke("summarize", archive).exit_code == 0


def test_python_dash_m(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "telemetry_actors", "--help"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env=subprocess_env(),
    )
    assert result.returncode == 0, result.stderr
    for command in ("demo", "summarize", "compare", "plot", "export"):
        assert command in result.stdout


def test_missing_cli_extra_is_a_one_line_hint() -> None:
    code = (
        "import sys; sys.modules['click'] = None; "  # as if click were not installed
        "from telemetry_actors.cli import main; main()"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=False,
        env=subprocess_env(),
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "telemetry-actors: the command line needs the 'cli' extra (click is not installed); "
        "install it with: pip install 'telemetry-actors[cli]'"
    ]


def test_demo_piped_into_a_reader_that_stops_early(tmp_path: Path) -> None:
    # As `telemetry-actors demo --no-live | head -1`: the pipe closes mid-study.
    args = [*DEMO_ARGS[:3], "5", "--agents", "32", "--out", str(tmp_path / "out")]
    with subprocess.Popen(
        [sys.executable, "-m", "telemetry_actors", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=subprocess_env(),
    ) as process:
        assert process.stdout is not None
        assert process.stderr is not None
        assert process.stdout.readline().startswith(b"telemetry-actors demo: 32 agents")
        for line in process.stdout:
            if line.startswith(b"anomalies: "):  # the legend's end
                break
        process.stdout.close()  # before the progress reports, which come from a task group
        stderr = process.stderr.read().decode()
    assert stderr == ""
    assert process.returncode == 1


@pytest.mark.parametrize("duration", ["nan", "inf", "-inf", "0", "3601"])
def test_demo_refuses_a_duration_it_cannot_run(duration: str, tmp_path: Path) -> None:
    result = invoke("demo", "--no-live", "--duration", duration, "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert f"Invalid value for '--duration': {duration} is not " in result.stderr
    assert "between 0.1 and 3600 seconds" in result.stderr
    assert not (tmp_path / "out").exists()


def test_demo_says_how_much_traffic_it_simulates(demo_run: tuple[Path, Result]) -> None:
    assert demo_run[1].stdout.startswith(
        "telemetry-actors demo: 4 agents, 1 min of simulated traffic, seed 1."
    )


@pytest.mark.parametrize("agents", ["1", "10001"])
def test_demo_refuses_an_agent_count_out_of_range(agents: str, tmp_path: Path) -> None:
    result = invoke("demo", "--no-live", "--agents", agents, "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert f"Invalid value for '--agents': {agents} is not in the range 2<=x<=10000" in (
        result.stderr
    )
