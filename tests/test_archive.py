"""Archives: writing an experiment as JSON Lines and loading it back."""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from telemetry_actors import Event, Experiment, ExperimentStatus, Runtime, emit
from tests.conftest import BASE_US, FakeClock


def read_lines(path: Path) -> list[dict[str, Any]]:
    text = path.read_bytes().decode("utf-8")
    assert text.endswith("\n")
    return [json.loads(line) for line in text.split("\n")[:-1]]


def as_json(value: Event) -> Any:
    """An event as the JSON builtins it should be written as (tuples as lists)."""
    return json.loads(msgspec.json.encode(value))


def same_experiment(loaded: Experiment, original: Experiment) -> None:
    assert loaded.id == original.id
    assert loaded.status is ExperimentStatus.ARCHIVED
    assert loaded.name == original.name
    assert loaded.hypothesis == original.hypothesis
    assert loaded.condition == original.condition
    assert loaded.tags == original.tags
    assert loaded.metadata == original.metadata
    assert loaded.started_at == original.started_at
    assert loaded.sample_size == original.sample_size
    assert loaded.metrics_config == original.metrics_config


async def populated_experiment(rt: Runtime, clock: FakeClock) -> str:
    """An experiment whose events hold only JSON values, emitted and inserted."""
    experiment = await rt.start_experiment(
        "archive-me",
        hypothesis="cheaper is as good",
        condition="treatment",
        tags=("a", "b"),
        metadata={"owner": "lab", "nested": {"k": [1, 2.5, None, True]}},
        sample_size=100,
        metrics_config={"p": 0.95},
    )
    clock.advance(1_000)
    emit(
        "req_llm.request.stop",
        {"duration": 2_500_000},
        {
            "model": "gpt-4",
            "provider": "openai",
            "tokens": {"prompt": 100, "completion": 50},
            "response": "hi",
            "session_id": "s1",
            "list": ["x", 1, 2.25, False, None, {"deep": []}],
            "unicode": "日本 ✓ \x00",
            "big": 2**70,
            "neg_zero": -0.0,
        },
    )
    clock.advance(1_000)
    emit("req_llm.request.exception", {"duration": 7_000_000}, {"error": "boom", "cost": 0.5})
    emit("req_llm.request.stop", {"duration": 1_000_000}, {"model": "claude-3-opus"})
    await rt.flush()
    # Equal and out-of-order time stamps: ties must keep their arrival order.
    await rt.insert(experiment.id, {"timestamp": BASE_US + 1_500, "metadata": {"tie": 1}})
    await rt.insert(experiment.id, {"timestamp": BASE_US + 1_500, "metadata": {"tie": 2}})
    await rt.insert(
        experiment.id,
        {"timestamp": BASE_US, "event_name": ("x", "y"), "latency_ms": 3.0, "success": True},
    )
    return experiment.id


# --------------------------------------------------------------- the file


async def test_archive_file_layout(rt: Runtime, clock: FakeClock) -> None:
    experiment_id = await populated_experiment(rt, clock)
    events = await rt.get_all(experiment_id)
    assert len(events) == 6

    path = await rt.archive(experiment_id)

    assert isinstance(path, Path)
    lines = read_lines(path)
    assert len(lines) == 1 + len(events)
    head = lines[0]
    assert set(head) == {"type", "data"}
    assert head["type"] == "experiment_metadata"
    assert head["data"]["id"] == experiment_id
    assert head["data"]["name"] == "archive-me"
    assert head["data"]["hypothesis"] == "cheaper is as good"
    assert head["data"]["metadata"] == {"owner": "lab", "nested": {"k": [1, 2.5, None, True]}}
    for line, event in zip(lines[1:], events, strict=True):
        assert set(line) == {"type", "data"}
        assert line["type"] == "event"
        assert line["data"] == as_json(event)


