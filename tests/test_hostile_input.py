"""Hostile input: whatever a caller emits, every part of the pipeline copes.

Hostile measurements and metadata go through storage, streaming metrics,
analysis, queries, every export, and archive -> load_archive. Experiment names
never write outside ``export_dir``, damaged archives load nothing and name
their first bad line, and CSV cells that a spreadsheet would run as formulas
are neutralised by default.
"""

from __future__ import annotations

import csv
import json
import math
import re
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from telemetry_actors import (
    Event,
    ExperimentStatus,
    Last,
    LastN,
    Range,
    Runtime,
    emit,
)
from tests.conftest import BASE_US, FakeClock
from tests.hostile_strategies import (
    DEPTH,
    HUGE_STRING,
    BrokenMapping,
    CustomMapping,
    ShadowKey,
    StrRaises,
    Unusable,
    cyclic_dict,
    cyclic_list,
    deep_dict,
    deep_list,
    hostile_emits,
)

#: (event name, measurements, metadata, µs to advance the clock before emitting).
Emit = tuple[tuple[str, ...] | str, Mapping[Any, Any] | None, Mapping[Any, Any] | None, int]

SAFE_FILE_NAME = re.compile(r"[A-Za-z0-9._-]+")


def normalized(name: tuple[str, ...] | str) -> tuple[str, ...]:
    return tuple(name.split(".")) if isinstance(name, str) else name


def derived(event: Event) -> tuple[str, str, str]:
    """The derived fields as reprs: NaN equals NaN and -0.0 differs from 0.0."""
    return repr(event.latency_ms), repr(event.cost_usd), repr(event.success)


@contextmanager
def large_csv_fields() -> Iterator[None]:
    """Let the csv module read cells bigger than its default 128 KiB limit."""
    previous = csv.field_size_limit(sys.maxsize)
    try:
        yield
    finally:
        csv.field_size_limit(previous)


def read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with large_csv_fields(), path.open(encoding="utf-8", newline="") as stream:
        header, *rows = list(csv.reader(stream))
    return header, rows


def read_csv_dicts(path: Path) -> list[dict[str, str]]:
    with large_csv_fields(), path.open(encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(stream))


def read_jsonl(path: Path) -> list[Any]:
    text = path.read_bytes().decode("utf-8")
    assert text.endswith("\n")
    return [json.loads(line) for line in text.split("\n")[:-1]]


def check_csv(path: Path, event_ids: Sequence[str]) -> None:
    header, rows = read_csv(path)
    assert header == sorted(header)
    assert len(rows) == len(event_ids)
    assert all(len(row) == len(header) for row in rows)
    column = header.index("event_id")
    assert [row[column] for row in rows] == list(event_ids)


def check_jsonl(path: Path, event_ids: Sequence[str]) -> None:
    records = read_jsonl(path)
    assert [record["event_id"] for record in records] == list(event_ids)


