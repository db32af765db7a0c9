"""The columnar CSV and JSON Lines exports write exactly what the per-Event ones wrote.

Every comparison exports the same experiments twice through the public API:
once with the package's ``write_events`` and once with the pre-rewrite
implementation kept in ``tests/export_reference.py``, then compares the files
byte for byte (CSV with and without ``flatten`` and ``neutralize_formulas``,
JSON Lines, single and multiple experiments). The stores hold hostile values,
inserted and out-of-range events, several blocks out of time order, sampling
weights, evicted rows, durable (SQLite) rows, and many small batches.
"""

from __future__ import annotations

import copy
import math
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import telemetry_actors._io._export as export_module
import telemetry_actors._runtime_files as files_module
from telemetry_actors import Event, Reservoir, Runtime, Uniform, emit
from tests.conftest import BASE_US, FakeClock
from tests.export_reference import write_events_reference
from tests.hostile_strategies import (
    CustomMapping,
    StrRaises,
    cyclic_dict,
    cyclic_list,
    deep_dict,
    deep_list,
    hostile_emits,
)

#: (format, flatten, neutralize_formulas) of every compared export.
VARIANTS = [
    ("csv", True, True),
    ("csv", True, False),
    ("csv", False, True),
    ("csv", False, False),
    ("jsonl", True, True),
]


class Custom:
    """A caller's object that neither JSON nor CSV knows."""

    def __str__(self) -> str:
        return '=custom, "quoted"\n'


