"""The learning-rate range test (Smith, 2015; fastai's ``lr_find``): how the loss answers the lr.

A fresh network, built and seeded exactly as training builds it, takes ``steps`` minibatch steps
of the configured recipe (optimizer, loss, augmentation) while the learning rate grows
exponentially from ``start`` to ``stop``. Each step's training loss is recorded and smoothed by
an exponential moving average (``beta``, bias-corrected as Adam's moments); the test stops early
once the smoothed loss exceeds ``DIVERGED`` times its minimum so far (or is not finite): beyond
that the lr only makes things worse. Batches are drawn from the ``shuffle`` stream, so the same
config gives the same curve.

The suggestion is read from a centred mean of the losses (each step's loss averaged with the
``CENTRED`` fraction of the steps on either side), not from the moving average: that one lags
by beta / (1 - beta) steps (49 at 0.98, a factor of 30 in lr at the default range), so its
minimum sits far to the right of where the loss really was lowest. On a plateau (batch-norm
networks under Adam stay flat over decades of lr) the centred minimum falls anywhere by noise,
so the suggested lr is the smallest lr whose centred loss is within one standard error of the
minimum (the "one-standard-error rule" of CART and glmnet: the most cautious choice the data
cannot tell from the best). The standard error is that of a centred mean: the per-step scatter
around the curve over the square root of the window. The centred minimum (``min_lr``) and the
steepest descent before it (``steepest_lr``) are reported beside it.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from .. import seeding
from ..features.standardize import Standardizer
from ..progress import bar

#: The smoothed loss above this many times its minimum so far ends the test.
DIVERGED = 4.0
#: Steps at the start that never end the test: the smoothed loss is still settling.
SETTLING = 10
#: The centred mean's half-width, as a fraction of the steps taken (at least one step).
CENTRED = 0.05


@dataclass
class RangeTest:
    """The curve, one entry per step taken: ``lrs``, ``losses`` (the step's minibatch loss),
    ``smoothed`` (the moving average); ``diverged`` says whether the test stopped early."""

    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    diverged: bool = False
    average: float = 0.0  # the moving average before bias correction

    def centred(self) -> np.ndarray:
        """(n_steps,) float64: each loss averaged with its neighbours, ``CENTRED`` of the steps
        on either side (fewer at the ends); non-finite losses left out, NaN where none is left."""
        losses = np.asarray(self.losses, dtype=np.float64)
        finite = np.isfinite(losses)
        kernel = np.ones(2 * max(1, round(CENTRED * len(losses))) + 1)
        total = np.convolve(np.where(finite, losses, 0.0), kernel, mode="same")
        count = np.convolve(finite.astype(np.float64), kernel, mode="same")
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, total / count, np.nan)

    def suggestion(self) -> dict:
        """{"suggested_lr": the smallest lr within one standard error of the centred minimum,
        "min_lr": the centred minimum's, "steepest_lr": where the centred loss falls fastest per
        unit of log(lr) before it}; Nones without a finite loss."""
        centred = self.centred()
        finite = np.flatnonzero(np.isfinite(centred))
        if finite.size == 0:
            return {"suggested_lr": None, "min_lr": None, "steepest_lr": None}
        lowest = int(finite[np.argmin(centred[finite])])
        steepest = lowest
        if lowest >= 2:
            slopes = np.gradient(centred[: lowest + 1], np.log(self.lrs[: lowest + 1]))
            steepest = int(np.argmin(slopes))
        within = centred[: lowest + 1] <= centred[lowest] + self._standard_error(centred, lowest)
        return {
            "suggested_lr": self.lrs[int(np.argmax(within))],
            "min_lr": self.lrs[lowest],
            "steepest_lr": self.lrs[steepest],
        }

    def _standard_error(self, centred: np.ndarray, lowest: int) -> float:
        """The standard error of one centred mean: the losses' scatter around ``centred`` up to
        the window past the minimum (not the diverging tail) over sqrt(window length)."""
        half = max(1, round(CENTRED * len(self.losses)))
        scatter = (np.asarray(self.losses, dtype=np.float64) - centred)[: lowest + half + 1]
        scatter = scatter[np.isfinite(scatter)]
        return float(scatter.std() / math.sqrt(2 * half + 1)) if scatter.size else 0.0


def lr_schedule(start: float, stop: float, steps: int) -> np.ndarray:
    """(steps,) float64 learning rates growing exponentially from ``start`` to ``stop``."""
    return start * (stop / start) ** (np.arange(steps) / max(steps - 1, 1))


def range_test(
    config,
    prepared,
    train_rows: np.ndarray,
    start: float = 1e-6,
    stop: float = 1.0,
    steps: int = 200,
    beta: float = 0.98,
) -> RangeTest:
    """Run the range test on ``prepared.X[train_rows]`` (X (n_samples, n_features)).

    The network and the generators come from the config's seed as in ``train_model``; warmup,
    the schedule, early stopping and ``train.ema`` play no part.
    """
    from .fit import build_network, build_trainer

    train = dataclasses.replace(config.train, ema=None)
    X, y = prepared.X, prepared.dataset.labels
    network = build_network(
        config, X.shape[1], len(prepared.dataset.class_names), prepared.image_shape, seeding.rng(config.seed, "init")
    )
    trainer = build_trainer(
        dataclasses.replace(config, train=train),
        prepared,
        network,
        Standardizer.fit(X, train_rows),
        train_rows,
        (),
        "lr-find",
    )
    size = len(train_rows) if train.batch_size == "full" else min(train.batch_size, len(train_rows))
    buffer = np.empty((size, X.shape[1]), dtype=X.dtype)
    curve = RangeTest([], [], [])
    with np.errstate(over="ignore", invalid="ignore"), bar(steps, "lr-find", unit="step") as progress:
        for lr, rows in zip(lr_schedule(start, stop, steps), _batches(train_rows, size, trainer.shuffle_rng)):
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
    smoothed = curve.average / (1 - beta**step)
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
            yield order[start : start + size]
