"""span: start/stop/exception events around a block, with `with` and `async with`."""

from __future__ import annotations

import time

import pytest

from telemetry_actors import Event, Runtime, span


class Boom(Exception):
    """The body's failure."""


def now_us() -> int:
    return time.time_ns() // 1000


async def events_of(rt: Runtime, experiment_id: str) -> list[Event]:
    await rt.flush()
    return await rt.get_all(experiment_id)


def assert_start(event: Event, prefix: tuple[str, ...], before_us: int, after_us: int) -> None:
    assert event.event_name == (*prefix, "start")
    assert set(event.measurements) == {"system_time"}
    system_time = event.measurements["system_time"]
    assert type(system_time) is int
    assert before_us <= system_time <= after_us


def assert_duration(event: Event) -> int:
    assert set(event.measurements) == {"duration"}
    duration = event.measurements["duration"]
    assert type(duration) is int
    assert duration >= 0
    assert event.latency_ms == duration / 1e6
    return duration


# ----------------------------------------------------------------- normal exit


async def test_sync_span_start_and_stop(rt: Runtime) -> None:
    exp = await rt.start_experiment("span")
    before = now_us()
    with span("altar.tool", tool="search", attempt=1) as s:
        s.metadata["hits"] = 3
    after = now_us()
    start, stop = await events_of(rt, exp.id)
    assert_start(start, ("altar", "tool"), before, after)
    assert stop.event_name == ("altar", "tool", "stop")
    assert_duration(stop)
    assert stop.metadata == {"tool": "search", "attempt": 1, "hits": 3}
    assert stop.success is None
    assert stop.timestamp >= start.timestamp


async def test_async_span_start_and_stop(rt: Runtime) -> None:
    exp = await rt.start_experiment("span")
    before = now_us()
    async with span(("altar", "tool"), tool="fetch") as s:
        s.metadata["bytes"] = 512
        s.metadata["tool"] = "fetch-v2"
    after = now_us()
    start, stop = await events_of(rt, exp.id)
    assert_start(start, ("altar", "tool"), before, after)
    assert stop.event_name == ("altar", "tool", "stop")
    assert_duration(stop)
    assert stop.metadata == {"tool": "fetch-v2", "bytes": 512}


async def test_span_stop_metadata_feeds_enrichment(rt: Runtime) -> None:
    exp = await rt.start_experiment("span", events=["llm.call.*"])
    with span("llm.call", model="gpt-4", session_id="s-1") as s:
        s.metadata["tokens"] = {"prompt": 1000, "completion": 500}
        s.metadata["response"] = "hi"
    _, stop = await events_of(rt, exp.id)
    assert stop.model == "gpt-4"
    assert stop.session_id == "s-1"
    assert stop.success is True
    assert stop.cost_usd == (1000 * 30.0 + 500 * 60.0) / 1e6


async def test_span_without_metadata(rt: Runtime) -> None:
    exp = await rt.start_experiment("span")
    with span("req_llm.request") as s:
        assert s.metadata == {}
    start, stop = await events_of(rt, exp.id)
    assert start.event_name == ("req_llm", "request", "start")
    assert stop.event_name == ("req_llm", "request", "stop")
    assert stop.metadata == {}


@pytest.mark.parametrize("prefix", ["job.run", ("job", "run")])
async def test_prefix_as_str_or_tuple(rt: Runtime, prefix: str | tuple[str, ...]) -> None:
    exp = await rt.start_experiment("span", events=["job.*"])
    with span(prefix):
        pass
    async with span(prefix):
        pass
    names = [event.event_name for event in await events_of(rt, exp.id)]
    assert names == [
        ("job", "run", "start"),
        ("job", "run", "stop"),
        ("job", "run", "start"),
        ("job", "run", "stop"),
    ]


