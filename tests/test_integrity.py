"""Integrity and liveness: what is stored is what was emitted, and every call ends.

One regression test (or more) per defect of the "Integrity and liveness" issue,
numbered as there; each failed on the code before the fix.
"""

from __future__ import annotations

import array
import collections
import copy
import enum
import gc
import json
import math
import os
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from telemetry_actors import (
    AnomalyDetection,
    ExperimentNotFoundError,
    ExperimentStatus,
    LastN,
    NotRunningError,
    Runtime,
    RuntimeClosedError,
    emit,
    span,
)
from telemetry_actors.testing import inject_crash
from tests.conftest import BASE_US, FakeClock

STOP = "req_llm.request.stop"

#: Seconds before a test that could hang gives up, so a regression fails instead.
HANG_GUARD_S = 20


# ----------------------------------------------------- 1. non-builtin numbers and buffers


async def test_1_numpy_scalars_are_stored_as_python_numbers(rt: Runtime) -> None:
    exp = await rt.start_experiment("np", events=["a.b"])
    emit("a.b", {"s": np.float64(0.5), "n": np.int64(7), "f32": np.float32(0.25)}, {})
    await rt.flush()
    (event,) = await rt.get_all(exp.id)
    assert event.measurements == {"s": 0.5, "n": 7, "f32": 0.25}
    assert [type(value) for value in event.measurements.values()] == [float, int, float]


async def test_1_numpy_duration_gives_a_latency(rt: Runtime) -> None:
    exp = await rt.start_experiment("np", events=["a.b"])
    emit("a.b", {"duration": np.int64(3_000_000)}, {"cost": np.float64(0.25)})
    await rt.flush()
    (event,) = await rt.get_all(exp.id)
    assert (event.latency_ms, event.cost_usd) == (3.0, 0.25)
    assert type(event.measurements["duration"]) is int


async def test_1_buffer_objects_come_back_as_the_same_objects(rt: Runtime, tmp_path: Path) -> None:
    exp = await rt.start_experiment("buffers", events=["a.b"])
    doubles = array.array("d", [1.5])
    vector = np.array([1.0, 2.0])
    view = memoryview(b"xy")
    emit("a.b", {"s": np.float64(0.5)}, {"v": doubles, "a": vector, "m": view})
    await rt.flush()
    (event,) = await rt.get_all(exp.id)
    assert event.metadata["v"] is doubles
    assert event.metadata["a"] is vector
    assert event.metadata["m"] is view
    path = await rt.export(exp.id, "jsonl", path=tmp_path / "b.jsonl")
    record = json.loads(path.read_text())
    assert record["metadata"]["v"] == str(doubles)
    assert record["measurements"]["s"] == 0.5


async def test_1_nested_numbers_and_bytearrays_keep_their_values(rt: Runtime) -> None:
    exp = await rt.start_experiment("nested", events=["a.b"])
    raw = bytearray(b"ab")
    emit("a.b", {}, {"scores": [np.float64(0.5), {"k": np.int32(3)}], "raw": raw})
    raw[0] = ord("z")
    await rt.flush()
    (event,) = await rt.get_all(exp.id)
    assert event.metadata["scores"] == [0.5, {"k": 3}]
    assert type(event.metadata["scores"][0]) is float
    assert type(event.metadata["scores"][1]["k"]) is int
    assert event.metadata["raw"] == bytearray(b"ab")
    assert type(event.metadata["raw"]) is bytearray


class _Colour(enum.StrEnum):
    RED = "red"


class _Tagged(dict[str, Any]):
    """A dict subclass with nothing overridden: equal to a plain dict with its items."""


#: Values MessagePack writes exactly like a plain value of another type, and
#: that compare equal to it: only their type tells them apart.
_PLAIN_LOOKALIKES = [
    _Colour.RED,
    collections.OrderedDict(a=1),
    collections.Counter(a=2),
    _Tagged(b=3),
]


@pytest.mark.parametrize("detect", [False, True], ids=["bulk", "event-by-event"])
@pytest.mark.parametrize("value", _PLAIN_LOOKALIKES, ids=lambda value: type(value).__name__)
async def test_1_values_written_like_plain_ones_keep_their_type(
    rt: Runtime, value: Any, detect: bool
) -> None:
    """A str enum or a dict subclass nested in the fields comes back as itself, not as str/dict."""
    options: dict[str, Any] = {"anomaly_detection": AnomalyDetection()} if detect else {}
    experiment = await rt.start_experiment("lookalikes", events=["x"], **options)
    emit("x", {"duration": 5}, {"value": value, "model": "gpt-4"})
    await rt.flush()
    (event,) = await rt.get_all(experiment.id)
    assert event.metadata["value"] == value
    assert type(event.metadata["value"]) is type(value)
    assert event.latency_ms == 5e-6