async def test_archive_explicit_path(rt: Runtime, clock: FakeClock, tmp_path: Path) -> None:
    experiment_id = await populated_experiment(rt, clock)
    target = tmp_path / "a" / "b" / "arch.jsonl"

    path = await rt.archive(experiment_id, path=target)

    assert path == target
    assert [line["type"] for line in read_lines(target)] == ["experiment_metadata"] + ["event"] * 6


async def test_archive_sets_status_and_stops_collecting(rt: Runtime, clock: FakeClock) -> None:
    experiment_id = await populated_experiment(rt, clock)
    before = await rt.get_all(experiment_id)
    counts_before = (await rt.streaming_metrics(experiment_id)).event_counts

    await rt.archive(experiment_id)

    archived = await rt.get_experiment(experiment_id)
    assert archived.status is ExperimentStatus.ARCHIVED
    emit("req_llm.request.stop", {"duration": 1_000_000})
    await rt.flush()
    assert await rt.get_all(experiment_id) == before
    assert (await rt.streaming_metrics(experiment_id)).event_counts == counts_before


async def test_archive_written_in_get_all_order(rt: Runtime) -> None:
    experiment = await rt.start_experiment("order")
    ids = []
    for index, offset in enumerate([5, 1, 5, 3, 1, 5, 0]):
        event = await rt.insert(
            experiment.id, {"timestamp": BASE_US + offset, "metadata": {"i": index}}
        )
        ids.append(event.event_id)
    expected = [ids[i] for i in (6, 1, 4, 3, 0, 2, 5)]
    assert [event.event_id for event in await rt.get_all(experiment.id)] == expected

    path = await rt.archive(experiment.id)

    assert [line["data"]["event_id"] for line in read_lines(path)[1:]] == expected


# --------------------------------------------------------------- loading


async def test_round_trip_into_second_runtime(
    rt: Runtime, clock: FakeClock, tmp_path: Path
) -> None:
    experiment_id = await populated_experiment(rt, clock)
    path = await rt.archive(experiment_id)
    original = await rt.get_experiment(experiment_id)
    events = await rt.get_all(experiment_id)
    metrics = await rt.calculate_metrics(experiment_id)

    async with Runtime(clock=clock, export_dir=tmp_path / "other") as second:
        loaded = await second.load_archive(path)

        same_experiment(loaded, original)
        assert await second.list_experiments() == [loaded]
        assert (await second.get_experiment(experiment_id)).status is ExperimentStatus.ARCHIVED
        assert await second.get_all(experiment_id) == events
        assert repr(msgspec.to_builtins(await second.get_all(experiment_id))) == repr(
            msgspec.to_builtins(events)
        )
        assert await second.calculate_metrics(experiment_id) == metrics
        # An archived experiment collects nothing.
        emit("req_llm.request.stop", {"duration": 1_000_000})
        await second.flush()
        assert await second.get_all(experiment_id) == events


@pytest.mark.parametrize(("read_batch", "load_chunk"), [(7, 20), (7, 3), (64, 64)])
async def test_round_trip_in_many_batches_and_chunks(
    rt: Runtime,
    clock: FakeClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    read_batch: int,
    load_chunk: int,
) -> None:
    """Rows read in batches and joined into chunks keep their order, names and models."""
    from telemetry_actors import _runtime_files

    monkeypatch.setattr(_runtime_files, "READ_BATCH", read_batch)
    monkeypatch.setattr(_runtime_files, "LOAD_CHUNK", load_chunk)
    experiment = await rt.start_experiment("many", events=["app.*"])
    models = ["gpt-4", None, "claude-3-sonnet", ["not", "hashable"], "gpt-4o"]
    for i in range(101):
        clock.advance(1_000 * (i % 3))
        emit(
            ("app", "call", str(i % 4)),
            {"duration": 1_000_000 + i},
            {"model": models[i % 5], "provider": ("openai", None)[i % 2], "i": i},
        )
    await rt.flush()
    path = await rt.archive(experiment.id)
    events = await rt.get_all(experiment.id)
    metrics = await rt.calculate_metrics(experiment.id)
    assert len(events) == 101

    async with Runtime(clock=clock, export_dir=tmp_path / "other") as second:
        await second.load_archive(path)
        loaded = await second.get_all(experiment.id)
        assert [event.metadata["i"] for event in loaded] == [e.metadata["i"] for e in events]
        assert loaded == events
        assert await second.calculate_metrics(experiment.id) == metrics
        assert await second.query(experiment.id, model="gpt-4o") == [
            event for event in events if event.model == "gpt-4o"
        ]
        assert await second.breakdown(experiment.id, by="event_name") == await rt.breakdown(
            experiment.id, by="event_name"
        )