async def exercise(rt: Runtime, clock: FakeClock, export_dir: Path, batch: Sequence[Emit]) -> None:
    """Emit ``batch`` and put it through every stage, checking each one exactly."""
    experiment = await rt.start_experiment("fuzz", events=["fuzz.*"])
    twin = await rt.start_experiment("fuzz-twin", events=["fuzz.*"])
    for name, measurements, metadata, advance in batch:
        clock.advance(advance)
        emit(name, measurements, metadata)
    await rt.flush()

    # Storage: every event, whole, in emit order (the clock never goes back).
    stored = await rt.get_all(experiment.id)
    n = len(batch)
    assert len(stored) == n
    assert [event.event_name for event in stored] == [normalized(item[0]) for item in batch]
    ids = [event.event_id for event in stored]
    assert len(set(ids)) == n
    for event in stored:
        for value in (event.latency_ms, event.cost_usd):
            # The contract: an infinite or NaN derivation gives None.
            assert value is None or math.isfinite(value), (event.event_name, value)

    # The actor is alive and nothing was lost.
    current = await rt.get_experiment(experiment.id)
    assert current.status is ExperimentStatus.RUNNING
    assert current.restarts == 0
    streaming = await rt.streaming_metrics(experiment.id)
    assert streaming.dropped == 0
    assert sum(streaming.event_counts.values()) == n
    assert streaming.latency.count == sum(e.latency_ms is not None for e in stored)
    assert streaming.cost.count == sum(e.cost_usd is not None for e in stored)
    assert streaming.reliability.successful == sum(e.success is True for e in stored)
    assert streaming.reliability.failed == sum(e.success is False for e in stored)

    # Analysis and windows.
    metrics = await rt.calculate_metrics(experiment.id)
    assert metrics.summary.total_events == n
    assert metrics.reliability.total_requests == n
    assert metrics.latency.count == streaming.latency.count
    assert metrics.cost.count == streaming.cost.count
    windows = await rt.windowed_metrics(experiment.id, 1_000, 1_000)
    assert sum(window.event_count for window in windows) == n

    # Queries.
    first, last = stored[0].timestamp, stored[-1].timestamp
    assert [e.event_id for e in await rt.query(experiment.id)] == ids
    assert len(await rt.query(experiment.id, time_range=(first, last))) == n
    assert len(await rt.query(experiment.id, success=True)) == streaming.reliability.successful
    same_name = [e.event_id for e in stored if e.event_name == stored[0].event_name]
    by_name = await rt.query(experiment.id, event_name=stored[0].event_name)
    assert [e.event_id for e in by_name] == same_name
    assert await rt.query(experiment.id, condition="elsewhere") == []
    assert [e.event_id for e in await rt.query_window(experiment.id, LastN(n))] == ids
    assert len(await rt.query_window(experiment.id, Range(first, last))) == n
    assert len(await rt.query_window(experiment.id, Last(1, "hours"), now=last)) == n

    # Every export, parseable by the standard library.
    check_csv(await rt.export(experiment.id, "csv"), ids)
    check_csv(await rt.export(experiment.id, "csv", flatten=False), ids)
    check_jsonl(await rt.export(experiment.id, "jsonl"), ids)
    both_ids = ids + [e.event_id for e in await rt.get_all(twin.id)]
    both = [experiment.id, twin.id]
    check_csv(await rt.export_multiple(both, "csv"), both_ids)
    check_csv(await rt.export_multiple(both, "csv", flatten=False), both_ids)
    check_jsonl(await rt.export_multiple(both, "jsonl"), both_ids)

    # Archive, then load it in another runtime.
    archive = await rt.archive(experiment.id)
    lines = read_jsonl(archive)
    assert [line["type"] for line in lines] == ["experiment_metadata"] + ["event"] * n
    assert (await rt.get_experiment(experiment.id)).status is ExperimentStatus.ARCHIVED
    async with Runtime(clock=clock, export_dir=export_dir) as other:
        loaded = await other.load_archive(archive)
        assert loaded.id == experiment.id
        assert loaded.status is ExperimentStatus.ARCHIVED
        back = await other.get_all(loaded.id)
        assert [e.event_id for e in back] == ids
        assert [e.timestamp for e in back] == [e.timestamp for e in stored]
        assert [e.event_name for e in back] == [e.event_name for e in stored]
        assert [derived(e) for e in back] == [derived(e) for e in stored]
        assert (await other.calculate_metrics(loaded.id)).summary.total_events == n


def run_pipeline(batch: Sequence[Emit]) -> None:
    """``exercise`` in a fresh runtime and folder, outside any event loop."""

    async def main() -> None:
        with tempfile.TemporaryDirectory() as folder:
            clock = FakeClock()
            export_dir = Path(folder) / "exports"
            async with Runtime(clock=clock, export_dir=export_dir) as rt:
                await exercise(rt, clock, export_dir, batch)

    anyio.run(main)


# ------------------------------------------------------------------ property