class _Model(enum.StrEnum):
    GPT4 = "gpt-4"


class _Status(str, enum.Enum):  # noqa: UP042 - the older mixin spelling, whose str() differs
    OK = "ok"


@pytest.mark.parametrize("detect", [False, True], ids=["bulk", "event-by-event"])
async def test_1_a_str_enum_model_and_status_are_read_by_their_text(
    rt: Runtime, detect: bool
) -> None:
    """Kept as enums, and priced and judged as the same text would be."""
    options: dict[str, Any] = {"anomaly_detection": AnomalyDetection()} if detect else {}
    experiment = await rt.start_experiment("enum-fields", events=["x"], **options)
    tokens = {"prompt": 1_000, "completion": 500}
    emit("x", {"duration": 5, "status": _Status.OK}, {"model": _Model.GPT4, "tokens": tokens})
    emit("x", {"duration": 5, "status": "ok"}, {"model": "gpt-4", "tokens": tokens})
    await rt.flush()
    as_enums, as_text = await rt.get_all(experiment.id)
    assert type(as_enums.metadata["model"]) is _Model
    assert type(as_enums.measurements["status"]) is _Status
    assert as_text.cost_usd is not None
    assert as_enums.cost_usd == as_text.cost_usd
    assert as_enums.success is as_text.success is True


# ------------------------------------------------------------------ 2. capture at emit


async def test_2_a_reused_dict_is_captured_at_each_emit(rt: Runtime) -> None:
    exp = await rt.start_experiment("reuse", events=["x"])
    fields: dict[str, Any] = {}
    for i in range(5):
        fields["i"] = i
        emit("x", {}, fields)
    await rt.flush()
    assert [event.metadata["i"] for event in await rt.get_all(exp.id)] == [0, 1, 2, 3, 4]


async def test_2_changing_metadata_after_emit_changes_no_price(rt: Runtime) -> None:
    exp = await rt.start_experiment("price", events=["x"])
    metadata: dict[str, Any] = {"model": "gpt-4", "tokens": {"prompt": 1000, "completion": 0}}
    emit("x", {}, metadata)
    metadata["model"] = "gpt-3.5-turbo"
    metadata["tokens"]["prompt"] = 1
    await rt.flush()
    (event,) = await rt.get_all(exp.id)
    assert event.cost_usd == pytest.approx(0.03)
    assert event.metadata == {"model": "gpt-4", "tokens": {"prompt": 1000, "completion": 0}}


async def test_2_returned_events_share_nothing_with_the_store(rt: Runtime) -> None:
    exp = await rt.start_experiment("share", events=["x"])
    emit("x", {"values": [1, 2]}, {"tags": {"a": [1]}})
    await rt.insert(exp.id, {"timestamp": BASE_US + 1, "metadata": {"list": [1]}})
    await rt.flush()
    for event in await rt.get_all(exp.id):
        for fields in (event.measurements, event.metadata):
            for value in fields.values():
                if isinstance(value, list):
                    value.append("changed")
                elif isinstance(value, dict):
                    value["changed"] = True
            fields["added"] = True
    events = await rt.get_all(exp.id)
    assert [(event.measurements, event.metadata) for event in events] == [
        ({"values": [1, 2]}, {"tags": {"a": [1]}}),
        ({}, {"list": [1]}),
    ]


_leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
    | st.binary(max_size=8)
)
_values = st.recursive(
    _leaves,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=6), children, max_size=4)
        | st.tuples(children, children)
        | st.sets(st.integers() | st.text(max_size=4), max_size=4)
        | st.frozensets(st.integers(), max_size=3)
        | st.dictionaries(st.integers() | st.booleans(), children, max_size=3)
    ),
    max_leaves=12,
)
_fields = st.dictionaries(st.text(max_size=6), _values, max_size=5)


