"""Datasets: labelled images from an image folder, CIFAR-10 batches, an npz file or the generator.

Every loader returns a ``Dataset``; ``LOADERS`` maps ``data.format`` to the loader.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Dataset:
    """images (n_images, height, width, 3) uint8; labels (n_images,) int64 indexing class_names.

    ``fingerprint`` identifies the content (for caches); ``sources`` names each image (a path).
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    fingerprint: str | None = None
    sources: list[str] | None = None

    def __len__(self) -> int:
        return len(self.labels)


def load_dataset(data_config, seed: int, cache: bool = True) -> Dataset:
    """The dataset described by the ``data:`` section, resized to ``data.image_size``.

    Decoded image folders are cached on disk unless ``cache`` is False.
    """
    from ..errors import ConfigError
    from . import cifar10, folder, npz, synthetic

    fmt, path = data_config.format, data_config.path
    if fmt == "synthetic":
        return synthetic.make_synthetic(data_config.n_per_class, data_config.image_size, seed)
    if path is None:
        raise ConfigError(f"data.path: required for data.format {fmt}")
    if fmt == "folder":
        return folder.load_folder(path, data_config.image_size, data_config.on_error,
                                  cache_dir=data_config.cache_dir if cache else None)
    dataset = cifar10.load_cifar10(path, data_config.split) if fmt == "cifar10" else npz.load_npz(path)
    return resize_dataset(dataset, data_config.image_size)


def load_labelled(path, image_size) -> Dataset:
    """Labelled images for evaluation, format detected from ``path``: a CIFAR-10 python directory
    (its test split), an ``.npz`` file, or an image folder."""
    from pathlib import Path

    from . import cifar10, folder, npz

    path = Path(path)
    if cifar10.is_cifar10_dir(path):
        return resize_dataset(cifar10.load_cifar10(path, "test"), image_size)
    if path.suffix.lower() == ".npz":
        return resize_dataset(npz.load_npz(path), image_size)
    return folder.load_folder(path, image_size)


def resize_dataset(dataset: Dataset, image_size) -> Dataset:
    """The same dataset with images resized to ``image_size = (height, width)`` if they differ."""
    height, width = image_size
    if dataset.images.shape[1:3] == (height, width):
        return dataset
    from PIL import Image

    resized = np.stack([np.asarray(Image.fromarray(image).resize((width, height), Image.Resampling.BILINEAR))
                        for image in dataset.images])
    fingerprint = dataset.fingerprint and f"{dataset.fingerprint}-{height}x{width}"
    return Dataset(resized, dataset.labels, dataset.class_names, fingerprint, dataset.sources)
