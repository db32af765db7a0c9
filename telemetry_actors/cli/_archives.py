"""Loading archive files for the CLI commands.

Every failure to load becomes an :class:`ArchiveError` whose message is one
line naming the file, so the CLI can print it without a traceback.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec

from .. import Experiment, Runtime
from ._errors import ArchiveError

__all__ = ["label_of", "load_archives"]


#: The columns by which an export (CSV or JSON Lines) is told from other files.
_EXPORT_COLUMNS = frozenset({"event_id", "experiment_id", "event_name"})
_NOT_AN_ARCHIVE = (
    "{path} looks like a {kind} export{detail}, not an archive; archives start with an "
    "experiment_metadata line: write one with rt.archive(id), as the demo does "
    "(*.archive.jsonl); telemetry-actors export turns archives into exports, not back"
)
_GIVEN_TWICE = "{path} is given twice; compare and plot need archives of different experiments"
_SAME_EXPERIMENT = (
    "{path} holds the same experiment as {first} ({name}, id {id!r}), a copy of one run; "
    "compare and plot need archives of different experiments"
)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _first_line(path: Path) -> bytes:
    """The first line of ``path`` (at most 1 MiB of it); empty if unreadable."""
    try:
        with path.open("rb") as stream:
            return stream.readline(1 << 20).strip()
    except OSError:
        return b""


def _first_record(path: Path) -> dict[str, Any] | None:
    """The first line of ``path`` as a JSON object, or None if it is not one."""
    try:
        record = msgspec.json.decode(_first_line(path))
    except msgspec.DecodeError:
        return None
    return record if isinstance(record, dict) else None


def _export_kind(path: Path) -> str | None:
    """``"JSON Lines"`` or ``"CSV"`` if ``path`` starts like an export of events, else None."""
    record = _first_record(path)
    if record is not None:
        return "JSON Lines" if "type" not in record and _EXPORT_COLUMNS <= record.keys() else None
    header = _first_line(path).decode("utf-8", errors="replace").split(",")
    return "CSV" if _EXPORT_COLUMNS <= set(header) else None


def _archived_id(path: Path) -> str | None:
    """The experiment id that the archive at ``path`` names on its first line, if any."""
    record = _first_record(path)
    data = record.get("data") if record is not None else None
    identifier = data.get("id") if isinstance(data, dict) else None
    return identifier if isinstance(identifier, str) else None


def _invalid(path: Path, error: ValueError, loaded: dict[str, tuple[Path, Experiment]]) -> str:
    """Why ``path`` did not load, in words that say what to do instead."""
    kind = _export_kind(path)
    if kind is not None:
        detail = " (one event per line)" if kind == "JSON Lines" else ""
        return _NOT_AN_ARCHIVE.format(path=path, kind=kind, detail=detail)
    identifier = _archived_id(path)
    if identifier in loaded:
        first, experiment = loaded[identifier]
        return _SAME_EXPERIMENT.format(path=path, first=first, name=experiment.name, id=identifier)
    message = _one_line(str(error))
    if message.startswith(str(path)):  # a malformed file: the message names the line
        return f"not a valid archive: {message}"
    return f"cannot load {path}: {message}"


def _same_file(path: Path, others: Sequence[Path]) -> bool:
    try:
        return any(path.samefile(other) for other in others)
    except OSError:  # a missing file: loading it says so
        return False


async def load_archives(rt: Runtime, paths: Sequence[Path]) -> list[Experiment]:
    """Load each archive into ``rt``, in order.

    Raises:
        ArchiveError: a file is missing, unreadable, malformed, an export
            rather than an archive, given twice, or a copy of an archive
            already loaded; the message is one line naming the file.
    """
    loaded: dict[str, tuple[Path, Experiment]] = {}
    for index, path in enumerate(paths):
        if _same_file(path, paths[:index]):
            raise ArchiveError(_GIVEN_TWICE.format(path=path))
        try:
            experiment = await rt.load_archive(path)
        except FileNotFoundError:
            raise ArchiveError(f"no such file: {path}") from None
        except IsADirectoryError:
            raise ArchiveError(f"{path} is a folder, not an archive file") from None
        except OSError as error:
            raise ArchiveError(f"cannot read {path}: {error.strerror or error}") from None
        except ValueError as error:
            raise ArchiveError(_invalid(path, error, loaded)) from None
        loaded[experiment.id] = (path, experiment)
    return [experiment for _, experiment in loaded.values()]


def label_of(experiment: Experiment) -> str:
    """How tables and plots name an experiment: its name, and its condition if not default."""
    if experiment.condition == "default":
        return experiment.name
    return f"{experiment.name} ({experiment.condition})"
