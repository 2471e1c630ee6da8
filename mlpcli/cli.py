"""The command line: parse, call the library, print. The only module that knows click.

Results go to stdout (``--json``: exactly one JSON document); logs and progress go to stderr.
Exit codes: 0 success; 1 runtime, data or artifact error or a failed gate; 2 usage or config
error; 130 interrupted. Heavy modules are imported inside the commands so ``--help`` stays fast.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click

from . import __version__
from .errors import MlpcliError


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (tests swap it)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass


class MlpcliGroup(click.Group):
    """Turns MlpcliError into a one-line message and its exit code, and Ctrl-C into 130."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except MlpcliError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)


@click.group(cls=MlpcliGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mlpcli")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors on stderr.")
@click.option("--threads", type=click.IntRange(min=1), envvar="MLPCLI_THREADS",
              help="Most BLAS threads to use (env MLPCLI_THREADS); default: all cores.")
def cli(quiet: bool, threads: int | None) -> None:
    """Train image classifiers with a NumPy MLP and hand-written backpropagation.

    -q and --threads may also follow the command (mlpcli train ... -q).

    \b
    Example:
      mlpcli train --config configs/quickstart.yaml
      mlpcli predict image.png --model runs/latest
    """
    _set_threads(threads)
    logger = logging.getLogger("mlpcli")
    logger.handlers[:] = [_StderrHandler()]
    logger.handlers[0].setFormatter(logging.Formatter("%(message)s"))
    logger.setLevel(logging.WARNING if quiet else logging.INFO)
    logger.propagate = False


def _set_threads(threads: int | None) -> None:
    if threads is None:
        return
    from .threads import limit_threads

    if "numpy" in sys.modules:
        logging.getLogger("mlpcli").warning("--threads: NumPy is already loaded here; the limit "
                                            "applies to worker processes only")
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
            click.Option(["-q", "--quiet"], is_flag=True, expose_value=False, help="Only warnings and errors on stderr.",
                         callback=lambda ctx, param, value: _set_quiet(value)),
            click.Option(["--threads"], type=click.IntRange(min=1), expose_value=False,
                         help="Most BLAS threads to use (as before the command).",
                         callback=lambda ctx, param, value: _set_threads(value))]


def config_options(command, required=True):
    """--config, --set and --print-config, shared by the commands that read a config."""
    command = click.option("--print-config", is_flag=True,
                           help="Print the fully resolved config and exit.")(command)
    command = click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
                           help="Override a config key, e.g. --set train.lr=0.01 (repeatable).")(command)
    return click.option("--config", "config_path", type=click.Path(dir_okay=False), required=required,
                        help="YAML config file.")(command)


def resumable(command):
    """--config or --resume RUN_DIR (exactly one), for the commands that train."""
    command = click.option("--resume", type=click.Path(file_okay=False),
                           help="Continue the interrupted run in this directory.")(command)
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
    from .config import dump_yaml, load_config

    config = load_config(config_path, list(overrides))
    if print_config:
        click.echo(dump_yaml(config), nl=False)
        sys.exit(0)
    return config


def workers_options(what: str):
    """--jobs, --cluster (env MLPCLI_CLUSTER) and --timeout, for the commands that run units of work."""
    def decorate(command):
        command = click.option("--timeout", default=10.0, show_default=True,
                               type=click.FloatRange(min=0, min_open=True),
                               help="Seconds to wait for the Dask scheduler to answer.")(command)
        command = click.option("--cluster", envvar="MLPCLI_CLUSTER", metavar="ADDRESS",
                               help=f"Train {what} on the Dask cluster at tcp://HOST:PORT (env MLPCLI_CLUSTER), or "
                                    f"local:N for N local Dask workers; needs pip install 'mlpcli[cluster]'.")(command)
        return click.option("--jobs", type=click.IntRange(min=1),
                            help=f"Train {what} in this many local worker processes, one BLAS thread each "
                                 f"[default: 1, in this process].")(command)
    return decorate


def where_to_run(ctx, jobs, cluster):
    """(jobs, cluster): an explicit --jobs wins over a cluster that only MLPCLI_CLUSTER names."""
    from click.core import ParameterSource

    if jobs is not None and cluster and ctx.get_parameter_source("cluster") is ParameterSource.ENVIRONMENT:
        return jobs, None
    if jobs is not None and cluster:
        raise click.UsageError("--jobs and --cluster: choose one; --cluster local:N runs N local Dask workers")
    return jobs, cluster


