"""Learning-rate schedules: ``schedule(base_lr, epoch, epochs, step_size, gamma) -> lr``.

``epoch`` counts from 0; the learning rate is fixed within an epoch.
"""

from __future__ import annotations

import math


def constant(base_lr, epoch, epochs, step_size, gamma):
    return base_lr


def step(base_lr, epoch, epochs, step_size, gamma):
    """Multiply by ``gamma`` every ``step_size`` epochs."""
    return base_lr * gamma ** (epoch // step_size)


def cosine(base_lr, epoch, epochs, step_size, gamma):
    """Half a cosine from base_lr at epoch 0 down towards 0 after the last epoch."""
    return 0.5 * base_lr * (1 + math.cos(math.pi * epoch / epochs))


SCHEDULES = {"constant": constant, "step": step, "cosine": cosine}


def with_warmup(schedule, warmup_epochs: int):
    """``schedule`` behind a linear warmup of ``warmup_epochs`` epochs, as a schedule.

    Epoch e < warmup_epochs trains at base_lr * (e + 1) / (warmup_epochs + 1), rising in equal
    steps towards base_lr; from then on ``schedule`` runs over the remaining epochs as if
    training started there: a cosine still ends near 0 after the last epoch, and a step
    schedule counts its step_size from the end of the warmup. Large early steps from random
    weights are what the warmup avoids (Goyal et al., 2017), with adaptive optimizers too.
    """
    if isinstance(warmup_epochs, bool) or not isinstance(warmup_epochs, int) or warmup_epochs < 0:
        raise ValueError(f"warmup_epochs must be an integer >= 0, got {warmup_epochs!r}")
    if warmup_epochs == 0:
        return schedule

    def warmed_up(base_lr, epoch, epochs, step_size, gamma):
        if epoch < warmup_epochs:
            return base_lr * (epoch + 1) / (warmup_epochs + 1)
        return schedule(base_lr, epoch - warmup_epochs, epochs - warmup_epochs, step_size, gamma)

    return warmed_up