def _mutate_everything(value: Any) -> None:
    """Change every mutable builtin container reachable from ``value``, in place."""
    if isinstance(value, dict):
        for item in list(value.values()):
            _mutate_everything(item)
        for key in list(value):
            value[key] = ["replaced", key]
        value["__added__"] = {"new": [1]}
    elif isinstance(value, list):
        for item in value:
            _mutate_everything(item)
        value.append("appended")
        if len(value) > 1:
            value[0] = ("swapped",)
    elif isinstance(value, set):
        value.add("added")
    elif isinstance(value, tuple):
        for item in value:
            _mutate_everything(item)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(measurements=_fields, metadata=_fields)
def test_2_stored_fields_equal_a_deep_copy_taken_at_emit(
    measurements: dict[str, Any], metadata: dict[str, Any]
) -> None:
    expected = (copy.deepcopy(measurements), copy.deepcopy(metadata))

    async def main() -> tuple[dict[str, Any], dict[str, Any]]:
        async with Runtime(clock=FakeClock()) as rt:
            exp = await rt.start_experiment("property", events=["p"])
            emit("p", measurements, metadata)
            _mutate_everything(measurements)
            _mutate_everything(metadata)
            await rt.flush()
            (event,) = await rt.get_all(exp.id)
            return event.measurements, event.metadata

    stored = anyio.run(main)
    assert stored == expected
    assert _types_of(stored) == _types_of(expected)


def _types_of(value: Any) -> Any:
    """The value's shape with every leaf replaced by its type (tuples stay tuples)."""
    if isinstance(value, dict):
        return (dict, sorted((repr(key), _types_of(item)) for key, item in value.items()))
    if isinstance(value, list | tuple):
        return (type(value), [_types_of(item) for item in value])
    if isinstance(value, set | frozenset):
        return (type(value), sorted(repr(item) for item in value))
    return type(value)


# ------------------------------------------------------------- 3. emit_wait always ends


async def _fill_and_wait(rt: Runtime, done: list[str], n: int) -> None:
    """Fill the one-slot mailbox, then wait for room with ``emit_wait``."""
    emit("w", {"n": -1})
    emit("w", {"n": -2})
    try:
        await rt.emit_wait("w", {"n": n})
        done.append("returned")
    except (ExperimentNotFoundError, NotRunningError):
        done.append("raised")


async def test_3_every_emit_wait_ends_at_cleanup(clock: FakeClock) -> None:
    async with Runtime(clock=clock, mailbox_size=1) as rt:
        exp = await rt.start_experiment("wait", events=["w"])
        done: list[str] = []
        with anyio.fail_after(HANG_GUARD_S):
            async with anyio.create_task_group() as group:
                for n in range(4):
                    group.start_soon(_fill_and_wait, rt, done, n)
                for _ in range(3):
                    await anyio.lowlevel.checkpoint()
                await rt.cleanup(exp.id)
        assert len(done) == 4


async def test_3_every_emit_wait_ends_when_the_experiment_fails(clock: FakeClock) -> None:
    async with Runtime(clock=clock, mailbox_size=1, max_restarts=0) as rt:
        exp = await rt.start_experiment("wait", events=["w"])
        done: list[str] = []
        with anyio.fail_after(HANG_GUARD_S):
            async with anyio.create_task_group() as group:
                for n in range(4):
                    group.start_soon(_fill_and_wait, rt, done, n)
                for _ in range(3):
                    await anyio.lowlevel.checkpoint()
                await inject_crash(rt, exp.id)
        assert len(done) == 4
        assert (await rt.get_experiment(exp.id)).status is ExperimentStatus.FAILED


async def test_3_many_emit_waits_all_end_at_runtime_exit(clock: FakeClock) -> None:
    finished: list[str] = []
    with anyio.fail_after(HANG_GUARD_S):
        async with anyio.create_task_group() as group:
            async with Runtime(clock=clock, mailbox_size=1, close_timeout=0.5) as rt:
                await rt.start_experiment("wait", events=["w"])
                emit("w", {"n": 0})
                emit("w", {"n": 0})

                async def waiter(n: int) -> None:
                    try:
                        await rt.emit_wait("w", {"n": n})
                        finished.append("returned")
                    except RuntimeClosedError:
                        finished.append("closed")

                for n in range(5):
                    group.start_soon(waiter, n)
                await anyio.lowlevel.checkpoint()
    assert len(finished) == 5


# ------------------------------------------------- 4. a query queued past close_timeout


