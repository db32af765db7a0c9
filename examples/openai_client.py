"""The OpenAI Python SDK's own client, every call recorded, with no network.

Run with ``python examples/openai_client.py``. ``openai.AsyncOpenAI`` talks
to a ``MockTransport`` that answers each chat completion with a canned
response and its ``usage``, as the API would (one question in ten gets a
429 rate limit instead). A tiny wrapper, ``recorded_chat``, times each call
and emits it: duration, the model that answered, the tokens from
``response.usage``, or the error. The runtime prices the tokens by model
(``Runtime(pricing=…)`` adds the model the canned response names) and the
script prints ``calculate_metrics``.

Needs ``pip install openai``. In a real service, drop ``http_client`` and
set ``OPENAI_API_KEY``; nothing else changes.
"""

from __future__ import annotations

import importlib
import json
import time
from typing import Any

import anyio
import openai

from telemetry_actors import Runtime, emit

MODEL = "gpt-4o-mini"
#: The model the canned response names, and its price (USD per 1M input, output tokens).
ANSWERING_MODEL = "gpt-4o-mini-2024-07-18"
PRICING = {ANSWERING_MODEL: (0.15, 0.60)}
USAGE = {"prompt_tokens": 24, "completion_tokens": 7, "total_tokens": 31}
CALLS = 10

# openai 3 talks through httpx2 (a fork of httpx), earlier versions through httpx:
# take MockTransport from whichever package the SDK's own client class comes from.
http = importlib.import_module(openai.DefaultAsyncHttpxClient.__mro__[1].__module__.split(".")[0])


def answer(request: Any) -> Any:
    """The fake API: a canned chat completion, or a 429 for questions about limits."""
    question = json.loads(request.content)["messages"][-1]["content"]
    if "limit" in question:
        return http.Response(429, json={"error": {"message": "Rate limit reached"}})
    return http.Response(
        200,
        json={
            "id": "chatcmpl-canned",
            "object": "chat.completion",
            "created": 1_735_689_600,
            "model": ANSWERING_MODEL,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "Paris."},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": USAGE,
        },
    )


async def recorded_chat(client: openai.AsyncOpenAI, **request: Any) -> Any:
    """``client.chat.completions.create(**request)``, timed and emitted."""
    started = time.perf_counter_ns()
    try:
        response = await client.chat.completions.create(**request)
    except openai.OpenAIError as error:
        emit(
            "llm.chat.exception",
            {"duration": time.perf_counter_ns() - started},
            {"model": request["model"], "provider": "openai", "error": str(error),
             "kind": type(error).__name__},
        )  # fmt: skip
        raise
    usage = response.usage
    tokens = {"prompt": usage.prompt_tokens, "completion": usage.completion_tokens}
    emit(
        "llm.chat.stop",
        {"duration": time.perf_counter_ns() - started},
        {"model": response.model, "provider": "openai", "tokens": tokens,
         "response": response.id},
    )  # fmt: skip
    return response


async def main() -> None:
    client = openai.AsyncOpenAI(
        api_key="sk-example",
        base_url="https://llm.example/v1",
        max_retries=0,
        http_client=openai.DefaultAsyncHttpxClient(transport=http.MockTransport(answer)),
    )
    async with Runtime(pricing=PRICING) as rt:
        exp = await rt.start_experiment("openai-client", events=["llm.chat.*"])
        limited = 0
        for index in range(CALLS):
            topic = "rate limits" if index == 7 else f"capital number {index}"
            try:
                await recorded_chat(
                    client,
                    model=MODEL,
                    messages=[{"role": "user", "content": f"What is the {topic}?"}],
                )
            except openai.RateLimitError:
                limited += 1
        await client.close()
        await rt.flush()
        metrics = await rt.calculate_metrics(exp.id)
    print(f"calls: {CALLS} ({CALLS - limited} answered, {limited} rate limited)")
    print(f"events: {metrics.events}")
    print(
        f"tokens: prompt {metrics.tokens.total_prompt}, "
        f"completion {metrics.tokens.total_completion}"
    )
    print(f"cost_usd={metrics.cost.total!r} over {metrics.cost.count} priced calls")
    print(f"mean latency {metrics.latency.mean:.2f} ms, success rate "
          f"{metrics.reliability.success_rate}")  # fmt: skip


if __name__ == "__main__":
    anyio.run(main)
