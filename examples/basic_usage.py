"""Basic usage: one experiment, realistic LLM-call events, pause/resume, metrics, CSV.

Run with ``python examples/basic_usage.py``. It simulates concurrent agents
calling two models, prints the live (streaming) metrics while it runs and the
final metrics at the end, and writes a CSV into ``exports/``.
"""

from __future__ import annotations

import random

import anyio
import anyio.lowlevel

from telemetry_actors import Runtime, emit, span

MODELS = {"gpt-4": (1_200.0, 0.35), "gpt-3.5-turbo": (350.0, 0.25)}  # median ms, sigma


async def agent(agent_id: int, calls: int, rng: random.Random) -> None:
    """One simulated agent: LLM calls with lognormal latency, tokens and rare failures."""
    for call in range(calls):
        model = rng.choice(list(MODELS))
        median_ms, sigma = MODELS[model]
        latency_ms = rng.lognormvariate(0, sigma) * median_ms
        failed = rng.random() < 0.05
        metadata = {
            "model": model,
            "provider": "openai",
            "session_id": f"agent-{agent_id}",
            "sample_id": f"q{call}",
            "tokens": {"prompt": rng.randint(200, 1_500), "completion": rng.randint(50, 600)},
        }
        emit("req_llm.request.start", {"system_time": 0}, metadata)
        if failed:
            emit(
                "req_llm.request.exception",
                {"duration": int(latency_ms * 1e6)},
                {**metadata, "error": "rate_limited"},
            )
        else:
            emit(
                "req_llm.request.stop",
                {"duration": int(latency_ms * 1e6)},
                {**metadata, "response": "..."},
            )
        with span("altar.tool", tool="search", session_id=f"agent-{agent_id}") as tool:
            tool.metadata["hits"] = rng.randint(0, 10)
        await anyio.lowlevel.checkpoint()  # let other agents (and the experiment's actor) run


async def main() -> None:
    rng = random.Random(42)
    async with Runtime() as rt:
        exp = await rt.start_experiment(
            "basic_usage",
            hypothesis="gpt-3.5-turbo is cheaper at an acceptable failure rate",
            condition="mixed-models",
            tags=["example"],
            events=["req_llm.request.*"],  # LLM calls only
        )
        tools = await rt.start_experiment("basic_usage_tools", events=["altar.tool.*"])
        async with anyio.create_task_group() as agents:
            for agent_id in range(8):
                agents.start_soon(agent, agent_id, 50, rng)

        await rt.flush()
        live = await rt.streaming_metrics(exp.id)
        print(
            f"live: {live.latency.count} calls, mean latency {live.latency.mean:.0f} ms, "
            f"p95 {live.latency.p95:.0f} ms, "
            f"cost ${live.cost.total:.4f}, success {live.reliability.success_rate:.1%}"
        )

        await rt.pause_experiment(exp.id)
        emit("req_llm.request.stop", {"duration": 1}, {"model": "gpt-4"})  # not collected
        await rt.resume_experiment(exp.id)
        print(f"paused and resumed: pause_count={(await rt.get_experiment(exp.id)).pause_count}")

        await rt.stop_experiment(exp.id)
        metrics = await rt.calculate_metrics(exp.id)
        print(
            f"final: {metrics.summary.total_events} events; latency p50 "
            f"{metrics.latency.p50:.0f} ms, p95 {metrics.latency.p95:.0f} ms; "
            f"tokens {metrics.tokens.total:.0f}; cost ${metrics.cost.total:.4f}; "
            f"success rate {metrics.reliability.success_rate:.1%}"
        )
        tool_metrics = await rt.calculate_metrics(tools.id)
        print(f"tools: {tool_metrics.events}")
        path = await rt.export(exp.id, "csv")
        print(f"wrote {path}")


if __name__ == "__main__":
    anyio.run(main)