async def test_4_a_query_queued_when_close_timeout_expires_returns(clock: FakeClock) -> None:
    outcomes: list[str] = []
    with anyio.fail_after(HANG_GUARD_S):
        async with anyio.create_task_group() as group:
            async with Runtime(clock=clock, mailbox_size=400_000, close_timeout=0.000_001) as rt:
                exp = await rt.start_experiment("slow", events=["s"])
                for n in range(300_000):
                    emit("s", {"n": n})

                async def late_query() -> None:
                    try:
                        await rt.get_all(exp.id)
                        outcomes.append("answered")
                    except RuntimeClosedError:
                        outcomes.append("closed")

                group.start_soon(late_query)
                await anyio.lowlevel.checkpoint()
    assert len(outcomes) == 1


# -------------------------------------------- 5. BaseException from caller code in actors


class _Interrupt(BaseException):
    """A BaseException that is not an Exception, as KeyboardInterrupt is."""


async def test_5_a_base_exception_in_where_goes_to_that_caller_only(rt: Runtime) -> None:
    exp = await rt.start_experiment("where", events=["x"])
    other = await rt.start_experiment("other", events=["x"])
    emit("x", {"duration": 1})
    await rt.flush()

    def explode(event: Any) -> bool:
        raise _Interrupt("from where")

    with pytest.raises(_Interrupt, match="from where"):
        await rt.query_window(exp.id, LastN(5), where=explode)
    emit("x", {"duration": 2})
    await rt.flush()
    assert len(await rt.get_all(exp.id)) == 2
    assert len(await rt.get_all(other.id)) == 2


class _ExplodingMapping(Mapping[str, Any]):
    def __getitem__(self, key: str) -> Any:
        raise _Interrupt("getitem")

    def __iter__(self) -> Any:
        raise _Interrupt("iter")

    def __len__(self) -> int:
        return 1


async def test_5_a_base_exception_from_an_emitted_mapping_is_a_drop(clock: FakeClock) -> None:
    with anyio.fail_after(HANG_GUARD_S):
        async with Runtime(clock=clock, close_timeout=HANG_GUARD_S * 2) as rt:
            exp = await rt.start_experiment("mapping", events=["x"])
            other = await rt.start_experiment("other", events=["y"])
            emit("x", {"duration": 1}, _ExplodingMapping())
            emit("x", {"duration": 2})
            emit("y", {"duration": 3})
            await rt.flush()
            assert [event.latency_ms for event in await rt.get_all(exp.id)] == [2e-06]
            assert (await rt.streaming_metrics(exp.id)).dropped == 1
            assert len(await rt.get_all(other.id)) == 1


# ------------------------------------------------------- 6. unique paths, honest status


async def test_6_concurrent_exports_and_archives_never_share_a_file(
    clock: FakeClock, tmp_path: Path
) -> None:
    async with Runtime(clock=clock, export_dir=tmp_path) as rt:
        ids = []
        for _ in range(6):
            exp = await rt.start_experiment("same name", events=["x"])
            ids.append(exp.id)
        for n in range(3):
            emit("x", {"n": n})
        await rt.flush()
        paths: list[Path] = []

        async def export(experiment_id: str) -> None:
            paths.append(await rt.export(experiment_id, "jsonl"))

        async def archive(experiment_id: str) -> None:
            paths.append(await rt.archive(experiment_id))

        async with anyio.create_task_group() as group:
            for experiment_id in ids:
                group.start_soon(export, experiment_id)
                group.start_soon(archive, experiment_id)
        assert len(set(paths)) == 12
        for path in paths:
            assert len(path.read_text().splitlines()) in (3, 4)


async def test_6_an_archive_that_cannot_be_written_changes_no_status(
    rt: Runtime, tmp_path: Path
) -> None:
    exp = await rt.start_experiment("blocked", events=["x"])
    emit("x", {"n": 1})
    await rt.flush()
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(OSError, match="file"):
        await rt.archive(exp.id, path=blocker / "archive.jsonl")
    assert (await rt.get_experiment(exp.id)).status is ExperimentStatus.RUNNING


# ------------------------------------------------ 7. surrogates and far time stamps


