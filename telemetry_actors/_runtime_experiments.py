"""Starting, changing and finding experiments (part of ``Runtime``).

Each call is a message to the experiment's actor, answered in mailbox
order; for a durable experiment the actor commits the change to the
database before it answers.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Any

from ._actors._messages import GetRecord, Pause, Resume, Stop
from ._arguments import count_at_least, event_name_list, mapping_copy, str_tuple
from ._emit import _routes
from ._exceptions import ExperimentNotFoundError
from ._experiment import Experiment, ExperimentStatus
from ._names import compile_patterns
from ._runtime_core import off_loop
from ._runtime_database import DatabaseMixin
from ._sampling_config import sampler_for
from ._standard_events import STANDARD_EVENTS
from ._stats._sampling import ReservoirSampler
from ._storage._memory import RELEASE_OFF_LOOP_ROWS, release_blocks
from ._types import EventNameLike


class ExperimentsMixin(DatabaseMixin):
    """start, stop, pause, resume, get, list and cleanup experiments."""

    async def start_experiment(
        self,
        name: str,
        *,
        hypothesis: str | None = None,
        condition: str = "default",
        tags: Iterable[str] = (),
        metadata: Mapping[str, Any] | None = None,
        sample_size: int | None = None,
        metrics_config: Mapping[str, Any] | None = None,
        events: Iterable[EventNameLike] | None = None,
        storage_backend: str | None = None,
        anomaly_detection: Any = None,
        sampling: Any = None,
    ) -> Experiment:
        """Start an experiment: spawn its actor and collect its events from now on.

        ``events`` replaces :data:`STANDARD_EVENTS`; a name ending in ``"*"``
        matches every longer name with that prefix. With a database the
        experiment is durable (``storage_backend`` "sqlite" or "postgresql");
        ``storage_backend="memory"`` keeps it in memory only. ``sampling`` (``Uniform``,
        ``Reservoir``, ``Stratified``, ``Adaptive``) or ``metadata["sampling_rate"]``
        keep a sample of the events; ``anomaly_detection`` flags unusual values
        as they arrive.

        Raises:
            ValueError: an empty or non-str name, a bad sampling setting, an
                unknown storage backend or a bad event name.
            TypeError: an argument of the wrong type.
            RuntimeClosedError: the runtime is not open.
        """
        self._check_open()
        if not isinstance(name, str) or not name:
            raise ValueError(f"experiment name must be a non-empty str, got {name!r}")
        if hypothesis is not None and not isinstance(hypothesis, str):
            raise TypeError(f"hypothesis must be a str or None, got {type(hypothesis).__name__}")
        if not isinstance(condition, str):
            raise TypeError(f"condition must be a str, got {type(condition).__name__}")
        tag_tuple = str_tuple("tags", tags)
        meta = mapping_copy("metadata", metadata)
        config = mapping_copy("metrics_config", metrics_config)
        if sample_size is not None:
            count_at_least("sample_size", sample_size, 0)
        backend = self._backend(storage_backend)
        patterns = compile_patterns(STANDARD_EVENTS if events is None else event_name_list(events))
        sampler, detector = sampler_for(meta, sampling, anomaly_detection)
        experiment = Experiment(
            id=self._new_id(),
            name=name,
            hypothesis=hypothesis,
            condition=condition,
            tags=tag_tuple,
            metadata=meta,
            started_at=self._now_datetime(),
            sample_size=sample_size,
            metrics_config=config,
            storage_backend=backend,
        )
        if backend == "memory":
            state = self._spawn(experiment, patterns, sampler, detector)
        else:
            if isinstance(sampler, ReservoirSampler):
                raise ValueError(
                    "Reservoir sampling keeps its sample in memory; "
                    "use storage_backend='memory' for it"
                )
            await self._save_new(experiment, patterns)
            state = self._durable_state(experiment, patterns, 1, attached=True)
            state.sampler, state.detector = sampler, detector
        _routes.attach(state.mailbox, patterns, self._emit_clock)
        return experiment

    def _backend(self, storage_backend: str | None) -> str:
        """The storage backend a new experiment gets.

        Raises:
            ValueError: an unknown backend, or a durable one without (another) database.
        """
        durable = self._database.kind if self._database is not None else None
        if storage_backend is None:
            return durable or "memory"
        if storage_backend == "memory" or storage_backend == durable:
            return storage_backend
        if storage_backend in ("sqlite", "postgresql"):
            raise ValueError(
                f"storage_backend {storage_backend!r} needs Runtime(database=...) with a "
                f"{storage_backend} database; this runtime has "
                + (f"a {durable} one" if durable else "none")
            )
        raise ValueError(
            f"unknown storage_backend {storage_backend!r}; use 'memory', 'sqlite' or 'postgresql'"
        )

    async def stop_experiment(self, experiment_id: str) -> Experiment:
        """Stop collecting; data stays queryable. Already ended experiments are returned as is.

        Raises:
            ExperimentNotFoundError: unknown id.
        """
        result: Experiment = await self._call(experiment_id, Stop(self._now_datetime()))
        return result

    async def pause_experiment(self, experiment_id: str) -> Experiment:
        """RUNNING -> PAUSED: events emitted after this returns are not collected.

        Raises:
            AlreadyPausedError: it is paused.
            NotRunningError: it is stopped, archived or failed.
            ExperimentNotFoundError: unknown id.
        """
        result: Experiment = await self._call(experiment_id, Pause(self._now_datetime()))
        return result

    async def resume_experiment(self, experiment_id: str) -> Experiment:
        """PAUSED -> RUNNING: events emitted after this returns are collected again.

        Raises:
            NotPausedError: it is not paused.
            ExperimentNotFoundError: unknown id.
        """
        result: Experiment = await self._call(experiment_id, Resume(self._now_datetime()))
        return result

    async def is_paused(self, experiment_id: str) -> bool:
        """True when the experiment is paused; False for unknown ids."""
        self._check_open()
        if experiment_id not in self._registry:
            return False
        experiment = await self.get_experiment(experiment_id)
        return experiment.status is ExperimentStatus.PAUSED

    async def get_experiment(self, experiment_id: str) -> Experiment:
        """The experiment's current record (also one another runtime made in the database).

        Raises:
            ExperimentNotFoundError: unknown id.
        """
        self._check_open()
        result: Experiment = await self._send(await self._find(experiment_id), GetRecord())
        return result

    async def list_experiments(self) -> list[Experiment]:
        """Every experiment of this runtime (and of its database), in start order."""
        self._check_open()
        await self._refresh()
        records = [await self._send(state, GetRecord()) for state in self._registry]
        return sorted(records, key=lambda record: record.started_at)

    async def cleanup(self, experiment_id: str) -> None:
        """Stop the experiment's actor and forget the experiment and its data.

        Unknown ids are a no-op. Calls still waiting on it raise
        ``ExperimentNotFoundError``.
        """
        self._check_open()
        if self._database is not None:
            try:
                await self._find(experiment_id)
            except ExperimentNotFoundError:
                return
        if experiment_id not in self._registry:
            return
        state = self._registry.remove(experiment_id)
        if state is not None:
            self._retire(state, ExperimentNotFoundError(experiment_id))
            if state.durable is None and len(state.store) >= RELEASE_OFF_LOOP_ROWS:
                # Dropped block by block in a worker: never one long free on the loop.
                await off_loop(release_blocks, state.store.take_blocks())
            if state.durable is not None:
                database = state.durable.database
                await self._run_db(
                    functools.partial(database.delete_experiment, experiment_id=experiment_id)
                )
