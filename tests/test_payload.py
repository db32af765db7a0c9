"""Payload storage: marshal at ingest, msgpack from a second read on, exact either way."""

from __future__ import annotations

import marshal
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from telemetry_actors import Event, Runtime, emit
from telemetry_actors._event import COPIED_FIELDS, EVENT_ID_PREFIX
from telemetry_actors._payload import PAYLOAD_FORMAT, Unpacked, decode_packed, repack, unpack_plain
from telemetry_actors._store import PACKED, READ_BEFORE, STAYS_MARSHAL, EventStore
from tests.strategies import new_store

NAME = ("payload", "test")


def shape(value: Any) -> Any:
    """A canonical, type-aware form of a builtin value: equal only for exact copies."""
    kind = type(value).__name__
    if isinstance(value, dict):
        return kind, [(shape(key), shape(item)) for key, item in value.items()]
    if isinstance(value, list | tuple):
        return kind, [shape(item) for item in value]
    if isinstance(value, set | frozenset):
        return kind, sorted(repr(shape(item)) for item in value)
    return kind, repr(value)


scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8)
    | st.binary(max_size=8)
)
hashables = st.recursive(scalars, lambda inner: st.tuples(inner, inner), max_leaves=4)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.tuples(inner, inner)
        | st.frozensets(hashables, max_size=3)
        | st.sets(hashables, max_size=3)
        | st.dictionaries(hashables, inner, max_size=3)
    ),
    max_leaves=8,
)
fields = st.dictionaries(st.text(max_size=6) | st.integers(-3, 3), values, max_size=4)
copied_names = st.sampled_from(["model", "provider", "sample_id", "session_id", "cohort"])
metadata_fields = st.dictionaries(copied_names | st.text(max_size=6), values, max_size=5)


def store_of(payloads: list[tuple[dict[Any, Any], dict[Any, Any]]]) -> EventStore:
    store = new_store()
    for index, (measurements, metadata) in enumerate(payloads):
        payload = marshal.dumps((index, measurements, metadata), PAYLOAD_FORMAT)
        store.insert_emitted(index, NAME, payload, None, None, None)
    return store


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(fields, metadata_fields), min_size=1, max_size=6))
def test_every_read_gives_back_exactly_what_was_stored(
    payloads: list[tuple[dict[Any, Any], dict[Any, Any]]],
) -> None:
    store = store_of(payloads)
    for _ in range(3):  # marshal; marshal, re-encoding; the rows as re-encoded
        events = store.all()
        assert [event.event_id for event in events] == [
            EVENT_ID_PREFIX + hex(serial) for serial in range(len(payloads))
        ]
        assert [shape(event.measurements) for event in events] == [shape(m) for m, _ in payloads]
        assert [shape(event.metadata) for event in events] == [shape(md) for _, md in payloads]
        for event, (_, metadata) in zip(events, payloads, strict=True):
            assert shape(event.model) == shape(metadata.get("model"))
            assert shape(event.sample_id) == shape(metadata.get("sample_id"))
            assert shape(event.cohort) == shape(metadata.get("cohort"))
    # After a read every row is settled one way or the other, never both.
    assert all(bool(flags & PACKED) != bool(flags & STAYS_MARSHAL) for flags in store.flags)