# A failing example holding huge strings is worth reporting even though its repr is huge.
@pytest.mark.filterwarnings(
    "ignore:Generating overly large repr:hypothesis.errors.HypothesisWarning"
)
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(hostile_emits, min_size=1, max_size=8))
def test_hostile_events_go_through_every_stage(batch: list[Emit]) -> None:
    run_pipeline(batch)


# ------------------------------------------------------ hand-built special cases


def special_cases() -> list[Any]:
    cases: list[tuple[str, Mapping[Any, Any] | None, Mapping[Any, Any] | None]] = [
        ("cyclic dict as metadata", {"duration": 1_000_000}, cyclic_dict()),
        ("cyclic dict as measurements", cyclic_dict(), {"response": "ok"}),
        ("cyclic dict inside", None, {"a": {"b": cyclic_dict()}, "tokens": cyclic_dict()}),
        ("cyclic list", {"xs": cyclic_list()}, {"loop": cyclic_list()}),
        ("deep list", {"deep": deep_list()}, {"deep": deep_list(), "tokens": deep_list()}),
        ("deep dict", {"deep": deep_dict()}, {"deep": deep_dict(), "model": deep_dict()}),
        ("deep dict as metadata", None, deep_dict()),
        (
            "unprintable values",
            {"duration": StrRaises()},
            {"obj": StrRaises(), "m": [StrRaises()]},
        ),
        ("unprintable key", {StrRaises(): 1}, {StrRaises(): StrRaises()}),
        (
            "unprintable copied fields",
            None,
            {key: StrRaises() for key in ("model", "provider", "cohort", "sample_id", "user_id")},
        ),
        (
            "unusable values",
            {"duration": Unusable(), "status": Unusable(), "cost": Unusable()},
            {
                "error": Unusable(),
                "response": Unusable(),
                "model": Unusable(),
                "tokens": Unusable(),
                "cost": Unusable(),
                "session_id": Unusable(),
                "list": [Unusable()],
            },
        ),
        ("unusable tokens", None, {"model": "gpt-4", "tokens": {"prompt": Unusable()}}),
        (
            "cyclic copied fields",
            None,
            {"model": cyclic_dict(), "cohort": cyclic_list(), "provider": {"p": cyclic_dict()}},
        ),
        ("deep copied field", None, {"session_id": deep_list(), "sample_id": deep_dict()}),
        ("key shadowing a copied field", None, {ShadowKey("model"): 1, "note": "x"}),
        ("key shadowing duration", {ShadowKey("duration"): 5}, {ShadowKey("error"): 1}),
        ("key shadowing tokens", None, {"model": "gpt-4", "tokens": {ShadowKey("prompt"): 10}}),
        ("custom mapping", CustomMapping({"duration": 1}), CustomMapping({"cost": 0.25})),
        ("broken mapping as metadata", {"duration": 1}, BrokenMapping()),
        ("broken mapping as measurements", BrokenMapping(), {"cost": 1.0}),
        ("broken mapping inside", None, {"tokens": BrokenMapping(), "model": "gpt-4"}),
        ("huge string", {"s": HUGE_STRING}, {HUGE_STRING: HUGE_STRING, "model": HUGE_STRING}),
        ("huge ints", {"duration": 2**200, "cost": -(2**200)}, {"n": 2**200, "cost": 2**2000}),
        ("special floats", {"duration": math.nan, "start": -math.inf}, {"cost": math.inf}),
        ("bytes and sets", {b"k": b"\x00\xff"}, {"s": {1, "a"}, "f": frozenset({(1, 2)})}),
        ("non-str keys", {None: 1, 1.5: 2, (1, "a"): 3}, {frozenset({1}): 4, math.nan: 5}),
        (
            "colliding keys",
            None,
            dict([(1, "int"), ("1", "str"), (1.0, "float"), (None, 0), ("None", 1)]),
        ),
        ("control characters", {"\x00": "\r\n"}, {"a\x00b": "\x1b[2J", "\r": "\t=1"}),
    ]
    return [
        pytest.param(measurements, metadata, id=label) for label, measurements, metadata in cases
    ]


