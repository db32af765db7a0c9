"""Where the archive commands read experiments from: archive files, or a database.

Without ``--database`` the arguments are archives, loaded into a memory-only
runtime. With it they name experiments in the database (an id, a name or the
start of an id), read in place: a second terminal can look at experiments
that another process is still writing, over every event it has committed.
Nothing is loaded into the database; the runtime that reads it leaves every
experiment's status as it is.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from .. import Experiment, Runtime
from ._archives import load_archives
from ._databases import display_url, open_runtime
from ._errors import DatabaseError

__all__ = ["Source", "find_experiment", "open_sources"]

#: How many experiments an ambiguous reference lists by id.
_LISTED = 5


@dataclass(frozen=True)
class Source:
    """An experiment to read, and how messages name where it came from."""

    name: str  # the archive's path, or the experiment and its id
    experiment: Experiment


def _given_twice(sources: Sequence[Source]) -> None:
    seen: set[str] = set()
    for source in sources:
        experiment = source.experiment
        if experiment.id in seen:
            raise DatabaseError(
                f"{source.name} is experiment {experiment.name} (id {experiment.id!r}), given "
                "twice; compare and plot need different experiments"
            )
        seen.add(experiment.id)


def find_experiment(reference: str, experiments: Sequence[Experiment], shown: str) -> Experiment:
    """The experiment ``reference`` names: its id, else its name, else the start of its id.

    Args:
        reference: what the user typed.
        experiments: the experiments of the database.
        shown: the database as messages name it.

    Raises:
        DatabaseError: no experiment, or several, match.
    """
    for matches in (
        [one for one in experiments if one.id == reference],
        [one for one in experiments if one.name == reference],
        [one for one in experiments if reference and one.id.startswith(reference)],
    ):
        if len(matches) == 1:
            return matches[0]
        if matches:
            ids = sorted(one.id for one in matches)
            listed = ", ".join(ids[:_LISTED]) + (", …" if len(ids) > _LISTED else "")
            raise DatabaseError(
                f"{reference!r} names {len(ids)} experiments in {shown} (ids {listed}); give an id"
            )
    raise DatabaseError(
        f"no experiment {reference!r} in {shown}; "
        f"telemetry-actors summarize --database {shown} lists them"
    )


@asynccontextmanager
async def open_sources(
    arguments: Sequence[str], database: str | None
) -> AsyncIterator[tuple[Runtime, list[Source]]]:
    """A runtime holding the experiments the arguments name, in their order.

    Without ``database`` each argument is an archive file; with it, each names
    an experiment of the database, and no argument means every experiment in
    it, in start order (then by name).

    Raises:
        ArchiveError: an archive does not load (see :func:`load_archives`).
        DatabaseError: the database does not open, an argument names no
            experiment or several, or one experiment is named twice.
    """
    if database is None:
        async with Runtime() as rt:
            paths = [Path(argument) for argument in arguments]
            experiments = await load_archives(rt, paths)
            yield (
                rt,
                [Source(str(path), one) for path, one in zip(paths, experiments, strict=True)],
            )
        return
    async with open_runtime(database, must_exist=True) as rt:
        shown = display_url(database)
        everything = sorted(
            await rt.list_experiments(), key=lambda one: (one.started_at, one.name, one.id)
        )
        if arguments:
            sources = [
                Source(argument, find_experiment(argument, everything, shown))
                for argument in arguments
            ]
            _given_twice(sources)
        else:
            sources = [Source(f"experiment {one.name} ({one.id})", one) for one in everything]
        yield rt, sources
