"""The bulk ingest path stores exactly what the event-by-event path stores.

Both paths get the same mailbox slots (as ``emit`` queues them: encoded
bytes plus the caller's objects, or an exact capture); the stored blocks
must agree column by column, byte for byte, with the same code tables and
the same drop counts. Serial numbers differ (each path takes fresh ones).
"""

from __future__ import annotations

import enum
from collections import deque
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from telemetry_actors._actors import _bulk_ingest as bulk_module
from telemetry_actors._actors import _ingest as ingest_module
from telemetry_actors._actors import _row_fields as row_fields_module
from telemetry_actors._actors._bulk_ingest import RUN_BYTES, collect_run, take_run
from telemetry_actors._actors._derive_batch import derive_batch
from telemetry_actors._actors._ingest import ingest, ingest_one_by_one
from telemetry_actors._actors._state import ExperimentState
from telemetry_actors._enrichment import derive, model_of, provider_of
from telemetry_actors._storage._block import COLUMNS
from tests.ingest_slots import NAMES, PRICING, ingest_state, llm_call, mailbox_slots


class Color(enum.Enum):
    RED = "red"


def _stored(state: ExperimentState) -> dict[str, Any]:
    blocks = state.store.blocks()
    assert len(blocks) <= 1
    if not blocks:
        return {"rows": 0, "dropped": state.mailbox.dropped}
    block = blocks[0]
    return {
        "rows": block.size,
        "columns": {name: getattr(block, name) for name in COLUMNS if name != "serial"},
        "serial_order": np.argsort(block.serial, kind="stable"),
        "blob": block.blob,
        "extras": {row: (kept.measurements, kept.metadata) for row, kept in block.extras.items()},
        "names": state.store.names.view(),
        "models": state.store.models.view(),
        "providers": state.store.providers.view(),
        "dropped": state.mailbox.dropped,
        "pending": state.pending_rows,
    }


def _one_by_one(state: ExperimentState, slots: list[Any]) -> None:
    """The event-by-event path over ``slots`` in one batch (no time cap on a slow machine)."""
    cap = ingest_module.BATCH_SECONDS
    ingest_module.BATCH_SECONDS = float("inf")
    try:
        ingest_one_by_one(state, deque(slots), len(slots))
    finally:
        ingest_module.BATCH_SECONDS = cap


