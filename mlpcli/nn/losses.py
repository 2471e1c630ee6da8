"""Losses: each is ``loss_fn(scores, labels) -> (loss, dscores)``.

scores (n_samples, n_classes) float; labels (n_samples,) int class indices.
``loss`` is a Python float; ``dscores`` has the shape and dtype of ``scores``.
Both losses reduce by the mean over samples, so the learning rate does not depend on batch size.
"""

from __future__ import annotations

import numpy as np


def softmax(scores: np.ndarray) -> np.ndarray:
    """Row-wise softmax (n_samples, n_classes) -> probabilities of the same shape and dtype."""
    # Shifting by the row max changes nothing mathematically and keeps exp() from overflowing.
    shifted = scores - _per_row(np.max, scores)[:, None]
    np.exp(shifted, out=shifted)
    shifted /= _per_row(np.sum, shifted)[:, None]
    return shifted


def softmax_cross_entropy(
    scores: np.ndarray, labels: np.ndarray, label_smoothing: float = 0.0
) -> tuple[float, np.ndarray]:
    """Mean over samples of -sum_k q[k] log p[k], with p = softmax(scores) and the target q the
    one-hot label; with ``label_smoothing`` e, q = (1 - e) onehot + e / n_classes (Szegedy et
    al., 2016), so the loss no longer rewards ever more confident scores.

    Fused with the softmax because the gradient then simplifies to (p - q) / n_samples:
    the softmax Jacobian times the cross-entropy gradient collapses to that difference.
    """
    if not 0 <= label_smoothing < 1:
        raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
    n = scores.shape[0]
    shifted = scores - _per_row(np.max, scores)[:, None]
    dscores = np.exp(shifted)
    sums = _per_row(np.sum, dscores)
    rows = np.arange(n)
    # log p[k] = shifted[k] - log sum exp(shifted): finite even for logits of 1e4.
    log_sums = np.log(sums)
    if label_smoothing:
        uniform = label_smoothing / scores.shape[1]
        loss = float(
            np.mean(log_sums - (1 - label_smoothing) * shifted[rows, labels] - uniform * _per_row(np.sum, shifted))
        )
    else:
        loss = float(np.mean(log_sums - shifted[rows, labels]))
    sums *= n
    dscores /= sums[:, None]  # p / n: one exp, and the mean's 1/n folded into the normalization
    if label_smoothing:
        dscores -= uniform / n
    dscores[rows, labels] -= (1 - label_smoothing) / n
    return loss, dscores


def _per_row(reduce, scores: np.ndarray) -> np.ndarray:
    """``reduce`` over the classes of each row -> (n_samples,).

    Reduced on a transposed copy: along axis 0 the reduction runs over contiguous rows of
    n_samples values, several times faster than axis=1 over rows of a few classes.
    """
    return reduce(np.ascontiguousarray(scores.T), axis=0)


def squared_error(scores: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean over samples of 0.5 * ||scores - onehot(label)||^2 (the lecture's squared loss)."""
    n = scores.shape[0]
    diff = scores.copy()
    diff[np.arange(n), labels] -= 1
    loss = float(0.5 * np.sum(diff * diff) / n)
    diff /= n
    return loss, diff


def soft_cross_entropy(
    scores: np.ndarray, targets: np.ndarray, weights: np.ndarray | None = None
) -> tuple[float, np.ndarray]:
    """Weighted mean over samples of -sum_k q[k] log p[k], p = softmax(scores), for soft targets.

    targets (n_samples, n_classes), each row summing to 1 (mixup's blends, smoothed one-hots);
    weights (n_samples,) >= 0 or None (all 1). The reduction is sum_i w_i loss_i / sum_i w_i, so
    a weighted batch keeps the learning rate's meaning; dscores = w_i (p_i - q_i) / sum_i w_i,
    the fused softmax Jacobian again collapsing to p - q. A batch of summed weight 0 has loss 0
    and no gradient.
    """
    shifted = scores - _per_row(np.max, scores)[:, None]
    probabilities = np.exp(shifted)
    sums = _per_row(np.sum, probabilities)
    # log p = shifted - log sum exp(shifted), per row; targets sum to 1, hence the single log term.
    row_losses = np.log(sums) - _per_row(np.sum, targets * shifted)
    probabilities /= sums[:, None]
    return _weighted_mean(row_losses, probabilities - targets, weights)


def soft_squared_error(
    scores: np.ndarray, targets: np.ndarray, weights: np.ndarray | None = None
) -> tuple[float, np.ndarray]:
    """Weighted mean over samples of 0.5 * ||scores - targets||^2; targets, weights and the
    reduction as in ``soft_cross_entropy``."""
    diff = scores - targets
    return _weighted_mean(0.5 * _per_row(np.sum, diff * diff), diff, weights)


def _weighted_mean(row_losses: np.ndarray, drows: np.ndarray, weights) -> tuple[float, np.ndarray]:
    """(sum_i w_i row_losses_i / W, w_i drows_i / W) with W = sum_i w_i; plain means for None."""
    if weights is None:
        weights = np.ones(len(row_losses), dtype=drows.dtype)
    total = float(np.sum(weights, dtype=np.float64))
    if total == 0:
        return 0.0, np.zeros_like(drows)
    scale = (weights / total).astype(drows.dtype, copy=False)
    drows *= scale[:, None]
    return float(np.dot(row_losses.astype(np.float64), scale.astype(np.float64))), drows


def smoothed_targets(labels: np.ndarray, n_classes: int, smoothing: float, dtype) -> np.ndarray:
    """labels (n_samples,) int -> targets (n_samples, n_classes): (1 - e) one-hot + e / n_classes."""
    targets = np.full((len(labels), n_classes), smoothing / n_classes, dtype=dtype)
    targets[np.arange(len(labels)), labels] += 1 - smoothing
    return targets


LOSSES = {"softmax": softmax_cross_entropy, "squared": squared_error}
#: The same losses on soft targets (n_samples, n_classes) with per-sample weights.
SOFT_LOSSES = {"softmax": soft_cross_entropy, "squared": soft_squared_error}
