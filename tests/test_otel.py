"""The OpenTelemetry bridges: spans in (SpanBridge), GenAI metrics out (MetricsBridge)."""

from __future__ import annotations

import doctest
import logging
import math
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import anyio.to_thread
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer

import telemetry_actors.otel
from telemetry_actors import BUILTIN_PRICING, Runtime, emit
from telemetry_actors.otel import MetricsBridge, SpanBridge
from tests.conftest import FakeClock

T0 = 1_735_689_600_000_000_000  # ns


@pytest.fixture
def tracing() -> Iterator[tuple[Tracer, InMemorySpanExporter]]:
    """A tracer whose ended spans go to an in-memory exporter and to a SpanBridge."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    provider.add_span_processor(SpanBridge())
    yield provider.get_tracer("app"), exporter
    provider.shutdown()


def chat(
    tracer: Tracer,
    model: str,
    input_tokens: int,
    output_tokens: int,
    start: int,
    duration_ns: int,
    fail: bool = False,
) -> None:
    """An app's LLM call, instrumented with OpenTelemetry only (no emit)."""
    span = tracer.start_span(
        f"chat {model}",
        kind=SpanKind.CLIENT,
        start_time=start,
        attributes={
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": model,
        },
    )
    if fail:
        span.record_exception(TimeoutError("the model took too long"))
        span.set_status(Status(StatusCode.ERROR, "TimeoutError: the model took too long"))
    else:
        span.set_attribute("gen_ai.usage.input_tokens", input_tokens)
        span.set_attribute("gen_ai.usage.output_tokens", output_tokens)
    span.end(end_time=start + duration_ns)


def price(model: str, input_tokens: int, output_tokens: int) -> float:
    per_input, per_output = BUILTIN_PRICING[model]
    return input_tokens * per_input / 1e6 + output_tokens * per_output / 1e6


# --------------------------------------------------------------------- SpanBridge


async def test_an_app_traced_with_opentelemetry_only_fills_an_experiment(
    rt: Runtime, tracing: tuple[Tracer, InMemorySpanExporter]
) -> None:
    tracer, exporter = tracing
    exp = await rt.start_experiment("otel-app", events=["gen_ai.*"])

    def app() -> None:  # runs in a worker thread, as a blocking client would
        chat(tracer, "gpt-4", 1_000, 200, T0, 1_200_000_000)
        chat(tracer, "gpt-3.5-turbo", 400, 100, T0 + 10**9, 300_000_000)
        chat(tracer, "gpt-4", 2_000, 500, T0 + 2 * 10**9, 2_100_000_000)
        chat(tracer, "gpt-4", 50, 0, T0 + 3 * 10**9, 900_000_000, fail=True)
        with tracer.start_as_current_span("not a GenAI span"):
            pass

    await anyio.to_thread.run_sync(app)
    await rt.flush()

    spans = [span for span in exporter.get_finished_spans() if span.attributes]
    genai = [span for span in spans if "gen_ai.operation.name" in (span.attributes or {})]
    assert len(genai) == 4
    metrics = await rt.calculate_metrics(exp.id)
    assert metrics.summary.total_events == 4
    assert metrics.events == {"gen_ai.chat.stop": 3, "gen_ai.chat.exception": 1}
    durations_ms = [(s.end_time - s.start_time) / 1e6 for s in genai]  # type: ignore[operator]
    assert durations_ms == [1200.0, 300.0, 2100.0, 900.0]
    assert metrics.latency.count == 4
    assert metrics.latency.mean == pytest.approx(sum(durations_ms) / 4, rel=1e-12)
    assert metrics.tokens.count == 3
    assert metrics.tokens.total_prompt == 3_400
    assert metrics.tokens.total_completion == 800
    expected_cost = price("gpt-4", 1_000, 200) + price("gpt-3.5-turbo", 400, 100)
    expected_cost += price("gpt-4", 2_000, 500)
    assert metrics.cost.count == 3
    assert metrics.cost.total == pytest.approx(expected_cost, rel=1e-12)
    assert metrics.reliability.failed == 1

    events = await rt.get_all(exp.id)
    for span, event in zip(genai, events, strict=True):
        assert event.measurements == {"duration": span.end_time - span.start_time}  # type: ignore[operator]
        assert event.metadata["trace_id"] == format(span.context.trace_id, "032x")  # type: ignore[union-attr]
        assert event.metadata["span_id"] == format(span.context.span_id, "016x")  # type: ignore[union-attr]
        assert event.provider == "openai"
    failed = events[3]
    assert failed.event_name == ("gen_ai", "chat", "exception")
    assert failed.success is False
    assert failed.metadata["error"] == "TimeoutError: the model took too long"
    assert failed.metadata["kind"] == "TimeoutError"
    assert "tokens" not in failed.metadata


