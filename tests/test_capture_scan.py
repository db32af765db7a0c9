"""emit's byte scan: a payload it lets through decodes back to exactly what was encoded."""

from __future__ import annotations

import datetime
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from telemetry_actors import Runtime, emit
from telemetry_actors._emit._capture import (
    decodes_plain,
    encode_fields,
    is_plain,
    may_hold_markers,
)

_leaves = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
    | st.binary(max_size=4)
)
_values = st.recursive(
    _leaves,
    lambda children: (
        st.lists(children, max_size=3)
        | st.tuples(children, children)
        | st.tuples(children)
        | st.frozensets(st.integers(-1000, 1000), max_size=2)
        | st.dictionaries(st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=10,
)
_fields = st.none() | st.dictionaries(st.text(max_size=4), _values, max_size=4)


def _shape(value: Any) -> Any:
    """The value with its container and leaf types spelled out (tuples stay tuples)."""
    if isinstance(value, dict):
        return (dict, [(key, _shape(item)) for key, item in value.items()])
    if isinstance(value, list | tuple | frozenset):
        return (type(value), [_shape(item) for item in value])
    return (type(value), value)


@given(_fields, _fields)
def test_a_payload_the_scan_passes_decodes_to_the_same_values_and_types(
    measurements: Any, metadata: Any
) -> None:
    encoded = encode_fields((measurements, metadata))
    if is_plain(encoded):
        decoded = msgspec.msgpack.decode(encoded)
        assert _shape(decoded) == _shape([measurements, metadata])


@given(_fields, _fields)
def test_the_scan_never_changes_the_typed_decodes_verdict(
    measurements: Any, metadata: Any
) -> None:
    """The scan only saves the decode: emit asks ``decodes_plain`` alone once it flags."""
    encoded = encode_fields((measurements, metadata))
    assert is_plain(encoded) == decodes_plain(encoded)
    if not decodes_plain(encoded):
        assert may_hold_markers(encoded)


@pytest.mark.parametrize(
    "value",
    [
        (1, 2),  # a two-item array: the header byte the pair itself starts with
        [1, 2],
        (1,),
        frozenset({1, 2}),
        b"\x00",
        bytearray(b"ab"),
        datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
    ],
)
def test_arrays_binaries_and_extensions_are_seen(value: Any) -> None:
    encoded = encode_fields(({"x": value}, {"meta": {"deep": value}}))
    assert may_hold_markers(encoded)
    assert may_hold_markers(encode_fields((None, {"deep": {"deeper": value}})))


def test_plain_llm_fields_pass_without_the_typed_decode() -> None:
    fields = (
        {"duration": 1_200_000},
        {"model": "gpt-4", "tokens": {"prompt": 900, "completion": 250}, "score": 0.93},
    )
    assert not may_hold_markers(encode_fields(fields))


def test_marker_bytes_inside_text_and_numbers_cost_only_the_typed_decode() -> None:
    # "\u0492" is encoded as d2 92; 146.0 has no marker, -28398 (0xd112) does.
    fields = ({"n": -28398, "f": 2.0**-1000}, {"text": "\u0492\u00c4"})
    encoded = encode_fields(fields)
    assert may_hold_markers(encoded)
    assert is_plain(encoded)


@pytest.mark.parametrize("value", [(1, 2), frozenset({1, 2}), ((1, 2), [3, 4])])
async def test_two_item_tuples_keep_their_type_when_the_dict_changes_after_emit(
    rt: Runtime, value: Any
) -> None:
    """A two-item array looks like the pair's own header byte: emit's scan must still see it."""
    experiment = await rt.start_experiment("pairs", events=["p"])
    metadata = {"pair": value}
    emit("p", {"duration": 5}, metadata)
    metadata["pair"] = "changed after emit"
    await rt.flush()
    (event,) = await rt.get_all(experiment.id)
    assert event.metadata == {"pair": value}
    assert type(event.metadata["pair"]) is type(value)