async def test_nested_spans(rt: Runtime) -> None:
    exp = await rt.start_experiment("span", events=["outer.*", "inner.*"])
    with span("outer", level=1):
        async with span("inner", level=2):
            pass
    events = await events_of(rt, exp.id)
    assert [(event.event_name, event.metadata.get("level")) for event in events] == [
        (("outer", "start"), 1),
        (("inner", "start"), 2),
        (("inner", "stop"), 2),
        (("outer", "stop"), 1),
    ]
    outer_stop, inner_stop = events[3], events[2]
    assert outer_stop.measurements["duration"] >= inner_stop.measurements["duration"]


async def test_span_collects_only_matching_names(rt: Runtime) -> None:
    exp = await rt.start_experiment("span", events=["job.run.stop"])
    with span("job.run"):
        pass
    [stop] = await events_of(rt, exp.id)
    assert stop.event_name == ("job", "run", "stop")


# -------------------------------------------------------------- exception exit


async def test_sync_span_exception(rt: Runtime) -> None:
    exp = await rt.start_experiment("span", events=["job.*"])
    error = Boom("it broke")

    def body() -> None:
        with span("job.run", tool="x") as s:
            s.metadata["step"] = 2
            raise error

    with pytest.raises(Boom, match="it broke") as caught:
        body()
    assert caught.value is error
    start, failure = await events_of(rt, exp.id)
    assert start.event_name == ("job", "run", "start")
    assert failure.event_name == ("job", "run", "exception")
    assert_duration(failure)
    assert failure.metadata == {
        "tool": "x",
        "step": 2,
        "error": repr(error),
        "kind": "Boom",
    }
    assert failure.metadata["error"] == "Boom('it broke')"
    assert failure.success is False


async def test_async_span_exception(rt: Runtime) -> None:
    exp = await rt.start_experiment("span", events=["job.*"])
    error = ValueError("bad input")
    with pytest.raises(ValueError, match="bad input") as caught:
        async with span(("job", "run"), attempt=3):
            raise error
    assert caught.value is error
    start, failure = await events_of(rt, exp.id)
    assert start.event_name == ("job", "run", "start")
    assert failure.event_name == ("job", "run", "exception")
    assert_duration(failure)
    assert failure.metadata == {
        "attempt": 3,
        "error": "ValueError('bad input')",
        "kind": "ValueError",
    }


async def test_exception_path_emits_no_stop(rt: Runtime) -> None:
    exp = await rt.start_experiment("span", events=["req_llm.*"])
    with pytest.raises(KeyError), span("req_llm.request"):
        raise KeyError("k")
    names = [event.event_name for event in await events_of(rt, exp.id)]
    assert names == [("req_llm", "request", "start"), ("req_llm", "request", "exception")]


async def test_exception_metadata_does_not_leak_into_span_metadata(rt: Runtime) -> None:
    exp = await rt.start_experiment("span", events=["job.*"])
    s = span("job.run", tool="x")
    with pytest.raises(Boom), s:
        raise Boom
    assert s.metadata == {"tool": "x"}
    _, failure = await events_of(rt, exp.id)
    assert failure.metadata == {"tool": "x", "error": "Boom()", "kind": "Boom"}


async def test_exception_traceback_preserved(rt: Runtime) -> None:
    await rt.start_experiment("span", events=["job.*"])

    def fail() -> None:
        raise Boom("deep")

    with pytest.raises(Boom) as caught, span("job.run"):
        fail()
    assert caught.traceback[-1].name == "fail"


# ------------------------------------------------------------------ bad prefix


@pytest.mark.parametrize(
    ("prefix", "error"),
    [("", ValueError), ((), ValueError), ("a..b", ValueError), (5, TypeError)],
)
def test_bad_prefix_raises(prefix: object, error: type[Exception]) -> None:
    entered = False
    with pytest.raises(error), span(prefix):  # type: ignore[arg-type]
        entered = True
    assert entered is False


def test_span_without_listener_is_harmless() -> None:
    with span("nobody.listens", x=1) as s:
        s.metadata["y"] = 2
    assert s.metadata == {"x": 1, "y": 2}
