"""``summary.json``: requests count queries, and cost is given per query and per billed call."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result


@pytest.fixture(scope="module")
def summary(demo_run: tuple[Path, Result]) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((demo_run[0] / "summary.json").read_text("utf-8"))
    return loaded


def event_names(archive: Path) -> Counter[str]:
    lines = archive.read_text(encoding="utf-8").splitlines()[1:]
    return Counter(".".join(json.loads(line)["data"]["event_name"]) for line in lines)


@pytest.mark.parametrize("condition", ["single", "ensemble"])
def test_requests_count_queries_not_events(
    demo_run: tuple[Path, Result], summary: dict[str, Any], condition: str
) -> None:
    entry = summary["conditions"][condition]
    names = event_names(demo_run[0] / entry["archive"])
    requests = entry["requests"]
    assert requests == {
        "queries_sent": names[f"ab.{condition}.request.start"],
        "queries_completed": names[f"ab.{condition}.request.stop"],
        "billed_calls": names[f"ab.{condition}.usage.billed"],
    }
    assert requests["queries_sent"] > 10
    reliability = entry["metrics"]["reliability"]
    assert reliability["total_requests"] == requests["queries_completed"]
    assert reliability["total_requests"] == reliability["successful"] + reliability["failed"]
    assert reliability["total_requests"] < entry["metrics"]["summary"]["total_events"]


@pytest.mark.parametrize("condition", ["single", "ensemble"])
def test_cost_per_query_and_per_billed_call(summary: dict[str, Any], condition: str) -> None:
    entry = summary["conditions"][condition]
    total = entry["metrics"]["cost"]["total"]
    requests = entry["requests"]
    assert entry["cost_per_query_usd"] == pytest.approx(total / requests["queries_completed"])
    assert entry["cost_per_billed_call_usd"] == pytest.approx(total / requests["billed_calls"])
    assert entry["cost_per_billed_call_usd"] == pytest.approx(
        entry["metrics"]["cost"]["mean_per_request"]
    )


def test_the_ensemble_bills_three_calls_per_query(summary: dict[str, Any]) -> None:
    single, ensemble = (summary["conditions"][name] for name in ("single", "ensemble"))
    assert ensemble["requests"]["billed_calls"] > 2 * ensemble["requests"]["queries_completed"]
    assert single["requests"]["billed_calls"] < 1.2 * single["requests"]["queries_completed"]
