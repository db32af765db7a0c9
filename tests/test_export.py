"""Export of events as CSV and JSON Lines (contract section "Export and archive")."""

from __future__ import annotations

import csv
import io
import json
import math
import re
from pathlib import Path
from typing import Any

import msgspec
import pytest

from telemetry_actors import (
    Event,
    ExperimentNotFoundError,
    NoEventsError,
    Runtime,
    TelemetryActorsError,
    emit,
)
from tests.conftest import BASE_US, FakeClock

BASE_SECONDS = BASE_US // 1_000_000
SAFE_FILE_NAME = re.compile(r"[A-Za-z0-9._-]+")
FORMATS = ("csv", "jsonl")

BASE_COLUMNS = {
    "event_id",
    "experiment_id",
    "experiment_name",
    "condition",
    "timestamp",
    "datetime",
    "event_name",
    "latency_ms",
    "cost_usd",
    "success",
    "model",
    "provider",
    "sample_id",
    "session_id",
    "cohort",
    "sampling_weight",  # version 2: a column of every export
    "tags",  # the experiment's tags, joined with ","
}


class Custom:
    """A caller's object that neither JSON nor CSV knows."""

    def __str__(self) -> str:
        return "custom!"


class Unprintable:
    """An object whose ``__str__`` itself fails."""

    def __str__(self) -> str:
        raise RuntimeError("no str for you")


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """Header and rows of a CSV file, parsed with the csv module as UTF-8."""
    text = path.read_bytes().decode("utf-8")
    header = next(csv.reader(io.StringIO(text, newline="")))
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    return header, rows


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """One parsed JSON object per line."""
    text = path.read_bytes().decode("utf-8")
    assert text.endswith("\n")
    return [json.loads(line) for line in text.split("\n")[:-1]]


def listing(folder: Path) -> list[str]:
    """Sorted names in ``folder``."""
    return sorted(path.name for path in folder.iterdir())


def as_json(event: Event) -> Any:
    """An event as the JSON builtins it should export to (tuples as lists)."""
    return json.loads(msgspec.json.encode(event))


def exported_ids(path: Path, fmt: str) -> list[str]:
    """The event ids of an export, in file order."""
    if fmt == "csv":
        return [row["event_id"] for row in read_csv(path)[1]]
    return [record["event_id"] for record in read_jsonl(path)]


async def one_event_experiment(rt: Runtime, name: str = "baseline") -> str:
    experiment = await rt.start_experiment(name)
    await rt.insert(experiment.id, {"timestamp": BASE_US, "event_name": "app.ping"})
    return experiment.id


# --------------------------------------------------------------- call surface


@pytest.mark.parametrize("fmt", FORMATS)
async def test_default_path_uses_safe_name_and_clock_seconds(
    rt: Runtime, clock: FakeClock, tmp_path: Path, fmt: str
) -> None:
    experiment_id = await one_event_experiment(rt)
    export_dir = tmp_path / "exports"
    assert not export_dir.exists()
    clock.advance(3_999_999)  # 3.999999 s later: still second BASE + 3

    path = await rt.export(experiment_id, fmt)

    assert isinstance(path, Path)
    assert path == export_dir / f"baseline_{BASE_SECONDS + 3}.{fmt}"
    assert path.is_file()
    assert exported_ids(path, fmt) == [event.event_id for event in await rt.get_all(experiment_id)]


@pytest.mark.parametrize("fmt", ["xml", "CSV", "json", "", "jsonl ", "tsv"])
async def test_unknown_format_raises_value_error(rt: Runtime, tmp_path: Path, fmt: str) -> None:
    experiment_id = await one_event_experiment(rt)
    with pytest.raises(ValueError, match="format"):
        await rt.export(experiment_id, fmt)
    with pytest.raises(ValueError, match="format"):
        await rt.export_multiple([experiment_id], fmt)
    assert not (tmp_path / "exports").exists()


