"""The errors a user of the command line can cause and fix, in one place.

The tree::

    CommandLineError
    ├── ArchiveError   an input archive is missing, unreadable or not an archive
    └── OutputError    an output file or folder cannot be written

Each message is one line naming the path, so the CLI prints it as
``Error: <message>`` and exits with status 1, without a traceback.
"""

from __future__ import annotations

__all__ = ["ArchiveError", "CommandLineError", "OutputError"]


class CommandLineError(Exception):
    """A problem with what the user asked for; the message is one line naming the thing."""


class ArchiveError(CommandLineError):
    """An archive file is missing, unreadable or not a well-formed archive."""


class OutputError(CommandLineError):
    """An output file or folder cannot be written."""
