"""CIFAR-10's official "python version": pickled batches, read without running pickled code.

Pickle can call any importable function while loading, so these files are read with an
unpickler that admits only the builtin containers and NumPy's array reconstruction.
"""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import numpy as np

from ..errors import DataError
from .dataset import Dataset

TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCHES = ("test_batch",)

# Exactly what an ndarray's pickle needs (numpy 2 renamed numpy.core to numpy._core), plus
# _codecs.encode, which protocol-2 pickles written by Python 3 use to store bytes; it only encodes text.
_ALLOWED = {
    (core, name) for core in ("numpy.core.multiarray", "numpy._core.multiarray") for name in ("_reconstruct", "scalar")
} | {("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: a CIFAR-10 batch holds only plain data")


def read_batch(path: Path) -> dict:
    """One pickled batch -> its dict with ``bytes`` keys, refusing anything but plain data."""
    try:
        with open(path, "rb") as handle:
            content = _RestrictedUnpickler(handle, encoding="bytes").load()
    except FileNotFoundError:
        raise DataError(f"{path}: missing CIFAR-10 batch file") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read CIFAR-10 batch ({exc.strerror or exc})") from None
    except Exception as exc:  # damaged pickles raise many kinds; none of them ran foreign code
        raise DataError(f"{path}: not a valid CIFAR-10 batch ({exc})") from None
    if not isinstance(content, dict):
        raise DataError(f"{path}: not a valid CIFAR-10 batch (expected a dict)")
    return content


def is_cifar10_dir(path: Path) -> bool:
    return path.is_dir() and (path / "batches.meta").is_file()


def cifar10_classes(root: str | Path) -> tuple[str, ...]:
    """The class names in ``batches.meta``."""
    root = Path(root)
    names = read_batch(root / "batches.meta").get(b"label_names")
    if not isinstance(names, list):
        raise DataError(f"{root / 'batches.meta'}: no label_names list")
    return tuple(n.decode() if isinstance(n, bytes) else str(n) for n in names)


def load_cifar10(root: str | Path, split: str = "train") -> Dataset:
    """The 50,000 training or 10,000 test images as (n_images, 32, 32, 3) uint8."""
    root = Path(root)
    if not is_cifar10_dir(root):
        raise DataError(
            f"{root}: not a CIFAR-10 python directory (expected batches.meta and data_batch_1..5; "
            f"get it with `mlpcli data download cifar10 --dest data/`)"
        )
    class_names = cifar10_classes(root)
    images: list[np.ndarray] = []
    batch_labels_seen: list[np.ndarray] = []
    digest = hashlib.sha256(f"cifar10:{split}".encode())
    for name in TRAIN_BATCHES if split == "train" else TEST_BATCHES:
        path = root / name
        batch = read_batch(path)
        data, batch_labels = batch.get(b"data"), batch.get(b"labels")
        if (
            not isinstance(data, np.ndarray)
            or data.dtype != np.uint8
            or data.ndim != 2
            or data.shape[1] != 3072
            or not isinstance(batch_labels, list)
            or len(batch_labels) != len(data)
        ):
            raise DataError(f"{path}: unexpected contents (want data (n, 3072) uint8 and n labels)")
        # Rows hold the red, green and blue 32x32 planes one after another.
        images.append(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        batch_labels_seen.append(np.asarray(batch_labels, dtype=np.int64))
        stat = path.stat()
        digest.update(f"{name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    labels = np.concatenate(batch_labels_seen)
    if labels.min() < 0 or labels.max() >= len(class_names):
        raise DataError(f"{root}: labels outside 0..{len(class_names) - 1}")
    return Dataset(np.ascontiguousarray(np.concatenate(images)), labels, class_names, digest.hexdigest()[:24])