def emit_json(data) -> None:
    click.echo(json.dumps(data, indent=2, allow_nan=False, default=_json_default))


def _json_default(value):
    return str(value)


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
    from .commands import run_train

    config = config_or_resume(config_path, overrides, print_config, resume)
    result = run_train(config, config_name=Path(config_path or "run").stem, out=out, use_cache=not no_cache,
                       resume=resume)
    if as_json:
        emit_json(result)
        return
    click.echo(f"run directory   {result['run_dir']}")
    click.echo(f"train accuracy  {result['train_accuracy']:.4f}")
    click.echo(f"val accuracy    {_fmt(result['val_accuracy'])}")
    click.echo(f"epochs          {result['epochs']}  ({result['seconds']:.1f}s)")


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.4f}"


@cli.command()
@resumable
@click.option("--k", type=int, help="Number of folds (default: kfold.k in the config, 5).")
@click.option("--select", type=click.Choice(["best", "ensemble"]),
              help="Final model: the best fold, or all folds averaging their probabilities.")
@click.option("--grid", multiple=True, metavar="KEY=V1,V2",
              help="Cross-validate every combination of these values (repeatable).")
@workers_options("folds")
@click.option("--out", type=click.Path(file_okay=False), help="Run directory to create (must be new or empty).")
@click.option("--no-cache", is_flag=True, help="Decode images and extract features afresh.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON document.")
@click.pass_context
def kfold(ctx, config_path, overrides, print_config, resume, k, select, grid, jobs, cluster, timeout, out,
          no_cache, as_json):
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
    from .commands import run_kfold

    if k is not None and k < 2:
        raise click.BadParameter("needs at least 2 folds", param_hint="--k")
    if resume and (k or select or grid):
        raise click.UsageError("--resume continues with the run's own --k, --select and --grid")
    config = config_or_resume(config_path, overrides, print_config, resume)
    jobs, cluster = where_to_run(ctx, jobs, cluster)
    result = run_kfold(config, Path(config_path or "kfold").stem, k, select, grid, jobs, out, not no_cache, resume,
                       cluster, timeout)
    if as_json:
        emit_json(result)
        return
    _print_kfold(result)


def _print_kfold(result) -> None:
    click.echo(f"run directory  {result['run_dir']}  (final model: {result['select']})")
    if "grid" in result:
        click.echo("\nmean_acc  std     oof_acc  params")
        for row in result["grid"]:
            params = " ".join(f"{key}={value}" for key, value in row["params"].items())
            click.echo(f"{row['mean_accuracy']:.4f}    {row['std_accuracy']:.4f}  {row['oof_accuracy']:.4f}   {params}")
        click.echo(f"\nbest: {' '.join(f'{k}={v}' for k, v in result['best_params'].items())}")
    click.echo("\nfold  val_acc  val_loss")
    for fold, (acc, loss) in enumerate(zip(result["fold_accuracies"], result["fold_losses"]), start=1):
        marker = "  <- best" if fold == result["best_fold"] else ""
        click.echo(f"{fold:<4}  {acc:.4f}   {loss:.4f}{marker}")
    click.echo(f"mean  {result['mean_accuracy']:.4f} +/- {result['std_accuracy']:.4f}")
    click.echo(f"out-of-fold accuracy  {result['oof_accuracy']:.4f}")
    if result["holdout"]:
        holdout = result["holdout"]
        click.echo(f"held-out ({holdout['n']} samples): ensemble {holdout['ensemble_accuracy']:.4f}, "
                   f"best fold {holdout['best_fold_accuracy']:.4f}")


@cli.command()
@resumable
@click.option("--trials", type=click.IntRange(min=1), help="Number of trials (default: search.trials in the config).")
@click.option("--k", type=click.IntRange(min=2), help="Number of folds per trial (default: kfold.k in the config).")
@click.option("--select", type=click.Choice(["best", "ensemble"]),
              help="The best trial's final model: its best fold, or all its folds averaging their probabilities.")