@pytest.mark.parametrize("fmt", FORMATS)
async def test_experiment_without_events_raises_no_events(
    rt: Runtime, tmp_path: Path, fmt: str
) -> None:
    experiment = await rt.start_experiment("empty")
    with pytest.raises(NoEventsError) as caught:
        await rt.export(experiment.id, fmt)
    assert isinstance(caught.value, TelemetryActorsError)
    assert not (tmp_path / "exports").exists() or listing(tmp_path / "exports") == []


async def test_unknown_id_raises_not_found(rt: Runtime) -> None:
    with pytest.raises(ExperimentNotFoundError):
        await rt.export("0123456789abcdef", "csv")


HOSTILE_NAMES = [
    "../../escape",
    "..",
    ".",
    "...",
    "/etc/passwd",
    "a/b/c",
    "..\\..\\windows\\escape",
    "\\\\server\\share",
    "C:\\temp\\x",
    "nul\x00byte",
    "ctl\x01\x1f\x7f\n\r\tchars",
    "with  spaces ",
    "ünïcødé 日本語 🚀",
    "~",
    "-rf",
    "..%2f..%2fencoded",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
@pytest.mark.parametrize("fmt", FORMATS)
async def test_hostile_names_stay_inside_export_dir(
    rt: Runtime, tmp_path: Path, name: str, fmt: str
) -> None:
    experiment_id = await one_event_experiment(rt, name)

    path = await rt.export(experiment_id, fmt)

    export_dir = (tmp_path / "exports").resolve()
    resolved = path.resolve()
    assert resolved.parent == export_dir
    assert resolved.is_file()
    assert SAFE_FILE_NAME.fullmatch(path.name), path.name
    assert path.name not in (".", "..")
    assert path.name.endswith(f"_{BASE_SECONDS}.{fmt}")
    # Nothing was written anywhere else under tmp_path.
    assert listing(tmp_path) == ["exports"]
    assert listing(export_dir) == [path.name]
    assert exported_ids(path, fmt) == [event.event_id for event in await rt.get_all(experiment_id)]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("as_str", [False, True])
async def test_explicit_path_is_used_as_given(
    rt: Runtime, tmp_path: Path, fmt: str, as_str: bool
) -> None:
    experiment_id = await one_event_experiment(rt)
    target = tmp_path / "somewhere" / "deeper" / f"my export.{fmt}"

    path = await rt.export(experiment_id, fmt, path=str(target) if as_str else target)

    assert isinstance(path, Path)
    assert path == target
    assert target.is_file()
    assert exported_ids(target, fmt) == [e.event_id for e in await rt.get_all(experiment_id)]


@pytest.mark.parametrize("fmt", FORMATS)
async def test_exports_in_the_same_second_do_not_overwrite(
    rt: Runtime, clock: FakeClock, fmt: str
) -> None:
    experiment_id = await one_event_experiment(rt)
    first = await rt.export(experiment_id, fmt)
    first_content = first.read_bytes()
    await rt.insert(experiment_id, {"timestamp": BASE_US + 1, "event_name": "app.pong"})
    clock.advance(999_999)  # same unix second

    second = await rt.export(experiment_id, fmt)
    third = await rt.export(experiment_id, fmt)

    assert len({first, second, third}) == 3
    assert first.read_bytes() == first_content
    assert len(exported_ids(first, fmt)) == 1
    assert len(exported_ids(second, fmt)) == 2
    assert len(exported_ids(third, fmt)) == 2
    for path in (first, second, third):
        assert path.parent == first.parent
        assert SAFE_FILE_NAME.fullmatch(path.name), path.name


# ------------------------------------------------------------------------ CSV


async def rich_experiment(rt: Runtime, clock: FakeClock) -> str:
    """An experiment with three emitted events of varied content."""
    experiment = await rt.start_experiment("rich", condition="treatment", events=["app.*"])
    clock.advance(123_456)
    emit(
        "app.llm.stop",
        {"duration": 2_500_000},
        {
            "model": "gpt-4",
            "provider": "openai",
            "sample_id": "s-1",
            "session_id": "sess-1",
            "cohort": "A",
            "cost": 0.25,
            "response": "ok",
            "tokens": {"prompt": 10, "completion": 5},
            "labels": ["x", "y", "z"],
            "deep": {"x": {"y": 1}},
            "nothing": None,
        },
    )
    clock.advance(1_000_000)
    emit("app.llm.exception", {"duration": 1_000_000}, {"error": "boom", "only_second": 7})
    clock.advance(1)
    emit("app.other", None, {"text": 'comma, "quote" and\nnewline', "uni": "日本 ✓"})
    await rt.flush()
    return experiment.id


async def test_csv_base_columns_and_values(rt: Runtime, clock: FakeClock) -> None:
    experiment_id = await rich_experiment(rt, clock)
    events = await rt.get_all(experiment_id)

    header, rows = read_csv(await rt.export(experiment_id, "csv"))

    assert header == sorted(header)
    assert BASE_COLUMNS <= set(header)
    assert len(rows) == 3
    first, second, third = rows
    assert first["event_id"] == events[0].event_id
    assert first["experiment_id"] == experiment_id
    assert first["experiment_name"] == "rich"
    assert first["condition"] == "treatment"
    assert first["timestamp"] == str(BASE_US + 123_456)
    assert first["datetime"] == "2025-01-01T00:00:00.123456+00:00"
    assert first["event_name"] == "app.llm.stop"
    assert float(first["latency_ms"]) == 2.5
    assert float(first["cost_usd"]) == 0.25
    assert first["success"] == "true"
    assert first["model"] == "gpt-4"
    assert first["provider"] == "openai"
    assert first["sample_id"] == "s-1"
    assert first["session_id"] == "sess-1"
    assert first["cohort"] == "A"

    assert second["datetime"] == "2025-01-01T00:00:01.123456+00:00"
    assert second["event_name"] == "app.llm.exception"
    assert float(second["latency_ms"]) == 1.0
    assert second["success"] == "false"
    for column in ("cost_usd", "model", "provider", "sample_id", "session_id", "cohort"):
        assert second[column] == "", column

    assert third["datetime"] == "2025-01-01T00:00:01.123457+00:00"
    assert third["latency_ms"] == ""
    assert third["success"] == ""


async def test_csv_datetime_always_has_microseconds(rt: Runtime) -> None:
    experiment = await rt.start_experiment("whole-second")
    await rt.insert(experiment.id, {"timestamp": BASE_US})
    await rt.insert(experiment.id, {"timestamp": 0})

    _, rows = read_csv(await rt.export(experiment.id, "csv"))

    assert [row["datetime"] for row in rows] == [
        "1970-01-01T00:00:00.000000+00:00",
        "2025-01-01T00:00:00.000000+00:00",
    ]


async def test_csv_flattened_columns(rt: Runtime, clock: FakeClock) -> None:
    experiment_id = await rich_experiment(rt, clock)

    header, rows = read_csv(await rt.export(experiment_id, "csv"))

    expected_extra = {
        "metadata_model",
        "metadata_provider",
        "metadata_sample_id",
        "metadata_session_id",
        "metadata_cohort",
        "metadata_cost",
        "metadata_response",
        "metadata_tokens_prompt",
        "metadata_tokens_completion",
        "metadata_labels",
        "metadata_deep_x_y",
        "metadata_nothing",
        "metadata_error",
        "metadata_only_second",
        "metadata_text",
        "metadata_uni",
        "measurement_duration",
    }
    assert header == sorted(BASE_COLUMNS | expected_extra)
    first, second, third = rows
    assert first["metadata_tokens_prompt"] == "10"
    assert first["metadata_tokens_completion"] == "5"
    assert first["metadata_labels"] == "x,y,z"
    assert first["metadata_deep_x_y"] == "1"
    assert first["metadata_nothing"] == ""
    assert first["measurement_duration"] == "2500000"
    # Columns another row has are empty cells here.
    assert first["metadata_only_second"] == ""
    assert first["metadata_text"] == ""
    assert second["metadata_only_second"] == "7"
    assert second["metadata_error"] == "boom"
    assert second["metadata_model"] == ""
    assert second["metadata_tokens_prompt"] == ""
    assert third["measurement_duration"] == ""
    assert third["metadata_text"] == 'comma, "quote" and\nnewline'
    assert third["metadata_uni"] == "日本 ✓"


async def test_csv_rows_with_different_metadata_keys(rt: Runtime) -> None:
    experiment = await rt.start_experiment("sparse")
    await rt.insert(experiment.id, {"timestamp": BASE_US, "metadata": {"a": 1}})
    await rt.insert(experiment.id, {"timestamp": BASE_US + 1, "metadata": {"b": "x"}})
    await rt.insert(experiment.id, {"timestamp": BASE_US + 2, "measurements": {"m": 1.5}})

    header, rows = read_csv(await rt.export(experiment.id, "csv"))

    assert header == sorted(BASE_COLUMNS | {"metadata_a", "metadata_b", "measurement_m"})
    assert [(r["metadata_a"], r["metadata_b"], r["measurement_m"]) for r in rows] == [
        ("1", "", ""),
        ("", "x", ""),
        ("", "", "1.5"),
    ]


async def test_csv_without_flatten_has_no_flattened_columns(rt: Runtime, clock: FakeClock) -> None:
    experiment_id = await rich_experiment(rt, clock)

    header, rows = read_csv(await rt.export(experiment_id, "csv", flatten=False))

    assert header == sorted(header)
    assert BASE_COLUMNS <= set(header)
    assert not [c for c in header if c.startswith(("metadata_", "measurement_"))]
    assert len(rows) == 3
    assert rows[0]["event_name"] == "app.llm.stop"
    assert rows[0]["model"] == "gpt-4"


async def test_csv_is_rfc4180_utf8(rt: Runtime, clock: FakeClock) -> None:
    experiment_id = await rich_experiment(rt, clock)

    raw = (await rt.export(experiment_id, "csv")).read_bytes()

    text = raw.decode("utf-8")  # strict: valid UTF-8
    assert "日本 ✓" in text
    assert raw.endswith(b"\r\n")
    # Header and three records each end in CRLF; the only bare LF is the one
    # inside the quoted "text" value.
    assert raw.count(b"\r\n") == 4
    assert raw.replace(b"\r\n", b"").count(b"\n") == 1
    assert '"comma, ""quote"" and\nnewline"' in text
    header_line = text.split("\r\n", 1)[0]
    assert header_line == ",".join(next(csv.reader([header_line])))


# ----------------------------------------------------------------------- JSONL


async def test_jsonl_has_every_event_field(rt: Runtime, clock: FakeClock) -> None:
    experiment_id = await rich_experiment(rt, clock)
    events = await rt.get_all(experiment_id)

    records = read_jsonl(await rt.export(experiment_id, "jsonl"))

    assert len(records) == 3
    for record, event in zip(records, events, strict=True):
        assert set(record) == set(Event.__struct_fields__)
        assert record == as_json(event)
        assert isinstance(record["event_name"], list)
        assert all(isinstance(part, str) for part in record["event_name"])
    assert records[0]["event_name"] == ["app", "llm", "stop"]
    assert records[0]["metadata"]["tokens"] == {"prompt": 10, "completion": 5}
    assert records[0]["latency_ms"] == 2.5
    assert records[1]["success"] is False
    assert records[2]["success"] is None
    assert records[2]["metadata"]["text"] == 'comma, "quote" and\nnewline'


# -------------------------------------------------- values JSON/CSV cannot hold


def hostile_metadata() -> tuple[dict[Any, Any], dict[str, Any]]:
    cyclic: dict[str, Any] = {"k": 1}
    cyclic["self"] = cyclic
    metadata: dict[Any, Any] = {
        "nan": math.nan,
        "inf": math.inf,
        "ninf": -math.inf,
        "blob": b"\x00ab",
        "set": {3},
        "obj": Custom(),
        (1, 2): "tuple-key",
        "cyclic": cyclic,
        "plain": "fine",
    }
    return metadata, cyclic


def cyclic_written_as_str(value: Any, cyclic: dict[str, Any]) -> bool:
    """The cyclic dict, or its back-reference, is written as ``str()``."""
    return value == str(cyclic) or value == {"k": 1, "self": str(cyclic)}


async def test_jsonl_writes_unrepresentable_values_as_str(rt: Runtime) -> None:
    experiment = await rt.start_experiment("hostile", events=["app.*"])
    metadata, cyclic = hostile_metadata()
    emit("app.x", {"duration": math.nan, "inf": math.inf}, metadata)
    await rt.flush()

    records = read_jsonl(await rt.export(experiment.id, "jsonl"))

    (record,) = records
    written = record["metadata"]
    assert written["nan"] == "nan"
    assert written["inf"] == "inf"
    assert written["ninf"] == "-inf"
    assert written["blob"] == str(b"\x00ab")
    assert written["set"] == "{3}"
    assert written["obj"] == "custom!"
    assert written["(1, 2)"] == "tuple-key"
    assert cyclic_written_as_str(written["cyclic"], cyclic)
    assert written["plain"] == "fine"
    assert record["measurements"] == {"duration": "nan", "inf": "inf"}
    assert record["latency_ms"] is None


async def test_csv_writes_unrepresentable_values_as_str(rt: Runtime) -> None:
    experiment = await rt.start_experiment("hostile", events=["app.*"])
    metadata, cyclic = hostile_metadata()
    emit("app.x", {"duration": math.nan}, metadata)
    await rt.flush()

    _, rows = read_csv(await rt.export(experiment.id, "csv"))

    (row,) = rows
    assert row["metadata_nan"] == "nan"
    assert row["metadata_inf"] == "inf"
    assert row["metadata_ninf"] == "-inf"
    assert row["metadata_blob"] == str(b"\x00ab")
    assert row["metadata_set"] == "{3}"
    assert row["metadata_obj"] == "custom!"
    assert row["metadata_(1, 2)"] == "tuple-key"
    assert row["metadata_plain"] == "fine"
    assert row["measurement_duration"] == "nan"
    assert row["latency_ms"] == ""
    if "metadata_cyclic" in row:
        assert row["metadata_cyclic"] == str(cyclic)
    else:
        assert row["metadata_cyclic_k"] == "1"
        assert row["metadata_cyclic_self"] == str(cyclic)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("flatten", [True, False])
async def test_value_whose_str_fails_does_not_fail_export(
    rt: Runtime, fmt: str, flatten: bool
) -> None:
    experiment = await rt.start_experiment("unprintable", events=["app.*"])
    emit("app.x", {"duration": 1_000_000}, {"bad": Unprintable(), "good": "yes"})
    await rt.flush()

    path = await rt.export(experiment.id, fmt, flatten=flatten)

    if fmt == "jsonl":
        (record,) = read_jsonl(path)
        assert isinstance(record["metadata"]["bad"], str)
        assert record["metadata"]["good"] == "yes"
        assert record["latency_ms"] == 1.0
    else:
        _, rows = read_csv(path)
        assert len(rows) == 1
        assert float(rows[0]["latency_ms"]) == 1.0
        if flatten:
            assert rows[0]["metadata_good"] == "yes"


@pytest.mark.parametrize("flatten", [True, False])
async def test_csv_without_flatten_survives_unrepresentable_values(
    rt: Runtime, flatten: bool
) -> None:
    experiment = await rt.start_experiment("hostile", events=["app.*"])
    metadata, _ = hostile_metadata()
    emit("app.x", {"duration": 3_000_000}, metadata)
    await rt.flush()

    _, rows = read_csv(await rt.export(experiment.id, "csv", flatten=flatten))

    assert len(rows) == 1
    assert float(rows[0]["latency_ms"]) == 3.0
    assert rows[0]["experiment_name"] == "hostile"


# -------------------------------------------------------------------- ordering


async def scrambled_experiment(rt: Runtime, name: str, timestamps: list[int]) -> list[str]:
    """Insert events at ``timestamps`` (in that arrival order); return their ids."""
    experiment = await rt.start_experiment(name)
    ids = []
    for index, offset in enumerate(timestamps):
        event = await rt.insert(
            experiment.id, {"timestamp": BASE_US + offset, "metadata": {"index": index}}
        )
        ids.append(event.event_id)
    return ids


@pytest.mark.parametrize("fmt", FORMATS)
async def test_export_writes_time_order_ties_in_arrival_order(rt: Runtime, fmt: str) -> None:
    ids = await scrambled_experiment(rt, "scrambled", [5, 1, 5, 3, 1, 5, 0])
    experiment_id = (await rt.list_experiments())[0].id
    expected = [ids[6], ids[1], ids[4], ids[3], ids[0], ids[2], ids[5]]
    assert [event.event_id for event in await rt.get_all(experiment_id)] == expected

    path = await rt.export(experiment_id, fmt)

    assert exported_ids(path, fmt) == expected


@pytest.mark.parametrize("fmt", FORMATS)
async def test_export_multiple_writes_each_experiment_in_get_all_order(
    rt: Runtime, tmp_path: Path, fmt: str
) -> None:
    first_ids = await scrambled_experiment(rt, "first", [30, 10, 30, 20])
    second_ids = await scrambled_experiment(rt, "second", [15, 5, 15, 0])
    first, second = await rt.list_experiments()
    expected = [first_ids[i] for i in (1, 3, 0, 2)] + [second_ids[i] for i in (3, 1, 0, 2)]
    get_all_ids = [
        event.event_id
        for experiment in (first, second)
        for event in await rt.get_all(experiment.id)
    ]
    assert get_all_ids == expected

    path = await rt.export_multiple([first.id, second.id], fmt)

    assert isinstance(path, Path)
    assert path.resolve().parent == (tmp_path / "exports").resolve()
    assert SAFE_FILE_NAME.fullmatch(path.name), path.name
    assert path.name.endswith(f".{fmt}")
    assert exported_ids(path, fmt) == expected


@pytest.mark.parametrize("fmt", FORMATS)
async def test_export_multiple_explicit_path_and_contents(
    rt: Runtime, clock: FakeClock, tmp_path: Path, fmt: str
) -> None:
    rich_id = await rich_experiment(rt, clock)
    other = await rt.start_experiment("other", condition="control")
    await rt.insert(other.id, {"timestamp": 0, "metadata": {"only_other": "yes"}})
    target = tmp_path / "multi" / f"both.{fmt}"

    path = await rt.export_multiple([other.id, rich_id], fmt, path=target)

    assert path == target
    events = await rt.get_all(other.id) + await rt.get_all(rich_id)
    if fmt == "jsonl":
        assert read_jsonl(path) == [as_json(event) for event in events]
    else:
        header, rows = read_csv(path)
        assert header == sorted(header)
        assert {"metadata_only_other", "metadata_tokens_prompt"} <= set(header)
        assert [row["event_id"] for row in rows] == [event.event_id for event in events]
        assert [row["condition"] for row in rows] == ["control"] + ["treatment"] * 3
        assert rows[0]["metadata_only_other"] == "yes"
        assert rows[0]["metadata_tokens_prompt"] == ""
        assert rows[1]["metadata_only_other"] == ""


async def test_export_multiple_unknown_id_raises_not_found(rt: Runtime) -> None:
    experiment_id = await one_event_experiment(rt)
    with pytest.raises(ExperimentNotFoundError):
        await rt.export_multiple([experiment_id, "0123456789abcdef"], "csv")


async def test_very_long_name_is_shortened_not_an_os_error(rt: Runtime, tmp_path: Path) -> None:
    exp = await rt.start_experiment("n" * 300)
    await rt.insert(exp.id, {"timestamp": BASE_US})
    path = await rt.export(exp.id, "csv")
    assert path.exists()
    assert len(path.name) < 255
    assert path.name.startswith("n" * 100)


async def test_csv_carries_the_experiments_tags(rt: Runtime) -> None:
    experiment = await rt.start_experiment("tagged", tags=("prompt-v2", "=cmd"))
    await rt.insert(experiment.id, {"timestamp": BASE_US})

    _, rows = read_csv(await rt.export(experiment.id, "csv"))

    assert [row["tags"] for row in rows] == ["prompt-v2,=cmd"]
