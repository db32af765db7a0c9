"""Experiment lifecycle: start, pause, resume, stop, cleanup, lookups and errors."""

from __future__ import annotations

import enum
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest

from telemetry_actors import (
    AlreadyPausedError,
    Experiment,
    ExperimentNotFoundError,
    ExperimentStatus,
    InvalidTransitionError,
    LastN,
    NoEventsError,
    NotPausedError,
    NotRunningError,
    Runtime,
    RuntimeClosedError,
    TelemetryActorsError,
)
from tests.conftest import BASE_US, FakeClock

#: BASE_US as the datetime the runtime should report.
BASE_DT = datetime(2025, 1, 1, tzinfo=UTC)

UNKNOWN_ID = "0123456789abcdef"


def at(offset_us: int) -> datetime:
    """The UTC datetime ``offset_us`` after BASE_US."""
    return BASE_DT + timedelta(microseconds=offset_us)


# ------------------------------------------------------------------ starting


async def test_start_experiment_defaults(rt: Runtime) -> None:
    exp = await rt.start_experiment("baseline")

    assert isinstance(exp, Experiment)
    assert re.fullmatch(r"[0-9a-f]{16}", exp.id)
    assert exp.name == "baseline"
    assert exp.hypothesis is None
    assert exp.condition == "default"
    assert exp.tags == ()
    assert exp.metadata == {}
    assert exp.started_at == BASE_DT
    assert exp.started_at.utcoffset() == timedelta(0)
    assert exp.stopped_at is None
    assert exp.paused_at is None
    assert exp.status is ExperimentStatus.RUNNING
    assert exp.sample_size is None
    assert exp.metrics_config == {}
    assert exp.storage_backend == "memory"
    assert exp.pause_count == 0
    assert exp.restarts == 0


async def test_start_experiment_keeps_every_given_field(rt: Runtime, clock: FakeClock) -> None:
    clock.advance(123_456)
    exp = await rt.start_experiment(
        "treatment",
        hypothesis="caching cuts latency",
        condition="cached",
        tags=["llm", "cache"],
        metadata={"owner": "ana", "sampling_rate": 1.0},
        sample_size=250,
        metrics_config={"latency": True},
        storage_backend="memory",
    )

    assert exp.name == "treatment"
    assert exp.hypothesis == "caching cuts latency"
    assert exp.condition == "cached"
    assert exp.tags == ("llm", "cache")
    assert type(exp.tags) is tuple
    assert exp.metadata == {"owner": "ana", "sampling_rate": 1.0}
    assert type(exp.metadata) is dict
    assert exp.sample_size == 250
    assert exp.metrics_config == {"latency": True}
    assert type(exp.metrics_config) is dict
    assert exp.storage_backend == "memory"
    assert exp.started_at == datetime(2025, 1, 1, 0, 0, 0, 123_456, tzinfo=UTC)
    assert exp.started_at.tzinfo is not None
    assert exp.started_at.utcoffset() == timedelta(0)


async def test_start_experiment_copies_caller_mappings(rt: Runtime) -> None:
    metadata = {"owner": "ana"}
    exp = await rt.start_experiment("copy", metadata=metadata)
    metadata["owner"] = "bob"

    assert (await rt.get_experiment(exp.id)).metadata == {"owner": "ana"}


async def test_experiment_ids_are_unique(rt: Runtime) -> None:
    experiments = [await rt.start_experiment(f"exp-{i}") for i in range(40)]
    ids = [exp.id for exp in experiments]

    assert len(set(ids)) == 40
    assert all(re.fullmatch(r"[0-9a-f]{16}", experiment_id) for experiment_id in ids)


@pytest.mark.parametrize("name", ["", None, 42, b"bytes", ("a", "b")])
async def test_start_experiment_rejects_empty_or_non_str_name(rt: Runtime, name: Any) -> None:
    with pytest.raises(ValueError, match="name"):
        await rt.start_experiment(name)

    assert await rt.list_experiments() == []


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"hypothesis": 3}, "hypothesis"),
        ({"condition": 1}, "condition"),
        ({"tags": "single"}, "tags"),
        ({"tags": ["ok", 7]}, "tags"),
        ({"metadata": ["a", "b"]}, "metadata"),
        ({"metrics_config": "fast"}, "metrics_config"),
        ({"sample_size": "100"}, "sample_size"),
        ({"events": "req_llm.request.stop"}, "events"),
    ],
)
async def test_start_experiment_rejects_bad_argument_types(
    rt: Runtime, kwargs: dict[str, Any], match: str
) -> None:
    with pytest.raises(TypeError, match=match):
        await rt.start_experiment("typed", **kwargs)

    assert await rt.list_experiments() == []