@workers_options("the units (one trial's fold at one budget)")
@click.option("--out", type=click.Path(file_okay=False), help="Run directory to create (must be new or empty).")
@click.option("--no-cache", is_flag=True, help="Decode images and extract features afresh.")
@click.option("--json", "as_json", is_flag=True, help="Print the search summary as one JSON document.")
@click.pass_context
def search(ctx, config_path, overrides, print_config, resume, trials, k, select, jobs, cluster, timeout, out,
           no_cache, as_json):
    """Hyperparameter search: cross-validate the trials of the config's search: section.

    Trials are ranked by mean fold accuracy; the run directory holds trials.csv,
    search_summary.json, best_config.yaml (ready for mlpcli train --config) and the best
    trial's model, so predict and evaluate take it directly. Each unit is saved when it
    finishes: Ctrl-C keeps them and --resume trains only what is missing.

    \b
    Example:
      mlpcli search --config configs/cifar10-hog.yaml --trials 20 --k 3 --jobs 2
      mlpcli search --config search.yaml --cluster tcp://scheduler:8786
      mlpcli search --resume runs/20260101-120000-search
    """
    from .commands import run_search

    if resume and (trials or k or select):
        raise click.UsageError("--resume continues with the search's own --trials, --k and --select")
    config = config_or_resume(config_path, overrides, print_config, resume)
    jobs, cluster = where_to_run(ctx, jobs, cluster)
    result = run_search(config, Path(config_path or "search").stem, trials, k, select, jobs, cluster, timeout, out,
                        not no_cache, resume)
    if as_json:
        emit_json(result)
        return
    _print_search(result)


def _print_search(result) -> None:
    from .search.table import format_params

    click.echo(f"run directory  {result['run_dir']}  ({result['strategy']}, {result['n_trials']} trials, "
               f"{result['k']} folds, on {result['executor']}, {result['wall_seconds']:.1f}s)")
    click.echo(f"\n{'rank':>4}  {'trial':>5}  {'epochs':>6}  mean_acc  std     oof_acc  params")
    for row in result["trials"]:
        click.echo(f"{row['rank']:>4}  {row['trial']:>5}  {row['epochs']:>6}  {_fmt(row['mean_accuracy'])}    "
                   f"{_fmt(row['std_accuracy'])}  {_fmt(row['oof_accuracy'])}   {format_params(row['params'])}")
    best = result["best"]
    click.echo(f"\nbest: trial {result['trials'][0]['trial']}, mean {best['mean_accuracy']:.4f} +/- "
               f"{best['std_accuracy']:.4f}, oof {best['oof_accuracy']:.4f}, final model: {best['select']}")
    click.echo(f"units: {result['units_trained']} trained, {result['units_reused']} reused from disk")


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--model", "model_dir", default="runs/latest", show_default=True, type=click.Path(),
              help="Run directory (or model bundle) to predict with.")
@click.option("--top-k", default=1, show_default=True, type=click.IntRange(min=1),
              help="How many of the most probable classes to show.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list, one entry per image.")
def predict(paths, model_dir, top_k, as_json):
    """Label image files (or every image in the given folders).

    \b
    Example:
      mlpcli predict cat.png photos/ --model runs/latest --top-k 3
    """
    from .commands import run_predict

    results = run_predict(paths, model_dir, top_k)
    if as_json:
        emit_json(results)
        return
    for item in results:
        click.echo(f"{item['path']}\t{item['label']}\t{item['probability']:.4f}")
        for rank, other in enumerate(item["top_k"][1:], start=2):
            click.echo(f"\t{rank}. {other['label']}\t{other['probability']:.4f}")


@cli.command()
@click.option("--model", "model_dir", default="runs/latest", show_default=True, type=click.Path(),
              help="Run directory (or model bundle) to evaluate.")
@click.option("--data", "data_path", required=True, type=click.Path(),
              help="Labelled images: an image folder (one sub-folder per class).")
