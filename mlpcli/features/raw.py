"""Raw pixels: the image itself, scaled to [0, 1] and flattened in (row, col, channel) order."""

from __future__ import annotations

import numpy as np


def extract(images: np.ndarray, *, dtype="float32") -> np.ndarray:
    """(n_images, height, width, 3) uint8 -> (n_images, height * width * 3) in [0, 1]."""
    flat = images.reshape(len(images), -1)
    # dtype= makes NumPy compute in the target precision: no float64 temporary of the whole set.
    return np.multiply(flat, np.asarray(1 / 255, dtype=dtype), dtype=dtype)


def n_features(height: int, width: int) -> int:
    return height * width * 3
