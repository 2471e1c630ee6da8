"""The command line: parse, call the library, print. The only module that knows click.

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
from pathlib import Path

import click

from . import __version__
from .choices import DEFAULT_MAX_IMAGE_PIXELS, GATE_METRICS
from .errors import GateFailed, MlpcliError


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

    def invoke(self, ctx):
        try:
            result = super().invoke(ctx)
            sys.stdout.flush()  # a closed pipe shows here, inside this try, not in click's own handler
            return result
        except MlpcliError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)
        except BrokenPipeError:
            ctx.exit(_stdout_reader_gone())
        except OSError as exc:
            click.echo(f"error: {_os_error_text(exc)}", err=True)
            ctx.exit(1)


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
    from .commands import run_kfold

    if k is not None and k < 2:
        raise click.BadParameter("needs at least 2 folds", param_hint="--k")
    if resume and (k or select or grid):
        raise click.UsageError("--resume continues with the run's own --k, --select and --grid")
    config = config_or_resume(config_path, overrides, print_config, resume)
    result = run_kfold(config, Path(config_path or "kfold").stem, k, select, grid, jobs, out, not no_cache, resume)
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


def decode_options(command):
    """--on-error and --max-pixels, shared by the commands that decode image files."""
    command = click.option("--max-pixels", type=click.IntRange(min=1), metavar="N",
                           help=f"Refuse images with more pixels than this as possible decompression "
                                f"bombs [default: {DEFAULT_MAX_IMAGE_PIXELS:,}, Pillow's limit].")(command)
    return click.option("--on-error", type=click.Choice(["fail", "skip"]), default="fail", show_default=True,
                        help="Unreadable image files: fail naming every one, or skip them (each is "
                             "reported on stderr and under 'skipped' in --json).")(command)


def _output_suffix(ctx, param, value):
    from .tables import FORMATS

    if value is not None and Path(value).suffix.lower() not in FORMATS:
        raise click.BadParameter(f"{value}: the suffix picks the format; use one of {', '.join(FORMATS)}")
    return value


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--model", "model_dir", default="runs/latest", show_default=True, type=click.Path(),
              help="Run directory (or model bundle) to predict with.")
@click.option("--top-k", default=1, show_default=True, type=click.IntRange(min=1),
              help="How many of the most probable classes to show (columns label_2, probability_2 ...).")
@click.option("--output", type=click.Path(dir_okay=False), callback=_output_suffix,
              help="Write the table to this file instead of stdout: .tsv, .csv or .jsonl (by suffix).")
@decode_options
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON document: {predictions: [...], skipped: [...]}.")
def predict(paths, model_dir, top_k, output, on_error, max_pixels, as_json):
    """Label image files (or every image in the given folders).

    Prints a tab-separated table with a header: path, label, probability, then
    label_2, probability_2 ... up to --top-k.

    \b
    Example:
      mlpcli predict cat.png photos/ --model runs/latest --top-k 3
      mlpcli predict photos/ --output labels.csv --on-error skip
    """
    from . import tables
    from .commands import run_predict

    result = run_predict(paths, model_dir, top_k, on_error, max_pixels)
    if output is not None:
        path = tables.write(output, result["predictions"])
        click.echo(f"wrote {len(result['predictions'])} predictions to {path}", err=True)
    if as_json:
        emit_json(result)
    elif output is None:
        for line in tables.delimited(result["predictions"], "\t").splitlines(keepends=True):
            click.echo(line, nl=False)  # line by line: a reader that stops early is noticed early


@cli.command()
@click.option("--model", "model_dir", default="runs/latest", show_default=True, type=click.Path(),
              help="Run directory (or model bundle) to evaluate.")
@click.option("--data", "data_path", required=True, type=click.Path(),
              help="Labelled images: an image folder (one sub-folder per class).")
@click.option("--fail-under", type=click.FloatRange(0, 1),
              help=f"Exit {GateFailed.exit_code} if --metric is below this (a CI quality gate).")
@click.option("--metric", type=click.Choice(GATE_METRICS), default="accuracy", show_default=True,
              help="What --fail-under gates on.")
@decode_options
@click.option("--save", is_flag=True,
              help="Keep the report, with the misclassified files, in the run's evaluations/ (for mlpcli show).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON document.")
def evaluate(model_dir, data_path, fail_under, metric, on_error, max_pixels, save, as_json):
    """Accuracy, balanced accuracy, macro-F1, log-loss, per-class precision/recall/F1 and the
    confusion matrix on labelled data.

    \b
    Exit codes: 0 evaluated (and the gate passed); 1 the model or data could not be read;
    2 usage error; 3 the --fail-under gate failed.

    \b
    Example:
      mlpcli evaluate --model runs/latest --data data/test --fail-under 0.8 --metric macro_f1
    """
    from .commands import run_evaluate

    report = run_evaluate(model_dir, data_path, on_error, max_pixels, fail_under, metric)
    if save:
        from .artifacts.summary import save_evaluation

        click.echo(f"saved {save_evaluation(model_dir, report, data_path)}", err=True)
    shown = {key: value for key, value in report.items() if key != "misclassified"}
    if as_json:
        emit_json(shown)
    else:
        _print_report(shown)
    gate = report["gate"]
    if gate is not None:
        verdict = f"{gate['metric']} {gate['value']:.4f} {{}} --fail-under {gate['threshold']}"
        if not gate["passed"]:
            raise GateFailed(verdict.format("is below"))
        click.echo(f"gate passed: {verdict.format('>=')}", err=True)


def _print_report(report) -> None:
    click.echo(f"accuracy           {report['accuracy']:.4f}  on {report['n']} images")
    click.echo(f"balanced accuracy  {report['balanced_accuracy']:.4f}")
    click.echo(f"macro F1           {report['macro_f1']:.4f}")
    click.echo(f"log-loss           {report['log_loss']:.4f}\n")
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
    _print_show_status(summary)
    for split, values in (summary.get("metrics") or {}).items():
        if isinstance(values, dict) and values.get("accuracy") is not None:
            n = (summary.get("n") or {}).get(split)
            _line(split, f"accuracy {values['accuracy']:.4f}  loss {values['loss']:.4f}  n {n}")
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


def _print_show_status(summary) -> None:
    """Why a run has no model: interrupted (and how to resume it) or diverged."""
    interrupted = summary.get("interrupted")
    if interrupted:
        where = (f"epoch {interrupted['epoch']}, sample {interrupted['sample']}" if interrupted["command"] == "train"
                 else f"{interrupted['folds_finished']} fold(s) finished")
        _line("status", f"interrupted at {where}; resume with: {interrupted['resume']}")
    diverged = summary.get("diverged")
    if diverged:
        _line("status", f"diverged at epoch {diverged['epoch']}: {diverged['message']}")


def _print_show_kfold(fold) -> None:
    _line("k-fold", f"{fold['k']} folds, mean {fold['mean_accuracy']:.4f} +/- {fold['std_accuracy']:.4f}, "
                    f"oof {fold['oof_accuracy']:.4f}, final model: {fold.get('select')}")
    for row in fold.get("grid") or []:
        params = " ".join(f"{key}={value}" for key, value in row["params"].items())
        chosen = "  <- chosen" if row["params"] == fold.get("best_params") else ""
        _line("grid", f"mean {row['mean_accuracy']:.4f} +/- {row['std_accuracy']:.4f}  {params}{chosen}")


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
@click.option("--n-per-class", default=250, show_default=True, type=click.IntRange(min=1),
              help="Images to draw for each of the four shapes (circle, square, triangle, cross).")
@click.option("--size", default=32, show_default=True, type=click.IntRange(min=8), help="Image side in pixels.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0),
              help="Random seed: the same seed draws the same images.")
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
    try:
        cli(prog_name="mlpcli")
    except SystemExit:
        try:
            sys.stdout.flush()  # here, not at interpreter exit, where a closed pipe gives a traceback
        except BrokenPipeError:
            sys.exit(_stdout_reader_gone())
        raise