# ------------------------------------------------------------------ pause / resume


async def test_pause_sets_status_time_and_count(rt: Runtime, clock: FakeClock) -> None:
    exp = await rt.start_experiment("p")
    clock.advance(5_000_000)

    paused = await rt.pause_experiment(exp.id)

    assert paused.id == exp.id
    assert paused.status is ExperimentStatus.PAUSED
    assert paused.paused_at == at(5_000_000)
    assert paused.pause_count == 1
    assert paused.stopped_at is None
    assert await rt.get_experiment(exp.id) == paused


async def test_pause_twice_raises_already_paused(rt: Runtime) -> None:
    exp = await rt.start_experiment("p")
    first = await rt.pause_experiment(exp.id)

    with pytest.raises(AlreadyPausedError, match=rf"{exp.id}.*paused") as info:
        await rt.pause_experiment(exp.id)

    assert isinstance(info.value, InvalidTransitionError)
    assert await rt.get_experiment(exp.id) == first
    assert first.pause_count == 1


async def test_resume_restores_running_and_keeps_pause_count(
    rt: Runtime, clock: FakeClock
) -> None:
    exp = await rt.start_experiment("r")
    await rt.pause_experiment(exp.id)
    clock.advance(1_000_000)

    resumed = await rt.resume_experiment(exp.id)

    assert resumed.status is ExperimentStatus.RUNNING
    assert resumed.paused_at is None
    assert resumed.pause_count == 1
    assert resumed.stopped_at is None
    assert await rt.get_experiment(exp.id) == resumed


async def test_resume_when_running_raises_not_paused(rt: Runtime) -> None:
    exp = await rt.start_experiment("r")

    with pytest.raises(NotPausedError, match=rf"{exp.id}.*running") as info:
        await rt.resume_experiment(exp.id)

    assert isinstance(info.value, InvalidTransitionError)
    assert (await rt.get_experiment(exp.id)).status is ExperimentStatus.RUNNING


async def test_resume_when_stopped_raises_not_paused(rt: Runtime) -> None:
    exp = await rt.start_experiment("r")
    await rt.stop_experiment(exp.id)

    with pytest.raises(NotPausedError, match=rf"{exp.id}.*stopped"):
        await rt.resume_experiment(exp.id)


async def test_pause_when_stopped_raises_not_running(rt: Runtime) -> None:
    exp = await rt.start_experiment("s")
    stopped = await rt.stop_experiment(exp.id)

    with pytest.raises(NotRunningError, match=rf"{exp.id}.*stopped"):
        await rt.pause_experiment(exp.id)

    assert await rt.get_experiment(exp.id) == stopped


async def test_pause_when_archived_raises_not_running(rt: Runtime) -> None:
    exp = await rt.start_experiment("a")
    await rt.archive(exp.id)
    archived = await rt.get_experiment(exp.id)
    assert archived.status is ExperimentStatus.ARCHIVED

    with pytest.raises(NotRunningError, match=rf"{exp.id}.*archived"):
        await rt.pause_experiment(exp.id)

    assert await rt.get_experiment(exp.id) == archived


async def test_pause_resume_cycles_count_pauses(rt: Runtime, clock: FakeClock) -> None:
    exp = await rt.start_experiment("cycles")

    for cycle in range(1, 5):
        clock.advance(1_000)
        paused = await rt.pause_experiment(exp.id)
        assert paused.pause_count == cycle
        assert paused.paused_at == at(cycle * 2_000 - 1_000)
        clock.advance(1_000)
        resumed = await rt.resume_experiment(exp.id)
        assert resumed.pause_count == cycle
        assert resumed.paused_at is None

    final = await rt.get_experiment(exp.id)
    assert final.status is ExperimentStatus.RUNNING
    assert final.pause_count == 4


# ------------------------------------------------------------------ stop


async def test_stop_sets_status_and_time(rt: Runtime, clock: FakeClock) -> None:
    exp = await rt.start_experiment("s")
    clock.advance(7_000_000)

    stopped = await rt.stop_experiment(exp.id)

    assert stopped.status is ExperimentStatus.STOPPED
    assert stopped.stopped_at == at(7_000_000)
    assert stopped.paused_at is None
    assert stopped.started_at == BASE_DT
    assert await rt.get_experiment(exp.id) == stopped


