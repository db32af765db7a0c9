"""The significance table: effects, intervals, p-values, verdicts in words, and warnings."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from telemetry_actors.cli._significance import format_p, verdict

from .helpers import invoke, run_demo_cli

METRICS = ("latency", "cost", "success")


@pytest.fixture(scope="module")
def summary(demo_run: tuple[Path, Result]) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((demo_run[0] / "summary.json").read_text("utf-8"))
    return loaded


def significance_rows(text: str) -> dict[str, list[str]]:
    """The significance table by row label, cells joined across wrapped lines."""
    lines = text[text.index("Significance at ") :].splitlines()
    body = next(index for index, line in enumerate(lines) if line.startswith("┡")) + 1
    rows: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in lines[body:]:
        if not line.startswith("│"):
            break
        cells = [cell.strip() for cell in line.split("│")[1:-1]]
        if cells[0]:
            current = rows[cells[0]] = cells[1:]
        else:
            assert current is not None
            for index, cell in enumerate(cells[1:]):
                current[index] = f"{current[index]} {cell}".strip()
    return rows


def by_metric(text: str) -> dict[str, list[str]]:
    """The significance table's columns: latency, cost and success, each top to bottom."""
    rows = significance_rows(text)
    return {
        metric: [cells[index] for cells in rows.values()] for index, metric in enumerate(METRICS)
    }


def archive_latencies(archive: Path) -> list[float]:
    lines = archive.read_text(encoding="utf-8").splitlines()[1:]
    events = [json.loads(line)["data"] for line in lines]
    return [event["latency_ms"] for event in events if event["latency_ms"] is not None]


def test_summary_json_has_the_significance_of_the_demo(
    demo_run: tuple[Path, Result], summary: dict[str, Any]
) -> None:
    out, _ = demo_run
    significance = summary["significance"]
    assert significance["baseline_id"] == summary["conditions"]["single"]["experiment_id"]
    assert significance["treatment_id"] == summary["conditions"]["ensemble"]["experiment_id"]
    assert (significance["seed"], significance["confidence"]) == (1, 0.95)
    # Welch's test over the archived latencies, as scipy computes it.
    stats = pytest.importorskip("scipy.stats")
    single = archive_latencies(out / "ab-single.archive.jsonl")
    ensemble = archive_latencies(out / "ab-ensemble.archive.jsonl")
    expected = stats.ttest_ind(single, ensemble, equal_var=False).pvalue
    assert significance["latency"]["p_welch"] == pytest.approx(expected, rel=1e-9)
    assert significance["latency"]["n_baseline"] == len(single)
    difference = sum(ensemble) / len(ensemble) - sum(single) / len(single)
    assert significance["latency"]["difference"] == pytest.approx(difference, rel=1e-9)


def test_the_demo_prints_the_numbers_of_summary_json(
    demo_run: tuple[Path, Result], summary: dict[str, Any]
) -> None:
    _, result = demo_run
    significance = summary["significance"]
    latency, cost, success = (significance[name] for name in METRICS)
    holm = significance["p_holm"]
    assert list(significance_rows(result.stdout)) == [
        "difference",
        "95% interval",
        "p",
        "Holm p",
        "verdict",
    ]
    table = result.stdout[result.stdout.index("Significance at ") :].splitlines()
    header = next(line for line in table if line.startswith("┃"))
    assert header.split() == ["┃", "┃", "latency", "┃", "cost", "┃", "success", "┃"]
    rows = by_metric(result.stdout)
    assert rows["latency"][:2] == [
        f"{latency['difference']:+,.0f} ms",
        f"{latency['ci_low']:+,.0f} to {latency['ci_high']:+,.0f} ms",
    ]
    assert rows["latency"][2:4] == [
        f"{format_p(latency['p_welch'])} (Welch)",
        format_p(holm["latency"]),
    ]
    assert rows["cost"][2:4] == [f"{format_p(cost['p_welch'])} (Welch)", format_p(holm["cost"])]
    assert rows["success"] == [
        f"{success['difference_pp']:+.2f} pp",
        f"{success['ci_low_pp']:+.2f} to {success['ci_high_pp']:+.2f} pp",
        f"{format_p(success['p_value'])} (Fisher)",
        format_p(holm["success"]),
        verdict("success", success["difference_pp"], holm["success"], 0.05),
    ]
    for name in ("latency", "cost"):
        assert rows[name][4] == verdict(name, significance[name]["difference"], holm[name], 0.05)
    text = " ".join(result.stdout.split())
    assert "Verdicts at 95% confidence, on the Holm-adjusted p-values of the three tests." in text
    assert significance["warnings"]  # one minute, four agents: small samples
    for warning in significance["warnings"]:
        assert f"- {warning}" in text


def test_compare_prints_the_table_of_the_demo(demo_run: tuple[Path, Result]) -> None:
    out, first = demo_run
    archives = [out / "ab-single.archive.jsonl", out / "ab-ensemble.archive.jsonl"]
    result = invoke("compare", *archives)
    assert result.exit_code == 0, result.output
    assert significance_rows(result.stdout) == significance_rows(first.stdout)
    assert "Significance at 95% confidence: ab-ensemble (ensemble) against ab-single (single)" in (
        " ".join(result.stdout.split())
    )


@pytest.mark.parametrize(
    ("metric", "difference", "p", "expected"),
    [
        ("latency", 136.0, 1e-12, "treatment is slower (p < 0.001)"),
        ("latency", -20.0, 0.0123, "treatment is faster (p = 0.0123)"),
        ("cost", 0.01, 0.049, "treatment costs more (p = 0.049)"),
        ("cost", -0.04, 0.0009, "treatment costs less (p < 0.001)"),
        ("success", 2.5, 0.001, "treatment succeeds more often (p = 0.001)"),
        ("success", -1.0, 0.01, "treatment fails more often (p = 0.01)"),
        ("latency", 136.0, 0.05, "no significant difference (p = 0.05)"),
        ("success", -1.0, 0.4117, "no significant difference (p = 0.412)"),
        ("cost", None, None, "not tested (see the warnings)"),
    ],
)
def test_verdicts_in_words(
    metric: str, difference: float | None, p: float | None, expected: str
) -> None:
    assert verdict(metric, difference, p, 0.05) == expected


def test_compare_without_scipy_prints_a_note(
    demo_run: tuple[Path, Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    out, _ = demo_run
    monkeypatch.setitem(sys.modules, "scipy.stats", None)  # as if scipy were not installed
    archives = [out / "ab-single.archive.jsonl", out / "ab-ensemble.archive.jsonl"]
    result = invoke("compare", *archives)
    assert result.exit_code == 0, result.output
    assert "Significance at" not in result.stdout
    assert result.stdout.splitlines()[-1] == (
        "No significance tests: significance() needs scipy: pip install 'telemetry-actors[stats]'"
    )


def test_the_demo_without_scipy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "scipy.stats", None)
    result = run_demo_cli(tmp_path / "out")
    assert "No significance tests: significance() needs scipy" in result.stdout
    summary = json.loads((tmp_path / "out" / "summary.json").read_text("utf-8"))
    assert summary["significance"] is None