async def test_7_lone_surrogates_everywhere_export_and_archive(
    clock: FakeClock, tmp_path: Path
) -> None:
    async with Runtime(clock=clock, export_dir=tmp_path) as rt:
        exp = await rt.start_experiment(
            "name\ud800", condition="cond\udc00", tags=("tag\ud801",), events=["a\ud802.b"]
        )
        emit("a\ud802.b", {"n": 1}, {"k\ud803": "v\ud804"})
        await rt.flush()
        for kind in ("jsonl", "csv"):
            path = await rt.export(exp.id, kind)
            text = path.read_text(encoding="utf-8")
            assert "\\ud800" in text or "ud800" in text
        archive = await rt.archive(exp.id)
        assert "\\ud802" in archive.read_text(encoding="utf-8")


async def test_7_a_far_time_stamp_leaves_the_datetime_cell_empty(
    rt: Runtime, tmp_path: Path
) -> None:
    exp = await rt.start_experiment("far")
    await rt.insert(exp.id, {"timestamp": 2**62})
    await rt.insert(exp.id, {"timestamp": -(2**62)})
    path = await rt.export(exp.id, "csv", path=tmp_path / "far.csv")
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    cells = [dict(zip(header, line.split(","), strict=True)) for line in lines[1:]]
    assert [(row["timestamp"], row["datetime"]) for row in cells] == [
        (str(-(2**62)), ""),
        (str(2**62), ""),
    ]


# ------------------------------------------------------------ 8. span with a bad repr


class _Unprintable(Exception):
    def __repr__(self) -> str:
        raise RuntimeError("repr fails")

    def __str__(self) -> str:
        raise RuntimeError("str fails")


async def test_8_span_reraises_the_body_error_even_if_its_repr_fails(rt: Runtime) -> None:
    exp = await rt.start_experiment("span", events=["tool.*"])
    with pytest.raises(_Unprintable), span("tool"):
        raise _Unprintable()
    await rt.flush()
    names = [event.event_name for event in await rt.get_all(exp.id)]
    assert names == [("tool", "start"), ("tool", "exception")]
    failure = (await rt.get_all(exp.id))[1]
    assert failure.metadata["kind"] == "_Unprintable"
    assert "_Unprintable" in failure.metadata["error"]
    assert failure.success is False


