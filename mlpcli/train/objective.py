"""The loss a training step minimizes: ``model.loss`` with label smoothing, class weights
(``train.class_weight``) and mixup's soft targets (``train.mixup``).

Without class weights and mixup it is exactly ``recipe.training_loss``, the same bytes as before
either existed; with them, the soft-target losses of ``nn.losses`` (gradient p - q, reduced by the
batch's summed weight).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..nn import SOFT_LOSSES, smoothed_targets
from .recipe import training_loss


@dataclass(frozen=True)
class Mixing:
    """One minibatch's mixup draw: row i becomes lam * row i + (1 - lam) * row partner[i]."""

    lam: float
    partner: np.ndarray  # (n_samples,) int64, a permutation of the batch

    def blend(self, values: np.ndarray) -> np.ndarray:
        """lam * values + (1 - lam) * values[partner], along the first axis; a new array."""
        return values * values.dtype.type(self.lam) + values[self.partner] * values.dtype.type(1 - self.lam)

    def majority(self, labels: np.ndarray) -> np.ndarray:
        """The label with the larger share in each blended row, for the training accuracy."""
        return labels if self.lam >= 0.5 else labels[self.partner]


def draw_mixing(n: int, alpha: float, rng: np.random.Generator) -> Mixing | None:
    """Mixup (Zhang et al., 2018) for a batch of ``n`` rows: one lam ~ Beta(alpha, alpha) and a
    random partner for each row; None (and nothing drawn from ``rng``) when ``alpha`` is 0, so a
    run without mixup is the same bytes as one from before mixup existed."""
    if not alpha:
        return None
    lam = float(rng.beta(alpha, alpha))
    return Mixing(lam, rng.permutation(n))


class Objective:
    """``(scores, labels, mixing=None) -> (loss, dscores)``: the training loss of one minibatch.

    scores (n_samples, n_classes); labels (n_samples,) int64; ``class_weights`` (n_classes,) or
    None. With weights or mixing the targets are the smoothed one-hots (blended by ``mixing``)
    and each row weighs its class's weight (blended alike: a mixed row counts as much as its
    share of each class); the loss is the weighted mean, dscores = w_i (p_i - q_i) / sum w.
    Called with two arguments it is a plain loss function, as ``nn.gradcheck`` expects.
    """

    def __init__(self, model_config, class_weights: np.ndarray | None = None) -> None:
        self.plain = training_loss(model_config)
        self.soft = SOFT_LOSSES[model_config.loss]
        self.smoothing = model_config.label_smoothing
        self.class_weights = class_weights

    def __call__(self, scores: np.ndarray, labels: np.ndarray, mixing: Mixing | None = None):
        if self.class_weights is None and mixing is None:
            return self.plain(scores, labels)
        targets = smoothed_targets(labels, scores.shape[1], self.smoothing, scores.dtype)
        weights = None if self.class_weights is None else self.class_weights[labels]
        if mixing is not None:
            targets = mixing.blend(targets)
            weights = None if weights is None else mixing.blend(weights)
        return self.soft(scores, targets, weights)
