"""Options and helpers shared by several commands: config loading, --resume, decoding, JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..choices import DEFAULT_MAX_IMAGE_PIXELS
from ..units.placement import DEFAULT_TIMEOUT, Placement


def config_options(command, required=True):
    """--config, --set and --print-config, shared by the commands that read a config."""
    command = click.option("--print-config", is_flag=True, help="Print the fully resolved config and exit.")(command)
    command = click.option(
        "--set",
        "overrides",
        multiple=True,
        metavar="KEY=VALUE",
        help="Override a config key, e.g. --set train.lr=0.01 (repeatable).",
    )(command)
    return click.option(
        "--config", "config_path", type=click.Path(dir_okay=False), required=required, help="YAML config file."
    )(command)


def resumable(command):
    """--config or --resume RUN_DIR (exactly one), for the commands that train."""
    command = click.option(
        "--resume", type=click.Path(file_okay=False), help="Continue the interrupted run in this directory."
    )(command)
    return config_options(command, required=False)


def config_or_resume(config_path, overrides, print_config, resume):
    """The config to start from, or None when resuming (the run directory has it)."""
    if bool(config_path) == bool(resume):
        raise click.UsageError("give either --config (a new run) or --resume RUN_DIR (continue one)")
    if resume and (overrides or print_config):
        raise click.UsageError("--resume takes the run's own config; --set and --print-config do not apply")
    return None if resume else load_config_or_print(config_path, overrides, print_config)


def load_config_or_print(config_path, overrides, print_config):
    """The validated Config, or print it (``--print-config``) and exit 0."""
    from ..config import dump_yaml, load_config

    config = load_config(config_path, list(overrides))
    if print_config:
        click.echo(dump_yaml(config), nl=False)
        sys.exit(0)
    return config


def run_options(json_help: str):
    """--out, --no-cache and --json, for the commands that write a run directory."""

    def decorate(command):
        command = click.option("--json", "as_json", is_flag=True, help=json_help)(command)
        command = click.option("--no-cache", is_flag=True, help="Decode images and extract features afresh.")(command)
        return click.option(
            "--out", type=click.Path(file_okay=False), help="Run directory to create (must be new or empty)."
        )(command)

    return decorate


#: --timeout, for every command that may talk to a Dask scheduler.
timeout_option = click.option(
    "--timeout",
    default=DEFAULT_TIMEOUT,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Seconds to wait for the Dask scheduler to answer.",
)


def model_option(purpose: str):
    """--model RUN (default runs/latest), ``purpose`` finishing its help: "predict with"."""
    return click.option(
        "--model",
        "model_dir",
        default="runs/latest",
        show_default=True,
        type=click.Path(),
        help=f"Run directory (or model bundle) to {purpose}.",
    )


def workers_options(what: str):
    """--jobs, --cluster (env MLPCLI_CLUSTER) and --timeout, for the commands that run units of work."""

    def decorate(command):
        command = timeout_option(command)
        command = click.option(
            "--cluster",
            envvar="MLPCLI_CLUSTER",
            metavar="ADDRESS",
            help=f"Train {what}, and decode and extract the data, on the Dask cluster at "
            f"tcp://HOST:PORT (env MLPCLI_CLUSTER), or local:N for N local Dask workers; "
            f"needs pip install 'mlpcli[cluster]'.",
        )(command)
        return click.option(
            "--jobs",
            type=click.IntRange(min=1),
            help=f"Train {what} in this many local worker processes, one BLAS thread each "
            f"[default: 1, in this process].",
        )(command)

    return decorate


def cluster_options(command):
    """--cluster (env MLPCLI_CLUSTER) and --timeout, for ``train``: its images are decoded and
    its features extracted on the cluster; the training runs here."""
    command = timeout_option(command)
    return click.option(
        "--cluster",
        envvar="MLPCLI_CLUSTER",
        metavar="ADDRESS",
        help="Decode the images and extract the features on the Dask cluster at tcp://HOST:PORT "
        "(env MLPCLI_CLUSTER; the files on storage every worker sees), or local:N for N "
        "local Dask workers; needs pip install 'mlpcli[cluster]'.",
    )(command)


def where_to_run(ctx, jobs, cluster, timeout) -> Placement:
    """--jobs, --cluster and --timeout as one value; an explicit --jobs wins over a cluster that only
    MLPCLI_CLUSTER names."""
    from click.core import ParameterSource

    if jobs is not None and cluster and ctx.get_parameter_source("cluster") is ParameterSource.ENVIRONMENT:
        return Placement(jobs, None, timeout)
    if jobs is not None and cluster:
        raise click.UsageError("--jobs and --cluster: choose one; --cluster local:N runs N local Dask workers")
    return Placement(jobs, cluster, timeout)


#: Set in click's shared ``meta`` once a command printed its JSON document, so that an error after
#: it (a failed gate) adds no second document.
JSON_EMITTED = "mlpcli.json_emitted"


def emit_json(data) -> None:
    click.echo(json.dumps(data, indent=2, allow_nan=False, default=_json_default))
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.meta[JSON_EMITTED] = True


def _json_default(value):
    return str(value)


def decode_options(command):
    """--on-error and --max-pixels, shared by the commands that decode image files."""
    command = click.option(
        "--max-pixels",
        type=click.IntRange(min=1),
        metavar="N",
        help=f"Refuse images with more pixels than this as possible decompression "
        f"bombs [default: {DEFAULT_MAX_IMAGE_PIXELS:,}, Pillow's limit].",
    )(command)
    return click.option(
        "--on-error",
        type=click.Choice(["fail", "skip"]),
        default="fail",
        show_default=True,
        help="Unreadable image files: fail naming every one, or skip them (each is "
        "reported on stderr and under 'skipped' in --json).",
    )(command)


def tta_option(command):
    """--tta, shared by predict and evaluate: the model's recorded train.tta unless given."""
    from ..choices import TTA_MODES

    return click.option(
        "--tta",
        type=click.Choice(TTA_MODES),
        default=None,
        help="Test-time augmentation: flip averages each image's probabilities with its "
        "left-right mirror's [default: the model's train.tta].",
    )(command)


def output_suffix(ctx, param, value):
    from ..tables import FORMATS

    if value is not None and Path(value).suffix.lower() not in FORMATS:
        raise click.BadParameter(f"{value}: the suffix picks the format; use one of {', '.join(FORMATS)}")
    return value
