"""``Dataset``, what every loader returns, and the operations on one that do not depend on its format."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


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
