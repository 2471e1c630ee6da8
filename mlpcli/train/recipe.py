"""What the config asks the training loop to use: the optimizer, the training loss, dropout's
generator and the minibatch boundaries. Shared by the Trainer and ``mlpcli gradcheck``, so the
gradient checked is the one training follows.
"""

from __future__ import annotations

import numpy as np

from ..nn import LOSSES, OPTIMIZERS, SGD, Dropout, softmax_cross_entropy


def build_optimizer(train_config, weight_decay: float):
    """The ``train.optimizer`` with its settings; it owns the weight decay (see ``nn.optim``)."""
    if train_config.optimizer == "sgd":
        return SGD(train_config.momentum, train_config.nesterov, weight_decay)
    return OPTIMIZERS[train_config.optimizer](tuple(train_config.betas), train_config.eps, weight_decay)


def training_loss(model_config):
    """The loss minimized while training: the configured one, with ``model.label_smoothing``.

    Validation and the run's metrics use the plain loss (``LOSSES[model.loss]``), so val_loss
    stays a cross-entropy comparable across runs whatever the smoothing.
    """
    if model_config.label_smoothing:
        smoothing = model_config.label_smoothing
        return lambda scores, labels: softmax_cross_entropy(scores, labels, smoothing)
    return LOSSES[model_config.loss]


def seed_dropout(network, rng: np.random.Generator) -> None:
    """Give every Dropout layer ``rng``: one generator, drawn in layer order, so its state alone
    says which masks come next."""
    for layer in network.layers:
        if isinstance(layer, Dropout):
            layer.rng = rng


def batch_bounds(n: int, size: int, merge_single: bool) -> list[tuple[int, int]]:
    """(start, stop) of each minibatch of an epoch of ``n`` samples cut into ``size``-sample batches.

    With ``merge_single`` a last batch of one sample joins the batch before it (one batch of
    size + 1): BatchNorm cannot take the statistics of one sample per feature, and dropping it
    would leave that sample out of the epoch.
    """
    starts = list(range(0, n, size))
    if merge_single and len(starts) > 1 and n - starts[-1] == 1:
        starts.pop()
    return [(start, stops) for start, stops in zip(starts, [*starts[1:], n])]