def test_plain_rows_become_msgpack_and_others_stay_marshal() -> None:
    plain = ({"duration": 5_000_000, "status": "ok"}, {"model": "gpt-4", "tokens": {"prompt": 3}})
    store = store_of(
        [
            plain,
            ({"score": math.nan}, {}),  # no tuple or set code: proven exact by the scan
            ({}, {"reply": "<b>(yes)</b>"}),  # codes in text: proven by decoding back
            ({"tags": ("a", "b")}, {}),  # a tuple would come back a list
            ({}, {"labels": {"x"}}),  # so would a set
            ({"score": math.nan}, {"note": "(x)"}),  # NaN is unequal to itself
            ({}, {"n": 2**80}),  # beyond msgpack's 64-bit ints
            ({}, {"s": "\ud800"}),  # a lone surrogate is not UTF-8
            ({}, {"z": 1j}),  # no msgpack complex
        ]
    )
    assert store.flags == bytearray(len(store))  # nothing decided before a read
    first = store.all()
    assert store.flags == bytearray([READ_BEFORE]) * len(store)  # a read once pays a flag
    assert [e.event_id for e in store.all()] == [e.event_id for e in first]  # re-encodes
    assert [bool(flags & PACKED) for flags in store.flags] == [True] * 3 + [False] * 6
    assert [bool(flags & STAYS_MARSHAL) for flags in store.flags] == [False] * 3 + [True] * 6
    assert decode_packed(store.payloads[0]).metadata == plain[1]
    later = store.all()
    assert [e.event_id for e in later] == [e.event_id for e in first]
    assert later[0].measurements == plain[0]
    assert later[0].metadata == plain[1]
    assert later[0].model == "gpt-4"
    assert math.isnan(later[1].measurements["score"])
    assert later[2].metadata == {"reply": "<b>(yes)</b>"}
    assert later[3].measurements["tags"] == ("a", "b")
    assert later[4].metadata["labels"] == {"x"}
    assert math.isnan(later[5].measurements["score"])
    assert later[6].metadata["n"] == 2**80
    assert later[7].metadata["s"] == "\ud800"
    assert later[8].metadata["z"] == 1j


@pytest.mark.parametrize(
    ("measurements", "metadata", "exact"),
    [
        ({"duration": 1, "ok": True, "none": None}, {"b": b"\x00", "f": -0.0}, True),
        ({1: "int key", 1.5: "float key", None: "none key"}, {b"k": [[], {}]}, True),
        ({(1, "a"): "tuple key"}, {}, True),  # tuple keys come back as tuples
        ({"t": (1,)}, {}, False),
        ({}, {"nested": [{"s": frozenset({1})}]}, False),
        ({frozenset({1}): "frozenset key"}, {}, False),
    ],
)
def test_repack_is_exact_or_refuses(
    measurements: dict[Any, Any], metadata: dict[Any, Any], exact: bool
) -> None:
    unpacked = Unpacked("id-0x1", measurements, metadata)
    packed = repack(marshal.dumps((1, measurements, metadata), PAYLOAD_FORMAT), unpacked)
    assert (packed is not None) is exact
    if packed is not None:
        assert shape(decode_packed(packed)) == shape(unpacked)


async def test_events_read_again_equal_their_first_read(rt: Runtime) -> None:
    experiment = await rt.start_experiment("reread", events=["req.*"])
    for i in range(20):
        emit(
            "req.done",
            {"duration": 1_000_000 * (i + 1), "status": "ok" if i % 3 else "error"},
            {"model": "gpt-4", "sample_id": f"s{i}", "tokens": {"prompt": i, "completion": 2}},
        )
    emit("req.done", {"duration": 1}, {"tags": ("kept", "as", "tuple")})
    await rt.flush()
    first = await rt.get_all(experiment.id)
    assert len(first) == 21
    for _ in range(2):  # the second read re-encodes, the third decodes msgpack
        assert await rt.get_all(experiment.id) == first
    second = await rt.get_all(experiment.id)
    assert [event.sample_id for event in second[:20]] == [f"s{i}" for i in range(20)]
    assert second[-1].metadata == {"tags": ("kept", "as", "tuple")}


def test_unpacked_rows_carry_exactly_the_copied_event_fields() -> None:
    assert Unpacked.__struct_fields__ == ("event_id", "measurements", "metadata", *COPIED_FIELDS)
    assert Event.__struct_fields__[-len(COPIED_FIELDS) :] == COPIED_FIELDS
    metadata = {name: f"{name}-value" for name in COPIED_FIELDS}
    unpacked = unpack_plain("id", {}, metadata)
    assert [getattr(unpacked, name) for name in COPIED_FIELDS] == list(metadata.values())