@pytest.mark.parametrize(("measurements", "metadata"), special_cases())
def test_special_case_goes_through_every_stage(
    measurements: Mapping[Any, Any] | None, metadata: Mapping[Any, Any] | None
) -> None:
    run_pipeline(
        [
            ("fuzz.special", measurements, metadata, 0),
            ("fuzz.plain", {"duration": 3_000_000}, {"response": "ok", "cost": 0.5}, 1_000),
            ("fuzz.special", measurements, metadata, 0),
        ]
    )


#: Hostile values under the keys enrichment reads, and what it must derive from them.
ENRICHMENT_COLLISIONS = [
    pytest.param({"duration": math.nan}, {}, (None, None, None), id="NaN duration"),
    pytest.param({"duration": math.inf}, {}, (None, None, None), id="infinite duration"),
    pytest.param({"duration": "5"}, {}, (None, None, None), id="str duration"),
    pytest.param({"duration": True}, {}, (None, None, None), id="bool duration"),
    pytest.param({"duration": 2**2000}, {}, (None, None, None), id="int beyond float duration"),
    pytest.param({"duration": -0.0}, {}, (-0.0, None, None), id="negative zero duration"),
    pytest.param(
        {"start": 1e308, "stop": -1e308}, {}, (None, None, None), id="start stop overflow"
    ),
    pytest.param({"start": b"1", "stop": 3}, {}, (None, None, None), id="bytes start"),
    pytest.param({}, {"cost": math.nan}, (None, None, None), id="NaN cost"),
    pytest.param({}, {"cost": -math.inf}, (None, None, None), id="negative infinite cost"),
    pytest.param({}, {"cost": {1, 2}}, (None, None, None), id="set cost"),
    pytest.param(
        {},
        {"model": "gpt-4", "tokens": {"prompt": 1e308, "completion": 1e308}},
        (None, None, None),
        id="token count whose price overflows",
    ),
    pytest.param(
        {},
        {"model": "gpt-4", "tokens": {"prompt": 1e308, "completion": -1e308}},
        (None, None, None),
        id="token counts whose price is NaN",
    ),
    pytest.param(
        {},
        {"model": "gpt-4", "tokens": {"prompt": 10**400}},
        (None, None, None),
        id="huge int tokens",
    ),
    pytest.param({}, {"model": "gpt-4", "tokens": [1, 2]}, (None, None, None), id="list tokens"),
    pytest.param(
        {}, {"model": b"gpt-4", "tokens": {"prompt": 1}}, (None, None, None), id="bytes model"
    ),
    pytest.param({}, {"error": math.nan}, (None, None, False), id="NaN error is truthy"),
    pytest.param({}, {"error": b""}, (None, None, None), id="empty bytes error"),
    pytest.param(
        {}, {"error": frozenset(), "response": 0}, (None, None, True), id="empty set error"
    ),
    pytest.param({"status": b"ok"}, {}, (None, None, None), id="bytes status"),
    pytest.param({"status": "ok"}, {"exception": [0]}, (None, None, False), id="list exception"),
    pytest.param(
        {"status": ("ok",)}, {"response": math.nan}, (None, None, True), id="NaN response"
    ),
]


def same_fields(stored: dict[str, Any], given: dict[str, Any]) -> bool:
    """Equal, counting a stored NaN as the NaN given.

    Stored values may be equal copies; ``nan == nan`` is false, and only
    identity makes ``{"x": nan} == {"x": nan}`` true.
    """
    if stored.keys() != given.keys():
        return False
    for key, value in given.items():
        other = stored[key]
        both_nan = isinstance(value, float) and isinstance(other, float)
        if not (
            other is value or other == value or (both_nan and value != value and other != other)
        ):
            return False
    return True


