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
