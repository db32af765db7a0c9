"""A Prometheus collector for a runtime (the ``prometheus`` extra).

:class:`RuntimeCollector` exposes the live statistics of every experiment of
a :class:`~telemetry_actors.Runtime`, labelled ``experiment_id``,
``experiment_name`` and ``condition``:

- ``telemetry_actors_events_total``: events collected (the sum of
  ``StreamingMetrics.event_counts``);
- ``telemetry_actors_errors_total``: events whose ``success`` is False;
- ``telemetry_actors_dropped_total``: events lost to a full mailbox;
- ``telemetry_actors_cost_usd_total``: the total cost in USD;
- ``telemetry_actors_latency_milliseconds``: a histogram of latencies (ms),
  exact cumulative buckets from ``StreamingMetrics.latency_histogram``.

``reset_streaming_metrics`` starts the counters afresh, which Prometheus
reads as a counter reset.

Prometheus scrapes from its HTTP server thread, while the runtime lives on
its event loop: each scrape hands one coroutine to the loop
(``asyncio.run_coroutine_threadsafe``) and waits for its answer in the
scraping thread, so the loop is never blocked and the figures are read
where they live. A closed runtime or a closed loop gives no samples, never
an error.

Example:
    >>> from prometheus_client import CollectorRegistry, start_http_server
    >>> async def main() -> None:  # doctest: +SKIP
    ...     async with Runtime() as rt:
    ...         registry = CollectorRegistry()
    ...         registry.register(RuntimeCollector(rt))  # inside the loop
    ...         start_http_server(9464, addr="127.0.0.1", registry=registry)
    ...         ...
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Iterator, Sequence

from prometheus_client.metrics_core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from ._exceptions import ExperimentNotFoundError, TelemetryActorsError
from ._experiment import Experiment
from ._io._plain import utf8_text
from ._results import StreamingMetrics
from ._runtime import Runtime
from ._stats._streaming import LATENCY_BUCKETS_MS

__all__ = ["RuntimeCollector"]

logger = logging.getLogger("telemetry_actors")

LABELS = ("experiment_id", "experiment_name", "condition")

Reading = list[tuple[Experiment, StreamingMetrics]]


class RuntimeCollector(Collector):
    """Live statistics of every experiment of a runtime, for ``prometheus_client``.

    Create it inside the runtime's event loop (an ``async`` function, an
    ASGI lifespan) and register it in a ``CollectorRegistry``. Each scrape
    costs one ``list_experiments`` and one ``streaming_metrics`` per
    experiment, run on the loop (O(experiments · (buckets + event names)));
    the scraping thread waits at most ``timeout`` seconds, then reports no
    samples and logs a warning.

    Args:
        rt: the runtime to expose.
        timeout: seconds a scrape waits for the event loop.

    Raises:
        RuntimeError: created outside a running asyncio event loop.
    """

    def __init__(self, rt: Runtime, *, timeout: float = 5.0) -> None:
        try:
            self._loop = asyncio.get_running_loop()
        except RuntimeError:
            raise RuntimeError(
                "create RuntimeCollector inside the runtime's event loop (asyncio: in an async "
                "function or an ASGI lifespan) so that scrapes can reach it"
            ) from None
        self._rt = rt
        self._timeout = timeout

    def describe(self) -> Iterator[Metric]:
        """The metric families, without samples (what registries check names with)."""
        return iter(families([]))

    def collect(self) -> Iterator[Metric]:
        """The families with one sample set per experiment; none when the runtime closed.

        Raises:
            RuntimeError: called on the event loop's own thread, where waiting
                for the loop would block it forever; scrape from another thread
                (``prometheus_client.start_http_server``, or
                ``await anyio.to_thread.run_sync(generate_latest, registry)``).
        """
        return iter(families(self._read()))

    def _read(self) -> Reading:
        loop = self._loop
        if loop.is_closed():
            return []
        if _running_loop() is loop:
            raise RuntimeError(
                "RuntimeCollector.collect() was called on the event loop's own thread, "
                "which it would block; scrape from another thread, e.g. "
                "'await anyio.to_thread.run_sync(generate_latest, registry)'"
            )
        coroutine = read_runtime(self._rt)
        try:
            future = asyncio.run_coroutine_threadsafe(coroutine, loop)
        except RuntimeError:  # the loop closed since the check above
            coroutine.close()
            return []
        try:
            return future.result(timeout=self._timeout)
        except TimeoutError:
            future.cancel()
            logger.warning(
                "Prometheus scrape: the runtime's event loop did not answer within %g s; "
                "this scrape has no samples",
                self._timeout,
            )
            return []
        except TelemetryActorsError:  # the runtime closed
            return []
        except asyncio.CancelledError:  # the loop shut down while the scrape waited
            return []


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


async def read_runtime(rt: Runtime) -> Reading:
    """Every experiment with its live statistics, in start order (on the loop).

    Raises:
        RuntimeClosedError: the runtime is not open.
    """
    reading: Reading = []
    for experiment in await rt.list_experiments():
        try:
            reading.append((experiment, await rt.streaming_metrics(experiment.id)))
        except ExperimentNotFoundError:  # cleaned up while we read
            continue
    return reading


def families(reading: Reading) -> Sequence[Metric]:
    """The five metric families of a reading. O(experiments · buckets)."""
    events = CounterMetricFamily(
        "telemetry_actors_events", "Events collected by the experiment.", labels=LABELS
    )
    errors = CounterMetricFamily(
        "telemetry_actors_errors", "Events whose success is False.", labels=LABELS
    )
    dropped = CounterMetricFamily(
        "telemetry_actors_dropped", "Events lost to a full mailbox.", labels=LABELS
    )
    cost = CounterMetricFamily(
        "telemetry_actors_cost_usd", "Total cost of the events in USD.", labels=LABELS
    )
    latency = HistogramMetricFamily(
        "telemetry_actors_latency_milliseconds", "Latency of the events in ms.", labels=LABELS
    )
    empty = dict.fromkeys(LATENCY_BUCKETS_MS, 0)
    for experiment, live in reading:
        labels = [utf8_text(experiment.id), utf8_text(experiment.name)]
        labels.append(utf8_text(experiment.condition))
        events.add_metric(labels, sum(live.event_counts.values()))
        errors.add_metric(labels, live.reliability.failed)
        dropped.add_metric(labels, live.dropped)
        cost.add_metric(labels, live.cost.total)
        buckets = live.latency_histogram or empty
        latency.add_metric(
            labels,
            [(_bound_text(bound), count) for bound, count in buckets.items()],
            live.latency_total,
        )
    return [events, errors, dropped, cost, latency]


def _bound_text(bound: float) -> str:
    """A bucket bound as Prometheus writes it: ``"25.0"``, ``"+Inf"``."""
    return "+Inf" if math.isinf(bound) else repr(float(bound))