@pytest.mark.parametrize(("measurements", "metadata", "expected"), ENRICHMENT_COLLISIONS)
async def test_hostile_values_under_enrichment_keys(
    rt: Runtime,
    clock: FakeClock,
    tmp_path: Path,
    measurements: dict[str, Any],
    metadata: dict[str, Any],
    expected: tuple[float | None, float | None, bool | None],
) -> None:
    experiment = await rt.start_experiment("collide", events=["fuzz.*"])
    emit("fuzz.collide", measurements, metadata)
    await rt.flush()
    [event] = await rt.get_all(experiment.id)
    assert (repr(event.latency_ms), repr(event.cost_usd), repr(event.success)) == tuple(
        repr(value) for value in expected
    )
    assert same_fields(event.measurements, measurements)
    assert same_fields(event.metadata, metadata)
    await exercise(rt, clock, tmp_path / "exports", [("fuzz.collide", measurements, metadata, 0)])


async def test_custom_mapping_is_enriched_like_a_dict(rt: Runtime) -> None:
    experiment = await rt.start_experiment("mapping", events=["fuzz.*"])
    emit(
        "fuzz.mapping",
        CustomMapping({"duration": 2_000_000}),
        CustomMapping({"cost": 0.25, "response": "ok", "model": "gpt-4", "cohort": "c"}),
    )
    await rt.flush()
    [event] = await rt.get_all(experiment.id)
    assert event.measurements == {"duration": 2_000_000}
    assert event.metadata == {"cost": 0.25, "response": "ok", "model": "gpt-4", "cohort": "c"}
    assert (event.latency_ms, event.cost_usd, event.success) == (2.0, 0.25, True)
    assert (event.model, event.cohort) == ("gpt-4", "c")


async def test_cycles_and_deep_nesting_are_written_as_text(rt: Runtime) -> None:
    experiment = await rt.start_experiment("shapes", events=["fuzz.*"])
    emit("fuzz.shapes", None, {"loop": cyclic_list(), "deep": deep_list(), "ok": [1, {"a": 2}]})
    await rt.flush()
    [record] = read_jsonl(await rt.export(experiment.id, "jsonl"))
    metadata = record["metadata"]
    assert metadata["ok"] == [1, {"a": 2}]
    assert metadata["loop"][:2] == [1, "two"]
    assert isinstance(metadata["loop"][2], str)
    # The deep list is cut somewhere on the way down and written as text there.
    depth, value = 0, metadata["deep"]
    while isinstance(value, list):
        [value] = value
        depth += 1
    assert isinstance(value, str)
    assert 0 < depth < DEPTH


async def test_unprintable_object_becomes_a_placeholder(rt: Runtime) -> None:
    experiment = await rt.start_experiment("unprintable", events=["fuzz.*"])
    emit("fuzz.obj", {"a": 1}, {"obj": StrRaises()})
    await rt.flush()
    [record] = read_jsonl(await rt.export(experiment.id, "jsonl"))
    assert isinstance(record["metadata"]["obj"], str)
    assert record["measurements"] == {"a": 1}
    [row] = read_csv_dicts(await rt.export(experiment.id, "csv"))
    assert row["metadata_obj"] == record["metadata"]["obj"]
    assert row["measurement_a"] == "1"


async def test_lone_surrogates_do_not_break_exports(
    rt: Runtime, clock: FakeClock, tmp_path: Path
) -> None:
    # "\ud800" is a valid Python str that UTF-8 cannot encode.
    batch: list[Emit] = [
        ("fuzz.surrogate", {"\udcff": "\ud800"}, {"note": "a\ud800b", "model": "\udfff"}, 0)
    ]
    await exercise(rt, clock, tmp_path / "exports", batch)


async def test_int_too_long_to_print_does_not_break_exports(
    rt: Runtime, clock: FakeClock, tmp_path: Path
) -> None:
    # Python refuses str() of an int over 4300 digits, and so does JSON encoding.
    batch: list[Emit] = [("fuzz.digits", {"n": 10**5000}, {"n": -(10**5000)}, 0)]
    await exercise(rt, clock, tmp_path / "exports", batch)


# ------------------------------------------------------------------ path safety


def everything_under(folder: Path) -> set[Path]:
    return set(folder.rglob("*"))


