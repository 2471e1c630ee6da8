"""``mlpcli cache info|clear``."""

from __future__ import annotations

import click

from .app import cli
from .options import emit_json


def _folder_options(command):
    command = click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON document.")(command)
    command = click.option(
        "--config", "config_path", type=click.Path(dir_okay=False), help="Use this config's data.cache_dir."
    )(command)
    return click.option(
        "--dir",
        "folder",
        type=click.Path(file_okay=False),
        help="The cache folder [default: data.cache_dir, .mlpcli-cache].",
    )(command)


@cli.group()
def cache():
    """The cache of decoded images, fitted features and feature matrices.

    Runs keep it under data.cache_max_gb (least recently used entries out first);
    every entry is rebuilt when needed, so clearing it only costs time.

    \b
    Example:
      mlpcli cache info
      mlpcli cache clear --config configs/cifar10-hog.yaml
    """


@cache.command("info")
@_folder_options
def cache_info(folder, config_path, as_json):
    """How much the cache folder holds, by kind of entry."""
    from ..commands.cache import cache_folder_of, run_cache_info

    result = run_cache_info(cache_folder_of(config_path, folder))
    if as_json:
        emit_json(result)
        return
    click.echo(f"cache folder  {result['folder']}{'' if result['exists'] else '  (does not exist yet)'}")
    for kind, numbers in result["kinds"].items():
        click.echo(f"{kind:<13} {numbers['entries']:>6} entries  {numbers['bytes'] / 1e9:8.3f} GB")
    click.echo(f"{'total':<13} {'':>6}          {result['bytes'] / 1e9:8.3f} GB")


@cache.command("clear")
@_folder_options
def cache_clear(folder, config_path, as_json):
    """Remove every cache entry (only mlpcli's own files in the folder)."""
    from ..commands.cache import cache_folder_of, run_cache_clear

    result = run_cache_clear(cache_folder_of(config_path, folder))
    if as_json:
        emit_json(result)
        return
    click.echo(f"removed {result['entries']} entries ({result['bytes'] / 1e9:.3f} GB) from {result['folder']}")
