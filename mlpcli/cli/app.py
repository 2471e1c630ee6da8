"""The command-line application: the ``mlpcli`` group, its global options, and how errors become
exit codes. The commands live beside it (``train_commands``, ``use_commands``, ``tool_commands``).

Results go to stdout (``--json``: exactly one JSON document); logs and progress go to stderr.
Exit codes: 0 success; 1 runtime, data or artifact error (or a failed gradient check); 2 usage
or config error; 3 a failed quality gate (``evaluate --fail-under``); 130 interrupted; 141,
silently, when stdout's reader went away (a closed pipe). Heavy modules are imported inside the
commands so ``--help`` stays fast.
"""

from __future__ import annotations

import json
import logging
import os
import sys

import click

from .. import __version__
from ..errors import MlpcliError


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (tests swap it)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass


class MlpcliGroup(click.Group):
    """Turns MlpcliError into a one-line message and its exit code, Ctrl-C into 130, and a file
    system's refusal that no module put into words into ``error: PATH: reason`` (exit 1)."""

    def parse_args(self, ctx, args):
        ctx.meta[_ARGS] = list(args)  # the command's own arguments, to see --json in them on failure
        return super().parse_args(ctx, args)

    def invoke(self, ctx):
        try:
            result = super().invoke(ctx)
            sys.stdout.flush()  # a closed pipe shows here, inside this try, not in click's own handler
            return result
        except MlpcliError as exc:
            _fail(ctx, str(exc), exc.exit_code)
        except KeyboardInterrupt:
            _fail(ctx, "interrupted", 130, prefix="")
        except BrokenPipeError:
            ctx.exit(_stdout_reader_gone())
        except OSError as exc:
            _fail(ctx, _os_error_text(exc), 1)
        except click.ClickException as exc:  # a usage error: click prints it, --json gets its document
            _json_error(ctx, exc.format_message(), exc.exit_code)
            raise


_ARGS = "mlpcli.args"


def _fail(ctx, message: str, exit_code: int, prefix: str = "error: ") -> None:
    """The message on stderr, with ``--json`` also ``{"error", "exit_code"}`` on stdout (not for
    Ctrl-C, 130: an interrupted command prints nothing there, as the interrupt tests pin); exit."""
    click.echo(f"{prefix}{message}", err=True)
    if exit_code != 130:
        _json_error(ctx, message, exit_code)
    ctx.exit(exit_code)


def _json_error(ctx, message: str, exit_code: int) -> None:
    """With ``--json``, a failing command's one JSON document on stdout, unless the command
    printed its own before failing (``evaluate --fail-under``: the report, then exit 3)."""
    from .options import JSON_EMITTED

    args = ctx.meta.get(_ARGS, [])
    args = args[: args.index("--")] if "--" in args else args
    if "--json" not in args or ctx.meta.get(JSON_EMITTED):
        return
    try:
        click.echo(json.dumps({"error": message, "exit_code": exit_code}))
    except (BrokenPipeError, ValueError):  # nobody reads stdout any more: the exit code says it
        pass


def _stdout_reader_gone() -> int:
    """Exit code 141 (128 + SIGPIPE), silently, when stdout's reader went away
    (``mlpcli predict DIR | head -1``), as Unix tools do. Whatever had to be saved was saved
    before the results were printed. stdout is pointed at /dev/null so that Python's final flush
    of what is still buffered does not fail again (the recipe in Python's ``signal`` docs)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a file descriptor (a test's buffer): nothing to flush
        pass
    return 141


def _os_error_text(exc: OSError) -> str:
    """``PATH: reason`` (``PATH -> PATH2: reason`` for a rename or link) from an OSError."""
    reason = exc.strerror or str(exc)
    if exc.filename is None:
        return reason
    paths = f"{exc.filename}" + (f" -> {exc.filename2}" if exc.filename2 is not None else "")
    return f"{paths}: {reason}"


@click.group(cls=MlpcliGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mlpcli")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors on stderr.")
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    envvar="MLPCLI_THREADS",
    help="Most BLAS threads to use (env MLPCLI_THREADS); default: all cores. "
    "train's last bits may differ with another count (k-fold and search never do).",
)
def cli(quiet: bool, threads: int | None) -> None:
    """Train image classifiers with a NumPy MLP and hand-written backpropagation.

    -q and --threads may also follow the command (mlpcli train ... -q).

    \b
    Example:
      mlpcli train --config configs/quickstart.yaml
      mlpcli predict image.png --model runs/latest
    """
    from ..threads import quiet_blas_threads

    quiet_blas_threads()
    _set_threads(threads)
    logger = logging.getLogger("mlpcli")
    logger.handlers[:] = [_StderrHandler()]
    logger.handlers[0].setFormatter(logging.Formatter("%(message)s"))
    logger.setLevel(logging.WARNING if quiet else logging.INFO)
    logger.propagate = False


def _set_threads(threads: int | None) -> None:
    if threads is None:
        return
    from ..threads import limit_threads

    if "numpy" in sys.modules:
        logging.getLogger("mlpcli").warning(
            "--threads: NumPy is already loaded here; the limit applies to worker processes only"
        )
    limit_threads(threads)


def _set_quiet(quiet: bool) -> None:
    if quiet:
        logging.getLogger("mlpcli").setLevel(logging.WARNING)


def _global_options_everywhere(group: click.Group) -> None:
    """Give every command the group's -q and --threads too, so they work after the command name
    (``mlpcli train --config c.yaml -q``) as well as before it."""
    for command in group.commands.values():
        if isinstance(command, click.Group):
            _global_options_everywhere(command)
            continue
        command.params += [
            click.Option(
                ["-q", "--quiet"],
                is_flag=True,
                expose_value=False,
                help="Only warnings and errors on stderr.",
                callback=lambda ctx, param, value: _set_quiet(value),
            ),
            click.Option(
                ["--threads"],
                type=click.IntRange(min=1),
                expose_value=False,
                help="Most BLAS threads to use (as before the command).",
                callback=lambda ctx, param, value: _set_threads(value),
            ),
        ]


def main() -> None:
    try:
        cli(prog_name="mlpcli")
    except SystemExit:
        try:
            sys.stdout.flush()  # here, not at interpreter exit, where a closed pipe gives a traceback
        except BrokenPipeError:
            sys.exit(_stdout_reader_gone())
        raise