HOSTILE_NAMES = [
    "a/b",
    "/absolute/name",
    "a\\b",
    "C:\\Windows\\System32",
    "..",
    ".",
    "...",
    "../../etc/passwd",
    "../" * 20 + "tmp/escape",
    "..\\..\\escape",
    "nul\x00byte",
    "\x00",
    "line\r\nbreak",
    "\x01\x02\x1b[31m\x7f",
    "x" * 10_000,
    "é" * 300,
    "实验/../名字",
    "😀 emoji",
    "~",
    "$HOME",
    "-rf",
    " ",
    ".hidden",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
async def test_experiment_name_cannot_write_outside_export_dir(
    rt: Runtime, clock: FakeClock, tmp_path: Path, name: str
) -> None:
    export_dir = tmp_path / "exports"
    before = everything_under(tmp_path)
    experiment = await rt.start_experiment(name, events=["fuzz.*"])
    other = await rt.start_experiment(name, events=["fuzz.*"])
    emit("fuzz.path", {"duration": 1_000_000}, {"note": "n"})
    await rt.flush()
    written = [
        await rt.export(experiment.id, "csv"),
        await rt.export(experiment.id, "jsonl"),
        await rt.export_multiple([experiment.id], "csv"),
        await rt.export_multiple([experiment.id, other.id], "jsonl"),
        await rt.archive(experiment.id),
    ]
    assert len(set(written)) == len(written)
    for path in written:
        assert path.parent == export_dir
        assert path.resolve().parent == export_dir.resolve()
        assert SAFE_FILE_NAME.fullmatch(path.name), path.name
        assert len(path.name.encode()) <= 255
        assert path.is_file()
    new = everything_under(tmp_path) - before
    assert new == {export_dir, *written}
    # The name itself is kept in the data.
    [record] = read_jsonl(written[1])
    assert record["experiment_name"] == name
    assert read_jsonl(written[4])[0]["data"]["name"] == name


# ------------------------------------------------------------- damaged archives


@cache
def sample_archive() -> bytes:
    """A valid archive of four hostile events."""

    async def main() -> bytes:
        with tempfile.TemporaryDirectory() as folder:
            clock = FakeClock(BASE_US)
            async with Runtime(clock=clock, export_dir=folder) as rt:
                experiment = await rt.start_experiment("sample", events=["fuzz.*"])
                emit("fuzz.a", {"duration": 1_000_000}, {"note": "=1", "tokens": {"prompt": 3}})
                clock.advance(10)
                emit("fuzz.b", {"x": math.nan}, {"s": {1, 2}, "loop": cyclic_dict()})
                clock.advance(10)
                emit(("fuzz", "c.d"), None, {"bytes": b"\x00", "model": "gpt-4"})
                emit("fuzz.e", None, None)
                await rt.flush()
                return (await rt.archive(experiment.id)).read_bytes()

    return anyio.run(main)


def load_damaged(content: bytes) -> tuple[int | None, int]:
    """Load ``content`` as an archive: (line named by the error or None, events loaded).

    On an error, checks that nothing was loaded.
    """

    async def main() -> tuple[int | None, int]:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "damaged.jsonl"
            path.write_bytes(content)
            async with Runtime(clock=FakeClock(), export_dir=folder) as rt:
                try:
                    experiment = await rt.load_archive(path)
                except ValueError as error:
                    message = str(error)
                else:
                    events = await rt.get_all(experiment.id)
                    await rt.calculate_metrics(experiment.id)
                    return None, len(events)
                match = re.search(r"\bline (\d+)\b", message)
                assert match is not None, message
                assert await rt.list_experiments() == []
                return int(match.group(1)), 0

    return anyio.run(main)


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_truncated_archive_is_rejected_whole(data: st.DataObject) -> None:
    content = sample_archive()
    lines = content.split(b"\n")[:-1]
    cut = data.draw(st.integers(min_value=0, max_value=len(content) - 1))
    kept = content[:cut]
    complete = kept.count(b"\n")
    fragment = kept.rsplit(b"\n", 1)[-1]
    line, loaded = load_damaged(kept)
    if cut == 0 or (complete == 0 and fragment != lines[0]):
        assert line == 1
    elif fragment == b"":
        assert (line, loaded) == (None, complete - 1)
    elif fragment == lines[complete]:
        assert (line, loaded) == (None, complete)
    else:
        assert line == complete + 1


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_corrupted_archive_is_rejected_whole_or_loaded(data: st.DataObject) -> None:
    content = sample_archive()
    total_lines = content.count(b"\n")
    offset = data.draw(st.integers(min_value=0, max_value=len(content) - 2))
    byte = data.draw(
        st.integers(min_value=0, max_value=255).filter(lambda b: b != content[offset])
    )
    damaged = content[:offset] + bytes([byte]) + content[offset + 1 :]
    line, loaded = load_damaged(damaged)
    if line is None:
        assert loaded == total_lines - 1
    elif byte != ord("\n") and content[offset] != ord("\n"):
        # Lines before the damaged one are untouched, so none of them is blamed.
        assert content[:offset].count(b"\n") + 1 <= line <= total_lines


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"\xff\xfe\x00\x00", id="binary"),
        pytest.param(b"\x00" * 64, id="NULs"),
        pytest.param(b"col1,col2\r\n1,2\r\n", id="CSV"),
        pytest.param(b'{"type": "event", "data": {}}\n', id="event line first"),
        pytest.param(b"[1, 2, 3]\n", id="JSON array"),
        pytest.param(b'{"a": 1}\n{"b": 2}\n', id="foreign JSON Lines"),
        pytest.param(b"\xef\xbb\xbf" + b'{"type": "experiment_metadata"}\n', id="BOM"),
    ],
)
def test_foreign_file_is_rejected_at_line_one(content: bytes) -> None:
    assert load_damaged(content) == (1, 0)