@contextmanager
def reference_exports() -> Iterator[None]:
    """Exports inside the block use the pre-rewrite implementation."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(files_module, "write_events", write_events_reference)
        yield


def make_folder(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)


def same_bytes(new: Path, old: Path) -> bool:
    return new.read_bytes() == old.read_bytes()


def difference(new: Path, old: Path) -> str:
    """Where two exports first differ, line by line, for a readable failure."""
    new_lines, old_lines = new.read_bytes().split(b"\n"), old.read_bytes().split(b"\n")
    for number, (a, b) in enumerate(zip(new_lines, old_lines, strict=False), start=1):
        if a != b:
            return f"line {number}:\n new {a[:600]!r}\n old {b[:600]!r}"
    return f"{len(new_lines)} lines against {len(old_lines)}"


async def assert_exports_match(
    rt: Runtime, ids: Sequence[str], folder: Path, *, singles: bool = True
) -> None:
    """Every variant of export (each id) and export_multiple (all ids) matches the reference."""
    make_folder(folder)
    groups = [[experiment_id] for experiment_id in ids] if singles else []
    if len(ids) > 1:
        groups.append(list(ids))
    for group in groups:
        for fmt, flatten, neutralize in VARIANTS:
            name = f"{len(group)}-{flatten}-{neutralize}.{fmt}"
            options: dict[str, Any] = {"flatten": flatten, "neutralize_formulas": neutralize}
            new = await rt.export_multiple(group, fmt, path=folder / f"new-{name}", **options)
            with reference_exports():
                old = await rt.export_multiple(group, fmt, path=folder / f"old-{name}", **options)
            assert same_bytes(new, old), (fmt, flatten, neutralize, group, difference(new, old))


def holds_nan(value: Any) -> bool:
    """Is NaN in ``value`` (a float, or inside a tuple or frozenset)?"""
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, tuple | frozenset):
        return any(holds_nan(item) for item in value)
    return False


def unordered_nan(value: Any) -> bool:
    """Does ``value`` hold a set with NaN in an item? NaN hashes by identity, so
    such a set prints in a different order for every copy read: no two exports agree."""
    if isinstance(value, set | frozenset):
        return any(holds_nan(item) or unordered_nan(item) for item in value)
    if isinstance(value, Mapping):
        return any(unordered_nan(key) or unordered_nan(item) for key, item in value.items())
    if isinstance(value, list | tuple):
        return any(unordered_nan(item) for item in value)
    return False


# ------------------------------------------------------------------ the varied store

HOSTILE_VALUES: list[Any] = [
    math.inf,
    ("h" * 200_000, 1),  # a large row kept by marshal: MessagePack rows around it are sparse
    math.nan,
    math.inf,
    -math.inf,
    -0.0,
    1e300,
    5e-324,
    2**200,
    -(2**200),
    2**63,
    2**64 - 1,
    -(2**63),
    2**14_100,
    b"by\x00tes",
    {1, 2},
    frozenset({"a"}),
    (1, "two", None),
    Custom(),
    StrRaises(),
    "lone \ud800 surrogate",
    "=1+1",
    "+cmd",
    "-2",
    "@SUM(A1)",
    "\tTab",
    "\rCR",
    'comma, "quote"',
    "line\nbreak",
    "crlf\r\n",
    "nul\x00char",
    "😀 ünïcode",
    "",
    " ",
    True,
    False,
    None,
    -5,
    -1.5,
    [],
    {},
    {"": ""},
    [-1, 2],
    ["=x", 1, None, True, False, 1.5, -0.0, math.inf, {"k": [1, "v"]}, [2, [3]]],
    [{"role": "user", "content": "hi, there"}, {"role": "=x"}],
    [b"b", (1,), {1: "a"}],
    {"nested": {"deeper": {"leaf": "=v", "n": -3}}, "list": [1, 2]},
    {1: "int key", "1": "str key"},
    {None: "none key", True: "bool key", 2.5: "float key"},
    {"k\ud800": "surrogate key"},
    {"a_b": 1, "a": {"b": "=collides"}},
    {"a": {"b": 2}, "a_b": "=collides"},
    {"x": {}, "y": []},
    deep_dict(70),
    deep_list(70),
    deep_dict(40),
    deep_list(40),
    cyclic_dict(),
    cyclic_list(),
    CustomMapping({"m": 1}),
]


def fresh(value: Any) -> Any:
    """A copy of ``value`` (``value`` itself when it cannot be copied)."""
    try:
        return copy.deepcopy(value)
    except Exception:
        return value


def realistic(i: int) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """A typical LLM call, with a failure now and then and values varying in type."""
    metadata: dict[str, Any] = {
        "model": "gpt-4" if i % 3 else "claude",
        "tokens": {"prompt": 10 + i, "completion": i},
        "response": "ok" if i % 7 else 'Hello, "world"\n=1',
        "sample_id": f"q{i % 5}",
    }
    if i % 11 == 0:
        metadata["error"] = "timeout"
        metadata["status"] = "error"
    if i % 4 == 0:
        metadata["tokens"]["total"] = 10 + 2 * i  # another shape of the nested dict
    if i % 5 == 1:
        metadata["labels"] = ["-a", "b,c"] if i % 2 else [1, 2.5, None, True, {"k": "v"}]
        metadata["messages"] = [{"role": "user", "content": "hi, there"}, [1, [2]]]
        metadata["score"] = -0.5 if i % 3 else "=high"  # a column of two types
        metadata["flag"] = i % 3 == 0
        metadata["none"] = None
    if i % 13 == 0:
        metadata["tokens"] = {"prompt": {"cached": 3, "new": 7}, "completion": "-2"}
        metadata["gen_ai.response.model"] = "gpt-4o"
        metadata["model"] = None
    return "llm.request.stop", {"duration": 1_000_000 * (i + 1)}, metadata


async def fill_varied(rt: Runtime, clock: FakeClock, experiment_id: str) -> None:
    """Realistic and hostile events, inserted ones, and blocks out of time order."""
    for i in range(30):
        clock.advance(1_000)
        emit(*realistic(i))
    await rt.flush()
    for number, value in enumerate(HOSTILE_VALUES):
        clock.advance(1_000)
        # One object in two places is kept exactly (marshal); copies go as MessagePack.
        emit("app.value", {"duration": 5_000, "value": value}, {"value": value, "n": number})
        emit("app.fresh", {"value": fresh(value)}, {"value": fresh(value), "x": fresh(value)})
        emit("app.copied", {"cost": value}, {"model": value, "sample_id": value, "cohort": value})
        emit("app.copies", None, {"model": fresh(value), "provider": fresh(value), "k": 1})
    await rt.flush()
    metadata_cases: list[dict[Any, Any]] = [
        {"gen_ai.response.model": "gpt-4o", "gen_ai.provider.name": "openai"},
        {"gen_ai.request.model": "=req", "gen_ai.system": "-sys", "provider": None},
        {"session_id": [1, 2], "cohort": {}, "sample_id": {"x": {"y": 1}}, "user_id": "u"},
        {"model": {"name": "m", "version": 2}, "provider": ["a", "b"]},
        {"model": 5, "provider": 1.5, "cohort": True, "session_id": -7},
        {"tokens": {"prompt": 1.5, "completion": 2}, "cost": 0.25},
        {"status": "ok", "response": "=ok"},
    ]
    for metadata in metadata_cases:
        clock.advance(1_000)
        emit("app.meta", {"duration": 2_000_000}, metadata)
        emit("app.meta", None, metadata)
    emit("app.none", None, None)
    emit("app.ms", {"duration": 1_500_000, "cost": 0.5, "status": "error"}, {"model": "x"})
    await rt.flush()
    # Earlier time stamps in a later block: rows from several blocks interleave.
    back = clock.now
    clock.now = BASE_US + 1_500
    for i in range(30, 40):
        clock.advance(2_000)
        emit(*realistic(i))
    await rt.flush()
    # A clock going backwards within one block: its rows are not back to back
    # in the block's bytes once sorted by time.
    clock.now = BASE_US + 90_000
    for i in range(40, 60):
        clock.now -= 3_000
        name, measurements, metadata = realistic(i)
        measurements["peak"] = math.inf if i % 4 == 0 else float(i)
        emit(name, measurements, metadata)
    await rt.flush()
    clock.now = back
    for stamp in (2**62, -(2**62), -62_135_596_800_000_000, -62_135_596_800_000_001):
        await rt.insert(experiment_id, {"timestamp": stamp, "event_name": "app.far"})
    for stamp in (253_402_300_799_999_999, 253_402_300_800_000_000, -30_610_224_000_000_001):
        await rt.insert(experiment_id, {"timestamp": stamp, "metadata": {"n": 1}})
    await rt.insert(
        experiment_id,
        Event(
            "=inserted\ud800",
            ("app", "in=serted"),
            BASE_US + 7,
            experiment_id,
            "other name",
            "-cond",
            ("t=", "\ud801"),
            {"duration": math.nan, "set": {1}},
            {"model": "=m", "tags": ["a", "b"], "x": Custom()},
            latency_ms=math.inf,
            cost_usd=-1.0,
            success=True,
            session_id={"s": 1},
            user_id=StrRaises(),
            sample_id=b"\x00",
            cohort=[1, 2],
            model="=m",
            provider=Custom(),
            sampling_weight=3.0,
        ),
    )
    await rt.insert(experiment_id, {"timestamp": BASE_US + 9, "sampling_weight": 0.5})
    await rt.flush()


async def varied_experiments(rt: Runtime, clock: FakeClock, durable: bool = False) -> list[str]:
    """Experiments with awkward names, tags and sampling, all holding varied events.

    A durable store cannot keep a reservoir: it samples uniformly instead.
    """
    events = ["llm.*", "app.*"]
    sampling = Uniform(0.25, seed=5) if durable else Reservoir(25, seed=5)
    experiments = [
        await rt.start_experiment(
            "=alpha\ud800", condition='+cond, "q"', tags=("t1", "-t2", "t\udc00"), events=events
        ),
        await rt.start_experiment("beta", tags=(), events=events, sampling=Uniform(0.5, seed=3)),
        await rt.start_experiment("gamma", events=events, sampling=sampling),
        await rt.start_experiment("empty", events=["nothing.*"]),
    ]
    await fill_varied(rt, clock, experiments[0].id)
    return [experiment.id for experiment in experiments]


async def test_varied_store_exports_match_the_reference(
    rt: Runtime, clock: FakeClock, tmp_path: Path
) -> None:
    ids = await varied_experiments(rt, clock)
    await assert_exports_match(rt, ids[:3], tmp_path / "one")
    await assert_exports_match(rt, ids, tmp_path / "all", singles=False)  # one has no events


async def test_small_batches_and_late_columns_match_the_reference(
    rt: Runtime, clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many batches; columns first seen in a late batch; schemas that change every row."""
    experiment = await rt.start_experiment("batches", events=["llm.*", "app.*"])
    clock.advance(100_000)
    for i in range(30):  # time going backwards: rows not back to back in their block
        clock.advance(-2_000)
        emit(*realistic(i))
    clock.advance(100_000)
    for i in range(200):
        clock.advance(1_000)
        name, measurements, metadata = realistic(i)
        if i % 2:
            metadata = {"other": i, "model": "m"}
        emit(name, measurements, metadata)
    clock.advance(1_000)
    emit("app.late", {"late": 1}, {"late_key": "=late", "zz": [1, 2]})
    for i in range(20):
        clock.advance(1_000)
        emit(*realistic(i))
    await rt.flush()
    for size in (1, 7, 64, 10_000):
        monkeypatch.setattr(export_module, "BATCH", size)
        await assert_exports_match(rt, [experiment.id], tmp_path / f"batch-{size}")


