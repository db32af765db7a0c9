"""Checking output paths before the work, and naming the path when a write fails.

Every failure becomes an :class:`OutputError` with a one-line message that
names the path and the reason, for the CLI to print without a traceback.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ._errors import OutputError

__all__ = ["IMAGE_SUFFIXES", "check_image_path", "check_output_file", "prepare_folder", "writing"]

#: Image formats ``plot`` writes: what matplotlib's Agg canvas and Pillow always support.
IMAGE_SUFFIXES = (".png", ".svg", ".pdf", ".jpg", ".jpeg")
_SUFFIX_HINT = "use " + ", ".join(IMAGE_SUFFIXES[:-1]) + " or " + IMAGE_SUFFIXES[-1]


def _file_in_the_way(path: Path) -> Path | None:
    """The nearest existing ancestor of ``path`` if it is a file: nothing can go under it."""
    for ancestor in path.parents:
        if ancestor.exists():
            return None if ancestor.is_dir() else ancestor
    return None


def _reason(error: OSError) -> str:
    return (error.strerror or str(error)).lower()


def check_output_file(path: Path) -> None:
    """Refuse an output file path that is a folder or lies under a file.

    Raises:
        OutputError: naming ``path`` and what is wrong.
    """
    if path.is_dir():
        raise OutputError(f"cannot write {path}: it is a folder; give a file name")
    blocker = _file_in_the_way(path)
    if blocker is not None:
        raise OutputError(f"cannot write {path}: {blocker} is a file, not a folder")


def check_image_path(path: Path) -> str:
    """Check a plot's output path (see :func:`check_output_file`) and its suffix.

    Returns:
        The image format for matplotlib, such as ``"png"`` (the suffix, lower case).

    Raises:
        OutputError: the suffix is missing or not one of :data:`IMAGE_SUFFIXES`,
            or the path cannot hold a file.
    """
    check_output_file(path)
    suffix = path.suffix.lower()
    if not suffix:
        raise OutputError(f"cannot write {path}: it has no image suffix; {_SUFFIX_HINT}")
    if suffix not in IMAGE_SUFFIXES:
        raise OutputError(
            f"cannot write {path}: unsupported image suffix {path.suffix!r}; {_SUFFIX_HINT}"
        )
    return suffix[1:]


def prepare_folder(path: Path) -> None:
    """Create the output folder ``path`` if needed and make sure a file can be created in it.

    Raises:
        OutputError: ``path`` is a file, lies under a file, or cannot be
            created or written to.
    """
    if path.exists() and not path.is_dir():
        raise OutputError(f"cannot write into {path}: it is a file, not a folder")
    blocker = _file_in_the_way(path)
    if blocker is not None:
        raise OutputError(f"cannot write into {path}: {blocker} is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):  # permissions alone do not tell (root, mounts)
            pass
    except OSError as error:
        raise OutputError(f"cannot write into {path}: {_reason(error)}") from None


@contextmanager
def writing(path: Path | None) -> Iterator[None]:
    """Turn an ``OSError`` raised while writing ``path`` into a one-line :class:`OutputError`.

    With ``path`` None (a default name chosen later), the error's own file name is used.
    """
    try:
        yield
    except OSError as error:
        target = path if path is not None else error.filename
        raise OutputError(f"cannot write {target}: {_reason(error)}") from None