def _both(events: list[tuple[Any, Any, Any, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    slots = mailbox_slots(events)
    bulk, single = ingest_state(), ingest_state()
    collect_run(bulk, list(slots))
    _one_by_one(single, slots)
    return _stored(bulk), _stored(single)


def _assert_same(bulk: dict[str, Any], single: dict[str, Any]) -> None:
    assert bulk.keys() == single.keys()
    for key in bulk:
        if key == "columns":
            for name, column in bulk[key].items():
                other = single[key][name]
                assert column.dtype == other.dtype, name
                np.testing.assert_array_equal(column, other, err_msg=name)
        elif key == "serial_order":
            np.testing.assert_array_equal(bulk[key], single[key])
        else:
            assert repr(bulk[key]) == repr(single[key]), key


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["ok", "error", "gpt-4", "priced", "openai", "", "x" * 3]),
)
_tokens = st.one_of(
    st.fixed_dictionaries(
        {"prompt": st.integers(0, 2**64 - 1), "completion": st.integers(-(2**63), 2**63)}
    ),
    st.fixed_dictionaries({"prompt": _scalars, "completion": _scalars}),
    st.dictionaries(
        st.sampled_from(["prompt", "completion", "total", "input_tokens", "prompt_tokens"]),
        _scalars,
    ),
    _scalars,
)
_measurements = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {"duration": st.integers(-(2**63), 2**64 - 1)},
        optional={"status": st.sampled_from(["ok", "error", "other", 3]), "cost": _scalars},
    ),
    st.dictionaries(st.sampled_from(["duration", "start", "stop", "status", "cost"]), _scalars),
)
_metadata = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {
            "model": st.sampled_from(["gpt-4", "priced", "unknown-model"]),
            "provider": st.sampled_from(["openai", "anthropic"]),
            "tokens": _tokens,
        },
        optional={
            "error": _scalars,
            "exception": _scalars,
            "response": _scalars,
            "cost": _scalars,
            "sample_id": st.text(max_size=5),
        },
    ),
    st.dictionaries(
        st.sampled_from(
            [
                "model",
                "provider",
                "tokens",
                "cost",
                "error",
                "response",
                "gen_ai.response.model",
                "gen_ai.system",
                "gen_ai.usage.input_tokens",
                "gen_ai.usage.output_tokens",
            ]
        ),
        st.one_of(_scalars, _tokens),
    ),
    # Captured exactly at emit (tuples, sets), or compared and kept as objects.
    st.fixed_dictionaries(
        {"model": st.sampled_from(["gpt-4", Color.RED]), "tags": st.just(("a", "b"))}
    ),
    st.fixed_dictionaries({"model": st.just("gpt-4"), "color": st.just(Color.RED)}),
)
_events = st.lists(
    st.tuples(
        st.sampled_from(NAMES),
        _measurements,
        _metadata,
        st.one_of(st.integers(0, 2**40), st.just("not a time stamp")),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_events)
def test_bulk_stores_what_one_by_one_stores(events: list[tuple[Any, Any, Any, Any]]) -> None:
    bulk, single = _both(events)
    _assert_same(bulk, single)


def test_common_shape_matches_and_prices_each_model() -> None:
    events = [llm_call(i) for i in range(300)]
    bulk, single = _both(events)
    _assert_same(bulk, single)
    assert bulk["rows"] == 300
    cost = bulk["columns"]["cost"]
    assert np.isfinite(cost).all()
    # "priced" rows use the run's own rates: (prompt * 0.5 + completion * 1.5) / 1e6.
    i = 1
    expected = ((100 + i) * 0.5 + (20 + i) * 1.5) / 1_000_000
    assert expected in cost.tolist()


def _change(events: list[tuple[Any, Any, Any, Any]]) -> None:
    """Change every event's model and prompt count (after they were emitted)."""
    for _, _, metadata, _ in events:
        metadata["model"] = "changed"
        metadata["tokens"]["prompt"] = -1


def _assert_emitted_values_kept(bulk: ExperimentState, single: ExperimentState) -> None:
    _assert_same(_stored(bulk), _stored(single))
    assert "changed" not in bulk.store.models.view()
    assert not np.any(bulk.store.blocks()[0].prompt == -1)


def test_fields_changed_after_emit_store_what_was_emitted() -> None:
    events = [llm_call(i) for i in range(20)]
    slots = mailbox_slots(events)
    _change(events)  # after the emit, before the actor reads them
    bulk, single = ingest_state(), ingest_state()
    collect_run(bulk, list(slots))
    _one_by_one(single, slots)
    _assert_emitted_values_kept(bulk, single)


def test_fields_changed_while_the_run_is_enriched_store_and_price_what_was_emitted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Enriched from the caller's objects, checked afterwards: a change meanwhile counts."""
    events = [llm_call(i) for i in range(20)]
    slots = mailbox_slots(events)
    enrich = bulk_module.derive_batch

    def change_then_enrich(*args: Any) -> Any:
        _change(events)  # as another thread could, mid-run
        return enrich(*args)

    monkeypatch.setattr(bulk_module, "derive_batch", change_then_enrich)
    bulk = ingest_state()
    collect_run(bulk, list(slots))
    monkeypatch.undo()
    single = ingest_state()
    _one_by_one(single, mailbox_slots([llm_call(i) for i in range(20)]))
    _assert_emitted_values_kept(bulk, single)


def test_unchanged_builtin_fields_are_enriched_without_decoding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_decoding(*args: Any) -> Any:
        raise AssertionError("decoded although the caller's objects were unchanged")

    monkeypatch.setattr(row_fields_module, "decode_fields", no_decoding)
    state = ingest_state()
    collect_run(state, mailbox_slots([llm_call(i) for i in range(20)]))
    assert len(state.store) == 20


class _Refusal(BaseException):
    """Not an Exception: what a caller's code may raise all the same."""


class _Raising:
    """A caller's value whose comparison raises a BaseException."""

    def __eq__(self, other: object) -> bool:
        raise _Refusal

    def __hash__(self) -> int:
        return 1


def test_a_value_raising_in_comparison_is_dropped_or_kept_as_one_by_one() -> None:
    events = [llm_call(i) for i in range(10)]
    events[3] = (NAMES[0], {"duration": 5}, {"model": _Raising()}, 2_000)
    bulk, single = _both(events)
    _assert_same(bulk, single)


def test_take_run_stops_at_a_message_and_puts_the_rest_back() -> None:
    slots = mailbox_slots([llm_call(i) for i in range(3)])
    message = object()
    queue: deque[Any] = deque([*slots[:10], message, *slots[10:]])
    items, taken, found = take_run(queue, 256)
    assert found is message
    assert taken == 3  # two events and the message
    assert items == slots[:10]
    assert list(queue) == slots[10:]


def test_take_run_takes_at_most_limit_events() -> None:
    slots = mailbox_slots([llm_call(i) for i in range(5)])
    queue: deque[Any] = deque(slots)
    items, taken, found = take_run(queue, 2)
    assert (taken, found, items) == (2, None, slots[:10])
    assert list(queue) == slots[10:]


def test_take_run_cuts_huge_payloads_at_the_byte_budget() -> None:
    big = {"text": "x" * (RUN_BYTES // 3)}
    slots = mailbox_slots([(NAMES[0], {"duration": 1}, big, 1_000) for _ in range(6)])
    message = object()
    queue: deque[Any] = deque([*slots, message])
    items, taken, found = take_run(queue, 256)
    assert (len(items), taken, found) == (2 * 5, 2, None)
    assert list(queue) == [*slots[10:], message]


def test_one_huge_event_is_still_taken() -> None:
    slots = mailbox_slots([(NAMES[0], {"duration": 1}, {"text": "x" * (2 * RUN_BYTES)}, 1_000)])
    items, taken, _ = take_run(deque(slots), 256)
    assert taken == 1
    assert items == slots


def test_ingest_takes_the_bulk_path_only_without_sampling_or_detection() -> None:
    state = ingest_state()
    slots = mailbox_slots([llm_call(i) for i in range(4)])
    state.mailbox.queue.extend(slots)
    taken, message = ingest(state, state.mailbox.queue, 256)
    assert (taken, message) == (4, None)
    assert len(state.store) == 4


@pytest.mark.parametrize("nanoseconds", [False, True])
def test_time_stamps_in_nanoseconds_and_beyond_int64_are_handled_alike(nanoseconds: bool) -> None:
    events = [llm_call(i) for i in range(5)]
    events[1] = (*events[1][:3], 2**80)  # beyond int64 even in ns: the row is dropped
    events[2] = (*events[2][:3], 1_700_000_000_123_456_789)
    slots = mailbox_slots(events)
    bulk, single = ingest_state(), ingest_state()
    bulk.nanosecond_stamps = single.nanosecond_stamps = nanoseconds
    collect_run(bulk, list(slots))
    _one_by_one(single, slots)
    _assert_same(_stored(bulk), _stored(single))
    assert bulk.mailbox.dropped == 1
    assert len(bulk.store) == 4


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_measurements, _metadata), min_size=1, max_size=30))
def test_derive_batch_equals_derive_row_by_row(pairs: list[tuple[Any, Any]]) -> None:
    plain = [
        (m if m is not None else {}, md if md is not None else {})
        for m, md in pairs
        if not any(isinstance(v, Color | tuple) for v in (md or {}).values())
    ]
    if not plain:
        return
    columns = derive_batch([m for m, _ in plain], [md for _, md in plain], PRICING)
    for row, (measurements, metadata) in enumerate(plain):
        latency, cost, outcome, tokens = derive(measurements, metadata, PRICING)
        assert _same_float(columns.latency[row], latency)
        assert _same_float(columns.cost[row], cost)
        assert columns.success[row] == (-1 if outcome is None else int(outcome))
        expected = (None, None, None) if tokens is None else tokens
        got = (columns.prompt[row], columns.completion[row], columns.total[row])
        for value, want in zip(got, expected, strict=True):
            assert _same_float(value, None if want is None else float(want))
        model, provider = metadata.get("model"), metadata.get("provider")
        assert _same_value(columns.models[row], model if model is not None else model_of(metadata))
        assert _same_value(
            columns.providers[row], provider if provider is not None else provider_of(metadata)
        )


