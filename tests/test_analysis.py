"""Post-hoc analysis: calculate_metrics, percentiles and compare_experiments."""

from __future__ import annotations

import math
import statistics
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from telemetry_actors import (
    CostMetrics,
    ExperimentNotFoundError,
    LatencyMetrics,
    Metrics,
    ReliabilityMetrics,
    Runtime,
    TokenMetrics,
    emit,
)
from telemetry_actors._stats._percentile import percentile
from tests.conftest import BASE_US

SECOND_US = 1_000_000


async def _experiment_with(rt: Runtime, rows: list[dict[str, Any]], name: str = "analysis") -> str:
    exp = await rt.start_experiment(name)
    for offset, row in enumerate(rows):
        await rt.insert(exp.id, {"timestamp": BASE_US + offset * SECOND_US, **row})
    return exp.id


@pytest.fixture
async def seeded(rt: Runtime) -> str:
    """10 events, one a second: latency 100..1000 ms, 8 successes then 2 failures, tokens."""
    rows = [
        {
            "event_name": ("req_llm", "request", "stop"),
            "latency_ms": 100.0 * i,
            "success": i <= 8,
            "metadata": {"tokens": {"prompt": 100 * i, "completion": 200 * i}},
        }
        for i in range(1, 11)
    ]
    return await _experiment_with(rt, rows)


# ------------------------------------------------------- calculate_metrics


async def test_latency_metrics(rt: Runtime, seeded: str) -> None:
    latency = (await rt.calculate_metrics(seeded)).latency
    values = [100.0 * i for i in range(1, 11)]
    assert latency.count == 10
    assert latency.mean == pytest.approx(550.0, rel=1e-12)
    assert latency.median == pytest.approx(550.0, rel=1e-12)
    assert latency.p50 == pytest.approx(550.0, rel=1e-12)
    assert latency.p90 == pytest.approx(910.0, rel=1e-9)
    assert latency.p95 == pytest.approx(955.0, rel=1e-9)
    assert latency.p99 == pytest.approx(991.0, rel=1e-9)
    assert latency.min == 100.0
    assert latency.max == 1000.0
    # Sample standard deviation (n - 1).
    assert latency.std_dev == pytest.approx(statistics.stdev(values), rel=1e-12)
    assert latency.std_dev == pytest.approx(302.76503540974917, rel=1e-12)


async def test_reliability_metrics(rt: Runtime, seeded: str) -> None:
    reliability = (await rt.calculate_metrics(seeded)).reliability
    assert reliability == ReliabilityMetrics(
        total_requests=10,
        successful=8,
        failed=2,
        success_rate=0.8,
        failure_rate=0.2,
        sla_99=False,
        sla_999=False,
        sla_9999=False,
    )


async def test_token_metrics(rt: Runtime, seeded: str) -> None:
    tokens = (await rt.calculate_metrics(seeded)).tokens
    assert tokens == TokenMetrics(
        count=10,
        total_prompt=5500,
        total_completion=11000,
        total=16500,
        mean_prompt=550.0,
        mean_completion=1100.0,
        mean_total=1650.0,
    )


async def test_summary_and_events(rt: Runtime, seeded: str) -> None:
    metrics = await rt.calculate_metrics(seeded)
    summary = metrics.summary
    assert summary.total_events == 10
    assert summary.time_range == (BASE_US, BASE_US + 9 * SECOND_US)
    assert summary.duration_seconds == 9.0
    assert summary.event_types == {"req_llm.request.stop": 10}
    assert metrics.events == {"req_llm.request.stop": 10}


async def test_summary_counts_event_types_by_dotted_name(rt: Runtime) -> None:
    exp_id = await _experiment_with(
        rt,
        [
            {"event_name": ("a", "b")},
            {"event_name": "a.b"},
            {"event_name": ("c", "d", "e")},
            {},
        ],
    )
    metrics = await rt.calculate_metrics(exp_id)
    expected = {"a.b": 2, "c.d.e": 1, "custom.event": 1}
    assert metrics.summary.event_types == expected
    assert metrics.events == expected


async def test_summary_with_one_event(rt: Runtime) -> None:
    exp_id = await _experiment_with(rt, [{}])
    summary = (await rt.calculate_metrics(exp_id)).summary
    assert summary.total_events == 1
    assert summary.time_range == (BASE_US, BASE_US)
    assert summary.duration_seconds == 0.0


