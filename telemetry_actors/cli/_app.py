"""The ``telemetry-actors`` command line: demo, summarize, compare, plot, export.

Errors a user can cause (a missing or corrupt archive, an empty experiment,
an output path that cannot be written) end with a one-line ``Error: ...`` on
stderr and exit status 1 (see :mod:`._command_errors`). This module only
gathers the commands: ``demo`` is in :mod:`._demo_command`, the commands that
read experiments in :mod:`._archive_commands`.
"""

from __future__ import annotations

import click

from .. import __version__
from ._archive_commands import compare, export, plot, summarize
from ._demo_command import demo

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="telemetry-actors")
def cli() -> None:
    """Telemetry for LLM experiments: run the demo study, or inspect archives."""


cli.add_command(demo)
cli.add_command(summarize)
cli.add_command(compare)
cli.add_command(plot)
cli.add_command(export)


def main() -> None:
    """Entry point of the ``telemetry-actors`` command and ``python -m telemetry_actors``."""
    cli(prog_name="telemetry-actors")