async def test_a_span_shaped_like_the_openai_instrumentation(
    clock: FakeClock, tracing: tuple[Tracer, InMemorySpanExporter]
) -> None:
    tracer, _ = tracing
    pricing = {"gpt-4o-mini-2024-07-18": (0.15, 0.60)}
    async with Runtime(clock=clock, pricing=pricing) as rt:
        exp = await rt.start_experiment("openai", events=["gen_ai.*"])
        # The attribute names opentelemetry-instrumentation-openai-v2 sets on a chat call.
        with tracer.start_as_current_span("chat gpt-4o-mini", kind=SpanKind.CLIENT) as span:
            span.set_attributes(
                {
                    "gen_ai.operation.name": "chat",
                    "gen_ai.system": "openai",
                    "gen_ai.request.model": "gpt-4o-mini",
                    "gen_ai.request.temperature": 0.2,
                    "server.address": "api.openai.com",
                    "gen_ai.response.id": "chatcmpl-123",
                    "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
                    "gen_ai.response.finish_reasons": ("stop",),
                    "gen_ai.usage.input_tokens": 24,
                    "gen_ai.usage.output_tokens": 7,
                }
            )
        await rt.flush()
        (event,) = await rt.get_all(exp.id)
    assert event.event_name == ("gen_ai", "chat", "stop")
    assert event.model == "gpt-4o-mini-2024-07-18"  # the response model wins
    assert event.provider == "openai"  # from the older gen_ai.system
    assert event.metadata["tokens"] == {"input_tokens": 24, "output_tokens": 7}
    assert event.cost_usd == pytest.approx(24 * 0.15 / 1e6 + 7 * 0.60 / 1e6, rel=1e-12)
    assert event.metadata["gen_ai.response.finish_reasons"] == ["stop"]
    assert event.metadata["gen_ai.request.temperature"] == 0.2
    assert event.metadata["gen_ai.response.id"] == "chatcmpl-123"
    assert event.metadata["span_name"] == "chat gpt-4o-mini"
    assert "server.address" not in event.metadata  # only the gen_ai.* attributes pass
    assert event.latency_ms is not None
    assert event.latency_ms >= 0


async def test_provider_name_wins_over_system_and_parent_is_kept(
    rt: Runtime, tracing: tuple[Tracer, InMemorySpanExporter]
) -> None:
    tracer, _ = tracing
    exp = await rt.start_experiment("agent", events=["gen_ai.*"])
    with tracer.start_as_current_span("invoke_agent") as parent:
        parent.set_attribute("gen_ai.operation.name", "invoke_agent")
        with tracer.start_as_current_span("execute_tool search") as child:
            child.set_attributes(
                {
                    "gen_ai.operation.name": "execute_tool",
                    "gen_ai.provider.name": "anthropic",
                    "gen_ai.system": "old-name",
                }
            )
    await rt.flush()
    tool, agent = await rt.get_all(exp.id)
    if tool.event_name[1] != "execute_tool":
        tool, agent = agent, tool
    assert tool.event_name == ("gen_ai", "execute_tool", "stop")
    assert agent.event_name == ("gen_ai", "invoke_agent", "stop")
    assert tool.provider == "anthropic"
    assert tool.metadata["parent_span_id"] == agent.metadata["span_id"]
    assert tool.metadata["trace_id"] == agent.metadata["trace_id"]
    assert "model" not in tool.metadata
    assert "parent_span_id" not in agent.metadata


def test_on_end_never_raises(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    bridge = SpanBridge()

    class Broken:
        @property
        def attributes(self) -> dict[str, Any]:
            raise RuntimeError("no attributes today")

    with caplog.at_level(logging.ERROR, logger="telemetry_actors"):
        bridge.on_end(Broken())  # type: ignore[arg-type]
    assert "SpanBridge" in caplog.text

    def failing_emit(*args: object) -> None:
        raise ValueError("emit refused")

    monkeypatch.setattr("telemetry_actors.otel.emit", failing_emit)
    provider = TracerProvider()
    provider.add_span_processor(bridge)
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="telemetry_actors"):
        with provider.get_tracer("t").start_as_current_span("chat") as span:
            span.set_attribute("gen_ai.operation.name", "chat")
    assert "emit refused" in caplog.text
    assert bridge.force_flush() is True
    provider.shutdown()


async def test_spans_without_an_operation_name_are_ignored(
    rt: Runtime, tracing: tuple[Tracer, InMemorySpanExporter]
) -> None:
    tracer, exporter = tracing
    exp = await rt.start_experiment("ignored", events=["gen_ai.*"])
    for value in ("", 7):
        with tracer.start_as_current_span("x") as span:
            span.set_attribute("gen_ai.operation.name", value)
    with tracer.start_as_current_span("y") as span:
        span.set_attribute("gen_ai.request.model", "gpt-4")
    await rt.flush()
    assert len(exporter.get_finished_spans()) == 3
    assert await rt.get_all(exp.id) == []