async def test_round_trip_of_experiment_without_events(
    rt: Runtime, clock: FakeClock, tmp_path: Path
) -> None:
    experiment = await rt.start_experiment("nothing yet")
    path = await rt.archive(experiment.id)
    assert [line["type"] for line in read_lines(path)] == ["experiment_metadata"]

    async with Runtime(clock=clock, export_dir=tmp_path / "other") as second:
        loaded = await second.load_archive(path)
        same_experiment(loaded, experiment)
        assert await second.get_all(experiment.id) == []


async def test_non_json_values_come_back_as_str(
    rt: Runtime, clock: FakeClock, tmp_path: Path
) -> None:
    experiment = await rt.start_experiment(
        "odd", events=["app.*"], metadata={"blob": b"\x01", "ok": 1}
    )
    emit(
        "app.x",
        {"duration": math.nan, "fine": 2},
        {"blob": b"\x00ab", "nan": math.nan, "set": {7}, "inf": -math.inf, "keep": [1, "a"]},
    )
    await rt.flush()
    (original,) = await rt.get_all(experiment.id)
    path = await rt.archive(experiment.id)

    async with Runtime(clock=clock, export_dir=tmp_path / "other") as second:
        loaded = await second.load_archive(path)
        (event,) = await second.get_all(experiment.id)

    assert loaded.id == experiment.id
    assert loaded.status is ExperimentStatus.ARCHIVED
    assert loaded.metadata == {"blob": str(b"\x01"), "ok": 1}
    assert event.metadata == {
        "blob": str(b"\x00ab"),
        "nan": "nan",
        "set": "{7}",
        "inf": "-inf",
        "keep": [1, "a"],
    }
    assert event.measurements == {"duration": "nan", "fine": 2}
    assert event.latency_ms is None
    assert event.event_id == original.event_id
    assert event.event_name == ("app", "x")
    assert event.timestamp == original.timestamp


async def test_loading_a_present_id_raises_until_cleanup(rt: Runtime, clock: FakeClock) -> None:
    experiment_id = await populated_experiment(rt, clock)
    path = await rt.archive(experiment_id)
    events = await rt.get_all(experiment_id)
    before = await rt.list_experiments()

    with pytest.raises(ValueError, match=experiment_id):
        await rt.load_archive(path)

    assert await rt.list_experiments() == before
    assert await rt.get_all(experiment_id) == events

    await rt.cleanup(experiment_id)
    assert await rt.list_experiments() == []
    loaded = await rt.load_archive(path)
    assert loaded.id == experiment_id
    assert loaded.status is ExperimentStatus.ARCHIVED
    assert await rt.get_all(experiment_id) == events
    assert [experiment.id for experiment in await rt.list_experiments()] == [experiment_id]


# --------------------------------------------------------------- malformed files


def _lines(content: bytes) -> list[bytes]:
    return content.split(b"\n")[:-1]


def _join(lines: list[bytes]) -> bytes:
    return b"".join(line + b"\n" for line in lines)


def _edit_event(number: int, change: Callable[[dict[str, Any]], None]) -> Callable[[bytes], bytes]:
    def mutate(content: bytes) -> bytes:
        lines = _lines(content)
        record = json.loads(lines[number - 1])
        change(record)
        lines[number - 1] = json.dumps(record).encode()
        return _join(lines)

    return mutate


