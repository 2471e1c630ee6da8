"""``Dataset``, what every loader returns, and the operations on one that do not depend on its format."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..imagerows import ImageRows


@dataclass
class Dataset:
    """images (n_images, height, width, 3) uint8; labels (n_images,) int64 indexing class_names.

    ``fingerprint`` identifies the content (for caches); ``sources`` names each image (a path);
    ``skipped`` lists the unreadable files left out (``{"path", "reason"}``, ``on_error: skip``);
    ``fixed_val`` (n_images,) bool marks a fixed validation split (``data.val_path``, a CSV's
    ``split`` column), None when ``data.val_fraction`` draws one.
    """

    images: ImageRows
    labels: np.ndarray
    class_names: tuple[str, ...]
    fingerprint: str | None = None
    sources: Sequence[str] | None = None
    skipped: list[dict] = field(default_factory=list)
    fixed_val: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.labels)


def resize_dataset(dataset: Dataset, target) -> Dataset:
    """The same dataset brought to ``target`` (a ``shape.Preprocess``, or an image size (height,
    width): squash to RGB), as a decoded file would be; unchanged if nothing differs."""
    from .shape import as_preprocess, fit_array

    spec = as_preprocess(target)
    if dataset.images.shape[1:3] == tuple(spec.size) and spec.color == "rgb":
        return dataset
    images = np.stack([fit_array(dataset.images[i], spec) for i in range(len(dataset.images))])
    height, width = spec.size
    fingerprint = dataset.fingerprint and f"{dataset.fingerprint}-{height}x{width}"
    if fingerprint and spec.describe() != {"resize": "squash", "color": "rgb", "pad_fill": 0}:
        fingerprint += "-{resize}-{color}-{pad_fill}".format(**spec.describe())
    return Dataset(images, dataset.labels, dataset.class_names, fingerprint, dataset.sources, dataset.skipped)


def relabel(dataset: Dataset, class_names, source) -> np.ndarray:
    """``dataset``'s labels as indices into ``class_names`` (a model's classes, which may be more
    or ordered differently); DataError naming ``source`` if it has a class the model lacks."""
    from ..errors import DataError

    unknown = sorted(set(dataset.class_names) - set(class_names))
    if unknown:
        raise DataError(
            f"{source}: classes {', '.join(unknown)} are not among the model's classes ({', '.join(class_names)})"
        )
    to_model = np.array([list(class_names).index(name) for name in dataset.class_names], dtype=np.int64)
    return to_model[dataset.labels]
