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
    shifted = scores - scores.max(axis=1, keepdims=True)
    np.exp(shifted, out=shifted)
    shifted /= shifted.sum(axis=1, keepdims=True)
    return shifted


def softmax_cross_entropy(scores: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean over samples of -log p[label], with p = softmax(scores).

    Fused with the softmax because the gradient then simplifies to (p - onehot) / n_samples:
    the softmax Jacobian times the cross-entropy gradient collapses to that difference.
    """
    n = scores.shape[0]
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(shifted).sum(axis=1))
    rows = np.arange(n)
    # log p[label] = shifted[label] - log sum exp(shifted): finite even for logits of 1e4.
    loss = float(np.mean(log_norm - shifted[rows, labels]))
    dscores = np.exp(shifted - log_norm[:, None])
    dscores[rows, labels] -= 1
    dscores /= n
    return loss, dscores


def squared_error(scores: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean over samples of 0.5 * ||scores - onehot(label)||^2 (the lecture's squared loss)."""
    n = scores.shape[0]
    diff = scores.copy()
    diff[np.arange(n), labels] -= 1
    loss = float(0.5 * np.sum(diff * diff) / n)
    diff /= n
    return loss, diff


LOSSES = {"softmax": softmax_cross_entropy, "squared": squared_error}