async def test_metrics_of_an_empty_experiment(rt: Runtime) -> None:
    exp = await rt.start_experiment("empty")
    metrics = await rt.calculate_metrics(exp.id)
    assert metrics.summary.total_events == 0
    assert metrics.summary.time_range is None
    assert metrics.summary.duration_seconds == 0.0
    assert metrics.summary.event_types == {}
    assert metrics.events == {}
    assert metrics.latency == LatencyMetrics()
    assert metrics.cost == CostMetrics()
    assert metrics.reliability.total_requests == 0
    assert metrics.reliability.success_rate is None
    assert metrics.tokens.count == 0


async def test_cost_metrics(rt: Runtime) -> None:
    exp_id = await _experiment_with(
        rt,
        [{"cost_usd": 0.01}, {"cost_usd": 0.04}, {}, {"cost_usd": 0.02}, {"cost_usd": 0.03}],
    )
    cost = (await rt.calculate_metrics(exp_id)).cost
    assert cost.count == 4
    assert cost.total == pytest.approx(0.1, rel=1e-12)
    assert cost.mean_per_request == pytest.approx(0.025, rel=1e-12)
    assert cost.median_per_request == pytest.approx(0.025, rel=1e-12)
    assert cost.cost_per_1k_requests == pytest.approx(25.0, rel=1e-12)
    assert cost.cost_per_1m_requests == pytest.approx(25_000.0, rel=1e-12)


async def test_cost_metrics_without_costs(rt: Runtime) -> None:
    exp_id = await _experiment_with(rt, [{"latency_ms": 1.0}, {}])
    cost = (await rt.calculate_metrics(exp_id)).cost
    assert cost == CostMetrics(
        count=0,
        total=0.0,
        mean_per_request=None,
        median_per_request=None,
        cost_per_1k_requests=None,
        cost_per_1m_requests=None,
    )
    assert isinstance(cost.total, float)


async def test_latency_metrics_without_latencies(rt: Runtime) -> None:
    exp_id = await _experiment_with(rt, [{"cost_usd": 0.5}, {}])
    latency = (await rt.calculate_metrics(exp_id)).latency
    assert latency.count == 0
    for field in ("mean", "median", "std_dev", "min", "max", "p50", "p90", "p95", "p99"):
        assert getattr(latency, field) is None, field


async def test_latency_of_one_value(rt: Runtime) -> None:
    exp_id = await _experiment_with(rt, [{"latency_ms": 42.0}])
    latency = (await rt.calculate_metrics(exp_id)).latency
    assert latency == LatencyMetrics(
        count=1,
        mean=42.0,
        median=42.0,
        std_dev=0.0,
        min=42.0,
        max=42.0,
        p50=42.0,
        p90=42.0,
        p95=42.0,
        p99=42.0,
    )


async def test_std_dev_of_identical_latencies_is_zero(rt: Runtime) -> None:
    # fsum(values) / 3 is not exactly the value here, so a plain two-pass
    # deviation from that mean is not 0; the sample std_dev of equal values is.
    value = 43690.970349479976
    exp_id = await _experiment_with(rt, [{"latency_ms": value}] * 3)
    latency = (await rt.calculate_metrics(exp_id)).latency
    assert statistics.stdev([value] * 3) == 0.0
    assert latency.std_dev == pytest.approx(0.0, abs=1e-12)
    assert latency.mean == pytest.approx(value, rel=1e-15)


async def test_reliability_total_counts_all_events_rates_only_bools(rt: Runtime) -> None:
    rows = [{"success": s} for s in (True, None, False, True, None)]
    exp_id = await _experiment_with(rt, rows)
    reliability = (await rt.calculate_metrics(exp_id)).reliability
    assert reliability.total_requests == 5
    assert reliability.successful == 2
    assert reliability.failed == 1
    assert reliability.success_rate == pytest.approx(2 / 3, rel=1e-12)
    assert reliability.failure_rate == pytest.approx(1 / 3, rel=1e-12)


async def test_reliability_rates_none_without_bool_success(rt: Runtime) -> None:
    exp_id = await _experiment_with(rt, [{}, {"success": None}])
    assert (await rt.calculate_metrics(exp_id)).reliability == ReliabilityMetrics(
        total_requests=2,
        successful=0,
        failed=0,
        success_rate=None,
        failure_rate=None,
        sla_99=None,
        sla_999=None,
        sla_9999=None,
    )


