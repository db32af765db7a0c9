"""A long-running worker service that embeds the runtime and drains on SIGINT/SIGTERM.

Run with ``python examples/agent_service.py`` (it stops itself after 3 s) or
``python examples/agent_service.py --run-for 0`` and press Ctrl-C. Workers
take jobs from a queue and answer each with a (simulated) LLM call; a
reporter prints the live metrics every second.

On SIGINT or SIGTERM the service stops taking new jobs, lets the workers
finish every job already queued, waits until every event is stored
(``rt.flush()``), prints ``drained N events``, writes a CSV into ``exports/``
and exits with status 0. ``--run-for SECONDS`` sends the service a SIGTERM
after that many seconds, so the shutdown path runs in CI too.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import time

import anyio
from anyio.abc import ObjectReceiveStream, ObjectSendStream

from telemetry_actors import Runtime, emit

MODELS = {"gpt-4": 0.030, "gpt-3.5-turbo": 0.012}  # median latency in seconds (scaled down)


async def produce(jobs: ObjectSendStream[int], stopping: anyio.Event) -> None:
    """Put a job on the queue every few milliseconds until the service stops."""
    async with jobs:
        job = 0
        while not stopping.is_set():
            await jobs.send(job)
            job += 1
            with anyio.move_on_after(0.004):
                await stopping.wait()


async def work(name: str, jobs: ObjectReceiveStream[int], seed: int) -> None:
    """Answer jobs until the queue is closed and empty."""
    rng = random.Random(seed)
    async with jobs:
        async for job in jobs:
            model = rng.choice(list(MODELS))
            meta = {"model": model, "sample_id": f"job-{job}", "worker": name}
            emit("req_llm.request.start", {"system_time": time.time_ns() // 1000}, meta)
            started = time.perf_counter_ns()
            await anyio.sleep(rng.lognormvariate(0.0, 0.4) * MODELS[model])
            duration = {"duration": time.perf_counter_ns() - started}
            if rng.random() < 0.03:
                emit("req_llm.request.exception", duration, {**meta, "error": "rate_limited"})
            else:
                tokens = {"prompt": rng.randint(200, 900), "completion": rng.randint(50, 300)}
                emit("req_llm.request.stop", duration, {**meta, "tokens": tokens, "response": "…"})


async def report(rt: Runtime, experiment_id: str, every: float) -> None:
    """Print the live (streaming) metrics periodically."""
    while True:
        await anyio.sleep(every)
        live = await rt.streaming_metrics(experiment_id)
        statistics = await rt.statistics(experiment_id)
        mean = "-" if live.latency.mean is None else f"{live.latency.mean:.1f} ms"
        p99 = "-" if live.latency.p99 is None else f"{live.latency.p99:.1f} ms"
        rate = live.reliability.success_rate
        success = "-" if rate is None else f"{rate:.1%}"
        print(
            f"[live] {live.latency.count} calls, mean latency {mean}, p99 {p99}, "
            f"cost ${live.cost.total:.4f}, success {success}, "
            f"mailbox {statistics.mailbox_depth}, dropped {live.dropped}",
            flush=True,
        )


async def wait_for_signal(run_for: float) -> str:
    """Return the name of the first SIGINT/SIGTERM; after ``run_for`` s send ourselves SIGTERM."""
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        print(f"ready: pid {os.getpid()}, stop with Ctrl-C or SIGTERM", flush=True)
        async with anyio.create_task_group() as timer:
            if run_for > 0:
                timer.start_soon(_terminate_after, run_for)
            async for signum in signals:
                timer.cancel_scope.cancel()
                return signal.Signals(signum).name
    raise RuntimeError("the signal receiver ended")  # pragma: no cover


async def _terminate_after(seconds: float) -> None:
    await anyio.sleep(seconds)
    os.kill(os.getpid(), signal.SIGTERM)


async def main(run_for: float, report_every: float, workers: int) -> None:
    async with Runtime() as rt:
        experiment = await rt.start_experiment(
            "agent_service", condition="production", events=["req_llm.request.*"]
        )
        async with anyio.create_task_group() as service:
            service.start_soon(report, rt, experiment.id, report_every)
            stopping = anyio.Event()
            send, receive = anyio.create_memory_object_stream[int](max_buffer_size=64)
            async with anyio.create_task_group() as pool:
                pool.start_soon(produce, send, stopping)
                for index in range(workers):
                    pool.start_soon(work, f"worker-{index}", receive.clone(), index)
                receive.close()  # the workers hold their own clones
                name = await wait_for_signal(run_for)
                print(f"received {name}: no new jobs; finishing the queued ones", flush=True)
                stopping.set()
            # Every worker has finished: every event has been emitted. Now store them all.
            await rt.flush()
            service.cancel_scope.cancel()
        await rt.stop_experiment(experiment.id)
        metrics = await rt.calculate_metrics(experiment.id)
        print(
            f"drained {metrics.summary.total_events} events ({metrics.latency.count} LLM calls), "
            f"cost ${metrics.cost.total:.4f}",
            flush=True,
        )
        path = await rt.export(experiment.id, "csv")
        print(f"wrote {path}", flush=True)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--run-for",
        type=float,
        default=3.0,
        help="send ourselves SIGTERM after this many seconds; 0 runs until a signal (default 3)",
    )
    parser.add_argument("--report-every", type=float, default=1.0, help="seconds between reports")
    parser.add_argument("--workers", type=int, default=8, help="concurrent workers")
    return parser.parse_args()


if __name__ == "__main__":
    args = parse_args()
    anyio.run(main, args.run_for, args.report_every, args.workers)
