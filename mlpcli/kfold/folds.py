"""k-fold cross-validation's splits: stratified folds and fold summaries (grids are parsed in config).

Each sample is validated exactly once; the mean validation accuracy over folds estimates the
configuration's accuracy, and the out-of-fold predictions give one more estimate over all samples.
The final model is the best fold, or all folds as an ensemble that averages their probabilities.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError


def stratified_folds(labels: np.ndarray, k: int, rng: np.random.Generator, class_names=None) -> list[np.ndarray]:
    """labels (n_samples,) -> k sorted arrays of validation rows that partition all rows.

    Each class's rows are shuffled and dealt to the folds in turn, continuing where the previous
    class stopped, so every class's count differs by at most one between folds and so do the
    fold sizes. A class with fewer than k samples cannot be in every fold: that is an error.
    """
    counts = np.bincount(labels)
    present = np.flatnonzero(counts)
    smallest = present[np.argmin(counts[present])]
    if counts[smallest] < k:
        name = class_names[smallest] if class_names is not None else str(smallest)
        raise ConfigError(
            f"kfold.k: {k} folds need at least {k} samples per class, but class {name!r} "
            f"has {counts[smallest]}; lower --k or add samples"
        )
    assignment = np.empty(len(labels), dtype=np.int64)
    start = 0
    for label in present:
        rows = rng.permutation(np.flatnonzero(labels == label))
        assignment[rows] = (start + np.arange(rows.size)) % k
        start = (start + rows.size) % k
    return [np.flatnonzero(assignment == fold) for fold in range(k)]


def summarize(fold_accuracies, fold_losses) -> dict:
    accuracies = np.asarray(fold_accuracies, dtype=np.float64)
    return {
        "fold_accuracies": accuracies.tolist(),
        "fold_losses": [float(v) for v in fold_losses],
        "mean_accuracy": float(accuracies.mean()),
        "std_accuracy": float(accuracies.std()),
        "best_fold": int(np.argmax(accuracies)) + 1,
    }
