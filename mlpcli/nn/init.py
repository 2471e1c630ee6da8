"""Weight initializations: the variance a layer starts with decides whether signals survive depth.

Each is ``init(shape, fan_in, fan_out, rng, dtype) -> array``.
"""

from __future__ import annotations

import numpy as np


def he(shape, fan_in, fan_out, rng, dtype):
    """He/Kaiming normal, std sqrt(2 / fan_in): ReLU zeroes half its inputs, so double the variance."""
    return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(dtype)


def xavier(shape, fan_in, fan_out, rng, dtype):
    """Xavier/Glorot uniform, limit sqrt(6 / (fan_in + fan_out)): keeps variance for sigmoid/tanh."""
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


INITS = {"he": he, "xavier": xavier}

#: What ``init: auto`` picks for each activation.
AUTO_INIT = {"relu": "he", "sigmoid": "xavier", "tanh": "xavier"}
