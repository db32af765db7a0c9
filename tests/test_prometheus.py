"""The Prometheus collector, scraped over real HTTP from its server thread."""

from __future__ import annotations

import asyncio
import logging
import threading
import urllib.request
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import anyio.to_thread
import pytest
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.parser import text_string_to_metric_families

from telemetry_actors import Runtime, emit
from telemetry_actors.prometheus import RuntimeCollector
from tests.conftest import FakeClock


@contextmanager
def serving(registry: CollectorRegistry) -> Iterator[int]:
    """prometheus_client's HTTP server on an ephemeral 127.0.0.1 port, shut down after."""
    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        assert response.status == 200
        return str(response.read().decode("utf-8"))


async def scrape_off_loop(port: int) -> dict[str, Any]:
    """{family name: family} from one scrape, made from a worker thread."""
    text = await anyio.to_thread.run_sync(scrape, port)
    return {family.name: family for family in text_string_to_metric_families(text)}


def samples(family: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """{(sample name, sorted labels): value}."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for sample in family.samples
    }


@pytest.fixture
async def small_rt(clock: FakeClock) -> AsyncIterator[Runtime]:
    async with Runtime(clock=clock, mailbox_size=4) as runtime:
        yield runtime


async def test_scrape_reports_every_experiment(small_rt: Runtime) -> None:
    rt = small_rt
    alpha = await rt.start_experiment("alpha", condition="control", events=["a.*"])
    beta = await rt.start_experiment("beta", condition="treatment", events=["b.*"])
    registry = CollectorRegistry()
    registry.register(RuntimeCollector(rt))
    emit("a.call.stop", {"duration": 3_000_000}, {"model": "gpt-4",
         "tokens": {"prompt": 1000, "completion": 500}, "response": "ok"})  # fmt: skip
    emit("a.call.stop", {"duration": 40_000_000}, {"response": "ok"})
    emit("a.call.exception", {"duration": 700_000_000}, {"error": "boom"})
    emit("a.call.start")
    await rt.flush()
    for _ in range(6):  # the mailbox holds 4: two are dropped, and counted
        emit("b.call.stop", {"duration": 12_500_000}, {"cost": 0.25})
    await rt.flush()

    with serving(registry) as port:
        families = await scrape_off_loop(port)

    a_labels = tuple(sorted({"experiment_id": alpha.id, "experiment_name": "alpha",
                             "condition": "control"}.items()))  # fmt: skip
    b_labels = tuple(sorted({"experiment_id": beta.id, "experiment_name": "beta",
                             "condition": "treatment"}.items()))  # fmt: skip
    events = samples(families["telemetry_actors_events"])
    assert events == {
        ("telemetry_actors_events_total", a_labels): 4.0,
        ("telemetry_actors_events_total", b_labels): 4.0,
    }
    assert families["telemetry_actors_events"].type == "counter"
    errors = samples(families["telemetry_actors_errors"])
    assert errors == {
        ("telemetry_actors_errors_total", a_labels): 1.0,
        ("telemetry_actors_errors_total", b_labels): 0.0,
    }
    drops = samples(families["telemetry_actors_dropped"])
    assert drops[("telemetry_actors_dropped_total", a_labels)] == 0.0
    assert drops[("telemetry_actors_dropped_total", b_labels)] == 2.0
    cost = samples(families["telemetry_actors_cost_usd"])
    live = await rt.streaming_metrics(alpha.id)
    assert cost[("telemetry_actors_cost_usd_total", a_labels)] == live.cost.total
    assert live.cost.total == pytest.approx(0.06, rel=1e-12)
    assert cost[("telemetry_actors_cost_usd_total", b_labels)] == 1.0

    latency = families["telemetry_actors_latency_milliseconds"]
    assert latency.type == "histogram"
    values = samples(latency)
    bucket = "telemetry_actors_latency_milliseconds_bucket"

    def le(labels: tuple[tuple[str, str], ...], bound: str) -> float:
        return values[(bucket, tuple(sorted((*labels, ("le", bound)))))]

    assert [le(a_labels, bound) for bound in ("5.0", "25.0", "50.0", "500.0", "1000.0")] == [
        1.0,
        1.0,
        2.0,
        2.0,
        3.0,
    ]
    assert le(a_labels, "+Inf") == 3.0
    assert values[("telemetry_actors_latency_milliseconds_count", a_labels)] == 3.0
    assert values[("telemetry_actors_latency_milliseconds_sum", a_labels)] == 743.0
    assert le(b_labels, "10.0") == 0.0
    assert le(b_labels, "25.0") == 4.0
    assert values[("telemetry_actors_latency_milliseconds_sum", b_labels)] == 50.0


async def test_experiment_without_latencies_has_an_empty_histogram(rt: Runtime) -> None:
    exp = await rt.start_experiment("quiet", events=["q.*"])
    registry = CollectorRegistry()
    registry.register(RuntimeCollector(rt))
    emit("q.tick")
    await rt.flush()
    with serving(registry) as port:
        families = await scrape_off_loop(port)
    values = samples(families["telemetry_actors_latency_milliseconds"])
    labels = tuple(sorted({"experiment_id": exp.id, "experiment_name": "quiet",
                           "condition": "default"}.items()))  # fmt: skip
    assert values[("telemetry_actors_latency_milliseconds_count", labels)] == 0.0
    assert values[("telemetry_actors_latency_milliseconds_sum", labels)] == 0.0
    bucket = "telemetry_actors_latency_milliseconds_bucket"
    assert values[(bucket, tuple(sorted((*labels, ("le", "+Inf")))))] == 0.0
    assert samples(families["telemetry_actors_events"]) == {
        ("telemetry_actors_events_total", labels): 1.0
    }


async def test_a_closed_runtime_gives_no_samples(clock: FakeClock) -> None:
    registry = CollectorRegistry()
    async with Runtime(clock=clock) as rt:
        await rt.start_experiment("gone", events=["g.*"])
        emit("g.x", {"duration": 1_000_000})
        await rt.flush()
        registry.register(RuntimeCollector(rt))
        with serving(registry) as port:
            assert samples((await scrape_off_loop(port))["telemetry_actors_events"])
    with serving(registry) as port:
        families = await scrape_off_loop(port)
    assert families  # HELP and TYPE lines stay
    assert all(not family.samples for family in families.values())


def test_a_closed_event_loop_gives_no_samples() -> None:
    async def open_and_close() -> RuntimeCollector:
        async with Runtime() as rt:
            return RuntimeCollector(rt)

    collector = asyncio.run(open_and_close())
    families = list(collector.collect())
    assert [family.name for family in families] == [
        "telemetry_actors_events",
        "telemetry_actors_errors",
        "telemetry_actors_dropped",
        "telemetry_actors_cost_usd",
        "telemetry_actors_latency_milliseconds",
    ]
    assert all(not family.samples for family in families)


async def test_collect_on_the_loop_thread_is_refused(rt: Runtime) -> None:
    collector = RuntimeCollector(rt)
    # Registering with an auto-describing registry uses describe(), never collect().
    CollectorRegistry(auto_describe=True).register(collector)
    with pytest.raises(RuntimeError, match="event loop's own thread"):
        list(collector.collect())


def test_construction_needs_the_runtimes_loop() -> None:
    with pytest.raises(RuntimeError, match="inside the runtime's event loop"):
        RuntimeCollector(Runtime())


async def test_a_name_with_a_lone_surrogate_is_scraped_escaped(rt: Runtime) -> None:
    exp = await rt.start_experiment("na\ud800me", condition='say "hi"', events=["s.*"])
    registry = CollectorRegistry()
    registry.register(RuntimeCollector(rt))
    emit("s.x")
    await rt.flush()
    with serving(registry) as port:
        families = await scrape_off_loop(port)
    labels = tuple(sorted({"experiment_id": exp.id, "experiment_name": "na\\ud800me",
                           "condition": 'say "hi"'}.items()))  # fmt: skip
    assert samples(families["telemetry_actors_events"]) == {
        ("telemetry_actors_events_total", labels): 1.0
    }


async def test_a_busy_loop_times_the_scrape_out(
    rt: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    await rt.start_experiment("busy", events=["busy.*"])
    collector = RuntimeCollector(rt, timeout=0.05)
    found: list[Any] = []
    scraper = threading.Thread(target=lambda: found.extend(collector.collect()))
    with caplog.at_level(logging.WARNING, logger="telemetry_actors"):
        scraper.start()
        scraper.join(timeout=10)  # blocks the loop: the scrape cannot be answered
    assert not scraper.is_alive()
    assert [family.samples for family in found] == [[], [], [], [], []]
    assert "did not answer within 0.05 s" in caplog.text
    # Once the loop is free again, scrapes answer.
    answered = await anyio.to_thread.run_sync(lambda: list(collector.collect()))
    assert len(answered[0].samples) == 1