def test_invalid_utf8_inside_a_string_names_its_line() -> None:
    content = sample_archive()
    lines = content.split(b"\n")[:-1]
    assert b'"fuzz"' in lines[2]
    broken = lines[2].replace(b'"fuzz"', b'"fu\xc3\x28z"', 1)
    damaged = b"\n".join([*lines[:2], broken, *lines[3:]]) + b"\n"
    assert load_damaged(damaged) == (3, 0)


def test_foreign_line_after_a_valid_start_is_named() -> None:
    content = sample_archive()
    lines = content.split(b"\n")[:-1]
    damaged = b"\n".join([*lines[:3], b'{"hello": "world"}', *lines[3:]]) + b"\n"
    assert load_damaged(damaged) == (4, 0)
    duplicated_metadata = b"\n".join([*lines, lines[0]]) + b"\n"
    assert load_damaged(duplicated_metadata) == (len(lines) + 1, 0)


# ------------------------------------------------------ CSV formula neutralisation

FORMULA_METADATA: dict[str, Any] = {
    "note": "=1+1",
    "plus": "+cmd",
    "minus": "-x",
    "minus_digits": "-3",
    "at": "@SUM(A1)",
    "tab": "\t=1",
    "cr": "\r=1",
    "inner": "a=b",
    "empty": "",
    "int": -3,
    "float": -2.5,
    "nested": {"deep": "-y"},
    "items": ["=a", "b"],
    "items_later": ["ok", "=b"],
    "model": "=model",
    "cohort": "@cohort",
    "cost": -1.5,
    "sample_id": -7,
    "session_id": "-s",
}