async def test_stop_a_paused_experiment_clears_paused_at(rt: Runtime, clock: FakeClock) -> None:
    exp = await rt.start_experiment("s")
    clock.advance(1_000)
    await rt.pause_experiment(exp.id)
    clock.advance(1_000)

    stopped = await rt.stop_experiment(exp.id)

    assert stopped.status is ExperimentStatus.STOPPED
    assert stopped.paused_at is None
    assert stopped.stopped_at == at(2_000)
    assert stopped.pause_count == 1


async def test_stop_twice_changes_nothing(rt: Runtime, clock: FakeClock) -> None:
    exp = await rt.start_experiment("s")
    first = await rt.stop_experiment(exp.id)
    clock.advance(60_000_000)

    second = await rt.stop_experiment(exp.id)

    assert second == first
    assert second.stopped_at == BASE_DT
    assert await rt.get_experiment(exp.id) == first


async def test_stop_an_archived_experiment_changes_nothing(rt: Runtime, clock: FakeClock) -> None:
    exp = await rt.start_experiment("a")
    await rt.archive(exp.id)
    archived = await rt.get_experiment(exp.id)
    clock.advance(1_000_000)

    result = await rt.stop_experiment(exp.id)

    assert result == archived
    assert result.status is ExperimentStatus.ARCHIVED
    assert await rt.get_experiment(exp.id) == archived


# ------------------------------------------------------------------ lookups


async def test_is_paused(rt: Runtime) -> None:
    exp = await rt.start_experiment("p")
    assert await rt.is_paused(exp.id) is False

    await rt.pause_experiment(exp.id)
    assert await rt.is_paused(exp.id) is True

    await rt.resume_experiment(exp.id)
    assert await rt.is_paused(exp.id) is False

    await rt.pause_experiment(exp.id)
    await rt.stop_experiment(exp.id)
    assert await rt.is_paused(exp.id) is False


async def test_is_paused_is_false_for_unknown_ids(rt: Runtime) -> None:
    assert await rt.is_paused(UNKNOWN_ID) is False
    assert await rt.is_paused("") is False


async def test_get_experiment_returns_current_record(rt: Runtime) -> None:
    exp = await rt.start_experiment("g", tags=["x"])

    assert await rt.get_experiment(exp.id) == exp

    paused = await rt.pause_experiment(exp.id)
    assert await rt.get_experiment(exp.id) == paused


async def test_list_experiments_in_start_order(rt: Runtime, clock: FakeClock) -> None:
    assert await rt.list_experiments() == []
    started = []
    for name in ["zeta", "alpha", "mid"]:
        clock.advance(1)
        started.append(await rt.start_experiment(name))
    await rt.pause_experiment(started[1].id)

    listed = await rt.list_experiments()

    assert [exp.name for exp in listed] == ["zeta", "alpha", "mid"]
    assert [exp.id for exp in listed] == [exp.id for exp in started]
    assert [exp.status for exp in listed] == [
        ExperimentStatus.RUNNING,
        ExperimentStatus.PAUSED,
        ExperimentStatus.RUNNING,
    ]


async def test_cleanup_forgets_the_experiment(rt: Runtime) -> None:
    keep = await rt.start_experiment("keep")
    gone = await rt.start_experiment("gone")
    await rt.insert(gone.id, {"timestamp": BASE_US})

    assert await rt.cleanup(gone.id) is None

    with pytest.raises(ExperimentNotFoundError, match=gone.id) as info:
        await rt.get_experiment(gone.id)
    assert isinstance(info.value, LookupError)
    with pytest.raises(ExperimentNotFoundError, match=gone.id):
        await rt.get_all(gone.id)
    assert [exp.id for exp in await rt.list_experiments()] == [keep.id]
    assert await rt.is_paused(gone.id) is False


async def test_cleanup_of_unknown_id_is_a_noop(rt: Runtime) -> None:
    exp = await rt.start_experiment("keep")

    assert await rt.cleanup(UNKNOWN_ID) is None
    assert await rt.cleanup(exp.id) is None
    assert await rt.cleanup(exp.id) is None

    assert await rt.list_experiments() == []


# ------------------------------------------------------------------ unknown ids

UnknownCall = Callable[[Runtime, str], Awaitable[Any]]

