"""The learning-rate range test (Smith, 2015; fastai's ``lr_find``): how the loss answers the lr.

A fresh network, built and seeded exactly as training builds it, takes ``steps`` minibatch steps
of the configured recipe (optimizer, loss, augmentation) while the learning rate grows
exponentially from ``start`` to ``stop``. Each step's training loss is recorded and smoothed by
an exponential moving average (``beta``, bias-corrected as Adam's moments); the test stops early
once the smoothed loss exceeds ``DIVERGED`` times its minimum so far (or is not finite): beyond
that the lr only makes things worse. Batches are drawn from the ``shuffle`` stream, so the same
config gives the same curve.

The suggestion is the lr at the smoothed loss's minimum divided by ten (fastai's "minimum / 10"
rule): the minimum itself is already at the edge of divergence, and a tenth of it still learns
fast. The steepest descent of the smoothed curve is reported beside it.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from .. import seeding
from ..features.standardize import Standardizer
from ..progress import bar
from .loop import Trainer

#: The smoothed loss above this many times its minimum so far ends the test.
DIVERGED = 4.0
#: Steps at the start that never end the test: the smoothed loss is still settling.
SETTLING = 10


@dataclass
class RangeTest:
    """The curve, one entry per step taken: ``lrs``, ``losses`` (the step's minibatch loss),
    ``smoothed``; ``diverged`` says whether the test stopped before its last step."""

    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    diverged: bool = False
    average: float = 0.0  # the moving average before bias correction

    def suggestion(self) -> dict:
        """{"suggested_lr": the minimum's lr / 10 (at least the first lr), "min_loss_lr",
        "steepest_lr"}; Nones without a finite point."""
        smoothed = np.asarray(self.smoothed, dtype=np.float64)
        finite = np.flatnonzero(np.isfinite(smoothed))
        if finite.size == 0:
            return {"suggested_lr": None, "min_loss_lr": None, "steepest_lr": None}
        lowest = int(finite[np.argmin(smoothed[finite])])
        steepest, first = lowest, min(SETTLING, max(lowest - 2, 0))
        if lowest - first >= 2:  # the slope per unit of log(lr) on the descent to the minimum,
            # after the settling steps, whose bias-corrected average is still mostly noise
            span = slice(first, lowest + 1)
            slopes = np.gradient(smoothed[span], np.log(self.lrs[span]))
            steepest = first + int(np.argmin(slopes))
        # Never below the first lr tried: the suggestion stays inside the tested range.
        return {"suggested_lr": max(self.lrs[lowest] / 10, self.lrs[0]), "min_loss_lr": self.lrs[lowest],
                "steepest_lr": self.lrs[steepest]}


def lr_schedule(start: float, stop: float, steps: int) -> np.ndarray:
    """(steps,) float64 learning rates growing exponentially from ``start`` to ``stop``."""
    return start * (stop / start) ** (np.arange(steps) / max(steps - 1, 1))


def range_test(config, prepared, train_rows: np.ndarray, start: float = 1e-6, stop: float = 1.0,
               steps: int = 200, beta: float = 0.98) -> RangeTest:
    """Run the range test on ``prepared.X[train_rows]`` (X (n_samples, n_features)).

    The network and the generators come from the config's seed as in ``train_model``; warmup,
    the schedule, early stopping and ``train.ema`` play no part.
    """
    from .fit import build_network

    train = dataclasses.replace(config.train, ema=None)
    X, y = prepared.X, prepared.dataset.labels
    network = build_network(config, X.shape[1], len(prepared.dataset.class_names), prepared.image_shape,
                            seeding.rng(config.seed, "init"))
    rngs = {name: seeding.rng(config.seed, name) for name in ("shuffle", "augment", "dropout")}
    trainer = Trainer(network, Standardizer.fit(X, train_rows), train, config.model, rngs,
                      prepared.image_shape if config.mode == "end_to_end" else None, "lr-find")
    size = len(train_rows) if train.batch_size == "full" else min(train.batch_size, len(train_rows))
    buffer = np.empty((size, X.shape[1]), dtype=X.dtype)
    curve = RangeTest([], [], [])
    with np.errstate(over="ignore", invalid="ignore"), bar(steps, "lr-find", unit="step") as progress:
        for lr, rows in zip(lr_schedule(start, stop, steps), _batches(train_rows, size, rngs["shuffle"])):
            loss = trainer._step(X, y, rows, buffer, float(lr))[0]  # the very step training takes
            progress.update(1)
            if _record(curve, float(lr), float(loss), beta):
                curve.diverged = len(curve.lrs) < steps
                break
    return curve


def _record(curve: RangeTest, lr: float, loss: float, beta: float) -> bool:
    """Append one step to ``curve``; True when the test should stop (divergence)."""
    step = len(curve.lrs) + 1
    curve.average = beta * curve.average + (1 - beta) * loss
    smoothed = curve.average / (1 - beta ** step)
    curve.lrs.append(lr)
    curve.losses.append(loss)
    curve.smoothed.append(smoothed)
    if not math.isfinite(smoothed):
        return True
    lowest = min(curve.smoothed)
    return step > SETTLING and smoothed > DIVERGED * lowest


def _batches(rows: np.ndarray, size: int, rng: np.random.Generator):
    """Endless minibatches of ``size`` rows: each pass a permutation cut into whole batches (a
    short last batch is left out, so batch-norm never sees a batch of one)."""
    while True:
        order = rows[rng.permutation(len(rows))]
        for start in range(0, len(order) - size + 1, size):
            yield order[start:start + size]
