"""The errors a user of the command line can cause and fix, in one place.

The tree::

    CommandLineError
    ├── ArchiveError   an input archive is missing, unreadable or not an archive
    ├── DatabaseError  a database cannot be opened, or has no such experiment
    └── OutputError    an output file or folder cannot be written

Each message is one line naming the path or database, so the CLI prints it as
``Error: <message>`` and exits with status 1, without a traceback.
"""

from __future__ import annotations

__all__ = ["ArchiveError", "CommandLineError", "DatabaseError", "OutputError"]


class CommandLineError(Exception):
    """A problem with what the user asked for; the message is one line naming the thing."""


class ArchiveError(CommandLineError):
    """An archive file is missing, unreadable or not a well-formed archive."""


class DatabaseError(CommandLineError):
    """A database cannot be opened (its password hidden), or holds no such experiment."""


class OutputError(CommandLineError):
    """An output file or folder cannot be written."""