async def test_reliability_sla_at_99_percent(rt: Runtime) -> None:
    exp_id = await _experiment_with(rt, [{"success": True}] * 99 + [{"success": False}])
    reliability = (await rt.calculate_metrics(exp_id)).reliability
    assert reliability.success_rate == 0.99
    assert (reliability.sla_99, reliability.sla_999, reliability.sla_9999) == (True, False, False)


async def test_tokens_accept_alternative_keys_and_missing_total(rt: Runtime) -> None:
    exp_id = await _experiment_with(
        rt,
        [
            {"metadata": {"tokens": {"prompt_tokens": 10, "completion_tokens": 20}}},
            {"metadata": {"tokens": {"input_tokens": 1, "output_tokens": 2, "total": 5}}},
            {"metadata": {"no_tokens": True}},
        ],
    )
    tokens = (await rt.calculate_metrics(exp_id)).tokens
    assert tokens.count == 2
    assert tokens.total_prompt == 11
    assert tokens.total_completion == 22
    assert tokens.total == 35
    assert tokens.mean_total == 17.5


async def test_metrics_to_builtins_gives_plain_data(rt: Runtime, seeded: str) -> None:
    metrics = await rt.calculate_metrics(seeded)
    plain = msgspec.to_builtins(metrics)
    assert isinstance(plain, dict)
    assert set(plain) == {"summary", "latency", "cost", "reliability", "tokens", "events"}
    for part in plain.values():
        assert type(part) is dict
    assert plain["summary"]["total_events"] == 10
    # msgspec keeps tuples as tuples; either is plain data.
    assert list(plain["summary"]["time_range"]) == [BASE_US, BASE_US + 9 * SECOND_US]
    assert plain["latency"]["min"] == 100.0
    assert plain["reliability"]["successful"] == 8
    assert plain["tokens"]["total"] == 16500
    assert plain["events"] == {"req_llm.request.stop": 10}
    assert msgspec.convert(plain, Metrics) == metrics


# ------------------------------------------------------------- percentile


def numpy_linear(ordered: list[float], q: float) -> float:
    """numpy's default ("linear") method: interpolate at virtual index (n - 1)·q."""
    index = (len(ordered) - 1) * q
    low = math.floor(index)
    high = min(low + 1, len(ordered) - 1)
    fraction = index - low
    return ordered[low] + (ordered[high] - ordered[low]) * fraction


@pytest.mark.parametrize(
    ("q", "expected"),
    [(0.0, 1.0), (0.25, 1.75), (0.5, 2.5), (0.75, 3.25), (1.0, 4.0)],
)
def test_percentile_known_values(q: float, expected: float) -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0], q) == pytest.approx(expected, rel=1e-12)


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(
        st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_subnormal=False),
        min_size=1,
        max_size=50,
    ),
    q=st.sampled_from([0.0, 0.5, 0.9, 0.95, 0.99, 1.0]) | st.floats(0.0, 1.0),
)
def test_percentile_matches_numpy_linear_method(values: list[float], q: float) -> None:
    ordered = sorted(values)
    result = percentile(ordered, q)
    expected = numpy_linear(ordered, q)
    scale = max(abs(ordered[0]), abs(ordered[-1]))
    assert result == pytest.approx(expected, rel=1e-12, abs=1e-12 * scale)
    assert ordered[0] <= result <= ordered[-1]
    if q == 0.0:
        assert result == ordered[0]
    if q == 1.0:
        assert result == ordered[-1]


# ---------------------------------------------------- compare_experiments


@pytest.fixture
async def three(rt: Runtime) -> list[str]:
    baseline = await _experiment_with(
        rt,
        [
            {"latency_ms": 100.0, "cost_usd": 0.1, "success": True},
            {"latency_ms": 200.0, "cost_usd": 0.2, "success": False},
        ],
        "baseline",
    )
    faster = await _experiment_with(
        rt,
        [
            {"latency_ms": 75.0, "cost_usd": 0.05, "success": True},
            {"latency_ms": 75.0, "cost_usd": 0.05, "success": True},
        ],
        "faster",
    )
    slower = await _experiment_with(
        rt,
        [
            {"latency_ms": 300.0, "cost_usd": 0.2, "success": True},
            {"latency_ms": 300.0, "cost_usd": 0.3, "success": True},
            {"latency_ms": 300.0, "success": True},
            {"latency_ms": 300.0, "success": False},
        ],
        "slower",
    )
    return [baseline, faster, slower]


