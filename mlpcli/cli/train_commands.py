"""The commands that train: ``train``, ``kfold`` and ``search``."""

from __future__ import annotations

from pathlib import Path

import click

from .app import cli
from .options import cluster_options, config_or_resume, emit_json, resumable, run_options, where_to_run, workers_options
from .text import fmt, print_kfold, print_search


@cli.command()
@resumable
@cluster_options
@run_options("Print the result as one JSON document.")
@click.pass_context
def train(ctx, config_path, overrides, print_config, resume, cluster, timeout, out, no_cache, as_json):
    """Train one model on a train/validation split and save a run directory.

    Ctrl-C (or SIGTERM) finishes the minibatch, saves a checkpoint and exits 130;
    --resume continues from it with bit-identical results.

    \b
    Example:
      mlpcli train --config configs/quickstart.yaml --set train.epochs=5
      mlpcli train --resume runs/20260101-120000-quickstart
      mlpcli train --config configs/cifar10-hog.yaml --cluster tcp://scheduler:8786
    """
    from ..commands import run_train

    config = config_or_resume(config_path, overrides, print_config, resume)
    result = run_train(
        config,
        config_name=Path(config_path or "run").stem,
        out=out,
        use_cache=not no_cache,
        resume=resume,
        placement=where_to_run(ctx, None, cluster, timeout),
    )
    if as_json:
        emit_json(result)
        return
    click.echo(f"run directory   {result['run_dir']}")
    click.echo(f"train accuracy  {result['train_accuracy']:.4f}")
    click.echo(f"val accuracy    {fmt(result['val_accuracy'])}")
    click.echo(f"epochs          {result['epochs']}  ({result['seconds']:.1f}s)")


@cli.command()
@resumable
@click.option("--k", type=click.IntRange(min=2), help="Number of folds (default: kfold.k in the config, 5).")
@click.option(
    "--select",
    type=click.Choice(["best", "ensemble"]),
    help="Final model: the best fold, or all folds averaging their probabilities.",
)
@click.option(
    "--grid", multiple=True, metavar="KEY=V1,V2", help="Cross-validate every combination of these values (repeatable)."
)
@workers_options("folds")
@run_options("Print the summary as one JSON document.")
@click.pass_context
def kfold(
    ctx, config_path, overrides, print_config, resume, k, select, grid, jobs, cluster, timeout, out, no_cache, as_json
):
    """k-fold cross-validation: mean validation accuracy, and a model to predict with.

    \b
    Each fold is saved when it finishes; after Ctrl-C, --resume skips finished folds.
    --jobs N trains folds in N local processes, --cluster on a Dask cluster; the results are
    the same bytes wherever the folds ran.

    \b
    Example:
      mlpcli kfold --config configs/cifar10-hog.yaml --k 5 --select ensemble
      mlpcli kfold --config configs/cifar10-hog.yaml --jobs 2
      mlpcli kfold --config configs/quickstart.yaml --grid train.lr=0.1,0.01 --grid model.hidden=[64],[256]
    """
    from ..commands import run_kfold

    if resume and (k or select or grid):
        raise click.UsageError("--resume continues with the run's own --k, --select and --grid")
    config = config_or_resume(config_path, overrides, print_config, resume)
    result = run_kfold(
        config,
        config_name=Path(config_path or "kfold").stem,
        k=k,
        select=select,
        grid=grid,
        placement=where_to_run(ctx, jobs, cluster, timeout),
        out=out,
        use_cache=not no_cache,
        resume=resume,
    )
    if as_json:
        emit_json(result)
        return
    print_kfold(result)


@cli.command()
@resumable
@click.option("--trials", type=click.IntRange(min=1), help="Number of trials (default: search.trials in the config).")
@click.option("--k", type=click.IntRange(min=2), help="Number of folds per trial (default: kfold.k in the config).")
@click.option(
    "--select",
    type=click.Choice(["best", "ensemble"]),
    help="The best trial's final model: its best fold, or all its folds averaging their probabilities.",
)
@workers_options("the units (one trial's fold at one budget)")
@run_options("Print the search summary as one JSON document.")
@click.pass_context
def search(
    ctx, config_path, overrides, print_config, resume, trials, k, select, jobs, cluster, timeout, out, no_cache, as_json
):
    """Hyperparameter search: cross-validate the trials of the config's search: section.

    Trials are ranked by mean fold accuracy; the run directory holds trials.csv,
    search_summary.json, best_config.yaml (ready for mlpcli train --config) and the best
    trial's model, so predict and evaluate take it directly. Each unit is saved when it
    finishes: Ctrl-C keeps them and --resume trains only what is missing.

    \b
    Example:
      mlpcli search --config configs/cifar10-hog-search.yaml --jobs 2
      mlpcli search --config configs/cifar10-hog-search.yaml --trials 27 --cluster tcp://scheduler:8786
      mlpcli search --resume runs/20260101-120000-cifar10-hog-search
    """
    from ..commands import run_search

    if resume and (trials or k or select):
        raise click.UsageError("--resume continues with the search's own --trials, --k and --select")
    config = config_or_resume(config_path, overrides, print_config, resume)
    result = run_search(
        config,
        config_name=Path(config_path or "search").stem,
        trials=trials,
        k=k,
        select=select,
        placement=where_to_run(ctx, jobs, cluster, timeout),
        out=out,
        use_cache=not no_cache,
        resume=resume,
    )
    if as_json:
        emit_json(result)
        return
    print_search(result)
