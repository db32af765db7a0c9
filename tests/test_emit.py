"""emit: validation, routing by event name, ordering, flush, concurrency, drops."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import anyio.to_thread
import pytest

from telemetry_actors import STANDARD_EVENTS, Runtime, RuntimeClosedError, emit

from .conftest import BASE_US, FakeClock

STOP = "req_llm.request.stop"

CONTRACT_STANDARD_EVENTS = {
    ("req_llm", "request", "start"),
    ("req_llm", "request", "stop"),
    ("req_llm", "request", "exception"),
    ("ensemble", "prediction", "start"),
    ("ensemble", "prediction", "stop"),
    ("ensemble", "vote", "completed"),
    ("hedging", "request", "start"),
    ("hedging", "request", "duplicated"),
    ("hedging", "request", "stop"),
    ("causal_trace", "event", "created"),
    ("altar", "tool", "start"),
    ("altar", "tool", "stop"),
}


async def collected_indices(rt: Runtime, experiment_id: str) -> list[Any]:
    await rt.flush()
    return [event.metadata.get("i") for event in await rt.get_all(experiment_id)]


# ------------------------------------------------------------------ validation


async def test_dotted_str_and_tuple_give_same_name(rt: Runtime) -> None:
    exp = await rt.start_experiment("names")
    emit("req_llm.request.stop")
    emit(("req_llm", "request", "stop"))
    await rt.flush()
    names = [event.event_name for event in await rt.get_all(exp.id)]
    assert names == [("req_llm", "request", "stop")] * 2
    assert all(type(name) is tuple for name in names)


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(5, id="int"),
        pytest.param(None, id="none"),
        pytest.param(["req_llm", "request", "stop"], id="list"),
        pytest.param(b"req_llm.request.stop", id="bytes"),
        pytest.param(("req_llm", 1, "stop"), id="tuple-with-int"),
        pytest.param(("req_llm", None), id="tuple-with-none"),
        pytest.param(("req_llm", ("request", "stop")), id="nested-tuple"),
    ],
)
@pytest.mark.parametrize("listening", [False, True])
async def test_bad_name_type_raises_type_error(rt: Runtime, name: object, listening: bool) -> None:
    if listening:
        await rt.start_experiment("listening")
    with pytest.raises(TypeError, match="event name"):
        emit(name)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "name",
    ["", (), "a..b", ".a", "a.", ("a", ""), ("",), "req_llm..stop"],
)
@pytest.mark.parametrize("listening", [False, True])
async def test_empty_name_or_part_raises_value_error(
    rt: Runtime, name: object, listening: bool
) -> None:
    if listening:
        await rt.start_experiment("listening")
    with pytest.raises(ValueError, match="non-empty"):
        emit(name)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [[("duration", 1)], "duration", 5, (1, 2)])
@pytest.mark.parametrize("listening", [False, True])
async def test_non_mapping_fields_raise_type_error(
    rt: Runtime, bad: object, listening: bool
) -> None:
    exp = await rt.start_experiment("listening") if listening else None
    with pytest.raises(TypeError, match="measurements"):
        emit(STOP, bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="metadata"):
        emit(STOP, None, bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="measurements"):
        emit("nobody.listens.here", bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="metadata"):
        emit("nobody.listens.here", {}, bad)  # type: ignore[arg-type]
    if exp is not None:
        # A rejected call leaves nothing behind.
        assert await collected_indices(rt, exp.id) == []


def test_validation_without_any_runtime() -> None:
    with pytest.raises(TypeError, match="measurements"):
        emit("no.runtime.open", [1])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="metadata"):
        emit("no.runtime.open", None, "meta")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="non-empty"):
        emit("")
    with pytest.raises(TypeError, match="event name"):
        emit(42)  # type: ignore[arg-type]


def test_emit_with_nothing_attached_returns_none() -> None:
    assert emit("nothing.attached.here", {"duration": 1}, {"x": 1}) is None
    assert emit(("nothing", "attached")) is None


async def test_emit_returns_none_when_collected(rt: Runtime) -> None:
    exp = await rt.start_experiment("collect")
    assert emit(STOP, {"duration": 1}, {"i": 0}) is None
    assert await collected_indices(rt, exp.id) == [0]


async def test_mapping_types_other_than_dict_accepted(rt: Runtime) -> None:
    from types import MappingProxyType

    exp = await rt.start_experiment("proxy")
    emit(STOP, MappingProxyType({"duration": 2_000_000}), MappingProxyType({"i": 1}))
    await rt.flush()
    [event] = await rt.get_all(exp.id)
    assert event.measurements == {"duration": 2_000_000}
    assert event.metadata == {"i": 1}
    assert event.latency_ms == 2.0


# --------------------------------------------------------- standard and custom


def test_standard_events_are_the_twelve_of_the_contract() -> None:
    assert isinstance(STANDARD_EVENTS, tuple)
    assert len(STANDARD_EVENTS) == 12
    assert set(STANDARD_EVENTS) == CONTRACT_STANDARD_EVENTS
    assert all(isinstance(name, tuple) for name in STANDARD_EVENTS)


async def test_default_experiment_collects_every_standard_event(rt: Runtime) -> None:
    exp = await rt.start_experiment("standard")
    for name in sorted(CONTRACT_STANDARD_EVENTS):
        emit(".".join(name))
    await rt.flush()
    names = [event.event_name for event in await rt.get_all(exp.id)]
    assert names == sorted(CONTRACT_STANDARD_EVENTS)


@pytest.mark.parametrize(
    "name",
    [
        "myapp.request.stop",
        "req_llm.request",
        "req_llm.request.stop.extra",
        "req_llm",
        "altar.tool.exception",
        "REQ_LLM.request.stop",
    ],
)
async def test_non_standard_name_not_collected_by_default(rt: Runtime, name: str) -> None:
    exp = await rt.start_experiment("standard")
    emit(name, {}, {"i": "other"})
    emit(STOP, {}, {"i": "standard"})
    assert await collected_indices(rt, exp.id) == ["standard"]
    assert (await rt.streaming_metrics(exp.id)).event_counts == {STOP: 1}


async def test_custom_event_list_replaces_standard(rt: Runtime) -> None:
    exp = await rt.start_experiment("custom", events=["myapp.a", ("other", "x", "y")])
    emit("myapp.a", {}, {"i": 1})
    emit(STOP, {}, {"i": 2})
    emit(("other", "x", "y"), {}, {"i": 3})
    emit("myapp.a.b", {}, {"i": 4})
    emit("other.x", {}, {"i": 5})
    assert await collected_indices(rt, exp.id) == [1, 3]


async def test_empty_event_list_collects_nothing(rt: Runtime) -> None:
    exp = await rt.start_experiment("deaf", events=[])
    emit(STOP)
    emit("myapp.a")
    assert await collected_indices(rt, exp.id) == []


async def test_wildcard_matches_longer_names_only(rt: Runtime) -> None:
    exp = await rt.start_experiment("wild", events=["myapp.*"])
    emit("myapp.a", {}, {"i": "myapp.a"})
    emit("myapp.a.b", {}, {"i": "myapp.a.b"})
    emit(("myapp", "x", "y", "z"), {}, {"i": "myapp.x.y.z"})
    emit("myapp", {}, {"i": "myapp"})
    emit("myappx.a", {}, {"i": "myappx.a"})
    emit("other.myapp.a", {}, {"i": "other.myapp.a"})
    emit(STOP, {}, {"i": STOP})
    assert await collected_indices(rt, exp.id) == ["myapp.a", "myapp.a.b", "myapp.x.y.z"]
    counts = (await rt.streaming_metrics(exp.id)).event_counts
    assert counts == {"myapp.a": 1, "myapp.a.b": 1, "myapp.x.y.z": 1}


async def test_nested_wildcard_and_exact_mix(rt: Runtime) -> None:
    exp = await rt.start_experiment("wild", events=[("myapp", "db", "*"), "req_llm.request.stop"])
    emit("myapp.db.query", {}, {"i": 1})
    emit("myapp.db", {}, {"i": 2})
    emit("myapp.http.get", {}, {"i": 3})
    emit(STOP, {}, {"i": 4})
    emit("req_llm.request.start", {}, {"i": 5})
    assert await collected_indices(rt, exp.id) == [1, 4]


async def test_bad_event_list_rejected(rt: Runtime) -> None:
    with pytest.raises(ValueError, match="non-empty"):
        await rt.start_experiment("bad", events=["ok.name", "a..b"])
    with pytest.raises(TypeError):
        await rt.start_experiment("bad", events=[42])  # type: ignore[list-item]


# ------------------------------------------------------------------- ordering


async def test_pause_resume_stop_ordering(rt: Runtime) -> None:
    exp = await rt.start_experiment("order")
    emit(STOP, {}, {"i": "before-pause"})
    await rt.pause_experiment(exp.id)
    emit(STOP, {}, {"i": "while-paused"})
    await rt.resume_experiment(exp.id)
    emit(STOP, {}, {"i": "after-resume"})
    await rt.stop_experiment(exp.id)
    emit(STOP, {}, {"i": "after-stop"})
    assert await collected_indices(rt, exp.id) == ["before-pause", "after-resume"]


async def test_many_events_before_pause_all_collected(rt: Runtime) -> None:
    exp = await rt.start_experiment("order")
    for i in range(3000):
        emit(STOP, {}, {"i": i})
    await rt.pause_experiment(exp.id)
    for i in range(3000, 3100):
        emit(STOP, {}, {"i": i})
    assert await collected_indices(rt, exp.id) == list(range(3000))


async def test_events_before_stop_collected(rt: Runtime) -> None:
    exp = await rt.start_experiment("order")
    for i in range(500):
        emit(STOP, {}, {"i": i})
    await rt.stop_experiment(exp.id)
    emit(STOP, {}, {"i": "late"})
    assert await collected_indices(rt, exp.id) == list(range(500))
    assert (await rt.streaming_metrics(exp.id)).dropped == 0


async def test_pause_of_one_experiment_leaves_others(rt: Runtime) -> None:
    paused = await rt.start_experiment("paused")
    running = await rt.start_experiment("running")
    await rt.pause_experiment(paused.id)
    emit(STOP, {}, {"i": 1})
    assert await collected_indices(rt, paused.id) == []
    assert await collected_indices(rt, running.id) == [1]


async def test_events_from_a_thread_before_pause_collected(rt: Runtime) -> None:
    exp = await rt.start_experiment("order")

    def burst() -> None:
        for i in range(1000):
            emit(STOP, {}, {"i": i})

    await anyio.to_thread.run_sync(burst)
    await rt.pause_experiment(exp.id)
    await anyio.to_thread.run_sync(emit, STOP, {}, {"i": "late"})
    assert await collected_indices(rt, exp.id) == list(range(1000))


async def test_flush_stores_and_counts(rt: Runtime) -> None:
    exp = await rt.start_experiment("flush")
    for i in range(2500):
        emit(STOP, {"duration": 1_000_000}, {"i": i})
    await rt.flush()
    metrics = await rt.streaming_metrics(exp.id)
    assert metrics.event_counts == {STOP: 2500}
    assert metrics.latency.count == 2500
    assert len(await rt.get_all(exp.id)) == 2500


async def test_flush_covers_events_emitted_from_threads(rt: Runtime) -> None:
    exp = await rt.start_experiment("flush")
    done = threading.Event()

    def burst() -> None:
        for i in range(2000):
            emit(STOP, {}, {"i": i})
        done.set()

    await anyio.to_thread.run_sync(burst)
    assert done.is_set()
    await rt.flush()
    assert (await rt.streaming_metrics(exp.id)).event_counts == {STOP: 2000}


async def test_flush_without_experiments(rt: Runtime) -> None:
    assert await rt.flush() is None
    assert await rt.flush() is None
    assert await rt.list_experiments() == []


async def test_flush_on_closed_runtime(clock: FakeClock, tmp_path: Path) -> None:
    async with Runtime(clock=clock, export_dir=tmp_path) as rt:
        pass
    with pytest.raises(RuntimeClosedError):
        await rt.flush()


# ---------------------------------------------------------- several runtimes


async def test_several_runtimes_each_get_their_own(tmp_path: Path) -> None:
    clock_a = FakeClock(BASE_US)
    clock_b = FakeClock(BASE_US + 7_000_000)
    async with Runtime(clock=clock_a, export_dir=tmp_path / "a") as rt_a:
        a = await rt_a.start_experiment("a", events=["shared.x", "only_a.x"])
        async with Runtime(clock=clock_b, export_dir=tmp_path / "b") as rt_b:
            b = await rt_b.start_experiment("b", events=["shared.x", "only_b.x"])
            b_paused = await rt_b.start_experiment("b-paused", events=["shared.x"])
            await rt_b.pause_experiment(b_paused.id)
            emit("shared.x", {}, {"i": "shared"})
            emit("only_a.x", {}, {"i": "a"})
            emit("only_b.x", {}, {"i": "b"})
            await rt_a.flush()
            assert await collected_indices(rt_b, b.id) == ["shared", "b"]
            assert await collected_indices(rt_b, b_paused.id) == []
            [shared_b, _] = await rt_b.get_all(b.id)
            assert shared_b.timestamp == BASE_US + 7_000_000
            assert shared_b.experiment_id == b.id
            with pytest.raises(LookupError):
                await rt_b.get_all(a.id)
        # rt_b closed: rt_a carries on.
        emit("shared.x", {}, {"i": "after-b-closed"})
        assert await collected_indices(rt_a, a.id) == ["shared", "a", "after-b-closed"]
        events_a = await rt_a.get_all(a.id)
        assert events_a[0].timestamp == BASE_US
        assert {event.experiment_id for event in events_a} == {a.id}


async def test_two_runtimes_same_names(tmp_path: Path, clock: FakeClock) -> None:
    async with (
        Runtime(clock=clock, export_dir=tmp_path) as first,
        Runtime(clock=clock, export_dir=tmp_path) as second,
    ):
        exp_1 = await first.start_experiment("same")
        exp_2 = await second.start_experiment("same")
        for i in range(10):
            emit(STOP, {}, {"i": i})
        assert await collected_indices(first, exp_1.id) == list(range(10))
        assert await collected_indices(second, exp_2.id) == list(range(10))
        assert len(await first.list_experiments()) == 1
        assert len(await second.list_experiments()) == 1


# ----------------------------------------------------------------- concurrency


async def test_threads_and_tasks_emit_concurrently(rt: Runtime) -> None:
    threads, per_thread = 4, 5000
    tasks, per_task = 3, 2000
    exp = await rt.start_experiment("load", events=["load.*"])

    def thread_worker(thread: int) -> None:
        for i in range(per_thread):
            emit("load.thread", {"duration": i}, {"src": f"thread-{thread}", "i": i})

    async def task_worker(task: int) -> None:
        for i in range(per_task):
            emit(("load", "task"), {"duration": i}, {"src": f"task-{task}", "i": i})
            await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as tg:
        for thread in range(threads):
            tg.start_soon(anyio.to_thread.run_sync, thread_worker, thread)
        for task in range(tasks):
            tg.start_soon(task_worker, task)
    await rt.flush()

    events = await rt.get_all(exp.id)
    expected = threads * per_thread + tasks * per_task
    assert len(events) == expected
    assert len({event.event_id for event in events}) == expected
    pairs = Counter((event.metadata["src"], event.metadata["i"]) for event in events)
    assert len(pairs) == expected
    assert set(pairs.values()) == {1}
    assert {src for src, _ in pairs} == {f"thread-{t}" for t in range(threads)} | {
        f"task-{t}" for t in range(tasks)
    }
    metrics = await rt.streaming_metrics(exp.id)
    assert metrics.dropped == 0
    assert metrics.event_counts == {
        "load.thread": threads * per_thread,
        "load.task": tasks * per_task,
    }


async def test_thread_started_with_threading_joined_off_loop(rt: Runtime) -> None:
    exp = await rt.start_experiment("load", events=["load.*"])

    def worker(thread: int) -> None:
        for i in range(3000):
            emit("load.raw", {}, {"src": thread, "i": i})

    raw_threads = [threading.Thread(target=worker, args=(t,)) for t in range(3)]
    for thread in raw_threads:
        thread.start()
    for i in range(1000):
        emit("load.loop", {}, {"src": "loop", "i": i})
        await anyio.lowlevel.checkpoint()
    for thread in raw_threads:
        await anyio.to_thread.run_sync(thread.join)
    await rt.flush()
    events = await rt.get_all(exp.id)
    pairs = {(event.metadata["src"], event.metadata["i"]) for event in events}
    assert len(events) == len(pairs) == 3 * 3000 + 1000


# ---------------------------------------------------------------------- drops


async def test_full_mailbox_drops_exactly(clock: FakeClock, tmp_path: Path) -> None:
    async with (
        Runtime(clock=clock, export_dir=tmp_path, mailbox_size=10) as small,
        Runtime(clock=clock, export_dir=tmp_path) as large,
    ):
        tight = await small.start_experiment("tight")
        tight_too = await small.start_experiment("tight-too")
        roomy = await large.start_experiment("roomy")
        for i in range(25):  # no await: the actors cannot drain in between
            emit(STOP, {"duration": 1_000_000}, {"i": i})
        await small.flush()
        await large.flush()

        assert await collected_indices(small, tight.id) == list(range(10))
        assert await collected_indices(small, tight_too.id) == list(range(10))
        assert await collected_indices(large, roomy.id) == list(range(25))
        tight_metrics = await small.streaming_metrics(tight.id)
        assert tight_metrics.dropped == 15
        assert tight_metrics.event_counts == {STOP: 10}
        assert tight_metrics.latency.count == 10
        assert (await small.streaming_metrics(tight_too.id)).dropped == 15
        assert (await large.streaming_metrics(roomy.id)).dropped == 0

        # Once drained, the small mailbox takes events again; drops accumulate.
        for i in range(25, 37):
            emit(STOP, {}, {"i": i})
        await small.flush()
        assert await collected_indices(small, tight.id) == [*range(10), *range(25, 35)]
        assert (await small.streaming_metrics(tight.id)).dropped == 17


async def test_drops_not_counted_by_paused_or_other_experiments(
    clock: FakeClock, tmp_path: Path
) -> None:
    async with Runtime(clock=clock, export_dir=tmp_path, mailbox_size=5) as rt:
        noisy = await rt.start_experiment("noisy")
        quiet = await rt.start_experiment("quiet", events=["quiet.only"])
        paused = await rt.start_experiment("paused")
        await rt.pause_experiment(paused.id)
        for _ in range(8):
            emit(STOP)
        emit("quiet.only")
        await rt.flush()
        assert (await rt.streaming_metrics(noisy.id)).dropped == 3
        assert (await rt.streaming_metrics(quiet.id)).dropped == 0
        assert (await rt.streaming_metrics(paused.id)).dropped == 0
        assert len(await rt.get_all(noisy.id)) == 5
        assert len(await rt.get_all(quiet.id)) == 1


async def test_reset_streaming_keeps_dropped(clock: FakeClock, tmp_path: Path) -> None:
    async with Runtime(clock=clock, export_dir=tmp_path, mailbox_size=3) as rt:
        exp = await rt.start_experiment("reset")
        for _ in range(7):
            emit(STOP, {"duration": 1})
        await rt.flush()
        await rt.reset_streaming_metrics(exp.id)
        metrics = await rt.streaming_metrics(exp.id)
        assert metrics.dropped == 4
        assert metrics.event_counts == {}
        assert len(await rt.get_all(exp.id)) == 3
