"""The input every extractor takes: a batch of RGB images."""

from __future__ import annotations

import numpy as np


def check_images(images) -> np.ndarray:
    """``images`` as an array, if it is (n_images, height, width, 3) uint8; else ValueError."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise ValueError(f"images must be (n_images, height, width, 3) uint8; got shape {images.shape} {images.dtype}")
    return images
