"""The commands that train: ``train`` and ``kfold``."""

from __future__ import annotations

from pathlib import Path

import click

from .app import cli
from .options import config_or_resume, emit_json, resumable
from .text import fmt, print_kfold


@cli.command()
@resumable
@click.option("--out", type=click.Path(file_okay=False), help="Run directory to create (must be new or empty).")
@click.option("--no-cache", is_flag=True, help="Decode images and extract features afresh.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON document.")
def train(config_path, overrides, print_config, resume, out, no_cache, as_json):
    """Train one model on a train/validation split and save a run directory.

    Ctrl-C (or SIGTERM) finishes the minibatch, saves a checkpoint and exits 130;
    --resume continues from it with bit-identical results.

    \b
    Example:
      mlpcli train --config configs/quickstart.yaml --set train.epochs=5
      mlpcli train --resume runs/20260101-120000-quickstart
    """
    from ..commands import run_train

    config = config_or_resume(config_path, overrides, print_config, resume)
    result = run_train(config, config_name=Path(config_path or "run").stem, out=out, use_cache=not no_cache,
                       resume=resume)
    if as_json:
        emit_json(result)
        return
    click.echo(f"run directory   {result['run_dir']}")
    click.echo(f"train accuracy  {result['train_accuracy']:.4f}")
    click.echo(f"val accuracy    {fmt(result['val_accuracy'])}")
    click.echo(f"epochs          {result['epochs']}  ({result['seconds']:.1f}s)")


@cli.command()
@resumable
@click.option("--k", type=int, help="Number of folds (default: kfold.k in the config, 5).")
@click.option("--select", type=click.Choice(["best", "ensemble"]),
              help="Final model: the best fold, or all folds averaging their probabilities.")
@click.option("--grid", multiple=True, metavar="KEY=V1,V2",
              help="Cross-validate every combination of these values (repeatable).")
@click.option("--jobs", default=1, show_default=True, type=click.IntRange(min=1),
              help="Train folds in this many worker processes.")
@click.option("--out", type=click.Path(file_okay=False), help="Run directory to create (must be new or empty).")
@click.option("--no-cache", is_flag=True, help="Decode images and extract features afresh.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON document.")
def kfold(config_path, overrides, print_config, resume, k, select, grid, jobs, out, no_cache, as_json):
    """k-fold cross-validation: mean validation accuracy, and a model to predict with.

    \b
    Each fold is saved when it finishes; after Ctrl-C, --resume skips finished folds.

    \b
    Example:
      mlpcli kfold --config configs/cifar10-hog.yaml --k 5 --select ensemble
      mlpcli kfold --config configs/quickstart.yaml --grid train.lr=0.1,0.01 --grid model.hidden=[64],[256]
    """
    from ..commands import run_kfold

    if k is not None and k < 2:
        raise click.BadParameter("needs at least 2 folds", param_hint="--k")
    if resume and (k or select or grid):
        raise click.UsageError("--resume continues with the run's own --k, --select and --grid")
    config = config_or_resume(config_path, overrides, print_config, resume)
    result = run_kfold(config, Path(config_path or "kfold").stem, k, select, grid, jobs, out, not no_cache, resume)
    if as_json:
        emit_json(result)
        return
    print_kfold(result)


