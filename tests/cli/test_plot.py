"""``telemetry-actors plot``: complete windows only, --window/--step, colours by condition."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import anyio
import numpy as np
import pytest
from click.testing import Result
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from telemetry_actors import Runtime
from telemetry_actors.cli import DemoConfig, run_demo
from telemetry_actors.cli._plot import condition_colours, series_styles, windows_figure
from telemetry_actors.cli._windows import Series, plan_series

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


def latency_lines(figure: Figure) -> dict[str, Line2D]:
    """The lines of the latency panel by legend label."""
    return {str(line.get_label()): line for line in figure.axes[0].get_lines()}


def test_the_p95_of_each_window_is_a_dashed_line(every_5s: Path) -> None:
    async def figure() -> Figure:
        async with Runtime() as rt:
            experiment = await rt.load_archive(every_5s)
            plan = await plan_series(rt, [(every_5s, experiment)], window_us=30_000_000)
        return windows_figure(
            plan.series,
            window_us=plan.window_us,
            step_us=plan.step_us,
            origin_us=plan.origin_us,
            title="p95",
        )

    lines = latency_lines(anyio.run(figure))
    mean, p95 = lines["every5 (control)"], lines["every5 (control) p95"]
    assert (mean.get_linestyle(), p95.get_linestyle()) == ("-", "--")
    assert mean.get_color() == p95.get_color()
    # Latencies 100 + t ms at t = 0, 5, …: [0, 30) holds 100…125, numpy's linear p95 123.75.
    assert list(p95.get_ydata()) == [123.75, 153.75, 183.75]
    assert list(mean.get_ydata()) == [112.5, 142.5, 172.5]
    assert list(p95.get_xdata()) == [0.25, 0.75, 1.25]  # window middles, in minutes


def test_plot_draws_the_p95_of_every_experiment(demo_run: tuple[Path, Result]) -> None:
    out, _ = demo_run
    archives = [out / "ab-single.archive.jsonl", out / "ab-ensemble.archive.jsonl"]

    async def run() -> tuple[Figure, dict[str, list[float]]]:
        async with Runtime() as rt:
            experiments = [await rt.load_archive(archive) for archive in archives]
            plan = await plan_series(rt, list(zip(archives, experiments, strict=True)))
            expected = {}
            for one, experiment in zip(
                plan.series, sorted(experiments, key=lambda e: e.condition), strict=True
            ):
                events = await rt.get_all(experiment.id)
                expected[one.label] = [
                    float(np.percentile(values, 95))
                    for window in one.windows
                    if (
                        values := [
                            e.latency_ms
                            for e in events
                            if e.latency_ms is not None
                            and window.window_start <= e.timestamp < window.window_end
                        ]
                    )
                ]
        figure = windows_figure(
            plan.series,
            window_us=plan.window_us,
            step_us=plan.step_us,
            origin_us=plan.origin_us,
            title="demo",
        )
        return figure, expected

    figure, expected = anyio.run(run)
    lines = latency_lines(figure)
    for label, values in expected.items():
        drawn = [value for value in lines[f"{label} p95"].get_ydata() if not math.isnan(value)]
        assert drawn == pytest.approx(values, rel=1e-12)
        assert len(drawn) > 10


def test_the_demo_plots_the_p95_of_each_window(tmp_path: Path) -> None:
    out = tmp_path / "out"
    config = DemoConfig(out=out, duration=1.0, agents=4, seed=3, paced=False)
    result = anyio.run(run_demo, config)
    for condition, windows in result.windows.items():
        lines = (out / f"ab-{condition}.archive.jsonl").read_text("utf-8").splitlines()[1:]
        events = [json.loads(line)["data"] for line in lines]
        expected = []
        for window in windows:
            values = [
                event["latency_ms"]
                for event in events
                if event["latency_ms"] is not None
                and window.window_start <= event["timestamp"] < window.window_end
            ]
            expected.append(float(np.percentile(values, 95)) if values else None)
        assert [window.latency_percentiles for window in windows] == [
            {95.0: None if value is None else pytest.approx(value, rel=1e-12)}
            for value in expected
        ]
        assert sum(value is not None for value in expected) >= 10  # two agents per arm
