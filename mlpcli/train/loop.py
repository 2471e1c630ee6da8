"""The training loop: shuffled minibatches, the learning-rate schedule, validation, early stopping.

X holds every sample's unstandardized features; training and validation are row index arrays into
it, so no split ever copies the data. Each minibatch is gathered into one reused buffer and
standardized there.
"""

from __future__ import annotations

import math
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ArtifactError, Interrupted, TrainingDiverged
from ..metrics import accuracy
from ..nn import LOSSES, SCHEDULES, BatchNorm, with_warmup
from ..predictor import network_scores
from ..progress import bar, log
from .augment import augment_rows
from .batches import gather, standardize
from .checkpoint import TrainState, load_checkpoint, save_checkpoint
from .copies import pick_versions
from .ema import WeightAverage
from .imbalance import epoch_order
from .objective import Objective, draw_mixing
from .recipe import batch_bounds, build_optimizer, seed_dropout
from .tta import flip_scores


@dataclass
class History:
    """One dict per epoch (epoch, lr, train and val loss and accuracy, seconds); ``best_epoch`` is
    the epoch whose weights were kept."""

    epochs: list[dict] = field(default_factory=list)
    best_epoch: int | None = None
    stopped_early: bool = False


def evaluate_rows(
    network, X, y, rows, standardizer, loss_name: str, mirrored: np.ndarray | None = None
) -> tuple[float, float, np.ndarray]:
    """(mean loss, accuracy, predicted classes (n_rows,) int64) of the network on ``X[rows]``;
    NaNs and no predictions when ``rows`` is empty. ``mirrored`` (len(rows), n_features), the
    mirrored images' features, scores each row as the mean of the two passes (``train.tta``)."""
    if len(rows) == 0:
        return float("nan"), float("nan"), np.empty(0, np.int64)
    scores = network_scores(network, X, rows, standardizer)
    if mirrored is not None:
        scores = flip_scores(scores, network_scores(network, mirrored, None, standardizer), loss_name)
    loss, _ = LOSSES[loss_name](scores, y[rows])
    predicted = scores.argmax(axis=1)
    return loss, accuracy(y[rows], predicted), predicted


