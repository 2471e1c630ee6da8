"""One seed drives everything; each consumer gets its own independent stream.

Streams are SeedSequence children addressed by a fixed key (what ``SeedSequence.spawn`` would
produce), so adding a consumer never shifts the numbers another one sees.
"""

from __future__ import annotations

import numpy as np

STREAMS = {
    "data": 0,
    "split": 1,
    "folds": 2,
    "init": 3,
    "shuffle": 4,
    "augment": 5,
    "search": 6,
    "dropout": 7,
    "features": 8,
    "copies": 9,
}


def rng(seed: int, stream: str, *sub: int) -> np.random.Generator:
    """The generator for ``stream`` (optionally a sub-stream, e.g. fold 3's ``init``)."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(STREAMS[stream], *sub)))


def draw_seed() -> int:
    """A fresh seed for ``seed: null``; it is recorded in the run's config so the run can be repeated."""
    entropy = np.random.SeedSequence().entropy
    assert isinstance(entropy, int)  # drawn from the OS: a single int (a list only if given one)
    return entropy % (2**31)
