"""Export a trained model to ONNX, so it runs wherever onnxruntime runs.

``graph`` builds nodes, ``network`` converts the layers, ``features`` the feature extractors,
``model`` assembles the whole graph. Only this package imports ``onnx`` (the optional
``export`` extra: ``pip install "mlpcli[export]"``), and only when a model is exported.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ArtifactError
from ..fileio import atomic_path

#: What ``--input`` may name: the image batch, or the feature vector (before standardization).
INPUTS = ("images", "features")
FORMATS = ("onnx",)
INSTALL_HINT = 'pip install "mlpcli[export]"'


def require_onnx():
    """The onnx module, or ArtifactError (exit 1) saying how to install it."""
    try:
        import onnx
    except ImportError:
        raise ArtifactError(
            f"exporting to ONNX needs the onnx package, which is not installed; {INSTALL_HINT}"
        ) from None
    return onnx


def export_onnx(model, path: str | Path, input: str = "images") -> dict:
    """Write ``model`` (a Predictor or FoldEnsemble) as ONNX to ``path``, checked by
    ``onnx.checker`` first; returns what was written (path, input, outputs, classes, opset, tta)."""
    onnx = require_onnx()
    from .graph import OPSET
    from .model import build_model

    proto = build_model(model, input)
    try:
        onnx.checker.check_model(proto, full_check=True)
    except onnx.checker.ValidationError as exc:
        raise ArtifactError(f"the exported graph fails onnx.checker ({exc}); please report this") from None
    with atomic_path(path) as tmp:
        onnx.save_model(proto, str(tmp))
    return {
        "path": str(path),
        "format": "onnx",
        "opset": OPSET,
        "input": input,
        "outputs": ["probabilities", "predicted"],
        "classes": list(model.class_names),
        "image_size": list(model.image_size),
        "tta": getattr(model, "tta", "none"),
        "members": len(getattr(model, "members", [model])),
    }
