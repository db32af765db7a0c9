"""``telemetry-actors plot``: complete windows only, --window/--step, colours by condition."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import anyio
import pytest
from click.testing import Result

from telemetry_actors import Runtime
from telemetry_actors.cli._plot import condition_colours, series_styles
from telemetry_actors.cli._windows import Series

from .helpers import PNG_SIGNATURE, assert_one_line_error, invoke

#: 2025-01-01T00:00:00Z in µs.
BASE_US = 1_735_689_600_000_000


def write_archive(path: Path, seconds: Sequence[float], condition: str = "control") -> Path:
    """An archive of one event with latency, cost and success at each of ``seconds``."""

    async def run() -> Path:
        async with Runtime(export_dir=path.parent) as rt:
            name = path.name.split(".")[0]
            experiment = await rt.start_experiment(name, condition=condition)
            for second in seconds:
                event = {
                    "timestamp": BASE_US + round(second * 1e6),
                    "event_name": ("app", "request", "stop"),
                    "latency_ms": 100.0 + second,
                    "cost_usd": 0.01,
                    "success": True,
                }
                await rt.insert(experiment.id, event)
            return await rt.archive(experiment.id, path=path)

    return anyio.run(run)


@pytest.fixture
def every_5s(tmp_path: Path) -> Path:
    """Events at 0, 5, …, 95 s: the last 30 s window from 90 s would be partial."""
    return write_archive(tmp_path / "every5.archive.jsonl", [5 * i for i in range(20)])


def test_partial_last_window_is_dropped(every_5s: Path, tmp_path: Path) -> None:
    png = tmp_path / "w.png"
    result = invoke("plot", every_5s, "-o", png, "--window", "30s")
    assert result.exit_code == 0, result.output
    # [0, 30), [30, 60), [60, 90) are complete; [90, 120) has only 5 s of data.
    assert result.stdout == (
        f"wrote {png}: windows of 30 s every 30 s; every5 (control): 3 windows\n"
    )
    assert png.read_bytes().startswith(PNG_SIGNATURE)


def test_window_and_step(every_5s: Path, tmp_path: Path) -> None:
    png = tmp_path / "w.png"
    result = invoke("plot", every_5s, "-o", png, "--window", "0.5m", "--step", "10")
    assert result.exit_code == 0, result.output
    # Starts 0, 10, …, 60: a window from 70 s would end at 100 s, after the last event.
    assert result.stdout == (
        f"wrote {png}: windows of 30 s every 10 s; every5 (control): 7 windows\n"
    )


def test_step_alone_keeps_the_automatic_window_at_least_as_long(
    every_5s: Path, tmp_path: Path
) -> None:
    result = invoke("plot", every_5s, "-o", tmp_path / "w.png", "--step", "20s")
    assert result.exit_code == 0, result.output
    assert "windows of 20 s every 20 s;" in result.stdout


@pytest.mark.parametrize("option", ["--window", "--step"])
@pytest.mark.parametrize("value", ["5x", "-1m", "0"])
def test_bad_durations_are_usage_errors(every_5s: Path, option: str, value: str) -> None:
    result = invoke("plot", every_5s, option, value)
    assert result.exit_code == 2
    assert f"Invalid value for '{option}': '{value}' is " in result.stderr


def test_step_longer_than_the_window(every_5s: Path) -> None:
    result = invoke("plot", every_5s, "--window", "10s", "--step", "1m")
    assert result.exit_code == 2
    assert "--step 1 min is longer than --window 10 s; windows would leave gaps" in result.stderr


def test_window_longer_than_the_events(every_5s: Path, tmp_path: Path) -> None:
    result = invoke("plot", every_5s, "-o", tmp_path / "w.png", "--window", "2m")
    assert_one_line_error(
        result,
        f"nothing to plot: the events of {every_5s} span 95 s, less than one 2 min window; "
        "use a shorter --window",
    )
    assert not (tmp_path / "w.png").exists()


def test_too_many_windows(every_5s: Path, tmp_path: Path) -> None:
    result = invoke("plot", every_5s, "-o", tmp_path / "w.png", "--window", "1ms")
    assert_one_line_error(
        result, "windows every 1 ms would cut 95 s of events into 95,000 windows (at most 10,000)"
    )


def test_plot_of_an_empty_archive(tmp_path: Path) -> None:
    empty = write_archive(tmp_path / "empty.archive.jsonl", [])
    result = invoke("plot", empty, "-o", tmp_path / "w.png")
    assert_one_line_error(result, f"nothing to plot: {empty} has no events")
    assert not (tmp_path / "w.png").exists()


def test_an_empty_archive_among_others_is_skipped(every_5s: Path, tmp_path: Path) -> None:
    empty = write_archive(tmp_path / "empty.archive.jsonl", [])
    png = tmp_path / "w.png"
    result = invoke("plot", every_5s, empty, "-o", png, "--window", "30s")
    assert result.exit_code == 0, result.output
    assert result.stderr == f"Warning: {empty} has no events; left out of the plot\n"
    assert result.stdout.endswith("every5 (control): 3 windows\n")


def test_glob_order_does_not_change_the_plot(
    demo_run: tuple[Path, Result], tmp_path: Path
) -> None:
    out, _ = demo_run
    single, ensemble = out / "ab-single.archive.jsonl", out / "ab-ensemble.archive.jsonl"
    first, second = tmp_path / "1.png", tmp_path / "2.png"
    assert invoke("plot", single, ensemble, "-o", first).exit_code == 0
    assert invoke("plot", ensemble, single, "-o", second).exit_code == 0
    assert first.read_bytes() == second.read_bytes()


def test_a_condition_keeps_its_colour_whatever_else_is_plotted() -> None:
    # CRC-32 of the name, not Python's hash(): the same in every process and run.
    assert condition_colours(["single", "ensemble"]) == {
        "ensemble": "#1f77b4",
        "single": "#d62728",
    }
    assert condition_colours(["single"])["single"] == "#d62728"
    assert condition_colours(["treatment", "single", "zz"])["single"] == "#d62728"


def test_colliding_conditions_get_distinct_colours() -> None:
    # "a" and "treatment" hash to the same palette entry: the later name moves on.
    colours = condition_colours(["treatment", "a"])
    assert colours["a"] != colours["treatment"]
    assert colours == condition_colours(["a", "treatment"])


def test_series_are_sorted_by_condition_and_share_its_colour() -> None:
    series = [
        Series("run-2 (single)", "single", []),
        Series("run-1 (ensemble)", "ensemble", []),
        Series("run-1 (single)", "single", []),
    ]
    styles = series_styles(series)
    assert [(s.label, colour, line) for s, colour, line in styles] == [
        ("run-1 (ensemble)", "#1f77b4", "-"),
        ("run-1 (single)", "#d62728", "-"),
        ("run-2 (single)", "#d62728", "--"),
    ]


def test_runs_of_one_name_get_distinct_labels(tmp_path: Path) -> None:
    seconds = [5 * i for i in range(20)]
    first = write_archive(tmp_path / "a" / "run.archive.jsonl", seconds)
    second = write_archive(tmp_path / "b" / "run.archive.jsonl", seconds[:10])
    result = invoke("plot", first, second, "-o", tmp_path / "w.png", "--window", "30s")
    assert result.exit_code == 0, result.output
    counts = result.stdout.split("; ", 1)[1].rstrip("\n").split(", ")
    assert len(counts) == 2
    assert all(count.startswith("run (control) #") for count in counts)
    assert sorted(count.rsplit(": ", 1)[1] for count in counts) == ["1 window", "3 windows"]
