"""What the demo shows while it runs: the live view and the ``--no-live`` log lines."""

from __future__ import annotations

import io
import re
from pathlib import Path

import anyio
import pytest
from click.testing import Result
from rich.console import Console

from telemetry_actors.cli import ConditionView, DemoConfig, Progress, run_demo
from telemetry_actors.cli._live import LiveView, LogLines

from .helpers import invoke

CRASH = "ZeroDivisionError('division by zero in a very long handler name')"
MONEY = re.compile(r"\$[0-9][0-9,]*(?:\.[0-9]+)?")


def demo_reports(out: Path) -> list[Progress]:
    """Every progress report of a short unpaced demo."""
    reports: list[Progress] = []
    config = DemoConfig(out=out, duration=1.0, agents=4, seed=5, paced=False)
    anyio.run(run_demo, config, reports.append)
    return reports


def view(**changes: object) -> ConditionView:
    figures: dict[str, object] = {
        "condition": "ensemble",
        "description": "sonnet + 3.5-turbo + flash, vote",
        "status": "running",
        "events": 9_876_543,
        "queries": 1_234_567,
        "mean_latency_ms": 12_345.6,
        "p95_latency_ms": 123_456.7,
        "cost_usd": 123_456.78,
        "success_rate": 0.987654,
        "dropped": 1_234_567,
        "mailbox_depth": 10_000,
        "mailbox_high_water": 10_000,
        "restarts": 12,
        "last_crash": CRASH,
        "actor_seconds": 12_345.678,
        "anomalies": 1_234_567,
    }
    figures.update(changes)
    return ConditionView(**figures)  # type: ignore[arg-type]


def test_the_last_report_shows_the_experiments_archived(tmp_path: Path) -> None:
    reports = demo_reports(tmp_path / "out")
    phases = [report.phase for report in reports]
    assert phases[-3:] == ["finishing queries in flight", "writing files", "done"]
    statuses = {report.phase: {v.status for v in report.conditions} for report in reports}
    assert statuses["paused"] == {"paused"}
    assert statuses["writing files"] == {"stopped"}
    assert statuses["done"] == {"archived"}


def test_live_view_ends_on_the_final_status_and_explains_actor_busy(tmp_path: Path) -> None:
    stream = io.StringIO()
    console = Console(file=stream, force_terminal=True, width=100, color_system=None)
    with LiveView(console) as live:
        for report in demo_reports(tmp_path / "out"):
            live.update(report)
    output = stream.getvalue()
    last_frame = output[output.rindex("study") :]
    status_row = next(line for line in last_frame.splitlines() if "status" in line)
    assert status_row.split()[1:] == ["archived", "archived"]
    assert "done" in last_frame
    assert (
        "actor busy: time each experiment's actor spent handling its mailbox "
        "(storing, counting, answering queries)"
    ) in " ".join(last_frame.split())


def test_log_lines_stay_under_120_characters_with_large_numbers() -> None:
    stream = io.StringIO()
    progress = Progress(
        fraction=0.5,
        simulated_s=4_321.0,
        total_s=9_000.0,
        phase="finishing queries in flight",
        conditions=(view(condition="single"), view()),
    )
    with LogLines(Console(file=stream, width=80)) as log:
        log.update(progress)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 10  # legend (3), progress, and three lines per condition after crashes
    assert max(len(line) for line in lines) < 120, lines
    assert lines[-3:] == [
        "  ensemble: 1,234,567 queries, mean 12,346 ms, p95 123,457 ms, $123,456.78, 98.77% ok, "
        "1,234,567 anomalies",
        "            actor busy 12,345,678 ms, mailbox max 10,000, 1,234,567 dropped, 12 restarts",
        "            last crash: " + CRASH,
    ]


def test_a_long_crash_reason_is_cut() -> None:
    stream = io.StringIO()
    progress = Progress(0.5, 30.0, 60.0, "running", (view(last_crash="x" * 500),))
    with LogLines(Console(file=stream, width=80)) as log:
        log.update(progress)
    last = stream.getvalue().splitlines()[-1]
    assert last == "            last crash: " + "x" * 99 + "…"


@pytest.fixture(scope="module")
def eight_agents(tmp_path_factory: pytest.TempPathFactory) -> Result:
    """A ``--no-live`` demo with costs above $1, written to the short relative path ``out``."""
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path_factory.mktemp("eight"))  # the folder's name is the user's
        result = invoke("demo", "--no-live", "--duration", "1", "--agents", "8", "--out", "out")
    assert result.exit_code == 0, result.output
    return result


def test_no_live_lines_are_under_120_characters(eight_agents: Result) -> None:
    lines = eight_agents.stdout.splitlines()
    assert len(lines) > 30
    too_long = [line for line in lines if len(line) >= 120]
    assert too_long == []


def test_no_live_explains_actor_busy_once(demo_run: tuple[Path, Result]) -> None:
    text = demo_run[1].stdout
    assert text.count("actor busy: time each experiment's actor spent handling") == 1


def test_no_live_reports_the_pause_and_the_end(demo_run: tuple[Path, Result]) -> None:
    lines = demo_run[1].stdout.splitlines()
    headers = [line for line in lines if line.startswith("[")]
    assert any(line.endswith(" paused") for line in headers)
    # The clock runs past 01:00 while the queries in flight finish.
    assert re.fullmatch(r"\[100%\] 01:0[0-9] done", headers[-1])
    assert lines[lines.index(headers[-1]) + 1].startswith("  single:   ")


def test_one_money_format_everywhere(eight_agents: Result) -> None:
    amounts = MONEY.findall(eight_agents.stdout)
    assert len(amounts) > 20
    assert any(float(amount[1:].replace(",", "")) >= 1 for amount in amounts)
    for amount in amounts:
        digits = amount[1:].replace(",", "")
        if float(digits) >= 1:
            assert re.fullmatch(r"[0-9]+\.[0-9]{2}", digits), amount
        else:
            assert re.fullmatch(r"0\.0*[1-9][0-9]{0,3}|0\.[0-9]{2}", digits), amount


@pytest.mark.parametrize(
    ("count", "text"), [(0, "0 anomalies"), (1, "1 anomaly"), (12, "12 anomalies")]
)
def test_log_lines_count_the_anomalies(count: int, text: str) -> None:
    stream = io.StringIO()
    progress = Progress(0.5, 30.0, 60.0, "running", (view(anomalies=count, last_crash=None),))
    with LogLines(Console(file=stream, width=80)) as log:
        log.update(progress)
    assert stream.getvalue().splitlines()[-2].endswith(f"98.77% ok, {text}")


def test_live_view_has_an_anomalies_row() -> None:
    stream = io.StringIO()
    console = Console(file=stream, force_terminal=True, width=100, color_system=None)
    progress = Progress(
        0.5, 30.0, 60.0, "running", (view(condition="single", anomalies=0), view(anomalies=42))
    )
    with LiveView(console) as live:
        live.update(progress)
    output = stream.getvalue()
    last_frame = output[output.rindex("study") :]
    row = next(line for line in last_frame.splitlines() if line.startswith(" anomalies "))
    assert row.split() == ["anomalies", "0", "42"]
    assert "anomalies: latencies flagged as they arrived" in last_frame