def _empty(content: bytes) -> bytes:
    return b""


def _only_newline(content: bytes) -> bytes:
    return b"\n"


def _event_first(content: bytes) -> bytes:
    lines = _lines(content)
    return _join([lines[1], lines[0], *lines[2:]])


def _metadata_dropped(content: bytes) -> bytes:
    return _join(_lines(content)[1:])


def _non_json_line_3(content: bytes) -> bytes:
    lines = _lines(content)
    lines[2] = b"this is {not json"
    return _join(lines)


def _bad_lines_3_and_5(content: bytes) -> bytes:
    lines = _lines(content)
    lines[2] = b"{"
    lines[4] = b"nope"
    return _join(lines)


def _truncated_last_line(content: bytes) -> bytes:
    lines = _lines(content)
    lines[-1] = lines[-1][: len(lines[-1]) // 2]
    return b"\n".join(lines)


def _blank_line_2(content: bytes) -> bytes:
    lines = _lines(content)
    return _join([lines[0], b"", *lines[1:]])


def _missing_timestamp(record: dict[str, Any]) -> None:
    del record["data"]["timestamp"]


def _missing_event_id(record: dict[str, Any]) -> None:
    del record["data"]["event_id"]


def _wrong_type(record: dict[str, Any]) -> None:
    record["type"] = "evnt"


def _metadata_type_on_event(record: dict[str, Any]) -> None:
    record["type"] = "experiment_metadata"


def _no_type(record: dict[str, Any]) -> None:
    del record["type"]


def _empty_event_name(record: dict[str, Any]) -> None:
    record["data"]["event_name"] = []


def _empty_event_name_part(record: dict[str, Any]) -> None:
    record["data"]["event_name"] = ["req_llm", ""]


def _timestamp_beyond_int64(record: dict[str, Any]) -> None:
    record["data"]["timestamp"] = 2**70


def _string_timestamp(record: dict[str, Any]) -> None:
    record["data"]["timestamp"] = "yesterday"


def _metadata_without_id(record: dict[str, Any]) -> None:
    del record["data"]["id"]


def _metadata_typed_event(record: dict[str, Any]) -> None:
    record["type"] = "event"


def _foreign_json(content: bytes) -> bytes:
    return json.dumps({"name": "x", "values": [1, 2, 3]}, indent=2).encode() + b"\n"


def _foreign_json_one_line(content: bytes) -> bytes:
    return b'{"name": "x", "values": [1, 2, 3]}\n[1, 2]\n'


def _json_array(content: bytes) -> bytes:
    return b"[1, 2, 3]\n"


def _binary(content: bytes) -> bytes:
    return bytes(range(256)) * 8


def _utf16(content: bytes) -> bytes:
    return content.decode("utf-8").encode("utf-16")


MALFORMED: list[tuple[str, Callable[[bytes], bytes], int]] = [
    ("empty file", _empty, 1),
    ("only a newline", _only_newline, 1),
    ("first line is an event", _event_first, 1),
    ("no metadata line", _metadata_dropped, 1),
    ("metadata line without id", _edit_event(1, _metadata_without_id), 1),
    ("metadata line typed event", _edit_event(1, _metadata_typed_event), 1),
    ("non-JSON line 3", _non_json_line_3, 3),
    ("first of two bad lines", _bad_lines_3_and_5, 3),
    ("truncated last line", _truncated_last_line, 7),
    ("blank line 2", _blank_line_2, 2),
    ("event without timestamp", _edit_event(2, _missing_timestamp), 2),
    ("event without event_id", _edit_event(4, _missing_event_id), 4),
    ("event with string timestamp", _edit_event(5, _string_timestamp), 5),
    ("event with a timestamp beyond int64", _edit_event(6, _timestamp_beyond_int64), 6),
    ("unknown line type", _edit_event(3, _wrong_type), 3),
    ("metadata type on an event line", _edit_event(6, _metadata_type_on_event), 6),
    ("event line without type", _edit_event(2, _no_type), 2),
    ("metadata line without type", _edit_event(1, _no_type), 1),
    ("empty event name", _edit_event(2, _empty_event_name), 2),
    ("empty event name part", _edit_event(3, _empty_event_name_part), 3),
    ("foreign JSON file", _foreign_json, 1),
    ("foreign JSON lines", _foreign_json_one_line, 1),
    ("JSON array", _json_array, 1),
    ("binary file", _binary, 1),
    ("UTF-16 file", _utf16, 1),
]


@pytest.mark.parametrize(
    ("mutate", "bad_line"),
    [pytest.param(mutate, line, id=label) for label, mutate, line in MALFORMED],
)
async def test_malformed_archive_is_rejected_whole(
    rt: Runtime,
    clock: FakeClock,
    tmp_path: Path,
    mutate: Callable[[bytes], bytes],
    bad_line: int,
) -> None:
    experiment_id = await populated_experiment(rt, clock)
    good = await rt.archive(experiment_id)
    content = good.read_bytes()
    assert len(_lines(content)) == 7
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(mutate(content))

    async with Runtime(clock=clock, export_dir=tmp_path / "other") as second:
        with pytest.raises(ValueError, match=rf"\bline {bad_line}\b"):
            await second.load_archive(bad)
        assert await second.list_experiments() == []
        # The good archive still loads: nothing half-registered blocks it.
        loaded = await second.load_archive(good)
        assert loaded.id == experiment_id
        assert await second.get_all(experiment_id) == await rt.get_all(experiment_id)

    # The source runtime is untouched too.
    assert [experiment.id for experiment in await rt.list_experiments()] == [experiment_id]


# --------------------------------------------------------------- property

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=12,
)
json_objects = st.dictionaries(st.text(), json_values, max_size=4)
event_specs = st.lists(
    st.fixed_dictionaries(
        {
            "timestamp": st.integers(min_value=0, max_value=20).map(lambda n: BASE_US + n),
            "event_name": st.sampled_from(
                [("req_llm", "request", "stop"), ("a",), ("x.y", "z"), ("日本", "✓")]
            ),
            "metadata": json_objects,
            "measurements": json_objects,
            # Bounded: calculate_metrics overflows on latencies near 1e154 (reported apart).
            "latency_ms": st.none() | st.floats(min_value=-1e9, max_value=1e9),
            "cost_usd": st.none() | st.floats(min_value=0, max_value=1e6),
            "success": st.none() | st.booleans(),
            "session_id": json_values,
            "cohort": json_values,
        }
    ),
    min_size=1,
    max_size=6,
)