# ------------------------------------------------------------- 9. ids across os.fork()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only")
def test_9_event_ids_stay_unique_across_fork() -> None:
    from telemetry_actors._event import new_event_id

    read_end, write_end = os.pipe()
    parent_ids = [new_event_id() for _ in range(3)]
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        os.close(read_end)
        child_ids = [new_event_id() for _ in range(3)]
        os.write(write_end, json.dumps(child_ids).encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as stream:
        child_ids = json.loads(stream.read())
    os.waitpid(pid, 0)
    later_parent_ids = [new_event_id() for _ in range(3)]
    everything = parent_ids + child_ids + later_parent_ids
    assert len(set(everything)) == len(everything)


# ------------------------------------------------------------ 10. exactly rounded totals


async def test_10_streaming_totals_are_exactly_rounded(rt: Runtime) -> None:
    exp = await rt.start_experiment("fsum", events=["c"])
    for cost in (1e16, 1.0, -1e16):
        emit("c", {"duration": 1_000_000}, {"cost": cost})
    await rt.flush()
    live = await rt.streaming_metrics(exp.id)
    metrics = await rt.calculate_metrics(exp.id)
    assert live.cost.total == metrics.cost.total == 1.0
    assert live.cost.mean_per_request == metrics.cost.mean_per_request == pytest.approx(1 / 3)


@settings(max_examples=40, deadline=None)
@given(
    costs=st.lists(
        st.floats(allow_nan=False, allow_infinity=False, min_value=-1e300, max_value=1e300),
        min_size=1,
        max_size=40,
    )
)
def test_10_streaming_and_post_hoc_totals_agree_for_any_magnitudes(costs: list[float]) -> None:
    async def main() -> tuple[float, float]:
        async with Runtime(clock=FakeClock()) as rt:
            exp = await rt.start_experiment("fsum", events=["c"])
            for cost in costs:
                emit("c", {}, {"cost": cost})
            await rt.flush()
            live = await rt.streaming_metrics(exp.id)
            metrics = await rt.calculate_metrics(exp.id)
            return live.cost.total, metrics.cost.total

    live_total, post_hoc_total = anyio.run(main)
    assert live_total == post_hoc_total == math.fsum(costs)


# --------------------------------------------------- 11. a failing clock stays contained


async def test_11_a_raising_clock_affects_only_its_runtime() -> None:
    def broken_clock() -> int:
        if broken_clock.fail:  # type: ignore[attr-defined]
            raise RuntimeError("clock broke")
        return BASE_US

    broken_clock.fail = False  # type: ignore[attr-defined]
    async with (
        Runtime(clock=broken_clock) as broken,
        Runtime(clock=FakeClock()) as healthy,
    ):
        bad = await broken.start_experiment("bad", events=["c"])
        good = await healthy.start_experiment("good", events=["c"])
        broken_clock.fail = True  # type: ignore[attr-defined]
        emit("c", {"duration": 1})
        emit("c", {"duration": 2})
        await broken.flush()
        await healthy.flush()
        assert len(await healthy.get_all(good.id)) == 2
        assert await broken.get_all(bad.id) == []
        assert (await broken.streaming_metrics(bad.id)).dropped == 2


async def test_11_a_clock_returning_a_non_int_counts_drops() -> None:
    async with Runtime(clock=_FlakyClock()) as rt:
        exp = await rt.start_experiment("flaky", events=["c"])
        emit("c", {"duration": 1})
        emit("c", {"duration": 2})
        await rt.flush()
        assert len(await rt.get_all(exp.id)) == 1
        assert (await rt.streaming_metrics(exp.id)).dropped == 1


class _FlakyClock:
    """Returns an int, then a float, then ints again."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> Any:
        self.calls += 1
        return BASE_US + 0.5 if self.calls == 3 else BASE_US + self.calls


# -------------------------------------------------- 12. out-of-order events stay cheap


async def test_12_a_backwards_clock_ingests_in_bounded_time() -> None:
    """300,000 events from a clock running backwards.

    A liveness guard, not a benchmark (the figures are in ``bench/``): with an
    O(n) shift per out-of-order event this took minutes; the deadline is far
    above what O(log n) per event costs.
    """
    clock = FakeClock()

    def backwards() -> int:
        clock.now -= 1
        return clock.now

    async with Runtime(clock=backwards, mailbox_size=400_000) as rt:
        exp = await rt.start_experiment("backwards", events=["b"])
        with anyio.fail_after(20):
            for n in range(300_000):
                emit("b", {"n": n})
            await rt.flush()
            events = await rt.query_window(exp.id, LastN(3))
        assert [event.measurements["n"] for event in events] == [2, 1, 0]
        assert (await rt.calculate_metrics(exp.id)).summary.total_events == 300_000


# -------------------------------------------------- 13. no call outlives its answer


async def test_13_the_actor_keeps_no_finished_call_alive(rt: Runtime) -> None:
    exp = await rt.start_experiment("gc", events=["x"])
    emit("x", {"n": 1})

    class Predicate:
        def __call__(self, event: Any) -> bool:
            return True

    predicate = Predicate()
    alive = weakref.ref(predicate)
    events = await rt.query_window(exp.id, LastN(10), where=predicate)
    assert len(events) == 1
    del predicate, events
    gc.collect()
    assert alive() is None


# ---------------------------------------------- liveness around FAILED and cleanup


async def test_calls_queued_on_an_experiment_that_fails_all_end(clock: FakeClock) -> None:
    async with Runtime(clock=clock, max_restarts=0) as rt:
        exp = await rt.start_experiment("fails", events=["x"])
        outcomes: list[str] = []

        async def call() -> None:
            try:
                await rt.get_all(exp.id)
                outcomes.append("answered")
            except NotRunningError:
                outcomes.append("not running")

        with anyio.fail_after(HANG_GUARD_S):
            async with anyio.create_task_group() as group:
                for _ in range(3):
                    group.start_soon(call)
                await inject_crash(rt, exp.id)
        assert len(outcomes) == 3


async def test_calls_queued_at_cleanup_all_end(rt: Runtime) -> None:
    exp = await rt.start_experiment("cleaned", events=["x"])
    outcomes: list[str] = []

    async def call() -> None:
        try:
            await rt.calculate_metrics(exp.id)
            outcomes.append("answered")
        except ExperimentNotFoundError:
            outcomes.append("not found")

    with anyio.fail_after(HANG_GUARD_S):
        async with anyio.create_task_group() as group:
            for _ in range(3):
                group.start_soon(call)
            await rt.cleanup(exp.id)
    assert len(outcomes) == 3