def test_import_telemetry_actors_imports_no_extra() -> None:
    code = (
        "import sys, telemetry_actors; "
        "print(sorted(m for m in ('opentelemetry', 'prometheus_client', 'pyarrow', 'pandas') "
        "if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"


# ------------------------------------------------------------------ MetricsBridge


def points(reader: InMemoryMetricReader) -> dict[str, tuple[str, dict[frozenset[Any], Any]]]:
    """{metric name: (unit, {attributes: data point})} of everything the reader holds."""
    data = reader.get_metrics_data()
    assert data is not None
    found: dict[str, tuple[str, dict[frozenset[Any], Any]]] = {}
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                _, series = found.setdefault(metric.name, (metric.unit or "", {}))
                for point in metric.data.data_points:
                    series[frozenset((point.attributes or {}).items())] = point
    return found


def attrs(
    experiment_id: str, condition: str, model: str | None, provider: str | None
) -> dict[str, str]:
    result = {"experiment.id": experiment_id, "experiment.condition": condition}
    if model is not None:
        result["gen_ai.request.model"] = model
    if provider is not None:
        result["gen_ai.provider.name"] = provider
    return result


async def test_metrics_bridge_records_genai_histograms(rt: Runtime) -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    a = await rt.start_experiment("a", condition="control", events=["llm.*"])
    b = await rt.start_experiment("b", condition="treatment", events=["llm.*"])
    stopped = await rt.start_experiment("s", events=["other.*"])
    await rt.stop_experiment(stopped.id)
    with MetricsBridge(rt, provider):
        emit("llm.call", {"duration": 1_500_000_000}, {"model": "gpt-4", "provider": "openai",
             "tokens": {"prompt": 100, "completion": 40}})  # fmt: skip
        emit("llm.call", {"duration": 250_000_000}, {"model": "gpt-4", "provider": "openai",
             "tokens": {"prompt": 60, "completion": 8}})  # fmt: skip
        emit("llm.call", {"duration": 500_000_000}, {"model": "claude-3-opus"})
        emit("llm.start", {"system_time": 1})  # no latency, no tokens: nothing recorded
        emit("llm.call", {"duration": math.nan}, {"tokens": {"prompt": 4}})  # NaN is absent
        await rt.flush()
        await rt.insert(stopped.id, {"timestamp": 1, "latency_ms": 9.0})  # not running
    # Both running experiments got the five events; three have a duration, three tokens.
    found = points(reader)
    duration_unit, duration = found["gen_ai.client.operation.duration"]
    tokens_unit, tokens = found["gen_ai.client.token.usage"]
    assert duration_unit == "s"
    assert tokens_unit == "{token}"
    for exp in (a, b):
        gpt4 = duration[frozenset(attrs(exp.id, exp.condition, "gpt-4", "openai").items())]
        assert gpt4.count == 2
        assert gpt4.sum == 1.75
        assert tuple(gpt4.explicit_bounds)[:3] == (0.01, 0.02, 0.04)  # the GenAI advice
        opus = duration[frozenset(attrs(exp.id, exp.condition, "claude-3-opus", None).items())]
        assert (opus.count, opus.sum) == (1, 0.5)
        for kind, count, total in (("input", 2, 160), ("output", 2, 48)):
            key = {**attrs(exp.id, exp.condition, "gpt-4", "openai"), "gen_ai.token.type": kind}
            point = tokens[frozenset(key.items())]
            assert (point.count, point.sum) == (count, total)
        # {"prompt": 4} alone: enrichment counts 0 completion tokens, and so does the bridge.
        for kind, total in (("input", 4), ("output", 0)):
            key = {**attrs(exp.id, exp.condition, None, None), "gen_ai.token.type": kind}
            point = tokens[frozenset(key.items())]
            assert (point.count, point.sum) == (1, total)
    assert len(duration) == 4  # (gpt-4, opus) x two experiments; the stopped one: none
    assert len(tokens) == 8
    assert sum(point.count for point in duration.values()) == 6


async def test_metrics_bridge_close_unregisters(rt: Runtime) -> None:
    reader = InMemoryMetricReader()
    bridge = MetricsBridge(rt, MeterProvider(metric_readers=[reader]))
    assert len(rt._listeners) == 1
    exp = await rt.start_experiment("c", events=["llm.*"])
    emit("llm.call", {"duration": 2_000_000_000}, {"model": "gpt-4"})
    await rt.flush()
    bridge.close()
    bridge.close()  # twice is fine
    assert rt._listeners == []
    emit("llm.call", {"duration": 4_000_000_000}, {"model": "gpt-4"})
    await rt.flush()
    assert len(await rt.get_all(exp.id)) == 2
    (point,) = points(reader)["gen_ai.client.operation.duration"][1].values()
    assert (point.count, point.sum) == (1, 2.0)


def test_docstring_examples_run() -> None:
    result = doctest.testmod(telemetry_actors.otel, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 4
    assert result.failed == 0
