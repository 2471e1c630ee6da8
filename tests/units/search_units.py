"""Toy units for the scheduler tests: module-level, so worker processes can import them by name.

Dask workers started by the tests find this module through PYTHONPATH (see tests/loopback.py).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np


def project(X: np.ndarray, rows: np.ndarray, seed: int, pause: float = 0.0, marker_dir: str | None = None):
    """A seeded random projection of rows of X (n_samples, n_features) -> (len(rows), 3) float64.

    Deterministic in its inputs. With ``marker_dir`` it first leaves a file ``<seed>-<pid>`` there,
    so a test can see which process runs which unit, and that a unit ran more than once.
    """
    if marker_dir is not None:
        Path(marker_dir, f"{seed}-{os.getpid()}").touch()
    time.sleep(pause)
    weights = np.random.default_rng(seed).standard_normal((X.shape[1], 3))
    return X[rows] @ weights


def describe(X: np.ndarray):
    """What a unit receives for a shared array: its type, whether it is writable, and a checksum."""
    return type(X).__name__, bool(X.flags.writeable), float(X.sum())


def aligned(X: np.ndarray):
    """Whether a unit receives ``X`` at an aligned address, contiguous (NumPy's fast paths)."""
    return bool(X.flags.aligned and X.flags.c_contiguous)


def mutate(X: np.ndarray):
    X[0, 0] = -1.0
    return float(X[0, 0])


def fail(message: str):
    raise RuntimeError(message)


def die():
    """The worker process ends abruptly, as when the kernel kills it for memory."""
    os.kill(os.getpid(), 9)
