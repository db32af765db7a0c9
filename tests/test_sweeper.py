"""Sparse events do not wake their actor; the runtime's sweeper does, or any message.

Waking costs the emitting thread microseconds (see ``_actors._sweeper``).
"""

from __future__ import annotations

import threading
from types import SimpleNamespace

import anyio

from telemetry_actors import Runtime, emit
from telemetry_actors._actors._mailbox import EVENT_SLOTS, Mailbox
from telemetry_actors._actors._sweeper import sweep
from tests.conftest import FakeClock

RAW = (("a", "b"), b"", None, None, 1)


async def test_a_sparse_emit_leaves_the_actor_asleep(clock: FakeClock) -> None:
    async with Runtime(clock=clock) as rt:
        exp = await rt.start_experiment("sparse")
        await rt.flush()
        await anyio.wait_all_tasks_blocked()  # the actor has gone to sleep
        mailbox = rt._registry.lookup(exp.id).mailbox
        assert mailbox.sleeping
        thread = threading.Thread(target=emit, args=("req_llm.request.stop", {"duration": 5}))
        thread.start()
        thread.join()
        emit("req_llm.request.stop", {"duration": 7})  # and from the loop's own thread
        assert mailbox.sleeping  # nobody paid for a wake-up
        assert len(mailbox.queue) == 2 * EVENT_SLOTS
        await rt.flush()  # a message wakes it; it takes the events queued before
        assert [e.latency_ms for e in await rt.get_all(exp.id)] == [5e-6, 7e-6]


async def test_a_quarter_full_mailbox_wakes_its_actor_at_once() -> None:
    mailbox = Mailbox(8)
    woken = anyio.Event()

    async def actor() -> None:
        await mailbox.wait()
        woken.set()

    async with anyio.create_task_group() as group:
        group.start_soon(actor)
        await anyio.wait_all_tasks_blocked()
        mailbox.put_event(RAW)
        assert mailbox.sleeping  # 1 of 8 events: below a quarter
        mailbox.put_event(RAW)
        with anyio.fail_after(5):
            await woken.wait()
    assert not mailbox.sleeping


async def test_the_sweeper_wakes_a_sleeping_actor_with_queued_events() -> None:
    mailbox = Mailbox(1000)
    idle = Mailbox(1000)  # asleep with nothing queued: left asleep
    woken = anyio.Event()

    async def actor(box: Mailbox) -> None:
        await box.wait()
        woken.set()

    async with anyio.create_task_group() as group:
        group.start_soon(actor, mailbox)
        group.start_soon(actor, idle)
        await anyio.wait_all_tasks_blocked()
        mailbox.put_event(RAW)
        assert mailbox.sleeping
        group.start_soon(sweep, [SimpleNamespace(mailbox=mailbox), SimpleNamespace(mailbox=idle)])
        with anyio.fail_after(5):
            await woken.wait()
        assert not mailbox.sleeping
        assert idle.sleeping
        group.cancel_scope.cancel()


class Rounds:
    """The sweeper's view of the experiments: counts its rounds, signals the n-th."""

    def __init__(self, states: list[object]) -> None:
        self.states = states
        self.count = 0
        self.target = 0
        self.reached = anyio.Event()

    def wait_for(self, rounds: int) -> anyio.Event:
        self.target, self.reached = self.count + rounds, anyio.Event()
        return self.reached

    def __iter__(self):  # type: ignore[no-untyped-def]
        self.count += 1
        if self.count >= self.target:
            self.reached.set()
        return iter(list(self.states))


class Visited:
    def __init__(self) -> None:
        self.mailbox = SimpleNamespace(sleeping=False, queue=[])


async def test_the_sweeper_keeps_no_cleaned_up_experiment_alive() -> None:
    """The last state it visited must not outlive its cleanup: it held a million-event
    store until another experiment started, then freed it on the loop (100+ ms)."""
    import weakref

    visited = Visited()
    gone = weakref.ref(visited)
    rounds = Rounds([visited])
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(sweep, rounds, 0.001)
        await rounds.wait_for(2).wait()
        rounds.states.clear()  # cleaned up: the only experiment is gone
        del visited
        await rounds.wait_for(2).wait()
        assert gone() is None
        tasks.cancel_scope.cancel()
