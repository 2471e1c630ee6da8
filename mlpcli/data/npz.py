"""A NumPy ``.npz`` file with ``images (n, h, w, 3) uint8``, ``labels (n,)`` and optional ``class_names``."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from ..errors import DataError
from .dataset import Dataset


def load_npz(path: str | Path) -> Dataset:
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as stored:
            arrays = {key: stored[key] for key in stored.files}
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except Exception as exc:  # np.load raises many kinds on damaged or pickled content
        raise DataError(f"{path}: cannot read as npz ({type(exc).__name__}: {exc})") from None
    images, labels = arrays.get("images"), arrays.get("labels")
    if images is None or labels is None:
        raise DataError(f"{path}: needs arrays 'images' and 'labels' (has {', '.join(arrays) or 'none'})")
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[3] != 3:
        hint = (
            " (pixels are stored as 0..255 integers; convert floats in [0, 1] with "
            "np.clip(np.round(x * 255), 0, 255).astype(np.uint8))"
            if images.dtype.kind == "f"
            else ""
        )
        raise DataError(
            f"{path}: 'images' must be (n, height, width, 3) uint8, got {images.shape} {images.dtype}{hint}"
        )
    if len(images) == 0:
        raise DataError(f"{path}: 'images' holds no images")
    if labels.ndim != 1 or len(labels) != len(images) or not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"{path}: 'labels' must be (n,) integers matching 'images', got {labels.shape} {labels.dtype}")
    class_names = _class_names(arrays.get("class_names"), labels, path)
    if len(labels) and (labels.min() < 0 or labels.max() >= len(class_names)):
        raise DataError(f"{path}: labels must lie in 0..{len(class_names) - 1}")
    stat = path.stat()
    fingerprint = hashlib.sha256(f"npz:{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:24]
    return Dataset(images, labels.astype(np.int64), class_names, fingerprint)


def _class_names(names, labels: np.ndarray, path: Path) -> tuple[str, ...]:
    """The stored class names, or "0", "1", ... up to the largest label."""
    if names is None:
        return tuple(str(i) for i in range(int(labels.max()) + 1 if len(labels) else 0))
    if names.ndim != 1 or names.dtype.kind not in "US":
        raise DataError(f"{path}: 'class_names' must be a 1-D array of strings, got {names.shape} {names.dtype}")
    return tuple(n.decode(errors="replace") if isinstance(n, bytes) else str(n) for n in names.tolist())
