"""The injected latency incident: flagged live, counted in the log lines, found, and plotted."""

from __future__ import annotations

import json
import re
from typing import Any

import anyio
import pytest
from click.testing import Result

from telemetry_actors.cli import DemoConfig, DemoResult, run_demo
from telemetry_actors.cli._demo_report import demo_figure

from .helpers import invoke

#: A short study with enough queries per arm for the detector's 30-value warm-up.
ARGS = ["--duration", "4", "--agents", "24", "--seed", "3"]
HEADER = re.compile(r"^\[ *\d+%\] (\d+):(\d\d) ")
COUNT = re.compile(r"^  (\w+): .*, ([\d,]+) anomal(?:y|ies)$")


@pytest.fixture(scope="module")
def incident_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Result, dict[str, Any]]:
    out = tmp_path_factory.mktemp("incident") / "out"
    result = invoke("demo", "--no-live", *ARGS, "--out", out)
    assert result.exit_code == 0, result.output
    return result, json.loads((out / "summary.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def in_process(tmp_path_factory: pytest.TempPathFactory) -> DemoResult:
    """The same study run in-process, for what only its result holds."""
    out = tmp_path_factory.mktemp("incident-in-process") / "out"
    config = DemoConfig(out=out, duration=4.0, agents=24, seed=3, paced=False)
    return anyio.run(run_demo, config)


def test_the_incident_is_seeded_and_falls_outside_the_pause(
    incident_run: tuple[Result, dict[str, Any]],
) -> None:
    _, summary = incident_run
    incident = summary["anomalies"]["incident"]
    span = summary["simulated_seconds"]
    assert 4 <= incident["factor"] <= 5
    assert incident["end_s"] - incident["start_s"] == pytest.approx(0.1 * span)
    assert incident["end_s"] <= 0.45 * span or incident["start_s"] >= 0.55 * span
    assert (incident["model"], incident["condition"]) in [
        ("gpt-4", "single"),
        ("claude-3-sonnet", "ensemble"),
    ]
    assert summary["anomalies"]["detection"] == {
        "metrics": ["latency_ms"],
        "methods": ["mad"],
        "window": 1000,
        "warmup": 30,
        "threshold": None,
    }


def test_anomalies_are_flagged_inside_the_incident_and_few_outside(
    incident_run: tuple[Result, dict[str, Any]],
) -> None:
    _, summary = incident_run
    anomalies = summary["anomalies"]
    incident = anomalies["incident"]
    hit = anomalies["conditions"][incident["condition"]]
    assert hit["flagged"] == hit["in_incident"] + hit["outside_incident"]
    assert hit["in_incident"] >= 20
    # Per simulated second of collection, the incident flags ten times as often or more.
    inside_s = incident["reach_end_s"] - incident["start_s"]
    outside_s = 0.9 * summary["simulated_seconds"] - inside_s  # the pause collects nothing
    assert hit["in_incident"] / inside_s >= 10 * hit["outside_incident"] / outside_s
    spared = next(
        entry for name, entry in anomalies["conditions"].items() if name != incident["condition"]
    )
    assert spared["in_incident"] <= 3


def test_the_incident_is_found_where_it_was_injected(
    incident_run: tuple[Result, dict[str, Any]],
) -> None:
    result, summary = incident_run
    anomalies = summary["anomalies"]
    incident = anomalies["incident"]
    for condition, entry in anomalies["conditions"].items():
        if condition != incident["condition"]:
            assert entry["found"] == []
            continue
        (found,) = entry["found"]
        assert found["start_s"] <= incident["reach_end_s"]
        assert found["end_s"] >= incident["start_s"]
        assert found["flagged"] >= 0.25 * found["queries"]
        text = " ".join(result.stdout.split())
        assert (
            f"Incident found in {condition}: {clock(found['start_s'])} to "
            f"{clock(found['end_s'])}, {found['flagged']} of {found['queries']} queries flagged."
        ) in text
    assert (
        f"Injected: {incident['model']} ({incident['condition']}) {incident['factor']:.2f} times "
        f"slower from {clock(incident['start_s'])} to {clock(incident['end_s'])}."
    ) in " ".join(result.stdout.split())


def clock(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes:02d}:{rest:02d}"


def test_no_live_lines_count_the_anomalies(incident_run: tuple[Result, dict[str, Any]]) -> None:
    result, summary = incident_run
    incident = summary["anomalies"]["incident"]
    counts: dict[str, list[tuple[int, int]]] = {}
    seconds = 0
    for line in result.stdout.splitlines():
        if header := HEADER.match(line):
            seconds = int(header[1]) * 60 + int(header[2])
        elif count := COUNT.match(line):
            counts.setdefault(count[1], []).append((seconds, int(count[2].replace(",", ""))))
    for condition, series in counts.items():
        values = [value for _, value in series]
        assert values == sorted(values)  # a count only grows
        assert values[-1] == summary["anomalies"]["conditions"][condition]["flagged"]
    hit = counts[incident["condition"]]
    before = max(value for at, value in hit if at <= incident["start_s"])
    after = min(value for at, value in hit if at >= incident["reach_end_s"])
    in_incident = summary["anomalies"]["conditions"][incident["condition"]]["in_incident"]
    assert after - before >= in_incident


def test_the_plot_marks_each_anomaly(
    in_process: DemoResult, incident_run: tuple[Result, dict[str, Any]]
) -> None:
    _, summary = incident_run
    figure = demo_figure(in_process)
    latency = figure.axes[0]
    assert latency.get_yscale() == "log"  # the incident's values sit far above the means
    markers = {
        str(line.get_label()): line for line in latency.get_lines() if line.get_marker() == "x"
    }
    assert set(markers) == {"single anomalies", "ensemble anomalies"}
    for condition, anomalies in in_process.anomalies.items():
        # Same seed, same study: the in-process run flags what the CLI run counted.
        assert len(anomalies) == summary["anomalies"]["conditions"][condition]["flagged"]
        line = markers[f"{condition} anomalies"]
        assert list(line.get_xdata()) == [
            (anomaly.timestamp - in_process.origin_us) / 60e6 for anomaly in anomalies
        ]
        assert list(line.get_ydata()) == [anomaly.value for anomaly in anomalies]
    labels = [text.get_text() for text in latency.get_legend().get_texts()]
    assert f"latency incident ({in_process.incident.model}, injected)" in labels
