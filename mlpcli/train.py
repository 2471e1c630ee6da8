"""The training loop: shuffled minibatches, the learning-rate schedule, validation, early stopping.

X holds every sample's unstandardized features; training and validation are row index arrays into
it, so no split ever copies the data. Each minibatch is gathered into one reused buffer and
standardized there.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from .augment import augment_batch
from .errors import TrainingDiverged
from .nn import LOSSES, SCHEDULES, SGD, Conv2D
from .progress import bar, log

HISTORY_COLUMNS = ("epoch", "lr", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "seconds")
# Rows per evaluation chunk. A convolution's im2col holds ~100 KB per 32x32 image, so
# convolutional networks evaluate in smaller chunks to keep temporaries to a few hundred MB.
EVAL_CHUNK, CONV_EVAL_CHUNK = 4096, 256


@dataclass
class History:
    """One dict per epoch with ``HISTORY_COLUMNS``; ``best_epoch`` is the epoch whose weights were kept."""

    epochs: list[dict] = field(default_factory=list)
    best_epoch: int | None = None
    stopped_early: bool = False


def scores_for(network, X: np.ndarray, rows: np.ndarray, standardizer) -> np.ndarray:
    """Class scores (len(rows), n_classes) for ``X[rows]``, computed in chunks."""
    chunk = CONV_EVAL_CHUNK if any(isinstance(layer, Conv2D) for layer in network.layers) else EVAL_CHUNK
    parts = []
    for start in range(0, len(rows), chunk):
        batch = standardizer.transform(X[rows[start:start + chunk]])
        parts.append(network.forward(batch, training=False))
    if not parts:
        return np.empty((0, 0), dtype=X.dtype)
    return np.concatenate(parts)


def evaluate_rows(network, X, y, rows, standardizer, loss_name: str) -> tuple[float, float]:
    """(mean loss, accuracy) of the network on ``X[rows]``; NaNs when ``rows`` is empty."""
    if len(rows) == 0:
        return float("nan"), float("nan")
    scores = scores_for(network, X, rows, standardizer)
    loss, _ = LOSSES[loss_name](scores, y[rows])
    return loss, float(np.mean(scores.argmax(axis=1) == y[rows]))


class Trainer:
    """Trains ``network`` in place with SGD under the ``train:`` section of the config."""

    def __init__(self, network, standardizer, train_config, loss_name: str, weight_decay: float,
                 shuffle_rng: np.random.Generator, augment_rng: np.random.Generator,
                 image_shape: tuple[int, int, int] | None = None, label: str = "") -> None:
        self.network = network
        self.standardizer = standardizer
        self.config = train_config
        self.loss_name = loss_name
        self.weight_decay = weight_decay
        self.shuffle_rng = shuffle_rng
        self.augment_rng = augment_rng
        self.image_shape = image_shape
        self.label = f"{label} " if label else ""
        self.optimizer = SGD(train_config.momentum, train_config.nesterov)
        self.history = History()

    def fit(self, X: np.ndarray, y: np.ndarray, train_rows: np.ndarray, val_rows: np.ndarray) -> History:
        """X (n_samples, n_features); y (n_samples,) int64. Returns the history; with
        ``train.patience`` the best epoch's weights are restored at the end."""
        config = self.config
        best_accuracy, best_state, waited = -math.inf, None, 0
        for epoch in range(len(self.history.epochs), config.epochs):
            started = time.perf_counter()
            lr = SCHEDULES[config.schedule](config.lr, epoch, config.epochs, config.step_size, config.gamma)
            with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported below, once
                train_loss, train_accuracy = self._epoch(X, y, train_rows, epoch, lr)
            val_loss, val_accuracy = evaluate_rows(self.network, X, y, val_rows, self.standardizer,
                                                   self.loss_name)
            record = {"epoch": epoch + 1, "lr": lr, "train_loss": train_loss, "train_accuracy": train_accuracy,
                      "val_loss": val_loss, "val_accuracy": val_accuracy,
                      "seconds": time.perf_counter() - started}
            self.history.epochs.append(record)
            self._log(record)
            if config.patience is None:
                continue
            if val_accuracy > best_accuracy:
                best_accuracy, waited = val_accuracy, 0
                best_state = {k: v.copy() for k, v in self.network.state_dict().items()}
                self.history.best_epoch = epoch + 1
            else:
                waited += 1
                if waited >= config.patience:
                    self.history.stopped_early = True
                    log.info("%searly stop: no val_accuracy gain for %d epochs; keeping epoch %d",
                             self.label, waited, self.history.best_epoch)
                    break
        if best_state is not None:
            self.network.load_state_dict(best_state)
        else:
            self.history.best_epoch = len(self.history.epochs)
        return self.history

    def _epoch(self, X, y, train_rows, epoch, lr) -> tuple[float, float]:
        """One pass over a fresh permutation of ``train_rows``; returns mean (loss, accuracy)."""
        n = len(train_rows)
        size = n if self.config.batch_size == "full" else min(self.config.batch_size, n)
        buffer = np.empty((size, X.shape[1]), dtype=X.dtype)
        order = train_rows[self.shuffle_rng.permutation(n)]
        total_loss = correct = 0.0
        with bar(n, f"{self.label}epoch {epoch + 1}/{self.config.epochs}", unit="sample") as progress:
            for start in range(0, n, size):
                rows = order[start:start + size]
                loss, hits = self._step(X, y, rows, buffer[:len(rows)], lr)
                if not math.isfinite(loss):
                    raise TrainingDiverged(
                        f"{self.label}training diverged at epoch {epoch + 1} (loss={loss}); "
                        f"lower train.lr (now {self.config.lr:g})")
                total_loss += loss * len(rows)
                correct += hits
                progress.update(len(rows))
        return total_loss / n, correct / n

    def _step(self, X, y, rows, batch, lr) -> tuple[float, int]:
        """Forward, backward and update on one minibatch; returns (data loss, number correct).

        The L2 penalty is left out of the returned loss so it compares with the validation loss.
        """
        np.take(X, rows, axis=0, out=batch, mode="clip")  # "clip": unbuffered; rows are valid
        self.standardizer.transform(batch, out=batch)
        augment = self.config.augment
        if self.image_shape is not None and (augment.flip or augment.crop_padding):
            batch = augment_batch(batch, self.image_shape, augment.flip, augment.crop_padding, self.augment_rng)
        labels = y[rows]
        scores = self.network.forward(batch, training=True)
        loss, dscores = LOSSES[self.loss_name](scores, labels)
        hits = int(np.count_nonzero(scores.argmax(axis=1) == labels))
        self.network.backward(dscores)
        self.network.l2_penalty(self.weight_decay)
        self.optimizer.step(self.network, lr)
        return loss, hits

    def _log(self, record: dict) -> None:
        log.info("%sepoch %d/%d  lr %.4g  loss %.4f  acc %.4f  val_loss %.4f  val_acc %.4f  (%.1fs)",
                 self.label, record["epoch"], self.config.epochs, record["lr"], record["train_loss"],
                 record["train_accuracy"], record["val_loss"], record["val_accuracy"], record["seconds"])