async def test_durable_store_exports_match_the_reference(clock: FakeClock, tmp_path: Path) -> None:
    database = tmp_path / "telemetry.db"
    async with Runtime(clock=clock, database=database, export_dir=tmp_path) as rt:
        ids = await varied_experiments(rt, clock, durable=True)
        await assert_exports_match(rt, ids[:3], tmp_path / "live")
    async with Runtime(clock=clock, database=database, export_dir=tmp_path) as again:
        await assert_exports_match(again, ids, tmp_path / "reopened", singles=False)


@pytest.mark.filterwarnings(
    "ignore:Generating overly large repr:hypothesis.errors.HypothesisWarning"
)
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(hostile_emits, min_size=1, max_size=8))
def test_hostile_emits_export_like_the_reference(batch: list[Any]) -> None:
    async def main() -> None:
        with tempfile.TemporaryDirectory() as folder:
            clock = FakeClock()
            async with Runtime(clock=clock, export_dir=Path(folder)) as rt:
                experiment = await rt.start_experiment("fuzz", events=["fuzz.*"])
                for name, measurements, metadata, advance in batch:
                    clock.advance(advance)
                    emit(name, measurements, metadata)
                await rt.flush()
                await assert_exports_match(rt, [experiment.id], Path(folder) / "out")

    assume(not unordered_nan([(measurements, metadata) for _, measurements, metadata, _ in batch]))
    anyio.run(main)