class Trainer:
    """Trains ``network`` in place under the ``train:`` section of the config.

    ``model_config`` supplies the loss, label smoothing and weight decay; ``rngs`` the
    ``shuffle``, ``augment`` and ``dropout`` generators from the run's seed tree. ``train.augment``
    reaches the rows one of two ways: ``image_shape`` (height, width, 3) says the rows are raw
    pixels, augmented in each minibatch before standardization; ``n_copies`` says X stacks that
    many augmented copies under the plain rows (``train.augment.copies``, see ``train.copies``),
    one version drawn per row. Mixup draws from ``augment``; ``class_weights`` (n_classes,) weighs
    each row's loss by its class.
    With ``train.ema`` the weights' moving average (``ema``) is what validation, early stopping
    and the end of ``fit`` see; ``val_mirror``, if set, holds the mirrored validation rows'
    features (``train.tta``).
    """

    def __init__(
        self,
        network,
        standardizer,
        train_config,
        model_config,
        rngs: dict,
        image_shape: tuple[int, int, int] | None = None,
        label: str = "",
        n_copies: int = 0,
        class_weights: np.ndarray | None = None,
    ) -> None:
        self.network = network
        self.standardizer = standardizer
        self.config = train_config
        self.loss_name = model_config.loss
        self.class_weights = class_weights
        self.train_loss = Objective(model_config, class_weights)
        self.plain_loss = Objective(model_config) if class_weights is not None else self.train_loss
        self.rngs = rngs
        self.shuffle_rng, self.augment_rng = rngs["shuffle"], rngs["augment"]
        seed_dropout(network, rngs["dropout"])
        self.merge_single = any(isinstance(layer, BatchNorm) for layer in network.layers)
        self.image_shape, self.n_copies = image_shape, n_copies
        self.label = f"{label} " if label else ""
        self.schedule = with_warmup(SCHEDULES[train_config.schedule], train_config.warmup_epochs)
        # The optimizer adds weight_decay * W while it updates: one pass over the weights, not two.
        self.optimizer = build_optimizer(train_config, model_config.weight_decay)
        self.average = WeightAverage(network, train_config.ema) if train_config.ema else None
        self.val_mirror: np.ndarray | None = None

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        train_rows: np.ndarray,
        val_rows: np.ndarray,
        checkpoint: Path | None = None,
        stop=None,
    ) -> History:
        """X (n_samples, n_features); y (n_samples,) int64. Returns the history; with
        ``train.patience`` the best epoch's weights are restored at the end.

        With ``checkpoint``, training continues from that file if it exists and saves it after
        every epoch. When ``stop`` (a StopFlag) is set, the current minibatch finishes, the
        checkpoint is saved and ``Interrupted`` is raised.
        """
        state = self._resume(checkpoint) if checkpoint is not None and checkpoint.exists() else TrainState()
        while state.epoch < self.config.epochs and not state.stopped_early:
            if stop is not None and stop.is_set():
                self._interrupt(state, checkpoint, len(train_rows), stop)
            if state.order is None:
                sampler = self.config.sampler if self._rebalanced(state.epoch) else "shuffle"
                state.order = epoch_order(sampler, train_rows, y, self.shuffle_rng)
            started = time.perf_counter()
            with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported once, below
                finished = self._epoch(X, y, state, stop)
            if not finished:
                self._interrupt(state, checkpoint, len(train_rows), stop)
            self._end_epoch(state, X, y, val_rows, time.perf_counter() - started)
            if checkpoint is not None:
                self._save(checkpoint, state)
        final = state.best_state or (self.average.average if self.average is not None else None)
        if final is not None:
            self.network.load_state_dict(final)
        return History(state.history, state.best_epoch or len(state.history), state.stopped_early)

    def _rebalanced(self, epoch: int) -> bool:
        """Whether ``train.class_weight`` and ``train.sampler`` apply in ``epoch`` (0-based)."""
        return epoch >= self.config.rebalance_after

    def _lr(self, epoch: int) -> float:
        config = self.config
        return self.schedule(config.lr, epoch, config.epochs, config.step_size, config.gamma)

    def _end_epoch(self, state: TrainState, X, y, val_rows, seconds: float) -> None:
        """Validate, record the epoch and update early stopping; the next epoch starts fresh."""
        n = len(state.epoch_order())
        # Each step checks its loss before updating, so only the weights show a bad last update.
        if not all(np.isfinite(w).all() for w in self.network.state_dict().values()):
            raise TrainingDiverged(
                f"{self.label}training diverged at epoch {state.epoch + 1} (weights "
                f"became non-finite); lower train.lr (now {self.config.lr:g})",
                state.epoch + 1,
            )
        validated = self._validates(state.epoch)
        val_loss = val_accuracy = float("nan")
        if validated:
            with self._averaged() as network:
                val_loss, val_accuracy, _ = evaluate_rows(
                    network, X, y, val_rows, self.standardizer, self.loss_name, self.val_mirror
                )
        record = {
            "epoch": state.epoch + 1,
            "lr": self._lr(state.epoch),
            "train_loss": state.partial[0] / n,
            "train_accuracy": state.partial[1] / n,
            "val_loss": val_loss,
            "val_accuracy": val_accuracy,
            "seconds": seconds,
        }
        state.history.append(record)
        self._log(record)
        state.epoch += 1
        state.order, state.position, state.partial = None, 0, (0.0, 0.0)
        if self.config.patience is not None and validated:
            self._early_stopping(state, val_accuracy)

    def _validates(self, epoch: int) -> bool:
        """Whether ``epoch`` (0-based) ends with a validation: every ``train.val_every``-th and the last."""
        return (epoch + 1) % self.config.val_every == 0 or epoch + 1 == self.config.epochs

    def _early_stopping(self, state: TrainState, val_accuracy: float) -> None:
        """Keep the best weights so far (the average's with ``train.ema``); stop after ``patience``
        validations (epochs, with ``train.val_every`` 1) without a gain in validation accuracy."""
        if val_accuracy > state.best_accuracy:
            state.best_accuracy, state.best_epoch, state.waited = val_accuracy, state.epoch, 0
            kept = self.average.average if self.average is not None else self.network.state_dict()
            state.best_state = {k: v.copy() for k, v in kept.items()}
            return
        state.waited += 1
        if state.waited >= self.config.patience:
            state.stopped_early = True
            unit = "epochs" if self.config.val_every == 1 else "validations"
            message = "%searly stop: no val_accuracy gain for %d %s; keeping epoch %d"
            log.info(message, self.label, state.waited, unit, state.best_epoch)

    def _epoch(self, X, y, state: TrainState, stop) -> bool:
        """Train on ``state.order`` from ``state.position`` on; False if stopped part-way."""
        order = state.epoch_order()
        n = len(order)
        size = n if self.config.batch_size == "full" else min(self.config.batch_size, n)
        bounds = [b for b in batch_bounds(n, size, self.merge_single) if b[0] >= state.position]
        buffer = np.empty((size + self.merge_single, X.shape[1]), dtype=X.dtype)
        lr = self._lr(state.epoch)
        objective = self.train_loss if self._rebalanced(state.epoch) else self.plain_loss
        total_loss, correct = state.partial
        with bar(n, f"{self.label}epoch {state.epoch + 1}/{self.config.epochs}", unit="sample") as progress:
            progress.update(state.position)
            for start, end in bounds:
                rows = order[start:end]
                loss, hits = self._step(X, y, rows, buffer[: len(rows)], lr, objective)
                if not math.isfinite(loss):
                    raise TrainingDiverged(
                        f"{self.label}training diverged at epoch {state.epoch + 1} (loss={loss}); "
                        f"lower train.lr (now {self.config.lr:g})",
                        state.epoch + 1,
                    )
                total_loss += loss * len(rows)
                correct += hits
                state.position, state.partial = start + len(rows), (total_loss, correct)
                progress.update(len(rows))
                if stop is not None and stop.is_set() and state.position < n:
                    return False
        return True

    def _averaged(self):
        """The network with the weights to judge: their moving average with ``train.ema``."""
        return self.average.applied(self.network) if self.average is not None else nullcontext(self.network)

    def _interrupt(self, state: TrainState, checkpoint: Path | None, n: int, stop) -> None:
        where = f"epoch {state.epoch + 1}, sample {state.position}/{n}"
        if checkpoint is None:
            raise Interrupted(f"{self.label}stopped by {stop.signal_name} at {where}")
        self._save(checkpoint, state)
        raise Interrupted(f"{self.label}stopped by {stop.signal_name} at {where}; checkpoint saved")

    def _save(self, path: Path, state: TrainState) -> None:
        state.rng_states = {name: rng.bit_generator.state for name, rng in self.rngs.items()}
        save_checkpoint(
            path,
            state,
            self.network.state_dict(),
            self.optimizer.state_dict(),
            self.average.state_dict() if self.average is not None else None,
        )

    def _resume(self, path: Path) -> TrainState:
        state, weights, velocities, averaged = load_checkpoint(path)
        try:
            self.network.load_state_dict(weights)
            self.optimizer.load_state_dict(velocities)
            if self.average is not None:
                self.average.load_state_dict(averaged)
        except ValueError as exc:
            raise ArtifactError(f"{path}: checkpoint does not match this network and optimizer ({exc})") from None
        for name, rng_state in state.rng_states.items():
            if name in self.rngs:
                self.rngs[name].bit_generator.state = rng_state
        log.info("%sresuming at epoch %d, sample %d", self.label, state.epoch + 1, state.position)
        return state

    def _step(self, X, y, rows, batch, lr, objective=None) -> tuple[float, int]:
        """Forward, backward and update on one minibatch; returns (data loss, number correct).

        ``objective`` is the loss to minimize: ``train_loss`` by default, ``plain_loss`` in the
        epochs before ``train.rebalance_after``. The L2 penalty is left out of the returned loss
        so it compares with the validation loss (with label smoothing, class weights or mixup it
        is the loss that training minimizes; with mixup a hit is the class with the larger share
        of the blend).
        """
        batch = self._inputs(X, len(y), rows, batch)
        labels = y[rows]
        # Mixup blends the rows as the network sees them: after augmentation and standardization.
        mixing = draw_mixing(len(rows), self.config.mixup, self.augment_rng)
        if mixing is not None:
            batch = mixing.blend(batch)
        scores = self.network.forward(batch, training=True)
        loss, dscores = (objective or self.train_loss)(scores, labels, mixing)
        counted = labels if mixing is None else mixing.majority(labels)
        hits = int(np.count_nonzero(scores.argmax(axis=1) == counted))
        self.network.backward(dscores)
        self.optimizer.step(self.network, lr)
        if self.average is not None:
            self.average.update(self.network)
        return loss, hits

    def _inputs(self, X, n_samples: int, rows, batch) -> np.ndarray:
        """The standardized network input of the minibatch ``rows``, augmented as configured."""
        if self.n_copies:
            return gather(X, pick_versions(rows, n_samples, self.n_copies, self.augment_rng), batch, self.standardizer)
        if self.image_shape is None:
            return gather(X, rows, batch, self.standardizer)
        # Pixels are augmented before standardization: a crop's padding is black, a jitter
        # scales light, whatever the training set's mean.
        gather(X, rows, batch, None)
        batch[:] = augment_rows(batch, self.image_shape, self.config.augment, self.augment_rng)
        return standardize(batch, self.standardizer)

    def _log(self, record: dict) -> None:
        validation = f"  val_loss {record['val_loss']:.4f}  val_acc {record['val_accuracy']:.4f}"
        log.info(
            "%sepoch %d/%d  lr %.4g  loss %.4f  acc %.4f%s  (%.1fs)",
            self.label,
            record["epoch"],
            self.config.epochs,
            record["lr"],
            record["train_loss"],
            record["train_accuracy"],
            validation if math.isfinite(record["val_accuracy"]) else "",
            record["seconds"],
        )
