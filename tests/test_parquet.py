"""Parquet export and ``rt.to_pandas`` (contract section "Ecosystem")."""

from __future__ import annotations

import json
import math
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from telemetry_actors import ExperimentNotFoundError, NoEventsError, Runtime, emit
from tests.conftest import BASE_US, FakeClock

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
pd = pytest.importorskip("pandas")

COLUMNS = [
    "event_id",
    "experiment_id",
    "experiment_name",
    "condition",
    "timestamp",
    "datetime",
    "event_name",
    "latency_ms",
    "cost_usd",
    "success",
    "model",
    "provider",
    "sample_id",
    "session_id",
    "cohort",
    "tags",
    "sampling_weight",
    "metadata",
    "measurements",
]


class Custom:
    """A caller's object that JSON does not know."""

    def __str__(self) -> str:
        return "custom!"


async def _fill(rt: Runtime, clock: FakeClock) -> str:
    """Four events: a priced call, a failure, NaN and a custom object, a bare event."""
    exp = await rt.start_experiment(
        "parquet\ud800run", condition="arm-a", tags=("t1", "t\udc00"), events=["app.*"]
    )
    emit(
        "app.call.stop",
        {"duration": 1_500_000},
        {
            "model": "gpt-4",
            "provider": "openai",
            "tokens": {"prompt": 1000, "completion": 500},
            "response": "ok",
            "sample_id": 17,
            "session_id": "s-1",
            "cohort": "c",
        },
    )
    clock.advance(1_000)
    emit("app.call.exception", {"duration": 2_000_000}, {"error": "boom", "model": "gpt-4"})
    clock.advance(1_000)
    emit("app.odd", {"score": math.nan}, {"thing": Custom(), "note": "lone \ud800"})
    clock.advance(1_000)
    emit("app.bare")
    await rt.flush()
    return exp.id


async def test_parquet_export_has_typed_columns_and_values(
    rt: Runtime, clock: FakeClock, tmp_path: Path
) -> None:
    experiment_id = await _fill(rt, clock)
    path = await rt.export(experiment_id, "parquet", path=tmp_path / "events.parquet")
    assert path == tmp_path / "events.parquet"
    table = pq.read_table(path)
    schema = table.schema
    assert schema.names == COLUMNS
    assert schema.field("timestamp").type == pa.timestamp("us", tz="UTC")
    for name in ("latency_ms", "cost_usd", "sampling_weight"):
        assert schema.field(name).type == pa.float64()
    assert schema.field("success").type == pa.bool_()
    assert schema.field("tags").type == pa.list_(pa.string())
    for name in ("event_name", "model", "sample_id", "metadata", "measurements", "datetime"):
        assert schema.field(name).type == pa.string()

    rows = table.to_pylist()
    assert len(rows) == 4
    call, failure, odd, bare = rows
    assert [row["event_name"] for row in rows] == [
        "app.call.stop",
        "app.call.exception",
        "app.odd",
        "app.bare",
    ]
    assert call["timestamp"] == datetime(2025, 1, 1, tzinfo=UTC)
    assert odd["timestamp"] == datetime(2025, 1, 1, 0, 0, 0, 2_000, tzinfo=UTC)
    assert call["datetime"] == "2025-01-01T00:00:00.000000+00:00"
    assert call["experiment_id"] == experiment_id
    assert call["experiment_name"] == "parquet\\ud800run"  # the lone surrogate, escaped
    assert call["condition"] == "arm-a"
    assert call["tags"] == ["t1", "t\\udc00"]
    assert call["latency_ms"] == 1.5
    assert call["cost_usd"] == pytest.approx(0.06, rel=1e-12)  # 1000 x $30/M + 500 x $60/M
    assert call["success"] is True
    assert failure["success"] is False
    assert odd["success"] is None
    assert bare["success"] is None
    assert (call["model"], call["provider"], call["session_id"], call["cohort"]) == (
        "gpt-4",
        "openai",
        "s-1",
        "c",
    )
    assert call["sample_id"] == "17"  # copied fields are text: str() of non-str values
    assert failure["latency_ms"] == 2.0
    assert bare["latency_ms"] is None
    assert bare["cost_usd"] is None
    assert bare["model"] is None
    assert [row["sampling_weight"] for row in rows] == [1.0] * 4
    assert json.loads(call["metadata"])["tokens"] == {"prompt": 1000, "completion": 500}
    assert json.loads(call["measurements"]) == {"duration": 1_500_000}
    # What JSON cannot hold is written as its str(): NaN, objects, lone surrogates.
    assert json.loads(odd["measurements"]) == {"score": "nan"}
    assert json.loads(odd["metadata"]) == {"thing": "custom!", "note": "lone \\ud800"}
    assert json.loads(bare["metadata"]) == {}
    assert json.loads(bare["measurements"]) == {}