@pytest.mark.parametrize(
    ("prompt", "completion"),
    [
        (2**53 + 1, 1),  # float(p) + float(c) rounds twice: 2**53, not 2**53 + 2
        (2**52 + 1, 2**52 + 2),
        (2**52 - 1, 2**52 - 1),  # the largest counts added as floats
        (-(2**53) - 1, -1),
    ],
)
def test_token_totals_are_rounded_once_as_derive_rounds_them(prompt: int, completion: int) -> None:
    measurements = [{"duration": 1_000_000}] * 3
    metadata = [
        {"model": "gpt-4", "tokens": {"prompt": 10, "completion": 5}},
        {"model": "gpt-4", "tokens": {"prompt": prompt, "completion": completion}},
        {"model": "gpt-4", "tokens": {"prompt": 7, "completion": 1}},
    ]
    columns = derive_batch(measurements, metadata, PRICING)
    assert columns.total.tolist() == [15.0, float(prompt + completion), 8.0]
    assert columns.prompt[1] == float(prompt)
    assert columns.completion[1] == float(completion)


def _same_value(value: Any, expected: Any) -> bool:
    """Equal, or both NaN (a NaN model name is stored as emitted, and NaN != NaN)."""
    if isinstance(value, float) and isinstance(expected, float):
        return value == expected or (np.isnan(value) and np.isnan(expected))
    return bool(value == expected)


def _same_float(value: float, expected: float | None) -> bool:
    if expected is None:
        return bool(np.isnan(value))
    return float(value) == expected or (np.isnan(value) and np.isnan(expected))