@click.option("--fail-under", type=click.FloatRange(0, 1), help="Exit 1 if accuracy is below this (a CI gate).")
@click.option("--save", is_flag=True, help="Keep the report in the run's evaluations/ (for mlpcli show).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON document.")
def evaluate(model_dir, data_path, fail_under, save, as_json):
    """Accuracy, per-class precision/recall/F1 and the confusion matrix on labelled data.

    \b
    Example:
      mlpcli evaluate --model runs/latest --data data/test --fail-under 0.8
    """
    from .commands import run_evaluate

    report = run_evaluate(model_dir, data_path)
    if save:
        from .artifacts.summary import save_evaluation

        click.echo(f"saved {save_evaluation(model_dir, report, data_path)}", err=True)
    if as_json:
        emit_json(report)
    else:
        _print_report(report)
    if fail_under is not None and report["accuracy"] < fail_under:
        click.echo(f"error: accuracy {report['accuracy']:.4f} is below --fail-under {fail_under}", err=True)
        sys.exit(1)


def _print_report(report) -> None:
    click.echo(f"accuracy {report['accuracy']:.4f} on {report['n']} images\n")
    width = max(len(name) for name in report["class_names"])
    click.echo(f"{'class':<{width}}  precision  recall  f1      support")
    for row in report["per_class"]:
        click.echo(f"{row['class']:<{width}}  {row['precision']:.4f}     {row['recall']:.4f}  "
                   f"{row['f1']:.4f}  {row['support']}")
    click.echo("\nconfusion matrix (rows: true class, columns: predicted)")
    for name, row in zip(report["class_names"], report["confusion"]):
        click.echo(f"{name:<{width}}  " + " ".join(f"{count:5d}" for count in row))


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
    from .commands import GRADCHECK_TOLERANCE, run_gradcheck

    config = load_config_or_print(config_path, overrides, print_config)
    errors = run_gradcheck(config)
    worst = max(errors.values())
    passed = worst <= GRADCHECK_TOLERANCE
    if as_json:
        emit_json({"passed": passed, "tolerance": GRADCHECK_TOLERANCE, "max_relative_error": worst,
                   "relative_errors": errors})
    else:
        for path, error in errors.items():
            click.echo(f"{path:<12} {error:.3e}")
        click.echo(f"{'PASS' if passed else 'FAIL'}: max relative error {worst:.3e} (tolerance {GRADCHECK_TOLERANCE:g})")
    if not passed:
        sys.exit(1)


@cli.command()
@click.argument("run_dir", type=click.Path())
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Folder for the pictures (default RUN/pictures).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON document.")
def show(run_dir, out_dir, as_json):
    """Summarize a run and draw what it learned: curves, confusion matrix, templates or filters.

    Plots need matplotlib (pip install "mlpcli[plot]"); without it the summary and the
    Pillow-drawn tiles are still produced.

    \b
    Example:
      mlpcli show runs/latest --out pictures/
    """
    from .commands import run_show

    summary = run_show(run_dir, out_dir)
    if as_json:
        emit_json(summary)
    else:
        _print_show(summary)
    if summary.get("hint"):
        click.echo(f"hint: {summary['hint']}", err=True)


def _print_show(summary) -> None:
    config = summary["config"] or {}
    _line("run", summary["run_dir"])
    _line("kind", f"{summary['kind']}" + (f"  (mode {config['mode']})" if "mode" in config else ""))
    for section in ("data", "features", "extractor", "model", "train"):
        if section in config:
            _line(section, _plain_text(config[section]))
    interrupted = summary.get("interrupted")
    if interrupted:
        where = (f"epoch {interrupted['epoch']}, sample {interrupted['sample']}" if interrupted["command"] == "train"
                 else f"{interrupted['units_finished']} unit(s) finished" if interrupted["command"] == "search"
                 else f"{interrupted['folds_finished']} fold(s) finished")
        _line("status", f"interrupted at {where}; resume with: {interrupted['resume']}")
    for split, values in (summary.get("metrics") or {}).items():
        if isinstance(values, dict) and values.get("accuracy") is not None:
            n = (summary.get("n") or {}).get(split)
            _line(split, f"accuracy {values['accuracy']:.4f}  loss {values['loss']:.4f}  n {n}")
    if summary.get("search"):
        _print_show_search(summary["search"])
    if summary.get("kfold"):
        _print_show_kfold(summary["kfold"])
    if summary.get("epochs") is not None:
        _line("epochs", f"{_plain_text(summary['epochs'])}  ({summary.get('seconds') or 0:.1f}s)")
    evaluation = summary.get("evaluation")
    if evaluation:
        _line("evaluation", f"accuracy {evaluation['accuracy']:.4f} on {evaluation.get('n')} images of "
                            f"{evaluation.get('data')} ({evaluation.get('saved_at')})")
    for note in summary.get("notes", []):
        _line("note", note)
    for picture in summary.get("pictures", []):
        _line("picture", picture)


