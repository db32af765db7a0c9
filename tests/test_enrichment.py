"""Enrichment: what an emitted event becomes (contract section "Enrichment")."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from telemetry_actors import Event, ExperimentStatus, Runtime, emit
from telemetry_actors._enrichment import (
    cost_usd,
    derive,
    latency_ms,
    success,
    token_counts,
)
from telemetry_actors._pricing import merge_pricing

from .conftest import BASE_US, FakeClock

STOP = "req_llm.request.stop"

#: The contract's built-in rates, written out literally (USD per 1M in, out tokens).
CONTRACT_RATES = {
    "gemini-2.0-flash-exp": (0.075, 0.30),
    "gpt-4": (30.0, 60.0),
    "gpt-4-turbo": (10.0, 30.0),
    "gpt-3.5-turbo": (0.5, 1.5),
    "claude-3-opus": (15.0, 75.0),
    "claude-3-sonnet": (3.0, 15.0),
}


def price(prompt: int, completion: int, rates: tuple[float, float]) -> float:
    return (prompt * rates[0] + completion * rates[1]) / 1e6


async def collect_one(
    rt: Runtime,
    measurements: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> Event:
    """Start an experiment, emit one standard event to it, return the stored event."""
    exp = await rt.start_experiment("enrichment")
    emit(STOP, measurements, metadata)
    await rt.flush()
    events = await rt.get_all(exp.id)
    assert len(events) == 1
    return events[0]


# ------------------------------------------------------------------ latency_ms


async def test_latency_from_duration_ns(rt: Runtime) -> None:
    event = await collect_one(rt, {"duration": 1_234_567_000})
    assert event.latency_ms == 1_234.567
    assert event.measurements == {"duration": 1_234_567_000}


async def test_latency_duration_float(rt: Runtime) -> None:
    event = await collect_one(rt, {"duration": 2_500_000.0})
    assert event.latency_ms == 2.5


async def test_latency_from_stop_minus_start(rt: Runtime) -> None:
    event = await collect_one(rt, {"start": 1_000_000, "stop": 4_500_000})
    assert event.latency_ms == 3.5


async def test_duration_wins_over_start_stop(rt: Runtime) -> None:
    event = await collect_one(rt, {"duration": 1_000_000, "start": 0, "stop": 9_000_000})
    assert event.latency_ms == 1.0


@pytest.mark.parametrize(
    "measurements",
    [
        pytest.param({}, id="empty"),
        pytest.param({"start": 5}, id="start-only"),
        pytest.param({"stop": 5}, id="stop-only"),
        pytest.param({"other": 5}, id="unrelated"),
    ],
)
async def test_latency_none_without_source(rt: Runtime, measurements: dict[str, Any]) -> None:
    event = await collect_one(rt, measurements)
    assert event.latency_ms is None


async def test_latency_none_without_measurements(rt: Runtime) -> None:
    event = await collect_one(rt, None, {"model": "gpt-4"})
    assert event.latency_ms is None
    assert event.measurements == {}


@pytest.mark.parametrize(
    "measurements",
    [
        pytest.param({"duration": "fast", "x": 1}, id="str"),
        pytest.param({"duration": None}, id="none"),
        pytest.param({"duration": True}, id="bool"),
        pytest.param({"duration": [1, 2]}, id="list"),
        pytest.param({"duration": math.inf}, id="inf"),
        pytest.param({"duration": -math.inf}, id="neg-inf"),
        pytest.param({"duration": 10**400}, id="int-too-big-for-float"),
        pytest.param({"start": "0", "stop": 5}, id="start-str"),
        pytest.param({"start": 0, "stop": math.inf}, id="stop-inf"),
        pytest.param({"start": -1e308, "stop": 1e308}, id="difference-overflows"),
    ],
)
async def test_bad_latency_is_none_event_kept_whole(
    rt: Runtime, measurements: dict[str, Any]
) -> None:
    metadata = {"model": "gpt-4", "note": "kept"}
    event = await collect_one(rt, measurements, metadata)
    assert event.latency_ms is None
    assert event.measurements == measurements
    assert event.metadata == metadata
    assert event.event_name == ("req_llm", "request", "stop")


async def test_nan_duration_is_none_event_kept(rt: Runtime) -> None:
    event = await collect_one(rt, {"duration": math.nan, "tokens_out": 3})
    assert event.latency_ms is None
    assert set(event.measurements) == {"duration", "tokens_out"}
    assert math.isnan(event.measurements["duration"])
    assert event.measurements["tokens_out"] == 3


@settings(max_examples=200, deadline=None)
@given(duration=st.integers(min_value=-(10**15), max_value=10**15))
def test_latency_ms_property_int_duration(duration: int) -> None:
    assert latency_ms({"duration": duration}) == duration / 1e6


@settings(max_examples=200, deadline=None)
@given(
    start=st.floats(allow_nan=False, allow_infinity=False, width=32),
    stop=st.floats(allow_nan=False, allow_infinity=False, width=32),
)
def test_latency_ms_property_start_stop(start: float, stop: float) -> None:
    assert latency_ms({"start": start, "stop": stop}) == (stop - start) / 1e6


# -------------------------------------------------------------------- cost_usd


@pytest.mark.parametrize(("model", "rates"), sorted(CONTRACT_RATES.items()))
async def test_cost_from_builtin_rates(
    rt: Runtime, model: str, rates: tuple[float, float]
) -> None:
    metadata = {"model": model, "tokens": {"prompt": 1234, "completion": 567}}
    event = await collect_one(rt, {}, metadata)
    assert event.cost_usd == price(1234, 567, rates)
    assert event.model == model


async def test_cost_exact_values_for_round_counts(rt: Runtime) -> None:
    exp = await rt.start_experiment("round")
    for model in ("gpt-4", "claude-3-opus", "gpt-3.5-turbo", "unknown-model"):
        emit(STOP, {}, {"model": model, "tokens": {"prompt": 1_000_000, "completion": 1_000_000}})
    await rt.flush()
    costs = [event.cost_usd for event in await rt.get_all(exp.id)]
    assert costs == [90.0, 90.0, 2.0, 3.0]


async def test_cost_unknown_model_default_rates(rt: Runtime) -> None:
    metadata = {"model": "llama-local", "tokens": {"prompt": 1500, "completion": 700}}
    event = await collect_one(rt, {}, metadata)
    assert event.cost_usd == price(1500, 700, (1.0, 2.0))
    assert event.cost_usd == pytest.approx(0.0029, rel=1e-12)


async def test_cost_pricing_override_and_addition(clock: FakeClock, tmp_path: Path) -> None:
    pricing = {"gpt-4": (1.0, 4.0), "local-llm": (0.25, 0.5)}
    async with Runtime(clock=clock, export_dir=tmp_path, pricing=pricing) as rt:
        exp = await rt.start_experiment("priced")
        for model in ("gpt-4", "local-llm", "claude-3-sonnet", "never-heard-of-it"):
            emit(STOP, {}, {"model": model, "tokens": {"prompt": 3000, "completion": 1000}})
        await rt.flush()
        costs = [event.cost_usd for event in await rt.get_all(exp.id)]
    assert costs == [
        price(3000, 1000, (1.0, 4.0)),
        price(3000, 1000, (0.25, 0.5)),
        price(3000, 1000, CONTRACT_RATES["claude-3-sonnet"]),
        price(3000, 1000, (1.0, 2.0)),
    ]


async def test_pricing_is_per_runtime(clock: FakeClock, tmp_path: Path) -> None:
    metadata = {"model": "gpt-4", "tokens": {"prompt": 1000, "completion": 1000}}
    async with (
        Runtime(clock=clock, export_dir=tmp_path, pricing={"gpt-4": (2.0, 2.0)}) as cheap,
        Runtime(clock=clock, export_dir=tmp_path) as default,
    ):
        cheap_exp = await cheap.start_experiment("cheap")
        default_exp = await default.start_experiment("default")
        emit(STOP, {}, metadata)
        await cheap.flush()
        await default.flush()
        [cheap_event] = await cheap.get_all(cheap_exp.id)
        [default_event] = await default.get_all(default_exp.id)
    assert cheap_event.cost_usd == price(1000, 1000, (2.0, 2.0))
    assert default_event.cost_usd == price(1000, 1000, (30.0, 60.0))


@pytest.mark.parametrize(
    ("measurements", "metadata", "expected"),
    [
        pytest.param(
            {"cost": 9.0},
            {"cost": 0.25, "model": "gpt-4", "tokens": {"prompt": 10, "completion": 10}},
            0.25,
            id="metadata-cost-first",
        ),
        pytest.param({}, {"cost": 0}, 0.0, id="metadata-cost-zero-int"),
        pytest.param(
            {"cost": 9.0},
            {"model": "gpt-4", "tokens": {"prompt": 100, "completion": 10}},
            price(100, 10, (30.0, 60.0)),
            id="tokens-before-measurement-cost",
        ),
        pytest.param({"cost": 0.125}, {}, 0.125, id="measurement-cost"),
        pytest.param({"cost": 3}, None, 3.0, id="measurement-cost-int"),
        pytest.param(
            {"cost": 0.5},
            {"tokens": {"prompt": 100, "completion": 10}},
            0.5,
            id="tokens-without-model",
        ),
        pytest.param({}, {}, None, id="nothing"),
        pytest.param({}, {"tokens": {"prompt": 100}}, None, id="tokens-no-model-no-cost"),
    ],
)
async def test_cost_precedence(
    rt: Runtime,
    measurements: dict[str, Any],
    metadata: dict[str, Any] | None,
    expected: float | None,
) -> None:
    event = await collect_one(rt, measurements, metadata)
    assert event.cost_usd == expected
    if expected is not None:
        assert type(event.cost_usd) is float


@pytest.mark.parametrize(
    ("measurements", "metadata"),
    [
        pytest.param({}, {"cost": "0.5"}, id="metadata-cost-str"),
        pytest.param({}, {"cost": math.nan}, id="metadata-cost-nan"),
        pytest.param({}, {"cost": math.inf}, id="metadata-cost-inf"),
        pytest.param({}, {"cost": True}, id="metadata-cost-bool"),
        pytest.param({"cost": "1"}, {}, id="measurement-cost-str"),
        pytest.param({"cost": -math.inf}, {}, id="measurement-cost-inf"),
        pytest.param({"cost": math.nan}, {}, id="measurement-cost-nan"),
        pytest.param({}, {"model": "gpt-4", "tokens": "lots"}, id="tokens-not-mapping"),
        pytest.param({}, {"model": "gpt-4", "tokens": {"prompt": math.nan}}, id="only-count-nan"),
        pytest.param(
            {},
            {"model": "gpt-4", "tokens": {"prompt": math.nan, "completion": 100}},
            id="prompt-nan",
        ),
        pytest.param(
            {},
            {"model": "gpt-4", "tokens": {"prompt": "10", "completion": 100}},
            id="prompt-str",
        ),
        pytest.param(
            {},
            {"model": "gpt-4", "tokens": {"prompt": 10, "completion": math.inf}},
            id="completion-inf",
        ),
        pytest.param(
            {},
            {"model": "gpt-4", "tokens": {"input_tokens": 10, "output_tokens": [5]}},
            id="output-list",
        ),
    ],
)
async def test_bad_cost_values_give_none(
    rt: Runtime, measurements: dict[str, Any], metadata: dict[str, Any]
) -> None:
    event = await collect_one(rt, measurements, metadata)
    assert event.cost_usd is None
    assert event.measurements.keys() == measurements.keys()
    assert event.metadata.keys() == metadata.keys()


def test_cost_usd_unit_unknown_model_uses_default_rates() -> None:
    metadata = {"model": "x", "tokens": {"prompt_tokens": 10, "completion_tokens": 20}}
    assert cost_usd({}, metadata, {}, token_counts(metadata)) == price(10, 20, (1.0, 2.0))


# ---------------------------------------------------------------------- tokens


async def test_token_aliases_and_totals(rt: Runtime) -> None:
    exp = await rt.start_experiment("tokens")
    token_sets: list[dict[str, int]] = [
        {"prompt": 10, "completion": 20, "total": 35},
        {"prompt_tokens": 100, "completion_tokens": 200},
        {"input_tokens": 1000, "output_tokens": 2000},
        {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 4},
    ]
    for tokens in token_sets:
        emit(STOP, {"duration": 1}, {"model": "gpt-4", "tokens": tokens})
    emit(STOP, {"duration": 1}, {"model": "gpt-4"})  # no tokens: not counted
    await rt.flush()

    events = await rt.get_all(exp.id)
    assert [event.cost_usd for event in events] == [
        price(10, 20, (30.0, 60.0)),
        price(100, 200, (30.0, 60.0)),
        price(1000, 2000, (30.0, 60.0)),
        price(1, 2, (30.0, 60.0)),
        None,
    ]
    tokens = (await rt.calculate_metrics(exp.id)).tokens
    assert tokens.count == 4
    assert tokens.total_prompt == 1111
    assert tokens.total_completion == 2222
    assert tokens.total == 35 + 300 + 3000 + 4
    assert tokens.mean_prompt == 1111 / 4
    assert tokens.mean_completion == 2222 / 4
    assert tokens.mean_total == 3339 / 4


async def test_tokens_counted_without_model(rt: Runtime) -> None:
    exp = await rt.start_experiment("tokens")
    emit(STOP, {}, {"tokens": {"prompt": 7, "completion": 5}})
    await rt.flush()
    tokens = (await rt.calculate_metrics(exp.id)).tokens
    assert (tokens.count, tokens.total_prompt, tokens.total_completion, tokens.total) == (
        1,
        7,
        5,
        12,
    )


# --------------------------------------------------------------------- success


@pytest.mark.parametrize(
    ("measurements", "metadata", "expected"),
    [
        pytest.param({}, {"error": "boom"}, False, id="error"),
        pytest.param({}, {"exception": RuntimeError("x")}, False, id="exception"),
        pytest.param({"status": "ok"}, {"error": "boom"}, False, id="error-beats-status"),
        pytest.param({}, {"error": "boom", "response": "hi"}, False, id="error-beats-response"),
        pytest.param({"status": "ok"}, {}, True, id="status-ok"),
        pytest.param({"status": "error"}, {}, False, id="status-error"),
        pytest.param({"status": "error"}, {"response": "hi"}, False, id="status-beats-response"),
        pytest.param({"status": "ok"}, {"error": ""}, True, id="falsy-error-ignored"),
        pytest.param({}, {"error": None, "exception": 0, "response": ""}, True, id="response"),
        pytest.param({}, {"response": {"text": "x"}}, True, id="response-mapping"),
        pytest.param({}, {"response": None}, None, id="response-none"),
        pytest.param({"status": "pending"}, {}, None, id="unknown-status"),
        pytest.param({"status": "pending"}, {"response": 1}, True, id="unknown-status-response"),
        pytest.param({"status": 1}, {}, None, id="status-not-str"),
        pytest.param({}, {}, None, id="nothing"),
    ],
)
async def test_success(
    rt: Runtime, measurements: dict[str, Any], metadata: dict[str, Any], expected: bool | None
) -> None:
    event = await collect_one(rt, measurements, metadata)
    assert event.success is expected


def test_success_unit_without_inputs() -> None:
    assert success({}, {}) is None
    assert success({"status": "ok"}, {"exception": "e"}) is False


# ----------------------------------------------------- copied fields and context


async def test_copied_fields_and_context(rt: Runtime, clock: FakeClock) -> None:
    exp = await rt.start_experiment("ctx", condition="treatment", tags=("t1", "t2"))
    metadata = {
        "session_id": "s-1",
        "user_id": 42,
        "sample_id": "sample-9",
        "cohort": "beta",
        "model": "gpt-4",
        "provider": "openai",
        "extra": [1, 2],
    }
    clock.advance(5_000_000)
    emit(STOP, {"duration": 7}, metadata)
    clock.advance(3_000_000)  # time stamps are taken at emit time, not when stored
    await rt.flush()
    [event] = await rt.get_all(exp.id)
    assert event.session_id == "s-1"
    assert event.user_id == 42
    assert event.sample_id == "sample-9"
    assert event.cohort == "beta"
    assert event.model == "gpt-4"
    assert event.provider == "openai"
    assert event.metadata == metadata
    assert event.experiment_id == exp.id
    assert event.experiment_name == "ctx"
    assert event.condition == "treatment"
    assert event.tags == ("t1", "t2")
    assert event.timestamp == BASE_US + 5_000_000
    assert type(event.timestamp) is int
    assert event.event_name == ("req_llm", "request", "stop")


async def test_copied_fields_default_none(rt: Runtime) -> None:
    event = await collect_one(rt, {}, {"unrelated": 1})
    assert (
        event.session_id,
        event.user_id,
        event.sample_id,
        event.cohort,
        event.model,
        event.provider,
    ) == (None, None, None, None, None, None)
    assert event.condition == "default"
    assert event.tags == ()


async def test_metadata_is_a_copy(rt: Runtime) -> None:
    exp = await rt.start_experiment("copy")
    metadata = {"session_id": "a"}
    emit(STOP, {}, metadata)
    await rt.flush()
    metadata["session_id"] = "changed"
    [event] = await rt.get_all(exp.id)
    assert event.metadata == {"session_id": "a"}


async def test_event_ids_unique_and_timestamps_follow_clock(rt: Runtime, clock: FakeClock) -> None:
    exp = await rt.start_experiment("ids")
    for _ in range(50):
        clock.advance(10)
        emit(STOP)
    await rt.flush()
    events = await rt.get_all(exp.id)
    assert len({event.event_id for event in events}) == 50
    assert all(isinstance(event.event_id, str) and event.event_id for event in events)
    assert [event.timestamp for event in events] == [BASE_US + 10 * k for k in range(1, 51)]


async def test_event_ids_unique_across_experiments(rt: Runtime) -> None:
    first = await rt.start_experiment("a")
    second = await rt.start_experiment("b")
    emit(STOP)
    await rt.flush()
    [a] = await rt.get_all(first.id)
    [b] = await rt.get_all(second.id)
    assert a.event_id != b.event_id
    assert (a.experiment_id, b.experiment_id) == (first.id, second.id)


# ---------------------------------------------------------------- hostile input


class Explosive:
    """A value whose truth test and comparison both raise."""

    __hash__ = object.__hash__

    def __bool__(self) -> bool:
        raise RuntimeError("no truth value")

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("no comparison")

    def __float__(self) -> float:
        raise RuntimeError("no float")


class ExplodingStr(str):
    """A str whose comparison raises (hash stays that of the plain str)."""

    __hash__ = str.__hash__

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("no comparison")


class ExplodingInt(int):
    """An int that refuses to become a float."""

    def __float__(self) -> float:
        raise RuntimeError("no float")


class BrokenMapping(Mapping[str, Any]):
    """A Mapping whose every read raises."""

    def __getitem__(self, key: str) -> Any:
        raise RuntimeError("no item")

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError("no iteration")

    def __len__(self) -> int:
        return 1


async def assert_healthy(rt: Runtime, experiment_id: str, expected_events: int) -> None:
    """Still running, never restarted, and still collecting."""
    emit(STOP, {"duration": 2_000_000}, {"marker": "after"})
    await rt.flush()
    experiment = await rt.get_experiment(experiment_id)
    assert experiment.status is ExperimentStatus.RUNNING
    assert experiment.restarts == 0
    events = await rt.get_all(experiment_id)
    assert len(events) == expected_events + 1
    assert events[-1].metadata == {"marker": "after"}
    assert events[-1].latency_ms == 2.0
    assert (await rt.streaming_metrics(experiment_id)).dropped == 0


async def test_hostile_error_value(rt: Runtime) -> None:
    exp = await rt.start_experiment("hostile")
    bomb = Explosive()
    emit(STOP, {"duration": 1_000_000}, {"error": bomb})
    await rt.flush()
    [event] = await rt.get_all(exp.id)
    # Its truth cannot be told: success is underivable, the rest is unaffected.
    assert event.success is None
    assert event.latency_ms == 1.0
    assert event.metadata["error"] is bomb
    await assert_healthy(rt, exp.id, 1)


async def test_hostile_values_everywhere(rt: Runtime) -> None:
    exp = await rt.start_experiment("hostile")
    bomb = Explosive()
    emitted: list[tuple[dict[str, Any], dict[str, Any]]] = [
        ({"duration": bomb}, {"exception": bomb}),
        ({"start": bomb, "stop": 5}, {"cost": bomb}),
        ({"status": ExplodingStr("ok")}, {"response": bomb}),
        ({"duration": ExplodingInt(5)}, {"model": ExplodingStr("gpt-4"), "tokens": {"p": 1}}),
        ({"cost": bomb}, {"model": "gpt-4", "tokens": {"prompt": bomb, "completion": 3}}),
        ({}, {"model": "gpt-4", "tokens": BrokenMapping()}),
        ({}, {"model": bomb, "session_id": bomb, "cohort": bomb}),
    ]
    for measurements, metadata in emitted:
        emit(STOP, measurements, metadata)
    await rt.flush()
    events = await rt.get_all(exp.id)
    assert len(events) == len(emitted)
    for index, (event, (measurements, metadata)) in enumerate(zip(events, emitted, strict=True)):
        # An int subclass is a numbers.Integral: captured as the int it is (5 ns).
        assert event.latency_ms == (5e-06 if index == 3 else None)
        assert event.measurements.keys() == measurements.keys()
        assert event.metadata.keys() == metadata.keys()
    assert events[0].success is None  # exception's truth cannot be told
    assert events[1].cost_usd is None
    assert events[5].cost_usd is None
    assert events[6].session_id is bomb
    await assert_healthy(rt, exp.id, len(emitted))


async def test_unreadable_mappings_do_not_crash(rt: Runtime) -> None:
    exp = await rt.start_experiment("hostile")
    emit(STOP, BrokenMapping(), {"model": "gpt-4"})
    emit(STOP, {"duration": 3_000_000}, BrokenMapping())
    await rt.flush()
    first, second = await rt.get_all(exp.id)
    assert first.measurements == {}
    assert first.metadata == {"model": "gpt-4"}
    assert first.model == "gpt-4"
    assert second.metadata == {}
    assert second.latency_ms == 3.0
    await assert_healthy(rt, exp.id, 2)


@pytest.mark.parametrize(
    "key",
    [
        "session_id",
        "user_id",
        "sample_id",
        "cohort",
        "model",
        "provider",
        "error",
        "duration",
        "cost",
    ],
)
async def test_hostile_keys_do_not_crash(rt: Runtime, key: str) -> None:
    # A key that hashes like a field the enrichment reads but cannot be compared.
    exp = await rt.start_experiment("hostile-keys")
    emit(STOP, {ExplodingStr(key): 1}, {ExplodingStr(key): 1})
    await rt.flush()
    [event] = await rt.get_all(exp.id)
    assert len(event.metadata) == 1
    assert len(event.measurements) == 1
    await assert_healthy(rt, exp.id, 1)


def test_derivation_never_raises_on_hostile_input() -> None:
    bomb = Explosive()
    metadata = {"error": bomb, "cost": bomb, "model": bomb}
    derived = derive({"duration": bomb, "status": ExplodingStr("ok")}, metadata, {})
    assert derived == (None, None, None, None)


# -------------------------------------------------------------------- sampling


async def sampled_count(
    clock: FakeClock, tmp_path: Path, metadata: dict[str, Any], n: int
) -> tuple[int, int]:
    """Stored events and drops of one fresh runtime after ``n`` emits."""
    async with Runtime(clock=clock, export_dir=tmp_path) as rt:
        exp = await rt.start_experiment("sampled", metadata=metadata)
        for i in range(n):
            emit(STOP, {"duration": i})
        await rt.flush()
        stored = len(await rt.get_all(exp.id))
        dropped = (await rt.streaming_metrics(exp.id)).dropped
    return stored, dropped


async def test_sampling_rate_zero_collects_nothing(clock: FakeClock, tmp_path: Path) -> None:
    assert await sampled_count(clock, tmp_path, {"sampling_rate": 0.0}, 200) == (0, 0)


async def test_sampling_rate_zero_stores_nothing_but_streaming_counts_all(rt: Runtime) -> None:
    # Version 2: streaming metrics count every collected event, sampled out or not.
    exp = await rt.start_experiment("none", metadata={"sampling_rate": 0})
    for _ in range(20):
        emit(STOP, {"duration": 5})
    await rt.flush()
    metrics = await rt.streaming_metrics(exp.id)
    assert metrics.event_counts == {"req_llm.request.stop": 20}
    assert metrics.latency.count == 20
    assert metrics.dropped == 0
    assert await rt.get_all(exp.id) == []


async def test_sampling_rate_one_collects_all(clock: FakeClock, tmp_path: Path) -> None:
    assert await sampled_count(clock, tmp_path, {"sampling_rate": 1.0}, 200) == (200, 0)
    assert await sampled_count(clock, tmp_path, {"sampling_rate": 1}, 200) == (200, 0)


async def test_default_sampling_is_complete(rt: Runtime) -> None:
    exp = await rt.start_experiment("complete")
    for _ in range(300):
        emit(STOP)
    await rt.flush()
    assert len(await rt.get_all(exp.id)) == 300


async def test_sampling_half_seeded_is_deterministic(clock: FakeClock, tmp_path: Path) -> None:
    metadata = {"sampling_rate": 0.5, "sampling_seed": 7}
    n = 400
    first, first_dropped = await sampled_count(clock, tmp_path, metadata, n)
    second, second_dropped = await sampled_count(clock, tmp_path, metadata, n)
    assert 0 < first < n
    assert first == second
    # Far from the tails of Binomial(400, 0.5): a working sampler lands here.
    assert 120 < first < 280
    assert first_dropped == second_dropped == 0


async def test_sampled_events_are_kept_whole(rt: Runtime) -> None:
    exp = await rt.start_experiment("sampled", metadata={"sampling_rate": 0.5, "sampling_seed": 7})
    for i in range(100):
        emit(STOP, {"duration": i * 1_000_000}, {"i": i})
    await rt.flush()
    events = await rt.get_all(exp.id)
    assert 0 < len(events) < 100
    for event in events:
        assert event.latency_ms == float(event.metadata["i"])
    indices = [event.metadata["i"] for event in events]
    assert indices == sorted(set(indices))


@pytest.mark.parametrize("rate", [-0.1, 1.5, math.nan, math.inf, "0.5", True])
async def test_invalid_sampling_rate(rt: Runtime, rate: object) -> None:
    with pytest.raises(ValueError, match="sampling_rate"):
        await rt.start_experiment("bad", metadata={"sampling_rate": rate})
    assert await rt.list_experiments() == []


# ------------------------------------------------- derive against the field rules

#: Values under the keys derive reads: the shapes its fast paths take, and their edges.
_numbers = (
    st.integers(-(10**6), 10**9)
    | st.sampled_from([2**1100, -(2**1100), 2**1023, 0, -1, True])
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from(["12", None, [1]])
)
_token_dicts = st.dictionaries(
    st.sampled_from(
        ["prompt", "completion", "total", "total_tokens", "prompt_tokens", "output_tokens"]
    ),
    _numbers,
    max_size=4,
) | st.fixed_dictionaries(
    {"prompt": _numbers, "completion": _numbers},
    optional={"total": _numbers, "total_tokens": _numbers, "output_tokens": _numbers},
)
_measurements = st.fixed_dictionaries(
    {},
    optional={
        "duration": _numbers,
        "start": _numbers,
        "stop": _numbers,
        "cost": _numbers,
        "status": st.sampled_from(["ok", "error", "OK", 1]),
    },
)
_metadata = st.fixed_dictionaries(
    {},
    optional={
        "tokens": _token_dicts | _numbers,
        "model": st.sampled_from(["gpt-4", "unknown-model", 4, None]),
        "cost": _numbers,
        "error": st.sampled_from(["boom", "", None, 0]),
        "response": st.sampled_from(["ok", None]),
    },
)


@settings(max_examples=400, deadline=None)
@given(measurements=_measurements, metadata=_metadata)
def test_derive_agrees_with_the_field_rules(
    measurements: dict[str, Any], metadata: dict[str, Any]
) -> None:
    pricing = merge_pricing(None)
    tokens = token_counts(metadata)
    expected = (
        latency_ms(measurements),
        cost_usd(measurements, metadata, pricing, tokens),
        success(measurements, metadata),
        tokens,
    )
    derived = derive(measurements, metadata, pricing)
    assert derived == expected
    assert [type(value) for value in derived] == [type(value) for value in expected]


# ------------------------------------------------- OpenTelemetry GenAI names


async def test_genai_usage_and_models_are_read(rt: Runtime) -> None:
    exp = await rt.start_experiment("genai", events=["gen_ai.*"])
    emit(
        "gen_ai.chat.stop",
        {"duration": 2_000_000},
        {
            "gen_ai.request.model": "gpt-3.5-turbo",
            "gen_ai.response.model": "gpt-4",
            "gen_ai.system": "openai",
            "gen_ai.usage.input_tokens": 1_000,
            "gen_ai.usage.output_tokens": 500,
        },
    )
    emit(
        "gen_ai.chat.stop",
        {},
        {
            "gen_ai.request.model": "claude-3-opus",
            "gen_ai.provider.name": "anthropic",
            "gen_ai.system": "older-name",
            "tokens": {"gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 20},
        },
    )
    await rt.flush()
    first, second = await rt.get_all(exp.id)
    assert (first.model, first.provider) == ("gpt-4", "openai")
    assert first.cost_usd == pytest.approx((1_000 * 30 + 500 * 60) / 1e6)
    assert (second.model, second.provider) == ("claude-3-opus", "anthropic")
    assert second.cost_usd == pytest.approx((10 * 15 + 20 * 75) / 1e6)
    tokens = (await rt.calculate_metrics(exp.id)).tokens
    assert (tokens.total_prompt, tokens.total_completion, tokens.total) == (1_010, 520, 1_530)
    by_model = await rt.breakdown(exp.id, "model")
    assert sorted(by_model) == ["claude-3-opus", "gpt-4"]
    assert [m.summary.total_events for m in (await rt.breakdown(exp.id, "provider")).values()] == [
        1,
        1,
    ]


async def test_the_contract_names_win_over_genai_names(rt: Runtime) -> None:
    exp = await rt.start_experiment("genai", events=["gen_ai.*"])
    emit(
        "gen_ai.chat.stop",
        {},
        {
            "model": "gpt-3.5-turbo",
            "gen_ai.response.model": "gpt-4",
            "provider": "azure",
            "gen_ai.provider.name": "openai",
            "tokens": {"prompt": 100, "completion": 100},
            "gen_ai.usage.input_tokens": 999_999,
        },
    )
    await rt.flush()
    (event,) = await rt.get_all(exp.id)
    assert (event.model, event.provider) == ("gpt-3.5-turbo", "azure")
    assert event.cost_usd == pytest.approx((100 * 0.5 + 100 * 1.5) / 1e6)
    assert (await rt.query(exp.id, model="gpt-3.5-turbo")) == [event]