#: The cells written for FORMULA_METADATA by default, and verbatim.
FORMULA_CELLS: dict[str, tuple[str, str]] = {
    "experiment_name": ("'@SUM(A1)", "@SUM(A1)"),
    "condition": ("'-x", "-x"),
    "metadata_note": ("'=1+1", "=1+1"),
    "metadata_plus": ("'+cmd", "+cmd"),
    "metadata_minus": ("'-x", "-x"),
    "metadata_minus_digits": ("'-3", "-3"),
    "metadata_at": ("'@SUM(A1)", "@SUM(A1)"),
    "metadata_tab": ("'\t=1", "\t=1"),
    "metadata_cr": ("'\r=1", "\r=1"),
    "metadata_inner": ("a=b", "a=b"),
    "metadata_empty": ("", ""),
    "metadata_int": ("-3", "-3"),
    "metadata_float": ("-2.5", "-2.5"),
    "metadata_nested_deep": ("'-y", "-y"),
    "metadata_items": ("'=a,b", "=a,b"),
    "metadata_items_later": ("ok,=b", "ok,=b"),
    "metadata_model": ("'=model", "=model"),
    "metadata_cohort": ("'@cohort", "@cohort"),
    "metadata_cost": ("-1.5", "-1.5"),
    "metadata_sample_id": ("-7", "-7"),
    "metadata_session_id": ("'-s", "-s"),
    "model": ("'=model", "=model"),
    "sample_id": ("-7", "-7"),
    "session_id": ("'-s", "-s"),
    "cohort": ("'@cohort", "@cohort"),
    "measurement_duration": ("-5000000", "-5000000"),
    "measurement_label": ("'+1", "+1"),
    "latency_ms": ("-5.0", "-5.0"),
    "cost_usd": ("-1.5", "-1.5"),
}


async def formula_experiment(rt: Runtime) -> str:
    experiment = await rt.start_experiment("@SUM(A1)", condition="-x", events=["fuzz.*"])
    emit("fuzz.formula", {"duration": -5_000_000, "label": "+1"}, FORMULA_METADATA)
    await rt.flush()
    return experiment.id


def cells_of(path: Path) -> dict[str, str]:
    [row] = read_csv_dicts(path)
    return {column: row[column] for column in FORMULA_CELLS}


async def test_csv_neutralises_formula_cells_by_default(rt: Runtime) -> None:
    experiment_id = await formula_experiment(rt)
    expected = {column: cells[0] for column, cells in FORMULA_CELLS.items()}
    assert cells_of(await rt.export(experiment_id, "csv")) == expected
    assert cells_of(await rt.export(experiment_id, "csv", neutralize_formulas=True)) == expected
    assert cells_of(await rt.export_multiple([experiment_id], "csv")) == expected


async def test_csv_writes_formula_cells_verbatim_when_asked(rt: Runtime) -> None:
    experiment_id = await formula_experiment(rt)
    expected = {column: cells[1] for column, cells in FORMULA_CELLS.items()}
    path = await rt.export(experiment_id, "csv", neutralize_formulas=False)
    assert cells_of(path) == expected
    path = await rt.export_multiple([experiment_id], "csv", neutralize_formulas=False)
    assert cells_of(path) == expected


async def test_csv_neutralises_base_columns_without_flattening(rt: Runtime) -> None:
    experiment_id = await formula_experiment(rt)
    [row] = read_csv_dicts(await rt.export(experiment_id, "csv", flatten=False))
    assert (row["experiment_name"], row["condition"], row["model"]) == (
        "'@SUM(A1)",
        "'-x",
        "'=model",
    )
    assert row["latency_ms"] == "-5.0"
    assert json.loads(row["metadata"])["note"] == "=1+1"
    [row] = read_csv_dicts(
        await rt.export(experiment_id, "csv", flatten=False, neutralize_formulas=False)
    )
    assert (row["experiment_name"], row["condition"], row["model"]) == ("@SUM(A1)", "-x", "=model")


async def test_jsonl_and_archive_keep_formula_strings_verbatim(rt: Runtime) -> None:
    experiment_id = await formula_experiment(rt)
    [record] = read_jsonl(await rt.export(experiment_id, "jsonl"))
    assert record["experiment_name"] == "@SUM(A1)"
    assert record["condition"] == "-x"
    assert record["metadata"] == FORMULA_METADATA
    assert record["measurements"] == {"duration": -5_000_000, "label": "+1"}
    lines = read_jsonl(await rt.archive(experiment_id))
    assert lines[1]["data"]["metadata"] == FORMULA_METADATA


def test_formula_neutralisation_is_documented() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    assert "neutralize_formulas" in readme
