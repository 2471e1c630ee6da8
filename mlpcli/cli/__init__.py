"""The command line: parse, call one ``commands.run_*``, print. The only package that knows click.

Importing the command modules registers their commands on the ``cli`` group.
"""

# Imported for their side effect: each registers its commands on ``cli``.
from . import cache_commands, export_commands, tool_commands, train_commands, use_commands
from .app import _global_options_everywhere, cli, main

_global_options_everywhere(cli)

__all__ = ["cli", "main"]
