"""A synchronous LLM client in a thread pool, emitting into the runtime.

Run with ``python examples/threads.py``. Many LLM SDKs block. Here a blocking
client is called from eight worker threads of a ``ThreadPoolExecutor``, and
each call is instrumented with plain ``emit`` calls, which are thread-safe
and never block. The event loop hands the whole batch to a thread with
``anyio.to_thread.run_sync`` and stays free meanwhile; ``rt.flush()`` then
waits until every event the threads emitted is stored.
"""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import anyio
import anyio.to_thread

from telemetry_actors import Runtime, emit

CALLS = 200
THREADS = 8


class RateLimitError(Exception):
    """The (simulated) provider refused the request."""


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int
    completion_tokens: int


class BlockingClient:
    """A blocking client, as many SDKs are: ``complete`` sleeps for the simulated latency."""

    def __init__(self, model: str, seed: int) -> None:
        self.model = model
        self._rng = random.Random(seed)
        self._lock = threading.Lock()  # random.Random is not meant to be shared unlocked

    def complete(self, prompt: str) -> Completion:
        with self._lock:
            latency_s = self._rng.lognormvariate(0.0, 0.4) * 0.01
            failed = self._rng.random() < 0.05
            completion_tokens = self._rng.randint(20, 200)
        time.sleep(latency_s)
        if failed:
            raise RateLimitError("429: slow down")
        return Completion(f"answer to {prompt}", len(prompt.split()) * 40, completion_tokens)


def instrumented_complete(client: BlockingClient, prompt: str) -> str | None:
    """Call the client and emit start and stop (or exception) events, from any thread."""
    meta = {"model": client.model, "sample_id": prompt, "thread": threading.current_thread().name}
    emit("req_llm.request.start", {"system_time": time.time_ns() // 1000}, meta)
    started = time.perf_counter_ns()
    try:
        completion = client.complete(prompt)
    except RateLimitError as error:
        duration = {"duration": time.perf_counter_ns() - started}
        emit("req_llm.request.exception", duration, {**meta, "error": str(error)})
        return None
    tokens = {"prompt": completion.prompt_tokens, "completion": completion.completion_tokens}
    emit(
        "req_llm.request.stop",
        {"duration": time.perf_counter_ns() - started},
        {**meta, "tokens": tokens, "response": completion.text},
    )
    return completion.text


def run_batch(client: BlockingClient, prompts: list[str]) -> list[str | None]:
    """Answer every prompt on a pool of threads (blocking; run it off the event loop)."""
    with ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="llm") as pool:
        return list(pool.map(lambda prompt: instrumented_complete(client, prompt), prompts))


async def main() -> None:
    async with Runtime() as rt:
        experiment = await rt.start_experiment(
            "threads", condition="sync-client", events=["req_llm.request.*"]
        )
        client = BlockingClient("gpt-3.5-turbo", seed=7)
        prompts = [f"question {number} about the docs" for number in range(CALLS)]
        answers = await anyio.to_thread.run_sync(run_batch, client, prompts)
        await rt.flush()  # every event emitted by the threads is now stored

        starts = await rt.query(experiment.id, event_name="req_llm.request.start")
        threads = sorted({event.metadata["thread"] for event in starts})
        metrics = await rt.calculate_metrics(experiment.id)
        answered = sum(answer is not None for answer in answers)
        print(f"threads: {len(prompts)} calls from {len(threads)} threads")
        print(
            f"events: {metrics.events}; answered {answered}, "
            f"success rate {metrics.reliability.success_rate:.1%}"
        )
        print(
            f"latency p50 {metrics.latency.p50:.1f} ms, p95 {metrics.latency.p95:.1f} ms; "
            f"cost ${metrics.cost.total:.4f}"
        )


if __name__ == "__main__":
    anyio.run(main)
