"""How the commands end on the errors a user can cause: one line, exit status 1.

A missing or corrupt archive, an empty experiment, an unwritable output
path or a missing extra (psycopg for a postgresql:// URL) becomes click's
``Error: ...`` on stderr instead of a traceback. The wrappers cost one
``try`` around the command's work.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import anyio
import click

from .. import NoEventsError
from ._errors import CommandLineError

__all__ = ["one_line_errors", "run_async", "ungrouped"]

T = TypeVar("T")


@contextmanager
def one_line_errors() -> Iterator[None]:
    """Turn the errors a user can cause into click's one-line ``Error: ...`` and exit 1."""
    try:
        yield
    except (CommandLineError, NoEventsError) as error:
        raise click.ClickException(str(error)) from None
    except ImportError as error:
        if "pip install" not in str(error):
            raise  # not a missing extra: a bug, keep its traceback
        raise click.ClickException(str(error)) from None


def _leaves(group: BaseExceptionGroup[BaseException]) -> Iterator[BaseException]:
    for exception in group.exceptions:
        if isinstance(exception, BaseExceptionGroup):
            yield from _leaves(exception)
        else:
            yield exception


@contextmanager
def ungrouped() -> Iterator[None]:
    """Raise a lone exception out of a task group as itself.

    The demo reports progress from inside its agents' task group, so rich's
    ``SystemExit`` on a closed pipe (``demo --no-live | head``) or a write
    error would otherwise end in an exception-group traceback.
    """
    try:
        yield
    except BaseExceptionGroup as group:
        leaves = list(_leaves(group))
        if len(leaves) == 1:
            raise leaves[0] from None
        raise


def run_async(function: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine function, with one-line messages for the errors a user can cause."""
    with one_line_errors():
        return anyio.run(function)
