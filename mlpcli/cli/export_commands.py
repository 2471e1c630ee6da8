"""``export``: a trained model as a file other runtimes load."""

from __future__ import annotations

import click

from .app import cli
from .options import emit_json


@cli.command()
@click.argument("model_dir", type=click.Path())
@click.option(
    "--format", "fmt", type=click.Choice(["onnx"]), default="onnx", show_default=True, help="File format to export to."
)
@click.option("--out", type=click.Path(dir_okay=False), help="File to write (default RUN/model.onnx).")
@click.option(
    "--input",
    "input_kind",
    type=click.Choice(["images", "features"]),
    default="images",
    show_default=True,
    help="What the graph takes: uint8 images (n, height, width, 3), or the feature vector.",
)
@click.option("--json", "as_json", is_flag=True, help="Print what was written as one JSON document.")
def export(model_dir, fmt, out, input_kind, as_json):
    """Export a trained model (run directory or model bundle) to ONNX.

    The graph takes uint8 RGB images (n, height, width, 3) of the model's image size, brought
    there as the model's data.resize and data.color say (its metadata `resize` and `preprocess`;
    the README shows the Pillow calls), and returns `probabilities` (n, n_classes) and
    `predicted` (n,) class indices; the class names are in its metadata (`classes`). A model
    trained with train.tta: flip averages each image with its mirror inside the graph. Needs the
    onnx package: pip install "mlpcli[export]".

    \b
    Example:
      mlpcli export runs/latest --format onnx --out model.onnx
    """
    from ..commands.exporting import run_export

    result = run_export(model_dir, out, fmt, input_kind)
    if as_json:
        emit_json(result)
    else:
        click.echo(result["path"])
