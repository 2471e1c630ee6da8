"""The command line: parse, call one ``commands.run_*``, print. The only package that knows click.

Importing the command modules registers their commands on the ``cli`` group.
"""

from . import cache_commands, export_commands, tool_commands, train_commands, use_commands  # noqa: F401  (registers the commands)
from .app import _global_options_everywhere, cli, main

_global_options_everywhere(cli)

__all__ = ["cli", "main"]
