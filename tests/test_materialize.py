"""A block's rows become the same Events whichever way they are built.

Runs of MessagePack rows (``BULK_ROWS`` or more) are decoded in one call and
their Events built column by column; fewer rows, or rows of other kinds, are
built one at a time. Both must give equal Events.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from telemetry_actors._emit._capture import encode_fields
from telemetry_actors._storage._block import COLUMNS, KIND_MSGPACK, build_block
from telemetry_actors._storage._fields import BULK_ROWS
from telemetry_actors._storage._materialize import Context, block_events

NAMES = (("req_llm", "request", "stop"), ("agent", "step"))
CONTEXT = Context("e1", "materialize", "baseline", ("a", "b"))

_values = st.none() | st.integers(-5, 5) | st.text(max_size=4) | st.floats(allow_nan=False)
_not_a_map = st.lists(st.integers(0, 3), max_size=2)
_metadata = (
    st.none()
    | _not_a_map
    | st.fixed_dictionaries(
        {},
        optional={
            "model": st.none() | st.sampled_from(["gpt-4", "claude"]),
            "provider": st.none() | st.just("openai"),
            "gen_ai.request.model": st.just("gemini"),
            "gen_ai.system": st.just("google"),
            "session_id": _values,
            "user_id": _values,
            "sample_id": _values,
            "cohort": _values,
            "tokens": st.fixed_dictionaries({"prompt": st.integers(0, 99)}),
        },
    )
)
_measurements = (
    st.none()
    | _not_a_map
    | st.fixed_dictionaries({}, optional={"duration": st.integers(0, 10**9)})
)
_row = st.tuples(
    _measurements,
    _metadata,
    st.sampled_from([0, 1]),  # name code
    st.none() | st.floats(0, 1e3),  # latency
    st.sampled_from([-1, 0, 1]),  # success
)


Row = tuple[Any, Any, int, float | None, int]


def _block(rows: list[Row]) -> Any:
    size = len(rows)
    lists: dict[str, Sequence[Any]] = {name: [0] * size for name in COLUMNS}
    lists["timestamps"] = list(range(1_000, 1_000 + size))
    lists["names"] = [row[2] for row in rows]
    lists["latency"] = [math.nan if row[3] is None else row[3] for row in rows]
    lists["cost"] = [math.nan] * size
    lists["success"] = [row[4] for row in rows]
    lists["weight"] = [1.0] * size
    lists["serial"] = list(range(size))
    lists["kind"] = [KIND_MSGPACK] * size
    for name in ("prompt", "completion", "total"):
        lists[name] = [math.nan] * size
    payloads = [encode_fields((row[0], row[1])) for row in rows]
    return build_block(lists, payloads, {}, 1)


@settings(max_examples=150, deadline=None)
@given(st.lists(_row, min_size=BULK_ROWS, max_size=3 * BULK_ROWS))
def test_a_run_decoded_at_once_gives_the_events_built_row_by_row(rows: list[Row]) -> None:
    block = _block(rows)
    together = block_events(block, range(len(rows)), CONTEXT, NAMES, ("p-",))
    one_by_one = [
        block_events(block, [row], CONTEXT, NAMES, ("p-",))[0] for row in range(len(rows))
    ]
    assert together == one_by_one
    assert [event.event_id for event in together] == [f"p-{hex(i)}" for i in range(len(rows))]
    assert together[0].metadata is not one_by_one[0].metadata  # fresh objects each read


def test_missing_fields_read_as_empty_dicts_and_gen_ai_names() -> None:
    rows: list[Row] = [
        (None, {"gen_ai.request.model": "gemini", "gen_ai.system": "google"}, 0, 1.0, 1)
    ]
    rows += [({"duration": 5}, None, 1, None, -1)] * (BULK_ROWS - 1)
    events = block_events(_block(rows), range(BULK_ROWS), CONTEXT, NAMES, ("p-",))
    first = events[0]
    assert (first.measurements, first.model, first.provider) == ({}, "gemini", "google")
    assert (events[1].metadata, events[1].latency_ms, events[1].success) == ({}, None, None)
    assert events[1].event_name == ("agent", "step")
    assert (events[0].condition, events[0].tags) == ("baseline", ("a", "b"))
