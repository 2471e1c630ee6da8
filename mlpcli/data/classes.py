"""``data.classes``: an explicit class order, or a subset of the classes a data set holds."""

from __future__ import annotations

import numpy as np

from ..errors import DataError
from .dataset import Dataset


def select_classes(labels: np.ndarray, class_names, classes, source: str):
    """labels (n,) int64 indexing class_names -> (keep (n,) bool, labels (n_kept,) indexing the
    new class names, the new class names): ``classes`` in their order, other classes' rows
    dropped; everything unchanged when ``classes`` is None. DataError naming ``source`` for a
    listed class the data does not have."""
    if classes is None:
        return np.ones(len(labels), dtype=bool), labels, tuple(class_names)
    classes = class_order(class_names, classes, source)
    new_index = np.full(len(class_names), -1, dtype=np.int64)
    for index, name in enumerate(classes):
        new_index[list(class_names).index(name)] = index
    mapped = new_index[labels]
    keep = mapped >= 0
    return keep, mapped[keep], tuple(classes)


def class_order(present, classes, source: str) -> tuple[str, ...]:
    """The classes a data set is read with: ``classes`` (``data.classes``) if given, after
    checking that each is ``present``; else the present ones, sorted."""
    if classes is None:
        return tuple(sorted(present))
    absent = [name for name in classes if name not in present]
    if absent:
        raise DataError(
            f"{source}: data.classes lists {', '.join(map(repr, absent))}, which the data does not "
            f"have (it has {', '.join(sorted(present))}); fix the names in data.classes or add "
            f"the images"
        )
    return tuple(classes)


def select_dataset_classes(dataset: Dataset, classes, source: str) -> Dataset:
    """``dataset`` with only ``classes``, in that order (None: unchanged)."""
    if classes is None:
        return dataset
    keep, labels, names = select_classes(dataset.labels, dataset.class_names, classes, source)
    sources = dataset.sources and [s for s, k in zip(dataset.sources, keep) if k]
    fingerprint = dataset.fingerprint and f"{dataset.fingerprint}-{'/'.join(names)}"
    return Dataset(dataset.images[keep], labels, names, fingerprint, sources, dataset.skipped)
