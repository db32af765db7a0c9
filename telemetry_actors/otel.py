"""Bridges to OpenTelemetry: GenAI spans in, GenAI metrics out (the ``otel`` extra).

- :class:`SpanBridge` is a ``SpanProcessor``: add it to your
  ``TracerProvider`` and every ended span carrying ``gen_ai.operation.name``
  (OpenTelemetry's GenAI semantic conventions, as set by the OpenAI, Anthropic
  or LangChain instrumentations) becomes an event for experiments collecting
  ``"gen_ai.*"``. Code instrumented with OpenTelemetry feeds experiments
  with no change.
- :class:`MetricsBridge` records every event stored by a runtime's running
  experiments into the GenAI client histograms
  ``gen_ai.client.operation.duration`` and ``gen_ai.client.token.usage``,
  so experiments show up in any OpenTelemetry metrics backend.

This module imports ``opentelemetry`` (``pip install 'telemetry-actors[otel]'``);
``import telemetry_actors`` does not import it.

Example:
    >>> from opentelemetry.sdk.trace import TracerProvider
    >>> from telemetry_actors.otel import SpanBridge
    >>> provider = TracerProvider()
    >>> provider.add_span_processor(SpanBridge())
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self

import numpy as np
from opentelemetry.context import Context
from opentelemetry.metrics import MeterProvider, get_meter_provider
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import StatusCode

from ._actors._state import StoredBatch
from ._emit._emit import emit
from ._experiment import ExperimentStatus
from ._io._plain import safe_str, utf8_text
from ._runtime import Runtime

__all__ = ["DURATION_BUCKETS", "TOKEN_BUCKETS", "MetricsBridge", "SpanBridge"]

logger = logging.getLogger("telemetry_actors")

_OPERATION = "gen_ai.operation.name"
#: Where each piece of metadata is read from, first match wins (newest names first).
_MODEL_KEYS = ("gen_ai.response.model", "gen_ai.request.model")
_PROVIDER_KEYS = ("gen_ai.provider.name", "gen_ai.system")
_INPUT_KEYS = ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens")
_OUTPUT_KEYS = ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens")

#: Bucket boundaries the GenAI semantic conventions advise for the two histograms.
DURATION_BUCKETS = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)  # fmt: skip
TOKEN_BUCKETS = tuple(float(4**power) for power in range(14))  # 1, 4, 16 … 67,108,864

EventArguments = tuple[tuple[str, str, str], dict[str, int], dict[str, Any]]


# --------------------------------------------------------------------- spans in


class SpanBridge(SpanProcessor):
    """An OpenTelemetry span processor that emits an event for every ended GenAI span.

    A span carrying a non-empty ``gen_ai.operation.name`` (say ``"chat"``)
    becomes ``emit(("gen_ai", operation, "stop" or "exception"),
    {"duration": ns}, metadata)`` when it ends. Metadata: ``model``
    (``gen_ai.response.model``, else ``gen_ai.request.model``), ``provider``
    (``gen_ai.provider.name``, else the older ``gen_ai.system``), ``tokens``
    (``{"input_tokens": …, "output_tokens": …}`` from ``gen_ai.usage.*``),
    ``trace_id`` and ``span_id`` (hex), ``parent_span_id`` when it has a
    parent, ``span_name``, and every ``gen_ai.*`` attribute as it is. A span
    whose status is ERROR or that recorded an exception is an ``exception``
    event with ``error`` (the status description or exception message) and
    ``kind`` (the exception's class name), as :func:`~telemetry_actors.span`
    gives.

    Cost: one ``emit`` per GenAI span, in the thread that ends it; spans of
    other kinds cost one dict lookup. ``on_end`` never raises: a span it
    cannot read is logged on the ``telemetry_actors`` logger and skipped.
    """

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        """Nothing to do when a span starts."""

    def on_end(self, span: ReadableSpan) -> None:
        """Emit the event of an ended GenAI span (see the class docstring)."""
        try:
            arguments = span_event(span)
            if arguments is not None:
                emit(*arguments)
        except Exception:  # a tracer must never fail because of us
            logger.exception("SpanBridge could not turn an ended span into an event")

    def shutdown(self) -> None:
        """Nothing to release: events are already emitted."""

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Nothing is buffered here; ``await rt.flush()`` waits for the experiments."""
        return True


def span_event(span: ReadableSpan) -> EventArguments | None:
    """The ``emit`` arguments of an ended span, or None when it is no GenAI span."""
    attributes: Mapping[str, Any] = span.attributes or {}
    operation = attributes.get(_OPERATION)
    if type(operation) is not str or not operation:
        return None
    metadata: dict[str, Any] = {
        key: list(value) if isinstance(value, tuple) else value
        for key, value in attributes.items()
        if key.startswith("gen_ai.")
    }
    for field, keys in (("model", _MODEL_KEYS), ("provider", _PROVIDER_KEYS)):
        value = _first(attributes, keys)
        if value is not None:
            metadata[field] = value
    tokens = {
        name: value
        for name, keys in (("input_tokens", _INPUT_KEYS), ("output_tokens", _OUTPUT_KEYS))
        if (value := _first(attributes, keys)) is not None
    }
    if tokens:
        metadata["tokens"] = tokens
    context = span.context
    if context is not None:
        metadata["trace_id"] = format(context.trace_id, "032x")
        metadata["span_id"] = format(context.span_id, "016x")
    if span.parent is not None:
        metadata["parent_span_id"] = format(span.parent.span_id, "016x")
    metadata["span_name"] = span.name
    failure = _failure(span)
    if failure is not None:
        metadata["error"], metadata["kind"] = failure
    start, end = span.start_time, span.end_time
    measurements = {"duration": end - start} if start is not None and end is not None else {}
    outcome = "stop" if failure is None else "exception"
    return ("gen_ai", operation, outcome), measurements, metadata


def _first(attributes: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        value = attributes.get(key)
        if value is not None:
            return value
    return None


def _failure(span: ReadableSpan) -> tuple[str, str] | None:
    """(error, kind) when the span failed: status ERROR or an ``exception`` event."""
    recorded = [event for event in span.events if event.name == "exception"]
    status = span.status
    if status.status_code is not StatusCode.ERROR and not recorded:
        return None
    details: Mapping[str, Any] = (recorded[-1].attributes or {}) if recorded else {}
    qualified = details.get("exception.type") or (span.attributes or {}).get("error.type")
    kind = str(qualified).rsplit(".", 1)[-1] if qualified else "Error"
    message = details.get("exception.message")
    error = status.description or (f"{kind}: {message}" if message else kind)
    return str(error), kind


# ------------------------------------------------------------------ metrics out


class MetricsBridge:
    """Records stored events into the OpenTelemetry GenAI client histograms.

    For every event a running experiment of ``rt`` stores: its
    ``latency_ms`` / 1000 into ``gen_ai.client.operation.duration`` (unit
    ``s``), and its prompt and completion tokens into
    ``gen_ai.client.token.usage`` (unit ``{token}``, one value each with
    ``gen_ai.token.type`` ``"input"`` / ``"output"``). Attributes:
    ``experiment.id``, ``experiment.condition`` and, when the event has
    them, ``gen_ai.request.model`` and ``gen_ai.provider.name``. Events
    without a latency or tokens (and negative values, which histograms do
    not take) record nothing.

    It listens to the actors' stored blocks, on the event loop: per block a
    few numpy operations, then one ``Histogram.record`` per value (about 5 µs
    each with the OpenTelemetry SDK), so about 15 µs per LLM-call event.
    ``close()`` (or leaving ``with``) stops it.

    Args:
        rt: the runtime whose experiments to record.
        meter_provider: where the histograms live; the global provider when None.

    Example:
        >>> import anyio
        >>> from opentelemetry.sdk.metrics import MeterProvider
        >>> from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        >>> async def main(reader: InMemoryMetricReader) -> None:
        ...     async with Runtime() as rt:
        ...         with MetricsBridge(rt, MeterProvider(metric_readers=[reader])):
        ...             await rt.start_experiment("otel", events=["llm.*"])
        ...             emit("llm.call", {"duration": 250_000_000}, {"model": "gpt-4"})
        ...             await rt.flush()
        >>> reader = InMemoryMetricReader()
        >>> anyio.run(main, reader)
        >>> metric = reader.get_metrics_data().resource_metrics[0].scope_metrics[0].metrics[0]
        >>> metric.name, metric.data.data_points[0].sum
        ('gen_ai.client.operation.duration', 0.25)
    """

    def __init__(self, rt: Runtime, meter_provider: MeterProvider | None = None) -> None:
        from . import __version__

        provider = meter_provider if meter_provider is not None else get_meter_provider()
        meter = provider.get_meter("telemetry_actors", __version__)
        self._duration = meter.create_histogram(
            "gen_ai.client.operation.duration",
            unit="s",
            description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self._tokens = meter.create_histogram(
            "gen_ai.client.token.usage",
            unit="{token}",
            description="Measures number of input and output tokens used.",
            explicit_bucket_boundaries_advisory=TOKEN_BUCKETS,
        )
        self._listeners = rt._listeners
        self._listeners.append(self._record)

    def close(self) -> None:
        """Stop recording (unregister from the runtime). Idempotent."""
        if self._record in self._listeners:
            self._listeners.remove(self._record)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _record(self, batch: StoredBatch) -> None:
        """Record one stored block. O(rows) numpy, then one record per value."""
        record = batch.record
        if record.status is not ExperimentStatus.RUNNING:
            return
        block = batch.block
        with np.errstate(invalid="ignore"):  # NaN (no value) compares False
            has_latency = block.latency >= 0
            has_input = block.prompt >= 0
            has_output = block.completion >= 0
        rows = np.flatnonzero(has_latency | has_input | has_output)
        if not len(rows):
            return
        base = {"experiment.id": record.id, "experiment.condition": utf8_text(record.condition)}
        cache: dict[tuple[int, int], tuple[dict[str, str], ...]] = {}
        duration, tokens = self._duration.record, self._tokens.record
        for model, provider, seconds, timed, prompt, has_prompt, output, has_completion in zip(
            block.model[rows].tolist(),
            block.provider[rows].tolist(),
            (block.latency[rows] / 1000).tolist(),
            has_latency[rows].tolist(),
            block.prompt[rows].tolist(),
            has_input[rows].tolist(),
            block.completion[rows].tolist(),
            has_output[rows].tolist(),
            strict=True,
        ):
            found = cache.get((model, provider))
            if found is None:
                found = cache[model, provider] = _attributes(base, batch, model, provider)
            plain, as_input, as_output = found
            if timed:
                duration(seconds, plain)
            if has_prompt:
                tokens(prompt, as_input)
            if has_completion:
                tokens(output, as_output)


def _attributes(
    base: dict[str, str], batch: StoredBatch, model: int, provider: int
) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """(operation, input-token, output-token) attributes for a model and provider code."""
    attributes = dict(base)
    for key, code, table in (
        ("gen_ai.request.model", model, batch.models),
        ("gen_ai.provider.name", provider, batch.providers),
    ):
        if 0 <= code < len(table):  # -1: None; -2: a value that has no code
            value = table[code]
            attributes[key] = utf8_text(value) if type(value) is str else safe_str(value)
    return (
        attributes,
        {**attributes, "gen_ai.token.type": "input"},
        {**attributes, "gen_ai.token.type": "output"},
    )
