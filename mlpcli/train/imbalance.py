"""Training against class imbalance: per-class loss weights (``train.class_weight``) and the
class-balanced epoch order (``train.sampler: balanced``).

Both are computed from the training rows only, so a fold's or a split's validation rows never
shape how it trains.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError


def class_weights(setting, train_labels: np.ndarray, class_names) -> np.ndarray | None:
    """The weight of each class (n_classes,) float64 for ``train.class_weight``; None for ``none``.

    ``balanced``: n / (k * n_c), n training rows, k classes present among them, n_c rows of class c
    (scikit-learn's and Keras's formula: every class then carries the same total weight); a class
    without training rows gets 0, as no row of it is ever weighted. A mapping gives the named
    classes their weight and keeps 1 for the others. ConfigError for an unknown class name or when
    every training row would weigh 0.
    """
    if setting == "none":
        return None
    counts = np.bincount(train_labels, minlength=len(class_names))
    if setting == "balanced":
        present = counts > 0
        weights = np.zeros(len(class_names))
        weights[present] = len(train_labels) / (np.count_nonzero(present) * counts[present])
        return weights
    check_class_weight(setting, class_names)
    weights = np.ones(len(class_names))
    for name, weight in setting.items():
        weights[list(class_names).index(name)] = weight
    if not np.any(weights[counts > 0]):
        raise ConfigError(
            "train.class_weight: every class of the training rows has weight 0, so nothing "
            "would be learned; give at least one class a positive weight"
        )
    return weights


def check_class_weight(setting, class_names) -> None:
    """ConfigError naming ``train.class_weight.<name>`` for a class the data does not have: checked
    once the class names are known, before any training starts."""
    if isinstance(setting, dict):
        for name in setting:
            if name not in class_names:
                raise ConfigError(
                    f"train.class_weight.{name}: no class {name!r} in the data; classes: {', '.join(class_names)}"
                )


def epoch_order(sampler: str, train_rows: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The rows of one epoch, (len(train_rows),) int64, drawn from the shuffle generator ``rng``.

    ``shuffle``: a permutation of ``train_rows``. ``balanced``: as many rows drawn with replacement,
    a class chosen uniformly among the classes present, then a row uniformly within it, so a row of
    class c is drawn with probability 1 / (k * n_c). Integer draws only: no floating-point
    cumulative sums whose rounding could differ between machines.
    """
    if sampler == "shuffle":
        return train_rows[rng.permutation(len(train_rows))]
    classes, inverse, counts = np.unique(labels[train_rows], return_inverse=True, return_counts=True)
    by_class = train_rows[np.argsort(inverse, kind="stable")]  # rows grouped by class, in row order
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    drawn = rng.integers(len(classes), size=len(train_rows))
    within = rng.integers(0, counts[drawn])
    return by_class[starts[drawn] + within]
