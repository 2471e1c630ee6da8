"""Test-time flips while training (``train.tta: flip``): validation scored as predict would score it.

Each validation image is scored as the mean of its and its left-right mirror's probabilities. The
mirrored images' features are extracted once per run (one more extraction of the validation rows,
in any mode: the mirror is taken of the decoded image, then features as usual), then every epoch
scores them beside the ordinary rows.
"""

from __future__ import annotations

import numpy as np

from ..data import Dataset
from ..features.pipeline import cached_features, extract_features
from ..nn import softmax
from ..predictor import Mirrored
from ..progress import log


class _Rows:
    """``images[rows]`` read slice by slice (``extract_features`` slices its input)."""

    def __init__(self, images, rows: np.ndarray) -> None:
        self.images, self.rows = images, rows
        self.shape = (len(rows), *images.shape[1:])
        self.ndim = len(self.shape)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index) -> np.ndarray:
        return np.asarray(self.images[self.rows[index]])


def mirrored_features(prepared, rows: np.ndarray, dtype, label: str = "") -> np.ndarray | None:
    """Unstandardized features (len(rows), n_features) of the mirrored images ``rows`` of
    ``prepared``: rows of ``prepared.mirrored`` when k-fold made it (``mirrored_matrix``; a unit
    gets X and that matrix, not the images), else extracted here; None when ``prepared`` holds
    neither, so the validation there is scored without flips (the log says so)."""
    images = prepared.dataset.images
    if len(rows) == 0:
        return None
    if prepared.mirrored is not None:
        return np.asarray(prepared.mirrored[rows])
    if len(images) == 0:
        log.info("%stta: no images here, so validation is scored without flips", label)
        return None
    return extract_features(
        Mirrored(_Rows(images, rows)), prepared.features, dtype, progress=False, states=prepared.states
    )


def flip_scores(scores: np.ndarray, mirrored: np.ndarray, loss_name: str) -> np.ndarray:
    """Scores (n_samples, n_classes) whose reading is the two passes' mean: for softmax the log of
    the mean probabilities (so the loss is the cross-entropy of what predict reports), for the
    squared loss the mean of the scores (its targets are the scores themselves)."""
    if loss_name == "squared":
        return (scores + mirrored) / 2
    with np.errstate(divide="ignore"):
        return np.log((softmax(scores) + softmax(mirrored)) / 2)


def mirrored_matrix(prepared, dtype, cache_dir: str | None, mapper=None) -> np.ndarray:
    """Unstandardized features (n_samples, n_features) of every mirrored image of ``prepared``,
    row for row beside ``prepared.X``: k-fold validates every row once, so its folds' flips cost
    one extraction of the whole set, cached on disk and memory-mapped as X is (``cached_features``;
    its key is the data's fingerprint marked as mirrored). ``mapper``: on a cluster's workers."""
    dataset = prepared.dataset
    fingerprint = None if dataset.fingerprint is None else f"{dataset.fingerprint}:mirrored"
    mirrored = Dataset(Mirrored(dataset.images), dataset.labels, dataset.class_names, fingerprint)
    log.info("tta: features of the mirrored images, for the folds' validation")
    return cached_features(mirrored, prepared.features, dtype, cache_dir, prepared.states, mapper)
