"""significance() through the runtime: every number equals scipy on the stored values.

Values are taken from ``get_all`` (what the runtime stored), then the tests
of the contract are run by hand with ``scipy.stats`` and compared with what
``rt.significance`` returned, to 1e-9 relative.
"""

from __future__ import annotations

import math
import statistics
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Sequence
from typing import Any

import anyio
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from telemetry_actors import Event, MetricTest, Runtime, Significance, emit
from tests.conftest import BASE_US, FakeClock

scipy_stats = pytest.importorskip("scipy.stats")

REL = 1e-9


def close(got: float | None, want: float | None) -> bool:
    if want is None or not math.isfinite(want):
        return got is None
    return got is not None and math.isclose(got, want, rel_tol=REL, abs_tol=1e-300)


def finite(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


# ------------------------------------------------------------- references


def per_key_means(events: Sequence[Event], field: str) -> dict[Any, float]:
    groups: dict[Any, list[float]] = {}
    for event in events:
        value = getattr(event, field)
        if value is not None and event.sample_id is not None:
            groups.setdefault(event.sample_id, []).append(value)
    return {key: math.fsum(values) / len(values) for key, values in groups.items()}


def expected_metric(
    baseline: Sequence[Event],
    treatment: Sequence[Event],
    field: str,
    *,
    confidence: float,
    paired: bool,
) -> dict[str, Any]:
    """The contract's numbers for one metric, by scipy and numpy directly."""
    b = np.array([getattr(e, field) for e in baseline if getattr(e, field) is not None])
    t = np.array([getattr(e, field) for e in treatment if getattr(e, field) is not None])
    want: dict[str, Any] = {"n_baseline": b.size, "n_treatment": t.size}
    if b.size:
        want["mean_baseline"] = math.fsum(b) / b.size
    if t.size:
        want["mean_treatment"] = math.fsum(t) / t.size
    if b.size and t.size:
        want["difference"] = want["mean_treatment"] - want["mean_baseline"]
        want["p_mann_whitney"] = scipy_stats.mannwhitneyu(b, t, alternative="two-sided").pvalue
        pairs = [(x, y) for x in b for y in t]
        want["cliffs_delta"] = (sum(y > x for x, y in pairs) - sum(y < x for x, y in pairs)) / len(
            pairs
        )
        want["median_difference"] = float(np.median(t) - np.median(b))
        want["p95_difference"] = float(np.percentile(t, 95) - np.percentile(b, 95))
    if b.size >= 2 and t.size >= 2 and (np.ptp(b) > 0 or np.ptp(t) > 0):
        # scipy warns of precision loss when one side is constant; the values stand.
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            want["p_welch"] = scipy_stats.ttest_ind(b, t, equal_var=False).pvalue
            interval = scipy_stats.ttest_ind(t, b, equal_var=False).confidence_interval(
                confidence_level=confidence
            )
        want["ci_low"], want["ci_high"] = interval.low, interval.high
        df = b.size + t.size - 2
        pooled = (
            (b.size - 1) * statistics.variance(b) + (t.size - 1) * statistics.variance(t)
        ) / df
        correction = math.gamma(df / 2) / (math.sqrt(df / 2) * math.gamma((df - 1) / 2))
        want["hedges_g"] = correction * want["difference"] / math.sqrt(pooled)
    if paired:
        base, treat = per_key_means(baseline, field), per_key_means(treatment, field)
        shared = [key for key in base if key in treat]
        x = np.array([base[key] for key in shared])
        y = np.array([treat[key] for key in shared])
        want["n_pairs"] = len(shared)
        if len(shared) >= 2 and (y - x).any():
            want["p_wilcoxon"] = scipy_stats.wilcoxon(x, y).pvalue
            if np.ptp(y - x) > 0:
                want["p_paired_t"] = scipy_stats.ttest_rel(x, y).pvalue
    return want


def check_metric(got: MetricTest, want: dict[str, Any]) -> None:
    assert got.n_baseline == want["n_baseline"]
    assert got.n_treatment == want["n_treatment"]
    assert got.n_pairs == want.get("n_pairs")
    for field in (
        "mean_baseline",
        "mean_treatment",
        "difference",
        "ci_low",
        "ci_high",
        "p_welch",
        "p_mann_whitney",
        "hedges_g",
        "cliffs_delta",
        "median_difference",
        "p95_difference",
        "p_paired_t",
        "p_wilcoxon",
    ):
        value = want.get(field)
        value = None if value is None else finite(value)
        assert close(getattr(got, field), value), (field, getattr(got, field), value)


def newcombe(s_b: int, n_b: int, s_t: int, n_t: int, confidence: float) -> tuple[float, float]:
    """Newcombe's method 10 from two Wilson intervals, written out (z from scipy)."""
    z = scipy_stats.norm.ppf(1 - (1 - confidence) / 2)

    def wilson(s: int, n: int) -> tuple[float, float, float]:
        p = s / n
        center = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
        return p, center - half, center + half

    p_b, l_b, u_b = wilson(s_b, n_b)
    p_t, l_t, u_t = wilson(s_t, n_t)
    d = p_t - p_b
    return (
        (d - math.sqrt((p_t - l_t) ** 2 + (u_b - p_b) ** 2)) * 100,
        (d + math.sqrt((u_t - p_t) ** 2 + (p_b - l_b) ** 2)) * 100,
    )


def holm(p: dict[str, float | None]) -> dict[str, float | None]:
    present = sorted((value, name) for name, value in p.items() if value is not None)
    out: dict[str, float | None] = dict.fromkeys(p)
    running = 0.0
    for rank, (value, name) in enumerate(present):
        running = max(running, min(1.0, (len(present) - rank) * value))
        out[name] = running
    return out


def check_significance(
    result: Significance,
    baseline: Sequence[Event],
    treatment: Sequence[Event],
    *,
    confidence: float = 0.95,
    paired: bool = False,
) -> None:
    welch: dict[str, float | None] = {}
    for field, name in (("latency_ms", "latency"), ("cost_usd", "cost")):
        want = expected_metric(baseline, treatment, field, confidence=confidence, paired=paired)
        check_metric(getattr(result, name), want)
        welch[name] = None if want.get("p_welch") is None else finite(want["p_welch"])
    s_b = sum(e.success is True for e in baseline)
    n_b = sum(e.success is not None for e in baseline)
    s_t = sum(e.success is True for e in treatment)
    n_t = sum(e.success is not None for e in treatment)
    success = result.success
    assert (success.successes_baseline, success.total_baseline) == (s_b, n_b)
    assert (success.successes_treatment, success.total_treatment) == (s_t, n_t)
    fisher = None
    if n_b and n_t:
        fisher = scipy_stats.fisher_exact([[s_b, n_b - s_b], [s_t, n_t - s_t]]).pvalue
        assert close(success.p_value, fisher)
        assert close(success.difference_pp, (s_t / n_t - s_b / n_b) * 100)
        low, high = newcombe(s_b, n_b, s_t, n_t, confidence)
        assert success.ci_low_pp == pytest.approx(low, rel=1e-9, abs=1e-9)
        assert success.ci_high_pp == pytest.approx(high, rel=1e-9, abs=1e-9)
    else:
        assert success.p_value is None
        assert success.difference_pp is None
    adjusted = holm({**welch, "success": None if fisher is None else finite(fisher)})
    assert set(result.p_holm) == set(adjusted)
    for name, value in adjusted.items():
        assert close(result.p_holm[name], value), (name, result.p_holm[name], value)


# ------------------------------------------------------------------ setup


def side_events(
    latencies: Sequence[float | None],
    costs: Sequence[float | None],
    outcomes: Sequence[bool | None],
    keys: Sequence[int | None],
) -> list[dict[str, Any]]:
    """Insertable rows, one per value, a millisecond apart."""
    return [
        {
            "timestamp": BASE_US + 1_000 * index,
            "event_name": ("app", "llm", "call"),
            "latency_ms": latency,
            "cost_usd": cost,
            "success": outcome,
            "sample_id": key,
        }
        for index, (latency, cost, outcome, key) in enumerate(
            zip(latencies, costs, outcomes, keys, strict=True)
        )
    ]


async def experiment_of(rt: Runtime, name: str, rows: list[dict[str, Any]]) -> str:
    experiment = await rt.start_experiment(name)
    for row in rows:
        await rt.insert(experiment.id, row)
    return experiment.id


values = st.floats(0.0, 1_000.0, allow_subnormal=False)


@st.composite
def sides(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Rows of one side: few (degenerate cases) or 8 to 40, values mostly present."""
    size = draw(st.integers(0, 3) | st.integers(8, 40))
    column = st.lists(values | values | values | st.none(), min_size=size, max_size=size)
    keys = st.lists(
        st.integers(0, 5) | st.integers(0, 5) | st.none(), min_size=size, max_size=size
    )
    return side_events(
        draw(column),
        draw(column),
        draw(st.lists(st.sampled_from((True, False, None)), min_size=size, max_size=size)),
        draw(keys),
    )


# ------------------------------------------------------------------ tests


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sides(), sides(), st.booleans(), st.sampled_from((0.9, 0.95, 0.99)))
def test_every_p_value_and_interval_equals_scipy_on_the_stored_values(
    baseline_rows: list[dict[str, Any]],
    treatment_rows: list[dict[str, Any]],
    paired: bool,
    confidence: float,
) -> None:
    async def main() -> tuple[Significance, list[Event], list[Event]]:
        async with Runtime(clock=FakeClock()) as rt:
            b = await experiment_of(rt, "baseline", baseline_rows)
            t = await experiment_of(rt, "treatment", treatment_rows)
            result = await rt.significance(
                b,
                t,
                paired_by="sample_id" if paired else None,
                confidence=confidence,
                resamples=200,
                seed=7,
            )
            return result, await rt.get_all(b), await rt.get_all(t)

    result, baseline, treatment = anyio.run(main)
    assert result.confidence == confidence
    assert result.paired_by == ("sample_id" if paired else None)
    check_significance(result, baseline, treatment, confidence=confidence, paired=paired)


@pytest.fixture
async def emitted_pair(rt: Runtime, clock: FakeClock) -> tuple[str, str]:
    """Two emitted experiments of 60 calls each over 20 prompts, the treatment 20 % slower;
    every tenth call is a tool event of 1 s that filters must leave out."""
    rng = np.random.default_rng(3)
    ids = []
    for name, factor in (("baseline", 1.0), ("treatment", 1.2)):
        experiment = await rt.start_experiment(name, events=["app.*"])
        for index in range(60):
            clock.advance(1_000)
            if index % 10 == 9:
                emit("app.tool.run", {"duration": 1_000_000_000}, {"sample_id": index % 20})
                continue
            latency_ns = int(rng.lognormal(18.5, 0.3) * factor)
            emit(
                "app.llm.call",
                {"duration": latency_ns},
                {
                    "sample_id": index % 20,
                    "cost": float(rng.uniform(0.001, 0.01)),
                    **({"error": "x"} if rng.random() < 0.1 else {"response": "ok"}),
                },
            )
        await rt.flush()
        await rt.stop_experiment(experiment.id)
        ids.append(experiment.id)
    return ids[0], ids[1]


async def test_paired_significance_of_emitted_events_with_a_name_filter(
    rt: Runtime, emitted_pair: tuple[str, str]
) -> None:
    b, t = emitted_pair
    result = await rt.significance(b, t, event_name="app.llm.call", paired_by="sample_id", seed=1)
    baseline = await rt.query(b, event_name="app.llm.call")
    treatment = await rt.query(t, event_name="app.llm.call")
    assert len(baseline) == len(treatment) == 54
    check_significance(result, baseline, treatment, paired=True)
    assert result.latency.n_pairs == 18  # prompts 9 and 19 only ever ran the tool
    assert result.latency.difference > 0


async def test_where_filter_selects_the_events_tested(
    rt: Runtime, emitted_pair: tuple[str, str]
) -> None:
    b, t = emitted_pair

    def fast(event: Event) -> bool:
        return event.latency_ms is not None and event.latency_ms < 150.0

    result = await rt.significance(b, t, where=fast, seed=2, resamples=500)
    baseline = [e for e in await rt.get_all(b) if fast(e)]
    treatment = [e for e in await rt.get_all(t) if fast(e)]
    assert 0 < len(baseline) < 60
    check_significance(result, baseline, treatment)


async def test_the_bootstrap_is_reproducible_with_a_seed(
    rt: Runtime, emitted_pair: tuple[str, str]
) -> None:
    b, t = emitted_pair
    first = await rt.significance(b, t, seed=11, resamples=2_000)
    again = await rt.significance(b, t, seed=11, resamples=2_000)
    other = await rt.significance(b, t, seed=12, resamples=2_000)
    assert first == again
    assert (first.latency.median_ci, first.latency.p95_ci) != (
        other.latency.median_ci,
        other.latency.p95_ci,
    )
    assert first.latency.p_welch == other.latency.p_welch  # only the bootstrap is random


async def test_the_bootstrap_interval_agrees_with_a_plain_bootstrap(
    rt: Runtime, emitted_pair: tuple[str, str]
) -> None:
    """The interval from 20,000 resamples is within a few percent of a plain numpy bootstrap's."""
    b, t = emitted_pair
    result = await rt.significance(b, t, event_name="app.llm.call", seed=5, resamples=20_000)
    x = np.array([e.latency_ms for e in await rt.query(b, event_name="app.llm.call")])
    y = np.array([e.latency_ms for e in await rt.query(t, event_name="app.llm.call")])
    rng = np.random.default_rng(0)
    replicates = np.median(rng.choice(y, (20_000, y.size)), axis=1) - np.median(
        rng.choice(x, (20_000, x.size)), axis=1
    )
    low, high = np.percentile(replicates, [2.5, 97.5])
    assert result.latency.median_ci is not None
    spread = high - low
    assert abs(result.latency.median_ci[0] - low) < 0.1 * spread
    assert abs(result.latency.median_ci[1] - high) < 0.1 * spread
    assert result.latency.median_difference == pytest.approx(np.median(y) - np.median(x))


async def test_small_samples_and_constant_sides_are_warned_about(rt: Runtime) -> None:
    rows = side_events([10.0, 12.0, 11.0], [1.0, 1.0, 1.0], [True, True, True], [None] * 3)
    b = await experiment_of(rt, "b", rows)
    t = await experiment_of(rt, "t", side_events([20.0, 25.0], [1.0, 1.0], [True, True], [1, 2]))
    result = await rt.significance(b, t, seed=0)
    assert "latency: fewer than 30 events on the baseline side (3); the t-test is unreliable" in (
        result.warnings
    )
    assert any("fewer than 30 events on the treatment side (2)" in w for w in result.warnings)
    assert "cost: no variance on either side; the Welch test is undefined" in result.warnings
    assert any("no failures on either side" in w for w in result.warnings)
    assert result.cost.p_welch is None
    assert result.p_holm["cost"] is None
    assert result.latency.p_welch is not None


async def test_an_empty_side_gives_nones_and_a_warning(rt: Runtime) -> None:
    b = await experiment_of(rt, "b", side_events([1.0, 2.0], [None, None], [None, None], [1, 2]))
    t = await experiment_of(rt, "t", [])
    result = await rt.significance(b, t, paired_by="sample_id", seed=0)
    assert result.latency.n_treatment == 0
    assert result.latency.p_welch is None
    assert result.latency.n_pairs == 0
    assert "latency: no events on the treatment side; its tests are left out" in result.warnings
    assert result.success.p_value is None


@pytest.mark.parametrize(
    ("arguments", "error", "match"),
    [
        ({"confidence": 1.0}, ValueError, "confidence must be between 0 and 1"),
        ({"resamples": 0}, ValueError, "resamples must be at least 1"),
        ({"seed": -1}, ValueError, "seed must be non-negative"),
        ({"paired_by": ""}, TypeError, "paired_by must be a field name"),
        ({"where": "x"}, TypeError, "where must be a callable"),
    ],
)
async def test_bad_arguments_are_refused(
    rt: Runtime, arguments: dict[str, Any], error: type[Exception], match: str
) -> None:
    b = await experiment_of(rt, "b", side_events([1.0, 2.0], [1.0, 2.0], [True, False], [1, 2]))
    with pytest.raises(error, match=match):
        await rt.significance(b, b, **arguments)


def test_without_scipy_the_error_says_what_to_install(tmp_path: Any) -> None:
    """In a fresh interpreter where ``import scipy`` fails, significance raises ImportError."""
    script = textwrap.dedent(
        """
        import sys
        sys.modules["scipy"] = None  # import scipy now raises ImportError
        import anyio
        from telemetry_actors import Runtime

        async def main():
            async with Runtime() as rt:
                a = await rt.start_experiment("a")
                try:
                    await rt.significance(a.id, a.id)
                except ImportError as error:
                    print("ImportError:", error)
                metrics = await rt.calculate_metrics(a.id)  # the rest keeps working
                print("events:", metrics.summary.total_events)

        anyio.run(main)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.splitlines() == [
        "ImportError: significance() needs scipy: pip install 'telemetry-actors[stats]'",
        "events: 0",
    ]