async def test_read_parquet_with_pandas_gives_typed_dtypes(
    rt: Runtime, clock: FakeClock, tmp_path: Path
) -> None:
    experiment_id = await _fill(rt, clock)
    path = await rt.export(experiment_id, "parquet", path=tmp_path / "e.parquet")
    frame = pd.read_parquet(path)
    assert list(frame.columns) == COLUMNS
    assert str(frame["timestamp"].dtype) == "datetime64[us, UTC]"
    assert frame["latency_ms"].dtype == "float64"
    assert frame["latency_ms"].tolist()[:2] == [1.5, 2.0]
    assert math.isnan(frame["latency_ms"].iloc[3])
    assert frame["timestamp"].iloc[3] == pd.Timestamp(BASE_US + 3_000, unit="us", tz="UTC")


async def test_default_path_ends_in_parquet(rt: Runtime, clock: FakeClock, tmp_path: Path) -> None:
    experiment_id = await _fill(rt, clock)
    path = await rt.export(experiment_id, "parquet")
    assert path.parent == tmp_path / "exports"
    assert path.name.startswith("parquet_run_")
    assert path.suffix == ".parquet"
    assert pq.read_metadata(path).num_rows == 4


async def test_to_pandas_has_the_columns_of_the_export(
    rt: Runtime, clock: FakeClock, tmp_path: Path
) -> None:
    experiment_id = await _fill(rt, clock)
    frame = await rt.to_pandas(experiment_id)
    assert list(frame.columns) == COLUMNS
    assert len(frame) == 4
    assert str(frame["timestamp"].dtype) == "datetime64[us, UTC]"
    assert frame["timestamp"].iloc[1] == pd.Timestamp(BASE_US + 1_000, unit="us", tz="UTC")
    assert frame["latency_ms"].dtype == "float64"
    assert frame["cost_usd"].iloc[0] == pytest.approx(0.06, rel=1e-12)
    assert str(frame["success"].dtype) == "boolean"  # nullable: True, False, <NA>
    assert frame["success"].tolist()[:2] == [True, False]
    assert frame["success"].isna().tolist() == [False, False, True, True]
    assert frame["model"].tolist()[:2] == ["gpt-4", "gpt-4"]
    assert frame["model"].isna().tolist() == [False, False, True, True]
    assert list(frame["tags"].iloc[0]) == ["t1", "t\\udc00"]
    assert json.loads(frame["measurements"].iloc[2]) == {"score": "nan"}
    # The same values as the file export, column by column.
    exported = pd.read_parquet(await rt.export(experiment_id, "parquet"))
    for column in COLUMNS:
        if column not in ("tags", "success"):
            assert frame[column].equals(exported[column]) or (
                frame[column].tolist() == exported[column].tolist()
            ), column


async def test_export_multiple_parquet_holds_every_experiment(
    rt: Runtime, clock: FakeClock, tmp_path: Path
) -> None:
    first = await rt.start_experiment("one", events=["x.*"])
    second = await rt.start_experiment("two", events=["x.*"])
    emit("x.a", {"duration": 1_000_000})
    clock.advance(5)
    emit("x.b", {"duration": 3_000_000})
    await rt.flush()
    path = await rt.export_multiple([first.id, second.id], "parquet", path=tmp_path / "m.parquet")
    table = pq.read_table(path)
    assert table.column("experiment_name").to_pylist() == ["one", "one", "two", "two"]
    assert table.column("latency_ms").to_pylist() == [1.0, 3.0, 1.0, 3.0]


async def test_export_streams_one_row_group_per_batch(rt: Runtime, tmp_path: Path) -> None:
    exp = await rt.start_experiment("many", events=["n.*"])
    for index in range(10_001):
        emit("n.e", {"duration": index})
    await rt.flush()
    path = await rt.export(exp.id, "parquet", path=tmp_path / "n.parquet")
    metadata = pq.read_metadata(path)
    assert metadata.num_rows == 10_001
    assert metadata.num_row_groups == 2  # 10,000 events per batch: never all in memory
    latencies = pq.read_table(path, columns=["latency_ms"]).column(0).to_pylist()
    assert latencies[-1] == pytest.approx(10_000 / 1e6)


async def test_no_events_raise_no_events_error(rt: Runtime, tmp_path: Path) -> None:
    exp = await rt.start_experiment("empty")
    with pytest.raises(NoEventsError):
        await rt.export(exp.id, "parquet", path=tmp_path / "none.parquet")
    with pytest.raises(NoEventsError):
        await rt.to_pandas(exp.id)
    assert not (tmp_path / "none.parquet").exists()
    with pytest.raises(ExperimentNotFoundError):
        await rt.to_pandas("0123456789abcdef")


async def test_missing_pyarrow_names_the_extra(
    rt: Runtime, clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    experiment_id = await _fill(rt, clock)
    hidden: dict[str, Any] = {name: None for name in sys.modules if name.startswith("pyarrow")}
    hidden["pyarrow"] = None
    for name, value in hidden.items():
        monkeypatch.setitem(sys.modules, name, value)
    with pytest.raises(ImportError, match=r"telemetry-actors\[parquet\]"):
        await rt.export(experiment_id, "parquet", path=tmp_path / "x.parquet")
    with pytest.raises(ImportError, match=r"telemetry-actors\[parquet\]"):
        await rt.to_pandas(experiment_id)
    assert not (tmp_path / "x.parquet").exists()
