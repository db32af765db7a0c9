"""Custom event lists: a causal trace, tool calls and hedged requests, each in its experiment.

Run with ``python examples/custom_events.py``. One agent answers a question:
it plans, searches (a tool call through ``span``, one of which fails), asks a
model with a hedged (duplicated) request, and logs each decision as a causal
trace event pointing at its parent. Every experiment picks the events it
wants with an event list:

- an exact name: ``"causal_trace.event.created"``;
- a wildcard: ``"altar.tool.*"`` matches every longer name under
  ``altar.tool`` (``start``, ``stop`` and also ``exception``, which the
  standard list leaves out);
- your own names: ``"myapp.*"`` matches ``myapp.cache.hit`` but not ``myapp``;
- no list: the twelve ``STANDARD_EVENTS``.
"""

from __future__ import annotations

import itertools

import anyio

from telemetry_actors import Event, Runtime, emit, span

_ids = itertools.count(1)


def decide(trace_id: str, parent: str | None, decision: str, confidence: float) -> str:
    """Log one decision of the agent as a causal trace event; return its id."""
    node = f"d{next(_ids)}"
    emit(
        "causal_trace.event.created",
        {"confidence": confidence},
        {"trace_id": trace_id, "node": node, "parent": parent, "decision": decision},
    )
    return node


def search(query: str, fail: bool) -> int:
    """A tool call traced by ``span``: start, then stop or exception."""
    with span("altar.tool", tool="search", query=query) as tool:
        if fail:
            raise TimeoutError(f"search for {query!r} timed out")
        tool.metadata["hits"] = 4
        return 4


def hedged_request(request_id: str) -> None:
    """A request slower than 300 ms gets a duplicate; the duplicate answers first."""
    meta = {"request_id": request_id, "model": "claude-3-sonnet"}
    emit("hedging.request.start", {"system_time": 0}, meta)
    emit("hedging.request.duplicated", {"delay_ms": 300}, meta)
    emit("hedging.request.stop", {"duration": 420_000_000}, {**meta, "winner": "duplicate"})


def app_events() -> None:
    """The application's own events."""
    emit("myapp.cache.hit", {"bytes": 512})
    emit("myapp.cache.hit", {"bytes": 256})
    emit("myapp.cache.miss")
    emit("myapp.retrieval.docs", {"count": 4})
    emit("myapp", {"ignored": True})  # "myapp.*" needs at least one more part


def print_tree(events: list[Event]) -> None:
    """Print a causal trace as an indented tree, from its parent links."""
    children: dict[str | None, list[Event]] = {}
    for event in events:
        children.setdefault(event.metadata["parent"], []).append(event)

    def walk(parent: str | None, depth: int) -> None:
        for event in children.get(parent, []):
            confidence = event.measurements["confidence"]
            print(f"{'  ' * depth}- {event.metadata['decision']} (confidence {confidence:.2f})")
            walk(event.metadata["node"], depth + 1)

    walk(None, 1)


async def main() -> None:
    async with Runtime() as rt:
        reasoning = await rt.start_experiment("reasoning", events=["causal_trace.event.created"])
        tools = await rt.start_experiment("tools", events=["altar.tool.*"])
        hedging = await rt.start_experiment("hedging", events=["hedging.request.*"])
        app = await rt.start_experiment("app", events=["myapp.*"])
        standard = await rt.start_experiment("standard")  # STANDARD_EVENTS

        root = decide("t1", None, "answer: 'what changed in v2?'", 0.9)
        plan = decide("t1", root, "search the changelog", 0.8)
        try:
            search("changelog v2", fail=True)
        except TimeoutError:
            retry = decide("t1", plan, "search timed out: retry with a shorter query", 0.6)
            hits = search("v2", fail=False)
            decide("t1", retry, f"use {hits} hits as context", 0.85)
        hedged_request("r1")
        decide("t1", root, "answer from the model's reply", 0.95)
        app_events()
        await rt.flush()

        trace = await rt.query(reasoning.id, trace_id="t1")
        print(f"causal trace: {len(trace)} decisions")
        print_tree(trace)
        tool_metrics = await rt.calculate_metrics(tools.id)
        print(f"tools: {tool_metrics.events}")
        (failed,) = await rt.query(tools.id, event_name="altar.tool.exception")
        print(f"failed tool call: kind={failed.metadata['kind']} error={failed.metadata['error']}")
        (stop,) = await rt.query(hedging.id, event_name="hedging.request.stop")
        print(f"hedging: {(await rt.calculate_metrics(hedging.id)).events}")
        print(f"hedged request won by the {stop.metadata['winner']} in {stop.latency_ms:.0f} ms")
        print(f"myapp.*: {(await rt.calculate_metrics(app.id)).events}")
        print(f"standard: {(await rt.calculate_metrics(standard.id)).events}")


if __name__ == "__main__":
    anyio.run(main)
