"""A FastAPI service: the runtime in its lifespan, Prometheus metrics, live analysis.

Run with ``python examples/fastapi_service.py``: it serves on a free port of
127.0.0.1, sends itself 20 questions over HTTP, prints what it measured and
stops. Or serve until Ctrl-C (or for SECONDS) with
``python examples/fastapi_service.py --run-for 0 --port 8000`` and try::

    curl -X POST 'http://127.0.0.1:8000/ask?question=What+is+an+actor'
    curl http://127.0.0.1:8000/metrics              # Prometheus text format
    curl http://127.0.0.1:8000/experiments
    curl http://127.0.0.1:8000/experiments/<id>/metrics   # calculate_metrics as JSON

Endpoints:

- ``POST /ask?question=…``: a simulated LLM call (a short sleep), recorded
  with ``emit``: its measured duration, model and tokens;
- ``GET /metrics``: the runtime's ``RuntimeCollector``, rendered in a worker
  thread, because a scrape waits for the event loop and must not run on it;
- ``GET /experiments`` and ``GET /experiments/{id}/metrics``.

Needs ``pip install 'telemetry-actors[prometheus]' fastapi uvicorn httpx``.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import signal
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import anyio.to_thread
import httpx
import msgspec
import uvicorn
from fastapi import FastAPI, HTTPException, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from telemetry_actors import ExperimentNotFoundError, Runtime, emit
from telemetry_actors.prometheus import RuntimeCollector

EVENTS = "service.llm.*"


def simulated_answer(question: str) -> dict[str, Any]:
    """What our pretend LLM answers: long questions go to the big model."""
    words = len(question.split())
    model = "gpt-4" if words > 6 else "gpt-3.5-turbo"
    tokens = {"prompt": 40 + 3 * words, "completion": 20 + len(question) % 50}
    return {"answer": f"{words} words, noted.", "model": model, "tokens": tokens}


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The runtime lives exactly as long as the service; leaving drains it."""
    async with Runtime() as rt:
        experiment = await rt.start_experiment(
            "fastapi-service", condition="baseline", events=[EVENTS]
        )
        registry = CollectorRegistry()
        registry.register(RuntimeCollector(rt))  # created on the loop it reads from
        app.state.rt, app.state.registry = rt, registry
        app.state.experiment_id = experiment.id
        yield


app = FastAPI(lifespan=lifespan)


@app.post("/ask")
async def ask(question: str) -> dict[str, Any]:
    """A simulated LLM call, timed and recorded."""
    started = time.perf_counter_ns()
    await anyio.sleep(0.002 + 0.0001 * len(question))  # the "LLM" thinking
    answer = simulated_answer(question)
    emit(
        "service.llm.stop",
        {"duration": time.perf_counter_ns() - started},
        {"model": answer["model"], "tokens": answer["tokens"], "response": answer["answer"]},
    )
    return answer


@app.get("/metrics")
async def metrics(request: Request) -> Response:
    """Prometheus text format; rendered off the loop, since a scrape waits for the loop."""
    body = await anyio.to_thread.run_sync(generate_latest, request.app.state.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


@app.get("/experiments")
async def experiments(request: Request) -> list[dict[str, Any]]:
    """Every experiment of the runtime."""
    listed = await request.app.state.rt.list_experiments()
    return [msgspec.to_builtins(experiment) for experiment in listed]


@app.get("/experiments/{experiment_id}/metrics")
async def experiment_metrics(experiment_id: str, request: Request) -> Any:
    """``calculate_metrics`` of one experiment, as JSON, over every event so far."""
    rt: Runtime = request.app.state.rt
    try:
        await rt.flush()
        result = await rt.calculate_metrics(experiment_id)
    except ExperimentNotFoundError:
        raise HTTPException(404, f"no experiment {experiment_id!r}") from None
    return msgspec.to_builtins(result)


class Server(uvicorn.Server):
    """uvicorn's server, with a ``ready`` event, leaving SIGINT and SIGTERM to ``serve``."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = anyio.Event()

    async def startup(self, sockets: list[Any] | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def demo(base_url: str) -> None:
    """Ask 20 questions over HTTP, then print the service's own measurements."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        for index in range(20):
            question = "why " * (index % 10 + 1) + "is the sky blue"
            (await client.post("/ask", params={"question": question})).raise_for_status()
        (experiment,) = (await client.get("/experiments")).json()
        result = (await client.get(f"/experiments/{experiment['id']}/metrics")).json()
        scrape = (await client.get("/metrics")).text
    print(
        f"served {result['summary']['total_events']} questions: "
        f"mean {result['latency']['mean']:.1f} ms, "
        f"{result['tokens']['total']:.0f} tokens, ${result['cost']['total']:.4f}"
    )
    print(next(line for line in scrape.splitlines() if line.startswith("telemetry_actors_events")))


async def serve(port: int, run_for: float | None) -> None:
    """Serve on 127.0.0.1:``port`` (0: a free one); demo when ``run_for`` is None."""
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = Server(config)
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(server.serve)
        await server.ready.wait()
        bound = server.servers[0].sockets[0].getsockname()[1]  # the free port, for port 0
        base_url = f"http://127.0.0.1:{bound}"
        print(f"listening on {base_url}", flush=True)
        if run_for is None:
            await demo(base_url)
        else:
            with (
                anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals,
                anyio.move_on_after(run_for or math.inf),
            ):
                async for received in signals:
                    print(f"received {signal.Signals(received).name}", flush=True)
                    break
        server.should_exit = True  # uvicorn finishes requests, then runs the lifespan's exit
    print("stopped", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--port", type=int, default=0, help="0 (default): a free port")
    parser.add_argument(
        "--run-for",
        type=float,
        default=None,
        help="serve for SECONDS (0: until Ctrl-C) instead of the self-demo",
    )
    arguments = parser.parse_args()
    anyio.run(serve, arguments.port, arguments.run_for)


if __name__ == "__main__":
    main()
