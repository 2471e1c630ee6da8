"""Stratified train/validation split: every class is split in the same proportion."""

from __future__ import annotations

import numpy as np

from .. import seeding
from ..errors import DataError

#: A validation split with fewer images of a class than this measures that class poorly.
MIN_VAL_PER_CLASS = 5
#: Classes this many times larger than the smallest make accuracy a poor summary.
MAX_IMBALANCE = 10


def stratified_split(labels: np.ndarray, val_fraction: float, rng: np.random.Generator):
    """labels (n_samples,) int -> (train_rows, val_rows), sorted int64 index arrays.

    Each class contributes round(val_fraction * class size) rows to validation, at least one
    when the fraction is positive and the class has two or more samples, and never all of them:
    a class with a single sample stays in training whatever the fraction.
    """
    train, val = [], []
    for label in np.unique(labels):
        rows = rng.permutation(np.flatnonzero(labels == label))
        n_val = 0
        if val_fraction > 0 and rows.size >= 2:
            n_val = min(max(int(round(val_fraction * rows.size)), 1), rows.size - 1)
        val.append(rows[:n_val])
        train.append(rows[n_val:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))


def holdout_rows(labels: np.ndarray, fraction: float, seed: int):
    """(kept_rows, held_out_rows): ``fraction`` of every class held out, from the seed's ``split``
    stream; nothing is held out when ``fraction`` is 0."""
    if fraction == 0:
        return np.arange(len(labels)), np.empty(0, dtype=np.int64)
    return stratified_split(labels, fraction, seeding.rng(seed, "split"))


def require_two_classes(labels: np.ndarray, class_names, source: str) -> None:
    """A classifier needs images of at least two classes; DataError naming ``source`` otherwise."""
    present = [class_names[i] for i in np.unique(labels)]
    if len(present) < 2:
        found = f"only the class {present[0]!r}" if present else "no images"
        raise DataError(
            f"{source}: {found}; a classifier needs at least two classes "
            f"(for an image folder: one sub-folder per class)"
        )


def balance_warnings(labels: np.ndarray, rows: np.ndarray, val_rows: np.ndarray, class_names) -> list[str]:
    """Warnings about classes too rare in the validation split or too unequal among ``rows``."""
    warnings = []
    counts = np.bincount(labels[rows], minlength=len(class_names))
    present = np.flatnonzero(counts)
    largest, smallest = present[np.argmax(counts[present])], present[np.argmin(counts[present])]
    if counts[largest] > MAX_IMBALANCE * counts[smallest]:
        warnings.append(
            f"classes are imbalanced: {class_names[largest]!r} has {counts[largest]} images, "
            f"{class_names[smallest]!r} {counts[smallest]} (over {MAX_IMBALANCE}x); accuracy "
            f"favours the large classes; to train against it set train.class_weight: balanced "
            f"or train.sampler: balanced"
        )
    if len(val_rows):
        val_counts = np.bincount(labels[val_rows], minlength=len(class_names))
        rare = [f"{class_names[i]} ({val_counts[i]})" for i in np.flatnonzero(val_counts < MIN_VAL_PER_CLASS)]
        if rare:
            warnings.append(
                f"the validation split has fewer than {MIN_VAL_PER_CLASS} images of "
                f"{', '.join(rare)}; their validation scores are noisy"
            )
    return warnings
