"""Where exports and archives go: safe default names, unique even under concurrency.

A default path is ``<export_dir>/<safe name>_<unix seconds>.<ext>``; when
that file exists, or another export is creating it at the same moment, the
next of ``_2``, ``_3`` … is taken. The name is reserved by creating the file
exclusively (``O_EXCL``), which is atomic across threads and processes.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

_UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9._-]")
#: File systems cap a name at 255 bytes; leave room for the time stamp and suffix.
MAX_STEM_LENGTH = 120


def safe_file_stem(name: str) -> str:
    """``name`` reduced to ``[A-Za-z0-9._-]`` (and shortened) so it cannot leave its folder."""
    stem = _UNSAFE_NAME_CHARS.sub("_", name).strip(".")[:MAX_STEM_LENGTH]
    return stem or "experiment"


def reserve_default(export_dir: Path, name: str, unix_seconds: int, extension: str) -> Path:
    """Create (empty, exclusively) and return the first free default path. O(taken names)."""
    export_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{safe_file_stem(name)}_{unix_seconds}"
    counter = 1
    while True:
        suffix = "" if counter == 1 else f"_{counter}"
        path = export_dir / f"{stem}{suffix}.{extension}"
        try:
            with path.open("xb"):
                return path
        except FileExistsError:
            counter += 1


@contextlib.contextmanager
def writing(path: Path, reserved: bool) -> Iterator[BinaryIO]:
    """A binary stream that becomes ``path`` only if the block completes.

    A reserved default path is written in place and removed on failure; an
    explicit path is written to a temporary file beside it and renamed over
    it at the end, so a failed write never leaves a half file behind.
    """
    if reserved:
        try:
            with path.open("wb") as stream:
                yield stream
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            yield stream
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def target_path(path: str | Path | None, default: Callable[[], Path]) -> tuple[Path, bool]:
    """(the path to write, whether it is a reserved default)."""
    if path is not None:
        return Path(path), False
    return default(), True