async def _round_trip(
    specs: list[dict[str, Any]], experiment_metadata: dict[str, Any], folder: Path
) -> None:
    clock = FakeClock()
    async with Runtime(clock=clock, export_dir=folder / "first") as first:
        experiment = await first.start_experiment("prop", metadata=experiment_metadata)
        for spec in specs:
            await first.insert(experiment.id, spec)
        events = await first.get_all(experiment.id)
        metrics = await first.calculate_metrics(experiment.id)
        path = await first.archive(experiment.id)
    async with Runtime(clock=clock, export_dir=folder / "second") as second:
        loaded = await second.load_archive(path)
        assert loaded.id == experiment.id
        assert loaded.status is ExperimentStatus.ARCHIVED
        assert loaded.metadata == experiment_metadata
        loaded_events = await second.get_all(experiment.id)
        assert loaded_events == events
        # == treats 1, 1.0 and True alike; repr does not.
        assert repr(msgspec.to_builtins(loaded_events)) == repr(msgspec.to_builtins(events))
        assert await second.calculate_metrics(experiment.id) == metrics


@settings(max_examples=25, deadline=None)
@given(specs=event_specs, experiment_metadata=json_objects)
def test_json_values_round_trip_exactly(
    specs: list[dict[str, Any]], experiment_metadata: dict[str, Any]
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        anyio.run(_round_trip, specs, experiment_metadata, Path(folder))