def _print_show_kfold(fold) -> None:
    _line("k-fold", f"{fold['k']} folds, mean {fold['mean_accuracy']:.4f} +/- {fold['std_accuracy']:.4f}, "
                    f"oof {fold['oof_accuracy']:.4f}, final model: {fold.get('select')}")
    for row in fold.get("grid") or []:
        params = " ".join(f"{key}={value}" for key, value in row["params"].items())
        chosen = "  <- chosen" if row["params"] == fold.get("best_params") else ""
        _line("grid", f"mean {row['mean_accuracy']:.4f} +/- {row['std_accuracy']:.4f}  {params}{chosen}")


def _print_show_search(search) -> None:
    from .search.table import format_params

    _line("search", f"{search['strategy']}, {search['n_trials']} trials, {search['k']} folds, on "
                    f"{search.get('executor')}, {search.get('wall_seconds') or 0:.1f}s; units: "
                    f"{search.get('units_trained')} trained, {search.get('units_reused')} reused")
    for row in search["trials"]:
        _line(f"trial {row['trial']}", f"rank {row['rank']}  epochs {row['epochs']}  mean "
                                       f"{_fmt(row['mean_accuracy'])} +/- {_fmt(row['std_accuracy'])}  oof "
                                       f"{_fmt(row['oof_accuracy'])}  {format_params(row['params'])}")


def _line(label: str, text) -> None:
    click.echo(f"{label:<11}{text}")


def _plain_text(value) -> str:
    """A config section or list as ``key value, key value`` text instead of a Python repr."""
    if isinstance(value, dict):
        return ", ".join(f"{key} {_plain_text(item)}" for key, item in value.items())
    if isinstance(value, list):
        return "[" + ", ".join(_plain_text(item) for item in value) + "]"
    return "null" if value is None else str(value)


@cli.group()
def features():
    """Look at what the classifier is given.

    \b
    Example:
      mlpcli features show cat.png --config configs/cifar10-hog.yaml
    """


@features.command("show")
@click.argument("image", type=click.Path(dir_okay=False))
@config_options
@click.option("--out", "out_file", type=click.Path(dir_okay=False), help="PNG to write (default ./<image>-features.png).")
def features_show(image, config_path, overrides, print_config, out_file):
    """Draw an image beside its HOG cells (oriented strokes) and its color histogram.

    \b
    Example:
      mlpcli features show cat.png --config configs/cifar10-hog.yaml --out cat-features.png
    """
    from .commands import run_features_show

    config = load_config_or_print(config_path, overrides, print_config)
    result = run_features_show(image, config, out_file)
    click.echo(result["path"])
    for note in result.get("notes", []):
        click.echo(f"note: {note}", err=True)


@cli.group()
def data():
    """Make or fetch data sets.

    \b
    Example:
      mlpcli data synth --out data/shapes
    """


@data.command("synth")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder to write (new or empty).")
@click.option("--n-per-class", default=250, show_default=True, type=click.IntRange(min=1))
@click.option("--size", default=32, show_default=True, type=click.IntRange(min=8), help="Image side in pixels.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0))
def data_synth(out, n_per_class, size, seed):
    """Write the built-in synthetic shapes as an image folder of PNGs.

    \b
    Example:
      mlpcli data synth --out data/shapes
    """
    from .commands import run_synth

    count = run_synth(out, n_per_class, size, seed)
    click.echo(f"wrote {count} images to {out}")


@data.command("download")
@click.argument("name", type=click.Choice(["cifar10"]))
@click.option("--dest", default="data", show_default=True, type=click.Path(file_okay=False),
              help="Folder to unpack into.")
@click.option("--url", help="Download from this mirror instead of the official address.")
def data_download(name, dest, url):
    """Download a data set, verify its published MD5 and unpack it.

    An interrupted download resumes when the command is run again.

    \b
    Example:
      mlpcli data download cifar10 --dest data/
    """
    from .data.download import download_dataset

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
    from .config.reference import config_reference_markdown

    click.echo(config_reference_markdown(), nl=False)


_global_options_everywhere(cli)


def main() -> None:
    cli(prog_name="mlpcli")
