"""Test-time flips while training (``train.tta: flip``): validation scored as predict would score it.

Each validation image is scored as the mean of its and its left-right mirror's probabilities. The
mirrored images' features are extracted once per run (one more extraction of the validation rows,
in any mode: the mirror is taken of the decoded image, then features as usual), then every epoch
scores them beside the ordinary rows.
"""

from __future__ import annotations

import numpy as np

from ..features.pipeline import extract_features
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
    ``prepared``; None when ``prepared`` holds no images (a k-fold unit gets X only), so the
    validation there is scored without flips (the log says so)."""
    images = prepared.dataset.images
    if len(rows) == 0:
        return None
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
