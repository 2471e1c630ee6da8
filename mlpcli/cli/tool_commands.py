"""The tools: ``gradcheck``, ``data synth|download`` and ``config reference``."""

from __future__ import annotations

import sys

import click

from .app import cli
from .options import config_options, emit_json, load_config_or_print


@cli.command()
@config_options
@click.option("--json", "as_json", is_flag=True, help="Print the errors as one JSON document.")
def gradcheck(config_path, overrides, print_config, as_json):
    """Check the configured network's backward pass against numerical gradients (float64).

    Exit 1 if any parameter's relative error is above 1e-6.

    \b
    Example:
      mlpcli gradcheck --config configs/quickstart.yaml
    """
    from ..commands import run_gradcheck

    verdict = run_gradcheck(load_config_or_print(config_path, overrides, print_config))
    if as_json:
        emit_json(verdict)
    else:
        for path, error in verdict["relative_errors"].items():
            click.echo(f"{path:<12} {error:.3e}")
        click.echo(
            f"{'PASS' if verdict['passed'] else 'FAIL'}: max relative error "
            f"{verdict['max_relative_error']:.3e} (tolerance {verdict['tolerance']:g})"
        )
    if not verdict["passed"]:
        sys.exit(1)


@cli.command("lr-find")
@config_options
@click.option(
    "--start",
    default=1e-6,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Learning rate of the first step.",
)
@click.option(
    "--stop",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Learning rate of the last step (the test stops earlier if the loss diverges).",
)
@click.option(
    "--steps",
    default=200,
    show_default=True,
    type=click.IntRange(min=10),
    help="Minibatch steps, the lr growing exponentially from --start to --stop.",
)
@click.option("--out", type=click.Path(dir_okay=False), help="Draw loss against lr into this PNG (needs matplotlib).")
@click.option("--no-cache", is_flag=True, help="Decode images and extract features afresh.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print one JSON document: lrs, losses, smoothed, centred, suggested_lr, min_lr, steepest_lr ...",
)
def lr_find(config_path, overrides, print_config, start, stop, steps, out, no_cache, as_json):
    """Learning-rate range test: train a fresh network for a few hundred steps while the lr
    grows exponentially, record the loss, and suggest an lr (the smallest within one standard
    error of the minimum of a centred mean of the losses). Seeded: the same config gives the
    same curve.

    \b
    Example:
      mlpcli lr-find --config configs/cifar10-hog.yaml --out lr.png
      mlpcli lr-find --config configs/quickstart.yaml --start 1e-5 --stop 10 --steps 300 --json
    """
    from ..commands import run_lr_find

    if start >= stop:
        raise click.BadParameter(f"--start ({start:g}) must be below --stop ({stop:g})", param_hint="--start")
    result = run_lr_find(
        load_config_or_print(config_path, overrides, print_config),
        start=start,
        stop=stop,
        steps=steps,
        out=out,
        use_cache=not no_cache,
    )
    if as_json:
        emit_json(result)
    else:
        print_lr_find(result)
    if result["hint"]:
        click.echo(f"hint: {result['hint']}", err=True)


def print_lr_find(result: dict) -> None:
    lrs, centred = result["lrs"], result["centred"]
    stride = max(1, len(lrs) // 20)
    click.echo("lr          loss (centred mean)")
    for lr, loss in list(zip(lrs, centred))[::stride]:
        click.echo(f"{lr:<10.3g}  {'diverged' if loss is None else format(loss, '.4f')}")
    ended = "the loss diverged" if result["diverged"] else "the last step"
    click.echo(f"{result['steps']} steps, up to lr {lrs[-1]:.3g} ({ended})")
    if result["suggested_lr"] is None:
        click.echo("no suggestion: no step's loss was finite; lower --start")
    else:
        click.echo(
            f"suggested lr {result['suggested_lr']:.3g} ({result['rule']}); centred minimum at "
            f"{result['min_lr']:.3g}, steepest descent at {result['steepest_lr']:.3g}; the config's "
            f"train.lr is {result['config_lr']:g}"
        )
    if result["plot"]:
        click.echo(f"plot: {result['plot']}")


@cli.group()
def data():
    """Make or fetch data sets.

    \b
    Example:
      mlpcli data synth --out data/shapes
    """


@data.command("synth")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder to write (new or empty).")
@click.option(
    "--n-per-class",
    default=250,
    show_default=True,
    type=click.IntRange(min=1),
    help="Images to draw for each of the four shapes (circle, square, triangle, cross).",
)
@click.option("--size", default=32, show_default=True, type=click.IntRange(min=8), help="Image side in pixels.")
@click.option(
    "--seed",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="Random seed: the same seed draws the same images.",
)
def data_synth(out, n_per_class, size, seed):
    """Write the built-in synthetic shapes as an image folder of PNGs.

    \b
    Example:
      mlpcli data synth --out data/shapes
    """
    from ..commands import run_synth

    count = run_synth(out, n_per_class, size, seed)
    click.echo(f"wrote {count} images to {out}")


@data.command("download")
@click.argument("name", type=click.Choice(["cifar10"]))
@click.option(
    "--dest", default="data", show_default=True, type=click.Path(file_okay=False), help="Folder to unpack into."
)
@click.option("--url", help="Download from this mirror instead of the official address.")
def data_download(name, dest, url):
    """Download a data set, verify its published MD5 and unpack it.

    An interrupted download resumes when the command is run again.

    \b
    Example:
      mlpcli data download cifar10 --dest data/
    """
    from ..data.download import download_dataset

    click.echo(str(download_dataset(name, dest, url)))


@cli.group("config")
def config_group():
    """Describe the configuration file.

    \b
    Example:
      mlpcli config reference > docs/config.md
    """


@config_group.command("reference")
def config_reference():
    """Print the config reference (Markdown): every key with its type, default, allowed values and meaning.

    \b
    Example:
      mlpcli config reference > docs/config.md
    """
    from ..config.reference import config_reference_markdown

    click.echo(config_reference_markdown(), nl=False)
