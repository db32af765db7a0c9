"""Exports, archives and DataFrames (part of ``Runtime``): built in worker threads."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
import msgspec

from ._actors._inserts import PreparedRows, prepare_rows
from ._actors._messages import Barrier, BeginArchive, EndArchive, Insert
from ._event import Event
from ._exceptions import ExperimentNotFoundError, NoEventsError, RuntimeClosedError
from ._experiment import Experiment, ExperimentStatus
from ._full_gc import full_collections_held
from ._io._archive import read_archive, write_archive
from ._io._export import check_format, write_events
from ._io._paths import reserve_default, target_path
from ._names import compile_patterns
from ._runtime_core import RuntimeCore, off_loop
from ._storage._memory import CHUNK_ROWS


class FilesMixin(RuntimeCore):
    """export, export_multiple, to_pandas, archive and load_archive."""

    async def export(
        self,
        experiment_id: str,
        format: str,
        *,
        path: str | Path | None = None,
        flatten: bool = True,
        neutralize_formulas: bool = True,
    ) -> Path:
        """Write the experiment's events as ``"csv"``, ``"jsonl"`` or ``"parquet"``.

        Returns the path. The default path is unique even for concurrent
        exports of same-named experiments in the same second. With
        ``neutralize_formulas`` (the default), CSV text cells beginning with
        ``=``, ``+``, ``-``, ``@``, tab or CR get a leading ``'``, so a
        spreadsheet opening the file cannot run formulas; numbers never change.

        Raises:
            ValueError: unknown format.
            NoEventsError: the experiment has no events.
            ExperimentNotFoundError: unknown id.
        """
        return await self.export_multiple(
            [experiment_id],
            format,
            path=path,
            flatten=flatten,
            neutralize_formulas=neutralize_formulas,
        )

    async def export_multiple(
        self,
        experiment_ids: Sequence[str],
        format: str,
        *,
        path: str | Path | None = None,
        flatten: bool = True,
        neutralize_formulas: bool = True,
    ) -> Path:
        """Write the events of several experiments into one file; return the path.

        Raises:
            ValueError: unknown format or no ids.
            NoEventsError: none of the experiments has events.
            ExperimentNotFoundError: an unknown id.
        """
        kind = check_format(format)
        ids = [experiment_ids] if isinstance(experiment_ids, str) else list(experiment_ids)
        if not ids:
            raise ValueError("export_multiple needs at least one experiment id")
        views = [await self._view(experiment_id) for experiment_id in ids]
        name = views[0].record.name if len(views) == 1 else "experiments"
        seconds = self._now() // 1_000_000

        def run(*, cancel: object) -> Path:
            snapshots = [view.snapshot.resolved() for view in views]
            if not any(snapshot.size for snapshot in snapshots):
                raise NoEventsError(ids[0] if len(ids) == 1 else ", ".join(ids))
            target, reserved = target_path(
                path, lambda: reserve_default(self._export_dir, name, seconds, kind)
            )
            return write_events(
                snapshots,
                target,
                reserved,
                kind,
                flatten,
                neutralize_formulas,
                cancel=cancel,  # type: ignore[arg-type]
            )

        return await off_loop(run, settle=True)

    async def to_pandas(self, experiment_id: str) -> Any:
        """The experiment's events as a ``pandas.DataFrame`` (the ``parquet`` extra).

        One row per event in ``get_all`` order, with the columns of the
        Parquet export: ``timestamp`` as ``datetime64[us, UTC]``, numbers as
        float64, ``success`` as nullable ``boolean``, ``metadata`` and
        ``measurements`` as JSON text. Built through Arrow in a worker thread,
        O(events); the event loop stays free.

        Example:
            >>> frame = await rt.to_pandas(exp.id)  # doctest: +SKIP
            >>> frame.groupby("model")["latency_ms"].describe()  # doctest: +SKIP

        Raises:
            NoEventsError: the experiment has no events.
            ExperimentNotFoundError: unknown id.
            ImportError: pyarrow or pandas is not installed.
        """
        view = await self._view(experiment_id)
        if not view.snapshot.size:
            raise NoEventsError(experiment_id)
        from ._io._parquet import events_frame

        return await off_loop(events_frame, [view.snapshot])

    async def archive(self, experiment_id: str, *, path: str | Path | None = None) -> Path:
        """Write the experiment and its events to an archive; its status becomes ARCHIVED.

        Collection stops while the file is written; if it cannot be written,
        the experiment's status is left as it was and the error is raised.

        Raises:
            ExperimentNotFoundError: unknown id.
            OSError: the file could not be written.
        """
        view = await self._call(experiment_id, BeginArchive())
        seconds = self._now() // 1_000_000
        name = f"{view.record.name}_archive"

        def run(*, cancel: object) -> Path:
            target, reserved = target_path(
                path, lambda: reserve_default(self._export_dir, name, seconds, "jsonl")
            )
            return write_archive(
                view.record,
                view.snapshot,
                target,
                reserved,
                cancel=cancel,  # type: ignore[arg-type]
            )

        try:
            result = await off_loop(run, settle=True)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self._end_archive(experiment_id, False)
            raise
        await self._end_archive(experiment_id, True)
        return result

    async def _end_archive(self, experiment_id: str, written: bool) -> None:
        try:
            await self._call(experiment_id, EndArchive(written))
        except (ExperimentNotFoundError, RuntimeClosedError):
            pass  # cleaned up or closed meanwhile: nothing left to mark

    async def load_archive(self, path: str | Path) -> Experiment:
        """Bring an archive back as an ARCHIVED experiment with the same id and events.

        Raises:
            ValueError: a malformed file (the message says ``line N``) or an id
                already present; nothing is loaded then.
            OSError: the file cannot be read.
        """
        self._check_open()
        # The parsed events live until the actor has stored them: no full
        # collection scans them meanwhile (see ``_full_gc``).
        with full_collections_held():
            experiment, chunks = await off_loop(_read_and_prepare, Path(path))
            self._check_open()
            if experiment.id in self._registry:
                raise ValueError(
                    f"experiment {experiment.id!r} is already present; cleanup it before loading"
                )
            experiment = msgspec.structs.replace(experiment, status=ExperimentStatus.ARCHIVED)
            if self._database is None:
                state = self._spawn(experiment, compile_patterns(()))
            else:
                kind = self._database.kind
                experiment = msgspec.structs.replace(experiment, storage_backend=kind)
                await self._save_new(experiment, ())  # type: ignore[attr-defined]
                state = self._durable_state(experiment, (), 1, attached=False)  # type: ignore[attr-defined]
            while chunks:
                await self._send(state, Insert(chunks.pop(0)))  # stored rows leave memory
            if state.durable is not None:
                await self._send(state, Barrier())  # committed before it is returned
            return experiment


#: Events parsed and prepared at a time while loading an archive: freeing a
#: batch's Events is one C call that holds the GIL (about 1 ms per 1,000).
READ_BATCH = 4_096
#: Events stored per message: a sealed chunk of the memory store, which the
#: actor stores as it is (a few ms) instead of merging smaller blocks on the
#: loop (about 20 ms per chunk).
LOAD_CHUNK = CHUNK_ROWS


def _read_and_prepare(path: Path, *, cancel: Any) -> tuple[Experiment, list[PreparedRows]]:
    """Read and check a whole archive, preparing its rows as it goes (worker thread)."""

    def prepare(events: list[Event]) -> PreparedRows:
        return prepare_rows(events, capture=False, packed=True)

    experiment, batches = read_archive(path, prepare, size=READ_BATCH, cancel=cancel)
    per_chunk = max(1, LOAD_CHUNK // READ_BATCH)
    chunks: list[PreparedRows] = []
    batches.reverse()
    while batches:  # each batch is freed as soon as it is joined: never a million at once
        parts = [batches.pop() for _ in range(min(per_chunk, len(batches)))]
        chunks.append(PreparedRows.joined(parts))
        del parts
    return experiment, chunks