UNKNOWN_ID_CALLS: dict[str, UnknownCall] = {
    "get_experiment": lambda rt, i: rt.get_experiment(i),
    "get_all": lambda rt, i: rt.get_all(i),
    "query": lambda rt, i: rt.query(i),
    "query_filtered": lambda rt, i: rt.query(i, event_name="a.b", success=True),
    "query_window": lambda rt, i: rt.query_window(i, LastN(5)),
    "windowed_metrics": lambda rt, i: rt.windowed_metrics(i, 1_000, 1_000),
    "streaming_metrics": lambda rt, i: rt.streaming_metrics(i),
    "reset_streaming_metrics": lambda rt, i: rt.reset_streaming_metrics(i),
    "calculate_metrics": lambda rt, i: rt.calculate_metrics(i),
    "export_csv": lambda rt, i: rt.export(i, "csv"),
    "export_jsonl": lambda rt, i: rt.export(i, "jsonl"),
    "archive": lambda rt, i: rt.archive(i),
    "insert": lambda rt, i: rt.insert(i, {"timestamp": BASE_US}),
    "pause_experiment": lambda rt, i: rt.pause_experiment(i),
    "resume_experiment": lambda rt, i: rt.resume_experiment(i),
    "stop_experiment": lambda rt, i: rt.stop_experiment(i),
}


@pytest.mark.parametrize("call", UNKNOWN_ID_CALLS.values(), ids=UNKNOWN_ID_CALLS.keys())
async def test_unknown_id_raises_experiment_not_found(rt: Runtime, call: UnknownCall) -> None:
    await rt.start_experiment("other")

    with pytest.raises(ExperimentNotFoundError, match=UNKNOWN_ID) as info:
        await call(rt, UNKNOWN_ID)

    assert isinstance(info.value, LookupError)
    assert isinstance(info.value, TelemetryActorsError)


async def test_unknown_id_in_compare_experiments_raises(rt: Runtime) -> None:
    exp = await rt.start_experiment("known")

    with pytest.raises(ExperimentNotFoundError, match=UNKNOWN_ID):
        await rt.compare_experiments([exp.id, UNKNOWN_ID])


async def test_export_of_empty_experiment_raises_no_events(rt: Runtime) -> None:
    exp = await rt.start_experiment("empty")

    with pytest.raises(NoEventsError, match=exp.id):
        await rt.export(exp.id, "csv")


# ------------------------------------------------------------------ types


@pytest.mark.parametrize(
    "error",
    [
        ExperimentNotFoundError,
        InvalidTransitionError,
        AlreadyPausedError,
        NotRunningError,
        NotPausedError,
        NoEventsError,
        RuntimeClosedError,
    ],
)
def test_every_error_derives_from_the_base(error: type[Exception]) -> None:
    assert issubclass(error, TelemetryActorsError)
    assert issubclass(TelemetryActorsError, Exception)


@pytest.mark.parametrize("error", [AlreadyPausedError, NotRunningError, NotPausedError])
def test_transition_errors_derive_from_invalid_transition(error: type[Exception]) -> None:
    assert issubclass(error, InvalidTransitionError)


def test_experiment_not_found_is_a_lookup_error() -> None:
    assert issubclass(ExperimentNotFoundError, LookupError)
    assert not issubclass(InvalidTransitionError, LookupError)


def test_experiment_status_is_a_str_enum() -> None:
    assert issubclass(ExperimentStatus, str)
    assert issubclass(ExperimentStatus, enum.Enum)
    assert {status.name: status.value for status in ExperimentStatus} == {
        "RUNNING": "running",
        "PAUSED": "paused",
        "STOPPED": "stopped",
        "ARCHIVED": "archived",
        "FAILED": "failed",
    }
    assert ExperimentStatus("paused") is ExperimentStatus.PAUSED
    assert ExperimentStatus.FAILED == "failed"


async def test_experiment_is_a_struct_that_converts_to_builtins(
    rt: Runtime, clock: FakeClock
) -> None:
    exp = await rt.start_experiment(
        "b", hypothesis="h", tags=["t1"], metadata={"k": [1, 2]}, sample_size=3
    )
    clock.advance(2_000_000)
    paused = await rt.pause_experiment(exp.id)

    assert isinstance(paused, msgspec.Struct)
    data = msgspec.to_builtins(paused)

    assert type(data) is dict
    assert data["id"] == exp.id
    assert data["name"] == "b"
    assert data["hypothesis"] == "h"
    assert data["condition"] == "default"
    assert list(data["tags"]) == ["t1"]
    assert data["metadata"] == {"k": [1, 2]}
    assert data["status"] == "paused"
    assert data["sample_size"] == 3
    assert data["metrics_config"] == {}
    assert data["storage_backend"] == "memory"
    assert data["pause_count"] == 1
    assert data["restarts"] == 0
    assert data["stopped_at"] is None
    assert datetime.fromisoformat(data["started_at"]) == BASE_DT
    assert datetime.fromisoformat(data["paused_at"]) == at(2_000_000)
    assert msgspec.json.decode(msgspec.json.encode(paused), type=Experiment) == paused
