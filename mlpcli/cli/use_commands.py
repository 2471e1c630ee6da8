"""The commands that use a trained model or look at one: ``predict``, ``evaluate``, ``show``,
``features show``."""

from __future__ import annotations

import click

from ..choices import GATE_METRICS
from ..errors import ArtifactError, GateFailed
from .app import cli
from .baseline_gate import baseline_options, evaluate_against_baseline
from .options import (
    config_options,
    decode_options,
    emit_json,
    load_config_or_print,
    model_option,
    output_suffix,
    tta_option,
)
from .text import print_report, print_show


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@model_option("predict with")
@click.option(
    "--top-k",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="How many of the most probable classes to show (columns label_2, probability_2 ...).",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False),
    callback=output_suffix,
    help="Write the table to this file instead of stdout: .tsv, .csv or .jsonl (by suffix).",
)
@decode_options
@tta_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document: {predictions: [...], skipped: [...]}.")
def predict(paths, model_dir, top_k, output, on_error, max_pixels, tta, as_json):
    """Label image files (or every image in the given folders).

    Prints a tab-separated table with a header: path, label, probability, then
    label_2, probability_2 ... up to --top-k.

    \b
    Example:
      mlpcli predict cat.png photos/ --model runs/latest --top-k 3
      mlpcli predict photos/ --output labels.csv --on-error skip
      mlpcli predict photos/ --tta flip
    """
    from .. import tables
    from ..commands import run_predict

    result = run_predict(paths, model_dir, top_k=top_k, on_error=on_error, max_pixels=max_pixels, tta=tta)
    if output is not None:
        path = tables.write(output, result["predictions"])
        click.echo(f"wrote {len(result['predictions'])} predictions to {path}", err=True)
    if as_json:
        emit_json(result)
    elif output is None:
        for line in tables.delimited(result["predictions"], "\t").splitlines(keepends=True):
            click.echo(line, nl=False)  # line by line: a reader that stops early is noticed early


@cli.command()
@model_option("evaluate")
@click.option(
    "--data",
    "data_path",
    required=True,
    type=click.Path(),
    help="Labelled images: an image folder (one sub-folder per class).",
)
@click.option(
    "--fail-under",
    type=click.FloatRange(0, 1),
    help=f"Exit {GateFailed.exit_code} if --metric is below this (a CI quality gate).",
)
@click.option(
    "--metric",
    type=click.Choice(GATE_METRICS),
    default="accuracy",
    show_default=True,
    help="What --fail-under and --baseline gate on.",
)
@decode_options
@tta_option
@click.option(
    "--save",
    is_flag=True,
    help="Keep the report, with the misclassified files, in the run's evaluations/ (for mlpcli show).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON document.")
@baseline_options
def evaluate(
    model_dir,
    data_path,
    fail_under,
    metric,
    on_error,
    max_pixels,
    tta,
    save,
    as_json,
    baseline,
    max_drop,
    alpha,
    report_path,
):
    """Accuracy, balanced accuracy, macro-F1, log-loss, per-class precision/recall/F1 and the
    confusion matrix on labelled data.

    \b
    With --baseline OLD: both models on the same images, the difference with its 95% interval
    and an exact McNemar test; exit 3 when --model is worse than OLD by more than --max-drop
    points and the test says the drop is real (too small a set exits 0, saying it cannot tell).

    \b
    Exit codes: 0 evaluated (and the gate passed); 1 the model or data could not be read;
    2 usage error; 3 the --fail-under gate failed (or the --baseline gate: a real drop).

    \b
    Example:
      mlpcli evaluate --model runs/latest --data data/test --fail-under 0.8 --metric macro_f1
      mlpcli evaluate --model runs/new --baseline runs/main --data data/test --report report.md
      mlpcli evaluate --model runs/latest --data data/test --tta flip
    """
    if baseline is not None:
        return evaluate_against_baseline(
            model_dir,
            baseline,
            data_path,
            on_error,
            max_pixels,
            metric,
            max_drop,
            alpha,
            report_path,
            as_json,
            fail_under,
            save,
            tta,
        )
    from ..commands import run_evaluate

    report = run_evaluate(
        model_dir, data_path, on_error=on_error, max_pixels=max_pixels, fail_under=fail_under, metric=metric, tta=tta
    )
    shown = {key: value for key, value in report.items() if key != "misclassified"}
    if as_json:
        emit_json(shown)
    else:
        print_report(shown)
    if save:  # after the report is printed: a run folder that refuses the file still shows it
        from ..artifacts.evaluations import save_evaluation

        click.echo(f"saved {save_evaluation(model_dir, report, data_path)}", err=True)
    _apply_gate(report["gate"])


def _apply_gate(gate: dict | None) -> None:
    """Exit 3 (GateFailed) if the --fail-under gate failed; say so on stderr if it passed."""
    if gate is None:
        return
    verdict = f"{gate['metric']} {gate['value']:.4f} {{}} --fail-under {gate['threshold']}"
    if not gate["passed"]:
        raise GateFailed(verdict.format("is below"))
    click.echo(f"gate passed: {verdict.format('>=')}", err=True)


@cli.command()
@click.argument("run_dir", type=click.Path())
@click.option(
    "--out", "out_dir", type=click.Path(file_okay=False), help="Folder for the pictures (default RUN/pictures)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON document.")
def show(run_dir, out_dir, as_json):
    """Summarize a run and draw what it learned: curves, confusion, templates, filters, bow words.

    Plots need matplotlib (pip install "mlpcli[plot]"); without it the summary and the
    Pillow-drawn tiles are still produced.

    \b
    Example:
      mlpcli show runs/latest --out pictures/
    """
    from ..commands import run_show

    summary = run_show(run_dir, out_dir)
    if as_json:
        emit_json(summary)
    else:
        print_show(summary)
    if summary.get("hint"):
        click.echo(f"hint: {summary['hint']}", err=True)
    if summary["refused"]:  # the summary is printed; the pictures that could not be are an error
        raise ArtifactError(summary["refused"])


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
@click.option(
    "--out", "out_file", type=click.Path(dir_okay=False), help="PNG to write (default ./<image>-features.png)."
)
def features_show(image, config_path, overrides, print_config, out_file):
    """Draw an image beside its HOG cells (oriented strokes) and its color histogram.

    \b
    Example:
      mlpcli features show cat.png --config configs/cifar10-hog.yaml --out cat-features.png
    """
    from ..commands import run_features_show

    config = load_config_or_print(config_path, overrides, print_config)
    result = run_features_show(image, config, out_file)
    click.echo(result["path"])
    for note in result.get("notes", []):
        click.echo(f"note: {note}", err=True)