async def test_compare_experiments(rt: Runtime, three: list[str]) -> None:
    comparison = await rt.compare_experiments(three)
    assert comparison.experiments == three
    assert set(comparison.individual) == set(three)
    for experiment_id in three:
        assert comparison.individual[experiment_id] == await rt.calculate_metrics(experiment_id)
    assert set(comparison.comparison) == {"treatment_1", "treatment_2"}

    first = comparison.comparison["treatment_1"]
    assert first.latency_improvement_pct == pytest.approx(-50.0, rel=1e-12)
    assert first.cost_difference_usd == pytest.approx(-0.2, rel=1e-9)
    assert first.success_rate_improvement_pct == pytest.approx(100.0, rel=1e-12)
    assert first.event_count_difference == 0

    second = comparison.comparison["treatment_2"]
    assert second.latency_improvement_pct == pytest.approx(100.0, rel=1e-12)
    assert second.cost_difference_usd == pytest.approx(0.2, rel=1e-9)
    assert second.success_rate_improvement_pct == pytest.approx(50.0, rel=1e-12)
    assert second.event_count_difference == 2


async def test_compare_two_experiments_has_one_treatment(rt: Runtime, three: list[str]) -> None:
    comparison = await rt.compare_experiments(three[1:])
    assert comparison.experiments == three[1:]
    assert set(comparison.comparison) == {"treatment_1"}
    # Baseline is now "faster": mean latency 75 -> 300 is +300 %.
    assert comparison.comparison["treatment_1"].latency_improvement_pct == pytest.approx(300.0)
    assert comparison.comparison["treatment_1"].event_count_difference == 2


async def test_compare_percent_changes_none_for_missing_or_zero_baseline(rt: Runtime) -> None:
    no_latency_all_failed = await _experiment_with(
        rt, [{"success": False}, {"success": False}], "baseline"
    )
    zero_latency_no_success = await _experiment_with(rt, [{"latency_ms": 0.0}], "zero")
    treatment = await _experiment_with(
        rt, [{"latency_ms": 50.0, "success": True, "cost_usd": 0.5}], "treatment"
    )

    missing = await rt.compare_experiments([no_latency_all_failed, treatment])
    delta = missing.comparison["treatment_1"]
    assert delta.latency_improvement_pct is None  # baseline latency is None
    assert delta.success_rate_improvement_pct is None  # baseline success rate is 0
    assert delta.cost_difference_usd == 0.5
    assert delta.event_count_difference == -1

    zero = await rt.compare_experiments([zero_latency_no_success, treatment])
    delta = zero.comparison["treatment_1"]
    assert delta.latency_improvement_pct is None  # baseline mean latency is 0
    assert delta.success_rate_improvement_pct is None  # baseline success rate is None
    assert delta.event_count_difference == 0


@pytest.mark.parametrize("count", [0, 1])
async def test_compare_needs_two_ids(rt: Runtime, three: list[str], count: int) -> None:
    with pytest.raises(ValueError, match="two"):
        await rt.compare_experiments(three[:count])


async def test_compare_unknown_id(rt: Runtime, three: list[str]) -> None:
    with pytest.raises(ExperimentNotFoundError, match="ffffffffffffffff"):
        await rt.compare_experiments([three[0], "ffffffffffffffff"])


async def test_comparison_to_builtins_gives_plain_data(rt: Runtime, three: list[str]) -> None:
    plain = msgspec.to_builtins(await rt.compare_experiments(three))
    assert plain["experiments"] == three
    assert set(plain["individual"]) == set(three)
    assert type(plain["individual"][three[0]]["latency"]) is dict
    assert plain["comparison"]["treatment_1"]["event_count_difference"] == 0
    assert set(plain["comparison"]["treatment_2"]) == {
        "success_rate_difference_pp",
        "latency_improvement_pct",
        "cost_difference_usd",
        "success_rate_improvement_pct",
        "event_count_difference",
    }


async def test_huge_finite_values_do_not_crash_calculate_metrics(rt: Runtime) -> None:
    # Squares and sums of finite values can exceed the float range: the result
    # is inf, never an OverflowError.
    exp = await rt.start_experiment("huge")
    emit("req_llm.request.stop", {"duration": 1e300}, {"cost": 1.7e308})
    emit("req_llm.request.stop", {"duration": 1e6}, {"cost": 1.7e308})
    await rt.flush()
    metrics = await rt.calculate_metrics(exp.id)
    assert metrics.latency.count == 2
    assert metrics.latency.std_dev == math.inf
    assert metrics.cost.total == math.inf
