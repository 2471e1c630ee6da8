"""``export``: a trained model as an ONNX file."""

from __future__ import annotations

from pathlib import Path


def run_export(model_dir, out=None, fmt: str = "onnx", input: str = "images") -> dict:
    """Export the model of ``model_dir`` to ``out`` (default ``<model_dir>/model.onnx``); returns
    ``export.export_onnx``'s summary."""
    from ..artifacts import load_model, rundir
    from ..export import export_onnx, require_onnx

    require_onnx()
    model = load_model(model_dir)
    directory = Path(model_dir)
    if directory.name == rundir.MODEL:
        directory = directory.parent
    return export_onnx(model, Path(out) if out is not None else directory / rundir.ONNX, input)
