"""Datasets: labelled images from an image folder, CIFAR-10 batches, an npz file or the generator.

Every loader returns a ``Dataset``; ``LOADERS`` maps ``data.format`` to the loader.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..choices import DEFAULT_MAX_IMAGE_PIXELS  # noqa: F401  (re-exported)


@dataclass
class Dataset:
    """images (n_images, height, width, 3) uint8; labels (n_images,) int64 indexing class_names.

    ``fingerprint`` identifies the content (for caches); ``sources`` names each image (a path);
    ``skipped`` lists the unreadable files left out (``{"path", "reason"}``, ``on_error: skip``).
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    fingerprint: str | None = None
    sources: list[str] | None = None
    skipped: list[dict] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True)
class Loader:
    """How one ``data.format`` is read: ``load(data_config, seed, cache_dir) -> Dataset``, and
    ``classes(data_config) -> class names`` without decoding the images."""

    load: Callable
    classes: Callable
    needs_path: bool = True


#: How a config's user leaves unreadable images out (train, kfold, search have no --on-error).
CONFIG_SKIP_HINT = "data.on_error: skip in the config (--set data.on_error=skip)"


def _synthetic(data_config, seed, cache_dir):
    from .synthetic import make_synthetic

    return make_synthetic(data_config.n_per_class, data_config.image_size, seed)


def _folder(data_config, seed, cache_dir):
    from .folder import load_folder

    return load_folder(data_config.path, data_config.image_size, data_config.on_error, cache_dir=cache_dir,
                       max_pixels=data_config.max_image_pixels, skip_hint=CONFIG_SKIP_HINT)


def _cifar10(data_config, seed, cache_dir):
    from .cifar10 import load_cifar10

    return resize_dataset(load_cifar10(data_config.path, data_config.split), data_config.image_size)


def _npz(data_config, seed, cache_dir):
    from .npz import load_npz

    return resize_dataset(load_npz(data_config.path), data_config.image_size)


def _synthetic_classes(data_config):
    from .synthetic import SHAPES

    return SHAPES


def _folder_classes(data_config):
    from .folder import scan_folder

    return scan_folder(data_config.path)[2]


def _cifar10_classes(data_config):
    from .cifar10 import cifar10_classes

    return cifar10_classes(data_config.path)


def _npz_classes(data_config):
    return _npz(data_config, None, None).class_names


#: ``data.format`` -> its loader; the keys are the allowed values of ``data.format``.
LOADERS = {"synthetic": Loader(_synthetic, _synthetic_classes, needs_path=False),
           "folder": Loader(_folder, _folder_classes), "cifar10": Loader(_cifar10, _cifar10_classes),
           "npz": Loader(_npz, _npz_classes)}


def load_dataset(data_config, seed: int, cache: bool = True) -> Dataset:
    """The dataset described by the ``data:`` section, resized to ``data.image_size``.

    Decoded image folders are cached on disk unless ``cache`` is False.
    """
    return _loader(data_config).load(data_config, seed, data_config.cache_dir if cache else None)


def class_names(data_config) -> tuple[str, ...]:
    """The classes the ``data:`` section describes, read without decoding its images."""
    return tuple(_loader(data_config).classes(data_config))


def _loader(data_config) -> Loader:
    from ..errors import ConfigError

    loader = LOADERS[data_config.format]
    if loader.needs_path and data_config.path is None:
        raise ConfigError(f"data.path: required for data.format {data_config.format}")
    return loader


def load_labelled(path, image_size, on_error: str = "fail", max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> Dataset:
    """Labelled images for evaluation, format detected from ``path``: a CIFAR-10 python directory
    (its test split), an ``.npz`` file, or an image folder (decoded with ``on_error`` and the
    ``max_pixels`` limit, as ``folder.load_folder``)."""
    from pathlib import Path

    from . import cifar10, folder, npz

    path = Path(path)
    if cifar10.is_cifar10_dir(path):
        return resize_dataset(cifar10.load_cifar10(path, "test"), image_size)
    if path.suffix.lower() == ".npz":
        return resize_dataset(npz.load_npz(path), image_size)
    return folder.load_folder(path, image_size, on_error, max_pixels=max_pixels)


def resize_dataset(dataset: Dataset, image_size) -> Dataset:
    """The same dataset with images resized to ``image_size = (height, width)`` if they differ."""
    height, width = image_size
    if dataset.images.shape[1:3] == (height, width):
        return dataset
    from PIL import Image

    resized = np.stack([np.asarray(Image.fromarray(image).resize((width, height), Image.Resampling.BILINEAR))
                        for image in dataset.images])
    fingerprint = dataset.fingerprint and f"{dataset.fingerprint}-{height}x{width}"
    return Dataset(resized, dataset.labels, dataset.class_names, fingerprint, dataset.sources, dataset.skipped)


def relabel(dataset: Dataset, class_names, source) -> np.ndarray:
    """``dataset``'s labels as indices into ``class_names`` (a model's classes, which may be more
    or ordered differently); DataError naming ``source`` if it has a class the model lacks."""
    from ..errors import DataError

    unknown = sorted(set(dataset.class_names) - set(class_names))
    if unknown:
        raise DataError(f"{source}: classes {', '.join(unknown)} are not among the model's classes "
                        f"({', '.join(class_names)})")
    to_model = np.array([list(class_names).index(name) for name in dataset.class_names], dtype=np.int64)
    return to_model[dataset.labels]
